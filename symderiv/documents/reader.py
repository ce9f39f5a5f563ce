"""Reading derivations written in Markdown with the notes' LaTeX notation.

Three layers, kept apart as lark keeps grammar and transformer apart:

1. :func:`scan_markdown` splits a file into headings, prose and display-math lines, with the
   exact line and column of every math line, and picks up justifications (``\\text{...}``,
   ``\\quad ...``, a trailing ``— def of ...``).
2. :func:`read_math` parses one math line with the grammar ``grammar/math.lark`` after cheap
   pre-checks (size, nesting, balanced delimiters), and lark's Transformer
   (:class:`~symderiv.documents.syntax.ToSyntax`) turns the parse tree into typed syntax with
   positions. Both depend only on the line's text and are done once per distinct text. Nothing is
   ever evaluated as code.
3. :class:`Interpreter` gives that syntax its meaning as symderiv expressions, using the symbols declared
   in prose (``$x \\in \\mathbf{R}^n$``): juxtaposition is a product, ``\\Delta x`` a perturbation,
   ``\\frac{dL}{dy}`` a gradient symbol, ``||v||^2`` is vᵀv, and so on.

Errors that make the file unreadable raise :class:`ReadError` (exit status 2) with
file:line:col; problems local to one line (an undeclared symbol, a shape mismatch) raise
:class:`LineError`, which the document checker reports at that line.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from importlib import resources
from typing import Any, NoReturn, TypeAlias

import sympy
from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput

from symderiv.documents import syntax as S
from symderiv.errors import LineError, ReadError, ShapeError, SymderivError
from symderiv.lang.index import Index, IndexNotation, IndexSum
from symderiv.lang.operators import (
    Add, Conv, Corr, Expr, Hadamard, Inner, MatMul, Scale, Sym, Trace, Transpose, delta_of, grad_of,
)

MAX_FILE_BYTES = 2_000_000
MAX_LINE_CHARS = 2000
MAX_DEPTH = 40


# ---------------------------------------------------------------------------------------
# 1. Markdown
# ---------------------------------------------------------------------------------------
@dataclass
class MathLine:
    text: str  # the math, justification removed (same length: columns stay valid)
    line: int
    col: int
    note: str = ""
    display: bool = True


@dataclass
class Block:
    kind: str  # heading | prose | math
    text: str
    line: int
    level: int = 0
    math: list[MathLine] = field(default_factory=list)  # display lines, or inline math of prose
    note: str = ""
    code: bool = False  # a line of a code fence: never read (no math, no directives)


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_ENV = re.compile(r"\\(begin|end)\{(aligned|align\*?|equation\*?|gather\*?|gathered|split|eqnarray\*?|multline\*?)\}(\{[^{}]*\})?")
_JUST = re.compile(
    r"(?:(?:\\q?quad|\\,|\\;)\s*)*(?:[-—–]+\s*)?\\(?:text|textrm|mbox)\{([^{}]*)\}\s*[.,;]?\s*$"
)
_TRAIL = re.compile(r"^\s*[—–-]+\s*(\S.*)$")


def decode(data: bytes, path: str) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise ReadError(path, 1, 1, f"file is {len(data)} bytes; the limit is {MAX_FILE_BYTES}")
    if b"\x00" in data:
        pos = data.index(b"\x00")
        line = data.count(b"\n", 0, pos) + 1
        raise ReadError(path, line, pos - (data.rfind(b"\n", 0, pos) + 1) + 1,
                        "binary file: a NUL byte; expected UTF-8 Markdown text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ReadError(path, line, col, "not UTF-8 text (invalid byte 0x%02x)" % data[exc.start]) from None


_QUAD_TEXT = re.compile(r"(?:\\q?quad\s*)+(?=\\(?:text|textrm|mbox)\{)")


def _split_justification(text: str) -> tuple[str, str]:
    r"""Remove a justification written beside the math: ``\quad \text{...} ...`` (to the end of
    the line) or a final ``- \text{...}``. It is kept as the step's note and never checked."""
    q = _QUAD_TEXT.search(text)
    if q and text[: q.start()].strip():
        note = re.sub(r"\\(?:text|textrm|mbox)\{([^{}]*)\}", r"\1", text[q.end():])
        note = re.sub(r"\\([A-Za-z]+)", r"\1", note).replace("{", "").replace("}", "")
        return text[: q.start()] + " " * (len(text) - q.start()), " ".join(note.split())
    m = _JUST.search(text)
    if m and m.start() > 0 and text[: m.start()].strip() and _is_prose_note(m):
        return text[: m.start()] + " " * (len(text) - m.start()), m.group(1).strip()
    return text, ""


def _is_prose_note(m: re.Match) -> bool:
    """A trailing \\text{...} is a note only when it reads as prose: after \\quad or a long dash,
    or several words. '- \\text{C}' or '\\, \\text{C}' may be a term of the expression: kept as math."""
    lead = m.group(0)[: m.group(0).find("\\text") if "\\text" in m.group(0) else 0]
    if re.search(r"\\q?quad|—|–|--", lead):
        return True
    word = m.group(1).strip()
    # a short name such as \\text{C} may be a symbol; a word or a phrase is prose
    return bool(re.search(r"\s", word)) or not re.fullmatch(r"[A-Za-z]{1,2}", word)


_RELATION = re.compile(r"(?<![\\])(=|\\approx|\\equiv|\\Rightarrow|\\implies|\\Longrightarrow|\\therefore|\\in(?![a-zA-Z]))")
_CONNECTIVE = re.compile(r"^(?:\s|\\q?quad|\\text\{[^{}]*\}|\\textrm\{[^{}]*\}|\\mbox\{[^{}]*\}|\\[,;:!]|[,;.])*")
_GAP = re.compile(r"\\q?quad(?![a-zA-Z])")
# words that introduce a justification (kept as the step's note, not checked), not a second equation
_JUSTIFYING = re.compile(r"\s*(?:\\q?quad\s*)*\\(?:text|textrm|mbox)\{\s*(?:with|where|since|because|by|using|"
                         r"as|from|see|cf\.?|i\.e\.?|e\.g\.?|for|note|if|when|whenever|provided|given|assuming|unless)\b", re.I)
# a note that states a hypothesis (``\quad \text{if } B = A``): the equation holds only under it
CONDITION_NOTE = re.compile(r"^\s*(?:if|iff|only if|for|when|whenever|provided|given|assuming|unless)\b.*"
                            r"(?:=|\\approx|\\equiv|\\neq|\\ne\b|<|>|\\le|\\ge|\\in\b)", re.I | re.S)


def has_relation(text: str) -> bool:
    return bool(_RELATION.search(re.sub(r"\\(?:text|textrm|mbox)\{[^{}]*\}", "", text)))


def _top_level(text: str, pattern: re.Pattern) -> list[re.Match]:
    """Matches of ``pattern`` outside braces and parentheses."""
    depth, out = 0, []
    marks = {m.start(): m for m in pattern.finditer(text)}
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "{}()[]":
            i += 2
            continue
        if i in marks and depth == 0:
            out.append(marks[i])
        if ch in "{([":
            depth += 1
        elif ch in "})]" and depth > 0:
            depth -= 1
        i += 1
    return out


def _blank(text: str) -> str:
    return re.sub(r"[^\n]", " ", text)


def _split_equations(body: str) -> list[str]:
    """Several equations written on one row, each returned as the row with everything else
    blanked (positions stay valid):

    * align column pairs ``a &= b & c &= d``: every second top-level & separates equations;
    * ``a = b \\quad c = d`` and ``a = b \\quad \\text{and} \\quad c = d``: a \\quad gap followed by
      another relation starts a new equation (spacing is never read as juxtaposition).
    A leading connective (``\\text{and}``, ``,``) of a split part is blanked."""
    cuts: list[int] = []
    amps = [m.start() for m in _top_level(body, re.compile(r"(?<!\\)&"))]
    for k in range(1, len(amps), 2):
        # a column pair a &= b & c &= d: the next pair is another equation only if it has a relation
        # ("&& \\text{note}" columns stay notes)
        nxt = amps[k + 2] if k + 2 < len(amps) else len(body)
        if has_relation(_CONNECTIVE.sub("", body[amps[k] + 1:nxt].replace("&", " "))):
            cuts.append(amps[k])
    bounds = [0] + cuts + [len(body)]
    parts = [(bounds[k], bounds[k + 1]) for k in range(len(bounds) - 1)]
    out: list[tuple[int, int]] = []
    for a, b in parts:
        seg = body[a:b]
        start = a
        for m in _top_level(seg, _GAP):
            left, right = body[start:a + m.start()], seg[m.end():]
            if has_relation(left) and has_relation(_CONNECTIVE.sub("", right)) and not _JUSTIFYING.match(right):
                out.append((start, a + m.start()))
                start = a + m.start()
        out.append((start, b))
    if len(out) == 1:
        return [body]
    result = []
    for a, b in out:
        seg = body[a:b]
        if a:
            if seg.startswith("&"):
                seg = " " + seg[1:]  # the column separator
            g = _GAP.match(seg.lstrip())
            lead = _CONNECTIVE.match(seg).end()
            seg = _blank(seg[:lead]) + seg[lead:]
        result.append(_blank(body[:a]) + seg + _blank(body[b:]))
    return result


_CONTINUES = re.compile(r"^(?:\s|&|\\q?quad|\\[,;:!])*(?:[-+\u2212]|\\cdot|\\odot|\\otimes|\\circ|\\star|\\ast)")
# a row with no relation that starts in the alignment column (``&\quad A^T``) continues the row above's
# product: it cannot be a statement of its own
_CONTINUES_PRODUCT = re.compile(r"^\s*&(?:\s|\\q?quad|\\[,;:!])*")


def _join_continuations(pieces: list[str]) -> list[str]:
    """A row with no relation that starts with a binary operator (``&\\quad - C^T``) continues the
    previous row's expression: the two are one equation (the \\\\ between them is blanked)."""
    out: list[str] = []
    for piece in pieces:
        if (not piece.startswith("\\\\") and piece.strip() and len(out) >= 2 and out[-2].strip()
                and not has_relation(piece) and (_CONTINUES.match(piece) or _CONTINUES_PRODUCT.match(piece))):
            sep = out.pop()
            lead = (_CONTINUES.match(piece) or _CONTINUES_PRODUCT.match(piece)).end()
            out[-1] = out[-1] + _blank(sep) + piece[:lead].replace("&", " ") + piece[lead:]
        else:
            out.append(piece)
    return out


_BARE_ENV = re.compile(r"^(\s*)\\begin\{([A-Za-z]+\*?)\}")
_READ_ENVS = {"equation", "align", "gather", "multline", "eqnarray", "aligned", "gathered", "split"}


def _multline_rows_joined(content: str) -> str:
    """multline is one equation split over lines: its \\\\ line breaks are blanked (not row ends)."""
    def join(m: re.Match) -> str:
        return re.sub(r"\\\\(?:\[[^\]]*\])?", lambda b: " " * len(b.group(0)), m.group(0))

    return re.sub(r"\\begin\{multline\*?\}.*?(?:\\end\{multline\*?\}|$)", join, content, flags=re.S)


def _eqnarray_columns(content: str) -> str:
    """eqnarray rows are ``lhs &=& rhs``: the relation column becomes align's ``lhs &= rhs`` (an
    empty relation column, ``& & + C``, is blanked), positions kept."""
    def column(m: re.Match) -> str:
        ws1, rel, ws2 = m.groups()
        return " " * len(m.group(0)) if not rel else " " + ws1 + "&" + rel + ws2

    def env(m: re.Match) -> str:
        return re.sub(r"(?<!\\)&([ \t]*)([^&\n]{0,16}?)([ \t]*)(?<!\\)&", column, m.group(0))

    return re.sub(r"\\begin\{eqnarray\*?\}.*?(?:\\end\{eqnarray\*?\}|$)", env, content, flags=re.S)


def _display_lines(content: str, line: int, col: int) -> list[MathLine]:
    """Split display math into lines at \\\\ (aligned environments), keeping positions."""
    content = _eqnarray_columns(_multline_rows_joined(content))
    content = _ENV.sub(lambda m: " " * len(m.group(0)), content)
    out = []
    pos = 0
    pieces = _join_continuations(re.split(r"(\\\\(?:\[[^\]]*\])?)", content))
    cur_line, cur_col = line, col
    for piece in pieces:
        if piece.startswith("\\\\"):
            pass
        elif piece.strip():
            lead = len(piece) - len(piece.lstrip())
            pl, pc = cur_line, cur_col
            for ch in piece[:lead]:
                if ch == "\n":
                    pl, pc = pl + 1, 1
                else:
                    pc += 1
            body = piece.strip()
            for seg in _split_equations(body):
                lead_blank = len(seg) - len(seg.lstrip(" "))
                sl, sc = pl, pc
                for ch in seg[:lead_blank]:
                    sl, sc = (sl + 1, 1) if ch == "\n" else (sl, sc + 1)
                seg_body, note = _split_justification(seg.strip())
                out.append(MathLine(seg_body.rstrip(), sl, sc, note))
        for ch in piece:
            if ch == "\n":
                cur_line, cur_col = cur_line + 1, 1
            else:
                cur_col += 1
        pos += len(piece)
    return out


# CommonMark fences: an opening fence is three or more backticks (no backtick in its info string)
# or three or more tildes; it is closed only by a fence of the same character, at least as long,
# indented at most three spaces (relative to the opener's container), with nothing after it but spaces
_FENCE_OPEN = re.compile(r"^ *(`{3,}(?=[^`]*$)|~{3,})(.*)$")


def _closes_fence(line: str, fence: tuple[str, int]) -> bool:
    """Does ``line`` close the fence ``(marker, indent of the opener)``? "``` text" does not, nor
    does a ``` indented four spaces more than the opener (it is code inside the block)."""
    marker, indent = fence
    m = re.fullmatch(r"( *)(`+|~+)[ \t]*", line)
    return bool(m and m.group(2)[0] == marker[0] and len(m.group(2)) >= len(marker)
                and len(m.group(1)) <= indent + 3)


_QUOTE = re.compile(r"^(?: {0,3}>[ ]?)+")
_LIST_ITEM = re.compile(r"^( *)(?:[-*+]|\d{1,9}[.)])( {1,4})(?=\S)")


def _list_continuation(lines: list[str], i: int) -> bool:
    """Is the indented line ``i`` a paragraph of a list item rather than an indented code block?
    CommonMark: a line indented at least as far as the item's content (``1. `` has content indent
    3) belongs to the item; it is code only when indented four more than that. The item is the
    nearest list-marker line above, reached over blank and indented lines."""
    indent = len(lines[i]) - len(lines[i].lstrip(" "))
    for j in range(i - 1, -1, -1):
        line = lines[j]
        if not line.strip():
            continue
        m = _LIST_ITEM.match(line)
        if m:
            content = len(m.group(0))
            return content <= indent < content + 4
        if not line.startswith(" "):
            return False
    return False


def scan_markdown(text: str, path: str = "<input>") -> list[Block]:
    """Headings, prose (with its inline math) and display math, with line/column positions."""
    orig = text.split("\n")
    lines = _blank_comments(text).split("\n")  # commented-out math is not part of the document
    # blockquote markers are blanked (a display may continue over several "> " lines); indentation
    # is then measured from the end of the markers
    quote = [0] * len(lines)
    for k, ln in enumerate(lines):
        qm = _QUOTE.match(ln)
        if qm:
            quote[k] = len(qm.group(0))
            lines[k] = " " * quote[k] + ln[quote[k]:]
    blocks: list[Block] = []
    rescanned: set[int] = set()  # lines whose first display was read: the rest is not indented code
    i = 0
    fence = None
    while i < len(lines):
        raw = lines[i]
        stripped = raw.strip()
        if fence:
            blocks.append(Block("prose", orig[i], i + 1, code=True))
            if _closes_fence(raw, fence):
                fence = None
            i += 1
            continue
        opening = _FENCE_OPEN.match(raw)
        if opening and re.fullmatch(r"\s*math\s*", opening.group(2)):
            # a GitHub math block is display math
            math_fence = (opening.group(1), len(raw) - len(raw.lstrip(" ")))
            j = i + 1
            while j < len(lines) and not _closes_fence(lines[j], math_fence):
                j += 1
            if j == len(lines):
                raise ReadError(path, i + 1, 1, f"the {stripped[:3]}math block opened here is never closed")
            content = "\n".join(lines[i + 1: j])
            blocks.append(Block("math", content, i + 2, math=_display_lines(content, i + 2, 1)))
            i = j + 1
            continue
        if opening:
            fence = (opening.group(1), len(raw) - len(raw.lstrip(" ")))
            blocks.append(Block("prose", orig[i], i + 1, code=True))
            i += 1
            continue
        m = _HEADING.match(raw)
        if m:
            display = re.search(r"\$\$|(?<!\\)\\\[", raw)
            if display:
                raise ReadError(path, i + 1, display.start() + 1, "display math in a heading is not read; put it on "
                                "its own line below the heading")
            blocks.append(Block("heading", m.group(2), i + 1, level=len(m.group(1))))
            # inline math of a heading is read as in prose: its declarations count and an equation
            # in it is reported as not checked (never silently dropped)
            heading_math = _inline_math(raw, i + 1, 1, path)
            if heading_math:
                blocks.append(Block("prose", raw, i + 1, math=heading_math))
            i += 1
            continue
        if (stripped and "$" not in raw and i + 1 < len(lines) and re.fullmatch(r" {0,3}(=+|-+)\s*", lines[i + 1])
                and (i == 0 or not lines[i - 1].strip() or blocks and blocks[-1].kind == "heading")):
            # a setext heading: Title over ===== (level 1) or ----- (level 2)
            level = 1 if lines[i + 1].strip()[0] == "=" else 2
            blocks.append(Block("heading", stripped, i + 1, level=level))
            i += 2
            continue
        if (i not in rescanned and re.match(r"( {4}|\t)", raw[quote[i]:]) and stripped
                and (i == 0 or not lines[i - 1].strip() or blocks and blocks[-1].code and blocks[-1].line == i)
                and not _list_continuation(lines, i)):
            # an indented code block (after a blank line): code, never read
            blocks.append(Block("prose", orig[i], i + 1, code=True))
            i += 1
            continue
        start, opener, closer = raw.find("$$"), "$$", "$$"
        bracket = re.search(r"(?<!\\)\\\[", raw)
        if bracket and (start < 0 or bracket.start() < start):
            start, opener, closer = bracket.start(), "\\[", "\\]"  # \[ ... \] is display math too
        env = _BARE_ENV.match(raw) if start < 0 else None
        if env:
            # a bare environment: read to its \end; one that is not read is refused, never skipped
            name = env.group(2)
            if name.rstrip("*") not in _READ_ENVS:
                raise ReadError(path, i + 1, len(env.group(1)) + 1,
                                f"\\begin{{{name}}} is not an environment symderiv reads; write the math in "
                                "$$ ... $$ or in equation, align, gather, multline or eqnarray")
            j = i
            while j < len(lines) and f"\\end{{{name}}}" not in lines[j]:
                j += 1
            if j == len(lines):
                raise ReadError(path, i + 1, raw.find("\\begin") + 1, f"\\begin{{{name}}} without a matching "
                                f"\\end{{{name}}}")
            content = "\n".join(lines[i: j + 1])
            blocks.append(Block("math", content, i + 1, math=_display_lines(content, i + 1, 1)))
            i = j + 1
            continue
        if start >= 0:
            before = raw[:start]
            if before.strip():
                blocks.append(Block("prose", before, i + 1, math=_inline_math(before, i + 1, 1, path)))
            # find the closing $$ (or \])
            rest = raw[start + 2:]
            end = rest.find(closer)
            if end >= 0:
                content, after, last = rest[:end], rest[end + 2:], i
                col0 = start + 3
                content_line = i + 1
            else:
                parts = [rest]
                j = i + 1
                while j < len(lines) and closer not in lines[j]:
                    parts.append(lines[j])
                    j += 1
                if j == len(lines):
                    raise ReadError(path, i + 1, start + 1, f"display math opened with {opener} is never closed")
                e = lines[j].find(closer)
                parts.append(lines[j][:e])
                content, after, last = "\n".join(parts), lines[j][e + 2:], j
                col0, content_line = start + 3, i + 1
            rescan = None
            if "$$" in after or re.search(r"(?<!\\)\\\[", after):
                # a second display on the same line is read as such (never taken for a note)
                rescan = " " * (len(lines[last]) - len(after)) + after
                extra, after = None, ""
            elif re.search(r"(?<!\\)\$", after):
                # prose with inline math after the display: read as prose, never as a note
                at = len(lines[last]) - len(after)
                extra = Block("prose", after, last + 1, math=_inline_math(after, last + 1, at + 1, path))
                after = ""
            else:
                extra = None
            note = after.strip()
            nm = _TRAIL.match(note)
            note = nm.group(1) if nm else note
            k = last + 1
            if not note and k < len(lines) and rescan is None:
                tm = _TRAIL.match(lines[k])
                if tm and len(lines[k]) < 100 and "$" not in lines[k]:
                    note, k = tm.group(1).strip(), k + 1
            mls = _display_lines(content, content_line, col0)
            if note and mls:
                mls[-1].note = mls[-1].note or note
            blocks.append(Block("math", content, content_line, math=mls, note=note))
            if extra is not None:
                blocks.append(extra)
            if rescan is not None:
                lines[last], orig[last] = rescan, rescan
                rescanned.add(last)
                i = last
                continue
            i = k
            continue
        prose_math = _inline_math(raw, i + 1, 1, path)
        outside = _without_code_spans(raw)
        for a, b in inline_math_spans(raw):
            outside = outside[:a] + " " * (b - a) + outside[b:]
        env_in_prose = re.search(r"(?<!\\)\\begin\{", outside)
        if env_in_prose:
            # an environment inside running text would be silently prose: refused where it stands
            raise ReadError(path, i + 1, env_in_prose.start() + 1, "an environment (\\begin{...}) in running text is "
                            "not read; start it on its own line, or write the math in $$ ... $$")
        blocks.append(Block("prose", orig[i], i + 1, math=prose_math))
        i += 1
    return blocks


def _blank_comments(text: str) -> str:
    """HTML comments other than ``<!-- symderiv: ... -->`` directives, blanked with spaces (line
    breaks kept, so every position stays valid)."""
    def blank(m: re.Match) -> str:
        body = m.group(0)
        if re.match(r"<!--\s*symderiv:", body):
            return body
        return re.sub(r"[^\n]", " ", body)

    return re.sub(r"<!--.*?-->", blank, text, flags=re.S)


def _unescaped_dollars(text: str) -> list[int]:
    """Positions of the ``$`` signs that delimit math: a backslash escapes the character after it,
    so ``\\$`` is an escaped dollar but ``\\\\$`` is a line break followed by a delimiter."""
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            i += 2
            continue
        if ch == "$":
            out.append(i)
        i += 1
    return out


def inline_math_spans(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` of the content of each inline ``$math$`` of a prose line: the same reading
    for the checker and for the reports, so a report never shows as math what was not checked as
    math. A ``$`` in a code span is code; an empty ``$$`` pair is not math; an unpaired last ``$``
    (which :func:`scan_markdown` reports as an error) delimits nothing."""
    return _dollar_spans(_unescaped_dollars(_without_code_spans(text)))


def _dollar_spans(dollars: list[int]) -> list[tuple[int, int]]:
    return [(a + 1, b) for a, b in zip(dollars[::2], dollars[1::2]) if b > a + 1]


def _inline_math(text: str, line: int, col: int, path: str) -> list[MathLine]:
    masked = _without_code_spans(text)
    dollars = _unescaped_dollars(masked)
    # an unpaired $ would silently swallow the math around it: report it where it stands
    if len(dollars) % 2 == 1:
        raise ReadError(path, line, col + dollars[-1], "unbalanced '$': inline math opened or closed here has no "
                        "partner on this line; write \\$ for a dollar sign")
    spans = _dollar_spans(dollars)
    # LaTeX's inline delimiters \( ... \) are inline math too (outside code spans and $...$)
    for a, b in spans:
        masked = masked[:a - 1] + " " * (b - a + 2) + masked[b + 1:]
    parens = _paren_delimiters(masked)
    for k in range(0, len(parens), 2):
        pos, kind = parens[k]
        if kind != "(" or k + 1 == len(parens) or parens[k + 1][1] != ")":
            raise ReadError(path, line, col + pos, f"unbalanced '\\{kind}': inline math \\( ... \\) opened or closed "
                            "here has no partner on this line")
        spans.append((pos + 2, parens[k + 1][0]))
    return [MathLine(text[a:b], line, col + a, display=False) for a, b in sorted(spans)]


def _paren_delimiters(text: str) -> list[tuple[int, str]]:
    """Positions of the ``\\(`` and ``\\)`` delimiters of a prose line (``\\\\(`` is a line break
    followed by a parenthesis)."""
    out, i = [], 0
    while i < len(text) - 1:
        if text[i] == "\\":
            if text[i + 1] in "()":
                out.append((i, text[i + 1]))
            i += 2
            continue
        i += 1
    return out


def _without_code_spans(text: str) -> str:
    """The line with `code spans` blanked (a $ inside code is not math)."""
    return re.sub(r"`[^`]*`", lambda m: " " * len(m.group(0)), text)


# ---------------------------------------------------------------------------------------
# 2. Parsing
# ---------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _parser():

    grammar = resources.files("symderiv.documents").joinpath("grammar/math.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="earley", propagate_positions=True, ambiguity="resolve")


@lru_cache(maxsize=4096)
def _parse_cached(text: str):
    """Parse trees depend only on the text (positions are relative to it): a line read in both
    passes, or repeated in the document, is parsed once. Trees are never modified after parsing."""
    return _parser().parse(text)


@lru_cache(maxsize=4096)
def _syntax_cached(text: str) -> S.SyntaxLine:
    """The typed syntax of a line depends only on its text too: built once per distinct text (its
    nodes are immutable, so the two passes and repeated lines share it)."""
    return S.to_syntax(_parse_cached(text))


_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {v: k for k, v in _OPEN.items()}


def _pos(ml: MathLine, offset: int) -> tuple[int, int]:
    before = ml.text[:offset]
    nl = before.count("\n")
    if nl:
        return ml.line + nl, offset - before.rfind("\n")
    return ml.line, ml.col + offset


def precheck(ml: MathLine, path: str) -> None:
    """Size, nesting and delimiter balance, before any parsing."""
    if len(ml.text) > MAX_LINE_CHARS:
        raise ReadError(path, ml.line, ml.col, f"math line of {len(ml.text)} characters; the limit is {MAX_LINE_CHARS}")
    stack: list[tuple[str, int]] = []
    i = 0
    t = ml.text
    while i < len(t):
        ch = t[i]
        if ch == "\\" and i + 1 < len(t):
            i += 2  # \{, \|, \left( ... : escaped delimiters are not structure
            continue
        if ch in _OPEN:
            stack.append((ch, i))
            if len(stack) > MAX_DEPTH:
                raise ReadError(path, *_pos(ml, i), f"expression nested more than {MAX_DEPTH} levels deep")
        elif ch in _CLOSE:
            if not stack:
                raise ReadError(path, *_pos(ml, i), f"unbalanced '{ch}': nothing to close")
            o, at = stack.pop()
            if _OPEN[o] != ch:
                raise ReadError(path, *_pos(ml, i), f"'{ch}' closes '{o}' opened at column {_pos(ml, at)[1]}; expected '{_OPEN[o]}'")
        i += 1
    if stack:
        o, at = stack[-1]
        raise ReadError(path, *_pos(ml, at), f"unbalanced '{o}': expected a matching '{_OPEN[o]}'")


_FRIENDLY = {
    "RPAR": "')'", "LPAR": "'('", "RBRACE": "'}'", "LBRACE": "'{'", "RSQB": "']'", "LSQB": "'['",
    "WORD": "a symbol", "NUMBER": "a number", "REL": "'='", "COMMA": "','", "RANGLE": "'\\rangle'",
    "LANGLE": "'\\langle'", "MINUS": "'-'", "PLUS": "'+'", "NORM": "'\\|'", "FRAC": "\\frac",
}


# A run of two or more small spaces (~~, \;\;, "\ \ ", \,\,, \:\:) is a visible gap: it may separate two
# equations (``AB = A ~~~ B = AB``) or be a wide space inside one product; the line is ambiguous.
_SMALL_SPACE = r"(?:~|\\[,;:]|\\ )"
_SPACE_RUN = re.compile(_SMALL_SPACE + r"(?:\s*" + _SMALL_SPACE + r")+")
_TEXT_ARG = re.compile(r"\\(?:text|textrm|mbox)\{[^{}]*\}")


def _refuse_space_runs(ml: MathLine, path: str) -> None:
    """Refuse a run of small spaces between two pieces of math (a run at either end is harmless)."""
    text = ml.text
    notes = [m.span() for m in _TEXT_ARG.finditer(text)]
    for m in _SPACE_RUN.finditer(text):
        if any(a <= m.start() < b for a, b in notes):
            continue
        if text[:m.start()].strip(" \t\n&") and text[m.end():].strip(" \t\n&"):
            raise ReadError(path, *_pos(ml, m.start()),
                            f"a run of small spaces {m.group(0)!r} between expressions is ambiguous (two equations "
                            "or one product?); use \\quad between equations, or a single \\, between factors")


# array is left in the text (not blanked like aligned): its "&" cells have no relation structure, so
# joining them would make a chain of two equations (``AB = A & B = AB``); it is refused where it stands
_ARRAY = re.compile(r"\\(?:begin|end)\{array\}")


def parse_math(ml: MathLine, path: str):

    precheck(ml, path)
    _refuse_space_runs(ml, path)
    m = _ARRAY.search(ml.text)
    if m:
        raise ReadError(path, *_pos(ml, m.start()), "the array environment is not read (its cells could be joined "
                        "into one chain); write equations in \\begin{aligned} ... \\end{aligned}, one per row")
    try:
        return _parse_cached(ml.text)
    except UnexpectedCharacters as exc:
        expected = sorted({_FRIENDLY.get(e, e) for e in exc.allowed if not e.startswith("__")})[:8]
        got = ml.text[exc.pos_in_stream: exc.pos_in_stream + 12]
        raise ReadError(path, *_pos(ml, exc.pos_in_stream), f"unexpected {got!r} in math; expected "
                        + (", ".join(expected) if expected else "a LaTeX expression")) from None
    except UnexpectedEOF as exc:
        expected = sorted({_FRIENDLY.get(e, e) for e in exc.expected if not e.startswith("__")})[:8]
        raise ReadError(path, *_pos(ml, len(ml.text)), "math ends too early; expected " + ", ".join(expected)) from None
    except UnexpectedInput as exc:
        raise ReadError(path, ml.line, ml.col, f"cannot parse this math: {exc}") from None
    except RecursionError:
        raise ReadError(path, ml.line, ml.col, "expression nested too deeply") from None


def read_math(ml: MathLine, path: str) -> S.SyntaxLine:
    """The typed syntax of one math line (see :mod:`symderiv.documents.syntax`), after the same
    checks as :func:`parse_math`; a line that cannot be parsed raises :class:`ReadError`."""
    parse_math(ml, path)
    return _syntax_cached(ml.text)


# ---------------------------------------------------------------------------------------
# 3. Interpretation
# ---------------------------------------------------------------------------------------
# The interpreter gives the typed syntax of syntax.py its meaning in a scope. A node's meaning is an
# expression, a number, or one of the values below when its meaning depends on what stands next to it
# (the factors of a product are combined only once all of them are known: a run of letters is split
# into names, tr takes its argument, Σ_j starts index notation). Syntax nodes whose meaning is
# deferred in the same way stand for themselves: a run of letters (S.Word), a parenthesised list
# (S.Paren of several items), a sum sign (S.SumSign), \partial (S.Partial), a space (S.Space).
@dataclass(frozen=True)
class FuncApp:
    """f(a, b): function notation, never interpreted (reported as such)."""

    name: str
    args: tuple[S.Syntax, ...]


@dataclass(frozen=True)
class Indexed:
    """A vector or sequence with an index, A_i or (B ⊙ C)_{i+j}: a factor of index notation."""

    base: Value  # an Expr; anything else is refused by the index checker
    index: str | S.Syntax  # the subscript as written (see S.Script.arg)


@dataclass(frozen=True)
class TraceWord:
    """trace, tr, Tr, \\mathrm{tr}: the trace, applied to the factors after it."""


@dataclass(frozen=True)
class Grouped:
    """A product written in parentheses, (gᵀw)Δx: kept grouped as the author wrote it."""

    e: Expr


@dataclass(frozen=True)
class NormOf:
    """||e||, only usable squared: ||v||² = vᵀv for a column vector, ||A||² = ⟨A, A⟩ (Frobenius)."""

    e: Expr

    def squared(self) -> Expr:
        e = self.e
        if e.shape[1] == 1:
            return MatMul(Transpose(e), e)
        return Inner(e, e)


#: what a node of the syntax means, before the factors of a product are combined
Value: TypeAlias = (Expr | Fraction | IndexNotation | IndexSum | FuncApp | Indexed | TraceWord | Grouped | NormOf
                   | S.Word | S.Paren | S.SumSign | S.Partial | S.Space | list | sympy.Basic)
#: a node that has a position in the math text
Located: TypeAlias = S.Syntax | S.Script | S.Relation


_MAX_SPLITS = 4


def segmentations(text: str, names) -> list[list[str]]:
    """All ways (at most a few) of writing ``text`` as a sequence of declared names, longest
    first name first. A name ending in '*' (y*) may only end the run. Linear in len(text) per kept way."""
    cands = sorted((n for n in names if re.fullmatch(r"[A-Za-z]+\*?", n)), key=len, reverse=True)
    # ways[i]: up to _MAX_SPLITS segmentations of text[i:]
    ways: list[list[list[str]]] = [[] for _ in range(len(text) + 1)]
    ways[len(text)] = [[]]
    for i in range(len(text) - 1, -1, -1):
        acc: list[list[str]] = []
        for nm in cands:
            if text.startswith(nm, i) and (not nm.endswith("*") or i + len(nm) == len(text)):
                for rest in ways[i + len(nm)]:
                    acc.append([nm] + rest)
                    if len(acc) >= _MAX_SPLITS:
                        break
            if len(acc) >= _MAX_SPLITS:
                break
        ways[i] = acc
    return ways[0]


def _unknown_part(text: str, names) -> str:
    """The part of a run of letters that no declared name covers (for the error message)."""
    cands = [n for n in names if re.fullmatch(r"[A-Za-z]+", n)]
    covered = [False] * len(text)
    for nm in cands:
        start = text.find(nm)
        while start >= 0:
            for k in range(start, start + len(nm)):
                covered[k] = True
            start = text.find(nm, start + 1)
    if all(covered) or not any(covered):
        return text
    i = covered.index(False)
    j = i
    while j < len(text) and not covered[j]:
        j += 1
    return text[i:j]


def _edge(t: S.Syntax, side: int) -> S.Syntax:
    """The leftmost (side 0) or rightmost (side -1) primary of a product."""
    while True:
        if isinstance(t, (S.Juxt, S.Dot, S.Div, S.SeqOp)):
            t = t.left if side == 0 else t.right
        elif side == 0 and isinstance(t, (S.Power, S.Subscript, S.Star)):
            t = t.base
        else:
            return t


def _describe(v) -> str:
    from symderiv.lang.printing import plain

    return plain(v) if isinstance(v, Expr) else str(v)


def _key(v):
    return v.key() if isinstance(v, Expr) else repr(v)


_DIV_MSG = ("a factor written right after a/b can be read as (a/b)·c or a/(bc); write \\frac{a}{b} c "
            "or \\frac{a}{bc}")
_FUNCTION_MSG = "Function application is not supported yet"
# names that conventionally denote functions: before parentheses they are never read as a scalar factor
_FUNCTION_NAMES = {"sigma", "phi", "varphi", "psi", "f", "g", "h"}
_TRACE_NAMES = ("trace", "tr", "Tr")
_TRANSPOSE_MARKS = ("T", "\\top", "\\intercal")


@dataclass
class ParsedLine:
    lead: str | None
    items: list[S.Syntax]
    rels: list[str]
    cols: list[int]
    ml: MathLine


class Scope:
    """Symbols, aliases and operator meanings visible in a section (inherited by subsections).

    A declaration takes effect from its line: every entry keeps the line it was made on, and a
    lookup reads the entry in force at the line being read (the document-wide ``clock``). A name
    used before any declaration of it in force falls back to its first declaration (prose often
    says "where W ∈ R^{m×n}" after the equation), so a later *re*definition never changes how an
    earlier line was read."""

    def __init__(self, parent: "Scope | None" = None):
        self.parent = parent
        self.entries: dict[str, list[tuple[int, Any]]] = {}  # name -> [(line, Sym or alias value)]
        self.operators: dict[str, str] = parent.operators if parent else {}
        #: forward definitions made in this section: output name -> (output symbol, f)
        self.forwards: dict[str, tuple[Any, Any]] = {}
        self.clock: list[int] = parent.clock if parent else [1 << 30]
        self.heading = ""

    def define(self, name: str, value: Any, line: int) -> None:
        self.entries.setdefault(name, []).append((line, value))

    def current(self, name: str, line: int):
        """The entry of this scope alone in force at ``line`` (None when there is none)."""
        best = None
        for at, v in self.entries.get(name, ()):
            if at <= line:
                best = v
        return best

    def lookup(self, name: str):
        now = self.clock[0]
        s: Scope | None = self
        while s is not None:
            v = s.current(name, now)
            if v is not None:
                return v
            s = s.parent
        s = self
        while s is not None:
            if s.entries.get(name):
                return s.entries[name][0][1]
            s = s.parent
        return None

    def names(self) -> set[str]:
        out: set[str] = set()
        s: Scope | None = self
        while s is not None:
            out |= set(s.entries)
            s = s.parent
        return out


REL_NAMES = {"=": "=", "&=": "=", "=&": "=", ":=": ":=", "&:=": ":=", "\\approx": "≈", "\\equiv": "=",
             "\\in": "∈", "\\Rightarrow": "⇒", "\\implies": "⇒", "\\Longrightarrow": "⇒", "\\therefore": "⇒"}


class Interpreter:
    """Meaning of a line's syntax in a scope. Positions are reported in file coordinates."""

    def __init__(self, scope: Scope, ml: MathLine, path: str):
        self.scope, self.ml, self.path = scope, ml, path
        # \Delta runs read as (ΔA)·rest: (line, col, run text, name of A, names in the rest)
        self.delta_runs: list[tuple[int, int, str, str, frozenset[str]]] = []
        scope.clock[0] = ml.line  # declarations in force are those made up to this line

    # positions
    def where(self, t: Located) -> tuple[int, int]:
        if t.pos is None:
            return self.ml.line, self.ml.col
        line, column = t.pos
        if line == 1:
            return self.ml.line, self.ml.col + column - 1
        return self.ml.line + line - 1, column

    def fail(self, t: Located, message: str) -> NoReturn:
        raise LineError(*self.where(t), message)

    # lines
    def line(self, syntax: S.SyntaxLine) -> ParsedLine:
        lead = REL_NAMES.get(syntax.lead.text, "=") if syntax.lead is not None else None
        rels = [REL_NAMES.get(r.text, "=") for r in syntax.rels]
        items = list(syntax.items)
        return ParsedLine(lead, items, rels, [self.where(t)[1] for t in items], self.ml)

    # values
    def value(self, t: S.Syntax) -> Value:
        """An Expr, a Fraction, or one of the deferred values above (FuncApp, a run of letters, ...)."""
        match t:
            case S.Word():
                return self.word(t)
            case S.Greek():
                return self.greek(t)
            case S.Number():
                return Fraction(t.text)
            case S.Infinity():
                return sympy.oo
            case S.Partial() | S.Space():
                return t
            case S.Roman():
                return self.roman(t)
            case S.Func():
                self.fail(t, f"{_FUNCTION_MSG}: {t.command}")
            case S.Group():
                return self.value(t.body)
            case S.Paren():
                return self.paren(t)
            case S.Delta():
                return self.delta(t)
            case S.Frac():
                return self.frac(t)
            case S.Angle():
                return self.inner(t)
            case S.Norm():
                # ||v||: only ||v||^2 = vᵀv is in the language; the power rule checks the 2
                return NormOf(self.expr(t.body))
            case S.Power():
                return self.power(t)
            case S.Star():
                return self.star(t)
            case S.Subscript():
                return self.subscript(t)
            case S.SumSign():
                if t.index.text is None:
                    self.fail(t, "a sum needs a single index, as in \\sum_j")
                return t
            case S.Plus():
                return self._sum(self.value(t.left), self.value(t.right), t, 1)
            case S.Minus():
                return self._sum(self.value(t.left), self.value(t.right), t, -1)
            case S.Neg():
                return self.neg(t)
            case S.Div():
                return self.div(t)
            case S.SeqOp():
                return self.seqop(t)
            case S.Dot():
                return self.dot(t)
            case S.Juxt():
                return self.juxt(t)
        self.fail(t, f"unsupported construct {type(t).__name__}")

    def expr(self, t: S.Syntax) -> Expr:
        return self.as_expr(self.value(t), t)

    def as_expr(self, v: Value, t: Located) -> Expr:
        if isinstance(v, S.Word):
            v = self.resolve(v.text, t)
        if isinstance(v, list):
            v = self.product(v, t)
        if isinstance(v, Grouped):
            v = v.e  # (AB) standing alone, or as a term: the grouping matters only inside a product
        if isinstance(v, Expr):
            return v
        if isinstance(v, Fraction):
            self.fail(t, f"the number {v} stands alone where a matrix expression is expected")
        if isinstance(v, FuncApp):
            self.fail(t, f"function notation {v.name}(...) is not interpreted; write the expression it stands for")
        if isinstance(v, S.Paren):
            self.fail(t, "a parenthesised list (a, b) is not an expression; did you mean \\langle a, b \\rangle?")
        if isinstance(v, IndexNotation):
            self.fail(t, "index notation here")
        if isinstance(v, NormOf):
            self.fail(t, "only the squared norm ||v||^2 (or \\|A\\|_F^2) is supported")
        if isinstance(v, (TraceWord, S.Partial, S.SumSign, S.Space)):
            self.fail(t, "expected a matrix expression here")
        self.fail(t, "expected a matrix expression")

    def resolve(self, text: str, t: Located) -> Expr | list:
        """Split a run of letters into declared names: 'wx' is w·x, 'AB' is A·B.

        Every way of writing the run as a sequence of declared names is considered (a declared
        multi-letter name such as ``dy`` is one of them). One way: that product. None: an
        unknown-symbol error naming the run. Several ways that mean different things (``ab``
        declared next to ``a`` and ``b``): the run is ambiguous and is refused, never guessed."""
        names = self.scope.names()
        splits = segmentations(text, names)
        if not splits:
            if self.scope.lookup(text) is not None:
                return self.scope.lookup(text)
            bad = _unknown_part(text, names)
            self.fail(t, f"unknown symbol '{bad}'" + (f" in '{text}'" if bad != text else "")
                      + f": declare it in the text, e.g. ${bad} \\in \\mathbf{{R}}^n$")
        readings = [[self.scope.lookup(nm) for nm in sp] for sp in splits]
        if len(splits) > 1:
            keys = {tuple(_key(v) for v in r) for r in readings}
            if len(keys) > 1:
                shown = " or ".join("·".join(sp) for sp in splits[:3])
                self.fail(t, f"ambiguous: '{text}' can be read as {shown}; separate the factors with spaces "
                          f"or braces, or rename a symbol")
        out = readings[0]
        return out[0] if len(out) == 1 else out

    def split_last(self, text: str, t: Located) -> tuple[list, Any]:
        """A run of letters as (leading factors, last factor): a superscript binds to the last one."""
        r = self.resolve(text, t)
        if isinstance(r, list):
            return r[:-1], r[-1]
        return [], r

    def word(self, t: S.Word) -> TraceWord | S.Word:
        """trace / tr / Tr name the trace; any other run of letters is resolved later."""
        text = t.text
        if text in _TRACE_NAMES and segmentations(text, self.scope.names()):
            # tr with t and r declared: the trace or the product t·r? (\mathrm{tr} is always the trace)
            self.fail(t, f"ambiguous: '{text}' can be read as the trace or as the product "
                      f"{'·'.join(segmentations(text, self.scope.names())[0])} of declared symbols; "
                      f"write \\mathrm{{{text}}} for the trace, or separate the factors")
        return TraceWord() if text in _TRACE_NAMES else t

    def greek(self, t: S.Greek) -> Value:
        v = self.scope.lookup(t.name)
        if v is None:
            self.fail(t, f"unknown symbol '\\{t.name}': declare it in the text")
        return v

    def roman(self, t: S.Roman) -> TraceWord | S.Word:
        name = t.name
        if name in _TRACE_NAMES:
            return TraceWord()
        if segmentations(name, self.scope.names()) or self.scope.lookup(name) is not None:
            return S.Word(t.pos, name)
        self.fail(t, f"{_FUNCTION_MSG}: {t.command}{{{name}}} is not a declared symbol or the trace")

    def paren(self, t: S.Paren) -> Value:
        if len(t.items) > 1:
            return t  # a parenthesised list: function notation after a name, else an error
        v = self.value(t.items[0])
        if isinstance(v, list):
            v = self.product(v, t)
        if isinstance(v, S.Word):
            v = self.as_expr(v, t)
        if isinstance(v, MatMul):
            return Grouped(v)
        return v

    def delta(self, t: S.Delta) -> Value:
        arg = t.arg
        v = self.resolve(arg.text, arg) if isinstance(arg, S.Word) else self.value(arg)
        first, rest = (v[0], v[1:]) if isinstance(v, list) else (v, [])
        if isinstance(first, Grouped):
            first = first.e
        if not isinstance(first, Sym) or first.kind != "plain":
            self.fail(t, "\\Delta must be followed by a declared symbol, as in \\Delta x")
        if isinstance(arg, S.Word) and rest:
            # \Delta AB: the perturbation of the product, Δ(AB), or (ΔA)B? The two agree only when A is the
            # perturbed variable and the rest does not contain it; the document checker knows the
            # perturbed variable and refuses the run otherwise (see delta_run_problem)
            rest_names = {s.name for r in rest if isinstance(r, Expr) for s in r.symbols()}
            self.delta_runs.append((*self.where(t), arg.text, first.name, frozenset(rest_names)))
        d = delta_of(first)
        return [d] + rest if rest else d

    def frac(self, t: S.Frac) -> Value:
        num, den = self.value(t.num), self.value(t.den)
        if isinstance(num, Fraction) and isinstance(den, Fraction):
            if den == 0:
                self.fail(t, "division by zero")
            return num / den
        if isinstance(den, Fraction):
            # \frac{E}{c}: (1/c)·E for a nonzero number c
            if den == 0:
                self.fail(t, "division by zero")
            return Scale(1 / den, self.as_expr(num, t.num))
        a, b = self._derivative_part(num), self._derivative_part(den)
        if a is None or b is None:
            self.fail(t, "\\frac{..}{..} must be a number or a derivative such as \\frac{dL}{dy}")
        if a == b:
            same = self.scope.lookup(a)
            if same is None:
                self.fail(t, f"unknown symbol '{a}' in the derivative: declare it in the text")
            if not (isinstance(same, Expr) and same.is_scalar):
                self.fail(t, f"d{a}/d{a} of a non-scalar is an identity matrix, which is not in the language")
            return Fraction(1)  # d(L)/d(L) = 1 for a scalar L
        loss, wrt = self.scope.lookup(a), self.scope.lookup(b)
        if wrt is None:
            self.fail(t, f"unknown symbol '{b}' in the derivative: declare it in the text")
        if not isinstance(wrt, Sym) or wrt.kind != "plain":
            self.fail(t, f"d{a}/d{b}: '{b}' stands for {_describe(wrt)}, not a declared variable; "
                      f"a derivative is taken with respect to a variable such as x")
        if not isinstance(loss, Expr):
            self.fail(t, f"d{a}/d{b}: '{a}' is not a declared quantity")
        if not loss.is_scalar:
            self.fail(t, f"d{a}/d{b}: only derivatives of a scalar are gradients; {a} is {loss.shape[0]}×{loss.shape[1]}")
        return grad_of(wrt, a)

    @staticmethod
    def _derivative_part(v: Value) -> str | None:
        """'dL' (a word starting with d) or \\partial L, as the name L."""
        if isinstance(v, S.Word) and len(v.text) >= 2 and v.text[0] == "d":
            return v.text[1:]
        if isinstance(v, list) and len(v) == 2 and isinstance(v[0], S.Partial):
            w = v[1]
            return w.text if isinstance(w, S.Word) else w.name if isinstance(w, Sym) else None
        return None

    def inner(self, t: S.Angle) -> Expr:
        a, b = self.expr(t.left), self.expr(t.right)
        try:
            return Inner(a, b)
        except ShapeError as exc:
            self.fail(t, str(exc))

    def _trace_of(self, paren_t: S.Syntax, t: Located) -> Trace:
        """tr(...) with the parenthesised argument ``paren_t`` (a shape error is located at ``t``)."""
        arg = self.value(paren_t)
        arg = arg.e if isinstance(arg, Grouped) else arg
        try:
            return Trace(self.as_expr(arg, paren_t))
        except ShapeError as exc:
            self.fail(t, str(exc))

    def power(self, t: S.Power) -> Value:
        base = self.value(t.base)
        text = t.sup.text
        if isinstance(base, NormOf):
            if text == "2":
                return base.squared()
            self.fail(t, "only the squared norm ||v||^2 (or \\|A\\|_F^2) is supported")
        if isinstance(t.base, S.Group) and text in (*_TRANSPOSE_MARKS, "2"):
            # {AB}^T: a brace group is one operand, as TeX typesets it
            return self._power_of(self.as_expr(base, t), text, t)
        if isinstance(base, S.Word) and text in (*_TRANSPOSE_MARKS, "2"):
            # AB^T is A·Bᵀ: a superscript binds to the last letter-name of the run
            head, last = self.split_last(base.text, t)
            if head:
                return head + [self._power_of(last, text, t)]
            base = last
        if text == "*":
            if isinstance(base, S.Word):
                return S.Word(base.pos, base.text + "*")
        if isinstance(base, list):
            # x y^T: the superscript binds to the last factor only
            *head, last = base
            return head + [self._power_of(last, text, t)]
        return self._power_of(base, text, t)

    def _power_of(self, base: Value, text: str | None, t: Located) -> Expr:
        if text in _TRANSPOSE_MARKS:
            if isinstance(base, Grouped):
                base = base.e
            return Transpose(self.as_expr(base, t))
        if text == "2" and isinstance(base, (Expr, Grouped, S.Word)):
            e = self.as_expr(base, t)
            if e.is_scalar:
                return MatMul(e, e)
            self.fail(t, "the square of a matrix or vector is not defined here; write the product, "
                      "or ||v||^2 for a squared norm")
        self.fail(t, "unsupported exponent: use ^T (transpose) or ||v||^2")

    def star(self, t: S.Star) -> S.Word:
        base = self.value(t.base)
        if isinstance(base, S.Word):
            return S.Word(base.pos, base.text + "*")
        self.fail(t, "'*' after an expression: write \\ast for convolution or use a name such as y*")

    def subscript(self, t: S.Subscript) -> Value:
        base_t, sub = t.base, t.sub.arg
        subtext = t.sub.text
        declared = self._declared_subscripted(base_t, subtext, t)
        if declared is not None:
            return declared
        base = self.value(base_t)
        if isinstance(sub, S.Roman) and sub.name == "F" and (isinstance(base, NormOf) or isinstance(base_t, S.Power)):
            subtext = "F"  # \|A\|_{\mathrm{F}}: the Frobenius norm, as \|A\|_F
        if isinstance(base, NormOf):
            if subtext == "F" or (subtext == "2" and base.e.shape[1] == 1):
                return base  # the Frobenius norm (for a vector, the Euclidean norm)
            self.fail(t, f"only the Frobenius norm \\|A\\|_F (or the 2-norm of a vector) is supported, "
                      f"not _{subtext or _source_of(sub)}")
        if isinstance(base_t, S.Power) and isinstance(base_t.base, S.Norm):
            # \|A\|^2_F: the same rule as \|A\|_F^2 — _F always, _2 only for a vector (for a
            # matrix \|A\|_2 is the spectral norm, not the Frobenius norm)
            norm = self.value(base_t.base)
            if subtext == "F" or (subtext == "2" and isinstance(norm, NormOf) and norm.e.shape[1] == 1):
                return self.value(base_t)
            self.fail(t, f"only the Frobenius norm \\|A\\|_F (or the 2-norm of a vector) is supported, "
                      f"not _{subtext or _source_of(sub)}")
        if isinstance(base, S.Word) and subtext is not None:
            name = f"{base.text}_{subtext}"
            if self.scope.lookup(name) is not None:
                return self.scope.lookup(name)
            if len(base.text) > 1 and self.scope.lookup(base.text) is None:
                # wy_m: the subscript binds to the last name of the run
                for k in range(1, len(base.text)):
                    tail = f"{base.text[k:]}_{subtext}"
                    if self.scope.lookup(tail) is not None:
                        head = self.resolve(base.text[:k], t)
                        return (head if isinstance(head, list) else [head]) + [self.scope.lookup(tail)]
        if isinstance(base, S.SumSign) or isinstance(base_t, S.SumSign):
            return base
        # index notation: A_i, x_{i+j}, (B ⊙ C)_i
        if isinstance(base, S.Word):
            if self.scope.lookup(base.text) is None:
                self.fail(t, f"unknown symbol '{base.text}_{subtext or '...'}': declare it in the text")
            base = self.resolve(base.text, t)
        if isinstance(base, Grouped):
            base = base.e
        if isinstance(base, Expr) and base.shape[0] != 1 and base.shape[1] != 1:
            self.fail(t, "a matrix with a single index has no fixed meaning (an entry A_{ij}, a row, a column?); "
                      "index notation is for vectors and sequences")
        return Indexed(base, sub)

    def _declared_subscripted(self, base_t: S.Syntax, subtext: str | None, t: Located) -> Value | None:
        """A declared subscripted name whose base is Greek (\\lambda_1), or written with its superscript
        first (W^T_1 is W_1^T, as TeX typesets it): the declared symbol, never index notation."""
        if subtext is None:
            return None
        if isinstance(base_t, S.Greek):
            return self.scope.lookup(f"{base_t.name}_{subtext}")
        if not isinstance(base_t, S.Power):
            return None
        inner_t, text = base_t.base, base_t.sup.text
        if text not in _TRANSPOSE_MARKS:
            return None
        if isinstance(inner_t, S.Greek):
            v = self.scope.lookup(f"{inner_t.name}_{subtext}")
            return None if v is None else self._power_of(v, text, t)
        if not isinstance(inner_t, S.Word):
            return None
        word = inner_t.text
        for k in range(len(word)):
            if k and self.scope.lookup(word) is not None:
                break
            v = self.scope.lookup(f"{word[k:]}_{subtext}")
            if v is not None:
                last = self._power_of(v, text, t)
                if not k:
                    return last
                head = self.resolve(word[:k], t)
                return (head if isinstance(head, list) else [head]) + [last]
        return None

    def neg(self, t: S.Neg) -> Value:
        v = self.value(t.body)
        if isinstance(v, Fraction):
            return -v
        if isinstance(v, IndexNotation):
            return IndexNotation(v.sums, v.factors, -v.coef)
        if isinstance(v, IndexSum):
            return IndexSum([(-c, f) for c, f in v.terms])
        return Scale(-1, self.as_expr(v, t))

    def _sum(self, a: Value, b: Value, t: Located, sign: int) -> Value:
        if isinstance(a, Fraction) and isinstance(b, Fraction):
            return a + sign * b
        if any(isinstance(v, (IndexNotation, IndexSum)) for v in (a, b)):
            return IndexSum(_terms(a) + [(sign * c, f) for c, f in _terms(b)])
        ea, eb = self.as_expr(a, t), self.as_expr(b, t)
        try:
            return Add(ea, eb if sign > 0 else Scale(-1, eb))
        except ShapeError as exc:
            self.fail(t, str(exc))

    def div(self, t: S.Div) -> Value:
        a, b = self.value(t.left), self.value(t.right)
        if isinstance(b, list) or (isinstance(b, S.Word) and len(segmentations(b.text, self.scope.names())) == 1
                                   and len(segmentations(b.text, self.scope.names())[0]) > 1):
            self.fail(t, f"ambiguous: {_DIV_MSG}")
        if isinstance(b, Fraction) and b != 0:
            if isinstance(a, Fraction):
                return a / b
            return Scale(1 / b, self.as_expr(a, t))
        self.fail(t, "only division by a number is supported")

    def seqop(self, t: S.SeqOp) -> Expr:
        op = t.op
        ea, eb = self.expr(t.left), self.expr(t.right)
        try:
            if op == "\\times":
                self.fail(t, "\\times between matrices is ambiguous; write the product as juxtaposition")
            meaning = self.scope.operators.get(op)
            if meaning is None:
                raise ReadError(self.path, *self.where(t), f"{op} has no declared meaning here (Hadamard product, correlation or convolution?); "
                          f"define it, e.g. $$y = x {op} w$$ followed by $$y_i := \\sum_j x_{{i+j}} w_j$$")
            if meaning == "hadamard":
                return Hadamard(ea, eb)
            return (Corr if meaning == "corr" else Conv)(ea, eb)
        except ShapeError as exc:
            self.fail(t, str(exc))

    def dot(self, t: S.Dot) -> Value:
        """a \\cdot b: the dot product ⟨a, b⟩ between two column vectors, else a product."""
        left, right = self.value(t.left), self.value(t.right)
        if not isinstance(left, (Fraction, S.SumSign)) and not isinstance(right, (Fraction, S.SumSign)):
            a: Expr | None
            b: Expr | None
            try:
                a, b = self.as_expr(left, t.left), self.as_expr(right, t.right)
            except LineError:
                a = b = None
            if a is not None and b is not None and a.shape == b.shape and a.shape[1] == 1 and a.shape[0] != 1:
                return Inner(a, b)
            if a is not None and b is not None and a.shape == b.shape and not a.is_scalar:
                # A·B between matrices: the matrix product or the Frobenius product Σ A_ij B_ij
                self.fail(t, "ambiguous: \\cdot between matrices can mean the matrix product or the entrywise "
                          "(Frobenius) product; write AB (juxtaposition) or \\langle A, B \\rangle")
        return (left if isinstance(left, list) else [left]) + (right if isinstance(right, list) else [right])

    def juxt(self, t: S.Juxt) -> Value:
        left_t, right_t = t.left, t.right
        if isinstance(left_t, S.Div):
            self._refuse_juxtaposed_denominator(t, right_t)
        if isinstance(_edge(left_t, -1), S.Number) and isinstance(_edge(right_t, 0), S.Number):
            # '1 2' or '1\\,000': TeX typesets adjacent digits as one number, never a product
            self.fail(t, "ambiguous: two numbers written next to each other (a digit group or a product?); "
                      "write the number without spaces, or 2 \\cdot 3")
        if isinstance(_edge(right_t, 0), S.Number) and not isinstance(_edge(left_t, -1), S.SumSign):
            # W_12 (W_{12} or W_1·2?), A2, A 2: a number after a factor is never silently a coefficient
            self.fail(right_t, "ambiguous: a number written after a factor (W_12: W_{12} or W_1·2?); "
                      "write the coefficient first (2A) or brace the subscript (W_{12})")
        if isinstance(right_t, S.Paren):
            self._refuse_function_application(left_t, right_t)
        left = self.value(left_t)
        after_trace = isinstance(left, TraceWord) or (isinstance(left, list) and isinstance(left[-1], TraceWord))
        head = left[:-1] if isinstance(left, list) else []
        if after_trace and isinstance(right_t, S.Paren):
            # tr(A) B: parentheses right after the trace delimit its argument
            return head + [self._trace_of(right_t, t)]
        if after_trace and isinstance(right_t, S.Power) and isinstance(right_t.base, S.Paren):
            # tr(A)^T B, tr(A)^2: the parentheses delimit the trace's argument and the superscript applies
            # to the trace value (a scalar: tr(A)^T = tr A, tr(A)^2 = tr(A)·tr(A)), never to A
            return head + [self._power_of(self._trace_of(right_t.base, t), right_t.sup.text, right_t)]
        right = self.value(right_t)
        return (left if isinstance(left, list) else [left]) + (right if isinstance(right, list) else [right])

    def _refuse_juxtaposed_denominator(self, t: S.Juxt, right_t: S.Syntax) -> None:
        """t/2s: ((t/2)·s or t/(2s)? Both are meaningful unless the factor after the division is a vector
        (1/2(x - y)^T: there is no dividing by a vector), so every other case is refused."""
        # an error in the factor itself (unknown symbol, shapes) is reported as it is
        v = self.value(right_t)
        if isinstance(v, list):
            v = self.product(v, right_t)
        e = self.as_expr(v, right_t) if not isinstance(v, Fraction) else None
        if e is not None and (e.shape[0] == 1) != (e.shape[1] == 1):
            return
        self.fail(t, f"ambiguous: {_DIV_MSG}")

    def _refuse_function_application(self, left_t: S.Syntax, paren_t: S.Paren) -> None:
        """f(x), \\sigma(x): function application, never a product. A declared matrix before
        parentheses (w(x + Δx)) is a product, as in the notes."""
        last = left_t
        while isinstance(last, (S.Juxt, S.Dot, S.Div, S.SeqOp)):
            last = last.right
        if isinstance(last, S.Greek):
            name = last.name
        elif isinstance(last, S.Word):
            text = last.text
            if text in _TRACE_NAMES:
                return
            splits = segmentations(text, self.scope.names())
            if not splits:
                if self.scope.lookup(text) is None:
                    self.fail(last, f"{_FUNCTION_MSG}: '{text}(...)' — '{text}' is not a declared symbol")
                return
            name = splits[0][-1]
        else:
            return
        v = self.scope.lookup(name)
        if v is None:
            self.fail(last, f"{_FUNCTION_MSG}: '{name}(...)' — '{name}' is not a declared symbol")
        if name in _FUNCTION_NAMES and isinstance(v, Expr) and v.is_scalar:
            self.fail(last, f"ambiguous: '{name}(...)' reads as a function application or as the scalar {name} "
                      f"times the parenthesis; {_FUNCTION_MSG.lower()}; write {name} \\cdot (...) for a product")

    def product(self, items: list, t: Located) -> Value:
        """Combine juxtaposed factors: numbers scale, trace(...) applies, f(a, b) is function notation,
        Σ_j starts index notation."""
        coef = Fraction(1)
        factors: list[Expr] = []
        k = 0
        flat: list = []
        for it in items:
            if isinstance(it, S.Word):
                r = self.resolve(it.text, t)
                flat.extend(r if isinstance(r, list) else [r])
            else:
                flat.append(it)
        if any(isinstance(it, (S.SumSign, Indexed, IndexNotation, IndexSum)) for it in flat):
            return self.index_product(flat, t)
        while k < len(flat):
            it = flat[k]
            if isinstance(it, Fraction):
                coef *= it
            elif isinstance(it, TraceWord):
                # \\mathrm{tr} AB is tr(AB): the trace takes the whole product after it
                if k + 1 >= len(flat):
                    self.fail(t, "trace needs an argument: trace(...)")
                rest = [a.e if isinstance(a, Grouped) else a for a in flat[k + 1:]]
                arg = rest[0] if len(rest) == 1 else rest
                try:
                    factors.append(Trace(self.as_expr(arg, t)))
                except ShapeError as exc:
                    self.fail(t, str(exc))
                k = len(flat)
            elif isinstance(it, S.Paren):
                if factors and isinstance(factors[-1], Sym):
                    return FuncApp(factors[-1].name, it.items)
                self.fail(t, "a parenthesised list (a, b) is not an expression; did you mean \\langle a, b \\rangle?")
            elif isinstance(it, Grouped):
                factors.append(it.e)
            elif isinstance(it, Expr):
                factors.append(it)
            elif isinstance(it, list):
                factors.append(self.product(it, t))
            else:
                factors.append(self.as_expr(it, t))
            k += 1
        if not factors:
            return coef
        try:
            body = factors[0] if len(factors) == 1 else MatMul(*factors)
        except ShapeError as exc:
            self.fail(t, str(exc))
        return body if coef == 1 else Scale(coef, body)

    def index_product(self, flat: list, t: Located) -> IndexNotation:
        sums, factors, coef = [], [], Fraction(1)
        for it in flat:
            if isinstance(it, S.SumSign):
                sums.append(it.index.text)
            elif isinstance(it, Indexed):
                factors.append((it.base, index_of(it.index)))
            elif isinstance(it, Fraction):
                coef *= it
            elif isinstance(it, Grouped):
                self.fail(t, "in index notation every factor needs an index")
            elif isinstance(it, (IndexNotation, IndexSum)):
                factors.append(("nested", it))
            else:
                self.fail(t, "in index notation every factor needs an index, as in A_i or (B \\odot C)_i")
        return IndexNotation(sums, factors, coef)


def affine_of(t: str | S.Syntax) -> dict[str | int, int] | None:
    """A subscript as written (``i``, ``{i+j}``, ``{2}``) as {var: coef, 1: const}, or None when it is
    not an integer combination of index names (``{2j}``, ``{j+2.5}``)."""
    if isinstance(t, str):
        return {1: int(t)} if t.isdigit() else {t: 1}
    if isinstance(t, S.Word):
        return {t.text: 1}
    if isinstance(t, S.Number):
        # a non-integer is no index (int() would raise): outside the affine fragment
        return {1: int(t.text)} if t.text.isdigit() else None
    if isinstance(t, (S.Plus, S.Minus)):
        a, b = affine_of(t.left), affine_of(t.right)
        if a is None or b is None:
            return None
        sign = 1 if isinstance(t, S.Plus) else -1
        out = dict(a)
        for k, v in b.items():
            out[k] = out.get(k, 0) + sign * v
        return out
    if isinstance(t, S.Group):
        return affine_of(t.body)
    return None


def index_of(t: str | S.Syntax) -> Index:
    """The language's index value of a subscript as written (see :func:`affine_of`)."""
    a = affine_of(t)
    return Index(None if a is None else tuple(a.items()))


def _terms(v):
    if isinstance(v, IndexSum):
        return v.terms
    if isinstance(v, IndexNotation):
        return [(Fraction(1), v)]
    raise LineError(0, 0, "cannot add index notation and matrix notation")


def _source_of(x: str | S.Syntax) -> str:
    """A subscript as the author wrote it, for messages: F, 2, {\\mathrm{op}}."""
    if isinstance(x, S.Roman):
        return f"{{{x.command}{{{x.name}}}}}"
    if isinstance(x, str):
        return x
    if isinstance(x, (S.Word, S.Number)):
        return x.text
    return "{...}"


def parse_space(interp: Interpreter, t: S.Syntax) -> tuple | None:
    """\\mathbf{R}, \\mathbf{R}^n, \\mathbf{R}^{m \\times n}, \\mathbf{R}^{\\infty} -> (rows, cols)."""
    if isinstance(t, S.Space):
        return (1, 1)
    if not isinstance(t, S.Power) or not isinstance(t.base, S.Space):
        return None
    arg = t.sup.arg
    try:
        dims = _dims(arg)
    except _ReservedDim as exc:
        interp.fail(t, f"'{exc}' cannot name a dimension (it reads as infinity or a constant); write "
                    "\\mathbf{R}^{\\infty} for sequences, or choose another name such as n")
    if dims is None:
        hint = ""
        if isinstance(arg, S.Juxt):
            hint = "; for a matrix write the dimensions with \\times, as in \\mathbf{R}^{m \\times n}"
        interp.fail(t, "a space must look like \\mathbf{R}, \\mathbf{R}^n or \\mathbf{R}^{m \\times n}" + hint)
    return dims


# names SymPy (or a reader) would take for infinity or a constant, never a dimension
_RESERVED_DIMS = {"oo", "inf", "infty", "infinity", "nan", "zoo"}


class _ReservedDim(Exception):
    pass


def _dims(arg: str | S.Syntax) -> tuple | None:
    if isinstance(arg, str):
        s = arg
        if s in ("\\infty", "∞"):
            return ("oo", 1)
        if s.lower() in _RESERVED_DIMS:
            raise _ReservedDim(s)
        if re.fullmatch(r"\d+", s):
            return (int(s), 1) if int(s) >= 1 else None  # a concrete size
        if re.fullmatch(r"[A-Za-z]", s):
            return (s, 1)
        if re.fullmatch(r"[A-Za-z]+", s):
            return (s, 1)
        return None
    if isinstance(arg, (S.Word, S.Number)):
        return _dims(arg.text)
    if isinstance(arg, S.Infinity):
        return ("oo", 1)
    if isinstance(arg, S.SeqOp) and arg.op == "\\times":
        r, c = _dims(arg.left), _dims(arg.right)
        if r and c and r[1] == 1 and c[1] == 1:
            return (r[0], c[0])
    return None


def declared_name(interp: Interpreter, t: S.Syntax) -> str | None:
    """The name on the left of a declaration: x, y*, y^*, y_m, \\alpha, dy."""
    if isinstance(t, S.Word):
        return t.text
    if isinstance(t, S.Greek):
        return t.name
    if isinstance(t, S.Star):
        inner = declared_name(interp, t.base)
        return inner + "*" if inner else None
    if isinstance(t, S.Power):
        inner = declared_name(interp, t.base)
        if inner and t.sup.arg == "*":
            return inner + "*"
        return None
    if isinstance(t, S.Subscript):
        inner = declared_name(interp, t.base)
        sub = t.sub.text
        return f"{inner}_{sub}" if inner and sub else None
    return None

"""Reading derivations written in Markdown with the notes' LaTeX notation.

Three layers, kept apart as lark keeps grammar and transformer apart:

1. :func:`scan_markdown` splits a file into headings, prose and display-math lines, with the
   exact line and column of every math line, and picks up justifications (``\\text{...}``,
   ``\\quad ...``, a trailing ``— def of ...``).
2. :func:`read_math` parses one math line with the grammar ``grammar/math.lark`` (lark's LALR(1)
   parser; the grammar has no conflict, and the norm bars, which open and close alike, are paired
   first by a pre-pass that refuses a line they pair two ways) after cheap pre-checks (size, nesting,
   balanced delimiters), and lark's Transformer
   (:class:`~symderiv.documents.syntax.ToSyntax`) turns the parse tree into typed syntax with
   positions. Both depend only on the line's text and are done once per distinct text. Nothing is
   ever evaluated as code.
3. :class:`~symderiv.documents.interpret.Interpreter` (in ``interpret.py``) gives that syntax its meaning
   as symderiv expressions, using the symbols declared in prose (``$x \\in \\mathbf{R}^n$``):
   juxtaposition is a product, ``\\Delta x`` a perturbation, ``\\frac{dL}{dy}`` a gradient symbol,
   ``||v||^2`` is vᵀv, and so on.

Errors that make the file unreadable raise :class:`ReadError` (exit status 2) with
file:line:col; problems local to one line (an undeclared symbol, a shape mismatch) raise
:class:`LineError`, which the document checker reports at that line.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from lark import Lark, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from symderiv.documents import syntax as S
from symderiv.errors import ReadError

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
_ENV = re.compile(r"\\(begin|end)\{(aligned|align\*?|equation\*?|gather\*?|gathered|split|eqnarray\*?|multline\*?)\}"
                  r"(\{[^{}]*\})?")
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
        raise ReadError(path, line, col, f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x})") from None


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


_RELATION = re.compile(r"(?<![\\])(=|\\approx|\\equiv|\\Rightarrow|\\implies|\\Longrightarrow|\\therefore"
                       r"|\\in(?![a-zA-Z]))")
_CONNECTIVE = re.compile(r"^(?:\s|\\q?quad|\\text\{[^{}]*\}|\\textrm\{[^{}]*\}|\\mbox\{[^{}]*\}|\\[,;:!]|[,;.])*")
_GAP = re.compile(r"\\q?quad(?![a-zA-Z])")
# words that introduce a justification (kept as the step's note, not checked), not a second equation
_JUSTIFYING = re.compile(r"\s*(?:\\q?quad\s*)*\\(?:text|textrm|mbox)\{\s*(?:with|where|since|because|by|using|"
                         r"as|from|see|cf\.?|i\.e\.?|e\.g\.?|for|note|if|when|whenever|provided|given|assuming|"
                         r"unless)\b", re.I)
# a note that states a hypothesis (``\quad \text{if } B = A``): the equation holds only under it
# a note that may deny the equation it follows (``\text{is false}``, ``\text{(wrong!)}``, ``\text{does not hold}``):
# the line then asserts that the equation fails, which the checker must not tick as the bare equation
NEGATING_NOTE = re.compile(r"\b(?:not|false|wrong|fails?|failing|incorrect|never|untrue|invalid|no|nor|mistake|"
                           r"error|erroneous|bogus|counterexample|isn't|doesn't|don't|won't|can't|cannot)\b|n't\b",
                           re.I)
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
        outside = without_code_spans(raw)
        for a, b in inline_math_spans(raw):
            outside = outside[:a] + " " * (b - a) + outside[b:]
        env_in_prose = re.search(r"(?<!\\)\\begin\{", outside)
        if env_in_prose:
            # an environment inside running text would be silently prose: refused where it stands
            raise ReadError(path, i + 1, env_in_prose.start() + 1, "an environment (\\begin{...}) in running text is "
                            "not read; start it on its own line, or write the math in $$ ... $$")
        blocks.append(Block("prose", orig[i], i + 1, math=prose_math))
        i += 1
    _refuse_split_directives(text, blocks, path)
    return blocks


def _refuse_split_directives(text: str, blocks: list[Block], path: str) -> None:
    """A ``<!-- symderiv: ... -->`` directive is read on one line; one broken over several lines (outside
    code) would be skipped without a word, and with it the author's hypothesis or operator meaning, so it
    is refused where it starts."""
    code = {b.line for b in blocks if b.code}
    for m in re.finditer(r"<!--\s*symderiv:.*?-->", text, flags=re.S):
        if "\n" in m.group(0):
            line = text.count("\n", 0, m.start()) + 1
            if line not in code:
                col = m.start() - (text.rfind("\n", 0, m.start()) + 1) + 1
                raise ReadError(path, line, col, "a <!-- symderiv: ... --> directive must be written on one line")


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
    return _dollar_spans(_unescaped_dollars(without_code_spans(text)))


def _dollar_spans(dollars: list[int]) -> list[tuple[int, int]]:
    return [(a + 1, b) for a, b in zip(dollars[::2], dollars[1::2]) if b > a + 1]


def _inline_math(text: str, line: int, col: int, path: str) -> list[MathLine]:
    masked = without_code_spans(text)
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


def without_code_spans(text: str) -> str:
    """The line with `code spans` blanked (a $ inside code is not math)."""
    # CommonMark: a run of N backticks opens a span that the next run of exactly N closes (``a `b` c``)
    return re.sub(r"(?<!`)(`+)(?!`)(.*?)(?<!`)\1(?!`)", lambda m: " " * len(m.group(0)), text)


# ---------------------------------------------------------------------------------------
# 2. Parsing
# ---------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _parser() -> Lark:
    """The LALR(1) parser of ``grammar/math.lark`` with lark's contextual lexer (each token is lexed
    among the terminals the parser can take at that point, so ``x_ij`` is x_{i} j as in TeX). The
    grammar has no conflict, so a line has at most one parse tree; the norm bars, which the grammar
    cannot pair by itself, are paired before parsing (:func:`_pair_norm_bars`)."""
    grammar = resources.files("symderiv.documents").joinpath("grammar/math.lark").read_text(encoding="utf-8")
    return _shipped_parser(grammar) or Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=True)


def _shipped_parser(grammar: str) -> Lark | None:
    """The parser loaded from the tables shipped with the package (``math_tables.py``, written by
    ``python -m symderiv.documents.build_tables``): lark's analysis of the grammar is about 45 ms of every
    process that reads a document, loading its result a few. Only when the tables were built from this
    grammar by this lark; else None (and the parser is built)."""
    import hashlib

    import lark

    try:
        from symderiv.documents import math_tables
    except ImportError:
        return None
    if (math_tables.GRAMMAR_SHA256 != hashlib.sha256(grammar.encode("utf-8")).hexdigest()
            or math_tables.LARK_VERSION != lark.__version__):
        return None
    return Lark.load(math_tables.TABLES)


class _Unparsable(Exception):
    """A math line that cannot be parsed: where (an offset in the line's text) and what was expected,
    in the author's terms. Turned into a :class:`ReadError` with the file position by :func:`parse_math`."""

    def __init__(self, offset: int, message: str):
        super().__init__(message)
        self.offset, self.message = offset, message


# ---- norm bars -------------------------------------------------------------------------
# \| (or || or \Vert) both opens and closes a norm. The pre-pass below pairs the bars of a line the way
# precheck pairs parentheses, then writes each as the grammar's opener or closer. Every pairing that the
# grammar could accept is tried; a line that two pairings parse (\|a\|b\|c\|: ‖a‖ b ‖c‖ or ‖a ‖b‖ c‖) is
# refused, never guessed. The constraints that cut the pairings down are necessary conditions only
# (each follows from grammar/math.lark), so no pairing that parses is ever cut:
#  * a norm lies inside one ( ), [ ] or { } group: the bars of each group are paired among themselves;
#  * a bar that nothing able to end an expression precedes (the start of its group, an operator, a
#    relation, \frac, ...) opens; a bar that nothing able to start an expression follows (the end of its
#    group, ^, _, ', a relation, ...) closes; a norm is never empty.
# Sizes (\left\|, \bigr\|) are ignored here as by the grammar: \left\|a\right\|b\left\|c\right\| is refused too.
_NORM_OPEN, _NORM_CLOSE = "\ue000", "\ue001"  # the grammar's _NORM_OPEN and _NORM_CLOSE
_MAX_PAIRINGS = 16
_CONTROL = re.compile(r"\\([A-Za-z]+|.)", re.S)
_IGNORED_WORDS = frozenset({"quad", "qquad", "displaystyle", "left", "right", "bigl", "bigr", "Bigl", "Bigr", "biggl",
                            "biggr", "big", "Big", "bigg", "Bigg"})
# no expression ends with these (operators, relations, commands that need an argument) ...
_NO_END_CHARS = frozenset("^_+-\u2212=,:/<")
_BINARY_WORDS = {"cdot", "odot", "otimes", "star", "ast", "circ", "times", "in", "approx", "equiv", "Rightarrow",
                 "implies", "Longrightarrow", "therefore"}
_NO_END_WORDS = frozenset(_BINARY_WORDS | {
    "langle", "lVert", "Delta", "frac", "dfrac", "tfrac", "sqrt", "nabla", "sum", "Sigma", "mathbf", "boldsymbol",
    "mathbb", "bm", "hat", "bar", "tilde", "widehat", "widetilde", "overline", "check", "breve", "mathcal", "mathrm",
    "operatorname", "textrm", "text"})
# ... and none starts with these (postfix and binary operators, relations, closing delimiters)
_NO_START_CHARS = frozenset("^_'*+=,:/>")
_NO_START_WORDS = frozenset(_BINARY_WORDS | {"rangle", "rVert", "top", "intercal", "prime"})


@dataclass
class _Bar:
    start: int
    end: int
    can_open: bool = True
    can_close: bool = True
    after_bar: bool = False  # the unit just before it (spacing aside) is another bar


def _bar_groups(text: str) -> list[list[_Bar]]:
    """The norm bars of a line, grouped by the ( ), [ ], { } group they stand in, each with the roles
    the grammar leaves it (see above). Units: a bar, a group, a control word, a character."""
    # a unit is (kind, may start an expression, may end one); kind "bar" carries its _Bar
    stack: list[list[tuple[str, bool, bool, _Bar | None]]] = [[]]
    groups: list[list[tuple[str, bool, bool, _Bar | None]]] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t\n~&":
            i += 1
            continue
        unit: tuple[str, bool, bool, _Bar | None]
        if ch == "\\" and i + 1 < n:
            m = _CONTROL.match(text, i)
            assert m is not None
            name = m.group(1)
            if name in _IGNORED_WORDS or (len(name) == 1 and name in ",;:! \t\n"):
                i = m.end()
                continue
            if name in ("|", "Vert"):
                unit = ("bar", True, True, _Bar(i, m.end()))
            else:
                unit = ("other", name not in _NO_START_WORDS, name not in _NO_END_WORDS, None)
            i = m.end()
        elif ch == "|" and text.startswith("||", i):
            unit = ("bar", True, True, _Bar(i, i + 2))
            i += 2
        elif ch in "([{":
            stack.append([])
            i += 1
            continue
        elif ch in ")]}" and len(stack) > 1:
            groups.append(stack.pop())
            unit = ("group", True, True, None)
            i += 1
        else:
            unit = ("other", ch not in _NO_START_CHARS, ch not in _NO_END_CHARS, None)
            i += 1
        stack[-1].append(unit)
    groups.extend(stack)
    out = []
    for units in groups:
        bars = []
        for k, (kind, _, _, bar) in enumerate(units):
            if kind != "bar" or bar is None:
                continue
            before, after = units[k - 1] if k else None, units[k + 1] if k + 1 < len(units) else None
            if before is None or (before[0] != "bar" and not before[2]):
                bar.can_close = False
            if after is None or (after[0] != "bar" and not after[1]):
                bar.can_open = False
            bar.after_bar = before is not None and before[0] == "bar"
            bars.append(bar)
        if bars:
            out.append(bars)
    return out


def _group_pairings(bars: list[_Bar], limit: int) -> list[tuple[bool, ...]]:
    """Every balanced way (True = opens) to pair one group's bars that the constraints allow, or
    ``limit`` + 1 of them when there are more. The states (bars read, norms open, whether the last bar
    opened) that can still end balanced are found first, forwards then backwards, so the listing never
    walks into a dead end (a long line whose bars are forced is one pass)."""
    n = len(bars)
    reach: list[set[tuple[int, bool]]] = [{(0, False)}] + [set() for _ in range(n)]
    for k in range(n):
        for depth, prev in reach[k]:
            for opens in _roles(bars[k], depth, prev):
                if depth + 1 <= n - k - 1 or not opens:
                    reach[k + 1].add((depth + (1 if opens else -1), opens))
    good: list[set[tuple[int, bool]]] = [set() for _ in range(n)] + [{s for s in reach[n] if s[0] == 0}]
    for k in range(n - 1, -1, -1):
        good[k] = {(depth, prev) for depth, prev in reach[k]
                   if any((depth + (1 if o else -1), o) in good[k + 1] for o in _roles(bars[k], depth, prev))}
    out: list[tuple[bool, ...]] = []
    stack: list[tuple[int, tuple[int, bool], tuple[bool, ...]]] = [(0, (0, False), ())] if good[0] else []
    while stack and len(out) <= limit:
        k, (depth, prev), roles = stack.pop()
        if k == n:
            out.append(roles)
            continue
        for opens in reversed(_roles(bars[k], depth, prev)):
            nxt = (depth + (1 if opens else -1), opens)
            if nxt in good[k + 1]:
                stack.append((k + 1, nxt, roles + (opens,)))
    return out


def _roles(bar: _Bar, depth: int, prev_opened: bool) -> list[bool]:
    """The roles a bar may take after ``depth`` open norms (True = opens)."""
    out = []
    if bar.can_open:
        out.append(True)
    if bar.can_close and depth > 0 and not (bar.after_bar and prev_opened):  # a norm is never empty
        out.append(False)
    return out


def _with_roles(text: str, bars: list[_Bar], roles: tuple[bool, ...]) -> str:
    """The line with each bar written as the grammar's opener or closer, padded to its length."""
    parts, at = [], 0
    for bar, opens in zip(bars, roles):
        parts += [text[at:bar.start], _NORM_OPEN if opens else _NORM_CLOSE, " " * (bar.end - bar.start - 1)]
        at = bar.end
    parts.append(text[at:])
    return "".join(parts)


def _pair_norm_bars(text: str) -> tuple[list[_Bar], list[tuple[bool, ...]]]:
    """The bars of the line (in order) and the pairings to try, each a role per bar (True = opens)."""
    groups = _bar_groups(text)
    bars = sorted((b for g in groups for b in g), key=lambda b: b.start)
    pairings: list[dict[int, bool]] = [{}]
    for g in groups:
        options = _group_pairings(g, _MAX_PAIRINGS)
        pairings = [p | {b.start: r for b, r in zip(g, roles)} for p in pairings for roles in options]
        if len(pairings) > _MAX_PAIRINGS:
            raise _Unparsable(g[0].start, "too many norm bars \\| to pair: write each norm as \\lVert ... \\rVert")
    return bars, [tuple(p[b.start] for b in bars) for p in pairings]


def _fallback_roles(bars: list[_Bar]) -> tuple[bool, ...]:
    """A pairing to parse for the error message when the constraints allow none (so none parses):
    each bar closes what is open when it may, else opens."""
    roles: list[bool] = []
    depth = 0
    for b in bars:
        closes = not b.can_open or (b.can_close and depth > 0 and not (b.after_bar and roles[-1]))
        roles.append(not closes)
        depth += -1 if closes else 1
    return tuple(roles)


# ---- parsing ---------------------------------------------------------------------------
@dataclass
class _Stop:
    """Where a parse of the line stopped, and the terminals the parser could have taken there."""

    offset: int
    at_end: bool
    names: set[str]
    problem: str = ""  # an error lark does not locate (nesting too deep for Python's recursion)


def _stop(exc: Exception, parsed: str) -> _Stop:
    """lark's error on ``parsed`` (the line with its bars paired). An LALR parser may reduce on a token
    before it finds that the token cannot follow (its states share lookaheads), so the state it stops in
    can be narrower than what was possible there: the line is parsed again up to the error and each
    terminal tried (only when a line is refused), which gives what Earley's parser listed."""
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END" or isinstance(exc, UnexpectedEOF):
        pos, at_end = len(parsed), True
    elif isinstance(exc, (UnexpectedCharacters, UnexpectedToken)):
        pos, at_end = exc.pos_in_stream or 0, False
        if isinstance(exc, UnexpectedToken) and str(exc.token).startswith("&"):
            pos += 1  # a relation &= where none may stand: its & is an ignored alignment mark, the error is at =
    else:
        return _Stop(0, False, set(), "expression nested too deeply" if isinstance(exc, RecursionError)
                     else "cannot parse this math")
    try:
        ip = _parser().parse_interactive(parsed[:pos])
        ip.exhaust_lexer()
        names = set(ip.accepts())
    except UnexpectedInput:
        names = set(getattr(exc, "allowed", None) or getattr(exc, "expected", None) or ())
    return _Stop(pos, at_end, names)


def _unparsable(text: str, stops: list[_Stop]) -> _Unparsable:
    """The message for a line no parse reads: at the furthest point any parse reached (as Earley, which
    followed every reading at once, reported), with what any of those parses could have taken there, in
    the author's terms (never a terminal name)."""
    far = max(s.offset for s in stops)
    names = set().union(*(s.names for s in stops if s.offset == far))
    if any(s.at_end for s in stops if s.offset == far):
        return _Unparsable(far, "math ends too early; expected " + _expected(names))
    problems = [s.problem for s in stops if s.offset == far and s.problem]
    if problems and not names:
        return _Unparsable(far, problems[0])
    got = text[far: far + 12].strip()
    return _Unparsable(far, f"unexpected '{got}' in math; expected " + (_expected(names) or "a LaTeX expression"))


def _expected(names: set[str]) -> str:
    return ", ".join(sorted({_FRIENDLY.get(e, e) for e in names if not e.startswith("__")})[:8])


_ERROR_SEARCH_BARS = 8  # up to this many bars, an unreadable line's error is placed as Earley placed it


def _parse_text(text: str) -> Tree:
    """The parse tree of one math line, or :class:`_Unparsable`."""
    for k, ch in enumerate(text):
        if ch in (_NORM_OPEN, _NORM_CLOSE):  # the pre-pass's characters are never the author's
            raise _Unparsable(k, f"unexpected character U+{ord(ch):04X} in math")
    parser = _parser()
    if "|" not in text and "\\Vert" not in text:
        try:
            return parser.parse(text)
        except (UnexpectedInput, RecursionError) as exc:
            raise _unparsable(text, [_stop(exc, text)]) from None
    bars, pairings = _pair_norm_bars(text)
    trees: list[tuple[tuple[bool, ...], Tree]] = []
    for roles in pairings:
        try:
            trees.append((roles, parser.parse(_with_roles(text, bars, roles))))
        except (UnexpectedInput, RecursionError):
            continue
        if len(trees) > 1:
            a, b = trees[0][0], trees[1][0]
            k = next(k for k in range(len(bars)) if a[k] != b[k])
            raise _Unparsable(bars[k].start, "the norm bars \\| can be paired in more than one way (this one may "
                              "close a norm or open a new one); write each norm as \\lVert ... \\rVert")
    if trees:
        return trees[0][1]
    # no pairing reads the line: say where reading stops for whichever roles of the bars get furthest
    every = itertools.product((True, False), repeat=len(bars)) if len(bars) <= _ERROR_SEARCH_BARS else [
        _fallback_roles(bars)]
    stops = []
    for roles in every:
        paired = _with_roles(text, bars, roles)
        try:
            parser.parse(paired)
        except (UnexpectedInput, RecursionError) as exc:
            stops.append(_stop(exc, paired))
            continue
        # a pairing the constraints had cut reads the line: they are wrong, and the line is refused
        raise _Unparsable(bars[0].start, "the norm bars \\| cannot be paired safely; write each norm as "
                          "\\lVert ... \\rVert")
    raise _unparsable(text, stops)


@lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Tree | _Unparsable:
    """Parse trees depend only on the text (positions are relative to it): a line read in both
    passes, or repeated in the document, is parsed once; so is a line that cannot be parsed (its
    error is kept). Trees are never modified after parsing."""
    try:
        return _parse_text(text)
    except _Unparsable as exc:
        return _Unparsable(exc.offset, exc.message)  # kept without its traceback and lark's error (parser state)


@lru_cache(maxsize=4096)
def _syntax_cached(text: str) -> S.SyntaxLine:
    """The typed syntax of a line depends only on its text too: built once per distinct text (its
    nodes are immutable, so the two passes and repeated lines share it)."""
    tree = _parse_cached(text)
    if isinstance(tree, _Unparsable):
        raise _Unparsable(tree.offset, tree.message)  # never the cached object: raising it would grow its traceback
    return S.to_syntax(tree)


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
                raise ReadError(path, *_pos(ml, i),
                                f"'{ch}' closes '{o}' opened at column {_pos(ml, at)[1]}; expected '{_OPEN[o]}'")
        i += 1
    if stack:
        o, at = stack[-1]
        raise ReadError(path, *_pos(ml, at), f"unbalanced '{o}': expected a matching '{_OPEN[o]}'")


_FRIENDLY = {
    "RPAR": "')'", "LPAR": "'('", "RBRACE": "'}'", "LBRACE": "'{'", "RSQB": "']'", "LSQB": "'['",
    "WORD": "a symbol", "NUMBER": "a number", "REL": "'='", "COMMA": "','", "RANGLE": "'\\rangle'",
    "LANGLE": "'\\langle'", "MINUS": "'-'", "PLUS": "'+'", "FRAC": "\\frac",
    # every other terminal of grammar/math.lark by what an author writes (a message never names a terminal)
    "ARG_CHAR": "a letter or digit", "INFTY": "\\infty", "PRIMECMD": "\\prime", "STAR": "'*'", "TOP": "T or \\top",
    "ACCENT": "\\hat{...}", "BOLD": "\\mathbf{...}", "FUNC": "a function such as \\exp", "GREEK": "a Greek letter",
    "SPACE": "\\mathbf{R}", "SUM": "\\sum", "SQRT": "\\sqrt", "ROMAN": "\\mathrm{...}", "PARTIAL": "\\partial",
    "IMPLIES": "\\Rightarrow", "IN": "\\in", "SEQOP": "an operator such as \\odot", "COLON": "':'",
    "TRACE": "\\tr", "PRIME": "a prime '", "_NABLA": "\\nabla", "_DELTA": "\\Delta", "_CDOT": "\\cdot",
    "_LVERT": "\\lVert", "_RVERT": "\\rVert", "CIRCUMFLEX": "'^'", "UNDERSCORE": "'_'", "SLASH": "'/'",
    "EQUAL": "'='", "COLON_": "':'",
    "_NORM_OPEN": "'\\|'", "_NORM_CLOSE": "'\\|'", "$END": "the end of the math",
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
                            f"a run of small spaces '{m.group(0)}' between expressions is ambiguous (two equations "
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
    tree = _parse_cached(ml.text)
    if isinstance(tree, _Unparsable):
        raise ReadError(path, *_pos(ml, tree.offset), tree.message)
    return tree


def read_math(ml: MathLine, path: str) -> S.SyntaxLine:
    """The typed syntax of one math line (see :mod:`symderiv.documents.syntax`), after the same
    checks as :func:`parse_math`; a line that cannot be parsed raises :class:`ReadError`."""
    parse_math(ml, path)
    return _syntax_cached(ml.text)

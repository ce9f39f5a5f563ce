"""Typesetting helpers shared by the report formats: counterexamples as matrices, safe text inside
math, plain-text mathematics in prose turned into math, and a width estimate for breaking lines.

Everything here writes LaTeX math that MathJax, KaTeX and pdflatex all read (``pmatrix``,
``\\text``, ``\\frac``), so the Markdown and LaTeX reports show the same formulas.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from symderiv.lang.greek import ACCENT_NAME, UNICODE_GREEK, greek_latex
from symderiv.lang.symbols import name_latex

# ---------------------------------------------------------------------------------------------
# Text inside math (\text{...}): only characters that cannot close the group or start a command
# ---------------------------------------------------------------------------------------------
_MATH_TEXT_OK = re.compile(r"[A-Za-z0-9 .,;:()'/+=-]")
_MATH_TEXT_MAP = {"_": r"\_", "−": "-", "–": "-", "—": "--", "’": "'", "·": r"\cdot ", "×": r"\times ",
                  "≥": r"\geq ", "≤": r"\leq ", "Δ": r"\Delta ", "ℤ": r"\mathbb{Z}", "⊙": r"\odot ",
                  "⊗": r"\otimes ", "⟨": r"\langle ", "⟩": r"\rangle ", "∈": r"\in ", "≠": r"\neq ",
                  "ᵀ": "^{T}", "∘": r"\circ ", "⋆": r"\star ", "∗": r"\ast "}


def math_text(text: str) -> str:
    """``\\text{...}`` for free text inside math: letters, digits and plain punctuation are kept,
    a few symbols are set as math, anything else becomes a space (so no author text can open a
    command or close a brace)."""
    out: list[str] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            out.append(r"\text{" + "".join(buf) + "}")
            buf.clear()

    for ch in text:
        if _MATH_TEXT_OK.fullmatch(ch):
            buf.append(ch)
        elif ch in _MATH_TEXT_MAP:
            flush()
            out.append(_MATH_TEXT_MAP[ch])
        elif (g := greek_latex(ch)) is not None:
            flush()
            out.append(g + " ")
        else:
            buf.append(" ")
    flush()
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Counterexamples: sizes, the entries of each operand and both sides, as small matrices
# ---------------------------------------------------------------------------------------------
_INT = re.compile(r"-?[0-9]+")
_FRAC = re.compile(r"(-?)([0-9]+)/([0-9]+)")
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*\*?'*")
_MAX_ENTRIES = 8


def _number(v: Any) -> str:
    s = str(v)
    if _INT.fullmatch(s):
        return s
    m = _FRAC.fullmatch(s)
    if m:
        return m.group(1) + r"\tfrac{" + m.group(2) + "}{" + m.group(3) + "}"
    return r"\text{?}"


def _name(name: str) -> str:
    """A counterexample's operand name as math: ``A``, ``y*``, ``dL/dy``, ``Δx``; anything else as text."""
    if name.startswith("Δ") and (_NAME.fullmatch(name[1:]) or ACCENT_NAME.fullmatch(name[1:])):
        return r"\Delta " + _name(name[1:])
    if name.startswith("d") and "/d" in name:
        loss, wrt = name[1:].split("/d", 1)
        if all(_NAME.fullmatch(n) or ACCENT_NAME.fullmatch(n) for n in (loss, wrt)):
            return r"\frac{d" + _name(loss) + "}{d" + _name(wrt) + "}"
    if ACCENT_NAME.fullmatch(name):
        return name_latex(name)  # y__hat, the reader's name of \hat{y}
    if _NAME.fullmatch(name):
        star = "^{*}" if name.rstrip("'").endswith("*") else ""
        base = name.replace("*", "")
        return (base if len(base.rstrip("'")) == 1 else r"\mathit{" + base + "}") + star
    if len(name) == 1 and (g := greek_latex(name)) is not None:
        return g
    return math_text(name)


def _value(v: Any, name: str = r"\text{side}") -> str:
    """A matrix as ``pmatrix`` (a 1×1 matrix as its entry); a sequence on ℤ by its nonzero entries
    ``name_i = v`` (``name`` is the LaTeX name the entries are subscripts of)."""
    if isinstance(v, dict):
        if not v:
            return "0"
        items = sorted(v.items(), key=lambda kv: int(kv[0]) if _INT.fullmatch(str(kv[0])) else 0)
        shown = [f"{name}_{{{_number(i)}}} = {_number(x)}" for i, x in items[:_MAX_ENTRIES]]
        more = r",\ \ldots" if len(items) > _MAX_ENTRIES else ""
        return r",\ ".join(shown) + more + r"\ \text{(other entries 0)}"
    if isinstance(v, list) and v and all(isinstance(r, list) for r in v):
        if len(v) == 1 and len(v[0]) == 1:
            return _number(v[0][0])
        rows = v[:_MAX_ENTRIES]
        body = r" \\ ".join(" & ".join(_number(x) for x in r[:_MAX_ENTRIES])
                            + (r" & \cdots" if len(r) > _MAX_ENTRIES else "") for r in rows)
        if len(v) > _MAX_ENTRIES:
            body += r" \\ \vdots"
        return r"\begin{pmatrix} " + body + r" \end{pmatrix}"
    return _number(v)


def _assign(name: str, v: Any) -> str:
    return _value(v, name) if isinstance(v, dict) and v else f"{name} = {_value(v)}"


def counterexample_math(cx: dict[str, Any]) -> dict[str, Any]:
    """The parts of a counterexample as LaTeX math: ``sizes`` (one formula or ""), ``values``
    (one formula per operand), ``sides`` (left and right side); ``note`` stays text."""
    sizes = r",\ ".join(f"{_name(k)} = {_number(v)}" for k, v in (cx.get("sizes") or {}).items())
    values = [_assign(_name(k), v) for k, v in (cx.get("values") or {}).items()]
    sides = [_assign(r"\text{left side}", cx.get("lhs")), _assign(r"\text{right side}", cx.get("rhs"))]
    return {"sizes": sizes, "values": values, "sides": sides, "note": cx.get("note", "")}


# ---------------------------------------------------------------------------------------------
# Plain-text mathematics in prose (titles, remarks, reasons): "x ∈ R^n", "dL/dw", "g_i", "(Δx)^T"
# ---------------------------------------------------------------------------------------------
_PROSE_MATH = re.compile(
    r"(?P<space>(?:\b(?P<elem>[A-Za-z]) ∈ )?\bR\^(?P<dim>\{[A-Za-z0-9 ×]+\}|[A-Za-z0-9]+(?: ?× ?[A-Za-z0-9]+)?))"
    r"|(?P<grad>\bd(?P<num>[A-Za-zθℓ])/d(?P<den>[A-Za-zθ]+\*?)(?P<gT>\^T)?)(?![A-Za-z0-9])"
    r"|(?P<sub>\b(?P<base>[A-Za-z])_(?P<idx>[A-Za-z0-9]+)\b)"
)


def _prose_math_latex(m: re.Match[str]) -> str:
    if m.group("space"):
        dim = m.group("dim").strip("{}").replace("×", r"\times")
        dim = r"\infty" if dim == "oo" else dim  # SymPy's spelling of infinity in shapes
        elem = m.group("elem") + r" \in " if m.group("elem") else ""
        return elem + r"\mathbb{R}^{" + dim + "}"
    if m.group("grad"):
        den = m.group("den")
        den = den[:-1] + "^{*}" if den.endswith("*") else den
        frac = r"\frac{d" + _greek(m.group("num")) + "}{d" + "".join(_greek(c) for c in den) + "}"
        return (r"\left(" + frac + r"\right)^{T}") if m.group("gT") else frac
    return m.group("base") + "_{" + m.group("idx") + "}"


def _greek(ch: str) -> str:
    g = greek_latex(ch) if len(ch) == 1 and ch in UNICODE_GREEK else None
    return g + " " if g else ch


_COMBINING_MARKS = frozenset("\u0302\u0304\u0303\u030c\u0306")


def prose_math(text: str, outside: Callable[[str], str], inside: Callable[[str], str]) -> str:
    """Text with recognised plain-text formulas (``R^n``, ``dL/dy``, ``g_i``) set as math:
    ``outside`` escapes the text between them, ``inside`` wraps the LaTeX of each formula."""
    out, last = [], 0
    for m in _PROSE_MATH.finditer(text):
        if text[m.end(): m.end() + 1] in _COMBINING_MARKS:
            continue  # dL/dŷ: the formula's last letter carries an accent; left as text, escaped whole
        out.append(outside(text[last: m.start()]))
        out.append(inside(_prose_math_latex(m)))
        last = m.end()
    out.append(outside(text[last:]))
    return "".join(out)


# ---------------------------------------------------------------------------------------------
# Width of a formula, roughly in em at the body size, to decide where a displayed line must break
# ---------------------------------------------------------------------------------------------
_CMD_WIDTH = {
    "left": 0.0, "right": 0.0, "bigl": 0.0, "bigr": 0.0, ",": 0.17, ";": 0.28, "quad": 1.0, "qquad": 2.0,
    "operatorname": 0.0, "mathrm": 0.0, "mathbb": 0.0, "mathbf": 0.0, "text": 0.0, "mathit": 0.0,
    "cdot": 0.8, "odot": 1.3, "otimes": 1.3, "circ": 1.0, "star": 1.0, "ast": 1.0, "times": 1.3,
    "langle": 0.45, "rangle": 0.45, "Delta": 0.85, "sum": 1.3, "Rightarrow": 1.6, "tau": 0.5,
    "lfloor": 0.45, "rfloor": 0.45, "mapsto": 1.5, "in": 1.0, "leq": 1.2, "geq": 1.2, "neq": 1.2,
}


def width_em(tex: str) -> float:
    """A rough width of displayed math ``tex`` in em: letters ≈ 0.55, relations and operators with
    their spacing ≈ 1.3, scripts at 70 %, a fraction as wide as its wider part. Used only to choose
    line breaks; the test that compiles every report checks the result."""
    total, i, n = 0.0, 0, len(tex)
    scale = [1.0]
    while i < n:
        c = tex[i]
        if c == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", tex[i:])
            word = m.group(1) if m else ""
            i += len(word) + 1
            if word in ("frac", "tfrac", "dfrac"):
                a, i = _group(tex, i)
                b, i = _group(tex, i)
                total += max(width_em(a), width_em(b)) * scale[-1] * (0.75 if word == "tfrac" else 1.0) + 0.2
            else:
                total += _CMD_WIDTH.get(word, 0.6) * scale[-1]
            continue
        if c in "^_":
            i += 1
            if i < n and tex[i] == "{":
                g, i = _group(tex, i)
                total += width_em(g) * 0.7 * scale[-1]
            else:
                total += 0.4 * scale[-1]
                i += 1
            continue
        if c in "{}&":
            i += 1
            continue
        if c in "=+-<>":
            total += 1.4 * scale[-1]
        elif c == " ":
            pass
        elif c in ",;":
            total += 0.45 * scale[-1]
        elif c in "()[]|":
            total += 0.4 * scale[-1]
        else:
            total += 0.55 * scale[-1]
        i += 1
    return total


def _group(tex: str, i: int) -> tuple[str, int]:
    """The brace group starting at ``tex[i]`` (or the single token there) and the index after it."""
    while i < len(tex) and tex[i] == " ":
        i += 1
    if i >= len(tex):
        return "", i
    if tex[i] != "{":
        return tex[i], i + 1
    depth, j = 0, i
    while j < len(tex):
        if tex[j] == "\\":
            j += 2
            continue
        if tex[j] == "{":
            depth += 1
        elif tex[j] == "}":
            depth -= 1
            if depth == 0:
                return tex[i + 1: j], j + 1
        j += 1
    return tex[i + 1:], len(tex)


def split_top_level(tex: str, sep: str = ", ") -> list[str]:
    """Split LaTeX at ``sep`` where no brace, parenthesis or ``\\left``/``\\right`` pair is open."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(tex):
        if tex.startswith(r"\left", i) and not tex[i + 5: i + 6].isalpha():
            depth += 1
            i += 5
            continue
        if tex.startswith(r"\right", i) and not tex[i + 6: i + 7].isalpha():
            depth -= 1
            i += 6
            continue
        c = tex[i]
        if c == "\\":
            i += 2
            continue
        if c in "{(":
            depth += 1
        elif c in "})":
            depth -= 1
        elif depth == 0 and tex.startswith(sep, i):
            parts.append(tex[start:i])
            i += len(sep)
            start = i
            continue
        i += 1
    parts.append(tex[start:])
    return parts

"""Rendering of checked derivations through jinja2 templates (``symderiv/templates``).

``render(derivations, fmt)`` with ``fmt`` in ``md`` (GitHub / MyST / Jupyter Markdown with
``$...$`` math), ``tex`` (a standalone LaTeX document for ``pdflatex``), ``html`` (a self-contained
page with MathML, see :mod:`symderiv.report.html`) or ``json``.
The context of every template is the JSON form of the derivations, so all three formats show
the same facts. Mathematics comes from the LaTeX printer (symbol names are restricted to safe
characters); every piece of free text is escaped for the target format. Output is
deterministic: no dates, no timings, fixed ordering.
"""
from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from symderiv.derive.derivation import Derivation
from symderiv.derive.rules import RULES, get_rule
from symderiv.errors import SymderivError
from symderiv.lang.greek import GREEK_NAMES, UNICODE_GREEK, greek_latex
from symderiv.lang.printing import LatexPrinter, latex
from symderiv.lang.status import Status
from symderiv.report.layout import counterexample_math, math_text, prose_math, split_top_level, width_em
from symderiv.report.marks import MATH_MARKS, TEX_MARK_MACROS, TEX_MARKS
from symderiv.report.marks import TEXT_MARKS as MARKS

if TYPE_CHECKING:
    import jinja2

FORMATS = ("md", "tex", "html", "json")

METHOD_LEGEND = {
    "canonical-form": "both sides expanded into monomials, each monomial compiled to its index graph, "
    "and the isomorphism classes compared exactly (Theorem 1: equal classes ⇔ equal for all sizes)",
    "explicit-polynomial": "both sides evaluated with one symbolic variable per entry at the size bound B and "
    "compared as exact polynomials (Theorem 1: equality at N ≥ B ⇔ equality for all sizes)",
    "integer-screen": "both sides evaluated with random 64-bit integer entries at N = B; a screen for refutation, "
    "never a proof by itself",
    "first-order": "only the parts of order ≤ 1 in the perturbations Δ are compared; the dropped terms are listed",
    "exact-integer-evaluation": "a concrete evaluation with integer entries where the two sides differ",
    "explicit-jacobian": "the loss expanded with symbolic entries at the size bound and differentiated entry by entry "
    "(Lemma D with Theorem 1: holds for all sizes)",
    "shape-check": "the shapes of the two sides, with symbolic dimensions taken as independent",
    "sign-classes": "correlation/convolution: both sides mapped to z-transforms, monomials grouped by sign profile "
    "and shift up to z ↦ 1/z, and the class sums compared (Theorem 2: equal classes ⇔ equal for all supports); "
    "finite modes first have each restriction removed by a support containment proved on the whole domain of lengths",
    "directional-derivative": "the first-order part of L(θ + Δθ) − L(θ), computed from the forward definition "
    "alone, compared with ⟨G, Δθ⟩ by the procedure for its fragment (sign classes for sequences; index-graph "
    "canonical forms, with entrywise functions abstracted to atoms, for matrices)",
    "index-notation": "sums over indices translated into z-transform classes: a sum Σ_t Π_f V_f[a_f·t + b_f] "
    "with a unimodular index map is the constant term over the hyperplane n·i = n·b, n the signed maximal minors",
    "multiaxis-classes": "images with channels: both sides expanded into index monomials, each restriction removed "
    "by the support of the tensor it pairs with, and the tagged channel graphs with per-axis exponents and shifts "
    "compared up to a sign per axis (Theorem G: members of a class are equal for every size and channel count); a "
    "difference is refuted only by an exact integer counterexample",
    "typo-detection": "a line that disagrees with both neighbours while they agree with each other",
    "domain-check": "the right side must be defined for every length the left side allows",
    "budget": "the check ran out of its budget: undecided",
    "atom-abstraction": "every entrywise function f(M) (and every inverse of a sum, determinant and "
    "log-determinant) replaced by a symbol labelled by the value of its argument "
    "(equal labels only for arguments equal at every size), then canonical forms (Theorem B1: an identity of the "
    "abstracted claim is an identity of the original); an inverse X⁻¹ of a symbol is an edge of its own that "
    "cancels against X (free cancellation, Lemma E0); a difference is never taken as a proof of inequality",
    "domain-witness": "a point where the left side is defined and the right side is certainly undefined (an exact "
    "singular matrix under an inverse, a determinant ≤ 0 under a log-determinant): the claim is false there",
    "certified-interval": "both sides evaluated at exact rational points with interval arithmetic at 200 bits; "
    "disjoint enclosures of one entry prove that the sides differ there (a certified counterexample)",
    "hypotheses": "the stated hypotheses applied by an onto substitution (Theorem D1: e.g. y := y + ((1 − 𝟏ᵀy)/n)𝟏 "
    "ranges exactly over the vectors with 𝟏ᵀy = 1), so the claim is proved for every value that satisfies them",
    "jet": "f(M₀ + M₁) ≐ f(M₀) + f′(M₀) ⊙ M₁ for each entrywise function, with f′ from the derivative table",
}

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|$#<>&])")
# brackets as entities: "\\[" would open display math under MathJax (Jupyter, MyST)
_MD_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;", "[": "&#91;", "]": "&#93;"}


def md_escape(text: str) -> str:
    """Escape free text for Markdown: no emphasis, links, tables, HTML or math can be injected.

    Parentheses are left alone on purpose: ``\\(`` would open inline math in MyST and Jupyter.
    """
    return _MD_SPECIAL.sub(lambda m: _MD_ENTITIES.get(m.group(1), "\\" + m.group(1)), text)


_TEX_CHARS = {
    "\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "$": r"\$", "&": r"\&", "#": r"\#",
    "^": r"\^{}", "_": r"\_", "%": r"\%", "~": r"\textasciitilde{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",
    "⟨": r"$\langle$", "⟩": r"$\rangle$", "Δ": r"$\Delta$", "≥": r"$\geq$", "≤": r"$\leq$",
    "·": r"$\cdot$", "−": "-", "×": r"$\times$", "½": r"$\frac{1}{2}$", "‖": r"$\|$", "²": r"$^2$",
    "∘": r"$\circ$", "⇒": r"$\Rightarrow$", "⇔": r"$\Leftrightarrow$", "✓": r"$\checkmark$",
    "✗": r"$\times$", "ᵀ": r"$^T$", "≠": r"$\neq$", "→": r"$\to$", "∈": r"$\in$", "—": "---",
    "–": "--", "“": "``", "”": "''", "’": "'", "…": r"\dots{}", "≈": r"$\approx$", "Σ": r"$\Sigma$",
    "ℤ": r"$\mathbb{Z}$", "ℝ": r"$\mathbb{R}$", "ℕ": r"$\mathbb{N}$", "⊙": r"$\odot$", "⊗": r"$\otimes$",
    "⋆": r"$\star$", "∗": r"$\ast$", "⌊": r"$\lfloor$", "⌋": r"$\rfloor$", "⌈": r"$\lceil$", "⌉": r"$\rceil$",
    "↦": r"$\mapsto$", "∞": r"$\infty$", "•": r"\textbullet{}", "∑": r"$\sum$", "∂": r"$\partial$",
    "≔": r"$:=$", "∉": r"$\notin$", "⊆": r"$\subseteq$", "∀": r"$\forall$", "∃": r"$\exists$", "±": r"$\pm$",
    "√": r"$\surd$", "≡": r"$\equiv$", "∼": r"$\sim$", "←": r"$\leftarrow$", "↔": r"$\leftrightarrow$",
    "⇐": r"$\Leftarrow$", "⊤": r"$\top$", "⋅": r"$\cdot$", "∣": r"$\mid$", "′": r"$'$", "‘": "`",
    "⁻": r"$^{-}$", "¹": r"$^{1}$", "³": r"$^{3}$", "ⁿ": r"$^{n}$", "₀": r"$_{0}$", "₁": r"$_{1}$",
    "₂": r"$_{2}$", "ᵢ": r"$_{i}$", "ⱼ": r"$_{j}$", "ℓ": r"$\ell$",
    "ℚ": r"$\mathbb{Q}$", "𝟏": r"$\mathbf{1}$", "≐": r"$\doteq$", "∅": r"$\emptyset$", "⊘": r"$\oslash$",
    "₃": r"$_{3}$", "⁰": r"$^{0}$", "⊂": r"$\subset$", "∩": r"$\cap$", "∪": r"$\cup$",
    "\u00a0": "~", "§": r"\S{}", "°": r"$^{\circ}$", "¬": r"$\neg$", "∧": r"$\wedge$", "∨": r"$\vee$",
}
# Greek letters in prose and titles (ℓ, θ, φ ...), from the one Greek table, as math.
_TEX_CHARS.update({ch: "$" + tex + "$" for ch in UNICODE_GREEK if (tex := greek_latex(ch)) and ch not in _TEX_CHARS})


def tex_escape(text: str) -> str:
    """Escape free text for LaTeX; characters without a known LaTeX form are spelled out."""
    out: list[str] = []
    for ch, script in _SCRIPT_RUN.findall(text):
        if script:  # a run of superscripts (X⁻¹ᵀ) or subscripts is one script: two would be a double superscript
            sup = script[0] in _SUPERSCRIPTS
            table = _SUPERSCRIPTS if sup else _SUBSCRIPTS
            out.append("$" + ("^" if sup else "_") + "{" + "".join(table[c] for c in script) + "}$")
        elif ch in _COMBINING and out and len(out[-1]) == 1 and out[-1].isalpha():
            out[-1] = _COMBINING[ch] + "{" + out[-1] + "}"  # ŷ (y + U+0302) -> \^{y}, x̄ -> \={x}
        elif ch in _SCRIPT_CAPITALS:
            out.append(f"$\\mathcal{{{_SCRIPT_CAPITALS[ch]}}}$")
        else:
            out.append(_tex_char(ch))
    # adjacent formulas are one formula: $\Delta$$\theta$ -> $\Delta \theta$ (an escaped \$ is not a delimiter)
    return _ADJACENT_MATH.sub(" ", "".join(out))


_SUPERSCRIPTS = {"⁻": "-", "¹": "1", "²": "2", "³": "3", "ⁿ": "n", "ᵀ": "T", "⁰": "0"}
_SUBSCRIPTS = {"₀": "0", "₁": "1", "₂": "2", "₃": "3", "ᵢ": "i", "ⱼ": "j"}
_SCRIPT_RUN = re.compile("([^" + "".join(_SUPERSCRIPTS) + "".join(_SUBSCRIPTS) + "])|([" + "".join(_SUPERSCRIPTS)
                         + "]+|[" + "".join(_SUBSCRIPTS) + "]+)")


def _tex_char(ch: str) -> str:
    if ch in _TEX_CHARS:
        return _TEX_CHARS[ch]
    if 32 <= ord(ch) < 127:
        return ch
    if ord(ch) < 160:  # control characters and newlines: TeX would read them as invalid input or \par
        return " "
    if ch in _LATIN:  # accented Latin letters: pdflatex reads them as UTF-8 with the T1 fonts
        return ch
    return rf"\texttt{{U+{ord(ch):04X}}}"


_LATIN = frozenset(chr(c) for c in range(0xC0, 0x180) if c not in (0xD7, 0xF7))
# the accents of decorated names (\hat{y} prints as y + U+0302) and the script capitals of \mathcal
_COMBINING = {"\u0302": "\\^", "\u0304": "\\=", "\u0303": "\\~", "\u030c": "\\v", "\u0306": "\\u"}
_SCRIPT_CAPITALS = {c: chr(ord("A") + k) for k, c in enumerate("𝒜ℬ𝒞𝒟ℰℱ𝒢ℋℐ𝒥𝒦ℒℳ𝒩𝒪𝒫𝒬ℛ𝒮𝒯𝒰𝒱𝒲𝒳𝒴𝒵")}
_ADJACENT_MATH = re.compile(r"(?<!\\)\$\$")


def tex_path(path: str) -> str:
    r"""A file path for LaTeX that may break after each ``/``, ``-``, ``_`` or ``.``: a checkout's absolute
    paths are longer than a column (CI's own checkout overflowed the course summary table). The break is
    ``\SDbr``, a glue that stretches, because a typewriter line with breaks and no stretch cannot be
    justified (the contents' lines overflowed with a bare ``\allowbreak``)."""
    return "".join(tex_escape(ch) + (r"\SDbr{}" if ch in "/-_." else "") for ch in path)


def tex_text(text: str) -> str:
    """Free text for LaTeX with its plain-text formulas (``x ∈ R^n``, ``dL/dw``, ``g_i``) set as math."""
    return _ADJACENT_MATH.sub(" ", prose_math(text, tex_escape, lambda m: "$" + m + "$"))


def md_text(text: str) -> str:
    """Free text for Markdown with its plain-text formulas set as ``$...$`` math."""
    return prose_math(text, md_escape, lambda m: "$" + m + "$")


def _align_at_eq(tex: str) -> str:
    """One formula of a list as a row of an aligned block: aligned at its first top-level ``=``."""
    parts = split_top_level(tex, " = ")
    return tex if len(parts) == 1 else parts[0] + " &= " + " = ".join(parts[1:])


@functools.cache
def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """jinja2's cache of compiled templates in its private directory of the temp dir (created 0700,
    refused unless owned by this user; entries keyed by a checksum of the template's source, so a
    changed template is never served stale). Compiling a report's templates costs about 15 ms of
    every ``report`` command; the cache saves it from the second run on. Output never depends on it:
    SYMDERIV_NO_CACHE=1, an unusable temp dir or a failed write only mean compiling again."""
    import jinja2

    if os.environ.get("SYMDERIV_NO_CACHE"):
        return None

    class _Quiet(jinja2.FileSystemBytecodeCache):
        def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
            try:
                super().dump_bytecode(bucket)
            except OSError:
                pass

    try:
        return _Quiet()
    except (OSError, RuntimeError):
        return None


@functools.cache
def _env(fmt: str) -> jinja2.Environment:
    """The jinja2 environment of a format, built once per process (its filters are pure functions,
    so rendering many reports reuses one environment and its compiled templates). jinja2 is
    imported here, not at the top: JSON output and the plain-text commands never load it."""
    import jinja2

    common: dict[str, Any] = dict(
        loader=jinja2.PackageLoader("symderiv.report", "templates"), trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=True, undefined=jinja2.StrictUndefined, bytecode_cache=_bytecode_cache(),
    )
    if fmt == "tex":
        env = jinja2.Environment(
            block_start_string="<%", block_end_string="%>", variable_start_string="<<", variable_end_string=">>",
            comment_start_string="<#", comment_end_string="#>", autoescape=False, **common,
        )
        env.filters.update(esc=tex_escape, tpath=tex_path, ptext=tex_text, fit=fit_tex, fit_row=_fit_row,
                           prose=_tex_prose)
        env.globals.update(marks=TEX_MARKS, mark_macros=TEX_MARK_MACROS)
    elif fmt == "html":
        from symderiv.report.html import html_filters

        env = jinja2.Environment(autoescape=True, **common)
        env.filters.update(html_filters())
        env.filters["prose"] = _html_prose
    else:
        env = jinja2.Environment(autoescape=False, **common)
        env.filters.update(esc=md_escape, ptext=md_text, mtext=math_text, prose=_md_prose)
        env.globals.update(marks=MARKS, mmarks=MATH_MARKS)
    env.filters["align_at_eq"] = _align_at_eq
    env.globals.update(rules=RULES, legend=METHOD_LEGEND)
    return env


def to_json(derivations: Iterable[Derivation]) -> str:
    return json.dumps({"derivations": [d.to_dict() for d in derivations]}, indent=2, ensure_ascii=False) + "\n"


#: Displayed math wider than this (em at 10 pt, estimated by :func:`width_em`) is broken before a
#: top-level + or −; the text block is 48 em and the justification column takes about 14.
CHAIN_WIDTH_EM = 32.0


def chain_rows(d: Derivation) -> list[dict[str, Any]]:
    """The derivation as one aligned chain: per step the left side (empty when the line continues
    the previous one), the relation, the right side in one or more pieces (a long sum is broken
    before its top-level signs), the rule and the status."""
    st = {"notation": d.notation}
    printer = LatexPrinter(**st)
    rows = []
    for i, s in enumerate(d.steps, 1):
        rule = get_rule(s.rule)
        title = rule.title if rule else (s.rule or "")
        if s.text_override is not None:
            lhs, rhs_expr, pieces = "", None, [math_text(s.text_override)]
        else:
            lhs = latex(s.lhs, **st) if s.lhs is not None else ""
            if s.kind == "readoff":
                lhs = r"\Rightarrow " + lhs
            rhs_expr = s.rhs
            pieces = [latex(s.rhs, **st)]
        if rhs_expr is not None and width_em(lhs + pieces[0]) > CHAIN_WIDTH_EM:
            terms = printer.sum_terms(rhs_expr)
            if len(terms) > 1:
                pieces = _pack(terms, CHAIN_WIDTH_EM - width_em(lhs))
        room = 0.85 * (CHAIN_WIDTH_EM - width_em(lhs))  # width_em estimates; keep a margin
        rows.append({"n": i, "lhs": lhs, "rel": "=" if s.text_override is None else "", "pieces": pieces,
                     "pieces_tex": [fit_tex(p, room if k == 0 else 0.85 * CHAIN_WIDTH_EM)
                                    for k, p in enumerate(pieces)],
                     "rule": title, "note": s.note, "status": s.status, "line": s.line})
    return rows


def _fit_row(tex: str, width: float = 40.0) -> str:
    """A row of an align* environment: aligned at its "=", or scaled to ``width`` em when too wide
    (a scaled row cannot carry the alignment mark)."""
    if width_em(tex) <= width:
        return _align_at_eq(tex)
    return "& " + fit_tex(tex, width)


def fit_tex(tex: str, width: float, inline: bool = False) -> str:
    """Math that may be wider than ``width`` em (one long product no break can shorten) goes through
    the preamble's \\SDfit, which measures it and scales it down to that width only when it is wider,
    so it never runs off the page. Math whose estimate is well below the width is returned as it is."""
    if width_em(tex) <= width / 2:
        return tex
    style = r"\textstyle" if inline else r"\displaystyle"
    return rf"\mbox{{\SDfit{{{style}}}{{{width:.0f}em}}{{{tex}}}}}"


def _pack(terms: list[str], width: float) -> list[str]:
    """Terms of a sum packed greedily into pieces no wider than ``width`` (a term is never split)."""
    pieces: list[str] = []
    for t in terms:
        if pieces and width_em(pieces[-1] + " " + t) <= width:
            pieces[-1] += " " + t
        else:
            pieces.append(t)
    return pieces


_CLASS_COUNT = re.compile(r"\((\d+ class(?:es)? of monomials); (Theorem \d)\)")
_DROPPED_TEXT = re.compile(r"; dropped terms of order ≥ 2: .*$")


def _method_suffixes(text: str) -> list[str]:
    out = [text]
    for m in re.finditer(r": ", text):
        out.append(text[m.end():])
    return out


def _checks(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """How the steps were checked, said once: the method text most steps share (``common``, with
    the steps that use it) and, per step, only what is distinctive (a definition it was compared
    with, the number of monomial classes, a reason, dropped terms, a counterexample)."""
    norm = []
    for s in steps:
        m = s["method"]
        if s["dropped_terms"]:
            m = _DROPPED_TEXT.sub("", m)
        counts = _CLASS_COUNT.findall(m)
        norm.append((_CLASS_COUNT.sub(r"(\2)", m), [c[0] for c in counts]))
    freq: dict[str, int] = {}
    for text, _ in norm:
        for suffix in set(_method_suffixes(text)):
            freq[suffix] = freq.get(suffix, 0) + 1
    common = max(freq, key=lambda k: (freq[k], len(k), k)) if freq else ""
    if freq.get(common, 0) < 2:
        common = ""
    rows, users = [], []
    for i, (s, (text, counts)) in enumerate(zip(steps, norm), 1):
        if common and text.endswith(common):
            users.append(i)
            own = text[: len(text) - len(common)].rstrip(": ").strip()
            extra = "; ".join(counts)
            own = "; ".join(p for p in (own, extra) if p)
        else:
            own = s["method"] if not s["dropped_terms"] else _DROPPED_TEXT.sub("", s["method"])
        cx = counterexample_math(s["counterexample"]) if s["counterexample"] else None
        own = own[:1].upper() + own[1:]
        rows.append({"n": i, "status": s["status"], "own": own, "reason": s["reason"],
                     "justification": s["justification"], "dropped_terms": s["dropped_terms"],
                     "counterexample": cx, "common": bool(common and text.endswith(common))})
    return {"common": common, "users": _ranges(users), "rows": rows}


def _ranges(ns: list[int]) -> str:
    """1, 2, 3, 5 -> "1–3, 5"."""
    out: list[str] = []
    for n in ns:
        if out and isinstance(out[-1], list) and out[-1][1] == n - 1:
            out[-1][1] = n
        else:
            out.append([n, n])  # type: ignore[arg-type]
    return ", ".join(str(a) if a == b else f"{a}–{b}" for a, b in out)  # type: ignore[misc]


def _catalog_context(d: Derivation) -> dict[str, Any]:
    data = d.to_dict()
    data["chain"] = chain_rows(d)
    data["checks"] = _checks(data["steps"])
    data["failures"] = [r for r in data["chain"] if r["status"] != "verified"]
    jcx = data["jacobian_counterexample"]
    data["jacobian_cx"] = counterexample_math(jcx) if jcx else None
    # the terms a first-order check drops are listed per step; in the cross-check's text they are noise
    data["jacobian_method"] = _DROPPED_TEXT.sub("", data["jacobian_method"])
    data["remarks"] = [{**r, "math": [p for m in r["math"] for p in split_top_level(m)]} for r in data["remarks"]]
    return data


def render(derivations: Iterable[Derivation], fmt: str, title: str | None = None) -> str:
    """Render checked derivations as ``md``, ``tex`` or ``json``."""
    derivations = list(derivations)
    if fmt == "json":
        return to_json(derivations)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    data = [_catalog_context(d) for d in derivations]
    used = sorted({m for d in data for s in d["steps"] for m in s["methods"]}
                  | {m for d in data for m in d.get("jacobian_methods") or ["explicit-jacobian"]})
    used = [m for m in used if m in METHOD_LEGEND]
    doc_title = title or (data[0]["title"] if len(data) == 1 else "symderiv report")
    template = _env(fmt).get_template(f"report.{fmt}.j2")
    return template.render(title=doc_title, derivations=data, methods_used=used)


# ---------------------------------------------------------------------------------------
# Documents: the author's prose, each math line annotated with its verdicts
# ---------------------------------------------------------------------------------------
# Author math reaches a report as LaTeX only through symderiv's own grammar: the line is parsed
# by reader.parse_math and re-emitted here from the parse tree, token by token, through the
# whitelists below. The output therefore contains only control words this module wrote, each
# followed by a space or a brace, and braces it balanced itself: no ^^ escape, no \input, no
# \catcode can survive, whatever the author typed. Math the grammar does not accept is text.
class _Unsafe(Exception):
    pass


_TOKEN_LATEX: dict[str, dict[str, str]] = {
    "REL": {"=": "=", ":=": ":=", "\\approx": "\\approx", "&=": "=", "=&": "=", "&:=": ":=", "\\equiv": "\\equiv"},
    "IMPLIES": {"\\Rightarrow": "\\Rightarrow", "\\implies": "\\implies", "\\Longrightarrow": "\\Longrightarrow",
                "\\therefore": "\\therefore"},
    "IN": {"\\in": "\\in"},
    "MINUS": {"-": "-", "\u2212": "-"},
    "SEQOP": {k: k for k in ("\\odot", "\\otimes", "\\star", "\\ast", "\\circ", "\\times")},
    "STAR": {"*": "*"},
    "TOP": {"\\top": "\\top", "\\intercal": "\\intercal", "\\mathsf{T}": "\\mathsf{T}", "\\mathrm{T}": "\\mathrm{T}"},
    "ACCENT": {f"\\{a}": f"\\{a}" for a in ("hat", "bar", "tilde", "widehat", "widetilde", "overline", "check",
                                          "breve", "mathcal")},
    "TRACE": {"\\tr": "\\operatorname{tr}", "\\Tr": "\\operatorname{Tr}", "\\trace": "\\operatorname{trace}"},
    "COLON": {":": ":"},
    "INFTY": {"\\infty": "\\infty", "\u221e": "\\infty"},
    "FRAC": {"\\frac": "\\frac", "\\dfrac": "\\dfrac", "\\tfrac": "\\tfrac"},
    "PARTIAL": {"\\partial": "\\partial"},
    "LANGLE": {"\\langle": "\\langle", "<": "\\langle"},
    "RANGLE": {"\\rangle": "\\rangle", ">": "\\rangle"},
    "ROMAN": {"\\mathrm": "\\mathrm", "\\operatorname": "\\operatorname", "\\text": "\\text", "\\textrm": "\\textrm"},
    "SUM": {"\\sum": "\\sum", "\\Sigma": "\\sum"},
    "FUNC": {f"\\{f}": f"\\{f}" for f in ("exp", "log", "ln", "tanh")} | {"\\softmax": "\\operatorname{softmax}"},
    "SQRT": {"\\sqrt": "\\sqrt"},
    "BOLD": {"\\mathbf": "\\mathbf", "\\boldsymbol": "\\boldsymbol", "\\mathbb": "\\mathbb", "\\bm": "\\boldsymbol"},
    "PRIME": {"'": "'"},
    "PRIMECMD": {"\\prime": "\\prime"},
    "SPACE": {"\\mathbf{R}": "\\mathbf{R}", "\\mathbb{R}": "\\mathbb{R}", "\\mathcal{R}": "\\mathcal{R}",
              "\u211d": "\\mathbb{R}"},
}
_GREEK = frozenset(GREEK_NAMES)
_WORD = re.compile(r"[A-Za-z]+")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")  # ASCII digits only: \d would let other scripts' digits through


def _token_latex(tok) -> str:
    kind, value = tok.type, str(tok)
    if kind == "WORD" and _WORD.fullmatch(value):
        return value
    if kind == "NUMBER" and _NUMBER.fullmatch(value):
        return value
    if kind == "ARG_CHAR" and re.fullmatch(r"[A-Za-z0-9]", value):  # an unbraced super/subscript: one character
        return value
    if kind == "GREEK" and value[:1] == "\\" and value[1:] in _GREEK:
        return value
    table = _TOKEN_LATEX.get(kind)
    if table is not None and value in table:
        return table[value]
    raise _Unsafe(f"token {kind} {value!r}")


def _scripted(rule: str) -> Callable[[list[str], list[Any]], str]:
    """x^{a}, x_{a}, x^{*}: a scripted base goes in braces (x^{T}^{T} would be a double superscript)."""
    script = {"power": "^{%s}", "subscript": "_{%s}", "star": "^{*}"}[rule]

    def emit(k: list[str], kids: list[Any]) -> str:
        base = f"{{{k[0]}}}" if getattr(kids[0], "data", None) in ("power", "subscript", "star") else k[0]
        return base + (script % k[1] if "%s" in script else script)
    return emit


def _only(k: list[str], kids: list[Any]) -> str:
    return k[0]


def _command_arg(k: list[str], kids: list[Any]) -> str:
    return f"{k[0]}{{{k[1]}}}"


#: The re-emitter: (rule or alias of grammar/math.lark, number of parts) -> its LaTeX from the parts'
#: (None: any number of parts). One entry per grammar rule; a tree with anything else is refused.
_REEMIT: dict[tuple[str, int | None], Callable[[list[str], list[Any]], str]] = {
    ("line", None): lambda k, kids: " ".join(k),
    ("juxt", None): lambda k, kids: " ".join(k),
    **{(rule, 1): _only for rule in ("lead", "rel", "number", "word", "greek", "infty", "space", "partial", "func",
                                     "sup", "sub", "accent_arg", "char_arg", "tracecmd")},
    ("accent", 2): _command_arg,
    ("nabla", 2): lambda k, kids: f"\\nabla_{{{k[0]}}} {k[1]}",
    ("nabla", 1): lambda k, kids: f"\\nabla {k[0]}",
    ("colon", 3): lambda k, kids: f"{k[0]} : {k[2]}",
    ("add", 2): lambda k, kids: f"{k[0]} + {k[1]}",
    ("sub", 3): lambda k, kids: f"{k[0]} - {k[2]}",  # the binary rule named "sub" by its alias: a MINUS b
    ("neg", 2): lambda k, kids: f"- {k[1]}",
    ("dot", 2): lambda k, kids: f"{k[0]} \\cdot {k[1]}",
    ("div", 2): lambda k, kids: f"{k[0]} / {k[1]}",
    ("seqop", 3): lambda k, kids: f"{k[0]} {k[1]} {k[2]}",
    **{(rule, 2): _scripted(rule) for rule in ("power", "subscript", "star")},
    # Δ(x + y) and Δ{Wx} are both read as the Δ of the whole group: typeset with parentheses (\Delta {x + y}
    # typesets as Δx + y)
    ("delta", 1): lambda k, kids: f"\\Delta ({k[0][1:-1]})" if getattr(kids[0], "data", None) == "group"
    else f"\\Delta {k[0]}",
    ("frac", 3): lambda k, kids: f"{k[0]}{{{k[1]}}}{{{k[2]}}}",
    ("paren", None): lambda k, kids: "(" + ", ".join(k) + ")",
    ("group", 1): lambda k, kids: f"{{{k[0]}}}",
    ("inner", 4): lambda k, kids: f"\\langle {k[1]}, {k[2]} \\rangle",
    ("norm", 1): lambda k, kids: f"\\| {k[0]} \\|",
    ("norm", 3): lambda k, kids: f"\\| {k[1]} \\|",
    ("roman", 2): _command_arg,
    ("sumop", 2): lambda k, kids: f"{k[0]}_{{{k[1]}}}",
    ("sqrt", 2): _command_arg,
    ("bold", 2): _command_arg,
    ("prime", 2): lambda k, kids: f"{{{k[0]}}}'",
}


def _tree_latex(t: Any) -> str:
    """LaTeX for a parse tree of grammar/math.lark, written from the tree alone (one :data:`_REEMIT`
    entry per rule)."""
    from lark import Token

    if isinstance(t, Token):
        return _token_latex(t)
    kids = t.children
    k = [_tree_latex(c) for c in kids]
    rule = str(t.data)
    emit = _REEMIT.get((rule, len(k))) or _REEMIT.get((rule, None))
    if emit is None or (rule == "paren" and not k):
        raise _Unsafe(f"rule {rule} with {len(k)} parts")
    return emit(k, kids)


def math_latex(text: str) -> str | None:
    """The author's math re-emitted from symderiv's parse tree, or None when the grammar does not
    accept it (then it is shown as text, never passed to LaTeX)."""
    from symderiv.documents.reader import MathLine, parse_math

    try:
        return _tree_latex(parse_math(MathLine(text, 1, 1), "<math>"))
    except (SymderivError, _Unsafe, RecursionError):
        return None
    except Exception:  # lark's own errors on odd input: still text, never raw TeX
        return None


_SAFE_TEX_COMMANDS = {
    "mathbf", "mathbb", "mathrm", "operatorname", "in", "times", "frac", "dfrac", "Delta", "langle", "rangle",
    "top", "infty", "partial", "odot", "otimes", "star", "ast", "circ", "cdot", "sum", "Sigma", "left", "right",
    "quad", "qquad", "ldots", "dots", "cdots", "Rightarrow", "approx", "le", "ge", "leq", "geq", "neq", "mid",
    "lVert", "rVert", "Vert", "big", "Big", "text", "sqrt", "exp", "log", "ln", "tanh", "prime", "boldsymbol",
    "hat", "bar", "tilde", "widehat", "widetilde", "overline", "mathcal", "nabla", "mathsf",
    *GREEK_NAMES,
}
_CMD = re.compile(r"\\([A-Za-z]+|.)")


def safe_math(text: str) -> str | None:
    """Markdown only: the author's math if it uses only harmless commands (no \\href, \\unicode, \\class
    ...) and nothing a Markdown renderer without math support would turn into a link or HTML.
    LaTeX output never uses this: there, math comes from :func:`math_latex` or is text."""
    for m in _CMD.finditer(text):
        cmd = m.group(1)
        if cmd.isalpha() and cmd not in _SAFE_TEX_COMMANDS:
            return None
    if re.search(r"[#%&~$\[\]<>`!:\"]", text):
        return None
    return text


def _prose(text: str, outside, inside) -> str:
    """Apply ``outside`` to prose text and ``inside`` to the content of each inline $math$, split
    exactly as the reader splits it."""
    from symderiv.documents.reader import inline_math_spans  # here: catalog reports and JSON need no reader

    out, last = [], 0
    for a, b in inline_math_spans(text):
        out.append(outside(text[last: a - 1]))
        out.append(inside(text[a:b]))
        last = b + 1
    out.append(outside(text[last:]))
    return "".join(out)


def _md_code(text: str) -> str:
    return "`" + text.replace("`", "'").replace("\n", " ") + "`"


def _md_math(math: str, delim: str = "$") -> str:
    """Author math for Markdown: re-emitted from the parse tree, else kept when harmless, else code."""
    latex = math_latex(math)
    if latex is None:
        latex = safe_math(math)
    if latex is None:
        return _md_code(math)
    return delim + latex + delim


def _md_display(math: str) -> str:
    return _md_math(math.strip(), "$$")


# A link or image is kept only when its target is plainly harmless: a web or mail address for a
# link, a relative path for both (an image from another host is a remote resource). Every other
# bracket becomes an entity, so no other link syntax (reference links, nested brackets, javascript:,
# data:, vbscript:) can form at all.
_MD_LINK = re.compile(r"(!?)\[([^\[\]\n]*)\]\(([^()\s]*)\)")
_SAFE_URL_CHARS = re.compile(r"[A-Za-z0-9._~/?#=%+-]*")
_WEB = re.compile(r"(?:https?://|mailto:)(?=[A-Za-z0-9])", re.IGNORECASE)


def _safe_target(url: str, image: bool) -> bool:
    m = _WEB.match(url)
    rest = url[m.end():] if m else url
    if not _SAFE_URL_CHARS.fullmatch(rest):
        return False
    if m:
        return not image
    return not url.startswith("//") and url != ""


def _md_outside(text: str) -> str:
    """Markdown prose kept as written, except that HTML cannot get through and only harmless links
    and images survive (others are shown as text)."""
    out, last = [], 0

    def plain(t: str) -> str:
        return _md_html(t).replace("[", "&#91;").replace("]", "&#93;")

    for m in _MD_LINK.finditer(text):
        out.append(plain(text[last: m.start()]))
        bang, label, url = m.groups()
        if _safe_target(url, image=bool(bang)):
            out.append(f"{bang}[{plain(label)}]({url})")
        else:
            out.append(plain(m.group(0)))
        last = m.end()
    out.append(plain(text[last:]))
    return "".join(out)


def _md_prose(text: str) -> str:
    return _prose(text, _md_outside, _md_math)


def _md_html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _html_prose(text: str) -> Any:
    """Author prose for HTML: text escaped, each inline ``$...$`` re-emitted from the parse tree as
    MathML (math the grammar does not accept is shown as code)."""
    import html as _html

    from markupsafe import Markup

    from symderiv.report.html import MathMLError, mathml

    def inside(math: str) -> str:
        latex = math_latex(math)
        if latex is not None:
            try:
                return str(mathml(latex))
            except MathMLError:
                pass
        return "<code>" + _html.escape(math) + "</code>"

    return Markup(_prose(text, lambda t: _html.escape(t, quote=False), inside))  # noqa: S704


def _tex_inline(math: str) -> str:
    latex = math_latex(math)
    if latex is None:
        return r"\texttt{" + tex_escape(math) + "}"
    return "$" + latex + "$"


def _tex_prose(text: str) -> str:
    return _prose(text, tex_escape, _tex_inline)


_WORST = {"failed": 3, "undecided": 2, "verified": 1}


def _line_parts(text: str) -> list[tuple[str, str]] | None:
    """The author's math line as rows of an aligned chain, re-emitted from symderiv's parse tree:
    ``[(left, relation and right side), ...]``, one row per relation (``a = b = c`` gives
    ``a &= b`` and ``&= c``); None when the grammar does not accept the line."""
    from symderiv.documents.reader import MathLine, parse_math

    try:
        tree = parse_math(MathLine(text, 1, 1), "<math>")
        kids = list(tree.children) if str(getattr(tree, "data", "")) == "line" else [tree]
        parts = [(str(getattr(k, "data", "")), _tree_latex(k)) for k in kids]
    except (SymderivError, _Unsafe, RecursionError):
        return None
    except Exception:  # lark's own errors on odd input: shown as text, never raw TeX
        return None
    rows: list[tuple[str, str]] = []
    left = ""
    i = 0
    if parts and parts[0][0] == "lead":
        lead = parts[0][1]
        i = 1
        if lead in ("=", ":=", r"\approx", r"\equiv"):
            rows.append(("", lead + " " + (parts[1][1] if len(parts) > 1 else "")))
            i = 2
        else:
            left = lead + " "
    if not rows:
        left += parts[i][1] if i < len(parts) else ""
        i += 1
        if i >= len(parts):
            return [("", left)]
    while i + 1 < len(parts) or (i < len(parts) and not rows):
        rel, right = parts[i][1], parts[i + 1][1] if i + 1 < len(parts) else ""
        rows.append((left, rel + " " + right))
        left = ""
        i += 2
    return rows


def _break_latex(tex: str, width: float) -> list[str]:
    """A right side too wide for the page broken before its top-level + and − into pieces of at
    most ``width`` em (a term is never split)."""
    if width_em(tex) <= width:
        return [tex]
    terms: list[str] = []
    for i, plus in enumerate(split_top_level(tex, " + ")):
        for j, minus in enumerate(split_top_level(plus, " - ")):
            terms.append(("+ " if i and not j else "- " if j else "") + minus)
    return _pack(terms, width) if len(terms) > 1 else [tex]


def _math_rows(ml, steps: list, fmt: str) -> list[dict[str, Any]]:
    """Rows of the chain for one math line, each with the mark of its step when the line has one
    step per relation, else the line's worst mark on its last row."""
    parts = _line_parts(ml.text.strip())
    if parts is None:
        shown = [s.latex() for s in steps if s.text_override is None]
        if shown:
            parts = [("", t) for t in shown]
        else:
            raw = ml.text.strip()
            text = (r"\text{\ttfamily " + tex_escape(raw) + "}") if fmt == "tex" else math_text(raw)
            parts = [("", text)]
    rows = []
    for left, right in parts:
        pieces = _break_latex(right, CHAIN_WIDTH_EM - width_em(left))
        rows.append({"left": left, "pieces": pieces, "status": None})
    ordered = sorted(steps, key=lambda s: s.col or 0)
    titles = [RULES[s.rule].title if s.rule in RULES else (s.rule or "") for s in ordered]
    for r in rows:
        r["rule"] = ""
    if ordered and len(ordered) == len(rows):
        for r, s, t in zip(rows, ordered, titles):
            r["status"], r["rule"] = s.status, t
    elif ordered:
        rows[-1]["status"] = max((s.status for s in ordered), key=lambda st: _WORST.get(st, 2))
        rows[-1]["rule"] = "; ".join(dict.fromkeys(t for t in titles if t))
    return rows


_DECLARATION = re.compile(r"\s*symderiv\s*:(.*)", re.DOTALL)


def _without_comments(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Prose lines without HTML comments (which may span lines); a one-line symderiv declaration
    comment is kept as its content, marked "Declared:" (it is part of what the document means).
    Lines that held only a comment are dropped."""
    out: list[tuple[int, str]] = []
    inside = False
    for number, line in lines:
        kept, i = [], 0
        while i < len(line):
            if inside:
                j = line.find("-->", i)
                if j < 0:
                    i = len(line)
                    break
                inside, i = False, j + 3
                continue
            j = line.find("<!--", i)
            if j < 0:
                kept.append(line[i:])
                break
            kept.append(line[i:j])
            k = line.find("-->", j + 4)
            if k < 0:
                inside, i = True, len(line)
                break
            d = _DECLARATION.fullmatch(line[j + 4: k])
            if d:
                kept.append("Declared: " + " ".join(d.group(1).split()))
            i = k + 3
        text = "".join(kept)
        if text.strip() or (not line.strip()):
            out.append((number, text.strip() if not text.strip() else text))
    return out


def _paragraphs(items: list[dict[str, Any]], issues_by_line: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Runs of prose lines as paragraphs (lists of lines, each rendered on its own), comments removed;
    math lines separated only by blank prose stay one chain."""
    out: list[dict[str, Any]] = []
    for it in items:
        if it["kind"] != "prose_raw":
            if it["kind"] == "chain" and out and out[-1]["kind"] == "chain":
                out[-1]["lines"].extend(it["lines"])
            else:
                out.append(it)
            continue
        para: list[tuple[int, str]] = []
        for number, line in _without_comments(it["lines"]) + [(0, "")]:
            if line.strip():
                para.append((number, line))
            elif para:
                numbers = {n for n, _ in para}
                issues = [dict(i, line=n) for n in sorted(numbers) for i in issues_by_line.get(n, [])]
                out.append({"kind": "prose", "lines": [t for _, t in para], "issues": issues,
                            "anchors": sorted({i["line"] for i in issues})})
                para = []
    return out


def _document_context(doc, fmt: str = "md") -> dict:
    by_line: dict[int, list] = {}
    for step, _owner in doc.all_steps():
        by_line.setdefault(step.line, []).append(step)
    items: list[dict[str, Any]] = []
    seen_lines = set()
    for b in doc.blocks:
        if b.kind == "heading":
            items.append({"kind": "heading", "level": b.level, "text": b.text})
        elif b.kind == "prose":
            if items and items[-1]["kind"] == "prose_raw":
                items[-1]["lines"].append((b.line, b.text))
            else:
                items.append({"kind": "prose_raw", "lines": [(b.line, b.text)]})
        else:
            for ml in b.math:
                if ml.line in seen_lines:
                    continue
                seen_lines.add(ml.line)
                steps = []
                for s in by_line.get(ml.line, []):
                    v = s.verdict
                    steps.append({
                        "status": s.status,
                        "rule": (RULES[s.rule].title if s.rule in RULES else (s.rule or "")),
                        "reason": v.reason if v else "",
                        "method": v.method if v else "",
                        "note": s.note,
                        "counterexample": counterexample_math(v.counterexample.to_dict())
                        if v and v.counterexample else None,
                    })
                line = {"line": ml.line, "rows": _math_rows(ml, by_line.get(ml.line, []), fmt), "steps": steps,
                        "note": ml.note, "issues": [s for s in steps if s["status"] != "verified"]}
                if items and items[-1]["kind"] == "chain":
                    items[-1]["lines"].append(line)
                else:
                    items.append({"kind": "chain", "lines": [line]})
    items = _paragraphs(items, {n: [_step_issue(s) for s in ss if s.status != "verified"]
                                for n, ss in by_line.items() if n not in seen_lines})
    counts = {str(k): 0 for k in Status}
    worst: dict[int, str] = {}
    for s, _ in doc.all_steps():
        counts[s.status] += 1
        if s.status != "verified" and s.line is not None:
            worst[s.line] = max(worst.get(s.line, s.status), s.status, key=lambda st: _WORST.get(st, 2))
    failures = [{"line": n, "status": st} for n, st in sorted(worst.items())]
    jac = [{"title": d.title, "status": d.jacobian.status if d.jacobian else "undecided",
            "gradient": d.to_dict()["gradient"],
            "counterexample": counterexample_math(d.jacobian.counterexample.to_dict())
            if d.jacobian is not None and d.jacobian.counterexample is not None else None}
           for d in doc.derivations]
    return {"path": doc.path, "status": doc.status, "items": items, "counts": counts, "jacobians": jac,
            "definitions": [_definition(d) for d in doc.definitions], "nothing": doc.nothing_reason,
            "failures": failures}


def _step_issue(s) -> dict[str, Any]:
    v = s.verdict
    return {"status": s.status, "reason": v.reason if v else "", "note": s.note,
            "counterexample": counterexample_math(v.counterexample.to_dict()) if v and v.counterexample else None}


_SEQ_SIGN = {"corr": ("correlation", "+"), "conv": ("convolution", "-")}


def _definition(d: dict[str, Any]) -> dict[str, Any]:
    """A definition of the document: an operator's meaning as a formula written here (the operator
    is one of the reader's sequence-operator tokens), with how it was given; other definitions as text."""
    op, meaning = d.get("operator"), d.get("meaning")
    if op in _TOKEN_LATEX["SEQOP"] and meaning in _SEQ_SIGN:
        name, sign = _SEQ_SIGN[meaning]
        how = d["text"].split(", ", 1)[1] if ", " in d["text"] else ""
        return {"line": d["line"], "math": f"(x {op} w)_i = \\sum_j x_{{i{sign}j}}\\, w_j", "name": name, "text": how}
    if d.get("latex"):  # a forward definition: its formula typeset, as the author's line was read
        return {"line": d["line"], "math": d["latex"], "name": "forward definition", "text": ""}
    return {"line": d["line"], "math": None, "name": "", "text": d["text"]}


def render_documents(docs, fmt: str) -> str:
    """Re-render checked Markdown documents (one, or a whole course in one LaTeX file): the prose,
    then every math line with its verdicts."""
    template = _env(fmt).get_template(f"document.{fmt}.j2")
    return template.render(docs=[_document_context(d, fmt) for d in docs])


def render_document(doc, fmt: str) -> str:
    return render_documents([doc], fmt)


def render_index(pages: list[tuple[str, str, str]], title: str, docs: list | None = None) -> str:
    """An HTML index page linking each report: ``(file name, title, status)`` per page; for a course
    (``docs``, the checked documents in the order of ``pages``) also every derivation with the
    status of its Jacobian cross-check."""
    derivations = [(file, d.title, d.jacobian.status if d.jacobian else "undecided")
                   for (file, _, _), doc in zip(pages, docs or []) for d in doc.derivations]
    return _env("html").get_template("index.html.j2").render(pages=pages, title=title, derivations=derivations)

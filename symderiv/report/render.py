"""Rendering of checked derivations through jinja2 templates (``symderiv/templates``).

``render(derivations, fmt)`` with ``fmt`` in ``md`` (GitHub / MyST / Jupyter Markdown with
``$...$`` math), ``tex`` (a standalone LaTeX document for ``pdflatex``) or ``json``.
The context of every template is the JSON form of the derivations, so all three formats show
the same facts. Mathematics comes from the LaTeX printer (symbol names are restricted to safe
characters); every piece of free text is escaped for the target format. Output is
deterministic: no dates, no timings, fixed ordering.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable

import jinja2

from symderiv.derive.derivation import Derivation
from symderiv.derive.rules import RULES
from symderiv.documents.reader import inline_math_spans
from symderiv.errors import SymderivError
from symderiv.lang.greek import GREEK_NAMES, UNICODE_GREEK, greek_latex
from symderiv.lang.status import Status
from symderiv.report.marks import TEX_MARKS
from symderiv.report.marks import TEXT_MARKS as MARKS

FORMATS = ("md", "tex", "json")

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
    "typo-detection": "a line that disagrees with both neighbours while they agree with each other",
    "domain-check": "the right side must be defined for every length the left side allows",
    "budget": "the check ran out of its budget: undecided",
    "atom-abstraction": "every entrywise function f(M) replaced by a symbol labelled by the value of its argument "
    "(equal labels only for arguments equal at every size), then canonical forms (Theorem B1: an identity of the "
    "abstracted claim is an identity of the original); a difference is never taken as a proof of inequality",
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
}
# Greek letters in prose and titles (ℓ, θ, φ ...), from the one Greek table, as math.
_TEX_CHARS.update({ch: "$" + tex + "$" for ch in UNICODE_GREEK if (tex := greek_latex(ch)) and ch not in _TEX_CHARS})


def tex_escape(text: str) -> str:
    """Escape free text for LaTeX; characters without a known LaTeX form are spelled out."""
    out = []
    for ch in text:
        if ch in _TEX_CHARS:
            out.append(_TEX_CHARS[ch])
        elif 32 <= ord(ch) < 127:
            out.append(ch)
        elif ord(ch) < 160:  # control characters and newlines: TeX would read them as invalid input or \par
            out.append(" ")
        else:
            out.append(rf"\texttt{{U+{ord(ch):04X}}}")
    return "".join(out)


def _env(fmt: str) -> jinja2.Environment:
    loader = jinja2.PackageLoader("symderiv.report", "templates")
    if fmt == "tex":
        env = jinja2.Environment(
            loader=loader, block_start_string="<%", block_end_string="%>",
            variable_start_string="<<", variable_end_string=">>",
            comment_start_string="<#", comment_end_string="#>",
            trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
            undefined=jinja2.StrictUndefined, autoescape=False,
        )
        env.filters["esc"] = tex_escape
        env.globals["marks"] = TEX_MARKS
    else:
        env = jinja2.Environment(
            loader=loader, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
            undefined=jinja2.StrictUndefined, autoescape=False,
        )
        env.filters["esc"] = md_escape
        env.globals["marks"] = MARKS
    env.globals["rules"] = RULES
    env.globals["legend"] = METHOD_LEGEND
    return env


def to_json(derivations: Iterable[Derivation]) -> str:
    return json.dumps({"derivations": [d.to_dict() for d in derivations]}, indent=2, ensure_ascii=False) + "\n"


def render(derivations: Iterable[Derivation], fmt: str, title: str | None = None) -> str:
    """Render checked derivations as ``md``, ``tex`` or ``json``."""
    derivations = list(derivations)
    if fmt == "json":
        return to_json(derivations)
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    data = [d.to_dict() for d in derivations]
    used = sorted({m for d in data for s in d["steps"] for m in s["methods"]}
                  | {m for d in data for m in d.get("jacobian_methods") or ["explicit-jacobian"]})
    used = [m for m in used if m in METHOD_LEGEND]
    doc_title = title or (data[0]["title"] if len(data) == 1 else "symderiv report")
    template = _env(fmt).get_template("report.md.j2" if fmt == "md" else "report.tex.j2")
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
    "TOP": {"\\top": "\\top", "\\intercal": "\\intercal"},
    "INFTY": {"\\infty": "\\infty", "\u221e": "\\infty"},
    "FRAC": {"\\frac": "\\frac", "\\dfrac": "\\dfrac", "\\tfrac": "\\tfrac"},
    "PARTIAL": {"\\partial": "\\partial"},
    "LANGLE": {"\\langle": "\\langle", "<": "\\langle"},
    "RANGLE": {"\\rangle": "\\rangle", ">": "\\rangle"},
    "NORM": {"||": "\\|", "\\|": "\\|", "\\Vert": "\\|"},
    "ROMAN": {"\\mathrm": "\\mathrm", "\\operatorname": "\\operatorname", "\\text": "\\text", "\\textrm": "\\textrm"},
    "SUM": {"\\sum": "\\sum", "\\Sigma": "\\sum"},
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


def _tree_latex(t) -> str:
    """LaTeX for a parse tree of grammar/math.lark, written from the tree alone."""
    from lark import Token

    if isinstance(t, Token):
        return _token_latex(t)
    kids = t.children
    k = [_tree_latex(c) for c in kids]
    rule = str(t.data)
    if rule in ("line", "juxt"):
        return " ".join(k)
    if rule in ("lead", "rel", "number", "word", "greek", "infty", "space", "partial") and len(k) == 1:
        return k[0]
    if rule in ("sup", "sub") and len(k) == 1:
        return k[0]
    if rule == "add" and len(k) == 2:
        return f"{k[0]} + {k[1]}"
    if rule == "sub" and len(k) == 3:  # the binary rule named "sub" by its alias: a MINUS b
        return f"{k[0]} - {k[2]}"
    if rule == "neg" and len(k) == 2:
        return f"- {k[1]}"
    if rule == "dot" and len(k) == 2:
        return f"{k[0]} \\cdot {k[1]}"
    if rule == "div" and len(k) == 2:
        return f"{k[0]} / {k[1]}"
    if rule == "seqop" and len(k) == 3:
        return f"{k[0]} {k[1]} {k[2]}"
    if rule in ("power", "subscript", "star") and len(k) == 2:
        # a scripted base goes in braces: x^{T}^{T} would be a double superscript
        base = f"{{{k[0]}}}" if getattr(kids[0], "data", None) in ("power", "subscript", "star") else k[0]
        return base + {"power": f"^{{{k[1]}}}", "subscript": f"_{{{k[1]}}}", "star": "^{*}"}[rule]
    if rule == "delta" and len(k) == 1:
        return f"\\Delta {k[0]}"
    if rule == "frac" and len(k) == 3:
        return f"{k[0]}{{{k[1]}}}{{{k[2]}}}"
    if rule == "paren" and k:
        return "(" + ", ".join(k) + ")"
    if rule == "group" and len(k) == 1:
        return f"{{{k[0]}}}"
    if rule == "inner" and len(k) == 4:
        return f"\\langle {k[1]}, {k[2]} \\rangle"
    if rule == "norm" and len(k) in (1, 3):
        return f"\\| {k[len(k) // 2]} \\|"
    if rule == "roman" and len(k) == 2:
        return f"{k[0]}{{{k[1]}}}"
    if rule == "sumop" and len(k) == 2:
        return f"{k[0]}_{{{k[1]}}}"
    raise _Unsafe(f"rule {rule} with {len(k)} parts")


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
    "lVert", "rVert", "Vert", "big", "Big", "text", *GREEK_NAMES,
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


def _tex_inline(math: str) -> str:
    latex = math_latex(math)
    if latex is None:
        return r"\texttt{" + tex_escape(math) + "}"
    return "$" + latex + "$"


def _tex_prose(text: str) -> str:
    return _prose(text, tex_escape, _tex_inline)


def _document_context(doc) -> dict:
    by_line: dict[int, list] = {}
    for step, _owner in doc.all_steps():
        by_line.setdefault(step.line, []).append(step)
    items = []
    seen_lines = set()
    for b in doc.blocks:
        if b.kind == "heading":
            items.append({"kind": "heading", "level": b.level, "text": b.text})
        elif b.kind == "prose":
            items.append({"kind": "prose", "text": b.text})
        else:
            for ml in b.math:
                if ml.line in seen_lines:
                    continue
                seen_lines.add(ml.line)
                steps = []
                for s in by_line.get(ml.line, []):
                    v = s.verdict
                    override = s.text_override
                    steps.append({
                        "latex": None if override is not None else s.latex(),
                        "text": override or s.plain(),
                        "status": s.status,
                        "rule": (RULES[s.rule].title if s.rule in RULES else (s.rule or "")),
                        "reason": v.reason if v else "",
                        "method": v.method if v else "",
                        "note": s.note,
                        "counterexample": v.counterexample.to_dict() if v and v.counterexample else None,
                    })
                items.append({"kind": "math", "line": ml.line, "steps": steps, "raw": ml.text.strip(), "note": ml.note})
    counts = {str(k): 0 for k in Status}
    for s, _ in doc.all_steps():
        counts[s.status] += 1
    jac = [{"title": d.title, "status": d.jacobian.status if d.jacobian else "undecided",
            "gradient": d.to_dict()["gradient"]} for d in doc.derivations]
    return {"path": doc.path, "status": doc.status, "items": items, "counts": counts, "jacobians": jac,
            "definitions": doc.definitions, "nothing": doc.nothing_reason}


def render_documents(docs, fmt: str) -> str:
    """Re-render checked Markdown documents (one, or a whole course in one LaTeX file): the prose,
    then every math line with its verdicts."""
    env = _env(fmt)
    env.filters["prose"] = _md_prose if fmt == "md" else _tex_prose
    env.filters["display"] = _md_display
    template = env.get_template("document.md.j2" if fmt == "md" else "document.tex.j2")
    return template.render(docs=[_document_context(d) for d in docs])


def render_document(doc, fmt: str) -> str:
    return render_documents([doc], fmt)

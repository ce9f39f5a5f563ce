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
from typing import Iterable

import jinja2

from .derivation import Derivation
from .rules import RULES

FORMATS = ("md", "tex", "json")
MARKS = {"verified": "✓", "failed": "✗", "undecided": "?"}
TEX_MARKS = {"verified": r"$\checkmark$", "failed": r"$\times$", "undecided": "?"}

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
    "alone, compared with ⟨G, Δθ⟩ by the sign-class procedure",
    "domain-check": "the right side must be defined for every length the left side allows",
    "budget": "the check ran out of its budget: undecided",
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


def tex_escape(text: str) -> str:
    """Escape free text for LaTeX; characters without a known LaTeX form are spelled out."""
    out = []
    for ch in text:
        if ch in _TEX_CHARS:
            out.append(_TEX_CHARS[ch])
        elif ord(ch) < 128:
            out.append(ch)
        else:
            out.append(r"\texttt{U+%04X}" % ord(ch))
    return "".join(out)


def _env(fmt: str) -> jinja2.Environment:
    loader = jinja2.PackageLoader("symderiv", "templates")
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
    used = sorted({m for d in data for s in d["steps"] for m in s["methods"]} | {"explicit-jacobian"})
    used = [m for m in used if m in METHOD_LEGEND]
    doc_title = title or (data[0]["title"] if len(data) == 1 else "symderiv report")
    template = _env(fmt).get_template("report.md.j2" if fmt == "md" else "report.tex.j2")
    return template.render(title=doc_title, derivations=data, methods_used=used)

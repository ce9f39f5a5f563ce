"""Notebook display of derivations: HTML (MathML), Markdown (rendered math, verdict marks,
counterexamples), LaTeX and plain text.

Importing this module registers the display with :func:`symderiv.derive.derivation.register_display`,
so the model (derive/) never imports the renderer (report/).
"""
from __future__ import annotations

from symderiv.derive.derivation import Derivation, register_display
from symderiv.report.layout import math_text
from symderiv.report.marks import MATH_MARKS
from symderiv.report.render import chain_rows, render


def derivation_latex(d: Derivation) -> str:
    """The derivation as one ``aligned`` chain: ``=`` aligned, the rule's title and a coloured mark
    on the right of each line, as the Markdown report sets it."""
    rows = []
    for r in chain_rows(d):
        pieces = " \\\\\n&\\quad ".join(r["pieces"])
        rows.append(f"{r['lhs']} &{r['rel']} {pieces} && {MATH_MARKS[r['status']]}\\quad "
                    f"{math_text(r['rule'] or 'step')}")
    return "$$\\begin{aligned}\n" + " \\\\\n".join(rows) + "\n\\end{aligned}$$"


def derivation_mimebundle(d: Derivation) -> dict[str, str]:
    """Jupyter display of a derivation: HTML and Markdown (the report, with reasons and
    counterexamples), LaTeX (the aligned chain) and plain text."""
    if not d.checked:
        d.check()
    return {"text/plain": d.explain(), "text/markdown": render([d], "md"), "text/latex": derivation_latex(d),
            "text/html": derivation_html(d)}


def derivation_html(d: Derivation) -> str:
    """The HTML report as a fragment for a notebook cell: its report styles (not the page's body
    style, which would restyle the notebook) and the body's content, math as MathML."""
    page = render([d], "html")
    style = page[page.index('<style id="report">'): page.index("</style>", page.index('<style id="report">')) + 8]
    body = page[page.index("<body>") + 6: page.rindex("</body>")]
    return '<div class="symderiv-report">' + style + body + "</div>"


register_display(derivation_mimebundle)

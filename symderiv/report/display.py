"""Notebook display of derivations: Markdown (rendered math, verdict marks), LaTeX and plain text.

Importing this module registers the display with :func:`symderiv.derive.derivation.register_display`,
so the model (derive/) never imports the renderer (report/).
"""
from __future__ import annotations

from symderiv.derive.derivation import Derivation, register_display
from symderiv.report.marks import MATH_MARKS
from symderiv.report.render import render


def derivation_mimebundle(d: Derivation) -> dict[str, str]:
    """Jupyter display of a derivation: Markdown (rendered math, verdict marks), LaTeX, plain text."""
    if not d.checked:
        d.check()
    rows = " \\\\\n".join(
        f"& {s.latex(notation=d.notation)} && \\text{{{(s.rule or 'step').replace('_', ' ')}}}\\ {MATH_MARKS[s.status]}"
        for s in d.steps)
    tex = "\\begin{aligned}\n" + rows + "\n\\end{aligned}"
    return {"text/plain": d.explain(), "text/markdown": render([d], "md"), "text/latex": "$$" + tex + "$$"}


register_display(derivation_mimebundle)

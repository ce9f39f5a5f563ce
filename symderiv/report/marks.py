"""Marks for statuses in every output format, built from the one table in :mod:`symderiv.lang.status`.

Each status has its own weight and colour wherever the format allows it: a green ✓ for verified,
a bold red ✗ for failed, a bold amber ? for undecided, so a failure is seen before it is read.
"""
from __future__ import annotations

from symderiv.lang.status import MARKS, Status, mark

#: LaTeX reports: macros the report preamble defines (amssymb's ✓ and a bold ×, in xcolor colours); they work
#: in text and in math mode.
_TEX_FORM = {"✓": r"\SDverified{}", "✗": r"\SDfailed{}", "?": r"\SDundecided{}"}

#: The preamble that defines the LaTeX marks (used by every LaTeX template).
TEX_MARK_MACROS = "\n".join([
    r"\definecolor{sdverified}{RGB}{0,128,0}",
    r"\definecolor{sdfailed}{RGB}{200,0,0}",
    r"\definecolor{sdundecided}{RGB}{200,120,0}",
    r"\newcommand{\SDverified}{\text{\textcolor{sdverified}{$\checkmark$}}}",
    r"\newcommand{\SDfailed}{\text{\textcolor{sdfailed}{$\boldsymbol{\times}$}}}",
    r"\newcommand{\SDundecided}{\text{\textcolor{sdundecided}{\bfseries ?}}}",
])

#: Plain text and Markdown: the Unicode marks themselves.
TEXT_MARKS: dict[str, str] = {str(s): MARKS[s] for s in Status}
#: LaTeX reports (text or math mode).
TEX_MARKS: dict[str, str] = {str(s): _TEX_FORM[MARKS[s]] for s in Status}
#: Inside MathJax/KaTeX math (Markdown chains, the notebook display): coloured, failures bold.
MATH_MARKS: dict[str, str] = {
    "verified": r"{\color{green}\checkmark}",
    "failed": r"{\color{red}\boldsymbol{\times}}",
    "undecided": r"{\color{orange}\mathbf{?}}",
}

__all__ = ["MARKS", "MATH_MARKS", "TEXT_MARKS", "TEX_MARKS", "TEX_MARK_MACROS", "Status", "mark"]

"""Marks for statuses in every output format, built from the one table in :mod:`symderiv.lang.status`."""
from __future__ import annotations

from symderiv.lang.status import MARKS, Status, mark

#: LaTeX forms of the marks (✓ ✗ are not in the standard LaTeX fonts).
_TEX_FORM = {"✓": r"$\checkmark$", "✗": r"$\times$", "?": "?"}

#: Plain text and Markdown: the Unicode marks themselves.
TEXT_MARKS: dict[str, str] = {str(s): MARKS[s] for s in Status}
#: LaTeX reports (text mode).
TEX_MARKS: dict[str, str] = {str(s): _TEX_FORM[MARKS[s]] for s in Status}
#: Inside LaTeX math (the notebook display's aligned environment).
MATH_MARKS: dict[str, str] = {k: v.strip("$") for k, v in TEX_MARKS.items()}

__all__ = ["MARKS", "MATH_MARKS", "TEXT_MARKS", "TEX_MARKS", "Status", "mark"]

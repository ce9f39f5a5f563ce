"""The typo diagnosis: where in a failing chain the mistake probably is.

In a chain ``a = b = c`` where both steps fail but ``a = c`` holds, the middle line disagrees with
both neighbours while they agree with each other: most likely a typo on that line. The diagnosis
changes no verdict. The step out of the typo line is false as written and stays failed (a ✓ there
would say the author's step is right); both steps get a note saying what was found.
"""
from __future__ import annotations

from symderiv.kernel.decide import Verdict, annotate

TYPO = "probably a typo on this line: the lines before and after it agree with each other; "


def blame_typo(typo: Verdict, after: Verdict, agrees_with: str) -> tuple[Verdict, Verdict]:
    """The two failed verdicts, annotated: ``typo`` is blamed, ``after`` agrees with ``agrees_with``
    (e.g. "line 7"), the expression before the suspected typo."""
    return (annotate(typo, reason_prefix=TYPO, extra_methods=("typo-detection",)),
            annotate(after, reason_suffix=f"; this line does agree with {agrees_with} (before the suspected typo)",
                     extra_methods=("typo-detection",)))

"""The kernel's public entry points: everything above the kernel asks for a verdict here.

* :func:`verify_equal` / :func:`verify_first_order`: ``lhs = rhs`` exactly or to first order in
  the perturbations; matrix expressions go to the index-graph procedure
  (:mod:`symderiv.kernel.verifier`), correlation/convolution expressions to the sign-class
  procedure (:mod:`symderiv.kernel.convolution`).
* :func:`decide_index`: an equation written in index notation (Σ_i A_i B_{i+j} C_j).
* :func:`check_gradient`: the Jacobian cross-check of a claimed gradient.
* :func:`forms_equal` / :func:`seq_evaluate`: the exact sequence normal form and evaluator that
  derivation rules use to recognise a correlation or convolution mode.
"""
from __future__ import annotations

from symderiv.kernel.convolution import decide_index, forms_equal, seq_evaluate
from symderiv.kernel.jacobian import check_gradient
from symderiv.kernel.verdict import DEFAULT_BUDGET, FAILED, UNDECIDED, VERIFIED, Budget, Term, Verdict
from symderiv.kernel.verifier import verify_equal, verify_first_order

__all__ = [
    "DEFAULT_BUDGET", "FAILED", "UNDECIDED", "VERIFIED", "Budget", "Term", "Verdict",
    "check_gradient", "decide_index", "forms_equal", "seq_evaluate", "verify_equal", "verify_first_order",
]

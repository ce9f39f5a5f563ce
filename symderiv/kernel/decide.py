"""The kernel's public entry points: everything above the kernel asks for a verdict here.

* :func:`verify_equal` / :func:`verify_first_order`: ``lhs = rhs`` exactly or to first order in
  the perturbations; matrix expressions go to the index-graph procedure
  (:mod:`symderiv.kernel.verifier`), correlation/convolution expressions to the sign-class
  procedure (:mod:`symderiv.kernel.convolution`).
* :func:`decide_index`: an equation written in index notation (Σ_i A_i B_{i+j} C_j).
* :func:`check_gradient`: the Jacobian cross-check of a claimed gradient.
* :func:`decide_tensor` / :func:`check_tensor_gradient`: images with channels (2-D correlation layers),
  decided by the multi-axis procedure (:mod:`symderiv.kernel.multiaxis`, Theorem G).
* :func:`forms_equal` / :func:`seq_evaluate`: the exact sequence normal form and evaluator that
  derivation rules use to recognise a correlation or convolution mode.
* :func:`discharge`: the one door for derivations and documents (the Lean ``calc`` model): they
  state a proof :class:`Obligation` (lhs, rhs, relation, hypotheses) and the kernel decides it.
* :func:`decide_numbers`: ``a = b`` between two exact rationals.

Above the kernel a verdict is made only with :func:`undecided` or :func:`ill_formed`, and
annotated only with :func:`annotate` (see :mod:`symderiv.kernel.verdict`).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from symderiv.kernel import indexgraph, multiaxis
from symderiv.kernel.convolution import decide_index
from symderiv.kernel.domains import forms_equal
from symderiv.kernel.hypotheses import Hypothesis
from symderiv.kernel.jacobian import check_gradient
from symderiv.kernel.multiaxis import check_tensor_gradient, decide_tensor
from symderiv.kernel.seqeval import seq_evaluate
from symderiv.kernel.verdict import (
    DEFAULT_BUDGET,
    FAILED,
    UNDECIDED,
    VERIFIED,
    Budget,
    Term,
    Verdict,
    annotate,
    decided,
    ill_formed,
    undecided,
)
from symderiv.kernel.verifier import verify_equal, verify_first_order
from symderiv.lang.operators import Expr


@dataclass(frozen=True)
class Obligation:
    """A proof obligation: ``lhs = rhs`` exactly, or to first order in the perturbations Δ.

    ``hypotheses`` are named assumptions the claim depends on; the kernel decides identities that
    hold unconditionally, so today an obligation with hypotheses is never discharged as verified.
    """

    lhs: Expr
    rhs: Expr
    relation: Literal["exact", "first-order"] = "exact"
    hypotheses: tuple[Hypothesis | str, ...] = ()


def discharge(obligation: Obligation, budget: Budget = DEFAULT_BUDGET) -> Verdict:
    """The kernel's verdict on ``obligation`` (see :func:`verify_equal`, :func:`verify_first_order`).

    Structured :class:`Hypothesis` objects are applied (Theorem D1, D4); a hypothesis given only as
    text is outside what the kernel decides, and the obligation stays undecided."""
    text = [h for h in obligation.hypotheses if isinstance(h, str)]
    if text:
        return undecided("not decided", reason="claims under hypotheses ("
                         + ", ".join(text) + ") are outside what the verifier decides",
                         relation=obligation.relation, lhs=obligation.lhs, rhs=obligation.rhs)
    hyps = tuple(h for h in obligation.hypotheses if isinstance(h, Hypothesis))
    if obligation.relation == "exact":
        return verify_equal(obligation.lhs, obligation.rhs, budget, hyps)
    if obligation.relation == "first-order":
        return verify_first_order(obligation.lhs, obligation.rhs, budget, hyps)
    raise ValueError(f"unknown relation {obligation.relation!r}")


def decide_numbers(a: Fraction, b: Fraction) -> Verdict:
    """``a = b`` for two exact rationals: exact rational arithmetic decides it."""
    return decided(VERIFIED if a == b else FAILED, "exact rational arithmetic",
                   reason="" if a == b else f"{a} ≠ {b}", methods=["exact-integer-evaluation"])


def clear_caches() -> None:
    """Forget every memo of the kernel (certificates of monomials, conv2d's linear forms): verdicts never
    depend on them; benchmarks clear them so that a repeated run is not a replay."""
    indexgraph.clear_caches()
    multiaxis.clear_caches()


__all__ = [
    "DEFAULT_BUDGET", "FAILED", "UNDECIDED", "VERIFIED", "Budget", "Hypothesis", "Obligation", "Term", "Verdict",
    "annotate", "check_gradient", "check_tensor_gradient", "clear_caches", "decide_tensor", "decide_numbers", "discharge", "ill_formed", "undecided", "decide_index", "forms_equal", "seq_evaluate", "verify_equal", "verify_first_order",
]

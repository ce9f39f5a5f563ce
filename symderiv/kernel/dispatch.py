"""The one dispatcher: which decision procedure decides Σ lterms = Σ rterms.

* sequence expressions (correlation, convolution, restrictions, shifts): the sign-class procedure
  :func:`symderiv.kernel.convolution.decide_sequence` (Theorem 2);
* expressions with entrywise functions: abstraction to index graphs plus certified refutation,
  :func:`symderiv.kernel.nonlinear.decide_nonlinear` (Theorems A, B1);
* every other matrix expression: the index-graph procedure :func:`symderiv.kernel.matrix.decide_matrix`
  (Theorem 1).

Index notation (Σ_i A_i B_{i+j}) is not an expression and has its own entry,
:func:`symderiv.kernel.convolution.decide_index` (Theorem 2 through the index translation).
"""
from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from symderiv.kernel.atoms import has_atoms
from symderiv.kernel.budget import Meter
from symderiv.kernel.certified import certified_counterexample, guards_hold
from symderiv.kernel.convolution import decide_sequence
from symderiv.kernel.matrix import decide_matrix
from symderiv.kernel.nonlinear import decide_nonlinear
from symderiv.kernel.refute import fits_hypotheses
from symderiv.kernel.verdict import FAILED, Budget, Decision
from symderiv.lang.operators import Expr, is_sequence_expr


def decide_terms(
    lterms: list[tuple[Fraction, Expr]], rterms: list[tuple[Fraction, Expr]], leval: Expr, reval: Expr,
    budget: Budget, what: str, positive: frozenset[str] = frozenset(), guards: tuple[Expr, ...] = (),
    domain: tuple[Expr, Expr] | None = None, conditions: tuple[tuple[str, Expr], ...] = (),
) -> Decision:
    """Decide Σ lterms = Σ rterms; ``leval``/``reval`` are the same sums as expressions.
    ``positive`` names the symbols declared entrywise positive; ``guards`` are expressions that
    must be entrywise positive at a counterexample (see :func:`~symderiv.kernel.hypotheses.guards`);
    ``domain`` is the two sides as written and ``conditions`` the hypotheses' matrix conditions, for the
    domains of inverses and log-determinants."""
    deadline = Meter(budget)
    if is_sequence_expr(leval) or is_sequence_expr(reval):
        return decide_sequence(lterms, rterms, leval, reval, deadline, what)
    if has_atoms(leval, reval) or domain is not None:  # domain: inverses or determinants as written
        return decide_nonlinear(lterms, rterms, leval, reval, budget, deadline, what, positive, guards, domain,
                                conditions)
    d = decide_matrix(lterms, rterms, leval, reval, budget, deadline, what)
    if d.status == FAILED and d.counterexample is not None and (positive or guards):
        d = _within_hypotheses(d, leval, reval, budget, deadline, positive, guards)
    return d


def _within_hypotheses(d: Decision, leval: Expr, reval: Expr, budget: Budget, deadline: Meter,
                       positive: frozenset[str], guards: tuple[Expr, ...]) -> Decision:
    """A counterexample that satisfies the open hypotheses (x > 0, X invertible, det X > 0). The matrix
    procedure's verdict stands either way: a polynomial identity that fails somewhere fails on a dense
    open set, so on every nonempty open set the hypotheses describe (Theorem D4). But a point outside them
    is not where the claim is made, so it is shown only if it satisfies them; otherwise one that does is
    searched for, and without one the refutation is shown without a point."""
    cex = d.counterexample
    assert cex is not None
    values = {k: v for k, v in cex.values.items() if isinstance(v, list)}
    if fits_hypotheses(values, positive) and guards_hold(guards, cex.sizes, values, deadline):
        return d
    found, _ = certified_counterexample(leval, reval, d.bound, positive, deadline, 1, budget.certified_points, guards)
    note = "" if found is not None else (
        "the counterexample found lies outside the hypotheses and none inside them was found; the claim is "
        "refuted by its canonical forms (Theorem 1), and a polynomial identity that fails somewhere fails on "
        "every nonempty open set, such as the one the hypotheses describe (Theorem D4)")
    return replace(d, counterexample=found, note=(d.note + "; " if d.note and note else d.note) + note)

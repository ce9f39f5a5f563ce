"""Soundness hunt on the nonlinear kernel (issue 10): each test is a reproducer of a defect that
was found, with its wrong twin (must fail or stay undecided) and its right twin (must verify or at
least not fail)."""
from __future__ import annotations

from symderiv.kernel.decide import Hypothesis, verify_equal
from symderiv.lang.operators import Add, Scale, Sym, relu

y = Sym("y", "n", 1)


def test_positive_and_sums_to_counterexample_must_satisfy_both():
    """1ᵀy = 1 substitutes y := π(u); sampling u > 0 does not make π(u) > 0, so a point with
    u > 0 but π(u) ≤ 0 somewhere lies outside the hypotheses. relu(y) = y is true there."""
    hyps = (Hypothesis("sums-to", y), Hypothesis("positive", y))
    assert verify_equal(relu(y), y, hypotheses=hyps).status != "failed"
    assert verify_equal(relu(y), Scale(2, y), hypotheses=hyps).status == "failed"
    # without positivity the claim is false, and refuted
    assert verify_equal(relu(y), y, hypotheses=(Hypothesis("sums-to", y),)).status == "failed"
    # the order of the hypotheses does not matter
    assert verify_equal(relu(y), y, hypotheses=hyps[::-1]).status != "failed"
    assert verify_equal(Add(relu(y), y), Scale(2, y), hypotheses=hyps).status != "failed"

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


def test_sums_to_zero_is_a_hypothesis_not_a_crash():
    """1ᵀy = 0 (centred) made a zero DimScalar and raised ShapeError out of verify_equal."""
    from symderiv.lang.operators import MatMul, Ones, Transpose
    one = Ones("n", 1)
    hyp = (Hypothesis("sums-to", y, 0),)
    assert verify_equal(MatMul(Transpose(one), y), Scale(2, MatMul(Transpose(one), y)), hypotheses=hyp).status == "verified"
    assert verify_equal(MatMul(Transpose(one), y), Add(MatMul(Transpose(one), y), Ones(1, 1)),
                        hypotheses=hyp).status == "failed"
    assert verify_equal(y, Scale(2, y), hypotheses=hyp).status == "failed"


def test_positive_and_nonpositive_sum_are_inconsistent():
    """y > 0 and 1ᵀy = 0 have no common solution: refuse, rather than refute a vacuous claim."""
    import pytest
    with pytest.raises(ValueError, match="no common solution"):
        verify_equal(y, Scale(2, y), hypotheses=(Hypothesis("sums-to", y, 0), Hypothesis("positive", y)))


def test_a_pole_written_on_one_side_restricts_the_sizes_named_in_the_proof():
    """(1/(n − 1))·(n − 1)·x cancels in the class coefficients, so the grid saw no pole and the
    proof said "for all sizes", although the right side is undefined at n = 1."""
    import sympy

    from symderiv.lang.operators import DimScalar, MatMul, exp
    n = sympy.Symbol("n")
    x = Sym("x", "n", 1)
    for lhs, rhs in [(x, MatMul(DimScalar(1 / (n - 1)), DimScalar(n - 1), x)),
                     (exp(x), MatMul(DimScalar(1 / (n - 1)), DimScalar(n - 1), exp(x)))]:
        v = verify_equal(lhs, rhs)
        assert v.status == "verified"
        assert "n ∉ {1}" in v.method
    assert "∉" not in verify_equal(MatMul(DimScalar(1 / n), x), MatMul(DimScalar(1 / n), x)).method

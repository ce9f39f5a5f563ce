"""Property tests for inverses and determinants in the kernel (part E of verification-theory-2).

Random expressions over square symbols with products, sums, transposes, inverses and determinants
are paired with a rewrite of themselves: rewrites that preserve the value (an inverse of a product
reversed, X X⁻¹ inserted, a transpose pushed through an inverse) and rewrites that usually do not
(two factors swapped, a transpose dropped, an inverse moved). Whatever the kernel says must agree
with exact rational evaluation:

* "verified" ⇒ the two sides are equal at random rational points where the left side is defined
  (at n = 2 and 3: n = 1 is commutative and hides most slips);
* "failed" with a counterexample ⇒ at the counterexample, the left side is defined and the right
  side is undefined or has a different value, evaluated again here exactly.

Hypothesis shrinks a failure to the smallest expression pair.
"""
from __future__ import annotations

import random
from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symderiv.errors import NotExact, OutsideDomain
from symderiv.kernel.decide import verify_equal
from symderiv.kernel.evaluate import INT, evaluate
from symderiv.lang.operators import Add, Det, Expr, Identity, Inv, MatMul, Scale, Sym, Trace, Transpose

n = "n"
SYMS = [Sym(s, n, n) for s in "ABX"]

leaves = st.sampled_from(SYMS + [Identity(n)])


def _extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
    return st.one_of(
        st.tuples(children, children).map(lambda p: MatMul(*p)),
        st.tuples(children, children).map(lambda p: Add(*p)),
        children.map(Transpose),
        children.map(Inv),
        st.tuples(st.sampled_from([2, -1, Fraction(1, 2)]), children).map(lambda p: Scale(*p)),
    )


exprs = st.recursive(leaves, _extend, max_leaves=5)


def _valid(e: Expr, rng: random.Random) -> Expr:
    """A rewrite that keeps the value wherever ``e`` is defined."""
    if isinstance(e, Inv) and isinstance(e.arg, MatMul):
        return MatMul(*[Inv(a) for a in reversed(e.arg.args)])
    if isinstance(e, Inv) and isinstance(e.arg, Transpose):
        return Transpose(Inv(e.arg.arg))
    if isinstance(e, MatMul):
        x = rng.choice(SYMS)
        i = rng.randrange(len(e.args) + 1)
        return MatMul(*e.args[:i], x, Inv(x), *e.args[i:])
    if isinstance(e, Transpose) and isinstance(e.arg, MatMul):
        return MatMul(*[Transpose(a) for a in reversed(e.arg.args)])
    return MatMul(e, Identity(n))


def _mutant(e: Expr, rng: random.Random) -> Expr:
    """A rewrite that usually changes the value."""
    if isinstance(e, MatMul) and len(e.args) >= 2:
        return MatMul(*reversed(e.args))
    if isinstance(e, Inv) and isinstance(e.arg, MatMul):
        return MatMul(*[Inv(a) for a in e.arg.args])
    if isinstance(e, Transpose):
        return e.arg
    if isinstance(e, Inv):
        return Transpose(e)
    return MatMul(e, rng.choice(SYMS))


def _points(seed: int, count: int = 6):
    rng = random.Random(seed)
    for k in range(count):
        size = 2 + k % 2
        yield {"n": size}, {s.name: [[Fraction(rng.randint(-5, 5), rng.randint(1, 3)) for _ in range(size)]
                                     for _ in range(size)] for s in SYMS}


def _value(e: Expr, env, sizes):
    try:
        return evaluate(e, env, sizes, INT)
    except (OutsideDomain, NotExact, ZeroDivisionError):
        return None


def _check_consistent(lhs: Expr, rhs: Expr, seed: int) -> str:
    v = verify_equal(lhs, rhs)
    if v.status == "verified":
        for sizes, env in _points(seed):
            a = _value(lhs, env, sizes)
            if a is None:
                continue
            b = _value(rhs, env, sizes)
            assert b is not None, f"verified, but the right side is undefined where the left is: {v.method}"
            assert a == b, f"verified, but the sides differ at {sizes}: {v.method}"
    elif v.status == "failed" and v.counterexample is not None and v.counterexample.sizes:
        cex = v.counterexample
        env = {k: [[Fraction(x) for x in row] for row in m] for k, m in cex.values.items() if isinstance(m, list)}
        if all(s.name in env for s in [*lhs.symbols(), *rhs.symbols()]):
            a, b = _value(lhs, env, cex.sizes), _value(rhs, env, cex.sizes)
            assert a is not None, "the counterexample lies outside the left side's domain"
            assert b is None or a != b, "the counterexample does not separate the sides"
    return v.status


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exprs, st.integers(0, 10**6))
def test_value_preserving_rewrite_is_never_refuted_wrongly(e, seed):
    rng = random.Random(seed)
    _check_consistent(e, _valid(e, rng), seed)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exprs, st.integers(0, 10**6))
def test_mutant_is_never_verified_wrongly(e, seed):
    rng = random.Random(seed)
    _check_consistent(e, _mutant(e, rng), seed)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exprs, exprs, st.integers(0, 10**6))
def test_determinants_and_traces_of_random_pairs(e1, e2, seed):
    """det and tr of two unrelated expressions: usually different, sometimes equal by a rewrite."""
    _check_consistent(Det(e1), Det(e2), seed)
    _check_consistent(Trace(MatMul(e1, Inv(e2))), Trace(MatMul(Inv(e2), e1)), seed)


def test_the_suite_reaches_both_verdicts():
    """The properties above are not vacuous: on a fixed sample the kernel verifies some pairs and
    refutes others."""
    rng = random.Random(7)
    X, A, B = SYMS[2], SYMS[0], SYMS[1]
    seen = {_check_consistent(Inv(MatMul(A, B)), _valid(Inv(MatMul(A, B)), rng), 1),
            _check_consistent(Inv(MatMul(A, B)), _mutant(Inv(MatMul(A, B)), rng), 2),
            _check_consistent(Trace(MatMul(X, A, Inv(X))), Trace(A), 3)}
    assert {"verified", "failed"} <= seen


def test_a_point_outside_the_written_left_side_refutes_nothing():
    """Lowering cancels (A + B)(A + B)⁻¹ to I, so the lowered left side is defined where A + B is
    singular; the claim says nothing there. A point with A + B singular (as an untrusted search might
    propose) must be skipped even though the lowered sides differ at it."""
    from symderiv.kernel.budget import Meter
    from symderiv.kernel.certified import certify_at
    from symderiv.lang.operators import Add

    A, B, C = SYMS
    written_left = MatMul(Add(A, B), Inv(Add(A, B)), C)
    lowered_left, right = C, Add(C, C)
    env = {"A": [[Fraction(1), Fraction(0)], [Fraction(0), Fraction(0)]],
           "B": [[Fraction(0), Fraction(0)], [Fraction(0), Fraction(0)]],
           "X": [[Fraction(1), Fraction(2)], [Fraction(3), Fraction(4)]]}
    meter = Meter.unlimited()
    assert certify_at(lowered_left, right, {"n": 2}, env, meter, (written_left, right)) == "skipped"
    env["B"] = [[Fraction(0), Fraction(0)], [Fraction(0), Fraction(1)]]  # A + B = I: now a real refutation
    out = certify_at(lowered_left, right, {"n": 2}, env, meter, (written_left, right))
    assert not isinstance(out, str) and out.sizes == {"n": 2}


def test_an_exact_claim_reads_its_domain_with_the_perturbation_as_a_variable():
    """In an exact claim ΔX is a variable like any other: (X + ΔX)⁻¹ needs X + ΔX invertible, not X
    (found by the soundness hunt: these were verified when the domain was read at Δ = 0, although
    X = I, ΔX = −I makes the right side undefined where the left is defined)."""
    from symderiv.kernel.decide import Hypothesis
    from symderiv.lang.operators import LogDet, Scale

    A, B, X = SYMS
    dX = Sym("ΔX", n, n)
    M, I = Add(X, dX), Identity(n)  # noqa: E741 — the identity matrix
    claims = [
        (Inv(X), Add(Inv(X), MatMul(M, Inv(M)), Scale(-1, I)), ()),
        (MatMul(A, Inv(X)), MatMul(A, Inv(M), M, Inv(X)), ()),
        (I, MatMul(M, Inv(M)), (Hypothesis("invertible", X),)),
        (LogDet(X), Add(LogDet(X), LogDet(M), Scale(-1, LogDet(M))), ()),
    ]
    for lhs, rhs, hyps in claims:
        v = verify_equal(lhs, rhs, hypotheses=hyps)
        assert v.status != "verified", v.method
    # a counterexample of an exact claim lies in the left side's domain at the Δ it shows
    v = verify_equal(MatMul(M, Inv(M)), Add(I, Scale(0, Inv(A))))
    assert v.status == "failed"
    cex = v.counterexample
    env = {k: [[Fraction(x) for x in row] for row in m] for k, m in cex.values.items()}
    assert _value(MatMul(M, Inv(M)), env, cex.sizes) is not None


def test_a_counterexample_satisfies_the_open_hypotheses():
    """XB = BX under det X > 0 (or X invertible), x ∘ x = x under x > 0: refuted, and the point shown
    satisfies the hypotheses (found by the hunt: the matrix procedure showed a singular X, a negative x)."""
    from symderiv.kernel.decide import Hypothesis
    from symderiv.kernel.evaluate import exact_eliminate
    from symderiv.lang.operators import Hadamard

    A, B, X = SYMS
    for kind in ("detpos", "invertible"):
        v = verify_equal(MatMul(X, B), MatMul(B, X), hypotheses=(Hypothesis(kind, X),))
        assert v.status == "failed" and v.counterexample is not None
        det, _ = exact_eliminate([[Fraction(q) for q in row] for row in v.counterexample.values["X"]], False)
        assert det > 0 if kind == "detpos" else det != 0
    x = Sym("x", n, 1)
    v = verify_equal(Hadamard(x, x), x, hypotheses=(Hypothesis("positive", x),))
    assert v.status == "failed" and all(q > 0 for row in v.counterexample.values["x"] for q in row)

"""The verifier: true identities are verified, false ones failed with counterexamples,
and the size bound B of Theorem 1 is where sampling would stop being enough."""
from fractions import Fraction
from itertools import permutations

import pytest
import sympy

from symderiv import Budget, matrix, verify_equal, verify_first_order
from symderiv.kernel.evaluate import Deadline, polynomial_identity
from symderiv.kernel.expand import expand
from symderiv.kernel.indexgraph import compile_monomial, vertex_counts
from symderiv.lang.operators import Add, Hadamard, Inner, MatMul, Scale, Sym, Trace, Transpose, delta_of


def tr(*fs):
    return Trace(fs[0] if len(fs) == 1 else MatMul(*fs))


def T(a):
    return Transpose(a)


def bound(e):
    return vertex_counts(compile_monomial(m) for _, m in expand(e))


# --- true identities -----------------------------------------------------------------
@pytest.mark.parametrize("k", [2, 3, 4, 5, 6])
def test_cyclic_trace_verified(k):
    As = [Sym(f"A{i}", "n", "n") for i in range(k)]
    v = verify_equal(tr(*As), tr(As[-1], *As[:-1]))
    assert v.status == "verified"
    assert "canonical-form" in v.methods
    assert v.counterexample is None


def test_true_identities(sq):
    A, B, C = sq["A"], sq["B"], sq["C"]
    m_n = Sym("W", "m", "n")
    x, g = Sym("x", "n", 1), Sym("g", "m", 1)
    cases = [
        (T(MatMul(A, B)), MatMul(T(B), T(A))),
        (tr(A, B, C), tr(T(C), T(B), T(A))),
        (Inner(g, MatMul(m_n, x)), Inner(MatMul(g, T(x)), m_n)),
        (Inner(g, MatMul(m_n, x)), MatMul(T(x), T(m_n), g)),
        (Inner(A, Hadamard(B, C)), Inner(Hadamard(A, B), C)),
        (tr(Sym("P", "m", "n"), Sym("Q", "n", "m")), tr(Sym("Q", "n", "m"), Sym("P", "m", "n"))),
        (MatMul(T(Add(x, Sym("y", "n", 1))), Add(x, Sym("y", "n", 1))),
         Add(MatMul(T(x), x), Scale(2, MatMul(T(x), Sym("y", "n", 1))), MatMul(T(Sym("y", "n", 1)), Sym("y", "n", 1)))),
        (Scale(Fraction(1, 2), Add(A, A)), A),
    ]
    for lhs, rhs in cases:
        v = verify_equal(lhs, rhs)
        assert v.status == "verified", (lhs, rhs, v.explain())


def test_sympy_expressions_are_accepted():
    n = sympy.Symbol("n")
    A, B, C = (matrix(s, n, n) for s in "ABC")
    assert verify_equal(sympy.Trace(A * B * C), sympy.Trace(C * A * B)).status == "verified"
    assert verify_equal((A * B).T, B.T * A.T).status == "verified"
    assert verify_equal(sympy.Trace(A * B * C), sympy.Trace(A * C * B)).status == "failed"


# --- false identities ----------------------------------------------------------------
def test_trace_not_invariant_under_swapping(sq):
    A, B, C = sq["A"], sq["B"], sq["C"]
    v = verify_equal(tr(A, B, C), tr(A, C, B))
    assert v.status == "failed"
    cex = v.counterexample
    assert cex is not None and cex.sizes == {"n": 2}
    assert cex.lhs != cex.rhs
    assert all(abs(x) <= 1 for m in cex.values.values() for row in m for x in row)  # shrunk
    assert "tr(A·B·C)" in v.reason


def test_transpose_of_product_wrong_order(sq):
    A, B = sq["A"], sq["B"]
    v = verify_equal(T(MatMul(A, B)), MatMul(T(A), T(B)))
    assert v.status == "failed" and v.counterexample.sizes == {"n": 2}


def test_counterexample_values_really_differ(sq):
    """Re-evaluate the reported counterexample independently of the verifier."""
    from symderiv.kernel.evaluate import INT, evaluate

    A, B, C = sq["A"], sq["B"], sq["C"]
    lhs, rhs = tr(A, B, C), tr(A, C, B)
    cex = verify_equal(lhs, rhs).counterexample
    assert evaluate(lhs, cex.values, cex.sizes, INT) == cex.lhs
    assert evaluate(rhs, cex.values, cex.sizes, INT) == cex.rhs
    assert cex.lhs != cex.rhs


def test_wrong_quadratic_form_gradient_term():
    """2xᵀAΔx in place of xᵀ(A + Aᵀ)Δx holds only for symmetric A."""
    x, A = Sym("x", "n", 1), Sym("A", "n", "n")
    dx = delta_of(x)
    right = MatMul(T(x), Add(A, T(A)), dx)
    wrong = Scale(2, MatMul(T(x), A, dx))
    assert verify_equal(right, MatMul(T(x), A, dx) + MatMul(T(x), T(A), dx)).status == "verified"
    v = verify_equal(wrong, right)
    assert v.status == "failed" and v.counterexample.sizes == {"n": 2}


def test_square_weight_wrong_transpose_fails_at_two():
    """⟨h, Vx⟩ = ⟨x hᵀ, V⟩ holds at n = 1 only (B = 2)."""
    x, h, V = Sym("x", "n", 1), Sym("h", "n", 1), Sym("V", "n", "n")
    lhs, rhs = Inner(h, MatMul(V, x)), Inner(MatMul(x, T(h)), V)
    assert bound(Add(lhs, Scale(-1, rhs)))["n"] == 2
    dl = Deadline(10)
    assert polynomial_identity(lhs, rhs, {"n": 1}, dl)
    v = verify_equal(lhs, rhs)
    assert v.status == "failed" and v.counterexample.sizes == {"n": 2}


def test_hadamard_trace_trap():
    A, B = Sym("A", "n", "n"), Sym("B", "n", "n")
    v = verify_equal(Trace(Hadamard(A, B)), tr(A, T(B)))
    assert v.status == "failed" and v.counterexample.sizes == {"n": 2}


# --- the two small-size traps of the issue: true at n ≤ 2, false at n = 3 ----------------
def cayley_hamilton_sides(A):
    lhs = tr(A, A, A)
    rhs = Add(Scale(Fraction(3, 2), MatMul(tr(A), tr(A, A))), Scale(Fraction(-1, 2), MatMul(tr(A), tr(A), tr(A))))
    return lhs, rhs


def test_trace_identity_trap_is_refuted_at_three():
    A = Sym("A", "n", "n")
    lhs, rhs = cayley_hamilton_sides(A)
    dl = Deadline(30)
    # the trap is real: the identity holds as a polynomial identity for n = 1 and n = 2
    assert polynomial_identity(lhs, rhs, {"n": 1}, dl)
    assert polynomial_identity(lhs, rhs, {"n": 2}, dl)
    assert not polynomial_identity(lhs, rhs, {"n": 3}, dl)
    assert bound(Add(lhs, Scale(-1, rhs))) == {"n": 3}
    v = verify_equal(lhs, rhs)
    assert v.status == "failed"
    assert v.counterexample.sizes == {"n": 3}


def test_trace_identity_holds_for_declared_two_by_two():
    """With a numeric dimension the canonical forms differ but the claim is true at that size:
    the verifier must then decide by explicit evaluation, and verify."""
    A2 = Sym("A", 2, 2)
    v = verify_equal(*cayley_hamilton_sides(A2))
    assert v.status == "verified" and v.methods == ["explicit-polynomial"]
    A3 = Sym("A", 3, 3)
    assert verify_equal(*cayley_hamilton_sides(A3)).status == "failed"


def standard_polynomial(mats):
    terms = []
    for perm in permutations(range(len(mats))):
        inv = sum(1 for i in range(len(perm)) for j in range(i + 1, len(perm)) if perm[i] > perm[j])
        terms.append(Scale(-1 if inv % 2 else 1, MatMul(*[mats[i] for i in perm])))
    return Add(*terms)


def test_amitsur_levitzki_s4_is_refuted_at_three():
    mats = [Sym(c, "n", "n") for c in "ABCD"]
    s4 = standard_polynomial(mats)
    zero = Scale(0, mats[0])
    dl = Deadline(60)
    assert polynomial_identity(s4, zero, {"n": 2}, dl)  # Amitsur–Levitzki: s4 = 0 on 2×2
    v = verify_equal(s4, zero)
    assert v.status == "failed"
    assert v.counterexample.sizes == {"n": 3}
    assert len(v.difference) == 24


# --- first order -----------------------------------------------------------------------
def test_first_order_reports_dropped_terms():
    x = Sym("x", "n", 1)
    dx = delta_of(x)
    lhs = Add(Scale(Fraction(1, 2), MatMul(T(Add(x, dx)), Add(x, dx))), Scale(Fraction(-1, 2), MatMul(T(x), x)))
    v = verify_first_order(lhs, MatMul(T(x), dx))
    assert v.status == "verified"
    assert [t.plain() for t in v.dropped] == ["1/2·(Δx)^T·Δx"]
    assert verify_equal(lhs, MatMul(T(x), dx)).status == "failed"


def test_dropped_first_order_term_fails():
    x, A = Sym("x", "n", 1), Sym("A", "n", "n")
    dx = delta_of(x)
    full = Add(MatMul(T(Add(x, dx)), A, Add(x, dx)), Scale(-1, MatMul(T(x), A, x)))
    v = verify_first_order(full, MatMul(T(x), A, dx))  # the (Δx)ᵀAx term is missing
    assert v.status == "failed"
    assert "first-order terms differ" in v.reason
    assert "(Δx)^T·A·x" in v.reason
    assert v.counterexample is not None


def test_first_order_does_not_accept_wrong_constant_part():
    x, y = Sym("x", "n", 1), Sym("y", "n", 1)
    v = verify_first_order(Add(x, delta_of(x)), Add(y, delta_of(x)))
    assert v.status == "failed" and "free of Δ" in v.reason


# --- budgets ---------------------------------------------------------------------------
def test_expansion_budget_gives_undecided_never_verified():
    xs = [Add(Sym(f"a{i}", "n", "n"), Sym(f"b{i}", "n", "n")) for i in range(16)]
    e = MatMul(*xs)
    v = verify_equal(e, e, Budget(max_terms=1000))
    assert v.status == "undecided"
    assert "budget" in v.reason


def test_time_budget_gives_undecided(sq):
    A, B, C = sq["A"], sq["B"], sq["C"]
    v = verify_equal(tr(A, B, C), tr(C, A, B), Budget(seconds=0.0))
    assert v.status == "undecided"


# --- cross-validation: canonical forms against explicit evaluation at B and B+1 ---------
def _random_exprs(rng, depth):
    n_syms = [Sym(c, "n", "n") for c in "ABC"]
    if depth == 0:
        return rng.choice(n_syms)
    k = rng.randrange(5)
    a = _random_exprs(rng, depth - 1)
    if k == 0:
        return MatMul(a, _random_exprs(rng, depth - 1))
    if k == 1:
        return Add(a, _random_exprs(rng, depth - 1))
    if k == 2:
        return Transpose(a)
    if k == 3:
        return Hadamard(a, _random_exprs(rng, depth - 1))
    return Scale(rng.choice([2, -1, Fraction(1, 2)]), a)


def _mutations(rng, e):
    """Sound rewrites and typical mistakes of a random expression."""
    from symderiv.kernel.expand import push_transpose

    return [
        push_transpose(Transpose(Transpose(e))),
        Transpose(push_transpose(Transpose(e))),
        MatMul(e, Sym("A", "n", "n")),
        Add(e, Scale(-1, e)),
        Transpose(e),
        Hadamard(e, e),
        push_transpose(e),
    ]


@pytest.mark.slow
def test_canonical_forms_agree_with_explicit_evaluation_at_the_bound():
    import random

    rng = random.Random(11)
    checked = 0
    for _ in range(60):
        e = _random_exprs(rng, 2)
        for f in _mutations(rng, e):
            if f.shape != e.shape:
                continue
            v = verify_equal(Trace(e), Trace(f))
            b = bound(Add(Trace(e), Scale(-1, Trace(f)))).get("n", 1)
            dl = Deadline(30)
            at_b = polynomial_identity(Trace(e), Trace(f), {"n": max(b, 1)}, dl)
            at_b1 = polynomial_identity(Trace(e), Trace(f), {"n": max(b, 1) + 1}, dl)
            assert at_b == at_b1, "Theorem 1: equality at B and at B+1 agree"
            assert (v.status == "verified") == at_b, (e, f, v.explain())
            checked += 1
    assert checked > 200

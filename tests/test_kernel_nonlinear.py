"""The kernel on constants, dimension coefficients, entrywise functions and hypotheses (issue 10).

Right claims must verify; wrong twins must fail with a proof or a certified counterexample; true
claims outside what the kernel decides must stay undecided (never failed). The traps of §10 of
``verification-theory-2`` that apply here are tests, each named after its trap.
"""
from __future__ import annotations

import random

import mpmath
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from symderiv.kernel.decide import Hypothesis, check_gradient, verify_equal, verify_first_order
from symderiv.lang.operators import (
    Add,
    DimScalar,
    Fn,
    Hadamard,
    Inner,
    MatMul,
    Ones,
    Scale,
    Sym,
    Trace,
    Transpose,
    Zero,
    delta_of,
    diag,
    exp,
    identity,
    log,
    ones,
    recip,
    relu,
    sigmoid,
    step,
    tanh,
)

n = sympy.Symbol("n")
one = ones("n")
Id = identity("n")
J = Ones("n", "n")
A, B = Sym("A", "n", "n"), Sym("B", "n", "n")
x, y, v = Sym("x", "n", 1), Sym("y", "n", 1), Sym("v", "n", 1)
W, b, g = Sym("W", "m", "n"), Sym("b", "m", 1), Sym("g", "m", 1)
z = Add(MatMul(W, x), b)
dx = delta_of(x)


def sq(e):
    return MatMul(e, e)


ONE_T_ONE = MatMul(Transpose(one), one)


# -- Part A: constants and coefficients in Q(N) -------------------------------------------
TRUE_A = [
    (ONE_T_ONE, DimScalar(n)),
    (Trace(Id), DimScalar(n)),
    (MatMul(J, J), MatMul(DimScalar(n), J)),
    (MatMul(diag(x), y), Hadamard(x, y)),
    (MatMul(Transpose(one), Hadamard(A, B), one), Inner(A, B)),
    (sq(Add(Id, Scale(-1, MatMul(DimScalar(1 / n), J)))), Add(Id, Scale(-1, MatMul(DimScalar(1 / n), J)))),
    (Trace(Add(Id, Scale(-1, MatMul(DimScalar(1 / n), J)))), DimScalar(n - 1)),
    (MatMul(Transpose(one), Add(x, Scale(-1, MatMul(one, DimScalar(1 / n), Transpose(one), x)))), Zero(1, 1)),
    (Inner(Sym("G", "B", "k"), MatMul(Ones("B", 1), Transpose(Sym("c", "k", 1)))),
     Inner(MatMul(Transpose(Sym("G", "B", "k")), Ones("B", 1)), Sym("c", "k", 1))),
]


@pytest.mark.parametrize("lhs,rhs", TRUE_A, ids=[str(i) for i in range(len(TRUE_A))])
def test_constant_identities_verify(lhs, rhs):
    verdict = verify_equal(lhs, rhs)
    assert verdict.status == "verified", verdict.method + verdict.reason
    assert "Theorem A" in verdict.method


# Trap 1: each of these is true at one size, so a single-size check is fooled.
TRAPS_A = {
    "(1ᵀ1)² = 2·1ᵀ1 (true at n = 2)": (sq(ONE_T_ONE), Scale(2, ONE_T_ONE)),
    "tr(Id)² − 3tr(Id) + 2 = 0 (true at n = 1, 2)": (Add(sq(Trace(Id)), Scale(-3, Trace(Id)), Scale(2, Ones(1, 1))), Zero(1, 1)),
    "(Id − J)² = Id (true at n = 2)": (sq(Add(Id, Scale(-1, J))), Id),
    "tr(Id − J/n) = 1 (true at n = 2)": (Trace(Add(Id, Scale(-1, MatMul(DimScalar(1 / n), J)))), Ones(1, 1)),
    "1ᵀ(A ⊙ B)1 = tr(AB)": (MatMul(Transpose(one), Hadamard(A, B), one), Trace(MatMul(A, B))),
}


@pytest.mark.parametrize("name", sorted(TRAPS_A))
def test_size_traps_fail(name):
    lhs, rhs = TRAPS_A[name]
    verdict = verify_equal(lhs, rhs)
    assert verdict.status == "failed", verdict.method
    assert verdict.counterexample is not None  # an exact integer counterexample at a size where it is false


def test_a_pole_states_the_sizes_it_holds_for():
    c = Add(x, Scale(-1, MatMul(one, DimScalar(1 / n), Transpose(one), x)))
    lhs = MatMul(DimScalar(1 / (n - 1)), Transpose(c), c)
    rhs = MatMul(DimScalar(1 / (n - 1)), Add(MatMul(Transpose(x), x),
                                             Scale(-1, MatMul(DimScalar(1 / n), Transpose(one), x, Transpose(one), x))))
    verdict = verify_equal(lhs, rhs)
    assert verdict.status == "verified" and "n ∉ {1}" in verdict.method


def test_bessel_mixed_with_one_over_n_fails():
    c = Add(x, Scale(-1, MatMul(one, DimScalar(1 / n), Transpose(one), x)))
    lhs = MatMul(DimScalar(1 / (n - 1)), Transpose(c), c)
    rhs = MatMul(DimScalar(1 / n), Transpose(c), c)
    assert verify_equal(lhs, rhs).status == "failed"


# -- Part B: entrywise functions -----------------------------------------------------------
sig_prime = Fn("sigmoid", z, 1)
SIGMOID_STEPS = [
    (verify_first_order, sigmoid(Add(MatMul(W, Add(x, dx)), b)), Add(sigmoid(z), Hadamard(sig_prime, MatMul(W, dx)))),
    (verify_equal, Inner(g, Hadamard(sig_prime, MatMul(W, dx))), Inner(Hadamard(g, sig_prime), MatMul(W, dx))),
    (verify_equal, Inner(Hadamard(g, sig_prime), MatMul(W, dx)), Inner(MatMul(Transpose(W), Hadamard(g, sig_prime)), dx)),
    (verify_equal, sig_prime, Hadamard(sigmoid(z), Add(Ones("m", 1), Scale(-1, sigmoid(z))))),
    (verify_equal, Transpose(sigmoid(A)), sigmoid(Transpose(A))),
    (verify_equal, relu(x), Hadamard(x, step(x))),
]


@pytest.mark.parametrize("i", range(len(SIGMOID_STEPS)))
def test_entrywise_steps_verify(i):
    check, lhs, rhs = SIGMOID_STEPS[i]
    verdict = check(lhs, rhs)
    assert verdict.status == "verified", verdict.method + verdict.reason
    assert "atom-abstraction" in verdict.methods


Ws = Sym("W", "n", "n")  # square: the shapes cannot catch a missing transpose
zs = Add(MatMul(Ws, x), Sym("c", "n", 1))
gs = Sym("g", "n", 1)
SIGMOID_RIGHT = MatMul(Transpose(Ws), Hadamard(gs, Fn("sigmoid", zs, 1)))
SIGMOID_WRONG = {
    "missing transpose": MatMul(Ws, Hadamard(gs, Fn("sigmoid", zs, 1))),
    "σ′ at the wrong point (bias forgotten)": MatMul(Transpose(Ws), Hadamard(gs, Fn("sigmoid", MatMul(Ws, x), 1))),
    "misplaced ⊙": Hadamard(MatMul(Transpose(Ws), gs), Fn("sigmoid", zs, 1)),
    "tanh′ formula for σ′": MatMul(Transpose(Ws), Hadamard(gs, Add(Ones("n", 1), Scale(-1, Hadamard(sigmoid(zs), sigmoid(zs)))))),
}


def test_sigmoid_gradient_verifies():
    verdict = check_gradient(sigmoid(zs), x, SIGMOID_RIGHT, gs)
    assert verdict.status == "verified", verdict.reason


@pytest.mark.parametrize("name", sorted(SIGMOID_WRONG))
def test_sigmoid_wrong_variants_fail_with_a_certified_counterexample(name):
    verdict = check_gradient(sigmoid(zs), x, SIGMOID_WRONG[name], gs)
    assert verdict.status == "failed", verdict.method + verdict.reason
    assert "certified-interval" in verdict.methods and verdict.counterexample is not None
    assert "disjoint" in verdict.counterexample.note


def test_dropped_relu_mask_fails():
    """Trap 6: with positive random data a float screen accepts the gradient without the mask."""
    dz = delta_of(Sym("z", "n", 1))
    zz = Sym("z", "n", 1)
    verdict = verify_first_order(relu(Add(zz, dz)), Add(relu(zz), dz))
    assert verdict.status == "failed" and "certified-interval" in verdict.methods


def test_relu_jet_is_almost_everywhere():
    zz, dz = Sym("z", "n", 1), delta_of(Sym("z", "n", 1))
    verdict = verify_first_order(relu(Add(zz, dz)), Add(relu(zz), Hadamard(step(zz), dz)))
    assert verdict.status == "verified" and "almost everywhere" in verdict.method


def test_nested_step_is_not_verified():
    """Trap 9: step(relu z) = step(z) depends on the convention step(0)."""
    zz = Sym("z", "n", 1)
    assert verify_equal(step(relu(zz)), step(zz)).status != "verified"


def test_jet_at_an_argument_identically_zero_is_refused():
    """step is not differentiable at 0: the diagonal of X − Xᵀ is identically 0."""
    X = Sym("X", "n", "n")
    dX = delta_of(X)
    arg = Add(X, Scale(-1, Transpose(X)), dX)
    verdict = verify_first_order(relu(arg), Add(relu(Add(X, Scale(-1, Transpose(X)))), Hadamard(step(Add(X, Scale(-1, Transpose(X)))), dX)))
    assert verdict.status == "undecided" and "identically 0" in verdict.reason


def test_a_true_relation_between_functions_is_undecided_never_failed():
    """tanh x = 2σ(2x) − 1 holds; the abstraction cannot see it (§3.7 (3))."""
    verdict = verify_equal(tanh(x), Add(Scale(2, sigmoid(Scale(2, x))), Scale(-1, one)))
    assert verdict.status == "undecided"


def test_value_keys_are_by_value_not_by_syntax():
    """σ(A + B) and σ(B + A) are one atom; σ(x) ⊙ σ(x) is not σ(x)."""
    assert verify_equal(sigmoid(Add(A, B)), sigmoid(Add(B, A))).status == "verified"
    assert verify_equal(Hadamard(sigmoid(x), sigmoid(x)), sigmoid(x)).status == "failed"


# -- Domains (§1.6, trap 5) ------------------------------------------------------------------
def test_right_side_undefined_where_the_left_is_defined_fails():
    verdict = verify_equal(x, exp(log(x)))
    assert verdict.status == "failed" and "undefined" in verdict.counterexample.note


def test_log_of_a_product_needs_positive_factors():
    verdict = verify_equal(log(Hadamard(x, y)), Add(log(x), log(y)))
    assert verdict.status == "failed"


def test_log_of_exp_is_the_identity():
    assert verify_equal(log(exp(Add(x, y))), Add(y, x)).status == "verified"


def test_declared_positivity_makes_a_log_defined():
    lhs = MatMul(Transpose(one), x)
    rhs = Add(MatMul(Transpose(one), x), Inner(log(x), Zero("n", 1)))
    assert verify_equal(lhs, rhs).status != "verified"
    assert verify_equal(lhs, rhs, hypotheses=(Hypothesis("positive", x),)).status == "verified"


# -- Hypotheses (part D, traps 3 and 4) --------------------------------------------------------
zz = Sym("z", "n", 1)
softmax = MatMul(recip(MatMul(Transpose(one), exp(zz))), exp(zz))
CE = Scale(-1, Inner(y, log(softmax)))


def test_softmax_cross_entropy_needs_its_hypothesis():
    right = Add(softmax, Scale(-1, y))
    without = check_gradient(CE, zz, right)
    assert without.status == "failed" and "certified-interval" in without.methods
    under = check_gradient(CE, zz, right, hypotheses=(Hypothesis("sums-to", y),))
    assert under.status == "verified" and "1^T y = 1" in under.method


def test_quadratic_form_gradient_needs_symmetry():
    """Trap 3: symmetric test data hide the missing transpose."""
    L = MatMul(Transpose(x), A, x)
    assert check_gradient(L, x, Scale(2, MatMul(A, x))).status == "failed"
    assert check_gradient(L, x, MatMul(Add(A, Transpose(A)), x)).status == "verified"
    under = check_gradient(L, x, Scale(2, MatMul(A, x)), hypotheses=(Hypothesis("symmetric", A),))
    assert under.status == "verified" and "A = A^T" in under.method


def test_logsumexp_gradient():
    lse = log(MatMul(Transpose(one), exp(zz)))
    assert check_gradient(lse, zz, softmax).status == "verified"
    forgot = check_gradient(lse, zz, exp(zz))
    assert forgot.status == "failed"


# -- Soundness property: a verified claim is true at random points ---------------------------
FUNCS = ["exp", "sigmoid", "tanh", "softplus"]


def _expr(draw, depth):
    leaves = [x, y, Scale(2, x), Add(x, y), MatMul(one, MatMul(Transpose(one), y))]
    if depth == 0:
        return draw(st.sampled_from(leaves))
    kind = draw(st.sampled_from(["leaf", "fn", "add", "had", "scale"]))
    if kind == "leaf":
        return draw(st.sampled_from(leaves))
    if kind == "fn":
        return Fn(draw(st.sampled_from(FUNCS)), _expr(draw, depth - 1), draw(st.sampled_from([0, 0, 1])))
    if kind == "scale":
        return Scale(draw(st.sampled_from([-1, 2])), _expr(draw, depth - 1))
    a, c = _expr(draw, depth - 1), _expr(draw, depth - 1)
    return Add(a, c) if kind == "add" else Hadamard(a, c)


@st.composite
def claims(draw):
    lhs = _expr(draw, 2)
    if draw(st.booleans()):  # a rewrite that keeps the value, or a random other expression
        rhs = draw(st.sampled_from([Transpose(Transpose(lhs)), Add(lhs, Zero("n", 1)), Hadamard(lhs, one)]))
    else:
        rhs = _expr(draw, 2)
    return lhs, rhs


def _value(e, env, k):
    """High-precision floats (only to test the checker, never inside it)."""
    from symderiv.kernel.atoms import lower

    mpmath.mp.dps = 40
    funcs = {"exp": mpmath.exp, "sigmoid": lambda t: 1 / (1 + mpmath.exp(-t)), "tanh": mpmath.tanh,
             "softplus": lambda t: mpmath.log(1 + mpmath.exp(t)), "recip": lambda t: 1 / t, "step": lambda t: 1 if t > 0 else 0}
    from symderiv.kernel.evaluate import Arith, evaluate

    ar = Arith(mpmath.mpf(0), lambda c: mpmath.mpf(c.numerator) / c.denominator, lambda name, p, t: funcs[name](t))
    return evaluate(lower(e), env, {"n": k}, ar)


@settings(max_examples=60, deadline=None)
@given(claims(), st.integers(min_value=0, max_value=10_000))
def test_verified_claims_hold_numerically(claim, seed):
    lhs, rhs = claim
    verdict = verify_equal(lhs, rhs)
    if verdict.status != "verified":
        return
    rng = random.Random(seed)
    for k in (1, 2, 3):
        env = {s: [[mpmath.mpf(rng.uniform(-2, 2))] for _ in range(k)] for s in ("x", "y")}
        a, c = _value(lhs, env, k), _value(rhs, env, k)
        for ra, rc in zip(a, c):
            for p, q in zip(ra, rc):
                assert abs(p - q) < mpmath.mpf(10) ** -25 * (1 + abs(p)), (lhs, rhs)


# -- Part C: scalar denominators and square roots ---------------------------------------------
def test_softmax_sums_to_one_after_clearing_the_denominator():
    verdict = verify_equal(MatMul(Transpose(one), softmax), Ones(1, 1))
    assert verdict.status == "verified" and "cleared-denominators" in verdict.methods


def test_softmax_sums_to_two_fails():
    assert verify_equal(MatMul(Transpose(one), softmax), Scale(2, Ones(1, 1))).status == "failed"


def test_square_root_pairs_reduce():
    eps = Sym("epsilon", 1, 1)
    s = Add(MatMul(Transpose(x), x), eps)
    lhs = MatMul(Fn("sqrt", s), Fn("sqrt", s))
    assert verify_equal(lhs, s, hypotheses=(Hypothesis("positive", eps),)).status == "verified"


def _layer_norm():
    eps = Sym("epsilon", 1, 1)
    mu = MatMul(DimScalar(1 / n), Transpose(one), x)
    c = Add(x, Scale(-1, MatMul(one, mu)))
    sigma = Fn("sqrt", Add(MatMul(DimScalar(1 / n), Transpose(c), c), eps))
    xhat = MatMul(recip(sigma), c)
    return eps, sigma, xhat


def test_layer_norm_gradient_and_two_wrong_twins():
    eps, sigma, xhat = _layer_norm()
    hyp = (Hypothesis("positive", eps),)
    mean_g = MatMul(one, DimScalar(1 / n), Transpose(one), v)
    proj = MatMul(xhat, DimScalar(1 / n), Transpose(xhat), v)
    right = MatMul(recip(sigma), Add(v, Scale(-1, mean_g), Scale(-1, proj)))
    assert check_gradient(xhat, x, right, v, hypotheses=hyp).status == "verified"
    constant_sigma = MatMul(recip(sigma), Add(v, Scale(-1, mean_g)))  # σ treated as a constant
    forgot_mean = MatMul(recip(sigma), Add(v, Scale(-1, proj)))
    for wrong in (constant_sigma, forgot_mean):
        verdict = check_gradient(xhat, x, wrong, v, hypotheses=hyp)
        assert verdict.status == "failed" and "certified-interval" in verdict.methods


def test_entrywise_exp_of_a_diagonal_matrix_is_not_the_matrix_exponential():
    """Trap 8: exp(diag v) has ones off the diagonal."""
    verdict = verify_equal(exp(diag(v)), diag(exp(v)))
    assert verdict.status == "failed" and verdict.counterexample.sizes == {"n": 2}


# -- Part F: row-wise softmax and attention ------------------------------------------------------
def _attention():
    from symderiv.lang.operators import softmax

    Q, K, V, G = Sym("Q", "t", "d"), Sym("K", "s", "d"), Sym("V", "s", "e"), Sym("G", "t", "e")
    c = Sym("c", 1, 1)
    Att = softmax(MatMul(c, Q, Transpose(K)))
    M = MatMul(G, Transpose(V))
    dS = Hadamard(Att, Add(M, Scale(-1, MatMul(Hadamard(Att, M), Ones("s", 1), Transpose(Ones("s", 1))))))
    return Q, K, V, G, c, Att, M, dS


def test_attention_gradients_verify():
    Q, K, V, G, c, Att, M, dS = _attention()
    Y = MatMul(Att, V)
    for wrt, grad in ((V, MatMul(Transpose(Att), G)), (Q, MatMul(c, dS, K)), (K, MatMul(c, Transpose(dS), Q))):
        verdict = check_gradient(Y, wrt, grad, G)
        assert verdict.status == "verified", (wrt, verdict.reason)


def test_attention_wrong_twins_fail():
    Q, K, V, G, c, Att, M, dS = _attention()
    Y = MatMul(Att, V)
    rank_one_forgotten = MatMul(c, Hadamard(Att, M), K)
    verdict = check_gradient(Y, Q, rank_one_forgotten, G)
    assert verdict.status == "failed" and "certified-interval" in verdict.methods


def test_row_softmax_is_not_transpose_equivariant():
    from symderiv.lang.operators import softmax

    S = Sym("S", "n", "n")
    assert verify_equal(Transpose(softmax(S)), softmax(Transpose(S))).status == "failed"


def test_a_counterexample_under_a_hypothesis_satisfies_it():
    """The screen samples the parameters of the onto substitution; the report shows the symbols'
    own values, which must satisfy 1ᵀy = 1 (trap 5: a counterexample outside the hypothesis proves nothing)."""
    from fractions import Fraction

    verdict = check_gradient(CE, zz, Add(softmax, y), hypotheses=(Hypothesis("sums-to", y),))
    assert verdict.status == "failed"
    shown = verdict.counterexample.values["y"]
    assert sum(Fraction(row[0]) for row in shown) == 1


def test_a_second_proof_that_did_not_run_is_never_claimed():
    """With the double check asked for but too large for the budget, the method says it did not run."""
    from symderiv.kernel.decide import Budget

    small = Budget(double_check=True, max_explicit_monomials=0)
    for lhs, rhs in ((Trace(MatMul(A, B)), Trace(MatMul(B, A))), (Trace(Id), DimScalar(n))):
        verdict = verify_equal(lhs, rhs, small)
        assert verdict.status == "verified"
        assert "was not run" in verdict.method and "explicit-polynomial" not in verdict.methods
        full = verify_equal(lhs, rhs, Budget(double_check=True))
        assert "explicit-polynomial" in full.methods and "was not run" not in full.method


# ---------------------------------------------------------------------------------------
# √ on the left side supplies the domain of 1/u on the right (u ≥ 0 and √u ≠ 0 give u > 0)
# ---------------------------------------------------------------------------------------
u_s = Sym("u", 1, 1)


def test_one_over_root_squared_is_one_over_the_radicand():
    """recip(√u)·recip(√u) = recip(u): the left side is defined only where u > 0, which is where the
    right side needs u ≠ 0 (C1 clears both reciprocals, C2 reduces √u·√u)."""
    r = Fn("recip", Fn("sqrt", u_s))
    v = verify_equal(MatMul(r, r), recip(u_s))
    assert v.status == "verified", v.reason


def test_root_alone_does_not_supply_a_nonzero_radicand():
    """√u on the left is defined at u = 0, where u·recip(√u) on the right is not: never verified."""
    root = Fn("sqrt", u_s)
    v = verify_equal(root, MatMul(u_s, Fn("recip", root)))
    assert v.status != "verified", v.reason


def test_wrong_power_of_the_radicand_fails():
    r = Fn("recip", Fn("sqrt", u_s))
    v = verify_equal(MatMul(r, r, r, r), recip(u_s))
    assert v.status == "failed", v.reason


def test_a_dimension_with_assumptions_is_the_dimension_of_the_shapes():
    """SymPy's n declared integer and positive, used in a coefficient, is the n of the shapes (by name,
    as dimensions are compared), so n·x/n = x; the slip n·x/(n + 1) = x fails."""
    npos = sympy.Symbol("n", integer=True, positive=True)
    assert DimScalar(npos / n).value == 1
    assert verify_equal(MatMul(DimScalar(npos), DimScalar(1 / n), x), x).status == "verified"
    assert verify_equal(MatMul(DimScalar(npos / (n + 1)), x), x).status == "failed"


def test_log_prime_is_defined_where_log_is():
    """log′(u) = 1/u only on (0, ∞), log's domain (§3.1): 1/u = log′(u) is refuted at a u < 0 where the
    left side is defined; log′(u) = 1/u and, under u > 0, 1/u = log′(u) are verified."""
    from symderiv import positive

    lp = Fn("log", u_s, prime=1)
    v = verify_equal(recip(u_s), lp)
    assert v.status == "failed" and "domain-witness" in v.methods, v.reason
    assert v.counterexample.values["u"][0][0] < 0 and v.counterexample.rhs == [["undefined"]]
    assert "right side is not" in v.reason
    assert verify_equal(lp, recip(u_s)).status == "verified"
    assert verify_equal(recip(u_s), lp, hypotheses=(positive(u_s),)).status == "verified"

"""Issue 10's catalog layers: derived step by step, every step proved, the Jacobian cross-check
verified; each gradient passes ``assert_gradient`` written with SymPy objects, and wrong variants
fail with a *certified* counterexample (or a proof) — the status and the method are asserted."""
from __future__ import annotations

from fractions import Fraction

import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from sympy import HadamardProduct, Identity, Lambda, MatrixSymbol, OneMatrix

from symderiv import positive, sums_to, symmetric
from symderiv.derive.catalog import CATALOG, ChainLayer, get_layer
from symderiv.derive.engine import derive_backward
from symderiv.derive.rules import RULES, get_rule
from symderiv.kernel.decide import check_gradient, verify_equal
from symderiv.lang.operators import Add, DimScalar, Fn, Hadamard, Inner, MatMul, Ones, Scale, Sym, Transpose
from symderiv.lang.printing import plain
from symderiv.testing import SymderivAssertionError, assert_derivation, assert_gradient

CHAIN = {name: layer for name, layer in CATALOG.items() if isinstance(layer, ChainLayer)}
CASES = [(name, w) for name, layer in CHAIN.items() for w in layer.wrt]

#: the gradient each layer is known to have (written from the textbooks, not from the engine)
EXPECTED = {
    ("sigmoid", "x"): "dL/dy ∘ σ'(x)",
    ("tanh", "x"): "dL/dy ∘ tanh'(x)",
    ("relu", "x"): "dL/dy ∘ relu'(x)",
    ("dense-sigmoid", "x"): "W^T·(dL/dy ∘ σ'(z))",
    ("dense-sigmoid", "W"): "(dL/dy ∘ σ'(z))·x^T",
    ("dense-sigmoid", "b"): "dL/dy ∘ σ'(z)",
    ("softmax-cross-entropy", "z"): "p - y",
    ("logistic-regression", "w"): "X^T·(σ(X·w) - y)",
    ("ridge-regression", "w"): "X^T·(X·w - t) + λ·w",
    ("batched-linear", "X"): "dL/dY·W^T",
    ("batched-linear", "W"): "X^T·dL/dY",
    ("batched-linear", "b"): "dL/dY^T·1_B",
    ("mlp2", "W_1"): "((W_2^T·dL/dy) ∘ relu'(z_1))·x^T",
    ("mlp2", "W_2"): "dL/dy·relu(z_1)^T",
    ("attention", "V"): "P^T·dL/dY",
    ("attention", "Q"): "recip(sqrt(d))·(P ∘ (dL/dY·V^T - (((dL/dY·V^T) ∘ P)·1_T)·1_T^T))·K",
    ("attention", "K"): "recip(sqrt(d))·(P ∘ (dL/dY·V^T - (((dL/dY·V^T) ∘ P)·1_T)·1_T^T))^T·Q",
    ("layer-norm", "x"): "recip(σ)·(dL/dy - 1_n·((1/n)·(1_n^T·dL/dy)) - y·((1/n)·⟨y, dL/dy⟩))",
    # the Matrix Cookbook (eqs. 49, 57, 61) and the Gaussian maximum-likelihood gradients
    ("log-det", "X"): "(X^-1)^T",
    ("determinant", "X"): "det(X)·(X^-1)^T",
    ("trace-inverse", "X"): "-(X^-1)^T·A^T·B^T·(X^-1)^T",
    ("gaussian-nll", "mu"): "-Σ^-1·(x - μ)",
    ("gaussian-nll", "Sigma"): "(1/2)·(Σ^-1 - Σ^-1·(x - μ)·(x - μ)^T·Σ^-1)",
}


def test_every_new_layer_has_an_expected_gradient():
    assert set(CASES) == set(EXPECTED)


@pytest.mark.parametrize("layer,wrt", CASES)
def test_catalog_layer_is_derived_and_every_step_is_proved(layer, wrt):
    d = get_layer(layer).derive(wrt)
    assert d.status == "verified", d.explain()
    assert all(s.status == "verified" for s in d.steps), d.explain()
    assert d.jacobian is not None and d.jacobian.status == "verified"
    assert plain(d.gradient) == EXPECTED[(layer, wrt)]
    assert d.steps[0].rule == "perturbation" and d.steps[-1].rule == "read-off"
    for s in d.steps:
        assert s.rule and get_rule(s.rule) is not None, f"step {s.plain()} names no known rule"
    assert_derivation(d)


def test_every_rule_is_one_function_with_its_formula():
    for name in ("jet-sigmoid", "jet-tanh", "jet-relu", "jet-exp", "jet-log", "jet-softplus", "hadamard-inner",
                 "product-left", "product-right", "outer-product", "inner-of-transposes", "scalar-factor",
                 "product-as-inner", "ones-hadamard", "derivative-table", "factoring", "hypothesis", "restatement"):
        r = RULES[name]
        assert r.func.__doc__ and r.formula and r.title


def test_sigmoid_layer_follows_the_notes():
    d = get_layer("dense-sigmoid").derive("x")
    rules = [s.rule for s in d.steps]
    assert rules == ["perturbation", "jet-sigmoid", "loss-differential", "substitution", "hadamard-inner",
                     "product-left", "restate", "read-off"]
    jet = d.steps[1]
    assert jet.verdict.relation == "first-order" and "atom-abstraction" in jet.verdict.methods
    assert get_rule("jet-sigmoid").formula == r"\Delta \sigma(z) \doteq \sigma'(z) \odot \Delta z"


def test_bias_broadcast_uses_the_outer_product_rule():
    d = get_layer("batched-linear").derive("b")
    assert "outer-product" in [s.rule for s in d.steps]
    assert get_rule("outer-product").formula == r"\langle G, \mathbf{1} b^{T} \rangle = \langle G^{T} \mathbf{1}, b \rangle"


def test_mlp_keeps_the_relu_mask_and_states_almost_everywhere():
    d = get_layer("mlp2").derive("W_1")
    jet = next(s for s in d.steps if s.rule == "jet-relu")
    assert "almost everywhere" in jet.verdict.method


# ---------------------------------------------------------------------------------------
# softmax + cross-entropy: verified only under 1ᵀy = 1
# ---------------------------------------------------------------------------------------
def test_softmax_ce_needs_the_hypothesis_at_exactly_one_step():
    d = get_layer("softmax-cross-entropy").derive("z")
    assert d.status == "verified"
    under = [s for s in d.steps if "hypotheses" in s.verdict.methods]
    assert [s.rule for s in under] == ["hypothesis"]
    assert "1^T y = 1" in under[0].verdict.method
    assert "hypotheses" in d.jacobian.methods
    remark = next(r for r in d.to_dict()["remarks"] if r["title"].startswith("Verified under"))
    assert remark["title"] == "Verified under 1ᵀy = 1"
    assert "(under 1ᵀy = 1)" in d.title


def test_softmax_ce_without_the_hypothesis_fails_with_a_certified_counterexample():
    layer = get_layer("softmax-cross-entropy")
    z = layer.symbol("z")
    d = derive_backward(layer.output, layer.forward, z, is_loss=True, restate=layer.restate,
                        present=layer.present["z"])
    step = next(s for s in d.steps if s.rule == "hypothesis")
    assert step.status == "failed"
    assert "certified-interval" in step.verdict.methods
    assert step.verdict.counterexample is not None
    assert d.jacobian.status == "failed" and "certified-interval" in d.jacobian.methods


def test_softmax_report_says_verified_under_the_hypothesis():
    from symderiv.report.render import render

    md = render([get_layer("softmax-cross-entropy").derive("z")], "md")
    assert "**Verified under 1ᵀy = 1.**" in md
    assert "by a stated hypothesis" in md


# ---------------------------------------------------------------------------------------
# SymPy objects: assert_gradient for each layer, and wrong variants
# ---------------------------------------------------------------------------------------
n, m, N, d, B, k, h = sp.symbols("n m N d B k h", integer=True, positive=True)
_v = sp.Symbol("v")
SIGMA = Lambda(_v, 1 / (1 + sp.exp(-_v)))
RELU = Lambda(_v, sp.Max(0, _v))
SOFTPLUS = Lambda(_v, sp.log(1 + sp.exp(_v)))


def sig(M):
    return M.applyfunc(SIGMA)


def sig_prime(M):
    s = sig(M)
    return HadamardProduct(s, OneMatrix(*M.shape) - s)


def tanh_prime_formula(s):
    """The tanh′ formula 1 − s² applied to s (the slip: σ′ written as 1 − σ²)."""
    return OneMatrix(*s.shape) - HadamardProduct(s, s)


def step(M):
    return M.applyfunc(sp.Heaviside)


def loss(g, y):
    return sp.Trace(g.T * y)


def _layers():
    """(name, L, wrt, correct gradient, [(slip, wrong gradient)], hypotheses) with SymPy objects."""
    x, g = MatrixSymbol("x", n, 1), MatrixSymbol("g", n, 1)
    out = []
    tx = x.applyfunc(sp.tanh)
    out.append(("sigmoid", loss(g, sig(x)), x, HadamardProduct(g, sig_prime(x)), [
        ("tanh′ formula for σ′", HadamardProduct(g, tanh_prime_formula(sig(x)))),
        ("σ for σ′", HadamardProduct(g, sig(x))),
    ], ()))
    out.append(("tanh", loss(g, tx), x, HadamardProduct(g, tanh_prime_formula(tx)), [
        ("σ′ formula for tanh′", HadamardProduct(g, HadamardProduct(tx, OneMatrix(n, 1) - tx))),
        ("1 − tanh for tanh′", HadamardProduct(g, OneMatrix(n, 1) - tx)),
    ], ()))
    out.append(("relu", loss(g, x.applyfunc(RELU)), x, HadamardProduct(g, step(x)), [
        ("dropped ReLU mask", g),
        ("relu for relu′", HadamardProduct(g, x.applyfunc(RELU))),
    ], ()))
    # dense sigmoid with a square W, so that a missing transpose is well-typed
    W, b, gn = MatrixSymbol("W", n, n), MatrixSymbol("b", n, 1), MatrixSymbol("g", n, 1)
    zz = W * x + b
    delta = HadamardProduct(gn, sig_prime(zz))
    Ld = loss(gn, sig(zz))
    out.append(("dense-sigmoid dx", Ld, x, W.T * delta, [
        ("missing transpose", W * delta),
        ("σ′ at Wx (bias forgotten)", W.T * HadamardProduct(gn, sig_prime(W * x))),
        ("misplaced ⊙", HadamardProduct(W.T * gn, sig_prime(zz))),
        ("tanh′ formula for σ′", W.T * HadamardProduct(gn, tanh_prime_formula(sig(zz)))),
    ], ()))
    out.append(("dense-sigmoid dW", Ld, W, delta * x.T, [
        ("transposed outer product", x * delta.T),
        ("σ′ at Wx (bias forgotten)", HadamardProduct(gn, sig_prime(W * x)) * x.T),
    ], ()))
    out.append(("dense-sigmoid db", Ld, b, delta, [
        ("σ for σ′", HadamardProduct(gn, sig(zz))),
        ("upstream gradient only", gn),
    ], ()))
    # softmax + cross-entropy
    z, y = MatrixSymbol("z", n, 1), MatrixSymbol("y", n, 1)
    ez = z.applyfunc(sp.exp)
    p = ez * (1 / sp.Trace(OneMatrix(1, n) * ez))
    Ls = -sp.Trace(y.T * p.applyfunc(sp.log))
    out.append(("softmax-cross-entropy", Ls, z, p - y, [
        ("normaliser forgotten", ez - y),
        ("sign slip", y - p),
    ], (sums_to(y),)))
    # logistic regression; X square for the missing transpose
    X, w, t = MatrixSymbol("X", N, N), MatrixSymbol("w", N, 1), MatrixSymbol("y", N, 1)
    Ll = sp.Trace(OneMatrix(1, N) * (X * w).applyfunc(SOFTPLUS)) - sp.Trace(t.T * X * w)
    out.append(("logistic-regression", Ll, w, X.T * (sig(X * w) - t), [
        ("MSE-style σ′ factor", X.T * HadamardProduct(sig_prime(X * w), sig(X * w) - t)),
        ("sign slip", X.T * (t - sig(X * w))),
        ("missing transpose", X * (sig(X * w) - t)),
    ], ()))
    # ridge regression with a scalar λ
    lam = sp.Symbol("lambda")
    Xr, wr, tr = MatrixSymbol("X", N, d), MatrixSymbol("w", d, 1), MatrixSymbol("t", N, 1)
    r = Xr * wr - tr
    Lr = sp.Rational(1, 2) * sp.Trace(r.T * r) + lam / 2 * sp.Trace(wr.T * wr)
    out.append(("ridge-regression", Lr, wr, Xr.T * r + lam * wr, [
        ("λ/2 kept", Xr.T * r + lam / 2 * wr),
        ("penalty forgotten", Xr.T * r),
    ], ()))
    # batched linear with a broadcast bias; square shapes for the transpose slips
    Xb, Wb, bb, G = MatrixSymbol("X", B, B), MatrixSymbol("W", B, B), MatrixSymbol("b", B, 1), MatrixSymbol("G", B, B)
    Lb = sp.Trace(G.T * (Xb * Wb + OneMatrix(B, 1) * bb.T))
    one = OneMatrix(B, 1)
    out.append(("batched-linear db", Lb, bb, G.T * one, [
        ("mean instead of sum", G.T * one / B),
        ("row sums instead of column sums", G * one),
    ], ()))
    out.append(("batched-linear dW", Lb, Wb, Xb.T * G, [("missing transpose", Xb * G), ("wrong order", G.T * Xb)], ()))
    out.append(("batched-linear dX", Lb, Xb, G * Wb.T, [("missing transpose", G * Wb), ("wrong order", Wb.T * G)], ()))
    # two-layer MLP; k = h = n for the transpose slip
    W1, b1, W2, b2 = MatrixSymbol("W1", n, n), MatrixSymbol("b1", n, 1), MatrixSymbol("W2", n, n), MatrixSymbol("b2", n, 1)
    z1 = W1 * x + b1
    Lm = loss(g, W2 * z1.applyfunc(RELU) + b2)
    out.append(("mlp2 dW1", Lm, W1, HadamardProduct(W2.T * g, step(z1)) * x.T, [
        ("dropped ReLU mask", (W2.T * g) * x.T),
        ("relu for relu′", HadamardProduct(W2.T * g, z1.applyfunc(RELU)) * x.T),
        ("missing transpose", HadamardProduct(W2 * g, step(z1)) * x.T),
    ], ()))
    out.append(("mlp2 dW2", Lm, W2, g * z1.applyfunc(RELU).T, [
        ("relu′ for relu", g * step(z1).T),
        ("transposed", z1.applyfunc(RELU) * g.T),
    ], ()))
    # single-head attention with SymPy objects: the row-wise softmax as diag(1/(e^S 1)) e^S
    T, dk, e = sp.symbols("T d e", integer=True, positive=True)
    Q, K, V, G = (MatrixSymbol("Q", T, dk), MatrixSymbol("K", T, dk), MatrixSymbol("V", T, e),
                  MatrixSymbol("G", T, e))
    ES = (Q * K.T / sp.sqrt(dk)).applyfunc(sp.exp)
    P = sp.DiagMatrix((ES * OneMatrix(T, 1)).applyfunc(Lambda(_v, 1 / _v))) * ES
    La = sp.Trace(G.T * P * V)
    dP = G * V.T
    dS = HadamardProduct(P, dP - HadamardProduct(dP, P) * OneMatrix(T, 1) * OneMatrix(1, T))
    out.append(("attention dV", La, V, P.T * G, [("missing transpose", P * G), ("upstream only", G)], ()))
    out.append(("attention dQ", La, Q, dS * K / sp.sqrt(dk), [
        ("column-softmax Jacobian", dS.T * K / sp.sqrt(dk)),
        ("row-sum term forgotten", HadamardProduct(P, dP) * K / sp.sqrt(dk)),
        ("1/√d forgotten", dS * K),
    ], ()))
    out.append(("attention dK", La, K, dS.T * Q / sp.sqrt(dk), [
        ("dQ's formula", dS * Q / sp.sqrt(dk)),
        ("K for Q", dS.T * K / sp.sqrt(dk)),
    ], ()))
    return out


LAYERS = _layers()


@pytest.mark.parametrize("name,L,wrt,G,wrong,hyps", LAYERS, ids=[c[0] for c in LAYERS])
def test_correct_gradient_passes_assert_gradient(name, L, wrt, G, wrong, hyps):
    v = assert_gradient(L, wrt, G, hypotheses=list(hyps))
    assert v.status == "verified"


#: slips the kernel leaves undecided today (each is a kernel limitation, reported)
KERNEL_MISSES: dict[tuple[str, str], str] = {
    # ("attention dQ", "1/√d forgotten") was here: the certified screen now tries every combination of
    # sizes up to 2, so d = 2 exposes the slip
}
WRONG = [pytest.param(c[0], slip, c[1], c[2], bad, c[5], id=f"{c[0]}: {slip}",
                      marks=[pytest.mark.xfail(strict=True, reason=KERNEL_MISSES[(c[0], slip)])]
                      if (c[0], slip) in KERNEL_MISSES else [])
         for c in LAYERS for slip, bad in c[4]]


@pytest.mark.parametrize("name,slip,L,wrt,bad,hyps", WRONG)
def test_wrong_variant_fails_with_a_certificate(name, slip, L, wrt, bad, hyps):
    with pytest.raises(SymderivAssertionError) as info:
        assert_gradient(L, wrt, bad, assume=list(hyps))
    v = info.value.verdict
    assert v.status == "failed", (slip, v.method)
    # atoms: refuted only by certified intervals; polynomial claims: canonical forms or the explicit
    # Jacobian at the size bound prove inequality (Theorem 1)
    assert {"certified-interval", "canonical-form", "explicit-jacobian"} & set(v.methods), v.methods
    if any(isinstance(node, Fn) for node in (v.lhs.walk() if v.lhs is not None else [])):
        assert "certified-interval" in v.methods
    assert v.counterexample is not None or "canonical-form" in v.methods
    assert "Falsifying example" in str(info.value)


def test_softmax_p_minus_y_without_the_hypothesis_fails_certified():
    z, y = MatrixSymbol("z", n, 1), MatrixSymbol("y", n, 1)
    ez = z.applyfunc(sp.exp)
    p = ez * (1 / sp.Trace(OneMatrix(1, n) * ez))
    Ls = -sp.Trace(y.T * p.applyfunc(sp.log))
    with pytest.raises(SymderivAssertionError) as info:
        assert_gradient(Ls, z, p - y)
    v = info.value.verdict
    assert v.status == "failed" and "certified-interval" in v.methods
    assert "hypotheses" not in v.methods
    # the tuple form and the top-level constructor say the same
    assert assert_gradient(Ls, z, p - y, assume=[("sums-to", y)]).status == "verified"
    assert assert_gradient(Ls, z, p - y, hypotheses=[("sums-to", y, 1)]).status == "verified"


def test_counterexample_satisfies_the_hypothesis():
    """A refutation under 1ᵀy = 1 must not use a y that violates it (trap 5)."""
    z, y = MatrixSymbol("z", n, 1), MatrixSymbol("y", n, 1)
    ez = z.applyfunc(sp.exp)
    p = ez * (1 / sp.Trace(OneMatrix(1, n) * ez))
    Ls = -sp.Trace(y.T * p.applyfunc(sp.log))
    v = check_gradient(Ls, Sym("z", n, 1), ez - y, hypotheses=(sums_to(y),))
    assert v.status == "failed" and "hypotheses" in v.methods


def test_identity_and_hadamard_from_sympy():
    x, A = MatrixSymbol("x", n, 1), MatrixSymbol("A", n, n)
    assert_gradient(sp.Trace(x.T * Identity(n) * x), x, 2 * x)
    assert_gradient(sp.Trace(OneMatrix(1, n) * HadamardProduct(x, x)), x, 2 * x)
    # ∇ xᵀAx = 2Ax only for symmetric A (trap 3): proved under the hypothesis, refuted without
    assert_gradient(sp.Trace(x.T * A * x), x, 2 * A * x, assume=[symmetric(A)])
    with pytest.raises(SymderivAssertionError):
        assert_gradient(sp.Trace(x.T * A * x), x, 2 * A * x)


def test_hypotheses_reject_unreadable_input():
    from symderiv.derive.assumptions import as_hypothesis
    from symderiv.errors import SymderivError

    with pytest.raises(SymderivError):
        as_hypothesis("1^T y = 1")
    with pytest.raises(SymderivError):
        as_hypothesis(("symmetric", MatrixSymbol("A", n, n), 2))
    assert as_hypothesis(positive(MatrixSymbol("x", n, 1))).kind == "positive"


# ---------------------------------------------------------------------------------------
# Traps of §10 that apply to these layers
# ---------------------------------------------------------------------------------------
def test_trap_single_size_constants():
    one = Ones("n", 1)
    s = MatMul(Transpose(one), one)
    v = verify_equal(MatMul(s, s), Scale(2, s))  # true only at n = 2
    assert v.status == "failed"


def test_trap_identity_minus_ones_squared_is_not_identity():
    from symderiv.lang.operators import Identity as Id

    n_ = "n"
    J = MatMul(Ones(n_, 1), Transpose(Ones(n_, 1)))
    M = Add(Id(n_), Scale(-1, J))
    assert verify_equal(MatMul(M, M), Id(n_)).status == "failed"  # holds at n = 2 only


def test_trap_mean_instead_of_sum_leaves_a_dimension_polynomial():
    G, b = Sym("G", "B", "k"), Sym("b", "k", 1)
    fwd = MatMul(Ones("B", 1), Transpose(b))
    v = check_gradient(fwd, b, MatMul(DimScalar(1 / sp.Symbol("B")), MatMul(Transpose(G), Ones("B", 1))), G)
    assert v.status == "failed"


def test_trap_saturation_does_not_hide_the_tanh_formula():
    """σ′ vs 1 − σ²: floats at saturated points agree; the certified screen refutes anyway."""
    x, g = Sym("x", "n", 1), Sym("g", "n", 1)
    s = Fn("sigmoid", x)
    bad = Hadamard(g, Add(Ones("n", 1), Scale(-1, Hadamard(s, s))))
    v = check_gradient(Fn("sigmoid", x), x, bad, g)
    assert v.status == "failed" and "certified-interval" in v.methods


def test_trap_relu_derivative_off_null_sets_only():
    """Trap 9: relu′ = step holds off the zero set of the argument only when that set is null and the
    argument has no step inside; otherwise the jet is refused (undecided, never verified)."""
    x, g = Sym("x", "n", 1), Sym("g", "n", 1)
    nested = check_gradient(Fn("relu", Fn("relu", x)), x, Hadamard(g, Fn("step", x)), g)
    assert nested.status == "undecided"
    zero = check_gradient(Fn("relu", Add(x, Scale(-1, x))), x, Scale(0, g), g)
    assert zero.status == "undecided"
    plain_relu = check_gradient(Fn("relu", x), x, Hadamard(g, Fn("step", x)), g)
    assert plain_relu.status == "verified" and "almost everywhere" in plain_relu.method


# ---------------------------------------------------------------------------------------
# Property tests: random sizes never flip a verdict (they are proofs for all sizes)
# ---------------------------------------------------------------------------------------
@settings(max_examples=15, deadline=None)
@given(st.sampled_from(["sigmoid", "tanh", "relu", "exp", "softplus"]), st.sampled_from(["sigmoid", "tanh", "relu", "exp", "softplus"]))
def test_jet_of_one_function_never_proves_another(f, other):
    """The gradient of ⟨g, f(x)⟩ is g ⊙ f′(x); with another function's derivative it is refuted with
    a certificate, never verified (distinct functions in the table have distinct derivatives)."""
    x, g = Sym("x", "n", 1), Sym("g", "n", 1)
    v = check_gradient(Fn(f, x), x, Hadamard(g, Fn(other, x, 1)), g)
    if f == other or {f, other} == {"exp"}:
        assert v.status == "verified"
    else:
        assert v.status == "failed", (f, other, v.method)
        assert "certified-interval" in v.methods


@settings(max_examples=12, deadline=None)
@given(st.fractions(min_value=-3, max_value=3, max_denominator=4).filter(lambda c: c != 1))
def test_scaled_sigmoid_gradient_is_refuted(c):
    x, g = Sym("x", "n", 1), Sym("g", "n", 1)
    good = Hadamard(g, Fn("sigmoid", x, 1))
    v = check_gradient(Fn("sigmoid", x), x, Scale(Fraction(c), good) if c != 0 else Scale(0, good), g)
    assert v.status == "failed"


# ---------------------------------------------------------------------------------------
# The Derivation API with SymPy objects, hypotheses and named intermediates
# ---------------------------------------------------------------------------------------
def _softmax_by_hand(final_step, assume=True):
    """Softmax-CE written step by step by a user, with SymPy objects throughout."""
    from symderiv import delta, scalar, vector
    from symderiv.derive.derivation import Derivation

    z, y, L = vector("z", n), vector("y", n), scalar("L")
    dz = delta(z)
    one = OneMatrix(n, 1)
    ez = z.applyfunc(sp.exp)
    s = sp.Trace(one.T * ez)
    p = ez * (1 / s)
    forward = -sp.Trace(y.T * p.applyfunc(sp.log))
    d = Derivation("softmax-CE by hand", L, forward, z, is_loss=True, assume=[sums_to(y)] if assume else [])
    P = d.abbreviate("p", p)
    ez2 = (z + dz).applyfunc(sp.exp)
    d.perturb(-sp.Trace(y.T * (ez2 * (1 / sp.Trace(one.T * ez2))).applyfunc(sp.log)) - forward)
    ys, dzs = Sym("y", n, 1), Sym("Δz", n, 1, kind="delta")
    # the jets of log and exp, written with the name p (symderiv nodes: p is a symderiv symbol)
    d.eq(Add(Scale(-1, Inner(ys, dzs)), MatMul(MatMul(Transpose(Ones(n, 1)), ys), Inner(P, dzs))),
         rule="jet-log+jet-exp")
    d.eq(final_step(P), rule="hypothesis")
    d.read_off(Add(P, Scale(-1, Sym("y", n, 1))))
    return d.check()


def test_hand_written_derivation_with_sympy_objects_and_a_hypothesis():
    right = _softmax_by_hand(lambda P: Inner(Add(P, Scale(-1, Sym("y", n, 1))), Sym("Δz", n, 1, kind="delta")))
    assert right.status == "verified", right.explain()
    assert "hypotheses" in right.steps[2].verdict.methods
    assert "hypotheses" not in right.steps[1].verdict.methods
    assert "p := " in right.explain()


def test_hand_written_step_using_a_name_is_still_checked():
    wrong = _softmax_by_hand(lambda P: Inner(Add(P, Sym("y", n, 1)), Sym("Δz", n, 1, kind="delta")))
    assert wrong.steps[2].status == "failed" and "certified-interval" in wrong.steps[2].verdict.methods
    no_hyp = _softmax_by_hand(lambda P: Inner(Add(P, Scale(-1, Sym("y", n, 1))), Sym("Δz", n, 1, kind="delta")),
                              assume=False)
    assert no_hyp.steps[2].status == "failed" and no_hyp.status == "failed"


def test_names_are_folded_for_display_and_expanded_for_checking():
    d = get_layer("dense-sigmoid").derive("W")
    z = Sym("z", "m", 1)
    assert any(z in list(s.rhs.walk()) for s in d.steps)
    for s in d.steps:
        assert d.fold(d.unfold(s.rhs)) == s.rhs
        assert z not in list(d.unfold(s.rhs).walk())
    from symderiv.errors import NameError_

    with pytest.raises(NameError_):
        d.abbreviate("W", Sym("x", "n", 1))  # a name of the derivation cannot be redefined


# ---------------------------------------------------------------------------------------
# What the kernel does not decide yet (xfail strict: each turns into a pass when it does)
# ---------------------------------------------------------------------------------------
def _log_sigma_logistic():
    X, w, y = Sym("X", "N", "n"), Sym("w", "n", 1), Sym("y", "N", 1)
    one = Ones("N", 1)
    s = Fn("sigmoid", MatMul(X, w))
    L = Add(Scale(-1, Inner(y, Fn("log", s))),
            Scale(-1, Inner(Add(one, Scale(-1, y)), Fn("log", Add(one, Scale(-1, s))))))
    return L, w, MatMul(Transpose(X), Add(s, Scale(-1, y)))


def test_logistic_regression_in_log_sigma_form_is_verified():
    """The sign rules (N3, N7, N9 of §3.5: log σ(M) = M − softplus(M), log(𝟏 − σ(M)) = −softplus(M))
    make the textbook form of the logistic loss provable (it was undecided before them)."""
    L, w, G = _log_sigma_logistic()
    assert check_gradient(L, w, G).status == "verified"


def test_logistic_regression_in_log_sigma_form_is_never_refuted():
    L, w, G = _log_sigma_logistic()
    assert check_gradient(L, w, G).status != "failed"


def test_sigmoid_symmetry_is_verified():
    x = Sym("x", "n", 1)
    v = verify_equal(Fn("sigmoid", Scale(-1, x)), Add(Ones("n", 1), Scale(-1, Fn("sigmoid", x))))
    assert v.status == "verified"


_x = Sym("x", "n", 1)
SIGN_RULES = [  # (left, right, a plausible wrong right side)
    (Fn("sigmoid", Scale(-1, _x)), Add(Ones("n", 1), Scale(-1, Fn("sigmoid", _x))),
     Add(Fn("sigmoid", _x), Scale(-1, Ones("n", 1)))),
    (Fn("tanh", Scale(-1, _x)), Scale(-1, Fn("tanh", _x)), Fn("tanh", _x)),
    (Fn("softplus", Scale(-1, _x)), Add(Fn("softplus", _x), Scale(-1, _x)), Add(Fn("softplus", _x), _x)),
    (Fn("exp", Scale(-1, _x)), Fn("recip", Fn("exp", _x)), Scale(-1, Fn("exp", _x))),
    (Fn("log", Fn("sigmoid", _x)), Scale(-1, Fn("softplus", Scale(-1, _x))), Scale(-1, Fn("softplus", _x))),
    (Fn("log", Add(Ones("n", 1), Scale(-1, Fn("sigmoid", _x)))), Scale(-1, Fn("softplus", _x)),
     Fn("log", Fn("sigmoid", _x))),
]


@pytest.mark.parametrize("left,right,wrong", SIGN_RULES, ids=[plain(r[0]) for r in SIGN_RULES])
def test_sign_rules_verify_and_their_slips_fail(left, right, wrong):
    assert verify_equal(left, right).status == "verified"
    bad = verify_equal(left, wrong)
    assert bad.status == "failed" and bad.counterexample is not None


def test_sympy_composed_applyfunc_is_read_as_a_composition():
    """SymPy merges M.applyfunc(σ).applyfunc(log) into one Lambda log(1/(1 + e^(−v))) inside a product;
    it is read back as log(σ(M)), and a function outside the table is refused."""
    X, w, y = MatrixSymbol("X", N, n), MatrixSymbol("w", n, 1), MatrixSymbol("y", N, 1)
    from symderiv.errors import ShapeError
    from symderiv.lang.operators import as_expr

    assert plain(as_expr(sp.Trace(y.T * sig(X * w).applyfunc(sp.log)))) == "tr(y^T·log(σ(X·w)))"
    with pytest.raises(ShapeError):
        as_expr(sp.Trace(y.T * (X * w).applyfunc(Lambda(_v, sp.sin(_v)))))


_UNARY = {"sigmoid": lambda u: 1 / (1 + sp.exp(-u)), "tanh": sp.tanh, "exp": sp.exp,
          "softplus": lambda u: sp.log(1 + sp.exp(u))}


@st.composite
def scalar_functions(draw, depth=3):
    """A SymPy expression in v built from σ, tanh, exp, softplus, sums and small rational multiples."""
    if depth == 0 or draw(st.booleans()):
        return _v
    kind = draw(st.sampled_from(["f", "f", "sum", "scale"]))
    if kind == "f":
        return _UNARY[draw(st.sampled_from(sorted(_UNARY)))](draw(scalar_functions(depth=depth - 1)))
    if kind == "sum":
        return draw(scalar_functions(depth=depth - 1)) + draw(scalar_functions(depth=depth - 1))
    return draw(st.sampled_from([2, -1, sp.Rational(1, 2)])) * draw(scalar_functions(depth=depth - 1))


@settings(max_examples=40, deadline=None)
@given(scalar_functions())
def test_read_composition_has_the_same_values(expr):
    """Whatever the reader makes of a Lambda, it is the same function (checked at a point, in floats: a
    test of the reader, not a verdict)."""
    import math

    from symderiv.errors import ShapeError
    from symderiv.kernel.evaluate import Arith, evaluate
    from symderiv.lang.operators import as_expr

    x = MatrixSymbol("x", n, 1)
    try:
        e = as_expr(x.applyfunc(Lambda(_v, expr)))
    except ShapeError:
        return  # refused is fine; misread is not
    fns = {"sigmoid": lambda t: 1 / (1 + math.exp(-t)), "tanh": math.tanh, "exp": math.exp,
           "softplus": lambda t: math.log1p(math.exp(t)), "log": math.log, "recip": lambda t: 1 / t,
           "square": lambda t: t * t, "sqrt": math.sqrt, "relu": lambda t: max(t, 0.0),
           "step": lambda t: 1.0 if t > 0 else 0.0}
    ar = Arith(0.0, float, lambda name, prime, t: fns[name](t))
    got = evaluate(e, {"x": [[0.3]]}, {"n": 1}, ar)[0][0]
    want = float(expr.subs(_v, sp.Rational(3, 10)).evalf(30))
    assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1e-12), (expr, plain(e))


def test_trap_domains_and_matrix_functions():
    x = Sym("x", "n", 1)
    # exp(log x) = x only for x > 0: never verified as written (trap 5)
    assert verify_equal(Fn("exp", Fn("log", x)), x).status != "verified"
    # entrywise exp of diag(v) has ones off the diagonal (trap 8)
    from symderiv.lang.operators import Diag

    v = verify_equal(Fn("exp", Diag(x)), Diag(Fn("exp", x)))
    assert v.status == "failed" and "certified-interval" in v.methods
    # step(relu z) = step(z) depends on the convention step(0) (trap 9): not verified
    assert verify_equal(Fn("step", Fn("relu", x)), Fn("step", x)).status != "verified"


# ---------------------------------------------------------------------------------------
# The engine proposes, the kernel disposes
# ---------------------------------------------------------------------------------------
FUNCS = ["sigmoid", "tanh", "exp", "softplus", "relu"]


@st.composite
def forwards(draw):
    """y = f(W x + b), y = W₂ f(W₁ x + b₁), y = f(x) ∘ (W x), or y = f(W x) + A x, with f drawn."""
    f, g = draw(st.sampled_from(FUNCS)), draw(st.sampled_from(FUNCS))
    x, W, b = Sym("x", "n", 1), Sym("W", "m", "n"), Sym("b", "m", 1)
    shape = draw(st.integers(0, 3))
    if shape == 0:
        return Fn(f, Add(MatMul(W, x), b)), Sym("y", "m", 1)
    if shape == 1:
        W2 = Sym("V", "k", "m")
        return MatMul(W2, Fn(f, Add(MatMul(W, x), b))), Sym("y", "k", 1)
    if shape == 2:
        return Hadamard(Fn(f, x), Fn(g, MatMul(Sym("A", "n", "n"), x))), Sym("y", "n", 1)
    return Add(Fn(f, MatMul(W, x)), MatMul(Sym("B", "m", "n"), x)), Sym("y", "m", 1)


@settings(max_examples=20, deadline=None)
@given(forwards(), st.data())
def test_engine_derives_every_forward_of_the_fragment(fy, data):
    forward, y = fy
    wrt = data.draw(st.sampled_from(sorted({s.name for s in forward.symbols()})))
    theta = next(s for s in forward.symbols() if s.name == wrt)
    d = derive_backward(y, forward, theta)
    assert d.status == "verified", d.explain()


def test_a_wrong_rule_is_caught_by_the_kernel(monkeypatch):
    """If a rule function proposed a wrong line, the step would fail: verdicts come from the kernel."""
    import symderiv.derive.rules as R
    from symderiv.lang.operators import Inner as In

    monkeypatch.setattr(R, "hadamard_inner", lambda g, a, e: In(g, e))  # drops the entrywise factor
    layer = get_layer("dense-sigmoid")
    d = derive_backward(layer.output, layer.forward, layer.symbol("x"))
    bad = next(s for s in d.steps if s.rule == "hadamard-inner")
    assert bad.status == "failed" and "certified-interval" in bad.verdict.methods
    assert d.status == "failed"


# ---------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer,wrt", [c for c in CASES if c[0] != "layer-norm"])
def test_cli_derive_exits_zero(layer, wrt, capsys):
    import json

    from symderiv.cli import main

    assert main(["derive", layer, "--wrt", wrt, "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)["derivations"][0]
    assert d["status"] == "verified" and d["jacobian_check"] == "verified"
    assert all(s["status"] == "verified" and s["rule"] for s in d["steps"])


def test_cli_text_says_under_the_hypothesis(capsys):
    from symderiv.cli import main

    assert main(["derive", "softmax-cross-entropy"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith("verified under 1ᵀy = 1")
    assert "where p := " in out


# ---------------------------------------------------------------------------------------
# Layer norm with SymPy objects
# ---------------------------------------------------------------------------------------
def _layer_norm_sympy():
    eps = sp.Symbol("epsilon")
    x, g = MatrixSymbol("x", n, 1), MatrixSymbol("g", n, 1)
    J = OneMatrix(n, 1) * OneMatrix(1, n)
    c = x - J * x / n
    r = 1 / sp.sqrt(sp.Trace(c.T * c) / n + eps)
    y = c * r
    return sp.Trace(g.T * y), x, g, J, r, y


def test_layer_norm_written_with_sympy_is_verified():
    """SymPy folds (1/√u)·(1/√u) into 1/u, and its n is declared integer and positive: the kernel
    reads 1/u as defined where 1/√u is (u > 0) and that n as the dimension n of the shapes."""
    L, x, g, J, r, y = _layer_norm_sympy()
    assert_gradient(L, x, r * (g - J * g / n - y * sp.Trace(y.T * g) / n))


@pytest.mark.parametrize("slip", ["σ treated as a constant", "mean term forgotten", "Bessel 1/(n − 1) in the formula"])
def test_layer_norm_wrong_variants_fail_with_a_certificate(slip):
    L, x, g, J, r, y = _layer_norm_sympy()
    bad = {"σ treated as a constant": r * (g - J * g / n),
           "mean term forgotten": r * (g - y * sp.Trace(y.T * g) / n),
           "Bessel 1/(n − 1) in the formula": r * (g - J * g / n - y * sp.Trace(y.T * g) / (n - 1))}[slip]
    with pytest.raises(SymderivAssertionError) as info:
        assert_gradient(L, x, bad)
    v = info.value.verdict
    assert v.status == "failed" and "certified-interval" in v.methods

"""Correlation ⊙ and convolution ⊗ (the notes' notation): properties for all supports,
finite modes for all lengths n ≥ k ≥ 1, and the layers of sections 6-7."""
import pytest
import sympy

from symderiv import verify_equal
from symderiv.derive.catalog import get_layer
from symderiv.derive.derivation import Derivation
from symderiv.kernel.seqeval import seq_evaluate
from symderiv.lang.operators import Add, Conv, Corr, Ext, Inner, Scale, Sym, Window, delta_of, grad_of
from symderiv.lang.printing import plain

A, B, C = (Sym(c, "oo", 1) for c in "ABC")


@pytest.mark.parametrize(
    "lhs,rhs",
    [
        (Corr(Add(A, B), C), Add(Corr(A, C), Corr(B, C))),  # the notes' four linearity lines
        (Corr(A, Add(B, C)), Add(Corr(A, B), Corr(A, C))),
        (Conv(Add(A, B), C), Add(Conv(A, C), Conv(B, C))),
        (Conv(A, Add(B, C)), Add(Conv(A, B), Conv(A, C))),
        (Inner(A, Corr(B, C)), Inner(C, Corr(B, A))),  # property 1
        (Inner(A, Corr(B, C)), Inner(B, Conv(A, C))),  # property 3
        (Inner(A, Conv(B, C)), Inner(B, Corr(A, C))),  # property 4
        (Inner(A, Conv(B, C)), Inner(C, Corr(A, B))),  # the correct form of the garbled property 2
        (Conv(A, B), Conv(B, A)),
        (Inner(A, Corr(A, B)), Inner(A, Corr(A, B))),
    ],
)
def test_true_properties_verified(lhs, rhs):
    v = verify_equal(lhs, rhs)
    assert v.status == "verified", v.explain()
    assert v.methods == ["sign-classes"]


@pytest.mark.parametrize(
    "lhs,rhs",
    [
        (Inner(A, Conv(B, C)), Inner(C, Conv(B, A))),  # natural candidate for property 2: false
        (Inner(A, Conv(B, C)), Inner(A, Conv(B, A))),  # the notes' garbled property 2
        (Inner(A, Corr(B, C)), Inner(B, Corr(A, C))),  # correlation instead of convolution
        (Inner(A, Corr(B, C)), Inner(C, Corr(A, B))),
        (Corr(A, B), Corr(B, A)),  # correlation does not commute
        (Corr(A, B), Conv(A, B)),
    ],
)
def test_false_candidates_failed_with_counterexample(lhs, rhs):
    v = verify_equal(lhs, rhs)
    assert v.status == "failed", v.explain()
    cex = v.counterexample
    assert cex is not None
    env = {k: {int(i): x for i, x in vals.items()} for k, vals in cex.to_dict()["values"].items()}
    a, b = seq_evaluate(lhs, env, {}), seq_evaluate(rhs, env, {})
    clean = lambda v: {i: x for i, x in v.items() if x} if isinstance(v, dict) else v  # noqa: E731
    assert clean(a) != clean(b), "the reported counterexample must really separate the sides"


def test_property_2_counterexample_is_the_small_one():
    v = verify_equal(Inner(A, Conv(B, C)), Inner(C, Conv(B, A)))
    vals = v.counterexample.to_dict()["values"]
    assert sum(len(x) for x in vals.values()) == 3  # three unit impulses


# --- finite modes --------------------------------------------------------------------------
x, w = Sym("x", "n", 1), Sym("w", "k", 1)


def g_for(y):
    return Sym("g", y.shape[0], 1)


def test_valid_mode_gradients_for_all_lengths():
    y = Corr(x, w, "valid")
    g = g_for(y)
    v = verify_equal(Inner(g, y), Inner(x, Conv(g, w, "full")))
    assert v.status == "verified" and "n ≥ k" in v.method
    assert verify_equal(Inner(g, y), Inner(w, Corr(x, g, "valid"))).status == "verified"


def test_same_mode_even_k_trap():
    """NumPy's correlate-'same' starts at -⌊k/2⌋; np.convolve(g, w, 'same') starts the gradient window
    at ⌊(k-1)/2⌋, which is right for odd k only."""
    y = Corr(x, w, "same")
    g = g_for(y)
    wrong = verify_equal(Inner(g, y), Inner(x, Conv(g, w, "same")))
    assert wrong.status == "failed"
    assert "k even" in wrong.reason
    assert wrong.counterexample.sizes == {"n": 2, "k": 2}
    right = Window(Conv(Ext(g), Ext(w)), sympy.floor(sympy.Symbol("k") / 2), "n")
    assert verify_equal(Inner(g, y), Inner(x, right)).status == "verified"


def test_right_side_cannot_shrink_the_domain():
    y = Corr(x, w, "valid")
    g = g_for(y)
    extra = Inner(Corr(g, w, "valid"), Corr(g, w, "valid"))  # needs n - k + 1 ≥ k
    v = verify_equal(Inner(g, y), Add(Inner(x, Conv(g, w, "full")), extra, Scale(-1, extra)))
    assert v.status == "failed" and "needs" in v.reason


def test_mode_not_switched_is_a_shape_error():
    from symderiv.errors import ShapeError

    y = Corr(x, w, "valid")
    with pytest.raises(ShapeError):
        Inner(x, Conv(g_for(y), w, "valid"))


# --- layers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("layer", ["correlation1d", "convolution1d"])
@pytest.mark.parametrize("mode", ["infinite", "valid", "full", "same"])
@pytest.mark.parametrize("wrt", ["x", "w"])
def test_sequence_layers_verified(layer, mode, wrt):
    d = get_layer(layer).derive(wrt, mode=mode)
    assert d.status == "verified", d.explain()
    assert d.jacobian.status == "verified" and "directional-derivative" in d.jacobian.methods
    if mode != "infinite":
        titles = [r["title"] for r in d.remarks]
        assert "Boundary of the forward pass" in titles and "Where the infinite-dimensional proof breaks" in titles
        assert any(s.rule == "window-adjoint" for s in d.steps)


def test_infinite_results_match_the_notes():
    assert plain(get_layer("correlation1d").derive("x").gradient) == "dL/dy ⊗ w"
    assert plain(get_layer("correlation1d").derive("w").gradient) == "x ⊙ dL/dy"


def test_finite_results():
    assert plain(get_layer("correlation1d").derive("x", mode="valid").gradient) == "conv_full(dL/dy, w)"
    assert plain(get_layer("correlation1d").derive("w", mode="valid").gradient) == "corr_valid(x, dL/dy)"
    assert plain(get_layer("correlation1d").derive("x", mode="full").gradient) == "conv_valid(dL/dy, w)"


def test_boundary_terms_are_computed():
    d = get_layer("correlation1d").derive("x", mode="valid")
    forward = next(r for r in d.remarks if r["title"] == "Boundary of the forward pass")
    assert "w_{2} x_{0}" in forward["math"][0] and "w_{0} x_{4}" in forward["math"][0]
    d = get_layer("correlation1d").derive("w", mode="valid")
    grad = next(r for r in d.remarks if r["title"] == "Boundary of the gradient")
    assert "drops 4 entries" in grad["text"]  # 2(n - k) for n = 5, k = 3


def test_the_notes_slip_in_section_7_is_caught():
    """7.2: ⟨Δx, dL/dy ⊗ w⟩ = ⟨dL/dy ⊙ w, Δx⟩ swaps ⊗ for ⊙."""
    xs, ws = Sym("x", "oo", 1), Sym("w", "oo", 1)
    y = Sym("y", "oo", 1)
    g, dx = grad_of(y), delta_of(xs)
    d = Derivation("corr", y, Corr(xs, ws), xs)
    d.perturb(Add(Corr(Add(xs, dx), ws), Scale(-1, Corr(xs, ws)))).eq(Corr(dx, ws))
    d.loss_differential().eq(Inner(g, Corr(dx, ws)))
    d.eq(Inner(dx, Conv(g, ws)))
    d.eq(Inner(Corr(g, ws), dx))  # the slip
    d.eq(Inner(Conv(g, ws), dx))
    d.read_off(Conv(g, ws)).check()
    # the slip disagrees with both neighbours, which agree with each other: the typo is blamed on that
    # line; the step out of it is still false as written (never ✓), and says it agrees with the line before
    assert [s.status for s in d.steps] == ["verified"] * 5 + ["failed", "failed", "verified"]
    assert d.first_failure() is d.steps[5]
    assert d.steps[5].verdict.reason.startswith("probably a typo on this line")
    assert d.steps[5].verdict.counterexample is not None
    assert "before the suspected typo" in d.steps[6].verdict.reason and d.steps[6].verdict.counterexample is not None
    assert d.jacobian.status == "verified"

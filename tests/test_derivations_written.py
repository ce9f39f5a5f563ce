"""Derivations written by hand through the Python API: right ones verified, wrong ones
failed at the right step with a reason and a counterexample."""
import pytest
import sympy

from symderiv import delta, gradient_symbol, inner, matrix, vector
from symderiv.derive.derivation import Derivation


@pytest.fixture
def lin():
    m, n = sympy.symbols("m n")
    x, w, y = vector("x", n), matrix("w", m, n), vector("y", m)
    return x, w, y, gradient_symbol(y), delta(x), delta(w)


def linear_w(lin, **overrides):
    x, w, y, g, dx, dw = lin
    steps = {
        "perturb": (w + dw) * x - w * x,
        "expand": dw * x,
        "sub": inner(g, dw * x),
        "vec": g.T * dw * x,
        "tr": sympy.Trace(g.T * dw * x),
        "cyc": sympy.Trace(x * g.T * dw),
        "inner": inner((x * g.T).T, dw),
        "readoff": g * x.T,
    }
    steps.update(overrides)
    d = Derivation("linear dL/dw", y, w * x, w)
    d.perturb(steps["perturb"])
    d.eq(steps["expand"], "expansion")
    d.loss_differential()
    d.eq(steps["sub"], "substitution")
    d.eq(steps["vec"], "inner-of-vectors")
    d.eq(steps["tr"], "trace-of-scalar")
    d.eq(steps["cyc"], "cyclic-trace")
    d.eq(steps["inner"], "trace-as-inner")
    d.read_off(steps["readoff"])
    return d.check()


def test_correct_written_derivation(lin):
    d = linear_w(lin)
    assert d.status == "verified", d.explain()
    assert d.first_failure() is None


def test_wrong_perturbation(lin):
    x, w, y, g, dx, dw = lin
    d = linear_w(lin, perturb=(w + dw) * x)  # forgot "- wx"
    assert d.status == "failed"
    assert d.first_failure() is d.steps[0]
    assert d.steps[0].verdict.counterexample is not None


def test_cyclic_trace_in_wrong_order(lin):
    """tr(gᵀΔw x) = tr(gᵀ x Δw) is not even well-shaped."""
    x, w, y, g, dx, dw = lin
    from sympy.matrices.exceptions import ShapeError as SympyShapeError

    from symderiv.errors import ShapeError

    with pytest.raises((ShapeError, SympyShapeError)):
        linear_w(lin, cyc=sympy.Trace(g.T * x * dw))


def test_wrong_read_off_transposed(lin):
    x, w, y, g, dx, dw = lin
    d = linear_w(lin, readoff=x * g.T)
    bad = d.first_failure()
    assert bad is d.steps[-1]
    assert "shape" in bad.verdict.reason
    assert d.jacobian.status == "failed"


def test_wrong_gradient_for_square_weight():
    n = sympy.Symbol("n")
    x, w, y = vector("x", n), matrix("w", n, n), vector("y", n)
    g, dw = gradient_symbol(y), delta(w)
    d = Derivation("square linear", y, w * x, w)
    d.perturb((w + dw) * x - w * x).eq(dw * x).loss_differential().eq(inner(g, dw * x))
    d.eq(inner(x * g.T, dw), "trace-as-inner")  # wrong: transposed
    d.read_off(x * g.T)
    d.check()
    bad = d.first_failure()
    assert bad is d.steps[4]
    assert bad.verdict.counterexample.sizes == {"n": 2}
    assert d.jacobian.status == "failed"
    assert d.jacobian.counterexample is not None


def test_dropped_first_order_term_in_written_chain():
    n = sympy.Symbol("n")
    x, A = vector("x", n), matrix("A", n, n)
    q = matrix("q", 1, 1)
    dx = delta(x)
    d = Derivation("quadratic", q, x.T * A * x, x, is_loss=True)
    d.perturb((x + dx).T * A * (x + dx) - x.T * A * x)
    d.eq(x.T * A * dx, "drop-higher-order")  # dropped (Δx)ᵀAx, a first-order term
    d.check()
    bad = d.first_failure()
    assert bad is d.steps[1]
    assert "first-order terms differ" in bad.verdict.reason
    assert bad.verdict.counterexample is not None


def test_read_off_with_delta_fails():
    n = sympy.Symbol("n")
    x, y = vector("x", n), vector("y", n)
    g, dx = gradient_symbol(y), delta(x)
    d = Derivation("add", y, x, x)
    d.perturb(dx).loss_differential().eq(inner(g, dx)).read_off(g + dx)
    d.check()
    assert d.steps[-1].status == "failed" and "perturbation" in d.steps[-1].verdict.reason


def test_to_dict_keeps_failure_details():
    n = sympy.Symbol("n")
    x, w, y = vector("x", n), matrix("w", n, n), vector("y", n)
    g, dx = gradient_symbol(y), delta(w)
    d = Derivation("square linear", y, w * x, w)
    d.perturb((w + dx) * x - w * x).eq(dx * x).loss_differential().eq(inner(x * g.T, dx)).read_off(x * g.T).check()
    step = d.to_dict()["steps"][3]
    assert step["status"] == "failed"
    assert step["counterexample"] is not None and step["reason"] and step["method"] != "not checked"


def test_read_off_after_a_vector_line_says_what_it_needs():
    """⇒ dL/dx = G right after Δy = WΔx (no ΔL line): the read-off fails as ill-formed, and the reason
    says that the line before must be the scalar ΔL = ⟨G, Δx⟩, not only that shapes differ."""
    from symderiv.documents.documents import check_text

    doc = check_text("# Linear\n\nLet $x \\in \\mathbf{R}^n$, $W \\in \\mathbf{R}^{m \\times n}$, $y \\in \\mathbf{R}^m$ "
                     "and $L \\in \\mathbf{R}$.\n\n$$y = W x$$\n\n$$\\Delta y = W \\Delta x$$\n"
                     "$$\\Rightarrow \\frac{dL}{dx} = W^T \\frac{dL}{dy}$$\n", "lin.md")
    (bad,) = [s for s, _ in doc.all_steps() if s.status == "failed"]
    assert bad.line == 8 and "needs the line before it to be the scalar ΔL = ⟨G, Δx⟩" in bad.verdict.reason

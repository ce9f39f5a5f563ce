"""symderiv.testing: assertions with falsifying-example messages."""
import pytest
import sympy

from symderiv import Budget, delta, gradient_symbol, inner, matrix, vector
from symderiv.derive.catalog import get_layer
from symderiv.derive.derivation import Derivation
from symderiv.testing import (
    assert_derivation,
    assert_document,
    assert_equal,
    assert_first_order_equal,
    assert_gradient,
)

m, n = sympy.symbols("m n")
g, W, x, A = vector("g", m), matrix("W", m, n), vector("x", n), matrix("A", n, n)


def test_assert_gradient_passes():
    assert assert_gradient(g.T * W * x, W, g * x.T).status == "verified"
    assert_gradient(x.T * A * x, x, (A + A.T) * x)


def test_assert_gradient_shape_message():
    with pytest.raises(AssertionError) as e:
        assert_gradient(g.T * W * x, W, x * g.T)
    msg = str(e.value)
    assert "is not the gradient" in msg and "the gradient must have the shape of W (m×n), the claim is n×m" in msg


def test_assert_gradient_counterexample_for_nonsymmetric_A():
    with pytest.raises(AssertionError) as e:
        assert_gradient(x.T * A * x, x, 2 * A * x)
    msg = str(e.value)
    assert "Falsifying example" in msg and "smallest counterexample" in msg
    assert "sizes: n = 2" in msg and "left side" in msg and "right side" in msg
    assert "method:" in msg


def test_assert_equal_and_first_order():
    B, C = matrix("B", n, n), matrix("C", n, n)
    assert_equal(sympy.Trace(A * B * C), sympy.Trace(C * A * B))
    with pytest.raises(AssertionError, match="Falsifying example"):
        assert_equal(sympy.Trace(A * B * C), sympy.Trace(A * C * B))
    dx = delta(x)
    assert_first_order_equal((x + dx).T * A * (x + dx) - x.T * A * x, x.T * (A + A.T) * dx)
    with pytest.raises(AssertionError, match="first-order terms differ"):
        assert_first_order_equal((x + dx).T * A * (x + dx) - x.T * A * x, 2 * x.T * A * dx)


def test_undecided_fails_unless_allowed():
    from symderiv.lang.operators import Add, MatMul, Sym

    xs = [Add(Sym(f"a{i}", "n", "n"), Sym(f"b{i}", "n", "n")) for i in range(16)]
    e = MatMul(*xs)
    small = Budget(max_terms=10)
    with pytest.raises(AssertionError, match="Undecided") as info:
        assert_equal(e, e, budget=small)
    assert info.value.verdict.status == "undecided" and "allow_undecided=True" in str(info.value)
    assert assert_equal(e, e, allow_undecided=True, budget=small).status == "undecided"
    assert assert_first_order_equal(e, e, allow_undecided=True, budget=small).status == "undecided"
    # the budget is the caller's: the same claim is proved under the default budget and undecided under a small one
    e4 = MatMul(*xs[:4])  # 16 monomials
    assert assert_equal(e4, e4).status == "verified"
    with pytest.raises(AssertionError, match="Undecided"):
        assert_equal(e4, e4, budget=small)


def test_assert_derivation():
    assert_derivation(get_layer("linear").derive("w"))
    y = vector("y", n)
    Wsq = matrix("V", n, n)
    gg, dV = gradient_symbol(y), delta(Wsq)
    d = Derivation("square", y, Wsq * x, Wsq)
    d.perturb((Wsq + dV) * x - Wsq * x).eq(dV * x).loss_differential().eq(inner(gg, dV * x))
    d.eq(inner(x * gg.T, dV)).read_off(x * gg.T)
    with pytest.raises(AssertionError) as e:
        assert_derivation(d)
    assert "breaks at step 5" in str(e.value) and "smallest counterexample" in str(e.value)


def test_assert_document(tmp_path):
    f = tmp_path / "d.md"
    f.write_text("$x \\in \\mathbf{R}^n$, $A \\in \\mathbf{R}^{n \\times n}$\n\n$$x^T A x = x^T A^T x$$\n\n"
                 "$$x^T A = A x$$\n", encoding="utf-8")
    with pytest.raises(AssertionError) as e:
        assert_document(str(f))
    assert f"{f}:5" in str(e.value) and "shape" in str(e.value)


def test_notebook_display():
    d = get_layer("linear").derive("x")
    bundle = d._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/markdown", "text/latex", "text/html"}
    assert "\\checkmark" in bundle["text/latex"] and "✓" in bundle["text/markdown"]
    v = d.steps[0].verdict
    vb = v._repr_mimebundle_()
    assert "text/markdown" in vb and "text/plain" in vb

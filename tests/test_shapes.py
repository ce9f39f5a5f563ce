"""Shapes are checked with symbolic dimensions taken literally; names are validated."""
import pytest
import sympy

from symderiv import matrix, scalar, vector, verify_equal
from symderiv.errors import NameError_, ShapeError, SymderivError
from symderiv.lang.operators import Add, Inner, MatMul, Scale, Sym, Trace, Transpose, as_expr


def test_sympy_accepts_but_symderiv_refuses_w_times_g_transposed():
    m, n = sympy.symbols("m n")
    w, g = matrix("w", m, n), vector("g", m)
    assert (w * g.T).shape == (m, m)  # SymPy's own, lenient, behaviour
    with pytest.raises(ShapeError, match="inner dimensions n and 1 differ"):
        as_expr(w * g.T)


def test_product_shapes_and_scalar_factors():
    x, w = Sym("x", "n", 1), Sym("w", "m", "n")
    assert MatMul(w, x).shape == (sympy.Symbol("m"), 1)
    s = MatMul(Transpose(x), x)  # 1×1
    assert MatMul(s, w).shape == w.shape  # a 1×1 factor scales
    with pytest.raises(ShapeError):
        MatMul(x, w)


def test_sum_trace_inner_shape_errors():
    x, w = Sym("x", "n", 1), Sym("w", "m", "n")
    with pytest.raises(ShapeError, match="cannot add"):
        Add(x, Sym("y", "m", 1))
    with pytest.raises(ShapeError, match="square"):
        Trace(w)
    with pytest.raises(ShapeError, match="equal shapes"):
        Inner(w, Transpose(w))
    with pytest.raises(ShapeError):
        Add(x, Transpose(x))


def test_dimension_and_name_validation():
    with pytest.raises(ShapeError):
        vector("x", 0)
    with pytest.raises(ShapeError):
        vector("x", sympy.Symbol("n") ** 2)
    with pytest.raises(ShapeError):
        vector("x", sympy.Symbol("n") * sympy.Symbol("m"))
    for bad in ["", "1x", "x y", "x$", "x\\input", "import os"]:
        with pytest.raises(NameError_):
            scalar(bad)
    assert vector("y*", 3).shape == (3, 1)


def test_same_name_two_shapes_is_an_error():
    with pytest.raises(SymderivError, match="two shapes"):
        verify_equal(Sym("x", "n", 1), Transpose(Sym("x", 1, "n")))


def test_shape_mismatch_between_sides_is_failed_not_error():
    x = Sym("x", "n", 1)
    v = verify_equal(x, Transpose(x))
    assert v.status == "failed" and "shapes differ" in v.reason and v.methods == ["shape-check"]


def test_scale_and_negation_build_what_was_written():
    x, y = Sym("x", "n", 1), Sym("y", "n", 1)
    e = x - y
    assert isinstance(e, Add) and isinstance(e.args[1], Scale)
    assert repr(Transpose(MatMul(Sym("A", "n", "n"), Sym("B", "n", "n")))) == "(A·B)^T"

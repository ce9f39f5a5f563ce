"""Every concrete node class of symderiv.lang.operators is handled by every pass of lang/.

A new node class fails these tests until each pass (LaTeX and plain printers, precedence, and
conversion from SymPy where SymPy has the operation) handles it, and until ``SAMPLES`` below has
an instance of it: the node is then added in one commit that touches each pass once.
"""
from __future__ import annotations

import inspect

import pytest
import sympy

import symderiv.lang.operators as ops
from symderiv.lang.operators import from_sympy
from symderiv.lang.printing import PRECEDENCE, LatexPrinter, PlainPrinter, Printer, precedence

n, m = sympy.symbols("n m")
A, B = sympy.MatrixSymbol("A", n, n), sympy.MatrixSymbol("B", n, n)
x = ops.Sym("x", n, 1)
w = ops.Sym("w", m, 1)
s = ops.sequence("s")


def _concrete_nodes() -> set[type]:
    """Node classes defined in operators.py that can be instantiated (no abstract bases)."""
    found = set()
    for _, cls in inspect.getmembers(ops, inspect.isclass):
        if issubclass(cls, ops.Expr) and cls.__module__ == ops.__name__ and not cls.__name__.startswith("_"):
            if cls not in (ops.Expr, ops.SeqOp):  # abstract: no node is a bare Expr or SeqOp
                found.add(cls)
    return found


#: One instance of every concrete node, and its SymPy form where SymPy has the operation.
SAMPLES: dict[type, tuple[ops.Expr, sympy.Basic | None]] = {
    ops.Sym: (ops.Sym("A", n, n), A),
    ops.Zero: (ops.Zero(n, n), sympy.ZeroMatrix(n, n)),
    ops.Add: (ops.Add(ops.Sym("A", n, n), ops.Sym("B", n, n)), A + B),
    ops.MatMul: (ops.MatMul(ops.Sym("A", n, n), ops.Sym("B", n, n)), sympy.MatMul(A, B)),
    ops.Scale: (ops.Scale(2, ops.MatMul(ops.Sym("A", n, n), ops.Sym("B", n, n))), 2 * A * B),
    ops.Transpose: (ops.Transpose(ops.Sym("A", n, n)), A.T),
    ops.Trace: (ops.Trace(ops.Sym("A", n, n)), sympy.Trace(A)),
    ops.Hadamard: (ops.Hadamard(ops.Sym("A", n, n), ops.Sym("B", n, n)), sympy.HadamardProduct(A, B)),
    ops.Inner: (ops.Inner(ops.Sym("A", n, n), ops.Sym("B", n, n)), None),  # SymPy has no inner product node
    ops.Corr: (ops.Corr(s, ops.sequence("t")), None),  # sequences: no SymPy counterpart
    ops.Conv: (ops.Conv(x, w, "full"), None),
    ops.Ext: (ops.Ext(x), None),
    ops.Shift: (ops.Shift(s, 2), None),
    ops.Window: (ops.Window(s, 0, n), None),
    ops.Ones: (ops.Ones(n, 1), sympy.OneMatrix(n, 1)),
    ops.Identity: (ops.Identity(n), sympy.Identity(n)),
    ops.Diag: (ops.Diag(x), sympy.matrices.expressions.DiagMatrix(sympy.MatrixSymbol("x", n, 1))),
    ops.DiagV: (ops.DiagV(ops.Sym("A", n, n)), sympy.matrices.expressions.DiagonalOf(A)),
    ops.DimScalar: (ops.DimScalar(1 / n), None),  # a SymPy scalar; converted inside products
    ops.Fn: (ops.Fn("exp", ops.Sym("A", n, n)), A.applyfunc(sympy.exp)),
    ops.Softmax: (ops.Softmax(x), None),  # SymPy has no softmax
    ops.Inv: (ops.Inv(ops.Sym("A", n, n)), sympy.Inverse(A)),
    ops.Det: (ops.Det(ops.Sym("A", n, n)), None),  # a SymPy scalar: converted by as_expr (test below)
    ops.LogDet: (ops.LogDet(ops.Sym("A", n, n)), None),
}


def test_samples_cover_every_node_class():
    assert set(SAMPLES) == _concrete_nodes()
    for cls, (node, _) in SAMPLES.items():
        assert type(node) is cls


@pytest.mark.parametrize("printer", [LatexPrinter, PlainPrinter], ids=["latex", "plain"])
@pytest.mark.parametrize("cls", sorted(SAMPLES, key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_every_printer_handles_every_node(printer, cls):
    method = printer.method_for(cls)
    assert method is not Printer._print_Expr, f"{printer.__name__} has no _print_ method for {cls.__name__}"
    text = printer().doprint(SAMPLES[cls][0])
    assert text and isinstance(text, str)


def test_printer_falls_back_along_the_mro_and_then_refuses():
    class Corr2(ops.Corr):  # a subclass prints as its base class until it gets its own method
        __slots__ = ()

    node = Corr2(s, ops.sequence("t"))
    assert PlainPrinter().doprint(node) == PlainPrinter().doprint(SAMPLES[ops.Corr][0])

    class Strange(ops.Expr):
        __slots__ = ()
        children = ()
        shape = (sympy.Integer(1), sympy.Integer(1))

    with pytest.raises(TypeError, match="cannot print Strange"):
        PlainPrinter().doprint(Strange())


@pytest.mark.parametrize("cls", sorted(SAMPLES, key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_precedence_is_defined_for_every_node(cls):
    assert any(k in PRECEDENCE for k in cls.__mro__)
    assert precedence(SAMPLES[cls][0]) in (10, 20, 30, 40)


@pytest.mark.parametrize("cls", sorted(SAMPLES, key=lambda c: c.__name__), ids=lambda c: c.__name__)
def test_sympy_conversion_handles_every_node_with_a_sympy_form(cls):
    node, sp = SAMPLES[cls]
    if sp is None:
        assert not any(cls in nodes for nodes in ops.SYMPY_NODES.values())
        pytest.skip(f"{cls.__name__} has no SymPy counterpart")
    assert any(cls in nodes for nodes in ops.SYMPY_NODES.values())
    got = from_sympy(sp)
    assert type(got) is cls and got == node


def test_every_registered_sympy_class_is_listed():
    registered = set(from_sympy.registry) - {object}
    assert registered == set(ops.SYMPY_NODES)


def test_unknown_sympy_object_is_refused():
    from symderiv.errors import ShapeError

    with pytest.raises(ShapeError, match="cannot use the SymPy object"):
        from_sympy(sympy.Determinant(A))

"""Every node class of the language is handled by every kernel pass that dispatches on node type.

A pass is one table (:class:`symderiv.kernel.nodetable.NodeTable`); "handled" means the class resolves to a rule
of its own or of a base class other than ``Expr`` — possibly an explicit refusal, never the
fallback. A new node class therefore fails this test until each pass has a rule for it.
"""
from __future__ import annotations

import inspect
from fractions import Fraction

import pytest

from symderiv.kernel import convolution as conv_mod
from symderiv.kernel import evaluate as ev_mod
from symderiv.kernel import expand as ex_mod
from symderiv.kernel import indexgraph as ig_mod
from symderiv.kernel import seqeval as seq_mod
from symderiv.lang import operators as ops

PASSES = {"expand": ex_mod._expand, "evaluate": ev_mod._ev, "delta-expand": ex_mod._dexp,
          "push-transpose": ex_mod._push, "transpose-of": ex_mod._push_into, "index-graph": ig_mod._build, "z-transform": conv_mod._transform,
          "sequence-evaluate": seq_mod._seq_ev}


def node_classes() -> list[type]:
    """The language's node classes: lang.operators.NODE_CLASSES if it declares them, else every
    public subclass of Expr defined in lang/operators.py."""
    declared = getattr(ops, "NODE_CLASSES", None)
    if declared is not None:
        return list(declared)
    return [c for _, c in inspect.getmembers(ops, inspect.isclass)
            if issubclass(c, ops.Expr) and c is not ops.Expr and c.__module__ == ops.__name__
            and not c.__name__.startswith("_")]


def test_the_node_list_is_not_empty() -> None:
    names = {c.__name__ for c in node_classes()}
    assert {"Sym", "Add", "MatMul", "Inner", "Window"} <= names


@pytest.mark.parametrize("pass_name", sorted(PASSES))
def test_every_node_class_has_a_rule(pass_name: str) -> None:
    table = PASSES[pass_name]
    fallback = table.dispatch(ops.Expr)
    missing = [c.__name__ for c in node_classes() if table.dispatch(c) is fallback]
    assert missing == [], f"{pass_name} has no rule for {missing}"


def test_the_fallback_refuses_an_unknown_node() -> None:
    class Unknown(ops.Expr):
        pass

    for table in PASSES.values():
        with pytest.raises(TypeError):
            table(object.__new__(Unknown), None)


def test_expand_and_evaluate_agree_on_a_small_expression() -> None:
    """The tables are wired: evaluating the expansion gives the value of the expression."""
    from symderiv.kernel.evaluate import INT, evaluate

    A, B = ops.Sym("A", 2, 2), ops.Sym("B", 2, 2)
    e = ops.Inner(ops.Add(A, ops.Scale(Fraction(3), B)), ops.MatMul(A, ops.Transpose(B)))
    env = {"A": [[1, 2], [3, 4]], "B": [[0, -1], [5, 2]]}
    direct = evaluate(e, env, {}, INT)
    total = sum(c * evaluate(m, env, {}, INT)[0][0] for c, m in ex_mod.expand(e))
    assert direct == [[total]]


def test_the_sequence_passes_agree_on_a_small_expression() -> None:
    """The z-transform and sequence-evaluation tables are wired: equal sign classes give equal values,
    and a window that the domain proves harmless is removed."""
    import sympy

    from symderiv.errors import NotInFragment
    from symderiv.kernel.domains import Domain
    from symderiv.kernel.seqeval import seq_evaluate

    x, w = ops.Sym("x", sympy.oo, 1), ops.Sym("w", sympy.oo, 1)
    dom = Domain((), [], {}, "all finitely supported sequences")
    corr, conv = ops.Corr(x, w), ops.Conv(x, w)
    shifted = ops.Shift(corr, 2)
    a, b = conv_mod._transform(corr, dom), conv_mod._transform(shifted, dom)
    assert isinstance(a, conv_mod.Mono) and isinstance(b, conv_mod.Mono)
    assert a.signs == b.signs == (("w", -1), ("x", 1)) and b.shift - a.shift == 2
    assert conv_mod._transform(conv, dom).signs == (("w", 1), ("x", 1))
    with pytest.raises(NotInFragment):
        conv_mod._transform(ops.Add(x, w), dom)
    env = {"x": {0: 1, 1: 2}, "w": {0: 3, -1: 5}}
    base = seq_evaluate(corr, env, {})
    # (x ⋆ w)_i = Σ_j x_{i+j} w_j, and τ_2 delays it by 2
    expected = {i: sum(xv * env["w"].get(j - i, 0) for j, xv in env["x"].items()) for i in range(-4, 5)}
    assert {i: base.get(i, 0) for i in range(-4, 5)} == expected and expected[1] == 1 * 5 + 2 * 3
    assert seq_evaluate(shifted, env, {}) == {i + 2: v for i, v in base.items()}

"""Every node class of the language is handled by every kernel pass that dispatches on node type.

A pass is one table (:class:`symderiv.kernel.nodetable.NodeTable`); "handled" means the class resolves to a rule
of its own or of a base class other than ``Expr`` — possibly an explicit refusal, never the
fallback. A new node class therefore fails this test until each pass has a rule for it.
"""
from __future__ import annotations

import inspect
from fractions import Fraction

import pytest

from symderiv.kernel import evaluate as ev_mod
from symderiv.kernel import expand as ex_mod
from symderiv.lang import operators as ops

PASSES = {"expand": ex_mod._expand, "evaluate": ev_mod._ev}


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

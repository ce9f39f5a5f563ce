"""One table per pass: a rule per node class, found along the class's MRO, with a fallback.

Like ``functools.singledispatch`` (same ``register``/``dispatch``/``registry``), but the call is
a plain dictionary lookup on the exact class, which matters in the evaluator's inner recursion.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

R = TypeVar("R")
Rule = Callable[..., R]


class _Resolved(dict[type, Any]):
    """Exact class -> rule; a miss resolves along the MRO once (``__missing__``), so a hit is a
    single C-level dictionary lookup."""

    def __init__(self, table: NodeTable[Any]) -> None:
        super().__init__()
        self.table = table

    def __missing__(self, cls: type) -> Any:
        rule = next(self.table.registry[c] for c in cls.__mro__ if c in self.table.registry)
        self[cls] = rule
        return rule


class NodeTable(Generic[R]):
    """``table(node, *args)`` applies the rule registered for ``type(node)`` or its nearest base."""

    def __init__(self, name: str, fallback: Rule[R]) -> None:
        self.name = name
        self.registry: dict[type, Rule[R]] = {object: fallback}
        #: exact class -> rule; hot recursions call ``table.rules[node.__class__](node, ...)``
        self.rules: _Resolved = _Resolved(self)

    def register(self, *classes: type) -> Callable[[Rule[R]], Rule[R]]:
        def add(rule: Rule[R]) -> Rule[R]:
            for cls in classes:
                self.registry[cls] = rule
            self.rules.clear()
            return rule

        return add

    def dispatch(self, cls: type) -> Rule[R]:
        """The rule for ``cls``: the first class of its MRO with a rule (``object``: the fallback)."""
        rule: Rule[R] = self.rules[cls]
        return rule

    def __call__(self, node: Any, *args: Any) -> R:
        result: R = self.rules[node.__class__](node, *args)
        return result

"""One table per pass: a rule per node class, found along the class's MRO, with a fallback.

Like ``functools.singledispatch`` (same ``register``/``dispatch``/``registry``), but the call is
a plain dictionary lookup on the exact class, which matters in the evaluator's inner recursion.
"""
from __future__ import annotations

from typing import Any, Callable, Generic, TypeVar

R = TypeVar("R")
Rule = Callable[..., R]


class NodeTable(Generic[R]):
    """``table(node, *args)`` applies the rule registered for ``type(node)`` or its nearest base."""

    def __init__(self, name: str, fallback: Rule[R]) -> None:
        self.name = name
        self.registry: dict[type, Rule[R]] = {object: fallback}
        self._cache: dict[type, Rule[R]] = {}

    def register(self, *classes: type) -> Callable[[Rule[R]], Rule[R]]:
        def add(rule: Rule[R]) -> Rule[R]:
            for cls in classes:
                self.registry[cls] = rule
            self._cache.clear()
            return rule

        return add

    def dispatch(self, cls: type) -> Rule[R]:
        """The rule for ``cls``: the first class of its MRO with a rule (``object``: the fallback)."""
        rule = self._cache.get(cls)
        if rule is None:
            rule = next(self.registry[c] for c in cls.__mro__ if c in self.registry)
            self._cache[cls] = rule
        return rule

    def __call__(self, node: Any, *args: Any) -> R:
        rule = self._cache.get(node.__class__)
        if rule is None:
            rule = self.dispatch(node.__class__)
        return rule(node, *args)

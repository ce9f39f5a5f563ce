"""The kernel's one door to the untrusted search layer (:mod:`symderiv.search`).

The kernel never imports search. Search installs a :class:`Refuter` here when it is imported
(``import symderiv`` does that), and the kernel asks it only for *candidates*: a counterexample
is used as evidence for ``failed`` only after :func:`confirm` has re-evaluated both sides exactly
at its sizes and entries.
"""
from __future__ import annotations

from typing import Any, Callable, Protocol

from symderiv.kernel.budget import Meter
from symderiv.kernel.evaluate import INT, Counterexample, Matrix, evaluate
from symderiv.lang.operators import Expr


class Refuter(Protocol):
    """What the kernel may ask of a counterexample search."""

    def find_counterexample(
        self, lhs: Expr, rhs: Expr, bound: dict[str, int], deadline: Meter, seed: int = 0,
    ) -> Counterexample | None: ...

    def integer_screen(
        self, lhs: Expr, rhs: Expr, sizes: dict[str, int], deadline: Meter, seed: int,
    ) -> tuple[bool, dict[str, Matrix], Matrix, Matrix]: ...

    def find_seq_candidate(
        self, lhs: Expr, rhs: Expr, domains: list[Any], deadline: Meter, seed: int = 0,
    ) -> tuple[dict[Any, int], dict[str, dict[int, Any]]] | None: ...

    def find_index_candidate(self, a: Any, b: Any, deadline: Meter) -> dict[str, dict[int, int]] | None: ...

    def shrink_cells(self, cells: list[tuple[Any, Any]], differs: Callable[[], bool], deadline: Meter) -> None: ...


_installed: Refuter | None = None


def install(refuter: Refuter) -> None:
    """Called by :mod:`symderiv.search` on import."""
    global _installed
    _installed = refuter


def current() -> Refuter:
    if _installed is None:  # only reachable if the kernel is used without importing symderiv
        raise RuntimeError("no counterexample search is installed: import symderiv (or symderiv.search) first")
    return _installed


def differs_at(lhs: Expr, rhs: Expr, sizes: dict[str, int], env: dict[str, Matrix], deadline: Meter) -> bool:
    """Exact re-check: the two sides evaluated with integer entries ``env`` at ``sizes`` differ."""
    return evaluate(lhs, env, sizes, INT, deadline) != evaluate(rhs, env, sizes, INT, deadline)


def confirm(cex: Counterexample | None, lhs: Expr, rhs: Expr, deadline: Meter) -> Counterexample | None:
    """``cex`` when an exact evaluation confirms that the sides differ there, else None."""
    if cex is None or not differs_at(lhs, rhs, cex.sizes, cex.values, deadline):
        return None
    return cex

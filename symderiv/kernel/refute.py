"""The kernel's one door to the untrusted search layer (:mod:`symderiv.search`).

The kernel never imports search. Search installs a :class:`Refuter` here when it is imported; if
nothing is installed when the kernel first asks, :func:`current` loads the default search by its
module name (so ``import symderiv`` stays light and no verdict can run without a search). The
kernel asks it only for *candidates*. A candidate is
evidence for ``failed`` only after the functions below have re-evaluated both sides exactly at
its sizes and entries, with the kernel's own evaluators; a candidate that does not confirm, or
cannot be evaluated, is dropped (the search never makes a verdict, it can only fail to help).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from importlib import import_module
from typing import Any, Protocol

import sympy

from symderiv.errors import BudgetExceeded, NotInFragment
from symderiv.kernel.budget import Meter
from symderiv.kernel.domains import Domain, Point, requirements
from symderiv.kernel.evaluate import INT, Counterexample, Listing, Matrix, dims_of, evaluate, size_of, symbol_table
from symderiv.kernel.seqeval import IndexValue, as_listing, clean, index_value_of, seq_evaluate
from symderiv.lang.operators import INF, Expr, Sym

#: Sequence entries by symbol name: {index: integer}.
SeqEnv = dict[str, dict[int, int]]
#: One entry of one symbol: (symbol name, row, column), the key of a polynomial generator.
EntryKey = tuple[str, int, int]


class Refuter(Protocol):
    """What the kernel may ask of a counterexample search: candidates, never verdicts."""

    def find_counterexample(
        self, lhs: Expr, rhs: Expr, bound: dict[str, int], deadline: Meter, seed: int = 0,
    ) -> Counterexample | None:
        """Sizes and entries at which two matrix expressions seem to differ."""

    def integer_screen(
        self, lhs: Expr, rhs: Expr, sizes: dict[str, int], deadline: Meter, seed: int,
    ) -> tuple[bool, dict[str, Matrix]]:
        """(differ?, entries) at random large integer entries at ``sizes``; the entries are given
        when the sides seem to differ (the kernel evaluates both sides there itself)."""

    def find_seq_candidate(
        self, lhs: Expr, rhs: Expr, domains: list[Domain], deadline: Meter, seed: int = 0,
    ) -> tuple[Point, SeqEnv] | None:
        """Lengths and sequence entries at which two sequence expressions seem to differ."""

    def find_index_candidate(self, a: IndexValue, b: IndexValue, deadline: Meter) -> SeqEnv | None:
        """Sequence entries at which two sides in index notation seem to differ."""

    def find_jacobian_candidate(
        self, gens: dict[EntryKey, Any], jac: Matrix, claim: Matrix, trials: int,
    ) -> dict[EntryKey, int] | None:
        """Integer entries at which two polynomial matrices in the generators ``gens`` seem to differ."""

    def certified_points(
        self, lhs: Expr, rhs: Expr, bound: dict[str, int], positive: frozenset[str], seed: int, count: int,
    ) -> list[tuple[dict[str, int], dict[str, Matrix]]]:
        """Sizes and exact rational entries at which to evaluate two expressions with entrywise
        functions (the kernel certifies a difference there with interval arithmetic)."""

    def tensor_candidates(
        self, lhs: Expr, rhs: Expr, seed: int = 0,
    ) -> Iterable[tuple[dict[Any, int], dict[str, int], dict[str, dict[tuple[int, ...], int]]]]:
        """(sizes, channel counts, entries) at which two 2-D convolution claims may differ (the kernel
        re-evaluates both sides there, :func:`symderiv.kernel.multiaxis.find_counterexample`)."""


_installed: Refuter | None = None


def install(refuter: Refuter) -> None:
    """Called by :mod:`symderiv.search` on import."""
    global _installed
    _installed = refuter


#: The search loaded on first use when none was installed (its ``REFUTER``). Named, not imported:
#: the kernel does not depend on it (its candidates are re-checked here), and the layer contract
#: stays intact.
DEFAULT_SEARCH = "symderiv.search"


def current() -> Refuter:
    if _installed is None:
        install(import_module(DEFAULT_SEARCH).REFUTER)
    assert _installed is not None
    return _installed


# A candidate is evidence only if it is a point where the claim is made, with exact entries: a
# float entry could make equal sides differ by rounding, a matrix of the wrong shape or a vector
# entry outside 0..n-1 is not a value of the declared symbols, and lengths outside the domain
# are not where the identity is claimed.
def _exact(x: object) -> bool:
    return isinstance(x, (int, Fraction))


def _matrices_fit(lhs: Expr, rhs: Expr, sizes: dict[str, int], env: Mapping[str, object]) -> bool:
    """Every dimension has a size ≥ 1 and every symbol an exact matrix of its shape at ``sizes``."""
    if not all(type(sizes.get(d)) is int and sizes[d] >= 1 for d in dims_of(lhs, rhs)):
        return False
    for name, sym in symbol_table(lhs, rhs).items():
        m = env.get(name)
        rows, cols = size_of(sym.shape[0], sizes), size_of(sym.shape[1], sizes)
        if not (isinstance(m, list) and len(m) == rows
                and all(isinstance(r, list) and len(r) == cols and all(map(_exact, r)) for r in m)):
            return False
    return True


def values_at(
    lhs: Expr, rhs: Expr, sizes: dict[str, int], env: dict[str, Matrix], deadline: Meter,
) -> tuple[Matrix, Matrix] | None:
    """Exact re-check: both sides' values with exact entries ``env`` at ``sizes`` when they differ;
    None when they agree or ``env`` is not exact matrices of the symbols' shapes at ``sizes``."""
    if not _matrices_fit(lhs, rhs, sizes, env):
        return None
    a, b = evaluate(lhs, env, sizes, INT, deadline), evaluate(rhs, env, sizes, INT, deadline)
    return (a, b) if a != b else None


def differs_at(lhs: Expr, rhs: Expr, sizes: dict[str, int], env: dict[str, Matrix], deadline: Meter) -> bool:
    """Exact re-check: the two sides evaluated with integer entries ``env`` at ``sizes`` differ
    (False when ``env`` is not exact matrices of the symbols' shapes at ``sizes``)."""
    return values_at(lhs, rhs, sizes, env, deadline) is not None


def confirm(cex: Counterexample | None, lhs: Expr, rhs: Expr, deadline: Meter) -> Counterexample | None:
    """``cex`` when an exact evaluation confirms that the sides differ there, else None."""
    if cex is None:
        return None
    env: dict[str, Matrix] = {}
    for name, v in cex.values.items():
        if not isinstance(v, list):  # a matrix search gives matrices; anything else is no evidence
            return None
        env[name] = v
    if not differs_at(lhs, rhs, cex.sizes, env, deadline):
        return None
    return cex


def _sequences_fit(lhs: Expr, rhs: Expr, params: Point, env: SeqEnv) -> bool:
    """The lengths are integers ≥ 1 that meet the requirements of both sides (each 'valid' or
    'same' operator has n ≥ k), and every symbol is exact entries on integer indices, inside
    0..n-1 for a finite vector of length n."""
    if not all(type(v) is int and v >= 1 for v in params.values()):
        return False
    for req in requirements([lhs, rhs]):
        value = sympy.sympify(req).subs(params)
        if not (value.is_Integer and value >= 0):
            return False
    for name, sym in symbol_table(lhs, rhs).items():
        seq = env.get(name)
        if not isinstance(seq, dict) or not all(type(i) is int and _exact(x) for i, x in seq.items()):
            return False
        if sym.shape[0] is not INF:
            n = sympy.sympify(sym.shape[0]).subs(params)
            if not (n.is_Integer and all(0 <= i < int(n) for i in seq)):
                return False
    return True


#: What evaluating a made-up candidate can raise; such a candidate is simply not evidence.
_UNUSABLE = (NotInFragment, BudgetExceeded, ZeroDivisionError, KeyError, IndexError, TypeError, ValueError)


def sequence_counterexample(
    lhs: Expr, rhs: Expr, domains: list[Domain], deadline: Meter, seed: int = 0,
) -> Counterexample | None:
    """A counterexample to a sequence identity at small lengths: the search proposes lengths and
    entries, and both sides are re-evaluated exactly here (:func:`seq_evaluate`). None when none
    is found, or when the expressions cannot be evaluated at concrete lengths."""
    try:
        found = current().find_seq_candidate(lhs, rhs, domains, deadline, seed)
        if found is None:
            return None
        params, env = found
        if not _sequences_fit(lhs, rhs, params, env):
            return None
        symbols = {s.name: s for s in lhs.symbols() + rhs.symbols()}
        a, b = seq_evaluate(lhs, env, params), seq_evaluate(rhs, env, params)
        if clean(a) == clean(b):
            return None
        sizes = {str(k): v for k, v in params.items()}
        return Counterexample(sizes, {k: as_listing(v, symbols[k]) for k, v in env.items()},
                              as_listing(a), as_listing(b))
    except _UNUSABLE:
        return None


def index_counterexample(a: IndexValue, b: IndexValue, deadline: Meter) -> Counterexample | None:
    """Entries from the search at which two sides in index notation differ, re-evaluated exactly
    here (:func:`index_value_of`)."""
    try:
        env = current().find_index_candidate(a, b, deadline)
        # index_value sums over a box of indices that holds every term of entries on -1..1 only
        if env is None or not all(isinstance(v, dict) and all(type(i) is int and -1 <= i <= 1 and _exact(x)
                                                              for i, x in v.items()) for v in env.values()):
            return None
        x, y = index_value_of(a, env), index_value_of(b, env)
    except _UNUSABLE:
        return None
    if x == y:
        return None
    return Counterexample({}, {k: {str(i): w for i, w in v.items() if w} for k, v in env.items()}, [[x]], [[y]])


def jacobian_counterexample(
    symbols: dict[str, Sym], sizes: dict[str, int], gens: dict[EntryKey, Any], jac: Matrix, claim: Matrix,
    trials: int,
) -> Counterexample | None:
    """Integer entries at which the claimed gradient (left) and the Jacobian (right), polynomial
    matrices in the entries ``gens``, differ: proposed by the search, evaluated exactly here."""
    point = current().find_jacobian_candidate(gens, jac, claim, trials)
    if point is None or set(point) != set(gens) or not all(type(x) is int for x in point.values()):
        return None
    args = [point[k] for k in gens]
    J = [[as_fraction(v(*args)) for v in row] for row in jac]
    G = [[as_fraction(v(*args)) for v in row] for row in claim]
    if J == G:
        return None
    values: dict[str, Listing] = {
        name: [[point[(name, i, j)] for j in range(size_of(s.shape[1], sizes))]
               for i in range(size_of(s.shape[0], sizes))]
        for name, s in symbols.items()
    }
    return Counterexample(dict(sizes), values, G, J, note="left: claimed gradient; right: Jacobian")


def as_fraction(v: Any) -> Fraction:
    """A value of SymPy's polynomial domain QQ as a Fraction."""
    return Fraction(int(v.numerator), int(v.denominator))


def fits_hypotheses(env: Mapping[str, Matrix], positive: frozenset[str]) -> bool:
    """Entries of symbols declared positive are positive (a point outside the hypotheses is not
    where the claim is made)."""
    return all(v > 0 for name in positive if name in env for row in env[name] for v in row)


def exact_point(lhs: Expr, rhs: Expr, sizes: dict[str, int], env: Mapping[str, object]) -> bool:
    """``env`` gives exact matrices of the declared shapes at ``sizes``."""
    return _matrices_fit(lhs, rhs, sizes, env)

"""Refutation by search (UNTRUSTED): small counterexamples, shrinking, and the random integer screen.

Nothing here can make a claim verified. The kernel asks this layer, through the narrow
:class:`symderiv.kernel.refute.Refuter` interface, for *candidate* counterexamples and re-checks
each one exactly before it reports ``failed``.
"""
from __future__ import annotations

import random
from collections.abc import Callable, MutableMapping
from fractions import Fraction
from typing import Any

import sympy

from symderiv.errors import BudgetExceeded, OutsideDomain
from symderiv.kernel.budget import Meter
from symderiv.kernel.domains import Domain, Point, domain_points
from symderiv.kernel.evaluate import (
    INT, Counterexample, Matrix, dims_of, evaluate, random_env, size_candidates, size_of, symbol_table,
)
from symderiv.kernel.refute import EntryKey, SeqEnv, as_fraction
from symderiv.kernel.seqeval import IndexValue, clean, index_terms, index_value_of, seq_evaluate
from symderiv.lang.index import IndexNotation, IndexSum
from symderiv.lang.operators import (
    Det,
    Expr,
    INF,
    Inv,
    LogDet,
    Sym,
)

#: A place holding one entry of a candidate: (a matrix row or a sequence, index or key).
Cell = tuple[MutableMapping[Any, int] | list[int], Any]


def find_counterexample(
    lhs: Expr,
    rhs: Expr,
    bound: dict[str, int],
    deadline: Meter,
    seed: int = 0,
    trials_per_size: int | None = None,
) -> Counterexample | None:
    """Search small sizes (up to the bound B) and small integer entries for a difference,
    then shrink the entries towards 0 and ±1, as hypothesis shrinks a falsifying example."""
    symbols = symbol_table(lhs, rhs)
    dims = dims_of(lhs, rhs)
    rng = random.Random(seed)
    trials = deadline.budget.search_trials_per_size if trials_per_size is None else trials_per_size
    for sizes in size_candidates(dims, bound):
        for t in range(trials):
            deadline.check()
            span = 1 if t < 3 else (3 if t < 8 else 50)
            env = random_env(symbols, sizes, lambda: rng.randint(-span, span))
            try:
                a = evaluate(lhs, env, sizes, INT, deadline)
                b = evaluate(rhs, env, sizes, INT, deadline)
            except OutsideDomain:  # a size at a pole of a coefficient such as 1/(n - 1)
                break
            if a != b:
                env = shrink(lhs, rhs, env, sizes, deadline)
                a = evaluate(lhs, env, sizes, INT, deadline)
                b = evaluate(rhs, env, sizes, INT, deadline)
                return Counterexample(dict(sizes), env, a, b)
    return None


def shrink_cells(cells: list[Cell], differs: Callable[[Meter], bool], deadline: Meter) -> bool:
    """Shrink a counterexample in place, as hypothesis does: replace each entry by a simpler value
    (0, then 1, then -1) while ``differs(meter)`` still holds. ``cells`` are (container, key)
    pairs, so matrix rows and sequence dicts shrink alike.

    Shrinking only makes a counterexample easier to read, so it spends at most half the work left
    (:meth:`Meter.part`): past that it stops with every entry at its last value that still
    differs (the unshrunk counterexample at worst), and the check goes on with it, instead of a
    refuted claim becoming undecided. Returns whether shrinking ran to the end."""

    def simpler(a: int, b: int) -> bool:
        return (abs(a), a < 0) < (abs(b), b < 0)

    meter = deadline.part(0.5)
    try:
        changed = True
        while changed:
            changed = False
            for box, key in cells:
                old = box[key]
                for cand in (0, 1, -1):
                    if not simpler(cand, old):
                        continue
                    box[key] = cand
                    try:
                        meter.check()
                        still = differs(meter)
                    except BudgetExceeded:
                        box[key] = old
                        raise
                    if still:
                        changed = True
                        break
                    box[key] = old
        return True
    except BudgetExceeded:
        return False
    finally:
        deadline.absorb(meter)


def shrink(lhs: Expr, rhs: Expr, env: dict[str, Matrix], sizes: dict[str, int], deadline: Meter) -> dict[str, Matrix]:
    env = {k: [row[:] for row in v] for k, v in env.items()}
    cells: list[Cell] = [(row, j) for m in env.values() for row in m for j in range(len(row))]
    shrink_cells(cells, lambda meter: evaluate(lhs, env, sizes, INT, meter) != evaluate(rhs, env, sizes, INT, meter),
                 deadline)
    return env


#: Up to this size (every dimension) the screen evaluates exactly in Python: measured on products of
#: 2-16 n×n factors, that is as fast as NumPy's modular evaluation for n ≤ 3 (within ±30 %, tens of
#: µs), and the commands that screen only small sizes (every catalog layer and course document:
#: sizes 1 and 2) never pay NumPy's import (about 60 ms of each process's CPU).
EXACT_SCREEN_MAX_SIZE = 3


def integer_screen(
    lhs: Expr, rhs: Expr, sizes: dict[str, int], deadline: Meter, seed: int, bits: int = 64,
) -> tuple[bool, dict[str, Matrix]]:
    """Evaluate both sides with random ``bits``-bit integer entries (``bits`` ≤ 64); return
    (differs, env), with env (the entries as lists) only when the sides differ, else {}.

    At sizes up to :data:`EXACT_SCREEN_MAX_SIZE` the evaluation is exact (Python integers); above,
    it is modular (:mod:`symderiv.search.modular`: NumPy products modulo three primes), exact where
    the modular screen does not apply. A difference of residues is a difference of the exact
    values; agreement is only evidence: by Schwartz–Zippel a nonzero difference polynomial of
    degree D vanishes modulo p with probability ≤ D / p.
    """
    table = symbol_table(lhs, rhs)
    shapes = {name: (size_of(s.shape[0], sizes), size_of(s.shape[1], sizes)) for name, s in table.items()}
    if max(sizes.values(), default=1) <= EXACT_SCREEN_MAX_SIZE:
        rng = random.Random(seed)
        env: dict[str, Matrix] = {name: [[rng.randrange(1, 1 << bits) for _ in range(c)] for _ in range(r)]
                                  for name, (r, c) in shapes.items()}
        a = evaluate(lhs, env, sizes, INT, deadline)
        b = evaluate(rhs, env, sizes, INT, deadline)
        return a != b, (env if a != b else {})

    import numpy as np  # here, not at the top: ~60 ms of import that most checks never need

    from symderiv.search import modular

    gen = np.random.Generator(np.random.PCG64(seed))
    raw = {name: gen.integers(1, 1 << bits, size=shape, dtype=np.uint64) for name, shape in shapes.items()}
    try:
        res = modular.residues(raw)
        a_res = modular.modular_evaluate(lhs, res, sizes, deadline)
        b_res = modular.modular_evaluate(rhs, res, sizes, deadline)
        differs = a_res.shape != b_res.shape or not np.array_equal(a_res, b_res)
        return differs, ({k: v.tolist() for k, v in raw.items()} if differs else {})
    except modular.Unsupported:
        env = {k: v.tolist() for k, v in raw.items()}
        a = evaluate(lhs, env, sizes, INT, deadline)
        b = evaluate(rhs, env, sizes, INT, deadline)
        return a != b, (env if a != b else {})


def find_seq_candidate(
    lhs: Expr, rhs: Expr, domains: list[Domain], deadline: Meter, seed: int = 0,
) -> tuple[Point, SeqEnv] | None:
    """Lengths ``params`` and entries ``env`` (sequences as {index: value}) at which the two sides of a
    correlation/convolution identity seem to differ, shrunk towards 0 and ±1; None if none is found."""
    rng = random.Random(seed)
    symbols = {s.name: s for s in lhs.symbols() + rhs.symbols()}
    points: list[Point] = []
    for dom in domains:
        points.extend(domain_points(dom))
    points.sort(key=lambda q: (sum(q.values()), sorted((str(k), v) for k, v in q.items())))
    symbolic = any(s.shape[0] is not INF and not sympy.sympify(s.shape[0]).is_Integer for s in symbols.values())
    if not points and symbolic:
        return None  # no small lengths in the domain: nothing concrete to evaluate
    seen: set[tuple[tuple[str, int], ...]] = set()
    for params in points or [{}]:
        key = tuple(sorted((str(k), v) for k, v in params.items()))
        if key in seen:
            continue
        seen.add(key)
        for t in range(deadline.budget.seq_search_trials):
            deadline.check()
            span = 1 if t < 4 else 3
            env: SeqEnv = {}
            for name, s in symbols.items():
                L = s.shape[0]
                idx = range(-1, 2) if L is INF else range(int(sympy.sympify(L).subs(params)))
                env[name] = {i: rng.randint(-span, span) for i in idx}
            try:
                a, b = clean(seq_evaluate(lhs, env, params)), clean(seq_evaluate(rhs, env, params))
            except (ValueError, TypeError):
                continue
            if a != b:
                return params, shrink_sequences(lhs, rhs, env, params, deadline)
    return None


def shrink_sequences(lhs: Expr, rhs: Expr, env: SeqEnv, params: Point, deadline: Meter) -> SeqEnv:
    env = {k: dict(v) for k, v in env.items()}
    cells: list[Cell] = [(v, i) for v in env.values() for i in list(v)]
    shrink_cells(cells, lambda meter: clean(seq_evaluate(lhs, env, params)) != clean(seq_evaluate(rhs, env, params)),
                 deadline)
    return env


def find_index_candidate(a: IndexValue, b: IndexValue, deadline: Meter) -> SeqEnv | None:
    """Entries in {-1, 0, 1} on indices -1..1 at which two index-notation sides seem to differ."""
    names: set[str] = set()
    for v in (a, b):
        if isinstance(v, (IndexNotation, IndexSum)):
            names |= {n for _, _, f in index_terms(v) for n, _ in f}
        else:
            names |= {s.name for s in v.symbols()}
    rng = random.Random(0)
    for t in range(deadline.budget.index_search_trials):
        deadline.check()
        env = {n: {i: rng.randint(-1, 1) for i in range(-1, 2)} for n in sorted(names)}
        if index_value_of(a, env) != index_value_of(b, env):
            return env
    return None


def find_jacobian_candidate(
    gens: dict[EntryKey, Any], jac: Matrix, claim: Matrix, trials: int,
) -> dict[EntryKey, int] | None:
    """Small integer entries at which two polynomial matrices in ``gens`` (the Jacobian and the
    claimed gradient) differ: entries in {-1, 0, 1} first, then in [-3, 3]."""
    rng = random.Random(0)
    keys = list(gens)
    for trial in range(trials):
        span = 1 if trial < 50 else 3
        point = {k: rng.randint(-span, span) for k in keys}
        args = [point[k] for k in keys]
        J = [[as_fraction(v(*args)) for v in row] for row in jac]
        G = [[as_fraction(v(*args)) for v in row] for row in claim]
        if J != G:
            return point
    return None


_VALUES = [Fraction(k, d) for k in range(-3, 4) for d in (1, 2, 3) if k != 0] + [Fraction(0)]
_POSITIVE = [v for v in _VALUES if v > 0]


def certified_points(
    lhs: Expr, rhs: Expr, bound: dict[str, int], positive: frozenset[str], seed: int, count: int,
) -> list[tuple[dict[str, int], dict[str, Matrix]]]:
    """Small sizes (each dimension up to max(B_d, 2), smallest first) and small rationals
    (positive for declared-positive symbols), deterministic in ``seed``."""
    rng = random.Random(seed)
    symbols = symbol_table(lhs, rhs)
    dims = dims_of(lhs, rhs)
    # every combination of sizes up to max(B_d, 2), smallest first, visited in turn: a dimension that
    # only enters through a coefficient (1/√d) must also be tried at 2
    sizes_list = size_candidates(dims, {d: max(bound.get(d, 1), 2) for d in dims})[:count] or [{}]
    singular = _under_matrix_functions(lhs, rhs)
    out = []
    for k in range(count):
        sizes = sizes_list[k % len(sizes_list)]
        env = {}
        for name, sym in symbols.items():
            pool = _POSITIVE if name in positive else _VALUES
            rows, cols = size_of(sym.shape[0], sizes), size_of(sym.shape[1], sizes)
            env[name] = [[rng.choice(pool) for _ in range(cols)] for _ in range(rows)]
        if singular and k % 3 == 2:
            # a singular matrix where an inverse or determinant is taken: a witness that a right side
            # needing X⁻¹ is undefined where the left side is not (det X = det X·tr(X⁻¹dX) for all X)
            m = env[singular[(k // 3) % len(singular)]]
            if len(m) >= 2:
                m[1] = list(m[0])
            else:
                m[0] = [Fraction(0)] * len(m[0])
        out.append((dict(sizes), env))
    return out


def _under_matrix_functions(*exprs: Expr) -> list[str]:
    """Square symbols that occur inside an inverse, a determinant or a log-determinant, sorted."""
    names = {s.name for e in exprs for n in e.walk() if isinstance(n, (Inv, Det, LogDet))
             for s in n.arg.walk() if isinstance(s, Sym) and s.kind != "delta" and s.shape[0] == s.shape[1]}
    return sorted(names)

"""Certified refutation for claims with entrywise functions (§9 of ``verification-theory-2``).

Where exp, log, σ, tanh or sqrt make values irrational, a counterexample is certified by interval
arithmetic: every entry is evaluated as an enclosure [lo, hi] that provably contains the true
value (mpmath's interval context, outward rounding at 200 bits; the functions are monotone, so
f([a, b]) is enclosed by f's enclosures at a and b). When an entry of the left side and the same
entry of the right side have *disjoint* enclosures, the two sides differ at that point: a proof.
Overlapping enclosures prove nothing, and floating point is never used.

Points are exact rationals chosen deterministically from the claim; the step function raises
"uncertain" when an enclosure contains 0, and the point is skipped. Sample points satisfy the
stated hypotheses because hypotheses are applied by an onto substitution before this runs
(Theorem D1), and declared-positive symbols get positive entries.
"""
from __future__ import annotations

import random
from fractions import Fraction
from typing import Any

from mpmath.ctx_iv import MPIntervalContext

from symderiv.errors import BudgetExceeded, NotExact, OutsideDomain
from symderiv.kernel.budget import DEFAULT_BUDGET, Meter
from symderiv.kernel.evaluate import (
    Arith,
    Counterexample,
    Matrix,
    dims_of,
    evaluate,
    size_candidates,
    size_of,
    symbol_table,
)
from symderiv.lang.operators import Expr

PRECISION_BITS = 200
IV = MPIntervalContext()
IV.prec = PRECISION_BITS


def _iv(q: Fraction) -> Any:
    return IV.mpf(q.numerator) / IV.mpf(q.denominator)


def _point(x: Any) -> Any:
    return IV.mpf([x, x])


def _mono(f: Any, v: Any, increasing: bool = True) -> Any:
    """An enclosure of a monotone f on [a, b] from enclosures at the endpoints."""
    lo, hi = f(_point(v.a)), f(_point(v.b))
    if not increasing:
        lo, hi = hi, lo
    return IV.mpf([lo.a, hi.b])


def _sigmoid(x: Any) -> Any:
    return 1 / (1 + IV.exp(-x))


def _tanh(x: Any) -> Any:
    e = IV.exp(-2 * x)
    return (1 - e) / (1 + e)


def _softplus(x: Any) -> Any:
    return IV.log(1 + IV.exp(x))


def _interval_fn(name: str, prime: int, v: Any) -> Any:
    if prime:
        raise NotExact("f′ is lowered before evaluation")
    if name == "exp":
        return _mono(IV.exp, v)
    if name == "sigmoid":
        return _mono(_sigmoid, v)
    if name == "tanh":
        return _mono(_tanh, v)
    if name == "softplus":
        return _mono(_softplus, v)
    if name == "log":
        if v.b <= 0:
            raise OutsideDomain("log of an entry ≤ 0", certain=True)
        if v.a <= 0:
            raise OutsideDomain("log of an entry that may be ≤ 0", certain=False)
        return _mono(IV.log, v)
    if name == "sqrt":
        if v.b < 0:
            raise OutsideDomain("sqrt of a negative entry", certain=True)
        if v.a < 0:
            raise OutsideDomain("sqrt of an entry that may be negative", certain=False)
        return _mono(IV.sqrt, v)
    if name == "recip":
        if v.a <= 0 <= v.b:
            raise OutsideDomain("1/x at an entry that may be 0", certain=bool(v.a == 0 and v.b == 0))
        return 1 / v
    if name == "step":
        if v.a > 0:
            return IV.mpf(1)
        if v.b < 0:
            return IV.mpf(0)
        raise NotExact("step at an entry whose sign is not certain")
    if name == "square":
        return v * v
    if name == "relu":
        return IV.mpf([max(v.a, 0), max(v.b, 0)])
    raise NotExact(f"no interval rule for {name}")


INTERVAL = Arith(IV.mpf(0), _iv, _interval_fn)

_TINY = IV.mpf("1e-30")  # enclosures narrower than this print as their midpoint
_VALUES = [Fraction(k, d) for k in range(-3, 4) for d in (1, 2, 3) if k != 0] + [Fraction(0)]
_POSITIVE = [v for v in _VALUES if v > 0]


def disjoint(a: Any, b: Any) -> bool:
    return bool(a.b < b.a or b.b < a.a)


def _text(v: Any) -> str:
    """An enclosure in a few digits: its midpoint, and its width when not tiny."""
    mid = (v.a + v.b) / 2
    width = v.b - v.a
    s = IV.nstr(IV.mpf([mid, mid]), 12).strip("[]").split(",")[0].strip()
    return s if width < _TINY else f"{s}±{IV.nstr(IV.mpf([width, width]), 2).strip('[]').split(',')[0]}"


def _texts(m: Matrix) -> Matrix:
    return [[_text(v) for v in row] for row in m]


def certified_counterexample(
    lhs: Expr, rhs: Expr, bound: dict[str, int], positive: frozenset[str], deadline: Meter, seed: int,
    points: int = DEFAULT_BUDGET.certified_points,
) -> tuple[Counterexample | None, str]:
    """A point where ``lhs`` and ``rhs`` certainly differ, or (None, what was seen).

    A point where the left side is defined and the right side is *certainly* undefined is a
    counterexample too: the claim says the right side is defined wherever the left side is."""
    rng = random.Random(seed)
    symbols = symbol_table(lhs, rhs)
    dims = dims_of(lhs, rhs)
    sizes_list = size_candidates(dims, {d: max(bound.get(d, 1), 2) for d in dims})[:6] or [{}]
    seen_agree = 0
    skipped = 0
    for k in range(points):
        sizes = sizes_list[k % len(sizes_list)]
        env: dict[str, Matrix] = {}
        for name, s in symbols.items():
            pool = _POSITIVE if name in positive else _VALUES
            env[name] = [[rng.choice(pool) for _ in range(size_of(s.shape[1], sizes))]
                         for _ in range(size_of(s.shape[0], sizes))]
        ienv = {n: [[_iv(v) for v in row] for row in m] for n, m in env.items()}
        try:
            a = evaluate(lhs, ienv, sizes, INTERVAL, deadline)
        except (OutsideDomain, NotExact, ZeroDivisionError):
            skipped += 1
            continue
        except BudgetExceeded:
            break
        try:
            b = evaluate(rhs, ienv, sizes, INTERVAL, deadline)
        except OutsideDomain as exc:
            if exc.certain:
                note = f"the right side is undefined here ({exc}) where the left side is defined"
                return Counterexample(dict(sizes), env, _texts(a), [["undefined"]], note=note), ""
            skipped += 1
            continue
        except (NotExact, ZeroDivisionError):
            skipped += 1
            continue
        except BudgetExceeded:
            break
        for ra, rb in zip(a, b):
            for x, y in zip(ra, rb):
                if disjoint(x, y):
                    note = f"certified: interval enclosures at {PRECISION_BITS}-bit precision are disjoint"
                    return Counterexample(dict(sizes), env, _texts(a), _texts(b), note=note), ""
        seen_agree += 1
    skip_text = f"; {skipped} point(s) skipped" if skipped else ""
    return None, f"the enclosures overlapped at {seen_agree} point(s)" + skip_text

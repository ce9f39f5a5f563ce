"""Certified refutation for claims with entrywise functions (§9 of ``verification-theory-2``).

Where exp, log, σ, tanh or sqrt make values irrational, a counterexample is certified by interval
arithmetic: every entry is evaluated as an enclosure [lo, hi] that provably contains the true
value (mpmath's interval context, outward rounding at 200 bits; the functions are monotone, so
f([a, b]) is enclosed by f's enclosures at a and b). When an entry of the left side and the same
entry of the right side have *disjoint* enclosures, the two sides differ at that point: a proof.
Overlapping enclosures prove nothing, and floating point is never used.

Points are proposed by the untrusted search (:mod:`symderiv.search`) and checked here: exact
rationals of the declared shapes, positive entries for symbols declared positive (the other
hypotheses are applied by an onto substitution before this runs, Theorem D1, so every point
satisfies them). The step function raises "uncertain" when an enclosure contains 0, and the
point is skipped.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any

from mpmath.ctx_iv import MPIntervalContext

from symderiv.errors import BudgetExceeded, NotExact, OutsideDomain
from symderiv.kernel import refute
from symderiv.kernel.budget import DEFAULT_BUDGET, Meter
from symderiv.kernel.evaluate import (
    Arith,
    Counterexample,
    Matrix,
    evaluate,
    exact_eliminate,
)
from symderiv.lang.operators import Add, Expr, Scale

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


def _exact_of(v: Any) -> Fraction | None:
    """The rational a zero-width enclosure [a, a] pins its value to (the enclosure contains the true
    value, so the true value *is* a), else None."""
    lo, hi = v._mpi_
    if lo != hi:
        return None
    sign, man, exp, bc = lo
    if bc < 0 and man == 0 and exp != 0:  # ±inf or nan
        return None
    q: Fraction = Fraction(int(man)) * (Fraction(2) ** int(exp))
    return -q if sign else q


def _interval_mat(name: str, m: Matrix) -> Matrix:
    """M⁻¹, det M, log det M of an interval matrix. When every entry is pinned to a rational the
    elimination is exact (a singular M is then *certainly* singular); otherwise Gauss–Jordan in
    interval arithmetic, and a pivot whose enclosure contains 0 makes the value uncertain."""
    exact = [[_exact_of(v) for v in row] for row in m]
    if all(q is not None for row in exact for q in row):
        det, inverse = exact_eliminate(exact, name == "inv")
        if name == "det":
            return [[_iv(det)]]
        if name == "logdet":
            if det <= 0:
                raise OutsideDomain("log det of a matrix whose determinant is ≤ 0", certain=True)
            return [[_mono(IV.log, _iv(det))]]
        if inverse is None:
            raise OutsideDomain("the inverse of a singular matrix", certain=True)
        return [[_iv(q) for q in row] for row in inverse]
    n = len(m)
    a = [list(row) + ([IV.mpf(int(i == j)) for j in range(n)] if name == "inv" else []) for i, row in enumerate(m)]
    det = IV.mpf(1)
    for col in range(n):
        piv = max(range(col, n), key=lambda r: min(abs(a[r][col].a), abs(a[r][col].b)) if not
                  (a[r][col].a <= 0 <= a[r][col].b) else -1)
        if a[piv][col].a <= 0 <= a[piv][col].b:
            raise NotExact("a pivot's enclosure contains 0")
        if piv != col:
            a[col], a[piv] = a[piv], a[col]
            det = -det
        p = a[col][col]
        det = det * p
        a[col] = [v / p for v in a[col]]
        for r in range(n):
            if r != col:
                f = a[r][col]
                a[r] = [v - f * w for v, w in zip(a[r], a[col])]
    if name == "det":
        return [[det]]
    if name == "logdet":
        if det.b <= 0:
            raise OutsideDomain("log det of a matrix whose determinant is ≤ 0", certain=True)
        if det.a <= 0:
            raise OutsideDomain("log det of a matrix whose determinant may be ≤ 0", certain=False)
        return [[_mono(IV.log, det)]]
    return [row[n:] for row in a]


INTERVAL = Arith(IV.mpf(0), _iv, _interval_fn, _interval_mat)

_TINY = IV.mpf("1e-30")  # enclosures narrower than this print as their midpoint


def disjoint(a: Any, b: Any) -> bool:
    return bool(a.b < b.a or b.b < a.a)


def _text(v: Any) -> str:
    """An enclosure in a few digits: its midpoint, and its width when not tiny."""
    mid = (v.a + v.b) / 2
    width = v.b - v.a
    if v.a <= 0 <= v.b and width < _TINY:
        return "0"  # the enclosure of an exact 0 straddles it by rounding
    s = IV.nstr(IV.mpf([mid, mid]), 12).strip("[]").split(",")[0].strip()
    return s if width < _TINY else f"{s}±{IV.nstr(IV.mpf([width, width]), 2).strip('[]').split(',')[0]}"


def _texts(m: Matrix) -> Matrix:
    return [[_text(v) for v in row] for row in m]


def _defined(e: Expr, ienv: dict[str, Any], sizes: dict[str, int], deadline: Meter) -> str:
    """"yes", "no" (certainly undefined: an exact singular matrix, a log of an enclosure ≤ 0) or
    "unknown", for ``e`` as written (a first-order claim's sides come with Δ already replaced by 0)."""
    try:
        evaluate(e, ienv, sizes, INTERVAL, deadline)
    except OutsideDomain as exc:
        return "no" if exc.certain else "unknown"
    except (NotExact, ZeroDivisionError, KeyError):
        return "unknown"
    return "yes"


def certify_at(
    lhs: Expr, rhs: Expr, sizes: dict[str, int], env: dict[str, Matrix], deadline: Meter,
    domain: tuple[Expr, Expr] | None = None,
) -> Counterexample | str:
    """A certified counterexample at this exact point, or why the point proves nothing
    ("skipped": outside the left side's domain or a step at an uncertain sign; "agree": the
    enclosures overlap). A point where the left side is defined and the right side is *certainly*
    undefined is a counterexample: the claim says the right side is defined wherever the left is."""
    ienv = {n: [[_iv(v) for v in row] for row in m] for n, m in env.items()}
    if domain is not None:
        if _defined(domain[0], ienv, sizes, deadline) != "yes":
            return "skipped"  # the left side as written is not (certainly) defined here: the point proves nothing
        if _defined(domain[1], ienv, sizes, deadline) == "no":
            note = ("the right side as written is undefined here (an inverse of a singular matrix, or a log det of "
                    "a determinant ≤ 0) where the left side is defined")
            return Counterexample(dict(sizes), env, [["defined"]], [["undefined"]], note=note)
    try:
        a = evaluate(lhs, ienv, sizes, INTERVAL, deadline)
    except (OutsideDomain, NotExact, ZeroDivisionError):
        return "skipped"
    try:
        b = evaluate(rhs, ienv, sizes, INTERVAL, deadline)
    except OutsideDomain as exc:
        if exc.certain:
            note = f"the right side is undefined here ({exc}) where the left side is defined"
            return Counterexample(dict(sizes), env, _texts(a), [["undefined"]], note=note)
        return "skipped"
    except (NotExact, ZeroDivisionError):
        return "skipped"
    for ra, rb in zip(a, b):
        for x, y in zip(ra, rb):
            if disjoint(x, y):
                note = f"certified: interval enclosures at {PRECISION_BITS}-bit precision are disjoint"
                return Counterexample(dict(sizes), env, _texts(a), _texts(b), note=note)
    return "agree"


def guards_hold(guards: tuple[Expr, ...], sizes: dict[str, int], env: dict[str, Matrix], deadline: Meter) -> bool:
    """Every entry of every guard expression is certainly > 0 at this point."""
    ienv = {n: [[_iv(v) for v in row] for row in m] for n, m in env.items()}
    for g in guards:
        try:
            values = evaluate(g, ienv, sizes, INTERVAL, deadline)
        except (OutsideDomain, NotExact, ZeroDivisionError, KeyError):
            return False
        if not all(v.a > 0 for row in values for v in row):
            return False
    return True


def certified_counterexample(
    lhs: Expr, rhs: Expr, bound: dict[str, int], positive: frozenset[str], deadline: Meter, seed: int,
    points: int = DEFAULT_BUDGET.certified_points, guards: tuple[Expr, ...] = (),
    domain: tuple[Expr, Expr] | None = None,
) -> tuple[Counterexample | None, str]:
    """A certified counterexample at one of the points the (untrusted) search proposes, or
    (None, what was seen). Each point is checked here: exact entries of the declared shapes,
    positive where a symbol is declared positive, every entry of each ``guard`` certainly positive
    (a symbol declared positive *and* substituted by a hypothesis, y := π(u): the point must satisfy
    π(u) > 0, not merely u > 0), then interval evaluation."""
    seen = {"agree": 0, "skipped": 0, "invalid": 0}
    # the search also sees the sides as written (0·written: the same value), so that it knows where an
    # inverse or a determinant is taken even when lowering removed it ((X⁻¹)⁻¹ = X)
    hint_l, hint_r = (lhs, rhs) if domain is None else (Add(lhs, Scale(0, domain[0])), Add(rhs, Scale(0, domain[1])))
    for sizes, env in refute.current().certified_points(hint_l, hint_r, bound, positive, seed, points):
        if not (refute.exact_point(hint_l, hint_r, sizes, env) and refute.fits_hypotheses(env, positive)
                and guards_hold(guards, sizes, env, deadline)):
            seen["invalid"] += 1
            continue
        try:
            out = certify_at(lhs, rhs, sizes, env, deadline, domain)
        except BudgetExceeded:
            break
        if isinstance(out, Counterexample):
            return out, ""
        seen[out] += 1
    text = f"the enclosures overlapped at {seen['agree']} point(s)"
    if seen["skipped"]:
        text += f"; {seen['skipped']} point(s) outside the domain or at an uncertain step skipped"
    return None, text

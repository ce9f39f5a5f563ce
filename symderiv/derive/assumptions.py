"""Hypotheses as users state them: ``sums_to(y)``, ``symmetric(A)``, ``positive(x)``, ``invertible(X)``,
``det_positive(X)``, or tuples
``("sums-to", y)`` / ``("sums-to", y, 1)``, with symderiv or SymPy symbols.

The kernel applies each one (:mod:`symderiv.kernel.hypotheses`): 𝟏ᵀy = c and A = Aᵀ by an onto
substitution (Theorem D1), x > 0 as an open condition (domains and sample points)."""
from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from typing import Any

from symderiv.errors import SymderivError
from symderiv.kernel.decide import Hypothesis
from symderiv.kernel.hypotheses import substitution
from symderiv.lang.operators import sym_from

KINDS = ("symmetric", "sums-to", "positive", "invertible", "detpos")


def sums_to(y: Any, value: Any = 1) -> Hypothesis:
    """𝟏ᵀy = value for a column vector y (a probability vector: value 1)."""
    return Hypothesis("sums-to", sym_from(y), Fraction(value))


def symmetric(a: Any) -> Hypothesis:
    """A = Aᵀ for a square matrix A."""
    return Hypothesis("symmetric", sym_from(a))


def positive(x: Any) -> Hypothesis:
    """Every entry of x is > 0."""
    return Hypothesis("positive", sym_from(x))


def invertible(x: Any) -> Hypothesis:
    """The square matrix X is invertible (X⁻¹ exists; Jacobi's formula for d det X holds)."""
    return Hypothesis("invertible", sym_from(x))


def det_positive(x: Any) -> Hypothesis:
    """det X > 0 for a square matrix X (log det X is defined; X is invertible)."""
    return Hypothesis("detpos", sym_from(x))


def as_hypothesis(h: Any) -> Hypothesis:
    """A :class:`Hypothesis`, or a tuple (kind, symbol) / (kind, symbol, value) made into one."""
    if isinstance(h, Hypothesis):
        return h
    if isinstance(h, tuple) and len(h) in (2, 3) and h[0] in KINDS:
        kind, sym = h[0], sym_from(h[1])
        if len(h) == 3:
            if kind != "sums-to":
                raise SymderivError(f"a {kind} hypothesis takes no value")
            return Hypothesis(kind, sym, Fraction(h[2]))
        return Hypothesis(kind, sym)
    raise SymderivError(f"cannot read {h!r} as a hypothesis; use sums_to(y), symmetric(A), positive(x), invertible(X), "
                        f"det_positive(X) or a tuple "
                        f"(kind, symbol) with kind one of {', '.join(KINDS)}")


def as_hypotheses(items: Iterable[Any] | None) -> tuple[Hypothesis, ...]:
    """The hypotheses, each stated once. Two different conditions on one symbol, or conditions no value
    satisfies (positive(y) with sums_to(y, 0)), are refused here with a SymderivError: under them a claim
    would hold vacuously, or the check would stop with an internal error."""
    out: list[Hypothesis] = []
    for h in (as_hypothesis(h) for h in (items or ())):
        if h not in out:
            out.append(h)
    try:
        substitution(tuple(out))
    except ValueError as exc:
        raise SymderivError(str(exc)) from None
    return tuple(out)

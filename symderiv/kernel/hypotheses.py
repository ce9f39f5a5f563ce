"""Hypotheses a claim is stated under (part D of ``verification-theory-2``).

Each linear hypothesis is applied by an *onto substitution* (Theorem D1): a parametrisation π whose
image is exactly the set the hypothesis describes, so the claim holds under the hypothesis iff the
substituted claim holds for all values of the parameters, which the ordinary procedure decides.

* ``A = Aᵀ`` (symmetric):  A := ½(A + Aᵀ), fixing every symmetric A;
* ``𝟏ᵀy = c`` (sums to c): y := y + ((c − 𝟏ᵀy)/n)·𝟏, fixing every y with 𝟏ᵀy = c
  (𝟏ᵀ of the right side is 𝟏ᵀy + (c − 𝟏ᵀy)·(𝟏ᵀ𝟏)/n = c, by Theorem A's isolated vertex);
* ``x > 0`` (entrywise positive): an open condition (Theorem D4). It changes no identity between
  analytic expressions; it feeds the domain check (log x is defined) and makes sample points
  positive.
* ``X invertible`` and ``det X > 0``: open conditions too (§6.1, §6.6); they feed the domain check of
  inverses and log-determinants, and a counterexample must satisfy them (a guard).
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import sympy

from symderiv.lang.operators import (
    Add,
    Det,
    DimScalar,
    Expr,
    Hadamard,
    MatMul,
    Ones,
    Scale,
    Sym,
    Transpose,
)
from symderiv.lang.printing import plain

Kind = Literal["symmetric", "sums-to", "positive", "invertible", "detpos"]
#: the matrix conditions, which need a square symbol
MATRIX_KINDS = ("invertible", "detpos")


@dataclass(frozen=True)
class Hypothesis:
    """A stated condition on one symbol."""

    kind: Kind
    symbol: Sym
    value: Fraction = Fraction(1)

    def __post_init__(self) -> None:
        s = self.symbol
        if self.kind == "symmetric" and s.shape[0] != s.shape[1]:
            raise ValueError(f"{plain(s)} is not square, so it cannot be symmetric")
        if self.kind in MATRIX_KINDS and s.shape[0] != s.shape[1]:
            raise ValueError(f"{plain(s)} is not square, so it has no inverse or determinant")
        if self.kind == "sums-to" and (s.shape[1] != 1 or not s.shape[0].is_Symbol):
            raise ValueError(f"1ᵀ{plain(s)} = c needs a column vector of symbolic length")

    def text(self, unicode: bool = False) -> str:
        """``1^T y = 1``, ``A = A^T``, ``x > 0`` (with ``unicode``: 1ᵀy = 1, A = Aᵀ)."""
        name = plain(self.symbol)
        t = "ᵀ" if unicode else "^T"
        if self.kind == "symmetric":
            return f"{name} = {name}{t}"
        if self.kind == "sums-to":
            return f"1{t}{name} = {self.value}" if unicode else f"1^T {name} = {self.value}"
        if self.kind == "invertible":
            return f"{name} invertible"
        if self.kind == "detpos":
            return f"det {name} > 0"
        return f"{name} > 0"

    def substitution(self) -> Expr | None:
        """π(parameters), with the parameter named as the symbol itself (it is free again)."""
        s = self.symbol
        if self.kind == "symmetric":
            return Scale(Fraction(1, 2), Add(s, Transpose(s)))
        if self.kind == "sums-to":
            n = s.shape[0]
            one = Ones(n, 1)
            centred = Scale(-1, MatMul(one, DimScalar(1 / n), MatMul(Transpose(one), s)))
            if self.value == 0:  # 1ᵀy = 0: y := y − (1ᵀy/n)·1 (a zero coefficient is not a DimScalar)
                return Add(s, centred)
            return Add(s, MatMul(one, DimScalar(sympy.Rational(self.value.numerator, self.value.denominator) / n)),
                       centred)
        return None


def substitution(hyps: tuple[Hypothesis, ...]) -> dict[str, Expr]:
    out: dict[str, Expr] = {}
    positive = positive_names(hyps)
    for h in hyps:
        if h.kind == "sums-to" and h.value <= 0 and h.symbol.name in positive:
            # no y > 0 has 1ᵀy ≤ 0: every claim would hold vacuously, and a counterexample found
            # without the positivity (the matrix procedure ignores it) would be a false refutation
            raise ValueError(f"the hypotheses {plain(h.symbol)} > 0 and {h.text()} have no common solution")
        sub = h.substitution()
        if sub is not None:
            if h.symbol.name in out:
                raise ValueError(f"two hypotheses constrain {plain(h.symbol)}; only one per symbol is supported")
            out[h.symbol.name] = sub
    return out


def positive_names(hyps: tuple[Hypothesis, ...]) -> frozenset[str]:
    return frozenset(h.symbol.name for h in hyps if h.kind == "positive")


def matrix_conditions(hyps: tuple[Hypothesis, ...]) -> tuple[tuple[str, Expr], ...]:
    """("invertible" | "detpos", the symbol as the claim sees it: π(symbol) when substituted)."""
    sub = substitution(hyps)
    return tuple((h.kind, sub.get(h.symbol.name, h.symbol)) for h in hyps if h.kind in MATRIX_KINDS)


def guards(hyps: tuple[Hypothesis, ...]) -> tuple[Expr, ...]:
    """π(u) for every symbol both declared positive and substituted by a hypothesis (y := π(u)).

    The parameter u is sampled positive, but the hypothesis is y = π(u) > 0: a point where u > 0
    and π(u) has an entry ≤ 0 lies outside the hypotheses, so it refutes nothing (1ᵀy = 1, y > 0:
    relu(y) = y is true). Verification is unaffected: every y in the hypothesis set is π(y) with
    y > 0, so treating u as positive still covers it."""
    sub = substitution(hyps)
    out = [sub[h.symbol.name] for h in hyps if h.kind == "positive" and h.symbol.name in sub]
    for kind, m in matrix_conditions(hyps):  # det M > 0, or (det M)² > 0 for M invertible
        out.append(Det(m) if kind == "detpos" else Hadamard(Det(m), Det(m)))
    return tuple(out)


def describe(hyps: tuple[Hypothesis, ...]) -> str:
    parts = []
    for h in hyps:
        sub = h.substitution()
        how = f" (onto substitution {plain(h.symbol)} := {plain(sub)}, Theorem D1)" if sub is not None else \
            " (an open condition: domains and sample points, Theorem D4)"
        parts.append(h.text() + how)
    return "under the hypothes" + ("is " if len(parts) == 1 else "es ") + "; ".join(parts)

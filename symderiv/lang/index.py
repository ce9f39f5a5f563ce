"""Index notation as a language object: Σ_i A_i B_{i+j} C_j, sums of such terms, and affine indices.

The reader produces these values; the kernel's index-sum decision consumes them. They live in the
language layer so that neither has to import the other.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from lark import Token


@dataclass
class IndexNotation:
    """An expression in index notation (Σ_i A_i B_{i+j} ...): kept for the index checker."""

    sums: list[str]
    factors: list[Any]  # (Expr, index tree) pairs, with a rational coefficient first
    coef: Fraction = Fraction(1)


@dataclass
class IndexSum:
    terms: list[Any]  # (coef, IndexNotation)


def affine(t: Any) -> dict[str | int, int | Fraction] | None:
    """Index expressions such as i+j, i-j, j, 2 as {var: coef, 1: const}."""
    data = getattr(t, "data", None)
    if data == "word":
        return {str(t.children[0]): 1}
    if data == "number":
        # x_{j+2.5}: a non-integer is no index (int() would raise); it is outside the affine fragment
        text = str(t.children[0])
        return {1: int(text)} if text.isdigit() else None
    if data in ("add", "sub"):
        a, b = affine(t.children[0]), affine(t.children[-1])
        if a is None or b is None:
            return None
        sign = 1 if data == "add" else -1
        out = dict(a)
        for k, v in b.items():
            out[k] = out.get(k, 0) + sign * v
        return out
    if data == "group":
        return affine(t.children[0])
    if isinstance(t, Token):
        s = str(t)
        return {1: int(s)} if s.isdigit() else {s: 1}
    return None

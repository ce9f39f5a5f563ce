"""Index notation as a language object: Σ_i A_i B_{i+j} C_j, sums of such terms, and affine indices.

The reader produces these values; the kernel's index-sum decision consumes them. They live in the
language layer so that neither has to import the other.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any


@dataclass
class IndexNotation:
    """An expression in index notation (Σ_i A_i B_{i+j} ...): kept for the index checker."""

    sums: list[str]
    factors: list[Any]  # (Expr, Index) pairs, or ("nested", IndexNotation | IndexSum)
    coef: Fraction = Fraction(1)


@dataclass
class IndexSum:
    terms: list[Any]  # (coef, IndexNotation)


@dataclass(frozen=True)
class Index:
    """An index as written after ``_`` (x_i, x_{i+j}, x_{2}): read as an integer combination of index
    variables, ``((var, coef), ..., (1, const))``, or None when it is not one (x_{2j}, x_{j+2.5})."""

    coefs: tuple[tuple[str | int, int], ...] | None


def affine(t: Index) -> dict[str | int, int | Fraction] | None:
    """The index as {var: coef, 1: const}, or None when it is not an integer combination."""
    return None if t.coefs is None else dict(t.coefs)

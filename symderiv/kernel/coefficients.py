"""Coefficients in ℚ(N): rational numbers, or rational functions of the dimension symbols.

Part A of the second design note: once 𝟏, I and coefficients such as 1/n appear, the coefficient of
an isomorphism class of index graphs is a rational function C(N) of the dimensions (an isolated
summed vertex of type d contributes the factor N_d). A class sum vanishes for all sizes iff C = 0
in ℚ(N) (Theorem A), which is decided here exactly: SymPy's ``cancel`` brings a rational function
to lowest terms with expanded numerator and denominator, and 0 is 0.

Coefficients that are plain numbers stay :class:`fractions.Fraction`, so the linear language pays
nothing for this.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Any

import sympy

#: A class coefficient: an exact rational, or a SymPy rational function of the dimensions.
Coefficient = Fraction | Any


def scaled(c: Fraction, factor: Any) -> Coefficient:
    """c · factor, where ``factor`` is 1 or a SymPy expression in the dimensions."""
    if factor == 1:
        return c
    return normal(sympy.Rational(c.numerator, c.denominator) * factor)


def normal(x: Coefficient) -> Coefficient:
    """The canonical form: a Fraction when x is a number, else the cancelled rational function."""
    if isinstance(x, (Fraction, int)):
        return Fraction(x)
    y = sympy.cancel(sympy.together(x))
    if y.is_Rational:
        return Fraction(int(y.p), int(y.q))
    return y


def add(a: Coefficient, b: Coefficient) -> Coefficient:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        return a + b
    return normal(as_sympy(a) + as_sympy(b))


def as_sympy(x: Coefficient) -> Any:
    if isinstance(x, Fraction):
        return sympy.Rational(x.numerator, x.denominator)
    return x


def is_zero(x: Coefficient) -> bool:
    return bool(normal(x) == 0)


def key(x: Coefficient) -> tuple[str, str]:
    """A key equal for equal coefficients (value-injective: different keys may still be equal
    values only if ``cancel`` were not canonical, which costs completeness, never soundness)."""
    y = normal(x)
    if isinstance(y, Fraction):
        return ("q", str(y))
    return ("r", sympy.srepr(y))


def poles_text(x: Coefficient) -> str:
    """The denominator of a rational-function coefficient, for "stated for sizes where … ≠ 0"."""
    y = normal(x)
    if isinstance(y, Fraction):
        return ""
    _, den = sympy.fraction(y)
    return "" if den.is_number else sympy.sstr(den)

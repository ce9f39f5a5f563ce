"""Operators of the language that are defined by a formula in other operators.

Each is expanded, evaluated and verified through its definition, so it adds nothing to trust
beyond the formula itself.
"""
from __future__ import annotations

from symderiv.lang.operators import Expr, Fn, Hadamard, MatMul, Ones, Transpose


def softmax_definition(m: Expr) -> Expr:
    """softmax by its definition: exp(z)·recip(𝟏ᵀexp z) for a column vector z; row-wise for a
    matrix S, exp(S) ⊙ (recip(exp(S)𝟏)𝟏ᵀ)."""
    r, c = m.shape
    e = Fn("exp", m)
    if c == 1:
        return MatMul(Fn("recip", MatMul(Transpose(Ones(r, 1)), e)), e)
    return Hadamard(e, MatMul(Fn("recip", MatMul(e, Ones(c, 1))), Transpose(Ones(c, 1))))

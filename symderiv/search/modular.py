"""The random integer screen in modular arithmetic (UNTRUSTED): NumPy matrix products modulo primes.

Both sides are evaluated at the size bound N = B with random 64-bit integer entries, reduced
modulo three primes near 2²⁰. Reduction modulo p is a ring homomorphism from the integers (and
from the rationals whose denominators p does not divide), so equal sides give equal residues: a
difference of residues proves the sides differ. The converse fails only when p divides the
nonzero difference; for a difference polynomial of degree D that happens with probability at
most D/p per prime (Schwartz–Zippel over 𝔽_p), which is why several primes are used. The
kernel never takes the screen's word: a difference counts only through a counterexample it
re-evaluates exactly (:mod:`symderiv.kernel.refute`).

Residues live in float64 arrays of shape (primes, rows, columns): every value is an integer below
2⁵³, so BLAS matrix products are exact as long as a product's inner dimension c keeps
c·(p − 1)² < 2⁵³ (c ≤ 8191); larger inner dimensions, and anything the screen does not model,
fall back to exact evaluation (:class:`Unsupported`).

The work meter is charged exactly as exact evaluation charges it (scalar multiplications), so a
budget is spent the same way whichever arithmetic the screen uses.
"""
from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import numpy.typing as npt

from symderiv.kernel.budget import Meter
from symderiv.kernel.evaluate import dim_value, size_of
from symderiv.lang.operators import (
    Add,
    Diag,
    DiagV,
    DimScalar,
    Expr,
    Hadamard,
    Identity,
    Inner,
    MatMul,
    Ones,
    Scale,
    Sym,
    Trace,
    Transpose,
    Zero,
)

#: three primes below 2²⁰; 8191·(p − 1)² < 2⁵³ for each
PRIMES = (1048573, 1048571, 1048559)
_P = np.array(PRIMES, dtype=np.float64).reshape(-1, 1, 1)
_MAX_INNER = 8191

Residues = npt.NDArray[np.float64]


class Unsupported(Exception):
    """The expression (or a size) is outside what the modular screen models: evaluate exactly."""


def residues(env: dict[str, npt.NDArray[np.uint64]]) -> dict[str, Residues]:
    """Each symbol's 64-bit entries reduced modulo every prime: arrays (primes, rows, columns)."""
    primes = np.array(PRIMES, dtype=np.uint64).reshape(-1, 1, 1)
    return {name: (m[None, :, :] % primes).astype(np.float64) for name, m in env.items()}


def _coef(c: Fraction) -> Residues:
    out = []
    for p in PRIMES:
        if c.denominator % p == 0:
            raise Unsupported("a coefficient's denominator is divisible by a screening prime")
        out.append(c.numerator % p * pow(c.denominator, -1, p) % p)
    return np.array(out, dtype=np.float64).reshape(-1, 1, 1)


def modular_evaluate(e: Expr, env: dict[str, Residues], sizes: dict[str, int], meter: Meter) -> Residues:
    """The residues of ``e``'s matrix modulo each prime, for symbol residues ``env``."""
    rule = _RULES.get(type(e))
    if rule is None:
        raise Unsupported(type(e).__name__)
    return rule(e, env, sizes, meter)


Rule = Callable[[Any, dict[str, Residues], dict[str, int], Meter], Residues]


def _sym(e: Sym, env: dict[str, Residues], sizes: dict[str, int], meter: Meter) -> Residues:
    return env[e.name]


def _zero(e: Zero, env: dict[str, Residues], sizes: dict[str, int], meter: Meter) -> Residues:
    return np.zeros((len(PRIMES), size_of(e.shape[0], sizes), size_of(e.shape[1], sizes)))


def _ones(e: Ones, env: dict[str, Residues], sizes: dict[str, int], meter: Meter) -> Residues:
    return np.ones((len(PRIMES), size_of(e.shape[0], sizes), size_of(e.shape[1], sizes)))


def _identity(e: Identity, env: dict[str, Residues], sizes: dict[str, int], meter: Meter) -> Residues:
    n = size_of(e.shape[0], sizes)
    out: Residues = np.broadcast_to(np.eye(n), (len(PRIMES), n, n)).copy()
    return out


def _scale(e: Scale, env: dict[str, Residues], sizes: dict[str, int], meter: Meter) -> Residues:
    return (_coef(Fraction(e.coef)) * modular_evaluate(e.arg, env, sizes, meter)) % _P


def _add(e: Add, env: dict[str, Residues], sizes: dict[str, int], meter: Meter) -> Residues:
    acc = modular_evaluate(e.args[0], env, sizes, meter)
    for a in e.args[1:]:
        acc = (acc + modular_evaluate(a, env, sizes, meter)) % _P
    return acc


def _product(a: Residues, b: Residues, meter: Meter) -> Residues:
    ra, ca, rb, cb = a.shape[1], a.shape[2], b.shape[1], b.shape[2]
    meter.spend(ra * ca * rb * cb if ca != rb else ra * ca * cb)  # as exact evaluation counts it
    if ca != rb:  # a 1×1 factor acts as a scalar
        if ra == 1 and ca == 1:
            return (a[:, :1, :1] * b) % _P
        return (b[:, :1, :1] * a) % _P
    if ca > _MAX_INNER:
        raise Unsupported("inner dimension too large for exact float64 products")
    out: Residues = np.matmul(a, b) % _P
    return out


def _matmul(e: MatMul, env: dict[str, Residues], sizes: dict[str, int], meter: Meter) -> Residues:
    acc = modular_evaluate(e.args[0], env, sizes, meter)
    for a in e.args[1:]:
        acc = _product(acc, modular_evaluate(a, env, sizes, meter), meter)
    return acc


def _transpose(e: Transpose, env: dict[str, Residues], sizes: dict[str, int], meter: Meter) -> Residues:
    return np.swapaxes(modular_evaluate(e.arg, env, sizes, meter), 1, 2)


def _trace(e: Trace, env: dict[str, Residues], sizes: dict[str, int], meter: Meter) -> Residues:
    m = modular_evaluate(e.arg, env, sizes, meter)
    if m.shape[1] > _MAX_INNER:
        raise Unsupported("trace too long for exact float64 sums")
    out: Residues = (np.trace(m, axis1=1, axis2=2) % _P[:, 0, 0]).reshape(-1, 1, 1)
    return out


def _inner(e: Inner, env: dict[str, Residues], sizes: dict[str, int], meter: Meter) -> Residues:
    x, y = modular_evaluate(e.left, env, sizes, meter), modular_evaluate(e.right, env, sizes, meter)
    if x.shape != y.shape or x.shape[1] * x.shape[2] > _MAX_INNER:
        raise Unsupported("inner product of unequal or too large shapes")
    meter.spend(x.shape[1] * x.shape[2])
    out: Residues = (((x * y) % _P).sum(axis=(1, 2)) % _P[:, 0, 0]).reshape(-1, 1, 1)
    return out


def _hadamard(e: Hadamard, env: dict[str, Residues], sizes: dict[str, int], meter: Meter) -> Residues:
    x, y = modular_evaluate(e.left, env, sizes, meter), modular_evaluate(e.right, env, sizes, meter)
    if x.shape != y.shape:
        raise Unsupported("Hadamard product of unequal shapes")
    return (x * y) % _P


def _diag(e: Diag, env: dict[str, Residues], sizes: dict[str, int], meter: Meter) -> Residues:
    v = modular_evaluate(e.arg, env, sizes, meter)
    n = v.shape[1]
    out = np.zeros((len(PRIMES), n, n))
    out[:, np.arange(n), np.arange(n)] = v[:, :, 0]
    return out


def _diagv(e: DiagV, env: dict[str, Residues], sizes: dict[str, int], meter: Meter) -> Residues:
    m = modular_evaluate(e.arg, env, sizes, meter)
    out: Residues = np.diagonal(m, axis1=1, axis2=2)[:, :, None].copy()
    return out


def _dimscalar(e: DimScalar, env: dict[str, Residues], sizes: dict[str, int], meter: Meter) -> Residues:
    return _coef(dim_value(e.value, sizes))


_RULES: dict[type, Rule] = {
    Sym: _sym, Zero: _zero, Ones: _ones, Identity: _identity, Scale: _scale, Add: _add, MatMul: _matmul,
    Transpose: _transpose, Trace: _trace, Inner: _inner, Hadamard: _hadamard, Diag: _diag, DiagV: _diagv,
    DimScalar: _dimscalar,
}

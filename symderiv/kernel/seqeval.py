"""Exact evaluation of sequence expressions and index notation at concrete lengths.

A sequence on ℤ or a finite vector is a dict index -> entry holding its (finitely many) possibly
nonzero entries; a scalar is a number; a matrix met while evaluating finite vectors in the
matrix language is :class:`Dense`. Entries are exact: Python integers and fractions, or SymPy
expressions (the Jacobian cross-check differentiates symbolic entries). This evaluator is what
the kernel re-checks every candidate counterexample of a sequence identity with.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from itertools import product
from typing import Any, TypeAlias

import sympy

from symderiv.errors import NotInFragment
from symderiv.kernel.evaluate import Listing
from symderiv.kernel.nodetable import NodeTable
from symderiv.lang.index import IndexNotation, IndexSum, affine
from symderiv.lang.operators import (
    INF,
    Add,
    Conv,
    Det,
    Diag,
    DiagV,
    DimScalar,
    Expr,
    Ext,
    Fn,
    Hadamard,
    Identity,
    Inner,
    Inv,
    LogDet,
    MatMul,
    Ones,
    Scale,
    SeqOp,
    Shift,
    Softmax,
    Sym,
    Trace,
    Transpose,
    Window,
    Zero,
)

#: An exact entry: int or Fraction, or a SymPy expression (which carries no type information).
Scalar: TypeAlias = Any


@dataclass
class Dense:
    """A matrix value (neither a scalar nor a column) met while evaluating finite vectors."""

    rows: list[list[Scalar]]


#: The value of an expression: a sequence {index: entry}, a dense matrix, or a scalar.
SeqValue: TypeAlias = dict[int, Scalar] | Dense | Scalar
#: Concrete lengths: length symbol -> value.
Params: TypeAlias = dict[Any, int]
#: An affine index a·t + b as {index variable: a, 1: b}.
Affine: TypeAlias = dict[str | int, int | Fraction]
#: One term of flattened index notation: coefficient, summed indices, factors (symbol name, index).
IndexTerm: TypeAlias = tuple[int | Fraction, list[str], list[tuple[str, Affine]]]
#: Index notation, or a sequence expression standing where index notation may stand.
IndexValue: TypeAlias = IndexNotation | IndexSum | Expr


@dataclass(frozen=True)
class _Context:
    env: Mapping[str, SeqValue]
    params: Params

    def length(self, d: Any) -> int | None:
        return None if d is INF else int(sympy.sympify(d).subs(self.params))

    def integer(self, d: Any) -> int:
        return int(sympy.sympify(d).subs(self.params))


def seq_evaluate(e: Expr, env: Mapping[str, SeqValue], params: Params) -> SeqValue:
    """Value of an expression: a dict index -> number for sequences/vectors, a number for scalars."""
    return _value(e, _Context(env, params))


def _value(e: Expr, cx: _Context) -> SeqValue:
    v = _seq_ev(e, cx)
    if e.is_scalar and isinstance(v, dict):  # scalars are numbers, however they were built
        return v.get(0, 0)
    return v


def _vec(v: SeqValue) -> dict[int, Scalar] | Dense:
    """A 1 x 1 operand of a sequence operation is a vector of length 1."""
    return v if isinstance(v, (dict, Dense)) else {0: v}


def _seq(v: SeqValue) -> dict[int, Scalar]:
    """A sequence operand (a scalar is a vector of length 1)."""
    return _entries(_vec(v))


# The shape checks decide which kind of value each operand is; these narrow it, and refuse a
# kind the shapes exclude with the TypeError that operating on it would have raised.
def _entries(v: SeqValue) -> dict[int, Scalar]:
    if not isinstance(v, dict):
        raise TypeError(f"a sequence is expected, not {type(v).__name__}")
    return v


def _rows(v: SeqValue) -> list[list[Scalar]]:
    if not isinstance(v, Dense):
        raise TypeError(f"a matrix is expected, not {type(v).__name__}")
    return v.rows


def _scalar(v: SeqValue) -> Scalar:
    if isinstance(v, (dict, Dense)):
        raise TypeError(f"a number is expected, not {type(v).__name__}")
    return v


# One table for the pass (tests/test_node_passes.py checks that every node class has a rule).
def _seq_ev_unknown(e: Expr, cx: _Context) -> SeqValue:
    raise TypeError(type(e))


_seq_ev: NodeTable[SeqValue] = NodeTable("sequence-evaluate", _seq_ev_unknown)


@_seq_ev.register(Sym)
def _ev_sym(e: Sym, cx: _Context) -> SeqValue:
    return cx.env[e.name]


@_seq_ev.register(Zero)
def _ev_zero(e: Zero, cx: _Context) -> SeqValue:
    return {} if not e.is_scalar else 0


@_seq_ev.register(Scale)
def _ev_scale(e: Scale, cx: _Context) -> SeqValue:
    v = _value(e.arg, cx)
    c = e.coef if e.coef.denominator != 1 else e.coef.numerator
    return {i: c * x for i, x in v.items()} if isinstance(v, dict) else c * _scalar(v)


@_seq_ev.register(Add)
def _ev_add(e: Add, cx: _Context) -> SeqValue:
    vals = [_value(a, cx) for a in e.args]
    if isinstance(vals[0], dict):
        out: dict[int, Scalar] = {}
        for v in vals:
            for i, x in _entries(v).items():
                out[i] = out.get(i, 0) + x
        return out
    return sum(_scalar(v) for v in vals)


@_seq_ev.register(Ext)
def _ev_ext(e: Ext, cx: _Context) -> SeqValue:
    return _vec(_value(e.arg, cx))


@_seq_ev.register(Inner)
def _ev_inner(e: Inner, cx: _Context) -> SeqValue:
    a, b = _value(e.left, cx), _value(e.right, cx)
    if isinstance(a, Dense):
        return sum(p * q for r1, r2 in zip(a.rows, _rows(b)) for p, q in zip(r1, r2))
    if not isinstance(a, dict):
        return a * _scalar(b)
    b = _entries(b)
    return sum(x * b.get(i, 0) for i, x in a.items())


@_seq_ev.register(SeqOp)
def _ev_seqop(e: SeqOp, cx: _Context) -> SeqValue:
    a, b = _seq(_value(e.left, cx)), _seq(_value(e.right, cx))
    out: dict[int, Scalar] = {}
    for p, x in a.items():
        for q, y in b.items():
            i = p + q if isinstance(e, Conv) else p - q
            out[i] = out.get(i, 0) + x * y
    if e.mode is None:
        return out
    o, L = e.window()
    return {i: out.get(cx.integer(o) + i, 0) for i in range(_finite(cx.length(L)))}


@_seq_ev.register(Shift)
def _ev_shift(e: Shift, cx: _Context) -> SeqValue:
    s = _seq(_value(e.arg, cx))
    d = cx.integer(e.by)
    return {i + d: x for i, x in s.items()}


@_seq_ev.register(Window)
def _ev_window(e: Window, cx: _Context) -> SeqValue:
    s = _seq(_value(e.arg, cx))
    o = cx.integer(e.offset)
    return {i: s.get(o + i, 0) for i in range(_finite(cx.length(e.length)))}


@_seq_ev.register(Hadamard)
def _ev_hadamard(e: Hadamard, cx: _Context) -> SeqValue:
    a, b = _value(e.left, cx), _value(e.right, cx)
    if isinstance(a, dict):
        b = _entries(b)
        return {i: x * b.get(i, 0) for i, x in a.items()}
    if isinstance(a, Dense):
        return Dense([[p * q for p, q in zip(r1, r2)] for r1, r2 in zip(a.rows, _rows(b))])
    return a * _scalar(b)


@_seq_ev.register(MatMul, Transpose, Trace)
def _ev_matrix(e: Expr, cx: _Context) -> SeqValue:
    """Finite vectors and scalars in the matrix language: evaluated densely."""
    vals = [_dense(_value(c, cx), c.shape, cx) for c in e.children]
    if isinstance(e, Transpose):
        out = [list(col) for col in zip(*vals[0])]
    elif isinstance(e, Trace):
        out = [[sum(vals[0][i][i] for i in range(len(vals[0])))]]
    else:
        out = vals[0]
        for m in vals[1:]:
            out = _dense_product(out, m)
    return _undense(out, e.shape)


@_seq_ev.register(Ones, Identity, Diag, DiagV, DimScalar, Fn, Softmax, Inv, Det, LogDet)
def _ev_refused(e: Expr, cx: _Context) -> SeqValue:
    """The matrix constants and entrywise functions are not part of the sequence language."""
    raise NotInFragment(f"cannot evaluate {type(e).__name__}")


def _finite(L: int | None) -> int:
    if L is None:  # the shape checks give every windowed result a finite length
        raise TypeError("a window of infinite length")
    return L


def _dense(v: SeqValue, shape: tuple[Any, Any], cx: _Context) -> list[list[Scalar]]:
    if isinstance(v, Dense):
        return v.rows
    if not isinstance(v, dict):
        return [[v]]
    L = cx.length(shape[0])
    if L is None:
        raise NotInFragment("a sequence on ℤ inside a matrix product")
    return [[v.get(i, 0)] for i in range(L)]


def _undense(m: list[list[Scalar]], shape: tuple[Any, Any]) -> SeqValue:
    if len(m) == 1 and len(m[0]) == 1 and shape[0] == 1:
        return m[0][0]
    if shape[1] == 1:
        return {i: row[0] for i, row in enumerate(m)}
    return Dense(m)


def _dense_product(a: list[list[Scalar]], b: list[list[Scalar]]) -> list[list[Scalar]]:
    """Matrix product in which a 1 x 1 factor that does not chain acts as a scalar."""
    if len(a[0]) != len(b):
        if len(a) == 1 and len(a[0]) == 1:
            return [[a[0][0] * v for v in row] for row in b]
        return [[v * b[0][0] for v in row] for row in a]
    bt = list(zip(*b))
    return [[sum(p * q for p, q in zip(row, col)) for col in bt] for row in a]


def clean(v: SeqValue) -> SeqValue:
    """A value with its zero entries dropped (sequences are compared by their nonzero entries)."""
    if isinstance(v, dict):
        return {i: x for i, x in v.items() if x != 0}
    return v


def as_listing(v: SeqValue, sym: Sym | None = None) -> Listing:
    """Finite vectors as 1-column matrices; sequences on ℤ as {index: value} of the nonzero entries."""
    if isinstance(v, Dense):
        return v.rows
    if not isinstance(v, dict):
        return [[v]]
    if sym is not None and sym.shape[0] is not INF:
        return [[v.get(i, 0)] for i in range(len(v))]
    if sym is None and v and min(v) >= 0 and all(i in v for i in range(max(v) + 1)):
        return [[v[i]] for i in range(max(v) + 1)]
    return {str(i): x for i, x in sorted(v.items()) if x != 0}


# ---------------------------------------------------------------------------------------
# Index notation: Σ_i A_i (B ⊙ C)_i, Σ_i Σ_j A_i B_{i+j} C_j, ...
# ---------------------------------------------------------------------------------------
def _affine_index(t: Any) -> Affine:
    a = affine(t)
    if a is None:
        raise NotInFragment("an index must be an integer combination of index variables, such as i+j")
    return a


def index_terms(v: IndexNotation | IndexSum, fresh: list[int] | None = None) -> list[IndexTerm]:
    """Flatten index notation into (coef, sums, factors) with factors (symbol name, affine index)."""
    fresh = fresh if fresh is not None else [0]
    if isinstance(v, IndexSum):
        return [(c * c2, s, f) for c, item in v.terms for c2, s, f in index_terms(item, fresh)]
    if not isinstance(v, IndexNotation):
        raise NotInFragment("not index notation")
    partial: list[IndexTerm] = [(v.coef, list(v.sums), [])]
    for base, idx in v.factors:
        if base == "nested":
            inner = index_terms(idx, fresh)
            partial = [(c * c2, s + s2, f + f2) for c, s, f in partial for c2, s2, f2 in inner]
            continue
        aff = _affine_index(idx)
        new: list[tuple[str, Affine]]
        extra_sums: list[str]
        if isinstance(base, Sym):
            new = [(base.name, aff)]
            extra_sums = []
        elif (isinstance(base, SeqOp) and base.mode is None and isinstance(base.left, Sym)
              and isinstance(base.right, Sym)):
            fresh[0] += 1
            u = f"_u{fresh[0]}"
            sign = -1 if isinstance(base, Conv) else 1
            left = dict(aff)
            left[u] = left.get(u, 0) + sign
            new = [(base.left.name, left), (base.right.name, {u: 1})]
            extra_sums = [u]
        else:
            raise NotInFragment("index notation over this expression is not supported")
        partial = [(c, s + extra_sums, f + new) for c, s, f in partial]
    return partial


def index_value(v: IndexNotation | IndexSum, env: dict[str, dict[int, Scalar]], reach: int = 8) -> Scalar:
    """Exact value of index notation on finitely supported sequences (summing over a box that
    contains every index where the sequences can be nonzero)."""
    total: Scalar = 0
    for coef, sums, factors in index_terms(v):
        for t in product(range(-reach, reach + 1), repeat=len(sums)):
            point = dict(zip(sums, t))
            term: Scalar = coef
            for name, aff in factors:
                i = aff.get(1, 0)
                for k, c in aff.items():
                    if isinstance(k, str):  # the keys are index variables and 1 (the constant)
                        i += c * point[k]
                term *= env[name].get(i, 0)  # type: ignore[arg-type]  # the indices are integers here
                if term == 0:
                    break
            total += term
    return total


def index_value_of(v: IndexValue, env: dict[str, dict[int, Scalar]]) -> SeqValue:
    """The exact value of index notation or a sequence expression with entries ``env``."""
    if isinstance(v, (IndexNotation, IndexSum)):
        return index_value(v, env)
    return seq_evaluate(v, env, {})

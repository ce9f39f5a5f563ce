"""Expansion of expressions into sums of monomials.

A *monomial* is an expression with no ``Add``, ``Scale`` or ``Zero`` inside: products,
transposes, traces, inner and entrywise products of symbols. Expansion distributes every
operator over sums (all operators of the language are multilinear), so

    E  =  Σ_k c_k M_k      with rational c_k and monomials M_k.

Two flavours:

* :func:`expand` distributes everything; it feeds the verifier's index graphs.
* :func:`delta_expand` distributes only over sums that contain a perturbation Δ, keeping
  Δ-free groups such as ``(x - y^*)`` intact. This is how the notes expand
  f(x + Δx) - f(x), and it keeps the engine's steps readable.

Both refuse to produce more than ``max_terms`` monomials (:class:`BudgetExceeded`), since a
product of k sums of two terms has 2^k monomials.
"""
from __future__ import annotations

from fractions import Fraction
from collections.abc import Callable
from itertools import product as cartesian

from symderiv.errors import BudgetExceeded
from symderiv.kernel.nodetable import NodeTable
from symderiv.kernel.budget import DEFAULT_BUDGET
from symderiv.kernel.definitions import softmax_definition
from symderiv.lang.operators import (
    Add, Det, Diag, DiagV, DimScalar, Inv, LogDet, Softmax, Expr, Ext, Fn, Hadamard, Identity, Inner, MatMul, Ones, Scale, SeqOp, Shift, Sym,
    Trace, Transpose, Window, Zero, mul,
)

Terms = list[tuple[Fraction, Expr]]
DEFAULT_MAX_TERMS = DEFAULT_BUDGET.max_terms


def _rebuild(e: Expr, *children: Expr) -> Expr:
    """``e`` with new children (typed wrapper until ``symderiv.lang`` is annotated)."""
    out: Expr = e.with_children(*children)
    return out


def _combine(parts: list[Terms], build: Callable[[list[Expr]], Expr], max_terms: int) -> Terms:
    size = 1
    for p in parts:
        size *= len(p)
        if size > max_terms:
            raise BudgetExceeded(f"expansion would exceed {max_terms} terms")
    out: Terms = []
    for choice in cartesian(*parts):
        c = Fraction(1)
        for ci, _ in choice:
            c *= ci
        out.append((c, build([m for _, m in choice])))
    return out


def expand(e: Expr, max_terms: int = DEFAULT_MAX_TERMS) -> Terms:
    """Fully distribute ``e`` into (coefficient, monomial) pairs. Zero coefficients are kept out."""
    return _expand(e, max_terms)


# One table for the pass: one rule per node class (tests/test_node_passes.py checks that every
# node class of the language has one).
def _expand_unknown(e: Expr, max_terms: int) -> Terms:
    raise TypeError(type(e))


_expand: NodeTable[Terms] = NodeTable("expand", _expand_unknown)


@_expand.register(Sym)
@_expand.register(Ones)
@_expand.register(Identity)
@_expand.register(DimScalar)
@_expand.register(Fn)  # an atom: its argument is part of its label, never distributed
@_expand.register(Inv, Det, LogDet)
def _expand_sym(e: Expr, max_terms: int) -> Terms:
    return [(Fraction(1), e)]


@_expand.register(Zero)
def _expand_zero(e: Zero, max_terms: int) -> Terms:
    return []


@_expand.register(Scale)
def _expand_scale(e: Scale, max_terms: int) -> Terms:
    return [(e.coef * c, m) for c, m in _expand(e.arg, max_terms) if e.coef * c != 0]


@_expand.register(Add)
def _expand_add(e: Add, max_terms: int) -> Terms:
    out: Terms = []
    for a in e.args:
        out.extend(_expand(a, max_terms))
        if len(out) > max_terms:
            raise BudgetExceeded(f"expansion would exceed {max_terms} terms")
    return out


@_expand.register(MatMul)
def _expand_matmul(e: MatMul, max_terms: int) -> Terms:
    return _combine([_expand(a, max_terms) for a in e.args], lambda ms: mul(*ms), max_terms)


@_expand.register(Transpose)
def _expand_transpose(e: Transpose, max_terms: int) -> Terms:
    return [(c, Transpose(m)) for c, m in _expand(e.arg, max_terms)]


@_expand.register(Trace)
def _expand_trace(e: Trace, max_terms: int) -> Terms:
    return [(c, Trace(m)) for c, m in _expand(e.arg, max_terms)]


@_expand.register(Inner)
def _expand_inner(e: Inner, max_terms: int) -> Terms:
    return _combine([_expand(e.left, max_terms), _expand(e.right, max_terms)], lambda ms: Inner(*ms), max_terms)


@_expand.register(Hadamard)
@_expand.register(SeqOp)
def _expand_binary(e: Expr, max_terms: int) -> Terms:
    left, right = e.left, e.right  # type: ignore[attr-defined]
    return _combine([_expand(left, max_terms), _expand(right, max_terms)], lambda ms: _rebuild(e, *ms), max_terms)


@_expand.register(Diag)
@_expand.register(DiagV)
@_expand.register(Ext)
@_expand.register(Window)
@_expand.register(Shift)
def _expand_unary_seq(e: Expr, max_terms: int) -> Terms:
    return [(c, _rebuild(e, m)) for c, m in _expand(e.arg, max_terms)]  # type: ignore[attr-defined]


def delta_degree(m: Expr) -> int:
    """Number of perturbation symbols (Δ) in a monomial: its order in the perturbations."""
    return sum(1 for n in m.walk() if isinstance(n, Sym) and n.kind == "delta")


def push_transpose(e: Expr) -> Expr:
    """Move transposes down to symbols and Δ-free groups: (AB)ᵀ = BᵀAᵀ, (Aᵀ)ᵀ = A, (cA)ᵀ = cAᵀ.

    A transposed scalar (trace, inner product) is the scalar itself. Two tables: one rule per node
    class for the walk, and one per class of the argument of a transpose.
    """
    return _push(e)


def _push_unknown(e: Expr) -> Expr:
    raise TypeError(type(e))


_push: NodeTable[Expr] = NodeTable("push-transpose", _push_unknown)
_push_into: NodeTable[Expr] = NodeTable("transpose-of", _push_unknown)


@_push.register(Sym, Zero, Ones, Identity, DimScalar, Fn, Softmax, Diag, DiagV, SeqOp, Ext, Window, Shift, Inv, Det,
                LogDet)
def _push_stop(e: Expr) -> Expr:
    return e  # a leaf, an atom or a sequence operation: transposes are not pushed inside


@_push.register(Transpose)
def _push_transpose(e: Transpose) -> Expr:
    return _push_into(e.arg, e)


@_push.register(MatMul)
def _push_matmul(e: MatMul) -> Expr:
    return mul(*[_push(f) for f in e.args])


@_push.register(Scale)
def _push_scale(e: Scale) -> Expr:
    return Scale(e.coef, _push(e.arg))


@_push.register(Add)
def _push_add(e: Add) -> Expr:
    return Add(*[_push(t) for t in e.args])


@_push.register(Trace)
def _push_trace(e: Trace) -> Expr:
    return Trace(_push(e.arg))


@_push.register(Inner)
def _push_inner(e: Inner) -> Expr:
    return Inner(_push(e.left), _push(e.right))


@_push.register(Hadamard)
def _push_hadamard(e: Hadamard) -> Expr:
    return Hadamard(_push(e.left), _push(e.right))


@_push_into.register(Sym, Zero, Ones, Identity, DimScalar, Fn, Softmax, Diag, DiagV, SeqOp, Ext, Window, Shift, Inv,
                     Det, LogDet)
def _into_stop(a: Expr, e: Transpose) -> Expr:
    return e  # (S)ᵀ of a symbol, an atom or a sequence stays as written


@_push_into.register(Transpose)
def _into_transpose(a: Transpose, e: Transpose) -> Expr:
    return _push(a.arg)  # (Aᵀ)ᵀ = A


@_push_into.register(MatMul)
def _into_matmul(a: MatMul, e: Transpose) -> Expr:
    return mul(*[_push(Transpose(f)) for f in reversed(a.args)])  # (AB)ᵀ = BᵀAᵀ


@_push_into.register(Scale)
def _into_scale(a: Scale, e: Transpose) -> Expr:
    return Scale(a.coef, _push(Transpose(a.arg)))


@_push_into.register(Trace, Inner)
def _into_scalar(a: Expr, e: Transpose) -> Expr:
    return _push(a)  # a 1×1 value is its own transpose


@_push_into.register(Add)
def _into_add(a: Add, e: Transpose) -> Expr:
    # a Δ-free group such as (x − y*)ᵀ stays one group, as the notes write it
    return Add(*[_push(Transpose(t)) for t in a.args]) if a.has_delta() else e


@_push_into.register(Hadamard)
def _into_hadamard(a: Hadamard, e: Transpose) -> Expr:
    return Hadamard(_push(Transpose(a.left)), _push(Transpose(a.right)))


def _flatten_sum(e: Expr) -> list[Expr]:
    """Summands of nested sums, in order: (x + Δx) - y* has summands x, Δx, -y*."""
    if isinstance(e, Add):
        return [s for a in e.args for s in _flatten_sum(a)]
    return [e]


def delta_expand(e: Expr, max_terms: int = DEFAULT_MAX_TERMS) -> Terms:
    """Distribute only over sums containing a Δ; Δ-free parts of a sum stay one group.

    ``(x + Δx - y*)`` becomes the two pieces ``(x - y*)`` and ``Δx``.
    """
    if not e.has_delta():
        return [(Fraction(1), e)]
    return _dexp(e, max_terms)


_dexp: NodeTable[Terms] = NodeTable("delta-expand", _expand_unknown)


@_dexp.register(Sym)
def _dexp_sym(e: Sym, max_terms: int) -> Terms:
    return [(Fraction(1), e)]


@_dexp.register(Zero, Ones, Identity, DimScalar, Fn, Softmax, Diag, DiagV, Inv, Det, LogDet)
def _dexp_refuse(e: Expr, max_terms: int) -> Terms:
    # a Δ inside an atom or a constant's argument is linearised by the kernel's jets, not distributed here
    raise TypeError(type(e))


@_dexp.register(Scale)
def _dexp_scale(e: Scale, max_terms: int) -> Terms:
    return [(e.coef * c, m) for c, m in delta_expand(e.arg, max_terms)]


@_dexp.register(Add)
def _dexp_add(e: Add, max_terms: int) -> Terms:
    summands = _flatten_sum(e)
    free = [a for a in summands if not a.has_delta()]
    out: Terms = []
    if free:
        out.append((Fraction(1), free[0] if len(free) == 1 else Add(*free)))
    for a in summands:
        if a.has_delta():
            out.extend(delta_expand(a, max_terms))
    return out


@_dexp.register(MatMul)
def _dexp_matmul(e: MatMul, max_terms: int) -> Terms:
    return _combine([delta_expand(a, max_terms) for a in e.args], lambda ms: mul(*ms), max_terms)


@_dexp.register(Transpose)
def _dexp_transpose(e: Transpose, max_terms: int) -> Terms:
    return [(c, push_transpose(Transpose(m))) for c, m in delta_expand(e.arg, max_terms)]


@_dexp.register(Trace)
def _dexp_trace(e: Trace, max_terms: int) -> Terms:
    return [(c, Trace(m)) for c, m in delta_expand(e.arg, max_terms)]


@_dexp.register(Inner, Hadamard, SeqOp)
def _dexp_binary(e: Expr, max_terms: int) -> Terms:
    left, right = e.children
    return _combine([delta_expand(left, max_terms), delta_expand(right, max_terms)],
                    lambda ms: _rebuild(e, *ms), max_terms)


@_dexp.register(Ext, Window, Shift)
def _dexp_unary_seq(e: Expr, max_terms: int) -> Terms:
    (arg,) = e.children
    return [(c, _rebuild(e, m)) for c, m in delta_expand(arg, max_terms)]


@_expand.register(Softmax)
def _expand_softmax(e: Softmax, max_terms: int) -> Terms:
    """softmax is defined in the language (its definition is an atom expression, see
    :func:`symderiv.kernel.atoms.softmax_definition`); verifiers lower it before expanding."""
    return _expand(softmax_definition(e.arg), max_terms)

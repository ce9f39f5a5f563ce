"""Explicit evaluation at concrete sizes, exactly.

Entries live in a commutative ring given by an :class:`Arith`: Python integers and fractions
(for counterexamples and the random screen) or SymPy's sparse polynomial ring over Q with one
generator per entry (for the explicit proof at the size bound and for the Jacobian).
No floating point is used anywhere, and nothing here relies on SymPy's simplification.

A :class:`~symderiv.kernel.budget.Meter` counts the scalar multiplications and turns long
evaluations into :class:`BudgetExceeded` instead of a hang, at the same point on every machine.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, TypeAlias

import sympy

from symderiv.errors import NotExact, OutsideDomain
from symderiv.kernel.budget import Deadline, Meter  # noqa: F401 — Deadline re-exported for callers
from symderiv.kernel.definitions import softmax_definition
from symderiv.kernel.nodetable import NodeTable
from symderiv.lang.operators import (
    Add,
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

Matrix = list[list[Any]]
#: How a counterexample shows a value: a matrix (finite vectors as one column), or a sequence on ℤ
#: as {index: entry} of its nonzero entries.
Listing: TypeAlias = Matrix | dict[str, Any]


@dataclass
class Arith:
    """A commutative ring of entry values: its zero, the embedding of rational coefficients, and
    (optionally) the entrywise functions ``fn(name, prime, value)``; without ``fn`` an expression
    with an entrywise function cannot be evaluated in this arithmetic."""

    zero: Any
    coef: Callable[[Fraction], Any]
    fn: Callable[[str, int, Any], Any] | None = None
    #: the matrix functions ``mat(name, M)`` for name in "inv", "det", "logdet" (det and logdet as
    #: a 1×1 matrix); without it an inverse or determinant cannot be evaluated in this arithmetic
    mat: Callable[[str, Matrix], Matrix] | None = None


def _exact_fn(name: str, prime: int, v: Any) -> Any:
    """The entrywise functions whose values at rationals are rational, exactly (relu, step,
    1/x, x², and their derivatives); others raise :class:`NotExact`."""
    if name == "square":
        return 2 * v if prime else v * v
    if name == "recip":
        if v == 0:
            raise OutsideDomain("1/x at an entry equal to 0")
        return -Fraction(1) / (v * v) if prime else Fraction(1) / v if not isinstance(v, int) or v not in (1, -1) else v
    if name in ("relu", "step"):
        if v == 0 and (prime or name == "step"):
            raise NotExact(f"{name}{chr(39) if prime else ''} at 0 depends on a convention")
        if name == "step":
            return 0 if prime else (1 if v > 0 else 0)
        return (1 if v > 0 else 0) if prime else (v if v > 0 else 0)
    if name in ("exp", "sigmoid", "tanh") and v == 0 and not prime:
        return {"exp": 1, "sigmoid": Fraction(1, 2), "tanh": 0}[name]
    if name == "log" and v == 1 and not prime:
        return 0
    raise NotExact(f"{name} has no exact rational value here")


def exact_eliminate(m: Matrix, want_inverse: bool) -> tuple[Fraction, Matrix | None]:
    """det M and (when asked and det M ≠ 0) M⁻¹, by Gauss–Jordan elimination over ℚ: exact, with
    any nonzero pivot (an exact zero is a zero, so no pivoting strategy is needed for correctness)."""
    n = len(m)
    a = [[Fraction(v) for v in row] + ([Fraction(int(i == j)) for j in range(n)] if want_inverse else [])
         for i, row in enumerate(m)]
    det = Fraction(1)
    for col in range(n):
        piv = next((r for r in range(col, n) if a[r][col] != 0), None)
        if piv is None:
            return Fraction(0), None
        if piv != col:
            a[col], a[piv] = a[piv], a[col]
            det = -det
        p = a[col][col]
        det *= p
        a[col] = [v / p for v in a[col]]
        for r in range(n):
            if r != col and a[r][col] != 0:
                f = a[r][col]
                a[r] = [v - f * w for v, w in zip(a[r], a[col])]
    return det, ([row[n:] for row in a] if want_inverse else None)


def _exact_mat(name: str, m: Matrix) -> Matrix:
    """M⁻¹, det M and log det M at rational entries, exactly (log det only where det M = 1)."""
    det, inverse = exact_eliminate(m, name == "inv")
    if name == "det":
        return [[det]]
    if name == "logdet":
        if det <= 0:
            raise OutsideDomain("log det of a matrix whose determinant is ≤ 0")
        if det == 1:
            return [[Fraction(0)]]
        raise NotExact("log det has no exact rational value here")
    if inverse is None:
        raise OutsideDomain("the inverse of a singular matrix")
    return inverse


INT = Arith(0, lambda c: c.numerator if c.denominator == 1 else c, _exact_fn, _exact_mat)


def poly_arith(R: Any) -> Arith:
    return Arith(R.zero, lambda c: R.domain.convert(c))


def dims_of(*exprs: Expr) -> list[str]:
    """Symbolic dimension names used by the expressions, sorted."""
    out: set[str] = set()
    for e in exprs:
        # every node, not only symbols: a side can be a bare zero matrix Z_{n×n} with no symbol
        for node in e.walk():
            for d in node.shape:
                if not d.is_Integer:
                    out.add(str(d))
            if isinstance(node, DimScalar):  # a coefficient m may name a dimension no shape uses
                out.update(str(s) for s in node.value.free_symbols)
    return sorted(out)


def size_of(d: Any, sizes: dict[str, int]) -> int:
    return int(d) if d.is_Integer else sizes[str(d)]


def evaluate(e: Expr, env: dict[str, Matrix], sizes: dict[str, int], ar: Arith, deadline: Meter | None = None) -> Matrix:
    """The matrix of ``e`` with symbol entries from ``env`` (name -> matrix)."""
    return _ev(e, _Context(env, sizes, ar, deadline or Meter.unlimited()))


@dataclass(frozen=True)
class _Context:
    env: dict[str, Matrix]
    sizes: dict[str, int]
    ar: Arith
    dl: Meter


# One table for the pass: one rule per node class (tests/test_node_passes.py checks that every
# node class of the language has one). Sequence nodes have an explicit refusal: they are
# evaluated by the sequence evaluator (seqeval.seq_evaluate), never here.
def _ev_unknown(e: Expr, cx: _Context) -> Matrix:
    raise TypeError(type(e))


_ev: NodeTable[Matrix] = NodeTable("evaluate", _ev_unknown)
_RULES: dict[type, Callable[[Any, _Context], Matrix]] = _ev.rules  # the recursion looks rules up directly: one call per node, as the old if-chain


@_ev.register(Sym)
def _ev_sym(e: Sym, cx: _Context) -> Matrix:
    return cx.env[e.name]


@_ev.register(Zero)
def _ev_zero(e: Zero, cx: _Context) -> Matrix:
    return [[cx.ar.zero] * size_of(e.shape[1], cx.sizes) for _ in range(size_of(e.shape[0], cx.sizes))]


@_ev.register(Scale)
def _ev_scale(e: Scale, cx: _Context) -> Matrix:
    c = cx.ar.coef(e.coef)
    return [[c * v for v in row] for row in _RULES[e.arg.__class__](e.arg, cx)]


@_ev.register(Add)
def _ev_add(e: Add, cx: _Context) -> Matrix:
    acc = _RULES[e.args[0].__class__](e.args[0], cx)
    for a in e.args[1:]:
        m = _RULES[a.__class__](a, cx)
        acc = [[p + q for p, q in zip(r1, r2)] for r1, r2 in zip(acc, m)]
    return acc


@_ev.register(MatMul)
def _ev_matmul(e: MatMul, cx: _Context) -> Matrix:
    acc = _RULES[e.args[0].__class__](e.args[0], cx)
    for a in e.args[1:]:
        acc = _product(acc, _RULES[a.__class__](a, cx), cx.ar, cx.dl)
    return acc


@_ev.register(Transpose)
def _ev_transpose(e: Transpose, cx: _Context) -> Matrix:
    return [list(col) for col in zip(*_RULES[e.arg.__class__](e.arg, cx))]


@_ev.register(Trace)
def _ev_trace(e: Trace, cx: _Context) -> Matrix:
    m = _RULES[e.arg.__class__](e.arg, cx)
    s = cx.ar.zero
    for i in range(len(m)):
        s = s + m[i][i]
    return [[s]]


@_ev.register(Inner)
def _ev_inner(e: Inner, cx: _Context) -> Matrix:
    x, y = _RULES[e.left.__class__](e.left, cx), _RULES[e.right.__class__](e.right, cx)
    s = cx.ar.zero
    for r1, r2 in zip(x, y):
        for p, q in zip(r1, r2):
            s = s + p * q
    cx.dl.spend(sum(len(r) for r in x))
    return [[s]]


@_ev.register(Hadamard)
def _ev_hadamard(e: Hadamard, cx: _Context) -> Matrix:
    x, y = _RULES[e.left.__class__](e.left, cx), _RULES[e.right.__class__](e.right, cx)
    return [[p * q for p, q in zip(r1, r2)] for r1, r2 in zip(x, y)]


@_ev.register(Ones)
def _ev_ones(e: Ones, cx: _Context) -> Matrix:
    one = cx.ar.coef(Fraction(1))
    return [[one] * size_of(e.shape[1], cx.sizes) for _ in range(size_of(e.shape[0], cx.sizes))]


@_ev.register(Identity)
def _ev_identity(e: Identity, cx: _Context) -> Matrix:
    one, n = cx.ar.coef(Fraction(1)), size_of(e.shape[0], cx.sizes)
    return [[one if i == j else cx.ar.zero for j in range(n)] for i in range(n)]


@_ev.register(Diag)
def _ev_diag(e: Diag, cx: _Context) -> Matrix:
    v = _RULES[e.arg.__class__](e.arg, cx)
    return [[v[i][0] if i == j else cx.ar.zero for j in range(len(v))] for i in range(len(v))]


@_ev.register(DiagV)
def _ev_diagv(e: DiagV, cx: _Context) -> Matrix:
    m = _RULES[e.arg.__class__](e.arg, cx)
    return [[m[i][i]] for i in range(len(m))]


@_ev.register(DimScalar)
def _ev_dimscalar(e: DimScalar, cx: _Context) -> Matrix:
    return [[cx.ar.coef(dim_value(e.value, cx.sizes))]]


def dim_value(value: Any, sizes: dict[str, int]) -> Fraction:
    """The rational value of a dimension coefficient at concrete sizes (a pole: OutsideDomain)."""
    num, den = sympy.fraction(value)
    sub = {s: sizes[str(s)] for s in value.free_symbols}
    p, q = num.subs(sub), den.subs(sub)
    if q == 0:
        raise OutsideDomain(f"the coefficient {value} has a pole at {sizes}")
    r = sympy.Rational(p, q)
    return Fraction(int(r.p), int(r.q))


@_ev.register(Fn)
def _ev_fn(e: Fn, cx: _Context) -> Matrix:
    if cx.ar.fn is None:
        raise NotExact(f"entrywise functions cannot be evaluated in this arithmetic ({e.name})")
    f = cx.ar.fn
    cx.dl.spend(1)
    return [[f(e.name, e.prime, v) for v in row] for row in _RULES[e.arg.__class__](e.arg, cx)]


@_ev.register(Inv)
@_ev.register(Det)
@_ev.register(LogDet)
def _ev_matrix_function(e: Inv | Det | LogDet, cx: _Context) -> Matrix:
    if cx.ar.mat is None:
        raise NotExact(f"inverses and determinants cannot be evaluated in this arithmetic ({type(e).__name__})")
    m = _RULES[e.arg.__class__](e.arg, cx)
    cx.dl.spend(len(m) ** 3)
    name = {Inv: "inv", Det: "det", LogDet: "logdet"}[type(e)]
    return cx.ar.mat(name, m)


@_ev.register(Softmax)
def _ev_softmax(e: Softmax, cx: _Context) -> Matrix:
    return _ev(softmax_definition(e.arg), cx)


@_ev.register(SeqOp)
@_ev.register(Ext)
@_ev.register(Shift)
@_ev.register(Window)
def _ev_sequence(e: Expr, cx: _Context) -> Matrix:
    raise TypeError(type(e))  # a sequence operation: seqeval.seq_evaluate evaluates it


def _product(a: Matrix, b: Matrix, ar: Arith, dl: Meter) -> Matrix:
    ra, ca, rb = len(a), len(a[0]), len(b)
    if ca != rb:  # a 1x1 factor acts as a scalar
        dl.spend(len(a) * len(a[0]) * len(b) * len(b[0]))
        if ra == 1 and ca == 1:
            s = a[0][0]
            return [[s * v for v in row] for row in b]
        s = b[0][0]
        return [[s * v for v in row] for row in a]
    out = []
    bt = list(zip(*b))
    work = ca * len(bt)
    for row in a:
        dl.spend(work)
        new = []
        for col in bt:
            s = ar.zero
            for p, q in zip(row, col):
                s = s + p * q
            new.append(s)
        out.append(new)
    return out


def symbol_table(*exprs: Expr) -> dict[str, Sym]:
    table: dict[str, Sym] = {}
    for e in exprs:
        for s in e.symbols():
            table.setdefault(s.name, s)
    return table


def random_env(symbols: dict[str, Sym], sizes: dict[str, int], draw: Callable[[], int]) -> dict[str, Matrix]:
    return {
        name: [[draw() for _ in range(size_of(s.shape[1], sizes))] for _ in range(size_of(s.shape[0], sizes))]
        for name, s in symbols.items()
    }


def poly_env(symbols: dict[str, Sym], sizes: dict[str, int]) -> tuple[Any, dict[str, Matrix], dict[tuple[str, int, int], Any]]:
    """A polynomial ring with one generator per entry, and the symbol matrices over it."""
    from sympy.polys.domains import QQ
    from sympy.polys.rings import ring

    names: list[str] = []
    where: list[tuple[str, int, int]] = []
    for name, s in symbols.items():
        for i in range(size_of(s.shape[0], sizes)):
            for j in range(size_of(s.shape[1], sizes)):
                names.append(f"v{len(names)}")
                where.append((name, i, j))
    if not names:
        names = ["v0"]
    R, *gens = ring(",".join(names), QQ)
    env: dict[str, Matrix] = {
        name: [[None] * size_of(s.shape[1], sizes) for _ in range(size_of(s.shape[0], sizes))]
        for name, s in symbols.items()
    }
    for gen, (name, i, j) in zip(gens, where):
        env[name][i][j] = gen
    return R, env, dict(zip(where, gens))


# ---------------------------------------------------------------------------------------
# Counterexamples
# ---------------------------------------------------------------------------------------
@dataclass
class Counterexample:
    """Concrete sizes and small integer entries at which the two sides differ."""

    sizes: dict[str, int]
    values: Mapping[str, Listing]
    lhs: Listing
    rhs: Listing
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sizes": dict(self.sizes),
            "values": {k: _jsonable(v) for k, v in self.values.items()},
            "lhs": _jsonable(self.lhs),
            "rhs": _jsonable(self.rhs),
            **({"note": self.note} if self.note else {}),
        }

    def describe(self, indent: str = "    ") -> str:
        lines = []
        if self.sizes:
            lines.append(indent + "sizes: " + ", ".join(f"{k} = {v}" for k, v in self.sizes.items()))
        for k, v in self.values.items():
            lines.append(indent + f"{_shown(k)} = {_fmt_matrix(v)}")
        lines.append(indent + f"left side  = {_fmt_matrix(self.lhs)}")
        lines.append(indent + f"right side = {_fmt_matrix(self.rhs)}")
        if self.note:
            lines.append(indent + self.note)
        return "\n".join(lines)


def _shown(name: str) -> str:
    """A symbol's name as the author reads it: λ for lambda, ŷ for the reader's y__hat, Δμ, dL/dŷ."""
    from symderiv.lang.greek import greek_text

    if name.startswith("Δ"):
        return "Δ" + greek_text(name[1:])
    m = re.fullmatch(r"d([^/]+)/d(.+)", name)
    if m:
        return f"d{greek_text(m.group(1))}/d{greek_text(m.group(2))}"
    return greek_text(name)


def _num(v: Any) -> Any:
    if isinstance(v, Fraction):
        return v.numerator if v.denominator == 1 else f"{v.numerator}/{v.denominator}"
    return v


def _jsonable(m: Matrix | dict[Any, Any]) -> Any:
    if isinstance(m, dict):  # a sequence on ℤ: its nonzero entries by index
        return {str(i): _num(v) for i, v in m.items()}
    return [[_num(v) for v in row] for row in m]


def _fmt_matrix(m: Matrix | dict[Any, Any]) -> str:
    if isinstance(m, dict):
        return "{" + ", ".join(f"{i}: {_num(v)}" for i, v in m.items()) + "} (other entries 0)" if m else "0"
    if len(m) == 1 and len(m[0]) == 1:
        return str(_num(m[0][0]))
    return "[" + "; ".join(" ".join(str(_num(v)) for v in row) for row in m) + "]"


def size_candidates(dims: list[str], bound: dict[str, int], limit: int = 400) -> list[dict[str, int]]:
    """Sizes with 1 ≤ N_d ≤ max(B_d, 1), smallest total first (ties lexicographic)."""
    tops = [max(bound.get(d, 1), 1) for d in dims]
    cands: list[tuple[int, ...]] = [()]
    for top in tops:
        cands = [c + (k,) for c in cands for k in range(1, top + 1)]
        if len(cands) > 50 * limit:
            break
    cands.sort(key=lambda c: (sum(c), c))
    return [dict(zip(dims, c)) for c in cands[:limit]]


def polynomial_identity(lhs: Expr, rhs: Expr, sizes: dict[str, int], deadline: Meter) -> bool:
    """Exact identity of the two sides as matrices of polynomials in symbolic entries."""
    symbols = symbol_table(lhs, rhs)
    R, env, _ = poly_env(symbols, sizes)
    ar = poly_arith(R)
    a = evaluate(lhs, env, sizes, ar, deadline)
    b = evaluate(rhs, env, sizes, ar, deadline)
    return a == b


def monomial_estimate(graph_counts: list[dict[str, int]], sizes: dict[str, int], free: int = 2) -> int:
    """Rough count of scalar monomials an explicit expansion at ``sizes`` produces."""
    total = 0
    for counts in graph_counts:
        t = 1
        for d, k in counts.items():
            t *= sizes.get(d, int(d) if d.isdigit() else 1) ** k
        total += t
    return total

"""Deciding identities of 2-D correlation/convolution with channels, for all sizes (Theorem G).

**Elaboration.** Every expression of :mod:`symderiv.lang.tensor2d` is written out as a sum of
index monomials: a rational coefficient times Σ over channel indices (the *vertices*, typed by
their channel dimension) and integer spatial indices of a product of tensor entries
S[legs][a₁(t), a₂(t)], with affine index forms a(t) per axis. A finite tensor is identified with
its zero-extension, so every sum runs over ℤ. A restriction R_{[o, o+L)} records the condition
0 ≤ i < L on its index; upsampling records i = s·u. Conditions are removed exactly:

* i = s·u is solved for a variable with coefficient ±1 (a bijection of the summation lattice);
* 0 ≤ f < L is dropped when a factor S with index f + d on that axis already vanishes outside it
  (S has length n there and −d ≥ 0... precisely: [−d, n − d) ⊆ [0, L), checked on the forms). This is
  §8.3's top-level window removal: ⟨a, R s⟩ with a a tensor of length L is exactly the shape check.

A condition that cannot be removed puts the claim outside the fragment (undecided unless a
counterexample is found).

**Classes (Theorem G of verification-theory-2 §8.2).** Per axis, with m factors and m − 1 summed
variables whose index map has rank m − 1, the sum is the constant term over the hyperplane
{p : ν·p = ν·b} (ν the signed maximal minors), i.e. CT[z^s Π_f Ŝ_f(z^{ν_f})] with s = −ν·b, provided
gcd(ν) = 1 (otherwise the image is a proper sublattice: outside the fragment). A monomial's class is
the isomorphism class of its tagged channel hypergraph (factor name, legs, exponent per axis)
with its shifts, modulo a sign per axis (flipping all exponents and the shift of one axis leaves
that axis' hyperplane unchanged). Members of a class have equal values, so equal class sums prove
the identity for every size and channel count. Shifts are linear forms in the sizes, compared as
forms; a 'same' mode (⌊(k − 1)/2⌋) is split by the parity of k, each case proved separately.

Unequal classes are *not* taken as a refutation (finite images have fixed supports); a failure
always comes with an exact integer counterexample evaluated from the definitions
(:func:`evaluate`), at sizes chosen ≥ 2 everywhere with more than one output row, so a 1×1
kernel, a single output row or C = O = 1 cannot hide a wrong flip, stride or channel transpose.
"""
from __future__ import annotations

import functools
import itertools
import math
import random
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import sympy

from symderiv.errors import NotInFragment, ShapeError
from symderiv.kernel import refute
from symderiv.kernel.evaluate import Counterexample
from symderiv.kernel.verdict import FAILED, UNDECIDED, VERIFIED, Verdict, decided
from symderiv.lang.operators import INF, Expr
from symderiv.lang.tensor2d import (
    BilinearOp,
    ChanCorr,
    ChanT,
    Conv2,
    Flip,
    Inner2,
    Rot180,
    SwapHW,
    TAdd,
    TensorExpr,
    TExt,
    TScale,
    TShift,
    TSym,
    TWindow,
    Up,
    shape_text,
)

Lin = Any
#: An affine index form: integer coefficients of summed variables, and a constant (a linear form in the sizes).
Aff = tuple[tuple[tuple[str, int], ...], Lin]


def _aff(coeffs: dict[str, int], const: Lin) -> Aff:
    return tuple(sorted((k, v) for k, v in coeffs.items() if v != 0)), sympy.expand(const)


def _avar(name: str) -> Aff:
    return _aff({name: 1}, 0)


def _acomb(a: Aff, ca: int, b: Aff, cb: int, const: Lin = 0) -> Aff:
    """ca·a + cb·b + const."""
    d: dict[str, int] = {}
    for k, v in a[0]:
        d[k] = d.get(k, 0) + ca * v
    for k, v in b[0]:
        d[k] = d.get(k, 0) + cb * v
    return _aff(d, ca * a[1] + cb * b[1] + const)


def _ashift(a: Aff, c: Lin) -> Aff:
    return a[0], sympy.expand(a[1] + c)


def _ascale(a: Aff, c: int) -> Aff:
    return _aff({k: c * v for k, v in a[0]}, c * a[1])


@dataclass
class Factor:
    name: str  # name and kind, e.g. "x", "Δx", "dL/dy"
    legs: tuple[int, ...]
    idx: tuple[Aff, Aff]
    ext: tuple[Lin, Lin]


@dataclass
class Mono:
    coef: Fraction
    factors: list[Factor]
    cons: list[tuple[int, Aff, Lin, Lin]] = field(default_factory=list)  # axis, form, lo, hi: lo ≤ form < hi
    eqs: list[tuple[int, Aff]] = field(default_factory=list)  # axis, form = 0


def _times(xs: list[Mono], ys: list[Mono]) -> list[Mono]:
    return [Mono(a.coef * b.coef, a.factors + b.factors, a.cons + b.cons, a.eqs + b.eqs) for a in xs for b in ys]


def _key_name(s: TSym) -> str:
    return {"plain": s.name, "delta": "Δ" + s.name, "grad": "dL/d" + s.name}[s.kind]


class _Ctx:
    def __init__(self, subs: dict[Any, Lin]) -> None:
        self.vtypes: list[str] = []
        self.nvar = 0
        self.subs = subs

    def vertex(self, t: str) -> int:
        self.vtypes.append(t)
        return len(self.vtypes) - 1

    def var(self, axis: int) -> str:
        self.nvar += 1
        return f"t{axis}_{self.nvar}"

    def lin(self, x: Lin) -> Lin:
        if x is INF:
            raise NotInFragment("an unbounded length where a finite one is needed")
        return _linear(x, tuple(sorted(self.subs.items(), key=str)))


@functools.lru_cache(maxsize=4096)
def _linear(x: Lin, subs: tuple[tuple[Any, Lin], ...]) -> Lin:
    """``x`` with the case substitution applied, as a linear form (floors resolved)."""
    v = sympy.expand(sympy.sympify(x).subs(dict(subs))) if subs else sympy.expand(x)
    if v.has(sympy.floor):
        v = sympy.expand(sympy.simplify(v))
    if v.has(sympy.floor):
        raise NotInFragment(f"the length {v} is not linear in the sizes")
    return v


def _elab(e: Expr, legs: tuple[int, ...], at: tuple[Aff, Aff], cx: _Ctx) -> list[Mono]:
    """The monomials of entry [legs, at] of ``e``."""
    if isinstance(e, TSym):
        if e.on_z:
            raise NotInFragment("images on ℤ² declared as symbols (only finite images are decided)")
        return [Mono(Fraction(1), [Factor(_key_name(e), legs, at, (cx.lin(e.ext[0]), cx.lin(e.ext[1])))])]
    if isinstance(e, TAdd):
        return [m for t in e.args for m in _elab(t, legs, at, cx)]
    if isinstance(e, TScale):
        return [Mono(m.coef * e.coef, m.factors, m.cons, m.eqs) for m in _elab(e.arg, legs, at, cx)]
    if isinstance(e, TExt):
        return _elab(e.arg, legs, at, cx)
    if isinstance(e, TWindow):
        out = _elab(e.arg, legs, (_ashift(at[0], cx.lin(e.offset[0])), _ashift(at[1], cx.lin(e.offset[1]))), cx)
        for m in out:
            m.cons += [(ax, at[ax], sympy.Integer(0), cx.lin(e.length[ax])) for ax in (0, 1)]
        return out
    if isinstance(e, TShift):
        return _elab(e.arg, legs, (_ashift(at[0], -cx.lin(e.by[0])), _ashift(at[1], -cx.lin(e.by[1]))), cx)
    if isinstance(e, Rot180):
        return _elab(e.arg, legs, tuple(_ascale(_ashift(at[ax], 1 - cx.lin(e.arg.ext[ax])), -1)  # type: ignore[arg-type]
                                        for ax in (0, 1)), cx)
    if isinstance(e, Flip):
        new = list(at)
        new[e.axis] = _ascale(_ashift(at[e.axis], 1 - cx.lin(e.arg.ext[e.axis])), -1)
        return _elab(e.arg, legs, (new[0], new[1]), cx)
    if isinstance(e, SwapHW):
        return _elab(e.arg, legs, (at[1], at[0]), cx)
    if isinstance(e, ChanT):
        return _elab(e.arg, (legs[1], legs[0]), at, cx)
    if isinstance(e, Up):
        us = (cx.var(0), cx.var(1))
        out = _elab(e.arg, legs, (_avar(us[0]), _avar(us[1])), cx)
        for m in out:
            m.eqs += [(ax, _acomb(at[ax], 1, _avar(us[ax]), -e.stride[ax])) for ax in (0, 1)]
        return out
    if isinstance(e, BilinearOp):
        base = list(at)
        cons: list[tuple[int, Aff, Lin, Lin]] = []
        if e.mode is not None:
            for ax in (0, 1):
                o, L = e.window(ax)
                base[ax] = _ashift(_ascale(at[ax], e.stride[ax]), cx.lin(o))
                cons.append((ax, at[ax], sympy.Integer(0), cx.lin(L)))
        ps = (cx.var(0), cx.var(1))
        sign = -1 if isinstance(e, Conv2) else 1
        shifted = (_acomb(base[0], 1, _avar(ps[0]), sign * e.dilation[0]),
                   _acomb(base[1], 1, _avar(ps[1]), sign * e.dilation[1]))
        a_legs: tuple[int, ...]
        b_legs: tuple[int, ...]
        if isinstance(e, ChanCorr):
            batch = tuple(cx.vertex(t) for t in e.left.chans[:-1])  # a batch leg is summed
            a_legs, b_legs = batch + (legs[1],), batch + (legs[0],)
        else:
            c = cx.vertex(e.left.chans[-1])
            a_legs, b_legs = legs[:-1] + (c,), (legs[-1], c)
        out = _times(_elab(e.left, a_legs, shifted, cx), _elab(e.right, b_legs, (_avar(ps[0]), _avar(ps[1])), cx))
        for m in out:
            m.cons += cons
        return out
    if isinstance(e, Inner2):
        vs = tuple(cx.vertex(t) for t in e.left.chans)
        ts = (_avar(cx.var(0)), _avar(cx.var(1)))
        return _times(_elab(e.left, vs, ts, cx), _elab(e.right, vs, ts, cx))
    raise NotInFragment(f"{type(e).__name__} is not part of the 2-D correlation language")


def _subst(a: Aff, v: str, by: Aff) -> Aff:
    c = dict(a[0]).get(v, 0)
    if not c:
        return a
    rest = _aff({k: x for k, x in a[0] if k != v}, a[1])
    return _acomb(rest, 1, by, c)


def _solve(m: Mono) -> None:
    """Remove the equations i = s·u by substituting a variable with coefficient ±1."""
    while m.eqs:
        ax, form = m.eqs.pop()
        unit = [(k, c) for k, c in form[0] if abs(c) == 1]
        if not unit:
            if not form[0]:
                raise NotInFragment("a constant index condition")
            raise NotInFragment("an index condition without a unit coefficient (a proper sublattice)")
        v, c = unit[0]
        # form = c·v + rest = 0  ⇒  v = −c·rest
        rest = _aff({k: x for k, x in form[0] if k != v}, form[1])
        by = _ascale(rest, -c)
        for f in m.factors:
            f.idx = tuple(_subst(a, v, by) for a in f.idx)  # type: ignore[assignment]
        m.cons = [(x, _subst(a, v, by), lo, hi) for x, a, lo, hi in m.cons]
        m.eqs = [(x, _subst(a, v, by)) for x, a in m.eqs]


def _discharge(m: Mono) -> None:
    """Drop every condition lo ≤ form < hi that a factor's support already implies."""
    left = []
    for ax, form, lo, hi in m.cons:
        ok = False
        for f in m.factors:
            if f.idx[ax][0] == form[0]:
                d = sympy.expand(f.idx[ax][1] - form[1])  # factor index = form + d, nonzero iff −d ≤ form < n − d
                low, high = sympy.expand(lo + d), sympy.expand(f.ext[ax] - d - hi)
                if low.is_number and high.is_number and low <= 0 and high <= 0:
                    ok = True
                    break
        if not ok:
            left.append((ax, form, lo, hi))
    if left:
        raise NotInFragment("a restriction that is not at the top level (its window is not implied by the supports "
                            "of the factors it multiplies)")
    m.cons = []


AxisClass = tuple[tuple[int, ...], Lin]  # exponents per factor, shift


def _axis_class(m: Mono, ax: int) -> AxisClass:
    vars_ = sorted({k for f in m.factors for k, _ in f.idx[ax][0]})
    other = {k for f in m.factors for k, _ in f.idx[1 - ax][0]}
    if set(vars_) & other:
        raise NotInFragment("an index shared between the two spatial axes (a spatial transpose)")
    mm, r = len(m.factors), len(vars_)
    A = sympy.Matrix([[dict(f.idx[ax][0]).get(v, 0) for v in vars_] for f in m.factors]) if r else sympy.zeros(mm, 0)
    if r != mm - 1 or (r and A.rank() != r):
        raise NotInFragment("a sum that is not a single constant term (index count)")
    nu = []
    for fi in range(mm):
        minor = A.copy()
        minor.row_del(fi)
        nu.append(int((-1) ** fi * (minor.det() if r else 1)))
    g = math.gcd(*nu)
    if g != 1:
        raise NotInFragment("the index map covers a proper sublattice (gcd of the minors is not 1)")
    shift = sympy.expand(-sum(n * f.idx[ax][1] for n, f in zip(nu, m.factors)))
    return tuple(nu), shift


ClassKey = tuple[Any, ...]


def class_key(m: Mono, vtypes: list[str]) -> ClassKey:
    """The class of a processed monomial: its tagged channel hypergraph with per-axis shifts, up to
    renaming channel vertices (within a type) and a sign per axis — the least of all relabellings."""
    axes = [_axis_class(m, 0), _axis_class(m, 1)]
    used = sorted({v for f in m.factors for v in f.legs})
    by_type: dict[str, list[int]] = {}
    for v in used:
        by_type.setdefault(vtypes[v], []).append(v)
    types = sorted(by_type)
    best: ClassKey | None = None
    for perms in itertools.product(*[itertools.permutations(range(len(by_type[t]))) for t in types]):
        ren: dict[int, tuple[str, int]] = {}
        for t, perm in zip(types, perms):
            for v, p in zip(by_type[t], perm):
                ren[v] = (t, p)
        for s0, s1 in itertools.product((1, -1), repeat=2):
            edges = tuple(sorted((f.name, tuple(ren[v] for v in f.legs), s0 * axes[0][0][i], s1 * axes[1][0][i])
                                 for i, f in enumerate(m.factors)))
            key: ClassKey = (edges, str(sympy.expand(s0 * axes[0][1])), str(sympy.expand(s1 * axes[1][1])))
            if best is None or key < best:
                best = key
    assert best is not None
    return best


def _cases(*exprs: Expr) -> list[dict[Any, Lin]]:
    """Cases that make every length linear: for each ⌊N/q⌋ (N integer-linear), a size X with coefficient ±1
    in N is written X = ±(q·μ + r − rest), r ∈ {0, …, q − 1}, so that ⌊N/q⌋ = μ. Each substitution is a
    bijection of the integers, so proving every case proves the claim."""
    floors: list[Any] = []
    for e in exprs:
        for n in e.walk():
            forms: list[Lin] = []
            if isinstance(n, TensorExpr):
                forms += [x for x in n.ext if x is not INF]
            if isinstance(n, TWindow):
                forms += list(n.offset)
            if isinstance(n, TShift):
                forms += list(n.by)
            if isinstance(n, BilinearOp) and n.mode is not None:
                forms += [x for ax in (0, 1) for x in n.window(ax)]
            for f in forms:
                for fl in sympy.sympify(f).atoms(sympy.floor):
                    if fl not in floors:
                        floors.append(fl)
    out: list[dict[Any, Lin]] = [{}]
    done: set[Any] = set()
    for fl in sorted(floors, key=str):
        if all(not _simplified(fl, tuple(sorted(case.items(), key=str))).has(sympy.floor) for case in out):
            continue  # already linear in every case (another floor of the same size split it)
        arg = sympy.expand(fl.args[0])
        q = math.lcm(*[int(sympy.fraction(c)[1]) for c in arg.as_coefficients_dict().values()])
        num = sympy.expand(q * arg)
        unit = [x for x in sorted(num.free_symbols, key=str) if abs(num.coeff(x)) == 1 and x not in done]
        if not unit:
            raise NotInFragment(f"the length {fl} cannot be made linear")
        X = unit[0]
        c = int(num.coeff(X))
        rest = sympy.expand(num - c * X)
        mu = sympy.Symbol(f"mu_{X}", integer=True)
        done.add(X)
        out = [{**case, X: sympy.expand(c * (q * mu + r - rest))} for case in out for r in range(int(q))]
    return out


@functools.lru_cache(maxsize=1024)
def _simplified(x: Lin, subs: tuple[tuple[Any, Lin], ...]) -> Lin:
    return sympy.simplify(x.subs(dict(subs)))


def _classes(e: Expr, subs: dict[Any, Lin]) -> dict[ClassKey, Fraction]:
    cx = _Ctx(subs)
    monos = _elab(e, (), (_aff({}, 0), _aff({}, 0)), cx)
    sums: dict[ClassKey, Fraction] = {}
    for m in monos:
        _solve(m)
        _discharge(m)
        k = class_key(m, cx.vtypes)
        sums[k] = sums.get(k, Fraction(0)) + m.coef
    return sums


def clear_caches() -> None:
    """Forget the cached linear forms and lengths (benchmarks measure cold runs)."""
    _linear.cache_clear()
    _simplified.cache_clear()
    _num_cached.cache_clear()


def _probe(lhs: TensorExpr, rhs: TensorExpr) -> TSym:
    names = {s.name for e in (lhs, rhs) for s in e.walk() if isinstance(s, TSym)}
    name = "D"
    while name in names:
        name += "_"
    return TSym(name, lhs.chans, lhs.ext)


def _same_shape(a: TensorExpr, b: TensorExpr) -> bool:
    if a.chans != b.chans:
        return False
    return all((x is INF and y is INF) or (x is not INF and y is not INF and sympy.expand(x - y) == 0)
               for x, y in zip(a.ext, b.ext))


def _shape_clash(*exprs: Expr) -> str:
    """A name used with two shapes denotes no tensor: the claim is ill-typed (and the classes, which identify
    factors by name, would conflate the two)."""
    seen: dict[str, TSym] = {}
    for e in exprs:
        for n in e.walk():
            if isinstance(n, TSym):
                k = _key_name(n)
                first = seen.setdefault(k, n)
                if first.chans != n.chans or not all(
                        (a is INF and b is INF) or (a is not INF and b is not INF and sympy.expand(a - b) == 0)
                        for a, b in zip(first.ext, n.ext)):
                    return f"{k} is used with two shapes: {shape_text(first)} and {shape_text(n)}"
    return ""


def decide_tensor(lhs: TensorExpr, rhs: TensorExpr, seed: int = 0) -> Verdict:
    """``lhs = rhs`` for every size and channel count (Theorem G), or an exact counterexample."""
    clash = _shape_clash(lhs, rhs)
    if clash:
        return decided(FAILED, "shape check", reason=clash, methods=["shape-check"], lhs=lhs, rhs=rhs)
    if not _same_shape(lhs, rhs):
        return decided(FAILED, "shape check", reason=f"shapes differ: the left side is {shape_text(lhs)}, the right "
                       f"side is {shape_text(rhs)}", methods=["shape-check"], lhs=lhs, rhs=rhs)
    pl, pr = lhs, rhs
    if not isinstance(lhs, Inner2) and lhs.on_z:
        return decided(UNDECIDED, "undecided: images on ℤ² are compared only inside an inner product",
                       reason="a claim between images on ℤ² needs a finitely supported probe of unbounded size; "
                       "state it as ⟨D, lhs⟩ = ⟨D, rhs⟩ with a finite D", methods=["multiaxis-classes"],
                       lhs=lhs, rhs=rhs)
    if not isinstance(lhs, Inner2):
        d = _probe(lhs, rhs)
        pl, pr = Inner2(d, lhs), Inner2(d, rhs)
    try:
        cases = _cases(pl, pr)
        differing = []
        for subs in cases:
            a, b = _classes(pl, subs), _classes(pr, subs)
            diff = {k: a.get(k, Fraction(0)) - b.get(k, Fraction(0)) for k in set(a) | set(b)}
            if any(v != 0 for v in diff.values()):
                differing.append(subs)
        if not differing:
            split = (f", in each of the {len(cases)} parity cases of the lengths under ⌊·/2⌋" if len(cases) > 1 else "")
            return decided(VERIFIED, "proved for every size and channel count: both sides expanded into index "
                           "monomials, restrictions removed by the supports of the tensors they pair with, and the "
                           "tagged channel graphs with per-axis exponents and shifts compared up to a sign per axis "
                           f"(Theorem G){split}", methods=["multiaxis-classes"], lhs=lhs, rhs=rhs)
        reason = "the classes of the two sides differ" + (
            f" (in the case {', '.join(f'{k} = {v}' for k, v in differing[0].items())})" if differing[0] else "")
    except NotInFragment as exc:
        reason = f"outside the decided fragment: {exc}"
    cex = find_counterexample(lhs, rhs, seed)
    if cex is not None:
        return decided(FAILED, f"refuted: exact integer evaluation at {_fmt(cex.sizes)} gives different values; "
                       + reason, reason=reason, counterexample=cex,
                       methods=["exact-integer-evaluation", "multiaxis-classes"], lhs=lhs, rhs=rhs)
    return decided(UNDECIDED, f"undecided: {reason}",
                   reason=reason + "; no counterexample was found at the sizes tried "
                   "(finite images have fixed supports, so different classes alone do not prove inequality)",
                   methods=["multiaxis-classes"], lhs=lhs, rhs=rhs)


def _fmt(sizes: dict[str, int]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in sizes.items())


# ---------------------------------------------------------------------------------------
# Exact evaluation from the definitions (independent of the elaboration above)
# ---------------------------------------------------------------------------------------
Tensor = dict[tuple[Any, ...], int]  # (channel indices..., i, j) -> value, nonzero entries only


def _num(x: Lin, point: dict[Any, int]) -> int:
    return _num_cached(x, tuple(sorted(point.items(), key=str)))


@functools.lru_cache(maxsize=8192)
def _num_cached(x: Lin, point: tuple[tuple[Any, int], ...]) -> int:
    v = sympy.sympify(x).subs(dict(point))
    if not v.is_Integer:
        raise ShapeError(f"the length {x} is not an integer at {point}")
    return int(v)


def _put(out: Tensor, k: tuple[Any, ...], v: int) -> None:
    s = out.get(k, 0) + v
    if s:
        out[k] = s
    else:
        out.pop(k, None)


def evaluate(e: Expr, env: dict[str, Tensor], point: dict[Any, int]) -> Tensor | int:
    """The value of ``e`` with integer entries ``env`` (by symbol display name) and sizes ``point``."""
    if isinstance(e, Inner2):
        la, lb = evaluate(e.left, env, point), evaluate(e.right, env, point)
        assert isinstance(la, dict) and isinstance(lb, dict)
        return sum(v * lb.get(k, 0) for k, v in la.items())
    assert isinstance(e, TensorExpr)
    if isinstance(e, TSym):
        return dict(env[_key_name(e)])
    if isinstance(e, (TAdd, TScale)):
        out: Tensor = {}
        parts: list[tuple[Fraction, Expr]] = (
            [(Fraction(1), t) for t in e.args] if isinstance(e, TAdd) else [(e.coef, e.arg)])
        for c, term in parts:
            va = evaluate(term, env, point)
            assert isinstance(va, dict)
            for k, v in va.items():
                prod = c * v
                if prod.denominator != 1:
                    raise ValueError("a non-integer entry")
                _put(out, k, int(prod))
        return out
    args: list[Tensor] = []
    for child in e.children:
        vc = evaluate(child, env, point)
        assert isinstance(vc, dict)
        args.append(vc)
    a = args[0]
    if isinstance(e, TExt):
        return a
    if isinstance(e, TShift):
        d = [_num(x, point) for x in e.by]
        return {k[:-2] + (k[-2] + d[0], k[-1] + d[1]): v for k, v in a.items()}
    if isinstance(e, TWindow):
        o = [_num(x, point) for x in e.offset]
        L = [_num(x, point) for x in e.length]
        return {k[:-2] + (k[-2] - o[0], k[-1] - o[1]): v for k, v in a.items()
                if 0 <= k[-2] - o[0] < L[0] and 0 <= k[-1] - o[1] < L[1]}
    if isinstance(e, (Rot180, Flip, SwapHW)):
        n = [_num(x, point) for x in e.arg.ext]
        out = {}
        for k, v in a.items():
            i, j = k[-2], k[-1]
            if isinstance(e, Rot180):
                i, j = n[0] - 1 - i, n[1] - 1 - j
            elif isinstance(e, SwapHW):
                i, j = j, i
            elif e.axis == 0:
                i = n[0] - 1 - i
            else:
                j = n[1] - 1 - j
            out[k[:-2] + (i, j)] = v
        return out
    if isinstance(e, ChanT):
        return {(k[1], k[0]) + k[2:]: v for k, v in a.items()}
    if isinstance(e, Up):
        return {k[:-2] + (e.stride[0] * k[-2], e.stride[1] * k[-1]): v for k, v in a.items()}
    if isinstance(e, BilinearOp):
        b = args[1]
        z: Tensor = {}  # the operator on ℤ², at every position where it can be nonzero
        for ka, va in a.items():
            for kb, vb in b.items():
                dl = e.dilation
                if isinstance(e, ChanCorr):
                    if ka[:-3] == kb[:-3]:  # the same batch entry (summed)
                        _put(z, (kb[-3], ka[-3], ka[-2] - dl[0] * kb[-2], ka[-1] - dl[1] * kb[-1]), va * vb)
                elif kb[1] == ka[-3]:
                    pos = ((ka[-2] + dl[0] * kb[2], ka[-1] + dl[1] * kb[3]) if isinstance(e, Conv2)
                           else (ka[-2] - dl[0] * kb[2], ka[-1] - dl[1] * kb[3]))
                    _put(z, ka[:-3] + (kb[0],) + pos, va * vb)
        if e.mode is None:
            return z
        win = [e.window(ax) for ax in (0, 1)]
        o = [_num(w[0], point) for w in win]
        L = [_num(w[1], point) for w in win]
        s = e.stride
        out = {}
        for k, v in z.items():
            di, dj = k[-2] - o[0], k[-1] - o[1]
            if di % s[0] or dj % s[1]:
                continue
            i, j = di // s[0], dj // s[1]
            if 0 <= i < L[0] and 0 <= j < L[1]:
                out[k[:-2] + (i, j)] = v
        return out
    raise NotInFragment(f"cannot evaluate {type(e).__name__}")



def random_env(exprs: list[Expr], point: dict[Any, int], rng: random.Random, chans: dict[str, int],
               lo: int = -3, hi: int = 3) -> dict[str, Tensor]:
    """Random integer entries in [lo, hi] for every symbol of ``exprs`` at the sizes ``point``."""
    env: dict[str, Tensor] = {}
    for e in exprs:
        for s in e.walk():
            if isinstance(s, TSym) and _key_name(s) not in env:
                n = [_num(x, point) for x in s.ext]
                t: Tensor = {}
                for cs in itertools.product(*[range(chans[c]) for c in s.chans]):
                    for i in range(n[0]):
                        for j in range(n[1]):
                            v = rng.randint(lo, hi)
                            if v:
                                t[cs + (i, j)] = v
                env[_key_name(s)] = t
    return env


def _params(*exprs: Expr) -> list[Any]:
    syms: set[Any] = set()
    for e in exprs:
        for n in e.walk():
            if isinstance(n, TensorExpr):
                for x in n.ext:
                    if x is not INF:
                        syms |= sympy.sympify(x).free_symbols
    return sorted(syms, key=str)


def _chans(*exprs: Expr) -> list[str]:
    return sorted({c for e in exprs for n in e.walk() if isinstance(n, TensorExpr) for c in n.chans})


def _well_sized(exprs: list[Expr], point: dict[Any, int]) -> bool:
    """Every length ≥ 1, and n ≥ k for every valid or same operator (their documented domain)."""
    for e in exprs:
        for n in e.walk():
            if not isinstance(n, TensorExpr):
                continue
            if any(x is not INF and _num(x, point) < 1 for x in n.ext):
                return False
            if isinstance(n, BilinearOp) and n.mode in ("valid", "same") and any(
                    _num(n.left.ext[ax], point) < n.dilation[ax] * (_num(n.right.ext[ax], point) - 1) + 1
                    for ax in (0, 1)):
                return False
    return True


def size_points(exprs: list[Expr], count: int = 6, seed: int = 0) -> list[tuple[dict[Any, int], dict[str, int]]]:
    """Sizes for counterexamples: every size parameter and channel count in 2..5 with distinct channel counts
    (C ≠ O), every length ≥ 2 where the expressions allow (no 1×1 kernel, no single output row)."""
    params, chans = _params(*exprs), _chans(*exprs)
    rng = random.Random(seed)
    out: list[tuple[dict[Any, int], dict[str, int]]] = []
    tries = 0
    while len(out) < count and tries < 400:
        tries += 1
        point = {p: rng.randint(2, 6) for p in params}
        cs = dict(zip(chans, rng.sample(range(2, 6), len(chans)))) if len(chans) <= 4 else {c: 2 for c in chans}
        try:
            if not _well_sized(exprs, point):
                continue
            lengths = [_num(x, point) for e in exprs for n in e.walk() if isinstance(n, TensorExpr)
                       for x in n.ext if x is not INF]
        except ShapeError:
            continue
        if tries < 300 and min(lengths, default=2) < 2:
            continue
        out.append((point, cs))
    return out


def _listing(t: Tensor | int) -> Any:
    if isinstance(t, int):
        return [[t]]
    return {str(k): v for k, v in sorted(t.items())}


def find_counterexample(lhs: TensorExpr, rhs: TensorExpr, seed: int = 0) -> Counterexample | None:
    """Sizes and integer entries where ``lhs`` and ``rhs`` evaluate differently, exactly: the untrusted
    search (:mod:`symderiv.search.tensor`) proposes candidates, and each is checked here (integer
    entries at keys inside the tensors' extents at those sizes, channel counts ≥ 1, both sides
    evaluated with this module's evaluator) before it counts."""
    exprs: list[Expr] = [lhs, rhs]
    for point, chans, env in refute.current().tensor_candidates(lhs, rhs, seed):
        try:
            if not _valid_candidate(exprs, point, chans, env):
                continue
            a, b = evaluate(lhs, env, point), evaluate(rhs, env, point)
        except (ShapeError, NotInFragment, KeyError, TypeError):
            continue
        if a != b:
            sizes = {str(k): v for k, v in point.items()} | {f"#{c}": v for c, v in chans.items()}
            return Counterexample(sizes, {k: _listing(v) for k, v in env.items()}, _listing(a), _listing(b),
                                  note="entries indexed (channels..., row, column); #C is the number of channels")
    return None


def _valid_candidate(exprs: list[Expr], point: dict[Any, int], chans: dict[str, int], env: dict[str, Tensor]) -> bool:
    """Every size parameter and channel count an integer ≥ 1, the sizes inside the operators' domain, and
    every symbol's entries integers at keys inside its extent (a key outside would never be read)."""
    if not (all(type(v) is int and v >= 1 for v in point.values())
            and all(type(v) is int and v >= 1 for v in chans.values())
            and set(point) >= set(_params(*exprs)) and set(chans) >= set(_chans(*exprs))):
        return False
    if not _well_sized(exprs, point):
        return False
    for e in exprs:
        for s in e.walk():
            if isinstance(s, TSym):
                t = env.get(_key_name(s))
                if not isinstance(t, dict):
                    return False
                n = [_num(x, point) for x in s.ext]
                for k, v in t.items():
                    if type(v) is not int or not isinstance(k, tuple) or len(k) != len(s.chans) + 2:
                        return False
                    if any(type(i) is not int for i in k):
                        return False
                    if any(not 0 <= k[i] < chans[c] for i, c in enumerate(s.chans)) or \
                            not (0 <= k[-2] < n[0] and 0 <= k[-1] < n[1]):
                        return False
    return True


# ---------------------------------------------------------------------------------------
# The Jacobian cross-check
# ---------------------------------------------------------------------------------------
def check_tensor_gradient(forward: TensorExpr, wrt: TSym, gradient: TensorExpr, upstream: TSym) -> Verdict:
    """Is ``gradient`` dL/dθ for y = forward(θ), L with dL/dy = ``upstream``?

    Proof: ⟨dL/dy, f(θ + Δθ) − f(θ)⟩ = ⟨G, Δθ⟩ for every size (Theorem G; the layers here are linear
    in θ, so the first-order part is the whole difference). Independently, entry by entry from the
    definition at a few sizes: dL/dθ[e] = ⟨dL/dy, f(θ = e)⟩ for each unit tensor e (f linear in θ),
    compared with G exactly."""
    from symderiv.lang.tensor2d import delta, tsubstitute

    if sum(1 for n in forward.walk() if isinstance(n, TSym) and n.name == wrt.name) != 1:
        return decided(UNDECIDED, "undecided", reason="the forward definition must be linear in the variable "
                       "(one occurrence)", methods=["directional-derivative"])
    if not _same_shape(gradient, wrt):
        return decided(FAILED, "shape check", reason=f"dL/d{wrt.name} must have the shape of {wrt.name}, "
                       f"{shape_text(wrt)}, got {shape_text(gradient)}", methods=["shape-check"])
    d = delta(wrt)
    moved = tsubstitute(forward, wrt.name, wrt.kind, TAdd(wrt, d))
    assert isinstance(moved, TensorExpr)
    lhs = Inner2(upstream, TAdd(moved, TScale(-1, forward)))
    rhs = Inner2(gradient, d)
    v = decide_tensor(lhs, rhs)
    if v.status != VERIFIED:
        return decided(v.status, "directional derivative: ⟨dL/dy, f(θ + Δθ) − f(θ)⟩ compared with ⟨G, Δθ⟩; "
                       + v.method, reason=v.reason, counterexample=v.counterexample,
                       methods=["directional-derivative"] + list(v.methods))
    # element-wise, from the definition
    exprs: list[Expr] = [forward, gradient, upstream]
    agreed: list[str] = []
    for point, chans in size_points(exprs, count=3, seed=7):
        rng = random.Random(len(agreed) + 11)
        env = random_env(exprs, point, rng, chans)
        G = evaluate(gradient, env, point)
        assert isinstance(G, dict)
        n = [_num(x, point) for x in wrt.ext]
        for cs in itertools.product(*[range(chans[c]) for c in wrt.chans]):
            for i in range(n[0]):
                for j in range(n[1]):
                    key = cs + (i, j)
                    e_env = dict(env)
                    e_env[_key_name(wrt)] = {key: 1}
                    y = evaluate(forward, e_env, point)
                    up = env[_key_name(upstream)]
                    assert isinstance(y, dict)
                    val = sum(v * up.get(k, 0) for k, v in y.items())
                    if val != G.get(key, 0):
                        return decided(FAILED, "element-wise differentiation from the definition disagrees at "
                                       + _fmt({str(k): v for k, v in point.items()}),
                                       reason=f"dL/d{wrt.name}{list(key)} is {val} by the definition, {G.get(key, 0)} "
                                       "by the claimed gradient", methods=["exact-integer-evaluation"])
        agreed.append(", ".join(f"{k}={v}" for k, v in point.items()) + " with "
                      + ", ".join(f"#{c}={v}" for c, v in chans.items()))
    return decided(VERIFIED, "directional derivative: the first-order part of L(θ + Δθ) − L(θ), computed from the "
                   "forward definition alone, equals ⟨G, Δθ⟩; " + v.method
                   + "; element-wise differentiation from the definition with exact integers agrees at "
                   + "; ".join(agreed), methods=["directional-derivative", "multiaxis-classes"])

"""Parameter domains of sequence identities, and linear inequalities proved on them.

The lengths of finite vectors (n, k, ...) range over the integer points of a polyhedron: every
declared length is ≥ 1, and a 'valid' or 'same' operator on inputs of lengths n and k needs
n ≥ k. Where NumPy's 'same' mode uses ⌊k/2⌋, the domain is split by the parity of k
(k = 2κ or k = 2κ + 1), so every length and offset is a linear form in the parameters.

A linear form is ≥ 0 on the whole domain iff it is ≥ 0 at every vertex and does not decrease
along any extreme ray (the domain has at most two independent parameters here), which
:func:`nonneg_on` checks exactly, in rational arithmetic.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations, product
from typing import TypeAlias

import sympy

from symderiv.errors import NotInFragment
from symderiv.lang.operators import INF, Expr, SeqOp, Shift, Sym, Window

#: A linear form in the lengths (a SymPy expression; SymPy ships no type information).
Lin: TypeAlias = sympy.Expr
#: The coefficients of a linear form in a domain's parameters, and its constant.
Coeffs = tuple[list[Fraction], Fraction]
#: Lengths by name, as the sequence evaluator and the counterexample search use them.
Point = dict[sympy.Symbol, int]

#: Small points are searched with every parameter in [0, SMALL].
SMALL = 12

KAPPA = sympy.Symbol("kappa", integer=True)


@dataclass
class Domain:
    """The integer points p with ``c(p) ≥ 0`` for every constraint c, after substituting ``subs``
    (the parity split of a length that occurs under a floor)."""

    params: tuple[sympy.Symbol, ...]
    constraints: list[Lin]  # each ≥ 0 on the domain
    subs: dict[sympy.Symbol, Lin]
    label: str
    _cons: list[Coeffs] | None = field(default=None, repr=False, compare=False)
    _nonneg: dict[str, bool] = field(default_factory=dict, repr=False, compare=False)

    def constraint_coeffs(self) -> list[Coeffs]:
        if self._cons is None:
            self._cons = [linear_coeffs(c, list(self.params)) for c in self.constraints]
        return self._cons

    def apply(self, e: object) -> Lin:
        """``e`` in this domain's parameters (the parity substitution applied), expanded."""
        return sympy.expand(sympy.sympify(e).subs(self.subs)) if self.subs else sympy.expand(sympy.sympify(e))

    def describe(self) -> str:
        return self.label


def _lengths(exprs: Iterable[Expr]) -> list[Lin]:
    out: list[Lin] = []
    for e in exprs:
        for node in e.walk():
            for d in node.shape:
                if d is not INF and not d.is_Integer:
                    out.append(d)
            if isinstance(node, Window):
                out.extend([node.offset, node.length])
            if isinstance(node, Shift):
                out.append(node.by)
            if isinstance(node, SeqOp) and node.mode is not None:
                out.extend(node.window())
    return out


def requirements(exprs: Iterable[Expr]) -> list[Lin]:
    """What the expressions need to make sense (each ≥ 0): every declared symbol length ≥ 1,
    and n ≥ k for each 'valid' or 'same' operator on inputs of lengths n and k."""
    out: list[Lin] = []
    for e in exprs:
        for node in e.walk():
            if isinstance(node, Sym):
                d = node.shape[0]
                if d is not INF and d.free_symbols:
                    out.append(sympy.expand(d - 1))
            if isinstance(node, SeqOp) and node.mode in ("valid", "same"):
                out.append(sympy.expand(node.left.shape[0] - node.right.shape[0]))
    return _dedupe(out)


def domains_for(exprs: Iterable[Expr], also: Iterable[Expr] = ()) -> list[Domain]:
    """The parameter domain of the expressions (see :func:`requirements`), split by the parity
    of k where 'same' uses ⌊k/2⌋. Lengths that occur only in ``also`` (the other side of an
    equation) are parameters too (each ≥ 1), but their requirements are not assumed."""
    exprs = list(exprs)
    constraints = requirements(exprs)
    lengths = _lengths(exprs + list(also))
    params = sorted({s for d in lengths for s in sympy.sympify(d).free_symbols}, key=str)
    constraints = _dedupe(constraints + [p - 1 for p in params])
    floors = {f for d in lengths for f in sympy.sympify(d).atoms(sympy.floor)}
    split = sorted({s for f in floors for s in f.free_symbols}, key=str)
    if not split:
        return [Domain(tuple(params), constraints, {}, _label(params, constraints))]
    if len(split) > 1:
        raise NotInFragment("floors over several lengths")
    k = split[0]
    out = []
    for value, label in [(2 * KAPPA, "even"), (2 * KAPPA + 1, "odd")]:
        subs = {k: value}
        ps = tuple(sorted((set(params) - {k}) | {KAPPA}, key=str))
        cs = _dedupe([sympy.expand(c.subs(subs)) for c in constraints] + [KAPPA])
        out.append(Domain(ps, cs, subs, _label(params, constraints) + f", {k} {label}"))
    return out


def domains_or_unconstrained(exprs: Iterable[Expr]) -> list[Domain]:
    """:func:`domains_for`, or the domain without parameters when the lengths are outside it
    (only used to look for counterexamples, which are checked at concrete lengths)."""
    try:
        return domains_for(exprs)
    except NotInFragment:
        return [Domain((), [], {}, "")]


def _dedupe(cs: Iterable[Lin]) -> list[Lin]:
    seen: set[str] = set()
    out: list[Lin] = []
    for c in cs:
        c = sympy.expand(c)
        if c.free_symbols and str(c) not in seen:
            seen.add(str(c))
            out.append(c)
    return out


def _label(params: list[sympy.Symbol], constraints: list[Lin]) -> str:
    if not params:
        return "all finitely supported sequences"
    from symderiv.lang.printing import linear_text

    conds = []
    for c in _dedupe(constraints):
        # show c ≥ 0 as "a ≥ b" with positive terms on the left
        pos = sum((t for t in sympy.Add.make_args(c) if t.could_extract_minus_sign() is False), sympy.Integer(0))
        conds.append(f"{linear_text(pos)} ≥ {linear_text(sympy.expand(pos - c))}")
    return "all integers " + ", ".join(str(p) for p in params) + " with " + ", ".join(sorted(conds))


def linear_coeffs(e: Lin, params: list[sympy.Symbol]) -> Coeffs:
    """(coefficients of the params, constant) of a linear form, exactly."""
    d = sympy.expand(e).as_coefficients_dict()
    out = [Fraction(0)] * len(params)
    const = Fraction(0)
    for term, c in d.items():
        c = Fraction(int(sympy.Rational(c).p), int(sympy.Rational(c).q))
        if term == 1:
            const += c
        elif term in params:
            out[params.index(term)] += c
        else:
            raise NotInFragment(f"{e} is not linear in the lengths")
    return out, const


def nonneg_on(form: Lin, dom: Domain) -> bool:
    """Is the linear form ≥ 0 at every real point of the domain (hence every integer point)?"""
    key = sympy.srepr(form)
    if key not in dom._nonneg:
        dom._nonneg[key] = _nonneg_on(form, dom)
    return dom._nonneg[key]


def _nonneg_on(form: Lin, dom: Domain) -> bool:
    form = dom.apply(form)
    if form.has(sympy.floor):
        raise NotInFragment("a floor remains after the parity split")
    ps = list(dom.params)
    if not ps:
        return Fraction(str(form)) >= 0
    if len(ps) > 2:
        raise NotInFragment("more than two independent lengths")
    a, b = linear_coeffs(form, ps)
    cons = dom.constraint_coeffs()
    if len(ps) == 1:
        lo: Fraction | None = None
        hi: Fraction | None = None
        for (c,), d in cons:
            if c > 0:
                lo = max(lo, -d / c) if lo is not None else -d / c
            elif c < 0:
                hi = min(hi, -d / c) if hi is not None else -d / c
        if (a[0] < 0 and hi is None) or (a[0] > 0 and lo is None):
            return False
        pts = [p for p in (lo, hi) if p is not None] or [Fraction(0)]
        return all(a[0] * p + b >= 0 for p in pts)
    # two parameters: vertices and extreme rays of {p : c·p + d ≥ 0}
    verts = []
    for (c1, d1), (c2, d2) in combinations(cons, 2):
        det = c1[0] * c2[1] - c1[1] * c2[0]
        if det == 0:
            continue
        x = (-d1 * c2[1] + d2 * c1[1]) / det
        y = (-c1[0] * d2 + c2[0] * d1) / det
        if all(c[0] * x + c[1] * y + d >= 0 for c, d in cons):
            verts.append((x, y))
    rays = []
    for cv, _ in cons:
        for r in ((-cv[1], cv[0]), (cv[1], -cv[0])):
            if any(r) and all(cc[0] * r[0] + cc[1] * r[1] >= 0 for cc, _ in cons):
                rays.append(r)
    if not verts:
        raise NotInFragment("the parameter domain has no vertex")
    if any(a[0] * r[0] + a[1] * r[1] < 0 for r in rays):
        return False
    return all(a[0] * x + a[1] * y + b >= 0 for x, y in verts)


def domain_points(dom: Domain, limit: int = 40, top: int = 7) -> list[Point]:
    """Small integer points of the domain (for counterexamples), smallest first, in the
    original length symbols."""
    pts: list[Point] = [{}]
    for p in dom.params:
        pts = [{**q, p: v} for q in pts for v in range(0, top + 1)]
    good = []
    for q in pts:
        if all(sympy.sympify(c).subs(q) >= 0 for c in dom.constraints):
            orig = dict(q)
            for s, val in dom.subs.items():
                orig[s] = int(val.subs(q))
            orig.pop(KAPPA, None)
            good.append(orig)
    good.sort(key=lambda q: (sum(q.values()), sorted((str(k), v) for k, v in q.items())))
    return good[:limit]


def has_small_point(dom: Domain) -> bool:
    """Does some integer point with every parameter in [0, SMALL] satisfy the constraints?"""
    try:
        return small_point(dom) is not None
    except NotInFragment:
        return True  # not linear: make no claim


def small_point(dom: Domain, extra: Lin | None = None) -> dict[str, int] | None:
    """The first integer point of the domain with parameters in [0, SMALL] (where also the linear
    form ``extra`` is negative, if given), in the original length symbols; None if there is none."""
    cons = dom.constraint_coeffs()
    params = list(dom.params)
    bad = linear_coeffs(extra, params) if extra is not None else None
    for point in product(range(SMALL + 1), repeat=len(params)):
        if not all(sum(c * v for c, v in zip(cs, point)) + d >= 0 for cs, d in cons):
            continue
        if bad is not None and sum(c * v for c, v in zip(bad[0], point)) + bad[1] >= 0:
            continue
        q = dict(zip(params, point))
        orig = {str(k): v for k, v in q.items() if str(k) != "kappa"}
        for sym, val in dom.subs.items():
            orig[str(sym)] = int(val.subs(q))
        return dict(sorted(orig.items()))
    return None


def forms_equal(a: object, b: object) -> bool:
    """Equality of two lengths or offsets for every integer value (floors split by parity)."""
    diff = sympy.expand(sympy.sympify(a) - sympy.sympify(b))
    syms = sorted({x for f in diff.atoms(sympy.floor) for x in f.free_symbols}, key=str)
    if not syms:
        return bool(diff == 0)
    return all(sympy.expand(diff.subs(syms[0], 2 * KAPPA + r)) == 0 for r in (0, 1))

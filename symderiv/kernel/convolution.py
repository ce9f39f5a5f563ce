"""Deciding correlation/convolution identities for every support and every length.

**Sequences on ℤ** (finite support). With the z-transform X(z) = Σ_i x_i z^i,

    conv:  (x ∗ w)  ↦  X(z) W(z)          corr:  (x ⋆ w)  ↦  X(z) W(z⁻¹)
    ⟨a, b⟩ = CT[A(z) B(z⁻¹)]   (CT = constant term)     (R-shift by o) ↦ z^{−o}·S(z)

so every expanded monomial becomes CT[z^s Π_v V_v(z^{±1})], recorded as its *sign profile*
(for each variable, how often it appears with z and with z⁻¹) and its shift s. A scalar
identity holds for all finitely supported sequences iff, for every class of profiles and
shifts up to the global flip z ↦ z⁻¹, the coefficients sum to 0 (Theorem 2 of
``docs/verification.md``; repeated variables are handled by polarization, which leaves the
profile as the invariant). A sequence-valued identity is paired with a fresh sequence D.

**Finite vectors** x ∈ R^n, w ∈ R^k are zero-extended to ℤ. A finite-mode operator is a
window of the operator on ℤ: ``corr_valid(x, w) = R_{[0, n−k]}(Ex ⋆ Ew)`` and so on
(:func:`symderiv.operators.mode_window`). A window can be removed — turned into a pure shift —
when the support of what it restricts lies inside it, and inside an inner product
⟨a, R_I s⟩ = ⟨a, shifted s⟩ when the support of a lies inside the window. These support
containments are linear inequalities in the lengths; they are *proved* for every point of the
parameter domain (n ≥ k ≥ 1, with NumPy's 'same' split into k even and k odd) by checking the
vertices and extreme rays of the domain. What remains is decided as on ℤ, with shifts that
are linear forms in the lengths. When a window cannot be removed the verdict is undecided,
unless a concrete counterexample is found.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from itertools import combinations

import sympy

from symderiv.errors import BudgetExceeded, IllFormed, NotInFragment
from symderiv.lang.index import IndexNotation, IndexSum, affine
from symderiv.kernel import refute
from symderiv.kernel.verdict import FAILED, UNDECIDED, VERIFIED, Decision, Term, decided
from symderiv.kernel.budget import DEFAULT_BUDGET, Budget, Meter
from symderiv.kernel.evaluate import Counterexample
from symderiv.lang.operators import (
    INF, Add, Conv, Corr, Expr, Ext, Hadamard, Inner, MatMul, Scale, Shift, Sym, Trace, Transpose,
    Window, Zero, SeqOp,
)


# ---------------------------------------------------------------------------------------
# Parameter domains and linear inequalities
# ---------------------------------------------------------------------------------------
@dataclass
class Domain:
    params: tuple[sympy.Symbol, ...]
    constraints: list[sympy.Expr]  # each ≥ 0 on the domain
    subs: dict
    label: str
    _memo: dict = field(default_factory=dict, repr=False, compare=False)

    def constraint_coeffs(self):
        if "cons" not in self._memo:
            self._memo["cons"] = [_coeffs(c, list(self.params)) for c in self.constraints]
        return self._memo["cons"]

    def apply(self, e):
        return sympy.expand(sympy.sympify(e).subs(self.subs)) if self.subs else sympy.expand(sympy.sympify(e))

    def describe(self) -> str:
        return self.label


def _finite_ops(exprs):
    for e in exprs:
        for node in e.walk():
            if isinstance(node, SeqOp) and node.mode is not None:
                yield node


def _lengths(exprs):
    out = []
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


def requirements(exprs) -> list[sympy.Expr]:
    """What the expressions need to make sense (each ≥ 0): every declared symbol length ≥ 1,
    and n ≥ k for each 'valid' or 'same' operator on inputs of lengths n and k."""
    out = []
    for e in exprs:
        for node in e.walk():
            if isinstance(node, Sym):
                d = node.shape[0]
                if d is not INF and d.free_symbols:
                    out.append(sympy.expand(d - 1))
            if isinstance(node, SeqOp) and node.mode in ("valid", "same"):
                out.append(sympy.expand(node.left.shape[0] - node.right.shape[0]))
    return _dedupe(out)


def domains_for(exprs, also=()) -> list[Domain]:
    """The parameter domain of the expressions (see :func:`requirements`), split by the parity
    of k where 'same' uses ⌊k/2⌋. Lengths that occur only in ``also`` (the other side of an
    equation) are parameters too (each ≥ 1), but their requirements are not assumed."""
    constraints = requirements(exprs)
    lengths = _lengths(list(exprs) + list(also))
    params = sorted({s for d in lengths for s in sympy.sympify(d).free_symbols}, key=str)
    constraints = _dedupe(constraints + [p - 1 for p in params])
    floors = {f for d in lengths for f in sympy.sympify(d).atoms(sympy.floor)}
    split = sorted({s for f in floors for s in f.free_symbols}, key=str)
    if not split:
        return [Domain(tuple(params), constraints, {}, _label(params, constraints))]
    if len(split) > 1:
        raise NotInFragment("floors over several lengths")
    k = split[0]
    kappa = sympy.Symbol("kappa", integer=True)
    out = []
    for value, label in [(2 * kappa, "even"), (2 * kappa + 1, "odd")]:
        subs = {k: value}
        ps = tuple(sorted((set(params) - {k}) | {kappa}, key=str))
        cs = _dedupe([sympy.expand(c.subs(subs)) for c in constraints] + [kappa])
        out.append(Domain(ps, cs, subs, _label(params, constraints) + f", {k} {label}"))
    return out


def _dedupe(cs):
    seen, out = set(), []
    for c in cs:
        c = sympy.expand(c)
        if c.free_symbols and str(c) not in seen:
            seen.add(str(c))
            out.append(c)
    return out


def _label(params, constraints) -> str:
    if not params:
        return "all finitely supported sequences"
    from symderiv.lang.printing import linear_text

    conds = []
    for c in _dedupe(constraints):
        # show c ≥ 0 as "a ≥ b" with positive terms on the left
        pos = sum((t for t in sympy.Add.make_args(c) if t.could_extract_minus_sign() is False), sympy.Integer(0))
        conds.append(f"{linear_text(pos)} ≥ {linear_text(sympy.expand(pos - c))}")
    return "all integers " + ", ".join(str(p) for p in params) + " with " + ", ".join(sorted(conds))


def _coeffs(e, params):
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


def nonneg_on(form, dom: Domain) -> bool:
    """Is the linear form ≥ 0 at every real point of the domain (hence every integer point)?"""
    key = sympy.srepr(form)
    if key not in dom._memo:
        dom._memo[key] = _nonneg_on(form, dom)
    return dom._memo[key]


def _nonneg_on(form, dom: Domain) -> bool:
    form = dom.apply(form)
    if form.has(sympy.floor):
        raise NotInFragment("a floor remains after the parity split")
    ps = list(dom.params)
    if not ps:
        return Fraction(str(form)) >= 0
    if len(ps) > 2:
        raise NotInFragment("more than two independent lengths")
    a, b = _coeffs(form, ps)
    cons = dom.constraint_coeffs()
    if len(ps) == 1:
        lo, hi = None, None
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
    for c, _ in cons:
        for r in ((-c[1], c[0]), (c[1], -c[0])):
            if r != (0, 0) and all(cc[0] * r[0] + cc[1] * r[1] >= 0 for cc, _ in cons):
                rays.append(r)
    if not verts:
        raise NotInFragment("the parameter domain has no vertex")
    if any(a[0] * r[0] + a[1] * r[1] < 0 for r in rays):
        return False
    return all(a[0] * x + a[1] * y + b >= 0 for x, y in verts)


def domain_points(dom: Domain, limit: int = 40, top: int = 7) -> list[dict]:
    """Small integer points of the domain (for counterexamples), smallest first, in the
    original length symbols."""
    ps = list(dom.params)
    pts = [{}]
    for p in ps:
        pts = [{**q, p: v} for q in pts for v in range(0, top + 1)]
    good = []
    for q in pts:
        if all(sympy.sympify(c).subs(q) >= 0 for c in dom.constraints):
            orig = {}
            for s, v in q.items():
                orig[s] = v
            for s, val in dom.subs.items():
                orig[s] = int(val.subs(q))
            orig.pop(sympy.Symbol("kappa", integer=True), None)
            good.append(orig)
    good.sort(key=lambda q: (sum(q.values()), sorted((str(k), v) for k, v in q.items())))
    return good[:limit]


# ---------------------------------------------------------------------------------------
# Monomials in the z-domain
# ---------------------------------------------------------------------------------------
def forms_equal(a, b) -> bool:
    """Equality of two lengths or offsets for every integer value (floors split by parity)."""
    diff = sympy.expand(sympy.sympify(a) - sympy.sympify(b))
    syms = sorted({x for f in diff.atoms(sympy.floor) for x in f.free_symbols}, key=str)
    if not syms:
        return diff == 0
    kappa = sympy.Symbol("kappa", integer=True)
    return all(sympy.expand(diff.subs(syms[0], 2 * kappa + r)) == 0 for r in (0, 1))


@dataclass(frozen=True)
class Mono:
    shift: sympy.Expr
    signs: tuple  # sorted ((name, ±1), ...)
    supp: tuple | None  # (lo, hi): support within [lo, hi), or None if unbounded


@dataclass(frozen=True)
class Pending:
    inner: Mono
    offset: sympy.Expr
    length: sympy.Expr


def _flip(signs):
    return tuple(sorted((v, -s) for v, s in signs))


def _union(a, b):
    return tuple(sorted(a + b))


class _Zero:
    """A monomial proved to vanish: a restriction or pairing of disjoint supports."""

    def __repr__(self) -> str:
        return "ZERO"


ZERO = _Zero()


def _disjoint(a: tuple, b: tuple, dom: Domain) -> bool:
    """Are the index ranges [a0, a1) and [b0, b1) disjoint for every point of the domain?"""
    return nonneg_on(b[0] - a[1], dom) or nonneg_on(a[0] - b[1], dom)


def _transform(e: Expr, dom: Domain):
    if isinstance(e, Sym):
        L = e.shape[0]
        supp = None if L is INF else (sympy.Integer(0), dom.apply(L))
        return Mono(sympy.Integer(0), ((e.name, 1),), supp)
    if isinstance(e, Ext):
        return _transform(e.arg, dom)
    if isinstance(e, SeqOp):
        a, b = _transform(e.left, dom), _transform(e.right, dom)
        if a is ZERO or b is ZERO:
            return ZERO
        if isinstance(a, Pending) or isinstance(b, Pending):
            raise NotInFragment("a restriction inside a correlation or convolution")
        if isinstance(e, Conv):
            m = Mono(a.shift + b.shift, _union(a.signs, b.signs),
                     (a.supp[0] + b.supp[0], a.supp[1] + b.supp[1] - 1) if a.supp and b.supp else None)
        else:
            m = Mono(a.shift - b.shift, _union(a.signs, _flip(b.signs)),
                     (a.supp[0] - b.supp[1] + 1, a.supp[1] - b.supp[0]) if a.supp and b.supp else None)
        if e.mode is None:
            return m
        o, L = e.window()
        return _window(m, dom.apply(o), dom.apply(L), dom)
    if isinstance(e, Shift):
        inner = _transform(e.arg, dom)
        if inner is ZERO:
            return ZERO
        if isinstance(inner, Pending):
            raise NotInFragment("a shift of a restriction")
        d = dom.apply(e.by)
        return Mono(inner.shift + d, inner.signs, (inner.supp[0] + d, inner.supp[1] + d) if inner.supp else None)
    if isinstance(e, Window):
        inner = _transform(e.arg, dom)
        if inner is ZERO:
            return ZERO
        if isinstance(inner, Pending):
            raise NotInFragment("nested restrictions")
        return _window(inner, dom.apply(e.offset), dom.apply(e.length), dom)
    raise NotInFragment(f"{type(e).__name__} is not part of the correlation/convolution language")


def _window(m: Mono, o, L, dom: Domain):
    """R_{[o, o+L)} of a monomial: a pure shift when its support lies inside the window, zero
    when its support lies outside it."""
    if m.supp is not None and _disjoint(m.supp, (o, o + L), dom):
        return ZERO
    if m.supp is not None and nonneg_on(m.supp[0] - o, dom) and nonneg_on(o + L - m.supp[1], dom):
        return Mono(m.shift - o, m.signs, (m.supp[0] - o, m.supp[1] - o))
    return Pending(m, o, L)


def _unshift(p: Pending) -> Mono:
    return Mono(p.inner.shift - p.offset, p.inner.signs, None)


def _is_vector(e: Expr) -> bool:
    return e.shape[1] == 1 and not e.is_scalar


def as_inner(m: Expr) -> Expr:
    """Rewrite the matrix-language forms of an inner product of two vectors as ``Inner``.

    For column vectors u, v of one length: uᵀv = ⟨u, v⟩, tr(u vᵀ) = tr(vᵀu) = ⟨u, v⟩, and a
    transpose or trace of a 1 x 1 expression is that expression. Anything else involving a
    matrix product is outside the sequence procedure (:class:`NotInFragment`).
    """
    if isinstance(m, (Transpose, Trace)) and m.arg.is_scalar:
        return as_inner(m.arg)
    if isinstance(m, Trace) and isinstance(m.arg, MatMul) and len(m.arg.args) == 2:
        a, b = m.arg.args
        if _is_vector(a) and isinstance(b, Transpose) and _is_vector(b.arg):
            return Inner(a, b.arg)
        if isinstance(a, Transpose) and _is_vector(a.arg) and _is_vector(b):
            return Inner(a.arg, b)
    if isinstance(m, MatMul) and len(m.args) == 2:
        a, b = m.args
        if isinstance(a, Transpose) and _is_vector(a.arg) and _is_vector(b):
            return Inner(a.arg, b)
    if isinstance(m, Inner):
        return m
    if isinstance(m, (MatMul, Transpose, Trace, Hadamard)):
        raise NotInFragment(
            f"{type(m).__name__} over sequences or finite vectors is outside the correlation/convolution "
            "procedure (only inner products ⟨u, v⟩ = uᵀv of vectors are translated)"
        )
    raise NotInFragment("a scalar monomial must be an inner product")


def scalar_monomial(m: Expr, dom: Domain) -> Mono | None:
    """CT-form of a scalar monomial ⟨a, b⟩, removing a top-level window by adjointness;
    None when the monomial is proved to be 0 (disjoint supports on the whole domain)."""
    m = as_inner(m)
    if not isinstance(m, Inner):
        raise NotInFragment("a scalar monomial must be an inner product")
    aligned = _aligned_monomial(m)
    if aligned is not None:
        return aligned
    a, b = _transform(m.left, dom), _transform(m.right, dom)
    if a is ZERO or b is ZERO:
        return None
    if isinstance(a, Mono) and isinstance(b, Mono) and a.supp and b.supp and _disjoint(a.supp, b.supp, dom):
        return None
    if isinstance(b, Pending) and isinstance(a, Mono):
        a, b = b, a
    if isinstance(a, Pending):
        if isinstance(b, Pending):
            raise NotInFragment("restrictions on both sides of an inner product")
        # ⟨R s, b⟩ = ⟨S_o s, b⟩ when supp b ⊆ [0, L)
        if b.supp is None or not (nonneg_on(b.supp[0], dom) and nonneg_on(a.length - b.supp[1], dom)):
            raise NotInFragment("a restriction that cannot be moved: the other factor's support is not inside it")
        a = _unshift(a)
    return Mono(a.shift - b.shift, _union(a.signs, _flip(b.signs)), None)


@dataclass(frozen=True)
class AlignedMono:
    """Σ_i Π_f V_f[i]: an inner product of entrywise products of plain sequences, all read at
    the same index. Equal multisets of variables give literally the same sum."""

    names: tuple


def _aligned_factors(e: Expr) -> list[str] | None:
    """The variables of an entrywise product of plain symbols (possibly zero-extended), else None."""
    if isinstance(e, Sym):
        return [e.name]
    if isinstance(e, Ext) and isinstance(e.arg, Sym):
        return [e.arg.name]
    if isinstance(e, Hadamard):
        a, b = _aligned_factors(e.left), _aligned_factors(e.right)
        return None if a is None or b is None else a + b
    return None


def _aligned_monomial(m: Expr) -> AlignedMono | None:
    """⟨a, b⟩ with a, b entrywise products of plain symbols and at least one ⊙: Σ_i Π V_f[i].

    Sound for the verdict 'verified' only: the classes are compared by their variable multisets,
    and equal multisets are equal sums (a finite vector's entries outside [0, n) are 0 in both)."""
    if not isinstance(m, Inner) or not any(isinstance(n, Hadamard) for n in m.walk()):
        return None
    a, b = _aligned_factors(m.left), _aligned_factors(m.right)
    if a is None or b is None:
        return None
    return AlignedMono(tuple(sorted(a + b)))


def class_key(m) -> tuple:
    """The sign profile and shift, up to the global flip z ↦ z⁻¹ (or the variable multiset of an
    aligned entrywise product)."""
    if isinstance(m, AlignedMono):
        return (("⊙",) + m.names, "aligned")
    prof: dict[str, list[int]] = {}
    for v, s in m.signs:
        prof.setdefault(v, [0, 0])[0 if s > 0 else 1] += 1
    k1 = (tuple(sorted((v, p, q) for v, (p, q) in prof.items())), sympy.srepr(sympy.expand(m.shift)))
    k2 = (tuple(sorted((v, q, p) for v, (p, q) in prof.items())), sympy.srepr(sympy.expand(-m.shift)))
    return min(k1, k2)


def pair_with_probe(lhs: Expr, rhs: Expr) -> tuple[Expr, Expr]:
    """Sequence-valued sides become scalars by pairing with a fresh sequence D of their shape."""
    if lhs.is_scalar:
        return lhs, rhs
    if lhs.shape[1] != 1:
        raise NotInFragment("only scalar- and column-valued sides are paired with a probe sequence")
    names = {s.name for s in lhs.symbols() + rhs.symbols()}
    name = "D"
    while name in names:
        name += "_"
    probe = Sym(name, lhs.shape[0], 1)
    return Inner(probe, lhs), Inner(probe, rhs)


def class_sums(terms, dom: Domain, zeros: list | None = None) -> dict:
    """Coefficient sums per sign class; monomials proved zero are left out (and listed in ``zeros``)."""
    classes: dict = {}
    for c, m in terms:
        mono = scalar_monomial(m, dom)
        if mono is None:
            if zeros is not None:
                zeros.append(m)
            continue
        key = class_key(mono)
        if key in classes:
            classes[key][0] += c
        else:
            classes[key] = [Fraction(c), m]
    return classes


# ---------------------------------------------------------------------------------------
# Exact evaluation and counterexamples
# ---------------------------------------------------------------------------------------
def seq_evaluate(e: Expr, env: dict, params: dict):
    """Value of an expression: a dict index -> number for sequences/vectors, a number for scalars."""

    def length(d):
        return None if d is INF else int(sympy.sympify(d).subs(params))

    def vec(v):
        # a 1 x 1 operand of a sequence operation is a vector of length 1
        return v if isinstance(v, (dict, _Dense)) else {0: v}

    def ev(e):
        v = ev_node(e)
        if e.is_scalar and isinstance(v, dict):  # scalars are numbers, however they were built
            return v.get(0, 0)
        return v

    def ev_node(e):
        if isinstance(e, Sym):
            return env[e.name]
        if isinstance(e, Zero):
            return {} if not e.is_scalar else 0
        if isinstance(e, Scale):
            v = ev(e.arg)
            c = e.coef if e.coef.denominator != 1 else e.coef.numerator
            return {i: c * x for i, x in v.items()} if isinstance(v, dict) else c * v
        if isinstance(e, Add):
            vals = [ev(a) for a in e.args]
            if isinstance(vals[0], dict):
                out: dict = {}
                for v in vals:
                    for i, x in v.items():
                        out[i] = out.get(i, 0) + x
                return out
            return sum(vals)
        if isinstance(e, Ext):
            return vec(ev(e.arg))
        if isinstance(e, Inner):
            a, b = ev(e.left), ev(e.right)
            if isinstance(a, _Dense):
                return sum(p * q for r1, r2 in zip(a.rows, b.rows) for p, q in zip(r1, r2))
            if not isinstance(a, dict):
                return a * b
            return sum(x * b.get(i, 0) for i, x in a.items())
        if isinstance(e, SeqOp):
            a, b = vec(ev(e.left)), vec(ev(e.right))
            out = {}
            for p, x in a.items():
                for q, y in b.items():
                    i = p + q if isinstance(e, Conv) else p - q
                    out[i] = out.get(i, 0) + x * y
            if e.mode is None:
                return out
            o, L = e.window()
            o, L = int(sympy.sympify(o).subs(params)), length(L)
            return {i: out.get(o + i, 0) for i in range(L)}
        if isinstance(e, Shift):
            s = vec(ev(e.arg))
            d = int(sympy.sympify(e.by).subs(params))
            return {i + d: x for i, x in s.items()}
        if isinstance(e, Window):
            s = vec(ev(e.arg))
            o, L = int(sympy.sympify(e.offset).subs(params)), length(e.length)
            return {i: s.get(o + i, 0) for i in range(L)}
        if isinstance(e, Hadamard):
            a, b = ev(e.left), ev(e.right)
            if isinstance(a, dict):
                return {i: x * b.get(i, 0) for i, x in a.items()}
            if isinstance(a, _Dense):
                return _Dense([[p * q for p, q in zip(r1, r2)] for r1, r2 in zip(a.rows, b.rows)])
            return a * b
        if isinstance(e, (MatMul, Transpose, Trace)):
            # finite vectors and scalars in the matrix language: evaluate densely
            vals = [dense(ev(c), c.shape) for c in e.children]
            if isinstance(e, Transpose):
                out = [list(col) for col in zip(*vals[0])]
            elif isinstance(e, Trace):
                out = [[sum(vals[0][i][i] for i in range(len(vals[0])))]]
            else:
                out = vals[0]
                for m in vals[1:]:
                    out = _dense_product(out, m)
            return undense(out, e.shape)
        raise NotInFragment(f"cannot evaluate {type(e).__name__}")

    def dense(v, shape):
        if isinstance(v, _Dense):
            return v.rows
        if not isinstance(v, dict):
            return [[v]]
        L = length(shape[0])
        if L is None:
            raise NotInFragment("a sequence on ℤ inside a matrix product")
        return [[v.get(i, 0)] for i in range(L)]

    def undense(m, shape):
        if len(m) == 1 and len(m[0]) == 1 and shape[0] == 1:
            return m[0][0]
        if shape[1] == 1:
            return {i: row[0] for i, row in enumerate(m)}
        return _Dense(m)

    return ev(e)


@dataclass
class _Dense:
    """A matrix value (neither a scalar nor a column) met while evaluating finite vectors."""

    rows: list


def _dense_product(a: list, b: list) -> list:
    """Matrix product in which a 1 x 1 factor that does not chain acts as a scalar."""
    if len(a[0]) != len(b):
        if len(a) == 1 and len(a[0]) == 1:
            return [[a[0][0] * v for v in row] for row in b]
        return [[v * b[0][0] for v in row] for row in a]
    bt = list(zip(*b))
    return [[sum(p * q for p, q in zip(row, col)) for col in bt] for row in a]


def clean(v):
    """A value with its zero entries dropped (sequences are compared by their nonzero entries)."""
    if isinstance(v, dict):
        return {i: x for i, x in v.items() if x != 0}
    return v


def find_seq_counterexample(lhs: Expr, rhs: Expr, domains: list[Domain], deadline: Meter, seed: int = 0):
    """A counterexample at small lengths: the candidate comes from the untrusted search
    (:mod:`symderiv.search`) and counts only after both sides are re-evaluated exactly here."""
    found = refute.current().find_seq_candidate(lhs, rhs, domains, deadline, seed)
    if found is None:
        return None
    params, env = found
    symbols = {s.name: s for s in lhs.symbols() + rhs.symbols()}
    a, b = seq_evaluate(lhs, env, params), seq_evaluate(rhs, env, params)
    if clean(a) == clean(b):
        return None
    sizes = {str(k): v for k, v in params.items()}
    return Counterexample(sizes, {k: _as_listing(v, symbols[k]) for k, v in env.items()},
                          _as_listing(a), _as_listing(b))


def _as_listing(v, sym: Sym | None = None):
    """Finite vectors as 1-column matrices; sequences on ℤ as {index: value} of the nonzero entries."""
    if isinstance(v, _Dense):
        return v.rows
    if not isinstance(v, dict):
        return [[v]]
    if sym is not None and sym.shape[0] is not INF:
        return [[v.get(i, 0)] for i in range(len(v))]
    if sym is None and v and min(v) >= 0 and all(i in v for i in range(max(v) + 1)):
        return [[v[i]] for i in range(max(v) + 1)]
    return {str(i): x for i, x in sorted(v.items()) if x != 0}


# ---------------------------------------------------------------------------------------
# The decision
# ---------------------------------------------------------------------------------------
def decide_sequence(lterms, rterms, leval: Expr, reval: Expr, deadline: Meter, what: str) -> Decision:
    """The sequence procedure (z-transform sign classes, Theorem 2) for Σ lterms = Σ rterms."""
    pl, pr = leval, reval
    try:
        pl, pr = pair_with_probe(leval, reval)
        lt = [(c, _pair(m, pl, leval)) for c, m in lterms]
        rt = [(c, _pair(m, pr, reval)) for c, m in rterms]
        domains = domains_for([pl], also=[pr])
        empty = [d for d in domains if not _has_small_point(d)]
        if empty:
            # a proof over an empty set of lengths would be vacuous, and a "failure" meaningless
            return Decision(UNDECIDED, (
                f"undecided: no lengths up to {_SMALL} satisfy the requirements of the left side "
                f"({empty[0].describe()}), so there is nothing to prove"
            ), ["empty-domain"], {}, [], None, "the lengths admit no small value; check the declared lengths and modes")
        for dom in domains:
            for req in requirements([pr]):
                if not nonneg_on(req, dom):
                    from symderiv.lang.printing import linear_text

                    # the right side is undefined somewhere the left side is claimed: exhibit where
                    point = _small_point(dom, extra=dom.apply(req))
                    if point is None:
                        return Decision(UNDECIDED, "undecided: domain check", ["domain-check"], {}, [], None, (
                            f"the right side needs {linear_text(req)} ≥ 0, which is not proved for all lengths "
                            f"allowed by the left side ({dom.describe()}), and no small lengths violate it"
                        ))
                    where = ", ".join(f"{k}={v}" for k, v in point.items())
                    return Decision(FAILED, "domain check", ["domain-check"], {}, [], None, (
                        f"the right side needs {linear_text(req)} ≥ 0, which fails at {where}, lengths allowed "
                        f"by the left side ({dom.describe()}), where the right side is undefined"
                    ))
        def classify(terms):
            diffs, zeros, aligned = [], [], False
            for dom in domains:
                classes = class_sums(terms, dom, zeros)
                aligned = aligned or any(k[1] == "aligned" for k in classes)
                nz = [Term(c, m) for c, m in classes.values() if c != 0]
                if nz:
                    diffs.append((dom, nz))
            return diffs, zeros, aligned

        all_terms = lt + [(-c, m) for c, m in rt]
        identical = False
        try:
            diffs, zeros, aligned = classify(all_terms)
        except NotInFragment:
            # Monomials that are literally the same on both sides cancel exactly, whatever they
            # are; only the rest must lie in the fragment that the sign classes decide.
            combined: dict = {}
            for c, m in all_terms:
                combined.setdefault(m.key(), [Fraction(0), m])[0] += c
            rest = [(c, m) for c, m in combined.values() if c != 0]
            identical = not rest
            diffs, zeros, aligned = classify(rest)  # outside the fragment again: handled below
    except NotInFragment as exc:
        cex = _safe_counterexample(leval, reval, domains_for_safe([pl, pr]), deadline)
        if cex is not None:
            return Decision(FAILED, (f"refuted by exact evaluation at {_fmt(cex.sizes)} ({exc}, so no proof was attempted)"),\
                ["exact-integer-evaluation"], {}, [], cex, "")
        return Decision(UNDECIDED, f"undecided: {exc}", ["outside-fragment"], {}, [], None, (
            f"outside the decided fragment ({exc}); no counterexample was found at small lengths"
        ))
    scope = "; ".join(d.describe() for d in domains)
    if identical:
        return Decision(VERIFIED, (
            f"proved for {scope}: {what} expand to the same monomials, term by term"
        ), ["identical-monomials"], {}, [], None, "")
    if not diffs:
        return Decision(VERIFIED, (
            f"proved for {scope}: {what} have the same z-transform sign classes (Theorem 2)"
            + (", after removing each restriction by a support containment proved on the whole domain" if _has_windows(pl, pr) else "")
            + ("; inner products of entrywise products Σ_i Π_f V_f[i] are compared by their multisets of "
               "variables (equal multisets are the same sum)" if aligned else "")
            + (f"; {len({m.key() for m in zeros})} monomial(s) vanish because the supports they pair or "
               "restrict are disjoint on the whole domain" if zeros else "")
        ), ["sign-classes"] + (["disjoint-supports"] if zeros else []), {}, [], None, "")
    dom, nz = diffs[0]
    cex = _safe_counterexample(leval, reval, domains, deadline)
    if cex is None and not theorem2_refutes(pl, pr):
        # Theorem 2 makes unequal classes a refutation only for sequences with unconstrained
        # finite supports and constant shifts. A finite vector has its support fixed inside
        # [0, n), so different classes can still give equal values (⟨E x, τ_n E y⟩ = 0).
        return Decision(UNDECIDED, (
            f"undecided: the z-transform sign classes differ ({dom.describe()}), but with finite "
            "vectors, restrictions or shifts by a length this does not prove the sides unequal "
            "(Theorem 2 needs unconstrained supports), and no counterexample was found at small lengths"
        ), ["sign-classes", "no-counterexample"], {}, nz, None, "")
    if cex is not None:
        method = f"refuted: exact evaluation at {_fmt(cex.sizes)} gives different values"
        method += f"; the z-transform sign classes differ too ({dom.describe()})"
    else:
        method = (f"refuted for all finitely supported sequences: the z-transform sign classes differ "
                  f"({dom.describe()}; Theorem 2); no small counterexample was found within the budget")
    note = f"for {dom.describe()}" if dom.params else ""
    return Decision(FAILED, method, (["exact-integer-evaluation"] if cex else []) + ["sign-classes"], {}, nz, cex, note)


_SMALL = 12


def _has_small_point(dom: Domain) -> bool:
    """Does some integer point with every parameter in [0, _SMALL] satisfy the constraints?"""
    try:
        return _small_point(dom) is not None
    except NotInFragment:
        return True  # not linear: make no claim


def _small_point(dom: Domain, extra=None) -> dict | None:
    """The first integer point of the domain with parameters in [0, _SMALL] (where also the linear
    form ``extra`` is negative, if given), in the original length symbols; None if there is none."""
    from itertools import product as cart

    cons = dom.constraint_coeffs()
    params = list(dom.params)
    bad = _coeffs(extra, params) if extra is not None else None
    for point in cart(range(_SMALL + 1), repeat=len(params)):
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


def theorem2_refutes(*exprs: Expr) -> bool:
    """Does Theorem 2 turn unequal sign classes into a proof of inequality for these expressions?

    Only when every symbol is a sequence on ℤ with unconstrained finite support, nothing is
    restricted to a window, and every shift is a constant: then each class is a distinct
    Laurent monomial of the z-transforms and different coefficient sums give different values
    for suitable sequences.
    """
    for e in exprs:
        for node in e.walk():
            if isinstance(node, Sym) and node.shape[0] is not INF:
                return False
            if isinstance(node, (Ext, Window, Hadamard)) or (isinstance(node, SeqOp) and node.mode is not None):
                return False
            if isinstance(node, Shift) and sympy.sympify(node.by).free_symbols:
                return False
    return True


def _safe_counterexample(lhs: Expr, rhs: Expr, domains: list, deadline: Meter):
    """A checked counterexample, or None when none is found or the expressions cannot be
    evaluated at concrete lengths (never an exception: the search only ever refutes)."""
    try:
        return find_seq_counterexample(lhs, rhs, domains, deadline)
    except (NotInFragment, BudgetExceeded, ZeroDivisionError, KeyError, IndexError, TypeError, ValueError):
        return None


def domains_for_safe(exprs):
    try:
        return domains_for(exprs)
    except NotInFragment:
        return [Domain((), [], {}, "")]


def _pair(m: Expr, paired: Expr, original: Expr) -> Expr:
    if paired is original:
        return m
    return Inner(paired.left, m)


def _has_windows(*exprs) -> bool:
    return any(isinstance(n, Window) or (isinstance(n, SeqOp) and n.mode) for e in exprs for n in e.walk())


def _fmt(sizes: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items()) if sizes else "small supports"


# ---------------------------------------------------------------------------------------
# Index notation: Σ_i A_i (B ⊙ C)_i, Σ_i Σ_j A_i B_{i+j} C_j, ...
# ---------------------------------------------------------------------------------------
def _affine_index(t) -> dict:
    a = affine(t)
    if a is None:
        raise NotInFragment("an index must be an integer combination of index variables, such as i+j")
    return a


def index_terms(v, fresh=None) -> list:
    """Flatten index notation into (coef, sums, factors) with factors (symbol name, affine index)."""
    fresh = fresh if fresh is not None else [0]
    if isinstance(v, IndexSum):
        return [(c * c2, s, f) for c, item in v.terms for c2, s, f in index_terms(item, fresh)]
    if not isinstance(v, IndexNotation):
        raise NotInFragment("not index notation")
    partial = [(v.coef, list(v.sums), [])]
    for base, idx in v.factors:
        if base == "nested":
            inner = index_terms(idx, fresh)
            partial = [(c * c2, s + s2, f + f2) for c, s, f in partial for c2, s2, f2 in inner]
            continue
        aff = _affine_index(idx)
        if isinstance(base, Sym):
            new = [(base.name, aff)]
            extra_sums = []
        elif isinstance(base, (Corr, Conv)) and base.mode is None and isinstance(base.left, Sym) and isinstance(base.right, Sym):
            fresh[0] += 1
            u = f"_u{fresh[0]}"
            sign = 1 if isinstance(base, Corr) else -1
            left = dict(aff)
            left[u] = left.get(u, 0) + sign
            new = [(base.left.name, left), (base.right.name, {u: 1})]
            extra_sums = [u]
        else:
            raise NotInFragment("index notation over this expression is not supported")
        partial = [(c, s + extra_sums, f + new) for c, s, f in partial]
    return partial


def index_mono(sums: list, factors: list) -> Mono:
    """Σ over ``sums`` of Π_f V_f[a_f·t + b_f] as CT[z^s Π V_f(z^{n_f})] (see module docs)."""
    if len(set(sums)) != len(sums):
        dup = next(x for x in sums if sums.count(x) > 1)
        raise IllFormed(f"the index {dup} is summed twice")
    used = {k for _, a in factors for k in a if k != 1}
    free = sorted(used - set(sums), key=str)
    if free:
        raise IllFormed(f"the index {', '.join(free)} is not bound by any sum (Σ over "
                        + (", ".join(s for s in sums if not s.startswith('_')) or "nothing") + ")")
    idle = [s for s in sums if s not in used]
    if idle:
        raise IllFormed(f"the sum over {idle[0]} has nothing that depends on {idle[0]}")
    names = [n for n, _ in factors]
    if len(set(names)) != len(names):
        raise NotInFragment("a sequence occurs twice in one term")
    m, r = len(factors), len(sums)
    if r != m - 1:
        raise NotInFragment("the sum is not a single constant term (index count)")
    A = sympy.Matrix([[a.get(s, 0) for s in sums] for _, a in factors])
    b = [a.get(1, 0) for _, a in factors]
    normal = []
    for f in range(m):
        minor = A.copy()
        minor.row_del(f)
        normal.append((-1) ** f * (minor.det() if r else 1))
    if any(abs(x) != 1 for x in normal):
        raise NotInFragment("the index map is not unimodular")
    c = sum(nf * bf for nf, bf in zip(normal, b))
    return Mono(sympy.Integer(-c), tuple(sorted((n, int(s)) for n, s in zip(names, normal))), None)


def index_value(v, env: dict, reach: int = 8):
    """Exact value of index notation on finitely supported sequences (summing over a box that
    contains every index where the sequences can be nonzero)."""
    from itertools import product as cart

    total = 0
    for coef, sums, factors in index_terms(v):
        for t in cart(range(-reach, reach + 1), repeat=len(sums)):
            point = dict(zip(sums, t))
            term = coef
            for name, aff in factors:
                i = aff.get(1, 0) + sum(c * point[k] for k, c in aff.items() if k != 1)
                term *= env[name].get(i, 0)
                if term == 0:
                    break
            total += term
    return total


def decide_index(a, b, budget: Budget = DEFAULT_BUDGET):
    """Verdict for an equation with index notation on one or both sides (sequences on ℤ)."""
    from symderiv.kernel.expand import expand
    dom = Domain((), [], {}, "all finitely supported sequences")

    def monos(v, sign):
        if isinstance(v, (IndexNotation, IndexSum)):
            return [(sign * c, index_mono(s, f)) for c, s, f in index_terms(v)]
        if not v.is_scalar:
            raise NotInFragment("index notation is compared with scalar expressions only")
        out = [(sign * c, scalar_monomial(m, dom)) for c, m in expand(v, budget.max_terms)]
        return [(c, m) for c, m in out if m is not None]

    try:
        left = monos(a, 1)
    except IllFormed as exc:
        return decided(UNDECIDED, "not compared", reason=f"the previous expression is not well formed ({exc})",
                       methods=["index-notation", "previous-ill-formed"])
    except NotInFragment as exc:
        return decided(UNDECIDED, f"undecided: {exc}", reason=f"index notation outside the checked fragment: {exc}",
                       methods=["index-notation"])
    try:
        terms = left + monos(b, -1)
    except IllFormed as exc:
        return decided(FAILED, "reading the index notation", reason=str(exc), methods=["index-notation"])
    except NotInFragment as exc:
        return decided(UNDECIDED, f"undecided: {exc}", reason=f"index notation outside the checked fragment: {exc}",
                       methods=["index-notation"])
    classes: dict = {}
    for c, m in terms:
        k = class_key(m)
        classes[k] = classes.get(k, 0) + c
    if all(v == 0 for v in classes.values()):
        return decided(VERIFIED, "proved for all finitely supported sequences: the index sums were translated into "
                       "z-transform sign classes (each sum is a constant term over a hyperplane of indices) and "
                       "both sides have the same classes (Theorem 2)", methods=["index-notation", "sign-classes"])
    unconstrained = _all_sequences_on_Z(a) and _all_sequences_on_Z(b)
    cex = _index_counterexample(a, b, Meter(budget)) if unconstrained else None
    if cex is None and not unconstrained:
        # finite vectors have fixed supports: unequal classes do not refute (see theorem2_refutes)
        return decided(UNDECIDED, "undecided: the z-transform sign classes of the two sides differ, but the "
                       "expressions involve finite vectors, restrictions or shifts by a length, where that is no "
                       "proof of inequality (Theorem 2 needs unconstrained supports)",
                       reason="no proof and no checked counterexample", methods=["index-notation", "sign-classes"])
    return decided(FAILED, "refuted: the z-transform sign classes of the two sides differ (Theorem 2)"
                   + ("; exact evaluation on small sequences gives different values" if cex else ""),
                   reason="the two sides are different sums", counterexample=cex, methods=["index-notation", "sign-classes"])


def _all_sequences_on_Z(v) -> bool:
    """True when every symbol of an expression or index notation is an unconstrained sequence
    on ℤ (conservatively False for anything not recognised)."""
    if isinstance(v, Expr):
        return theorem2_refutes(v)
    if isinstance(v, IndexSum):
        return all(_all_sequences_on_Z(item) for _, item in v.terms)
    if isinstance(v, IndexNotation):
        for base, idx in v.factors:
            if base == "nested":
                if not _all_sequences_on_Z(idx):
                    return False
            elif not (isinstance(base, Expr) and theorem2_refutes(base)):
                return False
        return True
    return False


def index_value_of(v, env):
    """The exact value of index notation or a sequence expression with entries ``env``."""
    if isinstance(v, (IndexNotation, IndexSum)):
        return index_value(v, env)
    return seq_evaluate(v, env, {})


def _index_counterexample(a, b, deadline: Meter):
    """Entries from the untrusted search at which the two sides differ, re-evaluated exactly here."""
    env = refute.current().find_index_candidate(a, b, deadline)
    if env is None:
        return None
    x, y = index_value_of(a, env), index_value_of(b, env)
    if x == y:
        return None
    return Counterexample({}, {k: {str(i): w for i, w in v.items() if w} for k, v in env.items()}, [[x]], [[y]])

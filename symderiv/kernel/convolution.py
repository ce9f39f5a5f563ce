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

The parameter domains and the inequalities proved on them are in :mod:`symderiv.kernel.domains`,
the exact evaluator that re-checks counterexamples in :mod:`symderiv.kernel.seqeval`.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, TypeAlias

import sympy

from symderiv.errors import BudgetExceeded, IllFormed, NotInFragment
from symderiv.kernel import refute
from symderiv.kernel.budget import DEFAULT_BUDGET, Budget, Meter
from symderiv.kernel.domains import (
    SMALL, Domain, Lin, domains_for, domains_or_unconstrained, has_small_point, nonneg_on, requirements, small_point,
)
from symderiv.kernel.expand import Terms, expand
from symderiv.kernel.nodetable import NodeTable
from symderiv.kernel.seqeval import Affine, IndexValue, index_terms
from symderiv.kernel.verdict import FAILED, UNDECIDED, VERIFIED, Decision, Term, Verdict, decided
from symderiv.lang.index import IndexNotation, IndexSum
from symderiv.lang.operators import (
    INF, Add, Conv, Det, Inv, LogDet, Diag, DiagV, DimScalar, Expr, Ext, Fn, Softmax, Hadamard, Identity, Inner, MatMul, Ones, Scale, SeqOp,
    Shift, Sym, Trace, Transpose, Window, Zero,
)

# ---------------------------------------------------------------------------------------
# Monomials in the z-domain
# ---------------------------------------------------------------------------------------
#: The sign profile of a monomial: sorted (variable, ±1) pairs, z^{+1} or z^{-1} per occurrence.
Signs = tuple[tuple[str, int], ...]
#: [lo, hi): an index range, as linear forms in the lengths.
Support = tuple[Lin, Lin]


@dataclass(frozen=True)
class Mono:
    """CT[z^shift Π_v V_v(z^{±1})]: the constant term of one Laurent monomial of z-transforms."""

    shift: Lin
    signs: Signs  # sorted ((name, ±1), ...)
    supp: Support | None  # (lo, hi): support within [lo, hi), or None if unbounded


@dataclass(frozen=True)
class Pending:
    """R_{[offset, offset+length)} of a monomial whose support could not be proved inside or
    outside the window: it can still be removed inside an inner product (by adjointness)."""

    inner: Mono
    offset: Lin
    length: Lin


def _flip(signs: Signs) -> Signs:
    return tuple(sorted((v, -s) for v, s in signs))


def _union(a: Signs, b: Signs) -> Signs:
    return tuple(sorted(a + b))


class _Zero:
    """A monomial proved to vanish: a restriction or pairing of disjoint supports."""

    def __repr__(self) -> str:
        return "ZERO"


ZERO = _Zero()


def _disjoint(a: Support, b: Support, dom: Domain) -> bool:
    """Are the index ranges [a0, a1) and [b0, b1) disjoint for every point of the domain?"""
    return nonneg_on(b[0] - a[1], dom) or nonneg_on(a[0] - b[1], dom)


#: What the z-transform of a sequence expression is: a monomial, a pending restriction, or zero.
Transformed: TypeAlias = Mono | Pending | _Zero


# One table for the pass (tests/test_node_passes.py checks that every node class has a rule).
def _transform_unknown(e: Expr, dom: Domain) -> Transformed:
    raise TypeError(type(e))


_transform: NodeTable[Transformed] = NodeTable("z-transform", _transform_unknown)


@_transform.register(Add, Scale, MatMul, Transpose, Trace, Inner, Hadamard, Zero)
@_transform.register(Ones, Identity, Diag, DiagV, DimScalar, Fn, Softmax, Inv, Det, LogDet)
def _transform_refused(e: Expr, dom: Domain) -> Transformed:
    """Sums, scalings and the matrix language are expanded away before this pass; an entrywise
    product or function inside a correlation, and the matrix constants, have no single monomial."""
    raise NotInFragment(f"{type(e).__name__} is not part of the correlation/convolution language")


@_transform.register(Sym)
def _transform_sym(e: Sym, dom: Domain) -> Transformed:
    L = e.shape[0]
    supp = None if L is INF else (sympy.Integer(0), dom.apply(L))
    return Mono(sympy.Integer(0), ((e.name, 1),), supp)


@_transform.register(Ext)
def _transform_ext(e: Ext, dom: Domain) -> Transformed:
    return _transform(e.arg, dom)


@_transform.register(SeqOp)
def _transform_seqop(e: SeqOp, dom: Domain) -> Transformed:
    """conv: X(z) W(z), support [a0 + b0, a1 + b1 − 1); corr: X(z) W(z⁻¹), support [a0 − b1 + 1, a1 − b0)."""
    a, b = _transform(e.left, dom), _transform(e.right, dom)
    if isinstance(a, _Zero) or isinstance(b, _Zero):
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


@_transform.register(Shift)
def _transform_shift(e: Shift, dom: Domain) -> Transformed:
    inner = _transform(e.arg, dom)
    if isinstance(inner, _Zero):
        return ZERO
    if isinstance(inner, Pending):
        raise NotInFragment("a shift of a restriction")
    d = dom.apply(e.by)
    return Mono(inner.shift + d, inner.signs, (inner.supp[0] + d, inner.supp[1] + d) if inner.supp else None)


@_transform.register(Window)
def _transform_window(e: Window, dom: Domain) -> Transformed:
    inner = _transform(e.arg, dom)
    if isinstance(inner, _Zero):
        return ZERO
    if isinstance(inner, Pending):
        raise NotInFragment("nested restrictions")
    return _window(inner, dom.apply(e.offset), dom.apply(e.length), dom)


def _window(m: Mono, o: Lin, L: Lin, dom: Domain) -> Transformed:
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


def scalar_monomial(m: Expr, dom: Domain) -> Mono | AlignedMono | None:
    """CT-form of a scalar monomial ⟨a, b⟩, removing a top-level window by adjointness;
    None when the monomial is proved to be 0 (disjoint supports on the whole domain)."""
    m = as_inner(m)
    if not isinstance(m, Inner):
        raise NotInFragment("a scalar monomial must be an inner product")
    aligned = _aligned_monomial(m)
    if aligned is not None:
        return aligned
    a, b = _transform(m.left, dom), _transform(m.right, dom)
    if isinstance(a, _Zero) or isinstance(b, _Zero):
        return None
    if isinstance(a, Mono) and isinstance(b, Mono) and a.supp and b.supp and _disjoint(a.supp, b.supp, dom):
        return None
    if isinstance(a, Pending) and isinstance(b, Mono):
        a = _move_restriction(a, b, dom)
    elif isinstance(b, Pending) and isinstance(a, Mono):
        a, b = _move_restriction(b, a, dom), a
    elif isinstance(a, Pending) or isinstance(b, Pending):
        raise NotInFragment("restrictions on both sides of an inner product")
    return Mono(a.shift - b.shift, _union(a.signs, _flip(b.signs)), None)


def _move_restriction(a: Pending, b: Mono, dom: Domain) -> Mono:
    """⟨R s, b⟩ = ⟨S_o s, b⟩ when supp b ⊆ [0, L): the restriction becomes a shift."""
    if b.supp is None or not (nonneg_on(b.supp[0], dom) and nonneg_on(a.length - b.supp[1], dom)):
        raise NotInFragment("a restriction that cannot be moved: the other factor's support is not inside it")
    return _unshift(a)


@dataclass(frozen=True)
class AlignedMono:
    """Σ_i Π_f V_f[i]: an inner product of entrywise products of plain sequences, all read at
    the same index. Equal multisets of variables give literally the same sum."""

    names: tuple[str, ...]


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


#: A sign class: the profile ((variable, #z, #z⁻¹), ...) and the shift's srepr, or an aligned multiset.
ClassKey = tuple[tuple[Any, ...], str]


def class_key(m: Mono | AlignedMono) -> ClassKey:
    """The sign profile and shift, up to the global flip z ↦ z⁻¹ (or the variable multiset of an
    aligned entrywise product)."""
    if isinstance(m, AlignedMono):
        return (("⊙",) + m.names, "aligned")
    prof: dict[str, list[int]] = {}
    for v, s in m.signs:
        prof.setdefault(v, [0, 0])[0 if s > 0 else 1] += 1
    k1: ClassKey = (tuple(sorted((v, p, q) for v, (p, q) in prof.items())), str(sympy.srepr(sympy.expand(m.shift))))
    k2: ClassKey = (tuple(sorted((v, q, p) for v, (p, q) in prof.items())), str(sympy.srepr(sympy.expand(-m.shift))))
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


#: Per sign class: [coefficient sum, a monomial of the class].
ClassSums = dict[ClassKey, list[Any]]


def class_sums(terms: Terms, dom: Domain, zeros: list[Expr] | None = None) -> ClassSums:
    """Coefficient sums per sign class; monomials proved zero are left out (and listed in ``zeros``)."""
    classes: ClassSums = {}
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
# The decision
# ---------------------------------------------------------------------------------------
def decide_sequence(lterms: Terms, rterms: Terms, leval: Expr, reval: Expr, deadline: Meter, what: str) -> Decision:
    """The sequence procedure (z-transform sign classes, Theorem 2) for Σ lterms = Σ rterms."""
    pl, pr = leval, reval
    try:
        pl, pr = pair_with_probe(leval, reval)
        lt = [(c, _pair(m, pl, leval)) for c, m in lterms]
        rt = [(c, _pair(m, pr, reval)) for c, m in rterms]
        domains = domains_for([pl], also=[pr])
        empty = [d for d in domains if not has_small_point(d)]
        if empty:
            # a proof over an empty set of lengths would be vacuous, and a "failure" meaningless
            return Decision(UNDECIDED, (
                f"undecided: no lengths up to {SMALL} satisfy the requirements of the left side "
                f"({empty[0].describe()}), so there is nothing to prove"
            ), ["empty-domain"], {}, [], None, "the lengths admit no small value; check the declared lengths and modes")
        for dom in domains:
            for req in requirements([pr]):
                if not nonneg_on(req, dom):
                    from symderiv.lang.printing import linear_text

                    # the right side is undefined somewhere the left side is claimed: exhibit where
                    point = small_point(dom, extra=dom.apply(req))
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

        def classify(terms: Terms) -> tuple[list[tuple[Domain, list[Term]]], list[Expr], bool]:
            diffs: list[tuple[Domain, list[Term]]] = []
            zeros: list[Expr] = []
            aligned = False
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
            combined: dict[tuple[Any, ...], list[Any]] = {}
            for c, m in all_terms:
                combined.setdefault(m.key(), [Fraction(0), m])[0] += c
            rest: Terms = [(c, m) for c, m in combined.values() if c != 0]
            identical = not rest
            diffs, zeros, aligned = classify(rest)  # outside the fragment again: handled below
    except NotInFragment as exc:
        cex = refute.sequence_counterexample(leval, reval, domains_or_unconstrained([pl, pr]), deadline)
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
    cex = refute.sequence_counterexample(leval, reval, domains, deadline)
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


def _pair(m: Expr, paired: Expr, original: Expr) -> Expr:
    """A monomial of ``original`` paired with the probe D, as ``paired`` = ⟨D, original⟩ is."""
    if paired is original or not isinstance(paired, Inner):
        return m
    return Inner(paired.left, m)


def _has_windows(*exprs: Expr) -> bool:
    return any(isinstance(n, Window) or (isinstance(n, SeqOp) and n.mode) for e in exprs for n in e.walk())


def _fmt(sizes: dict[str, int]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sizes.items()) if sizes else "small supports"


# ---------------------------------------------------------------------------------------
# Index notation: Σ_i A_i (B ⊙ C)_i, Σ_i Σ_j A_i B_{i+j} C_j, ...
# ---------------------------------------------------------------------------------------
def index_mono(sums: list[str], factors: list[tuple[str, Affine]]) -> Mono:
    """Σ over ``sums`` of Π_f V_f[a_f·t + b_f] as CT[z^s Π V_f(z^{n_f})] (see module docs)."""
    if len(set(sums)) != len(sums):
        dup = next(x for x in sums if sums.count(x) > 1)
        raise IllFormed(f"the index {dup} is summed twice")
    used = {k for _, a in factors for k in a if isinstance(k, str)}  # the keys: index variables and 1
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


def decide_index(a: IndexValue, b: IndexValue, budget: Budget = DEFAULT_BUDGET) -> Verdict:
    """Verdict for an equation with index notation on one or both sides (sequences on ℤ)."""
    try:
        return _decide_index(a, b, budget)
    except BudgetExceeded as exc:
        return decided(UNDECIDED, f"undecided: {exc}", reason="the index-notation check ran out of budget",
                       methods=["index-notation", "budget"])


def _decide_index(a: IndexValue, b: IndexValue, budget: Budget) -> Verdict:
    dom = Domain((), [], {}, "all finitely supported sequences")

    def monos(v: IndexValue, sign: int) -> list[tuple[Any, Mono | AlignedMono]]:
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
    classes: dict[ClassKey, Any] = {}
    for c, m in terms:
        k = class_key(m)
        classes[k] = classes.get(k, 0) + c
    if all(v == 0 for v in classes.values()):
        return decided(VERIFIED, "proved for all finitely supported sequences: the index sums were translated into "
                       "z-transform sign classes (each sum is a constant term over a hyperplane of indices) and "
                       "both sides have the same classes (Theorem 2)", methods=["index-notation", "sign-classes"])
    unconstrained = _all_sequences_on_Z(a) and _all_sequences_on_Z(b)
    cex = refute.index_counterexample(a, b, Meter(budget)) if unconstrained else None
    if cex is None and not unconstrained:
        # finite vectors have fixed supports: unequal classes do not refute (see theorem2_refutes)
        return decided(UNDECIDED, "undecided: the z-transform sign classes of the two sides differ, but the "
                       "expressions involve finite vectors, restrictions or shifts by a length, where that is no "
                       "proof of inequality (Theorem 2 needs unconstrained supports)",
                       reason="no proof and no checked counterexample", methods=["index-notation", "sign-classes"])
    return decided(FAILED, "refuted: the z-transform sign classes of the two sides differ (Theorem 2)"
                   + ("; exact evaluation on small sequences gives different values" if cex else ""),
                   reason="the two sides are different sums", counterexample=cex, methods=["index-notation", "sign-classes"])


def _all_sequences_on_Z(v: object) -> bool:
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



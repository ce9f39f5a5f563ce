"""Index graphs: the finite combinatorial object behind every monomial, and its canonical form.

A monomial's value is a sum over index assignments (see ``docs/verification.md``). Its
*index graph* has

* one vertex per index variable, typed by its dimension (``n``, ``m``, or a literal like ``3``);
  every index of size 1 is the single constant vertex •;
* one directed edge ``u -> v`` labelled ``S`` per factor ``S[u, v]``;
* two marked vertices: the free row index r and the free column index c (• for size 1).

Compilation is structural: a product identifies the inner indices, a transpose swaps r and c,
a trace identifies r with c, ⟨X, Y⟩ identifies the rows and the columns of X and Y, the
entrywise product identifies both.

Theorem 1 of the design note: a sum Σ c_t T_t of such graphs vanishes for all sizes iff the
coefficients of every isomorphism class sum to zero, iff it vanishes at one size with
N_d ≥ B_d = max_t #{vertices of type d in T_t}. :func:`canonical_form` decides the isomorphism
class exactly (hashes are never trusted), and :func:`vertex_counts` gives B.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import sympy

from symderiv.errors import BudgetExceeded
from symderiv.kernel import coefficients
from symderiv.kernel.budget import DEFAULT_BUDGET
from symderiv.kernel.nodetable import NodeTable
from symderiv.kernel.unionfind import UnionFind
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
    is_scalar_shape,
)

DOT = 0  # the constant vertex •


@dataclass(frozen=True)
class IndexGraph:
    """One monomial as a typed, labelled directed multigraph with free row/column vertices."""

    types: tuple[str, ...]  # types[v] for v > 0; types[0] == "1" is •
    edges: tuple[tuple[str, int, int], ...]
    row: int
    col: int
    #: The value of the parts with no edge (part A): N_d per isolated summed vertex of type d,
    #: times the dimension coefficients (1/n, …). 1 for the graphs of the linear language.
    factor: Any = 1

    def vertex_counts(self) -> dict[str, int]:
        """Vertices per type, without isolated summed vertices (their value is in ``factor``)."""
        touched = {u for _, u, v in self.edges for u in (u, v)} | {self.row, self.col}
        counts: dict[str, int] = {}
        for v, t in enumerate(self.types):
            if v and v in touched:
                counts[t] = counts.get(t, 0) + 1
        return counts


class _Builder:
    def __init__(self) -> None:
        self.types: list[str] = ["1"]
        self.dims: list[Any] = [sympy.Integer(1)]
        self.uf = UnionFind(1)  # vertex 0 is the constant vertex •
        self.edges: list[tuple[str, int, int]] = []
        self.factor: Any = sympy.Integer(1)
        #: edge label of X⁻¹ -> label of X, for the symbols whose inverse occurs (free cancellation)
        self.inverses: dict[str, str] = {}

    def new(self, dim: object) -> int:
        if dim == 1:
            return DOT
        self.types.append(str(dim))
        self.dims.append(dim)
        return self.uf.add()

    def find(self, v: int) -> int:
        return self.uf.find(v)

    def union(self, a: int, b: int) -> None:
        a, b = self.find(a), self.find(b)
        if a == b:
            return
        if self.types[a] != self.types[b]:  # shapes were checked when the tree was built
            raise AssertionError(f"identifying indices of types {self.types[a]} and {self.types[b]}")
        if b == DOT:
            a, b = b, a
        self.uf.merge_into(b, a)  # • stays the representative: it has the fixed value 1

    def build(self, e: Expr) -> tuple[int, int]:
        """The (row, column) vertices of ``e``'s value, adding its vertices and edges."""
        return _build(e, self)


def _build_unknown(e: Expr, b: _Builder) -> tuple[int, int]:
    raise TypeError(f"not a monomial: {type(e).__name__}")


# One table for the pass: one compilation rule per node class (tests/test_node_passes.py checks that
# every node class of the language has one, an explicit refusal included).
_build: NodeTable[tuple[int, int]] = NodeTable("index-graph", _build_unknown)


@_build.register(Sym)
def _build_sym(e: Sym, b: _Builder) -> tuple[int, int]:
    u, v = b.new(e.shape[0]), b.new(e.shape[1])
    b.edges.append((e.name, u, v))
    if e.kind == "inverse":
        b.inverses[e.name] = inverse_base(e.name)
    return u, v


def inverse_label(base: str) -> str:
    """The edge label of X⁻¹ for a symbol X (⟨ cannot occur in a user's name, so it clashes with none)."""
    return "⟨" + base + "⁻¹⟩"


def inverse_base(label: str) -> str:
    return label[1:-len("⁻¹⟩")]


def _cancel_inverses(b: _Builder, row: int, col: int) -> set[int]:
    """Free cancellation (Lemma E0 of ``verification-theory-2`` §6.2): a summed vertex k of degree
    exactly 2 whose edges are X and X⁻¹, k the head of one and the tail of the other, is
    Σ_k X_{ak} X⁻¹_{kb} = δ_ab (or X⁻¹X): delete k and both edges, identify a and b. Valid where X
    is invertible; terminating (edges decrease) and confluent, so the normal form is unique.
    X Xᵀ⁻¹-shaped pairs (k the head of both or the tail of both) are not identities and stay.
    Returns the deleted vertices (they must not count as isolated summed vertices)."""
    deleted: set[int] = set()
    if not b.inverses:
        return deleted
    changed = True
    while changed:
        changed = False
        find = b.find
        ends: dict[int, list[int]] = {}
        for i, (_, u, v) in enumerate(b.edges):
            ends.setdefault(find(u), []).append(i)
            ends.setdefault(find(v), []).append(i)
        free = {find(row), find(col), DOT}
        for k, at in ends.items():
            if k in free or len(at) != 2 or at[0] == at[1]:
                continue
            (l1, u1, v1), (l2, u2, v2) = b.edges[at[0]], b.edges[at[1]]
            pair = {l1, l2}
            if not any(b.inverses.get(x) == y for x in pair for y in pair):
                continue
            if find(v1) == k and find(u2) == k:  # a -l1-> k -l2-> b
                a, c = u1, v2
            elif find(v2) == k and find(u1) == k:  # a -l2-> k -l1-> b
                a, c = u2, v1
            else:
                continue
            b.edges = [e for i, e in enumerate(b.edges) if i not in at]
            b.union(a, c)
            deleted.add(k)
            changed = True
            break
    return {b.find(k) for k in deleted}


@_build.register(Transpose)
def _build_transpose(e: Transpose, b: _Builder) -> tuple[int, int]:
    r, c = b.build(e.arg)
    return c, r


@_build.register(MatMul)
def _build_matmul(e: MatMul, b: _Builder) -> tuple[int, int]:
    r, c = b.build(e.args[0])
    shape = e.args[0].shape
    for a in e.args[1:]:
        r2, c2 = b.build(a)
        if shape[1] == a.shape[0]:
            b.union(c, r2)
            r, c, shape = r, c2, (shape[0], a.shape[1])
        elif is_scalar_shape(shape):
            r, c, shape = r2, c2, a.shape
        # else: ``a`` is a 1x1 factor scaling the product; r, c unchanged
    return r, c


@_build.register(Trace)
def _build_trace(e: Trace, b: _Builder) -> tuple[int, int]:
    r, c = b.build(e.arg)
    b.union(r, c)
    return DOT, DOT


@_build.register(Hadamard)
def _build_hadamard(e: Hadamard | Inner, b: _Builder) -> tuple[int, int]:
    r1, c1 = b.build(e.left)
    r2, c2 = b.build(e.right)
    b.union(r1, r2)  # both factors share the row index and the column index
    b.union(c1, c2)
    return r1, c1


@_build.register(Inner)
def _build_inner(e: Inner, b: _Builder) -> tuple[int, int]:
    _build_hadamard(e, b)  # ⟨A, B⟩ = Σ_ij (A ⊙ B)_ij: the entrywise product, both indices summed
    return DOT, DOT


# part A: constants are vertices without edges
@_build.register(Ones)
def _build_ones(e: Ones, b: _Builder) -> tuple[int, int]:
    return b.new(e.shape[0]), b.new(e.shape[1])


@_build.register(Identity)
def _build_identity(e: Identity, b: _Builder) -> tuple[int, int]:
    u = b.new(e.shape[0])
    return u, u


@_build.register(Diag)
def _build_diag(e: Diag, b: _Builder) -> tuple[int, int]:
    r, _ = b.build(e.arg)  # I ⊙ (v1ᵀ): v's row index is both indices
    return r, r


@_build.register(DiagV)
def _build_diagv(e: DiagV, b: _Builder) -> tuple[int, int]:
    r, c = b.build(e.arg)  # (I ⊙ M)1: M's row and column identified, column •
    b.union(r, c)
    return r, DOT


@_build.register(DimScalar)
def _build_dimscalar(e: DimScalar, b: _Builder) -> tuple[int, int]:
    b.factor = b.factor * e.value
    return DOT, DOT


@_build.register(Add, Scale, Zero, Fn, Softmax, SeqOp, Ext, Window, Shift, Inv, Det, LogDet)
def _build_refuse(e: Expr, b: _Builder) -> tuple[int, int]:
    # sums and coefficients are expanded first, atoms abstracted to symbols, sequences have their own
    # procedure: none of them is part of a monomial's graph
    raise TypeError(f"not a monomial: {type(e).__name__}")


def compile_monomial(m: Expr) -> IndexGraph:
    """Compile a monomial (no sums or coefficients inside) into its index graph."""
    b = _Builder()
    r, c = b.build(m)
    deleted = _cancel_inverses(b, r, c)
    roots = sorted({b.find(v) for v in range(len(b.uf))} - deleted)
    renum = {v: i for i, v in enumerate(roots)}  # DOT stays 0
    edges = tuple((lab, renum[b.find(u)], renum[b.find(v)]) for lab, u, v in b.edges)
    row, col = renum[b.find(r)], renum[b.find(c)]
    # An isolated summed vertex of type d is a factor N_d (Theorem A): 1ᵀ1 = n, tr I = n.
    touched = {w for _, u, v in edges for w in (u, v)} | {row, col, DOT}
    factor = b.factor
    for v in roots:
        if renum[v] not in touched:
            factor = factor * b.dims[v]
    types = tuple(b.types[v] for v in roots)
    return IndexGraph(types, edges, row, col, factor if factor != 1 else 1)


def vertex_counts(graphs: Iterable[IndexGraph]) -> dict[str, int]:
    """B_d: the largest number of index vertices of type d in any of the graphs (free ones included)."""
    bound: dict[str, int] = {}
    for g in graphs:
        for t, k in g.vertex_counts().items():
            bound[t] = max(bound.get(t, 0), k)
    return bound


# ---------------------------------------------------------------------------------------
# Canonical form
# ---------------------------------------------------------------------------------------
DEFAULT_MAX_LEAVES = DEFAULT_BUDGET.max_leaves
#: A canonical certificate: equal for two index graphs iff they are isomorphic.
Certificate = tuple[Any, ...]


def canonical_form(g: IndexGraph, max_leaves: int = DEFAULT_MAX_LEAVES) -> Certificate:
    """A certificate equal for two graphs iff they are isomorphic (types, roles, labels kept).

    The constant vertex • is split into one private copy per edge end: • has the fixed value 1,
    so the split graph has the same value and the same isomorphisms. Connected components are
    canonised separately and the component certificates sorted, which removes the (factorial)
    symmetry between repeated factors such as tr(A)^k.
    """
    colours: list[str] = []
    edges: list[tuple[str, int, int]] = []
    real: dict[int, int] = {}

    def vertex(v: int) -> int:
        if v == DOT:
            colours.append("•")
            return len(colours) - 1
        if v not in real:
            role = ("r" if v == g.row else "") + ("c" if v == g.col else "")
            colours.append(g.types[v] + "|" + role)
            real[v] = len(colours) - 1
        return real[v]

    for lab, u, v in g.edges:
        edges.append((lab, vertex(u), vertex(v)))
    for v in (g.row, g.col):  # a free index with no edge (𝟏ₙ, Iₙ) is still part of the class
        if v != DOT:
            vertex(v)
    # components
    uf = UnionFind(len(colours))
    find = uf.find
    for _, u, v in edges:
        uf.merge_into(u, v)
    comps: dict[int, list[int]] = {}
    for v in range(len(colours)):
        comps.setdefault(find(v), []).append(v)
    comp_edges: dict[int, list[tuple[str, int, int]]] = {}
    for e in edges:
        comp_edges.setdefault(find(e[1]), []).append(e)
    certs = []
    for root, verts in comps.items():
        certs.append(_canon_component(verts, comp_edges.get(root, []), colours, max_leaves))
    return tuple(sorted(certs))


def _canon_component(
    verts: list[int], edges: list[tuple[str, int, int]], colours: Sequence[Any], max_leaves: int,
) -> Certificate:
    idx = {v: i for i, v in enumerate(verts)}
    k = len(verts)
    init = [colours[v] for v in verts]
    out_adj: list[list[tuple[str, int]]] = [[] for _ in range(k)]
    in_adj: list[list[tuple[str, int]]] = [[] for _ in range(k)]
    local_edges: list[tuple[str, int, int]] = []
    for lab, u, v in edges:
        a, b = idx[u], idx[v]
        out_adj[a].append((lab, b))
        in_adj[b].append((lab, a))
        local_edges.append((lab, a, b))

    def rank(keys: Sequence[Any]) -> list[int]:
        order = {s: i for i, s in enumerate(sorted(set(keys)))}
        return [order[s] for s in keys]

    def refine(col: list[int]) -> list[int]:
        while True:
            sig = [
                (
                    col[v],
                    tuple(sorted((lab, col[w]) for lab, w in out_adj[v])),
                    tuple(sorted((lab, col[w]) for lab, w in in_adj[v])),
                )
                for v in range(k)
            ]
            new = rank(sig)
            if len(set(new)) == len(set(col)):
                return new
            col = new

    best: list[Certificate | None] = [None]
    leaves = [0]

    def search(col: list[int]) -> None:
        col = refine(col)
        cells: dict[int, list[int]] = {}
        for v, c in enumerate(col):
            cells.setdefault(c, []).append(v)
        target = next((cells[c] for c in sorted(cells) if len(cells[c]) > 1), None)
        if target is None:
            leaves[0] += 1
            if leaves[0] > max_leaves:
                raise BudgetExceeded(f"canonical form search exceeded {max_leaves} leaves")
            pos = col  # discrete: colour = position
            order = sorted(range(k), key=lambda v: pos[v])
            cert = (
                tuple(init[v] for v in order),
                tuple(sorted((lab, pos[a], pos[b]) for lab, a, b in local_edges)),
            )
            if best[0] is None or cert < best[0]:
                best[0] = cert
            return
        for v in target:
            nxt = [2 * c + 1 for c in col]
            nxt[v] = 2 * col[v]
            search(nxt)

    search(rank(init))
    assert best[0] is not None  # the search reaches at least one leaf
    return best[0]


@functools.lru_cache(maxsize=8192)
def _graph_and_certificate(m: Expr, max_leaves: int) -> tuple[IndexGraph, Certificate]:
    """The index graph of one monomial and its canonical certificate, memoised. Both are pure
    functions of the monomial's structure (Expr equality compares classes, names, shapes and
    coefficients node by node), and a derivation's steps share most monomials: a step's right side
    is the next step's left side (mse: 103 compilations of 14 distinct monomials). A budget
    refusal (too many leaves) is raised again each time, never cached."""
    g = compile_monomial(m)
    return g, canonical_form(g, max_leaves)


def clear_caches() -> None:
    """Forget the memoised certificates (benchmarks measure cold derivations)."""
    _graph_and_certificate.cache_clear()


def class_sums(
    terms: Iterable[tuple[Fraction, Expr]], max_leaves: int = DEFAULT_MAX_LEAVES,
) -> tuple[dict[Certificate, list[Any]], dict[str, int]]:
    """Group (coefficient, monomial) pairs by isomorphism class of their index graphs.

    Returns ``{certificate: [coefficient sum, representative monomial, graph]}`` in order of
    first appearance, and the bound B over all graphs.
    """
    classes: dict[Certificate, list[Any]] = {}
    graphs: list[IndexGraph] = []
    for c, m in terms:
        g, cert = _graph_and_certificate(m, max_leaves)
        graphs.append(g)
        coef = coefficients.scaled(Fraction(c), g.factor)  # in ℚ(N) when the graph has constants
        if cert in classes:
            classes[cert][0] = coefficients.add(classes[cert][0], coef)
        else:
            classes[cert] = [coef, m, g]
    return classes, vertex_counts(graphs)

"""Entrywise functions in the kernel: the derivative table, jets, value keys and abstraction.

Parts B and C of ``verification-theory-2``. Each idea is one small function:

* :func:`lower` rewrites what an author may write into the kernel's normal vocabulary, each rewrite
  an identity *everywhere*: f′(M) by the derivative table (σ′ = σ ⊙ (J − σ), tanh′ = J − tanh ⊙ tanh,
  exp′ = exp, log′ = recip, relu′ = step, step′ = 0, softplus′ = σ, sqrt′ = ½ recip∘sqrt,
  recip′ = −recip ⊙ recip, square′ = 2·id); square(M) = M ⊙ M; relu(M) = M ⊙ step(M) (rules N1, N2).
* :func:`linearize` is the jet of §1.5 for first-order claims: an atom whose argument contains a
  perturbation becomes f(M₀) + f′(M₀) ⊙ M₁, where M₀ is the argument at Δ = 0 and M₁ its first-order
  part. The result has the same parts of order 0 and 1 as the input (chain rule), and no Δ inside
  an atom. relu/step are differentiable only off the zero set of their argument: their jet is
  taken only when no entry of M₀ is identically zero and M₀ contains no step (trap 9 of §10);
  otherwise :class:`~symderiv.errors.NotInFragment`.
* :class:`Abstraction` replaces every atom f(M) by a fresh symbol whose label is the *value key*
  of the atom: (f, canonical class sums of M). Two atoms share a label only if their arguments have
  equal value for all sizes (Theorem 1/A), so the abstraction is value-injective, and by Lemma S an
  identity of the abstracted claim is an identity of the original (Theorem B1). Entrywise functions
  commute with transposition: f(M) is labelled by the smaller of the keys of M and Mᵀ.
* :func:`domain_conditions` reads the definedness conditions off the trees as written (§1.6):
  log needs a positive argument, sqrt a non-negative one, recip a non-zero one.
"""
from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

from symderiv.errors import NotInFragment
from symderiv.kernel import coefficients
from symderiv.kernel.budget import DEFAULT_BUDGET
from symderiv.kernel.definitions import softmax_definition
from symderiv.kernel.expand import delta_degree, expand
from symderiv.kernel.indexgraph import class_sums
from symderiv.lang.operators import (
    Add,
    Diag,
    DiagV,
    DimScalar,
    Expr,
    Fn,
    Hadamard,
    Identity,
    Inner,
    MatMul,
    Ones,
    Scale,
    Softmax,
    Sym,
    Trace,
    Transpose,
    Zero,
    add,
    map_bottom_up,
)

#: Functions whose derivative is taken only almost everywhere (off the zero set of the argument).
PIECEWISE = frozenset({"relu", "step"})


def has_atoms(*exprs: Expr) -> bool:
    return any(isinstance(n, (Fn, Softmax)) for e in exprs for n in e.walk())


def has_constants(*exprs: Expr) -> bool:
    return any(isinstance(n, (Ones, Identity, Diag, DiagV, DimScalar)) for e in exprs for n in e.walk())


def _J(m: Expr) -> Expr:
    return Ones(m.shape[0], m.shape[1])


def derivative(name: str, m: Expr) -> Expr:
    """f′(M) in the language (the derivative table of §3.1; relu′ and step′ almost everywhere)."""
    f = Fn
    table: dict[str, Callable[[], Expr]] = {
        "exp": lambda: f("exp", m),
        "log": lambda: f("recip", m),
        "sigmoid": lambda: Hadamard(f("sigmoid", m), Add(_J(m), Scale(-1, f("sigmoid", m)))),
        "tanh": lambda: Add(_J(m), Scale(-1, Hadamard(f("tanh", m), f("tanh", m)))),
        "relu": lambda: f("step", m),
        "step": lambda: Zero(*m.shape),
        "softplus": lambda: f("sigmoid", m),
        "sqrt": lambda: Scale(Fraction(1, 2), f("recip", f("sqrt", m))),
        "recip": lambda: Scale(-1, Hadamard(f("recip", m), f("recip", m))),
        "square": lambda: Scale(2, m),
    }
    return table[name]()


def _lower_node(e: Expr) -> Expr:
    if isinstance(e, Softmax):
        return lower(softmax_definition(e.arg))
    if not isinstance(e, Fn):
        return e
    if e.prime:
        return lower(derivative(e.name, e.arg))
    if e.name == "square":
        return Hadamard(e.arg, e.arg)
    if e.name == "relu":
        return Hadamard(e.arg, Fn("step", e.arg))
    if e.name == "log":
        return _lower_log(e.arg)
    return e


def _lower_log(m: Expr) -> Expr:
    """log of a product (rules N5, N6), each an identity on the domain of the term it rewrites:

    * log(exp M) = M (everywhere);
    * log(recip s) = −log s (log recip s is defined iff s > 0);
    * log(s·M) = log(s)·J + log M for a 1×1 factor s that the positivity oracle proves > 0
      (then s·M > 0 iff M > 0). This is what turns log softmax(z) into z − log(𝟏ᵀe^z)·𝟏."""
    if isinstance(m, Fn) and m.name == "exp" and not m.prime:
        return m.arg
    if isinstance(m, Fn) and m.name == "recip" and not m.prime:
        return Scale(-1, _lower_log(m.arg))
    if isinstance(m, MatMul) and not m.is_scalar:
        scalars = [a for a in m.args if a.is_scalar]
        rest = [a for a in m.args if not a.is_scalar]
        if scalars and rest and all(sign(a) == "pos" for a in scalars):
            body = rest[0] if len(rest) == 1 else MatMul(*rest)
            terms = [MatMul(_lower_log(a), _J(m)) for a in scalars]
            return Add(*terms, _lower_log(body))
    return Fn("log", m)


def lower(e: Expr) -> Expr:
    """``e`` with f′ replaced by the derivative table, square(M) by M ⊙ M and relu(M) by M ⊙ step(M)."""
    if not has_atoms(e):
        return e
    return map_bottom_up(e, _lower_node)


# ---------------------------------------------------------------------------------------
# Jets
# ---------------------------------------------------------------------------------------
def _drop_zeros(n: Expr) -> Expr:
    """One node with zero children simplified: 0 + A = A, 0·A = 0, 0ᵀ = 0, f(0) kept (f(0) ≠ 0)."""
    kids = n.children
    if not any(isinstance(k, Zero) for k in kids) or isinstance(n, Fn):
        return n
    if isinstance(n, Add):
        rest = [k for k in kids if not isinstance(k, Zero)]
        return Zero(*n.shape) if not rest else rest[0] if len(rest) == 1 else Add(*rest)
    if isinstance(n, DimScalar):
        return n
    return Zero(*n.shape)  # every other node is linear in each child


def _zero_deltas(e: Expr) -> Expr:
    """``e`` at Δ = 0 (every perturbation symbol replaced by the zero matrix, zeros simplified)."""
    return map_bottom_up(e, lambda n: Zero(*n.shape) if isinstance(n, Sym) and n.kind == "delta" else _drop_zeros(n))


def _first_order_part(e: Expr, max_terms: int) -> Expr:
    """The part of ``e`` that is linear in the perturbations (``e`` has no Δ inside an atom)."""
    return add([(c, m) for c, m in expand(e, max_terms) if delta_degree(m) == 1], e.shape)


def _private_symbol(m0: Expr, max_terms: int) -> bool:
    """M₀ = c·S + R with c a nonzero number, S a symbol of M₀'s shape (or its transpose) occurring in
    no other term: no entry of M₀ vanishes identically, at any size (a bias, as in W x + b)."""
    terms = expand(m0, max_terms)
    for i, (c, m) in enumerate(terms):
        leaf = m.arg if isinstance(m, Transpose) else m
        if c == 0 or not isinstance(leaf, Sym) or leaf.kind == "delta" or m.shape != m0.shape:
            continue
        # expand does not merge like terms: S − S is two terms, and then S is not private
        if all(not any(isinstance(n, Sym) and n.name == leaf.name for n in m2.walk())
               for j, (_, m2) in enumerate(terms) if j != i):
            return True
    return False


def _check_piecewise(name: str, m0: Expr, max_terms: int = DEFAULT_BUDGET.max_terms) -> None:
    """relu′ = step and step′ = 0 hold off the zero set of the argument; that set is a null set
    when no entry of M₀ vanishes identically and M₀ has no step inside (§3.7 (6), trap 9).

    "No entry vanishes identically" must hold at *every* size. It does when M₀ has a private
    additive symbol (:func:`_private_symbol`). Otherwise it is checked for polynomial M₀ without
    constants at every size in {1, 2} per dimension: then an entry that vanishes at a size N ≥ 2
    vanishes at 2 (set the variables with an index ≥ 3 to 0: every summed index sits on a symbol, so
    the sum shrinks to the smaller size), and one that vanishes at 1 is seen at 1
    (tr(A)tr(B) − tr(AB) vanishes at n = 1 only). With constants (x − (𝟏ᵀx)𝟏 vanishes at n = 1,
    (n − 3)x at n = 3) or other functions inside, that argument fails, and the jet is refused."""
    if any(isinstance(n, Fn) and n.name in PIECEWISE for n in m0.walk()):
        raise NotInFragment(f"the derivative of {name} at an argument that itself contains a step or relu "
                            "may depend on the convention step(0)")
    if not expand(m0, max_terms):
        raise NotInFragment(f"{name} is not differentiable at an argument that is 0")
    if _private_symbol(m0, max_terms):
        return
    if has_atoms(m0) or has_constants(m0):
        raise NotInFragment(f"the argument of {name} contains constants or other functions and no private "
                            f"additive symbol, so whether an entry of it vanishes identically at some size (where "
                            f"{name} is not differentiable) is not decided")
    from symderiv.kernel.evaluate import dims_of, evaluate, poly_arith, poly_env, size_candidates, symbol_table

    dims = dims_of(m0)
    if 2 ** len(dims) > 256:
        raise NotInFragment(f"the argument of {name} has too many dimensions to check every size in {{1, 2}}")
    for sizes in size_candidates(dims, {d: 2 for d in dims}) or [{}]:
        R, env, _ = poly_env(symbol_table(m0), sizes)
        for row in evaluate(m0, env, sizes, poly_arith(R)):
            for v in row:
                if v == R.zero:
                    raise NotInFragment(f"an entry of the argument of {name} is identically 0 at "
                                        f"{', '.join(f'{d} = {k}' for d, k in sizes.items()) or 'the declared sizes'}, "
                                        f"where {name} is not differentiable")


def linearize(e: Expr, max_terms: int = DEFAULT_BUDGET.max_terms) -> Expr:
    """An expression with the same parts of order 0 and 1 in Δ as ``e``, and no Δ inside an atom
    (the jet rules of §1.5: f(M₀ + M₁) ≐ f(M₀) + f′(M₀) ⊙ M₁)."""
    if not has_atoms(e) or not e.has_delta():
        return e

    def node(n: Expr) -> Expr:
        if not isinstance(n, Fn) or not n.arg.has_delta():
            return n
        m = n.arg  # already linearized: its atoms have Δ-free arguments
        m0, m1 = _zero_deltas(m), _first_order_part(m, max_terms)
        if n.name in PIECEWISE:
            _check_piecewise(n.name, m0, max_terms)
        base = Fn(n.name, m0, n.prime)
        d = lower(derivative(n.name, m0)) if not n.prime else None
        if d is None:
            raise NotInFragment("the jet of a derivative f′ is taken after lowering f′")
        return Add(base, Hadamard(d, m1))

    return map_bottom_up(lower(e), node)


# ---------------------------------------------------------------------------------------
# Value keys and abstraction
# ---------------------------------------------------------------------------------------
def value_key(e: Expr, max_terms: int, max_leaves: int) -> tuple[Any, ...]:
    """A key equal for two atom-free expressions of equal value at every size (Theorem 1/A)."""
    classes, _ = class_sums(expand(e, max_terms), max_leaves)
    parts = sorted((cert, coefficients.key(c)) for cert, (c, _, _) in classes.items() if not coefficients.is_zero(c))
    return (str(e.shape[0]), str(e.shape[1]), tuple(parts))


def atom_symbol(label: str, rows: Any, cols: Any) -> Sym:
    """A fresh symbol standing for an atom (not a user name: it cannot clash with one)."""
    s = object.__new__(Sym)
    s.name, s.kind, s.shape = label, "atom", (rows, cols)
    return s


class Abstraction:
    """Atoms → fresh symbols, one per value key, shared by both sides of a claim (Theorem B1)."""

    def __init__(self, max_terms: int = DEFAULT_BUDGET.max_terms, max_leaves: int = DEFAULT_BUDGET.max_leaves):
        self.max_terms, self.max_leaves = max_terms, max_leaves
        self.labels: dict[tuple[Any, ...], Sym] = {}
        #: label name -> the atom it stands for (with inner atoms as written), for messages
        self.meaning: dict[str, Expr] = {}
        #: label name -> (function, its argument with inner atoms abstracted), for clearing (part C)
        self.argument: dict[str, tuple[str, Expr]] = {}
        self.labels_by_name: dict[str, Sym] = {}
        self._keys: dict[Expr, tuple[Any, ...]] = {}
        self._abstracted: dict[Expr, Expr] = {}

    def __call__(self, e: Expr) -> Expr:
        if not has_atoms(e):
            return e
        out = self._abstracted.get(e)
        if out is None:
            out = self._abstracted[e] = map_bottom_up(e, self._node)
        return out

    def _node(self, n: Expr) -> Expr:
        if not isinstance(n, Fn):
            return n
        if n.prime:
            raise NotInFragment("f′ must be lowered before abstraction")
        m = n.arg  # inner atoms already abstracted
        k, kt = self.key(m), self.key(Transpose(m))
        if kt < k:  # f(M) = f(Mᵀ)ᵀ: label the smaller key, transposed
            out = self._label(n.name, kt, (m.shape[1], m.shape[0]), Transpose(n))
            self.argument.setdefault(out.name, (n.name, Transpose(m)))
            return Transpose(out)
        out = self._label(n.name, k, m.shape, n)
        self.argument.setdefault(out.name, (n.name, m))
        return out

    def key(self, e: Expr) -> tuple[Any, ...]:
        """:func:`value_key`, computed once per expression (the same argument recurs in many terms)."""
        out = self._keys.get(e)
        if out is None:
            out = self._keys[e] = value_key(e, self.max_terms, self.max_leaves)
        return out

    def _label(self, name: str, k: tuple[Any, ...], shape: tuple[Any, Any], written: Expr) -> Sym:
        """The symbol for key ``k``; ``written`` is an expression equal to it, as the author wrote
        the atom (used only to print differences)."""
        key = (name, k)
        if key not in self.labels:
            label = f"⟨{name}#{len(self.labels) + 1}⟩"
            self.labels[key] = atom_symbol(label, shape[0], shape[1])
            self.labels_by_name[label] = self.labels[key]
            self.meaning[label] = written
        return self.labels[key]

    def restore(self, e: Expr) -> Expr:
        """The atoms written back in place of their labels (for messages)."""
        def back(n: Expr) -> Expr:
            if isinstance(n, Sym) and n.kind == "atom" and n.name in self.meaning:
                return self.restore(self.meaning[n.name])
            if isinstance(n, Transpose) and isinstance(n.arg, Transpose):
                return n.arg.arg
            return n
        return map_bottom_up(e, back)


# ---------------------------------------------------------------------------------------
# Domains (§1.6) and the positivity oracle
# ---------------------------------------------------------------------------------------
#: what each function needs of its argument
NEEDS = {"log": "pos", "sqrt": "nonneg", "recip": "nonzero"}
_IMPLIES = {"pos": {"pos", "nonneg", "nonzero"}, "nonneg": {"nonneg"}, "nonzero": {"nonzero"}}


def domain_conditions(e: Expr, abstraction: Abstraction) -> set[tuple[str, tuple[Any, ...]]]:
    """(condition, value key of the argument) for every log, sqrt and recip in ``e``."""
    out: set[tuple[str, tuple[Any, ...]]] = set()
    for n in e.walk():
        if isinstance(n, Fn) and n.name in NEEDS:
            out.add((NEEDS[n.name], abstraction.key(abstraction(n.arg))))
    return out


def sign(e: Expr, positive: frozenset[str] = frozenset()) -> str | None:
    """A small positivity oracle: "pos" if every entry of ``e`` is > 0 wherever ``e`` is defined,
    "nonneg" if ≥ 0, else None. Knows exp, σ, softplus > 0; relu, step, sqrt ≥ 0; 𝟏 > 0;
    ⟨M, M⟩ ≥ 0; declared-positive symbols; sums, products and positive multiples of these."""
    if isinstance(e, Softmax):
        return "pos"
    if isinstance(e, Fn):
        if e.name in ("exp", "sigmoid", "softplus") and not e.prime:
            return "pos"
        if e.name in ("relu", "step", "sqrt", "square") and not e.prime:
            return "nonneg"
        if e.name == "recip" and not e.prime:
            return "pos" if sign(e.arg, positive) == "pos" else None
        return None
    if isinstance(e, Ones):
        return "pos"
    if isinstance(e, (Identity,)):
        return "nonneg"
    if isinstance(e, Sym):
        return "pos" if e.name in positive else None
    if isinstance(e, DimScalar):
        return "pos" if _positive_on_sizes(e.value) else None
    if isinstance(e, Scale):
        s = sign(e.arg, positive)
        return s if e.coef > 0 else None
    if isinstance(e, (Transpose, Trace, Diag, DiagV)):
        s = sign(e.arg, positive)
        if isinstance(e, Diag) and s is not None:
            return "nonneg"
        return s
    if isinstance(e, Inner) and e.left == e.right:
        return "nonneg" if sign(e.left, positive) is None else sign(e.left, positive)
    if isinstance(e, Add):
        signs = [sign(a, positive) for a in e.args]
        if None in signs:
            return None
        return "pos" if "pos" in signs else "nonneg"
    if isinstance(e, (MatMul, Hadamard, Inner)):
        signs = [sign(a, positive) for a in e.children]
        if None in signs:
            return None
        return "pos" if all(s == "pos" for s in signs) else "nonneg"
    return None


def _positive_on_sizes(v: Any) -> bool:
    """A dimension coefficient with positive numerator and denominator coefficients is positive at
    every size (all dimensions are ≥ 1)."""
    import sympy

    num, den = sympy.fraction(v)
    ok = True
    for p in (num, den):
        poly = sympy.Poly(p, *sorted(v.free_symbols, key=str)) if v.free_symbols else None
        if poly is None:
            ok = ok and bool(p > 0)
        else:
            ok = ok and all(c > 0 for c in poly.coeffs())
    return ok


def implied(cond: str, key: tuple[Any, ...], have: set[tuple[str, tuple[Any, ...]]]) -> bool:
    return any(k == key and cond in _IMPLIES[c] for c, k in have)

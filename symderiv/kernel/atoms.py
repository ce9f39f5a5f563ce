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
from symderiv.kernel.indexgraph import class_sums, inverse_label
from symderiv.lang.operators import (
    Add,
    Det,
    Diag,
    DiagV,
    DimScalar,
    Expr,
    Fn,
    Hadamard,
    Identity,
    Inner,
    Inv,
    LogDet,
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


#: nodes the kernel treats as atoms (abstracted to labelled symbols before canonical forms)
ATOM_NODES = (Fn, Softmax, Inv, Det, LogDet)


def has_atoms(*exprs: Expr) -> bool:
    return any(isinstance(n, ATOM_NODES) for e in exprs for n in e.walk())


def has_matrix_functions(*exprs: Expr) -> bool:
    """Whether an inverse or a determinant occurs (their domains are read off the trees as written)."""
    return any(isinstance(n, (Inv, Det, LogDet)) for e in exprs for n in e.walk())


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
    rule = _MATRIX_FUNCTION_RULES.get(type(e))
    if rule is not None:
        return rule(e)
    if isinstance(e, MatMul):
        return _cancel_adjacent(e)
    if not isinstance(e, Fn):
        return e
    if e.prime:
        low = lower(derivative(e.name, e.arg))
        if e.name == "log":
            # log′ = 1/x is the derivative of log, defined on (0, ∞) like log itself (§3.1), not on
            # x ≠ 0: + 0·log(M) keeps the written side's condition M > 0 for the domain check
            return Add(low, Scale(0, Fn("log", e.arg)))
        return low
    if e.name == "square":
        return Hadamard(e.arg, e.arg)
    if e.name == "relu":
        return Hadamard(e.arg, Fn("step", e.arg))
    if e.name == "log":
        if isinstance(e.arg, Det):  # log(det M) is log det M, with the same domain det M > 0
            return _lower_logdet(LogDet(e.arg.arg))
        return _lower_log(e.arg)
    return _lower_sign(e)


def _negated(m: Expr) -> Expr | None:
    """M when the argument is written −M."""
    return m.arg if isinstance(m, Scale) and m.coef == -1 else None


def _lower_sign(e: Fn) -> Expr:
    """The sign rules (N3, N9 of §3.5), identities everywhere: σ(−M) = J − σ(M), tanh(−M) = −tanh(M),
    softplus(−M) = softplus(M) − M, exp(−M) = 1/exp(M). Without them σ(−x) and σ(x) would be
    independent atoms, and the log σ form of a logistic loss could not be verified."""
    m = _negated(e.arg)
    if m is None:
        return e
    if e.name == "sigmoid":
        return Add(_J(m), Scale(-1, Fn("sigmoid", m)))
    if e.name == "tanh":
        return Scale(-1, Fn("tanh", m))
    if e.name == "softplus":
        return Add(Fn("softplus", m), Scale(-1, m))
    if e.name == "exp":
        return Fn("recip", Fn("exp", m))
    return e


# ---------------------------------------------------------------------------------------
# Inverses and determinants (part E): each rewrite is an identity where the rewritten term is
# defined. Rewrites may enlarge a domain (X X⁻¹ → I is defined at a singular X); that is harmless
# because domains are read off the trees as written (§1.6, :func:`matrix_domain_conditions`).
# ---------------------------------------------------------------------------------------
def _square_factors(m: MatMul) -> bool:
    return all(a.is_scalar or a.shape[0] == a.shape[1] for a in m.args) and not m.is_scalar


def _lower_inv(e: Inv) -> Expr:
    """(Mᵀ)⁻¹ = (M⁻¹)ᵀ; (M⁻¹)⁻¹ = M; I⁻¹ = I; (cM)⁻¹ = c⁻¹M⁻¹; (AB⋯)⁻¹ = ⋯B⁻¹A⁻¹ for square
    factors (a 1×1 factor s gives 1/s); a 1×1 M⁻¹ is 1/M."""
    m = e.arg
    if m.is_scalar:
        return Fn("recip", m)
    if isinstance(m, Transpose):
        return Transpose(_lower_inv(Inv(m.arg)))
    if isinstance(m, Inv):
        return m.arg
    if isinstance(m, Identity):
        return m
    if isinstance(m, Scale) and m.coef != 0:
        return Scale(1 / m.coef, _lower_inv(Inv(m.arg)))
    if isinstance(m, MatMul) and _square_factors(m):
        parts = [Fn("recip", a) if a.is_scalar else _lower_inv(Inv(a)) for a in reversed(m.args)]
        return MatMul(*parts)
    return e


def _lower_det(e: Det) -> Expr:
    """det Mᵀ = det M; det(AB⋯) = det A det B ⋯ (square factors); det M⁻¹ = 1/det M; det I = 1;
    a 1×1 det s is s."""
    m = e.arg
    if m.is_scalar:
        return m
    if isinstance(m, Transpose):
        return _lower_det(Det(m.arg))
    if isinstance(m, Identity):
        return Ones(1, 1)
    if isinstance(m, Inv):
        return Fn("recip", _lower_det(Det(m.arg)))
    if isinstance(m, MatMul) and _square_factors(m) and not any(a.is_scalar for a in m.args):
        return MatMul(*[_lower_det(Det(a)) for a in m.args])
    return e


def _lower_logdet(e: LogDet) -> Expr:
    """log det Mᵀ = log det M; log det M⁻¹ = −log det M (det M⁻¹ > 0 iff det M > 0); log det I = 0;
    a 1×1 log det s is log s. log det(AB) is *not* split: det A, det B < 0 is a witness (§6.6)."""
    m = e.arg
    if m.is_scalar:
        return Fn("log", m)
    if isinstance(m, Transpose):
        return _lower_logdet(LogDet(m.arg))
    if isinstance(m, Identity):
        return Scale(0, Ones(1, 1))
    if isinstance(m, Inv):
        return Scale(-1, _lower_logdet(LogDet(m.arg)))
    return e


_MATRIX_FUNCTION_RULES: dict[type, Callable[[Any], Expr]] = {Inv: _lower_inv, Det: _lower_det, LogDet: _lower_logdet}


def _same_value(p: Expr, q: Expr) -> bool:
    """P and Q are equal for all sizes: the same tree, or atom-free with equal canonical class sums."""
    if p.key() == q.key():
        return True
    if p.shape != q.shape or has_atoms(p, q):
        return False
    try:
        return value_key(p, DEFAULT_BUDGET.max_terms, DEFAULT_BUDGET.max_leaves) == \
            value_key(q, DEFAULT_BUDGET.max_terms, DEFAULT_BUDGET.max_leaves)
    except Exception:  # noqa: BLE001 — a budget or fragment limit: not cancelling is always sound
        return False


def _cancels(p: Expr, q: Expr) -> bool:
    """q = c·M⁻¹ (c a number, M not a symbol) and c·P = M, so that P q = q P = I: a hypothesis's
    substitution writes a symmetric X as ½(X + Xᵀ), whose inverse lowers to 2(X + Xᵀ)⁻¹."""
    c = Fraction(1)
    if isinstance(q, Scale):
        c, q = q.coef, q.arg
    if not isinstance(q, Inv) or isinstance(q.arg, Sym) or c == 0:
        return False
    return _same_value(p if c == 1 else Scale(c, p), q.arg)


def _cancel_adjacent(e: MatMul) -> Expr:
    """P·M⁻¹ = I and M⁻¹·P = I for adjacent factors with P equal to M (§6.1): how (XᵀX + λI)(XᵀX + λI)⁻¹
    cancels before expansion would split the pair into terms that no longer meet. Inverses of symbols
    cancel on the index graph instead (free cancellation), where they meet in any order of writing."""
    args = list(e.args)
    i = 0
    changed = False
    while i + 1 < len(args):
        a, b = args[i], args[i + 1]
        pair = _cancels(a, b) or _cancels(b, a)
        if pair:
            args[i:i + 2] = [Identity(a.shape[0])]
            changed = True
            i = max(i - 1, 0)
        else:
            i += 1
    if not changed:
        return e
    return args[0] if len(args) == 1 else MatMul(*args)


def _lower_log(m: Expr) -> Expr:
    """log of a product (rules N5, N6, N7), each an identity on the domain of the term it rewrites:

    * log(exp M) = M (everywhere); log σ(M) = M − softplus(M) and log(J − σ(M)) = −softplus(M) (everywhere);
    * log(recip s) = −log s (log recip s is defined iff s > 0);
    * log(s·M) = log(s)·J + log M for a 1×1 factor s that the positivity oracle proves > 0
      (then s·M > 0 iff M > 0). This is what turns log softmax(z) into z − log(𝟏ᵀe^z)·𝟏."""
    if isinstance(m, Fn) and m.name == "exp" and not m.prime:
        return m.arg
    if isinstance(m, Fn) and m.name == "sigmoid" and not m.prime:  # log σ(M) = M − softplus(M) (N7)
        return Add(m.arg, Scale(-1, Fn("softplus", m.arg)))
    s_of = _one_minus_sigmoid(m)
    if s_of is not None:  # log(J − σ(M)) = log σ(−M) = −softplus(M)
        return Scale(-1, Fn("softplus", s_of))
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


def _one_minus_sigmoid(m: Expr) -> Expr | None:
    """M when m is J − σ(M) (the ones matrix minus σ of M, in either order)."""
    if not (isinstance(m, Add) and len(m.args) == 2):
        return None
    for a, b in (m.args, m.args[::-1]):
        if isinstance(a, Ones) and a.shape == m.shape and isinstance(b, Scale) and b.coef == -1 and \
                isinstance(b.arg, Fn) and b.arg.name == "sigmoid" and not b.arg.prime:
            return b.arg.arg
    return None


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
        if isinstance(n, (Inv, Det, LogDet)) and n.arg.has_delta():
            return _matrix_function_jet(n, max_terms)
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


def _generically_invertible(m0: Expr, max_terms: int) -> bool:
    """det M₀ is not the zero polynomial: M₀ = c·S + R with S a square symbol occurring in no other
    term (the top-degree part of det M₀ in S's entries is cⁿ det S ≢ 0), or a product, transpose or
    inverse of such matrices."""
    if isinstance(m0, (Transpose, Inv)):
        return _generically_invertible(m0.arg, max_terms)
    if isinstance(m0, MatMul) and all(a.is_scalar or a.shape[0] == a.shape[1] for a in m0.args):
        return all(_generically_invertible(a, max_terms) for a in m0.args if not a.is_scalar) and \
            all(sign(a) == "pos" for a in m0.args if a.is_scalar)
    if isinstance(m0, Identity):
        return True
    return _private_symbol(m0, max_terms)


def _matrix_function_jet(n: Inv | Det | LogDet, max_terms: int) -> Expr:
    """The jets of §6.6 and §6.7, with M = M₀ + M₁ (M₁ the first-order part):

    * (M₀ + M₁)⁻¹ ≐ M₀⁻¹ − M₀⁻¹ M₁ M₀⁻¹ where M₀ is invertible;
    * det(M₀ + M₁) ≐ det M₀ + det M₀ · tr(M₀⁻¹ M₁) (Jacobi), where M₀ is invertible. The formula
      uses M₀⁻¹, which a singular M₀ lacks, while det is a polynomial everywhere: it is used only
      when det M₀ is not identically zero, so that it holds on a dense set and, both sides being
      polynomial in the perturbation's coefficients there, by continuity wherever they are defined;
    * log det(M₀ + M₁) ≐ log det M₀ + tr(M₀⁻¹ M₁), where det M₀ > 0 (so M₀ is invertible)."""
    m = n.arg
    m0, m1 = _zero_deltas(m), _first_order_part(m, max_terms)
    if isinstance(n, Inv):
        inv0 = Inv(m0)
        return lower(Add(inv0, Scale(-1, MatMul(inv0, m1, inv0))))
    trace = Trace(MatMul(Inv(m0), m1))
    if isinstance(n, LogDet):
        return lower(Add(LogDet(m0), trace))
    if not _generically_invertible(m0, max_terms):
        raise NotInFragment("Jacobi's rule d det M = det M · tr(M⁻¹ dM) needs M invertible, and whether "
                            "det of the argument is identically zero is not decided")
    return lower(Add(Det(m0), MatMul(Det(m0), trace)))


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


def symmetrized_label(label: Sym) -> Expr:
    """½(L + Lᵀ) for the label L of an atom whose argument is symmetric (M = Mᵀ for all values, by
    equal value keys): then f(M)ᵀ = f(Mᵀ) = f(M) and (M⁻¹)ᵀ = M⁻¹, so L = ½(L + Lᵀ) at its value,
    and an identity proved for every L in this form holds at it (the onto substitution of Theorem
    D2). Without it, a claim that uses S⁻ᵀ = S⁻¹ for a symmetric S could not be verified."""
    if label.shape[0] != label.shape[1] or label.is_scalar:
        return label
    return Scale(Fraction(1, 2), Add(label, Transpose(label)))


def inverse_symbol(x: Sym) -> Sym:
    """The edge X⁻¹ of a symbol X (kind ``inverse``; see :func:`~symderiv.kernel.indexgraph.inverse_label`)."""
    s = object.__new__(Sym)
    s.name, s.kind, s.shape = inverse_label(x.name), "inverse", x.shape
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
        #: whether some label was written ½(L + Lᵀ): abstracted monomials may then be sums
        self.symmetrized = False
        self._abstracted: dict[Expr, Expr] = {}

    def __call__(self, e: Expr) -> Expr:
        if not has_atoms(e):
            return e
        out = self._abstracted.get(e)
        if out is None:
            out = self._abstracted[e] = map_bottom_up(e, self._node)
        return out

    def _node(self, n: Expr) -> Expr:
        if isinstance(n, Inv):
            return self._inverse(n)
        if isinstance(n, (Det, LogDet)):
            name = "det" if isinstance(n, Det) else "logdet"
            m = n.arg
            k = min(self.key(m), self.key(Transpose(m)))  # det Mᵀ = det M
            out = self._label(name, k, (n.shape[0], n.shape[1]), n)
            self.argument.setdefault(out.name, (name, m))
            return out
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
        return self._symmetrized(out) if k == kt else out

    def _inverse(self, n: Inv) -> Expr:
        """X⁻¹ of a symbol (or of Xᵀ) becomes the edge X⁻¹, which cancels against X on index graphs
        (free cancellation); M⁻¹ of another M is an atom labelled by M's value, transposed as f(M)."""
        m = n.arg
        leaf = m.arg if isinstance(m, Transpose) else m
        if isinstance(leaf, Sym) and leaf.kind != "delta":
            s = inverse_symbol(leaf)
            self.meaning.setdefault(s.name, Inv(leaf))
            self.argument.setdefault(s.name, ("inv", leaf))
            return Transpose(s) if isinstance(m, Transpose) else s
        k, kt = self.key(m), self.key(Transpose(m))
        if kt < k:
            out = self._label("inv", kt, m.shape, Transpose(n))
            self.argument.setdefault(out.name, ("inv", Transpose(m)))
            return Transpose(out)
        out = self._label("inv", k, m.shape, n)
        self.argument.setdefault(out.name, ("inv", m))
        return self._symmetrized(out) if k == kt else out

    def _symmetrized(self, label: Sym) -> Expr:
        out = symmetrized_label(label)
        self.symmetrized = self.symmetrized or out is not label
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
            if isinstance(n, Sym) and n.kind in ("atom", "inverse") and n.name in self.meaning:
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
_IMPLIES = {"pos": {"pos", "nonneg", "nonzero"}, "nonneg": {"nonneg"}, "nonzero": {"nonzero"},
            "invertible": {"invertible"}, "detpos": {"detpos", "invertible"}}


def transpose_key(m: Expr, ab: Abstraction) -> tuple[Any, ...]:
    """The value key of M or of Mᵀ, whichever is smaller: M is invertible (or has det M > 0) iff Mᵀ is.
    Perturbations are variables like any other here: a first-order claim's sides are given with every Δ
    already replaced by 0 (:func:`at_base_point`), an exact claim's as written (X + ΔX invertible is not X
    invertible)."""
    m = lower(map_bottom_up(m, _drop_zeros))  # (X + 0)⁻¹ at the base point is X⁻¹
    return min(ab.key(ab(m)), ab.key(ab(Transpose(m))))


def at_base_point(e: Expr) -> Expr:
    """``e`` with every perturbation Δ replaced by a zero matrix and nothing simplified, so that each
    inverse and log-determinant stays, with its argument at the base point Δ = 0 (−X⁻¹ΔXX⁻¹ still needs
    X invertible): the domain of a first-order claim (§1.2)."""
    return map_bottom_up(e, lambda n: Zero(*n.shape) if isinstance(n, Sym) and n.kind == "delta" else n)


def _invertible_conditions(m: Expr, ab: Abstraction, out: set[tuple[str, tuple[Any, ...]]]) -> None:
    """M is invertible; and so is each factor of an invertible product of square matrices, and the
    argument of an invertible transpose, inverse or nonzero multiple."""
    out.add(("invertible", transpose_key(m, ab)))
    if isinstance(m, (Transpose, Inv)) or isinstance(m, Scale) and m.coef != 0:
        _invertible_conditions(m.arg, ab, out)
    elif isinstance(m, MatMul) and _square_factors(m):
        for a in m.args:
            if not a.is_scalar:
                _invertible_conditions(a, ab, out)


def _logdet_argument(n: Expr) -> Expr | None:
    """M for a node written log det M or log(det M) (both need det M > 0), else None."""
    if isinstance(n, LogDet):
        return n.arg
    if isinstance(n, Fn) and n.name == "log" and isinstance(n.arg, Det):
        return n.arg.arg
    return None


def matrix_domain_conditions(e: Expr, ab: Abstraction) -> set[tuple[str, tuple[Any, ...]]]:
    """The conditions of the inverses and log-determinants in ``e`` as written (§1.6): M⁻¹ needs M
    invertible, log det M needs det M > 0."""
    out: set[tuple[str, tuple[Any, ...]]] = set()
    for n in e.walk():
        if isinstance(n, Inv):
            _invertible_conditions(n.arg, ab, out)
        arg = _logdet_argument(n)
        if arg is not None:
            out.add(("detpos", transpose_key(arg, ab)))
            _invertible_conditions(arg, ab, out)
    return out


def required_matrix_conditions(e: Expr, ab: Abstraction) -> list[tuple[str, tuple[Any, ...], Expr]]:
    """(condition, key, argument) for each inverse and log-determinant of ``e``, for messages."""
    out: list[tuple[str, tuple[Any, ...], Expr]] = []
    for n in e.walk():
        if isinstance(n, Inv):
            out.append(("invertible", transpose_key(n.arg, ab), n.arg))
        arg = _logdet_argument(n)
        if arg is not None:
            out.append(("detpos", transpose_key(arg, ab), arg))
    return out


def domain_conditions(e: Expr, abstraction: Abstraction) -> set[tuple[str, tuple[Any, ...]]]:
    """(condition, value key of the argument) for every log, sqrt and recip in ``e``.

    Where √u itself must be non-zero (recip(√u), log √u), u ≥ 0 and √u ≠ 0 give u > 0: the left side
    of layer norm written 1/√v supplies v > 0 to a right side written 1/v."""
    out: set[tuple[str, tuple[Any, ...]]] = set()
    for n in e.walk():
        if isinstance(n, Fn) and n.name in NEEDS:
            out.add((NEEDS[n.name], abstraction.key(abstraction(n.arg))))
            root = n.arg
            if NEEDS[n.name] in ("nonzero", "pos") and isinstance(root, Fn) and root.name == "sqrt" \
                    and not root.prime:
                out.add(("pos", abstraction.key(abstraction(root.arg))))
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

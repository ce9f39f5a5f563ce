"""The derivation engine: from a forward definition to a step-by-step gradient derivation.

It follows the notes' recipe and names one rule per line:

1. perturb:  Δy = f(θ + Δθ) − f(θ)
2. expand, letting the terms free of Δ cancel; drop the terms of order ≥ 2
3. ΔL = ⟨dL/dy, Δy⟩, then substitute Δy
4. move Δθ to the right, one rule at a time (inner product ↔ product/trace, transpose of a
   scalar, trace of a scalar, cyclic trace, grouping, transpose of a product), term by term
5. collect into ⟨G, Δθ⟩ and read off dL/dθ = G

The engine only proposes lines; :meth:`Derivation.check` verifies each one independently.
"""
from __future__ import annotations

from fractions import Fraction
from typing import Callable, Optional

from .errors import DerivationError
from .expand import push_transpose
from .indexgraph import canonical_form, compile_monomial
from .operators import Add, Expr, Inner, MatMul, Scale, Sym, Trace, Transpose, add, as_expr, sym_from
from .derivation import Derivation
from . import rules as R

Terms = list[tuple[Fraction, Expr]]
Move = Callable[[Expr, Sym], Optional[tuple[str, Expr]]]


def _split(e: Expr) -> Terms:
    """Top-level terms of a sum with their coefficients (no distribution)."""
    if isinstance(e, Add):
        return [t for a in e.args for t in _split(a)]
    if isinstance(e, Scale):
        return [(e.coef * c, t) for c, t in _split(e.arg)]
    return [(Fraction(1), e)]


def _delta_position(fs: list[Expr], wrt: Sym) -> tuple[int, bool] | None:
    """Index of the factor Δθ or (Δθ)ᵀ in a product, and whether it is transposed."""
    for i, f in enumerate(fs):
        if R.is_delta(f, wrt):
            return i, False
        if isinstance(f, Transpose) and R.is_delta(f.arg, wrt):
            return i, True
    return None


def _done(t: Expr, wrt: Sym) -> bool:
    return isinstance(t, Inner) and R.is_delta(t.right, wrt) and not t.left.has_delta() and not _pending_transpose(t.left)


def _pending_transpose(e: Expr) -> bool:
    return push_transpose(e) != e


# Each move looks at one term and proposes (rule name, new term), or None if it does not apply.
def move_inner_symmetry(t, wrt):
    if isinstance(t, Inner) and t.left.has_delta() and not t.right.has_delta():
        return "inner-symmetry", R.inner_symmetry(t)


def move_inner_to_product(t, wrt):
    if isinstance(t, Inner) and not R.is_delta(t.right, wrt) and t.right.has_delta():
        if t.left.shape[1] == 1:
            return "inner-of-vectors", R.inner_of_vectors(t)
        return "inner-as-trace", R.inner_as_trace(t)


def move_transpose_of_scalar(t, wrt):
    fs = R.factors(t)
    pos = _delta_position(fs, wrt)
    if not isinstance(t, (Trace, Inner)) and pos and pos[1]:
        return "transpose-of-scalar", R.transpose_of_scalar(t)
    if isinstance(t, Trace):
        pos = _delta_position(R.factors(t.arg), wrt)
        if pos and pos[1]:
            return "trace-of-transpose", R.trace_of_transpose(t)


def move_trace_of_scalar(t, wrt):
    fs = R.factors(t)
    pos = _delta_position(fs, wrt)
    if isinstance(t, MatMul) and pos and not pos[1] and (pos[0] != len(fs) - 1 or wrt.shape[1] != 1):
        return "trace-of-scalar", R.trace_of_scalar(t)


def move_cyclic(t, wrt):
    if isinstance(t, Trace):
        fs = R.factors(t.arg)
        pos = _delta_position(fs, wrt)
        if pos and not pos[1] and pos[0] != len(fs) - 1:
            return "cyclic-trace", R.cyclic_trace(t, pos[0] + 1)


def move_group(t, wrt):
    fs = R.factors(t)
    pos = _delta_position(fs, wrt)
    if isinstance(t, MatMul) and pos == (len(fs) - 1, False) and len(fs) > 2:
        return "associativity", R.associativity(fs[:-1], fs[-1])


def move_to_inner(t, wrt):
    if isinstance(t, Trace):
        fs = R.factors(t.arg)
        if _delta_position(fs, wrt) == (len(fs) - 1, False) and len(fs) > 1:
            return "trace-as-inner", R.trace_as_inner(fs[:-1], fs[-1])
    if isinstance(t, MatMul):
        fs = list(t.args)
        if _delta_position(fs, wrt) == (len(fs) - 1, False):
            return "inner-of-vectors", R.trace_as_inner(fs[:-1], fs[-1])


def move_transpose_of_product(t, wrt):
    if isinstance(t, Inner) and R.is_delta(t.right, wrt) and _pending_transpose(t.left):
        return "transpose-of-product", Inner(R.transpose_of_product(t.left), t.right)


STAGES: list[Move] = [
    move_inner_symmetry,
    move_inner_to_product,
    move_transpose_of_scalar,
    None,  # collect like terms
    move_trace_of_scalar,
    move_cyclic,
    move_group,
    move_to_inner,
    move_transpose_of_product,
]


def _same(a: Expr, b: Expr) -> bool:
    """Equal monomials by index-graph canonical form (a sound test: isomorphic ⇒ equal)."""
    try:
        return canonical_form(compile_monomial(a)) == canonical_form(compile_monomial(b))
    except (TypeError, ValueError):
        return a == b


def _rule_name(names: list[str]) -> str:
    return names[0] if len(set(names)) == 1 else "+".join(dict.fromkeys(names))


def derive(
    output,
    forward,
    wrt,
    title: str | None = None,
    is_loss: bool = False,
    loss: str = "L",
    descriptions: dict[str, str] | None = None,
    name: str | None = None,
    check: bool = True,
) -> Derivation:
    """Derive dL/d(wrt) for ``output = forward`` step by step, and (by default) check it."""
    out, f, theta = sym_from(output), as_expr(forward), sym_from(wrt)
    if theta.name not in {s.name for s in f.symbols()}:
        raise DerivationError(f"{theta.name} does not occur in the forward definition {f!r}")
    title = title or f"d{loss}/d{theta.name} for {out.name} = {f!r}"
    d = Derivation(title, out, f, theta, is_loss, loss, descriptions, name)

    # 1-2: perturb, expand, drop higher-order terms
    dy = R.perturbation(f, theta)
    d.perturb(dy)
    expanded = R.expansion(dy)
    d.eq(expanded, "expansion")
    first = R.drop_higher_order(expanded)
    if first != expanded:
        d.eq(first, "drop-higher-order")

    # 3: the loss differential
    if is_loss:
        terms = _split(first)
    else:
        d.loss_differential()
        current = Inner(d.grad, first)
        d.eq(current, "substitution")
        parts = _split(first)
        if len(parts) > 1:
            terms = R.inner_linearity(d.grad, parts)
            terms = [(c, t) for c, (_, t) in zip([c for c, _ in parts], terms)]
            d.eq(add(terms, (1, 1)), "inner-linearity")
        else:
            terms = [(parts[0][0], Inner(d.grad, parts[0][1]))]
            if parts[0][0] != 1:
                d.eq(add(terms, (1, 1)), "inner-linearity")
        terms = [(c, t) for c, t in terms]
    if len(terms) > 1 and is_loss and isinstance(first, Scale):
        d.eq(add(terms, (1, 1)), "expansion")

    # 4: move Δθ to the right, stage by stage
    for _round in range(3):
        for stage in STAGES:
            if stage is None:
                merged = R.collect(terms, _same)
                if len(merged) < len(terms):
                    terms = merged
                    d.eq(add(terms, (1, 1)), "collect")
                continue
            names, new = [], []
            for c, t in terms:
                mv = stage(t, theta)
                if mv:
                    names.append(mv[0])
                    t = mv[1]
                new.append((c, t))
            if names:
                terms = new
                d.eq(add(terms, (1, 1)), _rule_name(names))
        if all(_done(t, theta) for _, t in terms):
            break
    else:
        stuck = [t for _, t in terms if not _done(t, theta)]
        raise DerivationError(f"cannot bring {stuck[0]!r} into the form ⟨G, Δ{theta.name}⟩")

    # 5: one inner product, then read off
    if len(terms) > 1 or terms[0][0] != 1:
        G = add([(c, t.left) for c, t in terms], theta.shape)
        d.eq(Inner(G, terms[0][1].right), "inner-linearity")
    else:
        G = terms[0][1].left
    d.eq(R.restate(G, d.delta_wrt), "restate", lhs=d.delta_loss)
    d.read_off(G)
    return d.check() if check else d

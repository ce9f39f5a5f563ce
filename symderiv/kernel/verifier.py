"""The verifier: decide ``lhs = rhs`` for all entries and all dimensions.

Pipeline for one claim (see ``docs/verification.md`` for the proofs). This module does steps 1–2
and the first-order split; the dispatcher (:mod:`symderiv.kernel.dispatch`) hands the expanded
sums to the matrix procedure (:mod:`symderiv.kernel.matrix`, steps 3–6) or to the sequence
procedure (:mod:`symderiv.kernel.convolution`):

1. **Shapes** must agree exactly (symbolic dimensions are independent).
2. **Expand** both sides into monomials and compile each to its index graph; the size bound
   B_d is the largest number of index vertices of type d in any monomial.
3. **Screen**: evaluate both sides exactly with random 64-bit integer entries at N = B.
   A difference is a certain refutation; agreement proves nothing by itself.
4. **Proof**: canonical forms of the index graphs. The claim holds for all sizes iff every
   isomorphism class has coefficient sum 0 (Theorem 1). This is size-independent.
5. **Second, independent proof** when affordable: the two sides are equal as polynomials in
   symbolic entries at N = B, which by Theorem 1 also implies equality for all sizes.
6. **Counterexample** on failure: the smallest sizes (≤ B) and small integer entries where the
   sides differ, shrunk towards 0 and ±1.

A verdict is ``verified`` only when step 4 (or 5) succeeds, ``failed`` only on a concrete
difference or an unequal canonical form (which Theorem 1 makes a proof of inequality), and
``undecided`` whenever a budget runs out first.

"Equal to first order" compares the parts of degree ≤ 1 in the perturbation symbols Δ and
reports the higher-order terms that were dropped.
"""
from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

from symderiv.errors import BudgetExceeded, NotInFragment, SymderivError
from symderiv.kernel.atoms import at_base_point, has_atoms, has_matrix_functions, linearize, lower
from symderiv.kernel.evaluate import INT, Counterexample, evaluate
from symderiv.kernel.hypotheses import Hypothesis, describe, guards, matrix_conditions, positive_names, substitution
from symderiv.kernel.expand import delta_degree, expand
from symderiv.kernel.dispatch import decide_terms
from symderiv.kernel.indexgraph import class_sums
from symderiv.lang.operators import (
    Add, Expr, Fn, MatMul, Scale, Sym, Transpose, add, as_expr, is_sequence_expr, map_bottom_up, mul, substitute,
)
from symderiv.kernel.verdict import (
    DEFAULT_BUDGET, FAILED, UNDECIDED, VERIFIED, Budget, Term, Verdict, decided,
)

__all__ = ["DEFAULT_BUDGET", "FAILED", "UNDECIDED", "VERIFIED", "Budget", "Term", "Verdict", "verify_equal",
           "verify_first_order", "normalize_nesting", "MAX_DEPTH"]


def _describe_difference(diff: list[Term], limit: int = 4) -> str:
    shown = [t.plain() for t in diff[:limit]]
    more = f" and {len(diff) - limit} more" if len(diff) > limit else ""
    return "left minus right leaves " + " + ".join(shown).replace("+ -", "- ") + more


def _shape_verdict(lhs: Expr, rhs: Expr, relation: str) -> Verdict | None:
    if lhs.shape == rhs.shape:
        return None
    return decided(
        FAILED,
        "shape check",
        reason=f"shapes differ: the left side is {lhs.shape[0]}×{lhs.shape[1]}, "
        f"the right side is {rhs.shape[0]}×{rhs.shape[1]}",
        relation=relation,
        methods=["shape-check"],
        lhs=lhs,
        rhs=rhs,
    )


def _check_symbols(*exprs: Expr) -> None:
    seen: dict[str, tuple[object, object]] = {}
    for e in exprs:
        # every occurrence, not e.symbols() (one per name): x ∈ Rⁿ and x ∈ Rᵐ on the same side would
        # otherwise pass, and be one symbol to every pass keyed by name
        for s in (node for node in e.walk() if isinstance(node, Sym)):
            if seen.setdefault(s.name, s.shape) != s.shape:
                raise SymderivError(
                    f"symbol {s.name} is used with two shapes: {seen[s.name]} and {s.shape}"
                )


#: Deepest expression tree (after :func:`normalize_nesting`) that the recursive passes accept;
#: deeper ones get ``undecided`` instead of exhausting Python's stack.
MAX_DEPTH = 150


def _flatten_node(e: Expr) -> Expr:
    """One step of :func:`normalize_nesting` at a node whose children are already normal."""
    if isinstance(e, Transpose) and isinstance(e.arg, Transpose):
        return e.arg.arg
    if isinstance(e, Add) and any(isinstance(a, Add) for a in e.args):
        return Add(*[t for a in e.args for t in (a.args if isinstance(a, Add) else (a,))])
    if isinstance(e, MatMul) and any(isinstance(a, MatMul) and not a.is_scalar for a in e.args):
        return mul(*e.args)
    if isinstance(e, Scale) and isinstance(e.arg, Scale):
        return Scale(e.coef * e.arg.coef, e.arg.arg)
    return e


def normalize_nesting(e: Expr) -> Expr:
    """An equal expression with less nesting: (Xᵀ)ᵀ = X, sums of sums and products of (non-scalar)
    products flattened by associativity, c(dX) = (cd)X. Each rewrite is an identity of the
    language, so the verdict on the result is the verdict on ``e``."""
    if e.depth() <= MAX_DEPTH // 2:
        return e
    return map_bottom_up(e, _flatten_node)


def _too_deep(lhs: Expr, rhs: Expr, relation: str) -> Verdict | None:
    depth = max(lhs.depth(), rhs.depth())
    if depth <= MAX_DEPTH:
        return None
    return decided(
        UNDECIDED,
        "undecided: nesting limit",
        reason=f"the expression is nested {depth} levels deep (after removing double transposes and "
        f"flattening sums and products); the checker handles at most {MAX_DEPTH}",
        relation=relation,
        methods=["depth-limit"],
        lhs=lhs,
        rhs=rhs,
    )


def _undecided_reason(note: str, diff: list[Term]) -> str:
    return note or "no proof and no counterexample was found"


def _dropped_terms(high: list[tuple[Fraction, Expr]], budget: Budget, sequences: bool) -> list[Term]:
    """The terms of order ≥ 2 that a first-order claim drops, grouped so that equal ones cancel.

    Only presentation: the verdict never depends on it. Matrix monomials are grouped by index
    graph class; sequence monomials (outside the index-graph language) by their structure.
    """
    if not sequences:
        hclasses, _ = class_sums(high, budget.max_leaves)
        return [Term(c, m) for c, m, _ in hclasses.values() if c != 0]
    groups: dict[object, tuple[Fraction, Expr]] = {}
    for c, m in high:
        c0, m0 = groups.get(m.key(), (Fraction(0), m))
        groups[m.key()] = (c0 + c, m0)
    return [Term(c, m) for c, m in groups.values() if c != 0]


def _prepare(
    a: object, b: object, relation: str, hypotheses: tuple[Hypothesis, ...] = (),
) -> tuple[Expr, Expr, Expr, Expr, Verdict | None, tuple[Expr, Expr] | None]:
    """Both sides as expressions, as written and with nesting normalised (double transposes removed,
    nested sums and products flattened), hypotheses substituted (Theorem D1) and entrywise
    functions lowered (f′ by the derivative table; for first-order claims, the jets), or the verdict
    that ends the check before expansion (shapes that differ, nesting beyond the limit). Last, when
    inverses or determinants occur, the two sides as written after the substitution: their domains
    are read off these (§1.6), never off the lowered forms."""
    lhs, rhs = as_expr(a), as_expr(b)
    _check_symbols(lhs, rhs)
    v = _shape_verdict(lhs, rhs, relation)
    if v is not None:
        return lhs, rhs, lhs, rhs, v, None
    nl, nr = normalize_nesting(lhs), normalize_nesting(rhs)
    v = _too_deep(nl, nr, relation)
    if v is not None:
        return lhs, rhs, nl, nr, replace(v, lhs=lhs, rhs=rhs), None
    sub = substitution(hypotheses)
    if sub:
        nl, nr = substitute(nl, sub), substitute(nr, sub)
    # an exact claim's domain is that of its sides as written, with Δ a variable like any other; a
    # first-order claim's is at the base point Δ = 0 (§1.2)
    written = None
    if has_matrix_functions(nl, nr):
        written = (nl, nr) if relation == "exact" else (at_base_point(nl), at_base_point(nr))
    if has_atoms(nl, nr):
        nl, nr = lower(nl), lower(nr)
        if relation == "first-order":
            try:
                nl, nr = linearize(nl), linearize(nr)
            except NotInFragment as exc:
                return lhs, rhs, nl, nr, decided(UNDECIDED, "undecided: not differentiable", reason=str(exc),
                                                 relation=relation, methods=["jet"], lhs=lhs, rhs=rhs), None
    return lhs, rhs, nl, nr, None, written


def _show_hypothesis_values(cex: Counterexample | None, hypotheses: tuple[Hypothesis, ...]) -> None:
    """A counterexample found for the substituted claim gives the *parameters* of the onto
    substitution; the user must see the values of the symbols themselves (which satisfy the
    hypotheses), so each substituted symbol's entry is replaced by π(parameters), evaluated exactly."""
    sub = substitution(hypotheses)
    if cex is None or not sub or not all(name in cex.values for name in sub):
        return
    try:
        env = {k: v for k, v in cex.values.items() if isinstance(v, list)}
        shown = {name: evaluate(expr, env, cex.sizes, INT) for name, expr in sub.items()}
    except Exception:  # noqa: BLE001 — only presentation: keep the parameters, say so
        cex.note = (cex.note + "; " if cex.note else "") + "values shown are the parameters of the hypotheses' substitution"
        return
    cex.values = {**cex.values, **shown}
    cex.note = (cex.note + "; " if cex.note else "") + "the values shown satisfy the hypotheses"


def _with_hypotheses(v: Verdict, hypotheses: tuple[Hypothesis, ...]) -> Verdict:
    if not hypotheses:
        return v
    return replace(v, method=v.method + "; " + describe(hypotheses), methods=list(v.methods) + ["hypotheses"])


def verify_equal(
    lhs: object, rhs: object, budget: Budget = DEFAULT_BUDGET, hypotheses: tuple[Hypothesis, ...] = (),
) -> Verdict:
    """Decide whether ``lhs = rhs`` for all entries and all values of the dimension symbols
    (under ``hypotheses``, when given)."""
    return _with_hypotheses(_verify_equal(lhs, rhs, budget, hypotheses), hypotheses)


def _verify_equal(lhs: object, rhs: object, budget: Budget, hypotheses: tuple[Hypothesis, ...]) -> Verdict:
    lhs, rhs, nl, nr, v, written = _prepare(lhs, rhs, "exact", hypotheses)
    if v is not None:
        return v
    try:
        lt = expand(nl, budget.max_terms)
        rt = expand(nr, budget.max_terms)
        d = decide_terms(lt, rt, nl, nr, budget, "both sides", positive_names(hypotheses), guards(hypotheses),
                         written, matrix_conditions(hypotheses))
        _show_hypothesis_values(d.counterexample, hypotheses)
    except BudgetExceeded as exc:
        return decided(UNDECIDED, f"undecided: {exc}", reason="the check ran out of budget", lhs=lhs, rhs=rhs, methods=["budget"])
    status, method, tags, bound, diff, cex, note = (
        d.status, d.method, d.tags, d.bound, d.difference, d.counterexample, d.note)
    reason = ""
    if status == FAILED:
        reason = _describe_difference(diff) if diff else (note or "the two sides evaluate differently")
        if note and diff:
            reason += f" ({note})"
    elif status == UNDECIDED:
        reason = _undecided_reason(note, diff)
    return decided(status, method, reason, counterexample=cex, relation="exact", bound=bound, methods=tags,
                   difference=diff, dropped=[], lhs=lhs, rhs=rhs)


def _with_domains(low: Expr, terms: list[tuple[Fraction, Expr]]) -> Expr:
    """``low`` + 0·(the terms of order ≥ 2 that hold a log, sqrt or 1/x): the same value, but the
    domain of the side as written (§1.2). Truncating to order ≤ 1 must not drop the condition s > 0
    of a log(s) that occurs only in higher-order terms: on the left side the certified screen
    would then refute at points outside 𝒟(lhs), on the right side a right side undefined there
    would pass the domain check."""
    from symderiv.kernel.atoms import NEEDS

    held = [(c, m) for c, m in terms if delta_degree(m) >= 2
            and any(isinstance(n, Fn) and n.name in NEEDS for n in m.walk())]
    return low if not held else Add(low, Scale(0, add(held, low.shape)))


def verify_first_order(
    lhs: object, rhs: object, budget: Budget = DEFAULT_BUDGET, hypotheses: tuple[Hypothesis, ...] = (),
) -> Verdict:
    """Decide whether ``lhs`` and ``rhs`` agree up to terms of order ≥ 2 in the perturbations Δ.

    The parts of order 0 and 1 must be equal for all sizes; the verdict lists the higher-order
    terms that differ (the *dropped* terms).
    """
    return _with_hypotheses(_verify_first_order(lhs, rhs, budget, hypotheses), hypotheses)


def _verify_first_order(lhs: object, rhs: object, budget: Budget, hypotheses: tuple[Hypothesis, ...]) -> Verdict:
    lhs, rhs, nl, nr, v, written = _prepare(lhs, rhs, "first-order", hypotheses)
    if v is not None:
        return v
    try:
        lt = expand(nl, budget.max_terms)
        rt = expand(nr, budget.max_terms)
        low_l = [(c, m) for c, m in lt if delta_degree(m) <= 1]
        low_r = [(c, m) for c, m in rt if delta_degree(m) <= 1]
        high = [(c, m) for c, m in lt if delta_degree(m) >= 2] + [(-c, m) for c, m in rt if delta_degree(m) >= 2]
        dropped = _dropped_terms(high, budget, is_sequence_expr(nl) or is_sequence_expr(nr) or has_atoms(nl, nr))
        leval, reval = add(low_l, lhs.shape), add(low_r, rhs.shape)
        if has_atoms(nl, nr):
            leval, reval = _with_domains(leval, lt), _with_domains(reval, rt)
        d = decide_terms(
            low_l, low_r, leval, reval, budget, "the parts of order ≤ 1 in Δ of both sides", positive_names(hypotheses),
            guards(hypotheses), written, matrix_conditions(hypotheses),
        )
        _show_hypothesis_values(d.counterexample, hypotheses)
    except BudgetExceeded as exc:
        return decided(UNDECIDED, f"undecided: {exc}", reason="the check ran out of budget", relation="first-order", lhs=lhs, rhs=rhs, methods=["budget"])
    status, method, tags, bound, diff, cex, note = (
        d.status, d.method, d.tags, d.bound, d.difference, d.counterexample, d.note)
    reason = ""
    if status == FAILED:
        first = [t for t in diff if t.order == 1]
        zeroth = [t for t in diff if t.order == 0]
        parts = []
        if first:
            parts.append("first-order terms differ: " + _describe_difference(first))
        if zeroth:
            parts.append("terms free of Δ differ: " + _describe_difference(zeroth))
        reason = "; ".join(parts) or "the parts of order ≤ 1 evaluate differently"
        if note:
            reason += f" ({note})"
        if cex is not None:
            cex.note = "values of the parts of order ≤ 1 in Δ" + ("; " + cex.note if cex.note else "")
    elif status == UNDECIDED:
        reason = _undecided_reason(note, diff)
    else:
        if dropped:
            method += "; dropped terms of order ≥ 2: " + ", ".join(t.plain() for t in dropped)
        tags = tags + ["first-order"]
    return decided(status, method, reason, counterexample=cex, relation="first-order", bound=bound, methods=tags,
                   difference=diff, dropped=dropped, lhs=lhs, rhs=rhs)

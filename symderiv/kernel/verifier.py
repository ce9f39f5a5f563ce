"""The verifier: decide ``lhs = rhs`` for all entries and all dimensions.

Pipeline for one claim (see ``docs/verification.md`` for the proofs):

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

import zlib
from dataclasses import replace
from fractions import Fraction

from symderiv.errors import BudgetExceeded, SymderivError
from symderiv.kernel.evaluate import (
    Counterexample,
    Deadline,
    dims_of,
    monomial_estimate,
    polynomial_identity,
)
from symderiv.kernel.expand import delta_degree, expand
from symderiv.kernel.convolution import decide
from symderiv.kernel import refute
from symderiv.kernel.indexgraph import class_sums
from symderiv.lang.operators import Add, Expr, MatMul, Scale, Transpose, add, as_expr, is_sequence_expr, map_bottom_up, mul
from symderiv.lang.printing import latex, plain
from symderiv.kernel.verdict import (
    DEFAULT_BUDGET, FAILED, UNDECIDED, VERIFIED, Budget, Term, Verdict, decided, fmt_sizes,
)

__all__ = ["DEFAULT_BUDGET", "FAILED", "UNDECIDED", "VERIFIED", "Budget", "Term", "Verdict", "verify_equal",
           "verify_first_order", "normalize_nesting", "MAX_DEPTH"]


def _seed(*exprs: Expr) -> int:
    return zlib.crc32("|".join(plain(e) for e in exprs).encode())


def _describe_difference(diff: list[Term], limit: int = 4) -> str:
    shown = [t.plain() for t in diff[:limit]]
    more = f" and {len(diff) - limit} more" if len(diff) > limit else ""
    return "left minus right leaves " + " + ".join(shown).replace("+ -", "- ") + more


def _decide(
    lterms, rterms, leval: Expr, reval: Expr, budget: Budget, what: str
) -> tuple[str, str, list[str], dict[str, int], list[Term], Counterexample | None, str]:
    """Decide Σ lterms = Σ rterms. ``leval``/``reval`` are the expressions evaluated explicitly.

    Returns (status, method, method tags, bound, non-cancelling classes, counterexample, note).
    Correlation/convolution expressions go to :mod:`symderiv.convolution`.
    """
    if is_sequence_expr(leval) or is_sequence_expr(reval):
        return decide(lterms, rterms, leval, reval, budget.seconds, what)
    deadline = Deadline(budget.seconds)
    all_terms = list(lterms) + [(-c, m) for c, m in rterms]
    classes, bound = class_sums(all_terms, budget.max_leaves)
    diff = [Term(c, m) for c, m, _ in classes.values() if c != 0]
    dims = dims_of(leval, reval)
    sizes = {d: max(bound.get(d, 1), 1) for d in dims}
    numeric = sorted(t for t in bound if t.isdigit())
    seed = _seed(leval, reval)
    tags: list[str] = []

    # Screen: a difference found here is a fact, whatever the canonical forms say. The screen and
    # the counterexample search are untrusted: a difference counts only through evidence that is
    # re-evaluated exactly here (the small counterexample, or else the screen's own entries).
    search = refute.current()
    differs, env, a, b = search.integer_screen(leval, reval, sizes, deadline, seed)
    cex = None
    if differs or (diff and not numeric):
        cex = refute.confirm(search.find_counterexample(leval, reval, bound, deadline, seed), leval, reval, deadline)
        if cex is None and differs:  # only large entries separate the sides: report those, once re-checked
            differs = refute.differs_at(leval, reval, sizes, env, deadline)
            if differs:
                cex = Counterexample(dict(sizes), env, a, b, note="random 64-bit entries")
    if differs or (diff and not numeric):
        if differs or cex is not None:
            tags = ["exact-integer-evaluation"] + (["canonical-form"] if diff else [])
            method = (
                f"refuted: exact integer evaluation at {fmt_sizes(cex.sizes)} gives different values"
                + ("; the index-graph canonical forms differ too (Theorem 1: unequal for every size ≥ B)" if diff else "")
            )
        else:
            tags = ["canonical-form"]
            method = (
                "refuted for all sizes ≥ B: the index-graph canonical forms differ (Theorem 1); "
                "no small integer counterexample was found within the budget"
            )
        note = "" if diff else "internal inconsistency: canonical forms agree but evaluation differs; please report"
        return FAILED, method, tags, bound, diff, cex, note

    if not diff:
        tags.append("canonical-form")
        method = (
            f"proved for all sizes: {what} have the same index-graph canonical form "
            f"({len(classes)} class{'es' if len(classes) != 1 else ''} of monomials; Theorem 1)"
        )
        est = monomial_estimate([g.vertex_counts() for _, _, g in classes.values()], sizes)
        if est <= budget.max_explicit_monomials:
            try:
                ok = polynomial_identity(leval, reval, sizes, deadline)
            except BudgetExceeded:
                ok = None
            if ok is False:
                cex = refute.confirm(search.find_counterexample(leval, reval, bound, deadline, seed), leval, reval, deadline)
                return FAILED, "refuted by exact polynomial evaluation", ["explicit-polynomial"], bound, diff, cex, (
                    "internal inconsistency: canonical forms agree but polynomial evaluation differs; please report"
                )
            if ok:
                tags.append("explicit-polynomial")
                method += (
                    f"; confirmed independently by an exact polynomial identity with symbolic entries "
                    f"at {fmt_sizes(sizes)}, the size bound B"
                )
        tags.append("integer-screen")
        return VERIFIED, method, tags, bound, diff, None, ""

    # Canonical forms differ but a numeric dimension ≥ 2 is fixed: the classes may still agree
    # at that size, so only explicit evaluation at the declared size decides.
    est = monomial_estimate([g.vertex_counts() for _, _, g in classes.values()], sizes)
    if est > budget.max_decisive_monomials:
        raise BudgetExceeded("explicit evaluation at the fixed numeric sizes is too large")
    if polynomial_identity(leval, reval, sizes, deadline):
        return VERIFIED, (
            f"proved: exact polynomial identity with symbolic entries at {fmt_sizes(sizes)} "
            f"(numeric dimensions {', '.join(numeric)} fixed; symbolic dimensions at the bound B)"
        ), ["explicit-polynomial"], bound, [], None, ""
    cex = refute.confirm(search.find_counterexample(leval, reval, bound, deadline, seed), leval, reval, deadline)
    return FAILED, "refuted by exact polynomial evaluation at the declared sizes", ["explicit-polynomial"], bound, diff, cex, ""


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
    seen: dict[str, tuple] = {}
    for e in exprs:
        for s in e.symbols():
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


def _dropped_terms(high, budget: Budget, sequences: bool) -> list[Term]:
    """The terms of order ≥ 2 that a first-order claim drops, grouped so that equal ones cancel.

    Only presentation: the verdict never depends on it. Matrix monomials are grouped by index
    graph class; sequence monomials (outside the index-graph language) by their structure.
    """
    if not sequences:
        hclasses, _ = class_sums(high, budget.max_leaves)
        return [Term(c, m) for c, m, _ in hclasses.values() if c != 0]
    groups: dict[tuple, list] = {}
    for c, m in high:
        g = groups.setdefault(m.key(), [Fraction(0), m])
        g[0] += c
    return [Term(c, m) for c, m in groups.values() if c != 0]


def verify_equal(lhs, rhs, budget: Budget = DEFAULT_BUDGET) -> Verdict:
    """Decide whether ``lhs = rhs`` for all entries and all values of the dimension symbols."""
    lhs, rhs = as_expr(lhs), as_expr(rhs)
    _check_symbols(lhs, rhs)
    v = _shape_verdict(lhs, rhs, "exact")
    if v is not None:
        return v
    nl, nr = normalize_nesting(lhs), normalize_nesting(rhs)
    v = _too_deep(nl, nr, "exact")
    if v is not None:
        return replace(v, lhs=lhs, rhs=rhs)
    try:
        lt = expand(nl, budget.max_terms)
        rt = expand(nr, budget.max_terms)
        status, method, tags, bound, diff, cex, note = _decide(lt, rt, nl, nr, budget, "both sides")
    except BudgetExceeded as exc:
        return decided(UNDECIDED, f"undecided: {exc}", reason="the check ran out of budget", lhs=lhs, rhs=rhs, methods=["budget"])
    reason = ""
    if status == FAILED:
        reason = _describe_difference(diff) if diff else (note or "the two sides evaluate differently")
        if note and diff:
            reason += f" ({note})"
    elif status == UNDECIDED:
        reason = _undecided_reason(note, diff)
    return decided(status, method, reason, cex, "exact", bound, tags, diff, [], lhs, rhs)


def verify_first_order(lhs, rhs, budget: Budget = DEFAULT_BUDGET) -> Verdict:
    """Decide whether ``lhs`` and ``rhs`` agree up to terms of order ≥ 2 in the perturbations Δ.

    The parts of order 0 and 1 must be equal for all sizes; the verdict lists the higher-order
    terms that differ (the *dropped* terms).
    """
    lhs, rhs = as_expr(lhs), as_expr(rhs)
    _check_symbols(lhs, rhs)
    v = _shape_verdict(lhs, rhs, "first-order")
    if v is not None:
        return v
    nl, nr = normalize_nesting(lhs), normalize_nesting(rhs)
    v = _too_deep(nl, nr, "first-order")
    if v is not None:
        return replace(v, lhs=lhs, rhs=rhs)
    try:
        lt = expand(nl, budget.max_terms)
        rt = expand(nr, budget.max_terms)
        low_l = [(c, m) for c, m in lt if delta_degree(m) <= 1]
        low_r = [(c, m) for c, m in rt if delta_degree(m) <= 1]
        high = [(c, m) for c, m in lt if delta_degree(m) >= 2] + [(-c, m) for c, m in rt if delta_degree(m) >= 2]
        dropped = _dropped_terms(high, budget, is_sequence_expr(nl) or is_sequence_expr(nr))
        leval, reval = add(low_l, lhs.shape), add(low_r, rhs.shape)
        status, method, tags, bound, diff, cex, note = _decide(
            low_l, low_r, leval, reval, budget, "the parts of order ≤ 1 in Δ of both sides"
        )
    except BudgetExceeded as exc:
        return decided(UNDECIDED, f"undecided: {exc}", reason="the check ran out of budget", relation="first-order", lhs=lhs, rhs=rhs, methods=["budget"])
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
            cex.note = "values of the parts of order ≤ 1 in Δ"
    elif status == UNDECIDED:
        reason = _undecided_reason(note, diff)
    else:
        if dropped:
            method += "; dropped terms of order ≥ 2: " + ", ".join(t.plain() for t in dropped)
        tags = tags + ["first-order"]
    return decided(status, method, reason, cex, "first-order", bound, tags, diff, dropped, lhs, rhs)

"""The matrix decision procedure: index-graph canonical forms (Theorem 1), with the exact
integer screen and the explicit polynomial identity as the second, independent proof.

Reached only through the dispatcher :func:`symderiv.kernel.dispatch.decide_terms`.
"""
from __future__ import annotations

import zlib
from fractions import Fraction

from symderiv.errors import BudgetExceeded
from symderiv.kernel import refute
from symderiv.kernel.budget import Meter
from symderiv.kernel.evaluate import Counterexample, dims_of, monomial_estimate, polynomial_identity
from symderiv.kernel.indexgraph import class_sums
from symderiv.kernel.verdict import FAILED, VERIFIED, Budget, Decision, Term, fmt_sizes
from symderiv.lang.operators import Expr
from symderiv.lang.printing import plain


def _seed(*exprs: Expr) -> int:
    return zlib.crc32("|".join(plain(e) for e in exprs).encode())


def decide_matrix(
    lterms: list[tuple[Fraction, Expr]], rterms: list[tuple[Fraction, Expr]], leval: Expr, reval: Expr,
    budget: Budget, deadline: Meter, what: str,
) -> Decision:
    """The matrix procedure for Σ lterms = Σ rterms (index-graph canonical forms, Theorem 1).

    ``leval``/``reval`` are the expressions evaluated explicitly (screen, counterexample, the
    second proof by a polynomial identity)."""
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
        if cex is not None:  # differs ⇒ cex: a difference is reported only with its re-checked evidence
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
        return Decision(FAILED, method, tags, bound, diff, cex, note)

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
                return Decision(FAILED, "refuted by exact polynomial evaluation", ["explicit-polynomial"], bound, diff, cex, (
                    "internal inconsistency: canonical forms agree but polynomial evaluation differs; please report"
                ))
            if ok:
                tags.append("explicit-polynomial")
                method += (
                    f"; confirmed independently by an exact polynomial identity with symbolic entries "
                    f"at {fmt_sizes(sizes)}, the size bound B"
                )
        tags.append("integer-screen")
        return Decision(VERIFIED, method, tags, bound, diff, None, "")

    # Canonical forms differ but a numeric dimension ≥ 2 is fixed: the classes may still agree
    # at that size, so only explicit evaluation at the declared size decides.
    est = monomial_estimate([g.vertex_counts() for _, _, g in classes.values()], sizes)
    if est > budget.max_decisive_monomials:
        raise BudgetExceeded("explicit evaluation at the fixed numeric sizes is too large")
    if polynomial_identity(leval, reval, sizes, deadline):
        return Decision(VERIFIED, (
            f"proved: exact polynomial identity with symbolic entries at {fmt_sizes(sizes)} "
            f"(numeric dimensions {', '.join(numeric)} fixed; symbolic dimensions at the bound B)"
        ), ["explicit-polynomial"], bound, [], None, "")
    cex = refute.confirm(search.find_counterexample(leval, reval, bound, deadline, seed), leval, reval, deadline)
    return Decision(FAILED, "refuted by exact polynomial evaluation at the declared sizes", ["explicit-polynomial"], bound, diff, cex, "")

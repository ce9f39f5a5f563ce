"""The procedure for claims with entrywise functions (parts B–C of ``verification-theory-2``).

1. **Abstract** every atom f(M) to a symbol labelled by its value key (:mod:`symderiv.kernel.atoms`).
2. **Canonical forms** of the abstracted claim, with coefficients in ℚ(N) (Theorems 1 and A). If every
   class cancels and the domain check passes, the claim holds (Theorem B1): **verified**.
3. Otherwise the atoms may still satisfy relations the abstraction does not see (tanh x = 2σ(2x) − 1),
   so a difference of canonical forms is *not* a proof of inequality here. The claim is **failed**
   only with a certified counterexample (:mod:`symderiv.kernel.certified`), else **undecided** with
   the difference and the numeric evidence.

Domain check (§1.6): every log, sqrt and 1/x on the right side must be defined wherever the left
side is: the same condition on an argument of equal value on the left, or the positivity oracle.
"""
from __future__ import annotations

import zlib
from fractions import Fraction

from symderiv.errors import BudgetExceeded
from symderiv.kernel.atoms import (
    NEEDS,
    Abstraction,
    domain_conditions,
    implied,
    matrix_domain_conditions,
    required_matrix_conditions,
    sign,
    transpose_key,
)
from symderiv.kernel.budget import Meter
from symderiv.kernel.certified import certified_counterexample
from symderiv.kernel.expand import expand
from symderiv.kernel.indexgraph import class_sums
from symderiv.kernel.matrix import class_terms, pole_text
from symderiv.kernel.verdict import FAILED, UNDECIDED, VERIFIED, Budget, Decision
from symderiv.lang.operators import Expr, Fn, MatMul, Ones, Sym, map_bottom_up
from symderiv.lang.printing import plain

#: which answers of the positivity oracle establish each condition
_ORACLE_PROVES = {"pos": {"pos"}, "nonneg": {"pos", "nonneg"}, "nonzero": {"pos"}}
_NEED_TEXT = {"pos": "a positive argument", "nonneg": "a non-negative argument", "nonzero": "a non-zero argument"}


_MATRIX_NEED_TEXT = {"invertible": "an invertible matrix", "detpos": "a matrix with a positive determinant"}


def matrix_domain_gap(domain: tuple[Expr, Expr], ab: Abstraction, conditions: tuple[tuple[str, Expr], ...]) -> str:
    """"" when every inverse and log-determinant of the right side *as written* is defined wherever
    the left side as written is (its own inverses and log-determinants, factors of invertible
    products, and the hypotheses' conditions), else why not."""
    left, right = domain
    have = matrix_domain_conditions(left, ab)
    for cond, m in conditions:
        have.add((cond, transpose_key(m, ab)))
        if cond == "detpos":
            have.add(("invertible", transpose_key(m, ab)))
    for cond, key, arg in required_matrix_conditions(right, ab):
        if not implied(cond, key, have):
            return (f"the right side needs {_MATRIX_NEED_TEXT[cond]} {plain(arg)}, and nothing on the left side or in "
                    f"the hypotheses guarantees it")
    return ""


def domain_gap(lhs: Expr, rhs: Expr, ab: Abstraction, positive: frozenset[str]) -> str:
    """"" when every definedness condition of ``rhs`` follows from ``lhs`` or the oracle, else why not."""
    have = domain_conditions(lhs, ab)
    for n in rhs.walk():
        if not (isinstance(n, Fn) and n.name in NEEDS):
            continue
        cond = NEEDS[n.name]
        key = ab.key(ab(n.arg))
        if implied(cond, key, have):
            continue
        if sign(n.arg, positive) in _ORACLE_PROVES[cond]:
            continue
        return (f"{n.name} on the right side needs {_NEED_TEXT[cond]}, and nothing on the left side or in the "
                f"hypotheses guarantees it for {plain(n.arg)}")
    return ""


def _is_recip_label(n: Expr, ab: Abstraction) -> bool:
    return isinstance(n, Sym) and n.kind == "atom" and ab.argument.get(n.name, ("", n))[0] == "recip"


def _count(m: Expr, name: str) -> int:
    return sum(1 for node in m.walk() if isinstance(node, Sym) and node.name == name)


def _without(m: Expr, name: str) -> Expr:
    return map_bottom_up(m, lambda node: Ones(1, 1) if isinstance(node, Sym) and node.name == name else node)


def _power(s: Expr, k: int, m: Expr) -> Expr:
    return m if k == 0 else MatMul(*([s] * k), m)


Terms = list[tuple[Fraction, Expr]]


def clear_scalar_atoms(terms: Terms, ab: Abstraction, budget: Budget) -> tuple[Terms, list[str]]:
    """Theorem C1 then C2 on the abstracted difference Σ c_t T_t.

    C1: for a scalar reciprocal r = recip(s) whose argument has no reciprocal inside, with K its
    largest multiplicity in a term, each term T·r^k becomes T·s^{K−k}: the result is s^K times the
    difference, so it vanishes identically only if the difference vanishes wherever s ≠ 0 (and s ≠ 0
    wherever the claim is defined, since r occurs in it). C2: √v·√v = v wherever √v is defined, so
    pairs of a scalar square root are replaced by its radicand. Returns the new terms and what was done."""
    done: list[str] = []
    for label, (fname, arg) in list(ab.argument.items()):
        if fname != "recip" or not arg.is_scalar:
            continue
        if any(_is_recip_label(n, ab) for n in arg.walk()):
            continue  # not innermost
        K = max((_count(m, label) for _, m in terms), default=0)
        if K == 0:
            continue
        new: list[tuple[Fraction, Expr]] = []
        for c, m in terms:
            k = _count(m, label)
            new.extend((c * c2, m2) for c2, m2 in expand(_power(arg, K - k, _without(m, label)), budget.max_terms))
        terms = new
        done.append(f"multiplied by ({plain(ab.restore(arg))})^{K} to clear 1/({plain(ab.restore(arg))}) (Theorem C1)")
    for label, (fname, arg) in list(ab.argument.items()):
        if fname != "sqrt" or not arg.is_scalar:
            continue
        if not any(_count(m, label) >= 2 for _, m in terms):
            continue
        new = []
        for c, m in terms:
            k = _count(m, label)
            body = _without(m, label) if k >= 2 else m
            body = body if k < 2 else _power(arg, k // 2, MatMul(ab.labels_by_name[label], body) if k % 2 else body)
            new.extend((c * c2, m2) for c2, m2 in expand(body, budget.max_terms))
        terms = new
        done.append(f"√v·√v = v for v = {plain(ab.restore(arg))} (Theorem C2)")
    return terms, done


def decide_nonlinear(
    lterms: list[tuple[Fraction, Expr]], rterms: list[tuple[Fraction, Expr]], leval: Expr, reval: Expr,
    budget: Budget, deadline: Meter, what: str, positive: frozenset[str] = frozenset(),
    guards: tuple[Expr, ...] = (), domain: tuple[Expr, Expr] | None = None,
    conditions: tuple[tuple[str, Expr], ...] = (),
) -> Decision:
    """``domain`` is the two sides as written (before lowering and jets), from which the conditions
    of inverses and log-determinants are read; ``conditions`` are the hypotheses' (invertible M,
    det M > 0)."""
    ab = Abstraction(budget.max_terms, budget.max_leaves)
    all_terms = [(c, ab(m)) for c, m in lterms] + [(-c, ab(m)) for c, m in rterms]
    if ab.symmetrized:  # the label of an atom with a symmetric argument is ½(L + Lᵀ): expand again
        all_terms = [(c * c2, m2) for c, m in all_terms for c2, m2 in expand(m, budget.max_terms)]
    classes, bound = class_sums(all_terms, budget.max_leaves)
    diff = class_terms(classes, ab)
    gap = domain_gap(leval, reval, ab, positive)
    if not gap and domain is not None:
        gap = matrix_domain_gap(domain, ab, conditions)
    labels = len(ab.labels)
    cleared: list[str] = []
    if diff:
        cleared_terms, cleared = clear_scalar_atoms(all_terms, ab, budget)
        if cleared:
            classes2, bound2 = class_sums(cleared_terms, budget.max_leaves)
            if not class_terms(classes2):
                diff, classes = [], classes2
                bound = {d: max(bound.get(d, 0), k) for d, k in {**bound, **bound2}.items()}
            else:
                cleared = []
    piecewise = any(isinstance(n, Fn) and n.name == "step" for e in (leval, reval) for n in e.walk())
    ae = ("; relu′ = step and step′ = 0 are used off the zero sets of their arguments, so the claim holds "
          "almost everywhere" if piecewise else "")
    if not diff and not gap:
        inverses = sorted({n.name for _, m in all_terms for n in m.walk()
                           if isinstance(n, Sym) and n.kind == "inverse"})
        kinds = {ab.argument.get(lab.name, ("fn", lab))[0] for lab in ab.labels.values()}
        if kinds & {"inv", "det", "logdet"}:
            kind = "atom" + ("s" if labels != 1 else "") + " (" + ", ".join(
                k for k, present in (("entrywise functions", bool(kinds - {"inv", "det", "logdet"})),
                                     ("inverses of sums", "inv" in kinds),
                                     ("determinants", bool(kinds & {"det", "logdet"}))) if present) + ")"
        else:
            kind = "entrywise-function atom" + ("s" if labels != 1 else "")
        atoms = (f"with each of the {labels} {kind} replaced by a symbol labelled by the value of its argument"
                 if labels else "with each inverse of a symbol as an edge of its own")
        cancel = ("; X X⁻¹ = X⁻¹X = I by free cancellation on the index graphs (Lemma E0), where "
                  + ", ".join(plain(ab.argument[i][1]) for i in inverses)
                  + (" is" if len(inverses) == 1 else " are") + " invertible" if inverses else "")
        return Decision(VERIFIED, (
            f"proved for all sizes: {atoms}, {what} have the same index-graph "
            f"canonical form ({len(classes)} class{'es' if len(classes) != 1 else ''}; Theorems 1, A and B1)"
            + cancel
            + (" after clearing scalar denominators: " + "; ".join(cleared) if cleared else "")
            + pole_text(leval, reval) + ae
        ), ["canonical-form", "atom-abstraction"] + (["cleared-denominators"] if cleared else []), bound, [], None, "")
    seed = zlib.crc32((plain(leval) + "|" + plain(reval)).encode())
    try:
        cex, seen = certified_counterexample(leval, reval, bound, positive, deadline, seed, budget.certified_points,
                                               guards, domain)
    except BudgetExceeded:
        cex, seen = None, "the certified screen ran out of budget"
    if cex is not None:
        at = ", ".join(f"{k}={v}" for k, v in cex.sizes.items()) or "the declared sizes"
        if cex.rhs == [["undefined"]]:
            return Decision(FAILED, (
                f"refuted on domain grounds: at {at} the left side is defined and the right side is certainly "
                "undefined (exact or interval evaluation)"
            ), ["certified-interval", "domain-witness"], bound, diff, cex,
                "the left side is defined there and the right side is not (a claim must hold wherever its "
                "left side is defined)")
        return Decision(FAILED, (
            f"refuted: interval evaluation at {at} "
            "gives provably different values (certified enclosures are disjoint)"
        ), ["certified-interval"] + (["canonical-form"] if diff else []), bound, diff, cex, "")
    if diff:
        note = ("the canonical forms with entrywise functions as atoms differ, but atoms can satisfy relations "
                "the abstraction does not see, so this is not a proof of inequality; no certified counterexample "
                f"was found ({seen})")
    else:
        note = f"the two sides agree where both are defined, but {gap}; no point where it fails was found ({seen})"
    return Decision(UNDECIDED, "undecided: " + ("canonical forms differ" if diff else "domain"),
                    ["atom-abstraction", "certified-interval"], bound, diff, None, note)

"""Assertions for test suites: gradients and identities checked symbolically, for all sizes.

Each helper raises :class:`AssertionError` with a message a tester can act on without a
debugger, in the spirit of hypothesis's "Falsifying example": the claim (plain text and LaTeX),
the rule, the reason, the smallest counterexample with both sides' values, and the method.
``undecided`` fails too, with its own message, unless ``allow_undecided=True``.

    from symderiv.testing import assert_gradient
    assert_gradient(g.T * W * x, W, g * x.T)
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from symderiv.derive.assumptions import as_hypotheses
from symderiv.derive.derivation import Derivation
from symderiv.kernel.decide import (
    UNDECIDED,
    VERIFIED,
    Budget,
    Hypothesis,
    Verdict,
    check_gradient,
    verify_equal,
    verify_first_order,
)
from symderiv.lang.operators import as_expr, sym_from
from symderiv.lang.printing import latex, plain
from symderiv.lang.status import Status
from symderiv.report.marks import mark

__all__ = ["assert_equal", "assert_first_order_equal", "assert_gradient", "assert_derivation", "assert_document",
           "SymderivAssertionError", "format_failure"]


class SymderivAssertionError(AssertionError):
    """An assertion failure carrying the verdict it came from."""

    def __init__(self, message: str, verdict: Verdict | None = None):
        super().__init__(message)
        self.verdict = verdict


def format_failure(title: str, verdict: Verdict, claim_text: str = "", claim_latex: str = "", rule: str = "",
                   where: str = "") -> str:
    head = {Status.FAILED: "Falsifying example", Status.UNDECIDED: "Undecided (not proved, not refuted)"}.get(
        verdict.status, str(verdict.status))
    lines = [f"{title}", f"{mark(verdict.status)} {head}{' at ' + where if where else ''}:"]
    if claim_text:
        lines.append(f"  claim:   {claim_text}")
    if claim_latex:
        lines.append(f"  latex:   {claim_latex}")
    if rule:
        lines.append(f"  rule:    {rule}")
    if verdict.reason:
        lines.append(f"  reason:  {verdict.reason}")
    if verdict.counterexample is not None:
        lines.append("  smallest counterexample:")
        lines.append(verdict.counterexample.describe("    "))
    if verdict.dropped:
        lines.append("  dropped higher-order terms: " + ", ".join(t.plain() for t in verdict.dropped))
    lines.append(f"  method:  {verdict.method}")
    if verdict.status == UNDECIDED:
        lines.append("  (pass allow_undecided=True to accept an undecided verdict)")
    return "\n".join(lines)


def _raise_unless_verified(title: str, verdict: Verdict, allow_undecided: bool, **kw) -> Verdict:
    __tracebackhide__ = True
    if verdict.status == VERIFIED or (allow_undecided and verdict.status == UNDECIDED):
        return verdict
    raise SymderivAssertionError(format_failure(title, verdict, **kw), verdict)


def _claim(lhs, rhs) -> dict:
    a, b = as_expr(lhs), as_expr(rhs)
    return {"claim_text": f"{plain(a)} = {plain(b)}", "claim_latex": f"{latex(a)} = {latex(b)}"}


def _budget(budget: Budget | None) -> dict[str, Budget]:
    """Pass a budget on only when the caller gave one, so the kernel's default stays the default."""
    return {} if budget is None else {"budget": budget}


def _hyps(hypotheses: Iterable[Any] | None, assume: Iterable[Any] | None) -> dict[str, tuple[Hypothesis, ...]]:
    """``hypotheses=`` and its alias ``assume=`` as kernel hypotheses (passed on only when given)."""
    hs = as_hypotheses(list(hypotheses or ()) + list(assume or ()))
    return {"hypotheses": hs} if hs else {}


def assert_equal(lhs: Any, rhs: Any, allow_undecided: bool = False, budget: Budget | None = None,
                 hypotheses: Iterable[Any] | None = None, assume: Iterable[Any] | None = None) -> Verdict:
    """Assert lhs = rhs for all entries and all dimensions (within ``budget``, else the default),
    under ``hypotheses`` (alias ``assume``): e.g. ``assume=[sums_to(y)]``."""
    __tracebackhide__ = True
    v = verify_equal(lhs, rhs, **_budget(budget), **_hyps(hypotheses, assume))
    title = "symderiv: the two sides are not equal for all sizes"
    return _raise_unless_verified(title, v, allow_undecided, **_claim(lhs, rhs))


def assert_first_order_equal(lhs: Any, rhs: Any, allow_undecided: bool = False,
                             budget: Budget | None = None, hypotheses: Iterable[Any] | None = None,
                             assume: Iterable[Any] | None = None) -> Verdict:
    """Assert lhs = rhs up to terms of order ≥ 2 in the perturbations Δ (under ``hypotheses``)."""
    __tracebackhide__ = True
    v = verify_first_order(lhs, rhs, **_budget(budget), **_hyps(hypotheses, assume))
    title = "symderiv: the two sides differ to first order"
    return _raise_unless_verified(title, v, allow_undecided, **_claim(lhs, rhs))


def assert_gradient(L: Any, wrt: Any, expected: Any, allow_undecided: bool = False,
                    budget: Budget | None = None, hypotheses: Iterable[Any] | None = None,
                    assume: Iterable[Any] | None = None) -> Verdict:
    """Assert that ``expected`` is the gradient of the scalar expression ``L`` with respect to ``wrt``
    (e.g. ``assert_gradient(g.T*W*x, W, g*x.T)``), for all sizes, under ``hypotheses`` (alias
    ``assume``) when given: ``assert_gradient(L, z, p - y, assume=[sums_to(y)])``.

    ``L`` may use entrywise functions (``X.applyfunc(sympy.exp)``, a ``sympy.Lambda`` for σ),
    constants (``OneMatrix``, ``Identity``), ``HadamardProduct`` and scalar symbols (λ): such losses
    are checked by the directional route, ``failed`` only with a certified counterexample."""
    __tracebackhide__ = True
    Le, G, w = as_expr(L), as_expr(expected), sym_from(wrt)
    if not Le.is_scalar:
        raise SymderivAssertionError(f"symderiv: L must be a scalar expression, {plain(Le)} is "
                                     f"{Le.shape[0]}×{Le.shape[1]}")
    v = check_gradient(Le, w, G, **_budget(budget), **_hyps(hypotheses, assume))
    route = "explicit Jacobian" if "explicit-jacobian" in v.methods else "directional derivative"
    return _raise_unless_verified(
        f"symderiv: {plain(G)} is not the gradient of {plain(Le)} with respect to {w.name}", v, allow_undecided,
        claim_text=f"d({plain(Le)})/d{w.name} = {plain(G)}",
        claim_latex=rf"\frac{{\partial}}{{\partial {latex(w)}}}\left({latex(Le)}\right) = {latex(G)}",
        rule=f"gradient ({route})")


def assert_derivation(d: Derivation, allow_undecided: bool = False, budget: Budget | None = None) -> Derivation:
    """Assert that every step of a derivation is verified and its gradient passes the Jacobian check.
    ``budget`` applies when the derivation is not checked yet (a checked one keeps its verdicts)."""
    __tracebackhide__ = True
    if not d.checked:
        d.check(**_budget(budget))
        from symderiv.documents.documents import label_rules

        label_rules(d)
    for i, s in enumerate(d.steps, 1):
        if s.status != VERIFIED and not (allow_undecided and s.status == UNDECIDED):
            where = f"line {s.line}" if s.line else f"step {i}"
            raise SymderivAssertionError(format_failure(
                f"symderiv: derivation {d.title!r} breaks at {where}", s.verdict,
                claim_text=s.plain(), claim_latex=s.latex(), rule=s.rule or "", where=where), s.verdict)
    if d.gradient is None:
        raise SymderivAssertionError(f"symderiv: derivation {d.title!r} never reads off a gradient (⇒ dL/dx = G)")
    j = d.jacobian
    if j is not None and j.status != VERIFIED and not (allow_undecided and j.status == UNDECIDED):
        raise SymderivAssertionError(format_failure(
            f"symderiv: the gradient of {d.title!r} fails the Jacobian cross-check", j,
            claim_text=f"d{d.loss}/d{d.wrt.name} = {plain(d.gradient)}", rule="Jacobian cross-check"), j)
    return d


def assert_document(path: str, allow_undecided: bool = False):
    """Assert that every derivation and statement in a Markdown document is verified."""
    __tracebackhide__ = True
    from symderiv.documents.documents import check_file

    doc = check_file(path)
    for step, owner in doc.all_steps():
        if step.status != VERIFIED and not (allow_undecided and step.status == UNDECIDED):
            text = step.text_override or step.plain()
            at = f"{path}:{step.line}" + (f":{step.col}" if step.col else "")
            raise SymderivAssertionError(format_failure(
                f"symderiv: {at}: {owner}", step.verdict, claim_text=text, rule=step.rule or "",
                where=at), step.verdict)
    for d in doc.derivations:
        assert_derivation(d, allow_undecided)
    return doc

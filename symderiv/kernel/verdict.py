"""Verdicts: the three statuses, the check budget, non-cancelling terms and the verdict record.

Only the kernel's decision procedures (:mod:`symderiv.kernel`) decide which status a claim gets;
everything above the kernel reads verdicts and annotates them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from symderiv.kernel.evaluate import Counterexample
from symderiv.kernel.expand import delta_degree
from symderiv.lang.operators import Expr
from symderiv.lang.printing import LatexPrinter, latex, plain

VERIFIED, FAILED, UNDECIDED = "verified", "failed", "undecided"


@dataclass(frozen=True)
class Budget:
    """Limits for one check. Past any of them the verdict is ``undecided``."""

    seconds: float = 20.0
    max_terms: int = 20000
    max_leaves: int = 20000
    #: cap for the optional second proof (explicit polynomials at N = B), skipped above it
    max_explicit_monomials: int = 1500
    #: cap where explicit evaluation is the deciding method (fixed numeric sizes, Jacobians)
    max_decisive_monomials: int = 100000


DEFAULT_BUDGET = Budget()


@dataclass
class Term:
    """One isomorphism class of monomials that does not cancel: coefficient (left minus right)."""

    coef: Fraction
    monomial: Expr

    @property
    def order(self) -> int:
        return delta_degree(self.monomial)

    def plain(self) -> str:
        c = self.coef
        head = "" if c == 1 else "-" if c == -1 else f"{c}·"
        return head + plain(self.monomial)

    def latex(self) -> str:
        c = self.coef
        head = "" if c == 1 else "-" if c == -1 else LatexPrinter().coef(c) + " "
        return head + latex(self.monomial)


@dataclass
class Verdict:
    """The outcome of a check.

    ``status`` is verified | failed | undecided; ``method`` says in words how it was
    established; ``methods`` lists the machine-readable method tags used.
    """

    status: str
    method: str
    reason: str = ""
    counterexample: Counterexample | None = None
    relation: str = "exact"  # or "first-order"
    bound: dict[str, int] = field(default_factory=dict)
    methods: list[str] = field(default_factory=list)
    difference: list[Term] = field(default_factory=list)
    dropped: list[Term] = field(default_factory=list)
    lhs: Expr | None = None
    rhs: Expr | None = None

    @property
    def verified(self) -> bool:
        return self.status == VERIFIED

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "method": self.method,
            "methods": list(self.methods),
            "reason": self.reason,
            "relation": self.relation,
            "bound": dict(self.bound),
            "counterexample": self.counterexample.to_dict() if self.counterexample else None,
            "dropped_terms": [t.latex() for t in self.dropped],
            "difference": [t.latex() for t in self.difference],
        }

    def explain(self) -> str:
        """A multi-line plain-text account, as used in assertion messages."""
        head = self.status.upper()
        if self.lhs is not None and self.rhs is not None:
            head += f": {plain(self.lhs)} = {plain(self.rhs)}"
        elif self.lhs is not None:
            head += f": {plain(self.lhs)}"
        lines = [head]
        if self.reason:
            lines.append("  reason: " + self.reason)
        lines.append("  method: " + self.method)
        if self.dropped:
            lines.append("  dropped higher-order terms: " + ", ".join(t.plain() for t in self.dropped))
        if self.counterexample:
            lines.append("  counterexample:")
            lines.append(self.counterexample.describe("    "))
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"Verdict({self.status!r}, method={self.method!r}, reason={self.reason!r})"

    def _repr_mimebundle_(self, include=None, exclude=None):
        mark = {"verified": "✓", "failed": "✗"}.get(self.status, "?")
        tex = ""
        if self.lhs is not None and self.rhs is not None:
            tex = f"$${latex(self.lhs)} = {latex(self.rhs)}$$"
        md = f"{mark} **{self.status}** {tex}\n\n{self.method}" + (f"\n\n{self.reason}" if self.reason else "")
        return {"text/plain": self.explain(), "text/markdown": md}


def fmt_sizes(sizes: dict[str, int]) -> str:
    # no symbolic dimension: every size is the declared number (2×2 stays 2×2, not 1)
    return ", ".join(f"{k}={v}" for k, v in sizes.items()) if sizes else "the declared sizes"

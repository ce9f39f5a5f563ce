"""Verdicts: the three statuses, the check budget, non-cancelling terms and the verdict record.

Only the kernel's decision procedures (:mod:`symderiv.kernel`) decide which status a claim gets;
everything above the kernel reads verdicts and annotates them.

A :class:`Verdict` is frozen. ``verified`` and ``failed`` verdicts can be built only with the
module-private token :data:`_KERNEL`, which only :func:`decided` (called from inside
``symderiv/kernel/`` alone; ``tests/test_kernel_trust.py`` scans for it) passes. Code above the
kernel has exactly three ways to make a verdict:

* :func:`undecided`: anything that is not a proof (outside the fragment, budget, not checked);
* :func:`ill_formed`: a statement that is false *as written* because it is ill-typed or malformed
  (shapes that cannot match, a read-off that still contains Δ, a continuation with no previous
  line, a definition of something that is not Δ of the output, an unreadable line). The method
  must be one of :data:`ILL_FORMED_METHODS`: it never claims a mathematical inequality;
* :func:`annotate`: a copy of a kernel verdict with text added to its method or reason (typo
  diagnosis, "compared with the definition …"); the status can never change.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any

import sympy

from symderiv.kernel.budget import DEFAULT_BUDGET as DEFAULT_BUDGET
from symderiv.kernel.budget import WALL_LIMIT as WALL_LIMIT
from symderiv.kernel.budget import Budget as Budget
from symderiv.kernel.evaluate import Counterexample
from symderiv.kernel.expand import delta_degree
from symderiv.lang.operators import Expr
from symderiv.lang.printing import LatexPrinter, latex, plain

VERIFIED, FAILED, UNDECIDED = "verified", "failed", "undecided"




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
        if not isinstance(c, (Fraction, int)):  # a rational function of the dimensions (Theorem A)
            return f"({sympy.sstr(c)})·" + plain(self.monomial)
        head = "" if c == 1 else "-" if c == -1 else f"{c}·"
        return head + plain(self.monomial)

    def latex(self) -> str:
        c = self.coef
        if not isinstance(c, (Fraction, int)):
            return r"\left(" + sympy.latex(c) + r"\right) " + latex(self.monomial)
        head = "" if c == 1 else "-" if c == -1 else LatexPrinter().coef(c) + " "
        return head + latex(self.monomial)


@dataclass(frozen=True)
class Decision:
    """What a decision procedure (matrix, sequence) found, before it becomes a :class:`Verdict`.

    ``tags`` are the machine-readable methods, ``bound`` the size bound B per dimension (matrix
    procedure), ``difference`` the non-cancelling classes (left minus right), ``note`` a remark
    for the reason (an internal inconsistency, the domain a refutation holds on)."""

    status: str
    method: str
    tags: list[str] = field(default_factory=list)
    bound: dict[str, int] = field(default_factory=dict)
    difference: list[Term] = field(default_factory=list)
    counterexample: Counterexample | None = None
    note: str = ""


#: The kernel's private token: a verified or failed verdict carries it (see :func:`decided`).
_KERNEL = object()


@dataclass(frozen=True)
class Verdict:
    """The outcome of a check (frozen: annotate with :func:`annotate`, never by mutation).

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
    #: :data:`_KERNEL` for a verdict built by :func:`decided`; anything else can only be undecided
    origin: object = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.status not in (VERIFIED, FAILED, UNDECIDED):
            raise ValueError(f"unknown verdict status {self.status!r}")
        if self.status != UNDECIDED and self.origin is not _KERNEL:
            raise TypeError(f"a {self.status} verdict can only be made by the kernel (symderiv.kernel)")

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

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        mark = {"verified": "✓", "failed": "✗"}.get(self.status, "?")
        tex = ""
        if self.lhs is not None and self.rhs is not None:
            tex = f"$${latex(self.lhs)} = {latex(self.rhs)}$$"
        md = f"{mark} **{self.status}** {tex}\n\n{self.method}" + (f"\n\n{self.reason}" if self.reason else "")
        return {"text/plain": self.explain(), "text/markdown": md}


def decided(status: str, method: str, reason: str = "", **kw: Any) -> Verdict:
    """KERNEL ONLY: a verdict of any status. Used only inside ``symderiv/kernel/`` (a test checks it)."""
    return Verdict(status, method, reason, origin=_KERNEL, **kw)


def undecided(method: str, reason: str = "", **kw: Any) -> Verdict:
    """An ``undecided`` verdict: anything that is not a proof nor a refutation, with its reason."""
    return Verdict(UNDECIDED, method, reason, **kw)


#: The methods an ill-formed statement may be reported under (``failed`` without a mathematical
#: claim of inequality: the statement is false as written because it is ill-typed or malformed).
ILL_FORMED_METHODS = frozenset({
    "ill-formed statement",  # the generic name
    "shape check",  # operands or sides whose shapes cannot match, one name with two shapes
    "definition",  # a definition of something that is not Δ of the output or of the loss
    "chain",  # a continuation line with no previous line
    "read-off",  # a read-off gradient that still contains a perturbation Δ
    "reading the line",  # a line that cannot be read as mathematics
    "reading the declarations",  # a declaration that cannot be read
    "reading the index notation",  # index notation that is not well formed
})


def ill_formed(reason: str, method: str = "ill-formed statement", **kw: Any) -> Verdict:
    """``failed`` for a statement that is ill-typed or malformed as written (see :data:`ILL_FORMED_METHODS`).

    This is the one route to ``failed`` outside the kernel's decision procedures; it carries no
    claim about values, only that the statement as written is not a well-formed true equation."""
    if method not in ILL_FORMED_METHODS:
        raise ValueError(f"{method!r} is not a method for an ill-formed statement")
    return Verdict(FAILED, method, reason, origin=_KERNEL, **kw)


def annotate(v: Verdict, *, method_prefix: str = "", reason_prefix: str = "", reason_suffix: str = "",
             extra_methods: tuple[str, ...] = (), **sides: Any) -> Verdict:
    """A copy of ``v`` with presentation added; the status and evidence never change.

    ``sides`` may only set ``lhs``/``rhs`` (the sides as the author wrote them)."""
    if set(sides) - {"lhs", "rhs"}:
        raise TypeError(f"annotate may change only lhs and rhs, not {sorted(set(sides) - {'lhs', 'rhs'})}")
    return replace(
        v,
        method=method_prefix + v.method,
        reason=reason_prefix + v.reason + reason_suffix,
        methods=list(v.methods) + list(extra_methods),
        **sides,
    )


def fmt_sizes(sizes: dict[str, int]) -> str:
    # no symbolic dimension: every size is the declared number (2×2 stays 2×2, not 1)
    return ", ".join(f"{k}={v}" for k, v in sizes.items()) if sizes else "the declared sizes"

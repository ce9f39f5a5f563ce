"""The one budget of a check, in deterministic units, and the meter that spends it.

Every limit lives in :class:`Budget`. All but one are counts of work (monomials, search leaves,
polynomial terms, scalar multiplications, search trials), so the same input gets the same verdict
on any machine and under any load. Wall time is only an outer safety limit
(:attr:`Budget.seconds`); when it is reached the verdict says so in its own words,
:data:`WALL_LIMIT`, because that verdict *is* machine-dependent.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

from symderiv.errors import BudgetExceeded

#: The text of a verdict stopped by the wall-clock safety limit (never by the deterministic budget).
WALL_LIMIT = "wall-clock safety limit reached (machine-dependent)"


@dataclass(frozen=True)
class Budget:
    """Limits for one check. Past any of them the verdict is ``undecided``, naming the limit."""

    #: outer safety limit in seconds; machine-dependent, so set far above the deterministic limits
    seconds: float = 120.0
    #: monomials produced by expansion (:func:`symderiv.kernel.expand.expand`)
    max_terms: int = 20000
    #: leaves of the canonical-form search over one index graph (:mod:`symderiv.kernel.indexgraph`)
    max_leaves: int = 20000
    #: polynomial terms estimated for the optional second proof (explicit polynomials at N = B)
    max_explicit_monomials: int = 1500
    #: polynomial terms estimated where explicit evaluation decides (fixed numeric sizes, Jacobians)
    max_decisive_monomials: int = 100000
    #: evaluation work: scalar multiplications in exact evaluation plus one per search trial
    max_work: int = 200_000_000
    #: random trials per candidate size in the matrix counterexample search
    search_trials_per_size: int = 12
    #: random trials per candidate length assignment in the sequence counterexample search
    seq_search_trials: int = 10
    #: random trials in the index-notation counterexample search
    index_search_trials: int = 40
    #: random integer points tried to exhibit a wrong gradient's counterexample
    jacobian_search_trials: int = 200
    #: points the certified interval screen evaluates for a claim with entrywise functions
    certified_points: int = 24
    #: run the optional second proof of a matrix identity (explicit polynomial identities with
    #: symbolic entries at the size bound, or on the grid of Theorem A) after the canonical forms
    #: have proved it. Costly (most of a derivation's time), so off for interactive use; None
    #: means the process default (:func:`set_double_check`, ``SYMDERIV_DOUBLE_CHECK=1``,
    #: ``symderiv --double-check``). Where explicit evaluation is the only proof it always runs.
    double_check: bool | None = None

    def second_proof(self) -> bool:
        """Whether the optional second proof runs under this budget."""
        return _double_check_default if self.double_check is None else self.double_check


_double_check_default = os.environ.get("SYMDERIV_DOUBLE_CHECK", "") not in ("", "0")


def set_double_check(on: bool) -> bool:
    """Set the process default of :attr:`Budget.double_check` (for budgets that leave it None,
    as the default budget does); returns the previous default. The test suite turns it on, and so
    do ``symderiv --double-check`` and report generation."""
    global _double_check_default
    previous, _double_check_default = _double_check_default, on
    return previous


DEFAULT_BUDGET = Budget()


class Meter:
    """Spends a :class:`Budget`'s ``max_work`` and watches its wall-clock safety limit.

    ``spend(n)`` counts ``n`` units of work; the count depends only on the input, so a check that
    runs out of work runs out at the same place on every machine.
    """

    def __init__(self, budget: Budget | None = None, *, work: int | None = None, seconds: float | None = None):
        self.budget = budget if budget is not None else DEFAULT_BUDGET
        self.limit = work if work is not None else (budget.max_work if budget is not None else None)
        wall = seconds if seconds is not None else (budget.seconds if budget is not None else None)
        self.end = None if wall is None else time.monotonic() + wall
        self.used = 0
        self._cap = self.limit if self.limit is not None else float("inf")

    def spend(self, units: int = 1) -> None:
        self.used = used = self.used + units
        if used > self._cap:
            raise BudgetExceeded(f"work budget exhausted ({self.limit} units of evaluation work)")
        if self.end is not None and time.monotonic() > self.end:
            raise BudgetExceeded(WALL_LIMIT)

    def check(self) -> None:
        """One unit of work (a search trial, a shrinking step)."""
        self.spend(1)

    def part(self, fraction: float) -> Meter:
        """A meter for a step that may stop early without failing the check (shrinking a
        counterexample): at most ``fraction`` of the work left here, the same wall-clock limit.
        Charge what it used back with :meth:`absorb`."""
        child = Meter(None if self.limit is None else self.budget,
                      work=None if self.limit is None else int((self.limit - self.used) * fraction))
        child.budget, child.end = self.budget, self.end
        return child

    def absorb(self, child: Meter) -> None:
        """Charge the work a :meth:`part` used to this meter."""
        self.spend(child.used)

    @staticmethod
    def unlimited() -> Meter:
        return Meter()


def Deadline(seconds: float | None = None) -> Meter:  # noqa: N802 — the former class name, kept for callers
    """A meter with only a wall-clock safety limit (no deterministic work limit), as the old deadline."""
    return Meter(seconds=seconds)

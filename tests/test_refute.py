"""The kernel trusts no search result: a lying counterexample search cannot change a verdict's soundness.

The search layer (:mod:`symderiv.search`) is untrusted; the kernel reaches it only through
:mod:`symderiv.kernel.refute` and re-evaluates every candidate exactly before using it.
"""
from __future__ import annotations

import sympy

from symderiv import matrix, verify_equal
from symderiv.kernel import refute
from symderiv.kernel.evaluate import Counterexample


class LyingSearch:
    """Claims every pair of sides differs, with entries at which they are in fact equal (all zero)."""

    def integer_screen(self, lhs, rhs, sizes, deadline, seed):
        env = {s.name: [[0] * _size(s.shape[1], sizes) for _ in range(_size(s.shape[0], sizes))]
               for s in lhs.symbols() + rhs.symbols()}
        return True, env, [[1]], [[2]]

    def find_counterexample(self, lhs, rhs, bound, deadline, seed=0):
        sizes = {d: 1 for d in bound if not d.isdigit()}
        env = {s.name: [[0] * _size(s.shape[1], sizes) for _ in range(_size(s.shape[0], sizes))]
               for s in lhs.symbols() + rhs.symbols()}
        return Counterexample(sizes, env, [[1]], [[2]], note="a lie")

    def shrink_cells(self, cells, differs, deadline):
        return None


def _size(d, sizes):
    return int(d) if str(d).isdigit() else sizes.get(str(d), 1)


def test_search_is_installed_by_importing_symderiv():
    from symderiv.search import SearchRefuter

    assert isinstance(refute.current(), SearchRefuter)


def test_a_lying_search_cannot_refute_a_true_identity(monkeypatch):
    n = sympy.Symbol("n")
    A, B, C = (matrix(s, n, n) for s in "ABC")
    monkeypatch.setattr(refute, "_installed", LyingSearch())
    v = verify_equal(sympy.Trace(A * B * C), sympy.Trace(C * A * B))
    assert v.status == "verified", v.explain()


def test_a_lying_search_cannot_supply_a_false_counterexample(monkeypatch):
    n = sympy.Symbol("n")
    A, B = matrix("A", n, n), matrix("B", n, n)
    monkeypatch.setattr(refute, "_installed", LyingSearch())
    v = verify_equal(A * B, B * A)
    # still refuted, by Theorem 1 (canonical forms differ), but the lie is not shown as evidence
    assert v.status == "failed", v.explain()
    assert v.counterexample is None or "lie" not in v.counterexample.note
    assert "Theorem 1" in v.method


def test_the_honest_search_gives_a_checked_counterexample():
    n = sympy.Symbol("n")
    A, B = matrix("A", n, n), matrix("B", n, n)
    v = verify_equal(A * B, B * A)
    assert v.status == "failed" and v.counterexample is not None
    assert v.counterexample.lhs != v.counterexample.rhs


def test_a_lying_sequence_search_is_rejected_by_the_kernel(monkeypatch):
    from symderiv.kernel.domains import domains_for
    from symderiv.kernel.evaluate import Deadline
    from symderiv.kernel.refute import sequence_counterexample
    from symderiv.lang.operators import Conv, Corr, sequence

    x, w = sequence("x"), sequence("w")

    class LyingSequences(LyingSearch):
        def find_seq_candidate(self, lhs, rhs, domains, deadline, seed=0):
            return {}, {"x": {0: 0}, "w": {0: 0}}  # both sides are 0 here

    lhs, rhs = Corr(x, w), Conv(x, w)
    honest = sequence_counterexample(lhs, rhs, domains_for([lhs], also=[rhs]), Deadline(10.0))
    assert honest is not None and honest.lhs != honest.rhs
    monkeypatch.setattr(refute, "_installed", LyingSequences())
    assert sequence_counterexample(lhs, rhs, domains_for([lhs], also=[rhs]), Deadline(10.0)) is None


INDEX_DOC = r"""<!-- symderiv: $A \in \mathbf{R}^{\infty}$, $B \in \mathbf{R}^{\infty}$, $C \in \mathbf{R}^{\infty}$ -->

$$\sum_{i} \sum_{j} A_{i} B_{i+j} C_{j} = \sum_{i} \sum_{j} A_{i} B_{i-j} C_{j}$$
"""


def test_index_sum_counterexamples_are_rechecked_by_the_kernel(monkeypatch):
    from symderiv.documents.documents import check_text

    (step, _), = check_text(INDEX_DOC, "idx.md").all_steps()
    cex = step.verdict.counterexample
    assert step.status == "failed" and cex is not None and cex.lhs != cex.rhs

    class LyingIndexSearch(LyingSearch):
        def find_index_candidate(self, a, b, deadline):
            return {"A": {0: 0}, "B": {0: 0}, "C": {0: 0}}  # both sides are 0 here

    monkeypatch.setattr(refute, "_installed", LyingIndexSearch())
    (step, _), = check_text(INDEX_DOC, "idx.md").all_steps()
    # still refuted by Theorem 2, but without the search's false evidence
    assert step.status == "failed" and step.verdict.counterexample is None, step.verdict.explain()

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
        return True, env

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


def _modular_cases():
    from fractions import Fraction

    from symderiv.lang.operators import (
        Add,
        Diag,
        DiagV,
        DimScalar,
        Hadamard,
        Identity,
        Inner,
        MatMul,
        Ones,
        Scale,
        Sym,
        Trace,
        Transpose,
        Zero,
    )

    n, m = sympy.Symbol("n"), sympy.Symbol("m")
    A, B = Sym("A", n, n), Sym("B", n, m)
    x, y = Sym("x", n, 1), Sym("y", n, 1)
    s = Sym("s", 1, 1)
    return [
        MatMul(A, B),
        Add(MatMul(A, A), Scale(Fraction(-3, 7), Identity(n)), Zero(n, n)),
        Transpose(MatMul(Transpose(B), A)),
        Trace(MatMul(A, A, A)),
        Inner(MatMul(A, x), y),
        Hadamard(MatMul(A, x), Add(x, Ones(n, 1))),
        MatMul(Diag(x), A, Diag(DiagV(A))),
        MatMul(DimScalar(1 / (n + 1)), MatMul(Ones(1, n), A, Ones(n, 1))),
        MatMul(s, A),  # a 1×1 factor acts as a scalar
        MatMul(Transpose(x), A, x),
    ]


def test_the_modular_screen_computes_the_exact_values_modulo_each_prime():
    """The residues are the exact values (integers and rationals) reduced modulo each prime, for
    every node the modular screen models, and it charges the meter as exact evaluation does."""
    from fractions import Fraction

    import numpy as np

    from symderiv.kernel.budget import Meter
    from symderiv.kernel.evaluate import INT, evaluate, symbol_table
    from symderiv.search import modular

    rng = np.random.Generator(np.random.PCG64(7))
    sizes = {"n": 4, "m": 3}
    for e in _modular_cases():
        raw = {k: rng.integers(1, 1 << 64, size=(int(sympy.sympify(v.shape[0]).subs(sizes)),
                                                  int(sympy.sympify(v.shape[1]).subs(sizes))), dtype=np.uint64)
               for k, v in symbol_table(e).items()}
        env = {k: v.tolist() for k, v in raw.items()}
        m_exact, m_mod = Meter(), Meter()
        exact = evaluate(e, env, sizes, INT, m_exact)
        res = modular.modular_evaluate(e, modular.residues(raw), sizes, m_mod)
        assert m_exact.used == m_mod.used, e
        for k, p in enumerate(modular.PRIMES):
            want = [[Fraction(v).numerator % p * pow(Fraction(v).denominator, -1, p) % p for v in row] for row in exact]
            assert res[k].astype(np.int64).tolist() == want, e


def test_the_screen_finds_a_difference_only_where_there_is_one():
    """Equal sides agree modulo every prime (reduction is a homomorphism); a false identity is
    caught by the modular screen, and the entries it returns are 64-bit integers."""
    from symderiv.kernel.budget import Meter
    from symderiv.lang.operators import MatMul, Sym, Trace
    from symderiv.search.counterexample import integer_screen

    A = [Sym(f"A{i}", "n", "n") for i in range(6)]
    lhs = Trace(MatMul(*A))
    for seed in range(5):
        assert integer_screen(lhs, Trace(MatMul(A[-1], *A[:-1])), {"n": 6}, Meter(), seed) == (False, {})
        differs, env = integer_screen(lhs, Trace(MatMul(A[1], A[0], *A[2:])), {"n": 6}, Meter(), seed)
        assert differs and all(0 < v < 1 << 64 for m in env.values() for row in m for v in row)
        assert refute.differs_at(lhs, Trace(MatMul(A[1], A[0], *A[2:])), {"n": 6}, env, Meter())


def test_the_screen_at_small_sizes_is_exact_and_needs_no_numpy(monkeypatch):
    """Up to EXACT_SCREEN_MAX_SIZE the screen evaluates in Python integers (NumPy is not even
    imported: the catalog's and the course's screens run at sizes 1 and 2); above it, the modular
    NumPy screen. Both find a difference only where there is one, with entries that separate the
    sides when re-evaluated exactly, and the same arguments give the same entries."""
    import sys

    import pytest

    from symderiv.kernel.budget import Meter
    from symderiv.lang.operators import MatMul, Sym, Trace, Transpose
    from symderiv.search import counterexample as ce

    A = [Sym(f"A{i}", "n", "n") for i in range(4)]
    x = Sym("x", "n", 1)
    lhs = Trace(MatMul(*A))
    cases = [(Trace(MatMul(A[-1], *A[:-1])), False), (Trace(MatMul(A[1], A[0], *A[2:])), True),
             (Trace(MatMul(*(Transpose(a) for a in reversed(A)))), False),
             (Trace(MatMul(A[0], A[1], Transpose(A[2]), A[3])), True)]
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "numpy", None)  # any import of numpy now raises ImportError
        for n in range(1, ce.EXACT_SCREEN_MAX_SIZE + 1):
            for seed in range(3):
                for rhs, false in cases:
                    differs, env = ce.integer_screen(lhs, rhs, {"n": n}, Meter(), seed)
                    assert differs == (false and n > 1)  # at n = 1 the entries are commuting scalars
                    if differs:
                        assert all(0 < v < 1 << 64 for mat in env.values() for row in mat for v in row)
                        assert refute.differs_at(lhs, rhs, {"n": n}, env, Meter())
                        assert ce.integer_screen(lhs, rhs, {"n": n}, Meter(), seed) == (differs, env)
                    else:
                        assert env == {}
        quad = Trace(MatMul(Transpose(x), A[0], x))
        assert ce.integer_screen(quad, Trace(MatMul(Transpose(x), Transpose(A[0]), x)), {"n": 3}, Meter(), 0)[0] is False
        with pytest.raises(ImportError):
            ce.integer_screen(lhs, cases[1][0], {"n": ce.EXACT_SCREEN_MAX_SIZE + 1}, Meter(), 0)
    differs, env = ce.integer_screen(lhs, cases[1][0], {"n": ce.EXACT_SCREEN_MAX_SIZE + 1}, Meter(), 0)
    assert differs and refute.differs_at(lhs, cases[1][0], {"n": ce.EXACT_SCREEN_MAX_SIZE + 1}, env, Meter())


def test_shrinking_past_its_budget_keeps_the_unshrunk_counterexample(monkeypatch):
    """Shrinking only simplifies a counterexample: with work enough to find a difference but not
    to shrink it fully, the search returns the (partly shrunk) entries that still differ, instead
    of running out of budget and leaving a refuted claim undecided."""
    from symderiv.kernel.budget import Meter
    from symderiv.lang.operators import MatMul, Sym, Trace
    from symderiv.search import counterexample as ce

    A = [Sym(f"A{i}", "n", "n") for i in range(6)]
    lhs, rhs = Trace(MatMul(*A)), Trace(MatMul(A[1], A[0], *A[2:]))
    bound = {"n": 6}
    full = Meter()
    shrunk = ce.find_counterexample(lhs, rhs, bound, full)
    with monkeypatch.context() as m:  # the work needed to find the difference, without shrinking
        m.setattr(ce, "shrink", lambda lhs, rhs, env, sizes, deadline: env)
        finding = Meter()
        unshrunk = ce.find_counterexample(lhs, rhs, bound, finding)
    assert shrunk is not None and unshrunk is not None and full.used > 3 * finding.used
    tight = Meter(work=2 * finding.used)  # enough to find and re-evaluate, not to shrink fully
    cex = ce.find_counterexample(lhs, rhs, bound, tight)
    assert cex is not None and tight.used <= 2 * finding.used
    assert refute.differs_at(lhs, rhs, cex.sizes, cex.values, Meter())
    assert cex.values != shrunk.values  # it stopped early
    cells = lambda c: sum(abs(v) for m in c.values.values() for row in m for v in row)  # noqa: E731
    assert cells(shrunk) <= cells(cex) <= cells(unshrunk)

"""Only the kernel decides: verified/failed verdicts are built only inside ``symderiv/kernel/``.

The source scan is on the syntax tree (not on text), so a call split over lines or renamed import
cannot hide; the runtime checks show that the frozen verdict refuses the other routes.
"""
from __future__ import annotations

import ast
import dataclasses
from fractions import Fraction
from pathlib import Path

import pytest

import symderiv
from symderiv.kernel.decide import (
    FAILED,
    UNDECIDED,
    VERIFIED,
    Obligation,
    Verdict,
    annotate,
    discharge,
    ill_formed,
    undecided,
)
from symderiv.lang.symbols import delta, matrix

PKG = Path(symderiv.__file__).parent
KERNEL = PKG / "kernel"


def _outside_kernel() -> list[Path]:
    return [p for p in sorted(PKG.rglob("*.py")) if KERNEL not in p.parents]


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[str] = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(PKG.parent)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Name) and node.id in {"_KERNEL", "decided"}:
            out.append(f"{where}: uses the kernel-private {node.id}")
        if isinstance(node, ast.Attribute) and node.attr in {"_KERNEL", "decided", "origin"}:
            out.append(f"{where}: uses the kernel-private .{node.attr}")
        if isinstance(node, ast.alias) and node.name in {"_KERNEL", "decided"}:
            out.append(f"{where}: imports the kernel-private {node.name}")
        if isinstance(node, ast.Call):
            kws = {k.arg for k in node.keywords}
            if _name(node.func) == "Verdict":
                out.append(f"{where}: constructs Verdict directly (use undecided/ill_formed/annotate)")
            if _name(node.func) == "replace" and kws & {"status", "origin", "counterexample", "difference"}:
                out.append(f"{where}: replace() changes a verdict's status or evidence")
            if "origin" in kws:
                out.append(f"{where}: passes origin=")
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for sub in ast.walk(t):
                    if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Attribute) \
                            and sub.value.attr == "verdict":
                        out.append(f"{where}: mutates .verdict.{sub.attr}")
    return out


def test_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The scanner is not vacuous: each forbidden form in a sample file is reported."""
    bad = PKG / "_scan_sample_for_test.py"
    text = ("from symderiv.kernel.verdict import decided, _KERNEL\n"
            "v = Verdict('failed', 'x')\nw = decided('verified', 'y')\n"
            "z = replace(v, status='verified')\ns.verdict.reason = 'r'\n")
    tree_path = tmp_path / "sample.py"
    tree_path.write_text(text)
    try:
        bad.write_text(text)
        found = _violations(bad)
    finally:
        bad.unlink()
    kinds = " ".join(found)
    for needle in ("imports the kernel-private decided", "imports the kernel-private _KERNEL", "constructs Verdict",
                   "uses the kernel-private decided", "replace() changes", "mutates .verdict.reason"):
        assert needle in kinds, (needle, found)


def test_only_the_kernel_constructs_decisive_verdicts() -> None:
    files = _outside_kernel()
    assert any(p.name == "documents.py" for p in files) and any(p.name == "derivation.py" for p in files)
    found = [v for p in files for v in _violations(p)]
    assert found == [], "\n".join(found)


def test_verdicts_are_frozen_and_the_token_is_required() -> None:
    for status in (VERIFIED, FAILED):
        with pytest.raises(TypeError):
            Verdict(status, "made up")
        with pytest.raises(TypeError):
            Verdict(status, "made up", origin=object())
    u = Verdict(UNDECIDED, "not checked")
    with pytest.raises(dataclasses.FrozenInstanceError):
        u.status = VERIFIED  # type: ignore[misc]
    with pytest.raises(TypeError):
        undecided("x", status=FAILED)  # type: ignore[misc]


def test_annotate_keeps_status_and_evidence() -> None:
    A, B = matrix("A", "n", "n"), matrix("B", "n", "n")
    v = discharge(Obligation(A * B, B * A))
    assert v.status == FAILED and v.counterexample is not None
    w = annotate(v, method_prefix="compared with X: ", reason_prefix="typo; ", extra_methods=("typo-detection",))
    assert (w.status, w.counterexample, w.difference) == (v.status, v.counterexample, v.difference)
    assert w.method == "compared with X: " + v.method and w.reason.startswith("typo; ")
    assert w.methods == v.methods + ["typo-detection"] and "typo-detection" not in v.methods
    with pytest.raises(TypeError):
        annotate(v, status=VERIFIED)


def test_ill_formed_is_restricted_to_shape_and_reading_failures() -> None:
    assert ill_formed("ΔW in the gradient", "read-off").status == FAILED
    with pytest.raises(ValueError):
        ill_formed("looks wrong to me", "numerical agreement")


def test_discharge_follows_the_relation() -> None:
    A, B = matrix("A", "n", "n"), matrix("B", "n", "n")
    dA, dB = delta(A), delta(B)
    square = (A + dA) * (B + dB) - A * B
    first = A * dB + dA * B
    assert discharge(Obligation(square, first, "exact")).status == FAILED
    v = discharge(Obligation(square, first, "first-order"))
    assert v.status == VERIFIED and v.relation == "first-order"
    assert discharge(Obligation(first, first, "exact", ("A invertible",))).status == UNDECIDED


# ---------------------------------------------------------------------------------------
# A lying search cannot make a false "failed": every candidate is re-checked exactly
# ---------------------------------------------------------------------------------------
# Each liar below proposes candidates at which a naive re-check *would* see a difference (float
# rounding, an entry outside a vector's range, lengths outside the domain, an index outside the
# summation box) or which are not candidates at all (missing names, wrong shapes). The kernel
# must drop them all: the verdict is the one the proofs give, and no false evidence is shown.
import random  # noqa: E402

import sympy  # noqa: E402

from symderiv.kernel import refute  # noqa: E402
from symderiv.kernel.evaluate import INT, evaluate  # noqa: E402
from symderiv.kernel.jacobian import check_gradient  # noqa: E402
from symderiv.kernel.seqeval import clean, seq_evaluate  # noqa: E402
from symderiv.lang.operators import (  # noqa: E402
    Conv,
    Corr,
    Ext,
    Hadamard,
    MatMul,
    Shift,
    Sym,
    Trace,
    Transpose,
    Window,
    Zero,
    grad_of,
)
from symderiv.search import SearchRefuter  # noqa: E402

N = sympy.Symbol("n")


def _install(monkeypatch: pytest.MonkeyPatch, liar: object) -> None:
    monkeypatch.setattr(refute, "_installed", liar)


def _float_env(lhs, rhs, sizes):
    """Float entries at which tr(ABC) and tr(CAB) differ by rounding (found by trying)."""
    rng = random.Random(1)
    names = sorted({s.name for s in lhs.symbols() + rhs.symbols()})
    for _ in range(1000):
        env = {k: [[rng.choice([0.1, 1e16, -1e16, 3.3, 7e-3]) for _ in range(sizes["n"])]
                   for _ in range(sizes["n"])] for k in names}
        if evaluate(lhs, env, sizes, INT) != evaluate(rhs, env, sizes, INT):
            return env
    raise AssertionError("no rounding difference found")


class FloatScreen(SearchRefuter):
    """Claims the random screen separates the sides, with float entries where rounding does."""

    seen: list = []

    def integer_screen(self, lhs, rhs, sizes, deadline, seed):
        env = _float_env(lhs, rhs, sizes)
        self.seen.append(env)
        return True, env

    def find_counterexample(self, lhs, rhs, bound, deadline, seed=0):
        from symderiv.kernel.evaluate import Counterexample

        sizes = {"n": 3}
        env = _float_env(lhs, rhs, sizes)
        return Counterexample(sizes, env, evaluate(lhs, env, sizes, INT), evaluate(rhs, env, sizes, INT))


def test_a_float_screen_cannot_refute_a_true_matrix_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    A, B, C = (Sym(c, "n", "n") for c in "ABC")
    lhs, rhs = Trace(MatMul(A, B, C)), Trace(MatMul(C, A, B))
    liar = FloatScreen()
    liar.seen = []
    _install(monkeypatch, liar)
    v = discharge(Obligation(lhs, rhs))
    assert liar.seen, "the liar was not asked"
    assert v.status == VERIFIED and v.counterexample is None, v.explain()


class MisshapenCounterexample(SearchRefuter):
    """A matrix 'counterexample' whose matrices do not have the declared shapes."""

    def find_counterexample(self, lhs, rhs, bound, deadline, seed=0):
        from symderiv.kernel.evaluate import Counterexample

        env = {"A": [[1, 2, 3]], "B": [[1], [0], [0]]}  # A is 1×3 and B 3×1, but both are n×n
        sizes = {"n": 1}
        return Counterexample(sizes, env, [[0]], [[1]], note="a lie")


def test_a_misshapen_counterexample_is_not_evidence(monkeypatch: pytest.MonkeyPatch) -> None:
    A, B = matrix("A", "n", "n"), matrix("B", "n", "n")
    _install(monkeypatch, MisshapenCounterexample())
    v = discharge(Obligation(A * B, B * A))
    assert v.status == FAILED and "Theorem 1" in v.method  # the proof of inequality stands
    assert v.counterexample is None or "lie" not in v.counterexample.note


class SequenceLiar(SearchRefuter):
    """Proposes the candidate given to it, whatever the question."""

    def __init__(self, candidate):
        self.candidate = candidate
        self.asked = 0

    def find_seq_candidate(self, lhs, rhs, domains, deadline, seed=0):
        self.asked += 1
        return self.candidate


def test_an_entry_outside_a_vector_cannot_refute_a_true_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    """R_[0,n) E x ⊙ y = x ⊙ y holds for x, y ∈ Rⁿ (outside the decided fragment, so only a
    counterexample could refute it). An entry x_n would separate the sides, but x has none."""
    x, y = Sym("x", N, 1), Sym("y", N, 1)
    lhs, rhs = Hadamard(Window(Ext(x), 0, N), y), Hadamard(x, y)
    params, env = {N: 1}, {"x": {0: 1, 1: 5}, "y": {0: 1, 1: 1}}
    assert clean(seq_evaluate(lhs, env, params)) != clean(seq_evaluate(rhs, env, params))  # a naive re-check falls for it
    honest = discharge(Obligation(lhs, rhs))
    liar = SequenceLiar((params, env))
    _install(monkeypatch, liar)
    lied = discharge(Obligation(lhs, rhs))
    assert liar.asked and honest.status == lied.status == UNDECIDED, lied.explain()
    assert lied.counterexample is None


@pytest.mark.parametrize("candidate", [
    ({}, {"x": {0: 0}, "w": {0: 0}}),  # both sides are 0 here
    ({}, {"x": {0: 0.1}, "w": {0: 3.0}}),  # not exact
    ({}, {"x": {0: 1}}),  # w is missing
    ({}, {"x": {0.5: 1}, "w": {0: 1}}),  # not an integer index
    ({}, {"x": [[1]], "w": {0: 1}}),  # not a sequence
])
def test_a_lying_sequence_search_never_supplies_the_evidence(monkeypatch: pytest.MonkeyPatch, candidate) -> None:
    """x ⋆ w = x ∗ w is refuted by Theorem 2 (the search only adds evidence); x ⊙ w = w ⊙ x holds."""
    x, w = Sym("x", sympy.oo, 1), Sym("w", sympy.oo, 1)
    for lhs, rhs, status in [(Corr(x, w), Conv(x, w), FAILED), (Hadamard(x, w), Hadamard(w, x), VERIFIED),
                             (Shift(Hadamard(x, w), 1), Shift(Hadamard(w, x), 1), None)]:
        honest = discharge(Obligation(lhs, rhs))
        _install(monkeypatch, SequenceLiar(candidate))
        lied = discharge(Obligation(lhs, rhs))
        monkeypatch.undo()
        assert lied.status == honest.status != FAILED if status is None else lied.status == honest.status == status
        assert lied.counterexample is None, (lhs, rhs, candidate)


def test_lengths_outside_the_domain_are_not_a_counterexample() -> None:
    """corr_valid needs n ≥ k. The first entry of x ⋆_valid w is (x ⋆ w)_0 for every n ≥ k; at n < k
    the left side is empty, so such lengths would separate the sides, but they are not where
    the claim is made."""
    from symderiv.kernel.domains import domains_for
    from symderiv.kernel.evaluate import Deadline

    k = sympy.Symbol("k")
    x, w = Sym("x", N, 1), Sym("w", k, 1)
    lhs, rhs = Window(Corr(x, w, "valid"), 0, 1), Window(Corr(Ext(x), Ext(w)), 0, 1)
    doms = domains_for([lhs], also=[rhs])
    outside = ({N: 1, k: 2}, {"x": {0: 1}, "w": {0: 1, 1: 1}})
    assert clean(seq_evaluate(lhs, outside[1], outside[0])) != clean(seq_evaluate(rhs, outside[1], outside[0]))
    old = refute._installed
    try:
        refute.install(SequenceLiar(outside))
        assert refute.sequence_counterexample(lhs, rhs, doms, Deadline(10.0)) is None
        # the same kind of candidate inside the domain, against a false claim: evidence
        refute.install(SequenceLiar(({N: 2, k: 1}, {"x": {0: 1, 1: 0}, "w": {0: 1}})))
        wrong = Zero(1, 1)
        inside = refute.sequence_counterexample(lhs, wrong, domains_for([lhs], also=[wrong]), Deadline(10.0))
        assert inside is not None and inside.lhs != inside.rhs
    finally:
        refute.install(old)


INDEX_TRUE = r"""<!-- symderiv: $A \in \mathbf{R}^{\infty}$, $B \in \mathbf{R}^{\infty}$ -->

$$\sum_{i} A_{i} B_{i+1} = \sum_{j} A_{j-1} B_{j}$$
"""
INDEX_FALSE = r"""<!-- symderiv: $A \in \mathbf{R}^{\infty}$, $B \in \mathbf{R}^{\infty}$ -->

$$\sum_{i} A_{i} B_{i+1} = \sum_{j} A_{j} B_{j-1}$$
"""


class IndexLiar(SearchRefuter):
    def __init__(self, env):
        self.env = env

    def find_index_candidate(self, a, b, deadline):
        return self.env


@pytest.mark.parametrize("env", [
    {"A": {8: 1}, "B": {9: 1}},  # outside the summation box: a truncated sum would differ
    {"A": {0: 0.5}, "B": {1: 0.25}},  # not exact
    {"A": {0: 1}},  # B is missing
    {"A": {0: 0}, "B": {0: 0}},  # both sides are 0
])
def test_a_lying_index_search_never_supplies_the_evidence(monkeypatch: pytest.MonkeyPatch, env) -> None:
    from symderiv.documents.documents import check_text

    _install(monkeypatch, IndexLiar(env))
    (true, _), = check_text(INDEX_TRUE, "t.md").all_steps()
    (false, _), = check_text(INDEX_FALSE, "f.md").all_steps()
    assert true.status == VERIFIED, true.verdict.explain()
    assert false.status == FAILED and false.verdict.counterexample is None, false.verdict.explain()
    assert "Theorem 2" in false.verdict.method


class JacobianLiar(SearchRefuter):
    def __init__(self, make):
        self.make = make

    def find_jacobian_candidate(self, gens, jac, claim, trials):
        return self.make(list(gens))


@pytest.mark.parametrize("make", [
    lambda keys: {k: 0 for k in keys},  # the claim and the Jacobian agree at 0
    lambda keys: {k: 0.5 for k in keys},  # not exact
    lambda keys: {k: 1 for k in keys[1:]},  # an entry is missing
    lambda keys: None,
])
def test_a_lying_jacobian_search_never_supplies_the_evidence(monkeypatch: pytest.MonkeyPatch, make) -> None:
    x, w, y = Sym("x", "n", 1), Sym("w", "m", "n"), Sym("y", "m", 1)
    g = grad_of(y)
    right, wrong = MatMul(g, Transpose(x)), MatMul(g, Transpose(x)) * 2
    honest = check_gradient(MatMul(w, x), w, wrong, g)
    assert honest.status == FAILED and honest.counterexample is not None
    _install(monkeypatch, JacobianLiar(make))
    assert check_gradient(MatMul(w, x), w, right, g).status == VERIFIED
    lied = check_gradient(MatMul(w, x), w, wrong, g)
    assert lied.status == FAILED and "explicit-jacobian" in lied.methods  # the polynomials differ: a proof
    assert lied.counterexample is None, lied.counterexample


def test_the_honest_jacobian_search_gives_checked_evidence() -> None:
    x, w, y = Sym("x", "n", 1), Sym("w", "m", "n"), Sym("y", "m", 1)
    g = grad_of(y)
    v = check_gradient(MatMul(w, x), w, MatMul(g, Transpose(x)) * 2, g)
    cex = v.counterexample
    assert v.status == FAILED and cex is not None and cex.lhs != cex.rhs
    assert set(cex.values) >= {"x", "w"} and all(type(v) is int for m in cex.values.values() for r in m for v in r)


class IntervalLiar(SearchRefuter):
    """Proposes points that are not where the claim is made: floats, negative entries for a
    symbol declared positive, matrices of the wrong shape."""

    def __init__(self, make):
        self.make = make

    def certified_points(self, lhs, rhs, bound, positive, seed, count):
        return [self.make()]


@pytest.mark.parametrize("make", [
    lambda: ({"n": 1}, {"x": [[-1.0]], "y": [[2.0]]}),  # floats
    lambda: ({"n": 1}, {"x": [[Fraction(-1)]], "y": [[Fraction(2)]]}),  # x declared positive
    lambda: ({"n": 2}, {"x": [[Fraction(1)]], "y": [[Fraction(1)]]}),  # wrong shape
], ids=["float", "outside-hypothesis", "misshapen"])
def test_a_lying_interval_search_never_supplies_the_evidence(monkeypatch: pytest.MonkeyPatch, make) -> None:
    """exp(log x) ⊙ y = x ⊙ y holds for x > 0; a point with x ≤ 0 would make the right side look
    defined where the left is not, or the reverse."""
    from symderiv.kernel.decide import Hypothesis, verify_equal
    from symderiv.lang.operators import Fn, Hadamard, Sym

    x, y = Sym("x", "n", 1), Sym("y", "n", 1)
    _install(monkeypatch, IntervalLiar(make))
    verdict = verify_equal(Hadamard(x, y), Hadamard(Fn("exp", Fn("log", x)), y), hypotheses=(Hypothesis("positive", x),))
    assert verdict.status != "failed"

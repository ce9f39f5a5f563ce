"""One Budget, in deterministic units: the verdict depends on the input and the budget, never on
the machine's speed or load. Wall time is only a safety limit, with its own verdict text."""
from __future__ import annotations

import ast
from pathlib import Path

import symderiv
from symderiv.kernel.budget import WALL_LIMIT, Budget, Meter
from symderiv.kernel.decide import decide_index, verify_equal
from symderiv.lang.operators import MatMul, Sym, Trace

PKG = Path(symderiv.__file__).parent


def _cycle(k: int) -> tuple[Trace, Trace]:
    a = [Sym(f"A{i}", "n", "n") for i in range(k)]
    return Trace(MatMul(*a)), Trace(MatMul(a[1], a[0], *a[2:]))


def _first_decisive_work(lhs: Trace, rhs: Trace) -> int:
    """The least ``max_work`` (a power of two) at which the claim is decided."""
    w = 1
    while verify_equal(lhs, rhs, Budget(max_work=w)).status == "undecided":
        w *= 2
    return w


def test_a_verdict_stopped_by_the_work_budget_is_the_same_on_every_run_and_any_wall_limit() -> None:
    lhs, rhs = _cycle(6)
    w = _first_decisive_work(lhs, rhs)
    assert w > 1
    stopped = [verify_equal(lhs, rhs, Budget(max_work=w // 2, seconds=s)).to_dict() for s in (60.0, 1e6, 1e9)]
    stopped += [verify_equal(lhs, rhs, Budget(max_work=w // 2)).to_dict() for _ in range(2)]
    assert stopped[0]["status"] == "undecided" and "work budget exhausted" in stopped[0]["method"]
    assert all(v == stopped[0] for v in stopped)
    decided = [verify_equal(lhs, rhs, Budget(max_work=w, seconds=s)).to_dict() for s in (60.0, 1e9)]
    assert decided[0]["status"] == "failed" and decided[0] == decided[1]


def test_the_work_used_is_a_function_of_the_input() -> None:
    from symderiv.kernel.evaluate import INT, evaluate, random_env, symbol_table

    lhs, _ = _cycle(5)
    used = []
    for _ in range(3):
        m = Meter(Budget())
        env = random_env(symbol_table(lhs), {"n": 3}, lambda: 2)
        evaluate(lhs, env, {"n": 3}, INT, m)
        used.append(m.used)
    assert used[0] > 0 and used == [used[0]] * 3


def test_the_wall_clock_limit_has_its_own_words() -> None:
    lhs, rhs = _cycle(4)
    v = verify_equal(lhs, lhs, Budget(seconds=0.0))
    assert v.status == "undecided" and v.method == "undecided: " + WALL_LIMIT
    assert "machine-dependent" in WALL_LIMIT and "work budget" not in v.method


def test_decide_index_takes_the_callers_budget() -> None:
    import inspect

    assert "budget" in inspect.signature(decide_index).parameters
    assert "seconds" not in inspect.signature(decide_index).parameters


def test_every_limit_lives_in_the_budget() -> None:
    """No kernel or search module spells a limit of 20000 or a number of seconds of its own."""
    offenders = []
    for p in sorted((PKG / "kernel").glob("*.py")) + sorted((PKG / "search").glob("*.py")):
        if p.name == "budget.py":
            continue
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in (20000, 10.0, 20.0):
                offenders.append(f"{p.name}:{node.lineno}: {node.value!r}")
            if isinstance(node, ast.arg) and node.arg == "seconds":
                offenders.append(f"{p.name}:{node.lineno}: a seconds= parameter")
    assert offenders == []


INDEX_DOC = r"""<!-- symderiv: $A \in \mathbf{R}^{\infty}$, $B \in \mathbf{R}^{\infty}$, $C \in \mathbf{R}^{\infty}$ -->

$$\sum_{i} \sum_{j} A_{i} B_{i+j} C_{j} = \sum_{i} \sum_{j} A_{i} B_{i-j} C_{j}$$
"""

MATRIX_DOC = r"""Let $A \in \mathbf{R}^{n \times n}$ and $B \in \mathbf{R}^{n \times n}$.

$$\operatorname{tr}(A B) = \operatorname{tr}(B A)$$
"""


def test_a_document_checks_index_notation_with_its_own_kernel_budget() -> None:
    """The document's kernel budget reaches decide_index: with no search trials the refutation
    (Theorem 2) stands but no counterexample is searched for."""
    from symderiv.documents.documents import DocumentBudget, check_text

    (full, _), = check_text(INDEX_DOC, "idx.md").all_steps()
    (bare, _), = check_text(INDEX_DOC, "idx.md", budget=DocumentBudget(kernel=Budget(index_search_trials=0))).all_steps()
    assert full.status == bare.status == "failed"
    assert full.verdict.counterexample is not None and bare.verdict.counterexample is None


def test_a_document_checks_claims_with_its_own_kernel_budget() -> None:
    from symderiv.documents.documents import DocumentBudget, check_text

    (ok, _), = check_text(MATRIX_DOC, "m.md").all_steps()
    (cut, _), = check_text(MATRIX_DOC, "m.md", budget=DocumentBudget(kernel=Budget(max_work=1))).all_steps()
    assert ok.status == "verified"
    assert cut.status == "undecided" and "budget" in cut.verdict.method, cut.verdict.explain()


INNER_DOC = r"""<!-- symderiv: $A \in \mathbf{R}^{\infty}$, $B \in \mathbf{R}^{\infty}$ -->

$$\sum_{i} A_{i} B_{i} = \langle A, B \rangle$$
"""


def test_index_notation_out_of_budget_is_undecided_not_an_exception() -> None:
    from symderiv.documents.documents import DocumentBudget, check_text

    (ok, _), = check_text(INNER_DOC, "i.md").all_steps()
    (cut, _), = check_text(INNER_DOC, "i.md", budget=DocumentBudget(kernel=Budget(max_terms=0))).all_steps()
    assert ok.status == "verified"
    assert cut.status == "undecided" and "budget" in cut.verdict.methods, cut.verdict.explain()
    assert "exceed 0 terms" in cut.verdict.method


def _grid_claim() -> tuple[MatMul, MatMul]:
    """J J = n J for the all-ones matrix J: canonical forms with a coefficient in ℚ(n) (Theorem A)."""
    import sympy

    from symderiv.lang.operators import DimScalar, Ones

    J = Ones("n", "n")
    return MatMul(J, J), MatMul(DimScalar(sympy.Symbol("n")), J)


def test_the_second_proof_runs_only_when_asked_and_the_method_says_which() -> None:
    """Budget.double_check: the verdict is the same either way; the method claims the explicit
    polynomial identity only when it ran, and says so when it did not."""
    from symderiv.kernel.matrix import SECOND_PROOF_OFF

    a = [Sym(c, "n", "n") for c in "ABC"]
    cases = [(Trace(MatMul(*a)), Trace(MatMul(a[2], a[0], a[1]))), _grid_claim()]
    for lhs, rhs in cases:
        on = verify_equal(lhs, rhs, Budget(double_check=True))
        off = verify_equal(lhs, rhs, Budget(double_check=False))
        assert on.status == off.status == "verified"
        assert "explicit-polynomial" in on.methods and "confirmed independently" in on.method
        assert SECOND_PROOF_OFF not in on.method
        assert "explicit-polynomial" not in off.methods and "confirmed independently" not in off.method
        assert off.method.endswith(SECOND_PROOF_OFF)
        assert "integer-screen" in on.methods and "integer-screen" not in off.methods  # skipped: it could not refute
    # a false claim is refuted the same way with the double check on or off
    lhs, rhs = _cycle(4)
    on, off = (verify_equal(lhs, rhs, Budget(double_check=d)) for d in (True, False))
    assert on.status == off.status == "failed" and on.method == off.method


def test_the_process_default_of_the_double_check() -> None:
    """A budget that leaves double_check unset follows the process default (the suite turns it on)."""
    from symderiv.kernel.budget import set_double_check

    assert Budget().second_proof() is True  # tests/conftest.py
    before = set_double_check(False)
    try:
        assert Budget().second_proof() is False and Budget(double_check=True).second_proof() is True
    finally:
        set_double_check(before)


def test_the_cli_double_check_flag(capsys) -> None:
    from symderiv.cli import main
    from symderiv.kernel.budget import set_double_check
    from symderiv.kernel.matrix import SECOND_PROOF_OFF

    before = set_double_check(False)
    try:
        assert main(["derive", "linear", "--format", "json"]) == 0
        plain_run = capsys.readouterr().out
        assert main(["derive", "linear", "--format", "json", "--double-check"]) == 0
        checked = capsys.readouterr().out
        assert Budget().second_proof() is False  # the flag does not outlive the command
    finally:
        set_double_check(before)
    assert SECOND_PROOF_OFF in plain_run and "confirmed independently" not in plain_run
    assert "confirmed independently" in checked and SECOND_PROOF_OFF not in checked


def test_the_double_check_never_changes_a_status() -> None:
    """With the double check off the screen is skipped or deferred and the polynomial identity not
    run: true claims stay verified, false ones failed (with a re-checked counterexample when one
    was found), fixed numeric sizes still decided by explicit evaluation."""
    from symderiv.lang.operators import Add, Scale, Transpose

    A, B, C = (Sym(c, "n", "n") for c in "ABC")
    P, Q = Sym("P", 2, 2), Sym("Q", 2, 2)
    x = Sym("x", "n", 1)
    cases = [
        (MatMul(A, B), MatMul(B, A)),
        (Trace(MatMul(A, B, C)), Trace(MatMul(B, A, C))),
        (Transpose(MatMul(A, B)), MatMul(Transpose(B), Transpose(A))),
        (MatMul(Add(A, B), x), Add(MatMul(A, x), MatMul(B, x))),
        (MatMul(Add(A, B), x), Add(MatMul(A, x), Scale(2, MatMul(B, x)))),
        (MatMul(P, Q), MatMul(Q, P)),
        (Trace(MatMul(P, Q)), Trace(MatMul(Q, P))),
        _grid_claim(),
        (_grid_claim()[0], MatMul(Ones_n(), Ones_n())),
        *(_cycle(k) for k in (3, 8)),
    ]
    for lhs, rhs in cases:
        on, off = (verify_equal(lhs, rhs, Budget(double_check=d)) for d in (True, False))
        assert on.status == off.status, (lhs, rhs, on.method, off.method)
        assert (on.counterexample is None) == (off.counterexample is None), (lhs, rhs)


def Ones_n():  # noqa: N802
    from symderiv.lang.operators import Ones

    return Ones("n", "n")


def test_memoised_certificates_are_the_computed_ones_and_refusals_are_never_cached():
    """The kernel memoises (monomial -> graph, certificate); a warm lookup must equal a cold
    computation, and a monomial over the leaf budget is refused on every call."""
    import pytest

    from symderiv.errors import BudgetExceeded
    from symderiv.kernel.indexgraph import canonical_form, class_sums, clear_caches, compile_monomial
    from symderiv.lang.operators import MatMul, Sym, Trace, Transpose

    A, B = Sym("A", "n", "n"), Sym("B", "n", "n")
    Am = Sym("A", "m", "m")
    monos = [MatMul(A, B), MatMul(B, A), Trace(MatMul(A, B)), Trace(MatMul(B, A)), MatMul(A, Transpose(B)),
             MatMul(Am, Am)]
    clear_caches()
    cold = [class_sums([(1, m)])[0] for m in monos]
    warm = [class_sums([(1, m)])[0] for m in monos]
    assert [list(c) for c in cold] == [list(c) for c in warm]
    assert [list(c) for c in cold] == [[canonical_form(compile_monomial(m))] for m in monos]
    assert list(cold[2]) == list(cold[3]) and list(cold[0]) != list(cold[1])  # tr(AB) = tr(BA); AB ≠ BA
    big = Trace(MatMul(*[A] * 12))  # 12 symmetric rotations: more leaves than a budget of 2
    for _ in range(2):
        with pytest.raises(BudgetExceeded):
            class_sums([(1, big)], max_leaves=2)

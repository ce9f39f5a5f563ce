"""Crashes and dishonest verdicts of the verifier (issue 8, verifier side; issue 15, printer depth).

Each class has a wrong statement that must not verify and a right one that must verify (or,
where no procedure decides it, be ``undecided`` with a reason) — never an exception.
"""
from __future__ import annotations

import ast
import pathlib

import numpy as np
import pytest
import sympy

import symderiv
from symderiv.errors import ShapeError, SymderivError
from symderiv.kernel.verifier import MAX_DEPTH, verify_equal, verify_first_order
from symderiv.lang.operators import (
    Add,
    Conv,
    Corr,
    Ext,
    Hadamard,
    Inner,
    MatMul,
    Scale,
    Shift,
    Sym,
    Trace,
    Transpose,
    Window,
    Zero,
    corr,
    sequence,
    substitute,
)
from symderiv.lang.printing import latex, plain
from symderiv.lang.symbols import matrix, vector

n, k = sympy.symbols("n k")
A, B = Sym("A", "n", "n"), Sym("B", "n", "n")
x, y = Sym("x", "n", 1), Sym("y", "n", 1)


def _status(v) -> str:
    assert v.status in ("verified", "failed", "undecided")
    if v.status == "failed":
        # the rule: failed only with a counterexample or a named proof of inequality
        assert v.counterexample is not None or v.methods, v
    if v.status == "undecided":
        assert v.reason, v
    return v.status


# -- 1. a 1x1 product is a scalar factor ----------------------------------------------------
def test_scalar_product_factor_verifies():
    assert _status(verify_equal(A * (y.T * x), (x.T * y) * A)) == "verified"
    assert _status(verify_equal(A * (y.T * x) * B, (x.T * y) * (A * B))) == "verified"


def test_scalar_product_factor_sympy_api():
    As, xs, ys = matrix("A", n, n), vector("x", n), vector("y", n)
    assert _status(verify_equal(As * (ys.T * xs), (xs.T * ys) * As)) == "verified"


@pytest.mark.parametrize("wrong", [
    lambda: (x.T * x) * A,          # a different scalar
    lambda: (x.T * y) * A.T,        # dropped transpose
    lambda: Scale(2, (x.T * y) * A),  # changed coefficient
])
def test_scalar_product_factor_wrong_fails(wrong):
    v = verify_equal(A * (y.T * x), wrong())
    assert _status(v) == "failed"
    assert v.counterexample is not None


# -- 2. first order with no terms of order ≤ 1 ----------------------------------------------
def test_first_order_only_higher_terms():
    dA = Sym("ΔA", "n", "n")
    v = verify_first_order(dA * dA, Zero("n", "n"))
    assert _status(v) == "verified"
    assert [t.plain() for t in v.dropped] == ["ΔA·ΔA"]
    w = verify_first_order(dA * dA, A)
    assert _status(w) == "failed" and w.counterexample is not None


# -- 3. nonlinear sequence expressions ------------------------------------------------------
S, dS = Sym("x", sympy.oo, 1), Sym("Δx", sympy.oo, 1)


def test_first_order_autocorrelation_verifies():
    lhs = Add(Corr(S + dS, S + dS), Scale(-1, Corr(S, S)))
    v = verify_first_order(lhs, Corr(dS, S) + Corr(S, dS))
    assert _status(v) == "verified"
    assert [t.plain() for t in v.dropped] == ["Δx ⊙ Δx"] or len(v.dropped) == 1
    w = verify_first_order(lhs, Corr(dS, S) + Corr(dS, S))
    assert _status(w) == "failed"


def test_first_order_hadamard_of_sequences_never_raises():
    lhs = Add(Hadamard(S + dS, S + dS), Scale(-1, Hadamard(S, S)))
    right = verify_first_order(lhs, Hadamard(dS, S) + Hadamard(S, dS))
    assert _status(right) == "verified"
    assert _status(verify_first_order(lhs, Scale(2, Hadamard(S, dS)))) == "verified"
    wrong = verify_first_order(lhs, Hadamard(dS, S))
    assert _status(wrong) == "failed" and wrong.counterexample is not None
    wrong = verify_first_order(lhs, Hadamard(dS, dS) + Hadamard(S, dS))
    assert _status(wrong) == "failed" and wrong.counterexample is not None


def test_entrywise_products_of_finite_vectors():
    u, v = Sym("u", "n", 1), Sym("v", "n", 1)
    assert _status(verify_equal(Inner(Hadamard(u, v), u), Inner(Hadamard(u, u), v))) == "verified"
    wrong = verify_equal(Inner(Hadamard(u, v), u), Inner(Hadamard(v, v), u))
    assert _status(wrong) == "failed" and wrong.counterexample is not None
    # an entrywise product under a correlation stays outside the procedure: never 'failed' without evidence
    w = Sym("w", "k", 1)
    c = Corr(Hadamard(u, v), w, "full")
    assert _status(verify_equal(c, Corr(Hadamard(v, u), w, "full"))) in ("verified", "undecided")


# -- 4. finite-mode vectors inside trace or a matrix product --------------------------------
xv, wv = Sym("x", "n", 1), Sym("w", "k", 1)


@pytest.mark.parametrize("mode", ["valid", "full", "same"])
def test_finite_mode_in_matrix_product_gives_a_verdict(mode):
    c = Corr(xv, wv, mode)
    for lhs in (c.T * c, Trace(c * c.T), Trace(c.T * c)):
        v = verify_equal(lhs, Inner(c, c))
        assert _status(v) in ("verified", "undecided")
        wrong = verify_equal(lhs, Scale(2, Inner(c, c)))
        assert _status(wrong) in ("failed", "undecided")
        assert wrong.status != "verified"


def test_full_mode_inner_product_as_matrix_product_verifies():
    c = Corr(xv, wv, "full")
    assert _status(verify_equal(c.T * c, Inner(c, c))) == "verified"
    assert _status(verify_equal(Trace(c * c.T), Inner(c, c))) == "verified"
    wrong = verify_equal(c.T * c, Inner(c, Corr(xv, wv, "full") + Corr(xv, wv, "full")))
    assert _status(wrong) == "failed" and wrong.counterexample is not None


def test_matrix_times_sequence_vector_is_undecided_not_an_exception():
    M = Sym("M", "n", "n")
    c = Corr(xv, wv, "same")
    v = verify_equal(M * c, M * c + Zero("n", 1))
    assert _status(v) in ("verified", "undecided")


# -- 5. integer-linear sizes -----------------------------------------------------------------
def test_linear_size_matrix_refused_at_construction():
    with pytest.raises(ShapeError, match="n \\+ 1"):
        Sym("A", n + 1, n)
    with pytest.raises(ShapeError):
        Zero(n + 1, n + 1)
    with pytest.raises(ShapeError):
        matrix("A", n + 1, "n")
    with pytest.raises(SymderivError):
        Sym("r", 1, n + 1)


def test_linear_size_vector_supported():
    z = Sym("z", n + 1, 1)
    assert _status(verify_equal(z.T * z, Inner(z, z))) == "verified"
    wrong = verify_equal(z.T * z, Scale(2, Inner(z, z)))
    assert _status(wrong) == "failed" and wrong.counterexample is not None


def test_sequence_constructor():
    s = sequence("s")
    assert s.shape == (sympy.oo, 1)
    t = sequence("t")
    assert _status(verify_equal(Inner(corr(s, t), Sym("D", sympy.oo, 1)), Inner(s, Conv(Sym("D", sympy.oo, 1), t)))) \
        in ("verified", "failed")


# -- 6. failed only with a proof or a checked counterexample --------------------------------
x2 = Sym("x2", "n", 1)


def test_disjoint_supports_verify():
    assert _status(verify_equal(Inner(Ext(xv), Shift(Ext(x2), n)), Zero(1, 1))) == "verified"
    v = Sym("v", "k", 1)
    assert _status(verify_equal(Inner(v, Window(Ext(xv), n, k)), Zero(1, 1))) == "verified"


def test_overlapping_supports_fail_with_counterexample():
    wrong = verify_equal(Inner(Ext(xv), Shift(Ext(x2), n - 1)), Zero(1, 1))
    assert _status(wrong) == "failed" and wrong.counterexample is not None
    v = Sym("v", "k", 1)
    wrong = verify_equal(Inner(v, Window(Ext(xv), n - 1, k)), Zero(1, 1))
    assert _status(wrong) == "failed" and wrong.counterexample is not None


def test_finite_support_identity_outside_procedure_is_not_failed():
    # true for every n and every x: the window [n, 2n) lies beyond x's support, and
    # shifting by n + 2 too, but the shift of a window is outside the procedure
    lhs = Inner(Ext(x2), Shift(Ext(Window(Ext(xv), n, n)), 1))
    v = verify_equal(lhs, Zero(1, 1))
    assert _status(v) in ("verified", "undecided")


def _failed_constructions(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and node.value.elts:
            first = node.value.elts[0]
            if isinstance(first, ast.Name) and first.id == "FAILED":
                yield node


def test_every_failed_decision_carries_evidence():
    """Scan the kernel's decision functions: each ``return FAILED, …`` tuple either passes a
    counterexample (6th element not None) or is guarded by a named theorem in its method text."""
    root = pathlib.Path(symderiv.__file__).parent / "kernel"
    for name in ("verifier.py", "convolution.py"):
        src = (root / name).read_text()
        for ret in _failed_constructions(ast.parse(src)):
            elts = ret.value.elts
            text = ast.get_source_segment(src, ret)
            cex = elts[5] if len(elts) > 5 else None
            has_cex = not (isinstance(cex, ast.Constant) and cex.value is None)
            assert has_cex or "Theorem" in text or "domain check" in text, f"{name}: {text}"


# -- 7. 'same' and 'valid' outside n ≥ k ------------------------------------------------------
@pytest.mark.parametrize("mode", ["same", "valid"])
@pytest.mark.parametrize("kk", [5, n + 1, 2 * n])
def test_short_first_input_refused(mode, kk):
    with pytest.raises(ShapeError, match="n ≥ k"):
        Corr(Sym("x", 3 if kk == 5 else "n", 1), Sym("w", kk, 1), mode)


@pytest.mark.parametrize("nn,kk", [(5, 3), (4, 4), (6, 3), (7, 2)])
def test_same_mode_matches_numpy(nn, kk):
    xs, ws = Sym("x", nn, 1), Sym("w", kk, 1)
    from symderiv.kernel.seqeval import seq_evaluate

    rng = np.random.default_rng(nn * 10 + kk)
    a = [int(t) for t in rng.integers(-5, 6, nn)]
    b = [int(t) for t in rng.integers(-5, 6, kk)]
    env = {"x": dict(enumerate(a)), "w": dict(enumerate(b))}
    got_corr = seq_evaluate(Corr(xs, ws, "same"), env, {})
    got_conv = seq_evaluate(Conv(xs, ws, "same"), env, {})
    assert [got_corr.get(i, 0) for i in range(nn)] == list(np.correlate(a, b, "same"))
    assert [got_conv.get(i, 0) for i in range(nn)] == list(np.convolve(a, b, "same"))


def test_symbolic_same_mode_still_allowed():
    c = Corr(xv, wv, "same")
    assert c.shape == (n, 1)
    assert _status(verify_equal(c, c)) == "verified"


# -- 8. deep nesting ---------------------------------------------------------------------------
def _tower(e, depth, step):
    for _ in range(depth):
        e = step(e)
    return e


def test_deep_transposes_verify():
    e = _tower(A, 329, Transpose)
    assert _status(verify_equal(e, A.T)) == "verified"
    wrong = verify_equal(e, A)
    assert _status(wrong) == "failed" and wrong.counterexample is not None
    assert _status(verify_first_order(e, A.T)) == "verified"


def test_deep_sum_transposes_are_undecided_not_an_exception():
    e = _tower(A, 197, lambda t: Transpose(t + B))
    v = verify_equal(e, e)
    assert _status(v) in ("verified", "undecided")
    assert "nested" in v.reason or v.status == "verified"
    assert "nested" in v.explain() or v.status == "verified"


def test_deep_flat_sums_and_products_verify():
    left = A
    for _ in range(400):
        left = Add(left, B)
    right = Add(A, Scale(400, B))
    assert _status(verify_equal(left, right)) == "verified"
    a = Sym("a", 1, 1)
    prod = A
    for _ in range(300):
        prod = MatMul(prod, a)
    assert _status(verify_equal(prod, prod)) == "verified"
    scaled = A
    for _ in range(300):
        scaled = Scale(2, scaled)
    assert _status(verify_equal(scaled, Scale(2 ** 300, A))) == "verified"
    assert _status(verify_equal(scaled, Scale(2 ** 299, A))) == "failed"


def test_nesting_limit_is_a_verdict():
    e = _tower(x, MAX_DEPTH + 10, lambda t: Scale(2, t) + y)
    v = verify_equal(e, e)
    assert v.status in ("verified", "undecided") and (v.status == "verified" or v.reason)


def test_printer_handles_deep_transposes():
    e = _tower(A, 326, Transpose)
    text = plain(e)
    assert text.count("^T") == 326 and text.startswith("(" * 325)
    tex = latex(e)
    assert tex.count("^{T}") + tex.count("^T") + tex.count("^{\\top}") >= 326
    assert repr(e) == text
    deeper = _tower(A, 3000, Transpose)
    assert plain(deeper).count("^T") == 3000
    assert hash(deeper) == hash(_tower(A, 3000, Transpose)) and deeper == _tower(A, 3000, Transpose)


# -- found while hunting -----------------------------------------------------------------------
def test_restriction_length_must_be_positive():
    with pytest.raises(ShapeError, match="at least 1"):
        Window(Ext(xv), 0, 0)
    with pytest.raises(ShapeError, match="at least 1"):
        Window(Ext(xv), 0, -2)
    with pytest.raises(ShapeError):
        Window(Ext(xv), 0, -n)


def test_outer_product_of_linear_length_vector_is_a_verdict():
    z = Sym("z", n + 1, 1)
    outer = MatMul(z, z.T)
    assert _status(verify_equal(outer, Add(outer, Zero(1, 1) * outer))) in ("verified", "undecided")
    assert _status(verify_equal(Trace(outer), z.T * z)) == "verified"
    wrong = verify_equal(Trace(outer), Scale(3, z.T * z))
    assert _status(wrong) == "failed" and wrong.counterexample is not None
    row = verify_equal(z.T, z.T)  # a row vector is fine to build; no procedure pairs it
    assert _status(row) in ("verified", "undecided")


def test_length_only_on_the_right_side():
    s, ds = Sym("s", sympy.oo, 1), Sym("Δs", sympy.oo, 1)
    v = verify_equal(s, Conv(ds, xv))
    assert _status(v) == "failed" and v.counterexample is not None


def test_scalar_operand_of_sequence_operations():
    s, t, z = Sym("s", sympy.oo, 1), Sym("t", sympy.oo, 1), Sym("z", n + 1, 1)
    c = Corr(Inner(t, s), z, "full")
    assert _status(verify_equal(c, Add(c, Scale(0, c)))) in ("verified", "undecided")
    a = Sym("a", 1, 1)
    assert _status(verify_equal(Conv(Ext(z), Ext(Trace(a))), s)) in ("failed", "undecided")
    w = Window(Ext(Inner(t, s)), 0, n)
    assert _status(verify_equal(w, Add(w, Scale(-1, w)))) in ("failed", "undecided")


def test_fixed_sizes_counterexample_names_the_declared_sizes():
    P, Q = Sym("P", 2, 2), Sym("Q", 2, 2)
    v = verify_equal(P * Q, Q * P)
    assert _status(v) == "failed" and "all dimensions 1" not in v.method
    assert len(v.counterexample.values["P"]) == 2


def test_deep_expressions_in_gradient_checks_and_derivations():
    from symderiv.derive.derivation import Derivation
    from symderiv.kernel.jacobian import check_gradient

    W, xx = Sym("W", "m", "n"), Sym("x", "n", 1)
    g = Sym("dL/dy", "m", 1)
    f = _tower(MatMul(W, xx), 400, Transpose)
    assert _status(check_gradient(f, W, MatMul(g, xx.T), g)) == "verified"
    assert _status(check_gradient(f, W, MatMul(g, Scale(2, xx).T), g)) == "failed"
    d = Derivation("deep", Sym("y", "m", 1), f, W)
    d.perturb(_tower(MatMul(Sym("ΔW", "m", "n"), xx), 300, Transpose)).loss_differential().read_off(MatMul(g, xx.T))
    d.check()
    assert d.status == "verified", d.explain()
    deep = _tower(xx, 300, lambda t: Scale(1, Add(t, Scale(0, xx))))
    assert _status(check_gradient(MatMul(W, deep), W, MatMul(g, xx.T), g)) in ("verified", "undecided")


def test_sequence_gradient_written_as_matrix_product():
    from symderiv.kernel.jacobian import check_gradient

    s, t = Sym("s", sympy.oo, 1), Sym("t", sympy.oo, 1)
    c = Corr(s, t)
    assert _status(check_gradient(MatMul(Transpose(c), c), s, Scale(2, Conv(c, t)), None)) == "verified"
    assert _status(check_gradient(MatMul(Transpose(c), c), s, Scale(2, Corr(c, t)), None)) == "failed"


AUTOCORRELATION = r"""# Autocorrelation

Let $x \in \mathbf{R}^{\infty}$, $y \in \mathbf{R}^{\infty}$ and $L \in \mathbf{R}$. Autocorrelation is

$$y = x \odot x$$
$$y_i := \sum_j x_{i+j} x_j$$

## Input gradient

$$\Delta y = (x + \Delta x) \odot (x + \Delta x) - x \odot x = RIGHT$$
"""


def test_autocorrelation_document_is_checked_not_an_internal_error():
    from symderiv.documents.documents import check_text

    right = check_text(AUTOCORRELATION.replace("RIGHT", r"\Delta x \odot x + x \odot \Delta x"), "auto.md")
    (d,) = right.derivations
    assert [s.status for s in d.steps] == ["verified", "verified"], d.explain()
    wrong = check_text(AUTOCORRELATION.replace("RIGHT", r"2 \Delta x \odot x"), "auto.md")
    (d,) = wrong.derivations
    assert d.steps[-1].status == "failed" and d.steps[-1].verdict.counterexample is not None


def test_identical_monomials_outside_the_fragment_cancel():
    s, t, ds = Sym("s", sympy.oo, 1), Sym("t", sympy.oo, 1), Sym("Δs", sympy.oo, 1)
    f = Corr(Hadamard(s, t), t)  # ⊙ under a correlation: outside the sign-class fragment
    lhs = Add(substitute(f, {"s": Add(s, ds)}), Scale(-1, f))
    v = verify_first_order(lhs, Corr(Hadamard(ds, t), t))
    assert _status(v) == "verified" and "term by term" in v.method
    wrong = verify_first_order(lhs, Corr(Hadamard(ds, t), s))
    assert _status(wrong) in ("failed", "undecided") and wrong.status != "verified"
    wrong = verify_first_order(lhs, Scale(2, Corr(Hadamard(ds, t), t)))
    assert _status(wrong) == "failed" and wrong.counterexample is not None


def test_empty_length_domain_is_not_verified_nor_failed():
    xx, w5, v4 = Sym("x", "n", 1), Sym("w", 5, 1), Sym("v", 4, 1)
    c1, c2 = Corr(xx, w5, "valid"), Corr(v4, xx, "valid")  # n ≥ 5 and 4 ≥ n: no n at all
    for rhs in (Inner(c2, c2) + Inner(c1, c1), Scale(3, Inner(c2, c2))):
        v = verify_equal(Inner(c1, c1) + Inner(c2, c2), rhs)
        assert _status(v) == "undecided" and "nothing to prove" in v.method
    c3 = Corr(Sym("u", n + 2, 1), Sym("z", "k", 1), "valid")
    assert _status(verify_equal(Inner(c3, c3), Inner(c3, c3))) == "verified"


def test_domain_check_names_lengths_where_the_right_side_is_undefined():
    full, valid = Corr(xv, wv, "full"), Corr(xv, wv, "valid")  # 'valid' needs n ≥ k, 'full' does not
    v = verify_equal(Inner(full, full), Add(Inner(full, full), Inner(valid, valid), Scale(-1, Inner(valid, valid))))
    assert _status(v) == "failed" and "fails at k=2, n=1" in v.reason
    same = Corr(xv, wv, "same")
    v = verify_equal(Inner(full, full), Add(Inner(full, full), Inner(same, same), Scale(-1, Inner(same, same))))
    assert _status(v) == "failed" and "fails at" in v.reason


def test_a_check_that_raises_is_failed_only_when_the_statement_is_ill_typed():
    """An exception is never a refutation: only an ill-typed statement is failed (a shape check)."""
    from symderiv.derive.derivation import error_verdict
    from symderiv.errors import DerivationError, NotInFragment, ShapeError

    assert error_verdict(ShapeError("2×1 vs 3×1")).status == "failed"
    for exc in (NotInFragment("floors"), RecursionError(), DerivationError("no rule"), ZeroDivisionError("bug")):
        v = error_verdict(exc)
        assert v.status == "undecided" and v.reason, exc

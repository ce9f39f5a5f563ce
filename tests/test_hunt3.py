"""Soundness hunt 3 (chain rule across intermediates, hypotheses in documents, domains, the Python API,
the CLI): each test reproduces a defect that was found, with a right twin and a wrong twin."""
from __future__ import annotations

import pytest
import sympy
from sympy import OneMatrix

from symderiv import sums_to, vector
from symderiv.documents.documents import check_text
from symderiv.errors import ReadError, SymderivError
from symderiv.testing import assert_gradient

SOFTMAX_CE = r"""# Softmax

Let $z \in \mathbf{R}^n$, $y \in \mathbf{R}^n$ and $L \in \mathbf{R}$.
<!-- symderiv: assume \mathbf{1}_n^T y = 1 -->

$$L = -\langle y, \log(\mathrm{softmax}(z)) \rangle$$

## Gradient

HYPOTHESIS

$$\Delta L = -\langle y, \log(\mathrm{softmax}(z + \Delta z)) \rangle + \langle y, \log(\mathrm{softmax}(z)) \rangle \approx \langle \mathrm{softmax}(z) - y, \Delta z \rangle$$

$$\Rightarrow \frac{dL}{dz} = GRADIENT$$
"""


def _softmax_ce(hypothesis: str, gradient: str = r"\mathrm{softmax}(z) - y"):
    return check_text(SOFTMAX_CE.replace("HYPOTHESIS", hypothesis).replace("GRADIENT", gradient), "s.md")


def test_a_hypothesis_restated_in_a_subsection_is_the_same_hypothesis():
    """Restating 1ᵀy = 1 in a subsection made every step under it 'undecided (ValueError: two
    hypotheses constrain y ...; please report it)', and the Jacobian cross-check, retried under the
    hypotheses, crashed and kept the unconditional verdict: *failed*, with y = [3; 1] (1ᵀy = 4) as its
    counterexample — a true gradient refuted by a point outside the stated hypothesis."""
    doc = _softmax_ce(r"The labels sum to one. <!-- symderiv: assume \mathbf{1}_n^T y = 1 -->")
    (d,) = doc.derivations
    assert [s.status for s in d.steps] == ["verified"] * 3
    assert d.jacobian.status == "verified"
    assert doc.status == "verified"
    # wrong twin: the gradient without "- y" still fails under the restated hypothesis
    wrong = _softmax_ce(r"<!-- symderiv: assume \mathbf{1}_n^T y = 1 -->", r"\mathrm{softmax}(z)")
    assert wrong.status == "failed"
    assert wrong.derivations[0].jacobian.status == "failed"


@pytest.mark.parametrize("hypothesis, message", [
    (r"<!-- symderiv: assume \mathbf{1}_n^T y = 2 -->", "two hypotheses constrain y"),
    (r"<!-- symderiv: assume y > 0; \mathbf{1}_n^T y = 0 -->", "no common solution|two hypotheses"),
])
def test_conflicting_hypotheses_are_refused_where_written(hypothesis, message):
    """Two different conditions on one symbol (1ᵀy = 1 in the section, 1ᵀy = 2 in its subsection) were
    accepted and every statement under them became an internal error; now the document is refused at
    the hypothesis (exit 2), as an unreadable hypothesis is."""
    with pytest.raises(ReadError, match=message):
        _softmax_ce(hypothesis)


def test_contradictory_hypotheses_are_refused_where_written():
    """x > 0 and 1ᵀx = −1 have no common solution: refused at the line, never checked vacuously."""
    text = ("# C\n\nLet $x \\in \\mathbf{R}^n$ and $A \\in \\mathbf{R}^{n \\times n}$.\n"
            "<!-- symderiv: assume x > 0; \\mathbf{1}_n^T x = -1 -->\n\n$$A x = A^T x$$\n")
    with pytest.raises(ReadError, match="no common solution") as info:
        check_text(text, "c.md")
    assert info.value.line == 4


@pytest.mark.parametrize("ones, ok", [("_m", False), ("_3", False), ("_{m}", False), ("_n", True),
                                       ("_{n}", True), ("", True)])
def test_sums_to_with_a_ones_vector_of_another_length_is_refused(ones, ok):
    """𝟏_mᵀy = 1 with y ∈ Rⁿ was read as 𝟏_nᵀy = 1 (the subscript was ignored), so a typo in the
    hypothesis silently became the condition that makes 1ᵀy = 1 verify."""
    text = ("# C\n\nLet $y \\in \\mathbf{R}^n$ and $m \\in \\mathbf{R}$.\n"
            f"<!-- symderiv: assume \\mathbf{{1}}{ones}^T y = 1 -->\n\n$$\\mathbf{{1}}_n^T y = 1$$\n")
    if ok:
        assert check_text(text, "c.md").status == "verified"
    else:
        with pytest.raises(ReadError, match="ones vector of length"):
            check_text(text, "c.md")


def test_api_hypotheses_stated_twice_or_conflicting():
    """assert_gradient(..., assume=[sums_to(y), sums_to(y)]) raised a bare ValueError from the kernel."""
    n = sympy.Symbol("n")
    z, y = vector("z", n), vector("y", n)
    ez = z.applyfunc(sympy.exp)
    p = ez * (1 / sympy.Trace(OneMatrix(1, n) * ez))
    loss = -sympy.Trace(y.T * p.applyfunc(sympy.log))
    assert_gradient(loss, z, p - y, assume=[sums_to(y), sums_to(y)])
    with pytest.raises(AssertionError):
        assert_gradient(loss, z, p, assume=[sums_to(y), sums_to(y)])
    with pytest.raises(SymderivError, match="two hypotheses constrain y"):
        assert_gradient(loss, z, p - y, assume=[sums_to(y), sums_to(y, 2)])


MLP = r"""# MLP

Let $x \in \mathbf{R}^n$, $W_1 \in \mathbf{R}^{k \times n}$, $h \in \mathbf{R}^k$, $W_2 \in \mathbf{R}^{k \times k}$, $y \in \mathbf{R}^k$ and $L \in \mathbf{R}$.

$$h = W_1 x$$

$$y = W_2 h$$

## First weights

$$CLAIM$$

$$\Delta y = W_2 \Delta W_1 x$$

$$\Delta L = \langle \frac{dL}{dy}, W_2 \Delta W_1 x \rangle = \langle STEP, \Delta W_1 x \rangle = \langle STEP x^T, \Delta W_1 \rangle$$

$$\Rightarrow \frac{dL}{dW_1} = STEP x^T$$
"""


def _mlp(claim: str, step: str):
    return check_text(MLP.replace("CLAIM", claim).replace("STEP", step), "mlp.md")


def test_the_gradient_of_an_intermediate_is_not_refuted_as_a_free_symbol():
    """With h = W₁x and y = W₂h, dL/dh is W₂ᵀ dL/dy (the chain rule). The checker reads dL/dh as a free
    symbol: dL/dh = W₂ᵀ dL/dy, ⟨dL/dy, W₂ΔW₁x⟩ = ⟨dL/dh, ΔW₁x⟩ and the Jacobian cross-check of
    dL/dW₁ = dL/dh xᵀ all 'failed', with dL/dh = 0 and dL/dy = 1 as counterexample — true statements
    refuted by a point that is not one. Independently: for k = n = 1, W₂ = 2, dL/dy = 3, x = 5,
    ⟨dL/dy, W₂ΔW₁x⟩ = 30ΔW₁ and ⟨W₂ᵀdL/dy, ΔW₁x⟩ = 30ΔW₁."""
    doc = _mlp(r"\frac{dL}{dh} = W_2^T \frac{dL}{dy}", r"\frac{dL}{dh}")
    statuses = [s.status for s, _ in doc.all_steps()]
    assert "failed" not in statuses
    assert doc.claims[0].steps[0].status == "undecided"
    assert "chain rule" in doc.claims[0].steps[0].verdict.reason
    assert doc.derivations[0].jacobian.status == "undecided"
    # written out, the same derivation verifies
    assert _mlp(r"W_2^T \frac{dL}{dy} = W_2^T \frac{dL}{dy}", r"W_2^T \frac{dL}{dy}").status == "verified"
    # wrong twin written out (W₂ for W₂ᵀ) still fails, Jacobian included
    wrong = _mlp(r"W_2 \frac{dL}{dy} = W_2 \frac{dL}{dy}", r"W_2 \frac{dL}{dy}")
    assert wrong.status == "failed"
    assert wrong.derivations[0].jacobian.status == "failed"
    # a step that mentions only the upstream dL/dy is decided as before
    assert any(s.status == "failed" and "dL/dh" not in s.plain() for s in wrong.derivations[0].steps)


def test_the_gradient_of_a_variable_of_the_loss_definition_is_not_free():
    """L = ½‖h‖² fixes dL/dh = h; the claim dL/dh = h was 'refuted' with dL/dh = 0."""
    text = ("# L\n\nLet $h \\in \\mathbf{R}^n$ and $L \\in \\mathbf{R}$.\n\n$$L = \\frac{1}{2} \\|h\\|^2$$\n\n"
            "## G\n\n$$\\frac{dL}{dh} = h$$\n")
    doc = check_text(text, "l.md")
    assert doc.claims[0].steps[0].status == "undecided"
    # an unrelated gradient symbol stays free: dL/dh = h with no definition of L is refuted
    free = check_text(text.replace("$$L = \\frac{1}{2} \\|h\\|^2$$\n\n", ""), "l.md")
    assert free.claims[0].steps[0].status == "failed"


def test_one_name_with_two_shapes_on_one_side_is_refused():
    """x ∈ Rⁿ and x ∈ Rᵐ (two SymPy MatrixSymbols named x) were refused only when the two shapes first
    appeared on different sides: the check took one symbol per name from each side, so
    xᵀx − xᵀx = 0 with the two x was 'refuted' with the message "left minus right leaves xᵀ·x − xᵀ·x",
    and tr(B₁B₂) = tr(B₁ᵀB₂ᵀ) with B₁ ∈ R^{n×m}, B₂ ∈ R^{m×n} both named B was verified."""
    from symderiv import matrix, verify_equal
    n, m = sympy.symbols("n m")
    x1, x2 = vector("x", n), vector("x", m)
    b1, b2 = matrix("B", n, m), matrix("B", m, n)
    for lhs, rhs in [(x1.T * x1 - x2.T * x2, sympy.ZeroMatrix(1, 1)),
                     (x2.T * x2 + x1.T * x1, 2 * x2.T * x2),
                     (sympy.Trace(b1 * b2), sympy.Trace(b1.T * b2.T))]:
        with pytest.raises(SymderivError, match="used with two shapes"):
            verify_equal(lhs, rhs)
    # one shape per name: decided as before
    assert verify_equal(sympy.Trace(b1 * matrix("C", m, n)), sympy.Trace(matrix("C", m, n) * b1)).status == "verified"


QUAD = r"""# Quadratic form

Let $x \in \mathbf{R}^n$, $A \in \mathbf{R}^{n \times n}$, $S \in \mathbf{R}^{n \times n}$ and $y \in \mathbf{R}$.

$$S = A + A^T$$

$$y = x^T A x$$

## Gradient

$$\Delta y \approx x^T A \Delta x + \Delta x^T A x = \langle GRADIENT, \Delta x \rangle$$

$$\Rightarrow \frac{dy}{dx} = GRADIENT$$

## Claims

$$CLAIM$$
"""


@pytest.mark.parametrize("gradient, claim, ok", [
    ("S x", r"x^T S x = 2 x^T A x", True),
    ("S^T x", r"S = S^T", True),
    ("2 S x", r"x^T S x = x^T A x", False),
    ("A x", r"S = A", False),
])
def test_a_value_defined_in_scope_means_its_value_in_steps_and_claims(gradient, claim, ok):
    """With S = A + Aᵀ defined above, ⟨Sx, Δx⟩ as the differential of xᵀAx, dy/dx = Sx, S = Sᵀ and
    xᵀSx = 2xᵀAx are true (independently, at n = 2, A = [1 2; 3 4], x = [1; 1]: S = [2 5; 5 8],
    xᵀSx = 20 = 2·10). S does not occur in the composite, so it stayed a free symbol and every one of
    them 'failed' with a counterexample where S ≠ A + Aᵀ. Wrong twins (2Sx, xᵀSx = xᵀAx, S = A) fail."""
    doc = check_text(QUAD.replace("GRADIENT", gradient).replace("CLAIM", claim), "q.md")
    (d,) = doc.derivations
    (claim,) = [s for c in doc.claims for s in c.steps if s.line == 17]
    if ok:
        assert [s.status for s in d.steps] == ["verified"] * len(d.steps), [s.verdict for s in d.steps]
        assert d.jacobian.status == "verified"
        assert claim.status == "verified"
    else:
        assert d.jacobian.status == "failed"
        assert claim.status == "failed"


def test_an_intermediate_defined_below_its_consumer_is_not_refuted():
    """y = W₂h + b₂ and then h = relu(W₁x + b₁): h is a variable of y's definition, so the line was read as
    an identity claim about a free h and 'refuted' with h ≠ relu(W₁x + b₁) — not a counterexample to a
    definition. Now it is undecided and says to define h first; written first, it is a definition."""
    head = ("# MLP\n\nLet $x \\in \\mathbf{R}^n$, $W_1 \\in \\mathbf{R}^{k \\times n}$, $b_1 \\in \\mathbf{R}^k$, "
            "$h \\in \\mathbf{R}^k$, $W_2 \\in \\mathbf{R}^{m \\times k}$, $b_2 \\in \\mathbf{R}^m$, "
            "$y \\in \\mathbf{R}^m$ and $L \\in \\mathbf{R}$.\n\n")
    h, y = "$$h = \\operatorname{relu}(W_1 x + b_1)$$\n\n", "$$y = W_2 h + b_2$$\n\n"
    grad = ("## W2\n\n$$\\Delta y = \\Delta W_2 h$$\n\n$$\\Delta L = \\langle \\frac{dL}{dy}, \\Delta W_2 h \\rangle "
            "= \\langle \\frac{dL}{dy} h^T, \\Delta W_2 \\rangle$$\n\n$$\\Rightarrow \\frac{dL}{dW_2} = \\frac{dL}{dy} h^T$$\n")
    late = check_text(head + y + h + grad, "m.md")
    (step,) = [s for s, _ in late.all_steps() if s.line == 7]
    assert step.status == "undecided" and "define h before y" in step.verdict.reason
    assert "failed" not in [s.status for s, _ in late.all_steps()]
    # written first, it is a definition (here used by no derivation of W₁, so reported as unused, as before)
    first = check_text(head + h + y + grad, "m.md")
    assert [s.status for s in first.derivations[0].steps] == ["verified"] * 4
    assert "no derivation uses it" in first.claims[0].steps[0].verdict.reason
    # an equation whose left side also occurs on the right is still a claim: W = W^T fails
    text = head + y + "$$W_2 = W_2^T$$\n"
    assert check_text(text.replace("\\mathbf{R}^{m \\times k}", "\\mathbf{R}^{k \\times k}").replace(
        "\\mathbf{R}^m$", "\\mathbf{R}^k$"), "m.md").status == "failed"


def test_the_text_output_says_when_a_check_needed_the_hypotheses():
    """`symderiv check` printed "✓ equality  = ⟨softmax(z) − y, Δz⟩" and "Jacobian cross-check ... (verified)"
    for steps that hold only under 1ᵀy = 1: the JSON method named the hypothesis, the text did not."""
    from symderiv.report.text import render_check
    out = render_check(_softmax_ce(""))
    assert "(under 1ᵀy = 1)  = ⟨softmax(z) - y, Δz⟩" in out
    assert "(verified under 1ᵀy = 1)" in out
    # a step that holds without the hypothesis says nothing
    assert "✓ perturbation  ΔL" in out


SYM_DECL = "# F\n\nLet $A \\in \\mathbf{R}^{n \\times n}$ and $x \\in \\mathbf{R}^n$.\n\n"


@pytest.mark.parametrize("shown", [
    "Write `<!-- symderiv: assume A = A^T -->` to assume symmetry.",
    "Write ``<!-- symderiv: assume A = A^T -->`` to assume symmetry.",
    "`<!-- symderiv: \\delta = perturbation -->` and `<!-- symderiv: assume A = A^T -->`",
])
def test_a_directive_in_a_code_span_is_not_stated(shown):
    """A course documenting the syntax in a code span (`<!-- symderiv: assume A = A^T -->`) had the
    hypothesis applied to its section: Ax = Aᵀx, false (A = [0 1; 0 0], x = [0; 1]: Ax = [1; 0],
    Aᵀx = [0; 0]), was verified 'under A = Aᵀ', a hypothesis the author never stated."""
    doc = check_text(SYM_DECL + shown + "\n\n$$A x = A^T x$$\n", "f.md")
    assert doc.status == "failed"
    # stated, it applies
    assert check_text(SYM_DECL + "<!-- symderiv: assume A = A^T -->\n\n$$A x = A^T x$$\n", "f.md").status == "verified"


@pytest.mark.parametrize("directive", [
    "<!--\nsymderiv: assume A = A^T\n-->",
    "<!-- symderiv: assume\nA = A^T -->",
    "<!-- symderiv:\n\\circ = hadamard -->",
])
def test_a_directive_over_several_lines_is_refused_not_skipped(directive):
    """A directive broken over lines was skipped without a word (the reader matches one line), so the
    author's hypothesis was dropped and Ax = Aᵀx 'refuted' with a non-symmetric A."""
    with pytest.raises(ReadError, match="on one line") as info:
        check_text(SYM_DECL + directive + "\n\n$$A x = A^T x$$\n", "f.md")
    assert info.value.line == 5
    # in a code fence it is code, not a directive
    fenced = check_text(SYM_DECL + "```\n" + directive + "\n```\n\n$$A x = A^T x$$\n", "f.md")
    assert fenced.status == "failed"


def test_a_hypothesis_does_not_silently_follow_a_name_declared_again_below():
    """'Here A ∈ R^{n×n} is any matrix' in a subsection took the parent's A = Aᵀ: Ax = Aᵀx (false for
    A = [0 1; 0 0], x = [0; 1]) was verified 'under A = Aᵀ'. The same shape is ambiguous (a reminder or a
    new variable): refused unless restated; another shape is a new variable, not under the hypothesis."""
    head = "# S\n\nLet $A \\in \\mathbf{R}^{n \\times n}$ and $x \\in \\mathbf{R}^n$.\n<!-- symderiv: assume A = A^T -->\n\n"
    claim = "$$A x = A^T x$$\n"
    with pytest.raises(ReadError, match="declared again") as info:
        check_text(head + "## Other\n\nHere $A \\in \\mathbf{R}^{n \\times n}$ is any matrix.\n\n" + claim, "s.md")
    assert info.value.line == 8
    restated = ("## Same\n\nHere $A \\in \\mathbf{R}^{n \\times n}$ again. <!-- symderiv: assume A = A^T -->\n\n")
    assert check_text(head + restated + claim, "s.md").status == "verified"
    assert check_text(head + "## Plain\n\n" + claim, "s.md").status == "verified"
    other = "## Other\n\nHere $A \\in \\mathbf{R}^{m \\times m}$ and $x \\in \\mathbf{R}^m$.\n\n"
    assert check_text(head + other + claim, "s.md").status == "failed"


@pytest.mark.parametrize("order", ["hypothesis first", "definition first"])
def test_a_hypothesis_on_a_defined_value_is_refused(order):
    """With 𝟏ᵀy = 1 assumed and y = Wx defined, the hypothesis is a condition on W and x the kernel cannot
    state: kept as a free y, 1ᵀWx = 1 was 'refuted' at a point outside it; expanded, the hypothesis says
    nothing. Refused at the hypothesis, whichever comes first."""
    decl = "# H\n\nLet $x \\in \\mathbf{R}^n$, $W \\in \\mathbf{R}^{n \\times n}$, $y \\in \\mathbf{R}^n$.\n"
    hyp = "<!-- symderiv: assume \\mathbf{1}_n^T y = 1 -->\n\n"
    body = "$$y = W x$$\n\n"
    claims = "$$\\mathbf{1}_n^T y = 1$$\n\n$$\\mathbf{1}_n^T W x = 1$$\n"
    text = decl + (hyp + body if order == "hypothesis first" else body + "## Sub\n\n" + hyp) + claims
    with pytest.raises(ReadError) as info:
        check_text(text, "h.md")
    assert "a hypothesis on a defined value is not read" in str(info.value)
    assert info.value.line == (4 if order == "hypothesis first" else 8)


@pytest.mark.parametrize("decl", [
    "Let $s := 2 x$ and $x \\in \\mathbf{R}^n$.",
    "Let $s := 2 q \\in \\mathbf{R}^n$, $x \\in \\mathbf{R}^n$.",
])
def test_an_alias_that_cannot_be_read_is_reported_where_it_is(decl):
    """An alias whose right side uses a symbol not declared before it was dropped without a word: every use
    said "unknown symbol 's'" with nothing pointing to the alias."""
    doc = check_text(f"# A\n\n{decl}\n\n$$s = 2 x$$\n", "a.md")
    reasons = [s.verdict.reason for s, _ in doc.all_steps()]
    assert any("alias s :=" in r for r in reasons)
    assert any("declaration at line 3" in r for r in reasons)
    assert doc.status == "failed"
    ok = check_text("# A\n\nLet $x \\in \\mathbf{R}^n$ and $s := 2 x$.\n\n$$s = 2 x$$\n", "a.md")
    assert ok.status == "verified"

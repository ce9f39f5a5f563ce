"""Soundness hunt 4 (the LALR reader and its norm-bar pre-pass, read-offs on the line that starts a
derivation, the kernel's domains and memoised certificates, hypotheses on defined values, reports):
each test reproduces a defect that was found, with a right twin and a wrong twin."""
from __future__ import annotations

from symderiv.documents.documents import check_text

MSE = r"""# Norms

Let $x \in \mathbf{R}^n$, $t \in \mathbf{R}^n$ and $L \in \mathbf{R}$.

$$L = \frac{1}{2}\|x - t\|^2$$

$$LINE$$
"""


def _steps(line: str):
    doc = check_text(MSE.replace("LINE", line), "m.md")
    (d,) = doc.derivations
    return doc, [(s.status, s.kind) for s in d.steps]


def test_two_read_offs_on_the_line_that_starts_a_derivation():
    """'ΔL ≈ ⟨x − t, Δx⟩ ⇒ dL/dx = x − t ⇒ dL/dx = x − t' right after L = ...: only the first ⇒ split
    the line, and the rest, 'dL/dx = x − t ⇒ dL/dx = x − t', was one chain whose middle link compared
    ΔL with ⟨dL/dx, Δx⟩ for a FREE dL/dx: a true line 'failed' with the bogus counterexample dL/dx = 0
    (x = 1, t = 0). Each ⇒ now splits the line, as on lines of their own."""
    right = r"\Delta L \approx \langle x - t, \Delta x \rangle \Rightarrow \frac{dL}{dx} = x - t \Rightarrow \frac{dL}{dx} = x - t"
    doc, steps = _steps(right)
    assert [s for s, _ in steps] == ["verified"] * 3
    assert doc.status == "verified"
    # wrong twin: the second read-off is wrong, and only it fails
    doc, steps = _steps(right[: -len("x - t")] + "x")
    assert [s for s, _ in steps] == ["verified", "verified", "failed"]
    assert doc.status == "failed"


def test_a_delta_of_a_group_is_re_emitted_with_its_parentheses():
    """The grammar reads Δ(x + y) and Δ{Wx} as the Δ of the whole group (the interpreter then refuses
    them: Δ takes one declared symbol), but the reports' re-emitter wrote '\\Delta {x + y}', which TeX
    typesets as Δx + y: the report showed 'Δx + y = Δx + Δy' next to a message about what Δ takes. The
    group is now typeset in parentheses (and reads back as the same tree)."""
    from symderiv.documents.reader import MathLine, parse_math
    from symderiv.report.render import math_latex

    for line, emitted in [(r"\Delta(x + y) = \Delta x + \Delta y", r"\Delta (x + y) = \Delta x + \Delta y"),
                          (r"\Delta{W x} = W \Delta x", r"\Delta (W x) = W \Delta x"),
                          (r"\Delta x^T", r"\Delta x^{T}")]:
        assert math_latex(line) == emitted
        assert math_latex(emitted) == emitted
    # the parenthesised form reads back as the Δ of the group, as the author's line did
    for line in (r"\Delta(x + y)", r"\Delta{W x}"):
        again = math_latex(line)
        assert again is not None
        assert parse_math(MathLine(again, 1, 1), "a") == parse_math(MathLine(line, 1, 1), "b")


SCALARS = r"""# Braces

Let $a \in \mathbf{R}$, $b \in \mathbf{R}$, $c \in \mathbf{R}$, $A \in \mathbf{R}^{n \times n}$ and $B \in \mathbf{R}^{n \times n}$.

$$CLAIM$$
"""


def _claim_status(claim: str) -> str:
    doc = check_text(SCALARS.replace("CLAIM", claim), "b.md")
    (c,) = doc.claims
    return c.steps[-1].status


def test_a_sum_in_braces_is_not_read_as_a_parenthesised_factor():
    """TeX prints no braces: '{a + b} c = a c + b c' typesets as a + bc = ac + bc (false), and was
    verified as (a + b)c = ac + bc; so were '{A + B}^T = A^T + B^T' (printed A + Bᵀ = Aᵀ + Bᵀ),
    '-{a + b} = -a - b' and 'a - {b + c} = a - b - c'. Such a group is now refused at its brace;
    the parenthesised twins verify, a product in braces ({AB}^T, documented) is still one operand."""
    for claim in (r"{a + b} c = a c + b c", r"c {a + b} = c a + c b", r"{a + b}^2 = a^2 + 2 a b + b^2",
                  r"{A + B}^T = A^T + B^T", r"-{a + b} = -a - b", r"a - {b + c} = a - b - c"):
        assert _claim_status(claim) == "failed", claim  # a line that cannot be read, with its reason
        doc = check_text(SCALARS.replace("CLAIM", claim), "b.md")
        assert "braces do not print" in doc.claims[0].steps[-1].verdict.reason
    for claim in (r"(a + b) c = a c + b c", r"(A + B)^T = A^T + B^T", r"{A B}^T = B^T A^T", r"a + {b + c} = a + b + c",
                  r"-(a + b) = -a - b"):
        assert _claim_status(claim) == "verified", claim
    # wrong twin of a parenthesised reading still fails
    assert _claim_status(r"(a + b) c = a c + b") == "failed"


def test_a_non_gradient_after_the_read_off_arrow_is_a_located_problem_not_a_crash():
    """'⇒ ΔL ≈ ⟨x, Δx⟩' right after ΔL ≈ ⟨x − t, Δx⟩ (on its line or the next) crashed check with an
    internal error (the message named d.grad, which a loss derivation has not yet): now the line fails
    with 'after ⇒ expected the gradient dL/dx = ...'."""
    for text in (MSE.replace("LINE", r"\Delta L \approx \langle x - t, \Delta x \rangle \Rightarrow "
                                      r"\Delta L \approx \langle x, \Delta x \rangle"),
                 MSE.replace("LINE", r"\Delta L \approx \langle x - t, \Delta x \rangle$$" "\n\n"
                                     r"$$\Rightarrow \Delta L \approx \langle x, \Delta x \rangle")):
        doc = check_text(text, "m.md")
        (d,) = doc.derivations
        assert [s.status for s in d.steps] == ["verified", "failed"]
        assert "expected the gradient dL/dx" in d.steps[-1].verdict.reason


def test_an_alias_of_the_gradient_after_the_arrow_on_the_starting_line():
    """'ΔL ≈ ⟨x − t, Δx⟩ ⇒ dx := dL/dx = x − t' on the line that starts the derivation: the alias
    'dx :=' was stripped only at the start of a line, so the read-off was 'expected the gradient'
    (failed) where the same text over two lines verified; the wrong read-off still fails."""
    _, steps = _steps(r"\Delta L \approx \langle x - t, \Delta x \rangle \Rightarrow dx := \frac{dL}{dx} = x - t")
    assert [s for s, _ in steps] == ["verified"] * 2
    _, steps = _steps(r"\Delta L \approx \langle x - t, \Delta x \rangle \Rightarrow dx := \frac{dL}{dx} = x")
    assert [s for s, _ in steps] == ["verified", "failed"]


def test_the_api_refuses_a_symbol_kind_of_the_kernels_own():
    """Sym(..., kind="inverse") made a user symbol the kernel would cancel against X (found by hunt 4): only
    plain, delta and grad are a user's kinds."""
    import pytest

    from symderiv.errors import NameError_
    from symderiv.lang.operators import Sym

    for kind in ("inverse", "atom", "readoff"):
        with pytest.raises(NameError_):
            Sym("X", "n", "n", kind=kind)
    assert Sym("x", "n", 1, kind="delta").kind == "delta"

"""Reading inverses and determinants in documents (issue 14): each spelling means what the author
wrote, its wrong twin fails at its line, and what is not read is refused with a location."""
from __future__ import annotations

import pytest

from symderiv.documents.documents import check_text
from symderiv.errors import ReadError

HEAD = "Let $A \\in \\mathbf{R}^{n \\times n}$, $B \\in \\mathbf{R}^{n \\times n}$, $X \\in \\mathbf{R}^{n \\times n}$, " \
       "$W \\in \\mathbf{R}^{n \\times m}$.\n\n"


def _statuses(eq: str, head: str = HEAD) -> list[str]:
    d = check_text(head + f"$${eq}$$\n", "t.md")
    return [s.status for s, _ in d.all_steps()]


RIGHT = [
    r"(AB)^{-1} = B^{-1} A^{-1}",
    r"AB^{-1} = A (B^{-1})",                      # ^{-1} binds to the last letter, as ^T does
    r"X^{-T} = (X^T)^{-1}",
    r"X^{-T} = (X^{-1})^T",
    r"\operatorname{tr}(X A X^{-1}) = \operatorname{tr}(A)",
    r"\det(A B) = \det(A) \det(B)",
    r"\det(A^T) = \det(A)",
    r"\det(A^{-1}) = \frac{1}{\det(A)}",
    r"(A^{-1})^{-1} = A",
]
WRONG = [
    r"(AB)^{-1} = A^{-1} B^{-1}",
    r"AB^{-1} = (AB)^{-1}",
    r"X^{-T} = X^{-1}",
    r"\operatorname{tr}(X A X^{-T}) = \operatorname{tr}(A)",
    r"\det(A + B) = \det(A) + \det(B)",
    r"\det(A^{-1}) = \det(A)",
    r"A^{-1} B = B A^{-1}",
]


@pytest.mark.parametrize("eq", RIGHT)
def test_inverse_spelling_is_read_as_written(eq):
    assert _statuses(eq) == ["verified"]


@pytest.mark.parametrize("eq", WRONG)
def test_wrong_twin_fails(eq):
    assert _statuses(eq) == ["failed"]


def test_log_det_reads_and_its_domain_counts():
    """log det(AB) = log det A + log det B is false for det A, det B < 0 (a witness), true under the
    hypotheses; log det(X) reads as log det X, never log times det."""
    assert _statuses(r"\log\det(A B) = \log\det(A) + \log\det(B)") == ["failed"]


@pytest.mark.parametrize("eq,message", [
    (r"W^{-1} = W", "square"),
    (r"X^{-2} = X^{-1} X^{-1}", "unsupported exponent"),
])
def test_what_is_not_read_is_refused_with_its_place(eq, message):
    d = check_text(HEAD + f"$${eq}$$\n", "t.md")
    steps = [s for s, _ in d.all_steps()]
    assert steps and steps[0].status != "verified"
    assert message in steps[0].verdict.reason and steps[0].line == 3


def test_unknown_matrix_hypothesis_is_refused():
    with pytest.raises(ReadError) as exc:
        check_text(HEAD + "<!-- symderiv: assume X is regular -->\n\n$$X = X$$\n", "t.md")
    assert "X invertible" in str(exc.value)


@pytest.mark.parametrize("note", [r"\text{ is false}", r"\quad\text{does not hold}", r"\quad \text{(wrong!)}",
                                  r"\quad \text{for } n \geq 2 \text{ this fails}"])
def test_a_note_that_denies_the_equation_is_not_ticked(note):
    """'(AB)^T = B^T A^T \\text{ is false}' asserts that the equation fails: never a ✓ of the bare
    equation (found by the soundness hunt)."""
    assert _statuses(r"(AB)^T = B^T A^T " + note) == ["failed"]


def test_a_justifying_note_is_still_read():
    assert _statuses(r"(AB)^T = B^T A^T \quad \text{by the transpose of a product}") == ["verified"]


@pytest.mark.parametrize("line", [r"d x^T A x = x^T A d x", r"dx^T A x = x^T A dx"])
def test_d_is_refused_where_it_is_also_a_dimension(line):
    """With x ∈ R^d, 'd x' and 'dx' (typeset alike) could be the dimension d times x or the differential
    of x: refused, never read one way on one side and the other way on the other (found by the hunt)."""
    head = "Let $x \\in \\mathbf{R}^d$, $A \\in \\mathbf{R}^{d \\times d}$.\n\n"
    d = check_text(head + f"$${line}$$\n", "t.md")
    (step, _), = d.all_steps()
    assert step.status == "failed" and "ambiguous" in step.verdict.reason

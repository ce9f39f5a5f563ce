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

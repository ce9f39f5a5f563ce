"""Fuzzing the reader: any text either checks or fails with a ReadError — never another
exception, never a hang."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from symderiv.documents.documents import check_text
from symderiv.documents.reader import ReadError

ATOMS = ["x", "w", "y", "L", "A", "\\Delta ", "\\frac{dL}{dy}", "^T", "^{T}", "(", ")", "{", "}", "+", "-", "=",
         "\\langle ", "\\rangle", ",", "<", ">", "trace(", "1/2", "||", "\\odot ", "\\sum_{i}", "_i", "_{i+j}",
         "\\Rightarrow ", " ", "$", "$$", "\\\\", "&", "\n", "#", "*", "\\text{a}", "\\left(", "\\right)", "2"]
PREFIX = ("Let $x \\in \\mathbf{R}^n$, $w \\in \\mathbf{R}^{m \\times n}$, $y \\in \\mathbf{R}^m$, "
          "$A \\in \\mathbf{R}^{n \\times n}$, $L \\in \\mathbf{R}$.\n\n$$y = wx$$\n\n")


def _check(text):
    try:
        doc = check_text(text, "fuzz.md")
    except ReadError as exc:
        assert exc.line >= 1 and exc.col >= 1
        return
    assert doc.status in ("verified", "failed", "undecided")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(ATOMS), max_size=40))
def test_math_soup(tokens):
    _check(PREFIX + "$$" + "".join(tokens) + "$$\n")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_arbitrary_text(text):
    _check(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(ATOMS), max_size=25))
def test_chains(tokens):
    _check(PREFIX + "$$\\Delta y = w(x + \\Delta x) - wx$$\n$$= " + "".join(tokens) + "$$\n")

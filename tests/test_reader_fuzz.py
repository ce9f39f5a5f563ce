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


# the spellings of issue 11, next to the old ones: decorated names, \nabla_x, A : B, \tr, ^\mathsf{T},
# \frac12, \langle .,. \rangle_F, differentials, ranges, subscripted dimensions
ATOMS_11 = ATOMS + ["\\hat{y}", "\\bar{x}", "\\tilde{x}", "\\mathcal{L}", "\\hat y", "\\nabla_x ", "\\nabla_{w} ",
                    "\\nabla ", " : ", "\\tr", "^\\mathsf{T}", "^{\\top}", "^\\mathrm{T}", "\\frac12", "\\tfrac{1}{2}",
                    "\\rangle_F", "_F", "_2", "\\mathrm{d}", "d", "\\delta ", "\\cdot ", "\\,", "\\sum_{i=1}^{n}",
                    "\\left\\|", "\\right\\|", "\\lVert ", "\\rVert", "W_1", "\\mathbf{W}_1", "d_k", "\\widehat{y}",
                    "\\approx "]
PREFIX_11 = ("<!-- symderiv: \\odot = hadamard -->\n\nLet $x \\in \\mathbf{R}^n$, $w \\in \\mathbf{R}^{m \\times n}$, "
             "$y \\in \\mathbf{R}^m$, $\\hat{y} \\in \\mathbf{R}^m$, $\\bar{x} \\in \\mathbf{R}^{n}$, "
             "$\\tilde{x} \\in \\mathbf{R}^{n}$, $\\mathbf{W}_1 \\in \\mathbb{R}^{m \\times d_k}$, "
             "$A \\in \\mathbf{R}^{n \\times n}$, $L \\in \\mathbf{R}$, $\\mathcal{L} \\in \\mathbf{R}$.\n\n"
             "$$y = wx$$\n\n")
_REPR = ("Tree(", "Token(", "Indexed(", "<symderiv", "object at 0x")


def _check_located(text):
    """As _check, and every message is located (line and column) and free of Python reprs."""
    try:
        doc = check_text(text, "fuzz.md")
    except ReadError as exc:
        assert exc.line >= 1 and exc.col >= 1 and not any(r in exc.message for r in _REPR), exc.message
        return
    assert doc.status in ("verified", "failed", "undecided")
    for s, _ in doc.all_steps():
        if s.status != "verified":
            assert s.line and s.col, (s.line, s.col, s.verdict.reason)
            assert not any(r in (s.verdict.reason or "") for r in _REPR), s.verdict.reason


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(ATOMS_11), max_size=30))
def test_math_soup_with_the_issue_11_spellings(tokens):
    _check_located(PREFIX_11 + "$$" + "".join(tokens) + "$$\n")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(ATOMS_11), max_size=20))
def test_chains_with_the_issue_11_spellings(tokens):
    _check_located(PREFIX_11 + "$$\\Delta y = w(x + \\Delta x) - wx$$\n$$= " + "".join(tokens) + "$$\n")

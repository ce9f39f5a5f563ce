"""Each spelling of issue 11 in a whole derivation: the document checks (exit 0), and a wrong twin —
the same document with one plausible author slip on one line (a dropped transpose, a sign, a wrong
factor) — fails (exit 1) at that line with a proof of inequality, never undecided.

The documents are small derivations in the course's style; the slip is a text replacement, so the
wrong twin differs from the right one only where the author slipped."""
from __future__ import annotations

import pytest
from cli_run import run_main

from symderiv.documents.documents import check_text

VEC = ("# T\n\nLet $x \\in \\mathbf{R}^n$ be the input, $t \\in \\mathbf{R}^n$ the target and $L \\in \\mathbf{R}$ "
       "the loss.\n\n")
MAT = ("# T\n\nLet $x \\in \\mathbf{R}^n$, $t \\in \\mathbf{R}^m$, $W \\in \\mathbf{R}^{m \\times n}$ and "
       "$L \\in \\mathbf{R}$.\n\n")
SQ = "# T\n\nLet $A \\in \\mathbf{R}^{n \\times n}$, $B \\in \\mathbf{R}^{n \\times n}$ and $L \\in \\mathbf{R}$.\n\n"


def mse(loss: str, grad: str, perturb: str = "\\Delta L \\approx (x - t)^T \\Delta x", head: str = VEC) -> str:
    """½‖x − t‖² in a given spelling of the loss and of its gradient (line 5 the loss, 9 the read-off)."""
    return head + f"$$L = {loss}$$\n\n$${perturb}$$\n\n$$\\Rightarrow {grad} = x - t$$\n"


def linear(grad: str, transpose: str = "^T", head: str = MAT, w: str = "W") -> str:
    """L = tᵀWx; the read-off dL/dx = Wᵀt (line 9) in a given spelling."""
    return head + (f"$$L = t^T {w} x$$\n\n$$\\Delta L = t^T {w} \\Delta x = \\langle {w}{transpose} t, \\Delta x "
                   f"\\rangle$$\n\n$$\\Rightarrow {grad} = {w}{transpose} t$$\n")


#: (id, document, (text of the slip, as written wrongly), line of the slip)
CASES = [
    ("nabla_x", mse("\\frac{1}{2}\\|x - t\\|^2", "\\nabla_x L"), ("= x - t", "= t - x"), 9),
    ("nabla_{x}", mse("\\frac{1}{2}\\|x - t\\|^2", "\\nabla_{x} L"), ("= x - t", "= x + t"), 9),
    ("frac mathrm d", mse("\\frac{1}{2}\\|x - t\\|^2", "\\frac{\\mathrm{d}L}{\\mathrm{d}x}"), ("= x - t", "= t - x"), 9),
    ("norm _2^2", mse("\\frac{1}{2}\\|x - t\\|_2^2", "\\frac{dL}{dx}"), ("\\frac{1}{2}\\|", "\\|"), 7),
    ("lVert rVert", mse("\\frac{1}{2}\\lVert x - t \\rVert^2", "\\frac{dL}{dx}"), ("\\frac{1}{2}\\lVert", "\\lVert"), 7),
    ("left\\| right\\|", mse("\\frac{1}{2}\\left\\| x - t \\right\\|^2", "\\frac{dL}{dx}"),
     ("\\frac{1}{2}\\left", "2\\left"), 7),
    ("frac12", mse("\\frac12\\|x - t\\|^2", "\\frac{dL}{dx}"), ("\\frac12", "\\frac14"), 7),
    ("tfrac", mse("\\tfrac{1}{2}\\|x - t\\|^2", "\\frac{dL}{dx}"), ("\\tfrac{1}{2}", "\\tfrac{1}{4}"), 7),
    ("cdot", mse("\\frac{1}{2}\\|x - t\\|^2", "\\frac{dL}{dx}", "\\Delta L \\approx (x - t)^T \\cdot \\Delta x"),
     ("(x - t)^T \\cdot", "(x + t)^T \\cdot"), 7),
    ("thin space", mse("\\frac{1}{2}\\|x - t\\|^2", "\\frac{dL}{dx}", "\\Delta L \\approx (x - t)^T \\, \\Delta x"),
     ("(x - t)^T \\,", "(t - x)^T \\,"), 7),
    ("approx lead", VEC + "$$L = \\frac{1}{2}\\|x - t\\|^2$$\n\n$$\\Delta L = \\frac{1}{2}(x + \\Delta x - t)^T"
     "(x + \\Delta x - t) - \\frac{1}{2}(x - t)^T(x - t)$$\n\n$$\\approx (x - t)^T \\Delta x$$\n\n"
     "$$\\Rightarrow \\frac{dL}{dx} = x - t$$\n", ("\\approx (x - t)^T", "\\approx 2(x - t)^T"), 9),
    ("^\\mathsf{T}", linear("\\frac{dL}{dx}", "^\\mathsf{T}"), ("\\Rightarrow \\frac{dL}{dx} = W^\\mathsf{T} t",
                                                              "\\Rightarrow \\frac{dL}{dx} = W^\\mathsf{T} W x"), 9),
    ("^{\\mathsf{T}}", linear("\\frac{dL}{dx}", "^{\\mathsf{T}}"),
     ("= \\langle W^{\\mathsf{T}} t", "= \\langle W^{\\mathsf{T}} W x"), 7),
    ("^{\\top}", linear("\\frac{dL}{dx}", "^{\\top}"), ("= \\langle W^{\\top} t", "= \\langle W^{\\top} W x"), 7),
    ("^\\mathrm{T}", linear("\\nabla_x L", "^\\mathrm{T}"), ("= \\langle W^\\mathrm{T} t", "= \\langle W^\\mathrm{T} W x"), 7),
    ("W_1", linear("\\frac{dL}{dx}", w="W_1", head=MAT.replace("$W \\in", "$W_1 \\in")),
     ("\\Rightarrow \\frac{dL}{dx} = W_1^T t", "\\Rightarrow \\frac{dL}{dx} = W_1^T W_1 x"), 9),
    ("\\mathbf{W}_1", linear("\\frac{dL}{d\\mathbf{x}}", w="\\mathbf{W}_1",
                             head=MAT.replace("$W \\in", "$\\mathbf{W}_1 \\in")),
     ("= \\langle \\mathbf{W}_1^T t", "= \\langle \\mathbf{W}_1^T W_1 x"), 7),
    ("concrete sizes", linear("\\frac{dL}{dx}", head="# T\n\nLet $x \\in \\mathbf{R}^3$, $t \\in \\mathbb{R}^{2}$, "
                              "$W \\in \\mathbb{R}^{2 \\times 3}$ and $L \\in \\mathbb{R}$.\n\n"),
     ("\\Rightarrow \\frac{dL}{dx} = W^T t", "\\Rightarrow \\frac{dL}{dx} = W^T W x"), 9),
    ("d_k in a space", linear("\\frac{dL}{dx}", head="# T\n\nLet $x \\in \\mathbb{R}^{d_k}$, $t \\in \\mathbb{R}^{n}$, "
                              "$W \\in \\mathbb{R}^{n \\times d_k}$ and $L \\in \\mathbb{R}$.\n\n"),
     ("\\Rightarrow \\frac{dL}{dx} = W^T t", "\\Rightarrow \\frac{dL}{dx} = W^T W x"), 9),
    ("A : B", SQ + "$$L = A : B$$\n\n$$\\Delta L = \\Delta A : B$$\n\n$$\\Rightarrow \\frac{dL}{dA} = B$$\n",
     ("= B$$", "= B^T$$"), 9),
    ("langle_F", SQ + "$$L = \\langle A, B \\rangle_F$$\n\n$$\\Delta L = \\langle \\Delta A, B \\rangle_F$$\n\n"
     "$$\\Rightarrow \\frac{dL}{dA} = B$$\n", ("= B$$", "= B^T$$"), 9),
    ("\\tr", SQ + "$$L = \\tr(A^T B)$$\n\n$$\\Delta L = \\tr(\\Delta A^T B) = \\langle B, \\Delta A \\rangle$$\n\n"
     "$$\\Rightarrow \\frac{dL}{dA} = B$$\n", ("\\tr(\\Delta A^T B) =", "\\tr(\\Delta A B) ="), 7),
    ("\\hat{y}", "# T\n\nLet $\\hat{y} \\in \\mathbf{R}^n$ be the prediction, $y \\in \\mathbf{R}^n$ the label and "
     "$L \\in \\mathbf{R}$.\n\n$$L = \\frac{1}{2}\\|\\hat{y} - y\\|^2$$\n\n$$\\Delta L \\approx (\\hat{y} - y)^T "
     "\\Delta \\hat{y}$$\n\n$$\\Rightarrow \\frac{dL}{d\\hat{y}} = \\hat{y} - y$$\n",
     ("= \\hat{y} - y$$", "= \\hat{y} - \\hat{y}$$"), 9),
    ("\\bar{x} \\tilde{x}", "# T\n\nLet $\\bar{x} \\in \\mathbf{R}^n$, $\\tilde{x} \\in \\mathbf{R}^n$ and "
     "$L \\in \\mathbf{R}$.\n\n$$L = \\bar{x}^T \\tilde{x}$$\n\n$$\\Delta L = \\tilde{x}^T \\Delta \\bar{x}$$\n\n"
     "$$\\Rightarrow \\nabla_{\\bar{x}} L = \\tilde{x}$$\n", ("= \\tilde{x}$$", "= \\bar{x}$$"), 9),
    ("dX", mse("\\frac{1}{2}\\|x - t\\|^2", "\\frac{dL}{dx}", "dL = (x - t)^T dx"), ("(x - t)^T dx", "(x + t)^T dx"), 7),
    ("\\mathrm{d}X", mse("\\frac{1}{2}\\|x - t\\|^2", "\\frac{\\mathrm{d}L}{\\mathrm{d}x}",
                        "\\mathrm{d}L = \\mathrm{d}x^T (x - t)"), ("\\mathrm{d}x^T (x - t)", "\\mathrm{d}x^T x"), 7),
    ("dW", MAT.replace("$x \\in", "$u \\in \\mathbf{R}^m$, $x \\in") + "$$L = u^T W x$$\n\n$$dL = u^T dW\\, x = \\langle u x^T, "
     "dW \\rangle$$\n\n$$\\Rightarrow \\nabla_W L = u x^T$$\n", ("\\langle u x^T", "\\langle u^T x"), 7),
    ("\\delta = perturbation", "# T\n\n<!-- symderiv: \\delta = perturbation -->\n\n" + VEC[5:] +
     "$$L = \\frac{1}{2}\\|x - t\\|^2$$\n\n$$\\delta L \\approx (x - t)^T \\delta x$$\n\n"
     "$$\\Rightarrow \\frac{dL}{dx} = x - t$$\n", ("(x - t)^T \\delta", "(t - x)^T \\delta"), 9),
    ("\\mathcal{L}", "# T\n\nLet $x \\in \\mathbf{R}^n$, $t \\in \\mathbf{R}^n$ and $\\mathcal{L} \\in \\mathbf{R}$.\n\n"
     "$$\\mathcal{L} = \\frac{1}{2}\\|x - t\\|^2$$\n\n$$\\Delta \\mathcal{L} \\approx (x - t)^T \\Delta x$$\n\n"
     "$$\\Rightarrow \\frac{\\partial \\mathcal{L}}{\\partial x} = x - t$$\n", ("= x - t$$", "= x$$"), 9),
]


def _failed_lines(doc) -> set[int]:
    return {s.line for s, _ in doc.all_steps() if s.status == "failed"}


@pytest.mark.parametrize("name,text,slip,line", CASES, ids=[c[0] for c in CASES])
def test_spelling_checks_and_its_wrong_twin_fails_at_the_slip(name, text, slip, line):
    doc = check_text(text, "right.md")
    assert doc.status == "verified", [(s.line, s.status, s.verdict.reason) for s, _ in doc.all_steps()]
    right, wrong = slip
    assert text.count(right) == 1, "the slip must be one place"
    twin = check_text(text.replace(right, wrong), "wrong.md")
    assert twin.status == "failed"
    assert line in _failed_lines(twin), [(s.line, s.status, s.verdict.reason) for s, _ in twin.all_steps()]
    # no line before the slip fails (a wrong forward definition may make later lines fail as well)
    assert min(_failed_lines(twin)) == line


@pytest.mark.parametrize("name,text,slip,line", CASES[:3], ids=[c[0] for c in CASES[:3]])
def test_exit_status_of_the_command(tmp_path, name, text, slip, line):
    f = tmp_path / "doc.md"
    f.write_text(text, encoding="utf-8")
    assert run_main("check", str(f)).returncode == 0
    f.write_text(text.replace(*slip), encoding="utf-8")
    assert run_main("check", str(f)).returncode == 1


@pytest.mark.parametrize("line", [r"\hat{f}(x) = x", r"\hat{\sigma}(x) = x", r"\mathbf{f}(x) = x"])
def test_a_decorated_function_name_before_parentheses_is_refused(line):
    """\\hat{f}(x) with \\hat{f} a declared scalar: f of x, or the scalar times x? Refused at its line."""
    head = ("# T\n\nLet $x \\in \\mathbf{R}^n$, $\\hat{f} \\in \\mathbf{R}$, $\\hat{\\sigma} \\in \\mathbf{R}$, "
            "$f \\in \\mathbf{R}$.\n\n")
    doc = check_text(head + f"$${line}$$\n", "t.md")
    (s,) = [s for s, _ in doc.all_steps()]
    assert s.status == "failed" and s.line == 5 and "ambiguous" in s.verdict.reason


def test_delta_is_the_perturbation_only_after_the_directive():
    """Without <!-- symderiv: \\delta = perturbation --> \\delta is a Greek letter (an unknown symbol here,
    with the directive named in the message); declaring \\delta as a symbol next to the directive is refused."""
    body = "$$L = t^T x$$\n\n$$\\delta L = t^T \\delta x$$\n\n$$\\Rightarrow \\frac{dL}{dx} = t$$\n"
    doc = check_text(VEC + body, "t.md")
    bad = [s for s, _ in doc.all_steps() if s.status == "failed"]
    assert bad and bad[0].line == 7 and "\\delta = perturbation" in bad[0].verdict.reason
    from symderiv.errors import ReadError

    with pytest.raises(ReadError) as exc:
        check_text("<!-- symderiv: \\delta = perturbation -->\n\n" + VEC + "Let $\\delta \\in \\mathbf{R}$.\n\n" + body,
                   "t.md")
    assert "keep one meaning" in exc.value.message


@pytest.mark.parametrize("line,message", [
    ("dL = (x - t)^T dx + \\frac{1}{2} dx^T dx", "must be linear in them"),
    ("dL = \\mathrm{d}(x - t)^T x", "applies to one declared variable"),
])
def test_a_differential_line_that_is_not_linear_in_the_differentials_is_refused(line, message):
    """dL = (x − t)ᵀdx + ½dxᵀdx is true to first order but is no equation between differentials (dxᵀdx is
    not one): refused at its line, never verified as if the author had written ≈."""
    doc = check_text(VEC + f"$$L = \\frac{{1}}{{2}}\\|x - t\\|^2$$\n\n$${line}$$\n", "t.md")
    bad = [s for s, _ in doc.all_steps() if s.status == "failed"]
    assert bad and bad[0].line == 7 and message in bad[0].verdict.reason

"""Course documents for nonlinear layers (issue 10): each checks as written, and a copy with one
wrong step fails at that line (with a certified counterexample or a proof, never by a float)."""
from __future__ import annotations

from pathlib import Path

import pytest

from symderiv.documents.documents import check_text

COURSE = Path(__file__).resolve().parent.parent / "examples" / "course" / "derivations"
DOCS = ["sigmoid.md", "tanh.md", "relu.md", "logsumexp.md", "mlp.md", "softmax-ce.md", "logistic.md", "ridge.md",
        "batched-linear.md", "layernorm.md", "attention.md", "logdet.md", "trace-inverse.md", "gaussian.md",
        "ridge-closed-form.md"]

# (document, text to replace, wrong text, what the mistake is)
WRONG = [
    ("sigmoid.md", r"\Rightarrow \frac{dL}{dx} = W^T (\frac{dL}{dy} \circ \sigma'(Wx + b))",
     r"\Rightarrow \frac{dL}{dx} = W^T (\frac{dL}{dy} \circ \sigma'(Wx))", "σ′ at the wrong point"),
    ("sigmoid.md", r"= \langle \frac{dL}{dy} \circ \sigma'(Wx + b), W \Delta x \rangle",
     r"= \langle \frac{dL}{dy} \circ (\mathbf{1}_m - \sigma(Wx + b) \circ \sigma(Wx + b)), W \Delta x \rangle",
     "tanh′ formula for σ′"),
    ("relu.md", r"\Rightarrow \frac{dL}{dW} = (\frac{dL}{dy} \circ \mathrm{step}(Wx + b)) x^T",
     r"\Rightarrow \frac{dL}{dW} = \frac{dL}{dy} x^T", "ReLU mask dropped"),
    ("logsumexp.md", r"\Rightarrow \frac{dL}{dz} = \mathrm{softmax}(z)", r"\Rightarrow \frac{dL}{dz} = \exp(z)",
     "normaliser forgotten"),
    ("mlp.md", r"\Rightarrow \frac{dL}{dW_1} = ((W_2^T \frac{dL}{dy}) \circ \mathrm{step}(W_1 x + b_1)) x^T",
     r"\Rightarrow \frac{dL}{dW_1} = (W_2^T \frac{dL}{dy}) x^T", "ReLU mask dropped"),
    ("softmax-ce.md", r"\Rightarrow \frac{dL}{dz} = \mathrm{softmax}(z) - y",
     r"\Rightarrow \frac{dL}{dz} = \mathrm{softmax}(z) + y", "sign slip"),
    ("softmax-ce.md", r"<!-- symderiv: assume \mathbf{1}_n^T y = 1 -->", "", "the hypothesis 1ᵀy = 1 not stated"),
    ("tanh.md", r"\Rightarrow \frac{dL}{dx} = \frac{dL}{dy} \circ (\mathbf{1}_n - \tanh(x) \circ \tanh(x))",
     r"\Rightarrow \frac{dL}{dx} = \frac{dL}{dy} \circ (\mathbf{1}_n - \tanh(x))", "tanh′ written as 1 − tanh"),
    ("logistic.md", r"\Rightarrow \frac{dL}{dw} = X^T (\sigma(Xw) - y)", r"\Rightarrow \frac{dL}{dw} = X^T (y - \sigma(Xw))",
     "sign slip"),
    ("ridge.md", r"\Rightarrow \frac{dL}{dw} = X^T (Xw - t) + \lambda w", r"\Rightarrow \frac{dL}{dw} = X^T (Xw - t) + 2 \lambda w",
     "2λw for the penalty (λ/2)‖w‖²"),
    ("batched-linear.md", r"\Rightarrow \frac{dL}{db} = \frac{dL}{dY}^T \mathbf{1}_B",
     r"\Rightarrow \frac{dL}{db} = \frac{1}{B} \frac{dL}{dY}^T \mathbf{1}_B", "mean instead of sum"),
    ("layernorm.md", r"- \frac{1}{n} y y^T \frac{dL}{dy}), \Delta x \rangle", r"), \Delta x \rangle",
     "σ treated as a constant"),
    ("attention.md", r"\Rightarrow \frac{dL}{dQ} = \frac{1}{\sqrt{d}} (P \circ (\frac{dL}{dY} V^T - ((P \circ (\frac{dL}{dY} V^T)) \mathbf{1}_s) \mathbf{1}_s^T)) K",
     r"\Rightarrow \frac{dL}{dQ} = \frac{1}{\sqrt{d}} (P \circ (\frac{dL}{dY} V^T)) K", "rank-one part of the softmax Jacobian forgotten"),
]
# inverses and determinants (issue 14): the Cookbook's classic slips
WRONG += [
    ("logdet.md", r"\Rightarrow \frac{dL}{dX} = X^{-T}", r"\Rightarrow \frac{dL}{dX} = X^{-1}",
     "X⁻¹ for X⁻ᵀ (right only for symmetric X)"),
    ("logdet.md", r"\approx \operatorname{tr}(X^{-1} \Delta X)", r"\approx \operatorname{tr}(X^{-T} \Delta X)",
     "d log det X = tr(X⁻ᵀdX)"),
    ("trace-inverse.md", r"= \langle -X^{-T} A^T B^T X^{-T}, \Delta X \rangle",
     r"= \langle -X^{-1} A^T B^T X^{-1}, \Delta X \rangle", "transposes of the inverses dropped"),
    ("trace-inverse.md", r"\approx -\operatorname{tr}(A X^{-1} \Delta X X^{-1} B)",
     r"\approx -\operatorname{tr}(A X^{-1} X^{-1} \Delta X B)", "d(X⁻¹) = −X⁻²dX (the commutative slip)"),
    ("gaussian.md", r"\Rightarrow \frac{dL}{dm} = -C^{-1} (x - m)", r"\Rightarrow \frac{dL}{dm} = -2 C^{-1} (x - m)",
     "factor 2 of the quadratic form kept with the ½"),
    ("gaussian.md", r"<!-- symderiv: assume C = C^T; \det C > 0 -->", r"<!-- symderiv: assume \det C > 0 -->",
     "C = Cᵀ not stated"),
    ("ridge-closed-form.md", r"$$(X^T X + \lambda I_d) (X^T X + \lambda I_d)^{-1} X^T t = X^T t$$",
     r"$$(X^T X + \lambda I_d)^{-1} X^T X X^T t = X^T t$$", "λ forgotten in the normal equations"),
]
#: where a mistake shows when it is not on the line it changes: without 1ᵀy = 1 the step that needs it fails
FAILS_AT = {"the hypothesis 1ᵀy = 1 not stated": r"\Delta L = ", "C = Cᵀ not stated": r"\Delta L = \frac{1}{2} (x - m"}


@pytest.mark.parametrize("name", DOCS)
def test_course_document_checks(name):
    d = check_text((COURSE / name).read_text(encoding="utf-8"), name)
    bad = [(s.line, s.status, s.verdict.reason) for s, _ in d.all_steps() if s.status != "verified"]
    assert d.status == "verified", bad


@pytest.mark.parametrize("name,right,wrong,what", WRONG, ids=[w[3] + " in " + w[0] for w in WRONG])
def test_one_wrong_step_fails_at_its_line(name, right, wrong, what):
    text = (COURSE / name).read_text(encoding="utf-8")
    assert right in text
    at = FAILS_AT.get(what, right)
    line = text[: text.index(at)].count("\n") + 1
    d = check_text(text.replace(right, wrong, 1), name)
    steps = [s for s, _ in d.all_steps()]
    failed = [s for s in steps if s.status == "failed"]
    assert failed and failed[0].line == line, [(s.line, s.status) for s in steps]
    assert all(s.status == "verified" for s in steps if s.line is not None and s.line < line)
    assert failed[0].verdict.counterexample is not None or "canonical-form" in failed[0].verdict.methods


def test_softmax_cross_entropy_says_which_hypothesis_it_used():
    d = check_text((COURSE / "softmax-ce.md").read_text(encoding="utf-8"), "softmax-ce.md")
    used = [s for s, _ in d.all_steps() if "1^T y = 1" in s.verdict.method]
    assert d.status == "verified" and used


@pytest.mark.parametrize("directive,message", [
    ("assume y is a probability vector", "unknown hypothesis"),
    ("assume q > 0", "not a declared symbol"),
    ("assume z = y^T", "unknown hypothesis"),
])
def test_a_hypothesis_the_checker_cannot_read_is_refused_with_its_line(directive, message):
    from symderiv.errors import ReadError

    text = (COURSE / "softmax-ce.md").read_text(encoding="utf-8").replace(
        r"assume \mathbf{1}_n^T y = 1", directive)
    with pytest.raises(ReadError) as exc:
        check_text(text, "softmax-ce.md")
    assert message in str(exc.value) and exc.value.line == 5


def test_the_definition_is_the_left_side_of_the_first_step():
    """ΔL := f(m + Δm) − f(m) contains log det C, which the author's first line drops (it cancels):
    that line is defined wherever the definition is (det C > 0 gives C invertible), so it is verified
    without stating det C > 0; compared the other way round, a C with det C < 0 would 'refute' it."""
    text = (COURSE / "gaussian.md").read_text(encoding="utf-8").replace(
        r"<!-- symderiv: assume C = C^T; \det C > 0 -->", r"<!-- symderiv: assume C = C^T -->")
    d = check_text(text, "gaussian.md")
    first = next(s for s, _ in d.all_steps() if s.rule == "perturbation")
    assert first.status == "verified", first.verdict.reason

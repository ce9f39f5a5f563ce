"""The document checker: derivations written in Markdown, right and wrong, and bad input."""
import json
import subprocess
from pathlib import Path

import pytest
from cli_run import run_main, run_subprocess

from symderiv.documents.documents import check_text

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "examples" / "seed-notes.md"


def statuses(doc):
    return {s.line: s.status for s, _ in doc.all_steps()}


def step_at(doc, line):
    return [s for s, _ in doc.all_steps() if s.line == line]


run = run_main  # in-process; the cases marked e2e use run_subprocess


# --- the notes themselves ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def seed():
    from symderiv.documents.documents import check_file

    return check_file(str(SEED))


def seed_line(pattern: str) -> int:
    lines = SEED.read_text(encoding="utf-8").split("\n")
    return next(i + 1 for i, text in enumerate(lines) if pattern in text)


def test_seed_linear_and_add_sections_verify(seed):
    titles = [d.title for d in seed.derivations]
    assert any("4.2" in t for t in titles) and any("4.3" in t for t in titles)
    for d in seed.derivations:
        assert d.status == "verified", d.explain()
    assert {d.to_dict()["gradient_text"] for d in seed.derivations} >= {"w^T·dL/dy", "dL/dy·x^T", "dL/dy"}


def test_seed_properties(seed):
    assert step_at(seed, seed_line(r"$$< A, B \odot C > \quad"))[0].status == "verified"
    bad = step_at(seed, seed_line(r"\langle A, B \otimes C \rangle = \langle A, B \otimes A \rangle"))[0]
    assert bad.status == "failed" and bad.verdict.counterexample is not None
    assert step_at(seed, seed_line(r"$$\langle A, B \odot C \rangle = \langle B, A \otimes C \rangle$$"))[0].status == "verified"


@pytest.mark.parametrize(
    "pattern,reason",
    [
        (r"= \sum_{i} A_i (\sum_{p} B_{i+j} C_j)", "not bound by any sum"),
        (r"= \sum_{i} C_{i} (\sum_{i} B_{i+i} A_{i})", "summed twice"),
        (r"$$< C, B \odot A >$$", "'=' at the start missing"),
        (r"= <\frac{dL}{du}", "unknown symbol 'u'"),
        (r"$y* \in \mathbf{R}^m$", None),
    ],
)
def test_seed_slips_flagged_at_their_line(seed, pattern, reason):
    line = seed_line(pattern)
    if reason is None:  # the MSE label declared in R^m while x is in R^n: flagged where it is used
        use = seed_line("$$y = L(x, y*)")
        step = step_at(seed, use)[0]
        assert step.status == "failed" and "shapes differ" in step.verdict.reason
        return
    step = step_at(seed, line)[0]
    assert step.status == "failed", (pattern, step.verdict.explain())
    assert reason in step.verdict.reason


def test_seed_correct_index_notation_lines_verify(seed):
    assert step_at(seed, seed_line(r"= \Sigma_j \Sigma_i C_j B_{i+j} A_i"))[0].status == "verified"
    # right lines that follow one of the notes' slips (Σ_p with a free j, i summed twice): the step
    # from the slip is not what the author could mean, so it is not checked — never ✓ — and the reason
    # says the line agrees with the start of the chain
    for pattern in [r"= \Sigma_i \Sigma_j A_i B_{i+j} C_j", r"= \Sigma_j C_j (B \odot A)_j",
                    r"= \Sigma_p B_p (A \otimes C)_p"]:
        (s,) = step_at(seed, seed_line(pattern))
        assert s.status == "undecided" and "agree with the first expression" in s.verdict.reason, pattern


def test_seed_operator_meanings_come_from_the_definitions(seed):
    meanings = {d["operator"]: d["meaning"] for d in seed.definitions if "operator" in d}
    assert meanings == {"\\odot": "corr", "\\otimes": "conv"}


# --- derivations of our own -----------------------------------------------------------------
HEAD = r"""
# Quadratic form

Let $x \in \mathbf{R}^n$ and $A \in \mathbf{R}^{n \times n}$, and let $q \in \mathbf{R}$ be the loss.

$$q = x^T A x$$

"""


def test_quadratic_form_correct():
    doc = check_text(HEAD + r"""
$$\Delta q = (x + \Delta x)^T A (x + \Delta x) - x^T A x$$
$$= x^T A \Delta x + \Delta x^T A x + \Delta x^T A \Delta x$$
$$= x^T A \Delta x + \Delta x^T A x$$
$$= x^T (A + A^T) \Delta x$$
$$= \langle (A + A^T) x, \Delta x \rangle$$
$$\Rightarrow \frac{dq}{dx} = (A + A^T) x$$
""", "q.md")
    (d,) = doc.derivations
    assert d.status == "verified", d.explain()
    drop = [s for s in d.steps if s.verdict.dropped]
    assert drop and drop[0].rule == "drop-higher-order"


def test_quadratic_form_symmetric_slip_flagged_at_its_line():
    text = HEAD + r"""
$$\Delta q = (x + \Delta x)^T A (x + \Delta x) - x^T A x$$
$$= 2 x^T A \Delta x$$
$$= \langle 2 A^T x, \Delta x \rangle$$
$$\Rightarrow \frac{dq}{dx} = 2 A^T x$$
"""
    doc = check_text(text, "q.md")
    (d,) = doc.derivations
    bad = d.first_failure()
    assert bad.line == text.split("\n").index(r"$$= 2 x^T A \Delta x$$") + 1
    assert "first-order terms differ" in bad.verdict.reason
    assert bad.verdict.counterexample.sizes == {"n": 2}
    assert d.jacobian.status == "failed"


def test_dropped_first_order_term():
    doc = check_text(HEAD + r"""
$$\Delta q = (x + \Delta x)^T A (x + \Delta x) - x^T A x$$
$$= x^T A \Delta x$$
""", "q.md")
    (d,) = doc.derivations
    assert d.steps[1].status == "failed" and "first-order terms differ" in d.steps[1].verdict.reason


LINEAR_BIAS = r"""
# Affine layer

Let $x \in \mathbf{R}^n$, $W \in \mathbf{R}^{m \times n}$, $b \in \mathbf{R}^m$, $y \in \mathbf{R}^m$ and $L \in \mathbf{R}$.

$$y = Wx + b$$

## weight gradient

$$\Delta y = (W + \Delta W)x + b - (Wx + b) = \Delta W x$$
$$\Delta L = \langle \frac{dL}{dy}, \Delta y \rangle = \langle \frac{dL}{dy}, \Delta W x \rangle$$
$$= \mathrm{tr}(\frac{dL}{dy}^T \Delta W x) = \mathrm{tr}(x \frac{dL}{dy}^T \Delta W)$$
$$= \langle \frac{dL}{dy} x^T, \Delta W \rangle$$
$$\Rightarrow \frac{dL}{dW} = \frac{dL}{dy} x^T$$

## bias gradient

$$\Delta y = \Delta b$$
$$\Delta L = \langle \frac{dL}{dy}, \Delta b \rangle$$
$$\Rightarrow \frac{dL}{db} = \frac{dL}{dy}$$
"""


def test_layer_beyond_the_notes():
    doc = check_text(LINEAR_BIAS, "affine.md")
    assert [d.status for d in doc.derivations] == ["verified", "verified"], [d.explain() for d in doc.derivations]
    assert doc.status == "verified"


def test_wrong_cyclic_step_and_typo_diagnosis():
    text = LINEAR_BIAS.replace(r"= \mathrm{tr}(x \frac{dL}{dy}^T \Delta W)$$", r"= \mathrm{tr}(\Delta W x \frac{dL}{dy}^T)$$") \
        .replace(r"$$= \langle \frac{dL}{dy} x^T, \Delta W \rangle$$",
                 "$$= \\langle \\frac{dL}{dy} x^T, \\Delta W \\rangle$$\n$$= \\langle x \\frac{dL}{dy}^T, \\Delta W \\rangle$$")
    doc = check_text(text, "affine.md")
    d = doc.derivations[0]
    cycle = next(s for s in d.steps if s.plain() == "= tr(ΔW·x·dL/dy^T)")
    assert cycle.status == "verified"  # tr(ΔW x gᵀ) is a valid cycle
    # ⟨x gᵀ, ΔW⟩ is ill-typed (n×m against m×n): refused at its line, with the shapes as the reason; the
    # line stays a step of its derivation, in document order (issue 11), not a separate claim
    (bad,) = [s for s in d.steps if s.status == "failed"]
    assert bad.line == 14 and "shapes" in bad.verdict.reason and bad.kind == "problem"
    assert [s.line for s in d.steps] == sorted(s.line for s in d.steps)
    assert not [s for c in doc.claims for s in c.steps if s.status == "failed"]
    # the read-off continues the refused line: not checked from it, never checked against an earlier line
    readoff = d.steps[-1]
    assert readoff.kind == "readoff" and readoff.status == "undecided" and "refused" in readoff.verdict.reason
    assert d.jacobian is not None and d.jacobian.status == "verified"


def test_typo_line_in_a_chain():
    text = r"""
# T
Let $x \in \mathbf{R}^n$, $w \in \mathbf{R}^{n \times n}$, $y \in \mathbf{R}^n$, $L \in \mathbf{R}$.

$$y = wx$$
$$\Delta y = w(x + \Delta x) - wx = w \Delta x$$
$$\Delta L = \langle \frac{dL}{dy}, \Delta y \rangle = \langle \frac{dL}{dy}, w \Delta x \rangle$$
$$= \langle w \frac{dL}{dy}, \Delta x \rangle$$
$$= \langle w^T \frac{dL}{dy}, \Delta x \rangle$$
$$\Rightarrow \frac{dL}{dx} = w^T \frac{dL}{dy}$$
"""
    doc = check_text(text, "t.md")
    (d,) = doc.derivations
    failed = [s for s in d.steps if s.status == "failed"]
    # line 8 is blamed; the step 8 → 9 is false as written too, and says line 9 agrees with line 7
    assert [s.line for s in failed] == [8, 9] and failed[0].verdict.reason.startswith("probably a typo")
    assert "agree with line 7" in failed[1].verdict.reason
    assert d.jacobian.status == "verified"


# --- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text,needle",
    [
        ("$$x = x\n", "never closed"),
        ("$x \\in \\mathbf{R}^n$ $w \\in \\mathbf{R}^n$ $y \\in \\mathbf{R}^{\\infty}$\n\n$$y = x \\odot w$$\n", "no declared meaning"),
    ],
)
def test_bad_input_exit_two_with_position(tmp_path, text, needle):
    f = tmp_path / "bad.md"
    f.write_text(text, encoding="utf-8")
    r = run("check", str(f))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert needle in r.stderr
    assert "Traceback" not in r.stderr
    assert r.stderr.startswith(f"{f}:") and r.stderr.split(":")[1].isdigit() and r.stderr.split(":")[2].isdigit()


@pytest.mark.parametrize(
    "text,needle,line",
    [
        ("$x \\in \\mathbf{R}^n$\n\n$$x = \\frac{1{2} x$$\n", "unbalanced", 3),
        ("$x \\in \\mathbf{R}^n$\n\n$$y = (x + x$$\n", "unbalanced", 3),
        ("$x \\in \\mathbf{R}^n$\n\n$$x = x )$$\n", "unbalanced", 3),
        ("$$__import__('os').system('echo hacked')$$\n", "unexpected", 1),
        ("$x \\in \\mathbf{R}^{n \\times}$\n", "expected", 1),
        ("$$" + "(" * 60 + "x" + ")" * 60 + "$$\n", "nested more than", 1),
        ("$$" + "x + " * 800 + "x$$\n", "limit", 1),
    ],
)
def test_bad_line_fails_at_its_position_and_the_rest_is_checked(tmp_path, text, needle, line):
    """Issue 11: one line that cannot be read fails there (exit 1) with file:line:col; a derivation after
    it is still checked."""
    f = tmp_path / "bad.md"
    f.write_text(text + "\n" + LINEAR_BIAS, encoding="utf-8")
    r = run("check", str(f))
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "Traceback" not in r.stdout + r.stderr
    bad = [x for x in r.stdout.splitlines() if needle in x]
    assert bad and bad[0].startswith(f"{f}:{line}:") and bad[0].split(":")[2].isdigit(), r.stdout
    assert "✓ perturbation" in r.stdout  # the derivation after the bad line is checked


def test_binary_and_non_utf8(tmp_path):
    b = tmp_path / "bin.md"
    b.write_bytes(b"abc\x00def")
    r = run("check", str(b))
    assert r.returncode == 2 and "binary" in r.stderr
    u = tmp_path / "latin.md"
    u.write_bytes("caf\xe9".encode("latin-1"))
    r = run("check", str(u))
    assert r.returncode == 2 and "not UTF-8" in r.stderr and ":1:4:" in r.stderr


def test_missing_file_exit_two(tmp_path):
    r = run("check", str(tmp_path / "nope.md"))
    assert r.returncode == 2 and "cannot read" in r.stderr


@pytest.mark.e2e
def test_real_command_reads_checks_and_exits(tmp_path):
    """End to end: the installed module, as a separate process, for exit statuses 0, 1 and 2."""
    assert run_subprocess("check", str(tmp_path / "nope.md")).returncode == 2
    f = tmp_path / "q.md"
    f.write_text(HEAD + "$$\\Delta q = (x + \\Delta x)^T A (x + \\Delta x) - x^T A x$$\n$$= 2 x^T A \\Delta x$$\n",
                 encoding="utf-8")
    r = run_subprocess("check", str(f))
    assert r.returncode == 1 and "✗" in r.stdout and "Traceback" not in r.stderr


def test_unknown_symbol_is_reported_at_its_line():
    doc = check_text("$x \\in \\mathbf{R}^n$\n\n$$x + z = z + x$$\n", "u.md")
    (s,) = [s for s, _ in doc.all_steps()]
    assert s.status == "failed" and "unknown symbol 'z'" in s.verdict.reason and s.line == 3


def test_no_eval_of_user_text(monkeypatch):
    import builtins

    import sympy

    def forbidden(*a, **k):
        raise AssertionError("user text must not be evaluated")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(sympy, "sympify", forbidden)
    monkeypatch.setattr(sympy, "parse_expr", forbidden, raising=False)
    doc = check_text(LINEAR_BIAS, "affine.md")
    assert doc.status == "verified"


# --- CLI and reports ----------------------------------------------------------------------------
def test_check_cli_text_and_json(tmp_path):
    f = tmp_path / "affine.md"
    f.write_text(LINEAR_BIAS, encoding="utf-8")
    r = run("check", str(f))
    assert r.returncode == 0, r.stdout
    assert f"{f}:10:3: ✓ perturbation" in r.stdout  # every step names file:line:col
    r = run("check", str(f), "--format", "json")
    data = json.loads(r.stdout)
    (entry,) = data["files"]
    assert entry["path"] == str(f) and entry["status"] == "verified"
    step = entry["derivations"][0]["steps"][0]
    assert step["line"] == 10 and step["status"] == "verified"


def test_check_exit_one_on_failure(tmp_path):
    f = tmp_path / "q.md"
    f.write_text(HEAD + "$$\\Delta q = (x + \\Delta x)^T A (x + \\Delta x) - x^T A x$$\n$$= 2 x^T A \\Delta x$$\n", encoding="utf-8")
    r = run("check", str(f))
    assert r.returncode == 1 and "✗ first-order terms differ" in r.stdout and "counterexample" in r.stdout


def test_document_report_escapes_prose(tmp_path):
    evil = LINEAR_BIAS + "\nA note <script>alert(1)</script> and \\input{/etc/passwd} and $\\write18{ls}$.\n"
    f = tmp_path / "evil.md"
    f.write_text(evil, encoding="utf-8")
    r = run("report", str(f), "--format", "md")
    assert r.returncode == 0
    assert "<script>" not in r.stdout and "&lt;script&gt;" in r.stdout
    assert "✓" in r.stdout and "symderiv check of" in r.stdout
    r = run("report", str(f), "--format", "tex")
    assert "\\input{/etc/passwd}" not in r.stdout and "\\write18" not in r.stdout
    assert "\\textbackslash{}input" in r.stdout


def test_document_report_compiles(tmp_path):
    import os
    import shutil

    if shutil.which("pdflatex") is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is required in CI")
        pytest.skip("pdflatex not installed")
    out = tmp_path / "seed.tex"
    r = run("report", str(SEED), "--format", "tex", "-o", str(out))
    assert r.returncode == 1  # the notes contain slips
    c = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", out.name], cwd=tmp_path,
                       capture_output=True, text=True, timeout=180)
    assert c.returncode == 0, c.stdout[-3000:]


def test_two_derivations_in_one_section():
    doc = check_text(r"""
# Linear
Let $x \in \mathbf{R}^n$, $w \in \mathbf{R}^{m \times n}$, $y \in \mathbf{R}^m$, $L \in \mathbf{R}$.

$$y = wx$$
$$\Delta y = w(x + \Delta x) - wx = w\Delta x$$
$$\Delta L = \langle \frac{dL}{dy}, \Delta y \rangle = \langle w^T \frac{dL}{dy}, \Delta x \rangle$$
$$\Rightarrow \frac{dL}{dx} = w^T \frac{dL}{dy}$$
$$\Delta y = (w + \Delta w)x - wx = \Delta w x$$
$$\Delta L = \langle \frac{dL}{dy}, \Delta y \rangle = \langle \frac{dL}{dy} x^T, \Delta w \rangle$$
$$\Rightarrow \frac{dL}{dw} = \frac{dL}{dy} x^T$$
""", "two.md")
    assert [d.wrt.name for d in doc.derivations] == ["x", "w"]
    assert all(d.status == "verified" for d in doc.derivations)


def test_scalar_output_with_upstream_gradient():
    doc = check_text(r"""
# Score
Let $x \in \mathbf{R}^n$, $a \in \mathbf{R}^n$, $s \in \mathbf{R}$ and $L \in \mathbf{R}$.

$$s = a^T x$$
$$\Delta s = a^T (x + \Delta x) - a^T x = a^T \Delta x$$
$$\Delta L = \langle \frac{dL}{ds}, \Delta s \rangle = \frac{dL}{ds} a^T \Delta x$$
$$= \langle \frac{dL}{ds} a, \Delta x \rangle$$
$$\Rightarrow \frac{dL}{dx} = \frac{dL}{ds} a$$
""", "score.md")
    (d,) = doc.derivations
    assert d.status == "verified", d.explain()
    assert d.loss == "L" and d.jacobian.status == "verified"


def test_notation_variants_of_other_authors():
    """aligned/align*, \\partial, \\ell, ^\\top, \\operatorname{tr}, \\mathbb{R}, \\|v\\|^2, a \\cdot b as a dot product."""
    from symderiv.documents.documents import check_file

    doc = check_file(str(ROOT / "tests" / "data" / "notation-variants.md"))
    first, second = doc.derivations
    assert first.status == "verified" and first.loss == "ell"
    assert [s.status for s in second.steps] == ["verified"] * 3
    assert second.steps[-1].rhs.__class__.__name__ == "Inner"  # (v - b) \cdot Δv read as ⟨v - b, Δv⟩


@pytest.mark.slow
def test_seed_notes_json(tmp_path):
    r = run("check", str(SEED), "--format", "json")
    assert r.returncode == 1, r.stderr
    (f,) = json.loads(r.stdout)["files"]
    assert f["status"] == "failed" and len(f["derivations"]) == 4
    problem = next(c for c in f["claims"] if c["steps"][0]["status"] == "failed")
    step = problem["steps"][0]
    assert step["line"] and step["latex"] and step["reason"]


# --- wrong counterparts of the reader's features -----------------------------------------------
SEQ_HEAD = r"""
<!-- symderiv: $A \in \mathbf{R}^{\infty}$, $B \in \mathbf{R}^{\infty}$, $C \in \mathbf{R}^{\infty}$ -->
Let $x \in \mathbf{R}^{\infty}$, $w \in \mathbf{R}^{\infty}$, $y \in \mathbf{R}^{\infty}$.

$$y = x \odot w$$
$$y_i := \sum_j x_{%s} w_j$$

"""


def test_wrong_but_well_formed_index_sum_fails():
    doc = check_text(SEQ_HEAD % "i+j" + r"$$\langle A, B \odot C \rangle = \sum_i \sum_j A_i B_{i-j} C_j$$" + "\n", "i.md")
    (step,) = [s for s, _ in doc.all_steps()]
    assert step.status == "failed" and step.verdict.counterexample is not None
    right = check_text(SEQ_HEAD % "i+j" + r"$$\langle A, B \odot C \rangle = \sum_i \sum_j A_i B_{i+j} C_j$$" + "\n", "i.md")
    assert [s.status for s, _ in right.all_steps()] == ["verified"]


def test_declared_meaning_decides_the_proof():
    prop1 = r"$$\langle A, B \odot C \rangle = \langle C, B \odot A \rangle$$" + "\n"
    as_corr = check_text(SEQ_HEAD % "i+j" + prop1, "p.md")
    as_conv = check_text(SEQ_HEAD % "i-j" + prop1, "p.md")
    assert [s.status for s, _ in as_corr.all_steps()] == ["verified"]
    assert [s.status for s, _ in as_conv.all_steps()] == ["failed"]  # false when ⊙ is convolution


def test_wrong_dot_product_and_wrong_renamed_loss():
    text = (ROOT / "tests" / "data" / "notation-variants.md").read_text(encoding="utf-8")
    wrong = text.replace(r"$$= (v - b) \cdot \Delta v$$", r"$$= (v + b) \cdot \Delta v$$") \
                .replace(r"\frac{\partial \ell}{\partial x} = W^{\top}", r"\frac{\partial \ell}{\partial x} = W")
    wrong = wrong.replace(r"y \in \mathbb{R}^{m}", r"y \in \mathbb{R}^{n}").replace(r"W \in \mathbb{R}^{m \times n}",
                                                                                  r"W \in \mathbb{R}^{n \times n}")
    doc = check_text(wrong, "w.md")
    first, second = doc.derivations
    assert first.steps[-1].status == "failed" and first.jacobian.status == "failed"
    assert second.steps[-1].status == "failed"


def test_wrong_gradient_for_scalar_output_with_upstream_loss():
    doc = check_text(r"""
Let $x \in \mathbf{R}^n$, $a \in \mathbf{R}^n$, $s \in \mathbf{R}$ and $L \in \mathbf{R}$.

$$s = a^T x$$
$$\Delta s = a^T \Delta x$$
$$\Delta L = \langle \frac{dL}{ds}, \Delta s \rangle = \langle a, \Delta x \rangle$$
$$\Rightarrow \frac{dL}{dx} = a$$
""", "s.md")
    (d,) = doc.derivations
    assert d.steps[-2].status == "failed"  # dL/ds was dropped
    assert d.jacobian.status == "failed"

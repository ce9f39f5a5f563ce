"""``symderiv check --format github``: GitHub Actions annotations on the wrong line (issue 11)."""
from __future__ import annotations

from pathlib import Path

from cli_run import run_main

COURSE = Path(__file__).resolve().parent.parent / "examples" / "course" / "derivations"


def test_a_verified_document_prints_only_its_summary(tmp_path):
    r = run_main("check", "--format", "github", str(COURSE / "sigmoid.md"))
    assert r.returncode == 0
    lines = r.stdout.splitlines()
    assert len(lines) == 1 and lines[0].startswith("::notice file=") and "— verified" in lines[0]


def test_a_wrong_step_is_an_error_at_its_line_with_its_counterexample(tmp_path):
    text = (COURSE / "relu.md").read_text(encoding="utf-8")
    right = r"\Rightarrow \frac{dL}{dW} = (\frac{dL}{dy} \circ \mathrm{step}(Wx + b)) x^T"
    line = text[: text.index(right)].count("\n") + 1
    f = tmp_path / "relu, wrong: a copy.md"  # a comma and a colon in the name are escaped
    f.write_text(text.replace(right, r"\Rightarrow \frac{dL}{dW} = \frac{dL}{dy} x^T"), encoding="utf-8")
    r = run_main("check", "--format", "github", str(f))
    assert r.returncode == 1
    errors = [x for x in r.stdout.splitlines() if x.startswith("::error ")]
    assert errors and f",line={line}," in errors[0]
    assert "relu%2C wrong%3A a copy.md" in errors[0]
    assert "%0Acounterexample:%0A" in errors[0] and "\n" not in errors[0]


def test_an_unreadable_file_is_an_error_at_its_position(tmp_path):
    f = tmp_path / "bad.md"
    f.write_text("# T\n\n$$x = \\frac{1}{2}\n", encoding="utf-8")  # never closed: the file cannot be read
    r = run_main("check", "--format", "github", str(f))
    assert r.returncode == 2
    assert r.stdout.startswith("::error file=") and ",line=3" in r.stdout


def test_an_unreadable_line_is_an_error_at_its_position(tmp_path):
    f = tmp_path / "bad.md"
    f.write_text("# T\n\n$$x = \\frac{1}{$$\n", encoding="utf-8")
    r = run_main("check", "--format", "github", str(f))
    assert r.returncode == 1
    assert r.stdout.startswith("::error file=") and ",line=3,col=" in r.stdout

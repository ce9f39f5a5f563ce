"""The CLI as a user runs it: exit codes, JSON shape, errors without tracebacks.

Most tests call ``main()`` in-process; the ones marked ``e2e`` run ``python -m symderiv``.
"""
import json

import pytest
from cli_run import run_main as run
from cli_run import run_subprocess

from symderiv.cli import main


@pytest.mark.e2e
def test_derive_linear_w_json():
    r = run_subprocess("derive", "linear", "--wrt", "w", "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    (d,) = data["derivations"]
    assert {"title", "wrt", "status", "gradient", "jacobian_check", "steps"} <= set(d)
    assert d["status"] == "verified" and d["jacobian_check"] == "verified"
    assert d["gradient"] == r"\frac{dL}{dy} x^{T}"
    for s in d["steps"]:
        assert {"line", "latex", "rule", "status", "method", "reason", "counterexample"} <= set(s)
        assert s["status"] == "verified" and s["line"] is None and s["method"]


@pytest.mark.parametrize("layer,wrt", [("mse", "x"), ("linear", "x"), ("add", "x"), ("add", "w")])
def test_derive_each_layer_exit_zero(layer, wrt, capsys):
    assert main(["derive", layer, "--wrt", wrt, "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)["derivations"][0]
    assert d["status"] == "verified" and d["jacobian_check"] == "verified"


def test_list(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "linear" in out and "mse" in out and "add" in out


@pytest.mark.parametrize(
    "args,needle",
    [
        (["derive", "nope"], "unknown layer"),
        (["derive", "linear", "--wrt", "q"], "no variable 'q'"),
        (["derive", "linear", "--format", "pdf"], "invalid choice"),
        (["frobnicate"], "invalid choice"),
        (["report", "--all", "--format", "docx"], "unknown format"),
        ([], "required"),
    ],
)
def test_bad_usage_exits_two_without_traceback(args, needle):
    r = run(*args)
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


@pytest.mark.e2e
def test_bad_usage_of_the_real_command_exits_two_without_traceback():
    r = run_subprocess("derive", "nope")
    assert r.returncode == 2 and "unknown layer" in r.stderr and "Traceback" not in r.stderr + r.stdout


def test_output_file(tmp_path):
    out = tmp_path / "sub" / "linear.md"
    assert main(["derive", "linear", "--format", "md", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("# Linear layer")


def test_unwritable_output_exits_two(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run("derive", "linear", "-o", str(blocker / "x.md"))
    assert r.returncode == 2 and "cannot write" in r.stderr

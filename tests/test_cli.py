"""The CLI as a user runs it: exit codes, JSON shape, errors without tracebacks.

Most tests call ``main()`` in-process; the ones marked ``e2e`` run ``python -m symderiv``.
"""
import json
import subprocess
import sys

import pytest
from cli_run import run_main as run
from cli_run import run_subprocess

from symderiv.cli import main


@pytest.mark.e2e
def test_derive_linear_w_json():
    r = run_subprocess("derive", "linear", "--wrt", "w", "--format", "json")
    assert r.returncode == 0, r.stderr
    # the process exits without the interpreter's teardown (os._exit): its output must still be whole
    assert r.stdout == run("derive", "linear", "--wrt", "w", "--format", "json").stdout
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


_LIGHT_COMMANDS = """
import contextlib, io, sys
from symderiv.cli import main
from symderiv.derive.catalog import ENTRIES
codes = []
for argv in (["--help"], ["list"], ["frobnicate"], ["derive", "nope"], ["report", "--all", "--format", "docx"], []):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            codes.append(main(argv))
        except SystemExit as exc:
            codes.append(exc.code)
    if argv == ["list"]:
        assert [line.split()[0] for line in out.getvalue().splitlines()] == [e.name for e in ENTRIES]
heavy = sorted(m for m in ("sympy", "lark", "jinja2", "numpy") if m in sys.modules)
print(codes, heavy)
"""


@pytest.mark.e2e
def test_help_list_and_usage_errors_do_not_import_sympy():
    """The front doors that need no mathematics start fast: a fresh interpreter runs --help, list
    and argument errors, and SymPy (and the reader's and renderer's libraries) stay unimported."""
    r = subprocess.run([sys.executable, "-c", _LIGHT_COMMANDS], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[0, 0, 2, 2, 2, 2] []"


_CLAIM = r"""Let $A \in \mathbf{R}^{n \times n}$ and $B \in \mathbf{R}^{n \times n}$.

$$\operatorname{tr}(A B) = \operatorname{tr}(B A)$$
"""

_COMMANDS_LOAD_WHAT_THEY_USE = """
import contextlib, io, os, sys, tempfile
from symderiv.cli import main
CLAIM = sys.argv[1]

def run(argv):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return main(argv)

def loaded():
    return sorted(m for m in ("lark", "jinja2", "numpy") if m in sys.modules)

seen = [run(["derive", "linear"]), loaded(), run(["derive", "linear", "--format", "json"]), loaded()]
with tempfile.TemporaryDirectory() as tmp:
    doc = os.path.join(tmp, "claim.md")
    with open(doc, "w", encoding="utf-8") as fh:
        fh.write(CLAIM)
    seen += [run(["report", doc, "--format", "md"]), loaded()]
print(seen)
"""


@pytest.mark.e2e
def test_commands_import_only_what_they_use():
    """In a fresh interpreter: plain-text and JSON derivations load neither the reader's lark nor
    jinja2, and a report whose screens run at small sizes (exact in Python) never imports NumPy."""
    r = subprocess.run([sys.executable, "-c", _COMMANDS_LOAD_WHAT_THEY_USE, _CLAIM], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[0, [], 0, [], 0, ['jinja2', 'lark']]"


def test_catalog_entries_describe_the_built_layers():
    """``list`` reads the light ENTRIES table; the layers built from it carry the same names,
    summaries, variables and modes."""
    from symderiv.derive.catalog import CATALOG, ENTRIES

    assert [e.name for e in ENTRIES] == list(CATALOG)
    for e in ENTRIES:
        layer = CATALOG[e.name]
        assert (layer.summary, layer.wrt, getattr(layer, "modes", ())) == (e.summary, e.wrt, e.modes)


def test_import_symderiv_keeps_the_api_and_the_kernel_finds_its_search(monkeypatch):
    """``import symderiv`` is lazy, yet its names work, and a kernel verdict never runs without the
    counterexample search: with none installed, the kernel loads the default one first."""
    import sympy

    import symderiv
    from symderiv.kernel import refute

    assert set(symderiv.__all__) <= set(dir(symderiv))
    monkeypatch.setattr(refute, "_installed", None)
    n = sympy.Symbol("n")
    A, B = symderiv.matrix("A", n, n), symderiv.matrix("B", n, n)
    v = symderiv.verify_equal(sympy.Trace(A * B), sympy.Trace(A.T * B))
    assert v.status == "failed" and v.counterexample is not None
    assert refute._installed is not None and type(refute._installed).__module__ == refute.DEFAULT_SEARCH


def test_output_file(tmp_path):
    out = tmp_path / "sub" / "linear.md"
    assert main(["derive", "linear", "--format", "md", "-o", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("# Linear layer")


def test_unwritable_output_exits_two(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = run("derive", "linear", "-o", str(blocker / "x.md"))
    assert r.returncode == 2 and "cannot write" in r.stderr

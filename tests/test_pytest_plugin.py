"""The pytest plugin, tested with pytest's own pytester."""
import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]
ROOT = Path(__file__).resolve().parent.parent


def plugin_args():
    """Load the plugin explicitly only when it is not installed through its entry point."""
    eps = importlib.metadata.entry_points(group="pytest11")
    return [] if any(ep.value == "symderiv.pytest_plugin" for ep in eps) else ["-p", "symderiv.pytest_plugin"]


GOOD = r"""
# Linear

Let $x \in \mathbf{R}^n$, $w \in \mathbf{R}^{m \times n}$, $y \in \mathbf{R}^m$, $L \in \mathbf{R}$.

$$y = wx$$

## Input gradient

$$\Delta y = w(x + \Delta x) - wx = w\Delta x$$
$$\Delta L = \langle \frac{dL}{dy}, \Delta y \rangle = \langle \frac{dL}{dy}, w \Delta x \rangle$$
$$= \langle w^T \frac{dL}{dy}, \Delta x \rangle$$
$$\Rightarrow \frac{dL}{dx} = w^T \frac{dL}{dy}$$
"""

BAD = r"""
# Quadratic

Let $x \in \mathbf{R}^n$, $A \in \mathbf{R}^{n \times n}$, $q \in \mathbf{R}$.

$$q = x^T A x$$

## Gradient

$$\Delta q = (x + \Delta x)^T A (x + \Delta x) - x^T A x$$
$$= 2 x^T A \Delta x$$
$$= \langle 2 A^T x, \Delta x \rangle$$
$$\Rightarrow \frac{dq}{dx} = 2 A^T x$$
"""


def test_documents_become_test_items(pytester):
    pytester.makeini("[pytest]\nsymderiv_documents = docs/*.md\n")
    pytester.mkdir("docs")
    (pytester.path / "docs" / "good.md").write_text(GOOD, encoding="utf-8")
    (pytester.path / "docs" / "bad.md").write_text(BAD, encoding="utf-8")
    result = pytester.runpytest("-v", *plugin_args())
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*good.md::Input gradient*PASSED*"])
    result.stdout.fnmatch_lines(["*bad.md::Gradient*FAILED*"])
    out = result.stdout.str()
    assert "bad.md: symderiv: derivation 'Gradient: dq/dx' breaks at line 11" in out
    assert "first-order terms differ" in out and "smallest counterexample" in out and "sizes: n = 2" in out


def test_read_error_is_one_failing_item(pytester):
    pytester.makeini("[pytest]\nsymderiv_documents = *.md\n")
    (pytester.path / "broken.md").write_text("$$x = x\n", encoding="utf-8")  # never closed: no line to blame
    result = pytester.runpytest(*plugin_args())
    result.assert_outcomes(failed=1)
    assert "could not read the document" in result.stdout.str() and "broken.md:1:" in result.stdout.str()


def test_assertrepr_compare_explains_structural_equality(pytester):
    pytester.makepyfile(test_eq="""
        import sympy
        from symderiv import matrix

        def test_trace():
            n = sympy.Symbol("n")
            A, B = matrix("A", n, n), matrix("B", n, n)
            assert sympy.Trace(A * B) == sympy.Trace(B * A)
    """)
    result = pytester.runpytest(*plugin_args())
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "SymPy's == compares expression trees" in out and "EQUAL for all sizes" in out


@pytest.mark.slow
def test_parallel_with_xdist(pytester):
    pytest.importorskip("xdist", reason="pytest-xdist is not installed")
    pytester.makeini("[pytest]\nsymderiv_documents = docs/*.md\n")
    pytester.mkdir("docs")
    for i in range(3):
        (pytester.path / "docs" / f"good{i}.md").write_text(GOOD, encoding="utf-8")
    (pytester.path / "docs" / "bad.md").write_text(BAD, encoding="utf-8")
    result = pytester.runpytest("-n", "2", *plugin_args())
    result.assert_outcomes(passed=3, failed=1)


@pytest.mark.slow
def test_course_example_checks(tmp_path):
    """CI runs the example course's checks, as its README section does."""
    course = tmp_path / "course"
    shutil.copytree(ROOT / "examples" / "course", course)
    env_path = {"PYTHONPATH": str(ROOT)}
    import os

    r = subprocess.run([sys.executable, "-m", "pytest", "-q", *plugin_args()], cwd=course, capture_output=True,
                       text=True, timeout=600, env={**os.environ, **env_path})
    assert r.returncode == 0, r.stdout[-3000:]
    assert "30 passed" in r.stdout
    from cli_run import run_main  # the report needs no process of its own

    r = run_main("report", *sorted(str(p) for p in (course / "derivations").glob("*.md")), "--out", str(course / "build"))
    assert r.returncode == 0, r.stderr
    built = {p.name for p in (course / "build").iterdir()}
    assert {"linear.md", "linear.tex", "quadratic.md", "course.tex"} <= built
    if shutil.which("pdflatex"):
        assert "course.pdf" in built


UNLOCATED = r"""# Linear

Let $x \in \mathbf{R}^{m n}$, $L \in \mathbf{R}$.

$$L = x^T x$$
"""


def test_document_that_fails_to_check_is_one_located_failure(pytester):
    """An error without a position (here a space the reader rejects) fails one item, with file:line:col,
    and the other documents still run."""
    pytester.makeini("[pytest]\nsymderiv_documents = docs/*.md\n")
    pytester.mkdir("docs")
    (pytester.path / "docs" / "good.md").write_text(GOOD, encoding="utf-8")
    (pytester.path / "docs" / "space.md").write_text(UNLOCATED, encoding="utf-8")
    result = pytester.runpytest(*plugin_args())
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "error during collection" not in out and "Interrupted" not in out
    # issue 11: the declaration that cannot be read fails at file:line:col; the document is still checked
    assert re.search(r"space\.md:3:\d+: line 3 \(declaration\)", out), out
    assert "the declaration of x cannot be read" in out
    assert "Traceback" not in out and len(out.splitlines()) < 40


def test_internal_error_in_collection_or_run_is_one_short_failure(pytester):
    """A bug in symderiv (simulated) fails the affected item only: located message, no traceback."""
    pytester.makeini("[pytest]\nsymderiv_documents = docs/*.md\n")
    pytester.makeconftest("""
        import symderiv.documents.documents, symderiv.testing

        saved = {}

        def check_file(path, check=True):
            if path.endswith("boom.md"):
                raise RuntimeError("simulated bug")
            return saved["check_file"](path, check)

        def assert_derivation(d):
            raise ZeroDivisionError("simulated bug in a check")

        def pytest_configure(config):  # patched for this inner session only (pytester runs in process)
            saved["check_file"] = symderiv.documents.documents.check_file
            saved["assert_derivation"] = symderiv.testing.assert_derivation
            symderiv.documents.documents.check_file = check_file
            symderiv.testing.assert_derivation = assert_derivation

        def pytest_unconfigure(config):
            symderiv.documents.documents.check_file = saved["check_file"]
            symderiv.testing.assert_derivation = saved["assert_derivation"]
    """)
    pytester.mkdir("docs")
    (pytester.path / "docs" / "good.md").write_text(GOOD, encoding="utf-8")
    (pytester.path / "docs" / "boom.md").write_text(GOOD, encoding="utf-8")
    result = pytester.runpytest(*plugin_args())
    result.assert_outcomes(failed=2)
    out = result.stdout.str()
    assert "error during collection" not in out and "Traceback" not in out
    assert re.search(r"boom\.md:1:1: internal error in symderiv: RuntimeError: simulated bug", out), out
    assert re.search(r"good\.md:\d+:1: internal error in symderiv: ZeroDivisionError", out), out
    assert len(out.splitlines()) < 40
    import symderiv.documents.documents
    import symderiv.testing

    assert symderiv.documents.documents.check_file.__module__ == "symderiv.documents.documents"
    assert symderiv.testing.assert_derivation.__module__ == "symderiv.testing"


def test_glob_matching_nothing_warns(pytester):
    pytester.makeini("[pytest]\nsymderiv_documents = derivations/*.md\n")
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest(*plugin_args())
    result.assert_outcomes(passed=1)
    assert "'derivations/*.md' matches no file" in result.stdout.str()


@pytest.mark.parametrize("strict", [["--strict-config"], []])
def test_glob_matching_nothing_is_an_error_when_strict(pytester, strict):
    ini = "[pytest]\nsymderiv_documents = derivations/*.md\n" + ("" if strict else "symderiv_strict = true\n")
    pytester.makeini(ini)
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    result = pytester.runpytest(*strict, *plugin_args())
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "'derivations/*.md' matches no file" in result.stderr.str()


def test_glob_with_matches_does_not_warn(pytester):
    pytester.makeini("[pytest]\nsymderiv_documents = *.md\n")
    (pytester.path / "sub").mkdir()
    (pytester.path / "sub" / "good.md").write_text(GOOD, encoding="utf-8")
    result = pytester.runpytest("--strict-config", *plugin_args())
    result.assert_outcomes(passed=1)
    assert "matches no file" not in result.stdout.str()


def test_a_failing_derivation_is_located_at_its_first_wrong_step(pytester):
    """pytest's reportinfo (what editors and CI link to) is the first step that is not verified."""
    pytester.makeini("[pytest]\nsymderiv_documents = docs/*.md\n")
    pytester.mkdir("docs")
    (pytester.path / "docs" / "bad.md").write_text(BAD, encoding="utf-8")
    wrong = BAD.splitlines().index(r"$$= 2 x^T A \Delta x$$") + 1
    items, _ = pytester.inline_genitems(*plugin_args())
    (item,) = items
    path, line0, _ = item.reportinfo()
    assert line0 + 1 == wrong

"""``mypy --strict`` on the trusted kernel (and, as they are typed, on search/ and lang/).

Skipped with its reason when mypy is not installed; required when the CI environment variable is
set (CI installs the ``test`` extra, which includes mypy).
"""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: Checked strictly, with every error in these files reported. Modules they import are analysed
#: but their own errors are not reported here (--follow-imports=silent) until they join the list.
#: Not yet strict: symderiv/kernel/convolution.py, symderiv/search/counterexample.py (it calls
#: convolution's untyped helpers), symderiv/lang/ (typed separately).
STRICT = [
    "symderiv/kernel/__init__.py",
    "symderiv/kernel/budget.py",
    "symderiv/kernel/decide.py",
    "symderiv/kernel/dispatch.py",
    "symderiv/kernel/evaluate.py",
    "symderiv/kernel/expand.py",
    "symderiv/kernel/indexgraph.py",
    "symderiv/kernel/jacobian.py",
    "symderiv/kernel/matrix.py",
    "symderiv/kernel/nodetable.py",
    "symderiv/kernel/refute.py",
    "symderiv/kernel/unionfind.py",
    "symderiv/kernel/verdict.py",
    "symderiv/kernel/verifier.py",
    "symderiv/search/__init__.py",
]


def test_the_strict_list_names_existing_files() -> None:
    missing = [p for p in STRICT if not (ROOT / p).is_file()]
    assert missing == []


def test_mypy_strict_on_the_kernel() -> None:
    if importlib.util.find_spec("mypy") is None:
        if os.environ.get("CI"):
            pytest.fail("mypy is required in CI (pip install -e '.[test]')")
        pytest.skip("mypy is not installed (pip install -e '.[test]')")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--follow-imports=silent", *STRICT],
        cwd=ROOT, capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_package_is_marked_typed() -> None:
    assert (ROOT / "symderiv" / "py.typed").is_file()
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"py.typed"' in text

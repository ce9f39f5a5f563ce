"""``mypy --strict`` on the trusted kernel and the search layer (lang/ is checked in test_typing_lang.py).

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

#: Checked strictly, every file of each directory, as CI runs it: ``mypy --strict symderiv/kernel symderiv/search``.
STRICT = ["symderiv/kernel", "symderiv/search"]


def test_the_strict_list_names_existing_directories() -> None:
    missing = [p for p in STRICT if not (ROOT / p).is_dir()]
    assert missing == []


def test_mypy_strict_on_the_kernel_and_search() -> None:
    if importlib.util.find_spec("mypy") is None:
        if os.environ.get("CI"):
            pytest.fail("mypy is required in CI (pip install -e '.[test]')")
        pytest.skip("mypy is not installed (pip install -e '.[test]')")
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", *STRICT],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Success: no issues found" in proc.stdout


def test_ci_runs_mypy_strict_on_the_kernel_and_search() -> None:
    """The CI script runs the same command (not commented out)."""
    lines = [ln.strip() for ln in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()]
    assert "mypy --strict " + " ".join(STRICT) in lines


def test_the_package_is_marked_typed() -> None:
    assert (ROOT / "symderiv" / "py.typed").is_file()
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert '"py.typed"' in text

"""The version is written once (symderiv.__version__) and the licence file matches pyproject."""
from __future__ import annotations

import importlib.metadata
import sys
from pathlib import Path

import pytest

import symderiv

ROOT = Path(__file__).resolve().parent.parent

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_version_has_one_source():
    project = _pyproject()["project"]
    assert "version" not in project and "version" in project["dynamic"]
    assert _pyproject()["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "symderiv.__version__"}
    assert importlib.metadata.version("symderiv") == symderiv.__version__


def test_license_file_matches_pyproject():
    assert _pyproject()["project"]["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "symderiv contributors" in text

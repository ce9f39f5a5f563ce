"""pytest plugin (entry point ``pytest11``): derivation documents as tests, and explanations of
``assert lhs == rhs`` between matrix expressions.

Configuration (pytest.ini, tox.ini or pyproject.toml)::

    [pytest]
    symderiv_documents = derivations/*.md

Each derivation in a matching Markdown file becomes one test item named after its heading; the
other statements of the file (identity claims) form one more item. A failing item reports
``file:line`` of the first wrong step with the reason and the smallest counterexample.
Items are checked when they run, not when they are collected, so ``pytest -n`` (pytest-xdist)
spreads the work over its workers.
"""
from __future__ import annotations

import fnmatch
from pathlib import Path

import pytest


def pytest_addoption(parser):
    parser.addini(
        "symderiv_documents",
        type="linelist",
        help="glob patterns (relative to the rootdir) of Markdown derivation documents to check with symderiv",
        default=[],
    )


def _matches(config, file_path: Path) -> bool:
    patterns = config.getini("symderiv_documents")
    if not patterns or file_path.suffix.lower() not in (".md", ".markdown"):
        return False
    try:
        rel = file_path.resolve().relative_to(Path(str(config.rootpath)).resolve()).as_posix()
    except ValueError:
        return False
    return any(fnmatch.fnmatch(rel, pat) or Path(rel).match(pat) for pat in patterns)


def pytest_collect_file(file_path, parent):
    if _matches(parent.config, Path(file_path)):
        return DocumentFile.from_parent(parent, path=Path(file_path))
    return None


class DocumentFile(pytest.File):
    def collect(self):
        from .documents import check_file
        from .reader import ReadError

        try:
            doc = check_file(str(self.path), check=False)
        except ReadError as exc:
            yield ReadErrorItem.from_parent(self, name="read", error=exc)
            return
        names: dict[str, int] = {}
        for d in doc.derivations:
            name = d.title
            names[name] = names.get(name, 0) + 1
            if names[name] > 1:
                name = f"{name} [{names[name]}]"
            yield DerivationItem.from_parent(self, name=name, derivation=d)
        if doc.claims:
            yield StatementsItem.from_parent(self, name="other statements", doc=doc)
        if doc.nothing_checked:
            yield NothingCheckedItem.from_parent(self, name="nothing checked", message=doc.nothing_reason)


class _Failure(Exception):
    pass


class _SymderivItem(pytest.Item):
    line: int | None = None

    def repr_failure(self, excinfo, style=None):
        if isinstance(excinfo.value, (_Failure, AssertionError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, (self.line - 1 if self.line else None), f"symderiv: {self.name}"


class DerivationItem(_SymderivItem):
    def __init__(self, *, derivation, **kw):
        super().__init__(**kw)
        self.derivation = derivation
        self.line = derivation.steps[0].line if derivation.steps else None

    def runtest(self):
        from .testing import assert_derivation

        try:
            assert_derivation(self.derivation)
        except AssertionError as exc:
            raise _Failure(f"{self.path}: {exc}") from None


class StatementsItem(_SymderivItem):
    def __init__(self, *, doc, **kw):
        super().__init__(**kw)
        self.doc = doc

    def runtest(self):
        from .documents import check_document
        from .testing import format_failure

        check_document(self.doc, derivations=False)  # derivations are items of their own
        for claim in self.doc.claims:
            for s in claim.steps:
                if s.status != "verified":
                    text = getattr(s, "text_override", None) or s.plain()
                    raise _Failure(format_failure(f"symderiv: {self.path}:{s.line}: {claim.title}", s.verdict,
                                                  claim_text=text, where=f"{self.path}:{s.line}"))


class NothingCheckedItem(_SymderivItem):
    """A document with no checked statement fails: nothing checked is not "verified"."""

    def __init__(self, *, message, **kw):
        super().__init__(**kw)
        self.message = message

    def runtest(self):
        raise _Failure(f"symderiv: {self.path}: {self.message}")


class ReadErrorItem(_SymderivItem):
    def __init__(self, *, error, **kw):
        super().__init__(**kw)
        self.error = error
        self.line = error.line

    def runtest(self):
        raise _Failure(f"symderiv could not read the document: {self.error}")


def pytest_assertrepr_compare(config, op, left, right):
    """Explain ``assert A == B`` between matrix expressions: SymPy's == compares structure, not values."""
    if op != "==":
        return None
    try:
        import sympy

        from .operators import Expr

        def is_matrix(x):
            return isinstance(x, Expr) or (isinstance(x, sympy.Basic) and (
                getattr(x, "is_Matrix", False) or isinstance(x, sympy.Trace)))

        if not (is_matrix(left) and is_matrix(right)):
            return None
        from .verifier import verify_equal

        v = verify_equal(left, right)
    except Exception:  # never break pytest's own reporting
        return None
    lines = [f"{left} == {right}",
             "SymPy's == compares expression trees, not values: equal matrices can be written differently.",
             f"symderiv: the two sides are {'EQUAL' if v.status == 'verified' else 'NOT EQUAL' if v.status == 'failed' else 'UNDECIDED'} "
             f"for all sizes ({v.status})."]
    lines += ["  " + line for line in v.explain().splitlines()[1:]]
    if v.status == "verified":
        lines.append("Use symderiv.testing.assert_equal(lhs, rhs) to assert mathematical equality.")
    return lines

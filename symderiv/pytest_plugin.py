"""pytest plugin (entry point ``pytest11``): derivation documents as tests, and explanations of
``assert lhs == rhs`` between matrix expressions.

Configuration (pytest.ini, tox.ini or pyproject.toml)::

    [pytest]
    symderiv_documents = derivations/*.md
    symderiv_strict = true      # optional: a pattern that matches no file is an error, not a warning

Each derivation in a matching Markdown file becomes one test item named after its heading; the
other statements of the file (identity claims) form one more item. A failing item reports
``file:line`` of the first wrong step with the reason and the smallest counterexample.
Items are checked when they run, not when they are collected, so ``pytest -n`` (pytest-xdist)
spreads the work over its workers.

A document that cannot be read, or that makes symderiv fail in any other way, is one failed item
whose message starts with ``file:line:col``; it never aborts the collection of the session and
never prints a traceback. A pattern that matches no file is a warning, and an error under
``--strict-config`` or ``symderiv_strict = true``.
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
    parser.addini("symderiv_strict", type="bool", default=False,
                  help="symderiv_documents patterns that match no file are an error instead of a warning")


def _pattern_matches(root: Path, pattern: str) -> bool:
    """Whether some file under ``root`` matches, with the semantics of :func:`_matches`."""
    try:
        if any(p.is_file() for p in root.glob(pattern)):
            return True
        if "/" not in pattern.strip("/"):  # Path.match: a bare name pattern matches at any depth
            return any(p.is_file() for p in root.rglob(pattern))
    except (ValueError, NotImplementedError, OSError):
        return False
    return False


def pytest_configure(config):
    patterns = config.getini("symderiv_documents")
    if not patterns:
        return
    root = Path(str(config.rootpath))
    empty = [p for p in patterns if not _pattern_matches(root, p)]
    if not empty:
        return
    message = (f"symderiv_documents: {', '.join(repr(p) for p in empty)} matches no file under {root}; "
               "no derivation document is checked for it")
    if getattr(config.option, "strict_config", False) or config.getini("symderiv_strict"):
        raise pytest.UsageError(message)
    config.issue_config_time_warning(pytest.PytestConfigWarning(message), stacklevel=2)


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


def _where(path, exc: BaseException) -> str:
    """file:line:col of an error, from the error where it knows its place, else the file's start."""
    line = getattr(exc, "line", None)
    col = getattr(exc, "col", None)
    return f"{path}:{line if isinstance(line, int) else 1}:{col if isinstance(col, int) else 1}"


def _error_message(path, exc: BaseException) -> str:
    from symderiv.errors import ReadError, SymderivError

    if isinstance(exc, ReadError):
        return f"{exc.path}:{exc.line}:{exc.col}: symderiv could not read the document: {exc.message}"
    if isinstance(exc, SymderivError):
        return f"{_where(path, exc)}: symderiv could not check the document: {exc}"
    return (f"{_where(path, exc)}: internal error in symderiv: {type(exc).__name__}: {exc} "
            "(please report it)")


class DocumentFile(pytest.File):
    def collect(self):
        from symderiv.documents.documents import check_file

        try:
            doc = check_file(str(self.path), check=False)
        except Exception as exc:  # a document that cannot be read is one failed item, never a collection error
            yield ErrorItem.from_parent(self, name="read", error=exc)
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
        if isinstance(excinfo.value, Exception):  # a bug or an unreadable line: located, no traceback
            exc = excinfo.value
            if getattr(exc, "line", None) is None and self.line:
                return _error_message(self.path, exc).replace(f"{self.path}:1:1:", f"{self.path}:{self.line}:1:", 1)
            return _error_message(self.path, exc)
        return super().repr_failure(excinfo, style)

    def reportinfo(self):
        return self.path, (self.line - 1 if self.line else None), f"symderiv: {self.name}"


class DerivationItem(_SymderivItem):
    def __init__(self, *, derivation, **kw):
        super().__init__(**kw)
        self.derivation = derivation
        self.line = derivation.steps[0].line if derivation.steps else None

    def reportinfo(self):
        """The location pytest shows and links: the first step that is not verified (the derivation is
        checked here if pytest asks before running it; the checked verdicts are reused by runtest)."""
        from symderiv.documents.documents import label_rules
        from symderiv.lang.status import Status

        d = self.derivation
        if not d.checked:
            d.check()
            label_rules(d)
        bad = next((s for s in d.steps if s.status != Status.VERIFIED and s.line), None)
        line = bad.line if bad is not None else self.line
        return self.path, (line - 1 if line else None), f"symderiv: {self.name}"

    def runtest(self):
        from symderiv.testing import assert_derivation

        try:
            assert_derivation(self.derivation)
        except AssertionError as exc:
            raise _Failure(f"{self.path}: {exc}") from None


class StatementsItem(_SymderivItem):
    def __init__(self, *, doc, **kw):
        super().__init__(**kw)
        self.doc = doc

    def runtest(self):
        from symderiv.documents.documents import check_document
        from symderiv.lang.status import Status
        from symderiv.testing import format_failure

        check_document(self.doc, derivations=False)  # derivations are items of their own
        for claim in self.doc.claims:
            for s in claim.steps:
                if s.status != Status.VERIFIED:
                    text = s.text_override or s.plain()
                    at = f"{self.path}:{s.line}" + (f":{s.col}" if s.col else "")
                    raise _Failure(format_failure(f"symderiv: {at}: {claim.title}", s.verdict,
                                                  claim_text=text, where=at))


class NothingCheckedItem(_SymderivItem):
    """A document with no checked statement fails: nothing checked is not "verified"."""

    def __init__(self, *, message, **kw):
        super().__init__(**kw)
        self.message = message

    def runtest(self):
        raise _Failure(f"symderiv: {self.path}: {self.message}")


class ErrorItem(_SymderivItem):
    """A document symderiv could not read or check: one failed item with a located message."""

    def __init__(self, *, error, **kw):
        super().__init__(**kw)
        self.error = error
        line = getattr(error, "line", None)
        self.line = line if isinstance(line, int) else None

    def runtest(self):
        raise _Failure(_error_message(self.path, self.error))




_VERDICT_WORDS = {"verified": "EQUAL", "failed": "NOT EQUAL", "undecided": "UNDECIDED"}


def pytest_assertrepr_compare(config, op, left, right):
    """Explain ``assert A == B`` between matrix expressions: SymPy's == compares structure, not values."""
    if op != "==":
        return None
    try:
        import sympy

        from symderiv.lang.operators import Expr

        def is_matrix(x):
            return isinstance(x, Expr) or (isinstance(x, sympy.Basic) and (
                getattr(x, "is_Matrix", False) or isinstance(x, sympy.Trace)))

        if not (is_matrix(left) and is_matrix(right)):
            return None
        from symderiv.kernel.decide import verify_equal
        from symderiv.lang.status import Status
        from symderiv.report.marks import mark

        v = verify_equal(left, right)
    except Exception:  # never break pytest's own reporting
        return None
    lines = [f"{left} == {right}",
             "SymPy's == compares expression trees, not values: equal matrices can be written differently.",
             f"symderiv: {mark(v.status)} the two sides are {_VERDICT_WORDS.get(v.status, 'UNDECIDED')} "
             f"for all sizes ({v.status})."]
    lines += ["  " + line for line in v.explain().splitlines()[1:]]
    if v.status == Status.VERIFIED:
        lines.append("Use symderiv.testing.assert_equal(lhs, rhs) to assert mathematical equality.")
    return lines

"""One status enumeration and one mark table, shared by text, Markdown, LaTeX and the test helpers."""
from __future__ import annotations

import json

import pytest
import sympy

from symderiv.lang.status import MARKS, Status, mark
from symderiv.report.marks import MATH_MARKS, TEX_MARKS, TEXT_MARKS


def test_status_is_the_plain_string():
    for s, text in ((Status.VERIFIED, "verified"), (Status.FAILED, "failed"), (Status.UNDECIDED, "undecided")):
        assert s == text and text == s
        assert str(s) == text and f"{s}" == text and f"{s:>10}" == f"{text:>10}"
        assert hash(s) == hash(text)
        assert {text: 1}[s] == 1 and {s: 1}[text] == 1
        assert json.dumps({"status": s}) == json.dumps({"status": text})
        assert Status(text) is s


def test_one_mark_table():
    assert MARKS == {"verified": "✓", "failed": "✗", "undecided": "?"}
    assert TEXT_MARKS == MARKS
    # every status has its own LaTeX macro and its own colour in MathJax/KaTeX math
    assert len(set(TEX_MARKS.values())) == 3 and len(set(MATH_MARKS.values())) == 3
    assert [c for s in Status for c in ("green", "red", "orange") if c in MATH_MARKS[s]] == ["green", "red", "orange"]
    assert "boldsymbol" in MATH_MARKS["failed"] and "bold" not in MATH_MARKS["verified"]
    assert [mark(s) for s in Status] == ["✓", "✗", "?"]
    assert mark("something else") == "?"


def test_assertion_messages_carry_the_mark():
    from symderiv import matrix
    from symderiv.testing import assert_equal

    n = sympy.Symbol("n")
    A, B = matrix("A", n, n), matrix("B", n, n)
    with pytest.raises(AssertionError) as info:
        assert_equal(A * B, B * A)
    assert "✗ Falsifying example" in str(info.value)

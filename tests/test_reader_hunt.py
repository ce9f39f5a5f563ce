"""Adversarial documents (a wrong derivation the old checker accepted, and its true twin).

Each file's first line says what is claimed, why it is wrong, and what the checker must do. A wrong
document must never verify (a failed or undecided line, or a located read error); a true twin
(``*.ok.md``, and the true documents listed in ``TRUE``) must verify.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from symderiv.documents.documents import check_file
from symderiv.documents.reader import ReadError

HUNT = Path(__file__).resolve().parent / "data" / "hunt"
# true documents that the old checker refused or failed
TRUE = {"09-commented-out-math-is-checked.md", "20-scalar-squared-fails.md", "41-numeric-dimensions-refused.md",
        "48-frac-of-expression-fails.md", "38-aligned-continuation-row-split.md",
        "19-cdot-binds-tighter-than-juxtaposition.md", "diff-1.md", "diff-2.md",
        "h2-17-blockquote-multiline-display-unreadable.md"}
FILES = sorted(p.name for p in HUNT.glob("*.md"))


def verdict(name: str) -> str:
    try:
        return check_file(str(HUNT / name)).status
    except ReadError as exc:
        assert exc.line >= 1 and exc.col >= 1 and str(exc).startswith(str(HUNT / name))
        return "unreadable"


@pytest.mark.parametrize("name", [f for f in FILES if not f.endswith(".ok.md") and f not in TRUE])
def test_wrong_document_never_verifies(name):
    assert verdict(name) != "verified"


@pytest.mark.parametrize("name", [f for f in FILES if f.endswith(".ok.md") or f in TRUE])
def test_true_document_verifies(name):
    assert verdict(name) == "verified"

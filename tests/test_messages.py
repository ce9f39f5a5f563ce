"""Every message the document checker produces over the error corpus is located and readable (issue 11):
each names its line and column, and none shows a Python repr (``Tree(``, ``Token(``, ``Indexed(``,
``<symderiv...>``) — a message is for the author, who wrote LaTeX, not for a debugger."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from symderiv.documents.documents import check_text
from symderiv.errors import ReadError

ROOT = Path(__file__).resolve().parent
CORPUS = sorted((ROOT / "data").rglob("*.md")) + sorted((ROOT.parent / "examples" / "course").rglob("*.md"))

HEAD = ("# T\n\nLet $x \\in \\mathbf{R}^n$, $t \\in \\mathbf{R}^n$, $A \\in \\mathbf{R}^{n \\times n}$, "
        "$W_1 \\in \\mathbf{R}^{n \\times n}$, $L \\in \\mathbf{R}$.\n\n")
#: lines authors get wrong, one per document (the issue's examples and the new spellings' refusals)
BAD_LINES = [
    "A_{ij} = A_{ji}", "\\sum_i \\sum_j A_{ij} x_j = L", "x_{ij} = t_{ij}", "W x = x", "W_2 x = x", "f(x) = x",
    "L = t^T x \\mapsto", "\\hat{x} = x", "\\hat{xy} = x", "x : t = L", "A x : A = L", "\\nabla L = t",
    "\\nabla_x L x^T = A", "\\langle A, A \\rangle_2 = L", "\\mathrm{d}L = t^T \\mathrm{d}x", "\\delta L = t^T \\delta x",
    "dL = t^T dx", "L = \\sum_{i=1}^{n} x_i t_i", "\\|x\\|_1 = L", "x^3 = x", "\\frac{x}{t} = x", "1 2 = L",
    "A \\cdot A = A", "\\sigma x = x", "(x, t) = x", "\\mathbf{1} = x", "x = (x", "\\frac{dL}{dA_{ij}} = A",
    "y_i := \\sum_j A_{i+j} x_j", "\\Delta AB = A", "tr = L",
]
BAD_DECLARATIONS = ["$w \\in R^{k \\times l}$", "$w \\in \\mathbf{R}^{k l}$", "$w \\in \\mathbf{R}^{n^2}$",
                    "$w \\in \\mathbf{R}^{\\mapsto}$", "$\\hat{wv} \\in \\mathbf{R}^n$"]
REPR = re.compile(r"Tree\(|Token\(|Indexed\(|Grouped\(|FuncWord\(|OnesWord\(|Fraction\(|<symderiv|object at 0x|"
                  r"\bS\.\w+\(|Word\(pos=")


def _terminal_names() -> re.Pattern:
    """The grammar's terminal names (ACCENT, ARG_CHAR, ...): internal, never shown to an author."""
    from lark import Lark

    from symderiv.documents.reader import _parser

    parser: Lark = _parser()
    names = sorted(t.name.lstrip("_") for t in parser.terminals if not t.name.startswith("__") and len(t.name) > 3)
    return re.compile(r"\b(" + "|".join(names) + r")\b")


TERMINALS = _terminal_names()


def _documents() -> list[tuple[str, str]]:
    docs = [(p.name, p.read_text(encoding="utf-8")) for p in CORPUS]
    docs += [(f"bad line {k}", HEAD + f"$${line}$$\n\n$$L = t^T x$$\n") for k, line in enumerate(BAD_LINES)]
    docs += [(f"bad declaration {k}", HEAD + f"Let {decl}.\n\n$$L = t^T w x$$\n\n$$x = w x$$\n")
             for k, decl in enumerate(BAD_DECLARATIONS)]
    return docs


def _messages(name: str, text: str) -> list[tuple[int | None, int | None, str]]:
    try:
        doc = check_text(text, name)
    except ReadError as exc:
        return [(exc.line, exc.col, str(exc))]
    out = []
    for s, _ in doc.all_steps():
        if s.status != "verified" and s.verdict is not None:
            out.append((s.line, s.col, s.verdict.reason or ""))
    for d in doc.derivations:
        if d.jacobian is not None and d.jacobian.reason:
            out.append((1, 1, d.jacobian.reason))  # a derivation's verdict is placed at its title
    return out


DOCS = _documents()


@pytest.mark.parametrize("name,text", DOCS, ids=[d[0] for d in DOCS])
def test_every_message_is_located_and_has_no_python_repr(name, text):
    for line, col, message in _messages(name, text):
        assert line is not None and line >= 1 and col is not None and col >= 1, (line, col, message)
        assert not REPR.search(message), message
        assert not TERMINALS.search(message), message


def test_the_corpus_has_messages_to_scan():
    """The scan above is not vacuous: the corpus makes the checker say many different things."""
    messages = {m for name, text in DOCS for _, _, m in _messages(name, text)}
    assert len(messages) > 60


def test_lines_that_use_a_failed_declaration_name_it_once():
    """One slip in a declaration is one root cause: the declaration fails at its position, and the lines
    that use the name say so (pointing there) instead of each reporting an unknown symbol."""
    text = HEAD + "Let $w \\in R^{k\\times l}$.\n\n" + "".join(f"$$x = w x + {k} x$$\n\n" for k in range(2, 6))
    doc = check_text(text, "t.md")
    reasons = [(s.line, s.verdict.reason) for s, _ in doc.all_steps() if s.status == "failed"]
    first, *rest = reasons
    assert first[0] == 5 and "the declaration of w cannot be read" in first[1]
    assert len(rest) == 4 and all("its declaration at line 5, column 12 cannot be read" in r for _, r in rest)
    assert not any("unknown symbol" in r for _, r in reasons)


def test_a_read_off_after_lines_that_could_not_be_read_is_not_refuted():
    """⇒ dL/dx = t after a derivation whose forward line could not be read: dL/dx is no longer the
    gradient of anything read, so comparing it as a free symbol would 'refute' a true read-off. It is
    undecided with its reason; the unreadable line itself fails at its position."""
    text = HEAD + "$$L = t^T x \\mapsto$$\n\n$$\\Delta L = t^T \\Delta x$$\n\n$$\\Rightarrow \\frac{dL}{dx} = t$$\n"
    doc = check_text(text, "t.md")
    by_line = {s.line: s for s, _ in doc.all_steps()}
    assert by_line[5].status == "failed" and by_line[5].col == 13
    assert by_line[9].status == "undecided" and "not checked" in by_line[9].verdict.method


@pytest.mark.parametrize("math", ["s = x^T A x \\in \\mathbf{R}^{m n}", "x^T A x = x^T A^T x \\in \\mathbf{R}^{\\mapsto}",
                                  "t = t \\in \\mathbf{R}^{n^2}"])
def test_a_display_line_whose_declaration_cannot_be_read_fails_and_is_never_dropped(math):
    doc = check_text(HEAD + f"$${math}$$\n", "t.md")
    (s,) = [s for s, _ in doc.all_steps()]
    assert s.status == "failed" and s.line == 5 and s.col > 3


def test_counterexamples_name_symbols_as_authors_read_them():
    """The text output's counterexample shows λ and ŷ, never the reader's internal lambda or y__hat."""
    from symderiv.documents.documents import check_text

    d = check_text("Let $x \\in \\mathbf{R}^n$, $\\hat{y} \\in \\mathbf{R}^n$, $\\lambda \\in \\mathbf{R}$.\n\n"
                   "$$\\lambda \\hat{y} + x = \\hat{y} + x$$\n", "t.md")
    (step, _), = d.all_steps()
    text = step.verdict.counterexample.describe()
    assert "λ = " in text and "y\u0302 = " in text
    assert "lambda" not in text and "__" not in text


def test_jacobian_line_names_the_variable_as_authors_read_it():
    from symderiv.report.text import render_check

    text = ("# Mean\n\nLet $\\mu \\in \\mathbf{R}^n$, $t \\in \\mathbf{R}^n$ and $L \\in \\mathbf{R}$.\n\n"
            "$$L = \\frac{1}{2} \\|\\mu - t\\|^2$$\n\n$$\\Delta L \\approx \\langle \\mu - t, \\Delta \\mu \\rangle$$\n"
            "$$\\Rightarrow \\frac{dL}{d\\mu} = \\mu - t$$\n")
    out = render_check(check_text(text, "mu.md"))
    assert "Jacobian cross-check of Mean: dL/dμ: dL/dμ = μ - t (verified)" in out
    assert "mu " not in out.replace("Mean", "")

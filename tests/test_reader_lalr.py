"""The reader's LALR parser reads every line exactly as the Earley parser did, or refuses it (issue 13).

Earley (``tests/earley_oracle.py``, over the grammar frozen in ``tests/data/math-earley.lark``) is the
oracle. For every math line of every Markdown document in the repository, of the notation gallery and of
the reader's test corpora, and for lines hypothesis generates, the LALR reading must be:

* the same typed syntax as Earley's (positions included), Earley's grammar allowing no other reading; or
* a refusal where Earley refused too, at the same place with the same message; or
* a refusal where Earley's grammar reads the line in several ways (Earley picked one silently): norm bars
  that pair two ways, such as ``\\|a\\|b\\|c\\|``; or
* a range sum ``\\sum_{i=1}^n``, which Earley's grammar also reads as a power of ``\\sum_{i=1}``: LALR
  keeps Earley's pick, and the interpreter refuses every range sum anyway.
"""
from __future__ import annotations

import ast
import io
import logging
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lark import Lark
from lark import logger as lark_logger

sys.path.insert(0, str(Path(__file__).resolve().parent))

import test_notation_roundtrip as issue_11  # noqa: E402  (its generators, imported outside any @given)
import test_reader_roundtrip as roundtrip  # noqa: E402
from earley_oracle import GRAMMAR as EARLEY_GRAMMAR  # noqa: E402
from earley_oracle import compare, earley_reading, earley_readings  # noqa: E402
from notation_gallery import ACCEPTED, REFUSED  # noqa: E402

from symderiv.documents import reader  # noqa: E402
from symderiv.documents.reader import MathLine, read_math, scan_markdown  # noqa: E402
from symderiv.errors import ReadError, SymderivError  # noqa: E402
from symderiv.lang.printing import latex  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
AGREE = ("same", "both refuse", "sum range")

#: lines of the corpora below that LALR refuses because Earley's grammar reads them in several ways (no
#: document has one; the ambiguous spellings are tested below), each with why
AMBIGUOUS_IN_CORPORA: dict[str, str] = {
    "\\|x\\| y \\|x\\|": "the notation gallery's refused row: ‖x‖ y ‖x‖ or ‖x ‖y‖ x‖ (Earley picked one)",
}


# ---------------------------------------------------------------------------------------
# the grammar
# ---------------------------------------------------------------------------------------
def _conflicts(grammar: str) -> list[str]:
    """What lark's LALR analysis logs (at debug level) when it builds a parser for ``grammar``."""
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    level = lark_logger.level
    lark_logger.addHandler(handler)
    lark_logger.setLevel(logging.DEBUG)
    try:
        Lark(grammar, parser="lalr", lexer="contextual", debug=True)
    finally:
        lark_logger.removeHandler(handler)
        lark_logger.setLevel(level)
    return [line for line in out.getvalue().splitlines() if "conflict" in line.lower()]


def test_the_grammar_is_lalr_with_no_conflict():
    """Every line has at most one parse tree: lark resolves no shift/reduce conflict silently."""
    grammar = (ROOT / "symderiv" / "documents" / "grammar" / "math.lark").read_text(encoding="utf-8")
    assert _conflicts(grammar) == []


def test_the_conflict_check_can_fail():
    """The same check on the Earley grammar finds its conflicts (norm bars, a range sum's ^)."""
    found = _conflicts(EARLEY_GRAMMAR.read_text(encoding="utf-8"))
    assert any("NORM" in c for c in found) and any("CIRCUMFLEX" in c for c in found)


def test_the_reader_parses_with_lalr():
    assert reader._parser().options.parser == "lalr"


# ---------------------------------------------------------------------------------------
# every line of the corpora
# ---------------------------------------------------------------------------------------
#: test modules whose string constants are math lines or documents (the error and hunt corpora)
CORPUS_MODULES = ["notation_gallery.py", "test_messages.py", "test_reader_fuzz.py", "test_reader_hunt.py",
                  "test_reader_inverses.py", "test_reader_soundness.py", "test_syntax.py", "test_notation.py",
                  "test_notation_documents.py", "test_documents.py", "test_document_differential.py",
                  "test_derivations_written.py", "test_course_nonlinear.py", "test_hunt_nonlinear.py",
                  "test_cli_fuzz.py", "test_render.py", "test_report_safety.py"]


def _math_of(text: str, path: str) -> list[str]:
    try:
        return [ml.text for b in scan_markdown(text, path) for ml in b.math]
    except ReadError:
        return []


def _corpus() -> dict[str, list[str]]:
    """Each distinct line once, under the first source it appears in."""
    sources: dict[str, list[str]] = {}
    for p in sorted(ROOT.rglob("*.md")):
        rel = p.relative_to(ROOT)
        if any(part.startswith(".") or part in ("build", "node_modules") for part in rel.parts):
            continue
        if rel.parts[0] == "reports" and rel.name != "seed-notes.md":
            # the catalog's reports are symderiv's own printer output (a third of the lines and most of the
            # Earley time): the printer's spellings are drawn by the round-trip property test below
            continue
        sources[str(rel)] = _math_of(p.read_text(encoding="utf-8"), str(rel))
    sources["notation gallery"] = [row[1] for row in ACCEPTED] + [row[0] for row in REFUSED]
    for name in CORPUS_MODULES:
        lines = []
        for node in ast.walk(ast.parse((ROOT / "tests" / name).read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and 0 < len(node.value) < 400:
                lines += _math_of(node.value, name) if "$" in node.value else [node.value]
        sources[f"tests/{name}"] = lines
    seen: set[str] = set()
    out: dict[str, list[str]] = {}
    for src, lines in sources.items():
        fresh = [t for t in dict.fromkeys(lines) if t not in seen]
        seen.update(fresh)
        if fresh:
            out[src] = fresh
    return out


CORPUS = _corpus()


def test_the_corpus_is_large():
    """The differential test below is not vacuous: it sees the documents and the test corpora."""
    lines = [t for ts in CORPUS.values() for t in ts]
    assert len(lines) > 2000
    assert any("examples/course" in s for s in CORPUS) and any(s.startswith("tests/data/hunt") for s in CORPUS)
    assert sum(1 for t in lines if "\\|" in t) > 30


@pytest.mark.slow
@pytest.mark.parametrize("source", sorted(CORPUS))
def test_every_line_reads_as_earley_read_it(source):
    wrong = []
    for text in CORPUS[source]:
        outcome = compare(text)
        if outcome in AGREE or (outcome == "ambiguous, refused" and text in AMBIGUOUS_IN_CORPORA):
            continue
        wrong.append(f"{text!r}: {outcome}")
    assert not wrong, "\n".join(wrong)


# ---------------------------------------------------------------------------------------
# generated lines
# ---------------------------------------------------------------------------------------
BARS = ["\\|", "||", "\\Vert ", "\\left\\|", "\\right\\|", "\\big\\|", "\\|", "\\|"]
names = st.sampled_from(["x", "y", "A", "AB", "t", "W", "2", "1.5", "\\alpha", "\\lambda ", "\\infty", "\\partial ",
                         "\\exp", "\\tr", "\\mathbf{R}", "\\hat y", "\\hat{y}", "\\mathbf{x}", "\\mathrm{d}", "\\sum_i ",
                         "\\sum_{i=1}", "\\sum_{i=1}^n ", "\\nabla_x L", "\\Delta x", "\\frac12", "\\frac1n"])
SCRIPTS = st.sampled_from(["^2", "^T", "^{\\top}", "^\\top ", "_F", "_2", "_i", "_{ij}", "'", "*", "^*", ""])


def _compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    bar = st.sampled_from(BARS)
    return st.one_of(
        st.tuples(bar, inner, bar).map("".join),  # a norm, bars drawn independently
        st.tuples(inner, SCRIPTS).map("".join),
        st.tuples(inner, st.sampled_from(["", " ", "\\,", "/", " + ", " - ", " \\cdot ", " \\odot ", " : ", "+-"]),
                  inner).map("".join),
        inner.map(lambda e: f"({e})"), inner.map(lambda e: f"{{{e}}}"), inner.map(lambda e: "-" + e),
        st.tuples(inner, inner).map(lambda p: f"\\frac{{{p[0]}}}{{{p[1]}}}"),
        st.tuples(inner, st.sampled_from("bn2")).map(lambda p: f"\\frac{{{p[0]}}}{p[1]}"),
        st.tuples(inner, inner).map(lambda p: f"\\langle {p[0]}, {p[1]} \\rangle"),
        inner.map(lambda e: f"\\lVert {e} \\rVert"), inner.map(lambda e: f"\\sqrt{{{e}}}"),
        inner.map(lambda e: f"x^{{{e}}}"), inner.map(lambda e: f"\\Delta{{{e}}}"),
    )


expressions = st.recursive(names, _compound, max_leaves=6)
lines = st.tuples(st.sampled_from(["", "", "= ", "&= ", "\\Rightarrow "]), expressions,
                  st.lists(st.tuples(st.sampled_from([" = ", " &= ", " \\approx ", " \\in ", " := "]), expressions),
                           max_size=2)).map(lambda p: p[0] + p[1] + "".join(r + e for r, e in p[2]))


def _mutate(text: str, at: int, piece: str) -> str:
    at %= len(text) + 1
    return text[:at] + piece + text[at:]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines)
def test_generated_lines_read_as_earley_reads_them(text):
    assert compare(text) in AGREE + ("ambiguous, refused",), text


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lines, st.integers(0, 200), st.sampled_from(BARS + ["}", "{", "^", "_", " ", "&", "(", ")", "+", "\\cdot "]))
def test_slightly_wrong_lines_read_as_earley_reads_them(text, at, piece):
    """One stray bar, brace or operator: read as Earley read it, or refused as Earley refused it."""
    assert compare(_mutate(text, at, piece)) in AGREE + ("ambiguous, refused",)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_roundtrip_spellings_read_as_earley_reads_them(data):
    """The spellings of the reader's round-trip tests: the project's LaTeX printer, the way authors write
    (tests/test_reader_roundtrip.py) and the spellings of issue 11 (tests/test_notation_roundtrip.py)."""
    e = data.draw(roundtrip.expressions)
    text = data.draw(st.sampled_from([roundtrip.author(e), latex(e)]))
    assert compare(text) == "same", text
    e11 = data.draw(st.one_of(issue_11.matrices, issue_11.scalars))
    text = issue_11.Author(data.draw).p(e11)
    assert compare(text) == "same", text


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(["x", "w", "y", "L", "A", "\\Delta ", "\\frac{dL}{dy}", "^T", "^{T}", "(", ")", "{", "}",
                                 "+", "-", "=", "\\langle ", "\\rangle", ",", "<", ">", "||", "\\|", "\\odot ", "\\sum_{i}",
                                 "_i", "_{i+j}", "\\Rightarrow ", " ", "&", "*", "\\text{a}", "\\left(", "\\right)", "2",
                                 "\\hat{y}", "\\nabla_x ", " : ", "\\tr", "^\\mathsf{T}", "\\frac12", "\\rangle_F", "_F",
                                 "\\mathrm{d}", "\\cdot ", "\\,", "\\left\\|", "\\right\\|", "\\lVert ", "\\rVert"]),
                max_size=16))
def test_token_soup_reads_as_earley_reads_it(tokens):
    """The fuzzers' atoms (tests/test_reader_fuzz.py), joined at random."""
    assert compare("".join(tokens)) in AGREE + ("ambiguous, refused",)


# ---------------------------------------------------------------------------------------
# the norm bars
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,col,why", [
    ("\\|a\\|b\\|c\\|", 4, "‖a‖ b ‖c‖ or ‖a ‖b‖ c‖"),
    ("L = \\|x\\| y \\|z\\|", 8, "‖x‖ y ‖z‖ or ‖x ‖y‖ z‖"),
    ("||A|| B ||C|| = L", 4, "the same with ||"),
    ("\\Vert a \\Vert b \\Vert c \\Vert", 9, "the same with \\Vert"),
    ("\\left\\|a\\right\\|b\\left\\|c\\right\\|", 15, "sizes do not pair bars, for the grammar as for Earley"),
    ("(\\|a\\| t \\|b\\|)^T", 5, "inside parentheses too"),
])
def test_norm_bars_that_pair_two_ways_are_refused_at_the_bar(text, col, why):
    assert len(earley_readings(text)) > 1, why  # Earley read it, picking one reading silently
    with pytest.raises(ReadError) as exc:
        read_math(MathLine(text, 7, 3), "n.md")
    assert (exc.value.line, exc.value.col) == (7, 3 + col - 1), exc.value
    assert "\\lVert ... \\rVert" in exc.value.message and "more than one way" in exc.value.message


@pytest.mark.parametrize("text", [
    "\\|x - t\\|^2", "\\|x\\|^2 + \\|y\\|^2 = L", "\\|A\\|_F^2 = \\|B\\|_F \\|C\\|_F", "||x|| \\, ||y||", "\\|\\|x\\| y\\|",
    "\\| \\|x\\| + \\|y\\| \\|", "\\left\\| x - y \\right\\|^2", "\\|x\\|\\|y\\|", "\\Vert x \\Vert^2", "\\langle \\|x\\|, y \\rangle",
    "\\frac{\\|x\\|^2}{2} = \\frac12 x^T x", "x^{\\|y\\|}", "\\|x\\|^2 y \\|z\\|^2",
])
def test_norm_bars_that_pair_one_way_read_as_earley_read_them(text):
    assert compare(text) == "same"
    assert earley_reading(text) is not None


def test_the_bars_written_with_lvert_are_never_ambiguous():
    text = "\\lVert a \\rVert b \\lVert c \\rVert"
    assert compare(text) == "same"


def test_a_private_use_character_is_refused_where_it_stands():
    """The pre-pass writes paired bars as two private-use characters; typed by an author they are refused."""
    for ch in ("\ue000", "\ue001"):
        with pytest.raises(ReadError) as exc:
            read_math(MathLine(f"x = {ch} y", 2, 5), "p.md")
        assert (exc.value.line, exc.value.col) == (2, 9)


def test_too_many_ways_to_pair_is_refused():
    text = " ".join(["\\|a\\| b"] * 12) + " \\|c\\|"
    with pytest.raises(ReadError) as exc:
        read_math(MathLine(text, 1, 1), "p.md")
    assert "\\lVert ... \\rVert" in exc.value.message


def test_many_bars_that_pair_one_way_are_read_quickly():
    """The pairings are counted before they are listed: 400 bars in a row, all forced, are one pairing."""
    text = " + ".join(["\\|x\\|^2"] * 200)
    (item,) = read_math(MathLine(text, 1, 1), "p.md").items
    assert type(item).__name__ == "Plus"


# ---------------------------------------------------------------------------------------
# lexing: the contextual lexer takes what the parser can take
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["\\frac{a}bc", "\\frac1nx", "\\frac12 x", "\\frac{1}{2}3", "\\frac{dL}{dy}xy",
                                  "x_ij", "A^TB^T", "a &= b", "&= b", "a =& b", "a &:= b", "x := y", "A : B",
                                  "\\hat xy", "\\mathbf{R}^{m \\times n}", "\\mathbb{R}^n", "W^\\mathrm{T} z", "x^{*}",
                                  "\\text{Tr} A", "\\sum_{i=1}^{n} x_i", "\\sum_{ij} x_{ij}"])
def test_lexing_as_earley(text):
    assert compare(text) in ("same", "sum range")


# ---------------------------------------------------------------------------------------
# messages
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("text,col,words", [
    ("x = y \\mapsto", 7, ["unexpected '\\mapsto'", "'+'", "'='"]),
    ("x = \\|y", 8, ["ends too early", "'*'"]),
    ("\\|", 3, ["ends too early", "'('"]),  # the bar opens (as Earley read it): what may follow it
    ("\\|x\\|\\|", 8, ["ends too early"]),  # the last bar opens a norm inside the first (Earley's furthest reading)
    ("x^", 3, ["ends too early", "a letter or digit"]),
])
def test_errors_are_located_and_in_the_authors_terms(text, col, words):
    with pytest.raises(SymderivError) as exc:
        read_math(MathLine(text, 4, 1), "m.md")
    assert (exc.value.line, exc.value.col) == (4, col), exc.value
    for w in words:
        assert w in exc.value.message, exc.value.message
    assert "NORM" not in exc.value.message and "$END" not in exc.value.message
    assert compare(text) == "both refuse"  # the same place and the same words as Earley's


def test_an_error_lists_what_lalr_would_have_reduced_away():
    """At top level an LALR state may take ')' as a lookahead that a reduction then refuses; the message
    lists only what could follow (as Earley did): no ')' after 'x = y'."""
    with pytest.raises(ReadError) as exc:
        read_math(MathLine("x = y \\mapsto", 1, 1), "m.md")
    assert "')'" not in exc.value.message


# ---------------------------------------------------------------------------------------
# the shipped tables
# ---------------------------------------------------------------------------------------
def test_the_shipped_tables_are_the_grammars():
    """math_tables.py was built from the current grammar by the installed lark (else: python -m
    symderiv.documents.build_tables), and the reader loads its parser from them."""
    from symderiv.documents import build_tables

    assert build_tables.current()
    assert reader._shipped_parser(build_tables.grammar_text()) is not None


def test_tables_of_another_grammar_are_not_used():
    from symderiv.documents import build_tables

    assert reader._shipped_parser(build_tables.grammar_text() + "\n// changed\n") is None


def _outcome(text: str) -> object:
    try:
        return reader._parse_text(text)
    except reader._Unparsable as exc:
        return (exc.offset, exc.message)


def test_the_shipped_parser_reads_every_line_as_a_freshly_built_one(monkeypatch):
    from symderiv.documents import build_tables

    lines = [t for ts in CORPUS.values() for t in ts]
    shipped = [_outcome(t) for t in lines]
    fresh = Lark(build_tables.grammar_text(), **build_tables.OPTIONS)
    monkeypatch.setattr(reader, "_parser", lambda: fresh)
    assert [_outcome(t) for t in lines] == shipped

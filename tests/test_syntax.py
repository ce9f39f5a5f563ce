"""The typed syntax of a math line (symderiv/documents/syntax.py): lark's Transformer model.

Every rule and alias of the grammar has its method in ``ToSyntax``; the syntax of a line holds only
the typed nodes (never a lark tree or token); every node's position is where its text starts; and
the syntax is the same object however often a line is read (it is built once per distinct text).
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from lark import Lark, Token, Tree

from symderiv.documents import syntax as S
from symderiv.documents.reader import MathLine, read_math, scan_markdown

ROOT = Path(__file__).resolve().parent.parent


def test_every_grammar_rule_and_alias_has_a_transformer_method():
    grammar = (ROOT / "symderiv" / "documents" / "grammar" / "math.lark").read_text(encoding="utf-8")
    names = set()
    for rule in Lark(grammar, parser="earley").rules:
        name = rule.alias or rule.origin.name
        name = name.value if isinstance(name, Token) else str(name)
        if not name.startswith("_") and not (rule.options.expand1 and not rule.alias):
            names.add(name)
    missing = sorted(n for n in names if not callable(getattr(S.ToSyntax, n, None)))
    assert names and missing == []


def nodes(x):
    """Every value reachable from a syntax node (fields of dataclasses, items of tuples)."""
    yield x
    if dataclasses.is_dataclass(x):
        for f in dataclasses.fields(x):
            yield from nodes(getattr(x, f.name))
    elif isinstance(x, tuple):
        for item in x:
            yield from nodes(item)


def corpus() -> list[str]:
    """Every math line of the repository's documents that parses."""
    out = []
    for path in sorted(ROOT.glob("examples/**/*.md")) + sorted(ROOT.glob("tests/data/**/*.md")):
        try:
            blocks = scan_markdown(path.read_text(encoding="utf-8"), str(path))
        except Exception:  # noqa: BLE001 — documents that are refused as a whole are tested elsewhere
            continue
        out += [ml.text for b in blocks for ml in b.math]
    return out


LINES = corpus()


def test_the_corpus_is_large():
    assert len(LINES) > 300


def test_the_syntax_of_every_line_holds_only_typed_nodes():
    read = 0
    for text in LINES:
        try:
            line = read_math(MathLine(text, 1, 1), "<corpus>")
        except Exception:  # noqa: BLE001 — lines that do not parse are reported elsewhere
            continue
        read += 1
        assert len(line.rels) == len(line.items) - 1
        for n in nodes(line):
            assert not isinstance(n, (Tree, Token)), (text, n)
            if isinstance(n, (S.Script, S.Relation)) or isinstance(n, S.Syntax):
                assert n.pos is not None, (text, n)
    assert read > 300


@pytest.mark.parametrize("text, kind, at", [
    (r"x + AB^T", S.Plus, [1]), (r"x + AB^T", S.Power, [5]), (r"x + AB^T", S.Word, [1, 5]),
    (r"\langle a, b \rangle", S.Angle, [1]), (r"= \Delta x", S.Delta, [3]), (r"\lVert x \rVert^2", S.Norm, [1]),
    (r"\sum_{j} x_{i+j} w_j", S.SumSign, [1]), (r"y_i := z", S.Subscript, [1]), (r"y_i := z", S.Relation, [5]),
])
def test_positions_are_where_the_node_starts(text, kind, at):
    line = read_math(MathLine(text, 1, 1), "<t>")
    assert sorted(n.pos[1] for n in nodes(line) if type(n) is kind) == at


def test_scripts_are_read_as_written():
    (p,) = read_math(MathLine(r"A^{\top}", 1, 1), "<t>").items
    assert isinstance(p, S.Power) and p.sup.arg == "\\top" and p.sup.text == "\\top"
    (p,) = read_math(MathLine(r"x_{i+j}", 1, 1), "<t>").items
    assert isinstance(p, S.Subscript) and isinstance(p.sub.arg, S.Plus) and p.sub.text is None
    (p,) = read_math(MathLine(r"A^TB", 1, 1), "<t>").items  # one-character superscript: A^{T} B
    assert isinstance(p, S.Juxt) and isinstance(p.left, S.Power) and p.left.sup.text == "T"
    (p,) = read_math(MathLine(r"a - b + -c", 1, 1), "<t>").items  # both subtraction spellings
    assert isinstance(p, S.Minus) and isinstance(p.left, S.Minus)


def test_a_line_is_built_once_per_distinct_text():
    a = read_math(MathLine(r"AB^T = (BA^T)^T", 3, 5), "<a>")
    b = read_math(MathLine(r"AB^T = (BA^T)^T", 9, 1), "<b>")
    assert a is b  # positions are relative to the text, so the syntax is shared


def test_only_the_transformer_reads_lark_trees():
    """The reader, its interpreter and the document checker match typed nodes: no ``.data`` / ``.children``
    of a lark tree and no class name compared as a string outside syntax.py."""
    import ast

    offenders = []
    for name in ("reader.py", "interpret.py", "documents.py"):
        path = ROOT / "symderiv" / "documents" / name
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in ("data", "children"):
                offenders.append(f"{name}:{node.lineno}: .{node.attr}")
            if isinstance(node, ast.Compare) and any(isinstance(n, ast.Attribute) and n.attr == "__name__"
                                                     for n in ast.walk(node)):
                offenders.append(f"{name}:{node.lineno}: a class name compared")
            if isinstance(node, ast.Constant) and node.value == "data":
                offenders.append(f"{name}:{node.lineno}: getattr(..., 'data')")
    assert offenders == []

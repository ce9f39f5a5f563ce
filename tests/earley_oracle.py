"""The Earley reading of a math line, kept as an oracle for the LALR reader (issue 13).

Until issue 13 the reader parsed every math line with lark's Earley parser (``parser="earley"``,
``ambiguity="resolve"``) over the grammar frozen in ``tests/data/math-earley.lark``. The reader now
parses with LALR(1) over ``symderiv/documents/grammar/math.lark`` after pairing the norm bars. The rule
the switch must keep: a line is read exactly as Earley read it, or refused — and refused only where
Earley's reading was ambiguous (several parse trees, of which Earley picked one).

:func:`earley_readings` gives every distinct typed syntax Earley's grammar allows for a line (from
``ambiguity="explicit"``), :func:`earley_reading` the one Earley picked, :func:`lalr_reading` the reader's
own, and :func:`compare` says how they relate. The oracle lives in the tests only: the package never
parses with Earley.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lark import Lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput
from lark.visitors import CollapseAmbiguities

from symderiv.documents import reader
from symderiv.documents import syntax as S

GRAMMAR = Path(__file__).resolve().parent / "data" / "math-earley.lark"
#: more distinct Earley trees than this for one line: counted as "many" (ambiguous all the same)
MAX_TREES = 64


def _expected(names: set[str]) -> str:
    """The reader's wording of expected terminals; the Earley grammar's one bar terminal NORM (the LALR
    grammar has an opener and a closer instead) is worded as the reader words those."""
    return reader._expected({"_NORM_OPEN" if n == "NORM" else n for n in names})


@lru_cache(maxsize=2)
def _earley(ambiguity: str) -> Lark:
    return Lark(GRAMMAR.read_text(encoding="utf-8"), parser="earley", propagate_positions=True, ambiguity=ambiguity)


def _same_relation(line: S.SyntaxLine) -> S.SyntaxLine:
    """The line with its relations' alignment marks dropped: Earley's lexer reads ``&=`` both as the
    relation ``&=`` and as an ignored ``&`` before ``=``, which are one relation (the interpreter maps
    both to =, and Earley picks ``&=``, as LALR's lexer does: that pick is compared exactly)."""
    def rel(r: S.Relation | None) -> S.Relation | None:
        return None if r is None else S.Relation(None, r.text.replace("&", ""))

    return S.SyntaxLine(rel(line.lead), line.items, tuple(rel(r) for r in line.rels))


@dataclass(frozen=True)
class Earley:
    """Earley's outcome on a line: every distinct reading its grammar allows (up to the ``&`` of an
    aligned relation, :func:`_same_relation`; empty when it refused), the one it picked, and where it
    stopped with the reader's message before issue 13 when it refused."""

    readings: frozenset[S.SyntaxLine]
    pick: S.SyntaxLine | None
    error: tuple[int, str] | None


@lru_cache(maxsize=8192)
def earley(text: str) -> Earley:
    """One Earley parse with ``ambiguity="explicit"``: when its forest has no ambiguity, its tree is the
    one ``ambiguity="resolve"`` builds (and a refusal is the same either way); only an ambiguous line is
    parsed again to see Earley's pick."""
    try:
        forest = _earley("explicit").parse(text)
    except UnexpectedEOF as exc:
        return Earley(frozenset(), None, (len(text), "math ends too early; expected " + _expected(exc.expected)))
    except UnexpectedCharacters as exc:
        pos = exc.pos_in_stream
        return Earley(frozenset(), None, (pos, f"unexpected '{text[pos: pos + 12].strip()}' in math; expected "
                                          + (_expected(exc.allowed) or "a LaTeX expression")))
    except (UnexpectedInput, RecursionError):
        return Earley(frozenset(), None, (0, "?"))
    if not any(True for _ in forest.find_data("_ambig")):
        line = S.to_syntax(forest)
        return Earley(frozenset({_same_relation(line)}), line, None)
    out: set[S.SyntaxLine] = set()
    for tree in CollapseAmbiguities().transform(forest):
        out.add(_same_relation(S.to_syntax(tree)))
        if len(out) > MAX_TREES:
            break
    return Earley(frozenset(out), S.to_syntax(_earley("resolve").parse(text)), None)


def earley_reading(text: str) -> S.SyntaxLine | None:
    """The typed syntax of Earley's pick (the reader before issue 13), or None if Earley refused."""
    return earley(text).pick


def earley_readings(text: str) -> frozenset[S.SyntaxLine]:
    """Every distinct typed syntax of the line under Earley's grammar (empty: Earley refused)."""
    return earley(text).readings


def lalr_reading(text: str) -> S.SyntaxLine | reader._Unparsable:
    """The reader's typed syntax of the line, or why it refuses it (parsing only: the pre-checks on
    size, nesting and spacing come before either parser and are the same for both)."""
    tree = reader._parse_cached(text)
    return tree if isinstance(tree, reader._Unparsable) else S.to_syntax(tree)


def has_sum_range(node: object) -> bool:
    """Does the syntax contain a range sum (``\\sum_{i=1}``), which the interpreter always refuses?"""
    if isinstance(node, S.SumRange):
        return True
    if isinstance(node, tuple):
        return any(has_sum_range(x) for x in node)
    if dataclasses.is_dataclass(node):
        return any(has_sum_range(getattr(node, f.name)) for f in dataclasses.fields(node))
    return False


def compare(text: str) -> str:
    """How the LALR reading relates to Earley's:

    ``"same"``: both read the line, the same syntax, and Earley had no other reading;
    ``"both refuse"``: at the same place, with the same message; ``"ambiguous, refused"``: Earley's grammar reads the line in several ways and LALR
    refuses it; ``"sum range"``: Earley's grammar reads ``\\sum_{i=1}^n`` both as a range sum with its upper
    bound and as the power of a range sum, Earley picked the first, LALR's grammar allows only it, and
    every reading has a range sum, which the interpreter refuses (the line is refused either way);
    anything else is a difference, described."""
    mine = lalr_reading(text)
    oracle = earley(text)
    readings = oracle.readings
    if isinstance(mine, reader._Unparsable):
        if not readings:
            if oracle.error != (mine.offset, mine.message):
                return f"both refuse, LALR at {mine.offset}: {mine.message}; Earley at {oracle.error}"
            return "both refuse"
        if len(readings) > 1:
            return "ambiguous, refused"
        return f"LALR refuses ({mine.message}) what Earley read unambiguously: {oracle.pick}"
    if len(readings) > 1:
        if mine == oracle.pick and all(has_sum_range(r) for r in readings):
            return "sum range"
        return f"LALR reads {mine} where Earley's grammar allows {len(readings)} readings"
    if mine != oracle.pick:
        return f"LALR reads {mine}, Earley read {oracle.pick}"
    return "same"

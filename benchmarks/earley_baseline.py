"""The reader's parser before issue 13, as a baseline measured in the same run as the LALR reader.

Until issue 13 every math line was parsed by lark's Earley parser (``ambiguity="resolve"``) over the
grammar now frozen in tests/data/math-earley.lark. :func:`earley_reader` puts that parser back into
``symderiv.documents.reader`` for the duration of a ``with`` block (no norm-bar pairing: Earley took the
bars as they came), so a benchmark can time the same documents both ways; :func:`cold_reader` clears
the reader's per-line caches.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


@contextlib.contextmanager
def earley_reader() -> Iterator[None]:
    """The reader as it was before issue 13, inside the ``with`` block."""
    from lark import Lark
    from lark.exceptions import UnexpectedInput

    from symderiv.documents import reader

    grammar = open(os.path.join(ROOT, "tests", "data", "math-earley.lark"), encoding="utf-8").read()
    earley = Lark(grammar, parser="earley", propagate_positions=True, ambiguity="resolve")

    def parse_text(text: str):
        try:
            return earley.parse(text)
        except UnexpectedInput as exc:
            raise reader._Unparsable(getattr(exc, "pos_in_stream", 0) or 0, "cannot parse (Earley)") from None

    saved = reader._parse_text
    reader._parse_text = parse_text
    cold_reader()
    try:
        yield
    finally:
        reader._parse_text = saved
        cold_reader()


def cold_reader() -> None:
    """Clear the reader's per-line caches: every run after the first would otherwise be a replay."""
    from symderiv.documents import reader

    for name in ("_parse_cached", "_syntax_cached"):
        getattr(getattr(reader, name, None), "cache_clear", lambda: None)()
    from symderiv.kernel.decide import clear_caches

    clear_caches()  # and the kernel's memoised certificates: a repeated check would replay the proofs

"""Read one math line in a scope of given symbols, for the round-trip tests: the expression the
reader makes of it (exactly one expression, no relation)."""
from __future__ import annotations

from symderiv.documents.interpret import Interpreter, Scope
from symderiv.documents.reader import MathLine, read_math
from symderiv.lang.operators import Expr, Sym


def read_expression(text: str, symbols: tuple[Sym, ...]) -> Expr:
    scope = Scope()
    for sym in symbols:
        scope.define(sym.name, sym, 1)
    ml = MathLine(text, 1, 1)
    interp = Interpreter(scope, ml, "<roundtrip>")
    pl = interp.line(read_math(ml, "<roundtrip>"))
    assert len(pl.items) == 1 and not pl.rels, text
    return interp.expr(pl.items[0])

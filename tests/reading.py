"""For the round-trip tests: read one math line in a scope of given symbols (the expression the
reader makes of it: exactly one expression, no relation), and the random expressions they print."""
from __future__ import annotations

from fractions import Fraction

from hypothesis import strategies as st

from symderiv.documents.interpret import Interpreter, Scope
from symderiv.documents.reader import MathLine, read_math
from symderiv.lang.operators import Add, Expr, Inner, MatMul, Scale, Sym, Trace, Transpose


def read_expression(text: str, symbols: tuple[Sym, ...]) -> Expr:
    scope = Scope()
    for sym in symbols:
        scope.define(sym.name, sym, 1)
    ml = MathLine(text, 1, 1)
    interp = Interpreter(scope, ml, "<roundtrip>")
    pl = interp.line(read_math(ml, "<roundtrip>"))
    assert len(pl.items) == 1 and not pl.rels, text
    return interp.expr(pl.items[0])


#: coefficients of the generated expressions (nested: Scale(2, Scale(2, A)) must not print as "2 2 A", 22A)
COEFS = st.sampled_from([Fraction(2), Fraction(3), Fraction(-1), Fraction(1, 2)])


def matrix_expressions(leaves: list[Sym]) -> st.SearchStrategy[Expr]:
    """n×n expressions over ``leaves``, built recursively (shrinking goes towards a single letter)."""
    return st.recursive(
        st.sampled_from(leaves),
        lambda kids: st.one_of(
            st.builds(Add, kids, kids),
            st.builds(lambda a, b: Add(a, Scale(-1, b)), kids, kids),
            st.builds(Scale, COEFS, kids),
            st.builds(MatMul, kids, kids),
            st.builds(Transpose, kids),
        ),
        max_leaves=5,
    )


def scalar_expressions(matrices: st.SearchStrategy[Expr], x: Sym, v: Sym) -> list[st.SearchStrategy[Expr]]:
    """1×1 expressions of the matrices: a trace, an inner product, xᵀMv."""
    return [st.builds(Trace, matrices), st.builds(Inner, matrices, matrices),
            st.builds(lambda m: MatMul(Transpose(x), m, v), matrices)]

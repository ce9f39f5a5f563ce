"""Printers for the expression tree, in the style of SymPy's printing system.

One :class:`Printer` class walks the tree and dispatches to ``_print_<NodeName>``; the LaTeX
and plain-text printers override the leaf methods. New operators plug in by adding a method.
Parentheses are decided by precedence, so ``(AB)^T`` and ``(x - y^*)^T`` print as written.
"""
from __future__ import annotations

from fractions import Fraction

from .operators import Add, Expr, Hadamard, Inner, MatMul, Scale, Sym, Trace, Transpose, Zero
from .symbols import name_latex

PREC_ADD, PREC_MUL, PREC_POSTFIX, PREC_ATOM = 10, 20, 30, 40


def precedence(e: Expr) -> int:
    if isinstance(e, Add):
        return PREC_ADD
    if isinstance(e, Scale):
        return PREC_ADD if e.coef < 0 else PREC_MUL
    if isinstance(e, (MatMul, Hadamard)):
        return PREC_MUL
    if isinstance(e, Transpose):
        return PREC_POSTFIX
    if isinstance(e, Sym) and e.kind in ("delta", "grad"):
        # Δx and dL/dy are multi-token: (Δx)^T, but the seed writes dL/dy^T; keep both readable.
        return PREC_POSTFIX if e.kind == "delta" else PREC_ATOM
    return PREC_ATOM


class Printer:
    """Base printer: ``doprint(expr)`` dispatches on the node class name."""

    settings: dict = {}

    def __init__(self, **settings):
        self.settings = {**type(self).settings, **settings}

    def doprint(self, e: Expr) -> str:
        return self._print(e)

    def _print(self, e: Expr) -> str:
        method = getattr(self, "_print_" + type(e).__name__, None)
        if method is None:
            raise TypeError(f"{type(self).__name__} cannot print {type(e).__name__}")
        return method(e)

    def parenthesize(self, e: Expr, level: int, strict: bool = False) -> str:
        p = precedence(e)
        if p < level or (strict and p == level):
            return self.paren(self._print(e))
        return self._print(e)

    # hooks for subclasses
    def paren(self, s: str) -> str:
        return "(" + s + ")"

    def coef(self, c: Fraction) -> str:
        return str(c)

    # shared structure
    def _print_Add(self, e: Add) -> str:
        out = ""
        for i, a in enumerate(e.args):
            if isinstance(a, Scale) and a.coef < 0:
                c = -a.coef
                body = self.parenthesize(a.arg, PREC_MUL)
                if c != 1:
                    body = self.coef(c) + self.scale_sep() + body
                out += (" - " if i else "-") + body
            else:
                s = self._print(a)
                out += (" + " if i else "") + s
        return out

    def _print_Scale(self, e: Scale) -> str:
        if e.coef == -1:
            return "-" + self.parenthesize(e.arg, PREC_MUL)
        if e.coef == 1:
            return self._print(e.arg)
        return self.coef(e.coef) + self.scale_sep() + self.parenthesize(e.arg, PREC_MUL)

    def scale_sep(self) -> str:
        return " "

    def _print_MatMul(self, e: MatMul) -> str:
        parts = [self.parenthesize(a, PREC_MUL, strict=True) for a in e.args]
        return self.mul_sep().join(parts)

    def mul_sep(self) -> str:
        return " "


class LatexPrinter(Printer):
    """LaTeX in the notes' notation: ⟨A, B⟩, tr, ^{T}, \\Delta x, \\frac{dL}{dy}."""

    def paren(self, s: str) -> str:
        return r"\left(" + s + r"\right)"

    def coef(self, c: Fraction) -> str:
        if c.denominator == 1:
            return str(c.numerator)
        sign = "-" if c < 0 else ""
        return sign + r"\frac{" + str(abs(c.numerator)) + "}{" + str(c.denominator) + "}"

    def _print_Sym(self, e: Sym) -> str:
        return name_latex(e.name, e.kind)

    def _print_Transpose(self, e: Transpose) -> str:
        return self.parenthesize(e.arg, PREC_POSTFIX, strict=True) + "^{T}"

    def _print_Trace(self, e: Trace) -> str:
        return r"\operatorname{tr}\left(" + self._print(e.arg) + r"\right)"

    def _print_Inner(self, e: Inner) -> str:
        return r"\left\langle " + self._print(e.left) + ", " + self._print(e.right) + r" \right\rangle"

    def _print_Hadamard(self, e: Hadamard) -> str:
        return self.parenthesize(e.left, PREC_MUL) + r" \circ " + self.parenthesize(e.right, PREC_MUL, strict=True)

    def _print_Zero(self, e: Zero) -> str:
        return "0"


class PlainPrinter(Printer):
    """Unicode plain text for terminals and assertion messages: ⟨A, B⟩, tr(·), ᵀ as ^T."""

    def scale_sep(self) -> str:
        return "·"

    def mul_sep(self) -> str:
        return "·"

    def coef(self, c: Fraction) -> str:
        return str(c) if c.denominator == 1 else f"({c})"

    def _print_Sym(self, e: Sym) -> str:
        return e.name

    def _print_Transpose(self, e: Transpose) -> str:
        return self.parenthesize(e.arg, PREC_POSTFIX, strict=True) + "^T"

    def _print_Trace(self, e: Trace) -> str:
        return "tr(" + self._print(e.arg) + ")"

    def _print_Inner(self, e: Inner) -> str:
        return "⟨" + self._print(e.left) + ", " + self._print(e.right) + "⟩"

    def _print_Hadamard(self, e: Hadamard) -> str:
        return self.parenthesize(e.left, PREC_MUL) + " ∘ " + self.parenthesize(e.right, PREC_MUL, strict=True)

    def _print_Zero(self, e: Zero) -> str:
        return "0"


def latex(e: Expr, **settings) -> str:
    return LatexPrinter(**settings).doprint(e)


def plain(e: Expr, **settings) -> str:
    return PlainPrinter(**settings).doprint(e)

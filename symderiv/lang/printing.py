"""Printers for the expression tree, in the style of SymPy's printing system.

One :class:`Printer` class walks the tree and dispatches to ``_print_<NodeName>``; the LaTeX
and plain-text printers override the leaf methods. New operators plug in by adding a method.
Parentheses are decided by precedence, so ``(AB)^T`` and ``(x - y^*)^T`` print as written.
"""
from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any, cast

import sympy

from symderiv.lang.greek import greek_text
from symderiv.lang.operators import (
    FUNCTIONS,
    Add,
    Conv,
    Corr,
    Det,
    Diag,
    DiagV,
    DimScalar,
    Expr,
    Ext,
    Fn,
    Hadamard,
    Identity,
    Inner,
    Inv,
    LogDet,
    MatMul,
    Ones,
    Scale,
    SeqOp,
    Shift,
    Softmax,
    Sym,
    Trace,
    Transpose,
    Window,
    Zero,
)
from symderiv.lang.symbols import name_latex

__all__ = ["greek_text", "latex", "plain", "LatexPrinter", "PlainPrinter", "Printer", "linear_text", "precedence"]

PREC_ADD, PREC_MUL, PREC_POSTFIX, PREC_ATOM = 10, 20, 30, 40



def _prec_scale(e: Scale) -> int:
    return PREC_ADD if e.coef < 0 else PREC_MUL


def _prec_sym(e: Sym) -> int:
    # Δx and dL/dy are multi-token: (Δx)^T, but the seed writes dL/dy^T; keep both readable.
    return PREC_POSTFIX if e.kind == "delta" else PREC_ATOM


#: Precedence per node class (looked up along the MRO; a class not listed is an atom).
PRECEDENCE: dict[type[Expr], int | Callable[[Any], int]] = {
    Add: PREC_ADD,
    Scale: _prec_scale,
    MatMul: PREC_MUL,
    Hadamard: PREC_MUL,
    SeqOp: PREC_MUL,
    Transpose: PREC_POSTFIX,
    Inv: PREC_POSTFIX,
    Sym: _prec_sym,
    Expr: PREC_ATOM,
}


def precedence(e: Expr) -> int:
    """Binding strength of the node's printed form: sums < products < postfix ᵀ < atoms."""
    for cls in type(e).__mro__:
        p = PRECEDENCE.get(cls)
        if p is not None:
            return p if isinstance(p, int) else p(e)
    return PREC_ATOM


class Printer:
    """Base printer: ``doprint(expr)`` dispatches on the node class name."""

    settings: dict[str, Any] = {}
    _memo: dict[int, str] | None

    def __init__(self, **settings: Any) -> None:
        self.settings = {**type(self).settings, **settings}
        self._memo = None

    def doprint(self, e: Expr) -> str:
        """Print bottom-up with an explicit stack, so nesting depth (a transpose applied hundreds
        of times) is not limited by Python's recursion limit: every node's text is computed after
        its children's and looked up when the parent asks for it."""
        outer = self._memo
        memo: dict[int, str] = {}
        self._memo = memo
        try:
            stack: list[tuple[Expr, bool]] = [(e, False)]
            while stack:
                node, ready = stack.pop()
                if id(node) in memo:
                    continue
                if ready:
                    memo[id(node)] = self._dispatch(node)
                else:
                    stack.append((node, True))
                    stack.extend((c, False) for c in node.children)
            return memo[id(e)]
        finally:
            self._memo = outer

    def _print(self, e: Expr) -> str:
        memo = self._memo
        if memo is not None and id(e) in memo:
            return memo[id(e)]
        return self._dispatch(e)

    def _dispatch(self, e: Expr) -> str:
        return self.method_for(type(e))(self, e)

    @classmethod
    def method_for(cls, node_class: type) -> Callable[[Any, Any], str]:
        """The ``_print_<Class>`` method for a node class: the first one along its MRO (as in
        SymPy's printers), else :meth:`_print_Expr`, which refuses."""
        for klass in node_class.__mro__:
            method = getattr(cls, "_print_" + klass.__name__, None)
            if method is not None:
                return cast(Callable[[Any, Any], str], method)
        return cls._print_Expr

    def _print_Expr(self, e: Expr) -> str:
        """Fallback for a node class no printer method covers: an error, never a guess."""
        raise TypeError(f"{type(self).__name__} cannot print {type(e).__name__}")

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
        return " ".join(self.sum_terms(e))

    def sum_terms(self, e: Expr) -> list[str]:
        """The printed terms of a sum, each after the first with its sign (``["a", "+ b", "- c"]``),
        so a long line can be broken between terms; any other node is one term."""
        if not isinstance(e, Add):
            return [self._print(e)]
        out = []
        for i, a in enumerate(e.args):
            if isinstance(a, Scale) and a.coef < 0:
                c = -a.coef
                body = self.parenthesize(a.arg, PREC_MUL)
                if c != 1:
                    body = self.coef(c) + self.scale_sep() + body
                out.append(("- " if i else "-") + body)
            else:
                out.append(("+ " if i else "") + self._print(a))
        return out

    def _print_Scale(self, e: Scale) -> str:
        # a coefficient of a coefficient is parenthesised: "2 2 A" would read as 22·A, "--A" not at all
        arg = self.paren(self._print(e.arg)) if isinstance(e.arg, Scale) else self.parenthesize(e.arg, PREC_MUL)
        if e.coef == -1:
            return "-" + arg
        if e.coef == 1:
            return self._print(e.arg)
        return self.coef(e.coef) + self.scale_sep() + arg

    def scale_sep(self) -> str:
        return " "

    def _print_MatMul(self, e: MatMul) -> str:
        parts = [self.parenthesize(a, PREC_MUL, strict=True) for a in e.args]
        return self.mul_sep().join(parts)

    def mul_sep(self) -> str:
        return " "

    def _print_Fn(self, e: Fn) -> str:
        return self.fn_name(e) + self.paren(self._print(e.arg))

    def fn_name(self, e: Fn) -> str:
        name = FUNCTIONS[e.name][self.fn_index]
        return name + ("'" if e.prime else "")

    fn_index = 0


#: Symbols for correlation and convolution. The notes write ⊙ for correlation and ⊗ for
#: convolution, which clashes with the Hadamard product ⊙ of most ML texts, so the choice is a
#: printer setting that every report states, never a silent default.
NOTATIONS = {
    "seed": {"corr": (r"\odot", "⊙"), "conv": (r"\otimes", "⊗")},
    "standard": {"corr": (r"\star", "⋆"), "conv": (r"\ast", "∗")},
}


class LatexPrinter(Printer):
    """LaTeX in the notes' notation: ⟨A, B⟩, tr, ^{T}, \\Delta x, \\frac{dL}{dy}."""

    settings = {"notation": "seed"}

    def _seqop(self, e: SeqOp, idx: int) -> str:
        sym = NOTATIONS[self.settings["notation"]][e.op][idx]
        if e.mode:
            sym = sym + (r"_{\mathrm{" + e.mode + "}}" if idx == 0 else "_" + e.mode)
        return self.parenthesize(e.left, PREC_MUL) + " " + sym + " " + self.parenthesize(e.right, PREC_MUL, strict=True)

    def _print_Corr(self, e: Corr) -> str:
        return self._seqop(e, 0)

    def _print_Conv(self, e: Conv) -> str:
        return self._seqop(e, 0)

    def _print_Ext(self, e: Ext) -> str:
        return r"E\," + self.parenthesize(e.arg, PREC_POSTFIX)

    def _print_Shift(self, e: Shift) -> str:
        return r"\tau_{" + linear_text(e.by, True) + r"}\," + self.parenthesize(e.arg, PREC_POSTFIX, strict=True)

    def _print_Window(self, e: Window) -> str:
        hi = sympy.expand(e.offset + e.length - 1)
        return (r"R_{[" + linear_text(e.offset, True) + r",\, " + linear_text(hi, True) + r"]}\left("
                + self._print(e.arg) + r"\right)")

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
        # a fraction takes its superscript on its corner (\frac{dL}{dy}^{T}): set it in parentheses
        if getattr(e.arg, "kind", None) == "grad":
            return self.paren(self._print(e.arg)) + "^{T}"
        inner = self.parenthesize(e.arg, PREC_POSTFIX, strict=True)
        a = e.arg
        if isinstance(a, Inv):  # (X⁻¹)ᵀ = X^{-T}: one superscript, as the Cookbook writes it
            return self.parenthesize(a.arg, PREC_POSTFIX, strict=True) + "^{-T}"
        if isinstance(a, Fn) and a.name in ("recip", "square") and not a.prime:
            inner = self.paren(inner)  # (M)^{∘−1}, 1/s, (M)^{∘2}: a second superscript needs a group
        return inner + "^{T}"

    def _print_Trace(self, e: Trace) -> str:
        return r"\operatorname{tr}\left(" + self._print(e.arg) + r"\right)"

    def _print_Inv(self, e: Inv) -> str:
        return self.parenthesize(e.arg, PREC_POSTFIX, strict=True) + "^{-1}"

    def _print_Det(self, e: Det) -> str:
        return r"\det\left(" + self._print(e.arg) + r"\right)"

    def _print_LogDet(self, e: LogDet) -> str:
        return r"\log\det\left(" + self._print(e.arg) + r"\right)"

    def _print_Inner(self, e: Inner) -> str:
        return r"\left\langle " + self._print(e.left) + ", " + self._print(e.right) + r" \right\rangle"

    def _print_Hadamard(self, e: Hadamard) -> str:
        # a matrix product beside ∘ is always parenthesised: W^T g ∘ s could be read as W^T (g ∘ s)
        return (self.parenthesize(e.left, PREC_MUL, strict=isinstance(e.left, MatMul)) + r" \circ "
                + self.parenthesize(e.right, PREC_MUL, strict=True))

    def _print_Zero(self, e: Zero) -> str:
        return "0"

    fn_index = 1

    def _print_Fn(self, e: Fn) -> str:
        arg = self._print(e.arg)
        if e.name == "sqrt" and not e.prime:
            return r"\sqrt{" + arg + "}"
        if e.name == "recip" and not e.prime:
            return r"\frac{1}{" + arg + "}" if e.arg.is_scalar else r"\left(" + arg + r"\right)^{\circ -1}"
        if e.name == "square" and not e.prime:
            return self.paren(arg) + (r"^{2}" if e.arg.is_scalar else r"^{\circ 2}")
        if e.name == "sqrt":  # \sqrt needs its argument: its derivative is written (√·)′
            return r"\left(\sqrt{\cdot}\right)'" + self.paren(arg)
        name = FUNCTIONS[e.name][1] + ("'" if e.prime else "")
        return name + self.paren(arg)

    def _print_Ones(self, e: Ones) -> str:
        r, c = e.shape
        if c == 1:
            return r"\mathbf{1}" if r == 1 else r"\mathbf{1}_{" + str(sympy.latex(r)) + "}"
        if r == 1:
            return r"\mathbf{1}_{" + str(sympy.latex(c)) + "}^{T}"
        return r"J_{" + str(sympy.latex(r)) + r" \times " + str(sympy.latex(c)) + "}"

    def _print_Identity(self, e: Identity) -> str:
        return "I_{" + str(sympy.latex(e.shape[0])) + "}"

    def _print_Diag(self, e: Diag) -> str:
        return r"\operatorname{diag}\left(" + self._print(e.arg) + r"\right)"

    def _print_DiagV(self, e: DiagV) -> str:
        return r"\operatorname{diagv}\left(" + self._print(e.arg) + r"\right)"

    def _print_DimScalar(self, e: DimScalar) -> str:
        return str(sympy.latex(e.value))

    def _print_Softmax(self, e: Softmax) -> str:
        return r"\operatorname{softmax}\left(" + self._print(e.arg) + r"\right)"

    def _print_TensorExpr(self, e: Any) -> str:
        """Images with channels (:mod:`symderiv.lang.tensor2d`) print themselves."""
        return cast(str, e.render(self._print, True))


class PlainPrinter(Printer):
    """Unicode plain text for terminals and assertion messages: ⟨A, B⟩, tr(·), ᵀ as ^T."""

    settings = {"notation": "seed"}

    def _print_TensorExpr(self, e: Any) -> str:
        """Images with channels (:mod:`symderiv.lang.tensor2d`) print themselves."""
        return cast(str, e.render(self._print, False))

    def _seqop(self, e: SeqOp) -> str:
        if e.mode:
            return f"{e.op}_{e.mode}({self._print(e.left)}, {self._print(e.right)})"
        sym = NOTATIONS[self.settings["notation"]][e.op][1]
        return self.parenthesize(e.left, PREC_MUL) + f" {sym} " + self.parenthesize(e.right, PREC_MUL, strict=True)

    def _print_Corr(self, e: Corr) -> str:
        return self._seqop(e)

    def _print_Conv(self, e: Conv) -> str:
        return self._seqop(e)

    def _print_Ext(self, e: Ext) -> str:
        return "E(" + self._print(e.arg) + ")"

    def _print_Shift(self, e: Shift) -> str:
        return f"τ[{linear_text(e.by)}](" + self._print(e.arg) + ")"

    def _print_Window(self, e: Window) -> str:
        hi = sympy.expand(e.offset + e.length - 1)
        return f"R[{linear_text(e.offset)}..{linear_text(hi)}](" + self._print(e.arg) + ")"

    def scale_sep(self) -> str:
        return "·"

    def mul_sep(self) -> str:
        return "·"

    def coef(self, c: Fraction) -> str:
        return str(c) if c.denominator == 1 else f"({c})"

    def _print_Sym(self, e: Sym) -> str:
        if e.kind == "grad":
            loss, wrt = e.name[1:].split("/d", 1)
            return f"d{greek_text(loss)}/d{greek_text(wrt)}"
        if e.kind == "delta":
            return "Δ" + greek_text(e.name[1:])
        return greek_text(e.name)

    def _print_Transpose(self, e: Transpose) -> str:
        return self.parenthesize(e.arg, PREC_POSTFIX, strict=True) + "^T"

    def _print_Trace(self, e: Trace) -> str:
        return "tr(" + self._print(e.arg) + ")"

    def _print_Inv(self, e: Inv) -> str:
        return self.parenthesize(e.arg, PREC_POSTFIX, strict=True) + "^-1"

    def _print_Det(self, e: Det) -> str:
        return "det(" + self._print(e.arg) + ")"

    def _print_LogDet(self, e: LogDet) -> str:
        return "log det(" + self._print(e.arg) + ")"

    def _print_Inner(self, e: Inner) -> str:
        return "⟨" + self._print(e.left) + ", " + self._print(e.right) + "⟩"

    def _print_Hadamard(self, e: Hadamard) -> str:
        # a matrix product beside ∘ is always parenthesised: W^T·g ∘ s could be read as W^T·(g ∘ s)
        return (self.parenthesize(e.left, PREC_MUL, strict=isinstance(e.left, MatMul)) + " ∘ "
                + self.parenthesize(e.right, PREC_MUL, strict=True))

    def _print_Zero(self, e: Zero) -> str:
        return "0"

    def _print_Ones(self, e: Ones) -> str:
        r, c = e.shape
        if c == 1:
            return "1" if r == 1 else f"1_{r}"
        if r == 1:
            return f"1_{c}^T"
        return f"J_{r}x{c}"

    def _print_Identity(self, e: Identity) -> str:
        return f"I_{e.shape[0]}"

    def _print_Diag(self, e: Diag) -> str:
        return "diag(" + self._print(e.arg) + ")"

    def _print_DiagV(self, e: DiagV) -> str:
        return "diagv(" + self._print(e.arg) + ")"

    def _print_Softmax(self, e: Softmax) -> str:
        return "softmax(" + self._print(e.arg) + ")"

    def _print_DimScalar(self, e: DimScalar) -> str:
        text = str(sympy.sstr(e.value))
        return text if e.value.is_Symbol or e.value.is_Integer else "(" + text + ")"



def latex(e: Expr, **settings: Any) -> str:
    return LatexPrinter(**settings).doprint(e)


def plain(e: Expr, **settings: Any) -> str:
    return PlainPrinter(**settings).doprint(e)


def linear_text(e: Any, tex: bool = False) -> str:
    """A length such as n - k + 1 written with the positive symbols first (SymPy prints -k + n + 1)."""
    e = sympy.expand(sympy.sympify(e))
    terms = sympy.Add.make_args(e)
    syms = [t for t in terms if t.free_symbols]
    const = [t for t in terms if not t.free_symbols]
    syms.sort(key=lambda t: (t.could_extract_minus_sign(), str(t)))
    out = ""
    for t in syms + const:
        neg = t.could_extract_minus_sign()
        body = _term_text(-t if neg else t, tex)
        if not out:
            out = ("-" if neg else "") + body
        else:
            out += (" - " if neg else " + ") + body
    return out or "0"


def _term_text(t: Any, tex: bool) -> str:
    """One term of a length: floor((k - 1)/2) as ⌊(k − 1)/2⌋ rather than SymPy's floor(k/2 - 1/2)."""
    coef, rest = t.as_coeff_Mul()
    if isinstance(rest, sympy.floor):
        num, den = sympy.fraction(sympy.together(rest.args[0]))
        inner = linear_text(num, tex)
        inner = inner if len(sympy.Add.make_args(num)) == 1 else "(" + inner + ")"
        body = (r"\lfloor " + inner + "/" + str(den) + r" \rfloor") if tex else f"⌊{inner}/{den}⌋"
        return body if coef == 1 else f"{coef}" + body
    return str(sympy.latex(t) if tex else sympy.sstr(t))

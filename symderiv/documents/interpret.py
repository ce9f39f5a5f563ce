"""The meaning of a math line's syntax: symderiv expressions, in the scope of the declarations in force.

:class:`Interpreter` reads the typed syntax of :mod:`symderiv.documents.syntax` (built by
:func:`symderiv.documents.reader.read_math`) using the symbols declared in prose
(``$x \\in \\mathbf{R}^n$``): juxtaposition is a product, ``\\Delta x`` a perturbation,
``\\frac{dL}{dy}`` a gradient symbol, ``||v||^2`` is vᵀv, and so on. Every reading that has two
meanings is refused with its position (a run of letters that splits two ways, ``tr`` next to
declared ``t`` and ``r``, a number after a factor, ``f(x)``, ``a/b c``, ``\\cdot`` between matrices ...).

A problem local to one line (an undeclared symbol, a shape mismatch) raises :class:`LineError`,
which the document checker reports at that line; an operator without a declared meaning raises
:class:`ReadError`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, NoReturn, TypeAlias

import sympy

from symderiv.documents import syntax as S
from symderiv.documents.reader import MathLine
from symderiv.errors import LineError, ReadError, ShapeError
from symderiv.lang.greek import greek_text
from symderiv.lang.index import Index, IndexNotation, IndexSum
from symderiv.lang.operators import (
    Add,
    Conv,
    Corr,
    Det,
    DimScalar,
    Expr,
    Fn,
    Hadamard,
    Identity,
    Inner,
    Inv,
    LogDet,
    MatMul,
    Ones,
    Scale,
    Softmax,
    Sym,
    Trace,
    Transpose,
    delta_of,
    grad_of,
)


# The interpreter gives the typed syntax of syntax.py its meaning in a scope. A node's meaning is an
# expression, a number, or one of the values below when its meaning depends on what stands next to it
# (the factors of a product are combined only once all of them are known: a run of letters is split
# into names, tr takes its argument, Σ_j starts index notation). Syntax nodes whose meaning is
# deferred in the same way stand for themselves: a run of letters (S.Word), a parenthesised list
# (S.Paren of several items), a sum sign (S.SumSign), \partial (S.Partial), a space (S.Space).
@dataclass(frozen=True)
class FuncApp:
    """f(a, b): function notation, never interpreted (reported as such)."""

    name: str
    args: tuple[S.Syntax, ...]


@dataclass(frozen=True)
class FuncWord:
    """An entrywise function waiting for its argument in parentheses: ``\\sigma``, ``\\exp``,
    ``\\operatorname{relu}``, and with ``prime=1`` the derivative ``\\sigma'``."""

    name: str  # a function of symderiv.lang.operators.FUNCTIONS, or "softmax"
    prime: int = 0


@dataclass(frozen=True)
class OnesWord:
    """\\mathbf{1} (``identity=False``) or I (``identity=True``) without a size: the size is its
    subscript (\\mathbf{1}_n, I_n), or, inside a product, the one its neighbour forces (𝟏ᵀX: the rows
    of X; X𝟏: the columns of X), never guessed otherwise."""

    transposed: bool = False
    identity: bool = False


@dataclass(frozen=True)
class Indexed:
    """A vector or sequence with an index, A_i or (B ⊙ C)_{i+j}: a factor of index notation."""

    base: Value  # an Expr; anything else is refused by the index checker
    index: str | S.Syntax  # the subscript as written (see S.Script.arg)


@dataclass(frozen=True)
class TraceWord:
    """trace, tr, Tr, \\mathrm{tr}: the trace, applied to the factors after it."""


@dataclass(frozen=True)
class DiffMark:
    """\\mathrm{d} (d not a declared symbol): the differential sign, read only in a derivative
    \\frac{\\mathrm{d}L}{\\mathrm{d}x}."""


@dataclass(frozen=True)
class Grouped:
    """A product written in parentheses, (gᵀw)Δx: kept grouped as the author wrote it."""

    e: Expr


@dataclass(frozen=True)
class NormOf:
    """||e||, only usable squared: ||v||² = vᵀv for a column vector, ||A||² = ⟨A, A⟩ (Frobenius)."""

    e: Expr

    def squared(self) -> Expr:
        e = self.e
        if e.shape[1] == 1:
            return MatMul(Transpose(e), e)
        return Inner(e, e)


#: what a node of the syntax means, before the factors of a product are combined
Value: TypeAlias = (Expr | Fraction | IndexNotation | IndexSum | FuncApp | FuncWord | OnesWord | Indexed | TraceWord
                    | Grouped | NormOf | DiffMark
                   | S.Word | S.Paren | S.SumSign | S.Partial | S.Space | list | sympy.Basic)
#: a node that has a position in the math text
Located: TypeAlias = S.Syntax | S.Script | S.Relation


_MAX_SPLITS = 4


def segmentations(text: str, names) -> list[list[str]]:
    """All ways (at most a few) of writing ``text`` as a sequence of declared names, longest
    first name first. A name ending in '*' (y*) may only end the run. Linear in len(text) per kept way."""
    cands = sorted((n for n in names if re.fullmatch(r"[A-Za-z]+\*?", n)), key=len, reverse=True)
    # ways[i]: up to _MAX_SPLITS segmentations of text[i:]
    ways: list[list[list[str]]] = [[] for _ in range(len(text) + 1)]
    ways[len(text)] = [[]]
    for i in range(len(text) - 1, -1, -1):
        acc: list[list[str]] = []
        for nm in cands:
            if text.startswith(nm, i) and (not nm.endswith("*") or i + len(nm) == len(text)):
                for rest in ways[i + len(nm)]:
                    acc.append([nm] + rest)
                    if len(acc) >= _MAX_SPLITS:
                        break
            if len(acc) >= _MAX_SPLITS:
                break
        ways[i] = acc
    return ways[0]


def _unknown_part(text: str, names) -> str:
    """The part of a run of letters that no declared name covers (for the error message)."""
    cands = [n for n in names if re.fullmatch(r"[A-Za-z]+", n)]
    covered = [False] * len(text)
    for nm in cands:
        start = text.find(nm)
        while start >= 0:
            for k in range(start, start + len(nm)):
                covered[k] = True
            start = text.find(nm, start + 1)
    if all(covered) or not any(covered):
        return text
    i = covered.index(False)
    j = i
    while j < len(text) and not covered[j]:
        j += 1
    return text[i:j]


class _Ambiguous(Exception):
    """A reading with two meanings, raised where no syntax node is at hand to locate it."""


def _edge(t: S.Syntax, side: int) -> S.Syntax:
    """The leftmost (side 0) or rightmost (side -1) primary of a product."""
    while True:
        if isinstance(t, (S.Juxt, S.Dot, S.Div, S.SeqOp)):
            t = t.left if side == 0 else t.right
        elif side == 0 and isinstance(t, (S.Power, S.Subscript, S.Star)):
            t = t.base
        else:
            return t


def _closed_operand(t: S.Syntax) -> bool:
    """An operand of ':' that is one factor (A, A^T, (AB), \\frac{dL}{dY}), or a number times one factor
    (2A): never a bare product, whose grouping against ':' two readers can see differently."""
    if isinstance(t, S.Juxt):
        return isinstance(t.left, (S.Number, S.Frac)) and _closed_operand(t.right)
    if isinstance(t, S.Word):
        return True  # a run of letters that splits into several names is refused when it is resolved
    return not isinstance(t, (S.Dot, S.SeqOp, S.Div, S.Colon, S.Neg, S.Plus, S.Minus))


def _dim_text(d) -> str:
    return str(d)


def _describe(v) -> str:
    from symderiv.lang.printing import plain

    return plain(v) if isinstance(v, Expr) else str(v)


def _key(v):
    return v.key() if isinstance(v, Expr) else repr(v)


_DIV_MSG = ("a factor written right after a/b can be read as (a/b)·c or a/(bc); write \\frac{a}{b} c "
            "or \\frac{a}{bc}")
_FUNCTION_MSG = "Function application is not supported yet"
# names that conventionally denote functions: before parentheses they are never read as a scalar factor
_FUNCTION_NAMES = {"sigma", "phi", "varphi", "psi", "f", "g", "h"}
_TRACE_NAMES = ("trace", "tr", "Tr")
#: entrywise functions by how they are written: \exp, \log, \tanh (commands), \operatorname{relu}
#: and \mathrm{ReLU} (roman names, any case), and \sigma when σ is not a declared symbol
_FUNC_COMMANDS = {"\\exp": "exp", "\\log": "log", "\\ln": "log", "\\tanh": "tanh", "\\softmax": "softmax",
                  "\\det": "det"}
_FUNC_ROMAN = {"relu": "relu", "softplus": "softplus", "softmax": "softmax", "sigmoid": "sigmoid", "step": "step",
               "exp": "exp", "log": "log", "tanh": "tanh", "sqrt": "sqrt", "heaviside": "step"}
_TRANSPOSE_MARKS = ("T", "\\top", "\\intercal", "\\mathsf{T}", "\\mathrm{T}")
_INVERSE_MARKS = ("-1", "-T")


def _inverse_mark(script: S.Script) -> str | None:
    """"-1" for ^{-1} and "-T" for ^{-T}: the only negative exponents read (others are refused)."""
    arg = script.arg
    if isinstance(arg, S.Neg) and isinstance(arg.body, S.Number) and arg.body.text == "1":
        return "-1"
    if isinstance(arg, S.Neg) and isinstance(arg.body, S.Word) and arg.body.text == "T":
        return "-T"
    return None


#: accents by command: \widehat{y} is \hat{y}, \overline{x} is \bar{x}; \mathcal{L} is the name L__cal
_ACCENTS = {"hat": "hat", "widehat": "hat", "bar": "bar", "overline": "bar", "tilde": "tilde",
            "widetilde": "tilde", "check": "check", "breve": "breve", "mathcal": "cal"}
_PERTURBATION_HINT = "for a perturbation write \\Delta x (and \\approx where a line holds to first order)"


def accent_name(t: S.Accent) -> str | None:
    """The symbol name of a decorated letter: \\hat{y} is ``y__hat``, \\mathcal{L} is ``L__cal``,
    \\bar{\\alpha} is ``alpha__bar`` (None over several letters, \\hat{xy}). No other spelling reaches a name
    with a double underscore (a subscripted name has one), so \\hat{y} is never y, y_hat or yhat."""
    letter = t.letter
    if letter.startswith("\\"):
        letter = letter[1:]
    elif len(letter) != 1:
        return None
    return f"{letter}__{_ACCENTS[t.command]}"


def _accent_source(t: S.Accent) -> str:
    return f"\\{t.command}{{{t.letter}}}"


@dataclass
class ParsedLine:
    lead: str | None
    items: list[S.Syntax]
    rels: list[str]
    cols: list[int]
    ml: MathLine


class Scope:
    """Symbols, aliases and operator meanings visible in a section (inherited by subsections).

    A declaration takes effect from its line: every entry keeps the line it was made on, and a
    lookup reads the entry in force at the line being read (the document-wide ``clock``). A name
    used before any declaration of it in force falls back to its first declaration (prose often
    says "where W ∈ R^{m×n}" after the equation), so a later *re*definition never changes how an
    earlier line was read."""

    def __init__(self, parent: Scope | None = None):
        self.parent = parent
        self.entries: dict[str, list[tuple[int, Any]]] = {}  # name -> [(line, Sym or alias value)]
        self.operators: dict[str, str] = parent.operators if parent else {}
        #: forward definitions made in this section: output name -> (output symbol, f)
        self.forwards: dict[str, tuple[Any, Any]] = {}
        self.clock: list[int] = parent.clock if parent else [1 << 30]
        self.heading = ""
        #: hypotheses stated in this section (<!-- symderiv: assume ... -->): (kind, name, value, line, col)
        self.assumed: list[tuple[str, str, Fraction, int, int, str | None]] = []

    def define(self, name: str, value: Any, line: int) -> None:
        self.entries.setdefault(name, []).append((line, value))

    def current(self, name: str, line: int):
        """The entry of this scope alone in force at ``line`` (None when there is none)."""
        best = None
        for at, v in self.entries.get(name, ()):
            if at <= line:
                best = v
        return best

    def lookup(self, name: str):
        now = self.clock[0]
        s: Scope | None = self
        while s is not None:
            v = s.current(name, now)
            if v is not None:
                return v
            s = s.parent
        s = self
        while s is not None:
            if s.entries.get(name):
                return s.entries[name][0][1]
            s = s.parent
        return None

    def names(self) -> set[str]:
        out: set[str] = set()
        s: Scope | None = self
        while s is not None:
            out |= set(s.entries)
            s = s.parent
        return out


REL_NAMES = {"=": "=", "&=": "=", "=&": "=", ":=": ":=", "&:=": ":=", "\\approx": "≈", "\\equiv": "=",
             "\\in": "∈", "\\Rightarrow": "⇒", "\\implies": "⇒", "\\Longrightarrow": "⇒", "\\therefore": "⇒"}


class Interpreter:
    """Meaning of a line's syntax in a scope. Positions are reported in file coordinates."""

    def __init__(self, scope: Scope, ml: MathLine, path: str):
        self.scope, self.ml, self.path = scope, ml, path
        # \Delta runs read as (ΔA)·rest: (line, col, run text, name of A, names in the rest)
        self.delta_runs: list[tuple[int, int, str, str, frozenset[str]]] = []
        #: a differential dx or \mathrm{d}x was read (as Δx): the line's '=' then holds to first order
        self.differentials = False
        self._in_derivative = 0  # inside \frac{..}{..}: dL and \mathrm{d}L are parts of a derivative
        scope.clock[0] = ml.line  # declarations in force are those made up to this line

    # positions
    def where(self, t: Located) -> tuple[int, int]:
        if t.pos is None:
            return self.ml.line, self.ml.col
        line, column = t.pos
        if line == 1:
            return self.ml.line, self.ml.col + column - 1
        return self.ml.line + line - 1, column

    def fail(self, t: Located, message: str) -> NoReturn:
        raise LineError(*self.where(t), message)

    # lines
    def line(self, syntax: S.SyntaxLine) -> ParsedLine:
        lead = REL_NAMES.get(syntax.lead.text, "=") if syntax.lead is not None else None
        rels = [REL_NAMES.get(r.text, "=") for r in syntax.rels]
        items = list(syntax.items)
        return ParsedLine(lead, items, rels, [self.where(t)[1] for t in items], self.ml)

    # values
    def value(self, t: S.Syntax) -> Value:
        """An Expr, a Fraction, or one of the deferred values above (FuncApp, a run of letters, ...)."""
        match t:
            case S.Word():
                return self.word(t)
            case S.Greek():
                return self.greek(t)
            case S.Number():
                return Fraction(t.text)
            case S.Infinity():
                return sympy.oo
            case S.Partial() | S.Space():
                return t
            case S.Roman():
                return self.roman(t)
            case S.Func():
                if t.command in _FUNC_COMMANDS:
                    return FuncWord(_FUNC_COMMANDS[t.command])
                self.fail(t, f"{_FUNCTION_MSG}: {t.command}")
            case S.Sqrt():
                return self.apply(FuncWord("sqrt"), t.body, t)
            case S.Bold():
                return self.bold(t)
            case S.Accent():
                return self.accent(t)
            case S.Nabla():
                return self.nabla(t)
            case S.Colon():
                return self.colon(t)
            case S.Prime():
                base = self.value(t.base)
                if not isinstance(base, FuncWord) or base.prime or base.name == "softmax":
                    self.fail(t, "a prime ' is read only on an entrywise function, as in \\sigma'(z)")
                return FuncWord(base.name, 1)
            case S.Group():
                return self.value(t.body)
            case S.Paren():
                return self.paren(t)
            case S.Delta():
                return self.delta(t)
            case S.Frac():
                return self.frac(t)
            case S.Angle():
                return self.inner(t)
            case S.Norm():
                # ||v||: only ||v||^2 = vᵀv is in the language; the power rule checks the 2
                return NormOf(self.expr(t.body))
            case S.Power():
                self._visible_grouping(t.base)
                return self.power(t)
            case S.Star():
                return self.star(t)
            case S.Subscript():
                self._visible_grouping(t.base)
                return self.subscript(t)
            case S.SumRange():
                self.fail(t, f"a sum with a range (\\sum_{{{t.index}=...}}^{{...}}) is not read: symderiv's index sums "
                          f"run over every index; write \\sum_{t.index} (a range that differs from the whole vector "
                          "is a different sum), or x^T y for vectors")
            case S.SumSign():
                if t.index.text is None:
                    self.fail(t, "a sum needs a single index, as in \\sum_j")
                return t
            case S.Plus():
                return self._sum(self.value(t.left), self.value(t.right), t, 1)
            case S.Minus():
                self._visible_grouping(t.right)  # a - {b + c} prints as a - b + c
                return self._sum(self.value(t.left), self.value(t.right), t, -1)
            case S.Neg():
                self._visible_grouping(t.body)
                return self.neg(t)
            case S.Div():
                self._visible_grouping(t.left, t.right)
                return self.div(t)
            case S.SeqOp():
                self._visible_grouping(t.left, t.right)
                return self.seqop(t)
            case S.Dot():
                self._visible_grouping(t.left, t.right)
                return self.dot(t)
            case S.Juxt():
                self._visible_grouping(t.left, t.right)
                return self.juxt(t)
        self.fail(t, f"unsupported construct {type(t).__name__}")

    def _visible_grouping(self, *operands: S.Syntax) -> None:
        """A brace group is invisible in print: {a + b} c, {A + B}^T and a - {b + c} typeset as a + bc,
        A + Bᵀ and a - b + c. A sum or a negation in braces as a factor, a base or after a minus sign is
        refused, never read as (a + b)c (that would verify what TeX prints as another equation); a
        product in braces ({AB}^T) stays one operand."""
        for o in operands:
            if isinstance(o, S.Group) and isinstance(o.body, (S.Plus, S.Minus, S.Neg)):
                self.fail(o, "braces do not print: {a + b} as a factor, after a minus sign or under a superscript "
                          "typesets as a + b without parentheses; write (a + b)")

    def expr(self, t: S.Syntax) -> Expr:
        return self.as_expr(self.value(t), t)

    def as_expr(self, v: Value, t: Located) -> Expr:
        if isinstance(v, S.Word):
            v = self.resolve(v.text, t)
        if isinstance(v, list):
            v = self.product(v, t)
        if isinstance(v, Grouped):
            v = v.e  # (AB) standing alone, or as a term: the grouping matters only inside a product
        if isinstance(v, Expr):
            return v
        if isinstance(v, Fraction):
            self.fail(t, f"the number {v} stands alone where a matrix expression is expected")
        if isinstance(v, FuncApp):
            self.fail(t, f"function notation {v.name}(...) is not interpreted; write the expression it stands for")
        if isinstance(v, OnesWord):
            what = "the identity needs its size as a subscript: I_n" if v.identity else \
                "the ones vector needs its length as a subscript: \\mathbf{1}_n"
            self.fail(t, what + " (inside a product such as \\mathbf{1}^T x its size is read from its neighbour)")
        if isinstance(v, FuncWord):
            example = "\\sigma" if v.name == "sigmoid" else f"\\operatorname{{{v.name}}}"
            self.fail(t, f"the function {v.name} needs its argument in parentheses, as in {example}(z)")
        if isinstance(v, S.Paren):
            self.fail(t, "a parenthesised list (a, b) is not an expression; did you mean \\langle a, b \\rangle?")
        if isinstance(v, IndexNotation):
            self.fail(t, "index notation here")
        if isinstance(v, NormOf):
            self.fail(t, "only the squared norm ||v||^2 (or \\|A\\|_F^2) is supported")
        if isinstance(v, DiffMark):
            self.fail(t, "\\mathrm{d} is read only in a derivative such as \\frac{\\mathrm{d}L}{\\mathrm{d}x}; "
                      + _PERTURBATION_HINT)
        if isinstance(v, (TraceWord, S.Partial, S.SumSign, S.Space)):
            self.fail(t, "expected a matrix expression here")
        self.fail(t, "expected a matrix expression")

    def resolve(self, text: str, t: Located) -> Expr | list:
        """Split a run of letters into declared names: 'wx' is w·x, 'AB' is A·B.

        Every way of writing the run as a sequence of declared names is considered (a declared
        multi-letter name such as ``dy`` is one of them). One way: that product. None: an
        unknown-symbol error naming the run. Several ways that mean different things (``ab``
        declared next to ``a`` and ``b``): the run is ambiguous and is refused, never guessed."""
        names = self.scope.names()
        splits = segmentations(text, names)
        if not splits:
            if self.scope.lookup(text) is not None:
                return self.scope.lookup(text)
            try:
                differential = self._differential(text)
            except _Ambiguous as exc:
                self.fail(t, str(exc))
            if differential is not None:
                return differential
            dim = self.dimension(text)
            if dim is not None:  # a dimension that is not a symbol: its value, as in \frac{1}{\sqrt{d}}
                return DimScalar(dim)
            bad = _unknown_part(text, names)
            hint = f"; a differential d{text[1:]} is read only in a derivative such as \\frac{{dL}}{{dx}}, " \
                + _PERTURBATION_HINT if bad == "d" and len(text) > 1 else ""
            subscripted = sorted(n for n in names if n.startswith(bad + "_") and "__" not in n)
            if subscripted and not hint:
                # W_1 is declared and W is not: the subscript was probably dropped
                hint = f"; declared with a subscript: {', '.join(subscripted[:3])}"
            self.fail(t, f"unknown symbol '{bad}'" + (f" in '{text}'" if bad != text else "")
                      + f": declare it in the text, e.g. ${bad} \\in \\mathbf{{R}}^n${hint}")
        readings = [[self.scope.lookup(nm) for nm in sp] for sp in splits]
        if len(splits) > 1:
            keys = {tuple(_key(v) for v in r) for r in readings}
            if len(keys) > 1:
                shown = " or ".join("·".join(sp) for sp in splits[:3])
                self.fail(t, f"ambiguous: '{text}' can be read as {shown}; separate the factors with spaces "
                          f"or braces, or rename a symbol")
        out = readings[0]
        return out[0] if len(out) == 1 else out

    def _differential(self, text: str) -> Expr | None:
        """dx, with d not a declared symbol and x a declared variable: the differential of x, read as the
        perturbation Δx (the line it stands in then holds to first order). Only d before exactly one
        name: dWx (d(Wx) or (dW)x?) stays an unknown run."""
        if self._in_derivative or len(text) < 2 or text[0] != "d" or self.scope.lookup("d") is not None:
            return None
        target = self.scope.lookup(text[1:])
        if isinstance(target, Sym) and target.kind == "plain":
            if self.dimension("d") is not None:
                raise _Ambiguous(f"ambiguous: d is a declared dimension, so '{text}' can be d·{text[1:]} or the "
                                 rf"differential of {text[1:]}; write \Delta {text[1:]} for a perturbation, or "
                                 rf"d \cdot {text[1:]} for the product")
            self.differentials = True
            return delta_of(target)
        return None

    def split_last(self, text: str, t: Located) -> tuple[list, Any]:
        """A run of letters as (leading factors, last factor): a superscript binds to the last one."""
        r = self.resolve(text, t)
        if isinstance(r, list):
            return r[:-1], r[-1]
        return [], r

    def word(self, t: S.Word) -> TraceWord | S.Word | OnesWord:
        """trace / tr / Tr name the trace; any other run of letters is resolved later."""
        text = t.text
        if text in _TRACE_NAMES and segmentations(text, self.scope.names()):
            # tr with t and r declared: the trace or the product t·r? (\mathrm{tr} is always the trace)
            self.fail(t, f"ambiguous: '{text}' can be read as the trace or as the product "
                      f"{'·'.join(segmentations(text, self.scope.names())[0])} of declared symbols; "
                      f"write \\mathrm{{{text}}} for the trace, or separate the factors")
        if text == "I" and self.scope.lookup("I") is None:
            return OnesWord(identity=True)  # I not declared: the identity, sized by its neighbour or I_n
        return TraceWord() if text in _TRACE_NAMES else t

    def greek(self, t: S.Greek) -> Value:
        v = self.scope.lookup(t.name)
        if v is None and t.name == "sigma":
            return FuncWord("sigmoid")  # σ not declared as a symbol: the logistic sigmoid
        if v is None:
            hint = (f"; {_PERTURBATION_HINT}, or write \\delta x for it after the comment "
                    "<!-- symderiv: \\delta = perturbation -->") if t.name == "delta" else ""
            self.fail(t, f"unknown symbol '\\{t.name}': declare it in the text{hint}")
        return v

    def roman(self, t: S.Roman) -> TraceWord | S.Word | FuncWord:
        name = t.name
        if name in _TRACE_NAMES:
            return TraceWord()
        if segmentations(name, self.scope.names()) or self.scope.lookup(name) is not None:
            return S.Word(t.pos, name)
        if name == "d":
            return DiffMark()
        if name.lower() in _FUNC_ROMAN:
            return FuncWord(_FUNC_ROMAN[name.lower()])
        self.fail(t, f"{_FUNCTION_MSG}: {t.command}{{{name}}} is not a declared symbol or the trace")

    def apply(self, f: FuncWord, arg_t: S.Syntax, t: Located) -> Expr:
        """f(arg): an entrywise function (on a 1×1 argument, a scalar function), its derivative f′,
        or softmax (of a column vector; row by row for a matrix)."""
        arg = self.expr(arg_t)
        try:
            if f.name == "softmax":
                return Softmax(arg)
            if f.name == "det":
                return Det(arg)
            return Fn(f.name, arg, f.prime)
        except ShapeError as exc:
            self.fail(t, str(exc))

    def bold(self, t: S.Bold) -> Value:
        """\\mathbf{x} is the name x (bold is typography); \\mathbf{1} and \\mathbb{1} are the ones
        vector, whose length is its subscript (\\mathbf{1}_n)."""
        if t.text == "1":
            return OnesWord()
        if t.text.isdigit():
            self.fail(t, f"{t.command}{{{t.text}}} has no meaning here; \\mathbf{{1}}_n is the ones vector")
        if t.text.startswith("\\"):
            return self.greek(S.Greek(t.pos, t.text[1:]))
        return S.Word(t.pos, t.text)

    def accent(self, t: S.Accent) -> Expr:
        """\\hat{y}: the declared name y__hat, a symbol of its own (never y)."""
        name = accent_name(t)
        if name is None:
            self.fail(t, f"{_accent_source(t)}: an accent is read over one letter, as in \\{t.command}{{y}}")
        v = self.scope.lookup(name)
        if not isinstance(v, Expr):
            src = _accent_source(t)
            self.fail(t, f"unknown symbol '{src}': declare it in the text, e.g. ${src} \\in \\mathbf{{R}}^n$ "
                      f"(it is a name of its own, not {t.letter})")
        return v

    def nabla(self, t: S.Nabla) -> Value:
        """\\nabla_x L: the gradient dL/dx of the scalar named right after it."""
        wrt = t.wrt.arg if t.wrt is not None else None
        b = wrt if isinstance(wrt, str) and re.fullmatch(r"[A-Za-z]", wrt) else \
            declared_name(self, wrt) if wrt is not None and not isinstance(wrt, str) else None
        a = declared_name(self, t.of)
        if b is None:
            self.fail(t, "\\nabla needs the variable as its subscript, as in \\nabla_x L or \\nabla_{W_1} L")
        if a is None or self.scope.lookup(a) is None:
            self.fail(t.of, "\\nabla_x takes the gradient of one declared scalar written right after it, "
                      "as in \\nabla_x L")
        return self._gradient(a, b, t)

    def colon(self, t: S.Colon) -> Expr:
        """A : B = Σ_ij A_ij B_ij = ⟨A, B⟩, read only between two matrices of the same shape (between
        vectors or scalars a colon has other meanings: a ratio, a range)."""
        for side in (t.left, t.right):
            run = isinstance(side, S.Word) and isinstance(self.resolve(side.text, side), list)  # AB : C
            if run or not _closed_operand(side):
                self.fail(side, "ambiguous: a product next to ':' can be read as (A : B) C or A : (BC); put the "
                          "product in parentheses, as in A : (BC)")
        a, b = self.expr(t.left), self.expr(t.right)
        for e, side in ((a, t.left), (b, t.right)):
            if e.shape[0] == 1 or e.shape[1] == 1:
                self.fail(side, f"A : B (the Frobenius product) is read only between matrices; {_describe(e)} is "
                          f"{_dim_text(e.shape[0])}×{_dim_text(e.shape[1])}: write x^T y or \\langle x, y \\rangle")
        try:
            return Inner(a, b)
        except ShapeError as exc:
            self.fail(t, str(exc))

    def paren(self, t: S.Paren) -> Value:
        if len(t.items) > 1:
            return t  # a parenthesised list: function notation after a name, else an error
        v = self.value(t.items[0])
        if isinstance(v, list):
            v = self.product(v, t)
        if isinstance(v, S.Word):
            v = self.as_expr(v, t)
        if isinstance(v, MatMul):
            return Grouped(v)
        return v

    def delta(self, t: S.Delta) -> Value:
        arg = t.arg
        v = self.resolve(arg.text, arg) if isinstance(arg, S.Word) else self.value(arg)
        if isinstance(v, S.Word):  # \Delta \mathbf{x}: bold is typography
            v = self.resolve(v.text, arg)
        first, rest = (v[0], v[1:]) if isinstance(v, list) else (v, [])
        if isinstance(first, Grouped):
            first = first.e
        if not isinstance(first, Sym) or first.kind != "plain":
            self.fail(t, "\\Delta must be followed by a declared symbol, as in \\Delta x")
        if isinstance(arg, S.Word) and rest:
            # \Delta AB: the perturbation of the product, Δ(AB), or (ΔA)B? The two agree only when A is the
            # perturbed variable and the rest does not contain it; the document checker knows the
            # perturbed variable and refuses the run otherwise (see delta_run_problem)
            rest_names = {s.name for r in rest if isinstance(r, Expr) for s in r.symbols()}
            self.delta_runs.append((*self.where(t), arg.text, first.name, frozenset(rest_names)))
        d = delta_of(first)
        return [d] + rest if rest else d

    def frac(self, t: S.Frac) -> Value:
        self._in_derivative += 1
        try:
            return self._frac(t)
        finally:
            self._in_derivative -= 1

    def _frac(self, t: S.Frac) -> Value:
        sub_den = self._subscripted_derivative(t.den)
        if sub_den is not None:  # \frac{dL}{dW_1}: the gradient with respect to the declared W_1
            return self._gradient(self._derivative_part(self.value(t.num)), sub_den, t)
        num, den = self.value(t.num), self.value(t.den)
        if isinstance(num, Fraction) and isinstance(den, Fraction):
            if den == 0:
                self.fail(t, "division by zero")
            return num / den
        if isinstance(den, Fraction):
            # \frac{E}{c}: (1/c)·E for a nonzero number c
            if den == 0:
                self.fail(t, "division by zero")
            return Scale(1 / den, self.as_expr(num, t.num))
        for part, side in ((num, t.num), (den, t.den)):
            if isinstance(part, list) and part and isinstance(part[0], S.Word) and part[0].text == "d" \
                    and self.scope.lookup("d") is not None:
                self.fail(side, "ambiguous: 'd' is a declared symbol, so d before a name is a product or a "
                          "differential; write \\mathrm{d} or \\partial for the differential, or rename d")
        a, b = self._derivative_part(num), self._derivative_part(den)
        if a is None or b is None:
            return self._quotient(num, den, t)
        if a == b:
            same = self.scope.lookup(a)
            if same is None:
                self.fail(t, f"unknown symbol '{a}' in the derivative: declare it in the text")
            if not (isinstance(same, Expr) and same.is_scalar):
                self.fail(t, f"d{a}/d{a} of a non-scalar is an identity matrix, which is not in the language")
            return Fraction(1)  # d(L)/d(L) = 1 for a scalar L
        return self._gradient(a, b, t)

    def _subscripted_derivative(self, t: S.Syntax) -> str | None:
        """'W_1' for the syntax dW_1 (a word starting with d, subscripted) when W_1 is declared."""
        if isinstance(t, S.Subscript) and isinstance(t.base, S.Word) and t.sub.text is not None:
            text = t.base.text
            if len(text) >= 2 and text[0] == "d":
                name = f"{text[1:]}_{t.sub.text}"
                if isinstance(self.scope.lookup(name), Sym):
                    return name
        return None

    def _gradient(self, a: str | None, b: str, t: S.Frac | S.Nabla) -> Value:
        if a is None:
            self.fail(t, "\\frac{..}{..} must be a number or a derivative such as \\frac{dL}{dy}")
        loss, wrt = self.scope.lookup(a), self.scope.lookup(b)
        sa, sb = greek_text(a), greek_text(b)  # as an author reads them: ŷ, λ (never y__hat, lambda)
        if wrt is None:
            self.fail(t, f"unknown symbol '{sb}' in the derivative: declare it in the text")
        if not isinstance(wrt, Sym) or wrt.kind != "plain":
            self.fail(t, f"d{sa}/d{sb}: '{sb}' stands for {_describe(wrt)}, not a declared variable; "
                      f"a derivative is taken with respect to a variable such as x")
        if not isinstance(loss, Expr):
            self.fail(t, f"d{sa}/d{sb}: '{sa}' is not a declared quantity")
        if not loss.is_scalar:
            self.fail(t, f"d{sa}/d{sb}: only derivatives of a scalar are gradients; "
                      f"{sa} is {loss.shape[0]}×{loss.shape[1]}")
        return grad_of(wrt, a)

    def _quotient(self, num: Value, den: Value, t: S.Frac) -> Value:
        """\\frac{a}{s} for a scalar s: 1/n for a dimension n, else recip(s)·a (recip(s) = 1/s, defined
        where s ≠ 0). Division by a matrix or vector is not read."""
        if isinstance(den, S.Word) and self.dimension(den.text) is not None:
            c = DimScalar(1 / self.dimension(den.text))
            return c if num == 1 else MatMul(c, self.as_expr(num, t.num)) if not isinstance(num, Fraction) \
                else Scale(num, c)
        d = self.as_expr(den, t.den)
        if not d.is_scalar:
            self.fail(t.den, "\\frac{..}{..} divides by a scalar only; this denominator is "
                      f"{d.shape[0]}×{d.shape[1]}")
        r = Fn("recip", d)
        if isinstance(num, Fraction):
            return r if num == 1 else Scale(num, r)
        n = self.as_expr(num, t.num)
        try:
            return MatMul(r, n)
        except ShapeError as exc:
            self.fail(t, str(exc))

    @staticmethod
    def _derivative_part(v: Value) -> str | None:
        """'dL' (a word starting with d) or \\partial L, as the name L."""
        if isinstance(v, S.Word) and len(v.text) >= 2 and v.text[0] == "d":
            return v.text[1:]
        if isinstance(v, list) and len(v) == 2 and isinstance(v[0], (S.Partial, DiffMark)):
            w = v[1]
            return w.text if isinstance(w, S.Word) else w.name if isinstance(w, Sym) else None
        if isinstance(v, list) and len(v) == 2 and isinstance(v[0], S.Word) and v[0].text == "d":
            # d\hat{y}, d\mathcal{L}, d\mathbf{x}: the d before a name that is not a run of letters
            w = v[1]
            return w.name if isinstance(w, Sym) and w.kind == "plain" else w.text if isinstance(w, S.Word) else None
        return None

    def inner(self, t: S.Angle) -> Expr:
        a, b = self.expr(t.left), self.expr(t.right)
        try:
            return Inner(a, b)
        except ShapeError as exc:
            self.fail(t, str(exc))

    def _trace_of(self, paren_t: S.Syntax, t: Located) -> Trace:
        """tr(...) with the parenthesised argument ``paren_t`` (a shape error is located at ``t``)."""
        arg = self.value(paren_t)
        arg = arg.e if isinstance(arg, Grouped) else arg
        try:
            return Trace(self.as_expr(arg, paren_t))
        except ShapeError as exc:
            self.fail(t, str(exc))

    def power(self, t: S.Power) -> Value:
        base = self.value(t.base)
        text = t.sup.text or _inverse_mark(t.sup)
        if text == "\\prime":
            if not isinstance(base, FuncWord) or base.prime or base.name == "softmax":
                self.fail(t, "^{\\prime} is read only on an entrywise function, as in \\sigma^{\\prime}(z)")
            return FuncWord(base.name, 1)
        if isinstance(base, FuncWord):
            self.fail(t, "a superscript on a function name (\\sigma^2(z)?) is not read; write the product")
        if isinstance(base, OnesWord) and text in _TRANSPOSE_MARKS:
            return OnesWord(not base.transposed, base.identity)
        if isinstance(base, NormOf):
            if text == "2":
                return base.squared()
            self.fail(t, "only the squared norm ||v||^2 (or \\|A\\|_F^2) is supported")
        if isinstance(t.base, S.Group) and text in (*_TRANSPOSE_MARKS, *_INVERSE_MARKS, "2"):
            # {AB}^T: a brace group is one operand, as TeX typesets it
            return self._power_of(self.as_expr(base, t), text, t)
        if isinstance(base, S.Word) and text in (*_TRANSPOSE_MARKS, *_INVERSE_MARKS, "2"):
            # AB^T is A·Bᵀ and AB^{-1} is A·B⁻¹: a superscript binds to the last letter-name of the run
            head, last = self.split_last(base.text, t)
            if head:
                return head + [self._power_of(last, text, t)]
            base = last
        if text == "*":
            if isinstance(base, S.Word):
                return S.Word(base.pos, base.text + "*")
        if isinstance(base, list):
            # x y^T: the superscript binds to the last factor only
            *head, last = base
            return head + [self._power_of(last, text, t)]
        return self._power_of(base, text, t)

    def _power_of(self, base: Value, text: str | None, t: Located) -> Expr:
        if text in _TRANSPOSE_MARKS:
            if isinstance(base, Grouped):
                base = base.e
            return Transpose(self.as_expr(base, t))
        if text in _INVERSE_MARKS:  # X^{-1} is X⁻¹; X^{-T} is (X⁻¹)ᵀ = (Xᵀ)⁻¹, as the Cookbook writes it
            if isinstance(base, Grouped):
                base = base.e
            m = self.as_expr(base, t)
            if m.shape[0] != m.shape[1]:
                self.fail(t, f"^{{{text}}} needs a square matrix; this one is {m.shape[0]}×{m.shape[1]}")
            return Inv(m) if text == "-1" else Transpose(Inv(m))
        if text == "2" and isinstance(base, (Expr, Grouped, S.Word)):
            e = self.as_expr(base, t)
            if e.is_scalar:
                return MatMul(e, e)
            self.fail(t, "the square of a matrix or vector is not defined here; write the product, "
                      "or ||v||^2 for a squared norm")
        self.fail(t, "unsupported exponent: use ^T (transpose), ^{-1} (inverse), ^{-T} or ||v||^2")

    def star(self, t: S.Star) -> S.Word:
        base = self.value(t.base)
        if isinstance(base, S.Word):
            return S.Word(base.pos, base.text + "*")
        self.fail(t, "'*' after an expression: write \\ast for convolution or use a name such as y*")

    def subscript(self, t: S.Subscript) -> Value:
        base_t, sub = t.base, t.sub.arg
        subtext = t.sub.text
        if isinstance(base_t, S.Delta) and isinstance(base_t.arg, S.Word) and subtext is not None:
            # \Delta W_2: the perturbation of the declared subscripted name W_2 (TeX sets the subscript
            # on W; Δ·W then _2 would have no meaning)
            sym = self.scope.lookup(f"{base_t.arg.text}_{subtext}")
            if isinstance(sym, Sym) and sym.kind == "plain":
                return delta_of(sym)
        declared = self._declared_subscripted(base_t, subtext, t)
        if declared is not None:
            return declared
        base = self.value(base_t)
        if isinstance(base, OnesWord):
            n = self._size(subtext, t)
            if base.identity:
                return Identity(n)
            return Transpose(Ones(n, 1)) if base.transposed else Ones(n, 1)
        if isinstance(base, S.Word) and base.text == "I" and self.scope.lookup("I") is None and subtext is not None:
            return Identity(self._size(subtext, t))  # I_n, with I not a declared symbol: the identity
        if isinstance(sub, S.Roman) and sub.name == "F" and (isinstance(base, NormOf)
                                                             or isinstance(base_t, (S.Power, S.Angle))):
            subtext = "F"  # \|A\|_{\mathrm{F}}: the Frobenius norm, as \|A\|_F
        if isinstance(base_t, S.Angle):
            # \langle A, B \rangle_F: the Frobenius inner product, which \langle A, B \rangle already is
            if subtext == "F":
                return base
            self.fail(t, "only the Frobenius inner product \\langle A, B \\rangle_F is read, "
                      f"not _{subtext or _source_of(sub)}")
        if isinstance(base, NormOf):
            if subtext == "F" or (subtext == "2" and base.e.shape[1] == 1):
                return base  # the Frobenius norm (for a vector, the Euclidean norm)
            self.fail(t, f"only the Frobenius norm \\|A\\|_F (or the 2-norm of a vector) is supported, "
                      f"not _{subtext or _source_of(sub)}")
        if isinstance(base_t, S.Power) and isinstance(base_t.base, S.Norm):
            # \|A\|^2_F: the same rule as \|A\|_F^2 — _F always, _2 only for a vector (for a
            # matrix \|A\|_2 is the spectral norm, not the Frobenius norm)
            norm = self.value(base_t.base)
            if subtext == "F" or (subtext == "2" and isinstance(norm, NormOf) and norm.e.shape[1] == 1):
                return self.value(base_t)
            self.fail(t, f"only the Frobenius norm \\|A\\|_F (or the 2-norm of a vector) is supported, "
                      f"not _{subtext or _source_of(sub)}")
        if isinstance(base, S.Word) and subtext is not None:
            name = f"{base.text}_{subtext}"
            if self.scope.lookup(name) is not None:
                return self.scope.lookup(name)
            dim = self.dimension(name)
            if dim is not None:  # d_k, a dimension that is not a symbol: its value, as in \sqrt{d_k}
                if self.scope.lookup(base.text) is not None:
                    self.fail(t, f"ambiguous: '{name}' names a dimension, and '{base.text}' is a declared symbol "
                              f"(an entry {base.text}_{subtext}?); rename the dimension or the symbol")
                return DimScalar(dim)
            if len(base.text) > 1 and self.scope.lookup(base.text) is None:
                # wy_m: the subscript binds to the last name of the run
                for k in range(1, len(base.text)):
                    tail = f"{base.text[k:]}_{subtext}"
                    if self.scope.lookup(tail) is not None:
                        head = self.resolve(base.text[:k], t)
                        return (head if isinstance(head, list) else [head]) + [self.scope.lookup(tail)]
        if isinstance(base, S.SumSign) or isinstance(base_t, S.SumSign):
            return base
        # index notation: A_i, x_{i+j}, (B ⊙ C)_i
        if isinstance(base, S.Word):
            if self.scope.lookup(base.text) is None:
                self.fail(t, f"unknown symbol '{base.text}_{subtext or '...'}': declare it in the text")
            base = self.resolve(base.text, t)
        if isinstance(base, Grouped):
            base = base.e
        if isinstance(base, Expr) and base.shape[0] != 1 and base.shape[1] != 1:
            self.fail(t, "a matrix with a single index has no fixed meaning (an entry A_{ij}, a row, a column?); "
                      "index notation is for vectors and sequences")
        return Indexed(base, sub)

    def _size(self, text: str | None, t: Located) -> Any:
        """The size in a subscript such as \\mathbf{1}_n or I_n: a number or a dimension name."""
        if text is None or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*|[1-9][0-9]*", text):
            self.fail(t, "the size of \\mathbf{1}_n or I_n must be a dimension name or a number")
        if text.isdigit():
            return int(text)
        if self.scope.lookup(text) is not None:
            self.fail(t, f"'{text}' is a declared symbol, not a dimension; write the dimension as the subscript")
        return text

    def dimension(self, text: str) -> Any:
        """The dimension named ``text`` (a symbol of a declared shape that is not itself a symbol), or None."""
        if self.scope.lookup(text) is not None:
            return None
        for name in self.scope.names():
            v = self.scope.lookup(name)
            if isinstance(v, Expr):
                for d in v.shape:
                    if isinstance(d, sympy.Symbol) and str(d) == text:
                        return d
        return None

    def _declared_subscripted(self, base_t: S.Syntax, subtext: str | None, t: Located) -> Value | None:
        """A declared subscripted name whose base is Greek (\\lambda_1), or written with its superscript
        first (W^T_1 is W_1^T, as TeX typesets it): the declared symbol, never index notation."""
        if subtext is None:
            return None
        if isinstance(base_t, S.Greek):
            return self.scope.lookup(f"{base_t.name}_{subtext}")
        if not isinstance(base_t, S.Power):
            return None
        inner_t, text = base_t.base, base_t.sup.text
        if text not in _TRANSPOSE_MARKS:
            return None
        if isinstance(inner_t, S.Greek):
            v = self.scope.lookup(f"{inner_t.name}_{subtext}")
            return None if v is None else self._power_of(v, text, t)
        if not isinstance(inner_t, S.Word):
            return None
        word = inner_t.text
        for k in range(len(word)):
            if k and self.scope.lookup(word) is not None:
                break
            v = self.scope.lookup(f"{word[k:]}_{subtext}")
            if v is not None:
                last = self._power_of(v, text, t)
                if not k:
                    return last
                head = self.resolve(word[:k], t)
                return (head if isinstance(head, list) else [head]) + [last]
        return None

    def neg(self, t: S.Neg) -> Value:
        v = self.value(t.body)
        if isinstance(v, Fraction):
            return -v
        if isinstance(v, IndexNotation):
            return IndexNotation(v.sums, v.factors, -v.coef)
        if isinstance(v, IndexSum):
            return IndexSum([(-c, f) for c, f in v.terms])
        return Scale(-1, self.as_expr(v, t))

    def _sum(self, a: Value, b: Value, t: Located, sign: int) -> Value:
        if isinstance(a, Fraction) and isinstance(b, Fraction):
            return a + sign * b
        if any(isinstance(v, (IndexNotation, IndexSum)) for v in (a, b)):
            return IndexSum(_terms(a) + [(sign * c, f) for c, f in _terms(b)])
        ea, eb = self.as_expr(a, t), self.as_expr(b, t)
        try:
            return Add(ea, eb if sign > 0 else Scale(-1, eb))
        except ShapeError as exc:
            self.fail(t, str(exc))

    def div(self, t: S.Div) -> Value:
        a, b = self.value(t.left), self.value(t.right)
        if isinstance(b, list) or (isinstance(b, S.Word) and len(segmentations(b.text, self.scope.names())) == 1
                                   and len(segmentations(b.text, self.scope.names())[0]) > 1):
            self.fail(t, f"ambiguous: {_DIV_MSG}")
        if isinstance(b, Fraction) and b != 0:
            if isinstance(a, Fraction):
                return a / b
            return Scale(1 / b, self.as_expr(a, t))
        self.fail(t, "only division by a number is supported")

    def seqop(self, t: S.SeqOp) -> Expr:
        op = t.op
        ea, eb = self.expr(t.left), self.expr(t.right)
        try:
            if op == "\\times":
                self.fail(t, "\\times between matrices is ambiguous; write the product as juxtaposition")
            meaning = self.scope.operators.get(op)
            if meaning is None:
                raise ReadError(self.path, *self.where(t), f"{op} has no declared meaning here (Hadamard product, "
                                "correlation or convolution?); declare it in a comment, "
                                f"<!-- symderiv: {op} = hadamard -->, or define it by its index formula, "
                                f"e.g. $$y = x {op} w$$ followed by $$y_i := \\sum_j x_{{i+j}} w_j$$")
            if meaning == "hadamard":
                return Hadamard(ea, eb)
            return (Corr if meaning == "corr" else Conv)(ea, eb)
        except ShapeError as exc:
            self.fail(t, str(exc))

    def dot(self, t: S.Dot) -> Value:
        """a \\cdot b: the dot product ⟨a, b⟩ between two column vectors, else a product."""
        left, right = self.value(t.left), self.value(t.right)
        if not isinstance(left, (Fraction, S.SumSign)) and not isinstance(right, (Fraction, S.SumSign)):
            a: Expr | None
            b: Expr | None
            try:
                a, b = self.as_expr(left, t.left), self.as_expr(right, t.right)
            except LineError:
                a = b = None
            if a is not None and b is not None and a.shape == b.shape and a.shape[1] == 1 and a.shape[0] != 1:
                return Inner(a, b)
            if a is not None and b is not None and a.shape == b.shape and not a.is_scalar:
                # A·B between matrices: the matrix product or the Frobenius product Σ A_ij B_ij
                self.fail(t, "ambiguous: \\cdot between matrices can mean the matrix product or the entrywise "
                          "(Frobenius) product; write AB (juxtaposition) or \\langle A, B \\rangle")
        return (left if isinstance(left, list) else [left]) + (right if isinstance(right, list) else [right])

    def _function_before(self, left_t: S.Syntax) -> FuncWord | None:
        """The entrywise function a juxtaposition ends with (\\sigma, \\exp, \\operatorname{relu}, σ′), if any."""
        last = left_t
        while isinstance(last, S.Juxt):
            last = last.right
        if not isinstance(last, (S.Func, S.Roman, S.Greek, S.Prime, S.Power)):
            return None
        if isinstance(last, S.Power) and last.sup.text != "\\prime":
            return None
        if isinstance(last, S.Func) and last.command not in _FUNC_COMMANDS:
            return None
        if isinstance(last, S.Roman) and (last.name in _TRACE_NAMES or last.name.lower() not in _FUNC_ROMAN):
            return None
        v = self.value(last)
        return v if isinstance(v, FuncWord) else None

    def _applied(self, t: S.Juxt) -> Value | None:
        """f(x) and f(x)^T: a function name followed by its parenthesised argument (the superscript
        applies to the value, as for the trace)."""
        right_t = t.right
        paren = right_t if isinstance(right_t, S.Paren) else (
            right_t.base if isinstance(right_t, S.Power) and isinstance(right_t.base, S.Paren) else None)
        if paren is None:
            return None
        f = self._function_before(t.left)
        if f is None:
            return None
        if len(paren.items) != 1:
            self.fail(paren, "an entrywise function takes one argument")
        out: Value = self.apply(f, paren.items[0], t)
        if isinstance(right_t, S.Power):
            out = self._power_of(out, right_t.sup.text, right_t)
        left = self.value(t.left)
        head = left[:-1] if isinstance(left, list) else []
        if isinstance(out, Det) and head and head[-1] == FuncWord("log"):
            # \log\det(X): log applied to the determinant, log det X (as the Cookbook writes it)
            out, head = LogDet(out.arg), head[:-1]
        return head + [out] if head else out

    def juxt(self, t: S.Juxt) -> Value:
        last = t.left
        while isinstance(last, (S.Juxt, S.Power, S.Subscript, S.Prime, S.Star)):
            last = last.right if isinstance(last, S.Juxt) else last.base
        if isinstance(last, S.Nabla):
            # \nabla_W L x^T: (∇_W L)·xᵀ, or the gradient of L xᵀ? Refused, never guessed
            self.fail(t, "ambiguous: a factor written after \\nabla_x L (the gradient of L times it, or the gradient "
                      "of the product?); write (\\nabla_x L) y for the product")
        applied = self._applied(t)
        if applied is not None:
            return applied
        left_t, right_t = t.left, t.right
        if isinstance(left_t, S.Div):
            self._refuse_juxtaposed_denominator(t, right_t)
        if isinstance(_edge(left_t, -1), S.Number) and isinstance(_edge(right_t, 0), S.Number):
            # '1 2' or '1\\,000': TeX typesets adjacent digits as one number, never a product
            self.fail(t, "ambiguous: two numbers written next to each other (a digit group or a product?); "
                      "write the number without spaces, or 2 \\cdot 3")
        if isinstance(_edge(right_t, 0), S.Number) and not isinstance(_edge(left_t, -1), S.SumSign):
            # W_12 (W_{12} or W_1·2?), A2, A 2: a number after a factor is never silently a coefficient
            self.fail(right_t, "ambiguous: a number written after a factor (W_12: W_{12} or W_1·2?); "
                      "write the coefficient first (2A) or brace the subscript (W_{12})")
        if isinstance(right_t, S.Paren):
            self._refuse_function_application(left_t, right_t)
        last, first = _edge(left_t, -1), _edge(right_t, 0)
        if isinstance(last, S.Word) and last.text == "d" and self.dimension("d") is not None \
                and isinstance(first, S.Word) and not self._in_derivative:
            # 'd x' is typeset exactly as 'dx': the dimension d times x, or the differential of x?
            self.fail(t, "ambiguous: d is a declared dimension, so 'd " + first.text + "' can be a product or a "
                      r"differential; write d \cdot " + first.text + r" for the product, or \Delta "
                      + first.text + " for a perturbation")
        left = self.value(left_t)
        after_trace = isinstance(left, TraceWord) or (isinstance(left, list) and isinstance(left[-1], TraceWord))
        head = left[:-1] if isinstance(left, list) else []
        if after_trace and isinstance(right_t, S.Paren):
            # tr(A) B: parentheses right after the trace delimit its argument
            return head + [self._trace_of(right_t, t)]
        if after_trace and isinstance(right_t, S.Power) and isinstance(right_t.base, S.Paren):
            # tr(A)^T B, tr(A)^2: the parentheses delimit the trace's argument and the superscript applies
            # to the trace value (a scalar: tr(A)^T = tr A, tr(A)^2 = tr(A)·tr(A)), never to A
            return head + [self._power_of(self._trace_of(right_t.base, t), right_t.sup.text, right_t)]
        right = self.value(right_t)
        if (isinstance(left, DiffMark) or isinstance(left, list) and left and isinstance(left[-1], DiffMark)) \
                and not self._in_derivative:
            # \mathrm{d}x: the differential of the one name right after it, read as Δx
            target = self.resolve(right.text, right_t) if isinstance(right, S.Word) else right
            if isinstance(target, Transpose) and isinstance(target.arg, Sym) and target.arg.kind == "plain":
                # \mathrm{d}x^T: d(xᵀ) = (dx)ᵀ, the same whichever the superscript binds to
                self.differentials = True
                return head + [Transpose(delta_of(target.arg))] if head else Transpose(delta_of(target.arg))
            if not (isinstance(target, Sym) and target.kind == "plain"):
                self.fail(t, "\\mathrm{d} applies to one declared variable right after it, as in \\mathrm{d}x or "
                          "\\mathrm{d}W\\, x; write \\mathrm{d}(...) out as a sum of differentials")
            self.differentials = True
            return head + [delta_of(target)] if head else delta_of(target)
        return (left if isinstance(left, list) else [left]) + (right if isinstance(right, list) else [right])

    def _refuse_juxtaposed_denominator(self, t: S.Juxt, right_t: S.Syntax) -> None:
        """t/2s: ((t/2)·s or t/(2s)? Both are meaningful unless the factor after the division is a vector
        (1/2(x - y)^T: there is no dividing by a vector), so every other case is refused."""
        # an error in the factor itself (unknown symbol, shapes) is reported as it is
        v = self.value(right_t)
        if isinstance(v, list):
            v = self.product(v, right_t)
        e = self.as_expr(v, right_t) if not isinstance(v, Fraction) else None
        if e is not None and (e.shape[0] == 1) != (e.shape[1] == 1):
            return
        self.fail(t, f"ambiguous: {_DIV_MSG}")

    def _refuse_function_application(self, left_t: S.Syntax, paren_t: S.Paren) -> None:
        """f(x), \\sigma(x): function application, never a product. A declared matrix before
        parentheses (w(x + Δx)) is a product, as in the notes."""
        last = left_t
        while isinstance(last, (S.Juxt, S.Dot, S.Div, S.SeqOp)):
            last = last.right
        if isinstance(last, S.Greek):
            name = last.name
        elif isinstance(last, (S.Accent, S.Bold)):
            # \hat{f}(x), \mathbf{f}(x): a function name however decorated, never silently a product
            letter = (last.letter if isinstance(last, S.Accent) else last.text).lstrip("\\")
            v = self.value(last)
            if isinstance(v, S.Word):
                v = self.scope.lookup(v.text)
            if letter in _FUNCTION_NAMES and isinstance(v, Expr) and v.is_scalar:
                self.fail(last, f"ambiguous: '{letter}(...)' with a decorated {letter} reads as a function application "
                          "or as a scalar times the parenthesis; write \\cdot (...) for a product")
            return
        elif isinstance(last, S.Word):
            text = last.text
            if text in _TRACE_NAMES:
                return
            splits = segmentations(text, self.scope.names())
            if not splits:
                if self.scope.lookup(text) is None:
                    self.fail(last, f"{_FUNCTION_MSG}: '{text}(...)' — '{text}' is not a declared symbol")
                return
            name = splits[0][-1]
        else:
            return
        v = self.scope.lookup(name)
        if v is None:
            self.fail(last, f"{_FUNCTION_MSG}: '{name}(...)' — '{name}' is not a declared symbol")
        if name in _FUNCTION_NAMES and isinstance(v, Expr) and v.is_scalar:
            self.fail(last, f"ambiguous: '{name}(...)' reads as a function application or as the scalar {name} "
                      f"times the parenthesis; {_FUNCTION_MSG.lower()}; write {name} \\cdot (...) for a product")

    def product(self, items: list, t: Located) -> Value:
        """Combine juxtaposed factors: numbers scale, trace(...) applies, f(a, b) is function notation,
        Σ_j starts index notation."""
        coef = Fraction(1)
        factors: list[Expr] = []
        k = 0
        flat: list = []
        for it in items:
            if isinstance(it, S.Word):
                r = self.resolve(it.text, t)
                flat.extend(r if isinstance(r, list) else [r])
            else:
                flat.append(it)
        if any(isinstance(it, (S.SumSign, Indexed, IndexNotation, IndexSum)) for it in flat):
            return self.index_product(flat, t)
        flat = self._size_constants(flat, t)
        while k < len(flat):
            it = flat[k]
            if isinstance(it, Fraction):
                coef *= it
            elif isinstance(it, TraceWord):
                # \\mathrm{tr} AB is tr(AB): the trace takes the whole product after it
                if k + 1 >= len(flat):
                    self.fail(t, "trace needs an argument: trace(...)")
                rest = [a.e if isinstance(a, Grouped) else a for a in flat[k + 1:]]
                arg = rest[0] if len(rest) == 1 else rest
                try:
                    factors.append(Trace(self.as_expr(arg, t)))
                except ShapeError as exc:
                    self.fail(t, str(exc))
                k = len(flat)
            elif isinstance(it, S.Paren):
                if factors and isinstance(factors[-1], Sym):
                    return FuncApp(factors[-1].name, it.items)
                self.fail(t, "a parenthesised list (a, b) is not an expression; did you mean \\langle a, b \\rangle?")
            elif isinstance(it, Grouped):
                factors.append(it.e)
            elif isinstance(it, Expr):
                factors.append(it)
            elif isinstance(it, list):
                factors.append(self.product(it, t))
            else:
                factors.append(self.as_expr(it, t))
            k += 1
        if not factors:
            return coef
        try:
            body = factors[0] if len(factors) == 1 else MatMul(*factors)
        except ShapeError as exc:
            self.fail(t, str(exc))
        return body if coef == 1 else Scale(coef, body)

    def _size_constants(self, flat: list, t: Located) -> list:
        """An unsized 𝟏 or I in a product takes the size its neighbour forces: 𝟏ᵀX and IX the rows of
        the next factor, X𝟏 and XI the columns of the previous one. A 1×1 neighbour forces nothing
        (μ𝟏 could be any length), and then the size must be written (\\mathbf{1}_n)."""
        out = list(flat)
        for k, it in enumerate(out):
            if not isinstance(it, OnesWord):
                continue
            nxt = out[k + 1] if k + 1 < len(out) else None
            prv = out[k - 1] if k > 0 else None
            nxt = nxt.e if isinstance(nxt, Grouped) else nxt
            prv = prv.e if isinstance(prv, Grouped) else prv
            size = None
            if (it.transposed or it.identity) and isinstance(nxt, Expr) and not nxt.is_scalar:
                size = nxt.shape[0]
            elif (not it.transposed or it.identity) and isinstance(prv, Expr) and not prv.is_scalar:
                size = prv.shape[1]
            if size is None or size == 1:
                what = "I" if it.identity else "\\mathbf{1}"
                self.fail(t, f"the size of {what} is not forced by its neighbours here; write it as a subscript "
                          f"({'I_n' if it.identity else chr(92) + 'mathbf{1}_n'})")
            if it.identity:
                out[k] = Identity(size)
            else:
                out[k] = Transpose(Ones(size, 1)) if it.transposed else Ones(size, 1)
        return out

    def index_product(self, flat: list, t: Located) -> IndexNotation:
        sums, factors, coef = [], [], Fraction(1)
        for it in flat:
            if isinstance(it, S.SumSign):
                sums.append(it.index.text)
            elif isinstance(it, Indexed):
                factors.append((it.base, index_of(it.index)))
            elif isinstance(it, Fraction):
                coef *= it
            elif isinstance(it, Grouped):
                self.fail(t, "in index notation every factor needs an index")
            elif isinstance(it, (IndexNotation, IndexSum)):
                factors.append(("nested", it))
            else:
                self.fail(t, "in index notation every factor needs an index, as in A_i or (B \\odot C)_i")
        return IndexNotation(sums, factors, coef)


def affine_of(t: str | S.Syntax) -> dict[str | int, int] | None:
    """A subscript as written (``i``, ``{i+j}``, ``{2}``) as {var: coef, 1: const}, or None when it is
    not an integer combination of index names (``{2j}``, ``{j+2.5}``)."""
    if isinstance(t, str):
        return {1: int(t)} if t.isdigit() else {t: 1}
    if isinstance(t, S.Word):
        return {t.text: 1}
    if isinstance(t, S.Number):
        # a non-integer is no index (int() would raise): outside the affine fragment
        return {1: int(t.text)} if t.text.isdigit() else None
    if isinstance(t, (S.Plus, S.Minus)):
        a, b = affine_of(t.left), affine_of(t.right)
        if a is None or b is None:
            return None
        sign = 1 if isinstance(t, S.Plus) else -1
        out = dict(a)
        for k, v in b.items():
            out[k] = out.get(k, 0) + sign * v
        return out
    if isinstance(t, S.Group):
        return affine_of(t.body)
    return None


def index_of(t: str | S.Syntax) -> Index:
    """The language's index value of a subscript as written (see :func:`affine_of`)."""
    a = affine_of(t)
    return Index(None if a is None else tuple(a.items()))


def _terms(v):
    if isinstance(v, IndexSum):
        return v.terms
    if isinstance(v, IndexNotation):
        return [(Fraction(1), v)]
    raise LineError(0, 0, "cannot add index notation and matrix notation")


def _source_of(x: str | S.Syntax) -> str:
    """A subscript as the author wrote it, for messages: F, 2, {\\mathrm{op}}."""
    if isinstance(x, S.Roman):
        return f"{{{x.command}{{{x.name}}}}}"
    if isinstance(x, str):
        return x
    if isinstance(x, (S.Word, S.Number)):
        return x.text
    return "{...}"


def parse_space(interp: Interpreter, t: S.Syntax) -> tuple | None:
    """\\mathbf{R}, \\mathbf{R}^n, \\mathbf{R}^{m \\times n}, \\mathbf{R}^{\\infty} -> (rows, cols)."""
    if isinstance(t, S.Space):
        return (1, 1)
    if not isinstance(t, S.Power) or not isinstance(t.base, S.Space):
        return None
    arg = t.sup.arg
    try:
        dims = _dims(arg)
    except _ReservedDim as exc:
        interp.fail(t, f"'{exc}' cannot name a dimension (it reads as infinity or a constant); write "
                    "\\mathbf{R}^{\\infty} for sequences, or choose another name such as n")
    if dims is None:
        hint = ""
        if isinstance(arg, S.Juxt):
            hint = "; for a matrix write the dimensions with \\times, as in \\mathbf{R}^{m \\times n}"
        interp.fail(t, "a space must look like \\mathbf{R}, \\mathbf{R}^n or \\mathbf{R}^{m \\times n}" + hint)
    return dims


# names SymPy (or a reader) would take for infinity or a constant, never a dimension
_RESERVED_DIMS = {"oo", "inf", "infty", "infinity", "nan", "zoo"}


class _ReservedDim(Exception):
    pass


def _dims(arg: str | S.Syntax) -> tuple | None:
    if isinstance(arg, str):
        s = arg
        if s in ("\\infty", "∞"):
            return ("oo", 1)
        if s.lower() in _RESERVED_DIMS:
            raise _ReservedDim(s)
        if re.fullmatch(r"\d+", s):
            return (int(s), 1) if int(s) >= 1 else None  # a concrete size
        if re.fullmatch(r"[A-Za-z]", s):
            return (s, 1)
        if re.fullmatch(r"[A-Za-z]+", s):
            return (s, 1)
        return None
    if isinstance(arg, (S.Word, S.Number)):
        return _dims(arg.text)
    if isinstance(arg, S.Infinity):
        return ("oo", 1)
    if isinstance(arg, S.Subscript) and isinstance(arg.base, S.Word) and arg.sub.text is not None \
            and re.fullmatch(r"[A-Za-z0-9]+", arg.sub.text):
        return (f"{arg.base.text}_{arg.sub.text}", 1)  # d_k, d_{model}: a subscripted dimension name
    if isinstance(arg, S.SeqOp) and arg.op == "\\times":
        r, c = _dims(arg.left), _dims(arg.right)
        if r and c and r[1] == 1 and c[1] == 1:
            return (r[0], c[0])
    return None


def declared_name(interp: Interpreter, t: S.Syntax) -> str | None:
    """The name on the left of a declaration: x, y*, y^*, y_m, \\alpha, dy."""
    if isinstance(t, S.Word):
        return t.text
    if isinstance(t, S.Greek):
        return t.name
    if isinstance(t, S.Accent):
        return accent_name(t)
    if isinstance(t, S.Bold) and re.fullmatch(r"[A-Za-z]+|\\[A-Za-z]+", t.text):
        return t.text.lstrip("\\")  # \mathbf{W}_1 \in ...: bold is typography
    if isinstance(t, S.Group):
        return declared_name(interp, t.body)
    if isinstance(t, S.Star):
        inner = declared_name(interp, t.base)
        return inner + "*" if inner else None
    if isinstance(t, S.Power):
        inner = declared_name(interp, t.base)
        if inner and t.sup.arg == "*":
            return inner + "*"
        return None
    if isinstance(t, S.Subscript):
        inner = declared_name(interp, t.base)
        sub = t.sub.text
        return f"{inner}_{sub}" if inner and sub else None
    return None

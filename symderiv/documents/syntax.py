"""The syntax of one math line: a typed tree built from lark's parse tree, before any meaning.

lark's model is kept: the grammar (``grammar/math.lark``) says only what a line looks like, and
:class:`ToSyntax`, a lark :class:`~lark.Transformer` with ``v_args(meta=True)``, turns its parse
tree into the frozen nodes below, each with the position where it starts. The nodes carry no
meaning: whether ``AB`` is one symbol or the product A·B, or ``\\Delta x`` a perturbation, depends on
the declarations in force and is decided by the reader's interpreter, which matches on these
classes (never on rule names). A line's syntax depends only on its text, so it is built once per
distinct text and shared (the nodes are immutable).

Positions are ``(line, column)`` relative to the math text (1-based, as lark counts); the reader
turns them into file coordinates.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from lark import Token, Transformer_NonRecursive, Tree, v_args
from lark.tree import Meta

#: where a node starts in the math text, (line, column), or None when lark recorded no position
Pos: TypeAlias = tuple[int, int] | None


@dataclass(frozen=True)
class Word:
    """A run of letters, ``x``, ``AB``, ``dL``: one name or several juxtaposed names."""

    pos: Pos
    text: str


@dataclass(frozen=True)
class Greek:
    """``\\alpha``: the letter's name without the backslash."""

    pos: Pos
    name: str


@dataclass(frozen=True)
class Number:
    pos: Pos
    text: str


@dataclass(frozen=True)
class Infinity:
    pos: Pos


@dataclass(frozen=True)
class Delta:
    """``\\Delta x``, ``\\Delta AB``, ``\\Delta{...}``, ``\\Delta(...)`` (the last two as a :class:`Group`)."""

    pos: Pos
    arg: Syntax


@dataclass(frozen=True)
class Frac:
    """``\\frac{num}{den}`` (or ``\\dfrac``, ``\\tfrac``)."""

    pos: Pos
    num: Syntax
    den: Syntax


@dataclass(frozen=True)
class Paren:
    """``( a )``, ``[ a ]``, or a parenthesised list ``(a, b)`` (more than one item)."""

    pos: Pos
    items: tuple[Syntax, ...]


@dataclass(frozen=True)
class Group:
    """``{ a }``: a brace group, one operand as TeX typesets it."""

    pos: Pos
    body: Syntax


@dataclass(frozen=True)
class Angle:
    """``\\langle a, b \\rangle``."""

    pos: Pos
    left: Syntax
    right: Syntax


@dataclass(frozen=True)
class Norm:
    """``\\| a \\|``, ``|| a ||``, ``\\lVert a \\rVert``."""

    pos: Pos
    body: Syntax


@dataclass(frozen=True)
class Roman:
    """``\\mathrm{name}`` (or ``\\operatorname``, ``\\text``, ``\\textrm``): the command as written and the name."""

    pos: Pos
    command: str
    name: str


@dataclass(frozen=True)
class SumSign:
    """``\\sum_j`` (or ``\\Sigma_j``) with its index as written."""

    pos: Pos
    index: Script


@dataclass(frozen=True)
class SumRange:
    """``\\sum_{i=1}^{n}``: a sum sign with a range, which is refused (index sums run over every index)."""

    pos: Pos
    index: str


@dataclass(frozen=True)
class Space:
    """``\\mathbf{R}`` (or ``\\mathbb{R}``, ``\\mathcal{R}``, ℝ)."""

    pos: Pos


@dataclass(frozen=True)
class Partial:
    pos: Pos


@dataclass(frozen=True)
class Func:
    """A named function such as ``\\exp`` or ``\\log``: the command as written."""

    pos: Pos
    command: str


@dataclass(frozen=True)
class Sqrt:
    """``\\sqrt{body}``."""

    pos: Pos
    body: Syntax


@dataclass(frozen=True)
class Bold:
    """``\\mathbf{x}``, ``\\boldsymbol{x}``, ``\\mathbb{1}``: the command and the letters or digits as written."""

    pos: Pos
    command: str
    text: str


@dataclass(frozen=True)
class Accent:
    """``\\hat{y}``, ``\\bar{x}``, ``\\tilde{x}``, ``\\mathcal{L}``: the command (without the backslash) and
    the letters under it as written (a Greek letter with its backslash, ``\\alpha``)."""

    pos: Pos
    command: str
    letter: str


@dataclass(frozen=True)
class Nabla:
    """``\\nabla_x L``: the variable (the subscript as written; None for ``\\nabla L``) and the name after it."""

    pos: Pos
    wrt: Script | None
    of: Syntax


@dataclass(frozen=True)
class Prime:
    """``base'``, as in ``\\sigma'(z)``."""

    pos: Pos
    base: Syntax


@dataclass(frozen=True)
class Plus:
    """``a + b``."""

    pos: Pos
    left: Syntax
    right: Syntax


@dataclass(frozen=True)
class Minus:
    """``a - b`` (also ``a + -b``, as printers write it)."""

    pos: Pos
    left: Syntax
    right: Syntax


@dataclass(frozen=True)
class Neg:
    """``-a``."""

    pos: Pos
    body: Syntax


@dataclass(frozen=True)
class Dot:
    """``a \\cdot b``."""

    pos: Pos
    left: Syntax
    right: Syntax


@dataclass(frozen=True)
class SeqOp:
    """``a \\odot b`` and the other operators between factors: ``\\otimes``, ``\\star``, ``\\ast``,
    ``\\circ``, ``\\times``."""

    pos: Pos
    left: Syntax
    op: str
    right: Syntax


@dataclass(frozen=True)
class Colon:
    """``A : B``: the Frobenius product as written with a colon."""

    pos: Pos
    left: Syntax
    right: Syntax


@dataclass(frozen=True)
class Juxt:
    """``a b``: two factors written next to each other (binds tighter than ``\\cdot``)."""

    pos: Pos
    left: Syntax
    right: Syntax


@dataclass(frozen=True)
class Div:
    """``a / b``."""

    pos: Pos
    left: Syntax
    right: Syntax


@dataclass(frozen=True)
class Script:
    """The argument of ``^`` or ``_``: a single token as written (one character or control word,
    braced or not: ``T``, ``\\top``, ``*``, ``{\\top}``), or a braced expression (``{i+j}``)."""

    pos: Pos
    arg: str | Syntax

    @property
    def text(self) -> str | None:
        """The script as plain text when it is one token, one run of letters or one number
        (``T``, ``{T}``, ``{12}``, ``{op}``), else None."""
        arg = self.arg
        if isinstance(arg, str):
            return arg
        if isinstance(arg, (Word, Number)):
            return arg.text
        return None


@dataclass(frozen=True)
class Power:
    """``base^sup``."""

    pos: Pos
    base: Syntax
    sup: Script


@dataclass(frozen=True)
class Subscript:
    """``base_sub``."""

    pos: Pos
    base: Syntax
    sub: Script


@dataclass(frozen=True)
class Star:
    """``base*`` (as in ``y*``)."""

    pos: Pos
    base: Syntax


#: every node of an expression; a reader function matches on these classes
Syntax: TypeAlias = (Word | Greek | Number | Infinity | Delta | Frac | Paren | Group | Angle | Norm | Roman
                    | SumSign | Space | Partial | Func | Plus | Minus | Neg | Dot | SeqOp | Juxt | Div | Power
                    | Subscript | Star | Sqrt | Bold | Prime | Accent | Nabla | Colon | SumRange)


@dataclass(frozen=True)
class Relation:
    """A relation as written (``=``, ``&=``, ``\\approx``, ``\\in``, ``\\Rightarrow``, ...)."""

    pos: Pos
    text: str


@dataclass(frozen=True)
class SyntaxLine:
    """A line ``lead? expr (rel expr)*``: ``len(rels) == len(items) - 1``."""

    lead: Relation | None
    items: tuple[Syntax, ...]
    rels: tuple[Relation, ...]


def _pos(meta: Meta) -> Pos:
    if meta.empty:
        return None
    return (meta.line, meta.column)


def _exprs(children: list[Any]) -> list[Any]:
    """The children that are expressions (the tokens kept by the grammar are delimiters or operators)."""
    return [c for c in children if not isinstance(c, Token)]


@v_args(meta=True)
class ToSyntax(Transformer_NonRecursive):  # type: ignore[type-arg]
    """lark parse tree of ``grammar/math.lark`` → :class:`SyntaxLine` (one method per rule or alias).

    Non-recursive, so a long product is never limited by Python's recursion depth here."""

    def line(self, meta: Meta, children: list[Any]) -> SyntaxLine:
        lead = None
        items: list[Syntax] = []
        rels: list[Relation] = []
        for c in children:
            if isinstance(c, _Lead):
                lead = c.relation
            elif isinstance(c, Relation):
                rels.append(c)
            else:
                items.append(c)
        return SyntaxLine(lead, tuple(items), tuple(rels))

    def lead(self, meta: Meta, children: list[Any]) -> _Lead:
        return _Lead(Relation(_pos(meta), str(children[0]).strip()))

    def rel(self, meta: Meta, children: list[Any]) -> Relation:
        return Relation(_pos(meta), str(children[0]).strip())

    def number(self, meta: Meta, children: list[Any]) -> Number:
        return Number(_pos(meta), str(children[0]))

    def word(self, meta: Meta, children: list[Any]) -> Word:
        return Word(_pos(meta), str(children[0]))

    def greek(self, meta: Meta, children: list[Any]) -> Greek:
        return Greek(_pos(meta), str(children[0]).lstrip("\\"))

    def infty(self, meta: Meta, children: list[Any]) -> Infinity:
        return Infinity(_pos(meta))

    def delta(self, meta: Meta, children: list[Any]) -> Delta:
        return Delta(_pos(meta), children[0])

    def frac(self, meta: Meta, children: list[Any]) -> Frac:
        _cmd, num, den = children
        return Frac(_pos(meta), num, den)

    def paren(self, meta: Meta, children: list[Any]) -> Paren:
        return Paren(_pos(meta), tuple(children))

    def group(self, meta: Meta, children: list[Any]) -> Group:
        return Group(_pos(meta), children[0])

    def inner(self, meta: Meta, children: list[Any]) -> Angle:
        left, right = _exprs(children)
        return Angle(_pos(meta), left, right)

    def norm(self, meta: Meta, children: list[Any]) -> Norm:
        # \| a \| keeps its NORM delimiters as tokens; \lVert a \rVert drops them (_LVERT, _RVERT)
        (body,) = _exprs(children)
        return Norm(_pos(meta), body)

    def roman(self, meta: Meta, children: list[Any]) -> Roman:
        return Roman(_pos(meta), str(children[0]), str(children[1]))

    def sumop(self, meta: Meta, children: list[Any]) -> SumSign:
        return SumSign(_pos(meta), children[1])

    def sumrange(self, meta: Meta, children: list[Any]) -> SumRange:
        return SumRange(_pos(meta), str(children[1]))

    def space(self, meta: Meta, children: list[Any]) -> Space:
        return Space(_pos(meta))

    def partial(self, meta: Meta, children: list[Any]) -> Partial:
        return Partial(_pos(meta))

    def func(self, meta: Meta, children: list[Any]) -> Func:
        return Func(_pos(meta), str(children[0]))

    def sqrt(self, meta: Meta, children: list[Any]) -> Sqrt:
        (body,) = _exprs(children)
        return Sqrt(_pos(meta), body)

    def bold(self, meta: Meta, children: list[Any]) -> Bold:
        return Bold(_pos(meta), str(children[0]), str(children[1]))

    def accent(self, meta: Meta, children: list[Any]) -> Accent:
        command, letter = children
        return Accent(_pos(meta), str(command).lstrip("\\"), letter)

    def accent_arg(self, meta: Meta, children: list[Any]) -> str:
        # the letters under an accent as written (braces dropped), a Greek letter with its backslash
        return str(children[0])

    def nabla(self, meta: Meta, children: list[Any]) -> Nabla:
        if len(children) == 2 and isinstance(children[0], Token):  # \nabla_\theta L: an unbraced Greek subscript
            greek = Greek(_pos(meta), str(children[0]).lstrip("\\"))
            return Nabla(_pos(meta), Script(_pos(meta), greek), children[1])
        parts = _exprs(children)
        return Nabla(_pos(meta), parts[0] if len(parts) == 2 else None, parts[-1])

    def tracecmd(self, meta: Meta, children: list[Any]) -> Roman:
        # \tr is written as \mathrm{tr}: one node, one meaning (the trace)
        return Roman(_pos(meta), str(children[0]), "tr")

    def char_arg(self, meta: Meta, children: list[Any]) -> Number | Word:
        # \frac12: an unbraced argument is one character, a digit or a letter
        text = str(children[0])
        return Number(_pos(meta), text) if text.isdigit() else Word(_pos(meta), text)

    def colon(self, meta: Meta, children: list[Any]) -> Colon:
        left, right = _exprs(children)
        return Colon(_pos(meta), left, right)

    def prime(self, meta: Meta, children: list[Any]) -> Prime:
        return Prime(_pos(meta), children[0])

    def add(self, meta: Meta, children: list[Any]) -> Plus:
        return Plus(_pos(meta), children[0], children[1])

    def sub(self, meta: Meta, children: list[Any]) -> Minus | Script:
        # two grammar rules share the name "sub": the subscript argument (rule ``sub``, one child) and
        # subtraction (alias ``-> sub``: a MINUS b); the names stay, as the report's printer reads them
        if len(children) == 1:
            return self.sup(meta, children)
        return Minus(_pos(meta), children[0], children[-1])

    def neg(self, meta: Meta, children: list[Any]) -> Neg:
        return Neg(_pos(meta), children[-1])

    def dot(self, meta: Meta, children: list[Any]) -> Dot:
        return Dot(_pos(meta), children[0], children[1])

    def seqop(self, meta: Meta, children: list[Any]) -> SeqOp:
        left, op, right = children
        return SeqOp(_pos(meta), left, str(op), right)

    def juxt(self, meta: Meta, children: list[Any]) -> Juxt:
        return Juxt(_pos(meta), children[0], children[1])

    def div(self, meta: Meta, children: list[Any]) -> Div:
        return Div(_pos(meta), children[0], children[1])

    def power(self, meta: Meta, children: list[Any]) -> Power:
        return Power(_pos(meta), children[0], children[1])

    def subscript(self, meta: Meta, children: list[Any]) -> Subscript:
        return Subscript(_pos(meta), children[0], children[1])

    def star(self, meta: Meta, children: list[Any]) -> Star:
        return Star(_pos(meta), children[0])

    def sup(self, meta: Meta, children: list[Any]) -> Script:
        (arg,) = children
        return Script(_pos(meta), str(arg) if isinstance(arg, Token) else arg)


@dataclass(frozen=True)
class _Lead:
    """The leading relation of a line (``= ...``), told apart from the relations between items."""

    relation: Relation


_TO_SYNTAX = ToSyntax()


def to_syntax(tree: Tree[Any]) -> SyntaxLine:
    """The typed syntax of a parse tree of ``grammar/math.lark`` (rule ``line``)."""
    out = _TO_SYNTAX.transform(tree)
    if not isinstance(out, SyntaxLine):  # the grammar's start rule is always a line
        raise TypeError(f"not a line: {tree.data}")
    return out

"""symderiv's own expression tree.

Nodes keep exactly what was written: no automatic reordering, no pushing of transposes,
no collection of terms. Rewriting is the job of named rules (``rules.py``), and every rewrite
is checked by the verifier. Each node computes its shape on construction and refuses
operands whose (symbolic) shapes do not fit.

Node            meaning                                shape
--------------  -------------------------------------  -----------------------------
Sym             a matrix symbol                        declared
Scale(c, X)     c X, c rational                        shape(X)
Add(X1..Xk)     X1 + ... + Xk                          common shape
MatMul(X1..Xk)  X1 X2 ... Xk (a 1x1 factor scales)     rows(X1) x cols(Xk)
Transpose(X)    X^T                                    swapped
Trace(X)        tr(X) = sum_i X_ii, X square           1 x 1
Inner(A, B)     <A, B> = tr(A^T B)                     1 x 1
Hadamard(A, B)  (A o B)_ij = A_ij B_ij                 shape(A)
Zero(r, c)      the zero matrix                        r x c
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Iterator
from fractions import Fraction
from typing import Any, cast

import sympy

from symderiv.errors import NameError_, ShapeError
from symderiv.lang.symbols import (
    Dim,
    DimLike,
    as_dim,
    check_name,
    classify_name,
    delta_name,
    grad_name,
    is_linear_dim,
    is_plain_dim,
)

Coef = int | Fraction


def _fmt_shape(shape: tuple[Dim, Dim]) -> str:
    return f"{shape[0]}×{shape[1]}"


def is_scalar_shape(shape: tuple[Dim, Dim]) -> bool:
    return bool(shape[0] == 1 and shape[1] == 1)


def _checked_shape(rows: Dim, cols: Dim, what: str) -> tuple[Dim, Dim]:
    """Refuse shapes the verifiers cannot decide soundly.

    A length that is an integer-linear expression (``n + 1``, ``n - k + 1``) is supported only
    for column vectors, which the sequence procedure handles (it knows the constraint
    ``n + 1 ≥ 1`` and treats entries by position). The matrix procedure needs every dimension to
    be an independent symbol or an integer: its index graphs have one vertex type per dimension,
    and ``n`` and ``n + 1`` are not independent, so such a matrix is refused here rather than
    crashing (or, worse, being treated as an unrelated size) later.
    """
    if cols == 1 or (is_plain_dim(rows) and is_plain_dim(cols)):
        return (rows, cols)
    raise ShapeError(
        f"{what} has shape {rows}×{cols}: a length such as n + 1 is allowed only for column "
        f"vectors (sequences); a matrix or row vector needs dimensions that are symbols or integers"
    )


class Expr:
    """Base class. Subclasses set ``shape`` and ``args``; equality is structural."""

    __slots__ = ("shape", "_hash", "_key")
    shape: tuple[Dim, Dim]
    _hash: int
    _key: tuple[Any, ...]

    # -- structure -------------------------------------------------------------------
    def _make_key(self) -> tuple[Any, ...]:
        """The structural key of this node, from its children's (already cached) keys."""
        raise NotImplementedError

    def key(self) -> tuple[Any, ...]:
        """The structural key, computed bottom-up without recursion so that deeply nested
        expressions (a transpose nested hundreds of times) never exhaust Python's stack."""
        try:
            return self._key
        except AttributeError:
            pass
        stack: list[Expr] = [self]
        while stack:
            node = stack[-1]
            pending = [c for c in node.children if not hasattr(c, "_key")]
            if pending:
                stack.extend(pending)
                continue
            stack.pop()
            if not hasattr(node, "_key"):
                node._key = node._make_key()
                # every key ends with the children's keys; hash the rest with their hashes so
                # hashing never walks a deeply nested tuple
                local = node._key[: len(node._key) - len(node.children)]
                node._hash = hash((local, tuple(c._hash for c in node.children)))
        return self._key

    def _local_key(self) -> tuple[Any, ...]:
        """The key without the children's keys (which every key lists last)."""
        k = self.key()
        return k[: len(k) - len(self.children)]

    def __eq__(self, other: object) -> bool:
        """Structural equality, compared node by node with an explicit stack (no recursion)."""
        if not isinstance(other, Expr):
            return False
        stack: list[tuple[Expr, Expr]] = [(self, other)]
        while stack:
            a, b = stack.pop()
            if a is b:
                continue
            if (type(a) is not type(b) or hash(a) != hash(b) or len(a.children) != len(b.children)
                    or a._local_key() != b._local_key()):
                return False
            stack.extend(zip(a.children, b.children))
        return True

    def __hash__(self) -> int:
        try:
            return self._hash
        except AttributeError:
            self.key()
            return self._hash

    @property
    def children(self) -> tuple[Expr, ...]:
        return ()

    def with_children(self, *children: Expr) -> Expr:
        """The same node over new children (shapes re-checked). Leaves return themselves."""
        return self

    def walk(self) -> Iterator[Expr]:
        """All nodes in pre-order (iteratively: nesting depth is not limited by the stack)."""
        stack: list[Expr] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(node.children))

    def depth(self) -> int:
        """Nesting depth of the tree (a symbol has depth 1), computed iteratively."""
        best = 0
        stack: list[tuple[Expr, int]] = [(self, 1)]
        while stack:
            node, d = stack.pop()
            best = max(best, d)
            stack.extend((c, d + 1) for c in node.children)
        return best

    def symbols(self) -> list[Sym]:
        """The distinct symbols, in order of first appearance."""
        seen: dict[str, Sym] = {}
        for node in self.walk():
            if isinstance(node, Sym) and node.name not in seen:
                seen[node.name] = node
        return list(seen.values())

    def has_delta(self) -> bool:
        return any(isinstance(n, Sym) and n.kind == "delta" for n in self.walk())

    @property
    def is_scalar(self) -> bool:
        return is_scalar_shape(self.shape)

    # -- operators -------------------------------------------------------------------
    def __add__(self, other: object) -> Expr:
        o = _coerce(other)
        return NotImplemented if o is None else Add(self, o)

    def __radd__(self, other: object) -> Expr:
        o = _coerce(other)
        return NotImplemented if o is None else Add(o, self)

    def __sub__(self, other: object) -> Expr:
        o = _coerce(other)
        return NotImplemented if o is None else Add(self, Scale(-1, o))

    def __rsub__(self, other: object) -> Expr:
        o = _coerce(other)
        return NotImplemented if o is None else Add(o, Scale(-1, self))

    def __neg__(self) -> Expr:
        return Scale(-1, self)

    def __mul__(self, other: object) -> Expr:
        c = _as_coef(other)
        if c is not None:
            return Scale(c, self)
        o = _coerce(other)
        return NotImplemented if o is None else MatMul(self, o)

    def __rmul__(self, other: object) -> Expr:
        c = _as_coef(other)
        if c is not None:
            return Scale(c, self)
        o = _coerce(other)
        return NotImplemented if o is None else MatMul(o, self)

    __matmul__ = __mul__
    __rmatmul__ = __rmul__

    def __truediv__(self, other: object) -> Expr:
        c = _as_coef(other)
        if c is None or c == 0:
            return NotImplemented
        return Scale(Fraction(1) / c, self)

    @property
    def T(self) -> Expr:
        return Transpose(self)

    def __repr__(self) -> str:
        # The one documented exception to one-way imports (as SymPy's lazy __str__ -> printer):
        # the printer dispatches on these node classes, so the nodes reach it lazily.
        from symderiv.lang.printing import plain

        return plain(self)

    def latex(self) -> str:
        from symderiv.lang.printing import latex

        return latex(self)

    def _repr_latex_(self) -> str:
        return "$" + self.latex() + "$"


class _Unary(Expr):
    """A node with one argument and no parameters (transpose, trace, zero-extension)."""

    __slots__ = ("arg",)
    arg: Expr

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)

    def with_children(self, *children: Expr) -> Expr:
        (arg,) = children
        return cast(Callable[[Expr], Expr], type(self))(arg)

    def _make_key(self) -> tuple[Any, ...]:
        return (type(self).__name__, self.arg.key())


class Sym(Expr):
    """A matrix symbol. ``kind`` is ``plain``, ``delta`` (Δx) or ``grad`` (dL/dy)."""

    __slots__ = ("name", "kind")

    def __init__(self, name: str, rows: DimLike, cols: DimLike, kind: str | None = None) -> None:
        k, name = classify_name(name)
        if kind is not None and kind not in ("plain", "delta", "grad"):
            # "atom" and "inverse" symbols are the kernel's own (built without this constructor)
            raise NameError_(f"a symbol's kind is plain, delta or grad, not {kind!r}")
        self.name = name
        self.kind = kind or k
        self.shape = _checked_shape(as_dim(rows), as_dim(cols), name)

    def _make_key(self) -> tuple[Any, ...]:
        return ("Sym", self.name, self.shape)


class Scale(Expr):
    __slots__ = ("coef", "arg")

    def __init__(self, coef: Coef, arg: Expr) -> None:
        self.coef = Fraction(coef)
        self.arg = arg
        self.shape = arg.shape

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)

    def with_children(self, *children: Expr) -> Expr:
        (arg,) = children
        return Scale(self.coef, arg)

    def _make_key(self) -> tuple[Any, ...]:
        return ("Scale", self.coef, self.arg.key())


class Add(Expr):
    __slots__ = ("args",)

    def __init__(self, *args: Expr) -> None:
        if not args:
            raise ValueError("Add needs at least one term (use Zero for an empty sum)")
        shape = args[0].shape
        for a in args[1:]:
            if a.shape != shape:
                raise ShapeError(
                    f"cannot add {a!r} ({_fmt_shape(a.shape)}) to {args[0]!r} "
                    f"({_fmt_shape(shape)}): the shapes differ"
                )
        self.args = tuple(args)
        self.shape = shape

    @property
    def children(self) -> tuple[Expr, ...]:
        return self.args

    def with_children(self, *args: Expr) -> Expr:
        return Add(*args)

    def _make_key(self) -> tuple[Any, ...]:
        return ("Add",) + tuple(a.key() for a in self.args)


def product_shape(
    left: tuple[Dim, Dim], right: tuple[Dim, Dim], lrepr: str = "", rrepr: str = ""
) -> tuple[Dim, Dim]:
    """Shape of the product of two factors; a 1 x 1 factor acts as a scalar."""
    if left[1] == right[0]:
        return (left[0], right[1])
    if is_scalar_shape(left):
        return right
    if is_scalar_shape(right):
        return left
    raise ShapeError(
        f"cannot multiply {lrepr} ({_fmt_shape(left)}) by {rrepr} ({_fmt_shape(right)}): "
        f"inner dimensions {left[1]} and {right[0]} differ"
    )


class MatMul(Expr):
    __slots__ = ("args",)

    def __init__(self, *args: Expr) -> None:
        if len(args) < 2:
            raise ValueError("MatMul needs at least two factors")
        shape = args[0].shape
        for i, a in enumerate(args[1:], 1):
            try:
                shape = product_shape(shape, a.shape)
            except ShapeError:
                left = args[0] if i == 1 else MatMul(*args[:i])
                shape = product_shape(shape, a.shape, repr(left), repr(a))
        self.args = tuple(args)
        # a product may be a matrix of linear size (z zᵀ for z ∈ R^{n+1}): only the sequence
        # procedure sees it, which translates tr(z zᵀ) and otherwise answers undecided
        self.shape = shape

    @property
    def children(self) -> tuple[Expr, ...]:
        return self.args

    def with_children(self, *args: Expr) -> Expr:
        return MatMul(*args)

    def _make_key(self) -> tuple[Any, ...]:
        return ("MatMul",) + tuple(a.key() for a in self.args)


class Transpose(_Unary):
    __slots__ = ()

    def __init__(self, arg: Expr) -> None:
        self.arg = arg
        self.shape = (arg.shape[1], arg.shape[0])



class Trace(_Unary):
    __slots__ = ()

    def __init__(self, arg: Expr) -> None:
        if arg.shape[0] != arg.shape[1]:
            raise ShapeError(
                f"trace of {arg!r} needs a square matrix, its shape is {_fmt_shape(arg.shape)}"
            )
        self.arg = arg
        self.shape = (sympy.Integer(1), sympy.Integer(1))



class Inner(Expr):
    """The Frobenius inner product ⟨A, B⟩ = tr(AᵀB) = Σ_ij A_ij B_ij."""

    __slots__ = ("left", "right")

    def __init__(self, left: Expr, right: Expr) -> None:
        if left.shape != right.shape:
            raise ShapeError(
                f"inner product ⟨{left!r}, {right!r}⟩ needs equal shapes, got "
                f"{_fmt_shape(left.shape)} and {_fmt_shape(right.shape)}"
            )
        self.left, self.right = left, right
        self.shape = (sympy.Integer(1), sympy.Integer(1))

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)

    def with_children(self, *children: Expr) -> Expr:
        left, right = children
        return Inner(left, right)

    def _make_key(self) -> tuple[Any, ...]:
        return ("Inner", self.left.key(), self.right.key())


class Hadamard(Expr):
    """The entrywise product (A ∘ B)_ij = A_ij B_ij."""

    __slots__ = ("left", "right")

    def __init__(self, left: Expr, right: Expr) -> None:
        if left.shape != right.shape:
            raise ShapeError(
                f"entrywise product of {left!r} and {right!r} needs equal shapes, got "
                f"{_fmt_shape(left.shape)} and {_fmt_shape(right.shape)}"
            )
        self.left, self.right = left, right
        self.shape = left.shape

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)

    def with_children(self, *children: Expr) -> Expr:
        left, right = children
        return Hadamard(left, right)

    def _make_key(self) -> tuple[Any, ...]:
        return ("Hadamard", self.left.key(), self.right.key())


# ---------------------------------------------------------------------------------------
# Constants, dimension coefficients and entrywise functions (verification-theory-2, parts A–C)
# ---------------------------------------------------------------------------------------
class Ones(Expr):
    """The all-ones matrix J_{r×c}: ``Ones(n, 1)`` is the ones vector 𝟏ₙ, ``Ones(1, 1)`` the number 1.

    In an index graph it is a pair of vertices with no edge (part A): 𝟏ᵀ𝟏 is one isolated summed
    vertex, whose value is the dimension n."""

    __slots__ = ()

    def __init__(self, rows: DimLike, cols: DimLike = 1) -> None:
        self.shape = _checked_shape(as_dim(rows), as_dim(cols), "the all-ones matrix")

    def _make_key(self) -> tuple[Any, ...]:
        return ("Ones", self.shape)


class Identity(Expr):
    """The identity matrix Iₙ: one vertex that is both the row and the column index."""

    __slots__ = ()

    def __init__(self, n: DimLike) -> None:
        d = as_dim(n)
        self.shape = _checked_shape(d, d, "the identity matrix")

    def _make_key(self) -> tuple[Any, ...]:
        return ("Identity", self.shape)


class Diag(_Unary):
    """diag(v) = I ⊙ (v𝟏ᵀ): the square matrix with the column vector v on its diagonal."""

    __slots__ = ()

    def __init__(self, arg: Expr) -> None:
        if arg.shape[1] != 1:
            raise ShapeError(f"diag(v) needs a column vector, {arg!r} is {_fmt_shape(arg.shape)}")
        self.arg = arg
        self.shape = _checked_shape(arg.shape[0], arg.shape[0], "diag(v)")


class DiagV(_Unary):
    """diagv(M) = (I ⊙ M)𝟏: the diagonal of a square matrix as a column vector."""

    __slots__ = ()

    def __init__(self, arg: Expr) -> None:
        if arg.shape[0] != arg.shape[1]:
            raise ShapeError(f"the diagonal of {arg!r} needs a square matrix, its shape is {_fmt_shape(arg.shape)}")
        self.arg = arg
        self.shape = (arg.shape[0], sympy.Integer(1))


class DimScalar(Expr):
    """A 1×1 coefficient that is a rational function of the dimension symbols: 1/n, n − 1, 1/(nm).

    ``value`` is a SymPy expression whose symbols are dimensions. The claim is then stated for the
    sizes where it is defined (no pole: 1/(n − 1) means n ≥ 2)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        v = sympy.sympify(value)
        # compared by name only, as dimensions are (symbols.dim): the n of a shape and an n declared
        # integer=True, positive=True in a coefficient are one dimension, so n/n cancels
        v = sympy.cancel(v.xreplace({s: sympy.Symbol(s.name) for s in v.free_symbols if isinstance(s, sympy.Symbol)}))
        for s in v.free_symbols:
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", str(s)):
                raise ShapeError(f"a dimension coefficient may use dimension names only, got {s}")
        num, den = sympy.fraction(v)
        if not (num.is_polynomial(*v.free_symbols) and den.is_polynomial(*v.free_symbols)):
            raise ShapeError(f"a dimension coefficient must be a rational function of the dimensions, got {v}")
        if v == 0:
            raise ShapeError("a dimension coefficient must not be 0 (use Zero)")
        self.value = v
        self.shape = (sympy.Integer(1), sympy.Integer(1))

    def _make_key(self) -> tuple[Any, ...]:
        return ("DimScalar", sympy.srepr(self.value))


#: Entrywise functions: name -> (plain text, LaTeX). ``recip`` is 1/x, ``step`` the Heaviside step.
FUNCTIONS: dict[str, tuple[str, str]] = {
    "exp": ("exp", r"\exp"),
    "log": ("log", r"\log"),
    "sigmoid": ("σ", r"\sigma"),
    "tanh": ("tanh", r"\tanh"),
    "relu": ("relu", r"\operatorname{relu}"),
    "step": ("step", r"\operatorname{step}"),
    "softplus": ("softplus", r"\operatorname{softplus}"),
    "sqrt": ("sqrt", r"\sqrt"),
    "recip": ("recip", r"\operatorname{recip}"),
    "square": ("square", r"\operatorname{square}"),
}


class Fn(Expr):
    """An entrywise function f(M) (f applied to every entry; on a 1×1 argument a scalar function).

    ``prime=1`` is the derivative f′(M), also entrywise: σ′(z) = σ(z) ⊙ (𝟏 − σ(z)). Its value is
    given by the kernel's derivative table; the node keeps what the author wrote."""

    __slots__ = ("name", "arg", "prime")

    def __init__(self, name: str, arg: Expr, prime: int = 0) -> None:
        if name not in FUNCTIONS:
            raise ShapeError(f"unknown entrywise function {name!r}; known: {', '.join(FUNCTIONS)}")
        if prime not in (0, 1):
            raise ShapeError("only the first derivative f′ of an entrywise function is supported")
        self.name, self.arg, self.prime = name, arg, prime
        self.shape = arg.shape

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)

    def with_children(self, *children: Expr) -> Expr:
        (arg,) = children
        return Fn(self.name, arg, self.prime)

    def _make_key(self) -> tuple[Any, ...]:
        return ("Fn", self.name, self.prime, self.arg.key())


class Softmax(_Unary):
    """softmax: of a column vector z, exp(z) / (𝟏ᵀexp(z)); of a matrix S, row by row
    (softmax_row(S)_ij = exp(S_ij) / Σ_k exp(S_ik), attention's softmax). Defined in the language
    by those formulas (the kernel lowers it to them); not transpose-equivariant for matrices."""

    __slots__ = ()

    def __init__(self, arg: Expr) -> None:
        self.arg = arg
        self.shape = arg.shape


def _square(arg: Expr, what: str) -> Expr:
    if arg.shape[0] != arg.shape[1]:
        raise ShapeError(f"{what} needs a square matrix, got {_fmt_shape(arg.shape)}")
    return arg


class Inv(_Unary):
    """The matrix inverse M⁻¹ of a square M (defined where M is invertible).

    The kernel treats X⁻¹ of a symbol as an edge of its own that cancels against X on an index
    graph (free cancellation, Lemma E0), and M⁻¹ of any other M as an atom labelled by M's value."""

    __slots__ = ()

    def __init__(self, arg: Expr) -> None:
        self.arg = _square(arg, "an inverse")
        self.shape = arg.shape


class Det(_Unary):
    """det M of a square M: a 1×1 value (Jacobi: d det X = det X · tr(X⁻¹ dX) where X is invertible)."""

    __slots__ = ()

    def __init__(self, arg: Expr) -> None:
        self.arg = _square(arg, "a determinant")
        self.shape = (sympy.Integer(1), sympy.Integer(1))


class LogDet(_Unary):
    """log det M of a square M: a 1×1 value, defined where det M > 0 (d log det X = tr(X⁻¹ dX))."""

    __slots__ = ()

    def __init__(self, arg: Expr) -> None:
        self.arg = _square(arg, "a log-determinant")
        self.shape = (sympy.Integer(1), sympy.Integer(1))


# ---------------------------------------------------------------------------------------
# Sequences: correlation and convolution
# ---------------------------------------------------------------------------------------
INF = sympy.oo
MODES = ("valid", "full", "same")


def is_sequence_shape(shape: tuple[Dim, Dim]) -> bool:
    return shape[1] == 1 and shape[0] is INF


def _vector_length(e: Expr, what: str) -> Any:
    if e.shape[1] != 1:
        raise ShapeError(f"{what} takes vectors or sequences, {e!r} is {_fmt_shape(e.shape)}")
    return e.shape[0]


def _always_negative(form: Any) -> bool:
    """Is the integer-linear form < 0 for every assignment of its symbols to integers ≥ 1?

    With every coefficient ≤ 0 the form is largest when every symbol is 1."""
    if form.has(sympy.floor):
        return False
    coeffs = form.as_coefficients_dict()
    if any(t != 1 and not t.is_Symbol for t in coeffs):
        return False
    if any(c > 0 for t, c in coeffs.items() if t != 1):
        return False
    return bool(form.subs({s: 1 for s in form.free_symbols}) < 0)


def mode_window(op: str, mode: str, n: Any, k: Any) -> tuple[Any, Any]:
    """(offset, length) of a finite-mode operator as a window of the operator on ℤ.

    Inputs have lengths n and k (n ≥ k). Output entry i is entry ``offset + i`` of the
    operator on ℤ applied to the zero-extended inputs. 'same' follows NumPy: the middle n
    entries of 'full', starting at (k − 1) // 2.
    """
    if op == "corr":
        offset = {"valid": sympy.Integer(0), "full": -(k - 1), "same": -sympy.floor(k / 2)}[mode]
    else:
        offset = {"valid": k - 1, "full": sympy.Integer(0), "same": sympy.floor((k - 1) / 2)}[mode]
    length = {"valid": n - k + 1, "full": n + k - 1, "same": n}[mode]
    return sympy.expand(offset), sympy.expand(length)


class SeqOp(Expr):
    """Base for correlation and convolution: bilinear, on ℤ (mode None) or finite."""

    __slots__ = ("left", "right", "mode")
    op = ""
    title = ""

    def __init__(self, left: Expr, right: Expr, mode: str | None = None) -> None:
        n = _vector_length(left, self.title)
        k = _vector_length(right, self.title)
        if mode is None:
            self.shape = (INF, sympy.Integer(1))
        else:
            if mode not in MODES:
                raise ShapeError(f"unknown mode {mode!r}; use one of {', '.join(MODES)}")
            if n is INF or k is INF:
                raise ShapeError(f"mode {mode!r} needs finite vectors; use the operator on ℤ for sequences")
            if mode in ("valid", "same") and _always_negative(sympy.expand(n - k)):
                # The documented domain of 'valid' and 'same' is n ≥ k. Outside it NumPy swaps the
                # inputs ('valid') or returns max(n, k) entries ('same'), neither of which is the
                # window this node stands for, so the node is refused instead of being misread.
                raise ShapeError(
                    f"{self.title} in mode {mode!r} needs the first input at least as long as the "
                    f"second (n ≥ k), but the lengths are {n} and {k}, so n < k for every size"
                )
            self.shape = (mode_window(self.op, mode, n, k)[1], sympy.Integer(1))
        self.left, self.right, self.mode = left, right, mode

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)

    def with_children(self, *children: Expr) -> Expr:
        left, right = children
        return cast(Callable[[Expr, Expr, 'str | None'], Expr], type(self))(left, right, self.mode)

    def _make_key(self) -> tuple[Any, ...]:
        return (type(self).__name__, self.mode, self.left.key(), self.right.key())

    def window(self) -> tuple[Any, ...]:
        """(offset, length) of this finite-mode operator within the operator on ℤ."""
        assert self.mode is not None, "the operator on ℤ has no window"
        return mode_window(self.op, self.mode, self.left.shape[0], self.right.shape[0])


class Corr(SeqOp):
    """Correlation (x ⋆ w)_i = Σ_j x_{i+j} w_j (the notes write x ⊙ w)."""

    __slots__ = ()
    op = "corr"
    title = "correlation"


class Conv(SeqOp):
    """Convolution (x ∗ w)_i = Σ_j x_{i−j} w_j (the notes write x ⊗ w)."""

    __slots__ = ()
    op = "conv"
    title = "convolution"


class Ext(_Unary):
    """Zero-extension E v of a finite vector v ∈ R^n to a sequence on ℤ (v_i for 0 ≤ i < n, else 0)."""

    __slots__ = ()

    def __init__(self, arg: Expr) -> None:
        n = _vector_length(arg, "zero-extension")
        if n is INF:
            raise ShapeError(f"{arg!r} is already a sequence on ℤ")
        self.arg = arg
        self.shape = (INF, sympy.Integer(1))



class Shift(Expr):
    """τ_d s: the sequence s delayed by d, (τ_d s)_i = s_{i−d} (a sequence on ℤ)."""

    __slots__ = ("arg", "by")

    def __init__(self, arg: Expr, by: Any) -> None:
        if not is_sequence_shape(arg.shape):
            raise ShapeError(f"a shift acts on sequences on ℤ, {arg!r} is {_fmt_shape(arg.shape)}")
        self.arg = arg
        self.by = sympy.expand(sympy.sympify(by))
        self.shape = arg.shape

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)

    def with_children(self, *children: Expr) -> Expr:
        (arg,) = children
        return Shift(arg, self.by)

    def _make_key(self) -> tuple[Any, ...]:
        return ("Shift", str(self.by), self.arg.key())


class Window(Expr):
    """R_{[o, o+L−1]} s: the entries o, …, o+L−1 of a sequence, re-indexed from 0 (a vector in R^L)."""

    __slots__ = ("arg", "offset", "length")

    def __init__(self, arg: Expr, offset: Any, length: Any) -> None:
        _vector_length(arg, "restriction")
        self.arg = arg
        self.offset = sympy.expand(sympy.sympify(offset))
        self.length = sympy.expand(sympy.sympify(length))
        if not (self.offset.is_Integer or is_linear_dim(self.offset)):
            raise ShapeError(f"the offset of a restriction must be an integer-linear expression, got {offset!r}")
        if self.length.is_Integer:
            if self.length < 1:
                raise ShapeError(f"a restriction needs a length of at least 1, got {self.length}")
        elif not is_linear_dim(self.length) or _always_negative(sympy.expand(self.length - 1)):
            raise ShapeError(f"the length of a restriction must be an integer-linear expression that can be "
                             f"at least 1, got {length!r}")
        self.shape = (self.length, sympy.Integer(1))

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)

    def with_children(self, *children: Expr) -> Expr:
        (arg,) = children
        return Window(arg, self.offset, self.length)

    def _make_key(self) -> tuple[Any, ...]:
        return ("Window", str(self.offset), str(self.length), self.arg.key())


def corr(a: object, b: object, mode: str | None = None) -> Corr:
    """(a ⋆ b)_i = Σ_j a_{i+j} b_j; ``mode`` None (on ℤ), 'valid', 'full' or 'same'."""
    return Corr(as_expr(a), as_expr(b), mode)


def conv(a: object, b: object, mode: str | None = None) -> Conv:
    """(a ∗ b)_i = Σ_j a_{i−j} b_j; ``mode`` None (on ℤ), 'valid', 'full' or 'same'."""
    return Conv(as_expr(a), as_expr(b), mode)


def is_sequence_expr(e: Expr) -> bool:
    """True when the expression needs the correlation/convolution decision procedure."""
    for node in e.walk():
        if isinstance(node, (SeqOp, Ext, Window, Shift)):
            return True
        if isinstance(node, Sym) and not (is_plain_dim(node.shape[0]) and is_plain_dim(node.shape[1])):
            return True
    return False


class Zero(Expr):
    __slots__ = ()

    def __init__(self, rows: DimLike, cols: DimLike) -> None:
        self.shape = _checked_shape(as_dim(rows), as_dim(cols), "the zero matrix")

    def _make_key(self) -> tuple[Any, ...]:
        return ("Zero", self.shape)


# ---------------------------------------------------------------------------------------
# Conversion from SymPy and from Python numbers
# ---------------------------------------------------------------------------------------
def _as_coef(x: object) -> Fraction | None:
    if isinstance(x, bool):
        return None
    if isinstance(x, (int, Fraction)):
        return Fraction(x)
    if isinstance(x, sympy.Rational):
        return Fraction(int(x.p), int(x.q))
    return None


def _coerce(x: object) -> Expr | None:
    if isinstance(x, Expr):
        return x
    if isinstance(x, sympy.Basic) and getattr(x, "is_Matrix", False):
        return from_sympy(x)
    return None


def _group_scalar_runs(factors: list[Expr]) -> list[Expr]:
    """Restore the 1 x 1 sub-products that SymPy's flattening removed.

    SymPy turns ``A*(y.T*x)`` into the flat product A·yᵀ·x, which no longer chains. When a
    factor does not chain with the product so far, the shortest run of factors starting there
    that chains to a 1 x 1 product is grouped back into one scalar factor. Every well-shaped
    grouping has the same value (associativity, and 1 x 1 factors commute with everything),
    so this recovers what was written; if no run fits, the shapes are reported as before.
    """
    out: list[Expr] = []
    i = 0
    while i < len(factors):
        f = factors[i]
        if out:
            left = out[0].shape if len(out) == 1 else MatMul(*out).shape
            if left[1] != f.shape[0] and not is_scalar_shape(left) and not f.is_scalar:
                run = _scalar_run(factors, i)
                if run:
                    out.append(MatMul(*factors[i:run]))
                    i = run
                    continue
        out.append(f)
        i += 1
    return out


def _scalar_run(factors: list[Expr], i: int) -> int | None:
    """End of the shortest run factors[i:j] (j ≥ i + 2) that chains to a 1 x 1 product."""
    if factors[i].shape[0] != 1:
        return None
    for j in range(i + 1, len(factors)):
        if factors[j - 1].shape[1] != factors[j].shape[0]:
            return None
        if factors[j].shape[1] == 1:
            return j + 1
    return None


@functools.singledispatch
def from_sympy(e: sympy.Basic) -> Expr:
    """Convert a SymPy matrix expression built from symderiv symbols into an :class:`Expr`.

    Only the matrix language is accepted (symbols, +, *, rational scalars, transpose, trace,
    Hadamard product): one registered converter per SymPy class, below; any other object is
    refused here. Shapes are re-checked strictly: SymPy accepts ``w*g.T`` for w: m x n and
    g: m x 1 because n *might* be 1; symderiv does not.
    """
    raise ShapeError(f"symderiv cannot use the SymPy object {e!r} ({type(e).__name__})")


_M = sympy.matrices.expressions
from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction as _ElementwiseApplyFunction  # noqa: E402


@from_sympy.register(sympy.MatrixSymbol)
def _from_matrix_symbol(e: Any) -> Expr:
    return Sym(e.name, e.shape[0], e.shape[1])


@from_sympy.register(_M.ZeroMatrix)
def _from_zero(e: Any) -> Expr:
    return Zero(e.shape[0], e.shape[1])


@from_sympy.register(_M.MatAdd)
def _from_add(e: Any) -> Expr:
    return Add(*[from_sympy(a) for a in e.args])


@from_sympy.register(_M.MatMul)
def _from_mul(e: Any) -> Expr:
    coef = Fraction(1)
    factors: list[Expr] = []
    scalars: list[Expr] = []
    dims = {str(d) for d in e.shape if isinstance(d, sympy.Symbol)}
    for a in e.args:
        if getattr(a, "is_Matrix", False):
            for d in a.shape:
                if isinstance(d, sympy.Symbol):
                    dims.add(str(d))
    for a in e.args:
        c = _as_coef(a)
        if c is not None:
            coef *= c
        elif getattr(a, "is_Matrix", False):
            factors.append(from_sympy(a))
        else:
            scalars.append(scalar_from_sympy(a, dims))
    factors = _group_scalar_runs(factors)
    factors = scalars + factors
    body = factors[0] if len(factors) == 1 else MatMul(*factors)
    return body if coef == 1 else Scale(coef, body)


@from_sympy.register(_M.Transpose)
def _from_transpose(e: Any) -> Expr:
    return Transpose(from_sympy(e.arg))


@from_sympy.register(_M.Trace)
def _from_trace(e: Any) -> Expr:
    return Trace(from_sympy(e.arg))


@from_sympy.register(_M.HadamardProduct)
def _from_hadamard(e: Any) -> Expr:
    out = from_sympy(e.args[0])
    for a in e.args[1:]:
        out = Hadamard(out, from_sympy(a))
    return out


def scalar_from_sympy(a: Any, dims: set[str]) -> Expr:
    """A SymPy scalar factor as a 1×1 expression: a rational function of the dimensions that
    occur in the product's shapes (1/n) becomes a :class:`DimScalar`; another symbol (λ, η) a
    1×1 symbol; a trace a :class:`Trace`; exp/log/sqrt of such a scalar the entrywise function on
    a 1×1 argument. Anything else is refused rather than guessed."""
    if isinstance(a, sympy.Trace) or (isinstance(a, sympy.Basic) and getattr(a, "is_Matrix", False)):
        out = as_expr(a)
        if not out.is_scalar:
            raise ShapeError(f"{a} is not a scalar")
        return out
    if isinstance(a, sympy.Symbol):
        return DimScalar(a) if str(a) in dims else Sym(a.name, 1, 1)
    free = {str(f) for f in a.free_symbols}
    if free and free <= dims and a.is_rational_function(*a.free_symbols):
        return DimScalar(a)
    if isinstance(a, sympy.Pow) and a.exp == -1:
        return Fn("recip", scalar_from_sympy(a.base, dims))
    if isinstance(a, sympy.Pow) and a.exp == sympy.Rational(-1, 2):
        return Fn("recip", Fn("sqrt", scalar_from_sympy(a.base, dims)))
    if isinstance(a, sympy.Pow) and a.exp == sympy.Rational(1, 2):
        return Fn("sqrt", scalar_from_sympy(a.base, dims))
    if isinstance(a, sympy.Pow) and a.exp.is_Integer and a.exp > 1:
        base = scalar_from_sympy(a.base, dims)
        return MatMul(*([base] * int(a.exp)))
    if isinstance(a, _M.Determinant):
        return Det(as_expr(a.arg))
    if isinstance(a, sympy.log) and isinstance(a.args[0], _M.Determinant):
        return LogDet(as_expr(a.args[0].arg))
    for f, name in ((sympy.exp, "exp"), (sympy.log, "log"), (sympy.tanh, "tanh")):
        if isinstance(a, f):
            return Fn(name, scalar_from_sympy(a.args[0], dims))
    if isinstance(a, sympy.Add):
        parts = []
        for t in a.args:
            c = _as_coef(t)
            parts.append(Scale(c, Ones(1, 1)) if c is not None else scalar_from_sympy(t, dims))
        return Add(*parts)
    if isinstance(a, sympy.Mul):
        c = Fraction(1)
        rest = []
        for t in a.args:
            ct = _as_coef(t)
            if ct is not None:
                c *= ct
            else:
                rest.append(scalar_from_sympy(t, dims))
        body = rest[0] if len(rest) == 1 else MatMul(*rest)
        return body if c == 1 else Scale(c, body)
    raise ShapeError(f"symderiv cannot use the scalar {a} as a coefficient")


@from_sympy.register(_M.OneMatrix)
def _from_ones(e: Any) -> Expr:
    return Ones(e.shape[0], e.shape[1])


@from_sympy.register(_M.Identity)
def _from_identity(e: Any) -> Expr:
    return Identity(e.shape[0])


@from_sympy.register(_M.DiagMatrix)
def _from_diag(e: Any) -> Expr:
    return Diag(from_sympy(e.args[0]))


@from_sympy.register(_M.DiagonalOf)
def _from_diagonal_of(e: Any) -> Expr:
    return DiagV(from_sympy(e.args[0]))


@from_sympy.register(_M.MatPow)
def _from_matpow(e: Any) -> Expr:
    k = e.exp
    if not (isinstance(k, sympy.Integer) and k != 0):
        raise ShapeError(f"only nonzero integer powers of a matrix are supported, got {e}")
    base = from_sympy(e.base)
    if k < 0:  # X^{-k} = (X⁻¹)^k
        base, k = Inv(base), -k
    return base if k == 1 else MatMul(*([base] * int(k)))


@from_sympy.register(_M.Inverse)
def _from_inverse(e: Any) -> Expr:
    return Inv(from_sympy(e.arg))


@from_sympy.register(_M.HadamardPower)
def _from_hadamard_power(e: Any) -> Expr:
    k = e.exp
    base = from_sympy(e.base)
    if isinstance(k, sympy.Integer) and k >= 1:
        out = base
        for _ in range(int(k) - 1):
            out = Hadamard(out, base)
        return out
    if k == -1:
        return Fn("recip", base)
    raise ShapeError(f"only positive integer or -1 entrywise powers are supported, got {e}")


def _function_name(f: Any) -> str:
    """The entrywise function a SymPy function or Lambda stands for (matched structurally)."""
    for g, name in ((sympy.exp, "exp"), (sympy.log, "log"), (sympy.tanh, "tanh"), (sympy.sqrt, "sqrt"),
                    (sympy.Heaviside, "step")):
        if f == g:
            return name
    if isinstance(f, sympy.Lambda) and len(f.variables) == 1:
        v = f.variables[0]
        templates = {
            "sigmoid": [1 / (1 + sympy.exp(-v)), sympy.exp(v) / (1 + sympy.exp(v))],
            "relu": [sympy.Max(0, v), sympy.Max(v, 0)],
            "softplus": [sympy.log(1 + sympy.exp(v))],
            "exp": [sympy.exp(v)], "log": [sympy.log(v)], "tanh": [sympy.tanh(v)], "sqrt": [sympy.sqrt(v)],
            "recip": [1 / v], "square": [v**2], "step": [sympy.Heaviside(v)],
        }
        for name, forms in templates.items():
            if any(f.expr == t for t in forms):
                return name
    raise ShapeError(f"symderiv does not know the entrywise function {f}; known: {', '.join(FUNCTIONS)}")


@from_sympy.register(_ElementwiseApplyFunction)
def _from_elementwise(e: Any) -> Expr:
    f = e.function
    try:
        return Fn(_function_name(f), from_sympy(e.expr))
    except ShapeError:
        if not (isinstance(f, sympy.Lambda) and len(f.variables) == 1):
            raise
        # SymPy merges M.applyfunc(σ).applyfunc(log) into one Lambda log(1/(1 + e^(−v))) inside products
        out = _composition(f.expr, f.variables[0], from_sympy(e.expr))
        if out is None:
            raise
        return out


def _unary_templates(u: Any) -> list[tuple[str, Any]]:
    """(function name, its SymPy form at u), longest patterns first (σ before 1/u, softplus before log)."""
    return [("sigmoid", 1 / (1 + sympy.exp(-u))), ("sigmoid", sympy.exp(u) / (1 + sympy.exp(u))),
            ("softplus", sympy.log(1 + sympy.exp(u))), ("relu", sympy.Max(0, u)), ("step", sympy.Heaviside(u)),
            ("exp", sympy.exp(u)), ("log", sympy.log(u)), ("tanh", sympy.tanh(u)), ("sqrt", sympy.sqrt(u)),
            ("recip", 1 / u), ("square", u**2)]


def _candidates(expr: Any) -> list[Any]:
    """Possible inner arguments u of a one-argument template T(u) = expr, read off its structure."""
    out = list(expr.args)
    for a in expr.args:  # 1/(1 + e^t): u = −t; log(1 + e^u); Max(0, u)
        out.extend(a.args)
        for b in a.args:
            out.extend(b.args)
    return out + [-c for c in list(out)]


def _composition(expr: Any, v: Any, arg: Expr) -> Expr | None:
    """The entrywise function x ↦ expr(x) applied to ``arg``, as a composition of known functions, sums and
    rational multiples, or None. Every match is confirmed by rebuilding the template and comparing it with
    ``expr`` (SymPy's structural equality), so what is read is exactly what SymPy holds."""
    if expr == v:
        return arg
    if not expr.has(v):
        c = _as_coef(expr)
        return None if c is None else Scale(c, Ones(*arg.shape))
    if isinstance(expr, sympy.Add):
        parts = [p for p in (_composition(t, v, arg) for t in expr.args) if p is not None]
        return Add(*parts) if len(parts) == len(expr.args) else None
    if isinstance(expr, sympy.Mul):
        coef, rest = expr.as_coeff_Mul()
        c = _as_coef(coef)
        if c is not None and c != 1:
            inner_ = _composition(rest, v, arg)
            return None if inner_ is None else Scale(c, inner_)
    candidates = [u for u in _candidates(expr) if u.has(v)]
    for k in range(len(_unary_templates(v))):  # templates outermost: σ(u) before 1/(1 + e^(−u))
        for u in candidates:
            name, template = _unary_templates(u)[k]
            if template == expr:
                inner_ = _composition(u, v, arg)
                if inner_ is not None:
                    return Fn(name, inner_)
    if isinstance(expr, sympy.Mul) and len(expr.args) == 2:
        a, b = (_composition(t, v, arg) for t in expr.args)
        return None if a is None or b is None else Hadamard(a, b)
    return None


#: The symderiv nodes each SymPy class converts to (for the coverage test and the docs): nodes not
#: listed (Inner, the sequence operators) have no SymPy counterpart and are built directly.
SYMPY_NODES: dict[type, tuple[type[Expr], ...]] = {
    sympy.MatrixSymbol: (Sym,), _M.ZeroMatrix: (Zero,), _M.MatAdd: (Add,), _M.MatMul: (MatMul, Scale),
    _M.Transpose: (Transpose,), _M.Trace: (Trace,), _M.HadamardProduct: (Hadamard,),
    _M.OneMatrix: (Ones,), _M.Identity: (Identity,), _M.DiagMatrix: (Diag,), _M.DiagonalOf: (DiagV,),
    _ElementwiseApplyFunction: (Fn,), _M.MatPow: (MatMul, Inv), _M.HadamardPower: (Hadamard,), _M.Inverse: (Inv,),
}


def as_expr(x: object) -> Expr:
    """Accept a symderiv :class:`Expr` or a SymPy matrix expression."""
    if isinstance(x, Expr):
        return x
    if isinstance(x, sympy.Basic):
        if isinstance(x, sympy.Trace):
            return Trace(as_expr(x.arg))
        if getattr(x, "is_Matrix", False):
            return from_sympy(x)
        if x.atoms(sympy.MatrixSymbol):
            # a scalar loss such as λ/2·tr(wᵀw) − tr(yᵀXw): a 1×1 expression whose dimension names
            # are those of the matrices in it (the scalar converter refuses what it cannot read)
            dims = {str(d) for m in x.atoms(sympy.MatrixSymbol) for d in m.shape if isinstance(d, sympy.Symbol)}
            return scalar_from_sympy(x, dims)
    raise ShapeError(f"expected a matrix expression, got {type(x).__name__}: {x!r}")


# ---------------------------------------------------------------------------------------
# Small constructors used by rules and the engine
# ---------------------------------------------------------------------------------------
def sym_from(x: object) -> Sym:
    e = as_expr(x)
    if not isinstance(e, Sym):
        raise NameError_(f"expected a single symbol, got {e!r}")
    return e


def delta_of(x: Sym) -> Sym:
    return Sym(delta_name(x.name), x.shape[0], x.shape[1], kind="delta")


def delta_degree(e: Expr) -> int:
    """How many perturbations Δ a product term of ``e`` holds at most, read syntactically: 0, 1, or 2
    for anything more (a product of two Δ, a Δ inside a nonlinear function such as exp or recip).
    An expression of degree ≤ 1 is linear in the perturbations as written."""
    if isinstance(e, Sym):
        return 1 if e.kind == "delta" else 0
    kids = [delta_degree(c) for c in e.children]
    if isinstance(e, Add):
        return max(kids, default=0)
    if isinstance(e, (Scale, Transpose, Trace)):
        return kids[0]
    if isinstance(e, (MatMul, Inner, Hadamard, SeqOp)):
        return min(sum(kids), 2)
    return 2 if any(kids) else 0


def grad_of(y: Sym, loss: str = "L") -> Sym:
    return Sym(grad_name(loss, y.name), y.shape[0], y.shape[1], kind="grad")


def inner(a: object, b: object) -> Inner:
    """⟨a, b⟩ = tr(aᵀb), accepting SymPy or symderiv expressions."""
    return Inner(as_expr(a), as_expr(b))


def trace(a: object) -> Trace:
    return Trace(as_expr(a))


def transpose(a: object) -> Transpose:
    return Transpose(as_expr(a))


def hadamard(a: object, b: object) -> Hadamard:
    return Hadamard(as_expr(a), as_expr(b))


def mul(*factors: Expr) -> Expr:
    """Product of factors, flattening nested products (used where grouping is not the point)."""
    flat: list[Expr] = []
    for f in factors:
        # A 1x1 product is a scalar factor (A (yᵀx) = (yᵀx) A): splicing its factors into a
        # longer product would chain them as matrices (A yᵀ x), which is a different product
        # or a shape error, so it stays one factor.
        if isinstance(f, MatMul) and not (f.is_scalar and len(factors) > 1):
            flat.extend(f.args)
        else:
            flat.append(f)
    return flat[0] if len(flat) == 1 else MatMul(*flat)


def add(terms: Iterable[tuple[Fraction, Expr]], shape: tuple[Dim, Dim]) -> Expr:
    """Sum of coefficient/term pairs, printing 1·X as X and -1·X as -X."""
    parts = [t if c == 1 else Scale(c, t) for c, t in terms if c != 0]
    if not parts:
        return Zero(*shape)
    return parts[0] if len(parts) == 1 else Add(*parts)


def map_bottom_up(e: Expr, f: Callable[[Expr], Expr]) -> Expr:
    """Rebuild ``e`` with ``f`` applied to every node after its children, with an explicit stack
    (no recursion, so nesting depth is not limited by Python's stack)."""
    done: dict[int, Expr] = {}
    stack: list[tuple[Expr, bool]] = [(e, False)]
    while stack:
        node, ready = stack.pop()
        if id(node) in done:
            continue
        if not ready:
            stack.append((node, True))
            stack.extend((c, False) for c in node.children)
            continue
        kids = [done[id(c)] for c in node.children]
        changed = any(k is not c for k, c in zip(kids, node.children))
        done[id(node)] = f(node.with_children(*kids) if changed else node)
    return done[id(e)]


def substitute(e: Expr, mapping: dict[str, Expr]) -> Expr:
    """Replace symbols by expressions (by name); shapes are re-checked."""
    return map_bottom_up(e, lambda node: mapping.get(node.name, node) if isinstance(node, Sym) else node)


def sequence(name: str) -> Sym:
    """A sequence x ∈ R^∞ indexed by all integers, with finite support (the notes' R^∞).

    SymPy's ``MatrixSymbol`` refuses an infinite dimension, so this returns symderiv's own
    symbol node (the node :class:`Sym`), which composes with ``corr``/``conv``/``inner``.
    """
    return Sym(check_name(name), sympy.oo, 1)


# ---------------------------------------------------------------------------------------
# Constructors for constants and entrywise functions
# ---------------------------------------------------------------------------------------
def ones(n: DimLike) -> Ones:
    """The ones vector 𝟏ₙ (n × 1)."""
    return Ones(n, 1)


def identity(n: DimLike) -> Identity:
    return Identity(n)


def diag(v: object) -> Diag:
    return Diag(as_expr(v))


def diagv(m: object) -> DiagV:
    return DiagV(as_expr(m))


def dimension(value: Any) -> DimScalar:
    """A coefficient that depends on the dimensions, e.g. ``dimension('1/n')`` is 1/n.

    A string is read by SymPy's *parser-free* constructor only when it is a plain name; anything
    else must be a SymPy expression (user text is never parsed here)."""
    if isinstance(value, str):
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", value):
            raise ShapeError("dimension(...) takes a dimension name or a SymPy expression, e.g. 1/sympy.Symbol('n')")
        value = sympy.Symbol(value)
    return DimScalar(value)


def fn(name: str, x: object, prime: int = 0) -> Fn:
    return Fn(name, as_expr(x), prime)


def exp(x: object) -> Fn:
    return fn("exp", x)


def log(x: object) -> Fn:
    return fn("log", x)


def sigmoid(x: object) -> Fn:
    return fn("sigmoid", x)


def tanh(x: object) -> Fn:
    return fn("tanh", x)


def relu(x: object) -> Fn:
    return fn("relu", x)


def step(x: object) -> Fn:
    return fn("step", x)


def softplus(x: object) -> Fn:
    return fn("softplus", x)


def sqrt(x: object) -> Fn:
    return fn("sqrt", x)


def recip(x: object) -> Fn:
    return fn("recip", x)


def square(x: object) -> Fn:
    return fn("square", x)


def divide(a: object, b: object) -> Expr:
    """a / b: by a 1×1 expression b, the product recip(b)·a; otherwise entrywise, a ⊙ recip(b)."""
    ea, eb = as_expr(a), as_expr(b)
    if eb.is_scalar:
        return MatMul(Fn("recip", eb), ea) if not ea.is_scalar else MatMul(ea, Fn("recip", eb))
    return Hadamard(ea, Fn("recip", eb))


def softmax(x: object) -> Softmax:
    """softmax of a column vector, or row-wise softmax of a matrix (see :class:`Softmax`)."""
    return Softmax(as_expr(x))


def inv(x: object) -> Inv:
    """M⁻¹ of a square matrix M (see :class:`Inv`)."""
    return Inv(as_expr(x))


def det(x: object) -> Det:
    """det M of a square matrix M."""
    return Det(as_expr(x))


def logdet(x: object) -> LogDet:
    """log det M of a square matrix M (defined where det M > 0)."""
    return LogDet(as_expr(x))

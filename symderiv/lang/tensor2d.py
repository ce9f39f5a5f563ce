"""Images with channels: the language of 2-D correlation and convolution layers.

A tensor here has **channel legs** (named channel dimensions such as C or O) and two **spatial
axes** with lengths that are integer-linear forms in the layer's size parameters (or ∞ for an
image on ℤ², finitely supported). A finite tensor is identified with its zero-extension to ℤ², so
an entry outside [0, n₁) × [0, n₂) is 0.

Node                 meaning                                                    channel legs
-------------------  ---------------------------------------------------------  ------------
TSym                 a tensor symbol x[c, i, j], w[o, c, p, q], Δx, dL/dy       declared
TAdd, TScale         sums and rational multiples                                common
TExt(a)              E a: a finite image as an image on ℤ² (same entries)        legs(a)
TWindow(a, o, L)     (R a)[·, i, j] = a[·, o₁ + i, o₂ + j], 0 ≤ i < L₁, 0 ≤ j < L₂ legs(a)
Corr2(a, K, m, s)    y[b, i, j] = Σ_{c,p,q} a[c, s₁i + o₁ + p, s₂j + o₂ + q] K[b, c, p, q]  (B,) from (A,), (B, A);
                     a batch leg is carried: a: (N, A) gives (N, B)
Conv2(a, K, m, s)    y[b, i, j] = Σ_{c,p,q} a[c, s₁i + o₁ − p, s₂j + o₂ − q] K[b, c, p, q]
ChanCorr(a, b, m)    y[β, α, i, j] = Σ_{u,v} a[α, i + o₁ + u, j + o₂ + v] b[β, u, v]       (B, A) from (A,), (B,);
                     with a batch leg (N, A), (N, B) the batch is summed
Rot180(a)            a[·, k₁−1−p, k₂−1−q]: the 180° rotation (both axes flipped)   legs(a)
Flip(a, axis)        one axis flipped (a wrong 'rotation' the tests use)          legs(a)
SwapHW(a)            a[·, q, p]: the spatial transpose (not a rotation)            legs(a)
ChanT(a)             a[c, o, ·] = a[o, c, ·]: the two channel legs swapped         reversed
Up(a, s)             (U_s a)[·, s₁i, s₂j] = a[·, i, j], 0 elsewhere (upsampling)    legs(a)
Inner2(a, b)         ⟨a, b⟩ = Σ over every leg and both axes of a·b (a scalar)     —

Modes are windows of the operator on ℤ² (per axis, inputs of lengths n ≥ k, stride s), as deep
learning libraries compute them (PyTorch's ``conv2d`` is Corr2):

* correlation: valid (o, L) = (0, ⌊(n − k)/s⌋ + 1); full (−(k − 1), n + k − 1); same (−⌊(k − 1)/2⌋, n),
  PyTorch's ``padding='same'`` (for even k the extra zero goes on the right/bottom);
* convolution: valid (k − 1, n − k + 1); full (0, n + k − 1); same (⌊k/2⌋, n), so that
  conv_same(a, K) = corr_same(a, rot180 K).

Shapes are checked on construction; a tensor's ``shape`` (of :class:`Expr`) is a placeholder
((∞, ∞) for tensors, 1 × 1 for ⟨a, b⟩), the real shape is ``chans`` and ``ext``.
"""
from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import sympy

from symderiv.errors import ShapeError
from symderiv.lang.operators import INF, Expr

Lin = Any  # a SymPy integer-linear form (SymPy has no type information)
Printer = Callable[[Expr], str]

MODES2 = ("valid", "full", "same")
_TENSOR_SHAPE = (INF, INF)
_SCALAR_SHAPE = (sympy.Integer(1), sympy.Integer(1))


def size(name: str) -> sympy.Symbol:
    """A size parameter: a positive integer symbol (integer, so that ⌊(s·m + r)/s⌋ simplifies)."""
    return sympy.Symbol(name, integer=True, positive=True)


def _lin(x: object) -> Lin:
    return sympy.expand(sympy.sympify(x))


def _same(a: Lin, b: Lin) -> bool:
    if a is INF or b is INF:
        return a is b
    return bool(sympy.expand(a - b) == 0)


def window_of(op: str, mode: str, n: Lin, k: Lin, s: int = 1, d: int = 1) -> tuple[Lin, Lin]:
    """(offset, length) of one axis of a finite-mode operator within the operator on ℤ; a kernel dilated by d
    acts as one of length d(k − 1) + 1."""
    if s != 1 and mode != "valid":
        raise ShapeError(f"a stride is supported in valid mode only, not {mode!r}")
    k = d * (k - 1) + 1
    if op == "corr":
        o = {"valid": sympy.Integer(0), "full": -(k - 1), "same": -sympy.floor((k - 1) / sympy.Integer(2))}[mode]
    else:
        o = {"valid": k - 1, "full": sympy.Integer(0), "same": sympy.floor(k / sympy.Integer(2))}[mode]
    L = {"valid": sympy.floor((n - k) / sympy.Integer(s)) + 1, "full": n + k - 1, "same": n}[mode]
    return _lin(o), _lin(L)


class TensorExpr(Expr):
    """Base of the 2-D language: ``chans`` (channel dimension names, one per leg) and ``ext``
    (the two spatial lengths, or ∞ on ℤ²)."""

    __slots__ = ("chans", "ext")
    chans: tuple[str, ...]
    ext: tuple[Lin, Lin]

    def render(self, p: Printer, tex: bool) -> str:
        raise NotImplementedError

    @property
    def on_z(self) -> bool:
        return self.ext[0] is INF


def _check_same_shape(a: TensorExpr, b: TensorExpr, what: str) -> None:
    if a.chans != b.chans or not (_same(a.ext[0], b.ext[0]) and _same(a.ext[1], b.ext[1])):
        raise ShapeError(f"{what} needs equal shapes, got {shape_text(a)} and {shape_text(b)}")


def shape_text(a: TensorExpr) -> str:
    return "[" + ", ".join(list(a.chans) + [str(e) for e in a.ext]) + "]"


def _tensor(x: object, what: str) -> TensorExpr:
    if not isinstance(x, TensorExpr) or isinstance(x, Inner2):
        raise ShapeError(f"{what} takes images with channels, got {x!r}")
    return x


class TSym(TensorExpr):
    """A tensor symbol. ``kind``: plain, delta (Δx) or grad (dL/dy)."""

    __slots__ = ("name", "kind")

    def __init__(self, name: str, chans: tuple[str, ...], ext: tuple[object, object], kind: str = "plain") -> None:
        if kind not in ("plain", "delta", "grad"):
            raise ShapeError(f"unknown symbol kind {kind!r}")
        self.name, self.kind = name, kind
        self.chans = tuple(chans)
        self.ext = (_lin(ext[0]), _lin(ext[1]))
        self.shape = _TENSOR_SHAPE

    def _make_key(self) -> tuple[Any, ...]:
        return ("TSym", self.name, self.kind, self.chans, str(self.ext[0]), str(self.ext[1]))

    def render(self, p: Printer, tex: bool) -> str:
        if self.kind == "delta":
            return (r"\Delta " if tex else "Δ") + self.name
        if self.kind == "grad":
            return r"\frac{dL}{d" + self.name + "}" if tex else f"dL/d{self.name}"
        return self.name


def delta(s: TSym) -> TSym:
    return TSym(s.name, s.chans, s.ext, "delta")


def grad(s: TSym) -> TSym:
    return TSym(s.name, s.chans, s.ext, "grad")


class TAdd(TensorExpr):
    __slots__ = ("args",)

    def __init__(self, *args: TensorExpr) -> None:
        if not args:
            raise ValueError("TAdd needs at least one term")
        for a in args[1:]:
            _check_same_shape(args[0], a, "a sum")
        self.args = tuple(args)
        self.chans, self.ext = args[0].chans, args[0].ext
        self.shape = args[0].shape

    @property
    def children(self) -> tuple[Expr, ...]:
        return self.args

    def with_children(self, *children: Expr) -> Expr:
        return TAdd(*[_tensor(c, "a sum") for c in children])

    def _make_key(self) -> tuple[Any, ...]:
        return ("TAdd",) + tuple(a.key() for a in self.args)

    def render(self, p: Printer, tex: bool) -> str:
        out = p(self.args[0])
        for a in self.args[1:]:
            t = p(a)
            out += (" - " + t[1:].lstrip()) if t.startswith("-") else (" + " + t)
        return out


class TScale(TensorExpr):
    __slots__ = ("coef", "arg")

    def __init__(self, coef: int | Fraction, arg: TensorExpr) -> None:
        self.coef, self.arg = Fraction(coef), arg
        self.chans, self.ext, self.shape = arg.chans, arg.ext, arg.shape

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)

    def with_children(self, *children: Expr) -> Expr:
        return TScale(self.coef, _tensor(children[0], "a multiple"))

    def _make_key(self) -> tuple[Any, ...]:
        return ("TScale", self.coef, self.arg.key())

    def render(self, p: Printer, tex: bool) -> str:
        inner = p(self.arg)
        if isinstance(self.arg, TAdd):
            inner = (r"\left(" + inner + r"\right)") if tex else f"({inner})"
        if self.coef == -1:
            return "-" + inner
        c = str(self.coef) if self.coef.denominator == 1 else (
            rf"\frac{{{self.coef.numerator}}}{{{self.coef.denominator}}}" if tex else str(self.coef))
        return c + " " + inner


class _Unary2(TensorExpr):
    __slots__ = ("arg",)
    arg: TensorExpr

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)

    def _make_key(self) -> tuple[Any, ...]:
        return (type(self).__name__, self.arg.key())

    def with_children(self, *children: Expr) -> Expr:
        return type(self)(_tensor(children[0], type(self).__name__))  # type: ignore[call-arg]


def _wrap(p: Printer, a: TensorExpr, tex: bool) -> str:
    t = p(a)
    if isinstance(a, (TSym, TExt, Rot180, Flip, SwapHW, ChanT, Up, TWindow, TShift)):
        return t
    return (r"\left(" + t + r"\right)") if tex else f"({t})"


class TExt(_Unary2):
    """E a: the zero-extension of a finite image to ℤ² (entries outside its box are 0)."""

    def __init__(self, arg: TensorExpr) -> None:
        arg = _tensor(arg, "zero-extension")
        if arg.on_z:
            raise ShapeError(f"{arg!r} is already an image on ℤ²")
        self.arg, self.chans, self.ext, self.shape = arg, arg.chans, (INF, INF), _TENSOR_SHAPE

    def render(self, p: Printer, tex: bool) -> str:
        return (r"E\," if tex else "E ") + _wrap(p, self.arg, tex)


class _Spatial(_Unary2):
    """An operator on the spatial axes of a finite image that keeps its shape."""

    def __init__(self, arg: TensorExpr) -> None:
        arg = _tensor(arg, type(self).__name__)
        if arg.on_z:
            raise ShapeError(f"{type(self).__name__} acts on finite images")
        self.arg, self.chans, self.ext, self.shape = arg, arg.chans, arg.ext, arg.shape


class Rot180(_Spatial):
    """rot a[·, p, q] = a[·, k₁ − 1 − p, k₂ − 1 − q]: both axes flipped (a 180° rotation)."""

    def render(self, p: Printer, tex: bool) -> str:
        return (r"\operatorname{rot}_{180}" if tex else "rot180") + "(" + p(self.arg) + ")"


class SwapHW(_Spatial):
    """a[·, q, p]: the spatial axes exchanged (needs a square kernel box to be well typed)."""

    def __init__(self, arg: TensorExpr) -> None:
        super().__init__(arg)
        self.ext = (self.arg.ext[1], self.arg.ext[0])

    def render(self, p: Printer, tex: bool) -> str:
        return _wrap(p, self.arg, tex) + (r"^{\top_{hw}}" if tex else "^Thw")


class Flip(_Spatial):
    """One spatial axis flipped: a[·, k₁ − 1 − p, q] (axis 0) or a[·, p, k₂ − 1 − q] (axis 1)."""

    __slots__ = ("axis",)

    def __init__(self, arg: TensorExpr, axis: int = 0) -> None:
        super().__init__(arg)
        if axis not in (0, 1):
            raise ShapeError("the axis of a flip is 0 or 1")
        self.axis = axis

    def _make_key(self) -> tuple[Any, ...]:
        return ("Flip", self.axis, self.arg.key())

    def with_children(self, *children: Expr) -> Expr:
        return Flip(_tensor(children[0], "flip"), self.axis)

    def render(self, p: Printer, tex: bool) -> str:
        name = rf"\operatorname{{flip}}_{{{self.axis + 1}}}" if tex else f"flip{self.axis + 1}"
        return name + "(" + p(self.arg) + ")"


class ChanT(_Unary2):
    """The two channel legs of a kernel exchanged: ChanT(w)[c, o, ·] = w[o, c, ·]."""

    def __init__(self, arg: TensorExpr) -> None:
        arg = _tensor(arg, "channel transpose")
        if len(arg.chans) != 2:
            raise ShapeError(f"a channel transpose needs two channel legs, {arg!r} has {len(arg.chans)}")
        self.arg, self.chans, self.ext, self.shape = arg, (arg.chans[1], arg.chans[0]), arg.ext, arg.shape

    def render(self, p: Printer, tex: bool) -> str:
        return _wrap(p, self.arg, tex) + (r"^{\top_{\mathrm{ch}}}" if tex else "^Tch")


class Up(TensorExpr):
    """U_s a: upsampling by the strides (s₁, s₂), zeros in between; length s(n − 1) + 1."""

    __slots__ = ("arg", "stride")

    def __init__(self, arg: TensorExpr, stride: tuple[int, int]) -> None:
        arg = _tensor(arg, "upsampling")
        if any(s < 1 for s in stride):
            raise ShapeError("strides are positive integers")
        self.arg, self.stride, self.chans, self.shape = arg, tuple(stride), arg.chans, arg.shape
        self.ext = tuple(e if e is INF else _lin(s * (e - 1) + 1) for e, s in zip(arg.ext, stride))

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)

    def with_children(self, *children: Expr) -> Expr:
        return Up(_tensor(children[0], "upsampling"), self.stride)  # type: ignore[arg-type]

    def _make_key(self) -> tuple[Any, ...]:
        return ("Up", self.stride, self.arg.key())

    def render(self, p: Printer, tex: bool) -> str:
        s = ",".join(map(str, self.stride))
        return (rf"U_{{{s}}}" if tex else f"U{s}") + "(" + p(self.arg) + ")"


class TShift(TensorExpr):
    """τ_d a: an image on ℤ² delayed by d = (d₁, d₂), (τ_d a)[·, i, j] = a[·, i − d₁, j − d₂]."""

    __slots__ = ("arg", "by")

    def __init__(self, arg: TensorExpr, by: tuple[object, object]) -> None:
        arg = _tensor(arg, "shift")
        if not arg.on_z:
            raise ShapeError("a shift acts on images on ℤ² (zero-extend finite ones with E)")
        self.arg, self.chans, self.ext, self.shape = arg, arg.chans, arg.ext, arg.shape
        self.by = (_lin(by[0]), _lin(by[1]))

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)

    def with_children(self, *children: Expr) -> Expr:
        return TShift(_tensor(children[0], "shift"), self.by)

    def _make_key(self) -> tuple[Any, ...]:
        return ("TShift", tuple(map(str, self.by)), self.arg.key())

    def render(self, p: Printer, tex: bool) -> str:
        d = ", ".join((sympy.latex(x) if tex else str(x)) for x in self.by)
        return (rf"\tau_{{({d})}}\," if tex else f"τ({d}) ") + _wrap(p, self.arg, tex)


class TWindow(TensorExpr):
    """R_{[o, o+L)} a per axis: entries o + i (0 ≤ i < L) of an image, re-indexed from 0."""

    __slots__ = ("arg", "offset", "length")

    def __init__(self, arg: TensorExpr, offset: tuple[object, object], length: tuple[object, object]) -> None:
        arg = _tensor(arg, "restriction")
        self.arg, self.chans, self.shape = arg, arg.chans, _TENSOR_SHAPE
        self.offset = (_lin(offset[0]), _lin(offset[1]))
        self.length = (_lin(length[0]), _lin(length[1]))
        self.ext = self.length

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.arg,)

    def with_children(self, *children: Expr) -> Expr:
        return TWindow(_tensor(children[0], "restriction"), self.offset, self.length)

    def _make_key(self) -> tuple[Any, ...]:
        return ("TWindow", tuple(map(str, self.offset)), tuple(map(str, self.length)), self.arg.key())

    def render(self, p: Printer, tex: bool) -> str:
        def rng(o: Lin, L: Lin) -> str:
            last = sympy.expand(o + L - 1)
            return (f"[{sympy.latex(o)},\\, {sympy.latex(last)}]" if tex else f"[{o}..{last}]")
        box = (r"\times " if tex else "×").join(rng(o, L) for o, L in zip(self.offset, self.length))
        if tex:
            return rf"R_{{{box}}}" + r"\left(" + p(self.arg) + r"\right)"
        return f"R{box}(" + p(self.arg) + ")"


class BilinearOp(TensorExpr):
    """Base of the bilinear operators: two operands, a mode (None on ℤ²) and strides."""

    __slots__ = ("left", "right", "mode", "stride", "dilation", "_win")
    op = ""
    left: TensorExpr
    right: TensorExpr

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)

    def _make_key(self) -> tuple[Any, ...]:
        return (type(self).__name__, self.mode, self.stride, self.dilation, self.left.key(), self.right.key())

    def with_children(self, *children: Expr) -> Expr:
        return type(self)(_tensor(children[0], self.op), _tensor(children[1], self.op),  # type: ignore[call-arg]
                          self.mode, self.stride, self.dilation)

    def _setup(self, a: TensorExpr, b: TensorExpr, mode: str | None, stride: tuple[int, int],
               chans: tuple[str, ...], dilation: tuple[int, int] = (1, 1)) -> None:
        self.left, self.right, self.mode, self.stride = a, b, mode, tuple(stride)
        self.dilation = tuple(dilation)
        if any(int(v) < 1 for v in self.stride + self.dilation):
            raise ShapeError("strides and dilations are positive integers")
        self.chans, self.shape = chans, _TENSOR_SHAPE
        if mode is None:
            if not (a.on_z and b.on_z):
                raise ShapeError("an operator on ℤ² needs images on ℤ² (zero-extend finite ones with E)")
            if stride != (1, 1):
                raise ShapeError("strides need a finite mode")
            self.ext = (INF, INF)
            return
        if mode not in MODES2:
            raise ShapeError(f"unknown mode {mode!r}; use one of {', '.join(MODES2)}")
        if a.on_z or b.on_z:
            raise ShapeError(f"mode {mode!r} needs finite images")
        self._win = tuple(window_of("conv" if isinstance(self, Conv2) else "corr", mode, a.ext[ax], b.ext[ax],
                                    self.stride[ax], self.dilation[ax]) for ax in (0, 1))
        self.ext = (self._win[0][1], self._win[1][1])

    def window(self, axis: int) -> tuple[Lin, Lin]:
        """(offset, length) of this operator's window on ``axis`` within the operator on ℤ."""
        assert self.mode is not None
        return self._win[axis]

    def _sub(self, tex: bool) -> str:
        parts = []
        if self.mode:
            parts.append(rf"\mathrm{{{self.mode}}}" if tex else self.mode)
        if self.stride != (1, 1):
            parts.append(("s=" if not tex else r"s=") + ",".join(map(str, self.stride)))
        if self.dilation != (1, 1):
            parts.append("d=" + ",".join(map(str, self.dilation)))
        if not parts:
            return ""
        return ("_{" + r",\,".join(parts) + "}") if tex else ("_" + ",".join(parts))


class Corr2(BilinearOp):
    """y[b, i, j] = Σ_{c,p,q} a[c, s₁i + o₁ + p, s₂j + o₂ + q] K[b, c, p, q] (PyTorch's conv2d)."""

    op = "corr2"

    def __init__(self, a: TensorExpr, K: TensorExpr, mode: str | None = None, stride: tuple[int, int] = (1, 1),
                 dilation: tuple[int, int] = (1, 1)) -> None:
        a, K = _tensor(a, "correlation"), _tensor(K, "correlation")
        if not a.chans or len(K.chans) != 2 or K.chans[1] != a.chans[-1]:
            raise ShapeError(f"correlation needs an image [(N,) A, ·, ·] and a kernel [B, A, ·, ·], got "
                             f"{shape_text(a)} and {shape_text(K)}")
        self._setup(a, K, mode, stride, a.chans[:-1] + (K.chans[0],), dilation)

    def render(self, p: Printer, tex: bool) -> str:
        sym = r" \star" if tex else " ⋆"
        return _wrap(p, self.left, tex) + sym + self._sub(tex) + " " + _wrap(p, self.right, tex)


class Conv2(BilinearOp):
    """y[b, i, j] = Σ_{c,p,q} a[c, s₁i + o₁ − p, s₂j + o₂ − q] K[b, c, p, q] (true convolution)."""

    op = "conv2"

    def __init__(self, a: TensorExpr, K: TensorExpr, mode: str | None = None, stride: tuple[int, int] = (1, 1),
                 dilation: tuple[int, int] = (1, 1)) -> None:
        a, K = _tensor(a, "convolution"), _tensor(K, "convolution")
        if not a.chans or len(K.chans) != 2 or K.chans[1] != a.chans[-1]:
            raise ShapeError(f"convolution needs an image [(N,) A, ·, ·] and a kernel [B, A, ·, ·], got "
                             f"{shape_text(a)} and {shape_text(K)}")
        self._setup(a, K, mode, stride, a.chans[:-1] + (K.chans[0],), dilation)

    def render(self, p: Printer, tex: bool) -> str:
        return _wrap(p, self.left, tex) + (r" \ast" if tex else " ∗") + self._sub(tex) + " " + _wrap(p, self.right, tex)


class ChanCorr(BilinearOp):
    """y[β, α, i, j] = Σ_{u,v} a[α, i + o₁ + u, j + o₂ + v] b[β, u, v]: every channel pair correlated."""

    op = "chancorr"

    def __init__(self, a: TensorExpr, b: TensorExpr, mode: str | None = None, stride: tuple[int, int] = (1, 1),
                 dilation: tuple[int, int] = (1, 1)) -> None:
        a, b = _tensor(a, "channel-pair correlation"), _tensor(b, "channel-pair correlation")
        if not a.chans or len(a.chans) != len(b.chans) or a.chans[:-1] != b.chans[:-1]:
            raise ShapeError(f"channel-pair correlation needs two images [(N,) A, ·, ·] and [(N,) B, ·, ·], got "
                             f"{shape_text(a)} and {shape_text(b)}")
        self._setup(a, b, mode, stride, (b.chans[-1], a.chans[-1]), dilation)

    def render(self, p: Printer, tex: bool) -> str:
        sym = r" \mathbin{\bar\star}" if tex else " ⋆ch"
        return _wrap(p, self.left, tex) + sym + self._sub(tex) + " " + _wrap(p, self.right, tex)


class Inner2(TensorExpr):
    """⟨a, b⟩ = Σ over every channel leg and both spatial axes of a·b."""

    __slots__ = ("left", "right")

    def __init__(self, a: TensorExpr, b: TensorExpr) -> None:
        a, b = _tensor(a, "an inner product"), _tensor(b, "an inner product")
        _check_same_shape(a, b, "an inner product")
        self.left, self.right = a, b
        self.chans, self.ext, self.shape = (), (sympy.Integer(1), sympy.Integer(1)), _SCALAR_SHAPE

    @property
    def children(self) -> tuple[Expr, ...]:
        return (self.left, self.right)

    def with_children(self, *children: Expr) -> Expr:
        return Inner2(_tensor(children[0], "an inner product"), _tensor(children[1], "an inner product"))

    def _make_key(self) -> tuple[Any, ...]:
        return ("Inner2", self.left.key(), self.right.key())

    def render(self, p: Printer, tex: bool) -> str:
        if tex:
            return r"\left\langle " + p(self.left) + ", " + p(self.right) + r" \right\rangle"
        return "⟨" + p(self.left) + ", " + p(self.right) + "⟩"


def tsymbols(e: Expr) -> list[TSym]:
    """The distinct tensor symbols (by name and kind), in order of first appearance."""
    seen: dict[tuple[str, str], TSym] = {}
    for n in e.walk():
        if isinstance(n, TSym):
            seen.setdefault((n.name, n.kind), n)
    return list(seen.values())


def tsubstitute(e: Expr, name: str, kind: str, by: TensorExpr) -> Expr:
    """``e`` with the symbol (name, kind) replaced by ``by``."""
    if isinstance(e, TSym) and e.name == name and e.kind == kind:
        return by
    if not e.children:
        return e
    return e.with_children(*[tsubstitute(c, name, kind, by) for c in e.children])


def has_tdelta(e: Expr) -> bool:
    return any(isinstance(n, TSym) and n.kind == "delta" for n in e.walk())


def is_tensor_expr(e: Expr) -> bool:
    return isinstance(e, TensorExpr)

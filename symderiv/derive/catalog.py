"""The built-in catalog: the layers of the notes, each with the variables it can be differentiated by.

Shapes follow the notes: x ∈ R^n, w ∈ R^{m×n}, y ∈ R^m. (The notes' MSE section declares the
label y* ∈ R^m while subtracting it from x ∈ R^n; the catalog uses one dimension n for both.)
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING

from symderiv.errors import SymderivError

if TYPE_CHECKING:
    from symderiv.derive.derivation import Derivation
    from symderiv.kernel.decide import Hypothesis
    from symderiv.lang.operators import Expr, Sym


@dataclass(frozen=True)
class Entry:
    """What ``symderiv list`` shows of a layer: known without building any expression, so listing
    the catalog (and naming an unknown layer) does not import SymPy."""

    name: str
    summary: str
    wrt: tuple[str, ...]
    modes: tuple[str, ...] = ()


_MODES = ("infinite", "valid", "full", "same")
#: The catalog's names, summaries and variables, in listing order; :data:`CATALOG` builds its
#: layers from these (summary and variables are written only here).
ENTRIES: tuple[Entry, ...] = (
    Entry("mse", "L = ½‖x − y*‖² = ½(x − y*)ᵀ(x − y*)", ("x",)),
    Entry("linear", "y = w x", ("x", "w")),
    Entry("add", "y = x + w", ("x", "w")),
    Entry("correlation1d", "y = x ⊙ w, (x ⊙ w)_i = Σ_j x_{i+j} w_j", ("x", "w"), _MODES),
    Entry("convolution1d", "y = x ⊗ w, (x ⊗ w)_i = Σ_j x_{i−j} w_j", ("x", "w"), _MODES),
    Entry("sigmoid", "y = σ(x) entrywise, L = ⟨g, y⟩", ("x",)),
    Entry("tanh", "y = tanh(x) entrywise, L = ⟨g, y⟩", ("x",)),
    Entry("relu", "y = relu(x) entrywise, L = ⟨g, y⟩", ("x",)),
    Entry("dense-sigmoid", "y = σ(W x + b), L = ⟨g, y⟩", ("x", "W", "b")),
    Entry("softmax-cross-entropy", "L = −⟨y, log softmax(z)⟩ under 1ᵀy = 1", ("z",)),
    Entry("logistic-regression", "L = ⟨1, softplus(Xw)⟩ − ⟨y, Xw⟩", ("w",)),
    Entry("ridge-regression", "L = ½‖Xw − t‖² + (λ/2)‖w‖²", ("w",)),
    Entry("batched-linear", "Y = XW + 1bᵀ", ("X", "W", "b")),
    Entry("mlp2", "y = W_2 relu(W_1 x + b_1) + b_2", ("W_1", "W_2")),
    Entry("layer-norm", "y = (x − μ1)/σ, μ = 1ᵀx/n, σ = √(‖x − μ1‖²/n + ε)", ("x",)),
    Entry("attention", "Y = softmax_row(QKᵀ/√d) V", ("V", "Q", "K")),
    Entry("log-det", "L = log det X, under det X > 0", ("X",)),
    Entry("determinant", "L = det X, under X invertible", ("X",)),
    Entry("trace-inverse", "L = tr(A X⁻¹ B)", ("X",)),
    Entry("gaussian-nll", "L = ½ log det Σ + ½ (x − μ)ᵀ Σ⁻¹ (x − μ), Σ = Σᵀ, det Σ > 0", ("mu", "Sigma")),
    Entry("conv2d", "y[o,i,j] = Σ_{c,p,q} x[c, s·i+p, s·j+q] w[o,c,p,q] (PyTorch's conv2d)", ("x", "w"),
          ("valid", "full", "same", "valid-stride2", "valid-dilation2")),
    Entry("conv2d-batch", "y[n,o,i,j] = Σ_{c,p,q} x[n,c,i+p,j+q] w[o,c,p,q] (a batch of N images)", ("x", "w"),
          ("valid", "full", "same")),
)
_ENTRY = {e.name: e for e in ENTRIES}


def _variable(layer: str, options: tuple[str, ...], wrt: str | None, mode: str | None) -> str:
    """The variable to differentiate by (the first one by default), for a layer without modes."""
    if mode not in (None, "infinite"):
        raise SymderivError(f"layer {layer!r} has no modes; --mode applies to correlation1d and convolution1d")
    wrt = wrt or options[0]
    if wrt not in options:
        raise SymderivError(
            f"layer {layer!r} has no variable {wrt!r} to differentiate by; choose one of {', '.join(options)}"
        )
    return wrt


@dataclass(frozen=True)
class Layer:
    name: str
    title: str
    output: Sym
    forward: Expr
    wrt: tuple[str, ...]
    is_loss: bool = False
    descriptions: dict = field(default_factory=dict)
    summary: str = ""

    def derive(self, wrt: str | None = None, check: bool = True, mode: str | None = None) -> Derivation:
        wrt = _variable(self.name, self.wrt, wrt, mode)
        sym = next(s for s in self.forward.symbols() if s.name == wrt)
        what = "input gradient (backward pass)" if wrt == "x" else "weight gradient (gradient pass)"
        from symderiv.derive.engine import derive

        return derive(
            self.output, self.forward, sym,
            title=f"{self.title}: {what}, d{'L'}/d{wrt}",
            is_loss=self.is_loss, descriptions=self.descriptions, name=self.name, check=check,
        )


def _layers() -> dict[str, Layer]:
    from symderiv.lang.operators import Add, MatMul, Scale, Sym, Transpose

    x = Sym("x", "n", 1)
    label = Sym("y*", "n", 1)
    L = Sym("L", 1, 1)
    w = Sym("w", "m", "n")
    y = Sym("y", "m", 1)
    b = Sym("w", "n", 1)
    yn = Sym("y", "n", 1)
    diff = Add(x, Scale(-1, label))
    common = {"dL/dy": "upstream gradient of the loss", "L": "scalar loss"}
    return {
        "mse": Layer(
            "mse", "MSE loss", L, Scale(Fraction(1, 2), MatMul(Transpose(diff), diff)), _ENTRY["mse"].wrt, True,
            {"x": "input (prediction)", "y*": "label", "L": "mean squared loss ½‖x − y*‖²"},
            _ENTRY["mse"].summary,
        ),
        "linear": Layer(
            "linear", "Linear layer", y, MatMul(w, x), _ENTRY["linear"].wrt, False,
            {"x": "input", "w": "weight matrix", "y": "output", **common},
            _ENTRY["linear"].summary,
        ),
        "add": Layer(
            "add", "Add layer", yn, Add(x, b), _ENTRY["add"].wrt, False,
            {"x": "input", "w": "weight (bias) vector", "y": "output", **common},
            _ENTRY["add"].summary,
        ),
    }


@dataclass(frozen=True)
class SequenceLayer:
    """y = x ⊙ w (correlation) or y = x ⊗ w (convolution), on ℤ or with a finite mode."""

    name: str
    op: str
    summary: str
    wrt: tuple[str, ...] = ("x", "w")
    modes: tuple[str, ...] = ("infinite", "valid", "full", "same")

    def derive(self, wrt: str | None = None, check: bool = True, mode: str | None = None) -> Derivation:
        from symderiv.derive.engine import derive_sequence

        wrt = wrt or self.wrt[0]
        mode = mode or "infinite"
        if wrt not in self.wrt:
            raise SymderivError(
                f"layer {self.name!r} has no variable {wrt!r} to differentiate by; choose one of {', '.join(self.wrt)}"
            )
        if mode not in self.modes:
            raise SymderivError(f"unknown mode {mode!r} for {self.name}; choose one of {', '.join(self.modes)}")
        d = derive_sequence(self.op, None if mode == "infinite" else mode, wrt, check=check)
        return d


@dataclass(frozen=True)
class ChainLayer:
    """A layer with entrywise functions, constants or scalar coefficients (issue 10), derived by
    the backward chain (:func:`symderiv.derive.engine.derive_backward`).

    ``restate`` is an equal form of the forward definition the derivation linearises instead (checked
    as a step); ``present`` maps a variable to (rule, gradient) rewrites into the usual form of the
    gradient (checked as steps); ``hypotheses`` are the conditions the derivation is stated under."""

    name: str
    title: str
    output: Sym
    forward: Expr
    wrt: tuple[str, ...]
    summary: str
    is_loss: bool = False
    descriptions: dict = field(default_factory=dict)
    hypotheses: tuple[Hypothesis, ...] = ()
    restate: Expr | None = None
    present: dict = field(default_factory=dict)
    #: named intermediates (name, definition), shown in the steps and expanded for every check
    abbreviations: tuple = ()

    def symbol(self, name: str) -> Sym:
        return next(s for s in self.forward.symbols() if s.name == name)

    def derive(self, wrt: str | None = None, check: bool = True, mode: str | None = None) -> Derivation:
        from symderiv.derive.engine import derive_backward

        wrt = _variable(self.name, self.wrt, wrt, mode)
        from symderiv.derive.derivation import hypothesis_phrase

        under = ""
        if self.hypotheses:
            under = " (under " + " and ".join(hypothesis_phrase(h) for h in self.hypotheses) + ")"
        d = derive_backward(
            self.output, self.forward, self.symbol(wrt),
            title=f"{self.title}: gradient with respect to {wrt}, dL/d{wrt}{under}",
            is_loss=self.is_loss, descriptions=self.descriptions, name=self.name, check=False,
            hypotheses=self.hypotheses, restate=self.restate,
            present=[(rule, target) for rule, target in self.present.get(wrt, [])],
            abbreviations=list(self.abbreviations),
        )
        return d.check() if check else d


def _chain_layers() -> dict[str, ChainLayer]:
    import sympy

    from symderiv.kernel.decide import Hypothesis
    from symderiv.lang.operators import (
        Add,
        Det,
        Diag,
        DimScalar,
        Fn,
        Hadamard,
        Inner,
        Inv,
        LogDet,
        MatMul,
        Ones,
        Scale,
        Sym,
        Trace,
        Transpose,
        divide,
        grad_of,
        substitute,
    )

    x, y = Sym("x", "n", 1), Sym("y", "n", 1)
    L = Sym("L", 1, 1)
    up = {"x": "input", "y": "output", "dL/dy": "upstream gradient of the loss"}
    out: dict[str, ChainLayer] = {}
    for fname, title, text in (("sigmoid", "Sigmoid layer", "σ"), ("tanh", "Tanh layer", "tanh"),
                               ("relu", "ReLU layer", "relu")):
        out[fname] = ChainLayer(fname, title, y, Fn(fname, x), ("x",), f"y = {text}(x) entrywise, L = ⟨g, y⟩",
                                descriptions=dict(up))

    W, bias, gy = Sym("W", "m", "n"), Sym("b", "m", 1), Sym("y", "m", 1)
    out["dense-sigmoid"] = ChainLayer(
        "dense-sigmoid", "Dense layer with sigmoid", gy, Fn("sigmoid", Add(MatMul(W, x), bias)), ("x", "W", "b"),
        "y = σ(W x + b), L = ⟨g, y⟩",
        descriptions={"x": "input", "W": "weight matrix", "b": "bias", "y": "output",
                      "dL/dy": "upstream gradient of the loss", "z": "pre-activation"},
        abbreviations=((Sym("z", "m", 1), Add(MatMul(W, x), bias)),),
    )

    # softmax + cross-entropy, with logits z and a label vector y that sums to 1
    z, lab = Sym("z", "n", 1), Sym("y", "n", 1)
    one = Ones("n", 1)
    e = Fn("exp", z)
    s = MatMul(Transpose(one), e)
    softmax = divide(e, s)
    out["softmax-cross-entropy"] = ChainLayer(
        "softmax-cross-entropy", "Softmax with cross-entropy", L, Scale(-1, Inner(lab, Fn("log", softmax))), ("z",),
        "L = −⟨y, log softmax(z)⟩ under 1ᵀy = 1", is_loss=True,
        descriptions={"z": "logits", "y": "label distribution (sums to 1)", "L": "cross-entropy loss",
                      "p": "softmax(z)"},
        hypotheses=(Hypothesis("sums-to", lab),),
        restate=Add(Scale(-1, Inner(lab, z)), MatMul(MatMul(Transpose(one), lab), Fn("log", s))),
        present={"z": [("hypothesis", Add(softmax, Scale(-1, lab)))]},
        abbreviations=((Sym("p", "n", 1), softmax),),
    )

    # logistic regression: L = Σ softplus(Xw) − yᵀXw, the negative log-likelihood with labels in {0, 1}
    X, w, t = Sym("X", "N", "d"), Sym("w", "d", 1), Sym("y", "N", 1)
    Xw = MatMul(X, w)
    out["logistic-regression"] = ChainLayer(
        "logistic-regression", "Logistic regression", L,
        Add(Inner(Ones("N", 1), Fn("softplus", Xw)), Scale(-1, Inner(t, Xw))), ("w",),
        "L = ⟨1, softplus(Xw)⟩ − ⟨y, Xw⟩", is_loss=True,
        descriptions={"X": "data matrix (one example per row)", "w": "weights", "y": "labels",
                      "L": "negative log-likelihood −Σ[yᵢ log σ(xᵢᵀw) + (1 − yᵢ) log(1 − σ(xᵢᵀw))]"},
        present={"w": [("factoring", MatMul(Transpose(X), Add(Fn("sigmoid", Xw), Scale(-1, t))))]},
    )

    # ridge regression with a 1×1 symbol λ
    tgt, lam = Sym("t", "N", 1), Sym("lambda", 1, 1)
    r = Add(Xw, Scale(-1, tgt))
    out["ridge-regression"] = ChainLayer(
        "ridge-regression", "Ridge regression", L,
        Add(Scale(Fraction(1, 2), Inner(r, r)), Scale(Fraction(1, 2), MatMul(lam, Inner(w, w)))), ("w",),
        "L = ½‖Xw − t‖² + (λ/2)‖w‖²", is_loss=True,
        descriptions={"X": "data matrix", "w": "weights", "t": "targets", "lambda": "regularisation strength (scalar)",
                      "L": "penalised squared error"},
    )

    # batched linear layer with a broadcast bias
    Xb, W, b, Y = Sym("X", "B", "d"), Sym("W", "d", "k"), Sym("b", "k", 1), Sym("Y", "B", "k")
    out["batched-linear"] = ChainLayer(
        "batched-linear", "Batched linear layer with bias", Y, Add(MatMul(Xb, W), MatMul(Ones("B", 1), Transpose(b))),
        ("X", "W", "b"), "Y = XW + 1bᵀ",
        descriptions={"X": "batch of inputs (one per row)", "W": "weight matrix", "b": "bias, broadcast to every row",
                      "Y": "outputs", "dL/dY": "upstream gradient of the loss"},
    )

    # two-layer perceptron
    W1, b1, W2, b2 = Sym("W_1", "h", "n"), Sym("b_1", "h", 1), Sym("W_2", "k", "h"), Sym("b_2", "k", 1)
    o = Sym("y", "k", 1)
    out["mlp2"] = ChainLayer(
        "mlp2", "Two-layer perceptron (ReLU)", o, Add(MatMul(W2, Fn("relu", Add(MatMul(W1, x), b1))), b2),
        ("W_1", "W_2"), "y = W_2 relu(W_1 x + b_1) + b_2",
        descriptions={"x": "input", "W_1": "first-layer weights", "b_1": "first-layer bias",
                      "W_2": "second-layer weights", "b_2": "second-layer bias", "y": "output",
                      "dL/dy": "upstream gradient of the loss", "z_1": "first-layer pre-activation"},
        abbreviations=((Sym("z_1", "h", 1), Add(MatMul(W1, x), b1)),),
    )
    # layer norm (no gain or shift): y = (x − μ𝟏)/σ, μ = 𝟏ᵀx/n, σ = √(v + ε), v = ‖x − μ𝟏‖²/n
    xs, ys, eps = Sym("x", "n", 1), Sym("y", "n", 1), Sym("epsilon", 1, 1)
    ones_n = Ones("n", 1)
    inv_n = DimScalar(1 / sympy.Symbol("n"))
    mu, sd = Sym("mu", 1, 1), Sym("sigma", 1, 1)
    mu_def = MatMul(inv_n, MatMul(Transpose(ones_n), xs))
    centred = Add(xs, Scale(-1, MatMul(ones_n, mu)))
    sd_def = Fn("sqrt", Add(MatMul(inv_n, Inner(centred, centred)), eps))
    y_def = MatMul(Fn("recip", sd), centred)
    g = grad_of(ys)
    full = substitute(substitute(y_def, {"sigma": sd_def}), {"mu": mu_def})
    out["layer-norm"] = ChainLayer(
        "layer-norm", "Layer normalisation", ys, full, ("x",),
        "y = (x − μ1)/σ, μ = 1ᵀx/n, σ = √(‖x − μ1‖²/n + ε)",
        descriptions={"x": "input", "y": "normalised output", "epsilon": "stabiliser (scalar, > 0)",
                      "dL/dy": "upstream gradient of the loss", "mu": "mean of the entries of x",
                      "sigma": "standard deviation (with ε)"},
        hypotheses=(Hypothesis("positive", eps),),
        abbreviations=((mu, mu_def), (sd, sd_def), (ys, y_def)),
        present={"x": [("factoring", MatMul(Fn("recip", sd), Add(
            g, Scale(-1, MatMul(ones_n, MatMul(inv_n, MatMul(Transpose(ones_n), g)))),
            Scale(-1, MatMul(ys, MatMul(inv_n, Inner(ys, g)))))))]},
    )
    # single-head attention: Y = softmax_row(QKᵀ/√d) V, the row-wise softmax written with constants and
    # entrywise functions as P = diag(recip(exp(S)𝟏)) exp(S) (the kernel has no row-wise operator node)
    Q, K, V, Yo = Sym("Q", "T", "d"), Sym("K", "T", "d"), Sym("V", "T", "e"), Sym("Y", "T", "e")
    ones_t = Ones("T", 1)
    S, P = Sym("S", "T", "T"), Sym("P", "T", "T")
    S_def = MatMul(Fn("recip", Fn("sqrt", DimScalar(sympy.Symbol("d")))), Q, Transpose(K))
    P_def = MatMul(Diag(Fn("recip", MatMul(Fn("exp", S), ones_t))), Fn("exp", S))
    G = grad_of(Yo)
    dP = MatMul(G, Transpose(V))
    dS = Hadamard(P, Add(dP, Scale(-1, MatMul(MatMul(Hadamard(dP, P), ones_t), Transpose(ones_t)))))
    scale = Fn("recip", Fn("sqrt", DimScalar(sympy.Symbol("d"))))
    out["attention"] = ChainLayer(
        "attention", "Single-head attention", Yo,
        substitute(substitute(MatMul(P, V), {"P": P_def}), {"S": S_def}), ("V", "Q", "K"),
        "Y = softmax_row(QKᵀ/√d) V",
        descriptions={"Q": "queries", "K": "keys", "V": "values", "Y": "output", "dL/dY": "upstream gradient",
                      "S": "attention scores", "P": "row-wise softmax of S: diag(1/(exp(S)1)) exp(S)"},
        abbreviations=((S, S_def), (P, P_def)),
        present={"V": [("transpose-of-product", MatMul(Transpose(P), G))],
                 "Q": [("factoring", MatMul(scale, dS, K))],
                 "K": [("factoring", MatMul(scale, Transpose(dS), Q))]},
    )
    # inverses and determinants (the Matrix Cookbook's chapter 2)
    Xs, As, Bs = Sym("X", "n", "n"), Sym("A", "n", "n"), Sym("B", "n", "n")
    out["log-det"] = ChainLayer(
        "log-det", "Log-determinant", L, LogDet(Xs), ("X",), "L = log det X, under det X > 0", is_loss=True,
        descriptions={"X": "square matrix with a positive determinant", "L": "log det X"},
        hypotheses=(Hypothesis("detpos", Xs),),
    )
    out["determinant"] = ChainLayer(
        "determinant", "Determinant", L, Det(Xs), ("X",), "L = det X, under X invertible", is_loss=True,
        descriptions={"X": "invertible square matrix", "L": "det X"},
        hypotheses=(Hypothesis("invertible", Xs),),
    )
    out["trace-inverse"] = ChainLayer(
        "trace-inverse", "Trace with an inverse", L, Trace(MatMul(As, Inv(Xs), Bs)), ("X",), "L = tr(A X⁻¹ B)",
        is_loss=True, descriptions={"X": "invertible square matrix", "A": "constant matrix", "B": "constant matrix",
                                    "L": "tr(A X⁻¹ B)"},
    )
    # Gaussian negative log-likelihood (up to the constant (n/2) log 2π) of one observation x
    Sig, xo, mean = Sym("Sigma", "n", "n"), Sym("x", "n", 1), Sym("mu", "n", 1)
    resid = Add(xo, Scale(-1, mean))
    Si = Inv(Sig)
    half = Fraction(1, 2)
    out["gaussian-nll"] = ChainLayer(
        "gaussian-nll", "Gaussian negative log-likelihood", L,
        Add(Scale(half, LogDet(Sig)), Scale(half, MatMul(Transpose(resid), Si, resid))), ("mu", "Sigma"),
        "L = ½ log det Σ + ½ (x − μ)ᵀ Σ⁻¹ (x − μ), Σ = Σᵀ, det Σ > 0", is_loss=True,
        descriptions={"x": "observation", "mu": "mean", "Sigma": "covariance (symmetric, positive determinant)",
                      "L": "negative log-likelihood without its constant"},
        hypotheses=(Hypothesis("symmetric", Sig), Hypothesis("detpos", Sig)),
        present={"mu": [("hypothesis", Scale(-1, MatMul(Si, resid)))],
                 "Sigma": [("hypothesis", Scale(half, Add(Si, Scale(-1, MatMul(Si, resid, Transpose(resid), Si)))))]},
    )
    return out


@dataclass(frozen=True)
class Conv2dLayer:
    """y = x ⋆ w with channels (:mod:`symderiv.derive.conv2d`): modes valid, full, same; strides and dilations in
    valid mode."""

    name: str
    summary: str
    wrt: tuple[str, ...]
    modes: tuple[str, ...]
    batch: bool = False

    def derive(self, wrt: str | None = None, check: bool = True, mode: str | None = None,
               stride: int | None = None, dilation: int | None = None) -> Derivation:
        from symderiv.derive.conv2d import derive_conv2d

        wrt = wrt or self.wrt[0]
        if wrt not in self.wrt:
            raise SymderivError(
                f"layer {self.name!r} has no variable {wrt!r} to differentiate by; choose one of {', '.join(self.wrt)}"
            )
        mode = mode or "valid"
        if mode.startswith("valid-stride"):
            mode, stride = "valid", int(mode.removeprefix("valid-stride"))
        if mode.startswith("valid-dilation"):
            mode, dilation = "valid", int(mode.removeprefix("valid-dilation"))
        if mode not in ("valid", "full", "same"):
            raise SymderivError(f"unknown mode {mode!r} for {self.name}; choose one of valid, full, same")
        stride = 1 if stride is None else stride
        if stride < 1 or stride > 4:
            raise SymderivError("--stride must be between 1 and 4")
        if stride != 1 and mode != "valid":
            raise SymderivError("a stride is supported in valid mode only")
        dilation = 1 if dilation is None else dilation
        if dilation < 1 or dilation > 4:
            raise SymderivError("--dilation must be between 1 and 4")
        if dilation != 1 and (mode != "valid" or stride != 1):
            raise SymderivError("a dilation is supported in valid mode with stride 1 only")
        if (stride != 1 or dilation != 1) and self.batch:
            raise SymderivError("the batched layer is derived without stride or dilation (see conv2d for those)")
        return derive_conv2d(wrt, mode, stride, check=check, dilation=dilation, batch=self.batch)


@functools.cache
def _catalog() -> dict[str, Layer | SequenceLayer | ChainLayer | Conv2dLayer]:
    out: dict[str, Layer | SequenceLayer | ChainLayer | Conv2dLayer] = dict(_layers())
    for name, op in (("correlation1d", "corr"), ("convolution1d", "conv")):
        e = _ENTRY[name]
        out[name] = SequenceLayer(name, op, e.summary, e.wrt, e.modes)
    for name, layer in _chain_layers().items():
        e = _ENTRY[name]
        assert (layer.summary, layer.wrt) == (e.summary, e.wrt), f"ENTRIES and the layer {name} agree"
        out[name] = layer
    for name in ("conv2d", "conv2d-batch"):
        e = _ENTRY[name]
        out[name] = Conv2dLayer(name, e.summary, e.wrt, e.modes, batch=name == "conv2d-batch")
    assert list(out) == list(_ENTRY), "ENTRIES and the built layers list the same names in the same order"
    return out


def __getattr__(name: str) -> object:
    """``CATALOG`` (name -> layer) is built on first use: its expressions need SymPy."""
    if name == "CATALOG":
        return _catalog()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_layer(name: str) -> Layer | SequenceLayer | ChainLayer | Conv2dLayer:
    if name.lower() not in _ENTRY:
        raise SymderivError(f"unknown layer {name!r}; the catalog has: {', '.join(_ENTRY)}")
    return _catalog()[name.lower()]


def all_derivations(check: bool = True) -> list[Derivation]:
    out = []
    for layer in _catalog().values():
        for mode in getattr(layer, "modes", (None,)):
            for w in layer.wrt:
                out.append(layer.derive(w, check, mode=mode) if mode else layer.derive(w, check))
    return out

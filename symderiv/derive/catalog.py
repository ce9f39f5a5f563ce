"""The built-in catalog: the layers of the notes, each with the variables it can be differentiated by.

Shapes follow the notes: x ∈ R^n, w ∈ R^{m×n}, y ∈ R^m. (The notes' MSE section declares the
label y* ∈ R^m while subtracting it from x ∈ R^n; the catalog uses one dimension n for both.)
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from symderiv.derive.derivation import Derivation
from symderiv.derive.engine import derive
from symderiv.errors import SymderivError
from symderiv.lang.operators import Add, Expr, MatMul, Scale, Sym, Transpose


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
        if mode not in (None, "infinite"):
            raise SymderivError(f"layer {self.name!r} has no modes; --mode applies to correlation1d and convolution1d")
        wrt = wrt or self.wrt[0]
        if wrt not in self.wrt:
            raise SymderivError(
                f"layer {self.name!r} has no variable {wrt!r} to differentiate by; choose one of {', '.join(self.wrt)}"
            )
        sym = next(s for s in self.forward.symbols() if s.name == wrt)
        what = "input gradient (backward pass)" if wrt == "x" else "weight gradient (gradient pass)"
        return derive(
            self.output, self.forward, sym,
            title=f"{self.title}: {what}, d{'L'}/d{wrt}",
            is_loss=self.is_loss, descriptions=self.descriptions, name=self.name, check=check,
        )


def _layers() -> dict[str, Layer]:
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
            "mse", "MSE loss", L, Scale(Fraction(1, 2), MatMul(Transpose(diff), diff)), ("x",), True,
            {"x": "input (prediction)", "y*": "label", "L": "mean squared loss ½‖x − y*‖²"},
            "L = ½‖x − y*‖² = ½(x − y*)ᵀ(x − y*)",
        ),
        "linear": Layer(
            "linear", "Linear layer", y, MatMul(w, x), ("x", "w"), False,
            {"x": "input", "w": "weight matrix", "y": "output", **common},
            "y = w x",
        ),
        "add": Layer(
            "add", "Add layer", yn, Add(x, b), ("x", "w"), False,
            {"x": "input", "w": "weight (bias) vector", "y": "output", **common},
            "y = x + w",
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


CATALOG: dict[str, Layer | SequenceLayer] = _layers()
CATALOG["correlation1d"] = SequenceLayer("correlation1d", "corr", "y = x ⊙ w, (x ⊙ w)_i = Σ_j x_{i+j} w_j")
CATALOG["convolution1d"] = SequenceLayer("convolution1d", "conv", "y = x ⊗ w, (x ⊗ w)_i = Σ_j x_{i−j} w_j")


def get_layer(name: str) -> Layer:
    try:
        return CATALOG[name.lower()]
    except KeyError:
        raise SymderivError(f"unknown layer {name!r}; the catalog has: {', '.join(CATALOG)}") from None


def all_derivations(check: bool = True) -> list[Derivation]:
    out = []
    for layer in CATALOG.values():
        for mode in getattr(layer, "modes", (None,)):
            for w in layer.wrt:
                out.append(layer.derive(w, check, mode=mode) if mode else layer.derive(w, check))
    return out

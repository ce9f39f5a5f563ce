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
)
_ENTRY = {e.name: e for e in ENTRIES}


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


@functools.cache
def _catalog() -> dict[str, Layer | SequenceLayer]:
    out: dict[str, Layer | SequenceLayer] = dict(_layers())
    for name, op in (("correlation1d", "corr"), ("convolution1d", "conv")):
        e = _ENTRY[name]
        out[name] = SequenceLayer(name, op, e.summary, e.wrt, e.modes)
    assert list(out) == list(_ENTRY), "ENTRIES and the built layers list the same names in the same order"
    return out


def __getattr__(name: str) -> object:
    """``CATALOG`` (name -> layer) is built on first use: its expressions need SymPy."""
    if name == "CATALOG":
        return _catalog()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def get_layer(name: str) -> Layer | SequenceLayer:
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

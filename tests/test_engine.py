"""The engine derives the catalog the way the notes do, and every step is verified."""
from fractions import Fraction

import pytest

from symderiv.derive.catalog import CATALOG, all_derivations, get_layer
from symderiv.derive.engine import derive
from symderiv.errors import DerivationError, SymderivError
from symderiv.lang.operators import Add, Hadamard, MatMul, Scale, Sym, Trace, Transpose
from symderiv.lang.printing import plain

EXPECTED = {
    ("mse", "x"): "x - y*",
    ("linear", "x"): "w^T·dL/dy",
    ("linear", "w"): "dL/dy·x^T",
    ("add", "x"): "dL/dy",
    ("add", "w"): "dL/dy",
}


@pytest.mark.parametrize("layer,wrt", sorted(EXPECTED))
def test_catalog_layer_verified(layer, wrt):
    d = get_layer(layer).derive(wrt)
    assert d.status == "verified", d.explain()
    assert all(s.status == "verified" for s in d.steps)
    assert d.jacobian.status == "verified" and "explicit-jacobian" in d.jacobian.methods
    assert plain(d.gradient) == EXPECTED[(layer, wrt)]
    assert d.steps[0].rule == "perturbation" and d.steps[-1].rule == "read-off"
    assert all(s.rule for s in d.steps), "every step names its rule"


def test_linear_weight_gradient_follows_the_notes():
    d = get_layer("linear").derive("w")
    rules = [s.rule for s in d.steps]
    assert rules == [
        "perturbation", "expansion", "loss-differential", "substitution", "inner-of-vectors",
        "trace-of-scalar", "cyclic-trace", "trace-as-inner", "transpose-of-product", "restate", "read-off",
    ]
    assert d.steps[6].plain() == "= tr(x·dL/dy^T·Δw)"


def test_mse_drops_the_second_order_term():
    d = get_layer("mse").derive("x")
    drop = next(s for s in d.steps if s.rule == "drop-higher-order")
    assert drop.verdict.relation == "first-order"
    assert [t.plain() for t in drop.verdict.dropped] == ["1/2·(Δx)^T·Δx"]


def test_every_catalog_entry_and_unknown_names():
    assert len(all_derivations(check=False)) == sum(len(layer.wrt) * len(getattr(layer, "modes", [None])) for layer in CATALOG.values())
    with pytest.raises(SymderivError):
        get_layer("conv9d")
    with pytest.raises(SymderivError):
        get_layer("linear").derive("z")


@pytest.mark.parametrize(
    "forward,wrt,expected",
    [
        # layers beyond the notes
        (lambda S: Add(MatMul(S["W"], S["x"]), S["b"]), "b", "dL/dy"),
        (lambda S: MatMul(S["W"], Add(S["x"], S["z"])), "x", "W^T·dL/dy"),
        (lambda S: MatMul(S["U"], S["W"], S["x"]), "W", "U^T·dL/dy·x^T"),
        (lambda S: MatMul(Transpose(S["W"]), S["W"], S["x"]), "W", "W·dL/dy·x^T + W·x·dL/dy^T"),
    ],
)
def test_derive_other_layers(forward, wrt, expected):
    S = {
        "W": Sym("W", "m", "n"), "x": Sym("x", "n", 1), "z": Sym("z", "n", 1), "b": Sym("b", "m", 1),
        "U": Sym("U", "k", "m"),
    }
    f = forward(S)
    y = Sym("y", f.shape[0], f.shape[1])
    w = next(s for s in f.symbols() if s.name == wrt)
    d = derive(y, f, w)
    assert d.status == "verified", d.explain()
    assert plain(d.gradient) == expected


def test_quadratic_form_loss():
    x, A, q = Sym("x", "n", 1), Sym("A", "n", "n"), Sym("q", 1, 1)
    d = derive(q, MatMul(Transpose(x), A, x), x, is_loss=True)
    assert d.status == "verified"
    assert plain(d.gradient) == "A^T·x + A·x"
    assert d.steps[-1].plain() == "⇒ dq/dx = A^T·x + A·x"


def test_frobenius_norm_loss():
    W, q = Sym("W", "m", "n"), Sym("q", 1, 1)
    d = derive(q, Scale(Fraction(1, 2), Trace(MatMul(Transpose(W), W))), W, is_loss=True)
    assert d.status == "verified", d.explain()
    assert plain(d.gradient) == "W"


def test_engine_refuses_what_it_cannot_rearrange():
    x, y = Sym("x", "n", 1), Sym("y", "n", 1)
    with pytest.raises(DerivationError):
        derive(y, Hadamard(x, x), x)
    with pytest.raises(DerivationError):
        derive(y, Sym("z", "n", 1), x)

"""Numeric cross-check of every gradient of issue 10's catalog against PyTorch autograd (CPU,
float64) at several sizes. The derived gradient (a symderiv expression) is evaluated in floating
point by the kernel's evaluator with float entrywise functions; the layer is written again in
torch, independently, and differentiated by autograd. Floating point verifies nothing here: this
is a cross-check of the *derived formulas* against a second implementation, never a proof."""
from __future__ import annotations

import functools
import math

import pytest

torch = pytest.importorskip("torch")

from symderiv.derive.catalog import CATALOG, ChainLayer, get_layer  # noqa: E402
from symderiv.kernel.evaluate import Arith, evaluate  # noqa: E402

SIZES = [2, 3, 5]


def _sigmoid(v: float) -> float:
    return 1 / (1 + math.exp(-v))


def _float_fn(name: str, prime: int, v: float) -> float:
    """Entrywise functions and their derivatives in float64 (relu′ = step, taken at v ≠ 0)."""
    if prime:
        table = {
            "sigmoid": lambda: _sigmoid(v) * (1 - _sigmoid(v)),
            "tanh": lambda: 1 - math.tanh(v) ** 2,
            "relu": lambda: 1.0 if v > 0 else 0.0,
            "exp": lambda: math.exp(v),
            "log": lambda: 1 / v,
            "softplus": lambda: _sigmoid(v),
            "recip": lambda: -1 / v ** 2,
        }
        return table[name]()
    table = {
        "sigmoid": lambda: _sigmoid(v), "tanh": lambda: math.tanh(v), "relu": lambda: max(v, 0.0),
        "step": lambda: 1.0 if v > 0 else 0.0, "exp": lambda: math.exp(v), "log": lambda: math.log(v),
        "softplus": lambda: math.log1p(math.exp(v)), "recip": lambda: 1 / v, "sqrt": lambda: math.sqrt(v),
        "square": lambda: v * v,
    }
    return table[name]()


def _float_mat(name: str, m):
    t = torch.tensor(m, dtype=torch.float64)
    if name == "inv":
        return torch.linalg.inv(t).tolist()
    d = torch.linalg.det(t)
    return [[float(d if name == "det" else torch.log(d))]]


FLOAT = Arith(0.0, lambda q: float(q), _float_fn, _float_mat)

#: the same layers in torch, written from their definitions: (inputs by name) -> scalar loss
TORCH_LOSSES = {
    "sigmoid": lambda t: (t["dL/dy"] * torch.sigmoid(t["x"])).sum(),
    "tanh": lambda t: (t["dL/dy"] * torch.tanh(t["x"])).sum(),
    "relu": lambda t: (t["dL/dy"] * torch.relu(t["x"])).sum(),
    "dense-sigmoid": lambda t: (t["dL/dy"] * torch.sigmoid(t["W"] @ t["x"] + t["b"])).sum(),
    "softmax-cross-entropy": lambda t: -(t["y"] * torch.log_softmax(t["z"], dim=0)).sum(),
    "logistic-regression": lambda t: torch.nn.functional.binary_cross_entropy_with_logits(
        t["X"] @ t["w"], t["y"], reduction="sum"),
    "ridge-regression": lambda t: 0.5 * ((t["X"] @ t["w"] - t["t"]) ** 2).sum()
    + 0.5 * t["lambda"].reshape(()) * (t["w"] ** 2).sum(),
    "batched-linear": lambda t: (t["dL/dY"] * (t["X"] @ t["W"] + torch.ones(t["X"].shape[0], 1,
                                                                          dtype=torch.float64) @ t["b"].T)).sum(),
    "layer-norm": lambda t: (t["dL/dy"] * (t["x"] - t["x"].mean()) / torch.sqrt(
        ((t["x"] - t["x"].mean()) ** 2).mean() + t["epsilon"].reshape(()))).sum(),
    "attention": lambda t: (t["dL/dY"] * (torch.softmax(t["Q"] @ t["K"].T / math.sqrt(t["Q"].shape[1]), dim=1)
                                         @ t["V"])).sum(),
    "mlp2": lambda t: (t["dL/dy"] * (t["W_2"] @ torch.relu(t["W_1"] @ t["x"] + t["b_1"]) + t["b_2"])).sum(),
    "log-det": lambda t: torch.logdet(t["X"]),
    "determinant": lambda t: torch.linalg.det(t["X"]),
    "trace-inverse": lambda t: torch.trace(t["A"] @ torch.linalg.inv(t["X"]) @ t["B"]),
    "gaussian-nll": lambda t: 0.5 * torch.logdet(t["Sigma"]) + 0.5 * ((t["x"] - t["mu"]).T @ torch.linalg.inv(
        t["Sigma"]) @ (t["x"] - t["mu"])).reshape(()),
}

@functools.cache
def derived(layer: str, wrt: str):
    """Each layer derived once per session (layer norm takes seconds)."""
    return get_layer(layer).derive(wrt)


CASES = [(name, w) for name, layer in CATALOG.items() if isinstance(layer, ChainLayer) for w in layer.wrt]


def test_every_new_layer_has_a_torch_twin():
    assert {name for name, _ in CASES} == set(TORCH_LOSSES)


def _inputs(d, size: int, gen):
    """Random float64 inputs for every symbol of the derivation, at all dimensions = size + offset."""
    dims = {}
    for s in d.symbols():
        for dim in s.shape:
            if not getattr(dim, "is_number", True):
                name = str(dim)
                dims.setdefault(name, size + len(dims) % 2)  # rectangular: adjacent dims differ by 1
    values = {}
    for s in d.symbols():
        if s.kind == "delta" or s.name == d.output.name:
            continue
        r, c = (int(dim.subs({k: v for k, v in dims.items()})) if not dim.is_number else int(dim) for dim in s.shape)
        values[s.name] = torch.randn(r, c, dtype=torch.float64, generator=gen)
    if "y" in values and d.name == "softmax-cross-entropy":
        values["y"] = torch.softmax(values["y"], dim=0)  # a label distribution: 1ᵀy = 1
    if d.name == "logistic-regression":
        values["y"] = torch.randint(0, 2, values["y"].shape, generator=gen).to(torch.float64)
    if d.name in ("log-det", "gaussian-nll"):  # det X > 0 (and Σ a covariance: symmetric positive definite)
        key = "X" if d.name == "log-det" else "Sigma"
        r = values[key]
        values[key] = r @ r.T + torch.eye(len(r), dtype=torch.float64)
    for scalar in ("lambda", "epsilon"):
        if scalar in values:
            values[scalar] = values[scalar].abs()
    return values, dims


@pytest.mark.parametrize("layer,wrt", CASES)
@pytest.mark.parametrize("size", SIZES)
def test_derived_gradient_matches_autograd(layer, wrt, size):
    d = derived(layer, wrt)
    assert d.status == "verified"
    gen = torch.Generator().manual_seed(1000 * size + len(layer))
    values, dims = _inputs(d, size, gen)
    leaf = {k: v.clone().requires_grad_(k == wrt) for k, v in values.items()}
    TORCH_LOSSES[layer](leaf).backward()
    expected = leaf[wrt].grad
    env = {k: [[float(a) for a in row] for row in v.tolist()] for k, v in values.items()}
    got = torch.tensor(evaluate(d.unfold(d.gradient), env, dims, FLOAT), dtype=torch.float64)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, rtol=1e-10, atol=1e-10), (layer, wrt, size, got, expected)


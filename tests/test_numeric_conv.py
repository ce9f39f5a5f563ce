"""Numeric cross-checks of the derived finite-mode gradients: NumPy's conventions, a numeric
Jacobian, and (where installed) PyTorch's conv1d and autograd."""
import random

import numpy as np
import pytest
import sympy

from symderiv.derive.catalog import get_layer
from symderiv.kernel.seqeval import seq_evaluate
from symderiv.lang.operators import Conv, Corr, Sym

SIZES = [(5, 3), (6, 2), (7, 4), (4, 4), (3, 1), (9, 6), (8, 5)]
MODES = ["valid", "full", "same"]


def vec(v):
    return {i: float(a) for i, a in enumerate(v)}


def as_array(d, n):
    return np.array([d.get(i, 0.0) for i in range(n)])


@pytest.mark.parametrize("op", ["corr", "conv"])
@pytest.mark.parametrize("mode", MODES)
def test_forward_matches_numpy(op, mode):
    rng = np.random.default_rng(1)
    Op = Corr if op == "corr" else Conv
    ref = np.correlate if op == "corr" else np.convolve
    x, w = Sym("x", "n", 1), Sym("w", "k", 1)
    for n, k in SIZES:
        xv, wv = rng.normal(size=n), rng.normal(size=k)
        e = Op(x, w, mode)
        out = seq_evaluate(e, {"x": vec(xv), "w": vec(wv)}, {sympy.Symbol("n"): n, sympy.Symbol("k"): k})
        L = int(sympy.sympify(e.shape[0]).subs({"n": n, "k": k}))
        assert np.allclose(as_array(out, L), ref(xv, wv, mode)), (op, mode, n, k)


def numeric_gradient(forward, wrt, env, params, g):
    """Exact by linearity: dL/dθ_p = L(θ = e_p) with L = ⟨g, f⟩; checked by central differences too."""
    base = dict(env)
    n = len(env[wrt])
    grad = []
    for p in range(n):
        plus, minus = dict(base), dict(base)
        plus[wrt] = dict(env[wrt])
        plus[wrt][p] += 1e-3
        minus[wrt] = dict(env[wrt])
        minus[wrt][p] -= 1e-3
        lp = sum(g.get(i, 0) * v for i, v in seq_evaluate(forward, plus, params).items())
        lm = sum(g.get(i, 0) * v for i, v in seq_evaluate(forward, minus, params).items())
        grad.append((lp - lm) / 2e-3)
    return np.array(grad)


@pytest.mark.parametrize("layer", ["correlation1d", "convolution1d"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("wrt", ["x", "w"])
def test_derived_gradient_matches_numeric_jacobian(layer, mode, wrt):
    d = get_layer(layer).derive(wrt, mode=mode)
    rng = random.Random(3)
    for n, k in SIZES:
        params = {sympy.Symbol("n"): n, sympy.Symbol("k"): k}
        leny = int(sympy.sympify(d.output.shape[0]).subs(params))
        env = {"x": vec([rng.uniform(-1, 1) for _ in range(n)]), "w": vec([rng.uniform(-1, 1) for _ in range(k)])}
        g = vec([rng.uniform(-1, 1) for _ in range(leny)])
        env[d.grad.name] = g
        G = as_array(seq_evaluate(d.gradient, env, params), n if wrt == "x" else k)
        J = numeric_gradient(d.forward, wrt, env, params, g)
        assert np.allclose(G, J, atol=1e-8), (layer, mode, wrt, n, k)


def test_valid_gradients_are_numpys_full_convolution_and_valid_correlation():
    rng = np.random.default_rng(2)
    dx = get_layer("correlation1d").derive("x", mode="valid").gradient
    dw = get_layer("correlation1d").derive("w", mode="valid").gradient
    for n, k in SIZES:
        xv, wv, gv = rng.normal(size=n), rng.normal(size=k), rng.normal(size=n - k + 1)
        params = {sympy.Symbol("n"): n, sympy.Symbol("k"): k}
        env = {"x": vec(xv), "w": vec(wv), "dL/dy": vec(gv)}
        assert np.allclose(as_array(seq_evaluate(dx, env, params), n), np.convolve(gv, wv, "full"))
        assert np.allclose(as_array(seq_evaluate(dw, env, params), k), np.correlate(xv, gv, "valid"))


def test_pytorch_conv1d_autograd():
    import os

    try:
        import torch
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("PyTorch is required in CI (.ci/run installs torch==2.13.0)")
        pytest.skip("PyTorch is not installed (pip install torch==2.13.0)")
    F = torch.nn.functional
    rng = np.random.default_rng(4)
    for mode, pad in [("valid", lambda k: (0, 0)), ("full", lambda k: (k - 1, k - 1)), ("same", lambda k: (k // 2, k - 1 - k // 2))]:
        dx = get_layer("correlation1d").derive("x", mode=mode).gradient
        dw = get_layer("correlation1d").derive("w", mode=mode).gradient
        for n, k in SIZES:
            xv, wv = rng.normal(size=n), rng.normal(size=k)
            xt = torch.tensor(xv, dtype=torch.float64, requires_grad=True)
            wt = torch.tensor(wv, dtype=torch.float64, requires_grad=True)
            # conv1d computes a correlation; NumPy's 'same' pads ⌊k/2⌋ on the left
            y = F.conv1d(F.pad(xt.view(1, 1, -1), pad(k)), wt.view(1, 1, -1)).view(-1)
            assert np.allclose(y.detach().numpy(), np.correlate(xv, wv, mode))
            gv = rng.normal(size=y.shape[0])
            y.backward(torch.tensor(gv))
            params = {sympy.Symbol("n"): n, sympy.Symbol("k"): k}
            env = {"x": vec(xv), "w": vec(wv), "dL/dy": vec(gv)}
            assert np.allclose(as_array(seq_evaluate(dx, env, params), n), xt.grad.numpy(), atol=1e-12)
            assert np.allclose(as_array(seq_evaluate(dw, env, params), k), wt.grad.numpy(), atol=1e-12)

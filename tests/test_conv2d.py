"""2-D correlation with channels (issue 14): derivations proved for every size and channel count, and
wrong twins that must FAIL with an exact counterexample (never undecided), at sizes that expose them."""
from __future__ import annotations

import functools
import os
import random

import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from symderiv.derive.catalog import get_layer
from symderiv.kernel.multiaxis import check_tensor_gradient, decide_tensor, evaluate, random_env
from symderiv.lang.tensor2d import (
    ChanCorr,
    ChanT,
    Conv2,
    Corr2,
    Flip,
    Inner2,
    Rot180,
    SwapHW,
    TExt,
    TSym,
    TWindow,
    Up,
    size,
)

H, W, KH, KW = (size(n) for n in ("H", "W", "k_h", "k_w"))
X = TSym("x", ("C",), (H, W))
Wt = TSym("w", ("O", "C"), (KH, KW))


def layer(mode: str = "valid", stride: int = 1) -> tuple[Corr2, TSym]:
    f = Corr2(X, Wt, mode, (stride, stride))
    return f, TSym("y", ("O",), f.ext, "grad")


CASES = [("x", "valid", 1), ("w", "valid", 1), ("x", "full", 1), ("w", "full", 1), ("x", "same", 1), ("w", "same", 1),
         ("x", "valid", 2), ("w", "valid", 2), ("x", "valid-dilation2", 1), ("w", "valid-dilation2", 1)]


@pytest.mark.parametrize("wrt,mode,stride", CASES)
def test_catalog_derivation_is_verified_step_by_step(wrt: str, mode: str, stride: int) -> None:
    d = get_layer("conv2d").derive(wrt, mode=mode, stride=stride)
    assert d.status == "verified", d.explain()
    assert all("multiaxis-classes" in s.verdict.methods for s in d.steps if s.kind != "readoff" or True)
    assert d.jacobian is not None and "directional-derivative" in d.jacobian.methods
    rules = [s.rule for s in d.steps]
    if wrt == "x":
        assert "corr-to-conv-2d" in rules and "rotation-180" in rules
    assert d.mode == (mode if stride == 1 else f"{mode}-stride{stride}")  # the report file name


def _fails_with_counterexample(forward: Corr2, wrt: TSym, G, g: TSym) -> dict:
    v = check_tensor_gradient(forward, wrt, G, g)
    assert v.status == "failed", v.method
    assert v.counterexample is not None and "exact-integer-evaluation" in v.methods, v.method
    return v.counterexample.sizes


def test_wrong_twins_of_dx_valid_fail_with_exact_counterexamples() -> None:
    f, g = layer()
    right = Corr2(g, ChanT(Rot180(Wt)), "full")
    assert check_tensor_gradient(f, X, right, g).status == "verified"
    # flip by spatial transpose instead of 180° rotation (square kernel box so that it is well typed)
    Wsq = TSym("w", ("O", "C"), (KH, KH))
    fs = Corr2(X, Wsq, "valid")
    gs = TSym("y", ("O",), fs.ext, "grad")
    assert check_tensor_gradient(fs, X, Corr2(gs, ChanT(Rot180(Wsq)), "full"), gs).status == "verified"
    _fails_with_counterexample(fs, X, Corr2(gs, ChanT(SwapHW(Wsq)), "full"), gs)
    # flip in one axis only, each axis
    for ax in (0, 1):
        _fails_with_counterexample(f, X, Corr2(g, ChanT(Flip(Wt, ax)), "full"), g)
    # no flip at all (correlation where a convolution is needed)
    _fails_with_counterexample(f, X, Corr2(g, ChanT(Wt), "full"), g)
    # wrong mode: a same-sized window shifted (the valid-mode gradient of a full forward)
    sizes = _fails_with_counterexample(f, X, TWindow(Corr2(TExt(g), TExt(ChanT(Rot180(Wt)))), (0, 0), (H, W)), g)
    assert sizes["k_h"] >= 2 and sizes["k_w"] >= 2  # a 1×1 kernel would hide it


def test_channel_legs_not_transposed_fail_even_with_equal_channel_counts() -> None:
    """w[o, c] used where w[c, o] is needed: with C = O the shapes agree and only the structure tells."""
    Wsq = TSym("w", ("C", "C"), (KH, KW))
    f = Corr2(X, Wsq, "valid")
    g = TSym("y", ("C",), f.ext, "grad")
    assert check_tensor_gradient(f, X, Corr2(g, ChanT(Rot180(Wsq)), "full"), g).status == "verified"
    sizes = _fails_with_counterexample(f, X, Corr2(g, Rot180(Wsq), "full"), g)
    assert sizes["#C"] >= 2  # C = 1 would hide the missing transpose


def test_wrong_twins_of_dw_fail() -> None:
    f, g = layer()
    assert check_tensor_gradient(f, Wt, ChanCorr(X, g, "valid"), g).status == "verified"
    _fails_with_counterexample(f, Wt, Rot180(ChanCorr(X, g, "valid")), g)  # rotated-kernel gradient
    _fails_with_counterexample(f, Wt, Flip(ChanCorr(X, g, "valid"), 1), g)


def test_stride_without_upsampling_fails() -> None:
    f, g = layer("valid", 2)
    right = TWindow(Corr2(TExt(Up(g, (2, 2))), TExt(ChanT(Rot180(Wt)))), (-(KH - 1), -(KW - 1)), (H, W))
    assert check_tensor_gradient(f, X, right, g).status == "verified"
    wrong = TWindow(Corr2(TExt(g), TExt(ChanT(Rot180(Wt)))), (-(KH - 1), -(KW - 1)), (H, W))
    sizes = _fails_with_counterexample(f, X, wrong, g)
    # a single output row would hide the missing upsampling
    assert sympy.floor((sizes["H"] - sizes["k_h"]) / 2) + 1 >= 2 or sympy.floor((sizes["W"] - sizes["k_w"]) / 2) + 1 >= 2
    # upsampling in one axis only
    half = TWindow(Corr2(TExt(Up(g, (2, 1))), TExt(ChanT(Rot180(Wt)))), (-(KH - 1), -(KW - 1)), (H, W))
    assert decide_tensor(Inner2(half, TSym("x", ("C",), (H, W), "delta")),
                         Inner2(right, TSym("x", ("C",), (H, W), "delta"))).status == "failed"


@pytest.mark.parametrize("wrt,mode", [(w, m) for w in "xw" for m in ("valid", "full", "same")])
def test_batched_layer_is_verified(wrt: str, mode: str) -> None:
    d = get_layer("conv2d-batch").derive(wrt, mode=mode)
    assert d.status == "verified", d.explain()
    assert d.wrt.chans == (("N", "C") if wrt == "x" else ("O", "C"))


def test_batched_twins_fail() -> None:
    """A batch leg must be carried by dL/dx and summed by dL/dw; a twin that pairs different batch entries fails."""
    Xb = TSym("x", ("N", "C"), (H, W))
    f = Corr2(Xb, Wt, "valid")
    g = TSym("y", ("N", "O"), f.ext, "grad")
    assert check_tensor_gradient(f, Wt, ChanCorr(Xb, g, "valid"), g).status == "verified"
    assert check_tensor_gradient(f, Xb, Corr2(g, ChanT(Rot180(Wt)), "full"), g).status == "verified"
    _fails_with_counterexample(f, Xb, Corr2(g, ChanT(Wt), "full"), g)
    _fails_with_counterexample(f, Wt, Rot180(ChanCorr(Xb, g, "valid")), g)


def test_dilation_dropped_or_moved_fails() -> None:
    f = Corr2(X, Wt, "valid", (1, 1), (2, 2))
    g = TSym("y", ("O",), f.ext, "grad")
    assert check_tensor_gradient(f, X, Corr2(g, ChanT(Rot180(Wt)), "full", (1, 1), (2, 2)), g).status == "verified"
    # the rotation without the dilation, zero-padded to the right size
    _fails_with_counterexample(f, X, TWindow(Corr2(TExt(g), TExt(ChanT(Rot180(Wt)))), (-2 * (KH - 1), -2 * (KW - 1)),
                                             (H, W)), g)
    assert check_tensor_gradient(f, Wt, ChanCorr(X, g, "valid", (2, 2)), g).status == "verified"
    # the weight gradient without the stride that the dilation becomes
    _fails_with_counterexample(f, Wt, TWindow(ChanCorr(TExt(X), TExt(g)), (0, 0), (KH, KW)), g)


def test_same_mode_even_kernel_pads_the_gradient_the_other_way() -> None:
    """PyTorch's 'same' puts the extra zero right/bottom for even k; the gradient's window starts at −⌊k/2⌋,
    so corr_same(g, rot w) is right for odd k only: the twin fails (at an even k), never undecided."""
    f, g = layer("same")
    right = TWindow(Corr2(TExt(g), TExt(ChanT(Rot180(Wt)))), (-sympy.floor(KH / 2), -sympy.floor(KW / 2)), (H, W))
    assert check_tensor_gradient(f, X, right, g).status == "verified"
    sizes = _fails_with_counterexample(f, X, Corr2(g, ChanT(Rot180(Wt)), "same"), g)
    assert sizes["k_h"] % 2 == 0 or sizes["k_w"] % 2 == 0


def test_a_wrong_step_in_a_derivation_is_failed_not_undecided() -> None:
    d = get_layer("conv2d").derive("x", mode="valid", check=False)
    step = next(s for s in d.steps if s.rule == "rotation-180")
    inner = step.rhs
    bad = Inner2(inner.left, TWindow(Corr2(TExt(d.grad), TExt(ChanT(Flip(Wt, 0)))), inner.right.offset,
                                     inner.right.length))
    step.rhs = bad
    d.check()
    assert step.verdict.status == "failed" and step.verdict.counterexample is not None


def test_true_convolution_identity_and_rotation() -> None:
    g = TSym("g", ("O",), (H, W))
    lhs = Conv2(g, ChanT(Wt), "full")
    assert decide_tensor(lhs, Corr2(g, ChanT(Rot180(Wt)), "full")).status == "verified"
    assert decide_tensor(lhs, Corr2(g, ChanT(Wt), "full")).status == "failed"


# --- exact brute force from the definition, random small shapes (hypothesis) ---------------------
def _brute_dx(xv, wv, gv, n_in, n_out, n, k, s):
    """dL/dx[c, a, b] = Σ_{o,i,j,p,q} g[o,i,j] w[o,c,p,q] [s i + p = a][s j + q = b], from the definition."""
    L = [(n[0] - k[0]) // s + 1, (n[1] - k[1]) // s + 1]
    out = {}
    for o in range(n_out):
        for c in range(n_in):
            for i in range(L[0]):
                for j in range(L[1]):
                    for p in range(k[0]):
                        for q in range(k[1]):
                            key = (c, s * i + p, s * j + q)
                            out[key] = out.get(key, 0) + gv.get((o, i, j), 0) * wv.get((o, c, p, q), 0)
    return {kk: v for kk, v in out.items() if v}


@functools.cache
def _valid_dx(stride: int):
    """The derivation is deterministic: derived once per stride, not once per example (about 1 s each)."""
    return get_layer("conv2d").derive("x", mode="valid", stride=stride)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(1, 3), st.integers(0, 3), st.integers(0, 3),
       st.integers(1, 2), st.integers(0, 10**6))
def test_derived_gradient_matches_the_definition(n_in, n_out, kh, kw, eh, ew, s, seed):
    d = _valid_dx(s)
    point = {H: kh + eh, W: kw + ew, KH: kh, KW: kw}
    env = random_env([d.forward, d.gradient, d.grad], point, random.Random(seed), {"C": n_in, "O": n_out})
    G = evaluate(d.gradient, env, point)
    assert G == _brute_dx(env["x"], env["w"], env["dL/dy"], n_in, n_out, (kh + eh, kw + ew), (kh, kw), s)


# --- PyTorch autograd (CI installs torch) ---------------------------------------------------------
def _torch():
    try:
        import torch
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("PyTorch is required in CI (.ci/run installs torch==2.13.0)")
        pytest.skip("PyTorch is not installed (pip install torch==2.13.0)")
    return torch


def _dense(t: dict, shape: tuple) -> list:
    import itertools

    import numpy as np

    a = np.zeros(shape, dtype=np.int64)
    for idx in itertools.product(*[range(n) for n in shape]):
        a[idx] = t.get(idx, 0)
    return a


@pytest.mark.parametrize("mode,stride,dilation,batch", [
    ("valid", 1, 1, False), ("full", 1, 1, False), ("same", 1, 1, False), ("valid", 2, 1, False), ("valid", 1, 2, False),
    ("valid", 1, 1, True), ("full", 1, 1, True), ("same", 1, 1, True)])
# PyTorch's note that 'same' with an even kernel pads a copy of the input: expected, and not about symderiv
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")
def test_pytorch_conv2d_autograd(mode: str, stride: int, dilation: int, batch: bool) -> None:
    """The symbolic gradients, evaluated with exact integers, equal torch's autograd of conv2d (float64 on
    small integers is exact), at several shapes including even kernels (asymmetric 'same' padding)."""
    torch = _torch()
    F = torch.nn.functional
    name = "conv2d-batch" if batch else "conv2d"
    kw_ = {} if batch else {"stride": stride, "dilation": dilation}
    dx_d = get_layer(name).derive("x", mode=mode, **kw_)
    dw_d = get_layer(name).derive("w", mode=mode, **kw_)
    nb = (3,) if batch else ()
    assert dx_d.status == dw_d.status == "verified"
    rng = random.Random(14)
    for n_in, n_out, h, w_, kh, kw in [(2, 3, 5, 6, 2, 3), (3, 2, 6, 5, 3, 2), (1, 2, 4, 7, 4, 1), (2, 2, 7, 7, 2, 2)]:
        if dilation * (max(kh, kw) - 1) + 1 > min(h, w_):
            kh, kw = 2, 2
        point = {H: h, W: w_, KH: kh, KW: kw}
        env = random_env([dx_d.forward, dx_d.gradient, dw_d.gradient, dx_d.grad], point, rng,
                         {"C": n_in, "O": n_out, "N": 3})
        y_ext = [int(sympy.sympify(e).subs(point)) for e in dx_d.forward.ext]
        xt = torch.tensor(_dense(env["x"], nb + (n_in, h, w_)), dtype=torch.float64, requires_grad=True)
        wt = torch.tensor(_dense(env["w"], (n_out, n_in, kh, kw)), dtype=torch.float64, requires_grad=True)
        pad = {"valid": 0, "full": (kh - 1, kw - 1), "same": "same"}[mode]
        yt = F.conv2d(xt if batch else xt[None], wt, stride=stride, padding=pad, dilation=dilation)
        yt = yt if batch else yt[0]
        assert list(yt.shape) == list(nb) + [n_out] + y_ext
        yt.backward(torch.tensor(_dense(env["dL/dy"], nb + (n_out, *y_ext)), dtype=torch.float64))
        gx = evaluate(dx_d.gradient, env, point)
        gw = evaluate(dw_d.gradient, env, point)
        assert (xt.grad.numpy() == _dense(gx, nb + (n_in, h, w_))).all()
        assert (wt.grad.numpy() == _dense(gw, (n_out, n_in, kh, kw))).all()


def test_one_name_with_two_shapes_is_ill_typed_not_verified() -> None:
    """The classes identify tensors by name: a name used with two shapes must be refused first."""
    a, b = TSym("w", ("O", "C"), (KH, KW)), TSym("w", ("O", "C"), (KW, KH))
    v = decide_tensor(Inner2(a, a), Inner2(b, b))
    assert v.status == "failed" and v.method == "shape check" and "two shapes" in v.reason


@pytest.mark.parametrize("trap", ["1x1 kernel", "single output row", "one channel"])
def test_the_traps_are_real_and_the_search_avoids_them(trap: str) -> None:
    """At the trap sizes the wrong twin really agrees with the right gradient (exactly), so a numeric test
    there would pass it; the kernel's counterexample search still refutes it (see the twins above)."""
    if trap == "1x1 kernel":
        f, g = layer()
        right, wrong, point, chans = (Corr2(g, ChanT(Rot180(Wt)), "full"), Corr2(g, ChanT(Wt), "full"),
                                      {H: 4, W: 5, KH: 1, KW: 1}, {"C": 2, "O": 3})
        wrt = X
    elif trap == "single output row":
        f, g = layer("valid", 2)
        win = ((-(KH - 1), -(KW - 1)), (H, W))
        right = TWindow(Corr2(TExt(Up(g, (2, 2))), TExt(ChanT(Rot180(Wt)))), *win)
        wrong = TWindow(Corr2(TExt(g), TExt(ChanT(Rot180(Wt)))), *win)
        point, chans, wrt = {H: 3, W: 3, KH: 2, KW: 2}, {"C": 2, "O": 3}, X  # output 1×1
    else:
        Wsq = TSym("w", ("C", "C"), (KH, KW))
        f = Corr2(X, Wsq, "valid")
        g = TSym("y", ("C",), f.ext, "grad")
        right, wrong = Corr2(g, ChanT(Rot180(Wsq)), "full"), Corr2(g, Rot180(Wsq), "full")
        point, chans, wrt = {H: 5, W: 4, KH: 2, KW: 3}, {"C": 1}, X
    for seed in range(3):
        env = random_env([f, right, wrong, g], point, random.Random(seed), chans)
        assert evaluate(right, env, point) == evaluate(wrong, env, point)
    v = check_tensor_gradient(f, wrt, wrong, g)
    assert v.status == "failed" and v.counterexample is not None


KERNEL_TRANSFORMS = {
    "id": lambda k: k, "rot180": Rot180, "flip1": lambda k: Flip(k, 0), "flip2": lambda k: Flip(k, 1),
    "transpose": SwapHW, "rot180∘transpose": lambda k: Rot180(SwapHW(k)),
}


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(sorted(KERNEL_TRANSFORMS)), st.booleans(), st.sampled_from(["valid", "full", "same"]),
       st.sampled_from(["valid", "full", "same"]), st.integers(0, 10**6))
def test_candidate_input_gradients_are_verified_exactly_when_right(transform, chan_t, fwd_mode, grad_mode, seed):
    """Candidates dL/dx = g ⋆_m T(w) over kernel transforms T (square kernel box, C = O so every candidate is well
    typed): the kernel never says undecided, verifies only what exact evaluation from the definition confirms at
    random sizes, and refutes with a counterexample that re-evaluates to different values."""
    Wsq = TSym("w", ("C", "C"), (KH, KH))
    f = Corr2(X, Wsq, fwd_mode)
    g = TSym("y", ("C",), f.ext, "grad")
    K = KERNEL_TRANSFORMS[transform](Wsq)
    K = ChanT(K) if chan_t else K
    try:
        G = Corr2(g, K, grad_mode)
    except Exception:  # noqa: BLE001 — a mode whose shapes do not fit: nothing to check
        return
    v = check_tensor_gradient(f, X, G, g)
    assert v.status in ("verified", "failed"), v.method
    if v.status == "failed" and v.method != "shape check":
        assert v.counterexample is not None and "exact-integer-evaluation" in v.methods
    rng = random.Random(seed)
    for _ in range(3):
        k = rng.randint(1, 4)
        point = {H: k + rng.randint(0, 3), W: k + rng.randint(0, 3), KH: k}
        if v.status != "verified":
            break
        truth = _brute_full(f, Wsq, g, point, rng)
        env, direct = truth
        assert evaluate(G, env, point) == direct
    right = transform == "rot180" and chan_t and (fwd_mode, grad_mode) in (("valid", "full"), ("full", "valid"))
    assert (v.status == "verified") == right, v.method


def _brute_full(f, Wsq, g, point, rng):
    """dL/dx from the definition (unit perturbations through the forward), exactly."""
    env = random_env([f, g], point, rng, {"C": 2})
    shape = [int(sympy.sympify(e).subs(point)) for e in X.ext]
    out = {}
    for c in range(2):
        for i in range(shape[0]):
            for j in range(shape[1]):
                e = dict(env)
                e["x"] = {(c, i, j): 1}
                y = evaluate(f, e, point)
                val = sum(v * env["dL/dy"].get(k, 0) for k, v in y.items())
                if val:
                    out[(c, i, j)] = val
    return env, out


def test_cli_derive_conv2d_exit_codes() -> None:
    import json

    from cli_run import run_main

    r = run_main("derive", "conv2d", "--wrt", "x", "--stride", "2", "--format", "json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)["derivations"][0]
    assert d["status"] == "verified" and d["mode"] == "valid-stride2" and "U_{2,2}" in d["gradient"]
    for bad in (["--stride", "2", "--mode", "same"], ["--dilation", "2", "--stride", "2"], ["--stride", "0"]):
        r = run_main("derive", "conv2d", *bad)
        assert r.returncode == 2 and "Traceback" not in r.stderr, (bad, r.stderr)
    r = run_main("derive", "linear", "--stride", "2")
    assert r.returncode == 2 and "conv2d" in r.stderr


class _TensorLiar:
    """An untrusted search that proposes what is not a point of the claim."""

    def __init__(self, make):
        self.make = make

    def tensor_candidates(self, lhs, rhs, seed=0):
        return [self.make()]


_k = sympy.Symbol("k")


@pytest.mark.parametrize("make", [
    lambda: ({_k: 2}, {}, {"a": {(0, 0): 1, (5, 0): 1}}),     # a key outside a's extent k × k
    lambda: ({_k: 2}, {}, {"a": {(0, 0): 1, (-1, 0): 1}}),    # a negative key
    lambda: ({_k: 2}, {}, {"a": {(0, 0): 1, (0, 1): True}}),  # an entry that is not an int
    lambda: ({_k: 0}, {}, {"a": {}}),                          # a length 0
    lambda: ({}, {}, {"a": {(0, 0): 1}}),                      # a size missing
], ids=["outside-extent", "negative-key", "bool-entry", "zero-length", "missing-size"])
def test_a_lying_tensor_search_never_supplies_the_evidence(monkeypatch: pytest.MonkeyPatch, make) -> None:
    """R_[0,k)×[0,k)(E a) = a holds for every a of extent k × k; an entry outside the extent (which only the
    right side would read) must not make it look refuted: the kernel checks what the search proposes."""
    from symderiv.kernel import multiaxis, refute

    a = TSym("a", (), (_k, _k))
    monkeypatch.setattr(refute, "_installed", _TensorLiar(make))
    assert multiaxis.find_counterexample(TWindow(TExt(a), (0, 0), (_k, _k)), a) is None

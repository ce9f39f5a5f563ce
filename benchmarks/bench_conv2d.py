"""Benchmark of issue 14's conv2d derivations: derive, prove every step for every size and channel count, and
cross-check the Jacobian, with a SymPy baseline measured in the same run.

Run:  python benchmarks/bench_conv2d.py [--repeat 5] [--size 4]

For each mode (valid, full, same, valid with stride 2) and variable (x, w) it prints the median time of
``derive`` (every step proved by the multi-axis procedure, Theorem G, plus the Jacobian cross-check with its
element-wise check at three sizes), the median time of the baseline, their ratio, and the status. The
baseline is SymPy differentiating L = ⟨dL/dy, y⟩ written with one symbol per entry at ONE size (C = O = 2,
H = W = --size, k_h = k_w = 2), entry by entry: a gradient at one size that proves nothing about other sizes.
It is there to put the times in proportion. Target (issue 14): each derivation under 2 s on this machine.
The machine is shared; compare ratios, not absolutes.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import sympy  # noqa: E402
from sympy.core.cache import clear_cache  # noqa: E402

from benchmarks.bench_core import machine  # noqa: E402
from symderiv.derive.catalog import get_layer  # noqa: E402
from symderiv.kernel.decide import clear_caches  # noqa: E402

CASES = [("valid", None, None), ("full", None, None), ("same", None, None), ("valid", 2, None), ("valid", None, 2)]


def median_time(fn, repeat: int) -> float:
    """Median wall time; SymPy's cache and the kernel's caches of linear forms are cleared before every run
    (cache hits would measure nothing)."""
    times = []
    for _ in range(repeat):
        clear_cache()
        clear_caches()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def explicit_baseline(mode: str, stride: int, wrt: str, size: int, dil: int = 1) -> None:
    """L = Σ g[o,i,j] y[o,i,j] with y = conv2d(x, w) (PyTorch's definition) over symbolic entries, then
    sympy.diff by every entry of the variable."""
    C = O = 2
    k = 2
    pad = {"valid": 0, "full": k - 1, "same": (k - 1) // 2}[mode]
    x = [[[sympy.Symbol(f"x_{c}_{i}_{j}") for j in range(size)] for i in range(size)] for c in range(C)]
    w = [[[[sympy.Symbol(f"w_{o}_{c}_{p}_{q}") for q in range(k)] for p in range(k)] for c in range(C)]
         for o in range(O)]
    ke = dil * (k - 1) + 1
    n_out = size if mode == "same" else (size + 2 * pad - ke) // stride + 1

    def xv(c: int, i: int, j: int):
        return x[c][i][j] if 0 <= i < size and 0 <= j < size else 0

    L = 0
    for o in range(O):
        for i in range(n_out):
            for j in range(n_out):
                y = sum(xv(c, stride * i - pad + dil * p, stride * j - pad + dil * q) * w[o][c][p][q]
                        for c in range(C) for p in range(k) for q in range(k))
                L += sympy.Symbol(f"g_{o}_{i}_{j}") * y
    var = x if wrt == "x" else w
    flat = [v for a in var for b in a for c in b for v in (c if isinstance(c, list) else [c])]
    [sympy.diff(L, v) for v in flat]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--size", type=int, default=4)
    args = ap.parse_args()
    print(machine())
    print(f"medians of {args.repeat} runs; baseline: sympy.diff of explicit entries at C = O = 2, "
          f"H = W = {args.size}, k = 2 (one size, not a proof)\n")
    print(f"{'derivation':32s} {'symderiv':>12s} {'explicit diff':>14s} {'ratio':>8s}  status")
    layer = get_layer("conv2d")
    for mode, stride, dil in CASES:
        for wrt in ("x", "w"):
            d = layer.derive(wrt, mode=mode, stride=stride, dilation=dil)
            t = median_time(lambda: layer.derive(wrt, mode=mode, stride=stride, dilation=dil), args.repeat)
            b = median_time(lambda: explicit_baseline(mode, stride or 1, wrt, args.size, dil or 1), args.repeat)
            name = f"conv2d {d.mode} d/d{wrt}"
            print(f"{name:32s} {t * 1000:9.1f} ms {b * 1000:11.1f} ms {t / b:8.2f}  {d.status}, {len(d.steps)} steps")


if __name__ == "__main__":
    main()

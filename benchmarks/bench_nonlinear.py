"""Benchmark of issue 10's layers: derive, prove every step, and cross-check the Jacobian, with a
SymPy baseline measured in the same run.

Run:  python benchmarks/bench_nonlinear.py [--repeat 5] [--size 3]

For each new catalog layer and variable it prints the median time of ``layer.derive(wrt)`` (every
step proved for all sizes, under the layer's hypotheses, plus the Jacobian cross-check), the
median time of the baseline, their ratio, and the status. The baseline is SymPy differentiating the
loss written with explicit symbolic entries at ONE size (every dimension = --size; σ(v) =
1/(1 + e^(−v)), relu = Max(0, v)), entry by entry: it computes a gradient at one size and proves
nothing about other sizes, nor that a person's steps are right. It is there to put the times in
proportion, not as a competitor. Targets (issue 10): each layer under 0.5 s after import; issue 14's
inverse and determinant layers (log-det, determinant, trace-inverse, gaussian-nll): under 2 s each, their
baseline inverting or taking the determinant of the explicit symbolic matrix.
Layer norm is the exception (about 6.5 s, target 2 s): the kernel recomputes the value key of every
atom occurrence in every monomial (atoms.value_key, a few hundred calls per step). The machine is shared;
compare ratios, not absolutes.
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
from symderiv.derive.catalog import CATALOG, ChainLayer  # noqa: E402
from symderiv.kernel.evaluate import Arith, evaluate  # noqa: E402
from symderiv.lang.operators import Inner  # noqa: E402
from symderiv.kernel.decide import clear_caches  # noqa: E402


def median_time(fn, repeat: int) -> float:
    """Median wall time; SymPy's cache is cleared before every run (otherwise the baseline's repeated
    sympy.diff calls are cache hits and measure nothing)."""
    times = []
    for _ in range(repeat):
        clear_cache()
        clear_caches()  # the kernel's memoised certificates too
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _sympy_fn(name: str, prime: int, v):
    if prime:
        raise ValueError("forward definitions use f, not f′")
    return {
        "sigmoid": lambda: 1 / (1 + sympy.exp(-v)), "tanh": lambda: sympy.tanh(v), "relu": lambda: sympy.Max(0, v),
        "step": lambda: sympy.Heaviside(v), "exp": lambda: sympy.exp(v), "log": lambda: sympy.log(v),
        "softplus": lambda: sympy.log(1 + sympy.exp(v)), "recip": lambda: 1 / v, "sqrt": lambda: sympy.sqrt(v),
        "square": lambda: v * v,
    }[name]()


def _sympy_mat(name: str, m):
    """Inverse, determinant and log-determinant of the explicit matrix (issue 14's layers)."""
    M = sympy.Matrix(m)
    if name == "inv":
        return M.inv().tolist()
    return [[M.det() if name == "det" else sympy.log(M.det())]]


SYMPY = Arith(sympy.Integer(0), lambda q: sympy.Rational(q.numerator, q.denominator), _sympy_fn, _sympy_mat)


def explicit_baseline(d, size: int) -> None:
    """L = ⟨dL/dy, f⟩ (or f) with one SymPy symbol per entry at every dimension = size, then
    sympy.diff by each entry of the variable."""
    loss = d.forward if d.is_loss else Inner(d.grad, d.forward)
    dims = {str(s): size for sym in loss.symbols() for s in sym.shape if not s.is_number}
    env = {}
    for s in loss.symbols():
        r, c = (int(x.subs(dims)) if not x.is_number else int(x) for x in s.shape)
        env[s.name] = [[sympy.Symbol(f"{s.name}_{i}_{j}") for j in range(c)] for i in range(r)]
    L = evaluate(loss, env, dims, SYMPY)[0][0]
    [sympy.diff(L, v) for row in env[d.wrt.name] for v in row]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--size", type=int, default=3)
    ap.add_argument("--only", nargs="*", help="layer names to measure (default: every layer of issues 10 and 14)")
    args = ap.parse_args()
    print(machine())
    print(f"medians of {args.repeat} runs; baseline: sympy.diff of explicit entries at size {args.size} "
          "(one size, not a proof)\n")
    print(f"{'layer':32s} {'symderiv':>12s} {'explicit diff':>14s} {'ratio':>8s}  status")
    for layer in CATALOG.values():
        if not isinstance(layer, ChainLayer) or (args.only and layer.name not in args.only):
            continue
        for wrt in layer.wrt:
            d = layer.derive(wrt)
            t = median_time(lambda: layer.derive(wrt), args.repeat)
            b = median_time(lambda: explicit_baseline(d, args.size), args.repeat)
            under = f" (stated under {d.hypothesis_text()})" if d.hypotheses else ""
            print(f"{layer.name + ' d/d' + wrt:32s} {t * 1000:9.1f} ms {b * 1000:11.1f} ms {t / b:8.2f}  "
                  f"{d.status}{under}, {len(d.steps)} steps")


if __name__ == "__main__":
    main()

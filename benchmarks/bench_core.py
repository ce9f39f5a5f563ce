"""Benchmark of the core: derivations, trace-cycling proofs, and SymPy baselines in the same run.

Run:  python benchmarks/bench_core.py [--repeat 5] [--kmax 12]

Prints the machine, the versions, medians and ratios to the baselines:
(a) deriving and fully verifying each catalog layer (steps + Jacobian cross-check);
(b) verify_equal on tr(A1⋯Ak) = tr(Ak A1⋯A(k−1)) (true) and tr(A1⋯Ak) = tr(A2 A1 A3⋯Ak)
    (false; k = 2 uses tr(A1ᵀA2)) for k = 2…kmax;
(c) baselines: SymPy's MatrixExpr.diff on the same forward expressions, and naive explicit
    expansion (as_explicit + expand) of the trace identity at the fixed size n = 3.
Timings are medians of --repeat runs; the machine is shared, so compare ratios, not absolutes.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import jinja2  # noqa: E402
import sympy  # noqa: E402

import symderiv  # noqa: E402
from machine import machine_line  # noqa: E402  (benchmarks/machine.py)
from symderiv.derive.catalog import CATALOG, ChainLayer  # noqa: E402
from symderiv.lang.operators import MatMul, Sym, Trace, Transpose  # noqa: E402
from symderiv.kernel.decide import verify_equal  # noqa: E402
from symderiv.kernel.decide import clear_caches  # noqa: E402


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        clear_caches()  # the kernel's memoised certificates: a repeated run would be a replay
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def ms(t: float) -> str:
    return f"{t * 1000:9.2f} ms"


def machine() -> str:
    return machine_line(sympy=sympy.__version__, jinja2=jinja2.__version__, symderiv=symderiv.__version__)


def sympy_forward(name: str, wrt: str):
    """The same forward definition as a SymPy scalar loss, for MatrixExpr.diff."""
    m, n = sympy.symbols("m n")
    x, ys = sympy.MatrixSymbol("x", n, 1), sympy.MatrixSymbol("ystar", n, 1)
    if name == "mse":
        return (sympy.Rational(1, 2) * (x - ys).T * (x - ys))[0, 0], x
    if name == "linear":
        w, g = sympy.MatrixSymbol("w", m, n), sympy.MatrixSymbol("g", m, 1)
        return sympy.Trace(g.T * w * x), {"x": x, "w": w}[wrt]
    w, g = sympy.MatrixSymbol("w", n, 1), sympy.MatrixSymbol("g", n, 1)
    return sympy.Trace(g.T * (x + w)), {"x": x, "w": w}[wrt]


def explicit_sequence_diff(d) -> None:
    """Baseline: L = ⟨g, f(x, w)⟩ with explicit symbolic entries at one size, differentiated by sympy."""
    from symderiv.kernel.decide import seq_evaluate
    from symderiv.lang.operators import INF

    params = {sympy.Symbol("n"): 5, sympy.Symbol("k"): 3}
    env = {}
    for s in [d.output] + d.forward.symbols():
        n = s.shape[0]
        idx = range(-2, 3) if n is INF else range(int(sympy.sympify(n).subs(params)))
        env[s.name] = {i: sympy.Symbol(f"{s.name}_{i}") for i in idx}
    env[d.grad.name] = env.pop(d.output.name)
    L = sympy.expand(sum(env[d.grad.name].get(i, 0) * v for i, v in seq_evaluate(d.forward, env, params).items()))
    [sympy.diff(L, v) for v in env[d.wrt.name].values()]


def naive_trace_check(k: int, size: int, false: bool) -> bool:
    mats = [sympy.Matrix(size, size, lambda i, j, a=a: sympy.Symbol(f"a{a}_{i}{j}")) for a in range(k)]
    lhs = sympy.prod(mats, start=sympy.eye(size)).trace()
    order = ([1, 0] + list(range(2, k))) if false else ([k - 1] + list(range(k - 1)))
    rhs = sympy.prod([mats[i] for i in order], start=sympy.eye(size)).trace()
    return sympy.expand(lhs - rhs) == 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--kmax", type=int, default=12)
    ap.add_argument("--naive-kmax", type=int, default=6)
    args = ap.parse_args()
    print(machine())
    print(f"medians of {args.repeat} runs\n")

    print("(a) derive + verify every step + Jacobian cross-check, vs SymPy MatrixExpr.diff alone")
    print(f"{'layer':14s} {'symderiv':>12s} {'sympy diff':>12s} {'ratio':>8s}  status")
    for layer in CATALOG.values():
        if hasattr(layer, "modes") or isinstance(layer, ChainLayer):  # ChainLayer: bench_nonlinear.py
            continue
        for wrt in layer.wrt:
            d = layer.derive(wrt)
            t = median_time(lambda: layer.derive(wrt), args.repeat)
            expr, var = sympy_forward(layer.name, wrt)
            b = median_time(lambda: expr.diff(var), args.repeat)
            print(f"{layer.name + ' d/d' + wrt:14s} {ms(t)} {ms(b)} {t / b:8.1f}  {d.status}")

    print("\n(a') correlation/convolution layers: derive + verify for all supports/lengths, vs the baseline of")
    print("     explicit entries at one size (n=5, k=3; infinite: supports [-2, 2]) differentiated with sympy.diff")
    print(f"{'layer':28s} {'symderiv':>12s} {'explicit diff':>14s} {'ratio':>8s}  status")
    for layer in CATALOG.values():
        if not hasattr(layer, "modes"):
            continue
        for mode in layer.modes:
            for wrt in layer.wrt:
                d = layer.derive(wrt, mode=mode)
                t = median_time(lambda: layer.derive(wrt, mode=mode), args.repeat)
                b = median_time(lambda: explicit_sequence_diff(d), args.repeat)
                print(f"{layer.name + ' ' + mode + ' d/d' + wrt:28s} {ms(t)} {ms(b):>14s} {t / b:8.1f}  {d.status}")

    print("\n(a'') checking Markdown documents (parse + every step + Jacobian checks)")
    from symderiv.documents.documents import check_file

    root = os.path.join(os.path.dirname(__file__), "..", "examples")
    for rel in ["seed-notes.md", "course/derivations/linear.md", "course/derivations/quadratic.md"]:
        path = os.path.join(root, rel)
        doc = check_file(path)
        steps = len(doc.all_steps())
        t = median_time(lambda: check_file(path), args.repeat)
        print(f"{rel:36s} {ms(t)}  {steps} steps, {t / max(steps, 1) * 1000:.1f} ms/step, {doc.status}")

    print("\n(b) trace cycling, verify_equal (proof for all n) vs naive explicit expansion at n = 3")
    print(f"{'k':>3s} {'true: proved':>14s} {'false: refuted':>15s} {'naive n=3':>12s} {'ratio naive/ours':>17s}")
    rows = []
    for k in range(2, args.kmax + 1):
        As = [Sym(f"A{i}", "n", "n") for i in range(1, k + 1)]
        lhs = Trace(MatMul(*As))
        rhs_true = Trace(MatMul(As[-1], *As[:-1]))
        rhs_false = Trace(MatMul(As[1], As[0], *As[2:])) if k > 2 else Trace(MatMul(Transpose(As[0]), As[1]))
        vt, vf = verify_equal(lhs, rhs_true), verify_equal(lhs, rhs_false)
        assert vt.status == "verified" and vf.status == "failed", (k, vt.status, vf.status)
        tt = median_time(lambda: verify_equal(lhs, rhs_true), args.repeat)
        tf = median_time(lambda: verify_equal(lhs, rhs_false), args.repeat)
        if k <= args.naive_kmax:
            tn = median_time(lambda: naive_trace_check(k, 3, False), max(1, args.repeat // 2))
            naive = f"{ms(tn)} {tn / tt:17.1f}"
        else:
            naive = f"{'skipped':>12s} {'':>17s}"
        rows.append((k, tt))
        print(f"{k:3d} {ms(tt):>14s} {ms(tf):>15s} {naive}")
    # growth: fit log t = a + b log k over k >= 6 (where the fixed costs stop dominating)
    import math

    pts = [(math.log(k), math.log(t)) for k, t in rows if k >= 6]
    if len(pts) >= 2:
        mx = sum(p[0] for p in pts) / len(pts)
        my = sum(p[1] for p in pts) / len(pts)
        slope = sum((p[0] - mx) * (p[1] - my) for p in pts) / sum((p[0] - mx) ** 2 for p in pts)
        print(f"\ngrowth of the proof time for k >= 6: ~ k^{slope:.2f} (polynomial); "
              f"k = {rows[-1][0]}: {ms(rows[-1][1]).strip()} (target < 1000 ms)")


if __name__ == "__main__":
    main()

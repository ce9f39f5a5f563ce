"""Speed benchmark (issue 13): symderiv against the tools a user would pick instead, in one run.

Run:  python benchmarks/bench_speed.py [--repeat 5] [--kmax 128] [--concat 10]

Prints the machine and the versions, then medians of --repeat runs (CPU time of this process,
or of the child for whole commands) and ratios to a baseline measured in the same run:
(a) start-up: `symderiv --help`, `symderiv list`, a usage error, and `derive`, `check` and `report`
    on small inputs, against `python -c "import sympy"` (whole processes, bytecode cached; CPU time of
    the child, paired run by run), with each command's own work measured warm in this process, so
    overhead = (command − import sympy) − its work;
(b) derive + prove every step + Jacobian cross-check, interactive default and with the double
    check (the optional second proof), against SymPy's MatrixExpr.diff on the same forward,
    warm (the same expression again: SymPy's cache is warm) and cold (sympy.core.cache.clear_cache()
    before each run); tensorgrad's grad().full_simplify() when tensorgrad is installed;
(c) the trace cycle tr(A1⋯Ak) = tr(Ak A1⋯A(k−1)) proved (and the false tr(A2 A1 A3⋯Ak)
    refuted) for k up to --kmax, with the growth exponent of the proof time;
(d) `check` on examples/seed-notes.md and on --concat copies of it (reading + checking), per
    math line, with the growth ratio and the peak memory (tracemalloc); the same with the reader's
    parser before issue 13 (lark's Earley over the grammar frozen in tests/data/math-earley.lark,
    benchmarks/earley_baseline.py) as the baseline, and the parsing alone (each distinct line once).
The machine is shared: compare ratios, not absolutes.
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)

import jinja2  # noqa: E402
import numpy  # noqa: E402
import sympy  # noqa: E402

import symderiv  # noqa: E402
from earley_baseline import cold_reader, earley_reader  # noqa: E402  (benchmarks/earley_baseline.py)
from machine import machine_line  # noqa: E402  (benchmarks/machine.py)
from symderiv.derive.catalog import get_layer  # noqa: E402
from symderiv.derive.engine import derive  # noqa: E402
from symderiv.kernel.decide import verify_equal  # noqa: E402
from symderiv.lang.operators import MatMul, Sym, Trace, Transpose  # noqa: E402

try:  # the switch of the optional second proof (absent before issue 13: it always ran)
    from symderiv.kernel.budget import set_double_check
except ImportError:  # pragma: no cover
    def set_double_check(on: bool) -> bool:
        return True

try:
    import tensorgrad  # type: ignore  # noqa: F401
    TENSORGRAD = True
except ImportError:
    TENSORGRAD = False


def cpu_median(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return statistics.median(times)


def child_cpu(cmd: list[str], repeat: int) -> float:
    """Median CPU time (user + sys) of a whole child process."""
    subprocess.run(cmd, capture_output=True, cwd=ROOT)  # warm the file cache
    times = []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, capture_output=True, cwd=ROOT)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(times)


def ms(t: float) -> str:
    return f"{t * 1000:9.1f} ms"


def machine() -> str:
    return machine_line(sympy=sympy.__version__, numpy=numpy.__version__, jinja2=jinja2.__version__,
                        symderiv=symderiv.__version__)


# ---------------------------------------------------------------------------------------
# (b) the same forward in symderiv and in SymPy
# ---------------------------------------------------------------------------------------
def symderiv_case(name: str):
    """A function deriving and checking the case with symderiv, and its status."""
    if name in ("mse d/dx", "linear d/dx"):
        layer = get_layer(name.split()[0])
        return lambda: layer.derive("x")
    if name == "chain d/dW2":  # y = W3 W2 W1 x
        x, W1, W2, W3 = Sym("x", "n", 1), Sym("W1", "a", "n"), Sym("W2", "b", "a"), Sym("W3", "m", "b")
        y = Sym("y", "m", 1)
        return lambda: derive(y, MatMul(W3, W2, W1, x), W2)
    if name == "tr(AXBX^T) d/dX":
        A, X, B = Sym("A", "n", "n"), Sym("X", "n", "n"), Sym("B", "n", "n")
        return lambda: derive(Sym("L", 1, 1), Trace(MatMul(A, X, B, Transpose(X))), X, is_loss=True)
    raise KeyError(name)


def sympy_case(name: str):
    n, m, a, b = sympy.symbols("n m a b")
    M = sympy.MatrixSymbol
    if name == "mse d/dx":
        x, ys = M("x", n, 1), M("ystar", n, 1)
        return (sympy.Rational(1, 2) * (x - ys).T * (x - ys))[0, 0], x
    if name == "linear d/dx":
        x, w, g = M("x", n, 1), M("w", m, n), M("g", m, 1)
        return sympy.Trace(g.T * w * x), x
    if name == "chain d/dW2":
        x, W1, W2, W3, g = M("x", n, 1), M("W1", a, n), M("W2", b, a), M("W3", m, b), M("g", m, 1)
        return sympy.Trace(g.T * W3 * W2 * W1 * x), W2
    if name == "tr(AXBX^T) d/dX":
        A, X, B = M("A", n, n), M("X", n, n), M("B", n, n)
        return sympy.Trace(A * X * B * X.T), X
    raise KeyError(name)


def tensorgrad_case(name: str):
    """tensorgrad's grad().full_simplify() on the same forward (only when it is installed)."""
    import tensorgrad.functions as F  # type: ignore
    from tensorgrad import Variable  # type: ignore

    n, m, a, b = sympy.symbols("n m a b")
    if name == "linear d/dx":
        x, w = Variable("x", n), Variable("w", m, n)
        expr = w @ x
        return lambda: expr.grad(x).full_simplify()
    if name == "mse d/dx":
        x, ys = Variable("x", n), Variable("ystar", n)
        expr = F.sum((x - ys) ** 2) / 2
        return lambda: expr.grad(x).full_simplify()
    raise KeyError(name)


def section_b(repeat: int) -> None:
    print("(b) derive + prove every step + Jacobian cross-check, vs SymPy MatrixExpr.diff on the same forward")
    print(f"{'work':18s} {'default':>12s} {'double-check':>13s} {'sympy warm':>12s} {'sympy cold':>12s} "
          f"{'/warm':>7s} {'/cold':>7s}  status")
    from symderiv.kernel.decide import clear_caches

    for name in ("mse d/dx", "linear d/dx", "chain d/dW2", "tr(AXBX^T) d/dX"):
        case = symderiv_case(name)

        def run(case=case):
            clear_caches()  # each run cold: certificates memoised by an earlier run are forgotten
            return case()

        set_double_check(True)
        status = run().status
        t_dc = cpu_median(run, repeat)
        set_double_check(False)
        assert run().status == status
        t = cpu_median(run, repeat)
        expr, var = sympy_case(name)
        expr.diff(var)
        warm = cpu_median(lambda: expr.diff(var), repeat)

        def cold() -> None:
            sympy.core.cache.clear_cache()
            expr.diff(var)

        t_cold = cpu_median(cold, repeat)
        print(f"{name:18s} {ms(t)} {ms(t_dc):>13s} {ms(warm)} {ms(t_cold)} {t / warm:7.1f} {t / t_cold:7.1f}  {status}")
    if TENSORGRAD:
        for name in ("mse d/dx", "linear d/dx"):
            try:
                tg = tensorgrad_case(name)
                tg()
                print(f"  tensorgrad {name}: {ms(cpu_median(tg, repeat))}")
            except Exception as exc:  # an API this script does not know: say so, never guess a figure
                print(f"  tensorgrad {name}: skipped ({type(exc).__name__}: {exc})")
    else:
        print("  tensorgrad: not installed, skipped (its PyPI package pulls torch with the CUDA wheels, "
              "several GB; the ratios above are to SymPy)")
    set_double_check(False)


# ---------------------------------------------------------------------------------------
# (c) trace cycles
# ---------------------------------------------------------------------------------------
def section_c(repeat: int, kmax: int) -> None:
    from symderiv.kernel.decide import clear_caches

    print(f"\n(c) trace cycle tr(A1⋯Ak) = tr(Ak A1⋯A(k−1)) proved, tr(A2 A1 A3⋯Ak) refuted (default budget)")
    print(f"{'k':>4s} {'true: proved':>14s} {'false: refuted':>15s}")
    rows = []
    for k in [k for k in (8, 16, 32, 48, 64, 96, 128, 192, 256) if k <= kmax]:
        As = [Sym(f"A{i}", "n", "n") for i in range(1, k + 1)]
        lhs = Trace(MatMul(*As))
        rhs_true, rhs_false = Trace(MatMul(As[-1], *As[:-1])), Trace(MatMul(As[1], As[0], *As[2:]))
        vt, vf = verify_equal(lhs, rhs_true), verify_equal(lhs, rhs_false)
        # each run cold: the kernel memoises certificates, so a repeated claim would be a replay
        tt = cpu_median(lambda: (clear_caches(), verify_equal(lhs, rhs_true)), repeat)
        tf = cpu_median(lambda: (clear_caches(), verify_equal(lhs, rhs_false)), repeat)
        rows.append((k, tt, tf))
        print(f"{k:4d} {ms(tt):>14s} {ms(tf):>15s}   {vt.status} / {vf.status}")
    for col, what in ((1, "proof"), (2, "refutation")):
        pts = [(math.log(r[0]), math.log(r[col])) for r in rows if r[0] >= 32]
        if len(pts) >= 2:
            mx, my = sum(p[0] for p in pts) / len(pts), sum(p[1] for p in pts) / len(pts)
            slope = sum((p[0] - mx) * (p[1] - my) for p in pts) / sum((p[0] - mx) ** 2 for p in pts)
            print(f"growth of the {what} time for k >= 32: ~ k^{slope:.2f}")


# ---------------------------------------------------------------------------------------
# (d) documents
# ---------------------------------------------------------------------------------------
def section_d(repeat: int, concat: int) -> None:
    from symderiv.documents.documents import check_file
    from symderiv.documents.reader import _parse_cached, scan_markdown

    print("\n(d) symderiv check (read + check every step), examples/seed-notes.md and concatenated copies;")
    print("    baseline: the reader's Earley parser before issue 13, in the same run (parse caches cleared)")
    path = os.path.join(ROOT, "examples", "seed-notes.md")
    text = open(path, encoding="utf-8").read()
    math_lines = sum(1 for line in text.splitlines() if "$" in line)
    distinct = list(dict.fromkeys(ml.text for b in scan_markdown(text, path) for ml in b.math))
    cold_reader()
    doc = check_file(path)
    with earley_reader():
        before = check_file(path)
        assert [(s.line, s.status) for s, _ in before.all_steps()] == [(s.line, s.status) for s, _ in doc.all_steps()]
        t1e = cpu_median(lambda: (cold_reader(), check_file(path)), repeat)
    t1 = cpu_median(lambda: (cold_reader(), check_file(path)), repeat)
    print(f"{'1 copy':10s} {ms(t1)}  {math_lines} math lines, {t1 / math_lines * 1000:.2f} ms per math line "
          f"(Earley {t1e / math_lines * 1000:.2f} ms, ×{t1e / t1:.1f}), {len(doc.all_steps())} steps, {doc.status}, "
          "the same verdicts")

    def parse_all() -> None:
        cold_reader()
        for line in distinct:
            _parse_cached(line)

    with earley_reader():
        pe = cpu_median(parse_all, repeat)
    pl = cpu_median(parse_all, repeat)
    print(f"{'parsing':10s} {ms(pl)}  {len(distinct)} distinct math lines, {pl / len(distinct) * 1000:.2f} ms per line "
          f"(Earley {ms(pe).strip()}, {pe / len(distinct) * 1000:.2f} ms per line, ×{pe / pl:.1f})")
    if concat > 1:
        with tempfile.TemporaryDirectory() as tmp:
            big = os.path.join(tmp, "seed-notes-x.md")
            with open(big, "w", encoding="utf-8") as fh:
                fh.write("\n\n".join([text] * concat))
            with earley_reader():
                t0 = time.process_time()
                check_file(big)
                tne = time.process_time() - t0
            cold_reader()
            t0 = time.process_time()
            doc = check_file(big)
            tn = time.process_time() - t0
            cold_reader()  # memory in a second run: tracing allocations slows the run it watches
            tracemalloc.start()
            check_file(big)
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        print(f"{str(concat) + ' copies':10s} {ms(tn)}  {tn / (concat * math_lines) * 1000:.2f} ms per math line "
              f"(Earley {ms(tne).strip()}, ×{tne / tn:.1f}), growth {tn / t1:.1f}× for {concat}× the text, peak "
              f"traced memory {peak / 2**20:.1f} MiB, {doc.status}")


_TINY_DOC = "Let $x \\in \\mathbf{R}^n$ be the input.\n\n$$\\|x\\|^2 = x^T x$$\n"


def _installed_env() -> dict[str, str]:
    """The environment of the child processes: bytecode cached, as in an installed package (this
    machine sets PYTHONDONTWRITEBYTECODE, which makes every process compile symderiv's sources,
    about 80 ms that no installed copy pays)."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def paired_cpu(cmds: list[list[str]], repeat: int, env: dict[str, str]) -> list[list[float]]:
    """CPU times of each command, run in turn (A B C A B C …, so a drift of the shared machine's
    speed hits all of them alike): one list per command, run by run."""
    def one(c: list[str]) -> float:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(c, capture_output=True, cwd=ROOT, env=env)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime

    for c in cmds:  # warm the file cache (and write the bytecode)
        one(c)
    runs: list[list[float]] = [[] for _ in cmds]
    for _ in range(repeat):
        for c, r in zip(cmds, runs):
            r.append(one(c))
    return runs


def median_diff(a: list[float], b: list[float]) -> float:
    """The median of the run-by-run differences a − b."""
    return statistics.median(x - y for x, y in zip(a, b))


def warm_work(argv: list[str], repeat: int) -> float:
    """Median CPU time of the command's own work in this process, after a first run has paid its
    imports and lazy set-up (lark parser, jinja2 templates): what the command costs beyond start-up."""
    import contextlib
    import io

    from symderiv.cli import main

    def run() -> None:
        cold_reader()  # parsing the line is work, not start-up
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            main(argv)

    run()
    return cpu_median(run, repeat)


def section_a(repeat: int) -> None:
    py = sys.executable
    env = _installed_env()
    subprocess.run([py, "-m", "compileall", "-q", os.path.join(ROOT, "symderiv")], capture_output=True, env=env)
    print("(a) start-up, whole processes (CPU time of the child, bytecode cached as in an installed package)")
    sympy_cmd = [py, "-c", "import sympy"]
    quick_cmd = [py, "-c", "import sympy, os; os._exit(0)"]  # symderiv's commands exit this way
    bare = child_cpu([py, "-c", "pass"], repeat)
    print(f"{'python -c pass':40s} {ms(bare)}")
    quick, base = paired_cpu([quick_cmd, sympy_cmd], repeat, env)
    label = 'python -c "import sympy" (baseline)'
    print(f"{label:40s} {ms(statistics.median(base))}")
    print(f"{'the same, then os._exit (no teardown)':40s} {ms(statistics.median(quick))}  "
          f"teardown {ms(-median_diff(quick, base)).strip()}")
    print(f"\n{'command':40s} {'CPU':>10s} {'/ sympy':>8s} {'over sympy':>11s} {'no teardown':>12s} {'its work':>9s} "
          f"{'overhead':>9s}")
    with tempfile.TemporaryDirectory() as tmp:
        doc = os.path.join(tmp, "tiny.md")
        with open(doc, "w", encoding="utf-8") as fh:
            fh.write(_TINY_DOC)
        rows = [("symderiv --help", ["--help"], False), ("symderiv list", ["list"], False),
                ("symderiv frobnicate (usage error)", ["frobnicate"], False),
                ("symderiv derive linear", ["derive", "linear"], True),
                ("symderiv derive linear --format json", ["derive", "linear", "--format", "json"], True),
                ("symderiv check tiny.md (one claim)", ["check", doc], True),
                ("symderiv report tiny.md --format md", ["report", doc, "--format", "md"], True)]
        for label, argv, heavy in rows:
            cmd, base, quick = paired_cpu([[py, "-m", "symderiv", *argv], sympy_cmd, quick_cmd], repeat, env)
            t = statistics.median(cmd)
            ratio = statistics.median(x / y for x, y in zip(cmd, base))
            if not heavy:
                print(f"{label:40s} {ms(t):>10s} {ratio:8.2f}")
                continue
            over, over_quick = median_diff(cmd, base), median_diff(cmd, quick)
            work = warm_work(argv, repeat)
            print(f"{label:40s} {ms(t):>10s} {ratio:8.2f} {ms(over).strip():>11s} {ms(over_quick).strip():>12s} "
                  f"{ms(work).strip():>9s} {ms(over_quick - work).strip():>9s}")
    print("/ sympy: ratio to import sympy, run by run; over sympy: the command's CPU minus import sympy's; no teardown:\n"
          "minus that of import sympy ending with os._exit, as the commands end; its work: the same command again in a\n"
          "warm process; overhead = no teardown − its work (imports beyond SymPy, lark parser, jinja2 templates)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--kmax", type=int, default=128)
    ap.add_argument("--concat", type=int, default=10, help="copies of seed-notes.md for the growth row (issue: 50)")
    ap.add_argument("--only", default="abcd", help="sections to run, e.g. 'bc'")
    args = ap.parse_args()
    print(machine())
    print(f"medians of {args.repeat} runs, CPU time\n")
    if "a" in args.only:
        section_a(args.repeat)
        print()
    if "b" in args.only:
        section_b(args.repeat)
    if "c" in args.only:
        section_c(args.repeat, args.kmax)
    if "d" in args.only:
        section_d(args.repeat, args.concat)


if __name__ == "__main__":
    main()

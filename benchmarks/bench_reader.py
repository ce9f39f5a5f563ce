"""Benchmark of the document reader on large documents (issue 8: reading stays linear).

Run:  python benchmarks/bench_reader.py [--mb 1.9]

Builds three documents of about --mb megabytes (under the 2 MB file limit) and times
``check_text`` on each, end to end (reading, checking, the whole-document budget):
(a) the example course repeated (repeated lines: the parse cache helps);
(b) distinct sections, two display lines each (every line parsed once);
(c) one display equation repeated on many lines.
Also times (b) at 1/8, 1/4 and 1/2 of the size, to show the growth up to the budget. With --earley, each
row is timed again with the reader's parser before issue 13 (Earley, benchmarks/earley_baseline.py) in the
same run, with the ratio. The machine is shared: compare ratios, not absolutes.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from symderiv.documents.documents import check_text  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from earley_baseline import cold_reader, earley_reader  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), "..")
LIN = r"Let $x \in \mathbf{R}^n$, $W \in \mathbf{R}^{m \times n}$, $y \in \mathbf{R}^m$."


def course(size: int) -> str:
    folder = os.path.join(ROOT, "examples", "course", "derivations")
    src = "\n".join(open(os.path.join(folder, f), encoding="utf-8").read() for f in sorted(os.listdir(folder)))
    return src * (size // len(src))


def distinct(size: int) -> str:
    parts, i, n = ["# Big\n\n" + LIN + "\n"], 0, 0
    while n < size:
        p = f"\n## S{i}\n\n$$y = W x$$\n\n$$ {i + 2} W x - {i} W x = 2 W x$$\n"
        parts.append(p)
        n += len(p)
        i += 1
    return "".join(parts)


def repeated(size: int) -> str:
    line = "$$x = x$$\n\n"
    return "# T\n\nLet $x \\in \\mathbf{R}^n$.\n\n" + line * (size // len(line))


def timed(text: str) -> tuple[float, str]:
    cold_reader()  # each document starts cold
    t = time.perf_counter()
    d = check_text(text, "bench.md")
    counts = {}
    for s, _ in d.all_steps():
        counts[s.status] = counts.get(s.status, 0) + 1
    return time.perf_counter() - t, f"{d.status} {counts}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=float, default=1.9)
    ap.add_argument("--earley", action="store_true", help="also time each row with the Earley reader (baseline)")
    args = ap.parse_args()
    size = int(args.mb * 1_000_000)

    def row(name: str, text: str) -> None:
        seconds, verdict = timed(text)
        line = f"{name:20s} {len(text) / 1e6:5.2f} MB  {seconds:7.2f} s  {verdict}"
        if args.earley:
            with earley_reader():
                before, verdict_before = timed(text)
            assert verdict_before == verdict, (verdict_before, verdict)
            line += f"   Earley {before:7.2f} s  ×{before / seconds:.1f}"
        print(line)

    for name, make in (("course repeated", course), ("distinct sections", distinct), ("one line repeated", repeated)):
        row(name, make(size))
    for frac in (8, 4, 2):
        row(f"distinct 1/{frac}", distinct(size // frac))


if __name__ == "__main__":
    main()

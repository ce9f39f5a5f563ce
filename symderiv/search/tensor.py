"""Counterexample candidates for 2-D convolution claims (UNTRUSTED): sizes with distinct channel counts and
every length ≥ 2 where the claim allows (so a 1×1 kernel, a single output row or C = O = 1 cannot hide a
wrong flip or a missing transpose), and small random integer entries. The kernel
(:func:`symderiv.kernel.multiaxis.find_counterexample`) checks each candidate before it counts."""
from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from symderiv.kernel.multiaxis import Tensor, random_env, size_points
from symderiv.lang.operators import Expr


def tensor_candidates(lhs: Expr, rhs: Expr, seed: int = 0) -> Iterator[tuple[dict[Any, int], dict[str, int],
                                                                           dict[str, Tensor]]]:
    """(sizes, channel counts, entries), two draws of entries per size, deterministic in ``seed``."""
    exprs = [lhs, rhs]
    for point, chans in size_points(exprs, seed=seed):
        for draw in range(2):
            rng = random.Random(hash((seed, draw, tuple(sorted(point.values())))) & 0xFFFF)
            yield point, chans, random_env(exprs, point, rng, chans)

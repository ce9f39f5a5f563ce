"""symderiv: machine-checked derivations of neural-network gradients.

Quick use::

    import sympy
    from symderiv import matrix, vector, verify_equal
    n = sympy.Symbol("n")
    A, B, C = (matrix(s, n, n) for s in "ABC")
    verify_equal(sympy.Trace(A * B * C), sympy.Trace(C * A * B)).status   # 'verified'

The names below are loaded on first use (PEP 562), so ``import symderiv`` and the command's
``--help`` do not pay for importing SymPy. The kernel loads the counterexample search itself
before its first verdict (:func:`symderiv.kernel.refute.current`).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from symderiv.derive.assumptions import det_positive, invertible, positive, sums_to, symmetric
    from symderiv.kernel.decide import Budget, Hypothesis, Verdict, verify_equal, verify_first_order
    from symderiv.lang.operators import (
        Expr,
        det,
        diag,
        divide,
        exp,
        hadamard,
        identity,
        inner,
        inv,
        log,
        logdet,
        ones,
        relu,
        sigmoid,
        softplus,
        sqrt,
        tanh,
        trace,
        transpose,
    )
    from symderiv.lang.symbols import delta, gradient_symbol, matrix, scalar, vector

_WHERE = {
    "Budget": "symderiv.kernel.decide",
    "Hypothesis": "symderiv.kernel.decide",
    "positive": "symderiv.derive.assumptions",
    "invertible": "symderiv.derive.assumptions",
    "det_positive": "symderiv.derive.assumptions",
    "sums_to": "symderiv.derive.assumptions",
    "symmetric": "symderiv.derive.assumptions",
    **{f: "symderiv.lang.operators" for f in (
        "det", "diag", "divide", "exp", "identity", "inv", "log", "logdet", "ones", "relu", "sigmoid", "softplus",
        "sqrt", "tanh")},
    "Verdict": "symderiv.kernel.decide",
    "verify_equal": "symderiv.kernel.decide",
    "verify_first_order": "symderiv.kernel.decide",
    "Expr": "symderiv.lang.operators",
    "hadamard": "symderiv.lang.operators",
    "inner": "symderiv.lang.operators",
    "trace": "symderiv.lang.operators",
    "transpose": "symderiv.lang.operators",
    "delta": "symderiv.lang.symbols",
    "gradient_symbol": "symderiv.lang.symbols",
    "matrix": "symderiv.lang.symbols",
    "scalar": "symderiv.lang.symbols",
    "vector": "symderiv.lang.symbols",
}


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value  # later lookups skip this hook
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


__all__ = [
    "Budget",
    "Expr",
    "Hypothesis",
    "Verdict",
    "det",
    "det_positive",
    "diag",
    "divide",
    "exp",
    "identity",
    "inv",
    "invertible",
    "log",
    "logdet",
    "ones",
    "positive",
    "relu",
    "sigmoid",
    "softplus",
    "sqrt",
    "sums_to",
    "symmetric",
    "tanh",
    "delta",
    "gradient_symbol",
    "hadamard",
    "inner",
    "matrix",
    "scalar",
    "trace",
    "transpose",
    "vector",
    "verify_equal",
    "verify_first_order",
]
__version__ = "0.1.0"

"""symderiv: machine-checked derivations of neural-network gradients.

Quick use::

    import sympy
    from symderiv import matrix, vector, verify_equal
    n = sympy.Symbol("n")
    A, B, C = (matrix(s, n, n) for s in "ABC")
    verify_equal(sympy.Trace(A * B * C), sympy.Trace(C * A * B)).status   # 'verified'
"""
import symderiv.report.display  # noqa: F401  registers the notebook display of derivations
import symderiv.search  # noqa: F401  installs the counterexample search into the kernel
from symderiv.derive.assumptions import positive, sums_to, symmetric
from symderiv.kernel.decide import Budget, Hypothesis, Verdict, verify_equal, verify_first_order
from symderiv.lang.operators import (
    Expr,
    diag,
    divide,
    exp,
    hadamard,
    identity,
    inner,
    log,
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

__all__ = [
    "Budget",
    "Expr",
    "Hypothesis",
    "Verdict",
    "diag",
    "divide",
    "exp",
    "identity",
    "log",
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

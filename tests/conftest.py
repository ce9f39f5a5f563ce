import pytest
import sympy

from symderiv.lang.operators import Sym


@pytest.fixture
def n():
    return sympy.Symbol("n")


@pytest.fixture
def sq():
    """Square n×n matrices A, B, C, D, X."""
    return {k: Sym(k, "n", "n") for k in "ABCDX"}

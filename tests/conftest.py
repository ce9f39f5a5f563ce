import os

import numpy  # noqa: F401 — imported before any pytester run: an in-process run restores sys.modules
import pytest
import sympy

from symderiv.kernel.budget import set_double_check
from symderiv.lang.operators import Sym

# The suite runs the optional second proof (explicit polynomial identities) on every matrix step,
# in this process and in the commands it starts, as reports do: an independent check of the
# canonical forms on every test. Tests of the interactive default set Budget(double_check=False).
os.environ["SYMDERIV_DOUBLE_CHECK"] = "1"
set_double_check(True)
# (the numpy import above: pytester's in-process runs remove the modules they imported, and numpy,
# which the kernel's modular screen imports on first use, cannot be loaded twice in one process —
# a test file run after test_pytest_plugin.py then saw "ImportError: cannot load module more than once")


@pytest.fixture
def n():
    return sympy.Symbol("n")


@pytest.fixture
def sq():
    """Square n×n matrices A, B, C, D, X."""
    return {k: Sym(k, "n", "n") for k in "ABCDX"}

"""Exceptions raised by symderiv.

Every error a user can trigger derives from :class:`SymderivError`, so the CLI can
turn it into a one-line message and exit status 2 without a traceback.
"""
from __future__ import annotations


class SymderivError(Exception):
    """Base class for errors caused by the user's input."""


class ShapeError(SymderivError):
    """Two operands whose shapes do not fit, with symbolic dimensions taken literally.

    Dimensions are independent symbols: ``n`` and ``1`` (or ``m`` and ``n``) never match,
    because the identity must hold for every size each symbol can take.
    """


class NameError_(SymderivError):
    """A symbol name that cannot be used (unsafe characters, or one name with two shapes)."""


class BudgetExceeded(Exception):
    """A check ran past its budget. Not a user error: the verdict becomes ``undecided``."""


class DerivationError(SymderivError):
    """The engine cannot build a derivation for the given forward definition."""

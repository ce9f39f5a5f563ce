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


class ReadError(SymderivError):
    """The input cannot be read: the message names file, line and column."""

    def __init__(self, path: str, line: int, col: int, message: str):
        self.path, self.line, self.col, self.message = path, line, col, message
        super().__init__(f"{path}:{line}:{col}: {message}")


class LineError(SymderivError):
    """A problem confined to one math line (undeclared symbol, shape mismatch)."""

    def __init__(self, line: int, col: int, message: str):
        self.line, self.col, self.message = line, col, message
        super().__init__(message)


class NotInFragment(Exception):
    """The expression is outside what this procedure decides (e.g. a window that cannot be removed)."""


class IllFormed(Exception):
    """An index expression that is not a well-formed sum (free or doubly bound indices)."""


class OutsideDomain(Exception):
    """An evaluation left a function's domain (log of a non-positive entry, 1/0, a pole of 1/(n−1)).

    ``certain`` is True when the argument is *certainly* outside the domain (an exact 0, or an
    interval enclosure entirely ≤ 0), False when an interval only touches the boundary."""

    def __init__(self, message: str, certain: bool = True):
        self.certain = certain
        super().__init__(message)


class NotExact(Exception):
    """A value that exact rational arithmetic cannot represent (exp(1)), or a step function at a
    point where its value depends on the convention step(0): the caller switches arithmetic or
    tries another point."""

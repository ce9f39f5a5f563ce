"""The three verdict statuses, as one string enumeration every layer shares."""
from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    """verified (proved), failed (proved different or a checked counterexample), undecided.

    A ``str`` subclass: ``Status.VERIFIED == "verified"``, it serialises to JSON as the plain
    string, and ``str``/``format`` give the value, so code and reports that use the strings are
    unchanged.
    """

    VERIFIED = "verified"
    FAILED = "failed"
    UNDECIDED = "undecided"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    # Enum hashes by member name; hashing as the string makes ``counts["verified"]`` and
    # ``counts[Status.VERIFIED]`` the same dictionary entry.
    def __hash__(self) -> int:
        return str.__hash__(self)


#: The one mark table: what a terminal, a Markdown report or an assertion message shows for
#: each status (LaTeX reports translate these marks in :mod:`symderiv.report.marks`). It lives
#: here, beside the statuses, so every layer can print a mark without importing upward.
MARKS: dict[str, str] = {Status.VERIFIED.value: "✓", Status.FAILED.value: "✗", Status.UNDECIDED.value: "?"}


def mark(status: str) -> str:
    """✓ for verified, ✗ for failed, ? for undecided (and for anything else)."""
    return MARKS.get(status, "?")

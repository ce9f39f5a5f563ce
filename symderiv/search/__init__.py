"""Refutation only (UNTRUSTED): counterexample search, shrinking and the random integer screen.

Importing this package installs its search into the kernel (:mod:`symderiv.kernel.refute`); the
kernel re-checks every candidate exactly before it reports ``failed``.
"""
from __future__ import annotations

from symderiv.kernel import refute
from symderiv.search import counterexample, tensor


class SearchRefuter:
    """The :class:`symderiv.kernel.refute.Refuter` backed by :mod:`symderiv.search.counterexample`."""

    find_counterexample = staticmethod(counterexample.find_counterexample)
    integer_screen = staticmethod(counterexample.integer_screen)
    find_seq_candidate = staticmethod(counterexample.find_seq_candidate)
    find_index_candidate = staticmethod(counterexample.find_index_candidate)
    find_jacobian_candidate = staticmethod(counterexample.find_jacobian_candidate)
    certified_points = staticmethod(counterexample.certified_points)
    tensor_candidates = staticmethod(tensor.tensor_candidates)


#: the search the kernel loads by name when none is installed (:data:`symderiv.kernel.refute.DEFAULT_SEARCH`)
REFUTER = SearchRefuter()
refute.install(REFUTER)

"""The one union-find (disjoint sets over 0..n-1, path halving), used wherever vertices are
identified: the index-graph compiler (contracted indices) and its connected components."""
from __future__ import annotations


class UnionFind:
    """Disjoint sets of the integers ``0 .. len(self) - 1``."""

    def __init__(self, n: int = 0) -> None:
        self.parent: list[int] = list(range(n))

    def __len__(self) -> int:
        return len(self.parent)

    def add(self) -> int:
        """A new singleton; returns its element."""
        self.parent.append(len(self.parent))
        return len(self.parent) - 1

    def find(self, v: int) -> int:
        """The representative of ``v``'s set."""
        parent = self.parent
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    def merge_into(self, a: int, b: int) -> None:
        """Merge ``a``'s set into ``b``'s: the representative of ``b`` represents both."""
        self.parent[self.find(a)] = self.find(b)

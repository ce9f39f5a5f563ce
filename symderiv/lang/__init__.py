"""The expression language: symbols and shapes, nodes, builders from SymPy, index notation, printers."""

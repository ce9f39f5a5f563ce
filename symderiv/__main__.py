from symderiv.cli import _entry

_entry()

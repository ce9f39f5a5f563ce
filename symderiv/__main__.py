from symderiv.cli import console_entry

console_entry()

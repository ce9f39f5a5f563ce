"""docs/verification.md, "What you must trust", lists the kernel's files and their sizes: keep it true."""
from __future__ import annotations

import re
from pathlib import Path

import symderiv

ROOT = Path(symderiv.__file__).parent.parent
DOC = ROOT / "docs" / "verification.md"
BEGIN, END = "<!-- trust-table: begin -->", "<!-- trust-table: end -->"


def kernel_table() -> str:
    """The table as it must read: every file of symderiv/kernel/ with its line count, and the total."""
    rows = ["| file | lines |", "|---|---:|"]
    total = 0
    for p in sorted((ROOT / "symderiv" / "kernel").glob("*.py")):
        n = len(p.read_text(encoding="utf-8").splitlines())
        total += n
        rows.append(f"| `symderiv/kernel/{p.name}` | {n} |")
    rows.append(f"| **total** | **{total}** |")
    return "\n".join(rows)


def test_the_trust_table_is_true() -> None:
    text = DOC.read_text(encoding="utf-8")
    m = re.search(re.escape(BEGIN) + r"\n(.*?)\n?" + re.escape(END), text, re.S)
    assert m, "the markers of the trust table are missing from docs/verification.md"
    expected = kernel_table()
    assert m.group(1).strip() == expected, "docs/verification.md needs this table:\n" + expected


if __name__ == "__main__":  # python tests/test_trust_table.py rewrites the table in place
    text = DOC.read_text(encoding="utf-8")
    new = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: f"{BEGIN}\n{kernel_table()}\n{END}", text,
                 flags=re.S)
    DOC.write_text(new, encoding="utf-8")

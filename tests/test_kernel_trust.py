"""Only the kernel decides: verified/failed verdicts are built only inside ``symderiv/kernel/``.

The source scan is on the syntax tree (not on text), so a call split over lines or renamed import
cannot hide; the runtime checks show that the frozen verdict refuses the other routes.
"""
from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

import symderiv
from symderiv.kernel.decide import (
    FAILED,
    UNDECIDED,
    VERIFIED,
    Obligation,
    Verdict,
    annotate,
    discharge,
    ill_formed,
    undecided,
)
from symderiv.lang.symbols import delta, matrix

PKG = Path(symderiv.__file__).parent
KERNEL = PKG / "kernel"


def _outside_kernel() -> list[Path]:
    return [p for p in sorted(PKG.rglob("*.py")) if KERNEL not in p.parents]


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[str] = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(PKG.parent)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Name) and node.id in {"_KERNEL", "decided"}:
            out.append(f"{where}: uses the kernel-private {node.id}")
        if isinstance(node, ast.Attribute) and node.attr in {"_KERNEL", "decided", "origin"}:
            out.append(f"{where}: uses the kernel-private .{node.attr}")
        if isinstance(node, ast.alias) and node.name in {"_KERNEL", "decided"}:
            out.append(f"{where}: imports the kernel-private {node.name}")
        if isinstance(node, ast.Call):
            kws = {k.arg for k in node.keywords}
            if _name(node.func) == "Verdict":
                out.append(f"{where}: constructs Verdict directly (use undecided/ill_formed/annotate)")
            if _name(node.func) == "replace" and kws & {"status", "origin", "counterexample", "difference"}:
                out.append(f"{where}: replace() changes a verdict's status or evidence")
            if "origin" in kws:
                out.append(f"{where}: passes origin=")
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for sub in ast.walk(t):
                    if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Attribute) \
                            and sub.value.attr == "verdict":
                        out.append(f"{where}: mutates .verdict.{sub.attr}")
    return out


def test_scan_finds_what_it_looks_for(tmp_path: Path) -> None:
    """The scanner is not vacuous: each forbidden form in a sample file is reported."""
    bad = PKG / "_scan_sample_for_test.py"
    text = ("from symderiv.kernel.verdict import decided, _KERNEL\n"
            "v = Verdict('failed', 'x')\nw = decided('verified', 'y')\n"
            "z = replace(v, status='verified')\ns.verdict.reason = 'r'\n")
    tree_path = tmp_path / "sample.py"
    tree_path.write_text(text)
    try:
        bad.write_text(text)
        found = _violations(bad)
    finally:
        bad.unlink()
    kinds = " ".join(found)
    for needle in ("imports the kernel-private decided", "imports the kernel-private _KERNEL", "constructs Verdict",
                   "uses the kernel-private decided", "replace() changes", "mutates .verdict.reason"):
        assert needle in kinds, (needle, found)


def test_only_the_kernel_constructs_decisive_verdicts() -> None:
    files = _outside_kernel()
    assert any(p.name == "documents.py" for p in files) and any(p.name == "derivation.py" for p in files)
    found = [v for p in files for v in _violations(p)]
    assert found == [], "\n".join(found)


def test_verdicts_are_frozen_and_the_token_is_required() -> None:
    for status in (VERIFIED, FAILED):
        with pytest.raises(TypeError):
            Verdict(status, "made up")
        with pytest.raises(TypeError):
            Verdict(status, "made up", origin=object())
    u = Verdict(UNDECIDED, "not checked")
    with pytest.raises(dataclasses.FrozenInstanceError):
        u.status = VERIFIED  # type: ignore[misc]
    with pytest.raises(TypeError):
        undecided("x", status=FAILED)  # type: ignore[misc]


def test_annotate_keeps_status_and_evidence() -> None:
    A, B = matrix("A", "n", "n"), matrix("B", "n", "n")
    v = discharge(Obligation(A * B, B * A))
    assert v.status == FAILED and v.counterexample is not None
    w = annotate(v, method_prefix="compared with X: ", reason_prefix="typo; ", extra_methods=("typo-detection",))
    assert (w.status, w.counterexample, w.difference) == (v.status, v.counterexample, v.difference)
    assert w.method == "compared with X: " + v.method and w.reason.startswith("typo; ")
    assert w.methods == v.methods + ["typo-detection"] and "typo-detection" not in v.methods
    with pytest.raises(TypeError):
        annotate(v, status=VERIFIED)


def test_ill_formed_is_restricted_to_shape_and_reading_failures() -> None:
    assert ill_formed("ΔW in the gradient", "read-off").status == FAILED
    with pytest.raises(ValueError):
        ill_formed("looks wrong to me", "numerical agreement")


def test_discharge_follows_the_relation() -> None:
    A, B = matrix("A", "n", "n"), matrix("B", "n", "n")
    dA, dB = delta(A), delta(B)
    square = (A + dA) * (B + dB) - A * B
    first = A * dB + dA * B
    assert discharge(Obligation(square, first, "exact")).status == FAILED
    v = discharge(Obligation(square, first, "first-order"))
    assert v.status == VERIFIED and v.relation == "first-order"
    assert discharge(Obligation(first, first, "exact", ("A invertible",))).status == UNDECIDED

"""The package's architecture, enforced: layers import one way, no cycles, no private names across modules.

Order (each layer may import only from layers to its left)::

    errors ← lang ← kernel ← search ← derive ← documents ← report ← front doors

``lint-imports`` checks the ``layers`` contract in pyproject.toml. The AST scan below also sees
imports inside functions (which count: a function-level import is still a dependency) and
private names crossing modules, which import-linter does not look at.
"""
from __future__ import annotations

import ast
import pathlib
import shutil
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
ROOT = REPO / "symderiv"  # the source tree under test, whether or not it is the installed copy
LAYERS = ["errors", "lang", "kernel", "search", "derive", "documents", "report"]
FRONT_DOORS = {"symderiv", "symderiv.cli", "symderiv.testing", "symderiv.pytest_plugin", "symderiv.__main__"}

#: The one documented exception, as SymPy's lazy ``__str__`` → printer: ``Expr.__repr__``/``Expr.latex``
#: import the printer inside the method, because the printer dispatches on the node classes.
ALLOWED_CYCLE_EDGES = {("symderiv.lang.operators", "symderiv.lang.printing")}


def module_name(path: pathlib.Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    name = ".".join(("symderiv",) + parts)
    return name.removesuffix(".__init__")


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def layer(mod: str) -> int:
    if mod in FRONT_DOORS:
        return len(LAYERS)
    sub = mod.split(".")[1]
    return LAYERS.index(sub)


def resolve(mod: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = mod.split(".")
    if mod not in MODULES or MODULES[mod].name != "__init__.py":
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(mod: str, source: str | None = None):
    """(target module, imported name or None, line, at module level?) for every symderiv import."""
    tree = ast.parse(source if source is not None else MODULES[mod].read_text(encoding="utf-8"))
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("symderiv"):
                    yield a.name, None, node.lineno, id(node) in top
        elif isinstance(node, ast.ImportFrom):
            target = resolve(mod, node)
            if not target.startswith("symderiv"):
                continue
            for a in node.names:
                sub = f"{target}.{a.name}"
                if sub in MODULES:  # ``from symderiv.kernel import refute`` imports a module
                    yield sub, None, node.lineno, id(node) in top
                else:
                    yield target, a.name, node.lineno, id(node) in top


def edges() -> set[tuple[str, str]]:
    return {(m, t) for m in MODULES for t, _, _, _ in imports(m) if t in MODULES and t != m}


def test_module_table_covers_every_module():
    for mod in MODULES:
        layer(mod)  # raises for a module outside the layers


@pytest.mark.skipif(shutil.which("lint-imports") is None and not (pathlib.Path(sys.executable).parent / "lint-imports").exists(),
                    reason="import-linter is not installed (pip install -e '.[test]')")
def test_lint_imports_layers_contract_is_kept():
    exe = shutil.which("lint-imports") or str(pathlib.Path(sys.executable).parent / "lint-imports")
    run = subprocess.run([exe], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 kept, 0 broken" in run.stdout, run.stdout


def test_no_upward_import_even_inside_functions():
    bad = []
    for mod in MODULES:
        for target, _, line, _ in imports(mod):
            if target in MODULES and layer(target) > layer(mod):
                bad.append(f"{MODULES[mod].relative_to(ROOT)}:{line}: {mod} imports {target} (a higher layer)")
    assert not bad, "\n".join(bad)


def test_no_private_name_crosses_modules():
    bad = []
    for mod in MODULES:
        for target, name, line, _ in imports(mod):
            if target != mod and name is not None and name.startswith("_"):
                bad.append(f"{MODULES[mod].relative_to(ROOT)}:{line}: from {target} import {name}")
    assert not bad, "\n".join(bad)


def test_no_import_cycle_counting_function_level_imports():
    """Tarjan's strongly connected components over all symderiv imports; the only allowed cycle is
    the documented lazy printer import."""
    graph: dict[str, set[str]] = {m: set() for m in MODULES}
    for a, b in edges() - ALLOWED_CYCLE_EDGES:
        graph[a].add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    sccs: list[list[str]] = []
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10000))

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert not sccs, sccs


def test_the_documented_exception_is_function_level_and_still_needed():
    """The allowed edge must stay lazy (inside a function); if it disappears, drop it from the list."""
    for a, b in ALLOWED_CYCLE_EDGES:
        found = [top for t, _, _, top in imports(a) if t == b]
        assert found and not any(found), f"{a} → {b} must be imported inside functions only"


def test_scan_sees_planted_violations():
    """The scanner itself: a private cross-module import, a relative one, and an upward import
    inside a function are all seen."""
    src = (
        "from symderiv.derive.rules import _private\n"
        "from ..lang.operators import _Hidden\n"
        "def f():\n"
        "    from symderiv.report.render import render\n"
    )
    found = list(imports("symderiv.kernel.verifier", src))
    assert ("symderiv.derive.rules", "_private", 1, True) in found
    assert ("symderiv.lang.operators", "_Hidden", 2, True) in found
    assert ("symderiv.report.render", "render", 4, False) in found
    assert layer("symderiv.report.render") > layer("symderiv.kernel.verifier")


def test_no_merge_conflict_markers_are_committed():
    """A merge left '<<<<<<< HEAD' in CONTRIBUTING.md once: no tracked text file may contain the markers."""
    import re
    import subprocess

    if not (REPO / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout")
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    marker = re.compile(r"^(<{7} |>{7} |={7}$)", re.M)
    found = []
    for name in files:
        path = REPO / name
        if path.suffix not in {".py", ".md", ".toml", ".cfg", ".j2", ".lark", ".sh", ".txt", ".yaml", ".yml", ""}:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
            continue
        found += [f"{name}:{text[:m.start()].count(chr(10)) + 1}" for m in marker.finditer(text)]
    assert not found, found

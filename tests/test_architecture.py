"""The architecture as tests: layers import downwards only, no import circles, no reaching into private names.

The import graph is read from the source (every ``import``/``from`` statement, including those inside
functions, excluding ``if TYPE_CHECKING:`` blocks, which never run), so a circle hidden behind a late
import is still found.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("hotspot_core", "training", "hotspot_ros")
# Which top-level package may import which (scripts/ and tests/ sit above all of them).
ALLOWED = {
    "hotspot_core": {"hotspot_core"},
    "training": {"training", "hotspot_core"},
    "hotspot_ros": {"hotspot_ros", "hotspot_core"},
}
ROS_MODULES = (
    "rclpy",
    "rosidl",
    "sensor_msgs",
    "vision_msgs",
    "std_msgs",
    "interaction_hotspots",
    "builtin_interfaces",
    "visualization_msgs",
    "diagnostic_msgs",
    "lifecycle_msgs",
    "launch",
)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING"
    )


def _imports(path: Path, module: str) -> list[tuple[str, list[str]]]:
    """(imported module, imported names) for every import statement that can run."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[tuple[str, list[str]]] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(anchor + ([node.module] if node.module else []))
            found.append((base, [alias.name for alias in node.names]))
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        for target, names in _imports(path, mod):
            # "from pkg import sub" imports the submodule pkg.sub when it is one
            cands = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules] or [target]
            for c in cands:
                if c in modules and c != mod:
                    graph[mod].add(c)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
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
                out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in graph:
        if v not in index:
            strong(v)
    return out


def _parents(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_no_import_circles() -> None:
    graph = _graph()
    # A package's __init__ re-exporting its submodules is not a circle with them: drop edges from a
    # module to the packages that contain it (importing pkg.sub always runs pkg/__init__ first).
    for mod, targets in graph.items():
        graph[mod] = {t for t in targets if t not in _parents(mod)}
    assert _cycles(graph) == []


def test_layers_import_downwards_only() -> None:
    problems = []
    for mod, path in _modules().items():
        top = mod.split(".")[0]
        for target, _ in _imports(path, mod):
            root = target.split(".")[0]
            if root in PACKAGES and root not in ALLOWED[top]:
                problems.append(f"{mod} imports {target}")
            if top == "hotspot_core" and root in ROS_MODULES:
                problems.append(f"{mod} imports ROS module {target}")
    assert problems == []


def test_no_module_reaches_into_another_modules_private_names() -> None:
    modules = _modules()
    problems = []
    for mod, path in modules.items():
        for target, names in _imports(path, mod):
            if target.split(".")[0] not in PACKAGES or target == mod:
                continue
            problems += [f"{mod} imports {target}.{n}" for n in names if n.startswith("_") and n != "__all__"]
    assert problems == []


SUBPACKAGES = (
    "hotspot_core",
    "hotspot_core.hotspots",
    "hotspot_core.dan",
    "hotspot_core.image",
    "hotspot_core.eval",
    "hotspot_core.backends",
    "hotspot_core.predictor",
)


@pytest.mark.parametrize("module", SUBPACKAGES)
def test_public_face_imports_alone(module: str) -> None:
    """Each entrance imports in a fresh interpreter (an import-order dependency or a hidden circle fails)."""
    r = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True, text=True, cwd=REPO)
    assert r.returncode == 0, r.stderr


def test_top_level_names_resolve() -> None:
    """Every name of ``hotspot_core.__all__`` resolves (the lazy public face points at real objects)."""
    import hotspot_core

    missing = [name for name in hotspot_core.__all__ if getattr(hotspot_core, name, None) is None]
    assert missing == []

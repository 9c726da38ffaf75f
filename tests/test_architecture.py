"""The package's shape: imports run one way (no circles, not even through function-level imports), modules stay
small, and each public name has one home. Read from the source with ``ast``; nothing is imported."""

from __future__ import annotations

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "spkeras"
MAX_MODULE_LINES = 320
# Layers of the package, lowest first: a module imports from its own layer or lower ones. (The top-level
# ``spkeras`` package only names its lazy attributes, so it sits at the top.)
LAYERS = (
    ("errors", "validation", "progress", "graph", "batching", "version"),
    ("layers", "network"),
    ("io",),
    ("distribute", "simulate"),
    ("calibration", "methods"),
    ("conversion",),
    ("qcfs", "analytic", "metrics", "plots", "nir", "compat", "models", "demo"),
    ("cli", "__main__", ""),
)
MAX_UPWARD_IMPORTS = 1


def _modules() -> dict[str, pathlib.Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("spkeras", *path.relative_to(PACKAGE).with_suffix("").parts)
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _resolve(name: str, modules) -> str | None:
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """Module → the spkeras modules it imports anywhere in its body (function-level imports count)."""
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {_resolve(alias.name, modules) for alias in node.names if alias.name.startswith("spkeras")}
            elif isinstance(node, ast.ImportFrom):
                base = package
                for _ in range(max(node.level - 1, 0)):
                    base = base.rpartition(".")[0]
                source = (base + ("." + node.module if node.module else "")) if node.level else (node.module or "")
                if source.startswith("spkeras"):
                    for alias in node.names:
                        full = f"{source}.{alias.name}"
                        targets.add(_resolve(full if full in modules else source, modules))
        graph[name] = {target for target in targets if target and target != name}
    return graph


def _cycles(graph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(vertex):
        index[vertex] = low[vertex] = counter[0]
        counter[0] += 1
        stack.append(vertex)
        on_stack.add(vertex)
        for target in graph.get(vertex, ()):
            if target not in index:
                visit(target)
                low[vertex] = min(low[vertex], low[target])
            elif target in on_stack:
                low[vertex] = min(low[vertex], index[target])
        if low[vertex] == index[vertex]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == vertex:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for vertex in sorted(graph):
        if vertex not in index:
            visit(vertex)
    return found


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    for level, names in enumerate(LAYERS):
        if top in names:
            return level
    raise AssertionError(f"module {module} is in no layer of tests/test_architecture.py's LAYERS: add it there")


def test_no_import_circles():
    assert _cycles(import_graph()) == []


def test_imports_run_downward():
    upward = [
        (source, target)
        for source, targets in import_graph().items()
        for target in targets
        if _layer(target) > _layer(source)
    ]
    assert len(upward) <= MAX_UPWARD_IMPORTS, upward


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_modules_are_small(path):
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(PACKAGE)} has {lines} lines; split it by concept"


def test_the_checks_see_a_circle_and_an_upward_import():
    graph = {"spkeras.io": {"spkeras.conversion"}, "spkeras.conversion": {"spkeras.io"}}
    assert _cycles(graph) == [["spkeras.conversion", "spkeras.io"]]
    assert _layer("spkeras.io") < _layer("spkeras.conversion.pipeline")

"""The package's layers import only downwards, and no module imports itself in a circle.

core  <- render  <- widgets        zoo may use core (and render)
core imports nothing from render, widgets or zoo; render nothing from widgets
or zoo; widgets nothing from zoo. Checked on the source (every import
statement, including ones inside functions).
"""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nnlens_widgets"
FORBIDDEN = {
    "core": {"render", "widgets", "zoo", "scan"},
    "render": {"widgets", "zoo", "scan"},
    "widgets": {"zoo", "scan"},
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path):
    """Absolute names of the nnlens_widgets modules ``path`` imports."""
    tree = ast.parse(path.read_text(), str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path).rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("nnlens_widgets"):
                    yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            if name.startswith("nnlens_widgets"):
                yield name
                for alias in node.names:  # `from . import core` imports a module too
                    yield f"{name}.{alias.name}"


def _sources():
    return sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_downwards(path):
    layer = path.relative_to(PACKAGE).parts[0]
    banned = FORBIDDEN.get(layer, set())
    bad = sorted({n for n in _imports(path) if n.split(".")[1:2] and n.split(".")[1] in banned})
    assert not bad, f"{path.relative_to(PACKAGE)} ({layer}) imports {bad}"


def test_no_import_cycles_between_modules():
    modules = {_module_name(p): p for p in _sources()}
    graph = {}
    for name, path in modules.items():
        deps = set()
        for imported in _imports(path):
            while imported and imported not in modules:  # `pkg.mod.Class` -> `pkg.mod`
                imported = imported.rpartition(".")[0]
            if imported and imported != name and not name.startswith(imported + "."):
                deps.add(imported)
        graph[name] = deps
    # packages (``__init__``) re-export their children; a child importing its own
    # package's public names is not a cycle of the code, so leave package -> child edges out
    for name in graph:
        graph[name] = {d for d in graph[name] if not d.startswith(name + ".")}
    visiting, done, cycles = set(), set(), []

    def visit(node, trail):
        if node in done:
            return
        if node in visiting:
            cycles.append(trail[trail.index(node):] + [node])
            return
        visiting.add(node)
        for dep in sorted(graph.get(node, ())):
            visit(dep, trail + [node])
        visiting.discard(node)
        done.add(node)

    for node in sorted(graph):
        visit(node, [])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)

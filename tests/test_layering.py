"""The package's layers import only downwards, and no module imports itself in a circle.

core  <- render  <- widgets        zoo and scan may use core (and render)
core imports nothing from render, widgets, zoo or scan; render nothing from
widgets, zoo or scan; widgets nothing from zoo or scan; zoo nothing from
widgets or scan; scan nothing from widgets. Checked on the source: every
import statement (including ones inside functions), ``importlib.import_module``
and ``__import__`` calls, and module names written as strings (a registry's
list of modules to import). No module reaches round its layer through the
top-level package (``import nnlens_widgets``, whose lazy attributes lead
anywhere): from it only the leaf ``_version`` may be imported.
"""
import ast
import re
import subprocess
import sys
from pathlib import Path
from typing import Optional

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nnlens_widgets"
FORBIDDEN = {
    "core": {"render", "widgets", "zoo", "scan"},
    "render": {"widgets", "zoo", "scan"},
    "widgets": {"zoo", "scan"},
    "zoo": {"widgets", "scan"},
    "scan": {"widgets"},
}
TOP_LEVEL_LEAVES = {"_version"}  # what a layer may import from the top-level package itself
_MODULE_STRING = re.compile(r"nnlens_widgets(\.\w+)+")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package_of(path: Path, module: Optional[str]) -> str:
    """The package relative imports in ``path`` start from (``module``: its name, if not from where it lies)."""
    module = module or _module_name(path)
    return module if path.name == "__init__.py" else module.rsplit(".", 1)[0]


def _imports(path: Path, module: Optional[str] = None):
    """Absolute names of the nnlens_widgets modules ``path`` imports."""
    tree = ast.parse(path.read_text(), str(path))
    package = _package_of(path, module)
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


def _dynamic_imports(path: Path, module: Optional[str] = None):
    """Modules named to ``importlib.import_module`` / ``__import__`` or written as strings."""
    tree = ast.parse(path.read_text(), str(path))
    package = _package_of(path, module)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            name = node.args[0].value
            if called in ("import_module", "_import_module", "__import__") and isinstance(name, str):
                if name.startswith("."):
                    dots = len(name) - len(name.lstrip("."))
                    base = package.split(".")
                    name = ".".join(base[: len(base) - (dots - 1)] + [name.lstrip(".")])
                yield name
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_STRING.fullmatch(node.value):
            yield node.value


def _sources():
    return sorted(p for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", _sources(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_downwards(path):
    layer = path.relative_to(PACKAGE).parts[0]
    banned = FORBIDDEN.get(layer, set())
    named = set(_imports(path)) | set(_dynamic_imports(path))
    bad = sorted({n for n in named if n.split(".")[1:2] and n.split(".")[1] in banned})
    assert not bad, f"{path.relative_to(PACKAGE)} ({layer}) imports {bad}"


def test_the_checks_see_every_route(tmp_path):
    """The import finder sees dynamic routes: a file read as a module of core naming widgets is caught."""
    planted, name = tmp_path / "planted.py", "nnlens_widgets.core.planted"
    planted.write_text("import importlib\nimportlib.import_module('..widgets', __package__)\n"
                       "__import__('nnlens_widgets.zoo')\nSOURCES = ('nnlens_widgets.scan.run',)\n"
                       "from .. import __version__\nimport nnlens_widgets\n")
    assert set(_dynamic_imports(planted, name)) == {"nnlens_widgets.widgets", "nnlens_widgets.zoo",
                                                    "nnlens_widgets.scan.run"}
    assert sorted(set(_top_level_reaches(planted, name))) == ["nnlens_widgets", "nnlens_widgets.__version__"]


def _top_level_reaches(path: Path, module: Optional[str] = None):
    """Imports of the top-level package itself, or of names from it other than its subpackages and leaves."""
    subpackages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    for name in _imports(path, module):
        parts = name.split(".")
        if name == "nnlens_widgets" and not _only_from_import(path):
            yield name
        elif len(parts) == 2 and parts[1] not in subpackages | TOP_LEVEL_LEAVES:
            yield name


def _only_from_import(path: Path) -> bool:
    """Every mention of the bare top-level package is a ``from nnlens_widgets import x`` (judged by x)."""
    tree = ast.parse(path.read_text(), str(path))
    return not any(isinstance(node, ast.Import) and any(a.name == "nnlens_widgets" for a in node.names)
                   for node in ast.walk(tree))


@pytest.mark.parametrize("path", [p for p in _sources() if p != PACKAGE / "__init__.py"],
                         ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_reaches_round_its_layer_through_the_top_level_package(path):
    reached = sorted(set(_top_level_reaches(path)))
    assert not reached, f"{path.relative_to(PACKAGE)} imports {reached} from the top-level package"


def test_the_version_module_is_a_leaf_and_the_top_level_namespace_is_clean():
    assert not list(_imports(PACKAGE / "_version.py"))
    code = ("import nnlens_widgets as nl, sys\n"
            "print(sorted(n for n in dir(nl) if not n.startswith('_')))\n"
            "print(sorted(m for m in sys.modules if m.startswith('nnlens_widgets')))\n")
    names, loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                   timeout=300, cwd=PACKAGE.parent).stdout.splitlines()
    import nnlens_widgets as nl

    assert set(eval(names)) == set(nl.__all__)  # no importlib, PackageNotFoundError or other stray names
    assert set(eval(loaded)) == {"nnlens_widgets", "nnlens_widgets._version"}  # the subpackages load on use


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

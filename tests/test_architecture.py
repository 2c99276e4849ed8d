"""The shape of the package: ldcache's modules import each other without a cycle — every
import counted, the ones inside functions and under ``TYPE_CHECKING`` too — and ldcache
never imports the hook frontend (``hook/``, installed as ``ldcache_hook``), which is built
on it."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Collection

TREE = Path(__file__).resolve().parent.parent
PACKAGE = TREE / "ldcache"
HOOK_NAMES = ("ldcache_hook", "hook")


def modules(top: Path = PACKAGE) -> dict[str, Path]:
    out = {}
    for path in sorted(top.rglob("*.py")):
        parts = list(path.relative_to(top.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def imported_names(name: str, path: Path, known: Collection[str] = ()) -> list[str]:
    """Every module name an import statement anywhere in the file names (for
    ``from X import a``: X and X.a, since a may be a submodule — X.a alone when it is one
    of the ``known`` modules: ``from . import sibling`` in a package's module imports the
    sibling, not the package's ``__init__``, which is already being imported)."""
    base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                mod = ".".join(base[:len(base) - node.level + 1]
                               + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            names = [f"{mod}.{a.name}" for a in node.names]
            if not all(n in known for n in names):
                out.append(mod)
            out.extend(names)
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
              and node.func.id == "__import__" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            out.append(node.args[0].value)
    return out


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, path in mods.items():
        for n in imported_names(m, path, mods):
            while n and n not in mods:  # the module itself, not a name in it
                n = n.rpartition(".")[0]
            if n and n != m:
                graph[m].add(n)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_graph_sees_function_level_imports() -> None:
    graph = import_graph()
    assert "ldcache.format" in graph["ldcache.scan"]  # top level
    assert "ldcache.jsonout" in graph["ldcache.cli.inspect"]  # inside a function
    assert "ldcache.cli.common" in graph["ldcache.cli.build"]
    # ``from . import _kernel``: the sibling module, not the package's __init__
    assert "ldcache.inroot._kernel" in graph["ldcache.inroot.root"]
    assert "ldcache.inroot" not in graph["ldcache.inroot.root"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_ldcache_imports_have_no_cycle() -> None:
    graph = import_graph()
    found = cycles(graph)
    detail = [(c, {m: sorted(graph[m] & set(c)) for m in c}) for c in found]
    assert found == [], f"import cycles in ldcache/: {detail}"


def test_every_package_is_shipped() -> None:
    """Every package under ldcache/ (a directory with an ``__init__.py``) is named in
    pyproject's ``[tool.setuptools] packages``, which a wheel carries (and nothing else)."""
    line = next(line for line in (TREE / "pyproject.toml").read_text().splitlines()
                if line.startswith("packages = ["))
    shipped = set(ast.literal_eval(line.partition("=")[2].strip()))
    found = {".".join(p.parent.relative_to(TREE).parts) for p in PACKAGE.rglob("__init__.py")}
    assert found - shipped == set()


def test_ldcache_never_imports_the_hook() -> None:
    bad = []
    for m, path in modules().items():
        for n in imported_names(m, path):
            if n.split(".")[0] in HOOK_NAMES:
                bad.append((m, n))
    assert bad == []


def test_the_library_prints_nothing() -> None:
    """The library returns values and raises; the frontends (ldcache.cli, the hook) print.
    No module of ldcache outside ldcache/cli names sys.stdout or sys.stderr or calls print,
    and none takes a program name to print under (a module's ``__main__`` block, a tool of
    its own, may print)."""
    offenders = []
    for name, path in modules().items():
        if name == "ldcache.cli" or name.startswith("ldcache.cli."):
            continue
        tree = ast.parse(path.read_text(), str(path))
        tree.body = [n for n in tree.body if not (
            isinstance(n, ast.If) and "__main__" in ast.unparse(n.test))]
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr") and \
                    isinstance(node.value, ast.Name) and node.value.id == "sys":
                offenders.append(f"{name}:{node.lineno} sys.{node.attr}")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                    node.func.id == "print":
                offenders.append(f"{name}:{node.lineno} print()")
            elif isinstance(node, ast.arg) and node.arg == "prog":
                offenders.append(f"{name}:{node.lineno} a 'prog' parameter")
    assert not offenders, offenders

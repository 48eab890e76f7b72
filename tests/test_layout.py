"""The package's shape: no import circles, no loose modules at the top, Prefect only at the edges.

The import graph is read from the source with `ast`, not by importing: an edge is every `import`
or `from … import` a module of `flows/` makes of another, at module level AND inside functions
(a lazy import is still a dependency, and a circle through one is still a circle), except under
`if TYPE_CHECKING:` (never executed). `from flows.a import b` is an edge to `flows.a`, and to
`flows.a.b` instead when that is a module. Importing `flows.a.b` runs `flows/a/__init__.py` too, but that
edge is Python's, not a dependency, and is not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

FLOWS = Path(__file__).resolve().parent.parent / "flows"

TOP_LEVEL = {"__init__.py", "config.py", "pipeline.py", "records.py"}  # everything else lives in a package
PREFECT_EDGES = ("flows.service", "flows.cli")  # the only importers of Prefect


def module_name(path: Path) -> str:
    parts = path.relative_to(FLOWS.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(FLOWS.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(path: Path, name: str) -> set[str]:
    """Every dotted name `path` imports (absolute, relative ones resolved), wherever the import is."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    known = modules()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:  # `from pkg import mod` depends on mod, not on pkg's __init__
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """module -> the modules of `flows` it imports."""
    known = modules()
    return {
        name: {dep for dep in imported_names(path, name) if dep in known and dep != name}
        for name, path in known.items()
    }


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, …, a], or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for root in sorted(graph):
        if state.get(root):
            continue
        path, stack = [root], [iter(sorted(graph[root]))]
        state[root] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_the_graph_sees_lazy_imports():
    graph = import_graph()
    assert "flows.sources.feeds" in graph["flows.pipeline"]  # imported inside ingest_feeds
    assert "flows.service.flows" in graph["flows.cli"]  # imported inside the ingest command
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_circles():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle or [])


def test_no_loose_modules_at_the_top():
    loose = {p.name for p in FLOWS.glob("*.py")} - TOP_LEVEL
    assert not loose, f"flows/ keeps its modules in packages; move {sorted(loose)} into one"
    for folder in (p for p in FLOWS.iterdir() if p.is_dir() and any(p.glob("*.py"))):
        assert (folder / "__init__.py").is_file(), f"{folder} has modules but no __init__.py"


def test_prefect_only_at_the_edges():
    offenders = sorted(
        name
        for name, path in modules().items()
        if not name.startswith(PREFECT_EDGES)
        and any(dep == "prefect" or dep.startswith("prefect.") for dep in imported_names(path, name))
    )
    assert not offenders, f"Prefect imported outside {PREFECT_EDGES}: {offenders}"


def test_no_two_modules_share_a_name_with_a_data_folder():
    """A folder of data is named for data (classify/data/), never like a module beside it (model.py)."""
    for folder in (p for p in FLOWS.rglob("*") if p.is_dir() and p.name != "__pycache__"):
        assert not (folder.parent / f"{folder.name}.py").exists(), f"{folder} beside {folder.name}.py"

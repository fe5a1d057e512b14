"""The dependency rule between the parts of arvo_concurrent, checked on the imports.

Each part (a subpackage, or a top-level module such as ``errors``) may import only the parts
``ALLOWED`` lists for it; a part that is not listed fails the test until it is added here and
in docs/architecture.md ("The dependency rule"). The rule has no cycles, and neither do the
imports that run when the modules load.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "arvo_concurrent"
ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"
ROOT = "<root>"  # arvo_concurrent/__init__.py, the public face

# part -> the parts it may import (itself always allowed). Lower layers first.
ALLOWED: dict[str, set[str]] = {
    "errors": set(),
    "extras": {"errors"},
    "observability": {"errors", "extras"},
    "actors": {"errors", "observability"},
    "memory": {"errors", "actors"},
    "arvo": {"errors", "memory", "observability"},
    "broker": {"errors", "actors", "arvo", "observability"},
    "interop": {"errors", "extras", "arvo"},
    # The memory and the broker's transport on PostgreSQL: on top, beside nothing below.
    "postgres": {"errors", "actors", "memory", "arvo", "broker"},
    "testing": {"errors", "actors"},
    # The root re-exports the in-process library; never postgres (psycopg is optional) nor
    # testing (test helpers, imported by name).
    ROOT: {"errors", "memory", "arvo", "broker"},
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def part_of(module: str) -> str:
    names = module.split(".")
    return names[1] if len(names) > 1 else ROOT


def modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def is_type_checking(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path: Path, *, load_time_only: bool) -> set[str]:
    """The arvo_concurrent modules ``path`` imports (``from m import name`` may name a module).

    With ``load_time_only``, imports that do not run when the module loads (under
    ``if TYPE_CHECKING:`` or inside a function) are left out.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped: set[int] = set()
    if load_time_only:
        for node in ast.walk(tree):
            if is_type_checking(node) or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                skipped.update(id(inner) for inner in ast.walk(node) if inner is not node)
    names: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: use absolute imports"
            module = node.module or ""
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names & set(modules())


def test_every_part_has_a_rule() -> None:
    parts = {part_of(name) for name in modules()}
    unlisted = parts - set(ALLOWED)
    assert not unlisted, (
        f"parts without a dependency rule: {sorted(unlisted)}; add them to ALLOWED in "
        "tests/test_layering.py and to docs/architecture.md"
    )


def test_every_import_follows_the_rule() -> None:
    broken = sorted(
        f"{name} imports {target}"
        for name, path in modules().items()
        for target in imports(path, load_time_only=False)
        if part_of(target) != part_of(name)
        and part_of(target) not in ALLOWED.get(part_of(name), set())
    )
    assert broken == []


def test_the_architecture_document_states_the_same_rule() -> None:
    # The rows of its "| part | may import |" table: "| `broker` | `errors`, `actors`, `arvo` |".
    text = ARCHITECTURE.read_text(encoding="utf-8")
    table = text[text.index("| part | may import |") :].split("\n\n")[0]
    documented: dict[str, set[str]] = {}
    for row in table.splitlines()[2:]:
        part, allowed = (cell.strip() for cell in row.strip("|").split("|"))
        name = ROOT if "__init__" in part else part.strip("`")
        documented[name] = set(re.findall(r"`([a-z_]+)`", allowed.split("(")[0]))
    assert documented == ALLOWED


def test_the_rule_has_no_cycles() -> None:
    assert find_cycle({part: set(deps) for part, deps in ALLOWED.items()}) is None


def test_no_import_cycle_between_modules() -> None:
    # Importing a module runs its parent packages first, so an edge to one of them is implied
    # and harmless; every other cycle would leave some module half-initialised.
    graph = {
        name: {t for t in imports(path, load_time_only=True) if not is_ancestor(t, name)}
        for name, path in modules().items()
    }
    assert find_cycle(graph) is None


def is_ancestor(package: str, module: str) -> bool:
    return module == package or module.startswith(package + ".")


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of ``graph`` as a path of nodes, or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    for node in sorted(graph):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


@pytest.mark.parametrize(
    ("graph", "has_cycle"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": set()}, False),
        ({"a": {"b"}, "b": {"a"}}, True),
        ({"a": {"a"}}, True),
        ({"a": {"b", "c"}, "b": {"c"}, "c": {"d"}, "d": {"b"}}, True),
    ],
)
def test_find_cycle_finds_cycles(graph: dict[str, set[str]], has_cycle: bool) -> None:
    assert (find_cycle(graph) is not None) == has_cycle


def test_the_checker_sees_imports_across_parts() -> None:
    # The checker reads what it should: memory/actor.py imports actors.
    found = set(imports(PACKAGE / "memory" / "actor.py", load_time_only=False))
    assert any(part_of(name) == "actors" for name in found)
    assert "actors" in ALLOWED["memory"]
    assert "broker" not in ALLOWED["memory"]

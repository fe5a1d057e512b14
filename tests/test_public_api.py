"""The public surface: one __init__, an explicit __all__, typed and documented.

The rule (README, "How it is built"): ``arvo_concurrent`` is the API of the in-process
library; the subpackages in ``PUBLIC_SUBPACKAGES`` are public too, imported by their
own name and documented in the README; every other subpackage is internal, and the
root re-exports from the ``__init__`` of those subpackages only, never from their files.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path
from types import ModuleType

import arvo_concurrent

PACKAGE_DIR = Path(arvo_concurrent.__file__).parent
README = PACKAGE_DIR.parent / "README.md"

PUBLIC_SUBPACKAGES = {"interop", "observability", "postgres", "testing"}
"""Imported by their own name (``from arvo_concurrent.postgres import ...``), documented in
the README or docs/. ``interop`` and ``observability`` are announced (being added)."""

INTERNAL_SUBPACKAGES = {"actors", "arvo", "broker", "memory"}
"""Their public names are re-exported by the root; their files may change."""

ROOT_MODULES = {"errors"}
"""Files directly in the package whose names the root re-exports."""

ARCHITECTURE_NAMES = {
    "ArvoEvent",
    "create_arvo_event",
    "create_arvo_contract",
    "create_simple_arvo_contract",
    "create_arvo_orchestrator_contract",
    "create_arvo_event_factory",
    "ArvoOrchestrationSubject",
    "ArvoDomain",
    "ViolationError",
    "ContractViolation",
    "ConfigViolation",
    "ExecutionViolation",
    "TransactionViolation",
    "create_arvo_event_handler",
    "create_arvo_resumable",
    "create_arvo_orchestrator",
    "IArvoEventHandler",
    "IMachineMemory",
    "ConcurrentMachineMemory",
    "ConcurrentEventBroker",
    "create_concurrent_event_broker",
}


def test_every_name_the_architecture_promises_is_exported() -> None:
    assert not ARCHITECTURE_NAMES - set(arvo_concurrent.__all__)


def test_all_is_sorted_unique_and_every_name_exists() -> None:
    names = arvo_concurrent.__all__
    assert names == sorted(names)
    assert len(names) == len(set(names))
    for name in names:
        assert hasattr(arvo_concurrent, name), name


def test_every_public_class_and_function_is_documented() -> None:
    undocumented = [
        name
        for name in arvo_concurrent.__all__
        if (inspect.isclass(obj := getattr(arvo_concurrent, name)) or inspect.isfunction(obj))
        and not inspect.getdoc(obj)
    ]
    assert undocumented == []


def test_every_library_error_derives_from_the_root() -> None:
    errors = [
        getattr(arvo_concurrent, name)
        for name in arvo_concurrent.__all__
        if name.endswith(("Error", "Violation"))
    ]
    assert errors
    for error in errors:
        assert issubclass(error, arvo_concurrent.ArvoConcurrentError), error


def _subpackages() -> set[str]:
    return {path.parent.name for path in PACKAGE_DIR.glob("*/__init__.py")}


def _public_subpackages() -> list[ModuleType]:
    # observability and interop are announced; the others exist.
    return [
        importlib.import_module(f"arvo_concurrent.{name}")
        for name in sorted(PUBLIC_SUBPACKAGES & _subpackages())
    ]


def test_every_subpackage_is_either_public_or_internal() -> None:
    assert _subpackages() <= PUBLIC_SUBPACKAGES | INTERNAL_SUBPACKAGES
    assert {"postgres", "testing"} <= _subpackages()


def test_the_root_reexports_from_subpackage_inits_only() -> None:
    tree = ast.parse((PACKAGE_DIR / "__init__.py").read_text())
    sources: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not [a.name for a in node.names if a.name.startswith("arvo_concurrent")]
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("arvo_concurrent"):
            parts = (node.module or "").split(".")
            assert len(parts) == 2, f"the root reaches into {node.module}"
            sources.setdefault(parts[1], []).extend(alias.name for alias in node.names)
    assert set(sources) <= INTERNAL_SUBPACKAGES | ROOT_MODULES, sources
    for name, imported in sources.items():
        module = importlib.import_module(f"arvo_concurrent.{name}")
        assert not set(imported) - set(module.__all__), f"not in arvo_concurrent.{name}.__all__"


def test_public_subpackages_are_documented_with_an_all() -> None:
    docs = [README, *sorted((README.parent / "docs").glob("*.md"))]
    documented = "\n".join(path.read_text() for path in docs)
    for module in _public_subpackages():
        assert module.__name__ in documented, f"{module.__name__} is in no README or docs page"
        assert inspect.getdoc(module)
        names = module.__all__  # its order is ruff's (RUF022)
        assert len(names) == len(set(names))
        for name in names:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                assert inspect.getdoc(obj), f"{module.__name__}.{name}"


def _imported_modules(source: str) -> list[str]:
    modules: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules.append(node.module or "")
    return modules


def test_test_helpers_live_in_testing_and_the_library_never_imports_them() -> None:
    testing = importlib.import_module("arvo_concurrent.testing")
    assert testing.__all__ == ["ManualScheduler"]
    assert not set(testing.__all__) & set(arvo_concurrent.__all__)
    importers = [
        path.relative_to(PACKAGE_DIR).as_posix()
        for path in PACKAGE_DIR.rglob("*.py")
        if "testing" not in path.relative_to(PACKAGE_DIR).parts
        and any(name.startswith(testing.__name__) for name in _imported_modules(path.read_text()))
    ]
    assert importers == []


def test_the_package_ships_type_information() -> None:
    assert (Path(arvo_concurrent.__file__).parent / "py.typed").is_file()

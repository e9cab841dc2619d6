"""The package's import graph: a DAG, and a pool that imports neither pipeline nor iterator.

Imports are read from the source with ``ast``: at module level and inside functions alike
(a function-level import is still an edge; it only hides a cycle). Imports under
``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
import graphlib
import importlib.util
from pathlib import Path

import pytest

import parallel_audio

PACKAGE = Path(parallel_audio.__file__).parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def is_module(name: str) -> bool:
    """Whether ``name`` is a module of the package (a .py file or a compiled extension)."""
    if name in MODULES:
        return True
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def type_checking_only(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports_of(name: str, path: Path) -> set[str]:
    """The package's modules that module ``name`` imports, anywhere in its code."""
    tree = ast.parse(path.read_text(), str(path))
    skipped = {
        id(inner) for node in ast.walk(tree) if type_checking_only(node) for inner in ast.walk(node)
    }
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's own package, up level - 1
                anchor = package
                for _ in range(node.level - 1):
                    anchor = anchor.rpartition(".")[0]
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                # `from package import module` imports the module; else a name of the package.
                child = f"{base}.{alias.name}"
                found.add(child if is_module(child) else base)
    return {m for m in found if m.split(".")[0] == "parallel_audio" and m != name}


GRAPH = {name: imports_of(name, path) for name, path in MODULES.items()}


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for module in GRAPH.get(todo.pop(), ()):
            if module not in seen:
                seen.add(module)
                todo.append(module)
    return seen


def test_the_reader_finds_imports_at_module_and_function_level():
    # Known edges of each kind, so that an empty or partial graph cannot pass the tests below.
    assert "parallel_audio.epoch_plan" in GRAPH["parallel_audio.iterator"]  # module level
    assert "parallel_audio.pool.scheduler" in GRAPH["parallel_audio.iterator"]
    assert "parallel_audio._microfrontend" in GRAPH["parallel_audio.native_frontend"]
    tune = ast.parse(MODULES["parallel_audio.cli.tune"].read_text())
    in_functions = {
        node.module
        for function in ast.walk(tune)
        if isinstance(function, ast.FunctionDef)
        for node in ast.walk(function)
        if isinstance(node, ast.ImportFrom)
    }
    assert "parallel_audio.pool.options" in in_functions  # function level...
    assert "parallel_audio.pool.options" in GRAPH["parallel_audio.cli.tune"]  # ...is read
    # The iterator reaches the pipeline; the check below would see a pool that did.
    assert "parallel_audio.pipeline" in reachable("parallel_audio.iterator")


def test_the_import_graph_of_the_package_is_a_dag():
    try:
        list(graphlib.TopologicalSorter(GRAPH).static_order())
    except graphlib.CycleError as error:
        pytest.fail(f"import cycle: {' -> '.join(error.args[1])}")


POOL_MODULES = sorted(m for m in MODULES if m.startswith("parallel_audio.pool"))


@pytest.mark.parametrize("module", POOL_MODULES)
def test_the_pool_imports_neither_the_pipeline_nor_the_iterator(module):
    forbidden = {
        "parallel_audio",  # the package's __init__ imports the generator and the iterator
        "parallel_audio.pipeline",
        "parallel_audio.iterator",
        "parallel_audio.generator",
        "parallel_audio.process_params",
        "parallel_audio.sample_runtime",
    }
    assert len(POOL_MODULES) >= 8
    assert not reachable(module) & forbidden, sorted(reachable(module) & forbidden)

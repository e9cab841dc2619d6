"""The package's import graph: a DAG, a pool that imports neither pipeline nor iterator, a
pipeline that imports nothing of the training side, and a package that imports its public
names only when they are used.

Imports are read from the source with ``ast``: at module level and inside functions alike
(a function-level import is still an edge; it only hides a cycle). Imports under
``if TYPE_CHECKING:`` are left out: they never run. What a fresh interpreter actually loads
is read from its ``sys.modules``.
"""

from __future__ import annotations

import ast
import graphlib
import importlib.util
import json
import subprocess
import sys
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
        "parallel_audio",  # the package's public names lead to the generator and the iterator
        "parallel_audio.pipeline",
        "parallel_audio.iterator",
        "parallel_audio.generator",
        "parallel_audio.process_params",
        "parallel_audio.sample_runtime",
    }
    assert len(POOL_MODULES) >= 8
    assert not reachable(module) & forbidden, sorted(reachable(module) & forbidden)


#: What the training process alone needs: the iterator (a Keras PyDataset), the generator's
#: flow_* methods and what they call, cross-validation, the command line, the pool's
#: parent side. Workers and their fork server import the pipeline and must get none of it.
TRAINING_SIDE = {
    "parallel_audio.iterator",
    "parallel_audio.generator",
    "parallel_audio.cross_validation",
    "parallel_audio.pool.scheduler",
    "parallel_audio.pool.process_backend",
    "parallel_audio.pool.thread_backend",
    *(
        m
        for m in MODULES
        if m.split(".")[:2] in (["parallel_audio", "cli"], ["parallel_audio", "ray"])
    ),
}
#: Libraries of the training side, never needed to compute a batch.
TRAINING_LIBRARIES = ("keras", "tensorflow", "pandas", "torch", "jax", "ray", "matplotlib")


def fresh_modules(code: str) -> set[str]:
    """The modules a fresh interpreter has loaded after running ``code``."""
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport json, sys; print(json.dumps(sorted(sys.modules)))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def test_the_pipeline_imports_nothing_of_the_training_side():
    assert "parallel_audio.augment.vocoder" in reachable("parallel_audio.pipeline")
    assert not reachable("parallel_audio.pipeline") & TRAINING_SIDE, sorted(
        reachable("parallel_audio.pipeline") & TRAINING_SIDE
    )
    loaded = fresh_modules("import parallel_audio.pipeline")
    assert "parallel_audio.augment.vocoder" in loaded  # the import did happen
    assert not loaded & TRAINING_SIDE, sorted(loaded & TRAINING_SIDE)
    assert not {m.partition(".")[0] for m in loaded} & set(TRAINING_LIBRARIES)


def test_importing_the_package_imports_none_of_its_public_modules():
    loaded = fresh_modules("import parallel_audio")
    public_modules = set(parallel_audio._PUBLIC_NAMES.values())
    assert not loaded & (public_modules | TRAINING_SIDE), sorted(loaded & public_modules)
    assert "numpy" not in loaded


def test_every_public_name_imports_from_the_package_as_its_module_defines_it():
    # In a fresh interpreter, so that no earlier import has put the names in the package.
    code = """
import importlib, json
import parallel_audio
from parallel_audio import *  # noqa: F403
found = {}
for name in parallel_audio.__all__:
    value = getattr(parallel_audio, name)
    star = globals()[name]
    module = importlib.import_module(value.__module__)
    found[name] = [value.__module__, getattr(module, name) is value, star is value]
print(json.dumps({"found": found, "dir": dir(parallel_audio)}))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    answer = json.loads(done.stdout)
    # The documented home of each name (the numpydoc references say parallel_audio.X).
    homes = {
        "ParallelAudioDataGenerator": "parallel_audio.generator",
        "ParallelAudioIterator": "parallel_audio.iterator",
        "AudioFeatureGenerator": "parallel_audio.feature_generator",
        "AudioFeatureGeneratorSettings": "parallel_audio.frontend_settings",
        "ParallelProcessParams": "parallel_audio.process_params",
        "cross_validate": "parallel_audio.cross_validation",
        "iter_folds": "parallel_audio.cross_validation",
    }
    assert set(answer["found"]) == set(parallel_audio.__all__) >= set(homes) | {"WorkerError"}
    for name, (module, same, by_star) in answer["found"].items():
        assert module == homes.get(name, "parallel_audio.errors"), name
        assert same and by_star, name
    assert set(parallel_audio.__all__) <= set(answer["dir"])
    assert {"__version__", "__all__"} <= set(answer["dir"])


def test_an_unknown_name_of_the_package_raises_attribute_error_naming_it():
    with pytest.raises(AttributeError, match="no attribute 'ParallelAudioDataGenerater'"):
        parallel_audio.ParallelAudioDataGenerater  # noqa: B018
    with pytest.raises(ImportError, match="ParallelAudioDataGenerater"):
        from parallel_audio import ParallelAudioDataGenerater  # noqa: F401


def test_type_checkers_see_every_public_name_where_it_is_imported_from():
    """``__init__``'s ``if TYPE_CHECKING:`` imports are the public names, from their modules."""
    tree = ast.parse(MODULES["parallel_audio"].read_text())
    seen = {}
    for node in ast.walk(tree):
        if type_checking_only(node):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom):
                    seen.update({alias.name: inner.module for alias in inner.names})
    assert seen == parallel_audio._PUBLIC_NAMES
    assert sorted(seen) == parallel_audio.__all__

"""Pickling what worker processes receive, and the check that callbacks can travel there.

Worker processes never run the user's ``__main__`` (see ``worker_start``), so a function
defined there, in a notebook cell, as a lambda or as a closure cannot be found by name in a
worker. ``cloudpickle`` sends such functions by value (their code, and the globals and
closure variables they use) and, as plain pickle does, functions of importable modules by
reference.

Besides what cannot be pickled at all (a lock, a socket, a generator), two kinds of object
are refused although cloudpickle would take them: open files, which cloudpickle replaces
by a copy of their contents that the callback would silently read instead; and objects and
modules of TensorFlow, Keras and JAX, which would load TensorFlow in every worker (a model
sent to a worker is, besides, a frozen copy that no longer follows training).
"""

from __future__ import annotations

import functools
import io
import pickle
import sys
import types
from collections.abc import Iterator
from typing import Any

import cloudpickle

from parallel_audio.errors import SettingsError, printable_path

#: The generator's attributes that worker processes call.
CALLBACK_NAMES = (
    "get_batch_function",
    "noaug_preprocessing_function",
    "preprocessing_function",
    "postprocessing_function",
    "augmentations",
)
#: Packages worker processes never load: Keras and its backends.
REFUSED_PACKAGES = frozenset({"tensorflow", "tf_keras", "keras", "jax", "jaxlib"})
#: How deep the search for the object that cannot be pickled goes.
_MAX_SEARCH_DEPTH = 12


def _package_of(obj: Any) -> str:
    """Return the top-level package ``obj`` comes from: its own for modules, functions, classes."""
    if isinstance(obj, types.ModuleType):
        name = obj.__name__
    elif isinstance(obj, type | types.FunctionType | types.BuiltinFunctionType):
        name = getattr(obj, "__module__", None) or ""
    else:
        name = type(obj).__module__ or ""
    return name.partition(".")[0]


def _refusal(obj: Any) -> str | None:
    """Say why ``obj`` must not go to a worker although it pickles; None if it may."""
    if _package_of(obj) in REFUSED_PACKAGES:
        return (
            "worker processes never load TensorFlow, Keras or JAX (and a model sent to them "
            "would be a copy that no longer follows training)"
        )
    if isinstance(obj, io.IOBase) and obj not in (sys.stdin, sys.stdout, sys.stderr):
        return "an open file cannot be shared with other processes"
    return None


class _WorkerPickler(cloudpickle.Pickler):
    """cloudpickle's pickler, refusing what workers must not receive."""

    def reducer_override(self, obj: Any) -> Any:
        reason = _refusal(obj)
        if reason is not None:
            raise pickle.PicklingError(f"{_describe(obj)}: {reason}")
        return super().reducer_override(obj)


def _dumps(obj: Any) -> bytes:
    buffer = io.BytesIO()
    _WorkerPickler(buffer, protocol=pickle.DEFAULT_PROTOCOL).dump(obj)
    return buffer.getvalue()


def pickle_for_workers(obj: Any, name: str) -> bytes:
    """Pickle ``obj`` for worker processes; ``pickle.loads`` reads it back there.

    Parameters
    ----------
    obj : object
        What the workers receive: a callback, or the whole configuration.
    name : str
        What ``obj`` is, for the error message ("preprocessing_function").

    Returns
    -------
    bytes
        The pickle. Functions that cannot be imported by name in a worker are in it by
        value.

    Raises
    ------
    SettingsError
        If ``obj`` cannot be pickled, or holds something workers must not receive; the
        message names ``name``, the path to the object at fault and what it is.
    """
    try:
        return _dumps(obj)
    except Exception as error:  # pickling raises TypeError, PicklingError, AttributeError...
        raise SettingsError(_explain(name, obj, error)) from error


def check_callbacks_for_workers(generator: Any) -> None:
    """Raise SettingsError if a callback of ``generator`` cannot go to worker processes.

    Called when an iterator is made, before the dataset is listed, so that the error comes
    at once and from the caller's own line.

    Parameters
    ----------
    generator : ParallelAudioDataGenerator
        Its callbacks are read.

    Raises
    ------
    SettingsError
        Naming the callback and the object in it that cannot be pickled.
    """
    for name in CALLBACK_NAMES:
        callback = getattr(generator, name, None)
        if callback is not None:
            pickle_for_workers(callback, name)


def _describe(obj: Any) -> str:
    """Name ``obj`` by what it is, never by its contents."""
    if isinstance(obj, types.ModuleType):
        return f"the module {obj.__name__}"
    if isinstance(obj, type | types.FunctionType | types.BuiltinFunctionType):
        module = getattr(obj, "__module__", None)
        qualname = getattr(obj, "__qualname__", repr(obj))
        return f"{module}.{qualname}" if module else qualname
    kind = type(obj)
    what = kind.__qualname__
    if kind.__module__ != "builtins":
        what = f"{kind.__module__}.{what}"
    filename = getattr(obj, "name", None) if isinstance(obj, io.IOBase) else None
    if isinstance(filename, str):
        return f"a {what} (the file {printable_path(filename)!r})"
    return f"a {what}"


def _code_global_names(code: types.CodeType) -> Iterator[str]:
    """Names a function's code, and the code of functions defined in it, may look up."""
    yield from code.co_names
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _code_global_names(constant)


def _parts(obj: Any) -> Iterator[tuple[str, Any]]:
    """(label, object) for what pickling ``obj`` pickles in turn, as far as it can be told."""
    if isinstance(obj, functools.partial):
        yield "its function", obj.func
        for number, argument in enumerate(obj.args):
            yield f"argument {number}", argument
        for key, argument in obj.keywords.items():
            yield f"keyword argument {key!r}", argument
    elif isinstance(obj, types.MethodType):
        yield "the object it is bound to", obj.__self__
        yield "its function", obj.__func__
    elif isinstance(obj, types.FunctionType):
        for name, cell in zip(obj.__code__.co_freevars, obj.__closure__ or (), strict=False):
            try:
                yield f"closure variable {name!r}", cell.cell_contents
            except ValueError:  # a cell not yet filled
                continue
        for name in dict.fromkeys(_code_global_names(obj.__code__)):
            if name in obj.__globals__:
                yield f"global {name!r}", obj.__globals__[name]
        for number, default in enumerate(obj.__defaults__ or ()):
            yield f"default {number}", default
        for key, default in (obj.__kwdefaults__ or {}).items():
            yield f"default of {key!r}", default
    elif isinstance(obj, dict):
        for key, value in obj.items():
            yield f"key {key!r}", value
    elif isinstance(obj, list | tuple | set | frozenset):
        for number, value in enumerate(obj):
            yield f"item {number}", value
    else:
        state = getattr(obj, "__dict__", None)
        if isinstance(state, dict):
            for key, value in state.items():
                yield f"attribute {key!r}", value


def _pickling_error(obj: Any) -> Exception | None:
    try:
        _dumps(obj)
    except Exception as error:
        return error
    return None


def _locate(obj: Any, error: Exception) -> tuple[list[str], Any, Exception]:
    """Follow the parts that fail to pickle down to the one whose own pickling fails.

    Returns the labels of the path, the object at its end and that object's error.
    """
    path: list[str] = []
    seen = {id(obj)}
    for _ in range(_MAX_SEARCH_DEPTH):
        if _refusal(obj) is not None:
            break
        for label, part in _parts(obj):
            if id(part) in seen:
                continue
            seen.add(id(part))
            part_error = _pickling_error(part)
            if part_error is not None:
                path.append(label)
                obj, error = part, part_error
                break
        else:
            break
    return path, obj, error


def _explain(name: str, obj: Any, error: Exception) -> str:
    path, culprit, culprit_error = _locate(obj, error)
    qualname = getattr(obj, "__qualname__", None)
    subject = f"{name} ({qualname if isinstance(qualname, str) else _describe(obj)})"
    found = f"its {' → '.join(path)} is" if path else "it is"
    reason = _refusal(culprit)
    if reason is None:
        reason = f"which cannot be pickled ({type(culprit_error).__name__}: {culprit_error})"
    else:
        reason = f"and {reason}"
    return (
        f"{subject} cannot be sent to the worker processes: {found} {_describe(culprit)}, "
        f"{reason}. Worker processes receive callbacks pickled (functions of importable "
        "modules by name, others by value with cloudpickle): create such an object inside "
        "the callback, once per process, or use debug=True (threads) or cores=0 (the "
        "caller's thread), which pickle nothing."
    )

"""Grouped k-fold cross-validation: a fresh model per fold, results in one table, resumable.

:func:`iter_folds` yields each fold's training and validation iterators and closes their
workers before the next fold; :func:`cross_validate` trains on each, writes what it learns to
``results_dir`` as it goes, and skips the folds already written when run again. Both read
any source a ``flow_*`` method with folds reads: a directory (``flow_from_directory``, the
default), a DataFrame (``flow="flow_from_dataframe"``), a manifest file
(``flow="flow_from_manifest"``) or clips in memory (``flow="flow"``, with ``y=`` among the
keywords).

``results_dir`` holds::

    summary.json        the generator's config, flow_* method and source, classes, folds, seeds,
                        versions, mean and std
    config.yaml         the generator's config, classes, seed and batch size, for --config
    results.csv         one row per fold (final and best value of each metric), then mean, std
    fold_<k>/history.json   the fold's Keras history (written last: it marks the fold done)
    fold_<k>/model.keras    the fold's trained model
"""

from __future__ import annotations

import csv
import inspect
import json
import math
import os
import platform
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from parallel_audio.errors import SettingsError

if TYPE_CHECKING:
    from parallel_audio.generator import ParallelAudioDataGenerator
    from parallel_audio.iterator import ParallelAudioIterator

__all__ = ["cross_validate", "iter_folds", "summarize_folds"]

#: flow_* keywords that shape training epochs only; the validation side gets none of them.
TRAINING_ONLY_KEYWORDS = frozenset({"sampling", "samples_per_epoch", "shuffle"})
#: The flow_* method a run reads its source with when none is named.
DEFAULT_FLOW = "flow_from_directory"
#: flow_* methods that pass their keywords on to another one that takes the folds.
_FORWARDING_FLOWS = {"flow_from_manifest": "flow_from_dataframe"}
#: Stands for a source not passed positionally (an older call's ``directory=``).
_NO_SOURCE = object()
SUMMARY_FILE = "summary.json"
RESULTS_FILE = "results.csv"
CONFIG_FILE = "config.yaml"
HISTORY_FILE = "history.json"
MODEL_FILE = "model.keras"
#: summary.json entries that must match for a run to resume into results_dir.
_RESUME_KEYS = ("generator", "flow", "classes", "num_folds", "fold_strategy", "fold_seed", "seed")
#: Generator settings that change how fast batches come, never what they hold: a run may
#: resume with others.
_EXECUTION_SETTINGS = (
    "cores",
    "debug",
    "max_batches_pending",
    "batch_timeout",
    "disable_gpu_in_subprocesses",
)


def fold_seed_of(seed: int, fold: int) -> int:
    """Return the seed fold ``fold`` trains with: its batches and the model's initial weights."""
    return seed + fold


def iter_folds(
    generator: ParallelAudioDataGenerator,
    source: Any = _NO_SOURCE,
    *,
    classes: Sequence[str] | None = None,
    num_folds: int = 5,
    fold_strategy: str = "hash",
    fold_seed: int | None = None,
    seed: int = 0,
    folds: Sequence[int] | None = None,
    flow: str = DEFAULT_FLOW,
    **flow_kwargs: Any,
) -> Iterator[tuple[int, ParallelAudioIterator, ParallelAudioIterator]]:
    """Yield ``(k, training, validation)`` for each fold of a grouped k-fold split.

    Parameters
    ----------
    generator : ParallelAudioDataGenerator
        Its ``validation_split`` must be 0 (the folds are the validation sets); a
        ``test_split`` keeps its groups out of every fold.
    source : str, os.PathLike, DataFrame or array
        What ``flow`` reads, its first argument: the dataset directory
        (``flow_from_directory``), a DataFrame or iterable of row mappings
        (``flow_from_dataframe``), a manifest path (``flow_from_manifest``), the clips
        (``flow``). For ``flow_from_directory`` it may also be given as ``directory=``.
    classes : sequence of str, optional
        The classes; required by ``flow_from_directory``. None for a table: its sorted
        labels. ``flow`` takes none (its classes are ``y``'s).
    num_folds : int
        Number of folds, at least 2.
    fold_strategy : {"hash", "balanced", "stratified"}
        How groups are dealt to folds (see ``flow_from_directory``).
    fold_seed : int, optional
        Another partition into folds.
    seed : int
        Fold ``k``'s iterators use seed ``seed + k``.
    folds : sequence of int, optional
        The folds to yield, in this order (default: all).
    flow : str
        The generator's method that reads ``source``: ``"flow_from_directory"`` (default),
        ``"flow_from_dataframe"``, ``"flow_from_manifest"``, ``"flow"``, or any other
        ``flow_*`` method that takes ``fold`` and ``num_folds``.
    **flow_kwargs
        Passed to ``flow`` for both sides (``batch_size``, ``group_col``, a table's
        ``directory``, ``y`` and ``groups`` of clips, ...), except ``sampling``,
        ``samples_per_epoch`` and ``shuffle``, which shape the training side only (the
        validation side visits each sample once, in index order).

    Yields
    ------
    tuple of (int, ParallelAudioIterator, ParallelAudioIterator)
        The fold and its two iterators. Both are closed (their workers stopped) when the
        loop moves on, breaks or raises, before the next fold's start.

    Raises
    ------
    SettingsError
        ``flow`` is not a ``flow_*`` method with folds, ``classes`` is missing for
        ``flow_from_directory`` or given to ``flow``, or the keywords set ``subset``,
        ``fold`` or ``num_folds``.

    Examples
    --------
    >>> for k, train, validation in iter_folds(generator, "data", classes=classes,
    ...                                        num_folds=5):  # doctest: +SKIP
    ...     model = build_model()
    ...     model.fit(train, validation_data=validation, epochs=10)
    >>> folds = iter_folds(generator, table, flow="flow_from_dataframe", directory="data",
    ...                    group_col="speaker", num_folds=5)  # doctest: +SKIP
    """
    if "subset" in flow_kwargs or "fold" in flow_kwargs or "num_folds" in flow_kwargs:
        raise SettingsError("iter_folds sets subset, fold and num_folds itself; do not pass them")
    read, source, flow_kwargs = _flow_reader(generator, flow, source, classes, flow_kwargs)
    validation_kwargs = {
        key: value for key, value in flow_kwargs.items() if key not in TRAINING_ONLY_KEYWORDS
    }
    for k in range(num_folds) if folds is None else folds:
        split = dict(fold=k, num_folds=num_folds, fold_strategy=fold_strategy, fold_seed=fold_seed)
        iterators: list[ParallelAudioIterator] = []
        try:
            iterators.append(
                read(source, subset="training", seed=fold_seed_of(seed, k), **split, **flow_kwargs)
            )
            iterators.append(
                read(
                    source,
                    subset="validation",
                    seed=fold_seed_of(seed, k),
                    shuffle=False,
                    **split,
                    **validation_kwargs,
                )
            )
            yield k, iterators[0], iterators[1]
        finally:
            for iterator in iterators:
                iterator.close()


def _flow_reader(
    generator: ParallelAudioDataGenerator,
    flow: str,
    source: Any,
    classes: Sequence[str] | None,
    flow_kwargs: Mapping[str, Any],
) -> tuple[Callable[..., ParallelAudioIterator], Any, dict[str, Any]]:
    """Check ``flow`` and its arguments; return its bound method, the source and keywords."""
    flow_kwargs = dict(flow_kwargs)
    if not isinstance(flow, str) or not flow.startswith("flow") or not hasattr(generator, flow):
        raise SettingsError(
            "flow must name a flow_* method of the generator (flow_from_directory, "
            f"flow_from_dataframe, flow_from_manifest, flow_from_annotations, flow), got {flow!r}"
        )
    own = inspect.signature(getattr(type(generator), flow)).parameters
    # flow_from_manifest takes flow_from_dataframe's keywords through its **kwargs.
    taken = inspect.signature(getattr(type(generator), _FORWARDING_FLOWS.get(flow, flow)))
    if "num_folds" not in taken.parameters:
        raise SettingsError(f"{flow} takes no fold and num_folds: it cannot be cross-validated")
    if source is _NO_SOURCE:
        if flow != DEFAULT_FLOW or "directory" not in flow_kwargs:
            raise TypeError(f"the source {flow} reads is missing: pass it after the generator")
        source = flow_kwargs.pop("directory")
    if classes is not None:
        if "classes" not in own and "classes" not in taken.parameters:
            raise SettingsError(f"{flow} takes no classes: its classes come from its labels")
        flow_kwargs["classes"] = list(classes)
    elif "classes" in own and own["classes"].default is inspect.Parameter.empty:
        raise SettingsError(f"{flow} needs classes: pass classes=[...]")
    return getattr(generator, flow), source, flow_kwargs


def describe_source(source: Any) -> Any:
    """Describe a source for ``summary.json``: a path as it is, a table or array by its size."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if hasattr(source, "columns") and hasattr(source, "index"):
        return f"DataFrame of {len(source)} rows, columns {[str(c) for c in source.columns]}"
    if isinstance(source, np.ndarray):
        return f"array of shape {source.shape}"
    if hasattr(source, "__len__"):
        return f"{type(source).__name__} of {len(source)} items"
    return type(source).__name__


def cross_validate(
    generator: ParallelAudioDataGenerator,
    source: Any = _NO_SOURCE,
    *,
    classes: Sequence[str] | None = None,
    num_folds: int = 5,
    build_model: Callable[..., Any],
    fit_kwargs: Mapping[str, Any] | None = None,
    results_dir: str | os.PathLike,
    resume: bool = True,
    seed: int = 0,
    fold_strategy: str = "hash",
    fold_seed: int | None = None,
    progress: Callable[[str], None] | None = None,
    flow: str = DEFAULT_FLOW,
    **flow_kwargs: Any,
) -> dict[str, Any]:
    """Train and validate a fresh model on each fold; write the results table.

    Parameters
    ----------
    generator : ParallelAudioDataGenerator
        With ``validation_split=0``.
    source : str, os.PathLike, DataFrame or array
        The dataset, as ``flow`` reads it (see :func:`iter_folds`): a directory by default.
    classes : sequence of str, optional
        The classes (required by ``flow_from_directory``; a table's default is its labels).
    num_folds : int
        Number of folds.
    build_model : callable
        Returns a compiled Keras model. Called with no argument, or with the fold's
        training iterator when it takes one (its ``process_params.sample_shape`` and
        ``num_classes`` size the model). Keras' random seed is set to the fold's seed
        (``seed + k``) before the call, so a fold trains the same when run again.
    fit_kwargs : mapping, optional
        Passed to ``model.fit`` (``epochs``, ``callbacks``, ...), besides the data.
    results_dir : str or os.PathLike
        Where the results go (see the module's documentation); created if missing.
    resume : bool
        Skip the folds whose ``history.json`` exists, reading their results from it, so that
        an interrupted run continues where it stopped. The run's settings must match those
        in ``summary.json``. With False, every fold is trained again.
    seed : int
        Fold ``k`` uses ``seed + k``.
    fold_strategy, fold_seed
        As for ``flow_from_directory``.
    progress : callable, optional
        Called with one line per fold (started, skipped, finished).
    flow : str
        The ``flow_*`` method that reads ``source`` (see :func:`iter_folds`); default
        ``"flow_from_directory"``.
    **flow_kwargs
        Passed to ``flow`` (``batch_size``, ``sampling``, ``group_col``, ...), as
        :func:`iter_folds` does.

    Returns
    -------
    dict
        ``{"folds": [row, ...], "mean": row, "std": row, "results_dir": str}``, rows as in
        ``results.csv``.

    Raises
    ------
    SettingsError
        ``results_dir`` holds a run with other settings and ``resume`` is True.
    """
    import keras

    results_dir = os.fspath(results_dir)
    os.makedirs(results_dir, exist_ok=True)
    fit_kwargs = dict(fit_kwargs or {})
    say = progress or (lambda line: None)
    _, source, flow_kwargs = _flow_reader(generator, flow, source, classes, flow_kwargs)
    flow_kwargs.pop("classes", None)  # iter_folds is given them itself
    summary = _summary(
        generator, classes, num_folds, fold_strategy, fold_seed, seed, flow_kwargs, fit_kwargs
    )
    summary.update(flow=flow, source=describe_source(source))
    summary_path = os.path.join(results_dir, SUMMARY_FILE)
    if resume:
        _check_resumable(summary_path, summary)
    _write_json(summary_path, summary)
    _write_config(results_dir, generator, classes, seed, flow_kwargs.get("batch_size"))

    rows: list[dict[str, Any] | None] = [None] * num_folds
    todo = []
    for k in range(num_folds):
        history_path = os.path.join(results_dir, f"fold_{k}", HISTORY_FILE)
        if resume and os.path.exists(history_path):
            with open(history_path, encoding="utf-8") as file:
                rows[k] = _fold_row(json.load(file))
            say(f"fold {k + 1}/{num_folds}: done before, skipped")
        else:
            todo.append(k)
    for k, train, validation in iter_folds(
        generator,
        source,
        flow=flow,
        classes=classes,
        num_folds=num_folds,
        fold_strategy=fold_strategy,
        fold_seed=fold_seed,
        seed=seed,
        folds=todo,
        **flow_kwargs,
    ):
        say(
            f"fold {k + 1}/{num_folds}: training on {train.samples} samples, validating on "
            f"{validation.samples}"
        )
        keras.utils.set_random_seed(fold_seed_of(seed, k) % 2**32)
        model = _call_build_model(build_model, train)
        history = model.fit(train, validation_data=validation, **fit_kwargs)
        fold_dir = os.path.join(results_dir, f"fold_{k}")
        os.makedirs(fold_dir, exist_ok=True)
        model.save(os.path.join(fold_dir, MODEL_FILE))
        record = {
            "fold": k,
            "seed": fold_seed_of(seed, k),
            "training_samples": train.samples,
            "validation_samples": validation.samples,
            "history": {
                name: [float(v) for v in values] for name, values in history.history.items()
            },
        }
        _write_json(os.path.join(fold_dir, HISTORY_FILE), record)  # last: the fold is done
        rows[k] = _fold_row(record)
        say(f"fold {k + 1}/{num_folds}: {_describe_row(rows[k])}")
    done = [row for row in rows if row is not None]
    result = summarize_folds(done)
    _write_results(os.path.join(results_dir, RESULTS_FILE), result)
    summary["results"] = {"mean": result["mean"], "std": result["std"]}
    _write_json(summary_path, summary)
    result["results_dir"] = results_dir
    return result


def summarize_folds(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Return the fold rows with their mean and standard deviation (numpy's, ``ddof=0``).

    Parameters
    ----------
    rows : sequence of mapping
        One row per fold: ``fold`` and numbers.

    Returns
    -------
    dict
        ``{"folds": rows, "mean": {...}, "std": {...}}`` over every numeric column but
        ``fold`` and ``seed``.
    """
    columns = [c for c in _columns(rows) if c not in ("fold", "seed")]
    mean, std = {"fold": "mean"}, {"fold": "std"}
    for column in columns:
        values = np.array([row[column] for row in rows if row.get(column) is not None], float)
        mean[column] = float(np.mean(values)) if values.size else None
        std[column] = float(np.std(values)) if values.size else None
    return {"folds": [dict(row) for row in rows], "mean": mean, "std": std}


# ----------------------------------------------------------------------------- rows


def _is_lower_better(metric: str) -> bool:
    name = metric.removeprefix("val_")
    return "loss" in name or "error" in name


def _fold_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """Return a fold's row: its sizes, then each metric's final value and its best over epochs."""
    row: dict[str, Any] = {
        "fold": record["fold"],
        "seed": record["seed"],
        "training_samples": record["training_samples"],
        "validation_samples": record["validation_samples"],
    }
    for metric, values in record["history"].items():
        finite = [v for v in values if math.isfinite(v)]
        row[f"final_{metric}"] = values[-1] if values else None
        best = min if _is_lower_better(metric) else max
        row[f"best_{metric}"] = best(finite) if finite else None
    return row


def _columns(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    return list(columns)


def _describe_row(row: Mapping[str, Any]) -> str:
    shown = [
        f"{key.removeprefix('final_')} {value:.4g}"
        for key, value in row.items()
        if key.startswith("final_") and value is not None
    ]
    return ", ".join(shown) or "no metric"


def format_results(result: Mapping[str, Any]) -> str:
    """Return the results as an aligned text table, one line per fold, then mean and std."""
    rows = [*result["folds"], result["mean"], result["std"]]
    columns = [c for c in _columns(rows) if c != "seed"]

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return "" if value is None else str(value)

    table = [columns] + [[cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]
    return "\n".join(
        "  ".join(text.rjust(width) for text, width in zip(line, widths, strict=True))
        for line in table
    )


# ----------------------------------------------------------------------------- files


def _summary(
    generator: ParallelAudioDataGenerator,
    classes: Sequence[str] | None,
    num_folds: int,
    fold_strategy: str,
    fold_seed: int | None,
    seed: int,
    flow_kwargs: Mapping[str, Any],
    fit_kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    import keras

    return {
        "generator": generator.get_config(),
        "classes": None if classes is None else list(classes),
        "num_folds": num_folds,
        "fold_strategy": fold_strategy,
        "fold_seed": fold_seed,
        "seed": seed,
        "fold_seeds": [fold_seed_of(seed, k) for k in range(num_folds)],
        "flow_kwargs": {key: _plain(value) for key, value in flow_kwargs.items()},
        "fit_kwargs": {key: _plain(value) for key, value in fit_kwargs.items()},
        "versions": {
            "parallel_audio": _package_version(),
            "keras": keras.__version__,
            "keras_backend": keras.backend.backend(),
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }


def _plain(value: Any) -> Any:
    """Return a JSON-safe stand-in: lists and numbers as they are, other objects by their repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist() if value.size <= 1000 else f"array of shape {value.shape}"
    return repr(value)


def _package_version() -> str:
    """Return the installed version, from the metadata (the package imports this module)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("parallel_audio")
    except PackageNotFoundError:
        return "unknown"


def _results_settings(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Return the settings a run's results depend on: all but how its batches were computed."""
    settings = {key: summary.get(key) for key in _RESUME_KEYS}
    settings["flow"] = settings["flow"] or DEFAULT_FLOW  # runs from before other sources
    generator = dict(settings.get("generator") or {})
    for key in _EXECUTION_SETTINGS:
        generator.pop(key, None)
    settings["generator"] = generator
    return settings


def _check_resumable(summary_path: str, summary: Mapping[str, Any]) -> None:
    if not os.path.exists(summary_path):
        return
    with open(summary_path, encoding="utf-8") as file:
        stored = _results_settings(json.load(file))
    current = _results_settings(summary)
    differing = [key for key in _RESUME_KEYS if stored.get(key) != current.get(key)]
    if differing:
        raise SettingsError(
            f"{summary_path} holds a cross-validation run with other {', '.join(differing)}; "
            "resume=True would mix the two runs' folds. Use another results_dir, or "
            "resume=False to train every fold again"
        )


def _write_json(path: str, content: Any) -> None:
    """Write atomically (a temporary file, then a rename): an interruption leaves no half file."""
    folder = os.path.dirname(path)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".json")
    try:
        with open(handle, "w", encoding="utf-8") as file:
            json.dump(content, file, indent=2)
            file.write("\n")
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def _write_config(
    results_dir: str,
    generator: ParallelAudioDataGenerator,
    classes: Sequence[str] | None,
    seed: int,
    batch_size: int | None,
) -> None:
    import yaml

    config: dict[str, Any] = {} if classes is None else {"classes": list(classes)}
    config["seed"] = seed
    if batch_size is not None:
        config["batch_size"] = batch_size
    config.update(generator.get_config())
    with open(os.path.join(results_dir, CONFIG_FILE), "w", encoding="utf-8") as file:
        file.write("# parallel_audio data settings of a cross-validation run\n")
        yaml.safe_dump(config, file, sort_keys=False)


def _write_results(path: str, result: Mapping[str, Any]) -> None:
    rows = [*result["folds"], result["mean"], result["std"]]
    columns = _columns(rows)
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({c: "" if row.get(c) is None else row[c] for c in columns})


def _call_build_model(build_model: Callable[..., Any], train: ParallelAudioIterator) -> Any:
    try:
        parameters = inspect.signature(build_model).parameters.values()
    except (TypeError, ValueError):
        return build_model()
    takes_one = any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in parameters
    )
    return build_model(train) if takes_one else build_model()

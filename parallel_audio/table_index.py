"""The dataset index of a table: one row per sample, as ``flow_from_dataframe`` reads it.

A table is a pandas DataFrame or any iterable of mappings (rows of a CSV or JSON-lines
manifest, a list of dicts). Each row names a file (``x_col``), optionally a region of it
(``start_col`` / ``end_col``, seconds), its label or labels (``y_col``), a weight
(``weight_col``) and a group (``group_col``). The rows become the same
:class:`~parallel_audio.dataset_index.DatasetIndex` ``flow_from_directory`` builds, so plans,
per-sample randomness, workers and errors are the same code. Every problem of the table is
raised here, before any batch, naming the column and the rows.

pandas is never imported: a DataFrame is recognised by its ``columns`` and read column by
column with ``tolist()``.
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from parallel_audio.audio_io import Region
from parallel_audio.dataset_index import (
    PSEUDO_CLASSES,
    SILENCE_CLASS,
    UNKNOWN_CLASS,
    DatasetIndex,
    FileCheck,
    _check_on_error,
    _check_percentage,
    _check_seed,
    _draw_readable,
    _FileChecker,
    _pseudo_count,
    _warn_skipped,
    speaker_group,
)
from parallel_audio.errors import DatasetError, SettingsError
from parallel_audio.random_streams import Stream, random_generator
from parallel_audio.splits import SplitSpec

__all__ = ["TABLE_CLASS_MODES", "UNKNOWN_LABEL_MODES", "build_table_index"]

#: Label formats of a table: those of ``flow_from_directory`` plus multi-hot rows and raw
#: values, as Keras' ``flow_from_dataframe`` has them.
TABLE_CLASS_MODES = (
    "categorical",
    "multi_label",
    "binary",
    "sparse",
    "raw",
    "input",
    "audio",
    "denoise",
    None,
)
#: Modes without labels from ``y_col``: the batches' y is audio, or there is none.
_UNLABELED_MODES = (None, "input", "audio", "denoise")
#: What a row whose label is not in ``classes`` does when ``_unknown_`` is not listed.
UNKNOWN_LABEL_MODES = ("raise", "drop")
#: Rows a message names before "and N more".
_ROWS_SHOWN = 5
#: Modes whose labels are class names, one per row.
_SINGLE_LABEL_MODES = ("categorical", "binary", "sparse")


@dataclass(frozen=True)
class TableColumns:
    """The columns of a table that ``flow_from_dataframe`` reads.

    Attributes
    ----------
    x_col : str
        The file of each row.
    y_col : str or list of str or None
        Its label (or labels, or raw values); None for unlabeled rows.
    weight_col, group_col, start_col, end_col : str or None
        Its weight, its group, and the region of the file in seconds.
    target_col : str or None
        The target file of an audio pair (class mode "audio").
    """

    x_col: str = "filename"
    y_col: str | list[str] | None = "class"
    weight_col: str | None = None
    group_col: str | None = None
    start_col: str | None = None
    end_col: str | None = None
    target_col: str | None = None

    def wanted(self, class_mode: str | None) -> list[str]:
        """Return the column names to read for ``class_mode``, in a fixed order."""
        names = [self.x_col]
        if class_mode not in _UNLABELED_MODES and self.y_col is not None:
            names.extend([self.y_col] if isinstance(self.y_col, str) else self.y_col)
        for name in (
            self.target_col,
            self.weight_col,
            self.group_col,
            self.start_col,
            self.end_col,
        ):
            if name is not None:
                names.append(name)
        return list(dict.fromkeys(names))


def build_table_index(
    table: Any,
    columns: TableColumns,
    *,
    directory: str | os.PathLike[str] | None = None,
    classes: Sequence[str] | None = None,
    class_mode: str | None = "categorical",
    label_sep: str | None = None,
    unknown_labels: str = "raise",
    subset: str | None = None,
    validation_split: float = 0.0,
    seed: int = 0,
    unknown_class_percentage: float = 1.0,
    silence_class_percentage: float = 0.6,
    on_error: str = "raise",
    sample_rate_hz: int | None = None,
    source: str = "dataframe",
    row_names: Sequence[Any] | None = None,
    file_check: FileCheck | None = None,
    test_split: float = 0.0,
    fold: int | None = None,
    num_folds: int | None = None,
    fold_strategy: str = "hash",
    fold_seed: int | None = None,
) -> DatasetIndex:
    """Read a table into the dataset index of one subset.

    Parameters
    ----------
    table : pandas.DataFrame or iterable of mappings
        One row per sample.
    columns : TableColumns
        The columns to read.
    directory : str or os.PathLike, optional
        Paths in ``x_col`` are relative to it (an absolute path stays as it is). None: paths
        are absolute, and a relative one is taken relative to the working directory now.
    classes : sequence of str, optional
        Class names in class-id order, optionally with ``"_unknown_"`` and ``"_silence_"``.
        None: the sorted unique labels of the table.
    class_mode : {"categorical", "multi_label", "binary", "sparse", "raw", "input", None}
        How ``y_col`` reads. "categorical": a class name per row, or a multi-hot row for a
        list-valued cell or when ``label_sep`` splits strings. "multi_label": always
        multi-hot (an empty list is an all-negative row). "binary": exactly two classes.
        "sparse": class ids. "raw": the float values of ``y_col`` (one column or a list of
        them). "input" and None: no labels.
    label_sep : str, optional
        Splits a label string into several labels (blanks around each are removed; empty
        parts are dropped).
    unknown_labels : {"raise", "drop"}
        Rows (or, multi-hot, labels) not in ``classes`` when ``_unknown_`` is not listed:
        an error giving their count and the first rows, or left out with a warning. With
        ``_unknown_`` listed, such rows of single-label modes are its candidates.
    subset : {None, "training", "validation", "test"}
        Which side of the split to keep. A row's group is its ``group_col`` value, or else
        the speaker rule of ``flow_from_directory`` (:func:`speaker_group`) applied to its
        file name (``<speaker>_nohash_<n>.wav`` is the speaker's, any other file its own
        stem's); groups are dealt to sides by :class:`~parallel_audio.splits.SplitSpec`,
        exactly as ``flow_from_directory`` deals speakers. Never positional.
    validation_split : float
        Fraction of groups in validation (0 with ``num_folds``).
    seed : int
        Seed of the ``_unknown_`` draw.
    unknown_class_percentage, silence_class_percentage : float
        Sizes of ``_unknown_`` and ``_silence_``, relative to the smallest real class, as in
        :func:`~parallel_audio.dataset_index.build_index`.
    on_error : {"raise", "skip"}
        "skip" decodes every row's file (its region only) here and leaves out those that
        cannot be read, with one warning.
    sample_rate_hz : int, optional
        The rate the pipeline reads at (for the checks of "skip").
    source : str
        How messages call the table ("dataframe", or the manifest's path).
    row_names : sequence, optional
        What messages call each row (a manifest's line numbers); default the DataFrame's
        index labels, or the positions of an iterable's rows.
    file_check : callable, optional
        With "skip": checks whole files many at once, as
        :func:`~parallel_audio.dataset_index.build_index`'s (a disk cache's, which decodes
        them into the cache); regions are checked one by one.
    test_split : float
        Fraction of groups held out for ``subset="test"`` (see :mod:`parallel_audio.splits`).
    fold, num_folds, fold_strategy, fold_seed
        Grouped k-fold, as for :func:`~parallel_audio.dataset_index.build_index`. The
        ``"balanced"`` and ``"stratified"`` strategies deal the groups of the rows that are
        samples of a listed class (their class is the stratum; multi-hot, raw and unlabeled
        rows count as one class); the other rows' groups (``_unknown_`` candidates) fall by
        their hash.

    Returns
    -------
    DatasetIndex
        Rows in table order, then the drawn ``_unknown_`` rows, then ``_silence_`` samples.

    Raises
    ------
    DatasetError
        For anything wrong in the table, naming the column and the rows: a missing column
        (with the available ones), a path that is not a non-empty string, a missing or
        malformed label, a label not in ``classes`` with ``unknown_labels="raise"``, a
        non-finite or negative weight or raw value, a negative start, an end not after its
        start, a missing group, "binary" with other than two classes, a listed class without
        rows in the subset (naming the split or fold), fewer groups than folds, ``fold``
        without ``num_folds``, ``validation_split`` with ``num_folds``, an empty table.
    SettingsError
        For an argument out of its choices (``class_mode``, ``unknown_labels``, ...).
    TypeError
        For an argument of the wrong type.
    """
    _check_arguments(class_mode, unknown_labels, label_sep)
    split = SplitSpec(
        subset=subset,
        validation_split=validation_split,
        test_split=test_split,
        fold=fold,
        num_folds=num_folds,
        fold_strategy=fold_strategy,
        fold_seed=fold_seed,
    )
    seed = _check_seed(seed)
    unknown_class_percentage = _check_percentage(
        "unknown_class_percentage", unknown_class_percentage
    )
    silence_class_percentage = _check_percentage(
        "silence_class_percentage", silence_class_percentage
    )
    on_error = _check_on_error(on_error)
    root = os.getcwd() if directory is None else os.fspath(directory)
    table_columns = _read_columns(table, columns.wanted(class_mode), source, row_names)
    names = table_columns.pop("__row__")
    rows = _RowNames(names if row_names is None else list(row_names), source)
    if not len(rows):
        raise DatasetError(f"the {source} has no rows")

    paths = _paths(table_columns[columns.x_col], columns.x_col, rows)
    targets = None
    if class_mode == "audio":
        if columns.target_col is None:
            raise DatasetError(
                "class_mode='audio' reads each row's target file from target_col; pass it "
                "(or class_mode='denoise', whose target is the input before its noise)"
            )
        targets = _paths(table_columns[columns.target_col], columns.target_col, rows)
    elif columns.target_col is not None:
        raise DatasetError(
            f"target_col={columns.target_col!r} is the target file of an audio pair: it needs "
            f"class_mode='audio', got {class_mode!r}"
        )
    regions = _regions(table_columns, columns, rows)
    weights = _weights(table_columns, columns.weight_col, rows)
    groups = _groups(table_columns, columns.group_col, paths, rows)
    labels = _Labels.read(table_columns, columns, class_mode, classes, label_sep, rows)

    known = labels.keep_known(unknown_labels, rows)
    kept = known.copy()
    if split.is_split:
        kept &= rows_in_subset(split, groups, labels.class_ids, kept & labels.listed)
    checker = None
    if on_error == "skip":
        checker = _FileChecker(
            root, expected=int(kept.sum()), sample_rate_hz=sample_rate_hz, file_check=file_check
        )

    def check_ahead(rows_to_check: Sequence[int]) -> None:
        """Hand the whole files of these rows to ``file_check`` at once."""
        if checker is None:
            return
        whole = [int(i) for i in rows_to_check if _region(regions, int(i)) is None]
        files = [paths[i] for i in whole]
        if targets is not None:
            files.extend(targets[i] for i in whole)
        checker.check_ahead(files)

    def readable(i: int) -> bool:
        if checker is None:
            return True
        region = _region(regions, i)
        return checker.readable(paths[i], region) and (
            targets is None or checker.readable(targets[i], region)
        )

    unknown_shortfall = ""
    try:
        candidates = np.flatnonzero(kept & labels.listed)
        check_ahead(candidates)
        listed = [i for i in candidates if readable(int(i))]
        entries = np.asarray(listed, dtype=np.intp)
        class_ids = labels.class_ids[entries]
        where = f"the {subset} subset ({split.describe()})" if subset else f"the {source}"
        smallest = labels.smallest_class(class_ids, where)
        if split.is_split:
            labels.check_marked(entries, np.flatnonzero(known), where)
        unknown = np.empty(0, np.intp)
        if labels.unknown_is_listed:
            pool = np.flatnonzero(kept & ~labels.listed)
            target = _pseudo_count(unknown_class_percentage, smallest)
            unknown, unknown_shortfall = _draw_unknown(
                pool,
                target,
                seed,
                checker,
                readable,
                unknown_class_percentage,
                smallest,
                check_ahead,
            )
    finally:
        if checker is not None:
            checker.close()
    silence = _pseudo_count(silence_class_percentage, smallest) if labels.silence_is_listed else 0
    if checker is not None and checker.skipped:
        _warn_skipped(root, checker, [], unknown_shortfall)
    return labels.index(
        root,
        entries,
        unknown,
        silence,
        paths=paths,
        regions=regions,
        weights=weights,
        groups=groups,
        targets=targets,
        skipped=sorted(checker.skipped) if checker is not None else [],
    )


# ----------------------------------------------------------------------------- reading


class _RowNames:
    """What messages call each row: its DataFrame index label, or its position."""

    def __init__(self, names: list[Any], source: str) -> None:
        self.names = names
        self.source = source

    def __len__(self) -> int:
        return len(self.names)

    def describe(self, positions: Iterable[int], values: Sequence[Any] | None = None) -> str:
        """Name the first rows of ``positions`` (with their value) and count the rest."""
        positions = [int(i) for i in positions]
        shown = []
        for i in positions[:_ROWS_SHOWN]:
            value = "" if values is None else f" ({_short(values[i])})"
            shown.append(f"{self.names[i]!r}{value}")
        more = len(positions) - _ROWS_SHOWN
        return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _read_columns(
    table: Any, wanted: list[str], source: str, row_names: Sequence[Any] | None = None
) -> dict[str, list[Any]]:
    """Return the wanted columns as lists, plus the row names under ``"__row__"``."""
    if hasattr(table, "columns") and hasattr(table, "index") and hasattr(table, "__getitem__"):
        available = [str(name) for name in table.columns]
        missing = [name for name in wanted if name not in table.columns]
        if missing:
            raise DatasetError(_missing_columns_message(missing, available, source))
        result = {name: table[name].tolist() for name in wanted}
        result["__row__"] = list(table.index)
        return result
    if isinstance(table, (str, bytes, Mapping)) or not isinstance(table, Iterable):
        raise TypeError(
            "dataframe must be a pandas DataFrame or an iterable of mappings (one per row), "
            f"got {type(table).__name__}"
        )
    result = {name: [] for name in wanted}
    count = 0
    for position, row in enumerate(table):
        if not isinstance(row, Mapping):
            raise TypeError(
                f"row {position} of the {source} is a {type(row).__name__}, not a mapping of "
                "column names to values"
            )
        for name in wanted:
            try:
                result[name].append(row[name])
            except KeyError:
                where = repr(row_names[position]) if row_names else f"row {position}"
                raise DatasetError(
                    f"{where} of the {source}: "
                    + _missing_columns_message([name], [str(key) for key in row], source)
                ) from None
        count += 1
    result["__row__"] = list(range(count))
    return result


def _missing_columns_message(missing: list[str], available: list[str], source: str) -> str:
    shown = ", ".join(repr(name) for name in available[:30]) or "none"
    more = f" and {len(available) - 30} more" if len(available) > 30 else ""
    return (
        f"no column {', '.join(repr(name) for name in missing)} in the {source}; its columns "
        f"are {shown}{more}"
    )


def _is_missing(value: Any) -> bool:
    """None, a float NaN (pandas' empty cell) or pandas' NA and NaT."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return type(value).__name__ in ("NAType", "NaTType")


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))


# ----------------------------------------------------------------------------- columns


def _paths(values: list[Any], column: str, rows: _RowNames) -> list[str]:
    paths, bad = [], []
    for i, value in enumerate(values):
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str) or not value:
            bad.append(i)
            paths.append("")
        else:
            paths.append(value)
    if bad:
        raise DatasetError(
            f"column {column!r} must hold file paths as non-empty strings; rows "
            f"{rows.describe(bad, values)} do not"
        )
    return paths


def _numbers(values: list[Any], column: str, rows: _RowNames, what: str) -> np.ndarray:
    """Read a numeric column to float64; missing cells are NaN, anything else an error."""
    result = np.full(len(values), np.nan)
    bad = []
    for i, value in enumerate(values):
        if _is_missing(value) or (isinstance(value, str) and not value.strip()):
            continue  # an empty cell of a CSV manifest is missing too
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                bad.append(i)
                continue
        if not _is_number(value):
            bad.append(i)
            continue
        result[i] = float(value)
    if bad:
        raise DatasetError(
            f"column {column!r} must hold {what}; rows {rows.describe(bad, values)} do not"
        )
    return result


def _regions(
    table_columns: dict[str, list[Any]], columns: TableColumns, rows: _RowNames
) -> np.ndarray | None:
    """Read start/end seconds into an (n, 2) array; NaN start is the whole file."""
    if columns.start_col is None and columns.end_col is None:
        return None
    count = len(rows)
    starts = (
        np.full(count, np.nan)
        if columns.start_col is None
        else _numbers(table_columns[columns.start_col], columns.start_col, rows, "seconds")
    )
    ends = (
        np.full(count, np.nan)
        if columns.end_col is None
        else _numbers(table_columns[columns.end_col], columns.end_col, rows, "seconds")
    )
    for column, values in ((columns.start_col, starts), (columns.end_col, ends)):
        infinite = np.flatnonzero(np.isinf(values))
        if infinite.size:
            raise DatasetError(
                f"column {column!r} must hold finite seconds; rows "
                f"{rows.describe(infinite, values)} do not"
            )
    negative = np.flatnonzero(starts < 0)
    if negative.size:
        raise DatasetError(
            f"column {columns.start_col!r} holds negative start times, in rows "
            f"{rows.describe(negative, starts)}; a region starts at 0 s or later"
        )
    # A missing start is the file's start; a missing end, the file's end.
    has_region = ~np.isnan(starts) | ~np.isnan(ends)
    starts = np.where(np.isnan(starts) & has_region, 0.0, starts)
    not_after = np.flatnonzero(~np.isnan(ends) & (ends <= starts))
    if not_after.size:
        shown = [f"{s:g} s to {e:g} s" for s, e in zip(starts, ends, strict=True)]
        raise DatasetError(
            f"column {columns.end_col!r} must be after {columns.start_col or 'the start (0 s)'!r}"
            f"; rows {rows.describe(not_after, shown)} end at or before they start"
        )
    return np.stack([starts, ends], axis=1)


def _region(regions: np.ndarray | None, i: int) -> Region | None:
    if regions is None or math.isnan(regions[i, 0]):
        return None
    end = regions[i, 1]
    return Region(float(regions[i, 0]), None if math.isnan(end) else float(end))


def _weights(
    table_columns: dict[str, list[Any]], column: str | None, rows: _RowNames
) -> np.ndarray | None:
    if column is None:
        return None
    values = _numbers(table_columns[column], column, rows, "sample weights (numbers)")
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if bad.size:
        raise DatasetError(
            f"column {column!r} must hold finite sample weights >= 0; rows "
            f"{rows.describe(bad, table_columns[column])} do not (a missing weight is NaN)"
        )
    return values.astype(np.float32)


def _groups(
    table_columns: dict[str, list[Any]], column: str | None, paths: list[str], rows: _RowNames
) -> list[str]:
    if column is None:
        return [speaker_group(path) for path in paths]
    values = table_columns[column]
    missing = [i for i, value in enumerate(values) if _is_missing(value)]
    if missing:
        raise DatasetError(
            f"column {column!r} must name every row's group; rows {rows.describe(missing)} have "
            "none"
        )
    return [str(value) for value in values]


def rows_in_subset(
    split: SplitSpec, groups: Sequence[str], class_ids: np.ndarray, dealt: np.ndarray
) -> np.ndarray:
    """Return whether each row's group is on ``split.subset``'s side.

    Parameters
    ----------
    split : SplitSpec
        The split, with a subset.
    groups : sequence of str
        Each row's group.
    class_ids : numpy.ndarray
        Each row's class id (-1 for none): the strata of ``"stratified"`` folds.
    dealt : numpy.ndarray of bool
        The rows whose groups the balanced and stratified fold strategies deal (the samples
        of listed classes, as ``flow_from_directory`` deals the files of its class folders);
        the others' groups fall by their hash.

    Returns
    -------
    numpy.ndarray of bool
        One entry per row.
    """
    positions = np.flatnonzero(dealt)
    side = split.side_function(
        [groups[i] for i in positions], [int(class_ids[i]) for i in positions]
    )
    return np.fromiter((side(group) == split.subset for group in groups), bool, len(groups))


def _draw_unknown(
    pool: np.ndarray,
    target: int,
    seed: int,
    checker: _FileChecker | None,
    readable: Any,
    percentage: float,
    smallest: int,
    check_ahead: Any = None,
) -> tuple[np.ndarray, str]:
    """Draw the ``_unknown_`` rows from the rows of unlisted labels, as folders are drawn."""
    shortfall = ""
    if target > 0 and pool.size == 0:
        raise DatasetError(
            f"'{UNKNOWN_CLASS}' is drawn from the rows whose label is not in classes, but the "
            "subset has none; add such rows or remove it from classes"
        )
    if target > pool.size:
        warnings.warn(
            f"'{UNKNOWN_CLASS}' asks for {target} samples ({percentage} x {smallest}) but only "
            f"{pool.size} rows have a label not in classes; using all of them",
            stacklevel=4,
        )
        target = int(pool.size)
    rng = random_generator(Stream.UNKNOWN_DRAW, seed)
    chosen = rng.choice(pool.size, size=target, replace=False)
    if checker is not None:
        checker.expect(target)
        chosen = _draw_readable(
            pool,
            chosen,
            rng,
            checker,
            lambda j: readable(int(pool[j])),
            None if check_ahead is None else lambda js: check_ahead([pool[j] for j in js]),
        )
        if len(chosen) < target:
            shortfall = (
                f"; '{UNKNOWN_CLASS}' has only {len(chosen)} of the {target} samples asked, as "
                "no more rows of other labels are readable"
            )
    return pool[np.sort(chosen)], shortfall


# ----------------------------------------------------------------------------- labels


class _Labels:
    """The labels of a table's rows, read for one class mode."""

    def __init__(
        self,
        class_mode: str | None,
        class_names: tuple[str, ...],
        class_ids: np.ndarray,
        listed: np.ndarray,
        label_rows: np.ndarray | None,
        unknown_rows: dict[int, list[str]],
        column: str | None,
    ) -> None:
        self.class_mode = class_mode
        self.class_names = class_names
        self.class_ids = class_ids  # -1 where a row has no single listed class
        self.listed = listed  # rows that are samples of their own label
        self.label_rows = label_rows
        self.unknown_rows = unknown_rows  # row -> its labels not in classes
        self.column = column
        self.unknown_is_listed = UNKNOWN_CLASS in class_names
        self.silence_is_listed = SILENCE_CLASS in class_names

    @classmethod
    def read(
        cls,
        table_columns: dict[str, list[Any]],
        columns: TableColumns,
        class_mode: str | None,
        classes: Sequence[str] | None,
        label_sep: str | None,
        rows: _RowNames,
    ) -> _Labels:
        count = len(rows)
        if class_mode in _UNLABELED_MODES or columns.y_col is None:
            if class_mode not in _UNLABELED_MODES:
                raise DatasetError(
                    f"class_mode={class_mode!r} needs labels, but y_col is None; pass the label "
                    "column, or class_mode=None for unlabeled rows"
                )
            names = () if classes is None else _check_class_list(classes, allow_pseudo=False)
            return cls(class_mode, names, np.full(count, -1), np.ones(count, bool), None, {}, None)
        if class_mode == "raw":
            return cls._raw(table_columns, columns.y_col, rows)
        if not isinstance(columns.y_col, str):
            raise DatasetError(
                f"y_col must be one column name for class_mode={class_mode!r}, got "
                f"{columns.y_col!r}; a list of columns is for class_mode='raw'"
            )
        column = columns.y_col
        cells = [
            _label_list(value, label_sep) for value in table_columns[column]
        ]  # None: not a label
        bad = [i for i, labels in enumerate(cells) if labels is None]
        if bad:
            raise DatasetError(
                f"column {column!r} must hold a class name (str), a list of them, or with "
                f"label_sep a string of them; rows {rows.describe(bad, table_columns[column])} "
                "do not"
            )
        multi = class_mode == "multi_label" or (
            class_mode == "categorical"
            and (label_sep is not None or any(map(_is_list, table_columns[column])))
        )
        if not multi:
            several = [i for i, labels in enumerate(cells) if len(labels) != 1]
            if several:
                raise DatasetError(
                    f"class_mode={class_mode!r} takes one label per row, but rows "
                    f"{rows.describe(several, table_columns[column])} of column {column!r} "
                    "hold " + ("none or several" if class_mode != "binary" else "other than one")
                )
        if classes is None:
            names = tuple(sorted({label for labels in cells for label in labels}))
        else:
            names = _check_class_list(classes, allow_pseudo=not multi)
        if class_mode == "binary" and len(names) != 2:
            raise DatasetError(
                f"class_mode='binary' needs exactly two classes, got {len(names)}: {list(names)}"
                "; use 'categorical' or 'sparse' for more"
            )
        if not names:
            raise DatasetError(f"column {column!r} holds no label; pass classes")
        position = {name: i for i, name in enumerate(names)}
        unknown_rows = {
            i: [label for label in labels if label not in position]
            for i, labels in enumerate(cells)
            if any(label not in position for label in labels)
        }
        if multi:
            label_rows = np.zeros((count, len(names)), np.float32)
            for i, labels in enumerate(cells):
                for label in labels:
                    j = position.get(label)
                    if j is not None:
                        label_rows[i, j] = 1.0
            return cls(
                class_mode,
                names,
                np.full(count, -1),
                np.ones(count, bool),
                label_rows,
                unknown_rows,
                column,
            )
        class_ids = np.array([position.get(labels[0], -1) for labels in cells], np.int32)
        return cls(class_mode, names, class_ids, class_ids >= 0, None, unknown_rows, column)

    @classmethod
    def _raw(cls, table_columns: dict[str, list[Any]], y_col: Any, rows: _RowNames) -> _Labels:
        names = [y_col] if isinstance(y_col, str) else list(y_col)
        values = []
        for name in names:
            column = _numbers(table_columns[name], name, rows, "numbers (class_mode='raw')")
            bad = np.flatnonzero(~np.isfinite(column))
            if bad.size:
                raise DatasetError(
                    f"column {name!r} must hold finite numbers for class_mode='raw'; rows "
                    f"{rows.describe(bad, table_columns[name])} do not"
                )
            values.append(column)
        label_rows = np.stack(values, axis=1).astype(np.float32)
        if isinstance(y_col, str):
            label_rows = label_rows[:, 0]  # one column: labels of shape (batch,), as Keras
        count = len(rows)
        return cls("raw", (), np.full(count, -1), np.ones(count, bool), label_rows, {}, None)

    def keep_known(self, unknown_labels: str, rows: _RowNames) -> np.ndarray:
        """Apply ``unknown_labels`` to the rows with labels not in classes; return the kept."""
        kept = np.ones(len(rows), bool)
        if not self.unknown_rows:
            return kept
        multi = self.label_rows is not None
        if self.unknown_is_listed and not multi:
            return kept  # the candidates of _unknown_
        positions = sorted(self.unknown_rows)
        labels = {i: self.unknown_rows[i] if multi else self.unknown_rows[i][0] for i in positions}
        shown = rows.describe(positions, [labels.get(i) for i in range(len(rows))])
        what = "labels" if multi else "label"
        if unknown_labels == "raise":
            raise DatasetError(
                f"{len(positions)} rows of column {self.column!r} have a {what} not in classes "
                f"{list(self.class_names)}: rows {shown}. List them in classes"
                + ("" if multi else f", add '{UNKNOWN_CLASS}' to classes")
                + ", or pass unknown_labels='drop'"
            )
        if multi:
            message = (
                f"unknown_labels='drop' removed labels not in classes from {len(positions)} "
                f"rows of column {self.column!r}: rows {shown}"
            )
        else:
            kept[positions] = False
            message = (
                f"unknown_labels='drop' left out {len(positions)} rows of column "
                f"{self.column!r} whose label is not in classes: rows {shown}"
            )
        warnings.warn(message, stacklevel=4)
        return kept

    def smallest_class(self, class_ids: np.ndarray, where: str) -> int:
        """Check every listed real class has rows in ``where``; return the smallest count."""
        if self.label_rows is not None or not self.class_names:
            return 0
        counts = np.bincount(class_ids, minlength=len(self.class_names))
        real = [i for i, name in enumerate(self.class_names) if name not in PSEUDO_CLASSES]
        empty = [self.class_names[i] for i in real if counts[i] == 0]
        if empty:
            raise DatasetError(
                f"class {', '.join(repr(name) for name in empty)} has no usable row in {where}"
                "; add rows or remove it from classes"
            )
        return int(min(counts[i] for i in real))

    def check_marked(self, entries: np.ndarray, candidates: np.ndarray, where: str) -> None:
        """Check every class some candidate row marks is marked by a kept row (multi-hot).

        Parameters
        ----------
        entries : numpy.ndarray
            The rows kept in the subset.
        candidates : numpy.ndarray
            The rows before the split.
        where : str
            The subset, for the message.
        """
        if self.label_rows is None or self.class_mode == "raw":
            return
        marked = self.label_rows != 0
        missing = marked[candidates].any(axis=0) & ~marked[entries].any(axis=0)
        if missing.any():
            names = [self.class_names[i] for i in np.flatnonzero(missing)]
            raise DatasetError(
                f"class {', '.join(repr(name) for name in names)} has no usable row in {where}"
                ": the rows that have it all fall on other sides of the split. Add rows from "
                "more groups, change the split, or remove it from classes"
            )

    def index(
        self,
        root: str,
        entries: np.ndarray,
        unknown: np.ndarray,
        silence: int,
        *,
        paths: list[str],
        regions: np.ndarray | None,
        weights: np.ndarray | None,
        groups: list[str],
        skipped: list[tuple[str, str]],
        targets: list[str] | None = None,
    ) -> DatasetIndex:
        """Assemble the index: the kept rows, the drawn unknown rows, the silence samples."""
        rows = np.concatenate([entries, unknown]).astype(np.intp)
        filenames: list[str | None] = [paths[i] for i in rows] + [None] * silence
        class_ids = np.concatenate(
            [
                self.class_ids[entries],
                np.full(unknown.size, self.class_names.index(UNKNOWN_CLASS) if unknown.size else 0),
                np.full(silence, self.class_names.index(SILENCE_CLASS) if silence else 0),
            ]
        )
        label_rows = None
        if self.label_rows is not None:
            label_rows = self.label_rows[rows]
        index_regions = None
        if regions is not None:
            index_regions = np.concatenate([regions[rows], np.full((silence, 2), np.nan)])
        index_weights = None
        if weights is not None:
            index_weights = np.concatenate([weights[rows], np.ones(silence, np.float32)])
        return DatasetIndex(
            root,
            self.class_names,
            tuple(filenames),
            class_ids,
            tuple(skipped),
            regions=index_regions,
            label_rows=label_rows,
            weights=index_weights,
            groups=tuple([groups[i] for i in rows] + [None] * silence),
            target_filenames=None if targets is None else tuple(targets[i] for i in rows),
        )


def _is_list(value: Any) -> bool:
    return isinstance(value, (list, tuple, np.ndarray))


def _label_list(value: Any, label_sep: str | None) -> list[str] | None:
    """Return a cell's labels, or None when it is not a label."""
    if isinstance(value, (np.integer, int)) and not isinstance(value, (bool, np.bool_)):
        return [str(int(value))]
    if isinstance(value, str):
        if label_sep is None:
            return [value]
        return [part.strip() for part in value.split(label_sep) if part.strip()]
    if isinstance(value, (list, tuple, np.ndarray)):
        labels = []
        for item in list(value):
            if isinstance(item, (np.integer, int)) and not isinstance(item, (bool, np.bool_)):
                item = str(int(item))
            if not isinstance(item, str):
                return None
            labels.append(item)
        return labels
    return None


def _check_class_list(classes: Sequence[str], *, allow_pseudo: bool) -> tuple[str, ...]:
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Iterable):
        raise TypeError(f"classes must be a list of class names, got {classes!r}")
    names = tuple(classes)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"class names must be str, got {name!r} ({type(name).__name__})")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DatasetError(f"classes lists {duplicates} more than once: {list(names)}")
    pseudo = [name for name in names if name in PSEUDO_CLASSES]
    if pseudo and not allow_pseudo:
        raise DatasetError(
            f"classes lists {pseudo}: '{UNKNOWN_CLASS}' and '{SILENCE_CLASS}' are classes of "
            "single-label modes (categorical with one label per row, binary, sparse)"
        )
    if names and all(name in PSEUDO_CLASSES for name in names):
        raise DatasetError(
            f"classes {list(names)} holds no real class; pseudo-classes are sized relative to "
            "the smallest real class"
        )
    return names


def _check_arguments(class_mode: Any, unknown_labels: Any, label_sep: Any) -> None:
    if class_mode not in TABLE_CLASS_MODES:
        raise SettingsError(
            f"class_mode must be one of {', '.join(repr(m) for m in TABLE_CLASS_MODES)}, got "
            f"{class_mode!r}"
        )
    if unknown_labels not in UNKNOWN_LABEL_MODES:
        raise SettingsError(f"unknown_labels must be 'raise' or 'drop', got {unknown_labels!r}")
    if label_sep is not None and (not isinstance(label_sep, str) or not label_sep):
        raise TypeError(f"label_sep must be a non-empty str or None, got {label_sep!r}")

"""Timed event annotations: reading them, checking them, fitting them to the audio files.

An event is ``(file, onset, offset, label)``, times in seconds of the file. Tables arrive as a
pandas DataFrame, an iterable of rows (mappings, or ``(file, onset, offset, label)``
sequences), or a CSV/TSV file in the DCASE strong-label layout (``filename, onset, offset,
event_label``, with or without that header); or as one time-series CSV per audio file
(``time, class_1, ..., class_N``, each row's values held until the next row). Every problem is
raised here, before any audio is read, naming the row or the file.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from parallel_audio.errors import DatasetError, printable_path, short_repr

__all__ = [
    "EventTable",
    "check_labels",
    "clip_to_durations",
    "read_events",
    "read_timeseries",
]

#: Accepted column names, the DCASE name first. The other names are those of common tables
#: (Lhotse's supervisions, AudioSet's strong labels, NeMo's manifests).
COLUMN_NAMES = {
    "filename": ("filename", "file", "audio_filename", "audio_filepath", "path"),
    "onset": ("onset", "start", "event_onset", "start_time_seconds"),
    "offset": ("offset", "end", "event_offset", "end_time_seconds"),
    "event_label": ("event_label", "label", "class"),
}
_SHOWN_ROWS = 5  # rows an error lists


@dataclass(frozen=True, eq=False)
class EventTable:
    """Timed events of a set of audio files.

    Parameters
    ----------
    source : str
        What the events came from, for messages ("'meta/train.tsv'", "the DataFrame").
    filenames : tuple of str
        Each event's file, relative to the audio directory, ``/`` separators.
    onsets, offsets : numpy.ndarray of float64
        Each event's span in seconds, ``0 <= onset < offset``.
    labels : tuple of str
        Each event's label.
    rows : tuple of str
        Where each event is in its source ("line 4", "row 3"), for messages.
    listed_files : tuple of str
        Every file the source names, sorted, those listed without events included (DCASE
        writes a file with no event as a row with empty onset, offset and label).
    file_groups : dict of str to str, optional
        With ``group_col``: each file's group (speaker, session, site).
    declared_labels : tuple of str
        Labels the source names even where no event has them (a time-series CSV's columns).
    """

    source: str
    filenames: tuple[str, ...]
    onsets: np.ndarray
    offsets: np.ndarray
    labels: tuple[str, ...]
    rows: tuple[str, ...]
    listed_files: tuple[str, ...]
    file_groups: dict[str, str] | None = None
    declared_labels: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.filenames)

    def select(self, keep: np.ndarray) -> EventTable:
        """Return the events where the boolean mask ``keep`` is True (files stay listed)."""
        where = np.flatnonzero(keep)
        return dataclasses.replace(
            self,
            filenames=tuple(self.filenames[i] for i in where),
            onsets=self.onsets[where],
            offsets=self.offsets[where],
            labels=tuple(self.labels[i] for i in where),
            rows=tuple(self.rows[i] for i in where),
        )


def _rows_text(rows: Sequence[str]) -> str:
    shown = ", ".join(rows[:_SHOWN_ROWS])
    return shown + (f" and {len(rows) - _SHOWN_ROWS} more" if len(rows) > _SHOWN_ROWS else "")


def _is_empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, float) and math.isnan(value)


def read_events(
    annotations: Any, *, sep: str | None = None, group_col: str | None = None
) -> EventTable:
    """Read an event table.

    Parameters
    ----------
    annotations : pandas.DataFrame, iterable of rows, str or os.PathLike
        A DataFrame or rows (mappings with the columns below, or ``(filename, onset, offset,
        event_label)`` sequences), or a CSV/TSV file path. Columns: ``filename`` (also
        ``file``, ``audio_filename``, ``audio_filepath``, ``path``), ``onset`` (``start``,
        ``event_onset``), ``offset`` (``end``, ``event_offset``), ``event_label`` (``label``,
        ``class``). A file may lack the header (DCASE 2016-2017 files do); its columns are then
        taken in that order. A row whose onset, offset and label are all empty lists a file
        without events.
    sep : str, optional
        The file's delimiter; default: a tab for ``.tsv`` and ``.txt``, otherwise a tab if the
        first line holds one, else a comma.
    group_col : str, optional
        A column giving each file's group (the same on every row of a file).

    Returns
    -------
    EventTable

    Raises
    ------
    DatasetError
        Naming the row: a missing column (with the ones present), an empty or non-string file
        name, an onset or offset that is not a finite number, a negative onset, ``onset >=
        offset``, an empty label on an event.
    """
    if isinstance(annotations, (str, os.PathLike)):
        source = repr(printable_path(os.fspath(annotations)))
        records, row_names = _read_table_file(os.fspath(annotations), sep)
    elif hasattr(annotations, "to_dict") and hasattr(annotations, "columns"):
        source = "the annotations DataFrame"
        records = annotations.to_dict("records")
        row_names = [f"row {i}" for i in range(len(records))]
        _check_columns(list(annotations.columns), source)
    elif isinstance(annotations, Iterable) and not isinstance(annotations, (bytes, Mapping)):
        source = "the annotation rows"
        records = [_as_record(row, i) for i, row in enumerate(annotations)]
        row_names = [f"row {i}" for i in range(len(records))]
    else:
        raise TypeError(
            "annotations must be a DataFrame, an iterable of rows, a CSV/TSV path or None, got "
            f"{type(annotations).__name__}"
        )
    table = _parse(records, row_names, source)
    if group_col is None:
        return table
    groups: dict[str, str] = {}
    where: dict[str, str] = {}
    for record, row in zip(records, row_names, strict=True):
        if group_col not in record:
            raise DatasetError(
                f"group_col {group_col!r} is not a column of {source} ({row} has "
                f"{', '.join(repr(k) for k in record)})"
            )
        name = os.fspath(_column(record, "filename")).strip().replace("\\", "/")
        group = str(record[group_col]).strip()
        if groups.setdefault(name, group) != group:
            raise DatasetError(
                f"{row} of {source} puts {name!r} in group {group!r}, {where[name]} in "
                f"{groups[name]!r}: a file belongs to one group"
            )
        where.setdefault(name, row)
    return dataclasses.replace(table, file_groups=groups)


def _as_record(row: Any, i: int) -> dict[str, Any]:
    if isinstance(row, Mapping):
        return dict(row)
    if isinstance(row, Sequence) and not isinstance(row, str) and len(row) == 4:
        return dict(zip(("filename", "onset", "offset", "event_label"), row, strict=True))
    raise DatasetError(
        f"annotation row {i} is {short_repr(row)}: each row must be a mapping with the columns "
        "filename, onset, offset, event_label, or a (filename, onset, offset, event_label) tuple"
    )


def _column(record: Mapping[str, Any], name: str) -> Any:
    for alias in COLUMN_NAMES[name]:
        if alias in record:
            return record[alias]
    raise KeyError(name)


def _check_columns(columns: list[Any], source: str) -> None:
    present = {str(c) for c in columns}
    missing = [
        name
        for name, aliases in COLUMN_NAMES.items()
        if not any(alias in present for alias in aliases)
    ]
    if missing:
        raise DatasetError(
            f"{source} has no column {', '.join(repr(m) for m in missing)} (nor "
            f"{', '.join(a for m in missing for a in COLUMN_NAMES[m][1:])}); its columns are "
            f"{', '.join(repr(c) for c in present) or 'none'}"
        )


def _read_cells(path: str, sep: str | None) -> tuple[list[int], list[list[str]]]:
    """Read a delimited text file: the line number and the cells of each non-blank line."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as file:
            lines = file.read().splitlines()
    except OSError as error:
        raise DatasetError(
            f"cannot read annotations {printable_path(path)!r}: {error.strerror or error}"
        ) from error
    except UnicodeDecodeError as error:
        raise DatasetError(
            f"annotations {printable_path(path)!r} is not UTF-8 text (byte {error.start})"
        ) from error
    numbered = [(n, line) for n, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        return [], []
    if sep is None:
        extension = os.path.splitext(path)[1].lower()
        first = numbered[0][1]
        sep = "\t" if extension in (".tsv", ".txt") or "\t" in first else ","
    parsed = list(csv.reader((line for _, line in numbered), delimiter=sep))
    return [n for n, _ in numbered], parsed


def _read_table_file(path: str, sep: str | None) -> tuple[list[dict[str, Any]], list[str]]:
    """Read an event table file into records, with or without its header."""
    line_numbers, parsed = _read_cells(path, sep)
    if not parsed:
        return [], []
    header = [cell.strip() for cell in parsed[0]]
    known = {alias for aliases in COLUMN_NAMES.values() for alias in aliases}
    if known.intersection(header):
        _check_columns(header, repr(printable_path(path)))
        body, columns = parsed[1:], header
        numbers = line_numbers[1:]
    else:
        body, columns = parsed, ["filename", "onset", "offset", "event_label"]
        numbers = line_numbers
    records = []
    for n, cells in zip(numbers, body, strict=True):
        if len(cells) > len(columns):
            raise DatasetError(
                f"line {n} of {printable_path(path)!r} has {len(cells)} fields, the header "
                f"{len(columns)}"
            )
        # DCASE writes a file without events as its name alone: missing fields are empty.
        records.append(dict(zip(columns, cells + [""] * (len(columns) - len(cells)), strict=True)))
    return records, [f"line {n}" for n in numbers]


def _parse(records: list[dict[str, Any]], row_names: list[str], source: str) -> EventTable:
    filenames: list[str] = []
    onsets: list[float] = []
    offsets: list[float] = []
    labels: list[str] = []
    rows: list[str] = []
    listed: set[str] = set()
    for record, row in zip(records, row_names, strict=True):
        try:
            name = _column(record, "filename")
            onset, offset, label = (_column(record, c) for c in ("onset", "offset", "event_label"))
        except KeyError as missing:
            raise DatasetError(
                f"{row} of {source} has no {missing.args[0]!r} column; it has "
                f"{', '.join(repr(k) for k in record) or 'none'}"
            ) from None
        if not isinstance(name, (str, os.PathLike)) or not os.fspath(name).strip():
            raise DatasetError(
                f"{row} of {source}: the file name must be a non-empty string, got "
                f"{short_repr(name)}"
            )
        name = os.fspath(name).strip().replace("\\", "/")
        listed.add(name)
        empties = [_is_empty(onset), _is_empty(offset), _is_empty(label)]
        if all(empties):
            continue  # a file without events
        if any(empties):
            which = [
                c for c, e in zip(("onset", "offset", "event_label"), empties, strict=True) if e
            ]
            raise DatasetError(
                f"{row} of {source} ({name!r}) has no {', '.join(which)}: an event needs an "
                "onset, an offset and a label (leave all three empty to list a file without "
                "events)"
            )
        onset_s = _seconds(onset, "onset", row, source, name)
        offset_s = _seconds(offset, "offset", row, source, name)
        if onset_s < 0:
            raise DatasetError(f"{row} of {source} ({name!r}): negative onset {onset_s}")
        if onset_s >= offset_s:
            raise DatasetError(
                f"{row} of {source} ({name!r}): onset {onset_s} is not before offset {offset_s}"
            )
        filenames.append(name)
        onsets.append(onset_s)
        offsets.append(offset_s)
        labels.append(str(label).strip())
        rows.append(row)
    return EventTable(
        source,
        tuple(filenames),
        np.array(onsets, np.float64),
        np.array(offsets, np.float64),
        tuple(labels),
        tuple(rows),
        tuple(sorted(listed)),
    )


def _seconds(value: Any, column: str, row: str, source: str, name: str) -> float:
    try:
        if isinstance(value, bool):
            raise ValueError
        seconds = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise DatasetError(
            f"{row} of {source} ({name!r}): {column} must be a number of seconds, got "
            f"{short_repr(value)}"
        ) from None
    if not math.isfinite(seconds):
        raise DatasetError(f"{row} of {source} ({name!r}): {column} is {seconds}")
    return seconds


def check_labels(table: EventTable, classes: Sequence[str]) -> np.ndarray:
    """Return each event's class id; every label must be one of ``classes``.

    Raises
    ------
    DatasetError
        With the number of events whose label is not listed, the labels, and their first rows.
    """
    ids = {name: i for i, name in enumerate(classes)}
    unknown = [i for i, label in enumerate(table.labels) if label not in ids]
    if unknown:
        names = sorted({table.labels[i] for i in unknown})
        raise DatasetError(
            f"{len(unknown)} events of {table.source} have a label not in classes: "
            f"{', '.join(repr(n) for n in names[:10])}{' ...' if len(names) > 10 else ''} "
            f"({_rows_text([table.rows[i] for i in unknown])}); classes are "
            f"{', '.join(repr(c) for c in classes)}. Add them to classes or drop those rows"
        )
    return np.array([ids[label] for label in table.labels], np.int64)


def clip_to_durations(
    table: EventTable, durations: Mapping[str, float], *, stacklevel: int = 2
) -> EventTable:
    """Clip events that run past their file's end, with one warning naming them.

    Parameters
    ----------
    table : EventTable
    durations : mapping of str to float
        Each file's length in seconds (every file of ``table`` must be there).
    stacklevel : int
        For the warning.

    Returns
    -------
    EventTable
        Events ending after their file's end end there; events starting at or after it are
        dropped.
    """
    ends = np.array([durations[name] for name in table.filenames], np.float64)
    beyond = np.flatnonzero(table.offsets > ends)
    if beyond.size == 0:
        return table
    described = [
        f"{table.filenames[i]!r} ({table.rows[i]}: {table.onsets[i]:g}-{table.offsets[i]:g} s "
        f"{table.labels[i]!r}, file ends at {ends[i]:g} s)"
        for i in beyond[:_SHOWN_ROWS]
    ]
    more = f" and {beyond.size - _SHOWN_ROWS} more" if beyond.size > _SHOWN_ROWS else ""
    warnings.warn(
        f"{beyond.size} events of {table.source} end after their file does; clipped to the "
        f"file's end (dropped when they start after it): {'; '.join(described)}{more}",
        stacklevel=stacklevel,
    )
    clipped = dataclasses.replace(table, offsets=np.minimum(table.offsets, ends))
    return clipped.select(clipped.offsets > clipped.onsets)


def read_timeseries(path: str, audio_filename: str, duration: float) -> EventTable:
    """Read one audio file's time-series labels as events.

    The CSV's header is ``time`` then one column per class; each row gives, from its time on,
    which classes are active (0 or 1), held until the next row's time (sample and hold); the
    last row holds until ``duration``. Rows must be in increasing time order, from >= 0.

    Parameters
    ----------
    path : str
        The CSV file.
    audio_filename : str
        The audio file it labels, as the events will name it.
    duration : float
        The audio file's length in seconds.

    Returns
    -------
    EventTable
        One event per run of 1s of a class.

    Raises
    ------
    DatasetError
        Naming the file and line: no ``time`` column, a time that is not a finite number >= 0
        or not after the previous one, a value other than 0 or 1.
    """
    shown = repr(printable_path(path))
    line_numbers, parsed = _read_cells(path, None)
    header = [cell.strip() for cell in parsed[0]] if parsed else []
    if len(header) < 2 or header[0].lower() != "time":
        raise DatasetError(
            f"time-series labels {shown} must start with a header 'time,<class>,...'; its first "
            f"line is {', '.join(repr(c) for c in header) or 'empty'}"
        )
    class_names = header[1:]
    body = parsed[1:]
    row_names = [f"line {n}" for n in line_numbers[1:]]
    if not body:
        return EventTable(
            shown, (), np.zeros(0), np.zeros(0), (), (), (audio_filename,), None, tuple(class_names)
        )
    times: list[float] = []
    values = np.zeros((len(body), len(class_names)), bool)
    for k, (cells, row) in enumerate(zip(body, row_names, strict=True)):
        if len(cells) != len(header):
            raise DatasetError(
                f"{row} of {shown} has {len(cells)} fields, the header {len(header)}"
            )
        time = _seconds(cells[0], "time", row, shown, audio_filename)
        if time < 0 or (times and time <= times[-1]):
            raise DatasetError(
                f"{row} of {shown}: time {time} must be >= 0 and after the previous row's"
            )
        times.append(time)
        for j in range(len(class_names)):
            cell = cells[j + 1].strip()
            try:
                value = float(cell)
            except ValueError:
                value = math.nan
            if value not in (0.0, 1.0):
                raise DatasetError(
                    f"{row} of {shown}: class {class_names[j]!r} is {short_repr(cell)}; "
                    "time-series labels are 0 or 1"
                )
            values[k, j] = value == 1.0
    starts = np.array(times, np.float64)
    ends = np.append(starts[1:], max(duration, starts[-1]))
    filenames, onsets, offsets, labels, rows = [], [], [], [], []
    for j, name in enumerate(class_names):
        active = np.concatenate(([False], values[:, j], [False]))
        edges = np.flatnonzero(np.diff(active.astype(np.int8)))
        for first, stop in zip(edges[::2], edges[1::2], strict=True):
            onset, offset = starts[first], ends[stop - 1]
            if offset > onset:
                filenames.append(audio_filename)
                onsets.append(onset)
                offsets.append(offset)
                labels.append(name)
                rows.append(row_names[first])
    return EventTable(
        shown,
        tuple(filenames),
        np.array(onsets, np.float64),
        np.array(offsets, np.float64),
        tuple(labels),
        tuple(rows),
        (audio_filename,),
        None,
        tuple(class_names),
    )

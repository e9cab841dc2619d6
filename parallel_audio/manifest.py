"""Reading manifest files (CSV, TSV, JSON lines) into rows for ``flow_from_manifest``.

Only the standard library reads them. A manifest with NeMo's keys (``audio_filepath``,
``label``, ``offset``, ``duration``) is recognised, and its ``offset``/``duration`` become
the region of the file each row is.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from parallel_audio.errors import DatasetError

__all__ = ["NEMO_END_COLUMN", "Manifest", "LineNumber", "read_manifest"]

#: Separators by file extension; any other extension is JSON lines.
_SEPARATORS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_JSON_LINES = (".json", ".jsonl", ".ndjson")
#: The column a NeMo row's region end is computed into (its name says how).
NEMO_END_COLUMN = "offset+duration"
_NEMO_PATH = "audio_filepath"


class LineNumber(int):
    """A row's line in its manifest, as messages name it ("line 7")."""

    def __repr__(self) -> str:
        return f"line {int(self)}"


@dataclass(frozen=True)
class Manifest:
    """The rows of a manifest file.

    Attributes
    ----------
    path : str
        The file.
    rows : list of dict
        One mapping of column to value per data line (CSV/TSV values are strings).
    lines : list of LineNumber
        The line each row was read from (1-based), for messages.
    columns : list of str
        The header (CSV/TSV) or the keys met (JSON lines), in order of appearance.
    nemo : bool
        Whether the rows use NeMo's keys (``audio_filepath``).
    """

    path: str
    rows: list[dict[str, Any]]
    lines: list[LineNumber]
    columns: list[str]
    nemo: bool

    @property
    def has_region(self) -> bool:
        """Whether NeMo rows give an ``offset`` or a ``duration``."""
        return self.nemo and ("offset" in self.columns or "duration" in self.columns)

    def default_columns(self) -> dict[str, Any]:
        """Return the ``flow_from_dataframe`` keywords this manifest's keys call for.

        A NeMo manifest: ``x_col="audio_filepath"``, ``y_col="label"`` (without a ``label``
        key, ``y_col=None`` and ``class_mode=None``), and ``offset`` / ``duration`` as the
        region. Any other: nothing (``filename`` and ``class``, as ``flow_from_dataframe``).
        """
        if not self.nemo:
            return {}
        options: dict[str, Any] = {"x_col": _NEMO_PATH, "y_col": "label"}
        if "label" not in self.columns:
            options.update(y_col=None, class_mode=None)
        if self.has_region:
            options.update(start_col="offset", end_col=NEMO_END_COLUMN)
        return options


def read_manifest(path: str | os.PathLike[str], sep: str | None = None) -> Manifest:
    """Read a CSV, TSV or JSON-lines manifest.

    Parameters
    ----------
    path : str or os.PathLike
        The manifest. ``.csv`` is comma-separated, ``.tsv`` and ``.tab`` tab-separated, any
        other extension JSON lines (one object per line; blank lines are skipped). UTF-8,
        with or without a byte order mark.
    sep : str, optional
        Reads the file as delimited text with this one-character separator, whatever its
        extension.

    Returns
    -------
    Manifest
        With NeMo's keys, each row also gets the column ``"offset+duration"``: its region's
        end (missing when the row has no ``duration``); a missing ``offset`` is 0.

    Raises
    ------
    DatasetError
        Naming the manifest and the line: it does not exist or cannot be read, is not UTF-8
        text, a CSV line has more or fewer fields than the header, a JSON line is not valid
        JSON or not an object, a NeMo ``duration`` is not a positive number; or the manifest
        has no data line.
    """
    path = os.fspath(path)
    extension = os.path.splitext(path)[1].lower()
    if sep is not None and (not isinstance(sep, str) or len(sep) != 1):
        raise DatasetError(f"sep must be one character, got {sep!r}")
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as error:
        raise DatasetError(f"cannot read manifest {path!r}: {error.strerror or error}") from error
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise DatasetError(
            f"manifest {path!r} is not UTF-8 text (byte {error.start} is not): a manifest is "
            "CSV, TSV or JSON lines"
        ) from None
    separator = sep if sep is not None else _SEPARATORS.get(extension)
    if separator is None and extension not in _JSON_LINES and extension:
        # An unknown extension: JSON lines when the first line is an object, else CSV.
        first = text.lstrip()[:1]
        separator = None if first == "{" else ","
    if separator is None:
        rows, lines, columns = _json_lines(path, text)
    else:
        rows, lines, columns = _delimited(path, text, separator)
    if not rows:
        raise DatasetError(f"manifest {path!r} has no data line")
    nemo = _NEMO_PATH in columns
    manifest = Manifest(path, rows, lines, columns, nemo)
    if manifest.has_region:
        _add_nemo_end(manifest)
    return manifest


def _delimited(
    path: str, text: str, separator: str
) -> tuple[list[dict[str, Any]], list[LineNumber], list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=separator)
    try:
        header = next(reader)
    except StopIteration:
        raise DatasetError(f"manifest {path!r} is empty: it needs a header line") from None
    except csv.Error as error:
        raise DatasetError(f"manifest {path!r}, line 1: {error}") from None
    header = [name.strip() for name in header]
    rows, lines = [], []
    try:
        for fields in reader:
            if not fields or (len(fields) == 1 and not fields[0].strip()):
                continue  # a blank line
            line = LineNumber(reader.line_num)
            if len(fields) != len(header):
                raise DatasetError(
                    f"manifest {path!r}, {line!r}: {len(fields)} fields where the header has "
                    f"{len(header)} ({', '.join(repr(name) for name in header)})"
                )
            rows.append(dict(zip(header, fields, strict=True)))
            lines.append(line)
    except csv.Error as error:
        raise DatasetError(f"manifest {path!r}, line {reader.line_num}: {error}") from None
    return rows, lines, header


def _json_lines(path: str, text: str) -> tuple[list[dict[str, Any]], list[LineNumber], list[str]]:
    rows, lines, columns = [], [], {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DatasetError(
                f"manifest {path!r}, line {number}: not valid JSON ({error.msg} at column "
                f"{error.colno}); a JSON-lines manifest holds one object per line"
            ) from None
        if not isinstance(row, Mapping):
            raise DatasetError(
                f"manifest {path!r}, line {number}: a JSON {type(row).__name__}, where each line "
                "must be an object of column names to values"
            )
        rows.append(dict(row))
        lines.append(LineNumber(number))
        columns.update(dict.fromkeys(row))
    return rows, lines, list(columns)


def _add_nemo_end(manifest: Manifest) -> None:
    """Give each NeMo row its region's end, offset + duration, checking the duration."""
    for row, line in zip(manifest.rows, manifest.lines, strict=True):
        duration = row.get("duration")
        offset = row.get("offset")
        if offset in (None, ""):
            offset = 0.0
            row["offset"] = 0.0
        if duration in (None, ""):
            row[NEMO_END_COLUMN] = None
            continue
        try:
            duration = float(duration)
            offset = float(offset)
        except (TypeError, ValueError):
            raise DatasetError(
                f"manifest {manifest.path!r}, {line!r}: 'offset' and 'duration' must be numbers "
                f"of seconds, got {row.get('offset')!r} and {row.get('duration')!r}"
            ) from None
        if not (math.isfinite(duration) and duration > 0):
            raise DatasetError(
                f"manifest {manifest.path!r}, {line!r}: 'duration' must be a positive number of "
                f"seconds, got {row.get('duration')!r}"
            )
        row[NEMO_END_COLUMN] = offset + duration
    if NEMO_END_COLUMN not in manifest.columns:
        manifest.columns.append(NEMO_END_COLUMN)

"""The ``--manifest`` options of ``info`` and ``preview``, and the table they describe."""

from __future__ import annotations

import argparse
import math
import os
from dataclasses import dataclass
from typing import Any

from parallel_audio.cli.data_settings import CommandLineError
from parallel_audio.errors import DatasetError


@dataclass
class ManifestTable:
    """A manifest read for a command, with the columns ``flow_from_manifest`` would use.

    Attributes
    ----------
    manifest : Manifest
        The rows.
    root : str
        The folder relative paths start from.
    columns : TableColumns
        The columns read.
    class_mode : str or None
        "categorical" with a label column, None without.
    paths : list of str
        Each row's file (empty where the row has none: the index names such rows).
    regions : list of (float or None, float or None)
        Each row's region in seconds, (None, None) for the whole file.
    sep : str or None
        The separator the manifest was read with (None: by its extension).
    """

    manifest: Any
    root: str
    columns: Any
    class_mode: str | None
    paths: list[str]
    regions: list[tuple[float | None, float | None]]
    sep: str | None = None

    def flow_options(self) -> dict[str, Any]:
        """Return the ``flow_from_manifest`` keywords of the command line's columns."""
        columns = self.columns
        return {
            "x_col": columns.x_col,
            "y_col": columns.y_col,
            "start_col": columns.start_col,
            "end_col": columns.end_col,
        }


def add_manifest_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--manifest`` and the options naming its columns."""
    group = parser.add_argument_group("manifest (instead of a folder per class)")
    group.add_argument(
        "--manifest",
        metavar="FILE",
        default=None,
        help="a CSV, TSV or JSON-lines manifest, as flow_from_manifest reads it (NeMo's keys "
        "work as they are)",
    )
    group.add_argument("--sep", default=None, help="separator of a delimited manifest")
    group.add_argument("--x-col", default=None, help="column of the file paths (default: filename)")
    group.add_argument("--y-col", default=None, help="column of the labels (default: class)")
    group.add_argument("--start-col", default=None, help="column of region starts (seconds)")
    group.add_argument("--end-col", default=None, help="column of region ends (seconds)")
    group.add_argument("--label-sep", default=None, help="separator of several labels in one cell")


def manifest_table(args: argparse.Namespace) -> ManifestTable:
    """Read ``args.manifest`` with the command line's columns (NeMo's keys by default)."""
    from parallel_audio.manifest import read_manifest
    from parallel_audio.table_index import TableColumns

    try:
        manifest = read_manifest(args.manifest, args.sep)
    except DatasetError as error:
        raise CommandLineError(str(error)) from None
    options: dict[str, Any] = {"x_col": "filename", "y_col": "class", "class_mode": "categorical"}
    options.update(manifest.default_columns())
    for name in ("x_col", "y_col", "start_col", "end_col"):
        value = getattr(args, name, None)
        if value is not None:
            options[name] = value
    if options["y_col"] is not None and options["y_col"] not in manifest.columns:
        options.update(y_col=None, class_mode=None)  # no labels: the rows are counted only
    columns = TableColumns(
        x_col=options["x_col"],
        y_col=options["y_col"],
        start_col=options.get("start_col"),
        end_col=options.get("end_col"),
    )
    root = args.data_dir or os.path.dirname(os.path.abspath(manifest.path))
    paths = [str(row.get(columns.x_col) or "") for row in manifest.rows]
    regions = [
        (_seconds(row.get(columns.start_col)), _seconds(row.get(columns.end_col)))
        for row in manifest.rows
    ]
    regions = [
        (None, None) if start is None and end is None else (start or 0.0, end)
        for start, end in regions
    ]
    return ManifestTable(
        manifest, root, columns, options["class_mode"], paths, regions, sep=args.sep
    )


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) else None

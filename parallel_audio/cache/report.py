"""What a cache folder holds, and how much of a dataset it serves: ``parallel-audio info``."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from parallel_audio.cache.builder import FINGERPRINT_NAME, MARKER_NAME
from parallel_audio.cache.chunks import CHUNKS_FOLDER
from parallel_audio.cache.manifest import Manifest, entry_is_current


@dataclass
class CacheFolderReport:
    """One cache folder: its size and, for a dataset's files, hits and stale files.

    Attributes
    ----------
    folder : str
    kind : str
        "audio" or "features".
    fields : dict
        What its fingerprint covers.
    complete : bool
        Whether its last build ended (else the next one resumes it).
    chunk_bytes : int
        Bytes of its chunk files on the disk.
    live_bytes : int
        Bytes of them current entries use (the rest: files decoded again since).
    entries, unreadable : int
        Files it holds, and those of them recorded as unreadable.
    hits, stale, missing : list of str
        With a dataset: its files served from the cache, changed since they were cached,
        and not cached yet.
    """

    folder: str
    kind: str
    fields: dict[str, Any]
    complete: bool
    chunk_bytes: int
    live_bytes: int
    entries: int
    unreadable: int
    hits: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def survey_cache(
    cache_dir: str | os.PathLike,
    *,
    directory: str | None = None,
    files: Iterable[str] = (),
    validate: str = "stat",
) -> list[CacheFolderReport]:
    """Describe every cache folder in ``cache_dir``; with files, what each serves of them.

    Parameters
    ----------
    cache_dir : str or os.PathLike
        The ``cache_dir`` of ``flow_*``.
    directory : str, optional
        The dataset folder ``files`` are relative to.
    files : iterable of str
        The dataset's files.
    validate : {"stat", "content", "none"}
        How hits are told from stale files.

    Returns
    -------
    list of CacheFolderReport
        One per folder, by name.
    """
    cache_dir = os.fspath(cache_dir)
    names = sorted(os.listdir(cache_dir)) if os.path.isdir(cache_dir) else []
    files = list(files)
    reports = []
    for name in names:
        folder = os.path.join(cache_dir, name)
        try:
            with open(os.path.join(folder, FINGERPRINT_NAME), encoding="utf-8") as file:
                fields = json.load(file)
        except (OSError, ValueError):
            continue  # not a cache folder
        manifest = Manifest.load(folder)
        chunks = os.path.join(folder, CHUNKS_FOLDER)
        chunk_bytes = sum(
            os.path.getsize(os.path.join(chunks, chunk))
            for chunk in (os.listdir(chunks) if os.path.isdir(chunks) else [])
        )
        live = sum(
            int(np.prod(entry["shape"], dtype=np.int64)) * np.dtype(entry["dtype"]).itemsize
            for entry in manifest.files.values()
            if "chunk" in entry
        )
        report = CacheFolderReport(
            folder=folder,
            kind=str(fields.get("kind", "?")),
            fields=fields,
            complete=os.path.exists(os.path.join(folder, MARKER_NAME)),
            chunk_bytes=chunk_bytes,
            live_bytes=int(live),
            entries=len(manifest.files),
            unreadable=sum("error" in entry for entry in manifest.files.values()),
        )
        for relative in files:
            path = os.path.abspath(os.path.join(directory or "", relative))
            entry = manifest.files.get(path)
            if entry is None:
                report.missing.append(relative)
            elif entry_is_current(entry, path, validate):
                report.hits.append(relative)
            else:
                report.stale.append(relative)
        reports.append(report)
    return reports


def format_size(nbytes: float) -> str:
    """Return a byte count in the largest unit that keeps it at least 1 (1000-based)."""
    for unit in ("bytes", "KB", "MB", "GB"):
        if nbytes < 1000:
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return f"{nbytes:.1f} TB"


def format_report(reports: list[CacheFolderReport], *, with_files: bool) -> list[str]:
    """Return the lines ``parallel-audio info`` prints about a cache."""
    if not reports:
        return ["  no cache folder yet"]
    lines = []
    for report in reports:
        rate = report.fields.get("sample_rate_hz", "?")
        dtype = report.fields.get("dtype", "?")
        state = "complete" if report.complete else "interrupted (resumes at the next build)"
        lines.append(
            f"  {os.path.basename(report.folder)}: {report.kind} at {rate} Hz ({dtype}), "
            f"{report.entries} files ({report.unreadable} unreadable), "
            f"{format_size(report.chunk_bytes)} on disk, {state}"
        )
        garbage = report.chunk_bytes - report.live_bytes
        if garbage > 0.1 * max(report.chunk_bytes, 1):
            lines.append(
                f"    {format_size(garbage)} of it belong to files decoded again since; delete "
                "the folder to reclaim it"
            )
        if with_files:
            total = len(report.hits) + len(report.stale) + len(report.missing)
            lines.append(
                f"    this dataset: {len(report.hits)} of {total} files served from the cache, "
                f"{len(report.stale)} stale (changed since cached), {len(report.missing)} not "
                "cached"
            )
            for relative in report.stale[:10]:
                lines.append(f"      stale: {relative}")
            if len(report.stale) > 10:
                lines.append(f"      and {len(report.stale) - 10} more stale files")
    return lines

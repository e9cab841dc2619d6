"""The dataset index of ``flow_from_annotations``: fixed windows over long recordings.

Every window is an index entry whose region is its span of the file, so plans, per-sample
randomness, workers and errors are those of every other source. Everything that can be wrong
with the annotations or the settings is raised here, before any audio is decoded; the files
themselves are only opened for their length (a header read).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np
import soundfile

from parallel_audio.annotations import (
    EventTable,
    check_labels,
    clip_to_durations,
    read_events,
    read_timeseries,
)
from parallel_audio.cache.store import EXACT_SEEK_CONTAINERS
from parallel_audio.dataset_index import DatasetIndex
from parallel_audio.errors import DatasetError, SettingsError, SkippedFilesWarning, printable_path
from parallel_audio.listing import list_audio_files
from parallel_audio.splits import SplitSpec
from parallel_audio.window_pipeline import WindowPlan
from parallel_audio.windows import (
    FRAME_RULES,
    LABEL_MODES,
    LAST_WINDOW_MODES,
    FrameGrid,
    WindowLabels,
    merge_events,
    window_starts,
)

__all__ = ["DEFAULT_BACKGROUND_CLASS", "Window", "WindowIndex", "build_window_index"]

#: The background class ``label_mode="majority"`` adds when ``background_class`` is None.
DEFAULT_BACKGROUND_CLASS = "_background_"
ANNOTATION_FORMATS = ("events", "timeseries")


class Window(NamedTuple):
    """One window of the index: which sample it is, and where it lies in its file.

    ``pandas.DataFrame(iterator.windows)`` makes a table of them.
    """

    sample_id: int
    file: str
    start: float
    end: float


@dataclass(frozen=True)
class WindowIndex:
    """What :func:`build_window_index` returns: the index, the workers' plan, the windows.

    ``sliceable_files`` are the files whose windows a disk cache of decoded audio can cut
    from the cached whole file bit for bit (at the frontend's rate, in a format whose seek
    is exact): the only files worth caching, as every other window is read from its file.
    """

    index: DatasetIndex
    plan: WindowPlan
    windows: list[Window]
    sliceable_files: list[str]


def _check_settings(
    *,
    label_mode: str,
    frame_rule: str,
    last_window: str,
    min_overlap: Any,
    hop_seconds: Any,
    jitter_seconds: Any,
    window_seconds: float,
    frontend_enabled: bool,
    annotations_format: str,
    labelled: bool,
) -> tuple[float, float]:
    for name, value, allowed in (
        ("label_mode", label_mode, LABEL_MODES),
        ("frame_rule", frame_rule, FRAME_RULES),
        ("last_window", last_window, LAST_WINDOW_MODES),
        ("annotations_format", annotations_format, ANNOTATION_FORMATS),
    ):
        if value not in allowed:
            raise SettingsError(
                f"{name} must be one of {', '.join(repr(a) for a in allowed)}, got {value!r}"
            )
    numbers = {"min_overlap": min_overlap, "jitter_seconds": jitter_seconds}
    if hop_seconds is not None:
        numbers["hop_seconds"] = hop_seconds
    for name, value in numbers.items():
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise TypeError(f"{name} must be a number, got {type(value).__name__}")
        if not math.isfinite(value):
            raise SettingsError(f"{name} must be finite, got {value}")
    if not 0.0 <= min_overlap <= 1.0:
        raise SettingsError(f"min_overlap must lie in [0, 1], got {min_overlap}")
    hop = window_seconds if hop_seconds is None else float(hop_seconds)
    if hop <= 0:
        raise SettingsError(f"hop_seconds must be > 0, got {hop_seconds}")
    if jitter_seconds < 0:
        raise SettingsError(f"jitter_seconds must be >= 0, got {jitter_seconds}")
    if jitter_seconds and jitter_seconds >= hop:
        raise SettingsError(
            f"jitter_seconds ({jitter_seconds}) must be smaller than the hop ({hop} s): a "
            "window could otherwise move onto its neighbour"
        )
    if labelled and label_mode == "frames" and not frontend_enabled:
        raise SettingsError(
            "label_mode='frames' labels the frontend's frames, but frontend_enabled=False: "
            "turn the frontend on or use another label_mode"
        )
    return hop, float(jitter_seconds)


def _file_header(path: str) -> tuple[int, int, str]:
    """Frames, rate and libsndfile's major format of a file, from its header (no decoding)."""
    info = soundfile.info(os.fsencode(path))
    return int(info.frames), int(info.samplerate), str(info.format)


def build_window_index(
    annotations: Any,
    directory: str,
    *,
    sample_rate: int,
    window_length: int,
    grid: FrameGrid | None,
    classes: Sequence[str] | None = None,
    files: Any = None,
    hop_seconds: float | None = None,
    label_mode: str = "majority",
    min_overlap: float = 0.5,
    background_class: str | None = None,
    frame_rule: str = "center",
    last_window: str = "pad",
    jitter_seconds: float = 0.0,
    split: SplitSpec | None = None,
    group_col: str | None = None,
    on_error: str = "raise",
    annotations_format: str = "events",
    sparse: bool = False,
) -> WindowIndex:
    """Cut the recordings into windows and prepare their labels.

    Parameters are those of ``ParallelAudioDataGenerator.flow_from_annotations``, plus the
    frontend's ``sample_rate``, ``window_length`` (samples) and frame ``grid`` (None with
    the frontend off), ``split`` (the subset and the validation, test and fold splits that
    define it; None: every window) and ``sparse`` (majority labels as class ids).

    The split deals groups, never windows: every window of a recording (or of one
    ``group_col`` value) is on the side of its group. The balanced and stratified fold
    strategies weigh a group by its number of windows, and the stratified one counts each
    window in its class under ``label_mode="majority"`` (the label of the window as it lies
    in the file); in the other label modes and without labels every window counts in one
    class, so "stratified" deals as "balanced" does.

    Returns
    -------
    WindowIndex
    """
    labelled = annotations is not None
    window_seconds = window_length / sample_rate
    hop, jitter = _check_settings(
        label_mode=label_mode,
        frame_rule=frame_rule,
        last_window=last_window,
        min_overlap=min_overlap,
        hop_seconds=hop_seconds,
        jitter_seconds=jitter_seconds,
        window_seconds=window_seconds,
        frontend_enabled=grid is not None,
        annotations_format=annotations_format,
        labelled=labelled,
    )
    split = SplitSpec() if split is None else split
    if classes is not None and (
        isinstance(classes, str) or not all(isinstance(c, str) for c in classes)
    ):
        raise TypeError(f"classes must be a list of class names (str), got {classes!r}")
    if background_class is not None and not isinstance(background_class, str):
        raise TypeError(f"background_class must be a class name (str), got {background_class!r}")
    if on_error not in ("raise", "skip"):
        raise SettingsError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    directory = os.fspath(directory)

    table: EventTable | None = None
    all_labels: list[str] = []
    if labelled and annotations_format == "events":
        table = read_events(annotations, group_col=group_col)
        # The default classes are every label, also of events in files left out below.
        all_labels = sorted(set(table.labels))
    elif group_col is not None and annotations_format == "timeseries":
        raise SettingsError("group_col needs an event table; time-series labels have no columns")

    # Which files to window.
    if files is None:
        if labelled and annotations_format == "timeseries":
            folder = os.fspath(annotations)
            names = [
                name
                for name in list_audio_files(directory)
                if os.path.isfile(os.path.join(folder, os.path.splitext(name)[0] + ".csv"))
            ]
        elif table is None:
            raise SettingsError(
                "files=None windows the files the annotations name; with annotations=None "
                "pass files='all' or a list of files"
            )
        else:
            names = list(table.listed_files)
    elif isinstance(files, str) and files == "all":
        names = list_audio_files(directory)
        if table is not None:  # an annotated file that is not there is an error below
            names = sorted(set(names) | set(table.listed_files))
    elif isinstance(files, (str, bytes)) or not isinstance(files, Sequence):
        raise TypeError(f"files must be None, 'all' or a list of file names, got {files!r}")
    else:
        names = sorted({os.fspath(name).replace("\\", "/") for name in files})
        if table is not None:  # the events of files not listed are not used
            wanted = set(names)
            table = table.select(np.array([f in wanted for f in table.filenames], bool))

    # Each file's length, from its header.
    durations: dict[str, float] = {}
    sliceable: set[str] = set()
    skipped: list[tuple[str, str]] = []
    for name in names:
        path = os.path.join(directory, name)
        try:
            frames, rate, container = _file_header(path)
            if frames <= 0:
                raise RuntimeError("it holds no audio frames")
        except (RuntimeError, OSError, soundfile.LibsndfileError) as error:
            reason = str(error).strip() or type(error).__name__
            if not os.path.lexists(path):
                rows = _rows_of(table, name)
                message = f"{printable_path(path)!r} does not exist{rows}"
            else:
                message = f"{printable_path(path)!r} cannot be read as audio ({reason})"
            if on_error == "raise":
                raise DatasetError(message) from None
            skipped.append((name, message))
            continue
        durations[name] = frames / rate
        if rate == sample_rate and container in EXACT_SEEK_CONTAINERS:
            sliceable.add(name)
    if skipped:
        warnings.warn(
            SkippedFilesWarning(
                f"on_error='skip' left out {len(skipped)} files: "
                + "; ".join(m for _, m in skipped[:5])
                + (f"; and {len(skipped) - 5} more" if len(skipped) > 5 else "")
            ),
            stacklevel=3,
        )
    names = [name for name in names if name in durations]

    if labelled and annotations_format == "timeseries":
        table = _read_timeseries_folder(os.fspath(annotations), names, durations)
        all_labels = sorted(set(table.labels) | set(table.declared_labels))
    if table is not None:
        table = table.select(np.array([f in durations for f in table.filenames], bool))
        table = clip_to_durations(table, durations, stacklevel=4)

    # Classes and the label rule.
    labels: WindowLabels | None = None
    class_names: list[str] = []
    events: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    if table is not None:
        class_names = all_labels if classes is None else list(classes)
        if len(set(class_names)) != len(class_names):
            raise SettingsError(f"classes lists a class twice: {class_names}")
        if label_mode == "majority" and background_class is None:
            background_class = DEFAULT_BACKGROUND_CLASS
        if background_class is not None and background_class not in class_names:
            class_names.append(background_class)
        class_ids = check_labels(table, class_names)
        positions: dict[str, list[int]] = {}
        for i, name in enumerate(table.filenames):
            positions.setdefault(name, []).append(i)
        for name, mine in positions.items():
            events[name] = merge_events(class_ids[mine], table.onsets[mine], table.offsets[mine])
        labels = WindowLabels(
            num_classes=len(class_names),
            mode=label_mode,
            window_seconds=window_seconds,
            min_overlap=float(min_overlap),
            background_id=None if background_class is None else class_names.index(background_class),
            grid=grid,
            frame_rule=frame_rule,
        )
    elif classes is not None:
        class_names = list(classes)

    # The split keeps every window of a recording (or of a group) on one side.
    file_groups = table.file_groups if table is not None and table.file_groups else {}
    if group_col is not None:
        ungrouped = [name for name in durations if name not in file_groups]
        if ungrouped:
            raise DatasetError(
                f"group_col {group_col!r} gives no group for {len(ungrouped)} files: "
                f"{', '.join(repr(n) for n in ungrouped[:5])}"
            )
    groups = {name: file_groups.get(name, name) for name in durations}

    plan = WindowPlan(
        sample_rate=sample_rate,
        window_length=window_length,
        durations={name: durations[name] for name in names},
        events={name: events[name] for name in names if name in events},
        labels=labels,
        jitter=round(jitter * sample_rate),
        sparse=sparse,
    )
    hop_length = round(hop * sample_rate)
    if hop_length < 1:
        raise SettingsError(
            f"hop_seconds={hop_seconds} is less than one sample at {sample_rate} Hz"
        )
    filenames: list[str] = []
    starts: list[int] = []
    for name in names:
        for start in window_starts(plan.num_samples(name), window_length, hop_length, last_window):
            filenames.append(name)
            starts.append(start)
    class_ids_of_windows = np.full(len(filenames), -1, np.int32)
    if labels is not None and label_mode == "majority":
        # The label of the window as it lies in the file (no transform): for counts, sampling
        # and stratified folds.
        for i, (name, start) in enumerate(zip(filenames, starts, strict=True)):
            label, _ = plan.label(name, start, 1.0, 0.0)
            class_ids_of_windows[i] = int(label)
    window_groups = [groups[name] for name in filenames]
    if split.is_split:
        side = split.side_function(window_groups, class_ids_of_windows.tolist())
        keep = np.array([side(group) == split.subset for group in window_groups], bool)
        filenames = [name for name, kept in zip(filenames, keep, strict=True) if kept]
        starts = [start for start, kept in zip(starts, keep, strict=True) if kept]
        window_groups = [group for group, kept in zip(window_groups, keep, strict=True) if kept]
        class_ids_of_windows = class_ids_of_windows[keep]
        served = set(filenames)
        names = [name for name in names if name in served]
        # Workers get the lengths and events of this subset's files only.
        plan = replace(
            plan,
            durations={name: durations[name] for name in names},
            events={name: events[name] for name in names if name in events},
        )
    regions = [(start / sample_rate, (start + window_length) / sample_rate) for start in starts]
    index = DatasetIndex(
        directory,
        tuple(class_names),
        tuple(filenames),
        class_ids_of_windows,
        tuple(skipped),
        regions=np.array(regions, np.float64).reshape(-1, 2),
        groups=tuple(window_groups),
    )
    windows = [
        Window(i, name, float(start), float(end))
        for i, (name, (start, end)) in enumerate(zip(filenames, regions, strict=True))
    ]
    return WindowIndex(index, plan, windows, [name for name in names if name in sliceable])


def _rows_of(table: EventTable | None, name: str) -> str:
    if table is None:
        return ""
    rows = [row for f, row in zip(table.filenames, table.rows, strict=True) if f == name]
    if not rows:
        return f" (listed in {table.source})"
    return f" (its events are {', '.join(rows[:5])} of {table.source})"


def _read_timeseries_folder(
    folder: str, names: list[str], durations: dict[str, float]
) -> EventTable:
    """Read ``<folder>/<audio file without extension>.csv`` for every audio file that has one."""
    if not os.path.isdir(folder):
        raise DatasetError(
            f"annotations_format='timeseries' takes the folder of the per-file CSVs; "
            f"{printable_path(folder)!r} is not a folder"
        )
    parts: list[EventTable] = []
    for name in names:
        path = os.path.join(folder, os.path.splitext(name)[0] + ".csv")
        if os.path.isfile(path):
            parts.append(read_timeseries(path, name, durations[name]))
    if not parts:
        raise DatasetError(
            f"no time-series CSV in {printable_path(folder)!r} matches an audio file (for "
            f"{names[0]!r} it would be {os.path.splitext(names[0])[0] + '.csv'!r})"
            if names
            else f"no audio file to label in {printable_path(folder)!r}"
        )
    return EventTable(
        f"the time-series labels in {printable_path(folder)!r}",
        tuple(f for p in parts for f in p.filenames),
        np.concatenate([p.onsets for p in parts]),
        np.concatenate([p.offsets for p in parts]),
        tuple(label for p in parts for label in p.labels),
        tuple(f"{row} of {p.source}" for p in parts for row in p.rows),
        tuple(sorted(f for p in parts for f in p.listed_files)),
        None,
        tuple(sorted({label for p in parts for label in p.declared_labels})),
    )

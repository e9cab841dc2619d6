"""``parallel-audio info``: what a dataset holds, and what training on it would see.

Reads every audio file's header (not its samples): class counts, histograms of duration,
sample rate and channel count, the files that cannot be read and why, and the samples of each
class that ``flow_from_directory`` would serve, with ``_unknown_``, ``_silence_``, the
validation and test splits (or, with ``--num-folds``, the validation side of each fold), from
the same index the generator builds. With noise options, it also
decodes ``--snr-samples`` files to report the signal-to-noise ratios the noise produces.
"""

from __future__ import annotations

import argparse
import math
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from parallel_audio.cli.data_settings import (
    CommandLineError,
    DataSettings,
    build_generator,
)
from parallel_audio.cli.manifest_options import add_manifest_options, manifest_table
from parallel_audio.cli.options import (
    add_command_parser,
    add_generator_options,
    resolve_settings,
)
from parallel_audio.cli.snr import add_snr_option, report_settings_snr
from parallel_audio.errors import DatasetError, printable_path
from parallel_audio.listing import class_folders, list_dataset_files
from parallel_audio.splits import FOLD_STRATEGIES

#: Longest histogram bar, in characters.
BAR_WIDTH = 40
#: Unreadable files listed one by one; the rest are counted.
MAX_LISTED_ERRORS = 50


@dataclass
class FileInfo:
    """One audio file's header, or why it cannot be read."""

    path: str
    duration_s: float = math.nan
    sample_rate: int = 0
    channels: int = 0
    format: str = ""
    problem: str | None = None


@dataclass
class DatasetSurvey:
    """Every audio file of a dataset with its header, grouped by top-level folder."""

    directory: str
    files: list[FileInfo] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    unlistable: list[tuple[str, str]] = field(default_factory=list)

    @property
    def readable(self) -> list[FileInfo]:
        """Files whose header was read."""
        return [f for f in self.files if f.problem is None]

    @property
    def unreadable(self) -> list[FileInfo]:
        """Files that cannot be read, with their problem."""
        return [f for f in self.files if f.problem is not None]


def add_parser(subparsers: Any) -> None:
    """Add the ``info`` command."""
    parser = add_command_parser(
        subparsers,
        "info",
        usage_tail="(DATA_DIR | --manifest FILE) [--classes NAME ...] [--seed N]"
        " [--snr-samples N] [--config FILE] [generator options]",
        help="class counts, duration / rate / channel histograms, unreadable files, and "
        "what training would see",
        description="What a dataset holds, and what training on it would see: class counts; "
        "histograms of duration, sample rate and channels; the files that cannot be read, "
        "with the reason; and the samples per class flow_from_directory would serve, "
        "_unknown_, _silence_ and the validation split included. Reads file headers only. "
        "With --manifest, the same for the rows of a CSV, TSV or JSON-lines manifest, as "
        "flow_from_manifest reads it.",
    )
    parser.add_argument(
        "data_dir",
        metavar="DATA_DIR",
        nargs="?",
        help="dataset: one folder per class; with --manifest, the folder relative paths "
        "start from (default: the manifest's)",
    )
    add_manifest_options(parser)
    parser.add_argument(
        "--classes",
        nargs="+",
        metavar="NAME",
        help="classes as for flow_from_directory, e.g. yes no _unknown_ _silence_ "
        "(default: every class folder)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the _unknown_ draw (default: 0)"
    )
    parser.add_argument(
        "--cache-dir",
        metavar="DIR",
        help="also report this disk cache: its size, and which of the dataset's files it "
        "serves (hits), holds stale (changed since cached) or lacks",
    )
    parser.add_argument(
        "--num-folds",
        type=int,
        default=None,
        metavar="K",
        help="also count the validation side of each of K grouped folds, as flow_* with "
        "fold and num_folds lists them (with validation_split 0)",
    )
    parser.add_argument(
        "--fold-strategy",
        choices=FOLD_STRATEGIES,
        default="hash",
        help="how groups are dealt to the folds of --num-folds (hash)",
    )
    parser.add_argument("--fold-seed", type=int, default=None, help="another fold partition")
    add_snr_option(parser)
    add_generator_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``info``."""
    from parallel_audio.dataset_index import build_index

    settings = resolve_settings(args)
    generator = build_generator(settings)
    if args.manifest is not None:
        return run_manifest(args, settings, generator)
    directory = args.data_dir
    if directory is None:
        raise CommandLineError("info needs DATA_DIR (a folder per class) or --manifest FILE")
    if not os.path.isdir(directory):
        raise CommandLineError(f"dataset directory {directory!r} does not exist")
    survey = survey_dataset(directory)
    folders = class_folders(directory)
    classes = settings.classes or folders
    seed = settings.seed if settings.seed is not None else 0

    print(f"Dataset {printable_path(os.path.abspath(directory))}")
    _print_folders(survey, folders)
    in_classes = [f for f in survey.readable if _top_folder(f.path) in folders]
    _print_histograms(in_classes)
    _print_unreadable(survey)

    columns = split_columns(generator, args, "all files")
    counts: dict[str, dict[str, int] | None] = {}
    problems = []
    for name, split in columns.items():
        # The index's warnings (too few files for _unknown_, ...) belong in the report.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                index = build_index(
                    directory,
                    classes,
                    seed=seed,
                    unknown_class_percentage=generator.unknown_class_percentage,
                    silence_class_percentage=generator.silence_class_percentage,
                    **split,
                )
            except DatasetError as error:
                counts[name] = None
                problems.append(f"{name}: {error}")
            else:
                counts[name] = index.counts()
        problems.extend(f"{name}: {w.message}" for w in caught)
    _print_flow(classes, counts, describe_split(generator, args), generator, seed)
    for problem in problems:
        print(f"  ! {problem}")
    _print_length_notes(in_classes, generator.sample_length_ms)
    if args.cache_dir is not None:
        in_folders = [f.path for f in survey.files if _top_folder(f.path) in folders]
        _print_cache(args.cache_dir, directory, in_folders)
    _print_noise_snr(settings, directory, classes, seed, args.snr_samples)
    return 0


def _print_cache(cache_dir: str, directory: str, files: list[str]) -> None:
    """Print the disk cache's folders, their size, and which of ``files`` each serves."""
    from parallel_audio.cache.report import format_report, survey_cache

    print(f"\nDisk cache {printable_path(os.path.abspath(cache_dir))}")
    reports = survey_cache(cache_dir, directory=directory, files=files)
    print("\n".join(format_report(reports, with_files=True)))


def _print_noise_snr(
    settings: DataSettings, directory: str, classes: list[str], seed: int, num_samples: int
) -> None:
    """With noise configured, the signal-to-noise ratios it gives (decodes some files)."""
    try:
        report_settings_snr(settings, directory, classes, seed=seed, num_samples=num_samples)
    except DatasetError as error:  # the counts above already name the problem
        print(f"\nSignal-to-noise ratio not measured: {error}")


def survey_dataset(directory: str | os.PathLike) -> DatasetSurvey:
    """Read the header of every audio file under ``directory``.

    Parameters
    ----------
    directory : str or os.PathLike
        The dataset. Its files are those :func:`~parallel_audio.listing.list_dataset_files`
        lists, the dataset index's rules: hidden files are skipped, files without an audio
        extension are listed in ``ignored``, folders that cannot be listed in ``unlistable``.

    Returns
    -------
    DatasetSurvey
    """
    from tqdm import tqdm

    root = os.fspath(directory)
    survey = DatasetSurvey(root)
    paths = list_dataset_files(root, unlistable=survey.unlistable, others=survey.ignored)
    for path in tqdm(paths, desc="reading headers", unit="file", disable=None, leave=False):
        survey.files.append(read_header(root, path))
    return survey


def read_header(root: str, path: str) -> FileInfo:
    """Read one file's header (``path`` relative to ``root``, or absolute).

    Parameters
    ----------
    root : str
        The folder relative paths start from.
    path : str
        The file.

    Returns
    -------
    FileInfo
        Its duration, rate, channels and format, or the problem that keeps it from being read.
    """
    import soundfile

    from parallel_audio.audio_io import open_failure

    info = FileInfo(path)
    # As the generator opens files: bytes reach libsndfile as the file system spells
    # them (soundfile would encode a str as strict UTF-8, which names may not be).
    full_path = os.fsencode(os.path.join(root, path))
    try:
        header = soundfile.info(full_path)
    except Exception as error:  # libsndfile's reasons vary by format; all mean unreadable
        info.problem = open_failure(full_path, error).problem
    else:
        if header.frames <= 0:
            info.problem = "holds no audio samples"
        elif header.samplerate <= 0:
            info.problem = f"has an invalid sample rate {header.samplerate}"
        else:
            info.duration_s = header.frames / header.samplerate
            info.sample_rate = int(header.samplerate)
            info.channels = int(header.channels)
            info.format = f"{header.format} {header.subtype}"
    return info


def _top_folder(path: str) -> str:
    return path.split("/", 1)[0] if "/" in path else "."


def _print_folders(survey: DatasetSurvey, folders: list[str]) -> None:
    from parallel_audio.dataset_index import speaker_group

    by_folder: dict[str, list[FileInfo]] = {}
    for info in survey.files:
        by_folder.setdefault(_top_folder(info.path), []).append(info)
    speakers = {speaker_group(f.path) for f in survey.files if _top_folder(f.path) in folders}
    others = sorted(name for name in by_folder if name not in folders)

    print(
        f"  {len(folders)} class folders, {sum(len(by_folder.get(n, [])) for n in folders)} "
        f"audio files, {len(speakers)} speakers (file names <speaker>_nohash_<n>.<ext>; "
        "any other file is a speaker of its own)"
    )
    width = max([len(printable_path(n)) for n in folders + others] + [6])
    print(f"\n  {'folder':<{width}}  {'files':>7}  {'speakers':>8}  {'seconds':>9}  unreadable")
    for name in folders + others:
        infos = by_folder.get(name, [])
        seconds = sum(f.duration_s for f in infos if f.problem is None)
        unreadable = sum(f.problem is not None for f in infos)
        group_count = len({speaker_group(f.path) for f in infos})
        label = printable_path(name) if name != "." else "(top level)"
        note = "" if name in folders else "  (not a class)"
        print(
            f"  {label:<{width}}  {len(infos):>7}  {group_count:>8}  {seconds:>9.1f}  "
            f"{unreadable:>10}{note}"
        )
    empty = [name for name in folders if name not in by_folder]
    if empty:
        print(f"  class folders without audio files: {', '.join(map(printable_path, empty))}")
    if survey.ignored:
        shown = ", ".join(map(printable_path, survey.ignored[:5]))
        shown += " ..." if len(survey.ignored) > 5 else ""
        print(f"  {len(survey.ignored)} files without an audio extension are ignored: {shown}")
    for folder, reason in survey.unlistable:
        print(f"  ! folder {printable_path(folder)} {reason}")


def _bar_lines(labels: list[str], counts: list[int]) -> list[str]:
    top = max(counts) if counts else 0
    width = max(len(label) for label in labels) if labels else 0
    lines = []
    for label, count in zip(labels, counts, strict=True):
        bar = "#" * (round(BAR_WIDTH * count / top) if top else 0)
        if count and not bar:
            bar = "."
        lines.append(f"  {label:>{width}} | {bar:<{BAR_WIDTH}} {count}")
    return lines


def _print_histograms(readable: list[FileInfo], what: str = "files of the class folders") -> None:
    if not readable:
        print(f"\nNo readable audio in the {what}.")
        return
    durations = np.array([f.duration_s for f in readable])
    print(
        f"\nDuration (s) of the {len(readable)} readable {what}: "
        f"min {durations.min():.3f}, "
        f"median {np.median(durations):.3f}, max {durations.max():.3f}"
    )
    low, high = float(durations.min()), float(durations.max())
    if high - low < 1e-3:
        print("\n".join(_bar_lines([f"{low:.3f}"], [len(durations)])))
    else:
        counts, edges = np.histogram(durations, bins=min(10, max(1, len(set(durations)))))
        labels = [f"{a:.3f} - {b:.3f}" for a, b in zip(edges[:-1], edges[1:], strict=True)]
        print("\n".join(_bar_lines(labels, counts.tolist())))
    for title, values, unit in (
        ("Sample rate", [f.sample_rate for f in readable], " Hz"),
        ("Channels", [f.channels for f in readable], ""),
        ("Format", [f.format for f in readable], ""),
    ):
        tally = sorted(Counter(values).items())
        print(f"\n{title}")
        print("\n".join(_bar_lines([f"{v}{unit}" for v, _ in tally], [c for _, c in tally])))


def _print_unreadable(survey: DatasetSurvey) -> None:
    bad = survey.unreadable
    if not bad:
        print("\nEvery audio file can be read.")
        return
    print(f"\n{len(bad)} files cannot be read:")
    for info in bad[:MAX_LISTED_ERRORS]:
        print(f"  {printable_path(info.path)}: {info.problem}")
    if len(bad) > MAX_LISTED_ERRORS:
        print(f"  ... and {len(bad) - MAX_LISTED_ERRORS} more")
    print(
        "  Training stops with an error naming such a file; flow_from_directory("
        "on_error='skip') leaves them out instead."
    )


def split_columns(
    generator: Any, args: argparse.Namespace, everything: str
) -> dict[str, dict[str, Any]]:
    """Return the report's columns: each one's name and the split keywords that list it.

    Training and validation with a validation split; the validation side of each fold with
    ``--num-folds``; a test column with a test split; else one column of ``everything``.
    """
    common = {
        "validation_split": generator.validation_split,
        "test_split": generator.test_split,
    }
    columns: dict[str, dict[str, Any]] = {}
    if args.num_folds is not None:
        folds = {
            "num_folds": args.num_folds,
            "fold_strategy": args.fold_strategy,
            "fold_seed": args.fold_seed,
        }
        for k in range(max(args.num_folds, 1)):
            columns[f"fold {k}"] = {"subset": "validation", "fold": k, **folds, **common}
    elif generator.validation_split > 0 or generator.test_split > 0:
        columns["training"] = {"subset": "training", **common}
        if generator.validation_split > 0:
            columns["validation"] = {"subset": "validation", **common}
    if generator.test_split > 0:
        columns["test"] = {"subset": "test", **common}
    return columns or {everything: {"subset": None, **common}}


def describe_split(generator: Any, args: argparse.Namespace) -> str:
    """Describe the split the report's columns show, for its heading."""
    if args.num_folds is not None:
        seed = "" if args.fold_seed is None else f", fold_seed={args.fold_seed}"
        text = (
            f"num_folds={args.num_folds} ({args.fold_strategy}{seed}; each fold's column is its "
            "validation side, its training side the other folds)"
        )
        if generator.validation_split > 0:
            text += f", validation_split={generator.validation_split}"
    else:
        text = f"validation_split={generator.validation_split}"
    if generator.test_split > 0:
        text += f", test_split={generator.test_split}"
    return text


def _print_flow(
    classes: list[str],
    counts: dict[str, dict[str, int] | None],
    split: str,
    generator: Any,
    seed: int,
    method: str = "flow_from_directory",
) -> None:
    subsets = list(counts)
    print(
        f"\n{method}(classes={classes}, seed={seed}) with {split}, "
        f"unknown_class_percentage={generator.unknown_class_percentage}, "
        f"silence_class_percentage={generator.silence_class_percentage} serves:"
    )
    names = subsets
    width = max(len(printable_path(c)) for c in [*classes, "total"])
    print("  " + f"{'class':<{width}}  " + "  ".join(f"{n:>10}" for n in names))

    def cell(subset: str, name: str | None) -> str:
        tally = counts[subset]
        if tally is None:
            return f"{'-':>10}"
        return f"{sum(tally.values()) if name is None else tally.get(name, 0):>10}"

    for name in classes:
        row = "  ".join(cell(s, name) for s in subsets)
        note = ""
        if name == "_unknown_":
            note = "  (drawn from the class folders not listed)"
        elif name == "_silence_":
            note = "  (empty clips that receive noise)"
        print(f"  {printable_path(name):<{width}}  {row}{note}")
    totals = "  ".join(cell(s, None) for s in subsets)
    print(f"  {'total':<{width}}  {totals}")


def _print_length_notes(readable: list[FileInfo], sample_length_ms: int) -> None:
    durations = np.array([f.duration_s for f in readable])
    if durations.size == 0:
        return
    length = sample_length_ms / 1000
    longer = int(np.sum(durations > length + 1e-9))
    shorter = int(np.sum(durations < length - 1e-9))
    print(
        f"\nSamples are {sample_length_ms} ms long: {shorter} files are shorter (padded), "
        f"{longer} are longer (cropped after trimming silence)."
    )


def run_manifest(args: argparse.Namespace, settings: DataSettings, generator: Any) -> int:
    """Run ``info --manifest``: the manifest's rows, their audio, and what training sees."""
    from parallel_audio.table_index import build_table_index

    table = manifest_table(args)
    manifest = table.manifest
    seed = settings.seed if settings.seed is not None else 0
    print(
        f"Manifest {printable_path(os.path.abspath(manifest.path))}: {len(manifest.rows)} rows, "
        f"columns {', '.join(manifest.columns)}" + (" (NeMo's keys)" if manifest.nemo else "")
    )
    print(f"  relative paths start from {printable_path(table.root)}")
    headers = {path: read_header(table.root, path) for path in dict.fromkeys(table.paths)}
    # Each row's audio: its file, or the region of it the row names.
    rows = []
    for path, (start, end) in zip(table.paths, table.regions, strict=True):
        header = headers[path]
        row = FileInfo(path, header.duration_s, header.sample_rate, header.channels)
        row.format, row.problem = header.format, header.problem
        if header.problem is None and start is not None:
            stop = header.duration_s if end is None else min(end, header.duration_s)
            row.duration_s = max(stop - start, 0.0)
        rows.append(row)
    readable = [row for row in rows if row.problem is None]
    _print_histograms(readable, "rows of the manifest (their region, where they name one)")
    _print_unreadable(DatasetSurvey(table.root, files=list(headers.values())))

    columns = split_columns(generator, args, "all rows")
    counts: dict[str, dict[str, int] | None] = {}
    sizes: dict[str, int | None] = {}
    problems = []
    class_names: list[str] = list(settings.classes or [])
    for subset, split in columns.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                index = build_table_index(
                    manifest.rows,
                    table.columns,
                    directory=table.root,
                    classes=settings.classes,
                    class_mode=table.class_mode,
                    label_sep=args.label_sep,
                    seed=seed,
                    unknown_class_percentage=generator.unknown_class_percentage,
                    silence_class_percentage=generator.silence_class_percentage,
                    source=f"manifest {manifest.path!r}",
                    row_names=manifest.lines,
                    **split,
                )
            except DatasetError as error:
                counts[subset] = sizes[subset] = None
                problems.append(f"{subset}: {error}")
            else:
                counts[subset] = index.counts() if index.class_names else {}
                sizes[subset] = len(index)
                class_names = class_names or list(index.class_names)
        problems.extend(f"{subset}: {w.message}" for w in caught)
    split = describe_split(generator, args)
    if class_names:
        _print_flow(class_names, counts, split, generator, seed, method="flow_from_manifest")
    else:
        totals = ", ".join(
            f"{subset}: {'-' if sizes[subset] is None else sizes[subset]}" for subset in columns
        )
        print(f"\nflow_from_manifest serves unlabeled rows ({totals})")
    for problem in problems:
        print(f"  ! {problem}")
    _print_length_notes(readable, generator.sample_length_ms)
    return 0

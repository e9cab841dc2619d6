"""``parallel-audio augment``: offline augmentation, N augmented copies of every file.

SRC is a dataset (one folder per class, files at any depth below). The copies are the audio
the frontend would receive in training (trimmed, augmented, fitted to the sample length, at
the frontend's sample rate), computed by the generator's worker pool and written as 16-bit WAV
files into the same folder structure. Copy k of file i is drawn
from ``(seed, k, i)``, so a run is repeated exactly by its seed.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from pathlib import Path
from typing import Any

from parallel_audio.cli.common import build_audio_generator, write_wav
from parallel_audio.cli.data_settings import CommandLineError
from parallel_audio.cli.options import (
    add_command_parser,
    add_generator_options,
    resolve_settings,
)
from parallel_audio.listing import class_folders, is_class_folder_name, is_hidden


def add_parser(subparsers: Any) -> None:
    """Add the ``augment`` command."""
    parser = add_command_parser(
        subparsers,
        "augment",
        usage_tail="SRC DST --per-file N [--seed N] [--batch-size N] [--on-error {raise,skip}]"
        " [--config FILE] [generator options]",
        help="write N augmented copies of every file, mirroring the folders (offline augmentation)",
        description="Offline augmentation: N augmented copies of every audio file of the class "
        "folders of SRC (at any depth), written to DST in the same folder structure as "
        "<name>_aug<k>.wav (16-bit, at the frontend's sample rate, one sample length long), "
        "computed by the worker pool. Folders whose names start with '_' (such as "
        "_background_noise_, which --bg-noise-dir may name) are not copied.",
    )
    parser.add_argument("src", metavar="SRC", help="dataset: one folder of audio files per class")
    parser.add_argument("dst", metavar="DST", help="output folder (created)")
    parser.add_argument(
        "--per-file", type=int, required=True, metavar="N", help="augmented copies of each file"
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seeds every copy's augmentation (default: 0)"
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="files per task sent to a worker (default: 32)",
    )
    parser.add_argument(
        "--on-error",
        choices=("raise", "skip"),
        default="raise",
        help="a file that cannot be read stops the run (raise, default) or is left out and "
        "listed (skip)",
    )
    add_generator_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``augment``."""
    from tqdm import tqdm

    if args.per_file < 1:
        raise CommandLineError(f"--per-file must be at least 1, got {args.per_file}")
    source, target = Path(args.src).resolve(), Path(args.dst).resolve()
    if not source.is_dir():
        raise CommandLineError(f"source folder {args.src!r} does not exist")
    if target == source or source in target.parents:
        raise CommandLineError(
            f"DST {args.dst!r} lies inside SRC {args.src!r}: a later run would augment the "
            "copies again; choose a folder outside SRC"
        )
    settings = resolve_settings(args)
    generator = build_audio_generator(settings)
    seed = settings.seed if settings.seed is not None else 0
    batch_size = settings.batch_size or 32
    if batch_size < 1:
        raise CommandLineError(f"--batch-size must be at least 1, got {batch_size}")

    classes = class_folders(source)
    if not classes:
        raise CommandLineError(
            f"{args.src!r} holds no class folder: augment works on a dataset, one folder of "
            "audio files per class"
        )
    skipped = sorted(
        entry.name
        for entry in os.scandir(source)
        if entry.is_dir() and not is_class_folder_name(entry.name) and not is_hidden(entry.name)
    )
    rate = generator.sample_rate_hz
    written = 0
    # Without shuffling, batch b holds files b * batch_size onwards in index order, and epoch
    # k draws copy k + 1: every file's copies depend on (seed, k, its position) alone.
    with generator.flow_from_directory(
        source,
        classes=classes,
        class_mode=None,
        batch_size=batch_size,
        shuffle=False,
        seed=seed,
        on_error=args.on_error,
    ) as iterator:
        files = iterator.filenames
        stems = copy_stems(files)
        with tqdm(total=len(files) * args.per_file, unit="file", desc="augmenting") as progress:
            for copy in range(args.per_file):
                for batch_index in range(len(iterator)):
                    audio = iterator.batch(batch_index, epoch=copy)
                    ids = iterator.batch_sample_ids(batch_index, epoch=copy)
                    for clip, sample_id in zip(audio, ids, strict=True):
                        write_wav(target / f"{stems[sample_id]}_aug{copy + 1}.wav", clip, rate)
                        written += 1
                    progress.update(len(ids))
        skipped_files = iterator.skipped_files
    print(
        f"wrote {written} files ({args.per_file} per file, {len(files)} files) to {args.dst}: "
        f"{generator.sample_length} samples at {rate} Hz each, seed {seed}"
    )
    if skipped:
        print(f"not copied: the folders {', '.join(skipped)}")
    for path, reason in skipped_files:
        print(f"skipped {path}: {reason}")
    return 0


def copy_stems(relative_paths: list[str]) -> list[str]:
    """Return the name each file's copies start with: its path without the extension.

    Copy k of ``yes/a_nohash_0.flac`` is ``yes/a_nohash_0_aug<k>.wav``: the suffix goes after
    the whole name, so ``<speaker>_nohash_<n>`` names keep their speaker and the copies of one
    speaker stay on one side of a validation split. Files that differ only by extension
    (``a.wav`` and ``a.flac``) keep it, so that their copies do not overwrite each other.
    """
    stems = [path.rsplit(".", 1)[0] for path in relative_paths]
    repeated = {stem for stem, count in Counter(stems).items() if count > 1}
    return [
        f"{stem}_{path[len(stem) + 1 :]}" if stem in repeated else stem
        for path, stem in zip(relative_paths, stems, strict=True)
    ]

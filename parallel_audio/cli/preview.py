"""``parallel-audio preview``: see and hear the augmentation before training with it.

For each class one file is drawn (seeded); the PNG shows its spectrogram without random
transforms beside ``--n`` augmented versions, all on one color scale so that loudness and
noise show, and the audio of each version is written as a WAV file. When noise is
configured, the signal-to-noise ratios it produces over ``--snr-samples`` samples are
reported, with a warning when more than 10 % are below 0 dB (:mod:`parallel_audio.cli.snr`).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from parallel_audio.cli.common import build_audio_generator, write_wav
from parallel_audio.cli.data_settings import (
    CommandLineError,
    DataSettings,
    build_generator,
    check_classes,
)
from parallel_audio.cli.manifest_options import (
    ManifestTable,
    add_manifest_options,
    manifest_table,
)
from parallel_audio.cli.options import (
    add_command_parser,
    add_generator_options,
    resolve_settings,
)
from parallel_audio.cli.snr import add_snr_option, report_settings_snr
from parallel_audio.frontend_settings import AudioFeatureGeneratorSettings
from parallel_audio.random_streams import Stream, random_generator

#: Size of one spectrogram panel in the PNG, in pixels.
PANEL_WIDTH_PX = 160
PANEL_HEIGHT_PX = 120
#: Room for the class names at the left and the titles at the top, in pixels.
LEFT_MARGIN_PX = 90
TOP_MARGIN_PX = 50
DPI = 100


@dataclass
class PreviewResult:
    """What a preview produced.

    Attributes
    ----------
    png_path : pathlib.Path
        The spectrogram grid.
    wav_paths : dict of str to list of pathlib.Path
        Per class: the original's WAV, then one per augmented version (empty without WAVs).
    files : dict of str to (str or None)
        Per class, the file shown (None for ``_silence_``).
    """

    png_path: Path
    wav_paths: dict[str, list[Path]]
    files: dict[str, str | None]


def add_parser(subparsers: Any) -> None:
    """Add the ``preview`` command."""
    parser = add_command_parser(
        subparsers,
        "preview",
        usage_tail="(DATA_DIR --classes NAME ... | --manifest FILE) [--n N] [--out DIR] [--seed N]"
        " [--snr-samples N] [--config FILE] [generator options]",
        help="PNG grid of original and augmented spectrograms, and the augmented audio as WAV",
        description="See and hear the augmentation before training with it. For each class, "
        "one file (seeded) without random transforms beside --n augmented versions: their "
        "spectrograms in one PNG on one color scale, and their audio as WAV files at the "
        "frontend's sample rate. With noise configured, the distribution of the "
        "signal-to-noise ratios it produces, with a warning when more than 10 %% of the "
        "samples are below 0 dB. With --manifest, the rows of a CSV, TSV or JSON-lines "
        "manifest as flow_from_manifest reads them (one row per label; the classes default "
        "to every label).",
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
        help="classes to show, as for flow_from_directory; _unknown_ and _silence_ allowed",
    )
    parser.add_argument(
        "--n", type=int, default=8, help="augmented versions per class (default: 8)"
    )
    parser.add_argument(
        "--out",
        default="preview",
        help="output folder: preview.png and <class>/*.wav (default: ./preview)",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="picks the files and their augmentation (default: 0)"
    )
    add_snr_option(parser)
    add_generator_options(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``preview``."""
    if args.n < 1:
        raise CommandLineError(f"--n must be at least 1, got {args.n}")
    settings = resolve_settings(args)
    seed = settings.seed if settings.seed is not None else 0
    out = Path(args.out)
    source: str | ManifestTable
    if args.manifest is not None:
        source = manifest_table(args)
        classes = list(settings.classes) if settings.classes else None
    else:
        if args.data_dir is None:
            raise CommandLineError("preview needs DATA_DIR (a folder per class) or --manifest FILE")
        source = args.data_dir
        classes = check_classes(settings.classes, "preview")
    result = render_preview(
        settings,
        source,
        classes,
        num_augmented=args.n,
        png_path=out / "preview.png",
        wav_dir=out,
        seed=seed,
    )
    print(f"spectrograms: {result.png_path}")
    for name, file in result.files.items():
        shown = file if file is not None else "(silence)"
        wavs = result.wav_paths[name]
        print(f"  {name}: {shown} -> {len(wavs)} WAV files in {wavs[0].parent}")
    if args.manifest is None:
        report_settings_snr(
            settings, args.data_dir, classes, seed=seed, num_samples=args.snr_samples
        )
    return 0


def render_preview(
    settings: DataSettings,
    directory: str | os.PathLike | ManifestTable,
    classes: list[str] | None,
    *,
    num_augmented: int,
    png_path: str | os.PathLike,
    wav_dir: str | os.PathLike | None,
    seed: int,
    base_frontend: AudioFeatureGeneratorSettings | None = None,
) -> PreviewResult:
    """Draw one file per class, augment it, and write the PNG grid and the WAV files.

    Parameters
    ----------
    settings : DataSettings
        The generator's settings.
    directory : str or os.PathLike or ManifestTable
        The dataset: a folder per class, or a manifest's rows.
    classes : list of str, optional
        Rows of the grid, as ``flow_from_directory`` takes them; for a manifest, None is
        every label (or one row, "all", for a manifest without labels).
    num_augmented : int
        Augmented versions per class (columns after the original).
    png_path : str or os.PathLike
        Where the PNG goes. It is ``LEFT_MARGIN_PX + PANEL_WIDTH_PX * (num_augmented + 1)``
        pixels wide and ``TOP_MARGIN_PX + PANEL_HEIGHT_PX * len(classes)`` high.
    wav_dir : str or os.PathLike, optional
        Where ``<class>/original.wav`` and ``<class>/augmented_<k>.wav`` go; None writes none.
    seed : int
        Seeds the choice of files and the augmentation (version k is epoch k).
    base_frontend : AudioFeatureGeneratorSettings, optional
        Frontend settings to start from.

    Returns
    -------
    PreviewResult
    """
    # The spectrograms need the frontend, whatever the settings say about the batches.
    generator = build_generator(settings, base_frontend=base_frontend, frontend_enabled=True)
    # A handful of samples: computed in this process, where starting workers would cost more.
    augmenting = build_audio_generator(settings, base_frontend=base_frontend, cores=0)
    plain = build_audio_generator(
        settings, base_frontend=base_frontend, cores=0, disable_random_transforms=True
    )
    # With shuffle off and batches of one, batch i of epoch k is sample i as training with
    # this seed would see it in epoch k.
    flow = {"classes": classes, "batch_size": 1, "shuffle": False, "seed": seed}
    with _open_flow(augmenting, directory, flow) as iterator:
        rng = random_generator(Stream.PREVIEW_CHOICE, seed)
        chosen: dict[str, int] = {}
        groups = {
            name: np.flatnonzero(iterator.classes == class_id)
            for name, class_id in iterator.class_indices.items()
        } or {"all": np.arange(iterator.samples)}
        for name, candidates in groups.items():
            if candidates.size == 0:
                raise CommandLineError(f"class {name!r} has no sample to show with these settings")
            chosen[name] = int(rng.choice(candidates))
        versions = [
            [_first_x(iterator.batch(i, epoch=k)) for k in range(num_augmented)]
            for i in chosen.values()
        ]
        files = {name: iterator.filenames[i] for name, i in chosen.items()}
    with _open_flow(plain, directory, flow) as iterator:
        originals = [_first_x(iterator.batch(i)) for i in chosen.values()]
    # (classes, 1 + versions, samples)
    audio = np.stack([np.stack([o, *v]) for o, v in zip(originals, versions, strict=True)])

    spectrograms = np.stack(
        [
            np.stack([generator.apply_frontend(clip, dtype=np.float32) for clip in row])
            for row in audio
        ]
    )
    png_path = Path(png_path)
    title = directory.manifest.path if isinstance(directory, ManifestTable) else directory
    _plot_grid(spectrograms, list(chosen), png_path, title=os.fspath(title))

    wav_paths: dict[str, list[Path]] = {name: [] for name in chosen}
    if wav_dir is not None:
        rate = generator.sample_rate_hz
        for row, name in enumerate(chosen):
            folder = Path(wav_dir) / name
            for column in range(audio.shape[1]):
                stem = "original" if column == 0 else f"augmented_{column}"
                path = folder / f"{stem}.wav"
                write_wav(path, audio[row, column], rate)
                wav_paths[name].append(path)
    return PreviewResult(png_path, wav_paths, files)


def _open_flow(generator: Any, source: str | os.PathLike | ManifestTable, flow: dict) -> Any:
    """Open the iterator of a folder per class, or of a manifest's rows."""
    if not isinstance(source, ManifestTable):
        return generator.flow_from_directory(source, class_mode=None, **flow)
    labeled = source.class_mode is not None
    return generator.flow_from_manifest(
        source.manifest.path,
        directory=source.root,
        sep=source.sep,
        class_mode="sparse" if labeled else None,
        **source.flow_options(),
        **flow,
    )


def _first_x(batch: Any) -> np.ndarray:
    """Return the first sample of a batch, with or without labels."""
    x = batch[0] if isinstance(batch, tuple) else batch
    return x[0]


def _plot_grid(spectrograms: np.ndarray, row_names: list[str], path: Path, title: str) -> None:
    """One row per class, one column per version; every panel on the same color scale."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows, columns = spectrograms.shape[:2]
    width = LEFT_MARGIN_PX + PANEL_WIDTH_PX * columns
    height = TOP_MARGIN_PX + PANEL_HEIGHT_PX * rows
    figure = Figure(figsize=(width / DPI, height / DPI), dpi=DPI)
    FigureCanvasAgg(figure)
    low, high = float(spectrograms.min()), float(spectrograms.max())
    # A small gap between panels, in pixels, so that neighbouring spectrograms stay apart.
    gap = 4
    for row in range(rows):
        for column in range(columns):
            left = (LEFT_MARGIN_PX + column * PANEL_WIDTH_PX + gap / 2) / width
            bottom = 1 - (TOP_MARGIN_PX + (row + 1) * PANEL_HEIGHT_PX - gap / 2) / height
            axes = figure.add_axes(
                (left, bottom, (PANEL_WIDTH_PX - gap) / width, (PANEL_HEIGHT_PX - gap) / height)
            )
            axes.imshow(
                spectrograms[row, column].T,
                origin="lower",
                aspect="auto",
                cmap="magma",
                vmin=low,
                vmax=high,
                interpolation="nearest",
            )
            axes.set_xticks([])
            axes.set_yticks([])
            if row == 0:
                axes.set_title("original" if column == 0 else f"augmented {column}", fontsize=8)
            if column == 0:
                axes.set_ylabel(row_names[row], fontsize=9)
    figure.suptitle(
        f"{title}: frontend output (time →, channels ↑), one color scale", fontsize=9, y=0.995
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=DPI)

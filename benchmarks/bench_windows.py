"""Measure windows cut from long recordings against 1 s files, side by side in one run.

Two tables:

- reading one 1 s window (``read_audio`` with a region, at a random position) from a
  10-minute recording in WAV, FLAC and MP3, against decoding the whole recording: what a
  window costs shows whether only its span is read;
- samples per second of ``flow_from_annotations`` over the same recordings (1 s windows,
  hop 1 s, shuffled, so every window seeks), against ``flow_from_directory`` over 1 s WAV
  clips, in the caller's thread (``cores=0``), without and with augmentation; and the WAV and
  FLAC windows again with the disk cache (``cache_dir``, built before the timing), which
  slices them out of the cached whole recording.

Every configuration runs ``--rounds`` times, interleaved, and the tables give medians.

Usage: python benchmarks/bench_windows.py [--minutes N] [--batches N] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from results import write_section  # noqa: E402

from parallel_audio import ParallelAudioDataGenerator  # noqa: E402
from parallel_audio.audio_io import Region, read_audio  # noqa: E402

RATE = 16000
#: The formats whose windows the disk cache slices from the cached whole file.
CACHED = ("WAV", "FLAC")
FORMATS = {"WAV": ("wav", "PCM_16"), "FLAC": ("flac", "PCM_16"), "MP3": ("mp3", "MPEG_LAYER_III")}
AUGMENTED = {
    "speed_range": (0.9, 1.1),
    "pitch_range": (-2, 2),
    "loudness_range": (0.5, 1.5),
    "offset_range": (0.0, 1.0),
    "noise_colors": "all",
    "noise_color_range": (0.05, 0.2),
}


def recording(rng: np.random.Generator, seconds: int) -> np.ndarray:
    """Noise with a tone burst every few seconds (MP3 encodes it like real audio)."""
    t = np.arange(seconds * RATE) / RATE
    bursts = (np.sin(2 * np.pi * t / 3.0) > 0.7) * np.sin(2 * np.pi * 1000 * t)
    return (0.3 * bursts + 0.05 * rng.standard_normal(t.size)).astype(np.float32)


def write_data(root: Path, minutes: int, clips: int) -> list[tuple[str, float, float, str]]:
    rng = np.random.default_rng(0)
    audio = recording(rng, minutes * 60)
    for name, (extension, subtype) in FORMATS.items():
        folder = root / name
        folder.mkdir()
        soundfile.write(folder / f"long.{extension}", audio, RATE, subtype=subtype)
    clip_folder = root / "clips" / "tone"
    clip_folder.mkdir(parents=True)
    for i in range(clips):
        soundfile.write(clip_folder / f"c{i:04d}.wav", audio[i * RATE : (i + 1) * RATE], RATE)
    return [("long", float(s), float(s) + 0.5, "tone") for s in range(0, minutes * 60, 3)]


def time_reads(path: Path, minutes: int, rng: np.random.Generator, reads: int) -> float:
    """Milliseconds per 1 s window read at a random position."""
    starts = rng.uniform(0, minutes * 60 - 1, reads)
    begin = time.perf_counter()
    for start in starts:
        read_audio(os.fspath(path), RATE, region=Region(float(start), float(start) + 1.0))
    return 1000 * (time.perf_counter() - begin) / reads


def time_whole(path: Path) -> float:
    begin = time.perf_counter()
    read_audio(os.fspath(path), RATE)
    return 1000 * (time.perf_counter() - begin)


def samples_per_second(iterator, batches: int) -> float:
    iterator[0]  # warm-up: first decode, native frontend
    begin = time.perf_counter()
    count = 0
    for i in range(1, batches + 1):
        batch = iterator.batch(i % len(iterator), epoch=1)
        count += len(batch[0])
    return count / (time.perf_counter() - begin)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=int, default=10)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reads", type=int, default=50)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    rng = np.random.default_rng(1)
    reads: dict[str, list[float]] = {name: [] for name in FORMATS}
    whole: dict[str, list[float]] = {name: [] for name in FORMATS}
    rates: dict[tuple[str, bool], list[float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        rows = write_data(root, args.minutes, clips=32 * (args.batches + 1))
        for _ in range(args.rounds):
            for name, (extension, _) in FORMATS.items():
                path = root / name / f"long.{extension}"
                reads[name].append(time_reads(path, args.minutes, rng, args.reads))
                whole[name].append(time_whole(path))
            for augmented in (False, True):
                settings = AUGMENTED if augmented else {}
                generator = ParallelAudioDataGenerator(cores=0, trim_threshold_db=None, **settings)
                for name, (extension, _) in FORMATS.items():
                    events = [(f"long.{extension}", a, b, c) for _, a, b, c in rows]
                    variants = [(name, {})]
                    if name in CACHED:  # MP3 windows are read from the file, cache or not
                        variants.append((f"{name} cached", {"cache_dir": root / "cache"}))
                    for source, cache in variants:
                        iterator = generator.flow_from_annotations(
                            events,
                            root / name,
                            label_mode="frames",
                            batch_size=32,
                            seed=3,
                            **cache,
                        )
                        rate = samples_per_second(iterator, args.batches)
                        rates.setdefault((source, augmented), []).append(rate)
                iterator = generator.flow_from_directory(
                    root / "clips", classes=["tone"], batch_size=32, seed=3
                )
                rate = samples_per_second(iterator, args.batches)
                rates.setdefault(("1 s clips", augmented), []).append(rate)
    load_after = os.getloadavg()[0]
    lines = [
        "## Windows of long recordings",
        "",
        f"`python benchmarks/bench_windows.py --minutes {args.minutes} --batches {args.batches} "
        f"--rounds {args.rounds}` on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average {load_before:.1f} when it started and "
        f"{load_after:.1f} when it ended. Medians of {args.rounds} interleaved rounds.",
        "",
        f"One 1 s window read at a random position of a {args.minutes}-minute mono 16 kHz "
        f"recording (`read_audio` with a region, {args.reads} reads per round), against "
        "decoding the whole recording:",
        "",
        "| format | ms per 1 s window | ms for the whole file | whole / window |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in FORMATS:
        window, full = statistics.median(reads[name]), statistics.median(whole[name])
        lines.append(f"| {name} | {window:.2f} | {full:.0f} | {full / window:.0f}x |")
    lines += [
        "",
        "An MP3 seek costs more than the other formats', and libmpg123 prints "
        "`part2_3_length ... too large` on stderr when a seek lands where a frame's bit "
        "reservoir starts before it; the window's samples still equal the same span of the "
        "whole file decoded within 1e-6 (`tests/test_flow_from_annotations.py::"
        "test_windows_of_flac_and_mp3_equal_the_decoded_span`), though not bit for bit: a few "
        "differ by a float32 rounding, so the disk cache does not slice MP3 windows.",
    ]
    lines += [
        "",
        "Samples per second in the caller's thread (`cores=0`, batches of 32, "
        f"{args.batches} timed batches after one untimed): `flow_from_annotations` "
        '(`label_mode="frames"`, 1 s windows, hop 1 s, shuffled) over those recordings '
        "against `flow_from_directory` over 1 s WAV clips of the same audio. Augmented: "
        'speed, pitch, loudness, offset and colored noise. "cached": with `cache_dir` (the '
        "cache built before the timing), each window sliced from the cached whole recording, "
        "the batches bit for bit as uncached.",
        "",
        "| source | plain samples/s | vs 1 s clips | augmented samples/s | vs 1 s clips |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    base = {a: statistics.median(rates[("1 s clips", a)]) for a in (False, True)}
    sources = [s for name in FORMATS for s in (name, f"{name} cached") if (s, False) in rates]
    for name in [*sources, "1 s clips"]:
        plain = statistics.median(rates[(name, False)])
        augmented = statistics.median(rates[(name, True)])
        label = name if name == "1 s clips" else f"windows of a {args.minutes}-min {name}"
        lines.append(
            f"| {label} | {plain:.0f} | {plain / base[False]:.2f}x | {augmented:.0f} | "
            f"{augmented / base[True]:.2f}x |"
        )
    body = "\n".join(lines)
    print(body)
    write_section("windows", body)


if __name__ == "__main__":
    main()

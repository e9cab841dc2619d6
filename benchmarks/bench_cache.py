"""Measure the disk cache: samples per second with and without ``cache_dir``, side by side.

On synthesized 1 s speech-like clips in three encodings (48 kHz FLAC, 44.1 kHz MP3, 16 kHz
WAV) this measures, in one run:

- with every augmentation (offset, loudness, speed, pitch, VTLP, colored and background
  noise), samples per second uncached and with ``cache="audio"``: the cache removes the
  decoding and the resampling, the augmentation and the frontend remain;
- for validation without augmentation, samples per second uncached and with
  ``cache="features"``: a sample is then a row read from a memory-mapped file;
- the time to build each cache from nothing with 2 worker processes, and its size.

Batches are computed in the caller's thread (``cores=0``): the ratio is the pipeline's own,
not the share of two busy cores a worker pool gets on a loaded machine. Each configuration
runs ``--rounds`` times, the configurations interleaved, and the table gives medians. Every
round times one whole epoch after one untimed epoch (the page cache is warm on both sides).

Results go to benchmarks/RESULTS.md.

Usage: python benchmarks/bench_cache.py [--clips-per-class N] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import soundfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from parallel_audio import ParallelAudioDataGenerator  # noqa: E402
from parallel_audio.iterator import ParallelAudioIterator  # noqa: E402, F401 (Keras, untimed)

sys.path.insert(0, str(Path(__file__).parent))
from results import write_section  # noqa: E402

CLASSES = ["yes", "no"]
BATCH_SIZE = 32
ENCODINGS = {
    "48 kHz FLAC": ("flac", 48000),
    "44.1 kHz MP3": ("mp3", 44100),
    "16 kHz WAV": ("wav", 16000),
}
EVERY_AUGMENTATION = dict(
    offset_range=(0.0, 1.0),
    loudness_range=(0.5, 1.5),
    speed_range=(0.9, 1.1),
    pitch_range=(-2, 2),
    vtlp_range=(0.9, 1.1),
    noise_colors=("white", "pink", "brown"),
    noise_color_range=(0.0, 0.05),
    bg_noise_range=(0.0, 0.1),
    bg_noise_dir="_background_noise_",
)
UNAUGMENTED_VALIDATION = dict(validation_split=0.5, validation_augmentation_enabled=False)


def write_dataset(root: Path, extension: str, rate: int, clips_per_class: int) -> Path:
    """Speech-like harmonics under a syllable envelope, with breath noise, 1 s each."""
    rng = np.random.default_rng(0)
    t = np.arange(rate) / rate
    for k, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for n in range(clips_per_class):
            f0 = (110 + 30 * k) * rng.uniform(0.9, 1.1)
            voice = sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 12))
            envelope = np.clip(np.sin(2 * np.pi * rng.uniform(2, 4) * t), 0, None) ** 2
            x = 0.2 * envelope * voice + 0.005 * rng.standard_normal(rate)
            soundfile.write(root / name / f"spk{n % 8}_nohash_{n}.{extension}", x, rate)
    (root / "_background_noise_").mkdir()
    soundfile.write(
        root / "_background_noise_" / "noise.wav", 0.1 * rng.standard_normal(16000 * 5), 16000
    )
    return root


def samples_per_second(directory: Path, args: dict, subset: str | None, **flow) -> float:
    generator = ParallelAudioDataGenerator(cores=0, **args)
    iterator = generator.flow_from_directory(
        directory, CLASSES, batch_size=BATCH_SIZE, seed=1, subset=subset, **flow
    )
    for _ in iterator:  # untimed epoch: the files and the cache in the page cache
        pass
    started = time.perf_counter()
    samples = sum(len(x) for x, _ in iterator)
    elapsed = time.perf_counter() - started
    iterator.close()
    return samples / elapsed


def build_cache(directory: Path, cache_dir: Path, args: dict, subset: str | None) -> float:
    """Seconds to build a cache from nothing with 2 worker processes."""
    shutil.rmtree(cache_dir, ignore_errors=True)
    started = time.perf_counter()
    generator = ParallelAudioDataGenerator(cores=2, **args)
    iterator = generator.flow_from_directory(
        directory, CLASSES, batch_size=BATCH_SIZE, seed=1, subset=subset, cache_dir=cache_dir
    )
    elapsed = time.perf_counter() - started
    iterator.close()
    return elapsed


def folder_bytes(cache_dir: Path) -> int:
    return sum(p.stat().st_size for p in cache_dir.rglob("*.bin"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips-per-class", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    load_before = os.getloadavg()[0]
    cases = [
        ("every augmentation", EVERY_AUGMENTATION, None, "audio"),
        ("unaugmented validation", {**EVERY_AUGMENTATION, **UNAUGMENTED_VALIDATION},
         "validation", "features"),
    ]  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary)
        for label, (extension, rate) in ENCODINGS.items():
            data = write_dataset(root / extension, extension, rate, options.clips_per_class)
            for case, args, subset, kind in cases:
                cache_dir = root / f"cache-{extension}-{kind}"
                build_s = build_cache(data, cache_dir, args, subset)
                size = folder_bytes(cache_dir)
                uncached, cached = [], []
                for _ in range(options.rounds):
                    uncached.append(samples_per_second(data, args, subset))
                    cached.append(
                        samples_per_second(data, args, subset, cache_dir=cache_dir, cache=kind)
                    )
                files = len(list(data.glob("[yn]*/*")))
                n = files if subset is None else files // 2
                row = (label, case, kind, statistics.median(uncached), statistics.median(cached),
                       build_s, n, size)  # fmt: skip
                rows.append(row)
                print(
                    f"{label:14s} {case:24s} uncached {row[3]:8.0f}/s  {kind} cache "
                    f"{row[4]:8.0f}/s  x{row[4] / row[3]:.2f}  build {build_s:.2f} s",
                    flush=True,
                )
    load_after = os.getloadavg()[0]
    command = "python benchmarks/bench_cache.py" + (
        f" --clips-per-class {options.clips_per_class}" if options.clips_per_class != 96 else ""
    )
    intro = (
        f"`{command}` on {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average {load_before:.1f} when it started and "
        f"{load_after:.1f} when it ended (absolute rates fall with the load of other processes; "
        "each speed-up compares runs interleaved in the same minutes). "
        f"{options.clips_per_class} clips of 1 s per class, 2 classes; batches of {BATCH_SIZE} "
        "computed in the caller's thread (cores=0); each round times one epoch after an "
        f"untimed one; medians of {options.rounds} interleaved rounds. Every augmentation: "
        "offset, loudness, speed, pitch, VTLP, colored and background noise, trimming at "
        "20 dB. Unaugmented validation: the validation half with "
        "validation_augmentation_enabled=False. The cache is built beforehand (the build "
        "column: from nothing, 2 worker processes, including their start); its size is "
        "that of its chunk files."
    )
    lines = [
        "## Disk cache",
        "",
        *textwrap.wrap(intro, width=100, break_on_hyphens=False),
        "",
        "| source | batches | cache | uncached (samples/s) | cached (samples/s) | speed-up "
        "| build (s) | files | cache size (MB) |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, case, kind, uncached, cached, build_s, files, size in rows:
        lines.append(
            f"| {label} | {case} | {kind} | {uncached:.0f} | {cached:.0f} | "
            f"{cached / uncached:.2f}x | {build_s:.2f} | {files} | {size / 1e6:.1f} |"
        )
    write_section("cache", "\n".join(lines))


if __name__ == "__main__":
    main()

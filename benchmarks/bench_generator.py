"""Measure the generator: samples per second against cores, fit's wait for data, worker memory.

On a synthesized keyword dataset (1 s clips of tone sweeps and noise bursts at 16 kHz, with
silence around them) this measures, in one run:

- samples per second for cores = 0 (the caller's thread), 1 .. N, with and without the
  random transforms, and the speed-up of each count over one worker;
- the queueing overhead of the pool: one worker's time per batch against the same pipeline
  run inline, as a fraction of the pipeline's own time;
- the resident memory of each worker process;
- the time from creating the iterator to its first batch, and the share of ``model.fit``
  spent waiting for data with a small keyword-spotting CNN.

Results go to benchmarks/RESULTS.md.

Usage: python benchmarks/bench_generator.py [--clips-per-class N] [--batches N]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from parallel_audio import ParallelAudioDataGenerator  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from results import write_section  # noqa: E402

RATE = 16000
CLASSES = ["yes", "no", "up", "down", "left", "right"]


def write_keyword_dataset(root: Path, clips_per_class: int) -> Path:
    """Each class a tone sweep in its own band, with noise, placed at random in silence."""
    rng = np.random.default_rng(0)
    for k, name in enumerate(CLASSES):
        folder = root / name
        folder.mkdir(parents=True)
        for n in range(clips_per_class):
            length = int(RATE * rng.uniform(0.8, 1.0))
            start = int(rng.integers(0, RATE // 5))
            size = int(rng.integers(RATE // 4, RATE // 2))
            t = np.arange(size) / RATE
            low = 300 + 500 * k
            sweep = np.sin(2 * np.pi * (low * t + 400 * t**2)) * np.hanning(size)
            clip = 0.002 * rng.standard_normal(length)
            clip[start : start + size] += 0.5 * sweep[: max(0, min(size, length - start))]
            soundfile.write(folder / f"s{n % 20:02d}_nohash_{n}.wav", clip.astype(np.float32), RATE)
    return root


def worker_rss_mb(pids: list[int]) -> list[float]:
    sizes = []
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        except OSError:
            pass
    return sizes


def generator(cores, augment: bool) -> ParallelAudioDataGenerator:
    extra = (
        {"loudness_range": (0.5, 1.5), "offset_range": (0.0, 1.0)}
        if augment
        else {"disable_random_transforms": True}
    )
    return ParallelAudioDataGenerator(cores=cores, max_batches_pending=8, **extra)


def samples_per_second(data: Path, cores, augment: bool, batches: int) -> tuple[float, dict]:
    """Throughput over `batches` batches after the first (which includes start-up)."""
    gen = generator(cores, augment)
    created = time.perf_counter()
    with gen.flow_from_directory(data, classes=CLASSES, batch_size=32, seed=0) as it:
        it.batch(0)
        first = time.perf_counter() - created
        start = time.perf_counter()
        count = 0
        for i in range(1, batches + 1):
            x, _ = it.batch(i % len(it), epoch=i // len(it))
            count += len(x)
        elapsed = time.perf_counter() - start
        rss = worker_rss_mb(it.worker_pids)
    return count / elapsed, {"first_batch_s": first, "rss_mb": rss}


def fit_wait_share(data: Path, cores) -> tuple[float, float]:
    """Fraction of model.fit's time spent inside the iterator, and fit's wall time."""
    import keras

    gen = generator(cores, augment=True)
    with gen.flow_from_directory(data, classes=CLASSES, batch_size=32, seed=0) as it:
        waited = 0.0
        original = type(it).__getitem__

        def timed(self, index):
            nonlocal waited
            start = time.perf_counter()
            try:
                return original(self, index)
            finally:
                waited += time.perf_counter() - start

        it.__class__ = type("TimedIterator", (type(it),), {"__getitem__": timed})
        model = keras.Sequential(
            [
                keras.Input(gen.sample_shape),
                keras.layers.Conv2D(16, 3, activation="relu"),
                keras.layers.MaxPooling2D(2),
                keras.layers.Conv2D(32, 3, activation="relu"),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(len(CLASSES), activation="softmax"),
            ]
        )
        model.compile("adam", "categorical_crossentropy")
        start = time.perf_counter()
        model.fit(it, epochs=2, verbose=0)
        total = time.perf_counter() - start
    return waited / total, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips-per-class", type=int, default=80)
    parser.add_argument("--batches", type=int, default=30)
    args = parser.parse_args()
    max_cores = os.cpu_count() or 1

    with tempfile.TemporaryDirectory() as tmp:
        data = write_keyword_dataset(Path(tmp), args.clips_per_class)
        rows, details = [], {}
        for augment in (False, True):
            rates = {}
            for cores in [0, *range(1, max_cores + 1)]:
                rate, info = samples_per_second(data, cores, augment, args.batches)
                rates[cores] = rate
                details[(augment, cores)] = info
            for cores, rate in rates.items():
                label = "caller's thread" if cores == 0 else f"{cores} worker(s)"
                scaling = "" if cores == 0 else f"{rate / rates[1]:.2f}x"
                info = details[(augment, cores)]
                rss = ", ".join(f"{m:.0f}" for m in info["rss_mb"]) or "-"
                rows.append(
                    f"| {'yes' if augment else 'no'} | {label} | {rate:.0f} | {scaling} | "
                    f"{info['first_batch_s']:.2f} | {rss} |"
                )
        # One worker against the same work inline: what the pool's queues and pickling cost.
        inline_rate, one_rate = (samples_per_second(data, c, True, args.batches)[0] for c in (0, 1))
        overhead = inline_rate / one_rate - 1
        wait_share, fit_seconds = fit_wait_share(data, max_cores)

    table = "\n".join(
        [
            "| augmented | where | samples/s | vs 1 worker | first batch (s) | worker RSS (MB) |",
            "| --- | --- | ---: | ---: | ---: | --- |",
            *rows,
        ]
    )
    summary = (
        f"- pool overhead, one worker against the caller's thread: {overhead:+.1%} of the "
        f"pipeline's time\n"
        f"- `model.fit` (2 epochs, small CNN, cores={max_cores}): {wait_share:.1%} of "
        f"{fit_seconds:.1f} s spent waiting for batches"
    )
    print(table)
    print(summary)
    command = "python benchmarks/bench_generator.py" + (
        f" --clips-per-class {args.clips_per_class} --batches {args.batches}"
        if (args.clips_per_class, args.batches) != (80, 30)
        else ""
    )
    write_section(
        "generator",
        f"""## Generator

`{command}` on {platform.machine()}, {max_cores} cores, Python {platform.python_version()}.
{len(CLASSES)} classes x {args.clips_per_class} clips of 1 s at 16 kHz (WAV), batches of 32,
{args.batches} batches timed after the first; "augmented" means random offset and loudness
(the other augmentations are not in this release). The machine is shared: the parent
process, which also reads results, runs on the same cores as the workers.

{table}

{summary}
""",
    )


if __name__ == "__main__":
    main()

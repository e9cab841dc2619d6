"""Measure the workers' memory with a large background noise: shared against a copy per worker.

One noise file of ``--minutes`` minutes (16 kHz) and a small dataset; ``--cores`` worker
processes compute one epoch with background noise added to every sample, and then each
worker's memory is read from ``/proc/<pid>/status`` and ``/proc/<pid>/smaps_rollup``:

- private (``RssAnon``): anonymous memory only this worker holds;
- shared (``RssShmem``): pages of shared memory it maps, the background noise it touched;
- PSS: its proportional share of all it maps (shared pages divided among their holders).

"copy per worker" is how the noise was held before it was shared: a dict of arrays in the
sample runtime, pickled to every worker (the runtime's ``share_background_noise`` replaced by
``load_background_noise``). Both run in the same process, interleaved, ``--rounds`` times;
the table gives medians. Results go to benchmarks/RESULTS.md.

Usage: python benchmarks/bench_noise_memory.py [--minutes N] [--cores N] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).parent))

from results import write_section  # noqa: E402

RATE = 16000
DEFAULTS = {"minutes": 30, "cores": 2, "rounds": 2}


def write_data(root: Path, minutes: int) -> Path:
    """A two-class dataset of 1 s tones, and a noise folder of one ``minutes`` long file."""
    rng = np.random.default_rng(0)
    t = np.arange(RATE) / RATE
    for name, frequency in (("low", 400.0), ("high", 3000.0)):
        (root / name).mkdir()
        for n in range(12):
            tone = 0.4 * np.sin(2 * np.pi * frequency * t) + 0.01 * rng.standard_normal(RATE)
            soundfile.write(root / name / f"s{n}_nohash_0.wav", tone, RATE)
    noise = root / "noise"
    noise.mkdir()
    with soundfile.SoundFile(noise / "hum.wav", "w", RATE, 1, "PCM_16") as file:
        for _ in range(minutes):
            file.write(0.1 * rng.standard_normal(60 * RATE))
    return root


def kib(pid: int, name: str, field: str) -> int:
    """A ``kB`` field of ``/proc/<pid>/<name>``."""
    for line in Path(f"/proc/{pid}/{name}").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


class UnsharedNoise(dict):
    """The noise held as before: a dict of arrays, pickled whole to each worker."""

    def close(self) -> None:
        """Nothing to release: the arrays go with their last reference."""


def measure(data: Path, cores: int, shared: bool) -> dict:
    """One epoch with ``cores`` workers; their memory in MB (medians over the workers)."""
    import parallel_audio.sample_runtime as sample_runtime
    from parallel_audio import ParallelAudioDataGenerator
    from parallel_audio.augment import load_background_noise, share_background_noise

    sample_runtime.share_background_noise = (
        share_background_noise
        if shared
        else (lambda folder, rate: UnsharedNoise(load_background_noise(folder, rate)))
    )
    try:
        generator = ParallelAudioDataGenerator(
            cores=cores, bg_noise_dir=str(data / "noise"), bg_noise_range=(0.1, 0.3)
        )
        with generator.flow_from_directory(data, ["low", "high"], batch_size=8, seed=0) as it:
            for i in range(len(it)):
                it[i]
            pids = it.worker_pids
            rows = [
                (
                    kib(pid, "status", "RssAnon"),
                    kib(pid, "status", "RssShmem"),
                    kib(pid, "smaps_rollup", "Pss"),
                )
                for pid in pids
            ]
    finally:
        sample_runtime.share_background_noise = share_background_noise
    return {
        key: statistics.median(row[k] for row in rows) / 1024
        for k, key in enumerate(("private", "shared", "pss"))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name, value in DEFAULTS.items():
        parser.add_argument(f"--{name}", type=int, default=value)
    args = parser.parse_args()
    import keras  # noqa: F401  (as a training script: imported before the generator)

    load_before = os.getloadavg()
    runs: dict[bool, list[dict]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        data = write_data(Path(tmp), args.minutes)
        for _ in range(args.rounds):
            for shared in (False, True):
                runs[shared].append(measure(data, args.cores, shared))
    load_after = os.getloadavg()
    noise_mb = args.minutes * 60 * RATE * 4 / 2**20
    labels = {False: "a copy per worker (before)", True: "shared, mapped read-only (now)"}
    rows = []
    for shared in (False, True):
        medians = {k: statistics.median(r[k] for r in runs[shared]) for k in runs[shared][0]}
        rows.append(
            f"| {labels[shared]} | {medians['private']:.0f} | {medians['shared']:.0f} | "
            f"{medians['pss']:.0f} |"
        )
    table = "\n".join(
        [
            "| background noise | worker private RSS (MB) | worker shared RSS (MB) "
            "| worker PSS (MB) |",
            "| --- | ---: | ---: | ---: |",
            *rows,
        ]
    )
    load = (
        f"load average {load_before[0]:.1f} when it started and {load_after[0]:.1f} when it ended"
    )
    print(table)
    print(load)
    options = [f"--{k} {getattr(args, k)}" for k, v in DEFAULTS.items() if getattr(args, k) != v]
    command = " ".join(["python benchmarks/bench_noise_memory.py", *options])
    write_section(
        "noise-memory",
        f"""## Worker memory with a large background noise

`{command}` on {platform.machine()}, {os.cpu_count()} cores, Python
{platform.python_version()}; {load}.
One {args.minutes}-minute noise file at 16 kHz ({noise_mb:.0f} MB of float32 samples), added
to every sample of one epoch of 24 clips with {args.cores} worker processes; each worker's
memory after the epoch, medians over the workers and {args.rounds} interleaved rounds.
Private is `RssAnon` (anonymous memory of this worker alone), shared is `RssShmem` (shared
memory pages it touched: the noise it cropped), PSS its proportional share of everything it
maps (`smaps_rollup`). "Before" holds the noise as a dict of arrays pickled to every worker,
as the sample runtime did; "now" maps the training process's one copy (a memfd). With
N workers the noise took N x {noise_mb:.0f} MB before, and {noise_mb:.0f} MB once now.

{table}
""",
    )


if __name__ == "__main__":
    main()

"""Measure how batches travel from workers to the training process, and the parent's ceiling.

Workers whose pipeline does nothing (a batch function that hands back a ready-made batch of
32 x 98 x 40 float32 samples, one-hot labels beside it) are read by the consumer as fast as it
can. This measures, in one run, with the transports interleaved round by round:

- ``shared memory``: the pool's default, arrays written into a shared-memory slot the parent
  owns, and only their layout and a small pickle sent through the worker's pipe;
- ``pipe``: the same pickle (protocol 5) with the arrays sent after it through the pipe as raw
  out-of-band buffers, received straight into their final memory (``recv_bytes_into``); this
  is the pool's fallback when shared memory is full, forced here by disabling the slots.

For each, batches per second the parent receives with 1 and 2 workers, and the parent's CPU
time per batch. The parent's ceiling is the best of these rates: past it, adding workers
cannot feed ``fit`` faster. Divided by one worker's rate on the real pipeline (from the
generator benchmark's per-sample cost), it gives the worker count at which the parent, not the
workers, becomes the limit on a many-core server.

Results go to benchmarks/RESULTS.md.

Usage: python benchmarks/bench_transport.py [--batches N] [--rounds N] [--ms-per-sample MS]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from parallel_audio import ParallelAudioDataGenerator  # noqa: E402
from parallel_audio.pool import transport  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from results import write_section  # noqa: E402

BATCH_SHAPE = (32, 98, 40, 1)
NUM_CLASSES = 4
BATCHES_PER_EPOCH = 16
MAX_PENDING = 8
DEFAULTS = {"batches": 2000, "rounds": 5, "ms_per_sample": 0.75}

_BATCH = (
    np.random.default_rng(0).standard_normal(BATCH_SHAPE).astype(np.float32),
    np.eye(NUM_CLASSES, dtype=np.float32)[np.arange(BATCH_SHAPE[0]) % NUM_CLASSES],
)


def ready_made_batch(batch_index, filenames, classes, params):
    """Hand back the same batch: the pipeline costs nothing, only the transport is timed."""
    return batch_index, _BATCH


def write_dataset(root: Path) -> Path:
    """Enough silent files for BATCHES_PER_EPOCH batches; the batch function never reads them."""
    silence = np.zeros(1600, np.float32)
    for k in range(NUM_CLASSES):
        folder = root / f"c{k}"
        folder.mkdir(parents=True)
        for n in range(BATCHES_PER_EPOCH * BATCH_SHAPE[0] // NUM_CLASSES):
            soundfile.write(folder / f"s{n:03d}_nohash_0.wav", silence, 16000)
    return root


def process_cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


class _PipesOnly:
    """Disable the shared-memory slots for the duration: every batch comes through the pipe."""

    def __enter__(self) -> None:
        self._fit = transport.ResultSlots.fit
        transport.ResultSlots.fit = lambda slots, nbytes: None

    def __exit__(self, *exc_info: object) -> None:
        transport.ResultSlots.fit = self._fit


def timed_run(data: Path, transport: str, cores: int, batches: int) -> dict:
    generator = ParallelAudioDataGenerator(
        cores=cores, max_batches_pending=MAX_PENDING, get_batch_function=ready_made_batch
    )
    context = _PipesOnly() if transport == "pipe" else contextlib.nullcontext()
    with context:
        iterator = generator.flow_from_directory(
            str(data), classes=[f"c{k}" for k in range(NUM_CLASSES)], batch_size=BATCH_SHAPE[0]
        )
        with iterator:
            # Start-up, the first batch (which sizes the slots) and the prefetch: not timed.
            for position in range(2 * MAX_PENDING):
                epoch, index = divmod(position, BATCHES_PER_EPOCH)
                iterator.batch(index, epoch)
            start, cpu_start = time.perf_counter(), process_cpu_seconds()
            for position in range(2 * MAX_PENDING, 2 * MAX_PENDING + batches):
                epoch, index = divmod(position, BATCHES_PER_EPOCH)
                x, _ = iterator.batch(index, epoch)
                assert x.shape == BATCH_SHAPE
            wall = time.perf_counter() - start
            cpu = process_cpu_seconds() - cpu_start
    return {"batches_per_s": batches / wall, "parent_cpu_ms": 1000 * cpu / batches}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, value in DEFAULTS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args()
    configurations = [(t, c) for c in (1, 2) for t in ("shared memory", "pipe")]
    runs: dict[tuple[str, int], list[dict]] = {key: [] for key in configurations}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        data = write_dataset(Path(folder))
        for round_number in range(args.rounds):
            for transport, cores in configurations:
                result = timed_run(data, transport, cores, args.batches)
                runs[transport, cores].append(result)
                print(
                    f"round {round_number + 1}: {transport}, {cores} worker(s): "
                    f"{result['batches_per_s']:.0f} batches/s, "
                    f"parent {result['parent_cpu_ms']:.3f} ms CPU per batch",
                    flush=True,
                )
    load_after = os.getloadavg()[0]

    def median(key: tuple[str, int], field: str) -> float:
        return statistics.median(run[field] for run in runs[key])

    megabytes = sum(array.nbytes for array in _BATCH) / 2**20
    rows = []
    for transport, cores in configurations:
        rate = median((transport, cores), "batches_per_s")
        rows.append(
            f"| {transport} | {cores} | {rate:.0f} | {1000 / rate:.3f} | "
            f"{median((transport, cores), 'parent_cpu_ms'):.3f} | {rate * megabytes:.0f} |"
        )
    ratios = [
        median(("shared memory", cores), "batches_per_s") / median(("pipe", cores), "batches_per_s")
        for cores in (1, 2)
    ]
    ceiling = max(median(key, "batches_per_s") for key in configurations)
    per_worker = 1000 / (args.ms_per_sample * BATCH_SHAPE[0])
    command = "python benchmarks/bench_transport.py" + "".join(
        f" --{name.replace('_', '-')} {getattr(args, name)}"
        for name, value in DEFAULTS.items()
        if getattr(args, name) != value
    )
    body = f"""## Transport and the parent's ceiling

`{command}` on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()};
load average {load_before:.1f} when it started and {load_after:.1f} when it ended.
Workers hand back a ready-made batch ({BATCH_SHAPE[0]} x {BATCH_SHAPE[1]} x {BATCH_SHAPE[2]}
float32 samples and one-hot labels, {megabytes:.2f} MiB); the consumer reads {args.batches}
batches as fast as it can, after {2 * MAX_PENDING} untimed ones. Medians of {args.rounds}
interleaved rounds. On this 2-core machine the parent and its workers share the cores.

| transport | workers | batches/s | ms per batch | parent CPU ms per batch | MiB/s |
| --- | ---: | ---: | ---: | ---: | ---: |
{chr(10).join(rows)}

- shared memory against pipe, same run: {ratios[0]:.2f}x with 1 worker, {ratios[1]:.2f}x with 2
- the parent's ceiling: about {ceiling:.0f} batches/s of this size; one worker running the whole
  augmented pipeline ({args.ms_per_sample} ms per sample) makes {per_worker:.0f} batches/s, so the
  parent becomes the limit from about {ceiling / per_worker:.0f} workers on this machine's cores
  (fewer where the training step itself keeps the parent's core busy)
"""
    print(body)
    write_section("transport", body)


if __name__ == "__main__":
    main()

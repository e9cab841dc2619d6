"""Measure the Ray executor against the local pool, and estimate the nodes a model needs.

On a Ray cluster of two nodes of one CPU each, started in this process
(``ray.cluster_utils.Cluster``, as the tests do), this measures in one run, interleaved round
by round:

- the per-batch overhead: workers whose pipeline does nothing (a batch function handing back a
  ready-made batch of 32 x 98 x 40 float32 samples) read as fast as the consumer can, with two
  local worker processes and with two Ray actors; the difference in wall time per batch is
  what Ray's scheduling and object store add to every batch;
- samples per second of the whole augmented pipeline (1 s clips, every augmentation, the
  microfrontend) in the caller's thread, with two local worker processes, and with two Ray
  actors, one on each node.

From the caller's thread's time per sample it then estimates, on paper, how many nodes of a
given size keep a model fed at a given rate of samples per second.

Results go to benchmarks/RESULTS.md.

Usage: python benchmarks/bench_ray.py [--batches N] [--rounds N]
"""

from __future__ import annotations

import argparse
import math
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

import ray  # noqa: E402
from ray.cluster_utils import Cluster  # noqa: E402

from parallel_audio import ParallelAudioDataGenerator  # noqa: E402
from parallel_audio.ray import RayExecutor  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from results import write_section  # noqa: E402

BATCH_SHAPE = (32, 98, 40, 1)
NUM_CLASSES = 4
CLIPS_PER_CLASS = 64
MAX_PENDING = 4  # two per worker
DEFAULTS = {"batches": 200, "rounds": 3, "pipeline_batches": 24}
#: Node sizes and feeding rates of the paper estimate.
NODE_CORES = (16, 64)
TARGET_SAMPLES_PER_S = (5_000, 20_000, 100_000)

_BATCH = (
    np.random.default_rng(0).standard_normal(BATCH_SHAPE).astype(np.float32),
    np.eye(NUM_CLASSES, dtype=np.float32)[np.arange(BATCH_SHAPE[0]) % NUM_CLASSES],
)


def ready_made_batch(batch_index, filenames, classes, params):
    """Hand back the same batch: the pipeline costs nothing, only the executor is timed."""
    return batch_index, _BATCH


def write_dataset(root: Path) -> Path:
    """Classes of 1 s clips of noise bursts at 16 kHz, and a background noise folder."""
    rng = np.random.default_rng(1)
    for k in range(NUM_CLASSES):
        folder = root / f"c{k}"
        folder.mkdir(parents=True)
        for n in range(CLIPS_PER_CLASS):
            clip = np.zeros(16000, np.float32)
            start = int(rng.integers(0, 8000))
            clip[start : start + 6000] = 0.3 * rng.standard_normal(6000)
            soundfile.write(folder / f"s{n:03d}_nohash_0.wav", clip, 16000)
    (root / "_background_noise_").mkdir()
    soundfile.write(
        root / "_background_noise_" / "noise.wav", 0.1 * rng.standard_normal(160000), 16000
    )
    return root


def augmenting(**kwargs) -> ParallelAudioDataGenerator:
    return ParallelAudioDataGenerator(
        max_batches_pending=MAX_PENDING,
        offset_range=(0.0, 1.0),
        loudness_range=(0.5, 1.5),
        speed_range=(0.9, 1.1),
        pitch_range=(-2, 2),
        vtlp_range=(0.9, 1.1),
        noise_colors="all",
        noise_color_range=(0.05, 0.2),
        bg_noise_dir="_background_noise_",
        bg_noise_range=(0.05, 0.2),
        **kwargs,
    )


def executor_for(where: str) -> RayExecutor | None:
    return RayExecutor(num_actors=2, reserve_cpus=0) if where == "2 Ray actors" else None


def read_batches(data: Path, generator, where: str, batches: int, warm_up: int) -> dict:
    classes = [f"c{k}" for k in range(NUM_CLASSES)]
    iterator = generator.flow_from_directory(
        str(data), classes=classes, batch_size=BATCH_SHAPE[0], executor=executor_for(where)
    )
    per_epoch = len(iterator)
    with iterator:
        # Start-up and the first batches (actors or processes start, the window fills): untimed.
        for position in range(warm_up):
            iterator.batch(*reversed(divmod(position, per_epoch)))
        start, cpu_start = time.perf_counter(), time.process_time()
        for position in range(warm_up, warm_up + batches):
            x, _ = iterator.batch(*reversed(divmod(position, per_epoch)))
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
        nodes = len(iterator.executor_stats()["batches_per_node"]) if "Ray" in where else 1
    return {
        # In the caller's thread, this process's CPU time is the pipeline's cost, whatever
        # else the machine runs.
        "cpu_ms_per_sample": 1000 * cpu / (batches * len(x)),
        "wall_ms_per_batch": 1000 * wall / batches,
        "samples_per_s": batches * len(x) / wall,
        "nodes": nodes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for name, value in DEFAULTS.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    cluster = Cluster(
        initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False}
    )
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, log_to_driver=False)
    cluster_start_s = time.perf_counter() - start
    null_runs: dict[str, list[dict]] = {"2 worker processes": [], "2 Ray actors": []}
    pipeline_runs: dict[str, list[dict]] = {
        "caller's thread": [],
        "2 worker processes": [],
        "2 Ray actors": [],
    }
    try:
        with tempfile.TemporaryDirectory() as folder:
            data = write_dataset(Path(folder))
            for round_number in range(args.rounds):
                for where, runs in null_runs.items():
                    generator = ParallelAudioDataGenerator(
                        cores=0 if "Ray" in where else 2,
                        max_batches_pending=MAX_PENDING,
                        get_batch_function=ready_made_batch,
                    )
                    runs.append(read_batches(data, generator, where, args.batches, 2 * MAX_PENDING))
                    print(
                        f"round {round_number + 1}, ready-made batches, {where}: "
                        f"{runs[-1]['wall_ms_per_batch']:.2f} ms per batch",
                        flush=True,
                    )
                for where, runs in pipeline_runs.items():
                    cores = {"caller's thread": 0, "2 worker processes": 2, "2 Ray actors": 0}
                    generator = augmenting(cores=cores[where])
                    runs.append(
                        read_batches(data, generator, where, args.pipeline_batches, MAX_PENDING)
                    )
                    print(
                        f"round {round_number + 1}, augmented pipeline, {where}: "
                        f"{runs[-1]['samples_per_s']:.0f} samples/s",
                        flush=True,
                    )
    finally:
        ray.shutdown()
        cluster.shutdown()
    load_after = os.getloadavg()[0]

    def median(runs: list[dict], field: str) -> float:
        return statistics.median(run[field] for run in runs)

    local_ms = median(null_runs["2 worker processes"], "wall_ms_per_batch")
    ray_ms = median(null_runs["2 Ray actors"], "wall_ms_per_batch")
    overhead_ms = ray_ms - local_ms
    rows = []
    inline_rate = median(pipeline_runs["caller's thread"], "samples_per_s")
    for where, runs in pipeline_runs.items():
        rate = median(runs, "samples_per_s")
        nodes = max(run["nodes"] for run in runs) if where == "2 Ray actors" else 1
        rows.append(f"| {where} | {nodes} | {rate:.0f} | {rate / inline_rate:.2f}x |")
    ms_per_sample = median(pipeline_runs["caller's thread"], "cpu_ms_per_sample")
    estimate = []
    for cores in NODE_CORES:
        actors = cores - 1  # one core per node left to Ray and the system
        per_node = actors * 1000 / ms_per_sample
        cells = [f"{math.ceil(target / per_node)}" for target in TARGET_SAMPLES_PER_S]
        estimate.append(
            f"| {cores} cores ({actors} actors) | {per_node:.0f} | {' | '.join(cells)} |"
        )
    # The training process receives every batch: its own cost per batch bounds the rate.
    driver_ceiling = 1000 / ray_ms * BATCH_SHAPE[0]
    command = "python benchmarks/bench_ray.py" + "".join(
        f" --{name.replace('_', '-')} {getattr(args, name)}"
        for name, value in DEFAULTS.items()
        if getattr(args, name) != value
    )
    targets = " | ".join(f"nodes for {t:,} samples/s" for t in TARGET_SAMPLES_PER_S)
    body = f"""## Ray executor

`{command}` on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},
Ray {ray.__version__}; load average {load_before:.1f} when it started and {load_after:.1f} when it
ended. A Ray cluster of two nodes of one CPU each, in this machine
(`ray.cluster_utils.Cluster`, started in {cluster_start_s:.1f} s), and two local worker
processes, side by side; medians of {args.rounds} interleaved rounds. On this 2-core machine the
training process, Ray's own processes and the workers share the cores, so Ray's figures include
the CPU its raylets, object store and scheduler take from the workers.

Per-batch overhead: workers hand back a ready-made batch ({BATCH_SHAPE[0]} x {BATCH_SHAPE[1]} x
{BATCH_SHAPE[2]} float32 and one-hot labels), read {args.batches} times after
{2 * MAX_PENDING} untimed ones, `max_batches_pending={MAX_PENDING}`.

| executor | ms per batch |
| --- | ---: |
| 2 worker processes | {local_ms:.2f} |
| 2 Ray actors (two nodes) | {ray_ms:.2f} |

- Ray's overhead: {overhead_ms:+.2f} ms per batch against the local pool
  ({overhead_ms / BATCH_SHAPE[0]:+.3f} ms per sample)

The whole augmented pipeline (1 s clips at 16 kHz; offset, loudness, speed, pitch, VTLP,
colored or background noise; the microfrontend, 98 x 40), batches of {BATCH_SHAPE[0]},
{args.pipeline_batches} batches timed after {MAX_PENDING} untimed:

| where | nodes | samples/s | vs caller's thread |
| --- | ---: | ---: | ---: |
{chr(10).join(rows)}

On paper, from the pipeline's {ms_per_sample:.2f} ms of CPU per sample (the caller's thread's CPU
time, which the machine's other load does not inflate as it does wall time) on this machine's cores
(one actor per core, one core per node left to Ray and the system). One training process
receives every batch: here it received ready-made batches through Ray at {1000 / ray_ms:.0f} per
second ({driver_ceiling:,.0f} samples/s in batches of {BATCH_SHAPE[0]}), a bound on what one
process can be fed that larger batches raise; beyond it, sharded input (one training process per
host, `shard`) scales further.

| node size | samples/s per node | {targets} |
| --- | ---: | {" | ".join("---:" for _ in TARGET_SAMPLES_PER_S)} |
{chr(10).join(estimate)}
"""
    print(body)
    write_section("ray", body)


if __name__ == "__main__":
    main()

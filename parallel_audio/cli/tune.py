"""``parallel-audio tune``: the ``cores`` and ``max_batches_pending`` that suit this machine.

For every pair of the grid, the generator serves ``--batches`` batches of the dataset to a
consumer that only takes them; the samples per second, the time to the first batch and the
resident memory of each worker are printed, and the cheapest pair within 5 % of the fastest is
recommended. In training the model competes with the workers for the same cores, so when rates
are close fewer workers are the better choice.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from typing import Any

from parallel_audio.cli.common import worker_rss_mb
from parallel_audio.cli.data_settings import (
    CommandLineError,
    DataSettings,
    build_generator,
)
from parallel_audio.cli.options import (
    add_command_parser,
    add_generator_options,
    resolve_settings,
)
from parallel_audio.listing import class_folders

#: A pair within this fraction of the fastest counts as fast: timings on a busy machine vary
#: by a few percent, and the cheaper pair then costs nothing measurable.
TOLERANCE = 0.05
DEFAULT_PENDING = (2, 4, 8, 16)


@dataclass
class Measurement:
    """Throughput and memory of one (cores, max_batches_pending) pair."""

    cores: int | float
    max_batches_pending: int
    num_workers: int
    samples_per_second: float
    first_batch_s: float
    worker_rss_mb: list[float] | None
    batch_mb: float

    @property
    def total_rss_mb(self) -> float | None:
        """Resident memory of all workers together, in MB."""
        return None if self.worker_rss_mb is None else sum(self.worker_rss_mb)


def _number(text: str) -> int | float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    return int(value) if value.is_integer() and "." not in text else value


def add_parser(subparsers: Any) -> None:
    """Add the ``tune`` command."""
    parser = add_command_parser(
        subparsers,
        "tune",
        usage_tail="DATA_DIR [--classes NAME ...] [--cores N ...]"
        " [--max-batches-pending N ...] [--batches N]"
        " [--config FILE] [generator options]",
        help="measure samples/s over a grid of cores and max_batches_pending; recommend a "
        "pair and show its memory",
        description="Measure the generator's samples per second on this machine over a grid "
        "of cores and max_batches_pending, with the resident memory of the workers, and "
        "recommend the cheapest pair within 5 percent of the fastest.",
    )
    parser.add_argument("data_dir", metavar="DATA_DIR", help="dataset: one folder per class")
    parser.add_argument(
        "--classes",
        nargs="+",
        metavar="NAME",
        help="classes as for flow_from_directory (default: every class folder)",
    )
    parser.add_argument(
        "--cores",
        nargs="+",
        type=_number,
        metavar="N",
        help="values of cores to try: worker counts, or fractions of the machine's cores "
        f"(default: 1 to {os.cpu_count() or 1})",
    )
    parser.add_argument(
        "--max-batches-pending",
        nargs="+",
        type=int,
        metavar="N",
        help="values of max_batches_pending to try (default: "
        f"{' '.join(map(str, DEFAULT_PENDING))})",
    )
    parser.add_argument(
        "--batches", type=int, default=20, help="batches timed per pair, after the first (20)"
    )
    parser.add_argument("--batch-size", type=int, default=None, help="samples per batch (32)")
    parser.add_argument("--seed", type=int, default=None, help="seed of the batches (0)")
    add_generator_options(parser, exclude=("cores", "max_batches_pending"))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run ``tune``."""
    settings = resolve_settings(args)
    # The grid replaces any cores or max_batches_pending of a config file.
    settings.generator_kwargs.pop("cores", None)
    settings.generator_kwargs.pop("max_batches_pending", None)
    cores_grid = args.cores or list(range(1, (os.cpu_count() or 1) + 1))
    pending_grid = args.max_batches_pending or list(DEFAULT_PENDING)
    if args.batches < 1:
        raise CommandLineError(f"--batches must be at least 1, got {args.batches}")
    build_generator(settings)  # reject bad settings before the first measurement
    if not os.path.isdir(args.data_dir):
        raise CommandLineError(f"dataset directory {args.data_dir!r} does not exist")
    classes = settings.classes or class_folders(args.data_dir)

    measurements = []
    print(
        f"{'cores':>6} {'workers':>7} {'pending':>7} {'samples/s':>10} {'first batch (s)':>15} "
        f"{'worker RSS (MB)':>16}"
    )
    for cores in cores_grid:
        for pending in pending_grid:
            m = measure(settings, args.data_dir, classes, cores, pending, batches=args.batches)
            measurements.append(m)
            rss = (
                "n/a" if m.worker_rss_mb is None else " ".join(f"{v:.0f}" for v in m.worker_rss_mb)
            )
            print(
                f"{m.cores!s:>6} {m.num_workers:>7} {m.max_batches_pending:>7} "
                f"{m.samples_per_second:>10.0f} {m.first_batch_s:>15.2f} {rss or '-':>16}",
                flush=True,
            )
    best = recommend(measurements)
    fastest = max(m.samples_per_second for m in measurements)
    print(
        f"\nrecommended: cores={best.cores}, max_batches_pending={best.max_batches_pending}: "
        f"{best.samples_per_second:.0f} samples/s (fastest measured: {fastest:.0f})"
    )
    if best.num_workers == 0:
        memory = "no worker processes (batches are computed in the training process)"
    elif best.worker_rss_mb is None:
        memory = f"{_workers(best.num_workers)} (their memory is not measurable here)"
    else:
        memory = (
            f"{_workers(best.num_workers)}, {best.total_rss_mb:.0f} MB resident "
            f"({', '.join(f'{v:.0f}' for v in best.worker_rss_mb)} MB)"
        )
    print(
        f"memory: {memory}, plus up to {best.max_batches_pending} batches of "
        f"{best.batch_mb:.2f} MB in flight"
    )
    return 0


def _workers(count: int) -> str:
    return f"{count} worker process{'' if count == 1 else 'es'}"


def measure(
    settings: DataSettings,
    directory: str,
    classes: list[str],
    cores: int | float,
    max_batches_pending: int,
    *,
    batches: int,
) -> Measurement:
    """Time ``batches`` batches after the first (which includes the workers' start-up)."""
    import parallel_audio.iterator  # noqa: F401 - loads Keras now, not inside the timing
    from parallel_audio.pool.options import resolve_num_workers

    generator = build_generator(settings, cores=cores, max_batches_pending=max_batches_pending)
    seed = settings.seed if settings.seed is not None else 0
    created = time.perf_counter()
    with generator.flow_from_directory(
        directory, classes=classes, batch_size=settings.batch_size or 32, seed=seed
    ) as iterator:
        first = iterator.batch(0)
        first_batch_s = time.perf_counter() - created
        batch_mb = sum(part.nbytes for part in first) / 2**20
        count = 0
        start = time.perf_counter()
        for i in range(1, batches + 1):
            x, _ = iterator.batch(i % len(iterator), epoch=i // len(iterator))
            count += len(x)
        elapsed = time.perf_counter() - start
        rss = worker_rss_mb(iterator.worker_pids)
    num_workers = resolve_num_workers(cores)
    return Measurement(
        cores, max_batches_pending, num_workers, count / elapsed, first_batch_s, rss, batch_mb
    )


def recommend(measurements: list[Measurement]) -> Measurement:
    """Pick the fewest workers, then the fewest pending batches, among pairs within TOLERANCE."""
    fastest = max(m.samples_per_second for m in measurements)
    good = [m for m in measurements if m.samples_per_second >= (1 - TOLERANCE) * fastest]
    return min(good, key=lambda m: (m.num_workers, m.max_batches_pending, -m.samples_per_second))

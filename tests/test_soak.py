"""A long run of the process pool: nothing grows, no sample is lost or repeated, even after a kill.

200 epochs over a small dataset with two worker processes, one of them killed with SIGKILL
half way. Every batch says which files it holds (a callback writes each file's number into
its sample), so that every epoch can be checked to visit every file exactly once, in the
order the iterator's plan gives. Resident memory of the parent and the workers, the parent's
open file descriptors, its descendant processes and its shared memory segments are measured
after a warm-up and at the end, and must not have grown beyond allocator noise.

Like test_worker_pool, this module must not import Keras or TensorFlow at module level:
worker processes import it to find the callback.
"""

from __future__ import annotations

import functools
import os
import signal
import warnings
from pathlib import Path

import numpy as np
import pytest
from support import (
    deadline,
    is_gone,
    package_segments,
    process_table,
    result_slots_held,
    wait_until,
    write_dataset,
)

from parallel_audio import ParallelAudioDataGenerator

# Minutes of subprocesses, builds or long runs: left out of `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

CLASSES = ["low", "high"]
EPOCHS = 200
WARM_UP = 20  # epochs before the first measurement: caches, allocator pools, first slots
KILL_AT = EPOCHS // 2
#: Growth allowed over the run, in MiB. One batch here is 25 KiB, so a batch kept per
#: step (400 of them) would add 10 MiB, and anything per sample more.
RSS_SLACK_MIB = 8.0


def mark_sample(params, x, filename, *, numbers):
    """Replace the spectrogram by the file's number: the batch then names its files."""
    return np.full_like(x, numbers[filename])


def rss_mib(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for {pid}")


def open_descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def descendants(root: int) -> tuple[list[int], list[int]]:
    """(live, zombie) descendants of ``root``: workers are children of the fork server."""
    children: dict[int, list[tuple[int, str]]] = {}
    for pid, state, parent, _ in process_table():
        children.setdefault(parent, []).append((pid, state))
    live, zombies, stack = [], [], [root]
    while stack:
        for pid, state in children.get(stack.pop(), []):
            (zombies if state in ("Z", "X") else live).append(pid)
            stack.append(pid)
    return live, zombies


def snapshot(iterator) -> dict:
    live, zombies = descendants(os.getpid())
    return {
        "parent_rss": rss_mib(),
        "worker_rss": max(rss_mib(p) for p in iterator.worker_pids),
        "descriptors": open_descriptors(),
        "processes": len(live),
        "zombies": len(zombies),
        # Only this process's: other processes on the machine come and go.
        "shm": len(package_segments(os.getpid())),
        "slots": len(result_slots_held(os.getpid())),
    }


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    # 2 classes x 4 files, in four formats and rates.
    root = tmp_path_factory.mktemp("soak_dataset")
    return write_dataset(root, np.random.default_rng(11), speakers=2, per_speaker=2)


def test_200_epochs_with_a_kill_lose_no_sample_and_grow_nothing(dataset):
    probe = ParallelAudioDataGenerator(cores=0).flow_from_directory(
        dataset, classes=CLASSES, class_mode=None, seed=0
    )
    names = probe.filenames  # a file's number is its place here
    numbers = {name: k for k, name in enumerate(names)}
    generator = ParallelAudioDataGenerator(
        cores=2,
        max_batches_pending=4,
        postprocessing_function=functools.partial(mark_sample, numbers=numbers),
    )
    notices = []
    with deadline(120):
        iterator = generator.flow_from_directory(
            dataset, classes=CLASSES, class_mode=None, batch_size=3, seed=5
        )
        assert iterator.samples == len(numbers) == 8
        assert len(iterator) == 3  # the last batch is short: 3 + 3 + 2
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                for epoch in range(EPOCHS):
                    seen = []
                    for i in range(len(iterator)):
                        x = iterator.batch(i, epoch=epoch)
                        numbers_held = x[:, 0, 0, 0].astype(int)
                        assert np.all(x == numbers_held[:, None, None, None])
                        held = [names[k] for k in numbers_held]
                        # The files the plan gives this batch, and nothing else.
                        planned = iterator.batch_sample_ids(i, epoch)
                        expected = [iterator.filenames[k] for k in planned]
                        assert held == expected, (epoch, i, held, expected)
                        seen += held
                        if epoch == KILL_AT and i == 0:
                            victim = iterator.worker_pids[0]
                            os.kill(victim, signal.SIGKILL)  # while it computes ahead
                    assert sorted(seen) == sorted(names), (epoch, seen)
                    if epoch == WARM_UP:
                        early = snapshot(iterator)
                    if epoch == KILL_AT + 1:
                        assert is_gone(victim) and victim not in iterator.worker_pids
                late = snapshot(iterator)
            notices = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
            pids = iterator.worker_pids
        finally:
            iterator.close()
    assert len(notices) == 1 and f"(pid {victim}) was killed by SIGKILL" in notices[0], notices
    # A shuffled plan: the epochs did not all visit the files in one order.
    assert len({tuple(iterator.epoch_plan(e)) for e in range(EPOCHS)}) > EPOCHS // 2

    report = f"after {WARM_UP} epochs: {early}; after {EPOCHS}: {late}"
    assert late["parent_rss"] <= early["parent_rss"] + RSS_SLACK_MIB, report
    assert late["worker_rss"] <= early["worker_rss"] + RSS_SLACK_MIB, report
    # The replacement's pipes took the place of the dead worker's; nothing else opened.
    assert late["descriptors"] <= early["descriptors"], report
    assert late["processes"] == early["processes"], report
    assert late["zombies"] == early["zombies"] == 0, report
    assert late["shm"] == early["shm"] == 0, report  # no name in /dev/shm to leak
    assert 0 < late["slots"] <= early["slots"], report  # the result slots, reused
    assert wait_until(lambda: all(is_gone(p) for p in pids), 5)

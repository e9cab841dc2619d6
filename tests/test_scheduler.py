"""The scheduler with an executor written here: the Executor interface is all it needs.

``ScriptedExecutor`` computes in its own ``results`` calls and loses the workers it is told
to, as a cluster's executor might; the scheduler must hand results out in order, recompute
what a lost worker held, warn, and give up after too many losses. This module must not
import Keras or TensorFlow.
"""

from __future__ import annotations

import threading
import warnings

import pytest
from support import deadline

from parallel_audio.errors import WorkerError
from parallel_audio.pool import scheduler
from parallel_audio.pool.executor import Executor, WorkerInfo
from parallel_audio.pool.messages import TaskDone, TaskFailed, WorkersLost
from parallel_audio.pool.options import PoolOptions
from parallel_audio.pool.scheduler import BatchScheduler

BATCHES_PER_EPOCH = 5


def square(task):
    return task * task


def task_of(epoch, batch_index):
    return epoch * 100 + batch_index


class ScriptedExecutor(Executor):
    """Two workers of two places each; loses the worker holding a task listed in ``kill``."""

    def __init__(self, kill=()):
        self.kill = list(kill)  # tasks whose worker is lost, once per listing
        self.lock = threading.Lock()
        self.held: list[tuple[int, object]] = []
        self.submitted: list[int] = []
        self.generation = 0
        self.woken = threading.Event()

    def start(self, options, compute):
        self.compute = compute
        self.places = 2 * options.num_workers

    def submit(self, task_id, task):
        with self.lock:
            if len(self.held) >= self.places:
                return False
            self.held.append((task_id, task))
            self.submitted.append(task_id)
            return True

    def results(self, timeout):
        with self.lock:
            held, self.held = self.held, []
        if not held:
            self.woken.wait(min(timeout, 0.05))
            self.woken.clear()
            return []
        events = []
        for position, (task_id, task) in enumerate(held):
            if task in self.kill:
                self.kill.remove(task)
                lost = tuple(t for t, _ in held[position:])
                return [*events, WorkersLost(("w",), lost, task_id, "worker w vanished")]
            if task < 0:
                events.append(TaskFailed(task_id, "failed in a worker: negative", "Traceback"))
            else:
                events.append(TaskDone(task_id, self.compute(task)))
        return events

    def replace(self, lost):
        self.generation += 1
        return f"started worker w{self.generation} in its place"

    def wake(self):
        self.woken.set()

    def stop(self):
        self.stopped = True

    def workers(self):
        return [WorkerInfo("w")]


def make(executor, *, max_pending=3, tasks=task_of):
    options = PoolOptions(num_workers=2, max_pending=max_pending)
    return BatchScheduler(
        square, tasks, options, batches_per_epoch=BATCHES_PER_EPOCH, executor=executor
    )


def test_results_come_in_the_order_asked_with_a_bounded_window():
    with deadline(20):
        executor = ScriptedExecutor()
        pool = make(executor, max_pending=3)
        try:
            for epoch in range(2):
                for b in range(BATCHES_PER_EPOCH):
                    assert pool.get(epoch, b) == task_of(epoch, b) ** 2
            # Each position submitted once, never more than 3 past the one asked for.
            assert len(executor.submitted) == len(set(executor.submitted))
            assert max(executor.submitted) <= 2 * BATCHES_PER_EPOCH - 1 + 3
            assert pool.get(0, 2) == 4  # going back computes it again
        finally:
            pool.close()
        assert executor.stopped


def test_a_lost_worker_is_replaced_its_tasks_computed_again_and_a_warning_names_it():
    with deadline(20):
        executor = ScriptedExecutor(kill=[2])
        pool = make(executor)
        try:
            with pytest.warns(RuntimeWarning) as warned:
                got = [pool.get(0, b) for b in range(BATCHES_PER_EPOCH)]
            assert got == [b * b for b in range(BATCHES_PER_EPOCH)]
        finally:
            pool.close()
    (notice,) = [str(w.message) for w in warned]
    assert notice.startswith("worker w vanished while computing batch 2 of epoch 0; ")
    assert "started worker w1 in its place, computing" in notice


def test_a_task_that_loses_two_workers_raises_naming_it():
    with deadline(20):
        pool = make(ScriptedExecutor(kill=[3, 3]))
        with pytest.warns(RuntimeWarning), pytest.raises(WorkerError) as raised:
            for b in range(BATCHES_PER_EPOCH):
                pool.get(0, b)
        assert str(raised.value).startswith("batch 3 of epoch 0 killed the 2 workers")
        assert pool.closed


def test_losses_beyond_the_restart_limit_raise():
    kills = list(range(scheduler.MAX_RESTARTS + 1))  # one loss for each of these tasks
    with deadline(20):
        pool = make(ScriptedExecutor(kill=kills), max_pending=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            with pytest.raises(WorkerError, match="more than the 3 the pool replaces"):
                for b in range(BATCHES_PER_EPOCH):
                    pool.get(0, b)


def test_a_failed_task_raises_when_it_is_asked_for_with_the_workers_traceback():
    def tasks(epoch, batch_index):
        return -1 if batch_index == 1 else batch_index

    with deadline(20):
        pool = make(ScriptedExecutor(), tasks=tasks)
        assert pool.get(0, 0) == 0
        with pytest.raises(WorkerError) as raised:
            pool.get(0, 1)
        message = str(raised.value)
        assert message.startswith("batch 1 of epoch 0 failed in a worker: negative")
        assert "Worker traceback:\nTraceback" in message
        with pytest.raises(WorkerError, match="stopped"):
            pool.get(0, 2)

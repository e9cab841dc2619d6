"""The Executor contract, checked on both local executors (threads and processes).

What the scheduler relies on, and what a new executor must do: ``submit`` takes a task only
when a worker has room; every submitted task is reported exactly once (done, failed, or lost
with its worker); a lost worker's tasks are named, its replacement works, and ``stop`` leaves
no process behind. ``compute`` here is a plain function of the task, so that each result can
be checked against the task it came from. This module must not import Keras or TensorFlow.
"""

from __future__ import annotations

import functools
import operator
import os
import signal
import time

import numpy as np
import pytest
from support import assert_gone, deadline, result_slots_held

from parallel_audio.pool.executor import Executor
from parallel_audio.pool.messages import TaskDone, TaskFailed, WorkersLost
from parallel_audio.pool.options import PoolOptions
from parallel_audio.pool.process_backend import TASKS_PER_WORKER, ProcessExecutor
from parallel_audio.pool.thread_backend import ThreadExecutor

#: Tasks each executor holds at most per worker: one a thread computes; a process's two.
PER_WORKER = {ThreadExecutor: 1, ProcessExecutor: TASKS_PER_WORKER}
EXECUTORS = [ThreadExecutor, ProcessExecutor]


def started(kind: type[Executor], compute, num_workers: int = 2) -> Executor:
    backend = "threads" if kind is ThreadExecutor else "processes"
    executor = kind()
    executor.start(PoolOptions(num_workers=num_workers, max_pending=4, backend=backend), compute)
    return executor


def collect(executor: Executor, count: int, timeout: float = 30.0) -> list:
    """Events until ``count`` tasks have been reported (done, failed or lost)."""
    events, reported = [], 0
    end = time.monotonic() + timeout
    while reported < count:
        assert time.monotonic() < end, f"only {reported} of {count} tasks reported: {events}"
        for event in executor.results(0.5):
            events.append(event)
            reported += len(event.task_ids) if isinstance(event, WorkersLost) else 1
    return events


def task_ids_of(events) -> list[int]:
    ids = []
    for event in events:
        ids += list(event.task_ids) if isinstance(event, WorkersLost) else [event.task_id]
    return ids


@pytest.mark.parametrize("kind", EXECUTORS)
def test_submit_takes_what_the_workers_have_room_for_and_every_task_comes_back_once(kind):
    # compute(task) = a 3 x 4 array filled with the task: each result names its task.
    compute = functools.partial(np.full, (3, 4))
    with deadline(60):
        executor = started(kind, compute)
        try:
            room = 2 * PER_WORKER[kind]
            if kind is ProcessExecutor:  # tasks go out as soon as the processes start
                assert len(executor.workers()) == 2
            accepted = [t for t in range(100, 100 + room + 3) if executor.submit(t, t)]
            assert accepted == list(range(100, 100 + room))
            events = collect(executor, room)
            assert sorted(task_ids_of(events)) == accepted
            for event in events:
                assert isinstance(event, TaskDone)
                np.testing.assert_array_equal(event.result, np.full((3, 4), event.task_id))
            # Room again once results came back; many more, more than once each worker's room.
            pending = list(range(200, 240))
            done = []
            while pending or len(done) < 40:
                while pending and executor.submit(pending[0], pending[0]):
                    pending.pop(0)
                done += collect(executor, 1)
            assert sorted(task_ids_of(done)) == list(range(200, 240))
            assert all(np.array_equal(e.result, np.full((3, 4), e.task_id)) for e in done)
            assert executor.results(0.2) == []  # nothing reported twice
        finally:
            executor.stop()


@pytest.mark.parametrize("kind", EXECUTORS)
def test_an_exception_is_a_failed_task_with_its_traceback_and_the_workers_go_on(kind):
    compute = functools.partial(operator.truediv, 6.0)  # compute(0) raises
    with deadline(60):
        executor = started(kind, compute, num_workers=1)
        try:
            assert executor.submit(1, 0)
            (failed,) = collect(executor, 1)
            assert isinstance(failed, TaskFailed) and failed.task_id == 1
            assert failed.description.startswith("failed in a worker: ZeroDivisionError")
            assert "ZeroDivisionError" in failed.traceback and "Traceback" in failed.traceback
            assert isinstance(failed.cause, ZeroDivisionError)
            assert executor.submit(2, 3)
            (done,) = collect(executor, 1)
            assert isinstance(done, TaskDone) and done.result == 2.0
        finally:
            executor.stop()


def test_a_killed_process_is_reported_lost_with_its_tasks_and_replaced():
    compute = functools.partial(time.sleep)  # compute(seconds): long enough to be killed in
    with deadline(60):
        executor = started(ProcessExecutor, compute, num_workers=1)
        try:
            (before,) = executor.workers()
            assert executor.submit(7, 30.0) and executor.submit(8, 0.0)
            time.sleep(0.5)  # it takes task 7
            os.kill(before.pid, signal.SIGKILL)
            (lost,) = collect(executor, 2)
            assert isinstance(lost, WorkersLost)
            assert lost.workers == (before.name,)
            assert lost.task_ids == (7, 8) and lost.culprit == 7
            assert f"(pid {before.pid}) was killed by SIGKILL" in lost.reason
            assert not executor.submit(9, 0.0)  # a lost worker gets no task
            started_phrase = executor.replace(lost)
            (after,) = executor.workers()
            assert after.pid != before.pid and f"(pid {after.pid}) in its place" in started_phrase
            assert executor.submit(9, 0.0)
            (done,) = collect(executor, 1)
            assert isinstance(done, TaskDone) and done.task_id == 9
        finally:
            executor.stop()
        assert_gone([before.pid, after.pid])


def test_stop_leaves_no_process_and_no_result_slot_behind():
    compute = functools.partial(np.full, (64, 1024))  # a result large enough for the slots
    with deadline(60):
        executor = started(ProcessExecutor, compute)
        pids = [w.pid for w in executor.workers()]
        for round_number in range(2):  # the first result sizes the slots; the second uses them
            for t in range(2):
                assert executor.submit(2 * round_number + t, float(t))
            collect(executor, 2)
        assert result_slots_held(os.getpid())
        executor.stop()
        executor.stop()  # idempotent
        assert_gone(pids)
        assert not result_slots_held(os.getpid())

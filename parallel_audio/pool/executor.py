"""The interface every executor implements: how the scheduler has tasks computed by workers.

An executor owns workers (threads, local processes, or actors on a cluster) and runs one
callable, ``compute``, on the tasks it is given. It knows nothing of what a task means: it
never orders, retries, drops or gives up on one. The scheduler
(:mod:`~parallel_audio.pool.scheduler`) decides all of that; it is the executor's only
caller. A new executor (a cluster's) implements the six methods below and nothing else.

Contract
--------
- ``start(options, compute)`` is called once, first. ``compute`` and every task are
  picklable; ``compute(task)`` is pure (the same task gives the same result wherever it runs)
  and may be sent to each worker once, at its start. ``start`` raises if no worker can start.
- ``submit(task_id, task)`` hands a task to a worker that has room for it now and returns
  True, or returns False, and keeps nothing, when no worker has (the scheduler tries again
  after the next events). It never blocks for long and is safe from any thread. An executor
  gives each worker a few tasks at most (two: one it computes and the next), so that the
  scheduler, not the executor, decides what comes next.
- ``results(timeout)`` waits up to ``timeout`` seconds for something to happen and returns
  what did, as events (:class:`~parallel_audio.pool.messages.TaskDone`,
  :class:`~parallel_audio.pool.messages.TaskFailed`,
  :class:`~parallel_audio.pool.messages.WorkersLost`), possibly none. It is called from one
  thread at a time (the scheduler's dispatcher), which is also the only caller of
  ``replace``. Every submitted task is reported exactly once: done, failed, or lost with its
  worker (a task a worker finished before it died is reported done, before the loss).
  An exception it raises is fatal to the pool.
- ``replace(lost)`` starts workers in place of those a ``WorkersLost`` named and returns
  what it started, as a phrase for the user ("started worker w-4 (pid 81) in its place").
  The scheduler calls it unless it gives up (too many deaths); lost workers never get a
  task again either way.
- ``wake()`` makes a ``results`` call in progress return soon; safe from any thread.
- ``stop()`` stops every worker (asked first, then killed after a grace period), frees what
  the executor holds, and leaves no process behind; idempotent. No other method is called
  after it, except ``workers``.
- ``workers()`` describes the workers (name, process id if local): the ones started, each
  lost one until it is replaced.

The local executors are :class:`~parallel_audio.pool.thread_backend.ThreadExecutor` and
:class:`~parallel_audio.pool.process_backend.ProcessExecutor`; the scheduler builds the one
:class:`~parallel_audio.pool.options.PoolOptions` names unless it is given another.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from parallel_audio.pool.messages import Event, WorkersLost
from parallel_audio.pool.options import PoolOptions

__all__ = ["Executor", "WorkerInfo"]


@dataclass(frozen=True)
class WorkerInfo:
    """One live worker, as an executor describes it.

    Attributes
    ----------
    name : str
        The worker's name, unique within its executor.
    pid : int, optional
        Its process id when it is a process of this machine; None for a thread or a
        worker elsewhere.
    """

    name: str
    pid: int | None = None


class Executor(abc.ABC):
    """Runs ``compute`` on tasks in workers, for the scheduler (see the module's contract)."""

    @abc.abstractmethod
    def start(self, options: PoolOptions, compute: Callable[[Any], Any]) -> None:
        """Start ``options.num_workers`` workers, each able to run ``compute``.

        Parameters
        ----------
        options : PoolOptions
            The pool's options (workers, timeouts, GPU hiding).
        compute : callable
            ``compute(task) -> result``, picklable and pure.

        Raises
        ------
        Exception
            When the workers cannot be started; nothing is left running then.
        """

    @abc.abstractmethod
    def submit(self, task_id: int, task: Any) -> bool:
        """Hand ``task`` to a worker with room for it.

        Parameters
        ----------
        task_id : int
            The scheduler's name for the task, reported back with its outcome.
        task : object
            Picklable; the argument of ``compute``.

        Returns
        -------
        bool
            True if a worker took it; False if none has room now (nothing is kept).
        """

    @abc.abstractmethod
    def results(self, timeout: float) -> list[Event]:
        """Wait up to ``timeout`` seconds for outcomes and losses; return them.

        Parameters
        ----------
        timeout : float
            Seconds to wait at most when nothing has happened yet.

        Returns
        -------
        list of TaskDone, TaskFailed or WorkersLost
            In the order they happened; possibly empty.
        """

    @abc.abstractmethod
    def replace(self, lost: WorkersLost) -> str:
        """Start workers in place of the ones ``lost`` names.

        Parameters
        ----------
        lost : WorkersLost
            An event this executor's ``results`` returned.

        Returns
        -------
        str
            What was started, as a phrase for a warning.
        """

    @abc.abstractmethod
    def wake(self) -> None:
        """Make a ``results`` call in progress return soon."""

    @abc.abstractmethod
    def stop(self) -> None:
        """Stop every worker and free what the executor holds; idempotent."""

    @abc.abstractmethod
    def workers(self) -> list[WorkerInfo]:
        """Describe the workers, a lost one until it is replaced.

        Returns
        -------
        list of WorkerInfo
        """

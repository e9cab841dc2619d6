"""The pool's messages, typed, with named fields (never tuples read by position).

What a worker process and its parent send each other, and what an executor reports to the
scheduler. A worker process and its parent exchange the first kind through the worker's two pipes,
pickled; every executor, local or not, reports the second kind from
:meth:`~parallel_audio.pool.executor.Executor.results`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "Assignment",
    "Event",
    "Failure",
    "InlineResult",
    "Ready",
    "SharedResult",
    "Slot",
    "TaskDone",
    "TaskFailed",
    "WorkerMessage",
    "WorkersLost",
]


# --- Between a worker process and its parent -----------------------------------------------


@dataclass(frozen=True)
class Slot:
    """A result slot of shared memory the parent lends a worker for one task."""

    number: int
    size: int


@dataclass(frozen=True)
class Assignment:
    """Parent to worker: compute ``task``; write its arrays to ``slot`` if they fit."""

    task_id: int
    task: Any
    slot: Slot | None


@dataclass(frozen=True)
class Ready:
    """Worker to parent: started, configuration loaded; from here a death is a task's doing."""


@dataclass(frozen=True)
class SharedResult:
    """Worker to parent: a result whose arrays are in the shared-memory slot ``slot``.

    ``header`` is the result pickled with its arrays out of band (protocol 5); ``spans``
    holds each array's (offset, size) in the slot, in the order pickle asks for them.
    """

    task_id: int
    header: bytes
    spans: list[tuple[int, int]]
    slot: int


@dataclass(frozen=True)
class InlineResult:
    """Worker to parent: a result whose arrays follow in the pipe as raw messages of ``sizes``."""

    task_id: int
    header: bytes
    sizes: list[int]


@dataclass(frozen=True)
class Failure:
    """Worker to parent: computing the task raised.

    ``exception`` is the exception pickled by cloudpickle (None if it does not pickle),
    ``description`` its repr, ``traceback`` the worker's formatted traceback.
    """

    task_id: int
    exception: bytes | None
    description: str
    traceback: str


#: What a worker process sends its parent.
WorkerMessage = Ready | SharedResult | InlineResult | Failure


# --- From an executor to the scheduler -----------------------------------------------------


@dataclass(frozen=True)
class TaskDone:
    """A task's result, unpickled in the consumer's process."""

    task_id: int
    result: Any = field(repr=False)


@dataclass(frozen=True)
class TaskFailed:
    """Computing a task raised (or its result could not be brought back).

    Attributes
    ----------
    task_id : int
    description : str
        What went wrong, in one line, as a predicate of the task ("failed in a worker:
        ValueError('bad')", "cannot be unpickled in the parent: ...").
    traceback : str
        The worker's formatted traceback, or "" if there is none.
    cause : BaseException, optional
        The exception itself, when it could be brought back.
    """

    task_id: int
    description: str
    traceback: str = ""
    cause: BaseException | None = None


@dataclass(frozen=True)
class WorkersLost:
    """Workers died, were killed as hung, or can no longer be watched; they are gone.

    Attributes
    ----------
    workers : tuple of str
        The lost workers' names.
    task_ids : tuple of int
        The tasks they held and did not finish, in the order they were handed to them (their
        finished ones were reported before this). Nothing computes them now.
    culprit : int, optional
        The task the single lost worker was computing when it died, the likely cause of the
        death; None when no task is to blame (it died starting, or its watcher died).
    reason : str
        How they were lost, for the user ("worker w-1 (pid 12) was killed by SIGKILL").
    """

    workers: tuple[str, ...]
    task_ids: tuple[int, ...]
    culprit: int | None
    reason: str


#: What :meth:`~parallel_audio.pool.executor.Executor.results` returns.
Event = TaskDone | TaskFailed | WorkersLost

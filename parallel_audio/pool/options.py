"""The pool's options, one frozen object, and how ``cores`` becomes a number of workers."""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["BACKENDS", "PoolOptions", "resolve_num_workers"]

#: The local executors: worker processes (the default), or threads (``debug=True``).
BACKENDS = ("processes", "threads")


@dataclass(frozen=True)
class PoolOptions:
    """How a pool runs its workers.

    Parameters
    ----------
    num_workers : int
        Workers, >= 1.
    max_pending : int
        Tasks computed ahead of the one being asked for, >= 1.
    backend : {"processes", "threads"}
        Worker processes, or threads of this process (breakpoints stop in the callable).
    hide_gpus : bool
        Set ``CUDA_VISIBLE_DEVICES=-1`` in worker processes.
    batch_timeout : float, optional
        Seconds a worker process may spend on one task; one that takes longer is taken for
        hung, killed and replaced like a worker that died. None waits forever. Threads are
        never timed (a breakpoint would trip it).
    """

    num_workers: int
    max_pending: int
    backend: str = "processes"
    hide_gpus: bool = False
    batch_timeout: float | None = None

    def __post_init__(self) -> None:
        if self.num_workers < 1:
            raise ValueError(f"a pool needs at least one worker, got {self.num_workers}")
        if self.max_pending < 1:
            raise ValueError(f"max_pending must be at least 1, got {self.max_pending}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {self.backend!r}")


def resolve_num_workers(cores: int | float) -> int:
    """Workers for a ``cores`` setting, as the reference counts them.

    A fraction of this machine's cores (at least 1); -1 for all of them; an int as is, but
    no more than the machine has; 0 (no workers: the caller's thread computes).

    Parameters
    ----------
    cores : int or float
        The generator's ``cores``.

    Returns
    -------
    int
    """
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    available = available or os.cpu_count() or 1
    if isinstance(cores, float):
        return max(1, round(cores * available))
    if cores == -1:
        return available
    return min(int(cores), available)

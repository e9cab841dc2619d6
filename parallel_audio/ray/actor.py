"""The Ray actor that computes tasks with ``compute``, received once when it starts.

An actor is a worker process on any node of a Ray cluster: it unpickles the pool's
``compute`` (the iterator's frozen configuration, callbacks by value, the runtime's native
frontend rebuilt as it is unpickled) when it starts and then computes one task per call,
exactly as a local worker process does. It never raises: an exception in the pipeline or a
callback comes back as a :class:`~parallel_audio.pool.messages.Failure`, the exception (when
it pickles) with its traceback text, notes included (the pipeline's note names the file), so
the training process raises the same ``WorkerError`` a local worker's failure gives, rather
than whatever Ray would wrap it in.

This module imports neither Ray nor TensorFlow: the executor turns the class into an actor
(``ray.remote(TaskActor)``).
"""

from __future__ import annotations

import os
import pickle
import socket
from typing import Any, NamedTuple

from parallel_audio.pool.messages import Failure
from parallel_audio.pool.worker_loop import failure

__all__ = ["ActorOutcome", "TaskActor"]


class ActorOutcome(NamedTuple):
    """What one call of :meth:`TaskActor.compute` gives back."""

    #: ``compute(task)``, or None if it raised.
    result: Any
    #: What it raised, or None.
    failure: Failure | None


class TaskActor:
    """Holds ``compute`` and runs it on the tasks it is sent, one at a time.

    Parameters
    ----------
    compute : bytes
        The pool's ``compute(task)``, pickled by
        :func:`~parallel_audio.callback_pickling.pickle_for_workers`.
    hide_gpus : bool
        Set ``CUDA_VISIBLE_DEVICES=-1`` (Ray already hides GPUs from an actor that asked
        for none; this keeps the local workers' option true here too).
    """

    def __init__(self, compute: bytes, hide_gpus: bool) -> None:
        if hide_gpus:
            os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
        self._compute = pickle.loads(compute)

    def compute(self, task_id: int, task: Any) -> ActorOutcome:
        """Compute one task; an exception becomes the outcome's ``failure``.

        Parameters
        ----------
        task_id : int
            The scheduler's name for the task, returned in a failure.
        task : object
            The argument of ``compute``.

        Returns
        -------
        ActorOutcome
        """
        try:
            return ActorOutcome(self._compute(task), None)
        except Exception as error:  # every failure goes back to the training process
            return ActorOutcome(None, failure(task_id, error))

    def location(self) -> tuple[str, str, int]:
        """Return the Ray node id, the host's name and the process id this actor runs in."""
        import ray

        return ray.get_runtime_context().get_node_id(), socket.gethostname(), os.getpid()

"""A worker process's main loop: take a task, compute it, send the result back; until told to stop.

A worker receives the pickled ``compute`` once, at its start, then
:class:`~parallel_audio.pool.messages.Assignment` messages through its task pipe, and sends
one message per task through its result pipe (:mod:`~parallel_audio.pool.transport`). It
reports every exception of a task as a :class:`~parallel_audio.pool.messages.Failure` and
goes on. End-of-file on its task pipe (the parent closed it, or died) makes it leave; so does
a broken result pipe. Ctrl-C is its parent's to handle.
"""

from __future__ import annotations

import os
import pickle
import queue
import signal
import threading
import traceback
from collections.abc import Sequence
from typing import Any

import cloudpickle

from parallel_audio.pool.messages import Assignment, Failure, InlineResult, Ready, SharedResult
from parallel_audio.pool.transport import SlotMappings, encode_result

__all__ = ["run_worker", "traceback_text"]


def traceback_text(error: BaseException) -> str:
    """Return an exception's traceback, formatted as Python prints it."""
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def failure(task_id: int, error: BaseException) -> Failure:
    """Describe a failed task picklably: the exception if it pickles, and its text.

    cloudpickle sends an exception class defined in the user's main module back by value;
    the parent then raises the very class it defined (cloudpickle keeps a class sent by
    value and back the same class).
    """
    try:
        payload = cloudpickle.dumps(error)
    except Exception:  # an unpicklable exception still reaches the parent as text
        payload = None
    return Failure(task_id, payload, repr(error), traceback_text(error))


def compute_and_encode(
    compute: Any, assignment: Assignment, mappings: SlotMappings
) -> tuple[SharedResult | InlineResult | Failure, list[memoryview]]:
    """Compute a task; return the message reporting it and the raw arrays to send after it."""
    try:
        result = compute(assignment.task)
        return encode_result(assignment.task_id, result, assignment.slot, mappings)
    except BaseException as error:  # report everything; the parent decides
        return failure(assignment.task_id, error), []


def _read_tasks(tasks: Any, inbox: queue.SimpleQueue, stopped: threading.Event) -> None:
    """Move tasks from the pipe to the inbox as they come; end-of-file stops the worker.

    Read at once, tasks never fill the pipe, so the parent never blocks sending one while
    the worker blocks sending a result. End-of-file means the parent closed the pipe or died.
    """
    try:
        while True:
            inbox.put(tasks.recv())
    except (EOFError, OSError):
        stopped.set()
        inbox.put(None)


def run_worker(
    compute_bytes: bytes,
    tasks: Any,
    results: Any,
    hide_gpus: bool,
    slot_descriptors: Sequence[int] = (),
) -> None:
    """Run a worker process until its parent closes its task pipe or goes.

    Parameters
    ----------
    compute_bytes : bytes
        ``compute``, pickled for the workers (callbacks by value).
    tasks, results : multiprocessing.connection.Connection
        The worker's ends of its task and result pipes.
    hide_gpus : bool
        Set ``CUDA_VISIBLE_DEVICES=-1`` before anything is loaded.
    slot_descriptors : sequence of int
        Every result slot's descriptor, by slot number.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hide_gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    # Whatever compute needs (the native frontend) is built as it is unpickled: nothing to warm.
    compute = pickle.loads(compute_bytes)
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    stopped = threading.Event()
    threading.Thread(target=_read_tasks, args=(tasks, inbox, stopped), daemon=True).start()
    mappings = SlotMappings(slot_descriptors)
    try:
        # From here on a death is the task's doing, not the start-up's.
        results.send(Ready())
        while True:
            assignment = inbox.get()
            if assignment is None or stopped.is_set():
                return
            message, raws = compute_and_encode(compute, assignment, mappings)
            results.send(message)
            for raw in raws:
                results.send_bytes(raw)
            del message, raws  # the result's memory goes back before the next one
    except (BrokenPipeError, EOFError, OSError):
        pass  # the parent closed its end of the pipes (close()) or died: nobody to tell

"""Workers as threads of the consumer's process (``debug=True``): breakpoints stop in them.

Each thread takes a task, runs ``compute`` on it and reports the outcome; a thread computes
one task at a time, so ``submit`` accepts a task only when a thread is idle. Threads share
the process with the consumer: nothing is pickled, nothing is timed, and nothing can die on
its own (an exception is a task's failure); a thread found stopped all the same is fatal.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from parallel_audio.errors import WorkerError
from parallel_audio.pool.executor import Executor, WorkerInfo
from parallel_audio.pool.messages import Event, TaskDone, TaskFailed, WorkersLost
from parallel_audio.pool.options import PoolOptions
from parallel_audio.pool.worker_loop import traceback_text

__all__ = ["ThreadExecutor"]

#: How long stop() waits for the threads to finish the task they compute, in seconds.
SHUTDOWN_GRACE = 2.0

_STOP = object()


class ThreadExecutor(Executor):
    """Runs ``compute`` in threads of this process; see :class:`Executor` for the contract."""

    def __init__(self) -> None:
        self._compute: Callable[[Any], Any] | None = None
        self._inbox: queue.SimpleQueue = queue.SimpleQueue()
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._idle = 0  # threads with no task, less tasks submitted and not yet taken
        self._stopped = False

    def start(self, options: PoolOptions, compute: Callable[[Any], Any]) -> None:
        """Start ``options.num_workers`` threads."""
        self._compute = compute
        for number in range(options.num_workers):
            thread = threading.Thread(
                target=self._serve, name=f"parallel_audio-worker-{number}", daemon=True
            )
            self._threads.append(thread)
            with self._lock:
                self._idle += 1
            thread.start()

    def submit(self, task_id: int, task: Any) -> bool:
        """Queue a task if a thread is idle to take it."""
        with self._lock:
            if self._stopped or self._idle <= 0:
                return False
            self._idle -= 1
        self._inbox.put((task_id, task))
        return True

    def _serve(self) -> None:
        while True:
            item = self._inbox.get()
            if item is _STOP:
                return
            task_id, task = item
            try:
                event: Event = TaskDone(task_id, self._compute(task))
            except BaseException as error:  # report everything; the scheduler decides
                event = TaskFailed(
                    task_id, f"failed in a worker: {error!r}", traceback_text(error), error
                )
            with self._lock:
                self._idle += 1
            self._outbox.put(event)

    def results(self, timeout: float) -> list[Event]:
        """Return the outcomes reported so far, waiting up to ``timeout`` for the first."""
        events = []
        try:
            item = self._outbox.get(timeout=timeout)
            while True:
                if item is not _STOP:
                    events.append(item)
                item = self._outbox.get_nowait()
        except queue.Empty:
            pass
        if not self._stopped and not all(thread.is_alive() for thread in self._threads):
            raise WorkerError("a worker thread stopped unexpectedly")
        return events

    def replace(self, lost: WorkersLost) -> str:
        """Threads are never lost; there is nothing to replace."""
        raise NotImplementedError("worker threads are never reported lost")

    def wake(self) -> None:
        """Make a ``results`` call in progress return."""
        self._outbox.put(_STOP)

    def stop(self) -> None:
        """Let each thread finish its task, and wait SHUTDOWN_GRACE for them at most.

        A thread still computing then is left to finish on its own (a daemon thread: it does
        not hold up the interpreter's exit); nothing reads its result.
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        for _ in self._threads:
            self._inbox.put(_STOP)
        self.wake()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(SHUTDOWN_GRACE)

    def workers(self) -> list[WorkerInfo]:
        """Return the threads, by name (no process ids)."""
        return [WorkerInfo(thread.name) for thread in self._threads if thread.is_alive()]

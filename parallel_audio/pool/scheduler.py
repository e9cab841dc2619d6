"""The scheduler: what is computed when, in which order it is handed out, and lost workers.

Tasks are numbered by their position in an endless sequence of epochs (``epoch *
batches_per_epoch + batch_index``); the scheduler turns a position into its task with the
pure ``tasks(epoch, batch_index)`` it is given, and has an :class:`~parallel_audio.pool.
executor.Executor` compute it with ``compute``. It never looks inside a task or a result.

After serving position p the scheduler keeps positions p+1 .. p+max_pending submitted (the
prefetch window); asking for a position outside it submits that one at once, first in line.
Results are handed out by position, so the order workers finish in never shows. Tasks wait
in the scheduler's backlog until the executor has room for them (a worker holds two at most),
so a slow task holds up at most the one queued behind it, and what is wanted now always goes
next. A dispatcher thread collects the executor's events and hands out the backlog while the
consumer is busy.

A lost worker (died, killed as hung, or its fork server died) is replaced at once: a fresh
worker takes its place, the tasks it held are computed again, bit for bit the same (a task is
a pure function of its position), and the next ``get`` issues a RuntimeWarning naming the
worker and how it was lost. Workers that keep dying raise WorkerError instead: at the next
``get`` after more than MAX_RESTARTS losses within RESTART_WINDOW seconds, and when a task
that MAX_DEATHS_PER_BATCH workers died computing is asked for. An exception in a worker
raises WorkerError, with the worker's traceback, when its task is asked for, so the error a
consumer sees does not depend on which worker got to which task first. After a WorkerError
the workers are stopped.
"""

from __future__ import annotations

import collections
import threading
import time
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from parallel_audio.errors import WorkerError
from parallel_audio.pool.executor import Executor
from parallel_audio.pool.messages import Event, TaskDone, TaskFailed, WorkersLost
from parallel_audio.pool.options import PoolOptions
from parallel_audio.pool.process_backend import ProcessExecutor
from parallel_audio.pool.thread_backend import ThreadExecutor

__all__ = ["BatchScheduler"]

#: How often a waiting consumer wakes to check on the dispatcher, in seconds. Results and
#: worker deaths wake it at once; this only bounds a check for the unexpected.
LIVENESS_INTERVAL = 0.2
#: How long the dispatcher waits for the executor's events before it looks again, in seconds.
DISPATCH_INTERVAL = 1.0
#: How long stop() waits for the dispatcher to finish its round, in seconds.
DISPATCHER_GRACE = 2.0
#: Workers that may be lost, and replaced, within RESTART_WINDOW seconds; one more raises.
MAX_RESTARTS = 3
#: The window MAX_RESTARTS counts in, in seconds.
RESTART_WINDOW = 60.0
#: Workers that may die computing the same task before that task is given up on.
MAX_DEATHS_PER_BATCH = 2
#: The executor of each local backend of PoolOptions.
LOCAL_EXECUTORS: dict[str, type[Executor]] = {
    "processes": ProcessExecutor,
    "threads": ThreadExecutor,
}

_MISSING = object()


@dataclass(frozen=True)
class _Failure:
    """A task that failed: the error to raise when it is asked for."""

    error: WorkerError


class _State:
    """What the consumers and the dispatcher thread share, under ``lock``.

    Holds no reference to the BatchScheduler, so that the scheduler can be collected, and
    its finalizer stop everything, while the dispatcher runs.

    ``tasks`` holds every submitted task not yet received, by position; ``backlog`` the
    positions of those not yet handed to the executor, in the order to hand them out;
    ``ready`` the received results (or failures) no consumer has taken.
    """

    def __init__(
        self,
        executor: Executor,
        tasks: Callable[[int, int], Any],
        options: PoolOptions,
        batches_per_epoch: int,
    ) -> None:
        self.executor = executor
        self.make_task = tasks
        self.options = options
        self.batches_per_epoch = batches_per_epoch
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.tasks: dict[int, Any] = {}
        self.backlog: collections.deque[int] = collections.deque()
        self.ready: dict[int, Any] = {}
        # Positions consumers are waiting for, with how many wait for each: never dropped as
        # stale, whatever another consumer thread moved the window to.
        self.waiting: collections.Counter[int] = collections.Counter()
        self.next_to_submit = 0
        self.stopping = False
        self.fatal: WorkerError | None = None
        self.notices: list[str] = []  # warnings for a consumer's thread to issue
        self.losses: collections.deque[float] = collections.deque()
        self.deaths_by_position: collections.Counter[int] = collections.Counter()
        self.dispatcher: threading.Thread | None = None

    def describe(self, position: int) -> str:
        epoch, batch_index = divmod(position, self.batches_per_epoch)
        return f"batch {batch_index} of epoch {epoch}"

    def start(self, compute: Callable[[Any], Any]) -> None:
        self.executor.start(self.options, compute)
        self.dispatcher = threading.Thread(
            target=self.dispatch, name="parallel_audio-dispatcher", daemon=True
        )
        self.dispatcher.start()

    # --- The consumer's side, under the lock ---

    def submit(self, position: int) -> None:
        self.tasks[position] = self.make_task(*divmod(position, self.batches_per_epoch))
        self.backlog.append(position)

    def request(self, position: int) -> None:
        """Make sure ``position`` is submitted and first in line."""
        if position not in self.ready and position not in self.tasks:
            self.submit(position)
        if position in self.backlog and self.backlog[0] != position:
            self.backlog.remove(position)  # wanted now: first in line
            self.backlog.appendleft(position)

    def top_up(self, start: int) -> None:
        """Keep the positions after the one being served submitted, up to max_pending."""
        # Tasks the consumer has moved past are dropped if received, and never handed out
        # if not yet (they are computed again should they be asked for again); unless
        # another consumer thread waits for them.
        for stale in [p for p in self.ready if p < start - 1 and p not in self.waiting]:
            del self.ready[stale]
        stale = {p for p in self.backlog if p < start - 1 and p not in self.waiting}
        if stale:
            for position in stale:
                del self.tasks[position]
            self.backlog = collections.deque(p for p in self.backlog if p not in stale)
        # After a jump (random access far ahead or back) the window follows the consumer;
        # small steps back keep it, so the tasks just served are not computed again.
        max_pending = self.options.max_pending
        if not start <= self.next_to_submit <= start + 2 * max_pending:
            self.next_to_submit = start
        while self.next_to_submit < start + max_pending:
            position = self.next_to_submit
            if position not in self.tasks and position not in self.ready:
                self.submit(position)
            self.next_to_submit += 1

    def hand_out(self) -> None:
        """Hand the backlog, in order, to the executor until it has no room left.

        Called under the lock, by a consumer when it submits and by the dispatcher after
        each round of events, so that neither waits for the other to wake.
        """
        while self.backlog and not self.stopping and self.fatal is None:
            position = self.backlog[0]
            if not self.executor.submit(position, self.tasks[position]):
                return
            self.backlog.popleft()

    def check_alive(self) -> None:
        """Record a fatal error if the dispatcher stopped unexpectedly."""
        if self.fatal is None and self.dispatcher is not None and not self.dispatcher.is_alive():
            self.fatal = WorkerError("the thread collecting the workers' results stopped")

    def store(self, position: int, result: Any) -> None:
        """Keep a received result (under the lock) if it is still wanted."""
        if self.tasks.pop(position, None) is not None:
            self.ready[position] = result
            self.changed.notify_all()

    # --- The dispatcher thread ---

    def dispatch(self) -> None:
        """Collect the executor's events and hand out tasks until the pool stops."""
        try:
            while True:
                with self.lock:
                    if self.stopping or self.fatal is not None:
                        return
                    self.hand_out()
                for event in self.executor.results(DISPATCH_INTERVAL):
                    self.handle(event)
        except BaseException as error:  # never leave a consumer waiting for nothing
            with self.changed:
                if self.fatal is None and not self.stopping:
                    self.fatal = WorkerError(f"collecting the workers' results failed: {error!r}")
                    self.fatal.__cause__ = error
                self.changed.notify_all()

    def handle(self, event: Event) -> None:
        if isinstance(event, WorkersLost):
            self.replace(event)
            return
        if isinstance(event, TaskDone):
            result = event.result
        elif isinstance(event, TaskFailed):
            text = f"\n\nWorker traceback:\n{event.traceback}" if event.traceback else ""
            error = WorkerError(f"{self.describe(event.task_id)} {event.description}{text}")
            error.__cause__ = event.cause
            result = _Failure(error)
        else:
            raise TypeError(f"an executor reported {event!r}, which is no event")
        with self.lock:
            self.store(event.task_id, result)

    def replace(self, lost: WorkersLost) -> None:
        """Replace lost workers, unless too many were lost; hand their tasks out again."""
        how = lost.reason
        if lost.culprit is not None:
            how += f" while computing {self.describe(lost.culprit)}"
        if not self.count_restart(how):
            return
        started = self.executor.replace(lost)
        with self.changed:
            again = [p for p in lost.task_ids if p in self.tasks]
            culprit = lost.culprit
            if culprit in again:
                self.deaths_by_position[culprit] += 1
                deaths = self.deaths_by_position[culprit]
                if deaths >= MAX_DEATHS_PER_BATCH:
                    # Raised when the task is asked for, like any error of a task.
                    again.remove(culprit)
                    files = ", ".join(str(f) for f in getattr(self.tasks[culprit], "filenames", ()))
                    self.store(
                        culprit,
                        _Failure(
                            WorkerError(
                                f"{self.describe(culprit)} killed the {deaths} workers that "
                                f"computed it (the last: {how}); it is not computed again. "
                                f"Its files: {files}. The iterator is closed: create a new "
                                "one to continue."
                            )
                        ),
                    )
            # First in line again, in the order they are needed.
            self.backlog.extendleft(sorted(again, reverse=True))
            self.notices.append(f"{how}; {started}, computing {len(again)} batch(es) again")
            self.changed.notify_all()

    def count_restart(self, how: str) -> bool:
        """Count a loss towards MAX_RESTARTS; False (and a fatal error) if one too many."""
        now = time.monotonic()
        self.losses.append(now)
        while self.losses[0] < now - RESTART_WINDOW:
            self.losses.popleft()
        if len(self.losses) <= MAX_RESTARTS:
            return True
        with self.changed:
            self.fatal = WorkerError(
                f"{how}; {len(self.losses)} workers died within {RESTART_WINDOW:.0f} s, "
                f"more than the {MAX_RESTARTS} the pool replaces in that time. The "
                "iterator is closed: create a new one to continue."
            )
            self.changed.notify_all()
        return False

    # --- Stopping ---

    def stop(self) -> None:
        """Stop the dispatcher, then the executor; idempotent."""
        with self.changed:
            self.stopping = True
            self.changed.notify_all()
        self.executor.wake()
        if self.dispatcher is not None and self.dispatcher is not threading.current_thread():
            self.dispatcher.join(DISPATCHER_GRACE)
        self.executor.stop()


class BatchScheduler:
    """Computes tasks in workers, at most ``max_pending`` ahead of what has been asked for.

    See the module's description for the window, the order and what happens to workers that
    die. Safe from any number of consumer threads at once.

    Parameters
    ----------
    compute : callable
        ``compute(task) -> result``: picklable and pure; sent to each worker once.
    tasks : callable
        ``tasks(epoch, batch_index) -> task``: pure; called in the consumer's threads. It
        must not hold the consumer (an iterator) itself, so that the consumer can be
        collected while the workers run.
    options : PoolOptions
        The pool's options.
    batches_per_epoch : int
        Tasks per epoch.
    executor : Executor, optional
        A new, unstarted executor; by default the local one ``options.backend`` names.

    Raises
    ------
    SettingsError
        ``compute`` cannot be sent to worker processes (naming the callback in it).
    """

    def __init__(
        self,
        compute: Callable[[Any], Any],
        tasks: Callable[[int, int], Any],
        options: PoolOptions,
        *,
        batches_per_epoch: int,
        executor: Executor | None = None,
    ) -> None:
        if executor is None:
            executor = LOCAL_EXECUTORS[options.backend]()
        self._state = _State(executor, tasks, options, batches_per_epoch)
        self._finalizer = weakref.finalize(self, self._state.stop)
        try:
            self._state.start(compute)
        except BaseException:
            self.close()
            raise

    @property
    def num_workers(self) -> int:
        """Number of workers."""
        return len(self._state.executor.workers())

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the workers (empty with threads)."""
        return [w.pid for w in self._state.executor.workers() if w.pid is not None]

    def close(self) -> None:
        """Stop the workers and free what they hold; safe to call more than once."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        """Whether close() has run."""
        return not self._finalizer.alive

    def get(self, epoch: int, batch_index: int, *, advance: bool = True) -> Any:
        """Return the result of batch ``batch_index`` of ``epoch``, computing or waiting.

        Safe from any number of threads at once; each gets the result it asked for.

        Parameters
        ----------
        epoch, batch_index : int
            The task.
        advance : bool
            Move the prefetch window to the tasks after this one. False for a read aside
            from the sequence being consumed (a peek), which then leaves the window alone.

        Returns
        -------
        object
            What ``compute`` returned for the task.

        Raises
        ------
        WorkerError
            The task failed, workers kept dying, or the scheduler was closed.
        """
        if self.closed:
            raise _closed_error()
        state = self._state
        position = epoch * state.batches_per_epoch + batch_index
        with state.changed:
            state.waiting[position] += 1
            try:
                state.request(position)
                if advance:
                    state.top_up(position + 1)
                state.hand_out()
                while position not in state.ready and state.fatal is None and not state.stopping:
                    if position not in state.tasks:
                        # Another thread asking for the same task took it first.
                        state.request(position)
                        state.hand_out()
                    if not state.changed.wait(LIVENESS_INTERVAL):
                        state.check_alive()
                result = state.ready.pop(position, _MISSING) if state.fatal is None else _MISSING
            finally:
                state.waiting[position] -= 1
                if state.waiting[position] <= 0:
                    del state.waiting[position]
            fatal, notices = state.fatal, state.notices
            state.notices = []
        for notice in notices:
            warnings.warn(notice, RuntimeWarning, stacklevel=3)
        if fatal is not None or isinstance(result, _Failure):
            self.close()
            raise fatal if fatal is not None else result.error
        if result is _MISSING:  # stopped by close() from another thread
            raise _closed_error()
        return result


def _closed_error() -> WorkerError:
    return WorkerError(
        "the iterator's workers were stopped, by close() or after an earlier error; "
        "create a new iterator to continue"
    )

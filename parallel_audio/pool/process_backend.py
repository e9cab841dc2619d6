"""Workers as processes of this machine, forked by a clean fork server (the default executor).

Processes are forked by a fork server (see :mod:`~parallel_audio.worker_start`), never from
the parent, which may hold TensorFlow's threads, and never re-run the user's main module;
``compute`` reaches them pickled by :mod:`~parallel_audio.callback_pickling`, with callbacks
defined in ``__main__``, a notebook, a lambda or a closure by value.

Every worker process has two pipes of its own, tasks from the parent and results to it, and
holds at most TASKS_PER_WORKER tasks at a time. The parent thus knows which tasks each worker
holds, and a worker that dies, however it died, takes down nothing but its own pipes: a
message it was writing is cut short only in its own result pipe, which ends there (its only
writer is gone), and no lock shared with the other workers is left held. The parent's end of
a task pipe is that pipe's only writer: when the parent is gone, however it died, every
worker reads end-of-file and leaves. Results travel back through shared memory or the pipe
(:mod:`~parallel_audio.pool.transport`).

:meth:`ProcessExecutor.results` watches the result pipes and each process's sentinel. It
reports a worker lost when it dies, when it spends longer than ``batch_timeout`` on one task
or STARTUP_TIMEOUT_SECONDS on starting (it is killed), and, all of a fork server's workers at
once, when their fork server dies (nothing would report their deaths any more: they are
killed).
"""

from __future__ import annotations

import os
import pickle
import selectors
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from parallel_audio.callback_pickling import pickle_for_workers
from parallel_audio.pool.executor import Executor, WorkerInfo
from parallel_audio.pool.messages import (
    Assignment,
    Event,
    Failure,
    InlineResult,
    Ready,
    SharedResult,
    Slot,
    TaskDone,
    TaskFailed,
    WorkersLost,
)
from parallel_audio.pool.options import PoolOptions
from parallel_audio.pool.transport import ResultSlots, receive_arrays
from parallel_audio.pool.worker_loop import run_worker
from parallel_audio.worker_start import (
    InheritedDescriptor,
    fork_server_is_running,
    fork_server_pid,
    worker_context,
)

__all__ = ["ProcessExecutor"]

#: How long workers get to exit on their own before they are killed, in seconds.
SHUTDOWN_GRACE = 2.0
#: How long a worker process may take from its start to reporting ready, in seconds; one
#: that takes longer is killed and reported lost like a hung worker. Tasks are handed to a
#: worker as soon as it starts, so one stuck starting would otherwise hold them forever.
#: Starting takes well under a second (a fork of the fork server, unpickling ``compute``,
#: one frontend call); the margin is for a loaded machine and for callbacks whose modules are
#: slow to import.
STARTUP_TIMEOUT_SECONDS = 30.0
#: Attempts at starting a worker when the fork server dies as it is asked to fork one.
START_ATTEMPTS = 3
#: The exit code multiprocessing gives a worker whose fork server stopped reporting on it.
FORK_SERVER_LOST_EXITCODE = 255
#: Tasks a worker process holds at once: one it computes, and the next, so that it never
#: waits for the parent between two tasks. More would let a slow task hold up others that
#: another worker could have computed meanwhile.
TASKS_PER_WORKER = 2


def exit_description(exitcode: int | None) -> str:
    """Say how a process ended, from its exit code."""
    if exitcode is not None and exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


class _Worker:
    """One worker process, the parent's ends of its pipes, and the tasks it holds.

    ``assigned`` maps the id of every task sent to the worker and not yet answered to the
    result slot it was lent, in the order sent; the worker computes them in that order, so
    the first is the one it is working on.
    """

    def __init__(self, name: str, process: Any, tasks: Any, results: Any) -> None:
        self.name = name
        self.process = process
        self.tasks = tasks  # the parent's end of the task pipe
        self.results = results  # the parent's end of the result pipe
        self.assigned: dict[int, Slot | None] = {}
        self.ready = False  # once it says so
        # When it began the task it is computing (the first assigned), once ready.
        self.busy_since: float | None = None
        self.started_at = time.monotonic()
        self.hung = False  # killed for exceeding the batch timeout
        self.stuck_starting = False  # killed for exceeding the start-up timeout
        self.lost = False  # reported lost: never given a task again
        self.server_pid: int | None = None  # the fork server that forked it
        # A handle on the process that stays valid after its fork server is gone (then the
        # Process object takes it for dead, and its id may be reused once it is).
        self.pidfd: int | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def describe(self) -> str:
        return f"worker {self.name} (pid {self.pid})"

    def mark_progress(self) -> None:
        """Restart the task clock: a ready worker begins its next task, if it holds one."""
        self.busy_since = time.monotonic() if self.ready and self.assigned else None

    def close_channels(self) -> None:
        self.tasks.close()
        self.results.close()

    def kill(self) -> None:
        """Kill the process, also when its fork server, which reports on it, is gone."""
        if self.pidfd is not None:
            try:
                signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
            except ProcessLookupError:
                pass  # it had exited
        else:
            self.process.kill()

    def forget(self) -> None:
        """Let go of the process handle, once the process is gone or killed."""
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


class ProcessExecutor(Executor):
    """Runs ``compute`` in worker processes; see :class:`Executor` for the contract.

    ``submit`` may be called from any thread; ``results`` and ``replace`` from one (the
    scheduler's dispatcher). The workers, their tasks and the result slots are kept under
    one lock, held only briefly and never while waiting.
    """

    def __init__(self) -> None:
        self._options: PoolOptions | None = None
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._num_started = 0
        self._stopped = False
        self._slots: ResultSlots | None = None
        self._selector: selectors.BaseSelector | None = None
        self._wake_reader = self._wake_writer = -1
        # Names of the workers reported lost together because their fork server died.
        self._orphan_groups: set[tuple[str, ...]] = set()

    # --- Starting ---

    def start(self, options: PoolOptions, compute: Callable[[Any], Any]) -> None:
        """Pickle ``compute`` for the workers and start ``options.num_workers`` processes.

        Raises
        ------
        SettingsError
            ``compute`` (a callback in it) cannot be pickled; named.
        """
        self._options = options
        self._context = worker_context()
        self._compute_bytes = pickle_for_workers(compute, "the generator's configuration")
        self._slots = ResultSlots(options.num_workers * TASKS_PER_WORKER)
        self._wake_reader, self._wake_writer = os.pipe()
        os.set_blocking(self._wake_reader, False)
        os.set_blocking(self._wake_writer, False)
        # One selector for the executor's life, changed only when a worker is replaced:
        # cheaper than building the set of channels to wait on anew for every message.
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_reader, selectors.EVENT_READ, ("wake", None))
        for _ in range(options.num_workers):
            worker = self._start_worker()
            with self._lock:
                self._workers.append(worker)
            self._watch(worker)

    def _start_worker(self) -> _Worker:
        name = f"parallel_audio-worker-{self._num_started}"
        self._num_started += 1
        task_reader, task_writer = self._context.Pipe(duplex=False)
        result_reader, result_writer = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=run_worker,
            args=(
                self._compute_bytes,
                task_reader,
                result_writer,
                self._options.hide_gpus,
                tuple(InheritedDescriptor(d) for d in self._slots.descriptors),
            ),
            name=name,
            daemon=True,
        )
        try:
            self._start_process(process)
        except BaseException:
            task_writer.close()
            result_reader.close()
            raise
        finally:
            # The worker's copies are then the only ones: its death ends the result pipe,
            # and the parent's (the task pipe's only writer) ends the task pipe.
            task_reader.close()
            result_writer.close()
        worker = _Worker(name, process, task_writer, result_reader)
        worker.server_pid = fork_server_pid()
        if hasattr(os, "pidfd_open"):
            try:
                worker.pidfd = os.pidfd_open(process.pid)
            except OSError:  # an old kernel, or it is gone already (its sentinel says so)
                worker.pidfd = None
        return worker

    def _start_process(self, process: Any) -> None:
        """Start a worker process; start the fork server again if it dies meanwhile.

        multiprocessing starts a new fork server when it finds the last one dead, but one
        killed while it is being asked to fork is only seen dead when the request fails.
        """
        for attempt in range(START_ATTEMPTS):
            try:
                process.start()
                return
            except (ConnectionError, EOFError, FileNotFoundError):
                # It was killed: multiprocessing starts a new one once the old one can be
                # reaped, which a SIGKILL makes it within moments.
                server = fork_server_pid()
                end = time.monotonic() + 1.0
                while fork_server_is_running(server) and time.monotonic() < end:
                    time.sleep(0.01)
                if attempt + 1 == START_ATTEMPTS or fork_server_is_running(server):
                    raise

    # --- Handing out ---

    def submit(self, task_id: int, task: Any) -> bool:
        """Send a task, with a result slot, to the live worker holding fewest tasks.

        A send never blocks for long: a worker's reader thread empties its task pipe as tasks
        come.
        """
        with self._lock:
            if self._stopped:
                return False
            candidates = [w for w in self._workers if not w.lost]
            while candidates:
                worker = min(candidates, key=lambda w: len(w.assigned))
                if len(worker.assigned) >= TASKS_PER_WORKER:
                    return False
                slot = self._slots.take()
                try:
                    worker.tasks.send(Assignment(task_id, task, slot))
                except OSError:  # it died (its sentinel says so) and never saw the task
                    self._slots.give_back(slot)
                    candidates.remove(worker)
                    continue
                worker.assigned[task_id] = slot
                if worker.busy_since is None:
                    worker.mark_progress()
                return True
            return False

    # --- Watching ---

    def results(self, timeout: float) -> list[Event]:
        """Receive what the workers sent and notice the ones lost, waiting up to ``timeout``."""
        events: list[Event] = []
        ready = self._selector.select(timeout=timeout)
        # Results before deaths: a worker may have sent its last result, then died.
        for key, _ in sorted(ready, key=lambda event: event[0].data[0] == "death"):
            kind, worker = key.data
            if kind == "wake":
                self._drain_wake_pipe()
            elif worker.lost or worker not in self._workers:
                continue  # reported lost earlier in this round
            elif kind == "result":
                try:
                    self._receive(worker, events)
                except (EOFError, OSError):  # it died, perhaps mid-message
                    self._lose(worker, events)
            else:
                self._lose(worker, events)
        self._kill_hung_workers()
        return events

    def _receive(self, worker: _Worker, events: list[Event]) -> None:
        """Read one message from a worker; add the outcome it reports to ``events``."""
        message = worker.results.recv()
        if isinstance(message, Ready):
            with self._lock:
                worker.ready = True
                worker.mark_progress()
            return
        if isinstance(message, Failure):
            events.append(self._failed(message))
            raws = []
        else:
            if isinstance(message, SharedResult):
                with self._lock:  # the slot stays taken until given back below
                    raws = receive_arrays(message, worker.results, self._slots)
            else:
                raws = receive_arrays(message, worker.results, self._slots)
            try:
                events.append(TaskDone(message.task_id, pickle.loads(message.header, buffers=raws)))
            except Exception as error:
                events.append(
                    TaskFailed(
                        message.task_id, f"cannot be unpickled in the parent: {error!r}", "", error
                    )
                )
        with self._lock:
            if isinstance(message, InlineResult):
                self._slots.fit_arrays(raws)
            self._slots.give_back(worker.assigned.pop(message.task_id, None))
            worker.mark_progress()

    @staticmethod
    def _failed(message: Failure) -> TaskFailed:
        """Return the event of a failure, caused by the worker's exception if it unpickles here."""
        cause = None
        if message.exception is not None:
            try:
                cause = pickle.loads(message.exception)
            except Exception:  # the exception pickled but does not unpickle here
                cause = None
        return TaskFailed(
            message.task_id, f"failed in a worker: {message.description}", message.traceback, cause
        )

    def _lose(self, worker: _Worker, events: list[Event]) -> None:
        """Report a worker that died (or whose result pipe broke) lost, with what it held."""
        process = worker.process
        process.join(1.0)  # reaped: no zombie, and the exit code is known
        if self._fork_server_died(worker):
            self._lose_fork_server(worker.server_pid, events)
            return
        if process.is_alive():  # its result pipe broke, yet it lives: end it
            process.kill()
            process.join(1.0)
        # What it finished before it died still counts; a message cut short ends the pipe.
        try:
            while worker.results.poll():
                self._receive(worker, events)
        except (EOFError, OSError):
            pass
        how = f"{worker.describe()} {exit_description(process.exitcode)}"
        if worker.hung:
            how = (
                f"{worker.describe()} was killed for exceeding batch_timeout "
                f"({self._options.batch_timeout:g} s)"
            )
        elif worker.stuck_starting:
            how = (
                f"{worker.describe()} was killed for not getting ready within "
                f"{STARTUP_TIMEOUT_SECONDS:g} s of its start"
            )
        elif not worker.ready:
            how += " while starting (the reason, if it gave one, is on standard error)"
        held = self._retire(worker)
        # It computes its tasks in the order they were sent, so the first it still held is
        # the one it died on; unless it died starting.
        culprit = held[0] if held and worker.ready else None
        events.append(WorkersLost((worker.name,), tuple(held), culprit, how))

    def _retire(self, worker: _Worker) -> list[int]:
        """Stop watching a lost worker, close its pipes, free its slots; return what it held."""
        self._unwatch(worker)
        with self._lock:  # a consumer may be sending it a task
            worker.lost = True
            worker.close_channels()
            worker.forget()
            held = list(worker.assigned)
            for slot in worker.assigned.values():
                self._slots.give_back(slot)
            worker.assigned.clear()
        return held

    def _fork_server_died(self, worker: _Worker) -> bool:
        """Whether a worker's sentinel fired because its fork server, not the worker, died.

        The fork server reports a worker's exit code; multiprocessing gives 255 when the
        report is cut off. The fork server's pipes close as it exits, a moment before it can
        be seen dead: that moment is waited for.
        """
        if worker.server_pid is None or worker.process.exitcode != FORK_SERVER_LOST_EXITCODE:
            return not fork_server_is_running(worker.server_pid)
        end = time.monotonic() + 1.0
        while fork_server_is_running(worker.server_pid):
            if time.monotonic() > end:
                return False  # the worker itself exited with code 255
            time.sleep(0.01)
        return True

    def _lose_fork_server(self, dead_server: int | None, events: list[Event]) -> None:
        """Report every worker of a dead fork server lost, killed, with what they held.

        They may live on, but nothing would report their deaths any more. What they finished
        before they were killed is reported done; no task is blamed.
        """
        orphans = [w for w in self._workers if w.server_pid == dead_server and not w.lost]
        for orphan in orphans:
            orphan.kill()
        held: list[int] = []
        for orphan in orphans:
            # Without a process handle it could not be killed: it leaves once its task pipe
            # is closed, after the task it computes.
            grace = SHUTDOWN_GRACE if orphan.pidfd is not None else 0.0
            try:
                while orphan.results.poll(grace):
                    self._receive(orphan, events)
            except (EOFError, OSError):
                pass
            held += self._retire(orphan)
        names = tuple(o.name for o in orphans)
        self._orphan_groups.add(names)
        how = (
            f"the fork server (pid {dead_server}) that starts the workers died, and with it "
            f"the means to watch its {len(orphans)} worker(s) "
            f"({', '.join(str(o.pid) for o in orphans)})"
        )
        events.append(WorkersLost(names, tuple(held), None, how))

    def _kill_hung_workers(self) -> None:
        """Kill every worker that has spent more than ``batch_timeout`` on one task.

        And every worker not ready STARTUP_TIMEOUT_SECONDS after its start. Its sentinel
        then fires and it is reported lost as any other.
        """
        now = time.monotonic()
        timeout = self._options.batch_timeout
        with self._lock:
            for worker in self._workers:
                if worker.hung or worker.stuck_starting or worker.lost:
                    continue  # killed already
                if not worker.ready:
                    if now - worker.started_at > STARTUP_TIMEOUT_SECONDS:
                        worker.stuck_starting = True
                        worker.kill()
                    continue
                started = worker.busy_since
                if timeout is not None and started is not None and now - started > timeout:
                    worker.hung = True
                    worker.kill()

    def _watch(self, worker: _Worker) -> None:
        self._selector.register(worker.results, selectors.EVENT_READ, ("result", worker))
        self._selector.register(worker.process.sentinel, selectors.EVENT_READ, ("death", worker))

    def _unwatch(self, worker: _Worker) -> None:
        """Stop watching a worker's channels; before they are closed, so no number is reused."""
        for channel in (worker.results, worker.process.sentinel):
            try:
                self._selector.unregister(channel)
            except (KeyError, ValueError):
                pass

    def _drain_wake_pipe(self) -> None:
        try:
            while os.read(self._wake_reader, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    # --- Replacing ---

    def replace(self, lost: WorkersLost) -> str:
        """Start a worker in place of each lost one (from a new fork server if it died)."""
        successors = []
        for name in lost.workers:
            successor = self._start_worker()
            self._watch(successor)
            with self._lock:
                index = next(i for i, w in enumerate(self._workers) if w.name == name)
                self._workers[index] = successor
            successors.append(successor)
        if lost.workers in self._orphan_groups:
            self._orphan_groups.discard(lost.workers)
            return (
                f"killed them and started the fork server again (pid {fork_server_pid()}) "
                f"and {len(successors)} worker(s) from it"
            )
        return f"started {successors[0].describe()} in its place"

    def wake(self) -> None:
        """Make a ``results`` call in progress return."""
        try:
            os.write(self._wake_writer, b"\0")
        except (BlockingIOError, OSError):
            pass  # full: wake-ups enough; closed: stopping

    # --- Stopping ---

    def stop(self) -> None:
        """Ask every worker to leave, wait SHUTDOWN_GRACE, kill what is left, free the slots.

        A worker process reads end-of-file on its task pipe (idle) or gets a broken pipe when
        it sends its next result (busy), and leaves.
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            for worker in self._workers:
                if not worker.lost:
                    worker.close_channels()
        deadline = time.monotonic() + SHUTDOWN_GRACE
        for worker in self._workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
        for worker in self._workers:
            # A process whose fork server died looks dead to its handle, yet may live.
            if worker.process.is_alive() or not fork_server_is_running(worker.server_pid):
                worker.kill()
                worker.process.join(1.0)
            worker.forget()
        if self._slots is not None:
            self._slots.close()  # after the workers: none writes to a slot any more
        if self._selector is not None:
            self._selector.close()
        for descriptor in (self._wake_reader, self._wake_writer):
            if descriptor >= 0:
                os.close(descriptor)
        self._wake_reader = self._wake_writer = -1

    def workers(self) -> list[WorkerInfo]:
        """Return the worker processes, with their ids (a lost one until it is replaced)."""
        with self._lock:
            return [WorkerInfo(w.name, w.pid) for w in self._workers]

"""Workers that compute batches, and the scheduler that keeps them a bounded step ahead.

One task is one batch. Workers get the pipeline's configuration once, when they start, and
then only (epoch, batch index, files) per task; results come back in any order and the
scheduler hands them out in the order they are asked for. Processes are forked by a fork
server (see ``worker_start``), never from the parent, which may hold TensorFlow's threads,
and never re-run the user's main module; the configuration reaches them pickled by
``callback_pickling``, with callbacks defined in ``__main__``, a notebook, a lambda or a
closure by value. Workers import neither TensorFlow nor Keras.

Every worker process has two pipes of its own, tasks from the parent and results to it, and
holds at most TASKS_PER_WORKER tasks at a time; a thread of the parent, the collector, hands
out the others as workers finish, receives the results and watches the workers, while the
consumer trains. The parent thus knows which batches each worker holds, and a worker that
dies, however it died, takes down nothing but its own pipes: a message it was writing is cut
short only in its own result pipe, which ends there (its only writer is gone), and no lock
shared with the other workers is left held. The collector keeps what the dead worker
finished, starts a fresh worker in its place and hands the batches it held out again; a
batch is a pure function of (seed, epoch, batch index), so the recomputed batch is the same,
bit for bit. The parent's end of a task pipe is that pipe's only writer: when the parent is
gone, however it died, every worker reads end-of-file and leaves.

A batch's arrays travel through shared memory: the parent owns TASKS_PER_WORKER result
slots per worker (anonymous memory, memfd, sized by the first batch, that every worker
receives by descriptor when it starts, so that no name in /dev/shm can be left behind),
names one in each task, and the worker writes the arrays there and sends only their layout
and a small pickle of the rest. The parent copies them out and frees the slot at once, so a
batch the consumer keeps never pins a slot. A batch that does not fit its slot, or has none,
comes through the pipe as raw bytes instead.
"""

from __future__ import annotations

import collections
import errno
import mmap
import os
import pickle
import queue
import selectors
import signal
import threading
import time
import traceback
import warnings
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from parallel_audio.callback_pickling import pickle_for_workers
from parallel_audio.epoch_plan import BatchTask
from parallel_audio.errors import WorkerError
from parallel_audio.worker_start import (
    InheritedDescriptor,
    fork_server_is_running,
    fork_server_pid,
    worker_context,
)

#: How often a waiting consumer wakes to check on the workers and the collector, in seconds.
#: Results and worker deaths wake it at once; this only bounds a check for the unexpected.
LIVENESS_INTERVAL = 0.2
#: How long workers get to exit on their own before they are killed, in seconds.
SHUTDOWN_GRACE = 2.0
#: How long a worker process may take from its start to reporting ready, in seconds; one
#: that takes longer is killed and replaced like a hung worker. Tasks are handed to a worker
#: as soon as it starts, so one stuck starting would otherwise hold them forever. Starting
#: takes well under a second (a fork of the fork server, unpickling the configuration, one
#: frontend call); the margin is for a loaded machine and for callbacks whose modules are
#: slow to import.
STARTUP_TIMEOUT_SECONDS = 30.0
#: Attempts at starting a worker when the fork server dies as it is asked to fork one.
START_ATTEMPTS = 3
#: The exit code multiprocessing gives a worker whose fork server stopped reporting on it.
FORK_SERVER_LOST_EXITCODE = 255
#: Tasks a worker process holds at once: one it computes, and the next, so that it never
#: waits for the parent between two batches. More would let a slow batch hold up others
#: that another worker could have computed meanwhile.
TASKS_PER_WORKER = 2
#: Workers that may die, and be replaced, within RESTART_WINDOW seconds; one more raises.
MAX_RESTARTS = 3
#: The window MAX_RESTARTS counts in, in seconds.
RESTART_WINDOW = 60.0
#: Workers that may die computing the same batch before that batch is given up on.
MAX_DEATHS_PER_BATCH = 2
#: Result slots at most, beyond which results come through the pipes: each worker receives
#: every slot's descriptor when it starts, and a process start passes at most 252.
MAX_SLOT_DESCRIPTORS = 128
#: Alignment of each array in a result slot, in bytes (a cache line).
SLOT_ALIGNMENT = 64

_MISSING = object()


@dataclass(frozen=True)
class _Failure:
    """A batch that failed: the error to raise when the batch is asked for."""

    error: WorkerError


def compute_batch(params: Any, task: BatchTask) -> Any:
    """Run the user's batch function or ours; return the batch (without its index)."""
    from parallel_audio.pipeline import get_batches_of_transformed_samples

    if params.get_batch_function is not None:
        _, batch = params.get_batch_function(
            task.batch_index, task.filenames, task.class_ids, params
        )
    else:
        _, batch = get_batches_of_transformed_samples(
            task.batch_index,
            task.filenames,
            task.class_ids,
            params,
            sample_ids=task.sample_ids,
            epoch=task.epoch,
        )
    return batch


def _traceback_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__))


def _failure(task: BatchTask, error: BaseException) -> tuple:
    """Describe a failed task picklably: the exception if it pickles, and its text.

    cloudpickle sends an exception class defined in the user's main module back by value;
    the parent then raises the very class it defined (cloudpickle keeps a class sent by
    value and back the same class).
    """
    import cloudpickle

    try:
        payload = cloudpickle.dumps(error)
    except Exception:  # an unpicklable exception still reaches the parent as text
        payload = None
    return ("error", task.epoch, task.batch_index, payload, repr(error), _traceback_text(error))


def _worker_error(
    epoch: int, batch_index: int, description: str, text: str, cause: BaseException | None
) -> WorkerError:
    """Build the error raised for a batch whose computation raised ``cause``."""
    error = WorkerError(
        f"batch {batch_index} of epoch {epoch} failed in a worker: {description}\n\n"
        f"Worker traceback:\n{text}"
    )
    error.__cause__ = cause
    return error


def _failure_error(message: tuple) -> WorkerError:
    """Build the error for a failure message, caused by the worker's exception if it unpickles."""
    epoch, batch_index, payload, description, text = message[1:]
    cause = None
    if payload is not None:
        try:
            cause = pickle.loads(payload)
        except Exception:  # the exception pickled but does not unpickle here
            cause = None
    return _worker_error(epoch, batch_index, description, text, cause)


def _aligned(size: int) -> int:
    return -(-size // SLOT_ALIGNMENT) * SLOT_ALIGNMENT


def _spans(sizes: Iterable[int]) -> list[tuple[int, int]]:
    """(offset, size) of each array in a slot, each offset aligned."""
    spans, offset = [], 0
    for size in sizes:
        spans.append((offset, size))
        offset += _aligned(size)
    return spans


# --- The worker's side ---------------------------------------------------------------------


class _SlotMappings:
    """A worker's mappings of the parent's result slots, by slot number.

    The worker holds every slot's descriptor from its start and maps a slot the first time
    it is given it; a slot the parent has since grown is mapped again, at its new size.
    """

    def __init__(self, descriptors: Sequence[int]) -> None:
        self._descriptors = list(descriptors)
        self._maps: dict[int, mmap.mmap] = {}

    def write(self, slot: tuple[int, int], raws: list[memoryview]) -> list[tuple[int, int]]:
        """Copy the arrays into the slot; return their (offset, size)."""
        number, size = slot
        mapping = self._maps.get(number)
        if mapping is None or len(mapping) < size:
            if mapping is not None:
                mapping.close()
            self._maps.pop(number, None)
            mapping = self._maps[number] = mmap.mmap(self._descriptors[number], size)
        spans = _spans(raw.nbytes for raw in raws)
        for (offset, nbytes), raw in zip(spans, raws, strict=True):
            mapping[offset : offset + nbytes] = raw
        return spans


def _report(
    params: Any, task: BatchTask, slot: tuple[int, int] | None, mappings: _SlotMappings
) -> tuple[tuple, list[memoryview]]:
    """Compute a task; return the message reporting it and the raw arrays to send after it.

    The batch is pickled with its arrays out of band (protocol 5): they go to the slot when
    they fit, else after the message as raw bytes, never through pickle's own copy.
    """
    try:
        batch = compute_batch(params, task)
        buffers: list[pickle.PickleBuffer] = []
        header = pickle.dumps(batch, protocol=5, buffer_callback=buffers.append)
        try:
            raws = [buffer.raw() for buffer in buffers]
        except BufferError:  # a buffer that is not contiguous: the whole batch in band
            header, raws = pickle.dumps(batch, protocol=5), []
    except BaseException as error:  # report everything; the parent decides
        return _failure(task, error), []
    sizes = [raw.nbytes for raw in raws]
    if slot is not None and sum(_aligned(size) for size in sizes) <= slot[1]:
        try:
            spans = mappings.write(slot, raws)
        except (OSError, ValueError):  # it cannot be mapped: send the batch in the pipe
            pass
        else:
            return ("shared", task.epoch, task.batch_index, header, spans, slot[0]), []
    return ("inline", task.epoch, task.batch_index, header, sizes), raws


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


def _process_main(
    params_bytes: bytes,
    tasks: Any,
    results: Any,
    hide_gpus: bool,
    slot_descriptors: Sequence[int] = (),
) -> None:
    # Ctrl-C is the parent's to handle; the parent stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hide_gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    # The iterator's runtime builds its native frontend as it is unpickled: nothing to warm.
    params = pickle.loads(params_bytes)
    inbox: queue.SimpleQueue = queue.SimpleQueue()
    stopped = threading.Event()
    threading.Thread(target=_read_tasks, args=(tasks, inbox, stopped), daemon=True).start()
    mappings = _SlotMappings(slot_descriptors)
    try:
        # From here on a death is the batch's doing, not the start-up's.
        results.send(("ready",))
        while True:
            item = inbox.get()
            if item is None or stopped.is_set():
                return
            message, raws = _report(params, *item, mappings)
            results.send(message)
            for raw in raws:
                results.send_bytes(raw)
            del message, raws  # the batch's memory goes back before the next one
    except (BrokenPipeError, EOFError, OSError):
        pass  # the parent closed its end of the pipes (close()) or died: nobody to tell


def _exit_description(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


# --- The parent's side ---------------------------------------------------------------------


class _ResultSlots:
    """Anonymous shared memory the workers write results into; owned and freed here.

    Each slot is a memfd: memory with no name in any file system, made when the pool starts
    and passed by descriptor to every worker as it starts (``descriptors``). Nothing in
    ``/dev/shm`` can outlive the processes, however they end: the memory goes when the last
    process holding a descriptor or a mapping of it is gone, SIGKILL of them all included.

    Sized by the largest batch seen: until one is seen, and for a batch larger than the
    slots, results come through the pipes. A slot is grown when it is next taken, never while
    a worker may write to it, and never shrunk, so a worker's mapping is never longer than
    the memory behind it. Space is reserved as a slot grows, so memory that runs out shows
    here as an error (and results keep using the pipes), never as a SIGBUS in a worker
    writing to a page that cannot be backed. Without memfd (not Linux), or with more slots
    than a process start can pass descriptors, results come through the pipes. Used under
    the pool's lock.
    """

    def __init__(self, count: int) -> None:
        self.size = 0
        self.descriptors: list[int] = []
        self._maps: list[mmap.mmap | None] = [None] * count
        self._free = list(range(count))
        self._disabled = not hasattr(os, "memfd_create") or count > MAX_SLOT_DESCRIPTORS
        if self._disabled:
            return
        try:
            for number in range(count):
                name = f"parallel_audio-{os.getpid()}-slot-{number}"
                self.descriptors.append(os.memfd_create(name, os.MFD_CLOEXEC))
        except OSError:  # a kernel without memfd, or no descriptors left
            self.close()
            self._disabled = True

    def take(self) -> tuple[int, int] | None:
        """Take a free slot: (number, size), or None if there is none."""
        if self.size == 0 or not self._free:
            return None
        number = self._free.pop()
        mapping = self._maps[number]
        if mapping is None or len(mapping) < self.size:
            if not self._grow(number):
                self._free.append(number)
                return None
        return (number, len(self._maps[number]))

    def give_back(self, number: int | None) -> None:
        """Free a taken slot (None: there was none)."""
        if number is None:
            return
        if self._disabled:
            self._release(number)
        self._free.append(number)

    def view(self, number: int) -> memoryview:
        """Return the memory of a taken slot; valid until it is given back."""
        return memoryview(self._maps[number])

    def fit(self, nbytes: int) -> None:
        """Make slots taken from now on hold a batch of ``nbytes``."""
        if not self._disabled and nbytes > self.size:
            page = mmap.PAGESIZE
            self.size = -(-nbytes // page) * page

    def _grow(self, number: int) -> bool:
        """Grow a free slot to ``size`` and map it here; False if memory ran out."""
        descriptor = self.descriptors[number]
        mapping = self._maps[number]
        self._maps[number] = None
        if mapping is not None:
            mapping.close()
        try:
            os.ftruncate(descriptor, self.size)
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(descriptor, 0, self.size)
            self._maps[number] = mmap.mmap(descriptor, self.size)
        except OSError as error:
            if error.errno in (errno.ENOSPC, errno.ENOMEM, errno.EFBIG):
                self._give_up()
                return False
            raise
        return True

    def _give_up(self) -> None:
        """Stop using shared memory (it is full): every result comes through the pipes."""
        self._disabled = True
        self.size = 0
        for number in self._free:  # the others go when given back
            self._release(number)

    def _release(self, number: int) -> None:
        """Unmap a slot and free its memory; workers no longer touch it."""
        mapping = self._maps[number]
        self._maps[number] = None
        if mapping is not None:
            mapping.close()
        try:
            os.ftruncate(self.descriptors[number], 0)
        except OSError:
            pass

    def close(self) -> None:
        for number in range(len(self._maps)):
            mapping = self._maps[number]
            self._maps[number] = None
            if mapping is not None:
                try:
                    mapping.close()
                except BufferError:  # still being copied from: unmapped when collected
                    pass
        for descriptor in self.descriptors:
            os.close(descriptor)
        self.descriptors = []


class _Worker:
    """One worker, the parent's ends of its channels, and the batches it holds.

    ``assigned`` maps the position of every batch sent to the worker and not yet answered
    to the result slot it was given, in the order sent; the worker computes them in that
    order, so the first is the one it is working on.
    """

    def __init__(self, name: str, handle: Any, tasks: Any = None, results: Any = None) -> None:
        self.name = name
        self.handle = handle  # a Process or a Thread
        self.tasks = tasks  # processes: the parent's end of the task pipe
        self.results = results  # processes: the parent's end of the result pipe
        self.assigned: dict[int, int | None] = {}
        self.ready = results is None  # a process is ready once it says so
        # When it began the batch it is computing (the first assigned), once ready.
        self.busy_since: float | None = None
        self.started_at = time.monotonic()
        self.hung = False  # killed by the pool for exceeding the batch timeout
        self.stuck_starting = False  # killed by the pool for exceeding the start-up timeout
        self.server_pid: int | None = None  # the fork server that forked it
        # A handle on the process that stays valid after its fork server is gone (then the
        # Process object takes it for dead, and its id may be reused once it is).
        self.pidfd: int | None = None

    @property
    def pid(self) -> int | None:
        return getattr(self.handle, "pid", None)

    def describe(self) -> str:
        if self.pid is None:
            return f"worker {self.name}"
        return f"worker {self.name} (pid {self.pid})"

    def mark_progress(self) -> None:
        """Restart the batch clock: a ready worker begins its next batch, if it holds one."""
        self.busy_since = time.monotonic() if self.ready and self.assigned else None

    def close_channels(self) -> None:
        if self.results is not None:
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
            self.handle.kill()

    def forget(self) -> None:
        """Let go of the process handle, once the process is gone or killed."""
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


class _Pool:
    """The state the consumer, the collector thread and worker threads share, under ``lock``.

    Holds no reference to the BatchScheduler, so that the scheduler can be collected, and
    its finalizer stop the pool, while the collector thread runs.

    ``tasks`` holds every submitted batch not yet received, by position; ``backlog`` the
    positions of those not yet handed to a worker, in the order to hand them out; ``ready``
    the received batches (or failures) the consumer has not taken.
    """

    def __init__(
        self,
        params: Any,
        describe: Callable[[int, int], BatchTask],
        *,
        batches_per_epoch: int,
        num_workers: int,
        max_pending: int,
        threads: bool,
        hide_gpus: bool,
        batch_timeout: float | None = None,
    ) -> None:
        self.describe = describe
        self.batch_timeout = None if threads else batch_timeout
        self.batches_per_epoch = batches_per_epoch
        self.max_pending = max_pending
        self.threads = threads
        self.hide_gpus = hide_gpus
        self.params = params
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        self.tasks: dict[int, BatchTask] = {}
        self.backlog: collections.deque[int] = collections.deque()
        self.ready: dict[int, Any] = {}
        # Positions consumers are waiting for, with how many wait for each: never dropped as
        # stale, whatever another consumer thread moved the window to.
        self.waiting: collections.Counter[int] = collections.Counter()
        self.next_to_submit = 0
        self.workers: list[_Worker] = []
        self.stopping = False
        self.fatal: WorkerError | None = None
        self.notices: list[str] = []  # warnings for the consumer's thread to issue
        self.deaths: collections.deque[float] = collections.deque()
        self.deaths_by_position: collections.Counter[int] = collections.Counter()
        self.num_started = 0
        self.collector: threading.Thread | None = None
        self.selector: selectors.BaseSelector | None = None  # the collector's own
        self.slots: _ResultSlots | None = None
        self.wake_reader = self.wake_writer = -1
        if not threads:
            self.context = worker_context()
            self.params_bytes = pickle_for_workers(params, "the generator's configuration")
            self.slots = _ResultSlots(num_workers * TASKS_PER_WORKER)
            self.wake_reader, self.wake_writer = os.pipe()
            os.set_blocking(self.wake_reader, False)
            os.set_blocking(self.wake_writer, False)
        self.num_workers = num_workers

    def start(self) -> None:
        for _ in range(self.num_workers):
            self.workers.append(self.start_worker())
        if not self.threads:
            self.collector = threading.Thread(
                target=self.collect, name="parallel_audio-collector", daemon=True
            )
            self.collector.start()

    def start_worker(self) -> _Worker:
        name = f"parallel_audio-worker-{self.num_started}"
        self.num_started += 1
        if self.threads:
            worker = _Worker(name, None)
            worker.handle = threading.Thread(
                target=self.serve_thread, args=(worker,), name=name, daemon=True
            )
            worker.handle.start()
            return worker
        task_reader, task_writer = self.context.Pipe(duplex=False)
        result_reader, result_writer = self.context.Pipe(duplex=False)
        process = self.context.Process(
            target=_process_main,
            args=(
                self.params_bytes,
                task_reader,
                result_writer,
                self.hide_gpus,
                tuple(InheritedDescriptor(d) for d in self.slots.descriptors),
            ),
            name=name,
            daemon=True,
        )
        try:
            self.start_process(process)
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

    def start_process(self, process: Any) -> None:
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

    # --- The consumer's side, under the lock ---

    def submit(self, position: int) -> None:
        epoch, batch_index = divmod(position, self.batches_per_epoch)
        self.tasks[position] = self.describe(epoch, batch_index)
        self.backlog.append(position)

    def request(self, position: int) -> None:
        """Make sure ``position`` is submitted, first in line, and the workers know of it."""
        if position not in self.ready and position not in self.tasks:
            self.submit(position)
        if position in self.backlog and self.backlog[0] != position:
            self.backlog.remove(position)  # wanted now: first in line
            self.backlog.appendleft(position)

    def notify_workers(self) -> None:
        """Let the workers take what was submitted (worker threads wait on ``changed``)."""
        if self.threads:
            self.changed.notify_all()
        elif not self.stopping and self.fatal is None:
            self.hand_out()

    def top_up(self, start: int) -> None:
        """Keep the positions after the one being served submitted, up to max_pending."""
        # Batches the consumer has moved past are dropped if received, and never handed out
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
        # small steps back keep it, so the batches just served are not computed again.
        if not start <= self.next_to_submit <= start + 2 * self.max_pending:
            self.next_to_submit = start
        while self.next_to_submit < start + self.max_pending:
            position = self.next_to_submit
            if position not in self.tasks and position not in self.ready:
                self.submit(position)
            self.next_to_submit += 1

    def wake_collector(self) -> None:
        try:
            os.write(self.wake_writer, b"\0")
        except (BlockingIOError, OSError):
            pass  # full: the collector has wake-ups enough; closed: it is stopping

    def check_alive(self) -> None:
        """Record a fatal error if a worker thread or the collector stopped unexpectedly."""
        if self.fatal is not None:
            return
        if self.threads:
            if not all(w.handle.is_alive() for w in self.workers):
                self.fatal = WorkerError("a worker thread stopped unexpectedly")
        elif self.collector is not None and not self.collector.is_alive():
            self.fatal = WorkerError("the thread collecting the workers' results stopped")

    # --- Worker threads (debug=True) ---

    def serve_thread(self, worker: _Worker) -> None:
        """Run a worker thread: take tasks from the backlog until the pool stops."""
        while True:
            with self.changed:
                while not self.stopping and not self.backlog:
                    self.changed.wait()
                if self.stopping:
                    return
                position = self.backlog.popleft()
                task = self.tasks[position]
                worker.assigned[position] = None
            try:
                result = compute_batch(self.params, task)
            except BaseException as error:  # report everything; the consumer decides
                result = _Failure(
                    _worker_error(
                        task.epoch, task.batch_index, repr(error), _traceback_text(error), error
                    )
                )
            with self.changed:
                worker.assigned.pop(position, None)
                self.store(position, result)

    def store(self, position: int, result: Any) -> None:
        """Keep a received batch (under the lock) if it is still wanted."""
        if self.tasks.pop(position, None) is not None:
            self.ready[position] = result
            self.changed.notify_all()

    # --- The collector thread (processes) ---

    def collect(self) -> None:
        """Hand out tasks, receive results and replace dead workers until the pool stops."""
        # One selector for the pool's life, changed only when a worker is replaced: cheaper
        # than building the set of channels to wait on anew for every message.
        self.selector = selectors.DefaultSelector()
        try:
            self.selector.register(self.wake_reader, selectors.EVENT_READ, ("wake", None))
            with self.lock:
                for worker in self.workers:
                    self.watch(worker)
            while True:
                with self.lock:
                    if self.stopping or self.fatal is not None:
                        return
                    self.hand_out()
                events = self.selector.select(timeout=1.0)
                # Results before deaths: a worker may have sent its last result, then died.
                for key, _ in sorted(events, key=lambda event: event[0].data[0] == "death"):
                    kind, worker = key.data
                    if kind == "wake":
                        self.drain_wake_pipe()
                    elif kind == "result" and worker in self.workers:
                        try:
                            self.receive(worker)
                        except (EOFError, OSError):  # it died, perhaps mid-message
                            self.replace(worker)
                    elif kind == "death" and worker in self.workers:
                        self.replace(worker)
                self.stop_hung_workers()
        except BaseException as error:  # never leave the consumer waiting for nothing
            with self.changed:
                if self.fatal is None and not self.stopping:
                    self.fatal = WorkerError(f"collecting the workers' results failed: {error!r}")
                    self.fatal.__cause__ = error
                self.changed.notify_all()
        finally:
            self.selector.close()

    def stop_hung_workers(self) -> None:
        """Kill every worker that has spent more than ``batch_timeout`` on one batch.

        And every worker not ready STARTUP_TIMEOUT_SECONDS after its start. Its death then
        goes the way of any other: it is replaced and its batches computed again, it counts
        towards MAX_RESTARTS, and a batch that hangs MAX_DEATHS_PER_BATCH workers raises
        WorkerError.
        """
        now = time.monotonic()
        with self.lock:
            for worker in self.workers:
                if worker.hung or worker.stuck_starting:
                    continue  # killed already; its sentinel wakes the collector
                if not worker.ready:
                    if now - worker.started_at > STARTUP_TIMEOUT_SECONDS:
                        worker.stuck_starting = True
                        worker.kill()
                    continue
                started = worker.busy_since
                if (
                    self.batch_timeout is not None
                    and started is not None
                    and now - started > self.batch_timeout
                ):
                    worker.hung = True
                    worker.kill()

    def watch(self, worker: _Worker) -> None:
        self.selector.register(worker.results, selectors.EVENT_READ, ("result", worker))
        self.selector.register(worker.handle.sentinel, selectors.EVENT_READ, ("death", worker))

    def unwatch(self, worker: _Worker) -> None:
        """Stop watching a worker's channels; before they are closed, so no number is reused."""
        for channel in (worker.results, worker.handle.sentinel):
            try:
                self.selector.unregister(channel)
            except (KeyError, ValueError):
                pass

    def drain_wake_pipe(self) -> None:
        try:
            while os.read(self.wake_reader, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    def hand_out(self) -> None:
        """Send backlog tasks to the workers holding fewest, up to TASKS_PER_WORKER each.

        Called under the lock, by the consumer when it submits and by the collector when a
        worker frees a place, so that neither waits for the other to wake. A send never
        blocks for long: a worker's reader thread empties its task pipe as tasks come.
        """
        dead: list[_Worker] = []
        while self.backlog:
            candidates = [w for w in self.workers if w not in dead]
            if not candidates:
                break
            worker = min(candidates, key=lambda w: len(w.assigned))
            if len(worker.assigned) >= TASKS_PER_WORKER:
                break
            position = self.backlog.popleft()
            slot = self.slots.take()
            try:
                worker.tasks.send((self.tasks[position], slot))
            except OSError:  # it died (its sentinel tells the collector) and never saw it
                self.slots.give_back(None if slot is None else slot[0])
                self.backlog.appendleft(position)
                dead.append(worker)
                continue
            worker.assigned[position] = None if slot is None else slot[0]
            if worker.busy_since is None:
                worker.mark_progress()

    def receive(self, worker: _Worker) -> None:
        """Read one message from a worker and keep what it reports."""
        message = worker.results.recv()
        kind = message[0]
        if kind == "ready":
            with self.lock:
                worker.ready = True
                worker.mark_progress()
            return
        epoch, batch_index = message[1:3]
        position = epoch * self.batches_per_epoch + batch_index
        raws = []
        if kind == "inline":  # the arrays follow as raw messages
            for size in message[4]:
                raw = bytearray(size)
                worker.results.recv_bytes_into(raw)
                raws.append(raw)
        elif kind == "shared":
            with self.lock:
                view = self.slots.view(message[5])
            # Copied out (the slot stays taken until given back below), so that the batch
            # owns its memory and the slot is free for the next one.
            raws = [bytearray(view[offset : offset + size]) for offset, size in message[4]]
            del view
        if kind == "error":
            result = _Failure(_failure_error(message))
        else:
            try:
                result = pickle.loads(message[3], buffers=raws)
            except Exception as error:
                result = _Failure(
                    WorkerError(
                        f"batch {batch_index} of epoch {epoch} cannot be unpickled in the "
                        f"parent: {error!r}"
                    )
                )
        with self.lock:
            if kind == "inline":
                self.slots.fit(sum(_aligned(len(raw)) for raw in raws))
            self.slots.give_back(worker.assigned.pop(position, None))
            worker.mark_progress()
            self.store(position, result)

    def replace(self, worker: _Worker) -> None:
        """Start a worker in place of one that died; hand the batches it held out again."""
        process = worker.handle
        process.join(1.0)  # reaped: no zombie, and the exit code is known
        if self.fork_server_died(worker):
            self.replace_fork_server(worker.server_pid)
            return
        if process.is_alive():  # its result pipe broke, yet it lives: end it
            process.kill()
            process.join(1.0)
        # What it finished before it died still counts; a message cut short ends the pipe.
        try:
            while worker.results.poll():
                self.receive(worker)
        except (EOFError, OSError):
            pass
        how = f"{worker.describe()} {_exit_description(process.exitcode)}"
        if worker.hung:
            how = (
                f"{worker.describe()} was killed for exceeding batch_timeout "
                f"({self.batch_timeout:g} s)"
            )
        elif worker.stuck_starting:
            how = (
                f"{worker.describe()} was killed for not getting ready within "
                f"{STARTUP_TIMEOUT_SECONDS:g} s of its start"
            )
        self.unwatch(worker)
        with self.lock:  # the consumer may be sending it a task
            worker.close_channels()
            worker.forget()
            held = list(worker.assigned)
            for slot in worker.assigned.values():
                self.slots.give_back(slot)
            worker.assigned.clear()
        # It computes its batches in the order they were sent, so the first it still held
        # is the one it died on; unless it died starting.
        culprit = held[0] if held and worker.ready else None
        if not worker.ready and not worker.stuck_starting:
            how += " while starting (the reason, if it gave one, is on standard error)"
        elif culprit is not None:
            epoch, batch_index = divmod(culprit, self.batches_per_epoch)
            how += f" while computing batch {batch_index} of epoch {epoch}"
        if not self.count_restart(how):
            return
        successor = self.start_worker()
        self.watch(successor)
        with self.changed:
            self.workers[self.workers.index(worker)] = successor
            lost = [p for p in held if p in self.tasks]
            if culprit in lost:
                self.deaths_by_position[culprit] += 1
                deaths = self.deaths_by_position[culprit]
                if deaths >= MAX_DEATHS_PER_BATCH:
                    # Raised when the batch is asked for, like any error of a batch.
                    lost.remove(culprit)
                    epoch, batch_index = divmod(culprit, self.batches_per_epoch)
                    files = ", ".join(str(f) for f in self.tasks[culprit].filenames)
                    self.store(
                        culprit,
                        _Failure(
                            WorkerError(
                                f"batch {batch_index} of epoch {epoch} killed the {deaths} "
                                f"workers that computed it (the last: {how}); it is not "
                                f"computed again. Its files: {files}. The iterator is "
                                "closed: create a new one to continue."
                            )
                        ),
                    )
            # First in line again, in the order they are needed.
            self.backlog.extendleft(sorted(lost, reverse=True))
            self.notices.append(
                f"{how}; started {successor.describe()} in its place, computing "
                f"{len(lost)} batch(es) again"
            )
            self.changed.notify_all()

    def fork_server_died(self, worker: _Worker) -> bool:
        """Whether a worker's sentinel fired because its fork server, not the worker, died.

        The fork server reports a worker's exit code; multiprocessing gives 255 when the
        report is cut off. The fork server's pipes close as it exits, a moment before it can
        be seen dead: that moment is waited for.
        """
        if worker.server_pid is None or worker.handle.exitcode != FORK_SERVER_LOST_EXITCODE:
            return not fork_server_is_running(worker.server_pid)
        end = time.monotonic() + 1.0
        while fork_server_is_running(worker.server_pid):
            if time.monotonic() > end:
                return False  # the worker itself exited with code 255
            time.sleep(0.01)
        return True

    def count_restart(self, how: str) -> bool:
        """Count a restart towards MAX_RESTARTS; False (and a fatal error) if one too many."""
        now = time.monotonic()
        self.deaths.append(now)
        while self.deaths[0] < now - RESTART_WINDOW:
            self.deaths.popleft()
        if len(self.deaths) <= MAX_RESTARTS:
            return True
        with self.changed:
            self.fatal = WorkerError(
                f"{how}; {len(self.deaths)} workers died within {RESTART_WINDOW:.0f} s, "
                f"more than the {MAX_RESTARTS} the pool replaces in that time. The "
                "iterator is closed: create a new one to continue."
            )
            self.changed.notify_all()
        return False

    def replace_fork_server(self, dead_server: int | None) -> None:
        """Start the fork server again, and every worker it forked, after it died.

        Its workers may live on, but nothing would report their deaths any more: they are
        killed, what they finished is kept, and fresh workers, forked by a new fork server,
        compute the batches they held, bit for bit the same. One restart, whatever the
        number of workers, towards MAX_RESTARTS; no batch is blamed.
        """
        orphans = [w for w in self.workers if w.server_pid == dead_server]
        for orphan in orphans:
            orphan.kill()
        held: list[int] = []
        for orphan in orphans:
            # What it finished before it was killed still counts; its pipe ends with it.
            # Without a process handle it could not be killed: it leaves once its task pipe
            # is closed, after the batch it computes.
            grace = SHUTDOWN_GRACE if orphan.pidfd is not None else 0.0
            try:
                while orphan.results.poll(grace):
                    self.receive(orphan)
            except (EOFError, OSError):
                pass
            self.unwatch(orphan)
            with self.lock:
                orphan.close_channels()
                orphan.forget()
                held += orphan.assigned
                for slot in orphan.assigned.values():
                    self.slots.give_back(slot)
                orphan.assigned.clear()
        how = (
            f"the fork server (pid {dead_server}) that starts the workers died, and with it "
            f"the means to watch its {len(orphans)} worker(s) "
            f"({', '.join(str(o.pid) for o in orphans)})"
        )
        if not self.count_restart(how):
            return
        successors = []
        for orphan in orphans:
            successor = self.start_worker()
            self.watch(successor)
            successors.append(successor)
            with self.changed:
                self.workers[self.workers.index(orphan)] = successor
        with self.changed:
            lost = sorted(p for p in held if p in self.tasks)
            self.backlog.extendleft(reversed(lost))  # first in line again, in order
            self.notices.append(
                f"{how}; killed them and started the fork server again (pid "
                f"{fork_server_pid()}) and {len(successors)} worker(s) from it, computing "
                f"{len(lost)} batch(es) again"
            )
            self.changed.notify_all()

    # --- Stopping ---

    def stop(self) -> None:
        """Stop the collector, then the workers, then free the slots; idempotent.

        Asks every worker to finish, waits SHUTDOWN_GRACE, then kills what is left.
        """
        with self.changed:
            self.stopping = True
            self.changed.notify_all()
        if self.collector is not None:
            self.wake_collector()
            if self.collector is not threading.current_thread():
                self.collector.join(SHUTDOWN_GRACE)
        # A worker process reads end-of-file on its task pipe (idle) or gets a broken pipe
        # when it sends its next result (busy), and leaves.
        with self.lock:
            for worker in self.workers:
                worker.close_channels()
        deadline = time.monotonic() + SHUTDOWN_GRACE
        for worker in self.workers:
            worker.handle.join(max(0.0, deadline - time.monotonic()))
        for worker in self.workers:
            if not hasattr(worker.handle, "kill"):
                continue  # a thread
            # A process whose fork server died looks dead to its handle, yet may live.
            if worker.handle.is_alive() or not fork_server_is_running(worker.server_pid):
                worker.kill()
                worker.handle.join(1.0)
            worker.forget()
        if self.slots is not None:
            self.slots.close()  # after the workers: none writes to a slot any more
        for descriptor in (self.wake_reader, self.wake_writer):
            if descriptor >= 0:
                os.close(descriptor)
        self.wake_reader = self.wake_writer = -1


class BatchScheduler:
    """Computes batches in workers, at most ``max_pending`` ahead of what has been asked for.

    Batches are numbered by their position in an endless sequence of epochs; after serving
    position p the scheduler keeps positions p+1 .. p+max_pending submitted. Asking for a
    batch outside that window submits it at once. Results are handed out by position, so the
    order workers finish in never shows. A worker is given its next batch as it finishes
    one (a process holds TASKS_PER_WORKER at most), so a slow batch holds up at most the
    one queued behind it; with processes a collector thread hands the batches out and
    receives them while the consumer is busy.

    A worker process that dies (killed, out of memory) is replaced at once: a fresh worker
    takes its place, the batches it held are computed again, bit for bit the same, and the
    next ``get`` issues a RuntimeWarning naming the dead worker and how it died. Workers
    that keep dying raise WorkerError instead: at the next ``get`` after more than
    MAX_RESTARTS deaths within RESTART_WINDOW seconds, and when a batch that
    MAX_DEATHS_PER_BATCH workers died computing is asked for. An exception in a worker
    raises WorkerError, with the worker's traceback, the batch and the file, when its batch
    is asked for, so the error a consumer sees does not depend on which worker got to which
    batch first. After a WorkerError the workers are stopped.

    Parameters
    ----------
    params : ParallelProcessParams
        Sent to each worker once.
    describe : callable
        ``describe(epoch, batch_index) -> BatchTask``; called from the consumer's thread.
    batches_per_epoch : int
    num_workers : int
        >= 1.
    max_pending : int
        Batches computed ahead, >= 1.
    threads : bool
        Threads instead of processes (``debug=True``): breakpoints stop in the pipeline.
    hide_gpus : bool
        Set ``CUDA_VISIBLE_DEVICES=-1`` in worker processes.
    batch_timeout : float, optional
        Seconds a worker process may spend on one batch; one that takes longer is taken for
        hung, killed and replaced like a worker that died. None waits forever; threads are
        never timed (a breakpoint would trip it). Whatever it is, a worker process not ready
        STARTUP_TIMEOUT_SECONDS after its start is killed and replaced the same way.
    """

    def __init__(
        self,
        params: Any,
        describe: Callable[[int, int], BatchTask],
        *,
        batches_per_epoch: int,
        num_workers: int,
        max_pending: int,
        threads: bool,
        hide_gpus: bool,
        batch_timeout: float | None = None,
    ) -> None:
        self._pool = _Pool(
            params,
            describe,
            batches_per_epoch=batches_per_epoch,
            num_workers=num_workers,
            max_pending=max_pending,
            threads=threads,
            hide_gpus=hide_gpus,
            batch_timeout=batch_timeout,
        )
        self._finalizer = weakref.finalize(self, self._pool.stop)
        try:
            self._pool.start()
        except BaseException:
            self.close()
            raise

    @property
    def num_workers(self) -> int:
        """Number of workers."""
        return len(self._pool.workers)

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the workers (empty with threads)."""
        with self._pool.lock:
            return [] if self._pool.threads else [w.pid for w in self._pool.workers]

    @property
    def num_replaced(self) -> int:
        """Workers started in place of workers that died."""
        with self._pool.lock:
            return self._pool.num_started - len(self._pool.workers)

    def close(self) -> None:
        """Stop the workers and free the pipes and slots; safe to call more than once."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        """Whether close() has run."""
        return not self._finalizer.alive

    def get(self, epoch: int, batch_index: int, *, advance: bool = True) -> Any:
        """Return batch ``batch_index`` of ``epoch``, computing or waiting as needed.

        Safe from any number of threads at once; each gets the batch it asked for.

        Parameters
        ----------
        epoch, batch_index : int
            The batch.
        advance : bool
            Move the prefetch window to the batches after this one. False for a read aside
            from the sequence being consumed (a peek), which then leaves the window alone.
        """
        if self.closed:
            raise _closed_error()
        pool = self._pool
        position = epoch * pool.batches_per_epoch + batch_index
        with pool.changed:
            pool.waiting[position] += 1
            try:
                pool.request(position)
                if advance:
                    pool.top_up(position + 1)
                pool.notify_workers()
                while position not in pool.ready and pool.fatal is None and not pool.stopping:
                    if position not in pool.tasks:
                        # Another thread asking for the same batch took it first.
                        pool.request(position)
                        pool.notify_workers()
                    if not pool.changed.wait(LIVENESS_INTERVAL):
                        pool.check_alive()
                result = pool.ready.pop(position, _MISSING) if pool.fatal is None else _MISSING
            finally:
                pool.waiting[position] -= 1
                if pool.waiting[position] <= 0:
                    del pool.waiting[position]
            fatal, notices = pool.fatal, pool.notices
            pool.notices = []
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


def resolve_num_workers(cores: int | float) -> int:
    """Workers for a ``cores`` setting, as the reference counts them.

    A fraction of this machine's cores (at least 1); -1 for all of them; an int as is, but
    no more than the machine has; 0 (no workers: the caller's thread computes).
    """
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    available = available or os.cpu_count() or 1
    if isinstance(cores, float):
        return max(1, round(cores * available))
    if cores == -1:
        return available
    return min(int(cores), available)

"""Workers that compute batches, and the scheduler that keeps them a bounded step ahead.

One task is one batch. Workers get the pipeline's configuration once, when they start, and
then only (epoch, batch index, files) per task; results come back in any order and the
scheduler hands them out in the order they are asked for. Processes start with forkserver
(spawn where there is none): never a fork of a parent that may have imported TensorFlow.
Workers import neither TensorFlow nor Keras.

Each worker process sends its results through a pipe of its own. A worker killed in the
middle of sending a batch then leaves a truncated message only in its own pipe, which ends
there (its only writer is dead): the parent reads end-of-file and reports the worker, where
a pipe shared by all workers would leave the parent waiting forever for the rest.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import pickle
import queue
import signal
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from parallel_audio.errors import WorkerError

#: How often a waiting parent checks that every worker is still alive, in seconds.
LIVENESS_INTERVAL = 0.2
#: How long workers get to exit on their own before they are killed, in seconds.
SHUTDOWN_GRACE = 2.0


@dataclass(frozen=True)
class BatchTask:
    """What a worker needs to compute one batch."""

    epoch: int
    batch_index: int
    filenames: list[str | None]
    class_ids: list[int]
    sample_ids: list[int]


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


def _failure(task: BatchTask, error: BaseException) -> tuple:
    """Describe a failed task picklably: the exception if it pickles, and its text."""
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    try:
        payload = pickle.dumps(error)
    except Exception:  # an unpicklable exception still reaches the parent as text
        payload = None
    return ("error", task.epoch, task.batch_index, payload, repr(error), text)


def _serve(
    params: Any, tasks: Any, send: Callable[[Any], None], should_stop: Callable[[], bool]
) -> None:
    """Run a worker's loop: take tasks until a None arrives or should_stop() turns true."""
    while True:
        try:
            task = tasks.get(timeout=0.5)
        except queue.Empty:
            if should_stop():
                return
            continue
        if task is None:
            return
        try:
            send(("ok", task.epoch, task.batch_index, compute_batch(params, task)))
        except BaseException as error:  # report everything; the parent decides
            send(_failure(task, error))


def _process_main(
    params_bytes: bytes, tasks: Any, results: Any, lifeline: Any, hide_gpus: bool
) -> None:
    # Ctrl-C is the parent's to handle; the parent stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hide_gpus:
        os.environ["CUDA_VISIBLE_DEVICES"] = "-1"
    params = pickle.loads(params_bytes)
    # Warm up: the first frontend call builds native state.
    if params.frontend_enabled:
        generator = params.audio_data_generator
        generator.apply_frontend(np.zeros(generator.sample_length, np.float32))
    # The lifeline's only writer is the training process, which never writes: it turns
    # readable (end of file) exactly when that process is gone, however it died. The parent
    # process id cannot tell: a forkserver worker's parent is the fork server, which stays
    # alive as long as any worker does.
    try:
        _serve(params, tasks, results.send, should_stop=lifeline.poll)
    except (BrokenPipeError, EOFError, OSError):
        pass  # the parent closed its end of the pipes (close()) or died: nobody to tell


def _context() -> multiprocessing.context.BaseContext:
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["parallel_audio.pipeline"])
    return context


def _stop_workers(
    workers: list,
    tasks: Any,
    readers: list,
    stop_event: threading.Event | None,
    lifeline: Any,
) -> None:
    """Ask every worker to finish, wait SHUTDOWN_GRACE, then kill what is left.

    Module-level and holding no reference to the scheduler, so that a weakref finalizer can
    run it when the scheduler is collected or the interpreter exits.
    """
    if stop_event is not None:
        stop_event.set()
    if lifeline is not None:
        lifeline.close()  # idle workers notice within their polling interval
    for _ in workers:
        try:
            tasks.put_nowait(None)
        except Exception:  # a full or closed queue: the workers are killed below
            pass
    # A worker sending a result (or finishing a task) gets a broken pipe and leaves.
    for reader in readers:
        reader.close()
    deadline = time.monotonic() + SHUTDOWN_GRACE
    for worker in workers:
        worker.join(max(0.0, deadline - time.monotonic()))
    for worker in workers:
        if worker.is_alive() and hasattr(worker, "kill"):
            worker.kill()
            worker.join(1.0)
    if hasattr(tasks, "cancel_join_thread"):
        tasks.cancel_join_thread()
        tasks.close()


def _exit_description(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


class BatchScheduler:
    """Computes batches in workers, at most ``max_pending`` ahead of what has been asked for.

    Batches are numbered by their position in an endless sequence of epochs; after serving
    position p the scheduler keeps positions p+1 .. p+max_pending submitted. Asking for a
    batch outside that window submits it at once. Results are handed out by position, so the
    order workers finish in never shows.

    Parameters
    ----------
    params : ParallelProcessParams
        Sent to each worker once.
    describe : callable
        ``describe(epoch, batch_index) -> BatchTask``.
    batches_per_epoch : int
    num_workers : int
        >= 1.
    max_pending : int
        Batches computed ahead, >= 1.
    threads : bool
        Threads instead of processes (``debug=True``): breakpoints stop in the pipeline.
    hide_gpus : bool
        Set ``CUDA_VISIBLE_DEVICES=-1`` in worker processes.
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
    ) -> None:
        self._describe = describe
        self._batches_per_epoch = batches_per_epoch
        self._max_pending = max_pending
        self._submitted: set[int] = set()
        self._ready: dict[int, Any] = {}
        self._next_to_submit = 0
        self._threads = threads
        self._stop_event: threading.Event | None = None
        self._results: Any = None  # threads: one queue for all
        self._readers: list = []  # processes: one pipe per worker, in worker order
        writers: list = []
        lifeline_reader = lifeline_writer = None
        if threads:
            self._tasks: Any = queue.Queue()
            self._results = queue.Queue()
            self._stop_event = threading.Event()
            stop = self._stop_event
            self._workers = [
                threading.Thread(
                    target=_serve,
                    args=(params, self._tasks, self._results.put, stop.is_set),
                    name=f"parallel_audio-worker-{i}",
                    daemon=True,
                )
                for i in range(num_workers)
            ]
        else:
            context = _context()
            try:
                params_bytes = pickle.dumps(params)
            except Exception as error:
                raise WorkerError(
                    f"the generator's configuration cannot be sent to worker processes: {error}. "
                    "Callbacks must be defined at module level (not lambdas or local "
                    "functions) to be pickled; or use debug=True (threads) or cores=0."
                ) from error
            self._tasks = context.Queue()
            lifeline_reader, lifeline_writer = context.Pipe(duplex=False)
            for _ in range(num_workers):
                reader, writer = context.Pipe(duplex=False)
                self._readers.append(reader)
                writers.append(writer)
            self._workers = [
                context.Process(
                    target=_process_main,
                    args=(params_bytes, self._tasks, writer, lifeline_reader, hide_gpus),
                    name=f"parallel_audio-worker-{i}",
                    daemon=True,
                )
                for i, writer in enumerate(writers)
            ]
        for worker in self._workers:
            worker.start()
        for writer in writers:
            writer.close()  # the worker's copy is then the only one: its death ends the pipe
        if lifeline_reader is not None:
            lifeline_reader.close()  # only the workers read it
        self._finalizer = weakref.finalize(
            self,
            _stop_workers,
            self._workers,
            self._tasks,
            self._readers,
            self._stop_event,
            lifeline_writer,
        )

    @property
    def num_workers(self) -> int:
        """Number of workers."""
        return len(self._workers)

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the workers (empty with threads)."""
        return [] if self._threads else [w.pid for w in self._workers]

    def close(self) -> None:
        """Stop the workers and release the queues; safe to call more than once."""
        self._finalizer()

    @property
    def closed(self) -> bool:
        """Whether close() has run."""
        return not self._finalizer.alive

    def get(self, epoch: int, batch_index: int) -> Any:
        """Return batch ``batch_index`` of ``epoch``, computing or waiting as needed."""
        if self.closed:
            raise WorkerError(
                "the iterator's workers were stopped, by close() or after an earlier error; "
                "create a new iterator to continue"
            )
        # Take what has arrived (freeing workers blocked on a full pipe) and notice a dead
        # worker even while the others keep up.
        while self._collect_one(timeout=0.0):
            pass
        position = epoch * self._batches_per_epoch + batch_index
        if position not in self._ready and position not in self._submitted:
            self._submit(position)
        self._top_up(position + 1)
        while position not in self._ready:
            self._collect_one(timeout=LIVENESS_INTERVAL)
        self._submitted.discard(position)
        return self._ready.pop(position)

    def _submit(self, position: int) -> None:
        epoch, batch_index = divmod(position, self._batches_per_epoch)
        self._tasks.put(self._describe(epoch, batch_index))
        self._submitted.add(position)

    def _top_up(self, start: int) -> None:
        """Keep the positions after the one being served submitted, up to max_pending."""
        # Results for positions the consumer has moved past are dropped (and recomputed
        # should they be asked for again: they are no longer submitted).
        for stale in [p for p in self._ready if p < start - 1]:
            del self._ready[stale]
            self._submitted.discard(stale)
        # After a jump (random access far ahead or back) the window follows the consumer;
        # small steps back keep it, so the batches just served are not computed again.
        if not start <= self._next_to_submit <= start + 2 * self._max_pending:
            self._next_to_submit = start
        while self._next_to_submit < start + self._max_pending:
            position = self._next_to_submit
            if position not in self._submitted and position not in self._ready:
                self._submit(position)
            self._next_to_submit += 1

    def _collect_one(self, timeout: float) -> bool:
        """Take one result if one arrives within ``timeout`` seconds; False if none did.

        Raises WorkerError if a worker reported an error or died.
        """
        if self._threads:
            try:
                message = self._results.get(timeout=timeout)
            except queue.Empty:
                self._check_workers()
                return False
        else:
            sentinels = [w.sentinel for w in self._workers]
            ready = multiprocessing.connection.wait(self._readers + sentinels, timeout)
            readers = [r for r in ready if not isinstance(r, int)]
            if not readers:
                self._check_workers()
                return False
            message = self._receive(readers[0])
        self._handle(message)
        return True

    def _receive(self, reader: Any) -> Any:
        try:
            return reader.recv()
        except (EOFError, OSError):  # the worker died, perhaps in the middle of a message
            worker = self._workers[self._readers.index(reader)]
            worker.join(1.0)
            self._check_workers()
            self.close()
            raise WorkerError(
                f"worker {worker.name} (pid {worker.pid}) stopped sending results; "
                "the iterator is closed: create a new one to continue."
            ) from None

    def _handle(self, message: tuple) -> None:
        kind, epoch, batch_index = message[:3]
        position = epoch * self._batches_per_epoch + batch_index
        if kind == "ok":
            if position in self._submitted:
                self._ready[position] = message[3]
            return
        payload, description, text = message[3:]
        self.close()
        cause = None
        if payload is not None:
            try:
                cause = pickle.loads(payload)
            except Exception:  # the exception pickled but does not unpickle here
                cause = None
        raise WorkerError(
            f"batch {batch_index} of epoch {epoch} failed in a worker: {description}\n\n"
            f"Worker traceback:\n{text}"
        ) from cause

    def _check_workers(self) -> None:
        dead = [w for w in self._workers if not w.is_alive()]
        if dead:
            self.close()
            if self._threads:
                raise WorkerError("a worker thread stopped unexpectedly")
            details = ", ".join(
                f"worker {w.name} (pid {w.pid}) {_exit_description(w.exitcode)}" for w in dead
            )
            pending = sorted(self._submitted)
            raise WorkerError(
                f"{details}; the batches in flight ({len(pending)}) are lost. "
                "The iterator is closed: create a new one to continue."
            )


def resolve_num_workers(cores: int | float) -> int:
    """Workers for a ``cores`` setting: an int as is, a fraction of this machine's cores."""
    if isinstance(cores, float):
        return max(1, round(cores * (os.cpu_count() or 1)))
    return int(cores)


def describe_task(
    epoch: int,
    batch_index: int,
    sample_ids: Sequence[int],
    filenames: Sequence[str | None],
    classes: Sequence[int],
) -> BatchTask:
    """Build the BatchTask for the given sample ids of an index."""
    ids = [int(i) for i in sample_ids]
    return BatchTask(
        epoch=epoch,
        batch_index=batch_index,
        filenames=[filenames[i] for i in ids],
        class_ids=[int(classes[i]) for i in ids],
        sample_ids=ids,
    )

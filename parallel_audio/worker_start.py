"""How worker processes start: forked from a clean fork server, without the user's main module.

A fork server is a fresh interpreter, started once per parent process: it imports what
workers need (FORK_SERVER_PRELOAD), then forks each worker from itself. So a worker never
comes from a fork of the training process, which may hold TensorFlow's threads and locks,
and yet starts in milliseconds, with the pipeline already imported.

Plain multiprocessing also sends every new process the parent's main module (its path, or
its name under ``python -m``), which the process re-runs as ``__mp_main__`` before it does
anything: a training script would import TensorFlow in every worker, one without an
``if __name__ == "__main__":`` guard would build its generator and start workers again, and
code read from standard input or run in a notebook cannot be re-run at all. Our workers'
start-up data names no main module, as loky's does: a worker imports parallel_audio, numpy
and what the pipeline needs, and callbacks defined in the user's main module reach it by
value, with the configuration (see ``callback_pickling``).
"""

from __future__ import annotations

import io
import multiprocessing
import multiprocessing.context
import os
from multiprocessing import reduction, spawn
from multiprocessing import util as mp_util
from multiprocessing.context import set_spawning_popen
from typing import Any

#: What the fork server imports once, before it forks any worker: everything a worker needs
#: up to its first batch, so that no worker spends its start importing. This module (the
#: worker's process object is unpickled there as a WorkerProcess), the worker's loop (its
#: target), the computations it is sent (batches, windows of long recordings) and what they
#: hold: the generator's configuration (callbacks get it as ``params.audio_data_generator``),
#: the sample runtime, the clips and noise shared through memory (clip store), callbacks by
#: value (cloudpickle). Not the iterator, Keras or TensorFlow, which stay in the training
#: process; the package's ``__init__`` imports its public names only when they are used, so
#: none of them comes along.
FORK_SERVER_PRELOAD = [
    "parallel_audio.worker_start",
    "parallel_audio.pool.worker_loop",
    "parallel_audio.pipeline",
    "parallel_audio.window_pipeline",
    "parallel_audio.generator",
    "parallel_audio.clip_store",
    "cloudpickle",
]
#: Start-up data keys that make a new process re-run the parent's main module.
MAIN_MODULE_KEYS = ("init_main_from_path", "init_main_from_name")


def preparation_data(name: str) -> dict[str, Any]:
    """Return what a new process sets up before it runs, less the parent's main module.

    Parameters
    ----------
    name : str
        The process's name.

    Returns
    -------
    dict
        multiprocessing's preparation data (``sys.path``, working directory, authentication
        key, ...) without ``init_main_from_path`` and ``init_main_from_name``.
    """
    data = spawn.get_preparation_data(name)
    for key in MAIN_MODULE_KEYS:
        data.pop(key, None)
    return data


try:
    from multiprocessing import forkserver, popen_forkserver
except ImportError:  # file descriptors cannot be passed between processes (Windows)
    popen_forkserver = None
else:

    class _ForkServerPopen(popen_forkserver.Popen):
        """multiprocessing's forkserver launcher, sending no main module to re-run."""

        def _launch(self, process_obj: Any) -> None:
            # popen_forkserver.Popen._launch (as in CPython 3.10 to 3.13) but for the
            # preparation data.
            buffer = io.BytesIO()
            set_spawning_popen(self)
            try:
                reduction.dump(preparation_data(process_obj._name), buffer)
                reduction.dump(process_obj, buffer)
            finally:
                set_spawning_popen(None)
            self.sentinel, writer = forkserver.connect_to_new_process(self._fds)
            # A duplicate of the data pipe's write end: the child's sign that its parent lives.
            parent_writer = os.dup(writer)
            self.finalizer = mp_util.Finalize(
                self, mp_util.close_fds, (parent_writer, self.sentinel)
            )
            with open(writer, "wb", closefd=True) as stream:
                stream.write(buffer.getbuffer())
            self.pid = forkserver.read_signed(self.sentinel)

    class WorkerProcess(multiprocessing.context.ForkServerProcess):
        """A process forked by the fork server that does not re-run the main module.

        Module-level: the process object is pickled to the child, its class by name.
        """

        @staticmethod
        def _Popen(process_obj: Any) -> _ForkServerPopen:
            return _ForkServerPopen(process_obj)

    class _WorkerContext(multiprocessing.context.ForkServerContext):
        Process = WorkerProcess


class InheritedDescriptor:
    """A file descriptor of the parent that a worker process receives as its own.

    Put in a worker's arguments, it reaches the worker the way the worker's pipes do: the fork
    server passes the descriptor to the new process, which unpickles this object as the
    number of its copy. Only where workers start from the fork server.

    Parameters
    ----------
    descriptor : int
        Stays open in the parent; the worker gets a duplicate.
    """

    def __init__(self, descriptor: int) -> None:
        self.descriptor = descriptor

    def __reduce__(self) -> tuple:
        # Called while the process is being started: DupFd registers the descriptor with
        # the process's launcher, which sends it to the fork server with the pipes'.
        return (_detach, (reduction.DupFd(self.descriptor),))


def _detach(inherited: Any) -> int:
    return inherited.detach()


def fork_server_pid() -> int | None:
    """Return the process id of this process's running fork server, None if none was started.

    A dead fork server keeps its id here until the next worker start, which starts a new one.
    """
    if popen_forkserver is None:
        return None
    # multiprocessing keeps it in a private attribute (CPython 3.8 to 3.13).
    return getattr(forkserver._forkserver, "_forkserver_pid", None)


def fork_server_is_running(pid: int | None) -> bool:
    """Return whether ``pid``, a fork server this process started, still runs.

    Looks without reaping it: multiprocessing reaps a dead fork server itself when it starts
    the next one, and expects to find it unreaped.

    Parameters
    ----------
    pid : int or None
        A value ``fork_server_pid()`` returned; None (no fork server) counts as running.

    Returns
    -------
    bool
    """
    if pid is None:
        return True
    if pid != fork_server_pid():
        return False  # it was replaced, so it had died
    try:
        status = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return False
    return status is None


_context: multiprocessing.context.BaseContext | None = None


def worker_context() -> multiprocessing.context.BaseContext:
    """Return the multiprocessing context worker processes start from.

    Its processes are forked by the fork server and re-run no main module. Where there is
    no fork server (Windows) it is the spawn context, whose processes do re-run it.

    Returns
    -------
    multiprocessing.context.BaseContext
    """
    global _context
    if _context is None:
        if popen_forkserver is not None:
            _context = _WorkerContext()
            _context.set_forkserver_preload(FORK_SERVER_PRELOAD)
        else:
            _context = multiprocessing.get_context("spawn")
    return _context


def prepare_worker_processes(generator: Any) -> None:
    """Get ready to start ``generator``'s worker processes, if it has any.

    Checks that its callbacks can be sent to them (raising SettingsError if not), and starts
    the fork server, whose imports then overlap the listing of the dataset. Nothing is done
    with ``cores=0`` or ``debug=True``.

    Parameters
    ----------
    generator : ParallelAudioDataGenerator
        Its ``cores``, ``debug`` and callbacks are read.

    Raises
    ------
    SettingsError
        Naming the callback and the object in it that cannot be pickled.
    """
    from parallel_audio.callback_pickling import check_callbacks_for_workers
    from parallel_audio.pool.options import resolve_num_workers

    if generator.debug or resolve_num_workers(generator.cores) == 0:
        return
    check_callbacks_for_workers(generator)
    if popen_forkserver is not None:
        worker_context()  # sets what the fork server imports
        forkserver.ensure_running()

"""RayExecutor: the pool's executor whose workers are Ray actors, on any node of a cluster.

It implements :class:`~parallel_audio.pool.executor.Executor` and nothing more: the
scheduler, the epoch plan, every sample's random stream and the order batches are handed out
in stay in the training process, so the batches are the ones local workers (or ``cores=0``)
compute, bit for bit. Each actor receives ``compute`` (the iterator's frozen configuration)
once, through Ray's object store, and then only tasks, two at a time at most, as a local
worker process does.

What comes back is turned into the pool's events: a result (``TaskDone``); an exception in
the pipeline or a callback, with the actor's traceback, which names the file
(``TaskFailed``, raised as ``WorkerError``); an actor that died, was killed, lost its node,
did not start within STARTUP_TIMEOUT_S or was stuck on one batch longer than
``batch_timeout`` (``WorkersLost``: the scheduler warns, has a new actor started and its
batches computed again, with the local workers' limits on repeated deaths).

Ray is imported when an executor starts, never when this module is imported.
"""

from __future__ import annotations

import collections
import pickle
import queue
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from parallel_audio.callback_pickling import pickle_for_workers
from parallel_audio.errors import WorkerError
from parallel_audio.pool.executor import Executor, WorkerInfo
from parallel_audio.pool.messages import Event, TaskDone, TaskFailed, WorkersLost
from parallel_audio.pool.options import PoolOptions
from parallel_audio.ray.actor import ActorOutcome, TaskActor
from parallel_audio.validation import check_number

__all__ = ["RayExecutor"]

#: Tasks an actor holds at once: one it computes and the next, so that it never waits for
#: the training process between two batches (as a local worker process).
TASKS_PER_ACTOR = 2
#: How long an actor may take to start (be placed, start its process, unpickle ``compute``)
#: before it is taken for lost, in seconds. A cluster that lacks the CPUs it asks for never
#: places it: that shows as this timeout rather than a hang.
STARTUP_TIMEOUT_S = 120.0
#: How often results() checks actors against their timeouts when nothing arrives, in seconds.
WATCH_INTERVAL_S = 1.0

_WAKE = object()


def _import_ray() -> Any:
    try:
        import ray
    except ImportError as error:
        raise ImportError(
            'RayExecutor needs Ray: pip install "parallel_audio[ray]" (or pip install ray)'
        ) from error
    return ray


@dataclass(eq=False)
class _Actor:
    """One actor and what it holds; changed under the executor's lock."""

    name: str
    handle: Any
    started_at: float
    location: Any  # the future of TaskActor.location(), until it is known
    node_id: str | None = None
    host: str | None = None
    pid: int | None = None
    held: dict[int, Any] = field(default_factory=dict)  # task id -> future, in order sent
    busy_since: float | None = None
    lost: bool = False

    def describe(self) -> str:
        where = "not yet placed" if self.node_id is None else f"pid {self.pid} on {self.host}"
        node = "" if self.node_id is None else f", node {self.node_id[:12]}"
        return f"Ray actor {self.name} ({where}{node})"


class RayExecutor(Executor):
    """Computes batches in Ray actors, on the nodes of a Ray cluster.

    Pass it as ``flow_from_directory(..., executor=RayExecutor(...))``. It is a template:
    every iterator, and every shard of one, starts its own actors from it (see
    :meth:`fresh`), and stops them when it stops. Each actor receives the iterator's
    configuration once and then batch tasks; the plan, the random streams and the order
    stay in the training process, so batches are the same, bit for bit, as with local
    workers or ``cores=0``. Ray's own scheduling, retries and seeds play no part.

    Every node must see the same dataset: audio files (and ``bg_noise_dir``) under the same
    paths, and the same versions of Python, parallel_audio and the libraries its callbacks
    use (``runtime_env`` can install them).

    Parameters
    ----------
    address : str, optional
        The Ray cluster to join (``"auto"``, ``"ray://head:10001"``, ...). None: the Ray this
        process is already connected to (an earlier ``ray.init()`` is reused), else
        ``ray.init()``'s default (``RAY_ADDRESS``, a local ``ray start`` cluster, or a new
        local Ray). Ray stays connected after the iterator stops.
    num_actors : int, optional
        Actors to start, >= 1. None: as many as the cluster's CPUs allow, less
        ``reserve_cpus``, at ``num_cpus_per_actor`` each (at least one).
    num_cpus_per_actor : float
        CPUs each actor reserves, > 0 (an actor computes one batch at a time).
    reserve_cpus : float
        CPUs of the cluster left for the training process (and Ray), >= 0, when
        ``num_actors`` is None.
    max_batches_pending : int, optional
        Batches computed ahead of the one being asked for, >= 1, in place of the generator's
        ``max_batches_pending`` (None keeps it). Give at least two per actor, or some
        actors sit idle.
    runtime_env : dict, optional
        Ray's runtime environment for the actors (``pip``, ``env_vars``, ``working_dir``).

    Examples
    --------
    >>> from parallel_audio.ray import RayExecutor
    >>> train = gen.flow_from_directory(  # doctest: +SKIP
    ...     "data", classes, executor=RayExecutor("auto", max_batches_pending=16)
    ... )
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        num_actors: int | None = None,
        num_cpus_per_actor: float = 1,
        reserve_cpus: float = 1,
        max_batches_pending: int | None = None,
        runtime_env: dict[str, Any] | None = None,
    ) -> None:
        if address is not None and not isinstance(address, str):
            raise TypeError(f"address must be a str or None, got {type(address).__name__}")
        if num_actors is not None:
            check_number("num_actors", num_actors, "an int >= 1 or None", integer=True, minimum=1)
        check_number("num_cpus_per_actor", num_cpus_per_actor, "a number > 0", minimum=1e-4)
        check_number("reserve_cpus", reserve_cpus, "a number >= 0", minimum=0)
        if max_batches_pending is not None:
            check_number(
                "max_batches_pending",
                max_batches_pending,
                "an int >= 1 or None",
                integer=True,
                minimum=1,
            )
        if runtime_env is not None and not isinstance(runtime_env, dict):
            raise TypeError(f"runtime_env must be a dict or None, got {type(runtime_env).__name__}")
        self.address = address
        self.num_actors = num_actors
        self.num_cpus_per_actor = num_cpus_per_actor
        self.reserve_cpus = reserve_cpus
        self.max_batches_pending = max_batches_pending
        self.runtime_env = runtime_env
        self._started = False
        self._stopped = False
        self._lock = threading.Lock()
        self._actors: list[_Actor] = []
        self._num_started = 0
        self._outbox: queue.SimpleQueue = queue.SimpleQueue()
        self._batches_per_node: collections.Counter[str] = collections.Counter()
        self._hosts: dict[str, str] = {}

    def __repr__(self) -> str:
        return (
            f"RayExecutor(address={self.address!r}, num_actors={self.num_actors!r}, "
            f"num_cpus_per_actor={self.num_cpus_per_actor!r}, reserve_cpus={self.reserve_cpus!r}, "
            f"max_batches_pending={self.max_batches_pending!r}, runtime_env={self.runtime_env!r})"
        )

    def fresh(self) -> RayExecutor:
        """Return an unstarted executor with the same settings (one per iterator)."""
        return RayExecutor(
            self.address,
            num_actors=self.num_actors,
            num_cpus_per_actor=self.num_cpus_per_actor,
            reserve_cpus=self.reserve_cpus,
            max_batches_pending=self.max_batches_pending,
            runtime_env=self.runtime_env,
        )

    # --- Starting ---

    def start(self, options: PoolOptions, compute: Callable[[Any], Any]) -> None:
        """Connect to Ray, ship ``compute`` once and start the actors; wait until they run.

        ``options.num_workers`` is not used (the number of actors is this executor's);
        ``options.hide_gpus`` and ``options.batch_timeout`` are.

        Raises
        ------
        SettingsError
            ``compute`` cannot be pickled (naming the callback at fault).
        WorkerError
            The actors could not start within STARTUP_TIMEOUT_S (the cluster lacks the CPUs
            they ask for), or one failed as it started (its traceback).
        """
        if self._started:
            raise WorkerError("this RayExecutor was started already; use fresh() for another")
        self._started = True
        self._options = options
        ray = self._ray = _import_ray()
        # Checked before Ray starts: a callback that cannot travel fails at once.
        compute_bytes = pickle_for_workers(compute, "the generator's configuration")
        if not ray.is_initialized():
            ray.init(address=self.address)
        self._this_host = socket.gethostname()
        self._actor_class = ray.remote(TaskActor)
        # Put once: every actor, replacements too, reads the same copy from the object store.
        self._compute_ref = ray.put(compute_bytes)
        count = self._num_initial = self.num_actors or self._actors_the_cluster_allows()
        try:
            for _ in range(count):
                self._actors.append(self._start_actor())
            self._wait_until_placed(self._actors)
        except BaseException:
            self.stop()
            raise

    def _actors_the_cluster_allows(self) -> int:
        cpus = float(self._ray.cluster_resources().get("CPU", 0))
        return max(1, int((cpus - self.reserve_cpus) // self.num_cpus_per_actor))

    def _start_actor(self) -> _Actor:
        name = f"actor-{self._num_started}"
        self._num_started += 1
        handle = self._actor_class.options(
            num_cpus=self.num_cpus_per_actor,
            # A death is reported to the scheduler, which decides; Ray restarts nothing.
            max_restarts=0,
            max_task_retries=0,
            scheduling_strategy="SPREAD",
            runtime_env=self.runtime_env,
        ).remote(self._compute_ref, self._options.hide_gpus)
        location = handle.location.remote().future()
        return _Actor(name, handle, time.monotonic(), location)

    def _wait_until_placed(self, actors: list[_Actor]) -> None:
        """Wait for the actors to run; raise if one fails or the time runs out."""
        end = time.monotonic() + STARTUP_TIMEOUT_S
        for actor in actors:
            try:
                self._learn_location(actor, max(0.0, end - time.monotonic()))
            except TimeoutError:
                cpus = self._ray.available_resources().get("CPU", 0)
                raise WorkerError(
                    f"{len(actors)} Ray actor(s) of {self.num_cpus_per_actor} CPU each did not "
                    f"start within {STARTUP_TIMEOUT_S:.0f} s; the cluster has {cpus:g} CPU(s) "
                    "free. Ask for fewer actors (num_actors) or CPUs (num_cpus_per_actor), or "
                    "add nodes."
                ) from None
            except Exception as error:
                raise WorkerError(f"a Ray actor failed as it started: {error}") from error

    def _learn_location(self, actor: _Actor, timeout: float | None) -> None:
        node_id, host, pid = actor.location.result(timeout=timeout)
        actor.node_id, actor.host, actor.pid = node_id, host, pid
        self._hosts[node_id] = host

    # --- Handing out ---

    def submit(self, task_id: int, task: Any) -> bool:
        """Send a task to the live actor holding fewest, if it holds fewer than two."""
        with self._lock:
            if self._stopped:
                return False
            candidates = [a for a in self._actors if not a.lost]
            if not candidates:
                return False
            actor = min(candidates, key=lambda a: len(a.held))
            if len(actor.held) >= TASKS_PER_ACTOR:
                return False
            future = actor.handle.compute.remote(task_id, task).future()
            actor.held[task_id] = future
            if actor.busy_since is None:
                actor.busy_since = time.monotonic()
        # Called in Ray's thread as the result arrives (at once if it already has).
        future.add_done_callback(lambda _, a=actor, t=task_id: self._outbox.put((a, t)))
        return True

    # --- Watching ---

    def results(self, timeout: float) -> list[Event]:
        """Turn what arrived into events, waiting up to ``timeout`` for the first."""
        events: list[Event] = []
        arrived = []
        try:
            item = self._outbox.get(timeout=min(timeout, WATCH_INTERVAL_S))
            while True:
                if item is not _WAKE:
                    arrived.append(item)
                item = self._outbox.get_nowait()
        except queue.Empty:
            pass
        for actor, task_id in arrived:
            self._receive(actor, task_id, events)
        self._watch_timeouts(events)
        return events

    def _receive(self, actor: _Actor, task_id: int, events: list[Event]) -> None:
        ray = self._ray
        with self._lock:
            future = actor.held.get(task_id)
        if actor.lost or future is None:
            return  # reported with its lost actor already
        try:
            outcome: ActorOutcome = future.result()
        except ray.exceptions.RayActorError as error:
            self._lose(actor, f"{actor.describe()} died: {_first_line(error)}", events)
            return
        except Exception as error:  # the result could not be brought back (object lost)
            with self._lock:
                actor.held.pop(task_id, None)
            events.append(
                TaskFailed(
                    task_id, f"could not be fetched from {actor.describe()}: {error!r}", "", error
                )
            )
            return
        if actor.node_id is None:  # a replacement: placed by now, since it has computed
            self._learn_location(actor, None)
        with self._lock:
            actor.held.pop(task_id, None)
            actor.busy_since = time.monotonic() if actor.held else None
            if outcome.failure is None:
                self._batches_per_node[actor.node_id] += 1
        if outcome.failure is None:
            events.append(TaskDone(task_id, _owned(outcome.result)))
            return
        failure = outcome.failure
        cause = None
        if failure.exception is not None:
            try:
                cause = pickle.loads(failure.exception)
            except Exception:  # it pickled there but does not unpickle here
                cause = None
        events.append(
            TaskFailed(
                task_id,
                f"failed in {actor.describe()}: {failure.description}",
                failure.traceback,
                cause,
            )
        )

    def _lose(self, actor: _Actor, reason: str, events: list[Event]) -> None:
        """Report an actor lost, with the tasks it held; tasks it finished first count."""
        with self._lock:
            held = list(actor.held.items())
        for task_id, future in held:
            if future.done() and future.exception() is None:
                self._receive(actor, task_id, events)
        with self._lock:
            actor.lost = True
            unfinished = tuple(actor.held)
            actor.held.clear()
        culprit = unfinished[0] if unfinished else None
        events.append(WorkersLost((actor.name,), unfinished, culprit, reason))
        try:
            self._ray.kill(actor.handle, no_restart=True)
        except Exception:  # gone already
            pass

    def _watch_timeouts(self, events: list[Event]) -> None:
        """Report lost an actor not placed in time, or stuck on one task too long."""
        now = time.monotonic()
        batch_timeout = self._options.batch_timeout
        for actor in list(self._actors):
            if actor.lost:
                continue
            if actor.node_id is None and actor.location.done():
                try:
                    self._learn_location(actor, 0)
                except Exception:  # it died starting: its tasks report that
                    pass
            if actor.node_id is None and now - actor.started_at > STARTUP_TIMEOUT_S:
                cpus = self._ray.available_resources().get("CPU", 0)
                self._lose(
                    actor,
                    f"{actor.describe()} did not start within {STARTUP_TIMEOUT_S:.0f} s "
                    f"(the cluster has {cpus:g} CPU(s) free)",
                    events,
                )
            elif (
                batch_timeout is not None
                and actor.busy_since is not None
                and now - actor.busy_since > batch_timeout
            ):
                self._lose(
                    actor,
                    f"{actor.describe()} spent more than batch_timeout={batch_timeout:g} s on "
                    "one batch and was killed",
                    events,
                )

    def replace(self, lost: WorkersLost) -> str:
        """Start one actor in place of each lost one; they start in the background."""
        started = []
        for name in lost.workers:
            successor = self._start_actor()
            with self._lock:
                index = next(i for i, a in enumerate(self._actors) if a.name == name)
                self._actors[index] = successor
            started.append(successor.name)
        return f"started Ray actor {', '.join(started)} in its place"

    def wake(self) -> None:
        """Make a ``results`` call in progress return."""
        self._outbox.put(_WAKE)

    def stop(self) -> None:
        """Kill every actor (they hold nothing worth waiting for); idempotent.

        Ray itself stays connected: it may be the user's, and later iterators reuse it.
        """
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            actors, self._actors = self._actors, []
        ray = getattr(self, "_ray", None)
        # After ray.shutdown() the actors are gone with the session (a driver's actors die
        # with it); asking Ray to kill them would start a new local Ray instead.
        if ray is None or not ray.is_initialized():
            return
        for actor in actors:
            try:
                ray.kill(actor.handle, no_restart=True)
            except Exception:  # the actor is gone already
                pass

    def workers(self) -> list[WorkerInfo]:
        """Describe the actors; the process id of those running on this machine."""
        with self._lock:
            actors = list(self._actors)
        return [
            WorkerInfo(actor.name, actor.pid if actor.host == self._this_host else None)
            for actor in actors
        ]

    # --- Reporting ---

    def stats(self) -> dict[str, Any]:
        """Describe the actors and where the batches were computed.

        Returns
        -------
        dict
            ``executor`` ("ray"), ``workers`` (live actors), ``replaced`` (actors started in
            place of lost ones), ``batches_per_node`` (node id to the number of batches
            computed there, prefetched ones included) and ``hosts`` (node id to host name).
        """
        with self._lock:
            live = [a for a in self._actors if not a.lost]
            return {
                "executor": "ray",
                "workers": len(live),
                "replaced": self._num_started - getattr(self, "_num_initial", self._num_started),
                "batches_per_node": dict(self._batches_per_node),
                "hosts": dict(self._hosts),
            }


def _owned(result: Any) -> Any:
    """Copy the arrays of a result out of Ray's object store.

    Ray hands back numpy arrays as read-only views of its shared memory, which stay pinned
    there as long as they live: a consumer that keeps batches would fill the store, and one
    that changes a batch in place (as it may with local workers) would fail. A copy costs
    less than a millisecond per batch.
    """
    if isinstance(result, np.ndarray):
        return result if result.flags.writeable else result.copy()
    if isinstance(result, tuple | list):
        return type(result)(_owned(item) for item in result)
    if isinstance(result, dict):
        return {key: _owned(value) for key, value in result.items()}
    return result


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__

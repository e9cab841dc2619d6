"""Which samples each batch of an epoch holds: the epoch plan, and the tasks it makes.

An :class:`EpochPlan` is a small frozen value (the number of samples, the batch size, the seed,
``shuffle`` and ``last_batch``) and a pure function of ``(epoch, batch index)``: the same plan
gives the same sample ids in any process, in any order of requests, however many times it is
asked. It pickles as its fields, so an executor on another process or machine can rebuild any
batch's task from it.

:class:`BatchTasks` joins a plan to the files and class ids of a dataset index and makes the
:class:`BatchTask` a worker computes: what the iterator hands to the pool.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from parallel_audio.random_streams import Stream, random_generator
from parallel_audio.sampling import Sampling, epoch_sample_ids, occurrences
from parallel_audio.sharding import shard_rows
from parallel_audio.validation import LAST_BATCH_MODES

__all__ = ["BatchTask", "BatchTasks", "EpochPlan"]
#: Epoch orders a plan keeps computed (the current epoch and the one before, which a late
#: reader may still ask for); the others are computed again when asked for.
_ORDERS_KEPT = 2


@dataclass(frozen=True)
class BatchTask:
    """What a worker needs to compute one batch.

    Attributes
    ----------
    epoch, batch_index : int
        The batch.
    filenames : list of str or None
        Each sample's file, relative to the dataset directory (None for ``_silence_``).
    class_ids : list of int
        Each sample's class id.
    sample_ids : list of int
        Each sample's random stream: its id in the index, or for a sample repeated to fill
        the last batch (``last_batch="repeat"``) ``id + k * samples`` on its k-th repeat.
    regions : list of (Region or None), optional
        Each sample's region of its file (None: the whole file); None: all whole files.
    labels : numpy.ndarray, optional
        The batch's labels when they are not built from class ids (multi-hot rows, raw
        values), in the dtype the batch returns them.
    weights : numpy.ndarray, optional
        The samples' weights (float32); the batch is then ``(x, y, weights)``.
    clip_ids : list of int, optional
        For samples held in memory (``flow``): each sample's clip in the params' clip store.
    targets : list of str, optional
        For audio pairs (class mode "audio"): each sample's target file.
    """

    epoch: int
    batch_index: int
    filenames: list[str | None]
    class_ids: list[int]
    sample_ids: list[int]
    regions: list[Any] | None = None
    labels: np.ndarray | None = None
    weights: np.ndarray | None = None
    clip_ids: list[int] | None = None
    targets: list[str | None] | None = None


#: BatchTask fields that hold one value per sample of the batch, beyond files and class ids.
_PER_SAMPLE_FIELDS = ("regions", "labels", "weights", "clip_ids", "targets")


@dataclass(frozen=True)
class EpochPlan:
    """The sample ids of every batch of every epoch, from the seed and the epoch alone.

    Each epoch visits every sample once, in index order, or with ``shuffle`` in an order drawn
    from ``(seed, epoch)`` (:attr:`~parallel_audio.random_streams.Stream.EPOCH_PLAN`). With
    ``sampling``, each epoch holds ``sampling.epoch_length`` samples drawn from ``(seed,
    epoch)`` by :func:`~parallel_audio.sampling.epoch_sample_ids` (balanced, weighted, or
    cycling through the samples), and a sample that occurs more than once gets a stream of
    its own per occurrence.

    Parameters
    ----------
    samples : int
        Samples in the dataset, >= 1.
    batch_size : int
        Samples per batch, >= 1.
    seed : int
        The run's seed.
    shuffle : bool
        Whether each epoch's order is drawn (else index order).
    last_batch : {"short", "repeat"}
        When ``batch_size`` does not divide ``samples``: a last batch of the samples left, or
        a full one whose missing samples repeat the start of the epoch's order (cycling
        through it again if the batch is larger than the dataset).
    shard_index, num_shards : int
        Which rows of every batch the plan holds: shard ``p`` of ``n`` holds rows
        ``[p * m // n, (p + 1) * m // n)`` of a batch of ``m`` rows
        (:func:`~parallel_audio.sharding.shard_rows`); the default, shard 0 of 1, all of them.
        The batches themselves, and every sample's stream, do not depend on the shards.
    sampling : Sampling, optional
        From :func:`~parallel_audio.sampling.resolve_sampling`; None visits each sample once
        per epoch (the plan without sampling, batch for batch).

    Examples
    --------
    >>> plan = EpochPlan(samples=5, batch_size=2, seed=0, last_batch="repeat")
    >>> len(plan), plan.batch_sample_ids(0, 2).tolist(), plan.stream_ids(0, 2).tolist()
    (3, [4, 0], [4, 5])
    """

    samples: int
    batch_size: int
    seed: int
    shuffle: bool = False
    last_batch: str = "short"
    shard_index: int = 0
    num_shards: int = 1
    sampling: Sampling | None = None
    # Computed orders, by epoch: a cache, neither compared nor pickled.
    _orders: dict[int, tuple[np.ndarray, np.ndarray | None]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    _orders_lock: threading.Lock = field(
        default_factory=threading.Lock, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.samples < 1:
            raise ValueError(f"an epoch plan needs at least one sample, got {self.samples}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if self.sampling is not None and self.sampling.samples != self.samples:
            raise ValueError(
                f"the sampling is of {self.sampling.samples} samples but the plan of {self.samples}"
            )
        if self.last_batch not in LAST_BATCH_MODES:
            raise ValueError(
                f"last_batch must be one of {LAST_BATCH_MODES}, got {self.last_batch!r}"
            )
        if not 0 <= self.shard_index < self.num_shards:
            raise ValueError(
                f"shard_index must be in [0, {self.num_shards}), got {self.shard_index}"
            )

    def __getstate__(self) -> dict:
        state = {name: getattr(self, name) for name in self.__dataclass_fields__}
        state["_orders"] = {}
        del state["_orders_lock"]
        return state

    def __setstate__(self, state: dict) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)
        object.__setattr__(self, "_orders_lock", threading.Lock())

    def __len__(self) -> int:
        return math.ceil(self.epoch_length / self.batch_size)

    @property
    def epoch_length(self) -> int:
        """Samples per epoch (before a last batch is filled up): ``samples`` without sampling."""
        return self.samples if self.sampling is None else self.sampling.epoch_length

    @property
    def num_batches(self) -> int:
        """Batches per epoch."""
        return len(self)

    @property
    def sample_count(self) -> int:
        """Samples one epoch yields: the sum of its batch sizes."""
        last = len(self) - 1
        return last * int(self.positions(0).size) + int(self.positions(last).size)

    def order(self, epoch: int) -> np.ndarray:
        """Return the sample ids in the order epoch ``epoch`` visits them."""
        return self._epoch(epoch)[0]

    def _epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Return the epoch's order and, with sampling, the stream id of each position."""
        if not self.shuffle and self.sampling is None:
            return np.arange(self.samples), None
        with self._orders_lock:
            computed = self._orders.get(epoch)
            if computed is None:
                if self.sampling is None:
                    rng = random_generator(Stream.EPOCH_PLAN, self.seed, epoch)
                    computed = (rng.permutation(self.samples), None)
                else:
                    computed = self._sampled_epoch(epoch)
                self._orders[epoch] = computed
                for old in sorted(self._orders)[:-_ORDERS_KEPT]:
                    del self._orders[old]
            return computed

    def _sampled_epoch(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """Draw a sampled epoch; its k-th occurrence of a sample takes ``id + k * samples``.

        Occurrences count over every position the epoch's batches hold, those a last batch
        fills up included, so the first occurrence keeps the sample's own stream (as without
        sampling) and no two positions share a stream.
        """
        order = epoch_sample_ids(self.sampling, self.seed, epoch)
        # Over the whole batches, whichever shard this plan is: streams do not depend on shards.
        positions = np.arange(self._batch_span(len(self) - 1)[1])
        held = order[positions % order.size]
        return order, held + occurrences(held) * self.samples

    def positions(self, batch_index: int) -> np.ndarray:
        """Return the positions in the epoch's order that batch ``batch_index`` holds.

        Positions past the epoch's length (``last_batch="repeat"``) wrap around the order. A
        shard's plan holds its rows of the batch only.
        """
        if not 0 <= batch_index < len(self):
            raise IndexError(f"batch {batch_index} is out of range: {len(self)} batches per epoch")
        start, stop = self._batch_span(batch_index)
        return np.arange(start, stop)[shard_rows(stop - start, self.shard_index, self.num_shards)]

    def _batch_span(self, batch_index: int) -> tuple[int, int]:
        """Return the positions ``[start, stop)`` the whole batch holds, all shards together."""
        start = batch_index * self.batch_size
        stop = start + self.batch_size
        if self.last_batch == "short":
            stop = min(stop, self.epoch_length)
        return start, stop

    def batch_sample_ids(self, epoch: int, batch_index: int) -> np.ndarray:
        """Return the ids of the samples in batch ``batch_index`` of ``epoch``."""
        return self.order(epoch)[self.positions(batch_index) % self.epoch_length]

    def stream_ids(self, epoch: int, batch_index: int) -> np.ndarray:
        """Return the random stream id of each sample of a batch.

        A sample's id; a sample taken again (drawn twice by sampling, or to fill the last
        batch) is augmented afresh, as if it were sample ``id + k * samples`` on its k-th
        repeat: a stream no other sample of the plan uses.
        """
        positions = self.positions(batch_index)
        order, streams = self._epoch(epoch)
        if streams is not None:
            return streams[positions]
        ids = order[positions % self.samples]
        return ids + (positions // self.samples) * self.samples


@dataclass(frozen=True)
class BatchTasks:
    """Makes the task of any batch from an epoch plan and a dataset's files and class ids.

    Pure and picklable: the task of ``(epoch, batch_index)`` is the same wherever and
    whenever it is made.

    Parameters
    ----------
    plan : EpochPlan
        Which samples each batch holds.
    filenames : sequence of str or None
        Every sample's file, in index order.
    class_ids : sequence of int
        Every sample's class id, in index order.
    **per_sample
        Every sample's value of a :class:`BatchTask` field beyond files and class ids
        (``regions``, ``labels``, ``weights``, ``clip_ids``, ...), in index order: an array
        (indexed with the batch's ids) or a sequence.
    """

    plan: EpochPlan
    filenames: tuple[str | None, ...]
    class_ids: tuple[int, ...]
    per_sample: tuple[tuple[str, Any], ...] = ()

    def __init__(
        self,
        plan: EpochPlan,
        filenames: Sequence[str | None],
        class_ids: Sequence[int],
        **per_sample: Any,
    ) -> None:
        if len(filenames) != plan.samples or len(class_ids) != plan.samples:
            raise ValueError(
                f"the plan has {plan.samples} samples but {len(filenames)} files and "
                f"{len(class_ids)} class ids were given"
            )
        for name, values in per_sample.items():
            if name not in _PER_SAMPLE_FIELDS:
                raise TypeError(f"BatchTask has no per-sample field {name!r}")
            if len(values) != plan.samples:
                raise ValueError(f"the plan has {plan.samples} samples but {len(values)} {name}")
        object.__setattr__(self, "plan", plan)
        object.__setattr__(self, "filenames", tuple(filenames))
        object.__setattr__(self, "class_ids", tuple(int(c) for c in class_ids))
        stored = tuple(
            (name, values if isinstance(values, np.ndarray) else tuple(values))
            for name, values in per_sample.items()
        )
        object.__setattr__(self, "per_sample", stored)

    def __len__(self) -> int:
        return len(self.plan)

    def __call__(self, epoch: int, batch_index: int) -> BatchTask:
        """Return the task of batch ``batch_index`` of ``epoch``."""
        ids = [int(i) for i in self.plan.batch_sample_ids(epoch, batch_index)]
        return BatchTask(
            epoch=epoch,
            batch_index=batch_index,
            filenames=[self.filenames[i] for i in ids],
            class_ids=[self.class_ids[i] for i in ids],
            sample_ids=[int(i) for i in self.plan.stream_ids(epoch, batch_index)],
            **{
                name: values[ids] if isinstance(values, np.ndarray) else [values[i] for i in ids]
                for name, values in self.per_sample
            },
        )

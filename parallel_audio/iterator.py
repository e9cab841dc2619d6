"""The batch iterator handed to ``model.fit``: a Keras ``PyDataset``."""

from __future__ import annotations

import socket
import sys
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from parallel_audio import keras_errors
from parallel_audio.dataset_index import SILENCE_CLASS, UNKNOWN_CLASS
from parallel_audio.epoch_plan import BatchTask, BatchTasks, EpochPlan
from parallel_audio.errors import SettingsError, WorkerError
from parallel_audio.pipeline import ComputeBatch
from parallel_audio.pool.executor import Executor
from parallel_audio.pool.options import PoolOptions, resolve_num_workers
from parallel_audio.pool.scheduler import BatchScheduler
from parallel_audio.process_params import ParallelProcessParams
from parallel_audio.sample_runtime import SampleRuntime
from parallel_audio.sampling import Sampling, balanced_class_weights, resolve_sampling
from parallel_audio.sharding import check_shard
from parallel_audio.validation import LAST_BATCH_MODES
from parallel_audio.window_pipeline import ComputeWindows

if TYPE_CHECKING:
    from parallel_audio.clip_store import ClipStore
    from parallel_audio.dataset_index import DatasetIndex
    from parallel_audio.generator import ParallelAudioDataGenerator

__all__ = ["LAST_BATCH_MODES", "ParallelAudioIterator"]


#: The module of Keras' PyDataset adapter, whose code asks for the batches fit, evaluate
#: and predict consume (its generators, its tf.data signature probe, its enqueuer).
_KERAS_ADAPTER_MODULE = keras.utils.PyDataset.__module__


def _requested_by_keras(caller: FrameType) -> bool:
    """Whether ``__getitem__`` was called by Keras' data adapter (``caller`` is its frame).

    Keras calls ``dataset[i]`` directly from the adapter's own code, in whichever thread it
    iterates (tf.data's threads on TensorFlow, the training thread on JAX); a callback or
    another thread calls it from elsewhere. The calling frame tells them apart where the
    thread cannot.
    """
    return caller.f_globals.get("__name__") == _KERAS_ADAPTER_MODULE


class ParallelAudioIterator(keras.utils.PyDataset):
    """Batches of one dataset subset, for ``model.fit``, ``evaluate`` and ``predict``.

    ``len(iterator)`` is the number of batches per epoch and ``iterator[i]`` is batch ``i``
    of the current epoch: ``(x, y)``, or ``x`` alone with ``class_mode=None``. Each epoch
    visits every sample exactly once, in an order drawn from ``(seed, epoch)`` when
    ``shuffle`` is on, and ``on_epoch_end`` (called by Keras) moves to the next epoch. A
    batch depends only on ``(seed, epoch, i)``, never on the order batches are asked for or
    on the number of workers.

    As the reference's iterator, it is also a Python iterator of one epoch: ``for batch in
    iterator`` yields ``len(iterator)`` batches and stops (``StopIteration``); the next
    ``for`` loop starts the next epoch (or the current one, if none of its batches was
    taken yet). ``next(iterator)`` and ``iterator.next()`` take the next batch of the loop.

    Inside a Keras epoch (between ``on_epoch_begin`` and ``on_epoch_end``) the k-th request
    of Keras' data adapter is served with batch k, whatever index it names:
    ``fit(shuffle=True)`` asks for the batches in a random order, but our own order is
    already shuffled, and serving it in sequence lets the workers compute ahead. Any other
    read (``iterator[i]`` or ``batch(i)`` from a callback or another thread, during fit or
    not) gets batch i of the current epoch and changes nothing of what fit sees: every
    epoch is still each batch of the plan once. The adapter's requests are told apart by
    their calling code (Keras' ``py_dataset_adapter`` module), not by thread: on JAX they
    come from the training thread, as callbacks do. Any number of threads may read at
    once; each gets the batch it asked for.

    The iterator holds a frozen snapshot of the generator's configuration (``generator``,
    also ``process_params.audio_data_generator``), taken when ``flow_from_directory``
    created it: changing the generator or its frontend settings afterwards changes new
    iterators, never this one. It also owns what that configuration needs for this dataset,
    its :class:`~parallel_audio.sample_runtime.SampleRuntime` (the background noise read
    from ``bg_noise_dir``, the native frontend, the augmentation policy): built here, in the
    training process, sent to its workers once, and used by nobody else.

    Workers (processes, or threads with ``debug=True``; none with ``cores=0``) start with the
    iterator and persist across epochs; ``close()`` (or the reference's ``shutdown()``),
    ``del``, garbage collection or the end of the interpreter stops them. A worker process
    that dies (killed, out of memory) is replaced at once and the batches it held are
    computed again, the same bit for bit; a
    ``RuntimeWarning`` names it and how it died. Workers that keep dying, or a batch that
    kills every worker that computes it, raise :class:`WorkerError` instead, as does an
    exception in a worker (with its traceback, the batch and the file); the workers are
    then stopped. Worker processes hand their batches back through shared memory
    (``/dev/shm``: two slots of one batch's size per worker, removed with the workers), or
    through pipes where it is full.

    Attributes
    ----------
    class_indices : dict of str to int
    classes : numpy.ndarray of int32
        Class id of every sample, in index order.
    filenames : list of str or None
        Every sample's file, relative to ``directory`` (None for ``_silence_``).
    skipped_files : list of (str, str)
        Files left out with ``on_error="skip"``, with the reason, relative to ``directory``.
    samples, num_classes, batch_size : int
    n : int
        The number of samples, as the reference names it.
    seed : int
        The seed in use (drawn when ``flow_from_directory`` got None).
    last_batch : {"short", "repeat"}
        What the last batch holds when ``batch_size`` does not divide ``samples``: the
        samples left, or a full batch whose missing samples repeat the start of the epoch's
        order (see ``flow_from_directory``).
    plan : EpochPlan
        Which samples each batch of each epoch holds, from ``seed`` and the epoch alone.
    tasks : BatchTasks
        ``tasks(epoch, batch_index)``: the task of a batch, which ``compute`` turns into the
        batch; both pure and picklable (what the pool is given).
    compute : ComputeBatch
        ``compute(task)``: a batch from its task, with this iterator's frozen configuration.
    epoch : int
        The current epoch, from 0.
    batch_index : int
        The batch the next ``next()`` returns, in the current ``for`` loop's epoch.
    generator : ParallelAudioDataGenerator
        The frozen snapshot of the generator's configuration this iterator computes with.
    windows : list of Window or None
        With ``flow_from_annotations``: each sample's ``(sample_id, file, start, end)``, start
        and end in seconds of the file, in index order (``pandas.DataFrame(windows)`` is a
        table of them); None for other sources.
    process_params : ParallelProcessParams
        What batch functions and callbacks receive; its ``sample_shape`` includes the
        channel axis that ``add_channel_dimension`` adds.
    """

    def __init__(
        self,
        generator: ParallelAudioDataGenerator,
        index: DatasetIndex,
        *,
        class_mode: str | None,
        batch_size: int,
        shuffle: bool,
        seed: int,
        subset: str | None,
        last_batch: str = "short",
        runtime: SampleRuntime | None = None,
        clips: ClipStore | None = None,
        pair_transforms: str = "geometric",
        target_frontend: bool = False,
        shard: tuple[int, int] = (0, 1),
        executor: Executor | None = None,
        windowing: Any = None,
        windows: list | None = None,
        sampling: Any = None,
        samples_per_epoch: int | None = None,
        sample_cache: Any = None,
    ) -> None:
        # The generator's own pool does the work; Keras' workers stay off.
        super().__init__(workers=1, use_multiprocessing=False)
        self.last_batch = last_batch
        keras_errors.install()  # so that fit's caller gets the errors raised here
        self.directory = index.directory
        self.index = index
        self.class_indices = {name: i for i, name in enumerate(index.class_names)}
        self.classes = np.asarray(index.class_ids, dtype=np.int32)
        self.filenames = list(index.filenames)
        self.samples = len(self.filenames)
        self.skipped_files = list(index.skipped)
        if self.samples == 0:
            raise ValueError(f"no samples for subset {subset!r} in {index.directory}")
        self.num_classes = len(self.class_indices)
        # Drawn here, in the training process, before any worker starts: a wrong weight
        # fails at flow_* time.
        self.sampling = None
        if isinstance(sampling, Sampling):  # a shard's: resolved by the unsharded iterator
            self.sampling = sampling
        elif sampling is not None or samples_per_epoch is not None:
            self.sampling = resolve_sampling(
                sampling,
                samples_per_epoch,
                self.classes,
                index.class_names,
                shuffle=shuffle,
                pseudo_percentages={
                    UNKNOWN_CLASS: generator.unknown_class_percentage,
                    SILENCE_CLASS: generator.silence_class_percentage,
                },
            )
        epoch_length = self.samples if self.sampling is None else self.sampling.epoch_length
        self.batch_size = epoch_length if batch_size == -1 else batch_size
        self.class_mode = class_mode
        self.shuffle = shuffle
        self.seed = seed
        self.subset = subset
        self.epoch = 0
        self.batch_index = 0
        self._closed = False
        # Which rows of each global batch this iterator serves (all of them: (0, 1)).
        self.shard_index, self.num_shards = shard
        # Normally flow_from_directory's snapshot already; a live generator is frozen here.
        self.generator = generator if generator.is_snapshot else generator.snapshot()
        generator = self.generator
        if runtime is None:  # flow_from_directory builds it before listing the dataset
            runtime = SampleRuntime.build(generator, index.directory)
        self.process_params = ParallelProcessParams(
            audio_data_generator=generator,
            sample_rate=generator.sample_rate_hz,
            sample_length_ms=generator.sample_length_ms,
            sample_shape=generator.sample_shape,  # the params add the channel axis
            subset=subset,
            class_indices=self.class_indices,
            dtype=generator.dtype,
            frontend_dtype=generator.frontend_dtype,
            directory=index.directory,
            class_mode=class_mode,
            get_batch_function=generator.get_batch_function,
            noaug_preprocessing_function=generator.noaug_preprocessing_function,
            preprocessing_function=generator.preprocessing_function,
            postprocessing_function=generator.postprocessing_function,
            frontend_enabled=generator.frontend_enabled,
            add_channel_dimension=generator.add_channel_dimension,
            seed=seed,
            sample_runtime=runtime,
            clips=clips,
            pair_transforms=pair_transforms,
            target_frontend=target_frontend,
            windowing=windowing,
            sample_cache=sample_cache,
        )
        # The clips of flow() are this iterator's: released after its workers stop, at
        # close() or when it is collected.
        self._clips = clips
        if clips is not None:
            weakref.finalize(self, clips.close)
        # Its background noise is shared with its shards: freed when the last one closes.
        self._release_runtime = runtime.hold(self)
        self.plan = EpochPlan(
            samples=self.samples,
            batch_size=self.batch_size,
            seed=seed,
            shuffle=shuffle,
            last_batch=last_batch,
            shard_index=self.shard_index,
            num_shards=self.num_shards,
            sampling=self.sampling,
        )
        self.tasks = BatchTasks(
            self.plan, self.filenames, self.classes, **self._per_sample_fields()
        )
        if windowing is None:
            self.compute: Callable[[BatchTask], Any] = ComputeBatch(self.process_params)
        else:  # flow_from_annotations: windows labelled from their transformed events
            self.compute = ComputeWindows(self.process_params)
        #: flow_from_annotations: every window as (sample_id, file, start, end), in index order.
        self.windows = windows
        self._in_keras_epoch = False
        self._served = 0  # Keras' requests served in this Keras epoch
        self._serving_lock = threading.Lock()
        self._scheduler: BatchScheduler | None = None
        self._executor = executor  # as given (a shard gets it too); None: the local pool
        self._running_executor: Executor | None = None
        self._received = 0  # batches this iterator got, for executor_stats()
        self._received_lock = threading.Lock()
        num_workers = resolve_num_workers(generator.cores)
        max_pending = generator.max_batches_pending
        if executor is not None:
            # A template (RayExecutor) starts a copy of its own for every iterator, so that
            # one may serve several flows; the number of workers is the executor's to decide.
            self._running_executor = executor.fresh() if hasattr(executor, "fresh") else executor
            num_workers = max(num_workers, 1)
            max_pending = getattr(executor, "max_batches_pending", None) or max_pending
        if num_workers > 0:
            # The pool holds the plan's tasks and the computation, not the iterator: `del
            # iterator` frees the iterator and then stops the workers at once.
            options = PoolOptions(
                num_workers=num_workers,
                max_pending=max_pending,
                backend="threads" if generator.debug else "processes",
                hide_gpus=generator.disable_gpu_in_subprocesses,
                batch_timeout=generator.batch_timeout,
            )
            self._scheduler = BatchScheduler(
                self.compute,
                self.tasks,
                options,
                batches_per_epoch=len(self),
                executor=self._running_executor,
            )

    def __len__(self) -> int:
        return len(self.plan)

    @property
    def num_batches(self) -> int:
        """Batches per epoch."""
        return len(self)

    def epoch_plan(self, epoch: int) -> np.ndarray:
        """Sample ids in the order epoch ``epoch`` visits them."""
        return self.plan.order(epoch)

    def batch_sample_ids(self, batch_index: int, epoch: int | None = None) -> np.ndarray:
        """Sample ids in batch ``batch_index`` of ``epoch`` (default: the current one).

        With ``last_batch="repeat"`` the last batch is filled up from the start of the
        epoch's order, cycling through it again if the batch is larger than the dataset.
        """
        return self.plan.batch_sample_ids(self.epoch if epoch is None else epoch, batch_index)

    def _per_sample_fields(self) -> dict[str, Any]:
        """Return what the index holds beyond files and class ids, as the tasks take it."""
        index = self.index
        fields: dict[str, Any] = {}
        if index.regions is not None:
            fields["regions"] = [index.region(i) for i in range(len(index))]
        if index.label_rows is not None and self.class_mode not in (None, "input"):
            # Raw values keep their precision whatever dtype the samples have.
            dtype = np.float32 if self.class_mode == "raw" else self.generator.dtype
            fields["labels"] = index.label_rows.astype(dtype)
        if index.weights is not None:
            fields["weights"] = index.weights
        if index.clip_ids is not None:
            fields["clip_ids"] = index.clip_ids
        if index.target_filenames is not None:
            fields["targets"] = index.target_filenames
        return fields

    def shard(self, index: int, count: int) -> ParallelAudioIterator:
        """Return the iterator of shard ``index`` of ``count``: its rows of every batch.

        Global batch ``b`` of an epoch is the same whatever ``count`` is (its samples and
        their augmentation come from ``(seed, epoch, sample id)``); shard ``p`` serves its rows
        ``[p * B // count, (p + 1) * B // count)``, where ``B`` is the batch's size. The
        ``count`` shards of a step are thus disjoint and together make the global batch, bit
        for bit, in its order: each of ``count`` hosts computes and trains on its own part.
        The shard has the same number of batches per epoch, the same seed and epoch, and its
        own workers (or executor) computing only its rows; this iterator's workers are left
        idle, so close it if only shards are used (a ``RayExecutor``'s actors hold the
        cluster's CPUs until then).

        With Keras' ``keras.distribution.DataParallel(auto_shard_dataset=False)`` pass
        ``train.shard(distribution.data_shard_id, distribution.num_processes)``; with
        ``tf.distribute``, ``strategy.distribute_datasets_from_function(lambda ctx:
        train.shard(ctx.input_pipeline_id, ctx.num_input_pipelines).as_tf_dataset())``.

        A batch function (``get_batch_function``) receives the shard's files only, and
        per-sample callbacks see the sample's position within the shard's rows.

        Parameters
        ----------
        index : int
            This shard, in ``[0, count)``.
        count : int
            The number of shards; it must divide ``batch_size``.

        Returns
        -------
        ParallelAudioIterator
            Its ``batch_size`` stays the global batch's; its batches hold
            ``batch_size // count`` rows (the last one of a ``last_batch="short"`` epoch,
            its share of what is left). ``shard_index`` and ``num_shards`` say which shard
            it is.

        Raises
        ------
        SettingsError
            If ``count`` does not divide ``batch_size``, ``index`` is not in ``[0, count)``,
            the last batch has fewer samples than there are shards, or this iterator is
            already a shard.

        Examples
        --------
        >>> rank, workers = 0, 2  # this host, and how many take part
        >>> part = train.shard(rank, workers)  # doctest: +SKIP
        """
        if self.num_shards != 1:
            raise SettingsError(
                f"this iterator is already shard {self.shard_index} of {self.num_shards}; "
                "call shard() on the unsharded iterator"
            )
        if self._clips is not None:
            raise SettingsError(
                "shard() of an iterator over clips in memory (flow()) is not supported: the "
                "clips belong to this iterator; call flow() on each host instead"
            )
        last_rows = int(self.plan.positions(len(self) - 1).size)
        check_shard(index, count, batch_size=self.batch_size, last_batch_rows=last_rows)
        shard = ParallelAudioIterator(
            self.generator,
            self.index,
            class_mode=self.class_mode,
            batch_size=self.batch_size,
            shuffle=self.shuffle,
            seed=self.seed,
            subset=self.subset,
            last_batch=self.last_batch,
            runtime=self.process_params.sample_runtime,
            pair_transforms=self.process_params.pair_transforms,
            target_frontend=self.process_params.target_frontend,
            sample_cache=self.process_params.sample_cache,
            shard=(int(index), int(count)),
            executor=self._executor,
            windowing=self.process_params.windowing,
            windows=self.windows,
            sampling=self.sampling,
        )
        shard.epoch = self.epoch
        return shard

    def batch(self, batch_index: int, epoch: int | None = None) -> Any:
        """Return batch ``batch_index`` of ``epoch`` (default: the current epoch).

        Never changes what ``fit`` sees, whenever and from whichever thread it is called;
        inside a Keras epoch it leaves the prefetch window where fit's requests have it.
        """
        return self._read(batch_index, epoch, advance=not self._in_keras_epoch)

    def _read(self, batch_index: int, epoch: int | None, *, advance: bool) -> Any:
        """Compute or fetch a batch; ``advance`` moves the prefetch window past it."""
        if not 0 <= batch_index < len(self):
            raise IndexError(f"batch {batch_index} is out of range: {len(self)} batches per epoch")
        epoch = self.epoch if epoch is None else epoch
        try:
            if self._scheduler is None:
                if self._closed:
                    raise WorkerError("the iterator was closed; create a new iterator to continue")
                batch = self.compute(self.tasks(epoch, batch_index))
            else:
                batch = self._scheduler.get(epoch, batch_index, advance=advance)
            with self._received_lock:
                self._received += 1
            return batch
        except Exception as error:
            keras_errors.remember(error)  # in case Keras or TensorFlow hides it on its way
            raise

    def __getitem__(self, batch_index: int) -> Any:
        if not 0 <= batch_index < len(self):
            raise IndexError(f"batch {batch_index} is out of range: {len(self)} batches per epoch")
        if not self._in_keras_epoch:
            return self._read(batch_index, None, advance=True)
        if _requested_by_keras(sys._getframe(1)):
            with self._serving_lock:
                in_sequence = self._served < len(self)
                if in_sequence:
                    batch_index = self._served
                    self._served += 1
            return self._read(batch_index, None, advance=in_sequence)
        # A read aside from fit's (a callback, another thread): the batch it names, leaving
        # fit's sequence and the prefetch window alone.
        return self._read(batch_index, None, advance=False)

    def on_epoch_begin(self) -> None:
        """Serve Keras' requests in this iterator's own order until on_epoch_end."""
        with self._serving_lock:
            self._in_keras_epoch = True
            self._served = 0

    def on_epoch_end(self) -> None:
        """Move to the next epoch's order (Keras calls this after every epoch)."""
        with self._serving_lock:
            self.epoch += 1
            self.batch_index = 0
            self._in_keras_epoch = False
            self._served = 0

    def close(self) -> None:
        """Stop the workers. The iterator then computes nothing more."""
        self._closed = True
        if self._scheduler is not None:
            self._scheduler.close()
        if self._clips is not None:
            self._clips.close()
        self._release_runtime()

    def shutdown(self, wait: bool = True) -> None:
        """Stop the workers: the reference's name for :meth:`close`.

        ``wait`` is accepted for the reference's signature; stopping is prompt either way
        (the reference waited up to 30 s for a batch in progress).
        """
        self.close()

    @property
    def is_running(self) -> bool:
        """Whether the iterator can still compute batches.

        True until ``close``/``shutdown``, or an error that stopped its workers.
        """
        return not (self._closed or (self._scheduler is not None and self._scheduler.closed))

    @property
    def is_shutdown(self) -> bool:
        """``not is_running``, the reference's other name for it."""
        return not self.is_running

    def __enter__(self) -> ParallelAudioIterator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def worker_pids(self) -> list[int]:
        """Process ids of the worker processes of this machine (empty with threads or cores=0)."""
        return [] if self._scheduler is None else self._scheduler.worker_pids

    def executor_stats(self) -> dict[str, Any]:
        """Describe what computes this iterator's batches, and where.

        Returns
        -------
        dict
            ``executor``: "ray", "processes", "threads" or "caller's thread"; ``workers``: the
            live workers (actors); ``batches_per_node``: batches per node. With
            :class:`~parallel_audio.ray.RayExecutor`, the batches computed on each Ray node
            (by node id, prefetched ones included), with ``replaced`` (actors started in
            place of lost ones) and ``hosts`` (node id to host name); otherwise the batches
            this iterator received, under this machine's host name.
        """
        stats = getattr(self._running_executor, "stats", None)
        if stats is not None:
            return stats()
        if self._scheduler is None:
            executor, workers = "caller's thread", 0
        else:
            executor = "threads" if self.generator.debug else "processes"
            workers = self._scheduler.num_workers
        with self._received_lock:
            received = self._received
        return {
            "executor": executor,
            "workers": workers,
            "batches_per_node": {socket.gethostname(): received},
        }

    # The reference's dataset members.

    @property
    def n(self) -> int:
        """The number of samples (the reference's name for ``samples``)."""
        return self.samples

    @property
    def sample_count(self) -> int:
        """The number of samples one epoch yields: the sum of its batch sizes.

        ``samples``, or with ``last_batch="repeat"`` ``len(self) * batch_size``, as the
        reference counts them.
        """
        return self.plan.sample_count

    @property
    def labels(self) -> np.ndarray:
        """The class id of every sample, in index order.

        As the reference: ``classes`` cut to ``sample_count``.
        """
        return self.classes[: self.sample_count]

    def class_weights(self, mode: str = "balanced") -> dict[int, float]:
        """Return a weight per class id for ``model.fit(class_weight=...)``.

        Parameters
        ----------
        mode : {"balanced"}
            ``n / (classes * n_c)``, with ``n_c`` the samples of class ``c`` in one epoch and
            ``n`` their sum (MLTK's and scikit-learn's ``class_weights='balanced'``): each
            class then weighs as much in the loss as any other. A class with no sample
            gets 0.

        Returns
        -------
        dict of int to float
            Every class id of ``class_indices``.

        Examples
        --------
        >>> model.fit(train, class_weight=train.class_weights())  # doctest: +SKIP
        """
        weights = balanced_class_weights(self._epoch_class_counts(), mode)
        return {class_id: float(w) for class_id, w in enumerate(weights)}

    def sample_weights(self, mode: str = "balanced") -> np.ndarray:
        """Return each sample's class weight (see :meth:`class_weights`), in index order.

        Returns
        -------
        numpy.ndarray of float64, shape (samples,)
        """
        weights = balanced_class_weights(self._epoch_class_counts(), mode)
        return weights[self.classes]

    def _epoch_class_counts(self) -> np.ndarray:
        """Return the number of samples of each class one epoch holds (on average, sampled)."""
        if self.sampling is not None:
            return self.sampling.expected_class_counts(self.classes, self.num_classes)
        return np.bincount(self.classes, minlength=self.num_classes).astype(np.float64)

    @property
    def sample_weight(self) -> np.ndarray | None:
        """Every sample's weight in index order, or None without weights (as the reference)."""
        return None if self.index.weights is None else np.array(self.index.weights)

    def reset(self) -> None:
        """Return to the first batch of epoch 0."""
        self.epoch = 0
        self.batch_index = 0

    # Python iteration, one epoch per loop, as the reference.

    def __iter__(self) -> ParallelAudioIterator:
        if self.batch_index > 0:  # the previous loop took batches of this epoch
            self.on_epoch_end()
        return self

    def __next__(self) -> Any:
        if self.batch_index >= len(self):
            raise StopIteration
        batch = self.batch(self.batch_index)
        self.batch_index += 1
        return batch

    def next(self) -> Any:
        """Return the next batch of the current loop; ``StopIteration`` after the last."""
        return self.__next__()

    def to_ray_dataset(self, epoch: int | None = None, *, max_actors: int | None = None) -> Any:
        """Return an epoch's batches as a ``ray.data.Dataset``, in this iterator's order.

        For Ray Data and Ray Train: rows are samples with columns ``x``, ``y`` (unless
        ``class_mode`` is None) and ``sample_weight`` (when batches carry one), in plan
        order; ``iter_batches``, ``iter_tf_batches`` or ``to_tf`` with ``batch_size`` equal to
        this iterator's rows per batch give back ``batch(i)``, bit for bit. Batches are
        computed by actors of the connected Ray cluster (``ray.init()`` is called if Ray is
        not initialized), each receiving this iterator's configuration once; the files must
        be readable under the same paths on every node. Requires ``ray[data]``
        (``pip install "parallel_audio[ray-data]"``).

        Parameters
        ----------
        epoch : int, optional
            The epoch whose plan to compute (default: the current one). The iterator's
            epoch does not move.
        max_actors : int, optional
            At most this many actors (one CPU each); default: the cluster's CPUs.

        Returns
        -------
        ray.data.Dataset
        """
        from parallel_audio.callback_pickling import pickle_for_workers
        from parallel_audio.ray.dataset import plan_dataset

        epoch = self.epoch if epoch is None else epoch
        tasks = [self.tasks(epoch, b) for b in range(len(self))]
        compute = pickle_for_workers(self.compute, "the generator's configuration")
        return plan_dataset(compute, tasks, max_actors=max_actors)

    def as_tf_dataset(self):
        """Return the batches as a ``tf.data.Dataset`` with a fixed signature (for tf.distribute).

        Each pass over the dataset is one epoch and advances the iterator's epoch. The
        dataset of a shard (:meth:`shard`) has TensorFlow's auto-sharding turned off: it is
        this host's part already, and under ``MultiWorkerMirroredStrategy`` the AUTO policy
        would otherwise fall back to sharding by element, so that every host computed every
        batch only to keep a part of it.
        """
        import tensorflow as tf

        dtype = tf.as_dtype(self.generator.dtype)
        x_spec = tf.TensorSpec((None, *self.process_params.sample_shape), dtype)
        label_rows = self.index.label_rows
        windowing = self.process_params.windowing
        if windowing is not None:
            signature = _window_signature(windowing, x_spec, dtype)
        elif self.class_mode is None:
            signature = x_spec
        elif self.class_mode == "input":
            signature = (x_spec, x_spec)
        elif self.class_mode in ("audio", "denoise"):
            params = self.process_params
            target_dtype = dtype if params.target_frontend else tf.float32
            signature = (x_spec, tf.TensorSpec((None, *params.target_shape), target_dtype))
        elif label_rows is not None:
            label_dtype = tf.float32 if self.class_mode == "raw" else dtype
            signature = (x_spec, tf.TensorSpec((None, *label_rows.shape[1:]), label_dtype))
        elif self.class_mode == "categorical":
            signature = (x_spec, tf.TensorSpec((None, self.num_classes), dtype))
        else:
            signature = (x_spec, tf.TensorSpec((None,), dtype))
        if self.index.weights is not None and self.class_mode is not None and windowing is None:
            signature = (*signature, tf.TensorSpec((None,), tf.float32))

        def one_epoch():
            for i in range(len(self)):
                yield self.batch(i)
            self.on_epoch_end()

        dataset = tf.data.Dataset.from_generator(one_epoch, output_signature=signature)
        if self.num_shards > 1:
            options = tf.data.Options()
            options.experimental_distribute.auto_shard_policy = (
                tf.data.experimental.AutoShardPolicy.OFF
            )
            dataset = dataset.with_options(options)
        return dataset


def _window_signature(windowing: Any, x_spec: Any, dtype: Any) -> Any:
    """Return the ``tf.data`` signature of ``flow_from_annotations`` batches."""
    import tensorflow as tf

    labels = windowing.labels
    if labels is None:
        return x_spec
    if labels.mode == "majority":
        shape = (None,) if windowing.sparse else (None, labels.num_classes)
        return (x_spec, tf.TensorSpec(shape, dtype))
    y_spec = tf.TensorSpec((None, *labels.label_shape), tf.float32)
    if labels.mode == "frames":
        return (x_spec, y_spec, tf.TensorSpec((None, labels.label_shape[0]), tf.float32))
    return (x_spec, y_spec)

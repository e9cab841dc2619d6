"""Turning a batch of files into (x, y): the code every worker runs.

Imports neither TensorFlow nor Keras, so that worker processes stay small.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from parallel_audio.audio_io import Region
from parallel_audio.epoch_plan import BatchTask
from parallel_audio.pairs import PAIR_CLASS_MODES, transform_pair
from parallel_audio.process_params import ParallelProcessParams
from parallel_audio.random_streams import Stream, random_generator
from parallel_audio.sample_steps import (
    call_sample_callback,
    draw_transform,
    featurize,
    read_sample,
)

#: Arguments a callback receives when its signature names them (the reference's set, plus
#: ``rng``: the sample's own random generator, for reproducible custom augmentation).
OPTIONAL_CALLBACK_ARGUMENTS = (
    "batch_index",
    "class_id",
    "filename",
    "batch_class_ids",
    "batch_filenames",
    "rng",
)


def sample_rng(seed: int, epoch: int, sample_id: int) -> np.random.Generator:
    """Return the random generator of one sample in one epoch.

    Derived from ``(seed, epoch, sample_id)`` alone, so a sample's randomness does not
    depend on which worker computes it, in what order, or with how many others.
    """
    return random_generator(Stream.SAMPLE, seed, epoch, sample_id)


def excerpt_position(params: ParallelProcessParams, epoch: int, sample_id: int) -> float:
    """Where the excerpt of a file too long to read whole starts, as a fraction.

    Drawn over ``offset_range`` from its own stream of ``(seed, epoch, sample_id)``, as the
    sample's offset is: over the epochs, the sample's window visits the whole file. Without
    augmentation, 0 (the start), as the offset is.
    """
    if not params.augmentation_enabled:
        return 0.0
    rng = random_generator(Stream.LONG_FILE_EXCERPT, params.seed, epoch, sample_id)
    return float(rng.uniform(*params.audio_data_generator.offset_range))


def make_labels(
    class_ids: Sequence[int], class_mode: str | None, num_classes: int, dtype: str
) -> np.ndarray | None:
    """Labels of a batch: one-hot (categorical), class ids (binary, sparse), or None."""
    ids = np.asarray(class_ids, dtype=np.int64)
    if class_mode == "categorical":
        labels = np.zeros((ids.size, num_classes), dtype=dtype)
        labels[np.arange(ids.size), ids] = 1
        return labels
    if class_mode in ("binary", "sparse"):
        return ids.astype(dtype)
    return None


def transform_sample(
    params: ParallelProcessParams,
    filename: str | None,
    class_id: int,
    rng: np.random.Generator,
    callback_arguments: dict[str, Any],
    *,
    sample_id: int = 0,
    position: Callable[[], float] | float = 0.0,
    region: Region | None = None,
    clip_id: int | None = None,
) -> np.ndarray:
    """Read, augment and featurize one sample, in the order the design fixes.

    Unaugmented (validation with ``validation_augmentation_enabled=False``), a ``_silence_``
    sample still gets its noise, as training's do, but a fixed draw per ``sample_id``
    (:func:`~parallel_audio.sample_steps.unaugmented_silence_rng`): a class defined by its
    background noise would otherwise be digital zero in validation only. MLTK's is all zeros.

    A file longer than :func:`~parallel_audio.augment.vocoder.read_length` is read as an excerpt
    of that length, starting ``position`` of the way through it. With ``region`` only that
    span of the file is read, and it stands for the whole file in everything that follows.
    With ``clip_id``, the sample is that clip of ``params.clips`` (held in memory).
    """
    runtime = params.runtime  # what the configuration needs for this dataset
    x = read_sample(params, filename, position=position, region=region, clip_id=clip_id)
    arguments = {**callback_arguments, "class_id": class_id, "filename": filename, "rng": rng}

    if params.noaug_preprocessing_function is not None:
        x = call_sample_callback(params.noaug_preprocessing_function, params, x, **arguments)
    transform = draw_transform(params, rng, silence=filename is None, sample_id=sample_id)
    x = runtime.apply_transform(x, params.sample_rate, transform)
    if params.preprocessing_function is not None:
        x = call_sample_callback(params.preprocessing_function, params, x, **arguments)
    return featurize(params, x, arguments)


def get_batches_of_transformed_samples(
    batch_index: int,
    filenames: Sequence[str | None],
    classes: Sequence[int],
    params: ParallelProcessParams,
    *,
    sample_ids: Sequence[int] | None = None,
    epoch: int = 0,
    regions: Sequence[Region | None] | None = None,
    labels: np.ndarray | None = None,
    weights: np.ndarray | None = None,
    clip_ids: Sequence[int] | None = None,
    targets: Sequence[str | None] | None = None,
) -> tuple[int, Any]:
    """Build one batch; the reference's batch function, with the sample ids for seeding.

    Returns ``(batch_index, (batch_x, batch_y))``, or ``(batch_index, batch_x)`` when the
    class mode is None, and ``(batch_x, batch_y, weights)`` with ``weights``. Without
    ``sample_ids`` (a caller using the reference's signature) samples are seeded by their
    position in the batch. ``regions`` gives each sample's span of its file (None: the
    whole file); ``labels``, the batch's label rows when they are not built from
    ``classes`` (multi-hot rows, raw values); ``clip_ids``, the clips of ``params.clips``
    samples held in memory are; ``targets``, the target files of audio pairs (class mode
    "audio"), whose batch y is the targets (see :mod:`parallel_audio.pairs`).
    """
    pairs = params.class_mode in PAIR_CLASS_MODES
    if sample_ids is None:
        sample_ids = range(batch_index * len(filenames), (batch_index + 1) * len(filenames))
    batch_x = np.empty((len(filenames), *params.sample_shape), dtype=params.dtype)
    batch_class_ids = list(classes)
    batch_filenames = list(filenames)
    if regions is None:
        regions = [None] * len(filenames)
    if clip_ids is None:
        clip_ids = [None] * len(filenames)
    if targets is None:
        targets = [None] * len(filenames)
    batch_targets = None
    if pairs:
        target_dtype = params.dtype if params.target_frontend else np.float32
        batch_targets = np.empty((len(filenames), *params.target_shape), dtype=target_dtype)
    cache = getattr(params, "sample_cache", None)
    features = cache if cache is not None and cache.holds_features and not pairs else None
    for i, (filename, class_id, sample_id, region, clip_id, target) in enumerate(
        zip(filenames, classes, sample_ids, regions, clip_ids, targets, strict=True)
    ):
        if features is not None and filename is not None and region is None and clip_id is None:
            # The final sample, cached: unaugmented and without callbacks it is the same
            # every epoch, and nothing is drawn for it.
            cached = features.features(filename)
            if cached is not None:
                batch_x[i] = cached
                continue
        rng = sample_rng(params.seed, epoch, int(sample_id))
        callback_arguments = {
            "batch_index": i,
            "batch_class_ids": batch_class_ids,
            "batch_filenames": batch_filenames,
        }
        position = functools.partial(excerpt_position, params, epoch, int(sample_id))
        try:
            if pairs:
                arguments = {**callback_arguments, "class_id": int(class_id)}
                arguments.update(filename=filename, rng=rng)
                batch_x[i], batch_targets[i] = transform_pair(
                    params,
                    filename,
                    target,
                    rng,
                    arguments,
                    sample_id=int(sample_id),
                    position=position,
                    region=region,
                    clip_id=clip_id,
                )
                continue
            batch_x[i] = transform_sample(
                params,
                filename,
                int(class_id),
                rng,
                callback_arguments,
                sample_id=int(sample_id),
                position=position,
                region=region,
                clip_id=clip_id,
            )
        except Exception as error:
            if hasattr(error, "add_note"):  # Python >= 3.11
                where = filename if filename is not None else "a _silence_ sample"
                if region is not None:
                    where = f"{region.describe()} of {where}"
                error.add_note(f"while processing {where} (sample {i} of batch {batch_index})")
            raise

    if pairs:
        batch: tuple = (batch_x, batch_targets)
    elif params.class_mode == "input":
        batch = (batch_x, batch_x.copy())
    else:
        if labels is not None:
            batch_y = np.asarray(labels)  # in the dtype the index chose for them
        else:
            batch_y = make_labels(
                classes, params.class_mode, len(params.class_indices), params.dtype
            )
        if batch_y is None:
            return batch_index, batch_x
        batch = (batch_x, batch_y)
    if weights is not None:
        batch = (*batch, np.asarray(weights, dtype=np.float32))
    return batch_index, batch


@dataclass(frozen=True)
class ComputeBatch:
    """``compute(task)``: one batch from its task, with a frozen pipeline configuration.

    Picklable and pure: the batch depends only on the configuration and the task, so any
    worker, thread, process or machine computes the same batch, bit for bit. This is what the
    pool runs; it is sent to each worker once.

    Parameters
    ----------
    params : ParallelProcessParams
        The iterator's frozen configuration and runtime.

    Examples
    --------
    >>> compute = ComputeBatch(iterator.process_params)  # doctest: +SKIP
    >>> x, y = compute(iterator.tasks(epoch=0, batch_index=3))  # doctest: +SKIP
    """

    params: ParallelProcessParams

    def __call__(self, task: BatchTask) -> Any:
        """Return the batch of ``task``: ``(x, y)``, or ``x`` alone (class mode None).

        With sample weights, ``(x, y, sample_weight)``. The user's ``get_batch_function``
        computes it when there is one (the weights are added to its ``(x, y)``).
        """
        params = self.params
        if params.get_batch_function is not None:
            _, batch = params.get_batch_function(
                task.batch_index, task.filenames, task.class_ids, params
            )
            if task.weights is not None and isinstance(batch, tuple) and len(batch) == 2:
                batch = (*batch, task.weights)
        else:
            _, batch = get_batches_of_transformed_samples(
                task.batch_index,
                task.filenames,
                task.class_ids,
                params,
                sample_ids=task.sample_ids,
                epoch=task.epoch,
                regions=task.regions,
                labels=task.labels,
                weights=task.weights,
                clip_ids=task.clip_ids,
                targets=task.targets,
            )
        return batch

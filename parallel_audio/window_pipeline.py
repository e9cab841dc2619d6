"""Turning a batch of windows of long recordings into (x, y) or (x, y, w): the worker's side.

Each sample is one window: a span of a file as long as the frontend's sample, read alone
(soundfile's seek), zero-padded at the file's end, then augmented as any sample is (without
silence trimming, which would move the audio under its labels). Its label is computed from
the file's events after the transform: the speed factor and the placement offset drawn for
the sample move the events exactly as they moved the audio.

Imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from parallel_audio.audio_io import Region, read_audio
from parallel_audio.audio_ops import fit_to_length
from parallel_audio.augment import AugmentationTransform
from parallel_audio.epoch_plan import BatchTask
from parallel_audio.pipeline import sample_rng
from parallel_audio.sample_steps import call_sample_callback, draw_transform, featurize
from parallel_audio.windows import (
    WindowLabels,
    clip_and_transform,
    jittered_start,
    label_window,
    placement_shift,
)

__all__ = ["ComputeWindows", "WindowPlan", "get_batch_of_windows"]


@dataclass(frozen=True, eq=False)
class WindowPlan:
    """How an iterator's windows are read and labelled; sent to each worker once.

    Parameters
    ----------
    sample_rate : int
        The frontend's rate, Hz.
    window_length : int
        Samples per window (the frontend's sample length).
    durations : dict of str to float
        Each file's length in seconds.
    events : dict of str to (numpy.ndarray, numpy.ndarray, numpy.ndarray)
        Each file's events, merged per class: class ids, onsets, offsets (seconds of the
        file). Files without events are absent.
    labels : WindowLabels, optional
        The labelling rule; None for unlabeled windows (batches are x alone).
    jitter : int
        Largest random move of a window's start in training, in samples (0: none).
    sparse : bool
        With ``"majority"``: class ids instead of one-hot rows.
    """

    sample_rate: int
    window_length: int
    durations: dict[str, float]
    events: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    labels: WindowLabels | None = None
    jitter: int = 0
    sparse: bool = False

    def label(
        self, filename: str, start: int, speed: float, offset: float
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Label the window of ``filename`` read from sample ``start``, as transformed.

        Parameters
        ----------
        filename : str
            The file, as the index names it.
        start : int
            The first sample read (after jitter), at :attr:`sample_rate`.
        speed : float
            The sample's speed factor.
        offset : float
            The sample's placement offset (``offset_percentage``).

        Returns
        -------
        (label, weights)
            As :func:`~parallel_audio.windows.label_window`.
        """
        assert self.labels is not None
        rate = self.sample_rate
        length = self.window_length
        # The vocoder returns round(n / speed) samples; the placement then pads or crops.
        shift = placement_shift(round(length / speed), length, offset) / rate
        empty = (np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
        class_ids, onsets, offsets = self.events.get(filename, empty)
        events = clip_and_transform(
            class_ids,
            onsets,
            offsets,
            read_start=start / rate,
            read_length=length / rate,
            file_duration=self.durations[filename],
            speed=speed,
            shift=shift,
        )
        return label_window(self.labels, *events)

    def num_samples(self, filename: str) -> int:
        """Return the file's length in samples at :attr:`sample_rate`."""
        return round(self.durations[filename] * self.sample_rate)


def get_batch_of_windows(
    batch_index: int,
    filenames: Sequence[str],
    regions: Sequence[Region],
    params: Any,
    *,
    sample_ids: Sequence[int],
    epoch: int,
) -> Any:
    """Build one batch of windows: ``x``, ``(x, y)``, or ``(x, y, w)`` with frame labels.

    Parameters
    ----------
    batch_index : int
        For messages and callbacks.
    filenames : sequence of str
        Each window's file, relative to ``params.directory``.
    regions : sequence of Region
        Each window's span on the grid (before jitter).
    params : ParallelProcessParams
        Its ``windowing`` is the :class:`WindowPlan`.
    sample_ids : sequence of int
        Seeds each window's generator with ``(params.seed, epoch)``.
    epoch : int

    Returns
    -------
    numpy.ndarray or tuple
    """
    plan: WindowPlan = params.windowing
    rate = plan.sample_rate
    length = plan.window_length
    batch_x = np.empty((len(filenames), *params.sample_shape), dtype=params.dtype)
    labels: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    batch_filenames = list(filenames)
    for i, (filename, region, sample_id) in enumerate(
        zip(filenames, regions, sample_ids, strict=True)
    ):
        rng = sample_rng(params.seed, epoch, int(sample_id))
        start = round(region.start * rate)
        if plan.jitter and params.augmentation_enabled:
            # Drawn first from the sample's own generator, before its augmentation.
            start = jittered_start(start, plan.jitter, plan.num_samples(filename), length, rng)
        span = Region(start / rate, (start + length) / rate)
        try:
            audio = _read_window(params, filename, span)
            # Resampled alone, the span may be a sample off; past the file's end it is short.
            audio = fit_to_length(audio, length, 0.0)
            arguments = {
                "batch_index": i,
                "batch_class_ids": [-1] * len(filenames),
                "batch_filenames": batch_filenames,
                "class_id": -1,
                "filename": filename,
                "rng": rng,
            }
            batch_x[i], transform = _augment_and_featurize(params, audio, rng, arguments, sample_id)
        except Exception as error:
            if hasattr(error, "add_note"):
                error.add_note(
                    f"while processing {span.describe()} of {filename} (sample {i} of batch "
                    f"{batch_index})"
                )
            raise
        if plan.labels is not None:
            label, weight = plan.label(
                filename, start, transform.speed_factor, transform.offset_percentage
            )
            labels.append(label)
            if weight is not None:
                weights.append(weight)
    if plan.labels is None:
        return batch_x
    batch_y = np.stack(labels)
    if plan.labels.mode == "majority":
        if plan.sparse:
            return batch_x, batch_y.astype(params.dtype)
        one_hot = np.zeros((batch_y.size, plan.labels.num_classes), params.dtype)
        one_hot[np.arange(batch_y.size), batch_y] = 1
        return batch_x, one_hot
    batch_y = batch_y.astype(np.float32)
    if weights:
        return batch_x, batch_y, np.stack(weights).astype(np.float32)
    return batch_x, batch_y


def _read_window(params: Any, filename: str, span: Region) -> np.ndarray:
    """Read a window's span of its file: from the disk cache where that is exact, else the file.

    The cache slices the span out of the cached whole file only where that gives what
    reading the span gives, bit for bit (see :meth:`~parallel_audio.cache.SampleCache.read_audio`).
    """
    cache = params.sample_cache
    if cache is not None and not cache.holds_features:
        return cache.read_audio(filename, max_length=None, region=span)
    return read_audio(os.path.join(params.directory, filename), params.sample_rate, region=span)


def _augment_and_featurize(
    params: Any, audio: np.ndarray, rng: np.random.Generator, arguments: dict, sample_id: int
) -> tuple[np.ndarray, AugmentationTransform]:
    """Run the pipeline's steps after reading; return the sample and its transform."""
    if params.noaug_preprocessing_function is not None:
        audio = call_sample_callback(
            params.noaug_preprocessing_function, params, audio, **arguments
        )
    transform = draw_transform(params, rng, silence=False, sample_id=sample_id)
    audio = params.runtime.apply_transform(audio, params.sample_rate, transform)
    if params.preprocessing_function is not None:
        audio = call_sample_callback(params.preprocessing_function, params, audio, **arguments)
    return featurize(params, audio, arguments), transform


@dataclass(frozen=True)
class ComputeWindows:
    """``compute(task)`` for ``flow_from_annotations``: one batch of windows from its task.

    Picklable and pure, as :class:`~parallel_audio.pipeline.ComputeBatch`; the iterator
    hands the pool this one when its samples are windows (``params.windowing`` is set).

    Parameters
    ----------
    params : ParallelProcessParams
        The iterator's frozen configuration and runtime, with its :class:`WindowPlan`.
    """

    params: Any

    def __call__(self, task: BatchTask) -> Any:
        """Return the batch of ``task``: ``x``, ``(x, y)`` or ``(x, y, w)``."""
        return get_batch_of_windows(
            task.batch_index,
            task.filenames,
            task.regions,
            self.params,
            sample_ids=task.sample_ids,
            epoch=task.epoch,
        )

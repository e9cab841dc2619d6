"""Audio→audio pairs: an input and its target, augmented together (denoising, enhancement).

Both clips are read (a region, an excerpt of a long file, alike), cut on the same silence
bounds, and given the same drawn transform; which parts of it reach the target is
``pair_transforms``:

- ``"geometric"``: offset, speed, pitch, VTLP and the loudness gain reach both; colored
  noise, background noise, ``augmentations`` and ``preprocessing_function`` only the input.
  With ``class_mode="denoise"`` the target is the input's own clip: y is x before its noise.
- ``"all"``: everything reaches both (the same noise crop, the same seeded augmentations).
- ``"input"``: the target is left as decoded, only fitted to the sample length (at its start).

``noaug_preprocessing_function`` (before augmentation) runs on both clips, except with
``"input"``; ``postprocessing_function`` runs on a spectrogram target with ``"all"`` only.

The target is the augmented waveform, or its spectrogram (``target_frontend=True``: the
frontend, ``standardize`` and the channel axis, as the input's).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from parallel_audio.audio_io import Region
from parallel_audio.audio_ops import fit_to_length, trim_silence
from parallel_audio.errors import AudioFileError
from parallel_audio.process_params import ParallelProcessParams
from parallel_audio.sample_steps import call_sample_callback, draw_transform, featurize, read_sample

__all__ = ["PAIR_CLASS_MODES", "PAIR_TRANSFORMS", "transform_pair"]

#: Class modes whose label is audio: a target file, or the input before its noise.
PAIR_CLASS_MODES = ("audio", "denoise")
#: Which of the input's augmentations the target receives.
PAIR_TRANSFORMS = ("geometric", "all", "input")


def transform_pair(
    params: ParallelProcessParams,
    filename: str | None,
    target_filename: str | None,
    rng: np.random.Generator,
    arguments: dict[str, Any],
    *,
    sample_id: int,
    position: Callable[[], float] | float = 0.0,
    region: Region | None = None,
    clip_id: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Compute one pair: the input sample and its target.

    Parameters
    ----------
    params : ParallelProcessParams
        With ``class_mode`` "audio" or "denoise", ``pair_transforms`` and
        ``target_frontend``.
    filename : str or None
        The input's file (relative to ``params.directory``).
    target_filename : str or None
        The target's file; None with "denoise".
    rng : numpy.random.Generator
        The sample's generator.
    arguments : dict
        The callback arguments of the sample.
    sample_id, position, region, clip_id
        As :func:`~parallel_audio.pipeline.transform_sample` takes them; the target is read
        at the same position and region as the input.

    Returns
    -------
    x, y : numpy.ndarray
        The input sample (as any sample) and the target (waveform of the sample length, or
        spectrogram).

    Raises
    ------
    AudioFileError
        When the input and the target differ in length once resampled, naming both files.
    """
    mode = params.pair_transforms
    runtime = params.runtime
    generator = params.audio_data_generator
    x = read_sample(params, filename, position=position, region=region, clip_id=clip_id)
    if target_filename is None:
        target = x.copy()
    else:
        target = read_sample(params, target_filename, position=position, region=region)
        if target.size != x.size:
            raise AudioFileError(
                os.path.join(params.directory, filename or ""),
                f"has {x.size} samples at {params.sample_rate} Hz but its target "
                f"{os.path.join(params.directory, target_filename)!r} has {target.size}: the "
                "two files of a pair must have the same duration",
            )
    if params.noaug_preprocessing_function is not None:
        x = call_sample_callback(params.noaug_preprocessing_function, params, x, **arguments)
        if mode != "input":
            target = call_sample_callback(
                params.noaug_preprocessing_function, params, target, **arguments
            )
    transform = draw_transform(params, rng, silence=False, sample_id=sample_id)
    if mode == "input":
        y = fit_to_length(target, generator.sample_length, 0.0)
        x = runtime.apply_transform(x, params.sample_rate, transform)
    else:
        if generator.trim_threshold_db:
            # One cut for both, found on the input: the clips stay aligned.
            start, stop = _trim_bounds(x, generator.trim_threshold_db)
            x, target = x[start:stop], target[start:stop]
        target_transform = transform
        if mode == "geometric":
            target_transform = dataclasses.replace(
                transform, noise_color=None, bg_noise=None, augmentation_seed=None
            )
        x = runtime.apply_transform(x, params.sample_rate, transform, trim=False)
        y = runtime.apply_transform(target, params.sample_rate, target_transform, trim=False)
    if params.preprocessing_function is not None:
        x = call_sample_callback(params.preprocessing_function, params, x, **arguments)
        if mode == "all":
            y = call_sample_callback(params.preprocessing_function, params, y, **arguments)
    x = featurize(params, x, arguments)
    if params.target_frontend:
        y = featurize(params, y, arguments, postprocess=mode == "all")
    else:
        y = np.ascontiguousarray(y, np.float32)
    return x, y


def _trim_bounds(audio: np.ndarray, threshold_db: float) -> tuple[int, int]:
    """Return where :func:`trim_silence` cuts ``audio``: (start, stop)."""
    kept = trim_silence(audio, threshold_db)
    if kept.size == 0:
        return 0, 0
    start = (kept.__array_interface__["data"][0] - audio.__array_interface__["data"][0]) // (
        audio.itemsize
    )
    return int(start), int(start) + kept.size

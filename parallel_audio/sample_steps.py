"""The steps of one sample that the pipeline and audio pairs share.

Reading a sample's audio (its clip, file, region or silence), drawing its augmentation, calling
a user callback with the arguments it names, and turning augmented audio into the batch's
sample (frontend, postprocessing, standardize). Imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np

from parallel_audio.audio_io import Region, read_audio
from parallel_audio.augment import AugmentationTransform
from parallel_audio.augment.vocoder import read_length
from parallel_audio.process_params import ParallelProcessParams
from parallel_audio.random_streams import Stream, random_generator


def unaugmented_silence_rng(seed: int, sample_id: int) -> np.random.Generator:
    """Return the generator of an unaugmented ``_silence_`` sample's noise.

    Derived from ``(seed, sample_id)`` without the epoch: the sample gets the same background
    crop and level in every epoch, whatever the number of workers.
    """
    return random_generator(Stream.UNAUGMENTED_SILENCE, seed, sample_id)


@lru_cache(maxsize=64)
def _named_parameters(function: Callable) -> frozenset[str]:
    """Return the parameters a callback's signature lists by name.

    As the reference, a ``**kwargs`` parameter does not ask for anything: such a callback
    receives only the names it lists.
    """
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(
        p.name
        for p in parameters
        if p.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    )


def call_sample_callback(
    function: Callable, params: ParallelProcessParams, x: np.ndarray, **available: Any
) -> np.ndarray:
    """Call a user callback with ``(params, x)`` and the optional arguments it names."""
    named = _named_parameters(function)
    kwargs = {name: value for name, value in available.items() if name in named}
    return function(params, x, **kwargs)


def read_sample(
    params: ParallelProcessParams,
    filename: str | None,
    *,
    position: Callable[[], float] | float = 0.0,
    region: Region | None = None,
    clip_id: int | None = None,
) -> np.ndarray:
    """Return a sample's audio at the pipeline's rate: its clip, file (region), or silence.

    A file longer than the pipeline can use is read as an excerpt starting ``position`` of
    the way through it (see :func:`transform_sample`).
    """
    generator = params.audio_data_generator
    if clip_id is not None:
        return params.clips.read(clip_id, params.sample_rate)
    if filename is None:  # a _silence_ sample
        return np.zeros(generator.sample_length, np.float32)
    max_speed = generator.speed_range[1] if generator.speed_range else 1.0
    max_length = read_length(generator.sample_length, max_speed)
    cache = getattr(params, "sample_cache", None)
    if cache is not None and not cache.holds_features:
        # Decoded audio from the disk cache: the same samples, bit for bit.
        return cache.read_audio(filename, max_length=max_length, position=position, region=region)
    return read_audio(
        os.path.join(params.directory, filename),
        params.sample_rate,
        max_length=max_length,
        position=position,
        region=region,
    )


def draw_transform(
    params: ParallelProcessParams, rng: np.random.Generator, *, silence: bool, sample_id: int
) -> AugmentationTransform:
    """Draw a sample's augmentation from its generator (none when augmentation is off).

    An unaugmented ``_silence_`` sample still gets its noise, from a fixed draw per
    ``sample_id`` (see :func:`transform_sample`).
    """
    runtime = params.runtime
    if params.augmentation_enabled:
        return runtime.random_transform(rng, silence=silence)
    if silence and not params.audio_data_generator.disable_random_transforms:
        silence_rng = unaugmented_silence_rng(params.seed, sample_id)
        return runtime.random_transform(silence_rng, silence=True)
    return AugmentationTransform()


def featurize(
    params: ParallelProcessParams,
    x: np.ndarray,
    arguments: dict[str, Any],
    *,
    postprocess: bool = True,
) -> np.ndarray:
    """Turn augmented audio into the batch's sample: frontend, postprocessing, standardize.

    With the frontend off, only ``postprocessing_function`` runs (on the audio);
    ``postprocess=False`` leaves it out.
    """
    generator = params.audio_data_generator
    if params.frontend_enabled:
        x = params.runtime.apply_frontend(x, dtype=generator.frontend_output_dtype)
    if postprocess and params.postprocessing_function is not None:
        x = call_sample_callback(params.postprocessing_function, params, x, **arguments)
    if not params.frontend_enabled:
        return x
    x = generator.standardize(x)
    if params.add_channel_dimension:
        x = x[..., np.newaxis]
    return x

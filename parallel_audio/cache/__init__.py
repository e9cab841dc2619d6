"""A disk cache of decoded audio, or of unaugmented final samples, shared by every worker.

- :mod:`~parallel_audio.cache.options`: the ``flow_*`` arguments and ``cache="auto"``;
- :mod:`~parallel_audio.cache.fingerprint`: what names a cache folder;
- :mod:`~parallel_audio.cache.manifest`: per-file entries, validated by stat or content;
- :mod:`~parallel_audio.cache.chunks`: the arrays, written once, memory-mapped read-only;
- :mod:`~parallel_audio.cache.lock`: one builder per folder at a time;
- :mod:`~parallel_audio.cache.builder`: decoding what is missing in the workers;
- :mod:`~parallel_audio.cache.store`: what the pipeline reads samples from.

The pipeline sees only a :class:`SampleCache` in its configuration; everything else runs in
the training process while an iterator is created.
"""

from __future__ import annotations

from typing import Any

from parallel_audio.cache.builder import BuildContext, CacheBuild
from parallel_audio.cache.fingerprint import audio_fields, features_fields
from parallel_audio.cache.options import (
    CACHE_DTYPES,
    CACHE_KINDS,
    CACHE_VALIDATIONS,
    CacheOptions,
    resolve_cache_options,
)
from parallel_audio.cache.store import SampleCache

__all__ = [
    "CACHE_DTYPES",
    "CACHE_KINDS",
    "CACHE_VALIDATIONS",
    "CacheBuild",
    "CacheOptions",
    "SampleCache",
    "files_to_cache",
    "open_cache",
    "resolve_cache_options",
]


def open_cache(
    options: CacheOptions,
    configuration: Any,
    runtime: Any,
    *,
    directory: str,
    subset: str | None,
) -> CacheBuild:
    """Return the build of the cache an iterator of ``configuration`` uses (enter it to lock).

    Parameters
    ----------
    options : CacheOptions
        Resolved (``kind`` is "audio" or "features").
    configuration : ParallelAudioDataGenerator
        The iterator's snapshot.
    runtime : SampleRuntime
        The iterator's runtime ("features" computes samples with it).
    directory : str
        The dataset folder.
    subset : str, optional
        The iterator's subset.

    Returns
    -------
    CacheBuild
    """
    from parallel_audio.pool.options import resolve_num_workers

    rate = configuration.sample_rate_hz
    if options.kind == "features":
        fields = features_fields(configuration)
        context = BuildContext(
            "features",
            rate,
            options.dtype,
            _feature_params(configuration, runtime, directory, subset),
        )
    else:
        fields = audio_fields(rate, options.dtype)
        context = BuildContext("audio", rate, options.dtype)
    return CacheBuild(
        options,
        fields,
        directory=directory,
        context=context,
        num_workers=resolve_num_workers(configuration.cores),
        threads=bool(configuration.debug),
    )


def files_to_cache(index: Any, kind: str) -> list[str]:
    """Return the files of a dataset index the cache of ``kind`` holds, each once.

    "audio": every file the index reads (with the targets of audio pairs), whole, also
    those of which it reads only a region. "features": the files it reads whole (a
    region's sample is not the file's).
    """
    files = [
        name
        for i, name in enumerate(index.filenames)
        if name is not None and (kind == "audio" or index.region(i) is None)
    ]
    if kind == "audio" and index.target_filenames is not None:
        files.extend(name for name in index.target_filenames if name is not None)
    return list(dict.fromkeys(files))


def _feature_params(configuration: Any, runtime: Any, directory: str, subset: str | None) -> Any:
    """Return the pipeline's configuration for computing unaugmented samples of files."""
    from parallel_audio.process_params import ParallelProcessParams

    return ParallelProcessParams(
        audio_data_generator=configuration,
        sample_rate=configuration.sample_rate_hz,
        sample_length_ms=configuration.sample_length_ms,
        sample_shape=configuration.sample_shape,
        subset=subset,
        class_indices={},
        dtype=configuration.dtype,
        frontend_dtype=configuration.frontend_dtype,
        directory=directory,
        class_mode=None,
        get_batch_function=None,
        noaug_preprocessing_function=None,
        preprocessing_function=None,
        postprocessing_function=None,
        frontend_enabled=configuration.frontend_enabled,
        add_channel_dimension=configuration.add_channel_dimension,
        seed=0,
        sample_runtime=runtime,
    )

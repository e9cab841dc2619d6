"""The cache arguments of ``flow_*``, checked, and what ``cache="auto"`` resolves to."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from parallel_audio.errors import SettingsError
from parallel_audio.splits import EVALUATION_SUBSETS

#: What the cache stores: decoded audio, the final unaugmented sample, or the best allowed.
CACHE_KINDS = ("auto", "audio", "features")
#: How decoded audio is stored: float32 (batches bit for bit as uncached) or int16 (half).
CACHE_DTYPES = ("float32", "int16")
#: How a cached file is known to be unchanged: size and modification time, also its bytes'
#: hash, or not at all.
CACHE_VALIDATIONS = ("stat", "content", "none")

#: The callbacks that make the final sample something the cache cannot know.
_CALLBACKS = (
    "get_batch_function",
    "noaug_preprocessing_function",
    "preprocessing_function",
    "postprocessing_function",
)


@dataclass(frozen=True)
class CacheOptions:
    """The cache one iterator uses, as resolved from its ``flow_*`` arguments.

    Attributes
    ----------
    cache_dir : str
        The folder the cache lives in (one versioned sub-folder per fingerprint).
    kind : {"audio", "features"}
        What is stored; never "auto" here.
    dtype : {"float32", "int16"}
        How decoded audio is stored ("features" keep the sample's own dtype).
    validate : {"stat", "content", "none"}
        How cached files are checked against the dataset's.
    """

    cache_dir: str
    kind: str
    dtype: str
    validate: str


def random_transforms_run(configuration: Any, subset: str | None) -> bool:
    """Whether samples of ``subset`` draw random transforms (as the pipeline decides)."""
    if configuration.disable_random_transforms:
        return False
    return subset not in EVALUATION_SUBSETS or configuration.validation_augmentation_enabled


def features_refusal(
    configuration: Any, subset: str | None, pairs: bool = False, windows: bool = False
) -> str | None:
    """Say why ``cache="features"`` cannot hold this subset's samples; None when it can."""
    if windows:
        return (
            "flow_from_annotations's samples are windows of files, and the features cache "
            "holds one sample per whole file; use cache='audio', from which windows are sliced"
        )
    if pairs:
        return (
            "class_mode 'audio' and 'denoise' make two samples of each row (input and "
            "target); use cache='audio'"
        )
    if random_transforms_run(configuration, subset):
        where = subset if subset in EVALUATION_SUBSETS else "training"
        how = (
            "validation_augmentation_enabled=False"
            if subset in EVALUATION_SUBSETS
            else "disable_random_transforms=True"
        )
        return (
            f"random transforms run on the {where} samples (each epoch's sample differs), so "
            f"there is no fixed sample to store; set {how} or use cache='audio'"
        )
    for name in _CALLBACKS:
        if getattr(configuration, name, None) is not None:
            return (
                f"{name} is set and may compute anything from the audio; use cache='audio', "
                "which stores the audio before any callback"
            )
    return None


def resolve_cache_options(
    cache_dir: str | os.PathLike | None,
    cache: str,
    cache_dtype: str,
    cache_validate: str,
    *,
    configuration: Any,
    subset: str | None,
    pairs: bool = False,
    windows: bool = False,
) -> CacheOptions | None:
    """Check the cache arguments of ``flow_*`` and resolve ``cache="auto"``.

    Parameters
    ----------
    cache_dir : str or os.PathLike, optional
        None: no cache (the other arguments are still checked).
    cache : {"auto", "audio", "features"}
    cache_dtype : {"float32", "int16"}
    cache_validate : {"stat", "content", "none"}
    configuration : ParallelAudioDataGenerator
        The iterator's configuration snapshot.
    subset : str, optional
        The iterator's subset.
    pairs : bool
        The iterator serves audio pairs (class mode "audio" or "denoise"): "features" is
        refused, and "auto" is "audio".
    windows : bool
        The iterator serves windows of files (``flow_from_annotations``): as ``pairs``.

    Returns
    -------
    CacheOptions or None
        None without ``cache_dir``.

    Raises
    ------
    TypeError
        An argument of the wrong type, named.
    SettingsError
        An argument outside its choices, or ``cache="features"`` where a random transform or
        a callback runs (the message says to use ``"audio"``).
    """
    for name, value, choices in (
        ("cache", cache, CACHE_KINDS),
        ("cache_dtype", cache_dtype, CACHE_DTYPES),
        ("cache_validate", cache_validate, CACHE_VALIDATIONS),
    ):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, one of {choices}, got {value!r}")
        if value not in choices:
            raise SettingsError(f"{name} must be one of {choices}, got {value!r}")
    if cache_dir is None:
        return None
    if not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(f"cache_dir must be a path or None, got {type(cache_dir).__name__}")
    refusal = features_refusal(configuration, subset, pairs, windows)
    if cache == "features" and refusal is not None:
        raise SettingsError(f"cache='features' stores the final sample, but {refusal}")
    kind = cache
    if cache == "auto":
        kind = "audio" if refusal is not None else "features"
    return CacheOptions(os.fspath(cache_dir), kind, cache_dtype, cache_validate)

"""The checks of the generator's parameters, one per parameter, run on every assignment.

:class:`~parallel_audio.ParallelAudioDataGenerator` runs ``PARAMETER_CHECKS[name]`` both in
its constructor and whenever code assigns the attribute later (reference code does:
``datagen.debug = True``), so a value is never stored unchecked. Each check takes the
parameter's name and value and returns the value as stored, or raises a
:class:`~parallel_audio.SettingsError` saying what is allowed. Checks that involve several
parameters (a noise level's lower bound depends on ``noise_level_mode``) run when the
generator is built and whenever an iterator takes its snapshot.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from parallel_audio import limits
from parallel_audio.augment import NOISE_COLORS, NOISE_LEVEL_MODES, check_augmentations
from parallel_audio.augment._ranges import check_range, is_number
from parallel_audio.augment.levels import NOISE_LEVEL_LIMITS
from parallel_audio.augment.loudness import MAX_LOUDNESS_FACTOR
from parallel_audio.augment.pitch import MAX_PITCH_SEMITONES
from parallel_audio.augment.speed import SPEED_FACTOR_LIMITS
from parallel_audio.augment.vtlp import VTLP_FACTOR_LIMITS
from parallel_audio.errors import SettingsError, short_repr
from parallel_audio.frontend_settings import AudioFeatureGeneratorSettings

FRONTEND_DTYPES = ("uint16", "float32", "int8")
#: dtype kinds a batch can hold: bool, signed and unsigned integers, floats.
SAMPLE_DTYPE_KINDS = "biuf"
#: ``cores`` value that means every core of the machine, as in the reference.
ALL_CORES = -1


def check_number(
    name: str,
    value: Any,
    allowed: str,
    *,
    integer: bool = False,
    minimum: float = -math.inf,
    maximum: float = math.inf,
    below_maximum: bool = False,
) -> Any:
    """Return a finite number within [minimum, maximum] (or [minimum, maximum)), else raise."""
    if not is_number(value, integer=integer) or not (
        minimum <= value < maximum if below_maximum else minimum <= value <= maximum
    ):
        raise SettingsError(f"{name} must be {allowed}, got {short_repr(value)}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` as a bool; numpy's bool too, but not 0 or 1."""
    if not isinstance(value, bool | np.bool_):
        raise SettingsError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_callable(name: str, value: Any) -> Callable | None:
    """Return ``value`` if it is callable or None."""
    if value is not None and not callable(value):
        raise SettingsError(f"{name} must be callable or None, got {type(value).__name__}")
    return value


def float_range(name: str, value: Any, **bounds: Any) -> tuple[float, float] | None:
    """Return an optional (low, high) pair as floats, checked by ``check_range``."""
    checked = check_range(name, value, **bounds)
    return None if checked is None else (float(checked[0]), float(checked[1]))


def check_cores(name: str, value: Any) -> int | float:
    """Check ``cores``: an int >= 0 (0: the caller's thread), -1 (all), or a fraction in (0, 1]."""
    if is_number(value, integer=True):
        if value >= 0 or value == ALL_CORES:
            return int(value)
    elif is_number(value) and 0 < value <= 1:
        return float(value)
    raise SettingsError(
        f"{name} must be an int >= 0, {ALL_CORES} for every core, or a fraction of the "
        f"machine's cores in (0, 1]; got {value!r}"
    )


def check_batch_timeout(name: str, value: Any) -> float | None:
    """Seconds > 0 and at most MAX_BATCH_TIMEOUT_S, or None."""
    if value is None:
        return None
    if not (is_number(value) and 0 < value <= limits.MAX_BATCH_TIMEOUT_S):
        raise SettingsError(
            f"{name} must be a number of seconds > 0 and at most {limits.MAX_BATCH_TIMEOUT_S} "
            f"(a week), or None to wait forever; got {short_repr(value)}"
        )
    return float(value)


def check_dtype(name: str, value: Any) -> np.dtype:
    """Return a numeric dtype as ``np.dtype``: it equals both ``np.int8`` and ``"int8"``."""
    if value is None:
        raise SettingsError(f"{name} must be a numpy dtype such as 'float32' or np.int8, got None")
    try:
        dtype = np.dtype(value)
    except TypeError:
        raise SettingsError(f"{name} must be a numpy dtype, got {value!r}") from None
    if dtype.kind not in SAMPLE_DTYPE_KINDS:
        raise SettingsError(f"{name} must be a numeric numpy dtype, got {dtype}")
    return dtype


def check_frontend_dtype(name: str, value: Any) -> np.dtype | None:
    """None, or one of the frontend's output dtypes, stored as ``np.dtype``."""
    if value is None:
        return None
    try:
        dtype = np.dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or dtype.name not in FRONTEND_DTYPES:
        raise SettingsError(
            f"{name} must be one of {', '.join(FRONTEND_DTYPES)} or None, got {value!r}"
        )
    return dtype


def check_optional_number(
    name: str, value: Any, *, minimum: float = -math.inf, maximum: float = math.inf
) -> Any:
    """None, or a finite number within [minimum, maximum]."""
    if value is None:
        return None
    if minimum == -math.inf and maximum == math.inf:
        allowed = "a finite number or None"
    elif maximum == math.inf:
        allowed = f"a number >= {minimum:g} or None"
    else:
        allowed = f"a number within [{minimum:g}, {maximum:g}] or None"
    return check_number(name, value, allowed, minimum=minimum, maximum=maximum)


def check_noise_colors(name: str, value: Any) -> tuple[str, ...]:
    """None, "none", "all" or colors among NOISE_COLORS, stored as a tuple of colors."""
    if value is None or (isinstance(value, str) and value.lower() == "none"):
        return ()
    if isinstance(value, str) and value.lower() == "all":
        return NOISE_COLORS
    colors = (value,) if isinstance(value, str) else tuple(value)
    unknown = [c for c in colors if c not in NOISE_COLORS]
    if unknown or not colors:
        raise SettingsError(
            f"{name} must be 'all', 'none', None or a list of {', '.join(NOISE_COLORS)}; "
            f"got {value!r}"
        )
    return colors


def check_noise_level_mode(name: str, value: Any) -> str:
    """One of NOISE_LEVEL_MODES."""
    if value not in NOISE_LEVEL_MODES:
        raise SettingsError(f"{name} must be one of {', '.join(NOISE_LEVEL_MODES)}, got {value!r}")
    return value


def check_path(name: str, value: Any) -> str | None:
    """None or a path, stored as str."""
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike):
        raise SettingsError(f"{name} must be a path or None, got {value!r}")
    return os.fspath(value)


def check_offset_range(name: str, value: Any) -> tuple[float, float]:
    """Check a (low, high) pair within [0, 1]; None is not allowed."""
    checked = float_range(name, value, minimum=0, maximum=1)
    if checked is None:
        raise SettingsError(f"{name} must be a (low, high) pair within [0, 1], got None")
    return checked


def check_normalize_range(name: str, value: Any) -> tuple[float, float] | None:
    """Check an optional (low, high) pair within [-MAX_SCALE, MAX_SCALE]."""
    return float_range(name, value, minimum=-limits.MAX_SCALE, maximum=limits.MAX_SCALE)


def check_pitch_range(name: str, value: Any) -> tuple[float, float] | None:
    """Check an optional pitch range: semitone ints or octave floats, two octaves at most."""
    checked = check_range(name, value)
    if checked is None:
        return None
    steps = all(is_number(end, integer=True) for end in checked)
    limit = MAX_PITCH_SEMITONES if steps else MAX_PITCH_SEMITONES / 12
    return check_range(name, value, minimum=-limit, maximum=limit)


def check_frontend_settings(name: str, value: Any) -> AudioFeatureGeneratorSettings:
    """Return the caller's settings object itself (None: default settings).

    Not a copy: the generator follows later changes to it, as the reference does.
    """
    if value is None:
        return AudioFeatureGeneratorSettings()
    if not isinstance(value, AudioFeatureGeneratorSettings):
        raise SettingsError(
            f"{name} must be AudioFeatureGeneratorSettings or None, got {type(value).__name__}"
        )
    return value


def check_sample_shape(name: str, value: Any) -> tuple[int, ...] | None:
    """None or a tuple of ints >= 1 holding at most MAX_SAMPLE_VALUES values."""
    if value is None:
        return None
    try:
        shape = tuple(int(d) for d in value)
    except (TypeError, ValueError, OverflowError):
        raise SettingsError(f"{name} must be a tuple of ints, got {short_repr(value)}") from None
    if not shape or min(shape) < 1:
        raise SettingsError(
            f"{name} must be a non-empty tuple of ints >= 1, got {short_repr(value)}"
        )
    if math.prod(shape) > limits.MAX_SAMPLE_VALUES:
        raise SettingsError(
            f"{name} must hold at most 2**24 ({limits.MAX_SAMPLE_VALUES}) values, got "
            f"{short_repr(value)}: {math.prod(shape)} values"
        )
    return shape


def check_sample_length(settings: AudioFeatureGeneratorSettings, frontend_enabled: bool) -> None:
    """Reject samples longer than MAX_SAMPLE_LENGTH, or too short for one frontend window."""
    if settings.sample_length > limits.MAX_SAMPLE_LENGTH:
        raise SettingsError(
            f"frontend_settings.sample_length_ms={settings.sample_length_ms} at "
            f"sample_rate_hz={settings.sample_rate_hz} gives samples of "
            f"{settings.sample_length} values; at most 2**21 ({limits.MAX_SAMPLE_LENGTH}, "
            "131 s at 16 kHz) are allowed"
        )
    if frontend_enabled and settings.spectrogram_shape[0] < 1:
        raise SettingsError(
            f"frontend_settings.window_size_ms={settings.window_size_ms} is longer than "
            f"sample_length_ms={settings.sample_length_ms}: a sample holds no frame (make the "
            "window shorter, the sample longer, or pass frontend_enabled=False)"
        )


def check_noise_level(name: str, value: Any, mode: str) -> tuple[float, float] | None:
    """Check a noise level range against the bounds of ``noise_level_mode``."""
    minimum, maximum = NOISE_LEVEL_LIMITS[mode]
    return float_range(name, value, minimum=minimum, maximum=maximum)


def _checked_augmentations(name: str, value: Any) -> Any:
    return check_augmentations(value)


_percentage = partial(
    check_number,
    allowed=f"a number within [0, {limits.MAX_PSEUDO_CLASS_PERCENTAGE:g}]",
    minimum=0,
    maximum=limits.MAX_PSEUDO_CLASS_PERCENTAGE,
)

#: The check of every parameter the generator stores under its own name. Noise level ranges
#: are checked for their shape here and against ``noise_level_mode`` by the generator.
PARAMETER_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "cores": check_cores,
    "debug": check_bool,
    "max_batches_pending": lambda n, v: int(
        check_number(
            n,
            v,
            f"an int within [1, {limits.MAX_BATCHES_PENDING}]",
            integer=True,
            minimum=1,
            maximum=limits.MAX_BATCHES_PENDING,
        )
    ),
    "batch_timeout": check_batch_timeout,
    "get_batch_function": check_callable,
    "noaug_preprocessing_function": check_callable,
    "preprocessing_function": check_callable,
    "postprocessing_function": check_callable,
    "samplewise_center": check_bool,
    "samplewise_std_normalization": check_bool,
    "samplewise_normalize_range": check_normalize_range,
    "rescale": partial(check_optional_number, minimum=-limits.MAX_SCALE, maximum=limits.MAX_SCALE),
    "validation_split": lambda n, v: float(
        check_number(n, v, "in [0, 1)", minimum=0, maximum=1, below_maximum=True)
    ),
    "validation_augmentation_enabled": check_bool,
    "dtype": check_dtype,
    "frontend_dtype": check_frontend_dtype,
    "trim_threshold_db": partial(
        check_optional_number, minimum=0, maximum=limits.MAX_TRIM_THRESHOLD_DB
    ),
    "noise_colors": check_noise_colors,
    "noise_color_range": float_range,
    "speed_range": partial(
        float_range, minimum=SPEED_FACTOR_LIMITS[0], maximum=SPEED_FACTOR_LIMITS[1]
    ),
    "pitch_range": check_pitch_range,
    "vtlp_range": partial(
        float_range, minimum=VTLP_FACTOR_LIMITS[0], maximum=VTLP_FACTOR_LIMITS[1]
    ),
    "loudness_range": partial(float_range, minimum=0, maximum=MAX_LOUDNESS_FACTOR),
    "bg_noise_range": float_range,
    "bg_noise_dir": check_path,
    "offset_range": check_offset_range,
    "unknown_class_percentage": lambda n, v: float(_percentage(n, v)),
    "silence_class_percentage": lambda n, v: float(_percentage(n, v)),
    "disable_random_transforms": check_bool,
    "frontend_settings": check_frontend_settings,
    "frontend_enabled": check_bool,
    "disable_gpu_in_subprocesses": check_bool,
    "add_channel_dimension": check_bool,
    "noise_level_mode": check_noise_level_mode,
    "augmentations": _checked_augmentations,
}

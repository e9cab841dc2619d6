"""Every check of a user-given value, under one rule, and the warnings about legal ones.

The rule, for every parameter of the package:

- a value of the wrong type (a string where a number goes, a number where a pair goes, an
  int where a bool goes) raises ``TypeError``;
- a value of the right type but outside what is allowed raises
  :class:`~parallel_audio.SettingsError` (a ``ValueError``) for a setting, and
  :class:`~parallel_audio.DatasetError` for what describes the dataset;
- the message names the parameter, says what is allowed and what was received;
- a legal but suspicious value warns with :func:`warn_at_caller`, at the line of the user's
  code that gave it, however deep in the package the check runs.

:data:`PARAMETER_CHECKS` holds the check of every parameter the generator stores under its own
name; :class:`~parallel_audio.ParallelAudioDataGenerator` runs it in its constructor and on
every later assignment, so no value is ever stored unchecked. Each check takes the parameter's
name and value and returns the value as stored. Checks of several parameters together (a noise
level's lower bound depends on ``noise_level_mode``) are the generator's.
"""

from __future__ import annotations

import math
import numbers
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from parallel_audio import limits
from parallel_audio.errors import SettingsError, short_repr
from parallel_audio.frontend_settings import AudioFeatureGeneratorSettings

# --- What parameters allow --------------------------------------------------------------------

#: Colors of colored noise, in the order their noise buffers are seeded
#: (``augment/colored_noise.py`` gives each its spectral exponent).
NOISE_COLORS = ("white", "pink", "brown", "blue", "violet")
#: Ways to read ``noise_color_range`` and ``bg_noise_range``: a factor, or an SNR in dB.
NOISE_LEVEL_MODES = ("factor", "snr_db")
#: dtypes the frontend produces.
FRONTEND_DTYPES = ("uint16", "float32", "int8")
#: dtype kinds a batch can hold: bool, signed and unsigned integers, floats.
SAMPLE_DTYPE_KINDS = "biuf"
#: ``cores`` value that means every core of the machine, as in the reference.
ALL_CORES = -1
#: ``flow_from_directory``'s label formats.
CLASS_MODES = ("categorical", "binary", "sparse", "input", None)
#: What the last batch of an epoch holds when the batch size does not divide the samples:
#: "short", the samples left (fewer than batch_size); "repeat", as many as the other batches,
#: the missing ones taken again from the start of the epoch's order (as MLTK fills it).
LAST_BATCH_MODES = ("short", "repeat")

# --- Messages ---------------------------------------------------------------------------------


def received(value: Any) -> str:
    """Describe a rejected value for a message: its repr, abridged, and its type.

    Parameters
    ----------
    value : object
        What was received.

    Returns
    -------
    str
        ``repr(value)`` cut to a line, followed by the type's name in parentheses unless the
        repr already shows it (numbers, strings, None, bools).

    Examples
    --------
    >>> received("30")
    "'30' (str)"
    >>> received(None)
    'None'
    """
    text = short_repr(value)
    if value is None or isinstance(value, bool):
        return text
    return f"{text} ({type(value).__name__})"


def wrong_type(name: str, allowed: str, value: Any) -> TypeError:
    """Return the ``TypeError`` of a value of the wrong type (the caller raises it)."""
    return TypeError(f"{name} must be {allowed}, got {received(value)}")


def wrong_value(name: str, allowed: str, value: Any, error: type = SettingsError) -> Exception:
    """Return the error of a value of the right type that is not allowed (the caller raises it)."""
    return error(f"{name} must be {allowed}, got {short_repr(value)}")


def warn_at_caller(message: str, category: type[Warning] = UserWarning) -> None:
    """Issue a warning attributed to the first line outside this package that led here.

    ``stacklevel`` counted by hand breaks as soon as a check moves one call deeper, or runs
    both from a constructor and from an assignment; walking out of the package's frames points
    at the user's line wherever the check runs.

    Parameters
    ----------
    message : str
        The warning's text.
    category : type of Warning
        Its class.
    """
    frame = sys._getframe(1)
    level = 2  # stacklevel 1 is this function; 2, the frame above
    while frame.f_back is not None and _in_package(frame):
        frame = frame.f_back
        level += 1
    warnings.warn(message, category, stacklevel=level)


def _in_package(frame: Any) -> bool:
    name = frame.f_globals.get("__name__", "")
    return name == "parallel_audio" or name.startswith("parallel_audio.")


# --- Generic checks ---------------------------------------------------------------------------


def is_number(value: Any, *, integer: bool = False) -> bool:
    """Tell whether ``value`` is a finite real (or integral) number, not a bool."""
    if not isinstance(value, numbers.Integral if integer else numbers.Real):
        return False
    if isinstance(value, bool | np.bool_):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float's range
        return False


def _is_real(value: Any) -> bool:
    """Tell whether ``value`` is a real number of any size, finite or not, and not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool | np.bool_)


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
    """Return a finite number within [minimum, maximum] (or [minimum, maximum)).

    Raises
    ------
    TypeError
        For anything but a real number (an int when ``integer``); bools are not numbers.
    SettingsError
        For a number that is not finite or outside the bounds.
    """
    if not _is_real(value) or (integer and not isinstance(value, numbers.Integral)):
        raise wrong_type(name, allowed, value)
    within = minimum <= value < maximum if below_maximum else minimum <= value <= maximum
    if not (is_number(value, integer=integer) and within):
        raise wrong_value(name, allowed, value)
    return value


def check_bool(name: str, value: Any) -> bool:
    """Return ``value`` as a bool; numpy's bool too, but not 0 or 1."""
    if not isinstance(value, bool | np.bool_):
        raise wrong_type(name, "True or False", value)
    return bool(value)


def check_callable(name: str, value: Any) -> Callable | None:
    """Return ``value`` if it is callable or None."""
    if value is not None and not callable(value):
        raise wrong_type(name, "callable or None", value)
    return value


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``choices`` (strings, and possibly None).

    Raises
    ------
    TypeError
        For a value that is neither a string nor an allowed None.
    SettingsError
        For a string that is not among the choices.
    """
    allowed = "one of " + ", ".join(repr(choice) for choice in choices)
    if not (isinstance(value, str) or (value is None and None in choices)):
        raise wrong_type(name, allowed, value)
    if value not in choices:
        raise wrong_value(name, allowed, value)
    return value


def check_range(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    open_minimum: bool = False,
) -> tuple[float, float] | None:
    """Validate an optional (low, high) pair of finite numbers, low <= high, within bounds.

    Returns
    -------
    (number, number) or None
        The pair with its numbers' types kept (ints stay ints), or None.

    Raises
    ------
    TypeError
        For anything but None or two real numbers.
    SettingsError
        For numbers that are not finite, low > high, or ends beyond the bounds.
    """
    if value is None:
        return None
    if isinstance(value, str | bytes):
        raise wrong_type(name, "a (low, high) pair of numbers or None", value)
    try:
        low, high = value
    except (TypeError, ValueError):
        raise wrong_type(name, "a (low, high) pair of numbers or None", value) from None
    if not (_is_real(low) and _is_real(high)):
        raise wrong_type(name, "a (low, high) pair of numbers or None", value)
    if not (is_number(low) and is_number(high)):
        raise SettingsError(f"{name} must hold two finite numbers, got {short_repr(value)}")
    if low > high:
        raise SettingsError(f"{name} must have low <= high, got {short_repr(value)}")
    too_low = minimum is not None and (low < minimum or (open_minimum and low == minimum))
    if too_low or (maximum is not None and high > maximum):
        bounds = (
            f"{'(' if open_minimum else '['}{'-inf' if minimum is None else minimum}, "
            f"{'inf' if maximum is None else maximum}]"
        )
        raise SettingsError(f"{name} must lie within {bounds}, got {short_repr(value)}")
    return (low, high)


def float_range(name: str, value: Any, **bounds: Any) -> tuple[float, float] | None:
    """Return an optional (low, high) pair as floats, checked by :func:`check_range`."""
    checked = check_range(name, value, **bounds)
    return None if checked is None else (float(checked[0]), float(checked[1]))


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


def check_path(name: str, value: Any) -> str | None:
    """None or a path, stored as str."""
    if value is None:
        return None
    if not isinstance(value, str | os.PathLike):
        raise wrong_type(name, "a path or None", value)
    return os.fspath(value)


# --- The generator's parameters ---------------------------------------------------------------


def check_cores(name: str, value: Any) -> int | float:
    """Check ``cores``: an int >= 0 (0: the caller's thread), -1 (all), or a fraction in (0, 1]."""
    allowed = (
        f"an int >= 0, {ALL_CORES} for every core, or a fraction of the machine's cores in (0, 1]"
    )
    if not _is_real(value):
        raise wrong_type(name, allowed, value)
    if is_number(value, integer=True):
        if value >= 0 or value == ALL_CORES:
            return int(value)
    elif is_number(value) and 0 < value <= 1:
        return float(value)
    raise wrong_value(name, allowed, value)


def check_batch_timeout(name: str, value: Any) -> float | None:
    """Seconds > 0 and at most MAX_BATCH_TIMEOUT_S, or None."""
    if value is None:
        return None
    allowed = (
        f"a number of seconds > 0 and at most {limits.MAX_BATCH_TIMEOUT_S} (a week), or None "
        "to wait forever"
    )
    if not _is_real(value):
        raise wrong_type(name, allowed, value)
    if not (is_number(value) and 0 < value <= limits.MAX_BATCH_TIMEOUT_S):
        raise wrong_value(name, allowed, value)
    return float(value)


def _as_dtype(name: str, value: Any, allowed: str) -> np.dtype:
    """``np.dtype(value)``: a name numpy does not know is a wrong value, anything else a type."""
    try:
        return np.dtype(value)
    except TypeError:
        if isinstance(value, str):
            raise wrong_value(name, allowed, value) from None
        raise wrong_type(name, allowed, value) from None


def check_dtype(name: str, value: Any) -> np.dtype:
    """Return a numeric dtype as ``np.dtype``: it equals both ``np.int8`` and ``"int8"``."""
    allowed = "a numeric numpy dtype such as 'float32' or np.int8"
    if value is None:
        raise wrong_type(name, allowed, value)
    dtype = _as_dtype(name, value, allowed)
    if dtype.kind not in SAMPLE_DTYPE_KINDS:
        raise wrong_value(name, allowed, value)
    return dtype


def check_frontend_dtype(name: str, value: Any) -> np.dtype | None:
    """None, or one of the frontend's output dtypes, stored as ``np.dtype``."""
    if value is None:
        return None
    allowed = f"one of {', '.join(FRONTEND_DTYPES)} or None"
    dtype = _as_dtype(name, value, allowed)
    if dtype.name not in FRONTEND_DTYPES:
        raise wrong_value(name, allowed, value)
    return dtype


def check_noise_colors(name: str, value: Any) -> tuple[str, ...]:
    """None, "none", "all" or colors among NOISE_COLORS, stored as a tuple of colors."""
    allowed = f"'all', 'none', None, a color or a list of colors among {', '.join(NOISE_COLORS)}"
    if value is None or (isinstance(value, str) and value.lower() == "none"):
        return ()
    if isinstance(value, str) and value.lower() == "all":
        return NOISE_COLORS
    if isinstance(value, str):
        colors: tuple[Any, ...] = (value,)
    elif isinstance(value, Sequence | set | frozenset | np.ndarray):
        colors = tuple(value)
    else:
        raise wrong_type(name, allowed, value)
    if not all(isinstance(color, str) for color in colors):
        raise wrong_type(name, allowed, value)
    if not colors or any(color not in NOISE_COLORS for color in colors):
        raise wrong_value(name, allowed, value)
    return colors


def check_offset_range(name: str, value: Any) -> tuple[float, float]:
    """Check a (low, high) pair within [0, 1]; None is not allowed."""
    if value is None:
        raise wrong_type(name, "a (low, high) pair within [0, 1]", value)
    return float_range(name, value, minimum=0, maximum=1)


def check_normalize_range(name: str, value: Any) -> tuple[float, float] | None:
    """Check an optional (low, high) pair within [-MAX_SCALE, MAX_SCALE]."""
    return float_range(name, value, minimum=-limits.MAX_SCALE, maximum=limits.MAX_SCALE)


def check_frontend_settings(name: str, value: Any) -> AudioFeatureGeneratorSettings:
    """Return the caller's settings object itself (None: default settings).

    Not a copy: the generator follows later changes to it, as the reference does.
    """
    if value is None:
        return AudioFeatureGeneratorSettings()
    if not isinstance(value, AudioFeatureGeneratorSettings):
        raise wrong_type(name, "AudioFeatureGeneratorSettings or None", value)
    return value


def check_sample_shape(name: str, value: Any) -> tuple[int, ...] | None:
    """None or a non-empty tuple of ints >= 1 holding at most MAX_SAMPLE_VALUES values."""
    if value is None:
        return None
    allowed = "a non-empty tuple of ints >= 1, or None"
    if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
        raise wrong_type(name, allowed, value)
    if not all(_is_real(d) and isinstance(d, numbers.Integral) for d in value):
        raise wrong_type(name, allowed, value)
    shape = tuple(int(d) for d in value)
    if not shape or min(shape) < 1:
        raise wrong_value(name, allowed, value)
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
    minimum, maximum = limits.NOISE_LEVEL_LIMITS[mode]
    return float_range(name, value, minimum=minimum, maximum=maximum)


def check_augmentations(name: str, value: Any) -> tuple[Callable, ...]:
    """Check ``augmentations=``: None, one transform, or a sequence applied in order."""
    if value is None:
        return ()
    transforms = tuple(value) if isinstance(value, Sequence) and not callable(value) else (value,)
    allowed = (
        "an audiomentations transform or Compose (a callable taking samples= and "
        "sample_rate=), or a list of them"
    )
    for transform in transforms:
        if not callable(transform):
            raise wrong_type(name, allowed, transform)
    return transforms


#: A float ``pitch_range`` reaching further than this from the original pitch, in semitones,
#: was most likely written as frequency factors (``(0.9, 1.1)``) rather than in octaves.
LARGE_OCTAVE_SHIFT_SEMITONES = 6.0


def octave_range_warning(pitch_range: tuple[float, float] | None) -> str | None:
    """Explain a float ``pitch_range`` that shifts by more than 6 semitones, else None.

    A float range is in octaves (the reference's documented meaning, which both libraries
    implement), so ``(0.9, 1.1)`` shifts every clip up by 10.8 to 13.2 semitones, about an
    octave: almost surely meant as frequency factors. The message gives the octave range
    that does mean those factors (their base-2 logarithms) when both bounds are positive.

    Parameters
    ----------
    pitch_range : (float, float) or None
        As the generator received it (already validated).

    Returns
    -------
    str or None
        The warning's text, or None when the range is ints, None, or within 6 semitones.

    Examples
    --------
    >>> octave_range_warning((-0.25, 0.25)) is None
    True
    >>> print(octave_range_warning((0.9, 1.1)).split(": ")[1].split(",")[0])
    +10.8 to +13.2 semitones
    """
    if pitch_range is None or all(is_number(v, integer=True) for v in pitch_range):
        return None
    low, high = (12.0 * float(v) for v in pitch_range)
    if max(abs(low), abs(high)) <= LARGE_OCTAVE_SHIFT_SEMITONES:
        return None
    message = (
        f"pitch_range={tuple(pitch_range)!r} holds floats, so it is in octaves (as MLTK reads "
        f"it too): {low:+.1f} to {high:+.1f} semitones, every frequency multiplied by "
        f"{2 ** (low / 12):.2f} to {2 ** (high / 12):.2f}. "
    )
    if 0 < pitch_range[0] <= pitch_range[1]:
        octaves = (round(math.log2(pitch_range[0]), 3), round(math.log2(pitch_range[1]), 3))
        message += (
            f"If you meant frequency factors, pass their log2, pitch_range={octaves!r}, or "
            "two ints for whole semitone steps, such as (-2, 2)."
        )
    else:
        message += (
            "A float range within (-0.5, 0.5) stays within 6 semitones; two ints are whole "
            "semitone steps, such as (-2, 2)."
        )
    return message


def check_pitch_range(name: str, value: Any) -> tuple[float, float] | None:
    """Check a (low, high) pair: two ints are semitone steps, else octaves (warns past 6).

    At most MAX_PITCH_SEMITONES either way: 24 semitone steps, or 2 octaves as floats.
    """
    checked = check_range(name, value)
    if checked is None:
        return None
    steps = all(is_number(end, integer=True) for end in checked)
    limit = limits.MAX_PITCH_SEMITONES if steps else limits.MAX_PITCH_SEMITONES / 12
    checked = check_range(name, value, minimum=-limit, maximum=limit)
    if (message := octave_range_warning(checked)) is not None:
        warn_at_caller(message)
    return checked


def _percentage(name: str, value: Any) -> float:
    maximum = limits.MAX_PSEUDO_CLASS_PERCENTAGE
    allowed = f"a number within [0, {maximum:g}]"
    return float(check_number(name, value, allowed, minimum=0, maximum=maximum))


def _max_batches_pending(name: str, value: Any) -> int:
    maximum = limits.MAX_BATCHES_PENDING
    allowed = f"an int within [1, {maximum}]"
    return int(check_number(name, value, allowed, integer=True, minimum=1, maximum=maximum))


def _validation_split(name: str, value: Any) -> float:
    allowed = "in [0, 1)"
    return float(check_number(name, value, allowed, minimum=0, maximum=1, below_maximum=True))


def _noise_level_mode(name: str, value: Any) -> str:
    return check_choice(name, value, NOISE_LEVEL_MODES)


#: The check of every parameter the generator stores under its own name. Noise level ranges
#: are checked for their shape here and against ``noise_level_mode`` by the generator.
PARAMETER_CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "cores": check_cores,
    "debug": check_bool,
    "max_batches_pending": _max_batches_pending,
    "batch_timeout": check_batch_timeout,
    "get_batch_function": check_callable,
    "noaug_preprocessing_function": check_callable,
    "preprocessing_function": check_callable,
    "postprocessing_function": check_callable,
    "samplewise_center": check_bool,
    "samplewise_std_normalization": check_bool,
    "samplewise_normalize_range": check_normalize_range,
    "rescale": partial(check_optional_number, minimum=-limits.MAX_SCALE, maximum=limits.MAX_SCALE),
    "validation_split": _validation_split,
    "test_split": _validation_split,
    "validation_augmentation_enabled": check_bool,
    "dtype": check_dtype,
    "frontend_dtype": check_frontend_dtype,
    "trim_threshold_db": partial(
        check_optional_number, minimum=0, maximum=limits.MAX_TRIM_THRESHOLD_DB
    ),
    "noise_colors": check_noise_colors,
    "noise_color_range": float_range,
    "speed_range": partial(
        float_range, minimum=limits.SPEED_FACTOR_LIMITS[0], maximum=limits.SPEED_FACTOR_LIMITS[1]
    ),
    "pitch_range": check_pitch_range,
    "vtlp_range": partial(
        float_range, minimum=limits.VTLP_FACTOR_LIMITS[0], maximum=limits.VTLP_FACTOR_LIMITS[1]
    ),
    "loudness_range": partial(float_range, minimum=0, maximum=limits.MAX_LOUDNESS_FACTOR),
    "bg_noise_range": float_range,
    "bg_noise_dir": check_path,
    "offset_range": check_offset_range,
    "unknown_class_percentage": _percentage,
    "silence_class_percentage": _percentage,
    "disable_random_transforms": check_bool,
    "frontend_settings": check_frontend_settings,
    "frontend_enabled": check_bool,
    "disable_gpu_in_subprocesses": check_bool,
    "add_channel_dimension": check_bool,
    "noise_level_mode": _noise_level_mode,
    "augmentations": check_augmentations,
}


# --- flow_from_directory's arguments ----------------------------------------------------------


def check_batch_size(name: str, value: Any) -> int:
    """Check a batch size: an int in [1, MAX_BATCH_SIZE], or -1 for the whole dataset."""
    allowed = (
        f"an int >= 1 and at most {limits.MAX_BATCH_SIZE}, or -1 for the whole dataset in one batch"
    )
    if not _is_real(value) or not isinstance(value, numbers.Integral):
        raise wrong_type(name, allowed, value)
    if not (1 <= value <= limits.MAX_BATCH_SIZE or value == -1):
        raise wrong_value(name, allowed, value)
    return int(value)


def check_seed(name: str, value: Any) -> int | None:
    """Check a seed: an int in [0, MAX_SEED], or None to draw one."""
    if value is None:
        return None
    allowed = "an int in [0, 2**128 - 1] or None"
    if not _is_real(value) or not isinstance(value, numbers.Integral):
        raise wrong_type(name, allowed, value)
    if not 0 <= value <= limits.MAX_SEED:
        raise wrong_value(name, allowed, value)
    return int(value)


def check_executor(name: str, value: Any) -> Any:
    """Return an :class:`~parallel_audio.pool.executor.Executor`, or None."""
    from parallel_audio.pool.executor import Executor

    if value is not None and not isinstance(value, Executor):
        raise wrong_type(name, "an Executor (parallel_audio.ray.RayExecutor) or None", value)
    return value


def check_flow_arguments(
    *,
    class_mode: Any,
    batch_size: Any,
    shuffle: Any,
    last_batch: Any,
    seed: Any,
    class_modes: Sequence[str | None] | None = None,
) -> int:
    """Check the arguments every ``flow_*`` method uses itself; return the batch size.

    ``class_modes`` are the method's label formats (default ``flow_from_directory``'s). The
    dataset's own arguments (directory, classes, subset, ``on_error``, ...) are checked by
    the dataset index, which raises :class:`~parallel_audio.DatasetError` for their values.
    """
    check_choice("class_mode", class_mode, CLASS_MODES if class_modes is None else class_modes)
    check_bool("shuffle", shuffle)
    check_choice("last_batch", last_batch, LAST_BATCH_MODES)
    check_seed("seed", seed)
    return check_batch_size("batch_size", batch_size)

"""Settings of the spectrogram frontend: a dict with ``fe.`` keys, validated on every change."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from parallel_audio.errors import SettingsError
from parallel_audio.native_frontend import check_filterbank_layout

#: Prefix of every key of the settings mapping (``fe.window_size_ms``), as in the reference.
KEY_PREFIX = "fe."

MAX_WINDOW_SAMPLES = 32768

#: Sample rates the settings accept, in Hz. Not only audio: the reference trains on a
#: 360 Hz EKG signal with the frontend off. Every augmentation works from 10 Hz (below it
#: the loudness meter's and VTLP's filters have no band left to work in) up to the highest
#: rate audio interfaces record at. A spectrogram needs more (a window of at least 4
#: samples, a band below the Nyquist frequency), which :meth:`validate` checks.
MIN_SAMPLE_RATE_HZ = 10
MAX_SAMPLE_RATE_HZ = 384000
#: The lowest rate the C frontend computes spectrograms at
#: (``frontend/microfrontend/src/frontend.c``).
MIN_FRONTEND_SAMPLE_RATE_HZ = 1000


@dataclass(frozen=True)
class _Setting:
    """One setting: its type, default and allowed range (bounds inclusive unless open)."""

    kind: type
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    minimum_open: bool = False
    maximum_open: bool = False
    choices: tuple[str, ...] = ()

    def allowed(self) -> str:
        if self.choices:
            return "one of " + ", ".join(repr(choice) for choice in self.choices)
        if self.kind is bool:
            return "True or False"
        low = "(" if self.minimum_open else "["
        high = ")" if self.maximum_open else "]"
        lo = "-inf" if self.minimum is None else repr(self.minimum)
        hi = "inf" if self.maximum is None else repr(self.maximum)
        kind = "an integer" if self.kind is int else "a number"
        return f"{kind} in {low}{lo}, {hi}{high}"

    def coerce(self, name: str, value: Any) -> Any:
        """Return value as this setting's type, or raise saying what is allowed.

        The package's rule (see :mod:`parallel_audio.validation`): ``TypeError`` for a value
        of the wrong type (a string, None, a float for a switch), ``SettingsError`` for a
        value of the right type outside the setting's range.
        """
        message = f"{name} must be {self.allowed()}, got {value!r}"
        bad = SettingsError(message)
        if self.choices:
            if isinstance(value, str) and value in self.choices:
                return value
            if isinstance(value, str):
                raise bad
            raise TypeError(message)
        if self.kind is bool:
            if isinstance(value, bool | np.bool_ | numbers.Integral) and value in (0, 1):
                return bool(value)
            if isinstance(value, numbers.Integral):
                raise bad
            raise TypeError(message)
        if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
            raise TypeError(message)
        if self.kind is int:
            if not float(value).is_integer():
                raise bad
            value = int(value)
        else:
            value = float(value)
            if not math.isfinite(value):
                raise bad
        if self.minimum is not None and (
            value < self.minimum or (self.minimum_open and value == self.minimum)
        ):
            raise bad
        if self.maximum is not None and (
            value > self.maximum or (self.maximum_open and value == self.maximum)
        ):
            raise bad
        return value


# The reference's settings, names and defaults; ranges are what the integer
# pipeline can compute.
_SETTINGS: dict[str, _Setting] = {
    "sample_rate_hz": _Setting(int, 16000, MIN_SAMPLE_RATE_HZ, MAX_SAMPLE_RATE_HZ),
    "sample_length_ms": _Setting(int, 1000, 1, None),
    "window_size_ms": _Setting(int, 25, 1, None),
    "window_step_ms": _Setting(int, 10, 1, None),
    "filterbank_n_channels": _Setting(int, 32, 1, 1024),
    "filterbank_upper_band_limit": _Setting(float, 7500.0, 0.0, None, minimum_open=True),
    "filterbank_lower_band_limit": _Setting(float, 125.0, 0.0, None),
    "noise_reduction_enable": _Setting(bool, False),
    "noise_reduction_smoothing_bits": _Setting(int, 10, 0, 16),
    "noise_reduction_even_smoothing": _Setting(float, 0.025, 0.0, 1.0),
    "noise_reduction_odd_smoothing": _Setting(float, 0.06, 0.0, 1.0),
    "noise_reduction_min_signal_remaining": _Setting(float, 0.05, 0.0, 1.0),
    "pcan_enable": _Setting(bool, False),
    "pcan_strength": _Setting(float, 0.95, 0.0, None),
    "pcan_offset": _Setting(float, 80.0, 0.0, None, minimum_open=True),
    "pcan_gain_bits": _Setting(int, 21, 0, 31),
    "log_scale_enable": _Setting(bool, True),
    "log_scale_shift": _Setting(int, 6, 0, 15),
    "activity_detection_enable": _Setting(bool, False),
    "activity_detection_alpha_a": _Setting(float, 0.5, 0.0, 1.0),
    "activity_detection_alpha_b": _Setting(float, 0.8, 0.0, 1.0),
    "activity_detection_arm_threshold": _Setting(float, 0.75, 0.0, 1.0),
    "activity_detection_trip_threshold": _Setting(float, 0.8, 0.0, 1.0),
    "dc_notch_filter_enable": _Setting(bool, False),
    "dc_notch_filter_coefficient": _Setting(float, 0.95, 0.0, 1.0, maximum_open=True),
    "quantize_dynamic_scale_enable": _Setting(bool, False),
    "quantize_dynamic_scale_range_db": _Setting(float, 40.0, 0.0, 200.0, minimum_open=True),
    # Ours, not the reference's: which device's floating point builds the tables.
    "arithmetic": _Setting(str, "mltk", choices=("mltk", "tf_op", "tflm")),
}

#: Derived settings: kept in the mapping for reference compatibility, ignored on input.
_DERIVED = ("fft_length",)

_SETTING_KEYS = {KEY_PREFIX + name for name in _SETTINGS}
_DERIVED_KEYS = {KEY_PREFIX + name for name in _DERIVED}
#: The names of the settings that can be set, in their documented order (``fft_length``,
#: derived from the others, is not among them).
SETTING_NAMES: tuple[str, ...] = tuple(_SETTINGS)


def _restore(cls: type, flat: dict[str, Any]) -> AudioFeatureGeneratorSettings:
    """Unpickle settings (``__reduce__`` names this): rebuilt, so validated, from the mapping."""
    return cls.from_dict(flat)


class AudioFeatureGeneratorSettings(dict):
    """Settings of the microfrontend that turns audio into a spectrogram.

    As in the reference, the settings object is a ``dict`` whose keys are the settings'
    names prefixed with ``fe.`` (``"fe.window_size_ms"``), the derived ``fe.fft_length``
    included, so it goes wherever a dict goes: ``dict(settings)``, ``json.dumps(settings)``,
    ``model_parameters.update(settings)``. Every setting can also be passed as a keyword
    argument or assigned as an attribute (``settings.window_size_ms = 30``). Every change
    (attribute, item, :meth:`update`) is checked before it is made: a
    :class:`~parallel_audio.SettingsError` (a ``ValueError``) names the setting and the
    allowed range, and settings cannot be removed. Checks that involve several settings
    (for instance the upper band limit against the Nyquist frequency) run in
    :meth:`validate`, which :class:`~parallel_audio.AudioFeatureGenerator` calls, so that
    settings can be changed in any order.

    The constructor and :meth:`update` take bare names (``window_size_ms=30``) and
    ``fe.`` keys alike, so ``AudioFeatureGeneratorSettings(**model_parameters)`` rebuilds
    the settings stored next to a model: when the arguments hold ``fe.`` keys, names that
    are neither settings nor ``fe.`` keys are the model's other parameters (``classes``)
    and are ignored; otherwise an unknown name is an error. ``fe.fft_length`` is derived
    and ignored on input. Being mutable, settings are not hashable; :meth:`frozen` returns
    an immutable, hashable snapshot.

    Parameters
    ----------
    sample_rate_hz : int
        Sample rate of the audio, 10 to 384000 Hz (``MIN_SAMPLE_RATE_HZ``,
        ``MAX_SAMPLE_RATE_HZ``): sensor signals too, with the frontend off; a spectrogram
        needs at least 4 samples per window. Default 16000.
    sample_length_ms : int
        Length of one sample in milliseconds. Default 1000.
    window_size_ms : int
        Length of one analysis window in milliseconds. Default 25.
    window_step_ms : int
        Distance between window starts in milliseconds, at most ``window_size_ms``. Default 10.
    filterbank_n_channels : int
        Number of mel channels, 1 to 1024. Default 32.
    filterbank_upper_band_limit : float
        Upper edge of the filterbank in Hz, at most half the sample rate. At or just below
        half, where the top band reaches the last FFT bin, only ``arithmetic="mltk"``
        accepts it, as MLTK's frontend does. Default 7500.0.
    filterbank_lower_band_limit : float
        Lower edge of the filterbank in Hz, below the upper edge. Default 125.0.
    noise_reduction_enable : bool
        Subtract a running per-channel noise estimate. Default False.
    noise_reduction_smoothing_bits : int
        Fixed-point headroom of the noise estimate, 0 to 16. Default 10.
    noise_reduction_even_smoothing, noise_reduction_odd_smoothing : float
        Update rate of the estimate on even and odd channels, 0 to 1. Defaults 0.025, 0.06.
    noise_reduction_min_signal_remaining : float
        Fraction of the signal always kept, 0 to 1. Default 0.05.
    pcan_enable : bool
        Per-channel amplitude normalization by the noise estimate; needs noise reduction.
        Default False.
    pcan_strength, pcan_offset : float
        Exponent (>= 0) and offset (> 0) of the normalization. Defaults 0.95, 80.0.
    pcan_gain_bits : int
        Fixed-point gain of the normalization, 0 to 31. Default 21.
    log_scale_enable : bool
        Take the natural log of each channel. Default True.
    log_scale_shift : int
        The log is scaled by ``2**log_scale_shift``, 0 to 15. Default 6.
    activity_detection_enable : bool
        Track onsets; see :meth:`AudioFeatureGenerator.activity_was_detected`. Default False.
    activity_detection_alpha_a, activity_detection_alpha_b : float
        Smoothing of the fast and the slow energy average, 0 to 1. Defaults 0.5, 0.8.
    activity_detection_arm_threshold, activity_detection_trip_threshold : float
        Fast/slow ratios that arm and then trip the detector, 0 to 1. Defaults 0.75, 0.8.
    dc_notch_filter_enable : bool
        Remove DC from the input with a first-order notch. Default False.
    dc_notch_filter_coefficient : float
        Pole of the notch, in [0, 1). Default 0.95.
    quantize_dynamic_scale_enable : bool
        With int8 output, map the top ``quantize_dynamic_scale_range_db`` of each
        spectrogram onto -128..127 instead of the fixed TFLM scaling. Default False.
    quantize_dynamic_scale_range_db : float
        Range kept by the dynamic scaling, in dB, in (0, 200]. Default 40.0.
    arithmetic : {"mltk", "tf_op", "tflm"}
        Whose floating-point arithmetic builds the frontend's start-up tables (Hann window,
        filterbank), a few entries of which differ between devices: ``"mltk"``, Silicon Labs
        MLTK's C frontend and the devices built from it (the reference generator's own);
        ``"tf_op"``, TensorFlow's ``audio_microfrontend`` op and TFLM before late 2023;
        ``"tflm"``, TFLM's microfrontend library since then. Only ``"mltk"`` accepts an upper
        band limit whose top band reaches the last FFT bin (the Nyquist frequency).
        Default "mltk".

    Examples
    --------
    >>> settings = AudioFeatureGeneratorSettings(window_size_ms=30, filterbank_n_channels=40)
    >>> settings.spectrogram_shape
    (98, 40)
    >>> settings["fe.filterbank_n_channels"], settings["fe.fft_length"]
    (40, 512)
    >>> AudioFeatureGeneratorSettings(**{**settings, "classes": ["yes", "no"]}) == settings
    True
    """

    # No instance __dict__: the dict's items are the only state, so every copy of them
    # (dict(), json, update into another dict) is complete.
    __slots__ = ()
    __hash__ = None  # type: ignore[assignment]  # mutable: use frozen() as a key

    def __init__(self, **settings: Any) -> None:
        super().__init__()
        defaults = {name: setting.default for name, setting in _SETTINGS.items()}
        self._commit({**defaults, **self._checked(settings)})

    # --- the only two places values enter --------------------------------------------------

    @classmethod
    def _checked(cls, items: Mapping[str, Any]) -> dict[str, Any]:
        """Return ``items`` as {setting name: checked value}, or raise before changing anything."""
        has_prefixed_keys = any(isinstance(k, str) and k.startswith(KEY_PREFIX) for k in items)
        checked: dict[str, Any] = {}
        for key, value in items.items():
            if not isinstance(key, str):
                raise TypeError(f"setting names are str, got {key!r}")
            if key in _DERIVED_KEYS or key in _DERIVED:
                continue  # derived from the others; a stored model carries it
            prefixed = key.startswith(KEY_PREFIX)
            name = key[len(KEY_PREFIX) :] if prefixed else key
            setting = _SETTINGS.get(name)
            if setting is None:
                if has_prefixed_keys and not prefixed:
                    continue  # another model parameter next to the settings
                raise AttributeError(
                    f"{cls.__name__} has no setting {name!r}"
                    + (f" (key {key!r})" if prefixed else "")
                    + f"; known settings: {', '.join(_SETTINGS)}"
                )
            value = setting.coerce(name, value)
            if name in checked and checked[name] != value:
                raise SettingsError(
                    f"{name} is given twice with different values, {checked[name]!r} and "
                    f"{value!r} (as {name!r} and {KEY_PREFIX + name!r})"
                )
            checked[name] = value
        return checked

    def _commit(self, checked: Mapping[str, Any]) -> None:
        """Store checked values and the derived FFT length."""
        for name, value in checked.items():
            dict.__setitem__(self, KEY_PREFIX + name, value)
        length = 4
        while length < self.window_samples:
            length *= 2
        dict.__setitem__(self, KEY_PREFIX + "fft_length", length)

    def _check_mutable(self) -> None:
        """Allow changes (the frozen snapshot overrides this to refuse them)."""

    # --- attribute access -------------------------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        if name in _SETTINGS:
            return self[KEY_PREFIX + name]
        raise AttributeError(f"{type(self).__name__} has no setting {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _DERIVED:
            raise AttributeError(f"{name} is derived from the window size and cannot be set")
        if name not in _SETTINGS:
            raise AttributeError(
                f"{type(self).__name__} has no setting {name!r}; "
                f"known settings: {', '.join(_SETTINGS)}"
            )
        self._check_mutable()
        self._commit(self._checked({name: value}))

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"settings cannot be removed ({name!r})")

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(_SETTINGS) | set(_DERIVED))

    # --- the mapping, as the reference's dict ------------------------------------------------

    def __setitem__(self, key: str, value: Any) -> None:
        if key in _DERIVED_KEYS:
            raise KeyError(f"{key!r} is derived from the window size and cannot be set")
        if key not in _SETTING_KEYS:
            raise KeyError(
                f"{key!r} is not a frontend setting; keys are {KEY_PREFIX}<setting>, "
                f"settings: {', '.join(_SETTINGS)}"
            )
        self._check_mutable()
        self._commit(self._checked({key: value}))

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        """Change several settings at once: all are checked before any is changed.

        Takes what ``dict.update`` takes; keys are ``fe.`` keys or bare setting names, as
        for the constructor.
        """
        self._check_mutable()
        self._commit(self._checked(dict(*args, **kwargs)))

    def __ior__(self, other: Any) -> AudioFeatureGeneratorSettings:  # type: ignore[override,misc]
        self.update(other)
        return self

    def setdefault(self, key: str, default: Any = None) -> Any:
        """Return the setting ``key``; every setting always exists, so nothing is set."""
        if key not in self:
            raise KeyError(f"{key!r} is not a frontend setting")
        return self[key]

    def _refuse_removal(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("frontend settings cannot be removed; assign a value instead")

    __delitem__ = pop = popitem = clear = _refuse_removal  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), dict(self)))

    def __repr__(self) -> str:
        changed = {
            name: self[KEY_PREFIX + name]
            for name, setting in _SETTINGS.items()
            if self[KEY_PREFIX + name] != setting.default
        }
        args = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        return f"{type(self).__name__}({args})"

    def copy(self) -> AudioFeatureGeneratorSettings:
        """Return an independent, mutable copy."""
        return AudioFeatureGeneratorSettings.from_dict(self)

    def frozen(self) -> FrozenAudioFeatureGeneratorSettings:
        """Return an immutable, hashable snapshot of the settings as they are now."""
        return FrozenAudioFeatureGeneratorSettings.from_dict(self)

    @property
    def sample_length(self) -> int:
        """Samples in one clip: ``sample_rate_hz * sample_length_ms // 1000``."""
        return self.sample_rate_hz * self.sample_length_ms // 1000

    @property
    def window_samples(self) -> int:
        """Samples in one window."""
        return self.sample_rate_hz * self.window_size_ms // 1000

    @property
    def step_samples(self) -> int:
        """Samples between window starts."""
        return self.sample_rate_hz * self.window_step_ms // 1000

    @property
    def fft_length(self) -> int:
        """FFT length: the smallest power of two that holds one window (at least 4)."""
        return self[KEY_PREFIX + "fft_length"]

    @property
    def spectrogram_shape(self) -> tuple[int, int]:
        """``(frames, channels)`` of one clip's spectrogram.

        ``frames = (sample_length - window_samples) // step_samples + 1``, or 0 when a
        clip is shorter than one window.
        """
        frames = 0
        if self.sample_length >= self.window_samples:
            frames = (self.sample_length - self.window_samples) // self.step_samples + 1
        return frames, self.filterbank_n_channels

    def validate(self) -> None:
        """Check the settings that constrain each other; raise SettingsError naming the fix."""
        nyquist = self.sample_rate_hz / 2
        if self.sample_rate_hz < MIN_FRONTEND_SAMPLE_RATE_HZ:
            raise SettingsError(
                f"sample_rate_hz={self.sample_rate_hz} is below {MIN_FRONTEND_SAMPLE_RATE_HZ} "
                "Hz, the lowest rate the frontend computes spectrograms at; lower rates work "
                "with frontend_enabled=False"
            )
        if not self.window_samples >= 4:
            raise SettingsError(
                f"window_size_ms={self.window_size_ms} gives {self.window_samples} samples at "
                f"{self.sample_rate_hz} Hz; a window needs at least 4 samples"
            )
        if self.window_samples > MAX_WINDOW_SAMPLES:
            raise SettingsError(
                f"window_size_ms={self.window_size_ms} gives {self.window_samples} samples at "
                f"{self.sample_rate_hz} Hz; at most {MAX_WINDOW_SAMPLES} are supported"
            )
        if self.window_step_ms > self.window_size_ms:
            raise SettingsError(
                f"window_step_ms={self.window_step_ms} must not exceed "
                f"window_size_ms={self.window_size_ms}"
            )
        if self.filterbank_upper_band_limit > nyquist:
            raise SettingsError(
                f"filterbank_upper_band_limit={self.filterbank_upper_band_limit} Hz is above "
                f"the Nyquist frequency {nyquist} Hz of sample_rate_hz={self.sample_rate_hz}"
            )
        if self.filterbank_lower_band_limit >= self.filterbank_upper_band_limit:
            raise SettingsError(
                f"filterbank_lower_band_limit={self.filterbank_lower_band_limit} must be below "
                f"filterbank_upper_band_limit={self.filterbank_upper_band_limit}"
            )
        if self.pcan_enable:
            if not self.noise_reduction_enable:
                raise SettingsError(
                    "pcan_enable=True needs noise_reduction_enable=True: PCAN normalizes each "
                    "channel by the noise estimate that noise reduction keeps"
                )
            # log2(fft length) - 6: how far the FFT's scale sits from the filterbank's.
            correction_bits = self.fft_length.bit_length() - 1 - 6
            if self.noise_reduction_smoothing_bits < correction_bits:
                raise SettingsError(
                    f"noise_reduction_smoothing_bits must be at least {correction_bits} with "
                    f"PCAN and an FFT of {self.fft_length}"
                )
            if self.pcan_gain_bits < correction_bits + 12:
                raise SettingsError(
                    f"pcan_gain_bits must be at least {correction_bits + 12} with an FFT of "
                    f"{self.fft_length}"
                )
        # Whether the top band may reach the Nyquist bin depends on the arithmetic and its
        # rounding, so the C frontend's own table builder decides.
        check_filterbank_layout(self)

    def to_dict(self) -> dict[str, Any]:
        """Return the settings as a plain dict: ``fe.`` keys, ``fe.fft_length`` included."""
        return dict(self)

    @classmethod
    def from_dict(cls, flat: Mapping[str, Any]) -> AudioFeatureGeneratorSettings:
        """Build settings from a mapping with ``fe.`` keys, as :meth:`to_dict` writes.

        Keys without the ``fe.`` prefix are ignored, so a model's whole parameter dict can
        be passed; derived keys (``fe.fft_length``) are ignored; unknown ``fe.`` keys raise.
        """
        return cls(
            **{k: v for k, v in flat.items() if isinstance(k, str) and k.startswith(KEY_PREFIX)}
        )


class FrozenAudioFeatureGeneratorSettings(AudioFeatureGeneratorSettings):
    """An immutable snapshot of :class:`AudioFeatureGeneratorSettings`; hashable.

    What an iterator's workers and the caches of native frontends hold: every change is
    refused with a ``TypeError``. :meth:`copy` returns mutable settings.
    """

    __slots__ = ()

    def _check_mutable(self) -> None:
        raise TypeError(
            "these frontend settings are a frozen snapshot (an iterator's, taken when it was "
            "created); change the generator's frontend_settings and create a new iterator, or "
            "use .copy() for mutable settings"
        )

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(frozenset(self.items()))

    def frozen(self) -> FrozenAudioFeatureGeneratorSettings:
        """Return itself: it is already immutable."""
        return self

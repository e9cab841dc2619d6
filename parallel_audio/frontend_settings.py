"""Settings of the spectrogram frontend, validated on every assignment."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from parallel_audio.errors import SettingsError

#: Prefix of every key in the flat dictionary form (``to_dict``/``from_dict``).
KEY_PREFIX = "fe."

MAX_WINDOW_SAMPLES = 32768


@dataclass(frozen=True)
class _Setting:
    """One setting: its type, default and allowed range (bounds inclusive unless open)."""

    kind: type
    default: Any
    minimum: float | None = None
    maximum: float | None = None
    minimum_open: bool = False
    maximum_open: bool = False

    def allowed(self) -> str:
        if self.kind is bool:
            return "True or False"
        low = "(" if self.minimum_open else "["
        high = ")" if self.maximum_open else "]"
        lo = "-inf" if self.minimum is None else repr(self.minimum)
        hi = "inf" if self.maximum is None else repr(self.maximum)
        kind = "an integer" if self.kind is int else "a number"
        return f"{kind} in {low}{lo}, {hi}{high}"

    def coerce(self, name: str, value: Any) -> Any:
        """Return value as this setting's type, or raise SettingsError saying what is allowed."""
        bad = SettingsError(f"{name} must be {self.allowed()}, got {value!r}")
        if self.kind is bool:
            if isinstance(value, bool | numbers.Integral) and value in (0, 1):
                return bool(value)
            raise bad
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise bad
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
    "sample_rate_hz": _Setting(int, 16000, 1000, 384000),
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
}

#: Derived settings: written by ``to_dict`` for reference compatibility, ignored on input.
_DERIVED = ("fft_length",)


class AudioFeatureGeneratorSettings:
    """Settings of the microfrontend that turns audio into a spectrogram.

    The names, defaults and meanings are those of the reference generator's settings.
    Every setting can be passed as a keyword argument or assigned one at a time
    (``settings.window_size_ms = 30``); each value is checked on assignment and a
    :class:`~parallel_audio.SettingsError` (a ``ValueError``) names the setting and the
    allowed range. Checks that involve several settings (for instance the upper band
    limit against the Nyquist frequency) run in :meth:`validate`, which
    :class:`~parallel_audio.AudioFeatureGenerator` calls, so that settings can be
    changed in any order.

    Parameters
    ----------
    sample_rate_hz : int
        Sample rate of the audio, 1000 to 384000 Hz. Default 16000.
    sample_length_ms : int
        Length of one sample in milliseconds. Default 1000.
    window_size_ms : int
        Length of one analysis window in milliseconds. Default 25.
    window_step_ms : int
        Distance between window starts in milliseconds, at most ``window_size_ms``. Default 10.
    filterbank_n_channels : int
        Number of mel channels, 1 to 1024. Default 32.
    filterbank_upper_band_limit : float
        Upper edge of the filterbank in Hz, at most half the sample rate. Default 7500.0.
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

    Examples
    --------
    >>> settings = AudioFeatureGeneratorSettings(window_size_ms=30, filterbank_n_channels=40)
    >>> settings.spectrogram_shape
    (98, 40)
    >>> AudioFeatureGeneratorSettings.from_dict(settings.to_dict()) == settings
    True
    """

    __slots__ = ("_values",)

    def __init__(self, **settings: Any) -> None:
        object.__setattr__(self, "_values", {k: s.default for k, s in _SETTINGS.items()})
        for name, value in settings.items():
            setattr(self, name, value)

    def __getattr__(self, name: str) -> Any:
        values = object.__getattribute__(self, "_values")
        if name in values:
            return values[name]
        raise AttributeError(f"{type(self).__name__} has no setting {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _DERIVED:
            raise AttributeError(f"{name} is derived from the window size and cannot be set")
        setting = _SETTINGS.get(name)
        if setting is None:
            raise AttributeError(
                f"{type(self).__name__} has no setting {name!r}; "
                f"known settings: {', '.join(_SETTINGS)}"
            )
        self._values[name] = setting.coerce(name, value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, AudioFeatureGeneratorSettings):
            return NotImplemented
        return self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __repr__(self) -> str:
        changed = {k: v for k, v in self._values.items() if v != _SETTINGS[k].default}
        args = ", ".join(f"{k}={v!r}" for k, v in changed.items())
        return f"{type(self).__name__}({args})"

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(_SETTINGS) | set(_DERIVED))

    def __getstate__(self) -> dict[str, Any]:
        return dict(self._values)

    def __setstate__(self, state: dict[str, Any]) -> None:
        object.__setattr__(self, "_values", {k: s.default for k, s in _SETTINGS.items()})
        for name, value in state.items():
            setattr(self, name, value)

    def copy(self) -> AudioFeatureGeneratorSettings:
        """Return an independent copy."""
        return type(self)(**self._values)

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
        length = 4
        while length < self.window_samples:
            length *= 2
        return length

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

    def to_dict(self) -> dict[str, Any]:
        """Return a flat dict with ``fe.``-prefixed keys, plus the derived ``fe.fft_length``."""
        flat = {KEY_PREFIX + k: v for k, v in self._values.items()}
        flat[KEY_PREFIX + "fft_length"] = self.fft_length
        return flat

    @classmethod
    def from_dict(cls, flat: Mapping[str, Any]) -> AudioFeatureGeneratorSettings:
        """Build settings from a flat dict as written by :meth:`to_dict`.

        Keys without the ``fe.`` prefix are ignored, so a model's whole parameter dict can
        be passed; derived keys (``fe.fft_length``) are ignored; unknown ``fe.`` keys raise.
        """
        settings = cls()
        for key, value in flat.items():
            if not key.startswith(KEY_PREFIX):
                continue
            name = key[len(KEY_PREFIX) :]
            if name in _DERIVED:
                continue
            setattr(settings, name, value)
        return settings

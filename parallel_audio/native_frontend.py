"""Building the C microfrontend from settings, and asking it whether it accepts them.

Apart from :mod:`~parallel_audio.feature_generator` so that the settings' own validation
(:mod:`~parallel_audio.frontend_settings`) can ask the C's table builder without importing
the module that imports the settings.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from parallel_audio import _microfrontend
from parallel_audio.errors import SettingsError

if TYPE_CHECKING:
    from parallel_audio.frontend_settings import AudioFeatureGeneratorSettings

__all__ = ["build_native", "check_filterbank_layout"]

#: Who computes each arithmetic, for messages.
_ARITHMETIC_OWNERS = {
    "mltk": "MLTK's frontend",
    "tf_op": "TensorFlow's op",
    "tflm": "TFLM's library",
}


def _native_config(settings: AudioFeatureGeneratorSettings) -> _microfrontend.Config:
    config = _microfrontend.Config()
    config.arithmetic = _microfrontend.ARITHMETICS[settings.arithmetic]
    config.sample_rate_hz = settings.sample_rate_hz
    config.window_size_ms = settings.window_size_ms
    config.window_step_ms = settings.window_step_ms
    config.filterbank_num_channels = settings.filterbank_n_channels
    config.filterbank_lower_band_limit_hz = settings.filterbank_lower_band_limit
    config.filterbank_upper_band_limit_hz = settings.filterbank_upper_band_limit
    for name in (
        "noise_reduction_enable",
        "noise_reduction_smoothing_bits",
        "noise_reduction_even_smoothing",
        "noise_reduction_odd_smoothing",
        "noise_reduction_min_signal_remaining",
        "pcan_enable",
        "pcan_strength",
        "pcan_offset",
        "pcan_gain_bits",
        "log_scale_enable",
        "log_scale_shift",
        "dc_notch_filter_enable",
        "dc_notch_filter_coefficient",
        "activity_detection_enable",
        "activity_detection_alpha_a",
        "activity_detection_alpha_b",
        "activity_detection_arm_threshold",
        "activity_detection_trip_threshold",
    ):
        setattr(config, name, getattr(settings, name))
    return config


def build_native(settings: AudioFeatureGeneratorSettings) -> _microfrontend.Frontend:
    """Build the C frontend, turning a layout the arithmetic refuses into a SettingsError."""
    try:
        return _microfrontend.Frontend(_native_config(settings))
    except ValueError as error:
        if "does not fit the spectrum" not in str(error):
            raise SettingsError(str(error)) from None  # a setting the C names itself
        s = settings
        owner = _ARITHMETIC_OWNERS[s.arithmetic]
        # The layout a device refuses: the top band reaching the last FFT bin, where only
        # MLTK's frontend takes the Nyquist bin in.
        alternative = (
            ""
            if s.arithmetic == "mltk"
            else "; arithmetic='mltk' accepts it, as MLTK's frontend and the Silicon Labs "
            "devices built from it do"
        )
        raise SettingsError(
            f"{error}: with filterbank_upper_band_limit={s.filterbank_upper_band_limit} "
            f"the top band reaches the last FFT bin ({s.sample_rate_hz / 2} Hz of a "
            f"{s.fft_length}-point FFT), which arithmetic={s.arithmetic!r} ({owner}) "
            f"refuses{alternative}; or lower the limit by at least one bin, "
            f"{s.sample_rate_hz / s.fft_length:.1f} Hz"
        ) from None


def check_filterbank_layout(settings: AudioFeatureGeneratorSettings) -> None:
    """Raise SettingsError when the settings' arithmetic refuses their filterbank layout.

    Whether the top band may reach the last FFT bin depends on the arithmetic and on how it
    rounds the band edges, so the C frontend's own table builder is asked.

    Parameters
    ----------
    settings : AudioFeatureGeneratorSettings
        Settings whose other checks have passed.

    Raises
    ------
    SettingsError
        Naming the band limit, the arithmetic and the one that accepts the layout.
    """
    build_native(settings)

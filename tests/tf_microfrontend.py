"""TensorFlow's own microfrontend op, the oracle for the frontend's uint16 output."""

from __future__ import annotations

import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import tensorflow as tf  # noqa: E402
from tensorflow.lite.experimental.microfrontend.python.ops import (  # noqa: E402
    audio_microfrontend_op,
)

from parallel_audio import AudioFeatureGeneratorSettings  # noqa: E402


def tf_spectrogram(samples: np.ndarray, settings: AudioFeatureGeneratorSettings) -> np.ndarray:
    """TF's op with the same settings. Its noise reduction cannot be switched off, but with
    min_signal_remaining=1.0 it is the identity (the floor is the signal itself)."""
    if settings.dc_notch_filter_enable or settings.activity_detection_enable:
        raise ValueError("TF's op has no DC notch or activity detection")
    nr = settings.noise_reduction_enable
    output = audio_microfrontend_op.audio_microfrontend(
        tf.constant(samples, dtype=tf.int16),
        sample_rate=settings.sample_rate_hz,
        window_size=settings.window_size_ms,
        window_step=settings.window_step_ms,
        num_channels=settings.filterbank_n_channels,
        upper_band_limit=settings.filterbank_upper_band_limit,
        lower_band_limit=settings.filterbank_lower_band_limit,
        smoothing_bits=settings.noise_reduction_smoothing_bits,
        even_smoothing=settings.noise_reduction_even_smoothing,
        odd_smoothing=settings.noise_reduction_odd_smoothing,
        min_signal_remaining=settings.noise_reduction_min_signal_remaining if nr else 1.0,
        enable_pcan=settings.pcan_enable,
        pcan_strength=settings.pcan_strength,
        pcan_offset=settings.pcan_offset,
        gain_bits=settings.pcan_gain_bits,
        enable_log=settings.log_scale_enable,
        scale_shift=settings.log_scale_shift,
        out_scale=1,
        out_type=tf.uint16,
    )
    return np.asarray(output).reshape(-1, settings.filterbank_n_channels)

"""With arithmetic="tf_op" the uint16 spectrogram equals TensorFlow's microfrontend op value for
value."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from support import SIGNAL_KINDS, make_signal
from tf_microfrontend import tf_spectrogram

from parallel_audio import AudioFeatureGenerator, AudioFeatureGeneratorSettings, SettingsError

SAMPLE_RATES = (8000, 16000, 22050, 48000)
WINDOWS_MS = (20, 25, 30, 32)
STEPS_MS = (10, 20)
CHANNELS = (8, 16, 32, 40, 64, 80, 128)
# (lower, upper) band limits in Hz; None means just below Nyquist.
BANDS = ((125.0, 7500.0), (20.0, None), (300.0, 3400.0), (0.0, 4000.0))
PCAN = ((0.95, 80.0, 21), (0.5, 1.0, 18), (1.2, 200.0, 24))


def settings_for_case(index: int, sample_rate: int, window: int, step: int):
    """Cycle every other setting through its variants, so that the grid covers all of them."""
    lower, upper = BANDS[index % len(BANDS)]
    nyquist = sample_rate / 2
    upper = nyquist - 50 if upper is None else min(upper, nyquist - 50)
    noise_reduction = index % 3 != 0
    pcan = noise_reduction and index % 2 == 0
    strength, offset, gain_bits = PCAN[index % len(PCAN)]
    return AudioFeatureGeneratorSettings(
        arithmetic="tf_op",
        sample_rate_hz=sample_rate,
        window_size_ms=window,
        window_step_ms=min(step, window),
        filterbank_n_channels=CHANNELS[index % len(CHANNELS)],
        filterbank_lower_band_limit=lower,
        filterbank_upper_band_limit=upper,
        noise_reduction_enable=noise_reduction,
        noise_reduction_smoothing_bits=6 + index % 8,
        pcan_enable=pcan,
        pcan_strength=strength,
        pcan_offset=offset,
        pcan_gain_bits=gain_bits,
        log_scale_enable=index % 5 != 4,
        log_scale_shift=3 + index % 6,
    )


GRID = list(enumerate(itertools.product(SAMPLE_RATES, WINDOWS_MS, STEPS_MS)))


def assert_matches_tf(settings: AudioFeatureGeneratorSettings, samples: np.ndarray) -> None:
    assert settings.arithmetic == "tf_op"
    try:
        expected = tf_spectrogram(samples, settings)
    except Exception:  # TF rejects the layout: so must we
        with pytest.raises(SettingsError, match="arithmetic='mltk' accepts it"):
            AudioFeatureGenerator(settings)
        return
    actual = AudioFeatureGenerator(settings).process_sample(samples, dtype=np.uint16)
    assert actual.dtype == np.uint16
    assert actual.shape == expected.shape
    np.testing.assert_array_equal(actual, expected)


@pytest.mark.parametrize(("index", "rate_window_step"), GRID, ids=lambda v: str(v))
@pytest.mark.parametrize("kind", SIGNAL_KINDS)
def test_grid_matches_tf(index, rate_window_step, kind, rng):
    sample_rate, window, step = rate_window_step
    settings = settings_for_case(index + SIGNAL_KINDS.index(kind), sample_rate, window, step)
    n = int(rng.integers(0, int(1.2 * sample_rate)))
    assert_matches_tf(settings, make_signal(kind, rng, n, sample_rate))


def test_random_configurations_match_tf(rng):
    for _ in range(150):
        sample_rate = int(rng.choice(SAMPLE_RATES))
        window = int(rng.integers(10, 65))
        step = int(rng.integers(1, window + 1))
        settings = settings_for_case(int(rng.integers(1000)), sample_rate, window, 10)
        settings.window_step_ms = step
        settings.filterbank_n_channels = int(rng.integers(8, 129))
        kind = SIGNAL_KINDS[int(rng.integers(len(SIGNAL_KINDS)))]
        n = int(rng.integers(0, 2 * sample_rate))
        assert_matches_tf(settings, make_signal(kind, rng, n, sample_rate))


@pytest.mark.parametrize("offset", [-1, 0, 1])
@pytest.mark.parametrize("steps", [0, 1, 2])
def test_edge_lengths_match_tf(offset, steps, rng):
    settings = AudioFeatureGeneratorSettings(
        arithmetic="tf_op", noise_reduction_enable=True, pcan_enable=True
    )
    n = settings.window_samples + steps * settings.step_samples + offset
    samples = make_signal("white", rng, n, settings.sample_rate_hz)
    assert_matches_tf(settings, samples)
    expected_frames = 0 if n < settings.window_samples else steps + (offset >= 0)
    assert AudioFeatureGenerator(settings).process_sample(samples).shape[0] == expected_frames


def test_int8_is_the_micro_features_formula_of_tf_output(rng):
    settings = AudioFeatureGeneratorSettings(
        arithmetic="tf_op",
        window_size_ms=30,
        filterbank_n_channels=40,
        noise_reduction_enable=True,
        pcan_enable=True,
    )
    samples = make_signal("speech", rng, 16000, 16000)
    expected_uint16 = tf_spectrogram(samples, settings).astype(np.int64)
    expected = np.clip((expected_uint16 * 256 + 333) // 666 - 128, -128, 127)
    actual = AudioFeatureGenerator(settings).process_sample(samples, dtype=np.int8)
    assert actual.dtype == np.int8
    np.testing.assert_array_equal(actual, expected)
    # The scaling is not degenerate on this input.
    assert len(np.unique(actual)) > 50


@pytest.mark.parametrize("sample_rate", SAMPLE_RATES)
@pytest.mark.parametrize("window", (20, 25, 30, 32, 64))
@pytest.mark.parametrize("channels", (20, 40, 68, 70))
def test_band_limits_at_and_near_nyquist_are_refused_exactly_where_tf_refuses(
    sample_rate, window, channels, rng
):
    # Whether the top band reaches the last bin depends on float rounding of the band edges,
    # so TF accepts some limits at the Nyquist frequency and refuses some below it.
    for upper in (sample_rate / 2, sample_rate / 2 - 1, sample_rate / 2 - 10):
        settings = AudioFeatureGeneratorSettings(
            arithmetic="tf_op",
            sample_rate_hz=sample_rate,
            window_size_ms=window,
            filterbank_n_channels=channels,
            filterbank_upper_band_limit=upper,
            noise_reduction_enable=True,
        )
        samples = make_signal("speech", rng, sample_rate // 4, sample_rate)
        assert_matches_tf(settings, samples)

"""Properties of the frontend with closed-form expectations, and its input handling."""

from __future__ import annotations

import math
import pickle
import threading

import numpy as np
import pytest
from support import make_signal

from parallel_audio import AudioFeatureGenerator, AudioFeatureGeneratorSettings
from parallel_audio.feature_generator import quantize_int8


def mel(hz):
    return 1127.0 * math.log1p(hz / 700.0)


def hz(mel_value):
    return 700.0 * math.expm1(mel_value / 1127.0)


def notch_limit_cycle(coefficient: float) -> int:
    """Largest constant the integer notch keeps: y == round_half_up(c * y / 2**15), c in Q15."""
    c = int(coefficient * 32768)
    return max(k for k in range(1, 1000) if (c * k + 2**14) >> 15 == k)


def test_dc_notch_removes_a_constant_input():
    settings = AudioFeatureGeneratorSettings(dc_notch_filter_enable=True)
    dc = np.full(16000, 12000, np.int16)
    notched = AudioFeatureGenerator(settings).process_sample(dc)
    # The notch's output decays as 0.95**n until integer rounding holds it at a small
    # constant (9 for 0.95: 62 dB below this DC); after 0.2 s that is all that is left.
    residue = np.full(16000, notch_limit_cycle(0.95), np.int16)
    settings.dc_notch_filter_enable = False
    plain = AudioFeatureGenerator(settings)
    settled = slice(20, None)
    np.testing.assert_array_equal(notched[settled], plain.process_sample(residue)[settled])
    assert notch_limit_cycle(0.95) == 9
    # Without the notch the window's leakage of the DC fills the lowest channel.
    assert plain.process_sample(dc)[settled, 0].min() > notched[settled, 0].max() + 100


@pytest.mark.parametrize("channel", [3, 10, 20, 30])
def test_a_tone_peaks_in_the_channel_centered_on_it(channel):
    settings = AudioFeatureGeneratorSettings(filterbank_n_channels=32)
    low, high = mel(settings.filterbank_lower_band_limit), mel(settings.filterbank_upper_band_limit)
    # Channel c's triangle peaks at the (c + 1)-th of 33 equal mel steps above the lower limit.
    frequency = hz(low + (channel + 1) * (high - low) / (settings.filterbank_n_channels + 1))
    t = np.arange(settings.sample_length) / settings.sample_rate_hz
    tone = (16000 * np.sin(2 * np.pi * frequency * t)).astype(np.int16)
    spectrogram = AudioFeatureGenerator(settings).process_sample(tone)
    assert np.argmax(spectrogram.mean(axis=0)) == channel


def test_dynamic_scaling_maps_the_maximum_to_127_and_the_floor_to_minus_128(rng):
    settings = AudioFeatureGeneratorSettings(
        quantize_dynamic_scale_enable=True, quantize_dynamic_scale_range_db=40.0
    )
    generator = AudioFeatureGenerator(settings)
    samples = make_signal("speech", rng, 16000, 16000)
    values = generator.process_sample(samples).astype(np.int64)
    quantized = generator.process_sample(samples, dtype=np.int8).astype(np.int64)
    assert quantized[values == values.max()].tolist() == [127] * int(np.sum(values == values.max()))
    # 40 dB of amplitude is 40 / 20 * ln(10) nepers, times 2**6 per neper in log units.
    range_units = int(40.0 * 64 * math.log(10) / 20)
    assert np.all(quantized[values <= values.max() - range_units] == -128)
    inside = values > values.max() - range_units
    expected = (values[inside] - (values.max() - range_units)) * 255 // range_units - 128
    np.testing.assert_array_equal(quantized[inside], expected)


def test_dynamic_scaling_of_silence_is_the_floor():
    settings = AudioFeatureGeneratorSettings(quantize_dynamic_scale_enable=True)
    quantized = quantize_int8(np.zeros((4, 3), np.uint16), settings)
    assert np.all(quantized == -128)


def test_float_input_is_scaled_by_32768_and_clipped(rng):
    generator = AudioFeatureGenerator(AudioFeatureGeneratorSettings())
    integers = make_signal("speech", rng, 16000, 16000)
    np.testing.assert_array_equal(
        generator.process_sample(integers.astype(np.float32) / 32768),
        generator.process_sample(integers),
    )
    # The reference wraps 1.05 to -31130; we clip it to full scale.
    loud = np.where(np.arange(16000) % 40 < 20, 1.05, -1.05)
    clipped = np.where(loud > 0, 32767, -32768).astype(np.int16)
    np.testing.assert_array_equal(generator.process_sample(loud), generator.process_sample(clipped))


@pytest.mark.parametrize(
    ("sample", "error", "message"),
    [
        (np.array([0.0, np.nan, 0.0] * 200), ValueError, "non-finite value"),
        (np.array([0.0, np.inf] * 300), ValueError, "non-finite value"),
        (np.zeros((2, 400), np.int16), ValueError, "1-D"),
        (np.zeros(400, np.int32), TypeError, "dtype int32"),
        (np.zeros(400, np.uint8), TypeError, "dtype uint8"),
    ],
)
def test_bad_input_is_rejected_with_a_message(sample, error, message):
    generator = AudioFeatureGenerator(AudioFeatureGeneratorSettings())
    with pytest.raises(error, match=message):
        generator.process_sample(sample)


def test_unsupported_output_dtype_is_rejected():
    generator = AudioFeatureGenerator(AudioFeatureGeneratorSettings())
    with pytest.raises(ValueError, match="uint16, float32 or int8"):
        generator.process_sample(np.zeros(16000, np.int16), dtype=np.float64)


def test_state_is_reset_between_samples(rng):
    settings = AudioFeatureGeneratorSettings(
        noise_reduction_enable=True,
        pcan_enable=True,
        dc_notch_filter_enable=True,
        activity_detection_enable=True,
    )
    generator = AudioFeatureGenerator(settings)
    first = make_signal("speech", rng, 16000, 16000)
    expected = generator.process_sample(first)
    generator.process_sample(make_signal("white", rng, 16000, 16000))
    np.testing.assert_array_equal(generator.process_sample(first), expected)


def test_threads_sharing_nothing_equal_a_serial_run(rng):
    settings = AudioFeatureGeneratorSettings(noise_reduction_enable=True, pcan_enable=True)
    clips = [make_signal("speech", rng, 16000, 16000) for _ in range(8)]
    serial = [AudioFeatureGenerator(settings).process_sample(c) for c in clips]
    results = [None] * len(clips)

    def work(i):
        generator = AudioFeatureGenerator(settings)
        for _ in range(20):
            results[i] = generator.process_sample(clips[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(clips))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for expected, actual in zip(serial, results, strict=True):
        np.testing.assert_array_equal(actual, expected)


def test_generator_pickles_as_its_settings(rng):
    settings = AudioFeatureGeneratorSettings(
        filterbank_n_channels=40, pcan_enable=True, noise_reduction_enable=True
    )
    generator = AudioFeatureGenerator(settings)
    clone = pickle.loads(pickle.dumps(generator))
    assert clone.settings == settings
    clip = make_signal("speech", rng, 16000, 16000)
    np.testing.assert_array_equal(clone.process_sample(clip), generator.process_sample(clip))


def test_activity_is_detected_on_an_onset_after_quiet_and_not_on_steady_noise(rng):
    settings = AudioFeatureGeneratorSettings(activity_detection_enable=True)
    generator = AudioFeatureGenerator(settings)
    steady = make_signal("white", rng, 16000, 16000)
    generator.process_sample(steady)
    assert not generator.activity_was_detected()
    burst = np.zeros(16000, np.int16)
    burst[:4000] = steady[:4000]  # loud, then quiet: arms the detector
    burst[10000:] = steady[10000:] * 4 // 3  # a new onset: trips it
    generator.process_sample(burst)
    assert generator.activity_was_detected()

"""Each arithmetic equals its own device's outputs (tests/data); MLTK's takes the Nyquist bin.

MLTK's 110 reference cases are in test_frontend_reference.py and TensorFlow's op is compared
live in test_frontend_tf_exact.py; here are the micro_speech clips of MLTK and of TFLM, and TFLM's
library as built today.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from support import make_signal

from parallel_audio import (
    AudioFeatureGenerator,
    AudioFeatureGeneratorSettings,
    ParallelAudioDataGenerator,
    SettingsError,
)

DATA = Path(__file__).parent / "data"
ARITHMETICS = ("mltk", "tf_op", "tflm")


def micro_speech(name: str):
    data = np.load(DATA / f"{name}.npz")
    settings = AudioFeatureGeneratorSettings.from_dict(json.loads(str(data["settings"])))
    return settings, data


def int8_features(settings, arithmetic, samples):
    settings = settings.copy()
    settings.arithmetic = arithmetic
    return AudioFeatureGenerator(settings).process_sample(samples, dtype=np.int8)


@pytest.mark.parametrize("word", ["yes", "no"])
@pytest.mark.parametrize(
    ("arithmetic", "golden"), [("mltk", "mltk_micro_speech"), ("tf_op", "tflm_micro_features")]
)
def test_micro_speech_features_equal_the_device_that_computed_them(arithmetic, golden, word):
    settings, data = micro_speech(golden)
    actual = int8_features(settings, arithmetic, data[f"{word}_input"])
    assert actual.shape == (49, 40)
    np.testing.assert_array_equal(actual, data[f"{word}_int8"])


def test_the_micro_speech_files_separate_mltk_from_tf_op():
    # The same clips and settings: MLTK's and TFLM's committed features differ in 1 and 25
    # values, all through one window coefficient carried forward by noise reduction and PCAN.
    mltk_settings, mltk = micro_speech("mltk_micro_speech")
    tf_settings, tflm = micro_speech("tflm_micro_features")
    assert mltk_settings == tf_settings
    np.testing.assert_array_equal(mltk["no_input"], tflm["no_input"])
    differing = [int(np.sum(mltk[f"{w}_int8"] != tflm[f"{w}_int8"])) for w in ("yes", "no")]
    assert differing == [1, 25]
    for word in ("yes", "no"):
        ours = int8_features(mltk_settings, "tf_op", mltk[f"{word}_input"])
        assert int(np.sum(ours != mltk[f"{word}_int8"])) == differing[word == "no"]


TFLM_HEAD = np.load(DATA / "tflm_head_frontend.npz")
TFLM_CASES = json.loads(str(TFLM_HEAD["meta"]))


@pytest.mark.parametrize("index", range(len(TFLM_CASES)), ids=[case["name"] for case in TFLM_CASES])
def test_tflm_arithmetic_equals_tflm_library_as_built_today(index):
    case = TFLM_CASES[index]
    settings = AudioFeatureGeneratorSettings.from_dict(case["settings"])
    samples, expected = TFLM_HEAD[f"{index}_input"], TFLM_HEAD[f"{index}_uint16"]
    settings.arithmetic = "tflm"
    actual = AudioFeatureGenerator(settings).process_sample(samples)
    np.testing.assert_array_equal(actual, expected)
    # The file records how many values TensorFlow's op gives differently; ours agrees.
    settings.arithmetic = "tf_op"
    tf_op = AudioFeatureGenerator(settings).process_sample(samples)
    assert int(np.sum(tf_op != expected)) == case["values_differing_from_tf_op"]


def test_the_tflm_cases_separate_tflm_from_the_other_arithmetics():
    separated = sum(case["values_differing_from_tf_op"] > 0 for case in TFLM_CASES)
    assert separated >= 30


# MLTK's shipped models with the upper band limit at the Nyquist frequency
# (keyword_spotting_on_off_v2, keyword_spotting_pacman, keyword_spotting_pacman_v2).
SHIPPED_AT_NYQUIST = dict(
    sample_rate_hz=16000,
    window_size_ms=20,
    window_step_ms=10,
    filterbank_n_channels=68,
    filterbank_upper_band_limit=8000.0,
    filterbank_lower_band_limit=125.0,
    noise_reduction_min_signal_remaining=0.03,
    dc_notch_filter_enable=True,
    quantize_dynamic_scale_enable=True,
)


@pytest.mark.parametrize(
    ("noise_reduction", "pcan", "channels", "lower", "refused_by"),
    [
        (True, False, 68, 125.0, ("tf_op", "tflm")),
        (True, True, 68, 125.0, ("tf_op", "tflm")),
        # TFLM's float band edges leave the Nyquist bin out of this one, so its library
        # builds it (as its source does: compared locally over 228 690 layouts).
        (False, False, 70, 150.0, ("tf_op",)),
    ],
)
def test_shipped_nyquist_settings_build_with_mltk(
    noise_reduction, pcan, channels, lower, refused_by
):
    settings = AudioFeatureGeneratorSettings(
        **{
            **SHIPPED_AT_NYQUIST,
            "filterbank_n_channels": channels,
            "filterbank_lower_band_limit": lower,
            "noise_reduction_enable": noise_reduction,
            "pcan_enable": pcan,
        }
    )
    assert settings.arithmetic == "mltk"
    settings.validate()
    generator = AudioFeatureGenerator(settings)
    for arithmetic in ("tf_op", "tflm"):
        other = settings.copy()
        other.arithmetic = arithmetic
        if arithmetic not in refused_by:
            AudioFeatureGenerator(other)
            continue
        with pytest.raises(SettingsError, match=f"arithmetic='{arithmetic}'.*refuses; "):
            other.validate()
        with pytest.raises(SettingsError, match="arithmetic='mltk' accepts it"):
            AudioFeatureGenerator(other)
    # With the limit one bin lower every arithmetic builds it.
    lower_limit = settings.copy()
    lower_limit.filterbank_upper_band_limit = 8000.0 - 16000 / 512
    for arithmetic in ARITHMETICS:
        lower_limit.arithmetic = arithmetic
        AudioFeatureGenerator(lower_limit)
    # MLTK's top band ends on the Nyquist bin: a tone there (alternating samples) reaches the
    # top channel, and with the limit a bin lower the top band stops short of it.
    tone = np.where(np.arange(16000) % 2 == 0, 12000, -12000).astype(np.int16)
    settings.dc_notch_filter_enable = lower_limit.dc_notch_filter_enable = False
    settings.noise_reduction_enable = lower_limit.noise_reduction_enable = False
    settings.pcan_enable = lower_limit.pcan_enable = False
    settings.log_scale_enable = lower_limit.log_scale_enable = False
    lower_limit.arithmetic = "mltk"
    at_nyquist = AudioFeatureGenerator(settings).process_sample(tone)[:, -1]
    below = AudioFeatureGenerator(lower_limit).process_sample(tone)[:, -1]
    assert np.all(at_nyquist > 2 * below)
    assert generator.process_sample(tone).shape == (99, channels)


def test_a_refused_layout_fails_in_the_parent_when_the_data_generator_is_built():
    settings = AudioFeatureGeneratorSettings(
        **SHIPPED_AT_NYQUIST, noise_reduction_enable=True, arithmetic="tf_op"
    )
    with pytest.raises(SettingsError, match="arithmetic='mltk' accepts it"):
        ParallelAudioDataGenerator(frontend_settings=settings)
    settings.arithmetic = "mltk"
    generator = ParallelAudioDataGenerator(frontend_settings=settings)
    assert generator.frontend_settings.arithmetic == "mltk"


@pytest.mark.parametrize("arithmetic", ARITHMETICS)
def test_each_arithmetic_round_trips_and_pickles(arithmetic, rng):
    import pickle

    settings = AudioFeatureGeneratorSettings(arithmetic=arithmetic, window_size_ms=30)
    assert AudioFeatureGeneratorSettings.from_dict(settings.to_dict()).arithmetic == arithmetic
    generator = pickle.loads(pickle.dumps(AudioFeatureGenerator(settings)))
    assert generator.settings.arithmetic == arithmetic
    clip = make_signal("speech", rng, 16000, 16000)
    np.testing.assert_array_equal(
        generator.process_sample(clip), AudioFeatureGenerator(settings).process_sample(clip)
    )

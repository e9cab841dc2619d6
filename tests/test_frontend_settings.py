"""AudioFeatureGeneratorSettings: reference defaults, validation, derived values, round trip."""

from __future__ import annotations

import pickle

import pytest

from parallel_audio import AudioFeatureGenerator, AudioFeatureGeneratorSettings, SettingsError

# The reference's defaults, as documented.
REFERENCE_DEFAULTS = {
    "sample_rate_hz": 16000,
    "sample_length_ms": 1000,
    "window_size_ms": 25,
    "window_step_ms": 10,
    "filterbank_n_channels": 32,
    "filterbank_upper_band_limit": 7500.0,
    "filterbank_lower_band_limit": 125.0,
    "noise_reduction_enable": False,
    "noise_reduction_smoothing_bits": 10,
    "noise_reduction_even_smoothing": 0.025,
    "noise_reduction_odd_smoothing": 0.06,
    "noise_reduction_min_signal_remaining": 0.05,
    "pcan_enable": False,
    "pcan_strength": 0.95,
    "pcan_offset": 80.0,
    "pcan_gain_bits": 21,
    "log_scale_enable": True,
    "log_scale_shift": 6,
    "activity_detection_enable": False,
    "activity_detection_alpha_a": 0.5,
    "activity_detection_alpha_b": 0.8,
    "activity_detection_arm_threshold": 0.75,
    "activity_detection_trip_threshold": 0.8,
    "dc_notch_filter_enable": False,
    "dc_notch_filter_coefficient": 0.95,
    "quantize_dynamic_scale_enable": False,
    "quantize_dynamic_scale_range_db": 40.0,
}


def test_defaults_are_the_reference_defaults():
    settings = AudioFeatureGeneratorSettings()
    for name, value in REFERENCE_DEFAULTS.items():
        assert getattr(settings, name) == value, name
    # Ours: the reference computes its tables in MLTK's arithmetic, so that is the default.
    assert settings.arithmetic == "mltk"
    assert settings.to_dict() == {
        **{"fe." + k: v for k, v in REFERENCE_DEFAULTS.items()},
        "fe.arithmetic": "mltk",
        "fe.fft_length": 512,
    }
    # A reference settings dict has no arithmetic: it reads as the reference's own.
    assert (
        AudioFeatureGeneratorSettings.from_dict(
            {"fe." + k: v for k, v in REFERENCE_DEFAULTS.items()}
        )
        == settings
    )


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("sample_rate_hz", 9, r"\[10, 384000\]"),
        ("sample_rate_hz", 400000, r"\[10, 384000\]"),
        ("sample_rate_hz", 16000.5, "an integer"),
        ("window_size_ms", 0, r"\[1, inf\]"),
        ("filterbank_n_channels", 2000, r"\[1, 1024\]"),
        ("filterbank_upper_band_limit", 0.0, r"\(0.0, inf\]"),
        ("filterbank_lower_band_limit", -1.0, r"\[0.0, inf\]"),
        ("noise_reduction_even_smoothing", 1.5, r"\[0.0, 1.0\]"),
        ("noise_reduction_odd_smoothing", float("nan"), r"\[0.0, 1.0\]"),
        ("pcan_offset", 0.0, r"\(0.0, inf\]"),
        ("pcan_gain_bits", 32, r"\[0, 31\]"),
        ("log_scale_shift", -1, r"\[0, 15\]"),
        ("dc_notch_filter_coefficient", 1.0, r"\[0.0, 1.0\)"),
        ("quantize_dynamic_scale_range_db", 0.0, r"\(0.0, 200.0\]"),
        ("log_scale_enable", 2, "True or False"),
        ("arithmetic", "tflite", "one of 'mltk', 'tf_op', 'tflm'"),
        ("arithmetic", "MLTK", "one of 'mltk', 'tf_op', 'tflm'"),
    ],
)
def test_out_of_range_values_name_the_setting_and_the_range(name, value, allowed):
    with pytest.raises(SettingsError, match=f"{name} must be .*{allowed}.*got"):
        AudioFeatureGeneratorSettings(**{name: value})
    settings = AudioFeatureGeneratorSettings()
    with pytest.raises(SettingsError, match=name):
        setattr(settings, name, value)
    # Unchanged by the failed set.
    assert getattr(settings, name) == REFERENCE_DEFAULTS.get(name, "mltk")


@pytest.mark.parametrize(
    ("name", "value", "allowed"),
    [
        ("pcan_enable", "yes", "True or False"),
        ("pcan_enable", 1.0, "True or False"),
        ("window_step_ms", None, "an integer"),
        ("window_size_ms", "30", "an integer"),
        ("filterbank_upper_band_limit", True, "a number"),
        ("arithmetic", 0, "one of 'mltk', 'tf_op', 'tflm'"),
    ],
)
def test_values_of_the_wrong_type_raise_type_error(name, value, allowed):
    # The package's rule: TypeError for the wrong type, SettingsError for a wrong value.
    with pytest.raises(TypeError, match=f"{name} must be .*{allowed}.*got"):
        AudioFeatureGeneratorSettings(**{name: value})
    settings = AudioFeatureGeneratorSettings()
    with pytest.raises(TypeError, match=name):
        setattr(settings, name, value)
    assert getattr(settings, name) == REFERENCE_DEFAULTS.get(name, "mltk")


def test_attributes_are_set_one_at_a_time_as_reference_code_does():
    settings = AudioFeatureGeneratorSettings()
    settings.sample_rate_hz = 8000  # briefly inconsistent with the 7500 Hz band limit
    settings.filterbank_upper_band_limit = 3800
    settings.window_size_ms = 30
    settings.pcan_enable = 1
    settings.noise_reduction_enable = True
    assert settings.pcan_enable is True
    assert settings.filterbank_upper_band_limit == 3800.0
    settings.validate()
    assert AudioFeatureGenerator(settings).spectrogram_shape == (98, 32)


def test_unknown_and_derived_names_are_rejected():
    settings = AudioFeatureGeneratorSettings()
    with pytest.raises(AttributeError, match="no setting 'window_size'"):
        settings.window_size = 30
    with pytest.raises(AttributeError, match="derived"):
        settings.fft_length = 1024
    with pytest.raises(AttributeError, match="no setting 'filterbank_channels'"):
        AudioFeatureGeneratorSettings(filterbank_channels=40)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sample_rate_hz": 8000}, "above the Nyquist frequency 4000.0 Hz"),
        ({"filterbank_lower_band_limit": 8000.0}, "must be below filterbank_upper_band_limit"),
        ({"window_step_ms": 30}, "must not exceed window_size_ms=25"),
        ({"pcan_enable": True}, "needs noise_reduction_enable=True"),
        ({"window_size_ms": 3000}, "at most 32768"),
        (
            {"sample_rate_hz": 1000, "window_size_ms": 3, "filterbank_upper_band_limit": 400.0},
            "at least 4 samples",
        ),
        (
            {"filterbank_upper_band_limit": 8000.0, "arithmetic": "tf_op"},
            r"reaches the last FFT bin.*arithmetic='tf_op' \(TensorFlow's op\) refuses; "
            r"arithmetic='mltk' accepts it.*lower the limit by at least one bin, 31.2 Hz",
        ),
        (
            {"filterbank_upper_band_limit": 8000.0, "arithmetic": "tflm"},
            r"arithmetic='tflm' \(TFLM's library\) refuses; arithmetic='mltk' accepts it",
        ),
    ],
)
def test_inconsistent_settings_fail_when_the_generator_is_built(changes, message):
    settings = AudioFeatureGeneratorSettings(**changes)
    with pytest.raises(SettingsError, match=message):
        AudioFeatureGenerator(settings)
    with pytest.raises(SettingsError, match=message):
        settings.validate()


@pytest.mark.parametrize(
    ("rate", "window_ms", "step_ms", "length_ms", "fft", "shape"),
    [
        (16000, 25, 10, 1000, 512, (98, 32)),
        (16000, 30, 20, 1000, 512, (49, 32)),
        (8000, 32, 10, 1000, 256, (97, 32)),
        (22050, 20, 10, 1500, 512, (149, 32)),
        (48000, 32, 10, 1000, 2048, (97, 32)),
        (16000, 25, 10, 20, 512, (0, 32)),
    ],
)
def test_derived_values(rate, window_ms, step_ms, length_ms, fft, shape):
    settings = AudioFeatureGeneratorSettings(
        sample_rate_hz=rate,
        window_size_ms=window_ms,
        window_step_ms=step_ms,
        sample_length_ms=length_ms,
        filterbank_upper_band_limit=min(7500.0, rate / 2),
    )
    assert settings.fft_length == fft
    assert settings.spectrogram_shape == shape
    assert settings.to_dict()["fe.fft_length"] == fft


def test_round_trip_through_the_flat_dict_and_pickle():
    settings = AudioFeatureGeneratorSettings(
        sample_rate_hz=8000,
        filterbank_upper_band_limit=3900.0,
        window_size_ms=30,
        noise_reduction_enable=True,
        pcan_enable=True,
        pcan_strength=0.5,
        quantize_dynamic_scale_enable=True,
        arithmetic="tflm",
    )
    flat = settings.to_dict()
    assert flat["fe.arithmetic"] == "tflm"
    assert all(key.startswith("fe.") for key in flat)
    rebuilt = AudioFeatureGeneratorSettings.from_dict({**flat, "unrelated.key": 1})
    assert rebuilt == settings
    assert pickle.loads(pickle.dumps(settings)) == settings
    with pytest.raises(AttributeError, match="no setting 'nonsense'"):
        AudioFeatureGeneratorSettings.from_dict({"fe.nonsense": 1})


def test_the_generator_keeps_its_own_copy():
    settings = AudioFeatureGeneratorSettings()
    generator = AudioFeatureGenerator(settings)
    settings.filterbank_n_channels = 40
    assert generator.spectrogram_shape == (98, 32)
    assert "filterbank_n_channels=40" in repr(settings)

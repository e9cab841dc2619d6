"""get_config and from_config: every setting round-trips, through a config file too."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from parallel_audio import ParallelAudioDataGenerator, SettingsError
from parallel_audio.cli.config_file import load_config
from parallel_audio.cli.data_settings import build_generator
from parallel_audio.cli.option_specs import frontend_option_specs, generator_option_specs

# A value other than the default for every setting, chosen by hand: valid together, and of
# the type the constructor keeps (two ints of pitch_range are semitones, floats octaves).
GENERATOR_VALUES = {
    "cores": 2,
    "debug": True,
    "max_batches_pending": 7,
    "batch_timeout": 12.5,
    "samplewise_center": True,
    "samplewise_std_normalization": True,
    "samplewise_normalize_range": (-1.0, 1.0),
    "rescale": 0.5,
    "validation_split": 0.15,
    "validation_augmentation_enabled": False,
    "dtype": "int8",
    "frontend_dtype": "uint16",
    "trim_threshold_db": 30.0,
    "noise_colors": ("pink", "brown"),
    "noise_color_range": (0.1, 0.3),
    "speed_range": (0.9, 1.1),
    "pitch_range": (-2, 3),
    "vtlp_range": (0.95, 1.05),
    "loudness_range": (0.5, 1.5),
    "bg_noise_range": (0.05, 0.2),
    "bg_noise_dir": "_background_noise_",
    "offset_range": (0.25, 0.75),
    "unknown_class_percentage": 2.5,
    "silence_class_percentage": 0.3,
    "disable_random_transforms": True,
    "frontend_enabled": True,
    "sample_shape": (40, 49),
    "disable_gpu_in_subprocesses": False,
    "add_channel_dimension": False,
    "noise_level_mode": "factor",
    "test_split": 0.1,
}
FRONTEND_VALUES = {
    "sample_rate_hz": 8000,
    "sample_length_ms": 500,
    "window_size_ms": 32,
    "window_step_ms": 16,
    "filterbank_n_channels": 20,
    "filterbank_upper_band_limit": 3800.0,
    "filterbank_lower_band_limit": 100.0,
    "noise_reduction_enable": True,
    "noise_reduction_smoothing_bits": 8,
    "noise_reduction_even_smoothing": 0.03,
    "noise_reduction_odd_smoothing": 0.07,
    "noise_reduction_min_signal_remaining": 0.1,
    "pcan_enable": True,
    "pcan_strength": 0.9,
    "pcan_offset": 70.0,
    "pcan_gain_bits": 20,
    "log_scale_enable": False,
    "log_scale_shift": 5,
    "activity_detection_enable": True,
    "activity_detection_alpha_a": 0.4,
    "activity_detection_alpha_b": 0.7,
    "activity_detection_arm_threshold": 0.7,
    "activity_detection_trip_threshold": 0.85,
    "dc_notch_filter_enable": True,
    "dc_notch_filter_coefficient": 0.9,
    "quantize_dynamic_scale_enable": True,
    "quantize_dynamic_scale_range_db": 30.0,
    "arithmetic": "tflm",
}


def configured_generator() -> ParallelAudioDataGenerator:
    generator = ParallelAudioDataGenerator(**GENERATOR_VALUES)
    for name, value in FRONTEND_VALUES.items():
        setattr(generator.frontend_settings, name, value)
    return generator


def as_given(value):
    """A setting as it was given, in the form a config holds it (lists, dtype names)."""
    if isinstance(value, np.dtype):
        return value.name
    if isinstance(value, tuple):
        return [as_given(v) for v in value]
    return value


def test_the_values_cover_every_setting_and_differ_from_the_defaults():
    # A setting added to the constructor or the frontend must be added here too.
    specs = {spec.name: spec.default for spec in generator_option_specs()}
    assert set(specs) == set(GENERATOR_VALUES)
    frontend = {spec.name: spec.default for spec in frontend_option_specs()}
    assert set(frontend) == set(FRONTEND_VALUES)
    same = [n for n, v in GENERATOR_VALUES.items() if v == specs[n]]
    assert same == ["frontend_enabled", "noise_level_mode"]  # the others have no valid change
    assert not [n for n, v in FRONTEND_VALUES.items() if v == frontend[n]]


def check_settings(generator: ParallelAudioDataGenerator) -> None:
    for name, value in GENERATOR_VALUES.items():
        held = generator._sample_shape if name == "sample_shape" else getattr(generator, name)
        assert as_given(held) == as_given(value), name
        assert type(as_given(held)) is type(as_given(value)), name  # 2 stays 2, not 2.0
    for name, value in FRONTEND_VALUES.items():
        held = getattr(generator.frontend_settings, name)
        assert held == value and type(held) is type(value), name


def test_every_setting_round_trips_through_get_config():
    config = configured_generator().get_config()
    # Exactly the command line's settings: its options and frontend options, by name.
    assert set(config) == {s.name for s in generator_option_specs()} | {
        f"fe.{s.name}" for s in frontend_option_specs()
    }
    assert config["pitch_range"] == [-2, 3] and config["dtype"] == "int8"
    assert config["fe.window_size_ms"] == 32
    check_settings(ParallelAudioDataGenerator.from_config(config))


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_get_config_is_a_config_file_the_command_line_reads(tmp_path, suffix):
    config = configured_generator().get_config()
    path = tmp_path / f"run{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(config))
    else:
        path.write_text(yaml.safe_dump(config))
    check_settings(build_generator(load_config(path)))
    # And from_config reads what a file holds, dataset keys and nested frontend included.
    content = yaml.safe_load(path.read_text())  # JSON is YAML
    content.update(classes=["yes", "no"], seed=3, batch_size=8)
    check_settings(ParallelAudioDataGenerator.from_config(content))


def test_from_config_names_an_unknown_key_and_takes_objects():
    with pytest.raises(SettingsError, match="unknown settings 'sped_range'"):
        ParallelAudioDataGenerator.from_config({"sped_range": [0.9, 1.1]})
    with pytest.raises(SettingsError, match="no setting 'window_size'"):
        ParallelAudioDataGenerator.from_config({"fe.window_size": 30})
    with pytest.raises(ValueError, match="speed_range"):
        ParallelAudioDataGenerator.from_config({"speed_range": [0.0, 50.0]})

    def double(params, x):
        return 2 * x

    generator = ParallelAudioDataGenerator.from_config(
        {"cores": 0, "frontend_settings": {"filterbank_n_channels": 40}},
        preprocessing_function=double,
    )
    assert generator.preprocessing_function is double
    assert generator.sample_shape == (98, 40)

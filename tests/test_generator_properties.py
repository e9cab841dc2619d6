"""Properties over the generator's parameters, drawn by hypothesis.

Every accepted combination of constructor and flow_from_directory parameters gives batches of
the declared shape and dtype with finite values, and every rejected one fails at once with an
error that names the parameter. The augmentation parameters join the drawn combinations as soon
as the generator implements them (checked once, at import).
"""

from __future__ import annotations

import math
import os
import re

import numpy as np
import pytest
import soundfile
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from parallel_audio import (
    AudioFeatureGeneratorSettings,
    DatasetError,
    ParallelAudioDataGenerator,
    SettingsError,
)

RATE = 16000
CLASSES = ("a", "b", "c")
SPEAKERS = 10
# PARALLEL_AUDIO_PROPERTY_EXAMPLES=500 explores further than the default run's 40.
PROPERTY_SETTINGS = settings(
    max_examples=int(os.environ.get("PARALLEL_AUDIO_PROPERTY_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """Three classes of short tone bursts from ten speakers, and a background noise folder."""
    root = tmp_path_factory.mktemp("properties")
    rng = np.random.default_rng(5)
    for class_index, name in enumerate(CLASSES):
        (root / name).mkdir()
        for speaker in range(SPEAKERS):
            rate = (RATE, 8000, 22050)[speaker % 3]
            n = int(rate * rng.uniform(0.2, 0.6))
            t = np.arange(n) / rate
            x = 0.4 * np.sin(2 * np.pi * (300 + 500 * class_index) * t) * np.hanning(n)
            x += 0.01 * rng.standard_normal(n)
            soundfile.write(root / name / f"spk{speaker}_nohash_0.wav", x, rate)
    (root / "_background_noise_").mkdir()
    soundfile.write(
        root / "_background_noise_" / "noise.wav", 0.1 * rng.standard_normal(2 * RATE), RATE
    )
    return root


# ----------------------------------------------------------------------------- strategies


def ranges(low: float, high: float) -> st.SearchStrategy[tuple[float, float]]:
    bounds = st.floats(low, high, allow_nan=False, allow_infinity=False)
    return st.tuples(bounds, bounds).map(lambda pair: (min(pair), max(pair)))


@st.composite
def frontend_settings(draw) -> AudioFeatureGeneratorSettings:
    """Valid settings across the switches, small enough to keep examples fast."""
    rate = draw(st.sampled_from([8000, 16000]))
    window = draw(st.integers(10, 40))
    noise_reduction = draw(st.booleans())
    upper = draw(st.floats(1000, rate / 2 - 100))
    return AudioFeatureGeneratorSettings(
        sample_rate_hz=rate,
        sample_length_ms=draw(st.integers(100, 1000)),
        window_size_ms=window,
        window_step_ms=draw(st.integers(5, window)),
        filterbank_n_channels=draw(st.integers(4, 40)),
        filterbank_upper_band_limit=upper,
        filterbank_lower_band_limit=draw(st.floats(0, upper / 2)),
        noise_reduction_enable=noise_reduction,
        # The default gain and smoothing bits suit these window sizes' FFTs (up to 1024).
        pcan_enable=noise_reduction and draw(st.booleans()),
        log_scale_enable=draw(st.booleans()),
        dc_notch_filter_enable=draw(st.booleans()),
        activity_detection_enable=draw(st.booleans()),
        quantize_dynamic_scale_enable=draw(st.booleans()),
    )


OPTIONAL_PARAMETERS = {
    "max_batches_pending": st.integers(1, 8),
    "samplewise_center": st.booleans(),
    "samplewise_std_normalization": st.booleans(),
    "samplewise_normalize_range": st.none() | ranges(-10, 10),
    "rescale": st.none() | st.floats(-100, 100),
    "validation_augmentation_enabled": st.booleans(),
    "dtype": st.sampled_from(["float32", "float64", "int8", "uint16"]),
    "frontend_dtype": st.sampled_from([None, "uint16", "float32", "int8"]),
    "trim_threshold_db": st.none() | st.floats(0, 80),
    "loudness_range": st.none() | ranges(0, 3),
    "offset_range": ranges(0, 1),
    "unknown_class_percentage": st.floats(0, 2),
    "silence_class_percentage": st.floats(0, 2),
    "disable_random_transforms": st.booleans(),
    "frontend_settings": frontend_settings(),
    "add_channel_dimension": st.booleans(),
}
AUGMENTATION_PARAMETERS = {
    "speed_range": st.none() | ranges(0.8, 1.25),
    "pitch_range": st.none() | ranges(-2, 2),  # floats: octaves, at most 2 either way
    "vtlp_range": st.none() | ranges(0.85, 1.15),
    "noise_colors": st.sampled_from([None, "all", "white", ("pink", "brown"), ["blue", "violet"]]),
    "noise_color_range": st.none() | ranges(0, 0.5),
    "bg_noise_dir": st.sampled_from([None, "_background_noise_"]),
    "bg_noise_range": st.none() | ranges(0, 0.5),
    "noise_level_mode": st.sampled_from(["factor", "snr_db"]),
}
OPTIONAL_PARAMETERS.update(AUGMENTATION_PARAMETERS)


@st.composite
def generator_parameters(draw) -> dict:
    kwargs = draw(st.fixed_dictionaries({}, optional=OPTIONAL_PARAMETERS))
    if draw(st.booleans()):
        kwargs["validation_split"] = draw(st.floats(0.2, 0.8))
    if not draw(st.integers(0, 3)):  # a quarter of the examples return audio
        settings_ = kwargs.get("frontend_settings", AudioFeatureGeneratorSettings())
        kwargs["frontend_enabled"] = False
        kwargs["sample_shape"] = (settings_.sample_length,)
    return kwargs


@st.composite
def flow_parameters(draw, validation_split: float) -> dict:
    subsets = [None] + (["training", "validation"] if validation_split > 0 else [])
    return {
        "classes": draw(
            st.sampled_from(
                [
                    ["a"],
                    ["a", "b"],
                    ["b", "a", "_unknown_"],
                    ["a", "_silence_"],
                    ["a", "b", "_unknown_", "_silence_"],
                ]
            )
        ),
        "class_mode": draw(st.sampled_from(["categorical", "binary", "sparse", "input", None])),
        "batch_size": draw(st.integers(1, 8) | st.just(-1)),
        "shuffle": draw(st.booleans()),
        "seed": draw(st.none() | st.integers(0, 2**32 - 1)),
        "subset": draw(st.sampled_from(subsets)),
        "max_samples_per_class": draw(st.just(-1) | st.integers(1, 4)),
        "on_error": draw(st.sampled_from(["raise", "skip"])),
    }


# ----------------------------------------------------------------------------- accepted


def check_batch(generator, iterator, batch, size: int, class_mode) -> None:
    x, y = (batch, None) if class_mode is None else batch
    # The reference's rule: the generator's sample_shape has no channel axis; batches of
    # spectrograms get one with add_channel_dimension.
    channel = (1,) if generator.frontend_enabled and generator.add_channel_dimension else ()
    assert x.shape == (size, *generator.sample_shape, *channel)
    assert iterator.process_params.sample_shape == x.shape[1:]
    assert x.dtype == np.dtype(generator.dtype)
    if x.dtype.kind == "f":
        assert np.isfinite(x).all()
    if class_mode == "categorical":
        assert y.shape == (size, iterator.num_classes)
        np.testing.assert_array_equal(y.sum(axis=1), np.ones(size))
    elif class_mode in ("binary", "sparse"):
        assert y.shape == (size,)
        assert set(np.unique(y)) <= set(range(iterator.num_classes))
    elif class_mode == "input":
        np.testing.assert_array_equal(x, y)


@pytest.mark.filterwarnings("ignore::UserWarning")
@PROPERTY_SETTINGS
@given(data=st.data())
def test_accepted_parameters_give_batches_of_the_declared_shape_and_dtype(dataset, data):
    kwargs = data.draw(generator_parameters(), label="generator")
    generator = ParallelAudioDataGenerator(cores=0, **kwargs)
    flow = data.draw(flow_parameters(generator.validation_split), label="flow")
    try:
        iterator = generator.flow_from_directory(dataset, **flow)
    except DatasetError as error:
        # Ten speakers can all hash to one side of a split: a property of the data, which
        # the message names, not of the parameters.
        assume("has no file in the" not in str(error))
        raise
    batch_size = iterator.samples if flow["batch_size"] == -1 else flow["batch_size"]
    assert len(iterator) == math.ceil(iterator.samples / batch_size)
    check_batch(
        generator, iterator, iterator[0], min(batch_size, iterator.samples), flow["class_mode"]
    )
    last = len(iterator) - 1
    if last > 0:
        size = iterator.samples - last * batch_size
        check_batch(generator, iterator, iterator[last], size, flow["class_mode"])


# ----------------------------------------------------------------------------- rejected

NAN = float("nan")
# The package's rule: a value of the wrong type raises TypeError, a value of the right type
# outside what is allowed SettingsError; either names the parameter.
# parameter -> values of the wrong type.
WRONG_TYPE_CONSTRUCTOR_VALUES = {
    "cores": ["two", None, True],
    "max_batches_pending": [2.5, "4"],
    "samplewise_center": ["yes", None, 1],
    "samplewise_std_normalization": [2, "no"],
    "samplewise_normalize_range": ["ab", (1.0,), 0.5, (0.0, "1")],
    "rescale": ["2"],
    "validation_split": ["0.1", None],
    "validation_augmentation_enabled": ["yes"],
    "dtype": [None, 3.5],
    "trim_threshold_db": ["20"],
    "offset_range": [None, 0.5],
    "disable_random_transforms": ["no"],
    "frontend_settings": ["16 kHz", {"sample_rate_hz": 16000}],
    "frontend_enabled": ["off"],
    "add_channel_dimension": [None],
    "get_batch_function": [3],
    "preprocessing_function": ["f"],
    "noise_colors": [5, ["white", 3]],
    "speed_range": ["fast", 1.1, (0.9, 1.1, 1.2)],
    "bg_noise_dir": [3],
    "noise_level_mode": [1],
    "augmentations": [[42]],
}
# parameter -> values of the right type that are not allowed.
WRONG_VALUE_CONSTRUCTOR_VALUES = {
    "cores": [-2, 1.5],
    "max_batches_pending": [0, -3],
    "samplewise_normalize_range": [(1.0, 0.0), (0.0, NAN)],
    "rescale": [NAN, float("inf")],
    "validation_split": [1.0, -0.1, NAN],
    "dtype": ["not_a_dtype", "U8"],
    "frontend_dtype": ["int16", "float64", "bogus"],
    "trim_threshold_db": [-1, NAN],
    "loudness_range": [(-0.5, 1.0), (2.0, 1.0), (0.0, float("inf"))],
    "offset_range": [(0.5, 1.5), (-0.1, 0.5)],
    "unknown_class_percentage": [-0.1, float("inf")],
    "silence_class_percentage": [-1, NAN],
    "noise_colors": ["purple", ["white", "grey"], []],
    "speed_range": [(0.0, 1.0), (-1.0, 1.0), (1.2, 0.8)],
    "pitch_range": [(3.0, -3.0), (NAN, 1.0)],
    "vtlp_range": [(0.0, 1.1), (1.1, 0.9)],
    # Invalid in both noise level modes (a negative level is a valid SNR in dB).
    "noise_color_range": [(0.0, 101.0), (0.5, 0.1)],
    "bg_noise_range": [(-101.0, 0.5)],
    "noise_level_mode": ["loud"],
}
INVALID_CONSTRUCTOR_VALUES = [
    (name, value, TypeError)
    for name, values in WRONG_TYPE_CONSTRUCTOR_VALUES.items()
    for value in values
] + [
    (name, value, SettingsError)
    for name, values in WRONG_VALUE_CONSTRUCTOR_VALUES.items()
    for value in values
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@PROPERTY_SETTINGS
@given(base=generator_parameters(), invalid=st.sampled_from(INVALID_CONSTRUCTOR_VALUES))
def test_rejected_constructor_parameters_fail_at_construction_naming_them(base, invalid):
    name, value, error = invalid
    kwargs = {**base, name: value}
    if name == "frontend_enabled":
        kwargs.pop("sample_shape", None)
    with pytest.raises(error) as caught:
        ParallelAudioDataGenerator(**{"cores": 0, **kwargs})
    assert not isinstance(caught.value, SettingsError) or error is SettingsError
    assert re.search(rf"\b{name}\b", str(caught.value)), (name, value, str(caught.value))
    assert "got" in str(caught.value)  # what was received


@pytest.mark.filterwarnings("ignore::UserWarning")
@PROPERTY_SETTINGS
@given(base=generator_parameters(), invalid=st.sampled_from(INVALID_CONSTRUCTOR_VALUES))
def test_rejected_values_are_rejected_when_assigned_later_and_change_nothing(base, invalid):
    # Reference code assigns parameters after construction (datagen.debug = True): a value
    # the constructor refuses is refused there too, with the same class, and the attribute
    # keeps its value.
    name, value, error = invalid
    generator = ParallelAudioDataGenerator(**{"cores": 0, **base})
    before = getattr(generator, name)
    with pytest.raises(error) as caught:
        setattr(generator, name, value)
    assert not isinstance(caught.value, SettingsError) or error is SettingsError
    assert re.search(rf"\b{name}\b", str(caught.value)), (name, value, str(caught.value))
    after = getattr(generator, name)
    assert after is before or after == before


def test_frontend_disabled_without_sample_shape_names_sample_shape():
    with pytest.raises(SettingsError, match="sample_shape is required"):
        ParallelAudioDataGenerator(cores=0, frontend_enabled=False)


# (argument, value, the error it must raise): TypeError for the wrong type, SettingsError for
# a wrong value of the generator's own arguments, DatasetError for the dataset's.
INVALID_FLOW_VALUES = [
    ("class_mode", "bogus", SettingsError),
    ("class_mode", "Categorical", SettingsError),
    ("class_mode", 1, TypeError),
    ("batch_size", 0, SettingsError),
    ("batch_size", -2, SettingsError),
    ("batch_size", 2.5, TypeError),
    ("batch_size", True, TypeError),
    ("batch_size", "8", TypeError),
    ("shuffle", "yes", TypeError),
    ("last_batch", "drop", SettingsError),
    ("last_batch", None, TypeError),
    ("subset", "test", DatasetError),
    ("max_samples_per_class", 0, DatasetError),
    ("max_samples_per_class", -5, DatasetError),
    ("seed", -1, SettingsError),
    ("seed", 2**128, SettingsError),
    ("seed", 1.5, TypeError),
    ("on_error", "ignore", SettingsError),
    ("on_error", None, TypeError),
    ("classes", ["nope"], DatasetError),
    ("classes", [], DatasetError),
    ("classes", ["a", "a"], DatasetError),
    ("classes", ["_unknown_"], DatasetError),
]


@PROPERTY_SETTINGS
@given(
    invalid=st.sampled_from(INVALID_FLOW_VALUES),
    validation_split=st.sampled_from([0.0, 0.3]),
)
def test_rejected_flow_parameters_fail_in_flow_from_directory_naming_them(
    dataset, invalid, validation_split
):
    name, value, error = invalid
    generator = ParallelAudioDataGenerator(cores=0, validation_split=validation_split)
    kwargs = {"classes": ["a", "b"], "batch_size": 4, name: value}
    with pytest.raises(error) as caught:
        generator.flow_from_directory(dataset, **kwargs)
    assert not isinstance(caught.value, SettingsError) or error is SettingsError
    text = str(caught.value)
    if name == "classes":  # named by what is wrong with them
        assert re.search(r"\bclass", text), text
    else:
        assert re.search(rf"\b{name}\b", text), (name, value, text)


def test_a_subset_without_validation_split_names_both():
    generator = ParallelAudioDataGenerator(cores=0)
    with pytest.raises(DatasetError, match=r"subset='training' needs validation_split > 0"):
        generator.flow_from_directory("unused", classes=["a"], subset="training")


# ------------------------------------------------------------------------- edge combinations

# Once accepted without giving a usable batch: each now gives finite batches of its dtype.
EDGE_COMBINATIONS = [
    pytest.param({"dtype": "float64"}, id="dtype-float64-without-frontend_dtype"),
    pytest.param(
        {"rescale": 1e6, "dtype": "float16"}, id="rescale-at-its-bound-is-clipped-to-float16"
    ),
    pytest.param(
        {
            "dtype": "float16",
            "frontend_dtype": "uint16",
            "frontend_settings": AudioFeatureGeneratorSettings(log_scale_enable=False),
        },
        id="uint16-spectrograms-clipped-to-float16",
    ),
    pytest.param({"dtype": "int8", "frontend_dtype": "uint16"}, id="uint16-clipped-to-int8"),
]


@pytest.mark.parametrize("kwargs", EDGE_COMBINATIONS)
def test_edge_combinations_give_finite_batches_of_their_dtype(dataset, kwargs):
    generator = ParallelAudioDataGenerator(cores=0, **kwargs)
    iterator = generator.flow_from_directory(dataset, classes=["a"], batch_size=2, seed=0)
    x, _ = iterator[0]
    check_batch(generator, iterator, iterator[0], 2, "categorical")
    if x.dtype == np.int8:  # clipped, not wrapped: no spectrogram value is negative
        assert x.min() >= 0 and x.max() == 127


def test_a_normalize_range_of_infinite_width_is_rejected():
    with pytest.raises(SettingsError, match="samplewise_normalize_range"):
        ParallelAudioDataGenerator(samplewise_normalize_range=(-1e308, 1e308))

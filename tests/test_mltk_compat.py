"""Code written for Silicon Labs MLTK's generator runs unchanged, with MLTK's behaviour.

Each test runs what a real client of the reference does (its keyword-spotting model
specifications, the conv1d example, the audio visualizer, the dataset mixin, the evaluation
loop) and checks the outcome MLTK documents or stores, or a closed form.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import re
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import scipy.signal
import soundfile

from parallel_audio import (
    AudioFeatureGenerator,
    AudioFeatureGeneratorSettings,
    ParallelAudioDataGenerator,
    ParallelProcessParams,
    SettingsError,
    WorkerError,
)
from parallel_audio.audio_io import MIN_FILE_SAMPLE_RATE_HZ, read_audio
from parallel_audio.frontend_settings import MAX_SAMPLE_RATE_HZ, MIN_SAMPLE_RATE_HZ
from parallel_audio.pool.options import resolve_num_workers

RATE = 16000
WORDS = {"on": 500.0, "off": 1500.0, "up": 3000.0}  # "up" only feeds _unknown_

# What MLTK stored in keyword_spotting_on_off.tflite (its model summary, MLTK 0.20): the
# frontend settings as float32 model parameters next to the others.
MLTK_ON_OFF_METADATA = {
    "classes": ["on", "off", "_unknown_", "_silence_"],
    "hash": "782baa4c65acec0db85a71d2be78eb29",
    "average_window_duration_ms": 1000,
    "samplewise_norm.rescale": 0.0,
    "samplewise_norm.mean_and_std": False,
    "fe.sample_rate_hz": 8000,
    "fe.sample_length_ms": 1000,
    "fe.window_size_ms": 30,
    "fe.window_step_ms": 20,
    "fe.filterbank_n_channels": 32,
    "fe.filterbank_upper_band_limit": 3999.0,
    "fe.filterbank_lower_band_limit": 100.0,
    "fe.noise_reduction_enable": True,
    "fe.noise_reduction_smoothing_bits": 5,
    "fe.noise_reduction_even_smoothing": 0.004000000189989805,
    "fe.noise_reduction_odd_smoothing": 0.004000000189989805,
    "fe.noise_reduction_min_signal_remaining": 0.05000000074505806,
    "fe.pcan_enable": False,
    "fe.pcan_strength": 0.949999988079071,
    "fe.pcan_offset": 80.0,
    "fe.pcan_gain_bits": 21,
    "fe.log_scale_enable": True,
    "fe.log_scale_shift": 6,
    "fe.fft_length": 256,
}
MLTK_ON_OFF_INPUT_SHAPE = (49, 32, 1)  # the model's input in the same summary


def on_off_frontend_settings() -> AudioFeatureGeneratorSettings:
    """keyword_spotting_on_off.py's frontend settings, set as the spec sets them."""
    frontend_settings = AudioFeatureGeneratorSettings()
    frontend_settings.sample_rate_hz = 8000
    frontend_settings.sample_length_ms = 1000
    frontend_settings.window_size_ms = 30
    frontend_settings.window_step_ms = 20
    frontend_settings.filterbank_n_channels = 32
    frontend_settings.filterbank_upper_band_limit = 4000.0 - 1
    frontend_settings.filterbank_lower_band_limit = 100.0
    frontend_settings.noise_reduction_enable = True
    frontend_settings.noise_reduction_smoothing_bits = 5
    frontend_settings.noise_reduction_even_smoothing = 0.004
    frontend_settings.noise_reduction_odd_smoothing = 0.004
    frontend_settings.noise_reduction_min_signal_remaining = 0.05
    frontend_settings.pcan_enable = False
    frontend_settings.pcan_strength = 0.95
    frontend_settings.pcan_offset = 80.0
    frontend_settings.pcan_gain_bits = 21
    frontend_settings.log_scale_enable = True
    frontend_settings.log_scale_shift = 6
    return frontend_settings


def tone(frequency: float, rate: int, seconds: float, start: float = 0.0) -> np.ndarray:
    """A 0.5-amplitude tone from ``start`` seconds, silence before it."""
    t = np.arange(round(rate * seconds)) / rate
    x = 0.5 * np.sin(2 * np.pi * frequency * t)
    x[t < start] = 0.0
    return x.astype(np.float32)


def write_speech_commands(root: Path, rng: np.random.Generator, speakers: int = 8) -> Path:
    """A dataset laid out like Google Speech Commands: <word>/<speaker>_nohash_<n>.wav."""
    for word, frequency in WORDS.items():
        (root / word).mkdir(parents=True)
        for _ in range(speakers):
            speaker = f"{rng.integers(2**32):08x}"
            for n in range(2):
                x = tone(frequency * rng.uniform(0.97, 1.03), RATE, 1.0, rng.uniform(0.1, 0.4))
                name = f"{speaker}_nohash_{n}.wav"
                soundfile.write(root / word / name, x, RATE)
    (root / "_background_noise_").mkdir()
    noise = 0.1 * rng.standard_normal(2 * RATE)
    soundfile.write(root / "_background_noise_" / "white_noise.wav", noise, RATE)
    return root


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    rng = np.random.default_rng(14)
    return write_speech_commands(tmp_path_factory.mktemp("speech_commands"), rng)


def files_of(root: Path, word: str) -> list[str]:
    return sorted(f"{word}/{p.name}" for p in (root / word).glob("*.wav"))


# --- 1. The settings are a dict with fe. keys ----------------------------------------------


def test_the_settings_update_model_parameters_as_mltk_stores_them():
    frontend_settings = on_off_frontend_settings()
    model_parameters = {"classes": MLTK_ON_OFF_METADATA["classes"]}
    model_parameters.update(frontend_settings)  # what the spec and MLTK's metadata step do
    stored = {k: v for k, v in MLTK_ON_OFF_METADATA.items() if k.startswith("fe.")}
    # Every setting MLTK stored is there, equal up to the float32 the .tflite holds.
    for key, value in stored.items():
        assert model_parameters[key] == pytest.approx(value, rel=1e-7), key
        assert type(model_parameters[key]) is type(value), key
    assert dict(frontend_settings) == {k: v for k, v in model_parameters.items() if k != "classes"}
    assert json.loads(json.dumps(frontend_settings)) == dict(frontend_settings)
    assert isinstance(frontend_settings, dict)


def test_settings_rebuild_from_a_models_parameters_ignoring_the_others():
    rebuilt = AudioFeatureGeneratorSettings(**MLTK_ON_OFF_METADATA)
    assert rebuilt.spectrogram_shape + (1,) == MLTK_ON_OFF_INPUT_SHAPE
    assert rebuilt.fft_length == MLTK_ON_OFF_METADATA["fe.fft_length"]
    assert "classes" not in rebuilt and "hash" not in rebuilt
    assert rebuilt == AudioFeatureGeneratorSettings.from_dict(MLTK_ON_OFF_METADATA)
    exact = on_off_frontend_settings()
    assert AudioFeatureGeneratorSettings(**{"classes": ["on"], **exact}) == exact
    # Bare names and fe. keys mix; the same setting twice must agree.
    assert AudioFeatureGeneratorSettings(**{"fe.window_size_ms": 30}, filterbank_n_channels=8) == (
        AudioFeatureGeneratorSettings(window_size_ms=30, filterbank_n_channels=8)
    )
    with pytest.raises(SettingsError, match="window_size_ms is given twice"):
        AudioFeatureGeneratorSettings(**{"fe.window_size_ms": 30}, window_size_ms=20)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"window_sise_ms": 30}, "no setting 'window_sise_ms'"),
        ({"classes": ["on"]}, "no setting 'classes'"),  # no fe. key: not a model's parameters
        ({"fe.window_sise_ms": 30, "classes": ["on"]}, r"no setting 'window_sise_ms' \(key"),
    ],
)
def test_unknown_names_are_still_rejected(arguments, message):
    with pytest.raises(AttributeError, match=message):
        AudioFeatureGeneratorSettings(**arguments)
    with pytest.raises(AttributeError, match=message):
        AudioFeatureGeneratorSettings().update(arguments)


def test_every_change_is_checked_and_the_fft_length_follows():
    settings = AudioFeatureGeneratorSettings()
    # MLTK's conv1d model stores fe.fft_length 16 for 360 Hz and 25 ms windows (9 samples).
    settings.sample_rate_hz = 360
    assert settings["fe.fft_length"] == 16
    settings["fe.sample_rate_hz"] = 16000
    settings["fe.window_size_ms"] = 65  # 1040 samples
    assert settings.fft_length == settings["fe.fft_length"] == 2048
    with pytest.raises(SettingsError, match=r"window_size_ms must be an integer in \[1, inf\]"):
        settings["fe.window_size_ms"] = 0
    with pytest.raises(SettingsError, match="pcan_gain_bits"):
        settings.pcan_gain_bits = 40
    with pytest.raises(SettingsError, match="window_step_ms"):  # nothing of it is applied
        settings.update({"fe.filterbank_n_channels": 40, "window_step_ms": -1})
    assert settings.filterbank_n_channels == 32 and settings.window_size_ms == 65
    with pytest.raises(KeyError, match="derived"):
        settings["fe.fft_length"] = 4
    with pytest.raises(KeyError, match="not a frontend setting"):
        settings["classes"] = ["on"]
    for remove in (lambda: settings.pop("fe.window_size_ms"), settings.clear, settings.popitem):
        with pytest.raises(TypeError, match="cannot be removed"):
            remove()
    with pytest.raises(TypeError):
        del settings["fe.window_size_ms"]
    assert len(settings) == len(AudioFeatureGeneratorSettings())


def test_mutable_settings_are_not_hashable_but_their_frozen_snapshot_is():
    settings = on_off_frontend_settings()
    with pytest.raises(TypeError, match="unhashable"):
        hash(settings)
    frozen = settings.frozen()
    assert frozen == settings and hash(frozen) == hash(settings.frozen())
    assert {frozen: "cached"}[on_off_frontend_settings().frozen()] == "cached"
    for change in (
        lambda: setattr(frozen, "window_size_ms", 25),
        lambda: frozen.__setitem__("fe.window_size_ms", 25),
        lambda: frozen.update(window_size_ms=25),
    ):
        with pytest.raises(TypeError, match="frozen snapshot"):
            change()
    assert frozen.window_size_ms == 30
    mutable = frozen.copy()
    mutable.window_size_ms = 25
    assert frozen.window_size_ms == 30 and mutable.window_size_ms == 25
    assert type(pickle.loads(pickle.dumps(frozen))) is type(frozen)
    assert pickle.loads(pickle.dumps(settings)) == settings


# --- 2. A for loop is one epoch ------------------------------------------------------------


def test_a_for_loop_is_one_epoch_and_the_next_loop_is_the_next_epoch(dataset):
    generator = ParallelAudioDataGenerator(cores=0, loudness_range=(0.5, 1.0))
    iterator = generator.flow_from_directory(
        dataset, classes=["on", "off"], class_mode="sparse", batch_size=6, seed=3
    )
    expected_batches = math.ceil(iterator.samples / 6)
    assert iterator.samples == 32 and len(iterator) == expected_batches == 6

    loops = []
    for _ in range(2):
        labels = [y for _, y in iterator]  # stops by itself, as MLTK's evaluation loop needs
        assert len(labels) == expected_batches
        # Each loop visits every sample once.
        assert sorted(np.concatenate(labels).tolist()) == sorted(iterator.classes.tolist())
        loops.append(np.concatenate(labels))
    assert iterator.epoch == 1  # the second loop was the second epoch, in another order
    assert not np.array_equal(loops[0], loops[1])
    with pytest.raises(StopIteration):
        next(iterator)
    with pytest.raises(StopIteration):
        iterator.next()


def test_a_loop_left_early_is_followed_by_the_next_epoch(dataset):
    generator = ParallelAudioDataGenerator(cores=0)
    iterator = generator.flow_from_directory(dataset, classes=["on", "off"], batch_size=8, seed=1)
    for _ in iterator:
        break
    assert iterator.epoch == 0
    assert len(list(iterator)) == len(iterator) and iterator.epoch == 1
    assert len(list(iterator)) == len(iterator) and iterator.epoch == 2


# --- 3. Sample rates below 1 kHz (MLTK's conv1d example: a 360 Hz EKG) ---------------------

EKG_RATE = 360
EKG_INPUT_SHAPE = (int(EKG_RATE * 10.0), 1)  # the example's my_model.input_shape


def post_processing_callback(params: ParallelProcessParams, x: np.ndarray):
    """conv1d_example.py's callback, as written there."""
    x = np.reshape(x, EKG_INPUT_SHAPE)
    x *= 127
    assert params.dtype == np.int8
    return x.astype(params.dtype)


@pytest.fixture(scope="module")
def ekg_dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ekg")
    rng = np.random.default_rng(360)
    for label, rate_hz in (("1 NSR", 1.2), ("2 APB", 2.0)):
        (root / label).mkdir()
        for i in range(6):
            t = np.arange(EKG_RATE * 10) / EKG_RATE
            x = 0.5 * np.sin(2 * np.pi * rate_hz * t) + 0.02 * rng.standard_normal(t.size)
            soundfile.write(root / label / f"rec{i}.wav", x.astype(np.float32), EKG_RATE)
    return root


def conv1d_example_generator(**changes) -> ParallelAudioDataGenerator:
    """The generator of MLTK's conv1d_example.py, argument for argument."""
    sample_rate = 360
    sample_length_seconds = 10.0
    frontend_settings = AudioFeatureGeneratorSettings()
    frontend_settings.sample_length_ms = sample_length_seconds * 1000
    frontend_settings.sample_rate_hz = sample_rate
    kwargs = dict(
        dtype=np.int8,
        frontend_enabled=False,
        frontend_settings=frontend_settings,
        sample_shape=EKG_INPUT_SHAPE,
        cores=0.5,
        debug=False,
        max_batches_pending=16,
        validation_split=0.1,
        validation_augmentation_enabled=True,
        samplewise_center=False,
        samplewise_std_normalization=False,
        rescale=None,
        unknown_class_percentage=0.0,
        silence_class_percentage=0.0,
        offset_range=(0.0, 1.0),
        trim_threshold_db=30,
        noise_colors=None,
        loudness_range=(0.8, 1.0),
        speed_range=(0.9, 1.1),
        pitch_range=(0.9, 1.1),
        bg_noise_range=(0.1, 0.2),
        bg_noise_dir=None,
        postprocessing_function=post_processing_callback,
    )
    with warnings.catch_warnings():
        # The example sets bg_noise_range without bg_noise_dir; we say so.
        warnings.simplefilter("ignore", UserWarning)
        return ParallelAudioDataGenerator(**{**kwargs, **changes})


def test_mltk_conv1d_example_trains_on_a_360_hz_signal(ekg_dataset):
    generator = conv1d_example_generator()
    classes = ["1 NSR", "2 APB"]
    with generator.flow_from_directory(
        ekg_dataset, classes=classes, subset="training", batch_size=5, target_size=(3600, 1)
    ) as iterator:
        assert iterator.worker_pids  # cores=0.5: the callback's assert ran in a worker
        for x, y in iterator:
            assert x.shape[1:] == EKG_INPUT_SHAPE and x.dtype == np.int8
            assert y.shape[1:] == (2,)
            assert 30 < np.abs(x.astype(int)).max() <= 127  # the signal, scaled by 127
    # Without augmentation a sample is the recording itself, times 127, at offset 0.
    plain = conv1d_example_generator(
        cores=0, disable_random_transforms=True, trim_threshold_db=None
    )
    iterator = plain.flow_from_directory(
        ekg_dataset, classes=classes, batch_size=1, shuffle=False, class_mode=None
    )
    recording, rate = soundfile.read(ekg_dataset / iterator.filenames[0], dtype="float32")
    assert rate == EKG_RATE
    expected = (recording * 127).astype(np.int8).reshape(EKG_INPUT_SHAPE)
    np.testing.assert_array_equal(iterator.batch(0)[0], expected)


def test_a_360_hz_file_is_read_as_written(ekg_dataset):
    path = next((ekg_dataset / "1 NSR").glob("*.wav"))
    written, _ = soundfile.read(path, dtype="float32")
    np.testing.assert_array_equal(read_audio(path, EKG_RATE), written)
    assert read_audio(path, RATE).size == round(written.size * RATE / EKG_RATE)


def test_sample_rate_bounds_are_named_and_enforced():
    assert MIN_SAMPLE_RATE_HZ < EKG_RATE and MIN_FILE_SAMPLE_RATE_HZ <= MIN_SAMPLE_RATE_HZ
    assert AudioFeatureGeneratorSettings(sample_rate_hz=MIN_SAMPLE_RATE_HZ).sample_length == 10
    AudioFeatureGeneratorSettings(sample_rate_hz=MAX_SAMPLE_RATE_HZ)
    for outside in (MIN_SAMPLE_RATE_HZ - 1, MAX_SAMPLE_RATE_HZ + 1):
        with pytest.raises(SettingsError, match=r"sample_rate_hz must be an integer in \[10, "):
            AudioFeatureGeneratorSettings(sample_rate_hz=outside)


def test_the_filterbank_is_checked_only_with_the_frontend_on():
    settings = AudioFeatureGeneratorSettings(sample_rate_hz=EKG_RATE)
    # Below the C frontend's lowest rate, whatever the band limits: said before them.
    with pytest.raises(
        SettingsError, match="sample_rate_hz=360 is below 1000 Hz.*frontend_enabled"
    ):
        ParallelAudioDataGenerator(cores=0, frontend_settings=settings)
    generator = ParallelAudioDataGenerator(
        cores=0, frontend_settings=settings, frontend_enabled=False, sample_shape=(EKG_RATE,)
    )
    assert generator.sample_shape == (EKG_RATE,)
    generator.frontend_enabled = True  # legal to assign; an iterator checks it again
    with pytest.raises(SettingsError, match="below 1000 Hz"):
        generator.snapshot()


@pytest.mark.parametrize("rate", [MIN_SAMPLE_RATE_HZ, 50, EKG_RATE])
@pytest.mark.parametrize("mode", ["factor", "snr_db"])
def test_every_augmentation_works_at_low_sample_rates(rate, mode):
    settings = AudioFeatureGeneratorSettings(sample_rate_hz=rate, sample_length_ms=2000)
    generator = ParallelAudioDataGenerator(
        cores=0,
        frontend_enabled=False,
        frontend_settings=settings,
        sample_shape=(settings.sample_length,),
        speed_range=(0.5, 1.5),
        pitch_range=(-3, 3),
        vtlp_range=(0.8, 1.2),
        loudness_range=(0.5, 1.5),
        noise_colors="all",
        noise_color_range=(0.1, 0.2) if mode == "factor" else (0.0, 10.0),
        noise_level_mode=mode,
    )
    rng = np.random.default_rng(rate)
    for _ in range(10):
        clip = 0.1 * rng.standard_normal(3 * rate).astype(np.float32)
        out = generator.apply_transform(clip, rate, generator.get_random_transform(rng))
        assert out.shape == (settings.sample_length,) and np.isfinite(out).all()


# --- 4. dtype is a numpy dtype --------------------------------------------------------------


def test_dtype_is_stored_as_a_numpy_dtype():
    generator = ParallelAudioDataGenerator(cores=0, dtype=np.int8, frontend_dtype="int8")
    assert generator.dtype == np.int8 and generator.dtype == "int8"
    assert isinstance(generator.dtype, np.dtype) and generator.frontend_dtype == np.int8
    generator.dtype = "float16"
    assert generator.dtype == np.float16
    with pytest.raises(TypeError, match="dtype must be a numeric numpy dtype"):
        generator.dtype = None


# --- 5. Transform dicts ---------------------------------------------------------------------


def speech_like(seconds: float = 1.0) -> np.ndarray:
    return (tone(300.0, RATE, seconds) + tone(1100.0, RATE, seconds) * 0.5).astype(np.float32)


@pytest.mark.parametrize("none", ["none", "None", None])
def test_noise_color_none_adds_no_noise(none):
    generator = ParallelAudioDataGenerator(cores=0, noise_colors="all", noise_color_range=(1, 1))
    clip = speech_like()
    transform = {**generator.default_transform, "noise_color": none, "noise_color_factor": 0.8}
    np.testing.assert_array_equal(
        generator.apply_transform(clip, RATE, transform),
        generator.apply_transform(clip, RATE, generator.default_transform),
    )


def spectral_slope(x: np.ndarray, low: float = 50.0, high: float = 5000.0) -> float:
    """The power spectrum's slope in log-log: -beta for 1/f^beta noise."""
    frequencies, power = scipy.signal.welch(x, fs=RATE, nperseg=4096)
    band = (frequencies >= low) & (frequencies <= high)
    return float(np.polyfit(np.log10(frequencies[band]), np.log10(power[band]), 1)[0])


@pytest.mark.parametrize(("color", "slope"), [("pink", -1.0), ("Brown", -2.0), ("violet", 2.0)])
def test_apply_transform_adds_any_color_a_transform_names(color, slope):
    # The audio visualizer's generator is configured with no noise at all.
    generator = ParallelAudioDataGenerator(frontend_settings=AudioFeatureGeneratorSettings())
    silence = np.zeros(4 * RATE, np.float32)
    transform = {
        **generator.default_transform,
        "noise_color": color,
        "noise_color_factor": 0.5,
        "loudness_factor": 0.8,
    }
    noise = generator.apply_transform(silence, RATE, transform, whole_sample=True)
    assert spectral_slope(noise) == pytest.approx(slope, abs=0.25)
    # Level: factor x loudness x noise peak-normalized over its buffer.
    assert 0.05 < np.abs(noise).max() <= 0.5 * 0.8 + 1e-6


def test_an_unknown_noise_color_is_rejected_naming_the_colors():
    generator = ParallelAudioDataGenerator(cores=0)
    transform = {**generator.default_transform, "noise_color": "green", "noise_color_factor": 0.1}
    with pytest.raises(SettingsError, match="noise_color must be one of white, pink, brown"):
        generator.apply_transform(speech_like(), RATE, transform)


def test_the_audio_visualizers_transform_resamples_the_whole_clip_without_trimming():
    generator = ParallelAudioDataGenerator(frontend_settings=AudioFeatureGeneratorSettings())
    original_rate = 22050
    audio = tone(1000.0, original_rate, 1.5, start=0.5)  # 0.5 s of silence, then a tone
    # audio_visualizer.py's _apply_transform, with the settings its GUI stores.
    transform_params = generator.default_transform
    transform_params.update(
        {
            "enabled": True,
            "speed_factor": 1.0,
            "pitch_factor": 0,
            "loudness_factor": 1.0,
            "vtlp_factor": 1.0,
            "noise_color": "none",
            "noise_color_factor": 0.0,
        }
    )
    transform_params["offset_percentage"] = 0.5
    out = generator.apply_transform(audio, original_rate, transform_params, whole_sample=True)
    assert out.size == round(audio.size * RATE / original_rate)  # resampled, nothing cut
    onset = int(0.5 * RATE)
    assert np.abs(out[: onset - 200]).max() < 1e-3  # the leading silence is kept
    assert np.abs(out[onset + 200 :]).max() == pytest.approx(0.5, abs=0.02)
    # Without whole_sample the clip is trimmed and fitted to the sample length, as in MLTK.
    assert generator.apply_transform(audio, original_rate, transform_params).size == RATE


# --- 6. Settings changed after construction ------------------------------------------------


def test_the_generator_follows_its_frontend_settings_as_the_visualizer_changes_them():
    frontend_settings = AudioFeatureGeneratorSettings()
    generator = ParallelAudioDataGenerator(frontend_settings=frontend_settings)
    audio = speech_like()
    assert generator.apply_frontend(audio).shape == (98, 32)
    frontend_settings.filterbank_n_channels = 40  # the visualizer's _apply_frontend
    spectrogram = generator.apply_frontend(audio)
    assert spectrogram.shape == (98, 40) and generator.sample_shape == (98, 40)
    fresh = AudioFeatureGenerator(AudioFeatureGeneratorSettings(filterbank_n_channels=40))
    np.testing.assert_array_equal(spectrogram, fresh.process_sample(audio))
    frontend_settings.window_size_ms = 30
    frontend_settings.window_step_ms = 20
    assert generator.apply_frontend(audio).shape == ((16000 - 480) // 320 + 1, 40)
    frontend_settings.filterbank_n_channels = 32
    frontend_settings.window_size_ms, frontend_settings.window_step_ms = 25, 10
    np.testing.assert_array_equal(
        generator.apply_frontend(audio),
        AudioFeatureGenerator(AudioFeatureGeneratorSettings()).process_sample(audio),
    )


def test_the_mixins_setters_change_the_generators_settings():
    frontend_settings = AudioFeatureGeneratorSettings()
    generator = ParallelAudioDataGenerator(frontend_settings=frontend_settings)
    generator.sample_rate_hz = 8000  # AudioDatasetMixin.sample_rate_hz's setter does this
    generator.sample_length_ms = 500
    assert frontend_settings.sample_rate_hz == 8000 and frontend_settings.sample_length_ms == 500
    assert generator.sample_length == 4000
    # The 7500 Hz band limit no longer fits: said at once, never a stale spectrogram.
    with pytest.raises(SettingsError, match="above the Nyquist frequency 4000.0 Hz"):
        generator.apply_frontend(np.zeros(4000, np.float32))
    frontend_settings.filterbank_upper_band_limit = 3900.0
    assert generator.apply_frontend(np.zeros(4000, np.float32)).shape == (
        (4000 - 200) // 80 + 1,
        32,
    )
    with pytest.raises(AttributeError, match="set sample_length_ms"):
        generator.sample_length = 100
    with pytest.raises(AttributeError, match="computed from the frontend settings"):
        generator.sample_shape = (10, 10)


def test_iterators_keep_the_configuration_they_were_created_with(dataset):
    kwargs = dict(cores=0, loudness_range=(0.5, 1.0), validation_split=0.25)
    flow = dict(classes=["on", "off", "_unknown_"], subset="training", batch_size=4, seed=9)
    frontend_settings = AudioFeatureGeneratorSettings()
    generator = ParallelAudioDataGenerator(frontend_settings=frontend_settings, **kwargs)
    before = generator.flow_from_directory(dataset, **flow)
    frontend_settings.filterbank_n_channels = 40
    generator.loudness_range = (2.0, 2.0)
    generator.dtype = "float64"
    after = generator.flow_from_directory(dataset, **flow)

    # The earlier iterator computes what a generator that never changed computes.
    untouched = ParallelAudioDataGenerator(**kwargs).flow_from_directory(dataset, **flow)
    for i in range(len(before)):
        for got, expected in zip(before[i], untouched[i], strict=True):
            np.testing.assert_array_equal(got, expected)
            assert got.dtype == expected.dtype == np.float32
    x, _ = after[0]
    assert x.shape[1:] == (98, 40, 1) and x.dtype == np.float64
    assert after.generator.loudness_range == (2.0, 2.0)

    # A snapshot refuses changes, so a callback cannot make it stale either.
    with pytest.raises(TypeError, match="frozen snapshot"):
        before.generator.speed_range = (0.9, 1.1)
    with pytest.raises(TypeError, match="frozen snapshot"):
        before.process_params.audio_data_generator.frontend_settings.window_size_ms = 30
    assert before.generator.frontend_settings.filterbank_n_channels == 32


def test_assigned_parameters_are_followed_by_the_generator_and_later_iterators(dataset):
    generator = ParallelAudioDataGenerator(cores=0, validation_split=0.25)
    generator.speed_range = (0.5, 0.5)
    assert generator.get_random_transform(np.random.default_rng(0))["speed_factor"] == 0.5
    with pytest.raises(SettingsError, match="speed_range must have low <= high"):
        generator.speed_range = (1.2, 0.8)
    assert generator.speed_range == (0.5, 0.5)

    # The dataset mixin's evaluation: validation_augmentation_enabled set, then a new flow.
    flow = dict(classes=["on", "off"], subset="validation", batch_size=4, seed=0)
    augmented = generator.flow_from_directory(dataset, **flow)
    generator.validation_augmentation_enabled = False
    plain = generator.flow_from_directory(dataset, **flow)
    assert augmented.process_params.augmentation_enabled
    assert not plain.process_params.augmentation_enabled
    generator.noise_level_mode = "snr_db"
    generator.noise_color_range = (-5.0, 5.0)  # dB may be negative
    with pytest.raises(SettingsError, match=r"noise_color_range must lie within \[0.0, 100.0\]"):
        generator.noise_level_mode = "factor"  # then -5 would be a negative factor
    assert generator.noise_level_mode == "snr_db"


def test_background_noise_follows_a_sample_rate_change(dataset):
    generator = ParallelAudioDataGenerator(
        cores=0, bg_noise_dir="_background_noise_", bg_noise_range=(0.1, 0.1)
    )
    flow = dict(classes=["on", "off"], batch_size=4, seed=0)
    at_16k = generator.flow_from_directory(dataset, **flow)
    assert generator.bg_noises["white_noise"].size == 2 * RATE  # a 2 s file
    generator.sample_rate_hz = 8000
    generator.frontend_settings.filterbank_upper_band_limit = 3900.0
    transform = generator.get_random_transform(np.random.default_rng(1))
    assert transform["bg_noise"] == "white_noise"
    assert generator.bg_noises["white_noise"].size == 2 * 8000
    at_8k = generator.flow_from_directory(dataset, **flow)
    assert at_8k.generator.bg_noises["white_noise"].size == 2 * 8000
    assert at_16k.generator.bg_noises["white_noise"].size == 2 * RATE
    assert at_16k[0][0].shape[1:] == (98, 32, 1) and at_8k[0][0].shape[1:] == (98, 32, 1)


# --- 7. The iterator's members --------------------------------------------------------------


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_iterator_has_mltks_members(dataset):
    generator = ParallelAudioDataGenerator(cores=1)
    iterator = generator.flow_from_directory(
        dataset, classes=["on", "off"], batch_size=5, class_mode="sparse", seed=2
    )
    on_off = files_of(dataset, "on") + files_of(dataset, "off")
    assert iterator.n == iterator.samples == iterator.sample_count == len(on_off)
    expected_labels = [iterator.class_indices[f.split("/")[0]] for f in iterator.filenames]
    assert iterator.labels.tolist() == expected_labels
    assert sorted(iterator.labels.tolist()) == [0] * 16 + [1] * 16
    assert iterator.sample_weight is None
    assert iterator.is_running and not iterator.is_shutdown
    x, y = iterator.next()
    assert x.shape == (5, 98, 32, 1) and y.shape == (5,)
    workers = iterator.worker_pids
    assert workers
    iterator.shutdown()  # what MLTK's DataGeneratorContext.shutdown() calls
    assert not iterator.is_running and iterator.is_shutdown
    deadline = time.monotonic() + 10
    while any(process_exists(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(process_exists(p) for p in workers)
    with pytest.raises(WorkerError, match="stopped"):
        iterator.batch(0)
    iterator.shutdown(wait=False)  # again: harmless

    # With MLTK's filled last batch, an epoch yields len(iterator) * batch_size samples.
    repeating = ParallelAudioDataGenerator(cores=0).flow_from_directory(
        dataset, classes=["on", "off"], batch_size=5, last_batch="repeat"
    )
    assert repeating.sample_count == math.ceil(32 / 5) * 5 == 35 and repeating.n == 32
    assert repeating.labels.tolist() == repeating.classes.tolist()  # classes[:35], as MLTK

    in_thread = ParallelAudioDataGenerator(cores=0).flow_from_directory(
        dataset, classes=["on"], batch_size=4
    )
    in_thread.shutdown()
    assert not in_thread.is_running
    with pytest.raises(WorkerError, match="closed"):
        in_thread.batch(0)


# --- 8. Calling conventions ------------------------------------------------------------------


def speech_commands_listing(
    base_directory, search_class, white_list_formats, split, follow_links, shuffle_index_directory
):
    """What MLTK's speech_commands_v2.list_valid_filenames_in_directory does, in short.

    Sorted files; with a split, a cut at its fraction moved so one speaker stays on one side;
    without one (None), every file. A split of (0, 1) for "no subset" would index past the
    end, as MLTK's does.
    """
    assert shuffle_index_directory is None
    files = sorted(
        f"{search_class}/{name}"
        for name in os.listdir(os.path.join(base_directory, search_class))
        if name.lower().endswith(white_list_formats)
    )
    if not split:
        return search_class, files

    def speaker(path):
        return re.sub(r"_nohash_.*$", "", os.path.basename(path))

    if split[0] == 0:
        stop = math.ceil(split[1] * len(files))
        other_side = speaker(files[stop])  # IndexError for split == (0, 1)
        while stop > 0 and speaker(files[stop - 1]) == other_side:
            stop -= 1
        return search_class, files[:stop]
    start = math.ceil(split[0] * len(files))
    this_side = speaker(files[start])
    while start > 0 and speaker(files[start - 1]) == this_side:
        start -= 1
    return search_class, files[start:]


def test_a_speech_commands_listing_function_gets_mltks_arguments(dataset):
    classes = ["on", "off"]
    whole = ParallelAudioDataGenerator(cores=0).flow_from_directory(
        dataset, classes=classes, list_valid_filenames_in_directory_function=speech_commands_listing
    )
    assert sorted(whole.filenames) == sorted(files_of(dataset, "on") + files_of(dataset, "off"))
    generator = ParallelAudioDataGenerator(cores=0, validation_split=0.25)
    subsets = {
        subset: generator.flow_from_directory(
            dataset,
            classes=classes,
            subset=subset,
            list_valid_filenames_in_directory_function=speech_commands_listing,
        ).filenames
        for subset in ("training", "validation")
    }
    assert sorted(subsets["training"] + subsets["validation"]) == sorted(whole.filenames)
    speakers = [{f.split("/")[1].split("_nohash_")[0] for f in subsets[s]} for s in subsets]
    assert not speakers[0] & speakers[1]


def test_callbacks_receive_only_the_names_their_signature_lists(dataset):
    received = []

    def with_kwargs(params, x, **kwargs):
        received.append(("with_kwargs", sorted(kwargs)))
        return x

    def names_two(params, x, class_id, batch_filenames, **kwargs):
        received.append(("names_two", type(class_id), len(batch_filenames), sorted(kwargs)))
        return x

    generator = ParallelAudioDataGenerator(
        cores=0, preprocessing_function=with_kwargs, postprocessing_function=names_two
    )
    iterator = generator.flow_from_directory(dataset, classes=["on"], batch_size=3, seed=0)
    iterator.batch(0)
    assert received == [("with_kwargs", []), ("names_two", int, 3, [])] * 3


def test_cores_minus_one_is_every_core_and_more_is_clamped(dataset):
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    assert resolve_num_workers(-1) == available
    assert resolve_num_workers(available + 5) == available
    assert resolve_num_workers(0) == 0 and resolve_num_workers(1.0) == available
    generator = ParallelAudioDataGenerator(cores=-1)
    with generator.flow_from_directory(dataset, classes=["on"], batch_size=4) as iterator:
        assert len(iterator.worker_pids) == available
        assert iterator[0][0].shape == (4, 98, 32, 1)


def test_target_size_is_ignored_silently_and_other_image_options_with_a_warning(dataset):
    generator = ParallelAudioDataGenerator(cores=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        generator.flow_from_directory(dataset, classes=["on"], target_size=(98, 32))
    with pytest.warns(UserWarning, match="flow_from_directory ignores save_to_dir"):
        generator.flow_from_directory(
            dataset, classes=["on"], target_size=(98, 32), save_to_dir="x"
        )


def test_process_sample_returns_float32_by_default():
    frontend = AudioFeatureGenerator(AudioFeatureGeneratorSettings())
    audio = speech_like()
    spectrogram = frontend.process_sample(audio)
    assert spectrogram.dtype == np.float32
    np.testing.assert_array_equal(spectrogram, frontend.process_sample(audio, dtype=np.uint16))


@pytest.mark.parametrize("add_channel_dimension", [True, False])
def test_sample_shape_excludes_the_channel_axis_which_batches_add(dataset, add_channel_dimension):
    settings = on_off_frontend_settings()
    generator = ParallelAudioDataGenerator(
        cores=0, frontend_settings=settings, add_channel_dimension=add_channel_dimension
    )
    assert generator.sample_shape == settings.spectrogram_shape == MLTK_ON_OFF_INPUT_SHAPE[:2]
    iterator = generator.flow_from_directory(dataset, classes=["on"], batch_size=2)
    # MLTK's mixin: input_shape = spectrogram_shape (+ (1,) with add_channel_dimension).
    expected = MLTK_ON_OFF_INPUT_SHAPE if add_channel_dimension else MLTK_ON_OFF_INPUT_SHAPE[:2]
    assert iterator.process_params.sample_shape == expected
    assert iterator[0][0].shape == (2, *expected)
    audio_only = ParallelAudioDataGenerator(
        cores=0, frontend_enabled=False, sample_shape=(RATE,), add_channel_dimension=True
    )
    assert audio_only.sample_shape == (RATE,)
    assert audio_only.flow_from_directory(dataset, classes=["on"]).process_params.sample_shape == (
        RATE,
    )

"""ParallelAudioDataGenerator and its iterator on small datasets written as real audio files."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile
from support import RATE, tone_burst, write_dataset

from parallel_audio import (
    AudioFeatureGenerator,
    AudioFeatureGeneratorSettings,
    ParallelAudioDataGenerator,
    ParallelProcessParams,
    SettingsError,
)
from parallel_audio.audio_ops import fit_to_length, trim_silence


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("dataset"), np.random.default_rng(7))


def generator(**kwargs):
    kwargs.setdefault("cores", 0)
    return ParallelAudioDataGenerator(**kwargs)


def span_in(view: np.ndarray, base: np.ndarray) -> tuple[int, int]:
    """(start, stop) of a view inside the array it was sliced from."""
    start = (view.__array_interface__["data"][0] - base.__array_interface__["data"][0]) // (
        base.itemsize
    )
    return start, start + view.size


def test_trim_removes_the_silence_the_threshold_implies():
    import librosa

    x = tone_burst(1000, RATE, RATE, 5000, 9000)
    x[:5000] += 0.0005 * np.sin(np.arange(5000))  # 60 dB below the tone
    for threshold in (20, 40, 80):
        _, expected = librosa.effects.trim(x, top_db=threshold)
        assert span_in(trim_silence(x, threshold), x) == tuple(expected)
    # Frames are 2048 samples centred every 512: the clip keeps from the first loud frame's
    # centre to one hop past the last one's. At 40 dB the lead-in, 60 dB down, is silence:
    # the clip starts at most half a frame plus a hop before the burst and ends as late
    # after it. At 80 dB the lead-in is kept from the very start.
    start, stop = span_in(trim_silence(x, 40), x)
    assert 5000 - 1024 - 512 <= start <= 5000 and 9000 <= stop <= 9000 + 1024 + 512
    assert span_in(trim_silence(x, 80), x)[0] == 0


@pytest.mark.parametrize("frame_length, hop_length", [(2048, 512), (1024, 256), (1000, 300)])
def test_trim_matches_librosa_for_any_frame_and_hop(frame_length, hop_length, rng):
    import librosa

    for length in (1, 299, 300, 1023, 1024, 5000, 16001):
        x = (rng.standard_normal(length) * np.linspace(0, 1, length) ** 3).astype(np.float32)
        for threshold in (10, 30, 60):
            _, expected = librosa.effects.trim(
                x, top_db=threshold, frame_length=frame_length, hop_length=hop_length
            )
            trimmed = trim_silence(x, threshold, frame_length=frame_length, hop_length=hop_length)
            assert span_in(trimmed, x) == tuple(expected), (length, threshold)


@pytest.mark.parametrize("offset", [0.0, 0.3, 1.0])
def test_padding_places_the_clip_at_the_reference_offset(offset):
    clip = np.arange(1, 4001, dtype=np.float32)
    padded = fit_to_length(clip, RATE, offset)
    before = int((RATE - clip.size) * offset)  # the reference's pad_upto_index
    assert padded.shape == (RATE,)
    np.testing.assert_array_equal(padded[before : before + clip.size], clip)
    assert not padded[:before].any() and not padded[before + clip.size :].any()
    # The generator applies the drawn offset the same way.
    gen = generator(trim_threshold_db=None, offset_range=(offset, offset))
    transform = gen.get_random_transform(rng=np.random.default_rng(0))
    np.testing.assert_array_equal(gen.apply_transform(clip, RATE, transform), padded)


def test_longer_clips_are_cropped_at_the_offset():
    clip = np.arange(20000, dtype=np.float32)
    np.testing.assert_array_equal(fit_to_length(clip, RATE, 0.0), clip[:RATE])
    np.testing.assert_array_equal(fit_to_length(clip, RATE, 1.0), clip[-RATE:])


@pytest.mark.parametrize("class_mode", ["categorical", "binary", "sparse", "input", None])
def test_labels_match_the_folders_for_every_class_mode(dataset, class_mode):
    gen = generator()
    it = gen.flow_from_directory(
        dataset, classes=["low", "high"], class_mode=class_mode, batch_size=5, seed=1
    )
    assert it.class_indices == {"low": 0, "high": 1}
    assert it.samples == 48 and len(it) == 10
    seen = []
    for i in range(len(it)):
        batch = it[i]
        ids = it.batch_sample_ids(i)
        expected = np.array([0 if it.filenames[j].startswith("low/") else 1 for j in ids])
        x = batch if class_mode is None else batch[0]
        assert x.shape == (len(ids), 98, 32, 1) and x.dtype == np.float32
        if class_mode == "categorical":
            np.testing.assert_array_equal(batch[1], np.eye(2, dtype=np.float32)[expected])
        elif class_mode in ("binary", "sparse"):
            np.testing.assert_array_equal(batch[1], expected.astype(np.float32))
        elif class_mode == "input":
            np.testing.assert_array_equal(batch[1], x)
        seen.extend(ids.tolist())
    assert sorted(seen) == list(range(it.samples))  # every sample exactly once


def test_pseudo_classes_are_sized_from_the_smallest_class(dataset):
    gen = generator(unknown_class_percentage=0.5, silence_class_percentage=0.25)
    counts = {}
    it = gen.flow_from_directory(
        dataset, classes=["low", "high", "_unknown_", "_silence_"], class_counts=counts, seed=3
    )
    assert counts == {"low": 24, "high": 24, "_unknown_": 12, "_silence_": 6}
    assert np.bincount(it.classes).tolist() == [24, 24, 12, 6]
    unknown = [f for f, c in zip(it.filenames, it.classes, strict=True) if c == 2]
    assert all(f.startswith("other/") for f in unknown)
    assert [f for f, c in zip(it.filenames, it.classes, strict=True) if c == 3] == [None] * 6


def test_the_split_never_shares_a_speaker(dataset):
    gen = generator(validation_split=0.3)
    training = gen.flow_from_directory(dataset, classes=["low", "high"], subset="training", seed=5)
    validation = gen.flow_from_directory(
        dataset, classes=["low", "high"], subset="validation", seed=5
    )

    def speakers(it):
        return {Path(f).name.split("_nohash_")[0] for f in it.filenames}

    assert not speakers(training) & speakers(validation)
    assert training.samples + validation.samples == 48
    assert validation.samples > 0


def test_same_seed_same_batches_different_seed_different_batches(dataset):
    def batches(seed):
        gen = generator(loudness_range=(0.5, 1.5))
        it = gen.flow_from_directory(dataset, classes=["low", "high"], batch_size=8, seed=seed)
        first_epoch = [it[i][0] for i in (2, 0, 1)]  # asked out of order, as fit does
        it.on_epoch_end()
        return first_epoch + [it[0][0]]

    a, b, c = batches(11), batches(11), batches(12)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    assert not np.array_equal(a[1], a[3])  # a new epoch draws a new order and new transforms


def test_validation_without_augmentation_is_untouched(dataset):
    gen = generator(
        validation_split=0.3,
        loudness_range=(0.1, 0.2),
        validation_augmentation_enabled=False,
        frontend_enabled=False,
        sample_shape=(RATE,),
    )
    it = gen.flow_from_directory(
        dataset, classes=["low", "high"], subset="validation", shuffle=False, batch_size=4, seed=0
    )
    x, _ = it[0]
    compared = 0
    for sample, filename in zip(x, it.filenames[:4], strict=True):
        assert np.abs(sample).max() > 0.3  # the 0.1-0.2 loudness was not applied
        audio, rate = soundfile.read(dataset / filename, dtype="float32", always_2d=True)
        if rate == RATE:  # no resampling: the sample is the file, trimmed, at offset 0
            expected = fit_to_length(trim_silence(audio.mean(axis=1), 20), RATE, 0.0)
            np.testing.assert_array_equal(sample, expected)
            compared += 1
    assert compared >= 1


def test_frontend_disabled_returns_audio_of_the_sample_shape(dataset):
    gen = generator(
        frontend_enabled=False,
        sample_shape=(RATE, 1),
        postprocessing_function=lambda params, x: x[:, np.newaxis],
    )
    x, _ = gen.flow_from_directory(dataset, classes=["low", "high"], batch_size=3, seed=0)[0]
    assert x.shape == (3, RATE, 1) and x.dtype == np.float32
    with pytest.raises(SettingsError, match="sample_shape is required"):
        generator(frontend_enabled=False)


@pytest.mark.parametrize("frontend_dtype", ["uint16", "float32", "int8"])
def test_frontend_dtype_gives_the_frontends_values(dataset, frontend_dtype):
    settings = AudioFeatureGeneratorSettings(filterbank_n_channels=20)
    gen = generator(
        frontend_settings=settings,
        frontend_dtype=frontend_dtype,
        disable_random_transforms=True,
        add_channel_dimension=False,
    )
    it = gen.flow_from_directory(
        dataset, classes=["low", "high"], shuffle=False, batch_size=2, seed=0
    )
    x, _ = it[0]
    audio = gen.apply_transform(
        *soundfile.read(dataset / it.filenames[0], dtype="float32"), gen.default_transform
    )
    expected = AudioFeatureGenerator(settings).process_sample(audio, dtype=frontend_dtype)
    assert x.shape == (2, 98, 20)
    np.testing.assert_array_equal(x[0], expected.astype(np.float32))


def test_callbacks_get_params_and_the_arguments_they_name(dataset):
    calls = []

    def noaug(params, x, class_id, filename):
        assert isinstance(params, ParallelProcessParams) and params.sample_rate == RATE
        calls.append(("noaug", class_id, filename))
        return x

    def pre(params, x, batch_index, rng):
        assert x.shape == (RATE,) and isinstance(rng, np.random.Generator)
        calls.append(("pre", batch_index))
        return x * 0  # silence everything

    def post(params, x, batch_class_ids, batch_filenames):
        assert x.shape == (98, 32) and len(batch_class_ids) == len(batch_filenames) == 2
        calls.append(("post",))
        return x

    gen = generator(
        noaug_preprocessing_function=noaug, preprocessing_function=pre, postprocessing_function=post
    )
    it = gen.flow_from_directory(
        dataset, classes=["low", "high"], batch_size=2, seed=0, shuffle=False
    )
    x, _ = it[0]
    assert calls[0] == ("noaug", 0, it.filenames[0])
    assert ("pre", 1) in calls and calls.count(("post",)) == 2
    silence = AudioFeatureGenerator(AudioFeatureGeneratorSettings()).process_sample(
        np.zeros(RATE, np.float32)
    )
    np.testing.assert_array_equal(x[0, ..., 0], silence.astype(np.float32))


def test_get_batch_function_short_circuits_the_pipeline(dataset):
    def batch_function(batch_index, filenames, classes, params):
        x = np.full((len(filenames), *params.sample_shape), batch_index, np.float32)
        return batch_index, (x, np.asarray(classes, np.float32))

    gen = generator(get_batch_function=batch_function)
    it = gen.flow_from_directory(dataset, classes=["low", "high"], batch_size=4, seed=0)
    x, y = it[3]
    assert np.all(x == 3) and x.shape == (4, 98, 32, 1)


def test_standardize_in_the_reference_order():
    gen = generator(
        rescale=0.5,
        samplewise_center=True,
        samplewise_std_normalization=True,
        samplewise_normalize_range=(-1.0, 1.0),
    )
    x = np.array([[2.0, 4.0], [6.0, 12.0]])
    y = x * 0.5
    y = y - y.mean()
    y = y / (y.std() + 1e-6)
    y = 2 * (y - y.min()) / np.ptp(y) - 1
    np.testing.assert_allclose(gen.standardize(x), y, rtol=1e-6)
    assert generator(dtype="int8").standardize(np.array([-5, 7], np.int8)).tolist() == [-5, 7]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cores": -2}, "cores must be an int >= 0, -1 for every core"),
        ({"cores": 1.5}, r"or a fraction of the machine's cores in \(0, 1\]"),
        ({"max_batches_pending": 0}, r"max_batches_pending must be an int within \[1, 256\]"),
        ({"offset_range": (0.5, 0.2)}, "low <= high"),
        ({"offset_range": (0.0, 2.0)}, r"within \[0, 1\]"),
        ({"loudness_range": (-1, 2)}, "loudness_range must lie within"),
        ({"validation_split": 1.0}, r"validation_split must be in \[0, 1\)"),
        ({"frontend_dtype": "int16"}, "frontend_dtype must be one of uint16, float32, int8"),
        ({"noise_colors": ["green"]}, "noise_colors must be"),
        ({"trim_threshold_db": -3}, "trim_threshold_db must be"),
        (
            {"frontend_settings": AudioFeatureGeneratorSettings(sample_rate_hz=8000)},
            "above the Nyquist frequency",
        ),
    ],
)
def test_nonsense_is_rejected_at_construction(kwargs, message):
    with pytest.raises(SettingsError, match=message):
        ParallelAudioDataGenerator(**kwargs)


# Every numeric parameter but cores: (name, a value at its documented bound, values beyond it,
# how the docstring states the bound, other arguments it needs).
NUMERIC_BOUNDS = [
    ("max_batches_pending", 256, [257, 10**12], "at most 256", {}),
    ("batch_timeout", 604800, [604801.0, 1e300], "at most 604800 (a week)", {}),
    ("samplewise_normalize_range", (-1e6, 1e6), [(0, 2e6), (-1e300, 0)], "within [-1e6, 1e6]", {}),
    ("rescale", -1e6, [1.5e6, -1e300], "at most 1e6", {}),
    ("trim_threshold_db", 300, [301, 1e300], "at most 300", {}),
    (
        "noise_color_range",
        (0, 100),
        [(0, 101), (1e300, 1e300)],
        "within [0, 100]",
        {"noise_colors": "white"},
    ),
    (
        "noise_color_range",
        (-100, 100),
        [(-101, 0), (0, 1e300)],
        "within [-100, 100] dB",
        {"noise_colors": "white", "noise_level_mode": "snr_db"},
    ),
    (
        "bg_noise_range",
        (0, 100),
        [(0, 101), (0, 1e300)],
        "within [0, 100]",
        {"bg_noise_dir": "noise"},
    ),
    (
        "bg_noise_range",
        (-100, 100),
        [(-1e300, 0), (0, 101)],
        "within [-100, 100] dB",
        {"bg_noise_dir": "noise", "noise_level_mode": "snr_db"},
    ),
    (
        "speed_range",
        (0.1, 10),
        [(0.09, 1), (1, 10.5), (1e-300, 1), (1, 1e300)],
        "within [0.1, 10]",
        {},
    ),
    ("pitch_range", (-24, 24), [(0, 25), (-25, 0), (0, 10**300)], "at most 24 semitones", {}),
    ("pitch_range", (-2.0, 2.0), [(0.0, 2.1), (-1e300, 0.0)], "2 octaves", {}),
    ("vtlp_range", (0.5, 2.0), [(0.4, 1), (1, 2.1), (1, 1e300)], "within [0.5, 2]", {}),
    ("loudness_range", (0, 100), [(0, 101), (0, 1e300)], "within [0, 100]", {}),
    ("unknown_class_percentage", 100, [101, 1e300], "at most 100", {}),
    ("silence_class_percentage", 100, [101, 1e300], "at most 100", {}),
    (
        "sample_shape",
        (2**24,),
        [(2**24 + 1,), (4096, 4097), (0,)],
        "at most 2**24 values",
        {"frontend_enabled": False},
    ),
]


def parameter_text(name: str) -> str:
    """The whole numpydoc entry of a constructor parameter (entries may name several)."""
    doc = ParallelAudioDataGenerator.__doc__
    for match in re.finditer(r"^    (\w+(?:, \w+)*) : .*\n((?:        .*\n|\n)*)", doc, re.M):
        if name in match[1].split(", "):
            return " ".join(match[2].split())
    raise AssertionError(f"{name} is not documented")


@pytest.mark.parametrize(
    ("name", "bound", "beyond", "documented", "others"),
    NUMERIC_BOUNDS,
    ids=[f"{case[0]}-{i}" for i, case in enumerate(NUMERIC_BOUNDS)],
)
def test_every_numeric_parameter_has_a_documented_upper_bound(
    name, bound, beyond, documented, others
):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a noise range without its source warns
        ParallelAudioDataGenerator(cores=0, **others, **{name: bound})
        for value in beyond:
            with pytest.raises(SettingsError, match=f"^{name} ") as caught:
                ParallelAudioDataGenerator(cores=0, **others, **{name: value})
            assert len(str(caught.value)) < 300
    assert documented in parameter_text(name)


@pytest.mark.parametrize("dtype", ["str", "U8", "object", "complex64", "datetime64"])
def test_dtype_must_be_a_number_type(dtype):
    with pytest.raises(SettingsError, match="^dtype must be a numeric numpy dtype"):
        ParallelAudioDataGenerator(cores=0, dtype=dtype)
    for accepted in ("float16", "float32", "float64", "int8", "uint16", "int32", "bool"):
        assert ParallelAudioDataGenerator(cores=0, dtype=accepted).dtype == accepted


def test_samples_must_hold_a_frame_and_at_most_2_to_the_21_values():
    short = AudioFeatureGeneratorSettings(sample_length_ms=20, window_size_ms=30)
    with pytest.raises(SettingsError, match="window_size_ms=30 .* sample_length_ms=20"):
        ParallelAudioDataGenerator(cores=0, frontend_settings=short)
    # Without the frontend, the samples are audio: a window does not matter.
    ParallelAudioDataGenerator(
        cores=0, frontend_settings=short, frontend_enabled=False, sample_shape=(320,)
    )
    longest = AudioFeatureGeneratorSettings(sample_length_ms=131072)  # 2**21 at 16 kHz
    assert ParallelAudioDataGenerator(cores=0, frontend_settings=longest).sample_length == 2**21
    longer = AudioFeatureGeneratorSettings(sample_length_ms=131073)
    with pytest.raises(SettingsError, match=r"sample_length_ms=131073 .* at most 2\*\*21"):
        ParallelAudioDataGenerator(cores=0, frontend_settings=longer)
    assert "at most 2**21 values" in parameter_text("frontend_settings")


def test_flow_bounds_batch_size_and_seed(dataset):
    gen = generator()
    assert gen.flow_from_directory(dataset, classes=["low"], batch_size=65536).batch_size == 65536
    assert gen.flow_from_directory(dataset, classes=["low"], seed=2**128 - 1).seed == 2**128 - 1
    with pytest.raises(SettingsError, match="batch_size .* at most 65536"):
        gen.flow_from_directory(dataset, classes=["low"], batch_size=65537)
    with pytest.raises(SettingsError, match="seed must be an int in"):
        gen.flow_from_directory(dataset, classes=["low"], seed=2**128)


def test_flow_rejects_a_bad_class_mode_and_batch_size(dataset):
    with pytest.raises(SettingsError, match="class_mode must be one of"):
        generator().flow_from_directory(dataset, classes=["low"], class_mode="onehot")
    with pytest.raises(SettingsError, match="batch_size"):
        generator().flow_from_directory(dataset, classes=["low"], batch_size=0)


def audio_flow(dataset, *, last_batch, batch_size, shuffle=True, cores=0, **kwargs):
    """An iterator over the raw audio of 'low' and 'high', labels as class ids."""
    gen = generator(cores=cores, frontend_enabled=False, sample_shape=(RATE,), **kwargs)
    return gen.flow_from_directory(
        dataset,
        classes=["low", "high"],
        class_mode="sparse",
        batch_size=batch_size,
        shuffle=shuffle,
        seed=4,
        last_batch=last_batch,
    )


def whole_epoch(iterator, epoch=0):
    return [iterator.batch(i, epoch=epoch) for i in range(len(iterator))]


@pytest.mark.parametrize("shuffle", [True, False])
def test_last_batch_short_or_filled_from_the_start_of_the_epoch(dataset, shuffle):
    short = audio_flow(dataset, last_batch="short", batch_size=5, shuffle=shuffle)
    full = audio_flow(dataset, last_batch="repeat", batch_size=5, shuffle=shuffle)
    samples = short.samples
    assert samples % 5 and len(short) == len(full) == math.ceil(samples / 5)
    short_sizes = [len(y) for _, y in whole_epoch(short)]
    assert short_sizes == [5] * (len(short) - 1) + [samples % 5]
    batches = whole_epoch(full)
    assert [len(y) for _, y in batches] == [5] * len(full)
    # Every sample once, then the first ones of the epoch's order again.
    order = np.concatenate([full.batch_sample_ids(i) for i in range(len(full))])
    plan = full.epoch_plan(0)
    np.testing.assert_array_equal(order, np.concatenate([plan, plan[: 5 - samples % 5]]))
    if not shuffle:  # MLTK's unshuffled fill: the index's first samples, in order
        np.testing.assert_array_equal(order[samples:], np.arange(5 - samples % 5))
    labels = np.concatenate([y for _, y in batches])
    np.testing.assert_array_equal(labels, full.classes[order])
    # The samples before the fill are the short iterator's, bit for bit.
    for (x0, y0), (x1, y1) in zip(whole_epoch(short), batches, strict=True):
        np.testing.assert_array_equal(x0, x1[: len(x0)])
        np.testing.assert_array_equal(y0, y1[: len(y0)])


def test_repeated_samples_draw_a_fresh_augmentation_the_same_on_every_pool(dataset):
    results = []
    for cores in (0, 2):
        with audio_flow(
            dataset,
            last_batch="repeat",
            batch_size=7,
            cores=cores,
            loudness_range=(0.2, 2.0),
            offset_range=(0.0, 0.0),
        ) as it:
            results.append([whole_epoch(it, epoch) for epoch in (0, 1)])
    for (x0, y0), (x1, y1) in zip(sum(results[0], []), sum(results[1], []), strict=True):
        np.testing.assert_array_equal(x0, x1)
        np.testing.assert_array_equal(y0, y1)
    first_batch, last_batch = results[0][0][0][0], results[0][0][-1][0]
    repeats = 7 - it.samples % 7
    # The same clips at other loudness factors: proportional, but not equal.
    for again, first in zip(last_batch[-repeats:], first_batch[:repeats], strict=True):
        assert not np.array_equal(again, first)
        ratio = np.dot(again, first) / np.dot(first, first)
        np.testing.assert_allclose(again, ratio * first, atol=1e-5)
    # Without random transforms a repeated sample is its first occurrence, bit for bit.
    plain = audio_flow(dataset, last_batch="repeat", batch_size=7, disable_random_transforms=True)
    plain = whole_epoch(plain)
    np.testing.assert_array_equal(plain[-1][0][-repeats:], plain[0][0][:repeats])


def test_a_batch_larger_than_the_dataset_cycles_through_it(dataset):
    it = audio_flow(
        dataset, last_batch="repeat", batch_size=100, shuffle=False, disable_random_transforms=True
    )
    assert it.samples < 50 and len(it) == 1
    x, y = it.batch(0)
    assert len(y) == 100
    np.testing.assert_array_equal(it.batch_sample_ids(0), np.arange(100) % it.samples)
    np.testing.assert_array_equal(x[it.samples : 2 * it.samples], x[: it.samples])


def test_flow_rejects_an_unknown_last_batch_mode(dataset):
    with pytest.raises(SettingsError, match="last_batch must be one of 'short', 'repeat'"):
        generator().flow_from_directory(dataset, classes=["low"], last_batch="drop")


def test_seed_none_draws_a_seed_that_repeats_the_run(dataset):
    gen = generator(loudness_range=(0.5, 1.5))
    first = gen.flow_from_directory(dataset, classes=["low", "high"], batch_size=4)
    again = gen.flow_from_directory(dataset, classes=["low", "high"], batch_size=4, seed=first.seed)
    np.testing.assert_array_equal(first[1][0], again[1][0])


def test_the_worker_side_never_imports_tensorflow_or_keras(dataset):
    code = f"""
import sys, numpy as np
from parallel_audio import ParallelAudioDataGenerator
from parallel_audio.pipeline import get_batches_of_transformed_samples
from parallel_audio.process_params import ParallelProcessParams
gen = ParallelAudioDataGenerator(cores=0)
params = ParallelProcessParams(gen, 16000, 1000, gen.sample_shape, None, {{"low": 0}},
    "float32", None, {str(dataset)!r}, "sparse", None, None, None, None, True, True, 0)
_, (x, y) = get_batches_of_transformed_samples(0, ["low/spk00_nohash_0.wav"], [0], params)
assert x.shape == (1, 98, 32, 1)
loaded = [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "jax", "torch")]
assert not loaded, loaded
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/")


def test_model_fit_learns_a_separable_dataset(dataset):
    import keras

    gen = generator(
        validation_split=0.3,
        loudness_range=(0.7, 1.3),
        samplewise_center=True,
        samplewise_std_normalization=True,
    )
    train = gen.flow_from_directory(
        dataset, classes=["low", "high"], subset="training", batch_size=4, seed=0
    )
    val = gen.flow_from_directory(
        dataset, classes=["low", "high"], subset="validation", batch_size=4, seed=0
    )
    keras.utils.set_random_seed(0)
    # The classes differ in which channels hold energy: average over time, then read channels.
    frames = gen.sample_shape[0]
    model = keras.Sequential(
        [
            keras.Input(train.process_params.sample_shape),  # with the channel axis
            keras.layers.AveragePooling2D(pool_size=(frames, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.05), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(train, validation_data=val, epochs=3, verbose=0)
    assert history.history["val_accuracy"][-1] >= 0.9
    assert model.evaluate(val, verbose=0)[1] >= 0.9
    predictions = model.predict(val, verbose=0)
    assert predictions.shape == (val.samples, 2)


def test_as_tf_dataset_has_a_fixed_signature(dataset):
    gen = generator()
    it = gen.flow_from_directory(dataset, classes=["low", "high"], batch_size=16, seed=0)
    data = it.as_tf_dataset()
    assert tuple(data.element_spec[0].shape) == (None, 98, 32, 1)
    assert tuple(data.element_spec[1].shape) == (None, 2)
    batches = list(data)
    assert len(batches) == len(it) and it.epoch == 1
    assert sum(int(b[0].shape[0]) for b in batches) == it.samples


def test_mp3_files_load_where_libsndfile_reads_them(tmp_path):
    if "MP3" not in soundfile.available_formats():
        pytest.skip(f"libsndfile {soundfile.__libsndfile_version__} has no MP3 support")
    folder = tmp_path / "tone"
    folder.mkdir()
    x = tone_burst(1000.0, 22050, 22050, 0, 22050, amplitude=0.3)
    soundfile.write(folder / "a_nohash_0.mp3", x, 22050)
    gen = generator(frontend_enabled=False, sample_shape=(RATE,), trim_threshold_db=None)
    (audio,) = gen.flow_from_directory(tmp_path, classes=["tone"], class_mode=None).batch(0)
    spectrum = np.abs(np.fft.rfft(audio[4000:12000] * np.hanning(8000)))
    assert np.argmax(spectrum) * RATE / 8000 == pytest.approx(1000, abs=4)
    assert np.sqrt(np.mean(audio[4000:12000] ** 2)) == pytest.approx(0.3 / np.sqrt(2), rel=0.1)


@pytest.mark.slow
def test_fit_evaluate_predict_under_the_jax_backend(dataset):
    pytest.importorskip("jax")
    code = f"""
import os
os.environ["KERAS_BACKEND"] = "jax"
import keras, numpy as np
from parallel_audio import ParallelAudioDataGenerator
assert keras.backend.backend() == "jax"
gen = ParallelAudioDataGenerator(cores=1, validation_split=0.3, samplewise_center=True,
                                 samplewise_std_normalization=True, speed_range=(0.9, 1.1))
kwargs = dict(classes=["low", "high"], batch_size=4, seed=0)
train = gen.flow_from_directory({str(dataset)!r}, subset="training", **kwargs)
val = gen.flow_from_directory({str(dataset)!r}, subset="validation", **kwargs)
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input(train.process_params.sample_shape),
                          keras.layers.AveragePooling2D(pool_size=(gen.sample_shape[0], 1)),
                          keras.layers.Flatten(), keras.layers.Dense(2, activation="softmax")])
model.compile(optimizer=keras.optimizers.Adam(0.05), loss="categorical_crossentropy",
              metrics=["accuracy"])
history = model.fit(train, validation_data=val, epochs=3, verbose=0)
assert history.history["val_accuracy"][-1] >= 0.9, history.history
assert model.predict(val, verbose=0).shape == (val.samples, 2)
train.close(); val.close()
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/", timeout=300)

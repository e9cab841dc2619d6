"""One owner per piece of state: the generator is configuration, each iterator owns its runtime.

The bugs this rules out: an iterator whose background noise was replaced by a later
``flow_from_directory`` over another dataset (with ``cores=0`` only, so that batches depended
on the pool), shapes that disagreed after a frontend setting changed, and parameters assigned
later that were silently ignored.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from parallel_audio import AudioFeatureGeneratorSettings, ParallelAudioDataGenerator

RATE = 16000
#: Pools that must all give the same batches: the caller's thread, threads, processes.
POOLS = [
    pytest.param({"cores": 0}, id="cores=0"),
    pytest.param({"cores": 2, "debug": True}, id="debug"),
    pytest.param({"cores": 2}, id="cores=2"),
]
#: Root-mean-square of each dataset's background noise: they differ fifty-fold.
NOISE_RMS = {"quiet": 0.01, "loud": 0.5}


def write_dataset(root, noise_rms: float, seed: int):
    """Two classes of tone bursts and a ``_background_noise_`` folder of white noise."""
    rng = np.random.default_rng(seed)
    for c, word in enumerate(("yes", "no")):
        (root / word).mkdir(parents=True)
        for i in range(5):
            t = np.arange(int(0.5 * RATE)) / RATE
            burst = 0.3 * np.sin(2 * np.pi * (300 + 200 * c + 20 * i) * t)
            soundfile.write(root / word / f"s{i}_nohash_0.wav", burst.astype(np.float32), RATE)
    (root / "_background_noise_").mkdir()
    noise = rng.standard_normal(3 * RATE)
    noise *= noise_rms / np.sqrt(np.mean(noise**2))
    path = root / "_background_noise_" / "noise.wav"
    soundfile.write(path, noise.astype(np.float32), RATE, subtype="FLOAT")  # beyond 1: unclipped
    return root


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    return {
        name: write_dataset(tmp_path_factory.mktemp(name), rms, seed)
        for seed, (name, rms) in enumerate(NOISE_RMS.items())
    }


GENERATOR = dict(
    bg_noise_dir="_background_noise_",  # relative: each dataset's own folder
    bg_noise_range=(1.0, 1.0),
    loudness_range=(0.5, 1.5),
    frontend_enabled=False,
    sample_shape=(RATE,),
)
FLOW = dict(classes=["yes", "no", "_silence_"], batch_size=4, seed=3)


def all_batches(iterator, epoch: int = 0) -> list[np.ndarray]:
    return [iterator.batch(i, epoch)[0] for i in range(len(iterator))]


def alone(dataset, pool) -> list[np.ndarray]:
    generator = ParallelAudioDataGenerator(**pool, **GENERATOR)
    with generator.flow_from_directory(dataset, **FLOW) as iterator:
        return all_batches(iterator)


@pytest.mark.parametrize("pool", POOLS)
def test_interleaved_flows_over_datasets_with_different_noise_give_each_its_own(datasets, pool):
    expected = {name: alone(dataset, {"cores": 0}) for name, dataset in datasets.items()}
    generator = ParallelAudioDataGenerator(**pool, **GENERATOR)
    quiet = generator.flow_from_directory(datasets["quiet"], **FLOW)
    first = quiet.batch(0)[0]
    loud = generator.flow_from_directory(datasets["loud"], **FLOW)  # reads another folder
    with quiet, loud:
        got = {"quiet": [first], "loud": []}
        for i in range(max(len(quiet), len(loud))):
            if 0 < i < len(quiet):
                got["quiet"].append(quiet.batch(i)[0])
            if i < len(loud):
                got["loud"].append(loud.batch(i)[0])
        again = quiet.batch(0)[0]  # after the other iterator computed its batches
    for name in datasets:
        assert len(got[name]) == len(expected[name])
        for batch, reference in zip(got[name], expected[name], strict=True):
            np.testing.assert_array_equal(batch, reference)
    np.testing.assert_array_equal(again, first)
    # Each iterator's silence is its own dataset's noise (times the level 1 and the gain).
    for name, iterator in (("quiet", quiet), ("loud", loud)):
        ids = np.concatenate([iterator.batch_sample_ids(i) for i in range(len(iterator))])
        x = np.concatenate(got[name])
        silent = np.array([iterator.filenames[i] is None for i in ids])
        rms = np.sqrt(np.mean(x[silent] ** 2, axis=1))
        assert np.all((rms > 0.4 * NOISE_RMS[name]) & (rms < 1.6 * NOISE_RMS[name])), rms


def test_the_generator_keeps_the_reference_bg_noises_apart_from_its_iterators(datasets):
    generator = ParallelAudioDataGenerator(cores=0, **GENERATOR)
    assert generator.bg_noises is None  # nothing read before a flow, as the reference
    quiet = generator.flow_from_directory(datasets["quiet"], **FLOW)
    quiet_noise = generator.bg_noises["noise"]
    assert np.sqrt(np.mean(quiet_noise**2)) == pytest.approx(NOISE_RMS["quiet"], rel=1e-3)
    generator.flow_from_directory(datasets["loud"], **FLOW)
    # The generator's own methods follow the last dataset; the first iterator keeps its own.
    loud_noise = generator.bg_noises["noise"]
    assert np.sqrt(np.mean(loud_noise**2)) == pytest.approx(NOISE_RMS["loud"], rel=1e-3)
    np.testing.assert_array_equal(quiet.generator.bg_noises["noise"], quiet_noise)
    runtime = quiet.process_params.sample_runtime
    assert (
        runtime is not None
        and runtime.policy.augmentations.background_noise.noises["noise"]
        is not generator.bg_noises["noise"]
    )
    with pytest.raises(AttributeError):
        generator.bg_noises = {}


@pytest.mark.parametrize("pool", POOLS)
def test_a_frontend_setting_changed_after_construction_cannot_desynchronize_shapes(datasets, pool):
    generator = ParallelAudioDataGenerator(**pool)
    flow = dict(classes=["yes", "no"], batch_size=4, seed=0)
    before = generator.flow_from_directory(datasets["quiet"], **flow)
    # (1000 ms - window) / 10 ms + 1 frames: 98 with 25 ms windows, 97 with 40 ms.
    assert generator.sample_shape == (98, 32)
    generator.frontend_settings.window_size_ms = 40
    assert generator.sample_shape == (97, 32)
    after = generator.flow_from_directory(datasets["quiet"], **flow)
    with before, after:
        for iterator, frames in ((before, 98), (after, 97)):
            assert iterator.process_params.sample_shape == (frames, 32, 1)
            for i in range(len(iterator)):
                assert iterator.batch(i)[0].shape[1:] == (frames, 32, 1)
    clip = np.zeros(RATE, np.float32)
    assert generator.apply_frontend(clip).shape == generator.sample_shape


def test_settings_are_hashable_only_when_frozen():
    settings = AudioFeatureGeneratorSettings()
    with pytest.raises(TypeError):
        hash(settings)
    assert hash(settings.frozen()) == hash(AudioFeatureGeneratorSettings().frozen())


@pytest.mark.parametrize("pool", POOLS)
def test_a_range_assigned_later_is_followed_by_later_iterators_only(datasets, pool):
    flow = dict(classes=["yes", "no"], batch_size=4, seed=5)
    audio = dict(frontend_enabled=False, sample_shape=(RATE,), trim_threshold_db=None)
    plain = alone_batches(datasets["quiet"], flow, audio)
    slowed = alone_batches(datasets["quiet"], flow, {**audio, "speed_range": (0.5, 0.5)})
    generator = ParallelAudioDataGenerator(**pool, **audio)
    before = generator.flow_from_directory(datasets["quiet"], **flow)
    generator.speed_range = (0.5, 0.5)
    after = generator.flow_from_directory(datasets["quiet"], **flow)
    with before, after:
        for batch, reference in zip(all_batches(before), plain, strict=True):
            np.testing.assert_array_equal(batch, reference)
        for batch, reference in zip(all_batches(after), slowed, strict=True):
            np.testing.assert_array_equal(batch, reference)
    # Half speed: each 0.5 s burst now lasts 1 s, so it fills the sample; before, half of it.
    assert np.mean(np.abs(plain[0]) > 1e-3) < 0.6 < np.mean(np.abs(slowed[0]) > 1e-3)


def alone_batches(dataset, flow, parameters) -> list[np.ndarray]:
    generator = ParallelAudioDataGenerator(cores=0, **parameters)
    return all_batches(generator.flow_from_directory(dataset, **flow))

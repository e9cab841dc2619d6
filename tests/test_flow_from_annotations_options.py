"""flow_from_annotations through the shared flow: folds, test split, sampling, executor, cache.

The expectations are independent of the code under test: split properties (disjoint, complete,
a recording never cut), scikit-learn's ``GroupKFold`` for the balanced strategy, the
``validation_split`` a hash fold equals by its documented rule, label counts read off the
batches, batches computed without the option (bit for bit), and what libsndfile is asked to
decode, counted by patching ``soundfile.SoundFile.read``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
import soundfile
from support import assert_same_epochs, epochs

from parallel_audio import ParallelAudioDataGenerator
from parallel_audio.errors import DatasetError, SettingsError
from parallel_audio.pool.thread_backend import ThreadExecutor

RATE = 16000
#: Seconds of each recording: all different, so that no two groups weigh the same.
LENGTHS = (2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0)


def quiet_generator(**kwargs):
    """No trimming and, unless asked, no augmentation."""
    return ParallelAudioDataGenerator(**{"cores": 0, "trim_threshold_db": None, **kwargs})


@pytest.fixture
def recordings(tmp_path, rng):
    """Twelve noise recordings of different lengths; a dog event in each, a cat in a few.

    Returns the folder and the event rows. With 1 s windows and no overlap, recording ``i``
    has ``LENGTHS[i]`` windows.
    """
    rows = []
    for i, seconds in enumerate(LENGTHS):
        name = f"rec{i:02d}.wav"
        audio = (0.1 * rng.standard_normal(round(seconds * RATE))).astype(np.float32)
        soundfile.write(tmp_path / name, audio, RATE, subtype="FLOAT")
        rows.append((name, 0.0, 1.0, "dog"))  # window 0 of every recording is a dog
        if i % 4 == 0:
            rows.append((name, 1.0, 2.0, "cat"))  # window 1 of every fourth is a cat
    return tmp_path, rows


def files_of(iterator) -> Counter:
    """How many windows of each file the iterator serves."""
    return Counter(window.file for window in iterator.windows)


# --- folds and the test split -----------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["hash", "balanced", "stratified"])
def test_folds_over_windows_are_disjoint_complete_and_never_split_a_recording(recordings, strategy):
    root, rows = recordings
    generator = quiet_generator()
    everything = files_of(generator.flow_from_annotations(rows, root, shuffle=False))
    assert everything == {f"rec{i:02d}.wav": int(s) for i, s in enumerate(LENGTHS)}
    validation_sets = []
    for fold in range(4):
        sides = {}
        for subset in ("training", "validation"):
            iterator = generator.flow_from_annotations(
                rows,
                root,
                subset=subset,
                fold=fold,
                num_folds=4,
                fold_strategy=strategy,
                shuffle=False,
            )
            sides[subset] = files_of(iterator)
            # Every window of a served recording, none of a recording cut in two.
            for name, count in sides[subset].items():
                assert count == everything[name], (strategy, fold, subset, name)
        assert not set(sides["training"]) & set(sides["validation"])
        assert set(sides["training"]) | set(sides["validation"]) == set(everything)
        validation_sets.append(frozenset(sides["validation"]))
    # The validation folds partition the recordings.
    assert all(validation_sets)
    assert sum(len(s) for s in validation_sets) == len(everything)
    assert frozenset().union(*validation_sets) == set(everything)
    if strategy == "balanced":
        # scikit-learn's GroupKFold over the windows, grouped by recording.
        from sklearn.model_selection import GroupKFold

        groups = [name for name in sorted(everything) for _ in range(everything[name])]
        expected = {
            frozenset(groups[i] for i in test)
            for _, test in GroupKFold(n_splits=4).split(np.zeros(len(groups)), groups=groups)
        }
        assert set(validation_sets) == expected


def test_iter_folds_cross_validates_windows_recording_by_recording(recordings):
    from parallel_audio import iter_folds

    root, rows = recordings
    generator = quiet_generator()
    everything = files_of(generator.flow_from_annotations(rows, root, shuffle=False))
    seen = []
    for k, train, validation in iter_folds(
        generator, rows, flow="flow_from_annotations", directory=root, num_folds=3
    ):
        validation_files = files_of(validation)
        assert validation_files + files_of(train) == everything, k
        assert not set(validation_files) & set(files_of(train)), k
        seen.extend(validation_files)
        train.close()
        validation.close()
    assert sorted(seen) == sorted(everything)  # each recording validates exactly once


def test_hash_fold_zero_of_five_is_the_validation_split_of_a_fifth(recordings):
    root, rows = recordings
    by_fold = quiet_generator().flow_from_annotations(
        rows, root, subset="validation", fold=0, num_folds=5, shuffle=False
    )
    by_split = quiet_generator(validation_split=0.2).flow_from_annotations(
        rows, root, subset="validation", shuffle=False
    )
    assert by_fold.windows == by_split.windows


def test_test_split_is_disjoint_from_validation_and_training(recordings):
    root, rows = recordings
    generator = quiet_generator(validation_split=0.3, test_split=0.3)
    sides = {
        subset: files_of(generator.flow_from_annotations(rows, root, subset=subset))
        for subset in ("training", "validation", "test")
    }
    assert all(sides.values())
    names = [set(files) for files in sides.values()]
    assert not names[0] & names[1] and not names[0] & names[2] and not names[1] & names[2]
    assert names[0] | names[1] | names[2] == {f"rec{i:02d}.wav" for i in range(len(LENGTHS))}
    # The test recordings are in no fold either.
    folds = quiet_generator(test_split=0.3)
    for fold in range(3):
        for subset in ("training", "validation"):
            served = files_of(
                folds.flow_from_annotations(rows, root, subset=subset, fold=fold, num_folds=3)
            )
            assert not set(served) & names[2]


def test_a_group_col_keeps_its_recordings_together_in_the_folds(recordings):
    pandas = pytest.importorskip("pandas")
    root, rows = recordings
    frame = pandas.DataFrame(rows, columns=["filename", "onset", "offset", "event_label"])
    site_of = {f"rec{i:02d}.wav": f"site{i % 5}" for i in range(len(LENGTHS))}
    frame["site"] = frame.filename.map(site_of)
    seen = []
    for fold in range(3):
        iterator = quiet_generator().flow_from_annotations(
            frame, root, subset="validation", fold=fold, num_folds=3, group_col="site"
        )
        sites = {site_of[name] for name in files_of(iterator)}
        # Every recording of a site the fold holds.
        assert set(files_of(iterator)) == {n for n, s in site_of.items() if s in sites}
        seen.append(sites)
    assert sorted(s for sites in seen for s in sites) == [f"site{i}" for i in range(5)]


def test_split_errors(recordings):
    root, rows = recordings
    with pytest.raises(DatasetError, match="subset='test' needs test_split > 0"):
        quiet_generator().flow_from_annotations(rows, root, subset="test")
    with pytest.raises(DatasetError, match="num_folds=13 needs at least 13 groups"):
        quiet_generator().flow_from_annotations(
            rows, root, subset="validation", fold=0, num_folds=13
        )
    with pytest.raises(DatasetError, match=r"validation_split=0.2 cannot be combined"):
        quiet_generator(validation_split=0.2).flow_from_annotations(
            rows, root, subset="validation", fold=0, num_folds=3
        )


# --- sampling ---------------------------------------------------------------------------------


def test_balanced_sampling_gives_each_class_an_equal_share_of_every_epoch(recordings):
    root, rows = recordings
    generator = quiet_generator(
        frontend_enabled=False, sample_shape=(RATE,), disable_random_transforms=True
    )
    plain = generator.flow_from_annotations(rows, root, class_mode="sparse", batch_size=-1)
    counts = Counter(plain[0][1].astype(int).tolist())
    # dog: window 0 of each of 12; cat: window 1 of 3; background: the rest.
    assert counts == {0: 3, 1: 12, 2: sum(LENGTHS) - 15}  # classes: cat, dog, _background_
    iterator = generator.flow_from_annotations(
        rows,
        root,
        class_mode="sparse",
        batch_size=10,
        sampling="balanced",
        samples_per_epoch=90,
        seed=4,
    )
    assert len(iterator) == 9
    for epoch in range(2):
        labels = np.concatenate([iterator.batch(i, epoch)[1] for i in range(len(iterator))])
        assert Counter(labels.astype(int).tolist()) == {0: 30, 1: 30, 2: 30}
    # Weights per class: only cats.
    cats = generator.flow_from_annotations(
        rows, root, class_mode="sparse", batch_size=8, sampling={"dog": 0, "_background_": 0}
    )
    np.testing.assert_array_equal(cats[0][1], np.zeros(8))


def test_class_sampling_needs_single_label_windows(recordings):
    root, rows = recordings
    generator = quiet_generator()
    for label_mode in ("any", "fraction", "frames"):
        with pytest.raises(SettingsError, match=r"sampling='balanced' draws windows by class.*"):
            generator.flow_from_annotations(rows, root, label_mode=label_mode, sampling="balanced")
    with pytest.raises(SettingsError, match=r"sampling=\{'dog': 2\}.*annotations=None"):
        generator.flow_from_annotations(None, root, files="all", sampling={"dog": 2})


def test_per_window_weights_work_in_multi_label_modes(recordings):
    root, rows = recordings
    generator = quiet_generator()
    plain = generator.flow_from_annotations(rows, root, label_mode="fraction", shuffle=False)
    weights = np.zeros(len(plain.windows))
    chosen = [w.sample_id for w in plain.windows if w.file == "rec04.wav" and w.start == 1.0]
    weights[chosen] = 1.0  # the cat window of rec04.wav, alone
    iterator = generator.flow_from_annotations(
        rows, root, label_mode="fraction", sampling=list(weights), batch_size=4, seed=2
    )
    assert len(iterator) == -(-len(plain.windows) // 4)
    np.testing.assert_allclose(iterator.batch(0)[1], [[1.0, 0.0]] * 4)  # cat, dog


# --- executor, cores, shards ------------------------------------------------------------------


def augmenting(**kwargs):
    return quiet_generator(speed_range=(0.9, 1.1), loudness_range=(0.5, 1.5), **kwargs)


WINDOWS = dict(label_mode="frames", hop_seconds=0.5, jitter_seconds=0.2, batch_size=5, seed=8)


def test_an_executor_gives_the_batches_of_the_callers_thread(recordings):
    root, rows = recordings
    files = ["rec00.wav", "rec01.wav"]
    reference = epochs(augmenting().flow_from_annotations(rows, root, files=files, **WINDOWS))
    with augmenting().flow_from_annotations(
        rows, root, files=files, executor=ThreadExecutor(), **WINDOWS
    ) as iterator:
        assert iterator.executor_stats()["executor"] != "caller's thread"
        assert_same_epochs(reference, epochs(iterator))


@pytest.mark.slow
def test_two_worker_processes_give_the_batches_of_the_callers_thread(recordings):
    root, rows = recordings
    flow = dict(files=["rec00.wav", "rec04.wav"], sampling="balanced", **WINDOWS)
    flow["label_mode"] = "majority"
    reference = epochs(augmenting().flow_from_annotations(rows, root, **flow))
    with augmenting(cores=2).flow_from_annotations(rows, root, **flow) as iterator:
        assert_same_epochs(reference, epochs(iterator))


def test_shards_of_windows_make_the_global_batch(recordings):
    root, rows = recordings
    flow = dict(files=["rec00.wav", "rec04.wav"], sampling="balanced", **WINDOWS)
    flow.update(label_mode="majority", batch_size=4)
    whole = augmenting().flow_from_annotations(rows, root, **flow)
    parts = [whole.shard(i, 2) for i in range(2)]
    for epoch in range(2):
        for b in range(len(whole)):
            x, y = whole.batch(b, epoch)
            pieces = [part.batch(b, epoch) for part in parts]
            np.testing.assert_array_equal(np.concatenate([p[0] for p in pieces]), x)
            np.testing.assert_array_equal(np.concatenate([p[1] for p in pieces]), y)


def test_get_batch_function_is_refused(recordings):
    root, rows = recordings

    def batch_function(batch_index, filenames, classes, params):
        raise AssertionError("never called")

    generator = quiet_generator(get_batch_function=batch_function)
    with pytest.raises(SettingsError, match="cannot use the generator's get_batch_function"):
        generator.flow_from_annotations(rows, root)


def test_augmentations_that_move_audio_in_time_are_refused_for_labelled_windows(recordings):
    audiomentations = pytest.importorskip("audiomentations")
    root, rows = recordings
    nested = audiomentations.Compose(
        [
            audiomentations.Gain(p=1.0),
            audiomentations.OneOf([audiomentations.Shift(p=1.0), audiomentations.Reverse()]),
        ]
    )
    generator = quiet_generator(augmentations=nested)
    with pytest.raises(SettingsError, match=r"augmented by Reverse, Shift \(in the generator"):
        generator.flow_from_annotations(rows, root)
    stretching = quiet_generator(augmentations=[audiomentations.TimeStretch(p=1.0)])
    with pytest.raises(SettingsError, match="augmented by TimeStretch"):
        stretching.flow_from_annotations(rows, root, label_mode="frames")

    # Unlabeled windows have no labels to move; level and noise transforms keep time.
    generator.flow_from_annotations(None, root, files="all").close()
    level = quiet_generator(
        augmentations=[audiomentations.Gain(p=1.0), audiomentations.AddGaussianNoise(p=1.0)]
    )
    level.flow_from_annotations(rows, root).close()


def test_keras_image_options_are_ignored_with_a_warning(recordings):
    root, rows = recordings
    with pytest.warns(UserWarning, match="flow_from_annotations ignores color_mode"):
        quiet_generator().flow_from_annotations(rows, root, color_mode="rgb")


# --- the disk cache ---------------------------------------------------------------------------


def write_long(path, rng, rate, seconds):
    t = np.arange(round(seconds * rate)) / rate
    audio = 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)
    soundfile.write(path, audio.astype(np.float32), rate)


@pytest.fixture
def long_files(tmp_path, rng):
    """Long recordings: WAV and FLAC at the frontend's rate, an MP3, a 44.1 kHz WAV."""
    data = tmp_path / "data"
    data.mkdir()
    write_long(data / "pcm.wav", rng, RATE, 12.0)
    write_long(data / "lossless.flac", rng, RATE, 12.0)
    write_long(data / "at_44k.wav", rng, 44100, 6.0)
    if "MP3" in soundfile.available_formats():
        write_long(data / "compressed.mp3", rng, RATE, 60.0)
    names = sorted(p.name for p in data.iterdir())
    rows = [(name, 2.0, 3.5, "bird") for name in names]
    return data, rows


def counting_reads(monkeypatch) -> list[str]:
    """Patch libsndfile's reader to record the file of every decode in this process."""
    opened: list[str] = []
    original = soundfile.SoundFile.read

    def counting_read(self, *args, **kwargs):
        opened.append(os.path.basename(os.fsdecode(self.name)))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(soundfile.SoundFile, "read", counting_read)
    return opened


CACHED = dict(hop_seconds=0.75, jitter_seconds=0.3, batch_size=6, seed=5, label_mode="frames")


def test_cached_windows_equal_uncached_and_only_exact_slices_come_from_the_cache(
    long_files, tmp_path, monkeypatch
):
    data, rows = long_files
    reference = epochs(augmenting().flow_from_annotations(rows, data, **CACHED))
    cache_dir = tmp_path / "cache"
    building = augmenting().flow_from_annotations(rows, data, cache_dir=cache_dir, **CACHED)
    assert_same_epochs(reference, epochs(building))
    (folder,) = [p for p in cache_dir.iterdir() if p.is_dir()]
    assert folder.name.startswith("audio-")  # "auto" is "audio" for windows
    manifest = json.loads((folder / "manifest.json").read_text())
    # Only the files whose windows are sliced bit for bit: PCM and FLAC at 16 kHz.
    assert sorted(os.path.basename(key) for key in manifest["files"]) == [
        "lossless.flac",
        "pcm.wav",
    ]

    opened = counting_reads(monkeypatch)
    reusing = augmenting().flow_from_annotations(rows, data, cache_dir=cache_dir, **CACHED)
    assert_same_epochs(reference, epochs(reusing))
    assert "pcm.wav" not in opened and "lossless.flac" not in opened
    assert "at_44k.wav" in opened  # a window resampled alone is read from the file
    if (data / "compressed.mp3").exists():
        # A seek in MP3 decodes the window's frames within a rounding of the whole
        # decode's, not bit for bit: read from the file.
        assert "compressed.mp3" in opened


def test_cached_windows_are_served_from_the_cache_not_the_file(long_files, tmp_path):
    """With cache_validate="none", a file rewritten after the build shows which reads hit."""
    data, rows = long_files
    cache_dir = tmp_path / "cache"
    flow = dict(shuffle=False, batch_size=-1, label_mode="fraction", cache_validate="none")
    generator = quiet_generator(frontend_enabled=False, sample_shape=(RATE,))
    before = generator.flow_from_annotations(rows, data, cache_dir=cache_dir, **flow)
    x_before, _ = before[0]
    for name in ("pcm.wav", "compressed.mp3"):
        if (data / name).exists():
            audio, rate = soundfile.read(data / name, dtype="float32")
            soundfile.write(data / name, -audio, rate)  # same length, other samples
    after = generator.flow_from_annotations(rows, data, cache_dir=cache_dir, **flow)
    x_after, _ = after[0]
    for window, a, b in zip(after.windows, x_before, x_after, strict=True):
        if window.file == "pcm.wav":
            np.testing.assert_array_equal(a, b)  # the cached file
        elif window.file == "compressed.mp3" and np.any(a):
            assert not np.array_equal(a, b)  # the file itself


@pytest.mark.slow
def test_cached_windows_equal_uncached_with_two_workers(long_files, tmp_path):
    data, rows = long_files
    files = ["pcm.wav", "lossless.flac"]
    reference = epochs(augmenting().flow_from_annotations(rows, data, files=files, **CACHED))
    cache_dir = tmp_path / "cache"
    for _ in range(2):  # building, then reusing
        with augmenting(cores=2).flow_from_annotations(
            rows, data, files=files, cache_dir=cache_dir, **CACHED
        ) as iterator:
            assert_same_epochs(reference, epochs(iterator))


def test_features_cache_is_refused_for_windows(long_files, tmp_path):
    data, rows = long_files
    generator = quiet_generator(disable_random_transforms=True)
    with pytest.raises(SettingsError, match="windows of files.*use cache='audio'"):
        generator.flow_from_annotations(rows, data, cache_dir=tmp_path / "c", cache="features")


#: A training script as users write it: TensorFlow first, no ``__main__`` guard; windows of a
#: fold with balanced sampling, from two workers and the disk cache, then in the caller's thread
#: without the cache.
SCRIPT = """\
import tensorflow as tf
import os

import numpy as np

from parallel_audio import ParallelAudioDataGenerator

with open("runs.txt", "a") as runs:
    runs.write(f"{{os.getpid()}}\\n")

rows = {rows!r}
flow = dict(subset="training", fold=1, num_folds=3, sampling="balanced", hop_seconds=0.5,
            jitter_seconds=0.2, batch_size=6, seed=12)
found = {{}}
for cores, cache in ((2, {{"cache_dir": "cache"}}), (0, {{}})):
    generator = ParallelAudioDataGenerator(cores=cores, trim_threshold_db=None,
                                           speed_range=(0.9, 1.1), loudness_range=(0.5, 1.5))
    with generator.flow_from_annotations(rows, {root!r}, **flow, **cache) as iterator:
        found[cores] = [a for e in range(2) for i in range(len(iterator))
                        for a in iterator.batch(i, e)]
np.savez("workers.npz", *found[2])
np.savez("caller.npz", *found[0])
"""


@pytest.mark.slow
def test_an_unguarded_script_importing_tensorflow_gets_the_same_windows_with_workers_and_cache(
    recordings, tmp_path
):
    root, rows = recordings
    work = tmp_path / "run"
    work.mkdir()
    script = work / "train.py"
    script.write_text(SCRIPT.format(rows=rows, root=str(root)))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=work, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    assert len((work / "runs.txt").read_text().splitlines()) == 1  # the script ran once
    with np.load(work / "workers.npz") as workers, np.load(work / "caller.npz") as caller:
        assert len(workers.files) == len(caller.files) > 0
        for name in caller.files:
            assert workers[name].tobytes() == caller[name].tobytes(), name
    assert any(p.is_dir() for p in (work / "cache").iterdir())

"""flow(x, y): clips in memory, shared with the workers once, batched as files would be."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import soundfile
from support import assert_same_epochs, epochs, tone_burst

from parallel_audio import DatasetError, ParallelAudioDataGenerator

AUGMENTED = dict(
    speed_range=(0.9, 1.1),
    loudness_range=(0.6, 1.4),
    noise_colors="pink",
    noise_color_range=(0.0, 0.1),
)
TONES = {"high": 3000.0, "low": 400.0}  # sorted: the directory's class order by name


def clips_of(rate, rng, per_class=5, ragged=False):
    """Tone bursts per class, in class order; equal lengths unless ragged."""
    clips, labels = [], []
    for class_id, frequency in enumerate(TONES.values()):
        for _ in range(per_class):
            length = int(rate * (rng.uniform(0.6, 1.3) if ragged else 1.0))
            start = int(rng.integers(0, length // 3))
            clip = tone_burst(frequency, rate, length, start, start + length // 2)
            clips.append(clip + 0.003 * rng.standard_normal(length).astype(np.float32))
            labels.append(class_id)
    return clips, np.array(labels)


def write_as_files(root, clips, labels, rate):
    for k, (clip, label) in enumerate(zip(clips, labels, strict=True)):
        folder = root / list(TONES)[label]
        folder.mkdir(exist_ok=True)
        soundfile.write(folder / f"{k:03d}.wav", clip, rate, subtype="FLOAT")


@pytest.mark.parametrize(
    ("cores", "rate", "ragged"),
    [(0, 16000, False), (2, 16000, False), (0, 8000, True), (2, 22050, True)],
)
def test_flow_equals_flow_from_directory_of_the_clips_written_as_files(
    tmp_path, rng, cores, rate, ragged
):
    clips, labels = clips_of(rate, rng, ragged=ragged)
    write_as_files(tmp_path, clips, labels, rate)
    x = clips if ragged else np.stack(clips)
    one_hot = np.eye(2, dtype=np.float32)[labels]
    gen = ParallelAudioDataGenerator(cores=cores, **AUGMENTED)
    with (
        gen.flow(x, one_hot, sample_rate=rate, batch_size=4, seed=6) as from_arrays,
        gen.flow_from_directory(tmp_path, list(TONES), batch_size=4, seed=6) as from_files,
    ):
        assert_same_epochs(epochs(from_files), epochs(from_arrays))
    sparse = gen.flow(x, labels, sample_rate=rate, batch_size=4, seed=6)
    files = gen.flow_from_directory(tmp_path, list(TONES), "sparse", batch_size=4, seed=6)
    assert_same_epochs(epochs(files, 1), epochs(sparse, 1))
    sparse.close()
    files.close()


def memfd_inodes(pid):
    """Inodes of the clip memory mapped by a process."""
    inodes = set()
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            if "/memfd:parallel_audio_clips" in line:
                inodes.add(line.split()[4])
    return inodes


def clip_descriptors():
    found = []
    for entry in os.listdir("/proc/self/fd"):
        try:
            if "parallel_audio_clips" in os.readlink(f"/proc/self/fd/{entry}"):
                found.append(entry)
        except OSError:
            pass
    return found


@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="memfd is Linux's")
def test_workers_share_one_copy_and_nothing_is_left_after_close(rng):
    before_shm = set(os.listdir("/dev/shm"))
    before_fds = clip_descriptors()
    x = rng.standard_normal((64, 16000)).astype(np.float32) * 0.1
    iterator = ParallelAudioDataGenerator(cores=2).flow(x, np.arange(64) % 2, batch_size=8, seed=0)
    for i in range(len(iterator)):
        iterator[i]
    inodes = [memfd_inodes(pid) for pid in iterator.worker_pids]
    assert len(inodes) == 2 and inodes[0] and inodes[0] == inodes[1]  # one buffer, mapped
    task = iterator.tasks(0, 0)
    assert len(pickle.dumps(task)) < x[:8].nbytes / 20  # clip numbers, not samples
    iterator.close()
    assert clip_descriptors() == before_fds
    assert set(os.listdir("/dev/shm")) <= before_shm


def test_groups_keep_a_group_on_one_side(rng):
    x = rng.standard_normal((40, 4000)).astype(np.float32) * 0.1
    groups = [f"speaker{i % 6}" for i in range(40)]
    gen = ParallelAudioDataGenerator(cores=0, validation_split=0.4)
    train = gen.flow(x, np.arange(40) % 2, groups=groups, subset="training", seed=0)
    val = gen.flow(x, np.arange(40) % 2, groups=groups, subset="validation", seed=0)
    train_ids, val_ids = set(train.index.clip_ids), set(val.index.clip_ids)
    assert train_ids and val_ids and not train_ids & val_ids
    assert len(train_ids) + len(val_ids) == 40
    assert not {groups[i] for i in train_ids} & {groups[i] for i in val_ids}


def test_flow_errors_name_the_argument_and_the_clips(rng):
    gen = ParallelAudioDataGenerator(cores=0)
    x = rng.standard_normal((4, 1000)).astype(np.float32)
    with pytest.raises(DatasetError, match=r"y must have one entry per clip of x \(4\)"):
        gen.flow(x, np.arange(3))
    bad = x.copy()
    bad[2, 17] = np.nan
    with pytest.raises(DatasetError, match="clip 2 of x holds nan at sample 17"):
        gen.flow(bad)
    with pytest.raises(DatasetError, match=r"sample_weight .* clips 1 \(-1.0\)"):
        gen.flow(x, np.arange(4), sample_weight=[1, -1, 1, 1])
    with pytest.raises(DatasetError, match="class ids, whole numbers >= 0; clips 0"):
        gen.flow(x, np.array([0.5, 1, 1, 0]))
    with pytest.raises(DatasetError, match=r"shape \(2, 2, 1000\)"):
        gen.flow(x.reshape(2, 2, 1000))
    with pytest.raises(DatasetError, match="dtype int16"):
        gen.flow([np.zeros(100, np.int16)])


def test_model_fit_on_arrays(rng):
    import keras

    clips, labels = clips_of(16000, rng, per_class=16)
    gen = ParallelAudioDataGenerator(
        cores=0, samplewise_center=True, samplewise_std_normalization=True
    )
    train = gen.flow(np.stack(clips), np.eye(2)[labels], batch_size=8, seed=0)
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(train.process_params.sample_shape),
            keras.layers.AveragePooling2D(pool_size=(gen.sample_shape[0], 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    history = model.fit(train, epochs=3, verbose=0)
    assert history.history["accuracy"][-1] >= 0.9


SCRIPT = """\
import tensorflow as tf  # a training script imports TensorFlow first, and has no main guard
import os
import sys

import numpy as np
from parallel_audio import ParallelAudioDataGenerator

rng = np.random.default_rng(0)
x = rng.standard_normal((48, 16000)).astype(np.float32) * 0.1
y = np.arange(48) % 2
with open(sys.argv[1], "a") as runs:
    runs.write("run\\n")
generator = ParallelAudioDataGenerator(cores=2, loudness_range=(0.5, 1.5))
train = generator.flow(x, y, batch_size=8, seed=1)
reference = ParallelAudioDataGenerator(cores=0, loudness_range=(0.5, 1.5)).flow(
    x, y, batch_size=8, seed=1
)
for i in range(len(train)):
    for a, b in zip(train[i], reference[i]):
        assert np.array_equal(a, b), i
model = tf.keras.Sequential([tf.keras.Input(train.process_params.sample_shape),
                             tf.keras.layers.Flatten(), tf.keras.layers.Dense(2)])
model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
model.fit(train, epochs=2, verbose=0)
workers = train.worker_pids
assert workers
train.close()
reference.close()
left = []
for entry in os.listdir("/proc/self/fd"):
    try:
        if "parallel_audio_clips" in os.readlink("/proc/self/fd/" + entry):
            left.append(entry)
    except OSError:  # the listing's own descriptor, closed since
        pass
assert not left, left
print("done")
"""


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="memfd is Linux's")
def test_an_unguarded_training_script_flows_arrays_through_workers(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    runs = tmp_path / "runs.txt"
    before = set(os.listdir("/dev/shm"))
    result = subprocess.run(
        [sys.executable, str(script), str(runs)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("done")
    assert runs.read_text() == "run\n"  # the workers never ran the script
    assert set(os.listdir("/dev/shm")) <= before

"""flow_from_manifest: CSV, TSV and JSON-lines manifests, NeMo's keys, relative paths."""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
import soundfile
from support import RATE, assert_same_epochs, epochs, speech_like, write_dataset

from parallel_audio import DatasetError, ParallelAudioDataGenerator
from parallel_audio.manifest import read_manifest

AUGMENTED = dict(
    loudness_range=(0.6, 1.4),
    speed_range=(0.9, 1.1),
    noise_colors="white",
    noise_color_range=(0.0, 0.1),
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("dataset"), np.random.default_rng(5))


def generator(**kwargs):
    kwargs.setdefault("cores", 0)
    return ParallelAudioDataGenerator(**kwargs)


def listed_files(dataset, classes):
    return [
        (f"{name}/{path.name}", name)
        for name in classes
        for path in sorted((dataset / name).iterdir())
    ]


@pytest.mark.parametrize("extension", ["csv", "tsv", "jsonl"])
def test_a_manifest_next_to_the_data_gives_the_directory_batches(
    dataset, extension, tmp_path, monkeypatch
):
    classes = ["low", "high"]
    rows = listed_files(dataset, classes)
    path = dataset / f"train.{extension}"
    if extension == "jsonl":
        path.write_text("".join(json.dumps({"path": f, "word": c}) + "\n" for f, c in rows))
    else:
        with open(path, "w", newline="") as file:
            writer = csv.writer(file, delimiter="," if extension == "csv" else "\t")
            writer.writerow(["path", "word"])
            writer.writerows(rows)
    monkeypatch.chdir(tmp_path)  # relative paths resolve against the manifest, not here
    gen = generator(validation_split=0.3, **AUGMENTED)
    from_manifest = gen.flow_from_manifest(
        path,
        x_col="path",
        y_col="word",
        classes=classes,
        subset="training",
        batch_size=4,
        seed=9,
    )
    from_directory = gen.flow_from_directory(
        dataset, classes, subset="training", batch_size=4, seed=9
    )
    assert from_manifest.filenames == from_directory.filenames
    assert_same_epochs(epochs(from_directory), epochs(from_manifest))


def test_nemo_manifest_offsets_and_durations_are_regions(tmp_path, rng):
    long = speech_like(rng, RATE * 5, RATE)
    audio = tmp_path / "audio"
    audio.mkdir()
    soundfile.write(audio / "talk.wav", long, RATE, subtype="PCM_16")
    spans = [(0.25, 1.0, "a"), (1.5, 0.75, "b"), (3.0, 1.5, "a")]
    lines, expected = [], []
    for k, (offset, duration, label) in enumerate(spans):
        segment = long[round(offset * RATE) : round((offset + duration) * RATE)]
        soundfile.write(audio / f"seg{k}.wav", segment, RATE)
        lines.append(
            {
                "audio_filepath": "audio/talk.wav",
                "offset": offset,
                "duration": duration,
                "label": label,
            }
        )
        expected.append({"filename": f"seg{k}.wav", "class": label})
    manifest = tmp_path / "manifest.json"
    manifest.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    gen = generator(**AUGMENTED)
    from_nemo = gen.flow_from_manifest(manifest, batch_size=2, seed=2)
    from_files = gen.flow_from_dataframe(expected, audio, batch_size=2, seed=2)
    assert from_nemo.class_indices == {"a": 0, "b": 1}
    assert_same_epochs(epochs(from_files), epochs(from_nemo))


def test_an_unlabeled_nemo_manifest_gives_x_alone(tmp_path, rng):
    soundfile.write(tmp_path / "a.wav", speech_like(rng, RATE, RATE), RATE)
    (tmp_path / "m.json").write_text(json.dumps({"audio_filepath": "a.wav", "duration": 1.0}))
    x = generator().flow_from_manifest(tmp_path / "m.json", batch_size=1, seed=0)[0]
    assert isinstance(x, np.ndarray) and x.shape[0] == 1


def test_sep_overrides_the_extension(dataset, tmp_path):
    path = tmp_path / "list.txt"
    rows = listed_files(dataset, ["low"])
    path.write_text("filename;class\n" + "".join(f"{f};{c}\n" for f, c in rows))
    iterator = generator().flow_from_manifest(path, directory=dataset, sep=";", seed=0)
    assert sorted(iterator.filenames) == sorted(f for f, _ in rows)


def error_of(tmp_path, name, text, **kwargs):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DatasetError) as caught:
        generator().flow_from_manifest(path, **kwargs)
    return str(caught.value)


def test_manifest_errors_name_the_file_and_the_line(tmp_path):
    message = error_of(tmp_path, "a.jsonl", '{"filename": "x.wav", "class": "y"}\n{oops\n')
    assert "a.jsonl" in message and "line 2" in message and "JSON" in message
    message = error_of(tmp_path, "b.csv", "filename,class\nx.wav,y\nz.wav\n")
    assert "b.csv" in message and "line 3" in message and "1 fields" in message
    message = error_of(tmp_path, "c.csv", "path,label\nx.wav,y\n")
    assert "c.csv" in message and "'filename'" in message and "'path', 'label'" in message
    message = error_of(
        tmp_path, "d.json", json.dumps({"audio_filepath": "x.wav", "duration": -1}) + "\n"
    )
    assert "d.json" in message and "line 1" in message and "'duration'" in message
    message = error_of(
        tmp_path, "e.csv", "filename,class,w\nx.wav,y,1\nz.wav,y,-3\n", weight_col="w"
    )
    assert "'w'" in message and "line 3" in message and "'-3'" in message
    message = error_of(tmp_path, "f.jsonl", "[1, 2]\n")
    assert "f.jsonl" in message and "line 1" in message and "object" in message
    (tmp_path / "g.csv").write_bytes(b"filename,class\n\xff\xfe.wav,y\n")
    with pytest.raises(DatasetError, match="not UTF-8"):
        read_manifest(tmp_path / "g.csv")


def test_model_fit_on_a_manifest(dataset, tmp_path):
    import keras

    path = tmp_path / "train.csv"
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["filename", "class"])
        writer.writerows(
            (os.path.join(dataset, f), c) for f, c in listed_files(dataset, ["low", "high"])
        )
    gen = generator(samplewise_center=True, samplewise_std_normalization=True)
    train = gen.flow_from_manifest(path, batch_size=8, seed=0)
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
        optimizer=keras.optimizers.Adam(0.05), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    history = model.fit(train, epochs=3, verbose=0)
    assert history.history["accuracy"][-1] >= 0.9

"""flow_from_dataframe: tables of files and labels become the dataset index directories do."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import soundfile
from sklearn.preprocessing import MultiLabelBinarizer
from support import RATE, assert_same_epochs, epochs, speech_like, write_dataset

from parallel_audio import DatasetError, ParallelAudioDataGenerator, SettingsError

AUGMENTED = dict(
    speed_range=(0.9, 1.1),
    loudness_range=(0.6, 1.4),
    noise_colors="all",
    noise_color_range=(0.0, 0.1),
    offset_range=(0.0, 1.0),
)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("dataset"), np.random.default_rng(11))


def generator(**kwargs):
    kwargs.setdefault("cores", 0)
    return ParallelAudioDataGenerator(**kwargs)


def rows_of(dataset, classes, unlisted=("other",)):
    """The table listing a directory's class files in the order its index holds them."""
    rows = []
    for name in classes:
        for path in sorted((dataset / name).iterdir()):
            rows.append({"filename": f"{name}/{path.name}", "class": name})
    pool = sorted(f"{name}/{path.name}" for name in unlisted for path in (dataset / name).iterdir())
    rows.extend({"filename": path, "class": path.split("/")[0]} for path in pool)
    return rows


@pytest.mark.parametrize("cores", [0, 2])
@pytest.mark.parametrize("as_pandas", [True, False], ids=["DataFrame", "dicts"])
def test_a_table_of_a_directory_gives_its_batches_for_two_epochs(dataset, cores, as_pandas):
    classes = ["low", "high", "_unknown_", "_silence_"]
    gen = generator(cores=cores, validation_split=0.3, **AUGMENTED)
    rows = rows_of(dataset, ["low", "high"])
    table = pd.DataFrame(rows) if as_pandas else rows
    with (
        gen.flow_from_directory(
            dataset, classes, subset="training", batch_size=5, seed=3
        ) as from_directory,
        gen.flow_from_dataframe(
            table, dataset, classes=classes, subset="training", batch_size=5, seed=3
        ) as from_table,
    ):
        assert from_table.filenames == from_directory.filenames
        np.testing.assert_array_equal(from_table.classes, from_directory.classes)
        assert from_table.class_indices == from_directory.class_indices
        assert_same_epochs(epochs(from_directory), epochs(from_table))


def test_sampling_of_a_table_is_the_sampling_of_its_directory(dataset):
    # sampling and samples_per_epoch reach every flow_* method through the shared plan.
    gen = generator(**AUGMENTED)
    options = dict(batch_size=6, seed=4, sampling="balanced", samples_per_epoch=30)
    with (
        gen.flow_from_directory(dataset, ["low", "high"], **options) as from_directory,
        gen.flow_from_dataframe(
            rows_of(dataset, ["low", "high"], unlisted=()),
            dataset,
            classes=["low", "high"],
            **options,
        ) as from_table,
    ):
        assert len(from_table) == 5
        first, second = epochs(from_directory), epochs(from_table)
        assert_same_epochs(first, second)
        for epoch in second:
            labels = np.concatenate([y for _, y in epoch]).argmax(axis=1)
            assert np.bincount(labels).tolist() == [15, 15]


def test_list_cells_and_label_sep_strings_give_the_indicator_rows(dataset):
    files = [f"low/{p.name}" for p in sorted((dataset / "low").iterdir())][:6]
    labels = [["dog", "bark"], ["cat"], [], ["bark"], ["cat", "dog"], ["dog"]]
    expected = MultiLabelBinarizer(classes=["bark", "cat", "dog"]).fit_transform(labels)
    gen = generator()
    as_lists = pd.DataFrame({"filename": files, "class": labels})
    as_strings = [
        {"filename": f, "class": " | ".join(row)} for f, row in zip(files, labels, strict=True)
    ]
    for table, options in (
        (as_lists, {"class_mode": "multi_label"}),
        (as_strings, {"class_mode": "multi_label", "label_sep": "|"}),
        (as_strings, {"class_mode": "categorical", "label_sep": "|"}),
    ):
        iterator = gen.flow_from_dataframe(
            table, dataset, batch_size=6, shuffle=False, seed=0, **options
        )
        assert iterator.class_indices == {"bark": 0, "cat": 1, "dog": 2}
        _, y = iterator[0]
        np.testing.assert_array_equal(y, expected)
    # A list cell makes categorical rows multi-hot too (Keras' rule).
    _, y = gen.flow_from_dataframe(as_lists, dataset, batch_size=6, shuffle=False, seed=0)[0]
    np.testing.assert_array_equal(y, expected)


def test_weights_come_back_in_plan_order(dataset):
    rows = rows_of(dataset, ["low", "high"], unlisted=())
    weights = np.arange(len(rows)) * 0.25 + 0.5
    table = pd.DataFrame(rows).assign(weight=weights)
    for cores in (0, 2):
        with generator(cores=cores).flow_from_dataframe(
            table, dataset, weight_col="weight", batch_size=7, seed=5
        ) as iterator:
            for _ in range(2):
                for i in range(len(iterator)):
                    x, y, w = iterator[i]
                    ids = iterator.batch_sample_ids(i)
                    np.testing.assert_array_equal(w, weights[ids].astype(np.float32))
                    np.testing.assert_array_equal(y.argmax(axis=1), iterator.classes[ids])
                    assert len(x) == len(ids)
                iterator.on_epoch_end()


def test_group_col_keeps_a_group_on_one_side_whatever_the_row_order(dataset):
    rows = rows_of(dataset, ["low", "high"], unlisted=())
    for i, row in enumerate(rows):
        row["session"] = f"session{i % 7}"
    session = {row["filename"]: row["session"] for row in rows}
    gen = generator(validation_split=0.4)
    sides = {}
    for name, order in (("forward", rows), ("reversed", rows[::-1])):
        for subset in ("training", "validation"):
            iterator = gen.flow_from_dataframe(
                order, dataset, group_col="session", subset=subset, seed=0
            )
            sides[name, subset] = set(iterator.filenames)
    for name in ("forward", "reversed"):
        training, validation = sides[name, "training"], sides[name, "validation"]
        assert training and validation and not training & validation
        assert len(training) + len(validation) == len(rows)
        # No session on both sides.
        assert not {session[f] for f in training} & {session[f] for f in validation}
    assert sides["forward", "validation"] == sides["reversed", "validation"]


def test_unknown_rows_are_drawn_and_sized_as_in_a_directory(dataset):
    rows = rows_of(dataset, ["low", "high"])
    gen = generator(unknown_class_percentage=0.5, silence_class_percentage=0.25)
    iterator = gen.flow_from_dataframe(
        rows, dataset, classes=["low", "high", "_unknown_", "_silence_"], seed=1
    )
    counts = iterator.index.counts()
    smallest = min(counts["low"], counts["high"])
    assert counts["_unknown_"] == int(np.floor(0.5 * smallest + 0.5))
    assert counts["_silence_"] == int(np.floor(0.25 * smallest + 0.5))
    unknown = [f for f, c in zip(iterator.filenames, iterator.classes, strict=True) if c == 2]
    assert all(f.startswith("other/") for f in unknown)
    assert iterator.filenames[-counts["_silence_"] :] == [None] * counts["_silence_"]


def test_sparse_binary_raw_input_and_unlabeled_modes(dataset):
    both = rows_of(dataset, ["low", "high"], unlisted=())
    rows = both[:4] + both[-4:]
    for i, row in enumerate(rows):
        row["score"] = i / 8
        row["other_score"] = -float(i)
    table = pd.DataFrame(rows)
    gen = generator()
    flow = dict(directory=dataset, batch_size=8, shuffle=False, seed=0)
    names = sorted({row["class"] for row in rows})
    expected_ids = np.array([names.index(row["class"]) for row in rows])
    _, y = gen.flow_from_dataframe(table, class_mode="sparse", **flow)[0]
    np.testing.assert_array_equal(y, expected_ids)
    _, y = gen.flow_from_dataframe(table, class_mode="binary", **flow)[0]
    np.testing.assert_array_equal(y, expected_ids)
    _, y = gen.flow_from_dataframe(table, y_col="score", class_mode="raw", **flow)[0]
    np.testing.assert_array_equal(y, np.arange(8, dtype=np.float32) / 8)
    _, y = gen.flow_from_dataframe(table, y_col=["score", "other_score"], class_mode="raw", **flow)[
        0
    ]
    np.testing.assert_array_equal(y[:, 1], -np.arange(8, dtype=np.float32))
    x, target = gen.flow_from_dataframe(table, class_mode="input", **flow)[0]
    np.testing.assert_array_equal(x, target)
    unlabeled = gen.flow_from_dataframe(table[["filename"]], y_col=None, class_mode=None, **flow)
    np.testing.assert_array_equal(unlabeled[0], x)


def test_regions_of_a_table_equal_the_spans_written_as_files(tmp_path, rng):
    long = speech_like(rng, RATE * 6, RATE)
    soundfile.write(tmp_path / "long.wav", long, RATE, subtype="PCM_16")
    spans = [(0.5, 1.5), (2.0, 2.8), (4.1, 5.6)]
    for k, (start, end) in enumerate(spans):
        soundfile.write(
            tmp_path / f"span{k}.wav", long[round(start * RATE) : round(end * RATE)], RATE
        )
    regions = [{"filename": "long.wav", "start": s, "end": e, "class": "speech"} for s, e in spans]
    files = [{"filename": f"span{k}.wav", "class": "speech"} for k in range(len(spans))]
    gen = generator(**AUGMENTED)
    from_regions = gen.flow_from_dataframe(
        regions, tmp_path, start_col="start", end_col="end", batch_size=2, seed=4
    )
    from_files = gen.flow_from_dataframe(files, tmp_path, batch_size=2, seed=4)
    assert_same_epochs(epochs(from_files), epochs(from_regions))


# ----------------------------------------------------------------------------- errors


def error_of(table, **kwargs):
    kwargs.setdefault("directory", "/nowhere")
    with pytest.raises((DatasetError, SettingsError)) as caught:
        generator().flow_from_dataframe(table, **kwargs)
    return str(caught.value)


def test_errors_name_the_column_and_the_rows():
    table = pd.DataFrame({"path": ["a.wav", "b.wav"], "label": ["x", "y"]})
    message = error_of(table)
    assert "'filename'" in message and "'path'" in message and "'label'" in message

    rows = [{"filename": "a.wav", "class": "x"}, {"filename": 3, "class": "y"}]
    message = error_of(rows)
    assert "'filename'" in message and "1 (3)" in message and "string" in message

    regions = pd.DataFrame(
        {
            "filename": ["a.wav", "b.wav", "c.wav"],
            "class": ["x", "y", "x"],
            "start": [0.0, 2.0, 1.0],
            "end": [1.0, 2.0, 0.5],
        },
        index=["r0", "r1", "r2"],
    )
    message = error_of(regions, start_col="start", end_col="end")
    assert "'end'" in message and "'r1'" in message and "'r2'" in message
    assert "'r0'" not in message

    negative = regions.assign(start=[0.0, -1.0, 0.0], end=[1.0, 2.0, 3.0])
    message = error_of(negative, start_col="start", end_col="end")
    assert "'start'" in message and "negative" in message and "'r1'" in message

    three = pd.DataFrame({"filename": ["a", "b", "c"], "class": ["x", "y", "z"]})
    message = error_of(three, class_mode="binary")
    assert "binary" in message and "3" in message and "two" in message

    message = error_of(three, classes=["x"])
    assert "2 rows" in message and "'class'" in message and "1 ('y')" in message
    assert "unknown_labels='drop'" in message

    weights = three.assign(w=[1.0, float("nan"), -2.0])
    message = error_of(weights, weight_col="w")
    assert "'w'" in message and "1 (nan)" in message and "2 (-2.0)" in message


def test_unknown_labels_drop_leaves_rows_out_with_a_warning(dataset):
    rows = rows_of(dataset, ["low", "high"])
    with pytest.warns(UserWarning, match="left out .* rows"):
        iterator = generator().flow_from_dataframe(
            rows, dataset, classes=["low", "high"], unknown_labels="drop", seed=0
        )
    assert not any(f.startswith("other/") for f in iterator.filenames)
    assert iterator.samples == sum(1 for row in rows if row["class"] != "other")


def test_an_unreadable_row_names_its_file_in_the_batch_error_or_is_skipped(dataset, tmp_path):
    rows = rows_of(dataset, ["low"], unlisted=())
    (tmp_path / "broken.wav").write_text("not audio")
    rows.append({"filename": str(tmp_path / "broken.wav"), "class": "low"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        iterator = generator().flow_from_dataframe(
            rows, dataset, on_error="skip", shuffle=False, seed=0
        )
    assert any("broken.wav" in str(w.message) for w in caught)
    assert iterator.samples == len(rows) - 1
    assert iterator.skipped_files[0][0].endswith("broken.wav")


# ----------------------------------------------------------------------------- training


def test_model_fit_on_a_table_and_multi_label_with_binary_crossentropy(dataset):
    import keras

    rows = rows_of(dataset, ["low", "high"], unlisted=())
    # Multi-label: "tone" on every row, "low"/"high" by its folder; weights favour nothing.
    table = pd.DataFrame(
        {
            "filename": [row["filename"] for row in rows],
            "labels": [["tone", row["class"]] for row in rows],
            "weight": 1.0,
        }
    )
    gen = generator(samplewise_center=True, samplewise_std_normalization=True)
    train = gen.flow_from_dataframe(
        table,
        dataset,
        y_col="labels",
        class_mode="multi_label",
        weight_col="weight",
        batch_size=8,
        seed=0,
    )
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(train.process_params.sample_shape),
            keras.layers.AveragePooling2D(pool_size=(gen.sample_shape[0], 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="sigmoid"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(0.05),
        loss="binary_crossentropy",
        metrics=[keras.metrics.BinaryAccuracy()],
    )
    history = model.fit(train, epochs=4, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["binary_accuracy"][-1] >= 0.9
    predictions = model.predict(train, verbose=0)
    assert predictions.shape == (train.samples, 3)
    assert train.class_indices == {"high": 0, "low": 1, "tone": 2}
    assert (predictions[:, 2] > 0.5).all()  # every row holds "tone"

"""cross_validate and iter_folds: per-fold results, the table's statistics, resuming, workers."""

from __future__ import annotations

import csv
import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile
from support import assert_gone, is_gone

from parallel_audio import ParallelAudioDataGenerator, SettingsError, cross_validate, iter_folds
from parallel_audio.cli.config_file import load_config
from parallel_audio.dataset_index import speaker_group

RATE = 16000
CLASSES = ["low", "mid", "high"]


def write_speakers(root: Path, speakers: int = 9, per_speaker: int = 2) -> Path:
    rng = np.random.default_rng(2)
    for c, name in enumerate(CLASSES):
        (root / name).mkdir(parents=True)
        for s in range(speakers):
            for i in range(per_speaker):
                t = np.arange(RATE // 4) / RATE
                f = (400, 1000, 2500)[c] * rng.uniform(0.95, 1.05)
                x = 0.3 * np.sin(2 * np.pi * f * t) + 0.01 * rng.standard_normal(t.size)
                soundfile.write(root / name / f"spk{s}_nohash_{i}.wav", x.astype(np.float32), RATE)
    return root


@pytest.fixture(scope="module")
def speakers(tmp_path_factory) -> Path:
    return write_speakers(tmp_path_factory.mktemp("speakers"))


def tiny_model(train):
    import keras

    model = keras.Sequential(
        [
            keras.Input(train.process_params.sample_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(train.num_classes, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def read_results(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file))


def test_iter_folds_yields_each_fold_and_closes_its_workers(speakers):
    generator = ParallelAudioDataGenerator(cores=1)
    seen_validation = []
    pids = []
    for k, train, validation in iter_folds(generator, speakers, classes=CLASSES, num_folds=3):
        assert train.is_running and validation.is_running
        pids.extend(train.worker_pids + validation.worker_pids)
        assert train.worker_pids  # worker processes run while the fold is in use
        train_groups = {speaker_group(f) for f in train.filenames}
        validation_groups = {speaker_group(f) for f in validation.filenames}
        assert train_groups.isdisjoint(validation_groups)
        assert validation.shuffle is False and train.seed == k
        seen_validation.append(set(validation.filenames))
        previous = (train, validation)
        x, _ = train.batch(0)  # the workers compute
        assert x.shape[0] > 0
    # Every fold's workers stopped before the next fold started, and the last ones at the end.
    assert not previous[0].is_running and not previous[1].is_running
    assert_gone(pids)
    assert sum(len(v) for v in seen_validation) == len(CLASSES) * 9 * 2


def test_cross_validate_writes_results_and_resumes_after_an_interruption(speakers, tmp_path):
    generator = ParallelAudioDataGenerator(cores=0, speed_range=(0.9, 1.1))
    results_dir = tmp_path / "cv"
    built = []

    def failing_on_fold_two(train):
        built.append(train.seed)
        if len(built) == 3:
            raise KeyboardInterrupt  # as Ctrl-C during the third fold
        return tiny_model(train)

    kwargs = dict(
        classes=CLASSES,
        num_folds=4,
        fit_kwargs={"epochs": 2, "verbose": 0},
        results_dir=results_dir,
        seed=10,
        batch_size=8,
    )
    with pytest.raises(KeyboardInterrupt):
        cross_validate(generator, speakers, build_model=failing_on_fold_two, **kwargs)
    assert sorted(p.name for p in results_dir.glob("fold_*/history.json")) == ["history.json"] * 2
    assert not (results_dir / "results.csv").exists()

    built.clear()
    lines = []
    result = cross_validate(
        generator, speakers, build_model=failing_on_fold_two, progress=lines.append, **kwargs
    )
    assert built == [12, 13]  # folds 0 and 1 were not trained again
    assert lines[0] == "fold 1/4: done before, skipped" and len(lines) == 2 + 2 * 2

    rows = read_results(results_dir / "results.csv")
    assert [row["fold"] for row in rows] == ["0", "1", "2", "3", "mean", "std"]
    for k in range(4):
        history = json.loads((results_dir / f"fold_{k}" / "history.json").read_text())
        assert (results_dir / f"fold_{k}" / "model.keras").is_file()
        h = history["history"]
        assert len(h["loss"]) == 2
        assert float(rows[k]["final_val_accuracy"]) == pytest.approx(h["val_accuracy"][-1])
        assert float(rows[k]["best_val_loss"]) == pytest.approx(min(h["val_loss"]))
        assert float(rows[k]["best_val_accuracy"]) == pytest.approx(max(h["val_accuracy"]))
    # The mean and std rows are numpy's over the fold rows.
    for column in ("final_val_accuracy", "best_val_loss", "validation_samples"):
        values = np.array([float(rows[k][column]) for k in range(4)])
        assert float(rows[4][column]) == pytest.approx(np.mean(values), rel=1e-12)
        assert float(rows[5][column]) == pytest.approx(np.std(values), rel=1e-12, abs=1e-15)
        assert result["mean"][column] == pytest.approx(np.mean(values), rel=1e-12)
    sizes = [int(rows[k]["validation_samples"]) for k in range(4)]
    assert sum(sizes) == len(CLASSES) * 9 * 2

    summary = json.loads((results_dir / "summary.json").read_text())
    assert summary["generator"] == generator.get_config()
    assert summary["fold_seeds"] == [10, 11, 12, 13] and summary["classes"] == CLASSES
    assert {"parallel_audio", "keras", "numpy", "python"} <= set(summary["versions"])
    # config.yaml is a config file for the command line: the same generator, classes, seed.
    settings = load_config(results_dir / "config.yaml")
    assert settings.classes == CLASSES and settings.seed == 10 and settings.batch_size == 8
    assert settings.generator_kwargs["speed_range"] == [0.9, 1.1]

    # Other workers change no batch: the run resumes (nothing left to train).
    generator.cores = 1
    built.clear()
    cross_validate(generator, speakers, build_model=failing_on_fold_two, **kwargs)
    assert built == []
    # Other settings in the same results_dir are refused rather than mixed in.
    generator.speed_range = (0.8, 1.2)
    with pytest.raises(SettingsError, match="other generator"):
        cross_validate(generator, speakers, build_model=tiny_model, **kwargs)


def test_the_cv_command_prints_a_line_per_fold_and_the_table(speakers, tmp_path, capsys):
    from parallel_audio.cli import main

    (tmp_path / "models.py").write_text(
        "import keras\n\n"
        "def build(train):\n"
        "    model = keras.Sequential([\n"
        "        keras.Input(train.process_params.sample_shape),\n"
        "        keras.layers.Flatten(),\n"
        "        keras.layers.Dense(train.num_classes, activation='softmax')])\n"
        "    model.compile(optimizer='adam', loss='categorical_crossentropy',\n"
        "                  metrics=['accuracy'])\n"
        "    return model\n"
    )
    results_dir = tmp_path / "out"
    argv = ["cv", str(speakers), "--model", f"{tmp_path / 'models.py'}:build", "--num-folds", "2"]
    argv += ["--results-dir", str(results_dir), "--cores", "0", "--fold-strategy", "stratified"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "fold 1/2: training on" in out and "fold 2/2: training on" in out
    table = out.split("\n\n")[1].splitlines()
    assert table[0].split()[0] == "fold" and "final_val_accuracy" in table[0]
    assert [line.split()[0] for line in table[1:]] == ["0", "1", "mean", "std"]
    assert len(read_results(results_dir / "results.csv")) == 4
    # Run again: both folds are skipped.
    assert main(argv) == 0
    assert capsys.readouterr().out.count("done before, skipped") == 2

    assert main(["cv", str(speakers), "--model", "nowhere:build", "--cores", "0"]) == 2
    assert "cannot import 'nowhere'" in capsys.readouterr().err


# ----------------------------------------------------------------------------- other sources


def speaker_table(root: Path) -> pd.DataFrame:
    """The rows of the speakers dataset, its speaker in a column of its own."""
    rows = [
        {
            "filename": path.relative_to(root).as_posix(),
            "class": path.parent.name,
            "speaker": path.name.split("_nohash_")[0],
        }
        for path in sorted(root.glob("*/*.wav"))
    ]
    return pd.DataFrame(rows)


def test_cross_validate_over_a_dataframe_resumes_and_stops_each_folds_workers(
    speakers, tmp_path, monkeypatch
):
    table = speaker_table(speakers)
    generator = ParallelAudioDataGenerator(cores=1)
    # Record the worker processes of every iterator each fold opens (training, validation).
    workers: dict[int, list[int]] = {}
    original = ParallelAudioDataGenerator.flow_from_dataframe

    @functools.wraps(original)
    def recording(self, *args, **kwargs):
        iterator = original(self, *args, **kwargs)
        workers.setdefault(kwargs["fold"], []).extend(iterator.worker_pids)
        return iterator

    monkeypatch.setattr(ParallelAudioDataGenerator, "flow_from_dataframe", recording)
    built = []
    interrupt = [True]

    def interrupted_on_the_second_fold(train):
        fold = train.seed - 20
        assert len(workers[fold]) == 2 and not any(is_gone(p) for p in workers[fold])
        # The workers of every earlier fold are gone before this fold's model is built.
        earlier = [p for k, pids in workers.items() if k != fold for p in pids]
        assert all(is_gone(p) for p in earlier), earlier
        built.append(fold)
        if fold == 1 and interrupt:
            interrupt.clear()
            raise KeyboardInterrupt  # as Ctrl-C during the second fold, once
        return tiny_model(train)

    kwargs = dict(
        flow="flow_from_dataframe",
        directory=speakers,
        group_col="speaker",
        num_folds=3,
        fold_strategy="balanced",
        fit_kwargs={"epochs": 2, "verbose": 0},
        results_dir=tmp_path / "cv",
        seed=20,
        batch_size=8,
    )
    with pytest.raises(KeyboardInterrupt):
        cross_validate(generator, table, build_model=interrupted_on_the_second_fold, **kwargs)
    assert_gone([p for pids in workers.values() for p in pids])  # the interrupted fold's too
    assert [p.parent.name for p in (tmp_path / "cv").glob("fold_*/history.json")] == ["fold_0"]

    built.clear()
    workers.clear()
    result = cross_validate(generator, table, build_model=interrupted_on_the_second_fold, **kwargs)
    assert built == [1, 2] and sorted(workers) == [1, 2]  # fold 0 was not opened again
    assert_gone([p for pids in workers.values() for p in pids])

    rows = read_results(tmp_path / "cv" / "results.csv")
    assert [row["fold"] for row in rows] == ["0", "1", "2", "mean", "std"]
    for column in ("final_val_accuracy", "best_val_loss", "final_loss", "training_samples"):
        values = np.array([float(rows[k][column]) for k in range(3)])
        assert float(rows[3][column]) == pytest.approx(np.mean(values), rel=1e-12)
        assert float(rows[4][column]) == pytest.approx(np.std(values), rel=1e-12, abs=1e-15)
        assert result["std"][column] == pytest.approx(np.std(values), rel=1e-12, abs=1e-15)
    # Every row validated in exactly one fold, trained on in the others.
    validation = [int(rows[k]["validation_samples"]) for k in range(3)]
    training = [int(rows[k]["training_samples"]) for k in range(3)]
    assert sum(validation) == len(table)
    assert [t + v for t, v in zip(training, validation, strict=True)] == [len(table)] * 3
    summary = json.loads((tmp_path / "cv" / "summary.json").read_text())
    assert summary["flow"] == "flow_from_dataframe" and summary["classes"] is None
    assert summary["source"].startswith(f"DataFrame of {len(table)} rows")
    assert summary["flow_kwargs"]["group_col"] == "speaker"
    # A run over the directory is another run: refused in the same results_dir.
    with pytest.raises(SettingsError, match="other flow"):
        cross_validate(
            generator,
            speakers,
            classes=CLASSES,
            build_model=tiny_model,
            **{k: v for k, v in kwargs.items() if k not in ("flow", "directory", "group_col")},
        )


def test_iter_folds_reads_a_manifest_clips_and_a_directory_alike(speakers, tmp_path):
    table = speaker_table(speakers)
    manifest = tmp_path / "rows.csv"
    table.to_csv(manifest, index=False)
    generator = ParallelAudioDataGenerator(cores=0)

    def validation_sets(*args, **kwargs):
        sets = []
        for _, train, validation in iter_folds(generator, *args, num_folds=3, **kwargs):
            assert train.samples + validation.samples == len(table)
            sets.append(sorted(validation.filenames))
        return sets

    by_directory = validation_sets(speakers, classes=CLASSES, fold_strategy="stratified")
    assert sorted(f for fold in by_directory for f in fold) == sorted(table["filename"])
    # The directory keyword of calls written before other sources were read still works.
    assert validation_sets(directory=speakers, classes=CLASSES, fold_strategy="stratified") == (
        by_directory
    )
    # The same files in a manifest (their speaker from the file name): the same folds.
    by_manifest = validation_sets(
        manifest,
        flow="flow_from_manifest",
        directory=speakers,
        classes=CLASSES,
        fold_strategy="stratified",
    )
    assert by_manifest == by_directory
    # Clips in memory, grouped by speaker.
    x = np.zeros((len(table), 400), np.float32)
    y = np.array([CLASSES.index(c) for c in table["class"]])
    groups = list(table["speaker"])
    seen = []
    for _, train, validation in iter_folds(
        generator, x, flow="flow", y=y, groups=groups, num_folds=3, fold_strategy="balanced"
    ):
        ids = set(validation.index.clip_ids)
        assert {groups[i] for i in ids}.isdisjoint({groups[i] for i in train.index.clip_ids})
        seen.append(ids)
    assert sorted(i for ids in seen for i in ids) == list(range(len(table)))

    with pytest.raises(SettingsError, match="flow must name a flow_\\* method"):
        next(iter_folds(generator, speakers, classes=CLASSES, flow="fit"))
    with pytest.raises(SettingsError, match="flow takes no classes"):
        next(iter_folds(generator, x, flow="flow", y=y, classes=CLASSES))
    with pytest.raises(SettingsError, match="flow_from_directory needs classes"):
        next(iter_folds(generator, speakers))


def test_the_cv_command_reads_a_manifest(speakers, tmp_path, capsys):
    from parallel_audio.cli import main

    table = speaker_table(speakers)
    table.rename(columns={"filename": "path", "class": "word"}).to_csv(
        tmp_path / "rows.csv", index=False
    )
    (tmp_path / "models.py").write_text(
        "from keras import Input, Sequential, layers\n\n"
        "def build(train):\n"
        "    model = Sequential([Input(train.process_params.sample_shape), layers.Flatten(),\n"
        "                        layers.Dense(train.num_classes, activation='softmax')])\n"
        "    model.compile(optimizer='adam', loss='categorical_crossentropy',\n"
        "                  metrics=['accuracy'])\n"
        "    return model\n"
    )
    results_dir = tmp_path / "out"
    argv = ["cv", str(speakers), "--manifest", str(tmp_path / "rows.csv"), "--num-folds", "2"]
    argv += ["--model", f"{tmp_path / 'models.py'}:build", "--results-dir", str(results_dir)]
    argv += ["--x-col", "path", "--y-col", "word", "--group-col", "speaker", "--cores", "0"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "fold 1/2: training on" in out and "fold 2/2: training on" in out
    rows = read_results(results_dir / "results.csv")
    assert [row["fold"] for row in rows] == ["0", "1", "mean", "std"]
    assert sum(int(row["validation_samples"]) for row in rows[:2]) == len(table)
    summary = json.loads((results_dir / "summary.json").read_text())
    assert summary["flow"] == "flow_from_manifest"
    assert summary["source"] == str(tmp_path / "rows.csv")

    assert main(["cv", "--model", "models:build", "--cores", "0"]) == 2
    assert "cv needs DATA_DIR (a folder per class) or --manifest FILE" in capsys.readouterr().err
    assert main(["cv", str(speakers), "--group-col", "speaker", "--model", "m:b"]) == 2
    assert "--group-col names a manifest's column" in capsys.readouterr().err

"""cross_validate and iter_folds: per-fold results, the table's statistics, resuming, workers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile
from support import assert_gone

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

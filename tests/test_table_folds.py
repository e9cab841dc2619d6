"""Grouped k-fold and the test split on tables (DataFrame, manifest) and in-memory clips.

The expectations are independent of the code: the partition properties every split must
have, scikit-learn's GroupKFold, the documented hash rule written here with hashlib, and the
splits flow_from_directory makes of the same files.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from parallel_audio import ParallelAudioDataGenerator
from parallel_audio.dataset_index import speaker_group
from parallel_audio.errors import DatasetError
from parallel_audio.splits import FOLD_STRATEGIES

CLASSES = ["yes", "no", "up"]


def hash_fraction(group: str) -> float:
    """The documented rule, written independently: sha1 of the group, first 64 bits."""
    return int(hashlib.sha1(group.encode()).hexdigest()[:16], 16) / 2**64


def uneven_table(num_speakers: int = 30, seed: int = 3) -> pd.DataFrame:
    """Rows of speakers with different numbers of files per class; a session column too."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(num_speakers):
        weights = rng.dirichlet(np.full(len(CLASSES), 0.5))
        for c, name in enumerate(CLASSES):
            for i in range(int(round(weights[c] * (2 + s % 7)))):
                rows.append(
                    {
                        "filename": f"{name}/spk{s:02d}_nohash_{i}.wav",
                        "class": name,
                        "session": f"session{s % 11}",
                    }
                )
    for c, name in enumerate(CLASSES):  # every class has a speaker of its own
        rows.append(
            {"filename": f"{name}/solo{c}_nohash_0.wav", "class": name, "session": f"solo{c}"}
        )
    return pd.DataFrame(rows)


def listed(generator, table, **kwargs) -> list[str]:
    """The rows an iterator of the table serves, in index order (its workers closed)."""
    iterator = generator.flow_from_dataframe(table, "/data", classes=CLASSES, seed=0, **kwargs)
    try:
        return list(iterator.filenames)
    finally:
        iterator.close()


def group_of(table: pd.DataFrame, group_col: str | None) -> dict[str, str]:
    if group_col is None:
        return {f: speaker_group(f) for f in table["filename"]}
    return dict(zip(table["filename"], table[group_col], strict=True))


@pytest.mark.parametrize("group_col", [None, "session"])
@pytest.mark.parametrize("fold_seed", [None, 7])
@pytest.mark.parametrize("strategy", FOLD_STRATEGIES)
def test_folds_partition_a_dataframes_groups(strategy, fold_seed, group_col):
    table = uneven_table()
    groups = group_of(table, group_col)
    generator = ParallelAudioDataGenerator(cores=0)
    everything = set(table["filename"])
    num_folds = 4
    validation_sets = []
    for fold in range(num_folds):
        kwargs = dict(
            fold=fold,
            num_folds=num_folds,
            fold_strategy=strategy,
            fold_seed=fold_seed,
            group_col=group_col,
        )
        validation = listed(generator, table, subset="validation", **kwargs)
        training = listed(generator, table, subset="training", **kwargs)
        # Disjoint, complete, and no group on both sides.
        assert validation and training
        assert set(validation).isdisjoint(training)
        assert set(validation) | set(training) == everything
        assert {groups[f] for f in validation}.isdisjoint({groups[f] for f in training})
        validation_sets.append(set(validation))
    # Each row, so each group, is in exactly one validation fold.
    assert sum(len(v) for v in validation_sets) == len(everything)
    assert set().union(*validation_sets) == everything
    fold_of_group: dict[str, set[int]] = {}
    for k, rows in enumerate(validation_sets):
        for f in rows:
            fold_of_group.setdefault(groups[f], set()).add(k)
    assert all(len(folds) == 1 for folds in fold_of_group.values())


def test_balanced_folds_of_a_dataframe_are_scikit_learns_group_k_fold():
    # Group sizes all differ (group s has s + 1 rows), so scikit-learn's order has no ties.
    rows = [
        {"filename": f"f{s}_{i}.wav", "class": CLASSES[(s + i) % 3], "speaker": f"g{s:02d}"}
        for s in range(17)
        for i in range(s + 1)
    ]
    table = pd.DataFrame(rows)
    expected = [
        set(table["speaker"].iloc[test])
        for _, test in GroupKFold(n_splits=4).split(table, table["class"], table["speaker"])
    ]
    generator = ParallelAudioDataGenerator(cores=0)
    speaker = dict(zip(table["filename"], table["speaker"], strict=True))
    got = [
        {
            speaker[f]
            for f in listed(
                generator,
                table,
                group_col="speaker",
                subset="validation",
                fold=k,
                num_folds=4,
                fold_strategy="balanced",
            )
        }
        for k in range(4)
    ]
    assert got == expected


def test_stratified_folds_of_a_dataframe_are_scikit_learns_stratified_group_k_fold():
    table = uneven_table(num_speakers=30, seed=11)
    groups = [speaker_group(f) for f in table["filename"]]
    labels = [CLASSES.index(c) for c in table["class"]]
    expected = [
        {groups[i] for i in test}
        for _, test in StratifiedGroupKFold(n_splits=5).split(table, labels, groups)
    ]
    generator = ParallelAudioDataGenerator(cores=0)
    got = [
        {
            speaker_group(f)
            for f in listed(
                generator,
                table,
                subset="validation",
                fold=k,
                num_folds=5,
                fold_strategy="stratified",
            )
        }
        for k in range(5)
    ]
    assert got == expected


def test_hash_fold_zero_of_five_is_the_validation_split_of_a_fifth_on_a_dataframe():
    table = uneven_table(num_speakers=60)
    folds = ParallelAudioDataGenerator(cores=0)
    split = ParallelAudioDataGenerator(cores=0, validation_split=0.2)
    for subset in ("validation", "training"):
        assert listed(folds, table, subset=subset, fold=0, num_folds=5) == listed(
            split, table, subset=subset
        )
    # And fold k holds the rows whose speaker's hash fraction lies in [k/5, (k+1)/5).
    for k in range(5):
        assert listed(folds, table, subset="validation", fold=k, num_folds=5) == [
            f for f in table["filename"] if int(hash_fraction(speaker_group(f)) * 5) == k
        ]


@pytest.mark.parametrize("strategy", FOLD_STRATEGIES)
def test_the_test_split_of_a_dataframe_is_disjoint_from_validation_and_training(strategy):
    table = uneven_table(num_speakers=60)
    groups = group_of(table, "session")
    generator = ParallelAudioDataGenerator(cores=0, test_split=0.25)
    test = listed(generator, table, subset="test", group_col="session")
    assert test and [f for f in test] == [
        f for f in table["filename"] if hash_fraction(groups[f]) >= 0.75
    ]
    union = set(test)
    for k in range(3):
        kwargs = dict(fold=k, num_folds=3, fold_strategy=strategy, group_col="session")
        validation = listed(generator, table, subset="validation", **kwargs)
        training = listed(generator, table, subset="training", **kwargs)
        sides = [set(test), set(validation), set(training)]
        assert all(side for side in sides)
        assert sum(len(side) for side in sides) == len(table)
        assert set().union(*sides) == set(table["filename"])
        test_groups = {groups[f] for f in test}
        assert test_groups.isdisjoint({groups[f] for f in validation + training})
        union |= set(validation)
    assert union == set(table["filename"])
    # With a validation split instead of folds: three disjoint sides, validation unchanged.
    generator.validation_split = 0.2
    validation = listed(generator, table, subset="validation", group_col="session")
    training = listed(generator, table, subset="training", group_col="session")
    assert sorted(test + validation + training) == sorted(table["filename"])
    assert validation == listed(
        ParallelAudioDataGenerator(cores=0, validation_split=0.2),
        table,
        subset="validation",
        group_col="session",
    )


@pytest.mark.parametrize("strategy", FOLD_STRATEGIES)
def test_a_dataframe_and_its_manifest_file_give_the_same_folds(tmp_path, strategy):
    table = uneven_table()
    path = tmp_path / "manifest.csv"
    table.to_csv(path, index=False)
    generator = ParallelAudioDataGenerator(cores=0, test_split=0.1)
    for subset in ("training", "validation", "test"):
        for k in range(3):
            kwargs = dict(subset=subset, fold=k, num_folds=3, fold_strategy=strategy, seed=0)
            frame = generator.flow_from_dataframe(table, tmp_path, classes=CLASSES, **kwargs)
            manifest = generator.flow_from_manifest(path, classes=CLASSES, **kwargs)
            try:
                assert frame.filenames and list(frame.filenames) == list(manifest.filenames)
                np.testing.assert_array_equal(frame.classes, manifest.classes)
            finally:
                frame.close()
                manifest.close()


def write_directory(root: Path, table: pd.DataFrame) -> Path:
    for name in table["filename"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")
    return root


@pytest.mark.parametrize("strategy", FOLD_STRATEGIES)
def test_a_table_of_a_directorys_files_splits_as_the_directory(tmp_path, strategy):
    # Without group_col, a row's group is its file's speaker, as flow_from_directory's.
    table = uneven_table()
    root = write_directory(tmp_path, table)
    generator = ParallelAudioDataGenerator(cores=0, test_split=0.15)
    for subset in ("training", "validation", "test"):
        kwargs = dict(subset=subset, fold=1, num_folds=3, fold_strategy=strategy, seed=0)
        directory = generator.flow_from_directory(root, CLASSES, **kwargs)
        frame = generator.flow_from_dataframe(table, root, classes=CLASSES, **kwargs)
        try:
            assert directory.filenames
            assert sorted(directory.filenames) == sorted(frame.filenames)
        finally:
            directory.close()
            frame.close()


def test_dataframe_split_errors_are_those_of_directories():
    table = uneven_table(num_speakers=12)
    generator = ParallelAudioDataGenerator(cores=0)
    two_groups = table.assign(session=["a", "b"] * (len(table) // 2) + ["a"] * (len(table) % 2))
    for strategy in FOLD_STRATEGIES:
        with pytest.raises(DatasetError, match="num_folds=3 needs at least 3 groups .* has 2"):
            listed(
                generator,
                two_groups,
                group_col="session",
                subset="validation",
                fold=0,
                num_folds=3,
                fold_strategy=strategy,
            )
    with pytest.raises(DatasetError, match="fold=1 needs num_folds"):
        listed(generator, table, subset="validation", fold=1)
    with pytest.raises(DatasetError, match="subset='test' needs test_split > 0"):
        listed(generator, table, subset="test")
    generator.validation_split = 0.2
    with pytest.raises(DatasetError, match="validation_split=0.2 cannot be combined with"):
        listed(generator, table, subset="training", fold=0, num_folds=3)


def test_a_fold_of_a_dataframe_without_a_class_names_the_class_and_the_fold():
    rows = [{"filename": f"s{i}_nohash_0.wav", "class": "yes"} for i in range(10)]
    rows.append({"filename": "lone_nohash_0.wav", "class": "no"})
    lone_fold = int(hash_fraction("lone") * 2)
    iterator_args = dict(classes=["yes", "no"], subset="validation", num_folds=2)
    generator = ParallelAudioDataGenerator(cores=0)
    with pytest.raises(
        DatasetError,
        match=f"class 'no' has no usable row in the validation subset \\(fold {1 - lone_fold} of 2",
    ):
        generator.flow_from_dataframe(pd.DataFrame(rows), fold=1 - lone_fold, **iterator_args)
    # Its own fold has it.
    with generator.flow_from_dataframe(
        pd.DataFrame(rows), fold=lone_fold, **iterator_args
    ) as iterator:
        assert "lone_nohash_0.wav" in iterator.filenames


def test_a_manifests_folds_follow_its_group_column(tmp_path):
    path = tmp_path / "rows.csv"
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["filename", "class", "speaker"])
        for i in range(40):
            writer.writerow([f"clip{i}.wav", CLASSES[i % 3], f"p{i % 8}"])
    generator = ParallelAudioDataGenerator(cores=0)
    seen = []
    for k in range(4):
        kwargs = dict(group_col="speaker", fold=k, num_folds=4, fold_strategy="balanced")
        with generator.flow_from_manifest(path, subset="validation", **kwargs) as iterator:
            speakers = {int(f[4:-4]) % 8 for f in iterator.filenames}
            seen.append(speakers)
    # 8 speakers of 5 rows each: balanced folds of 2 speakers, each speaker in one fold.
    assert sorted(len(s) for s in seen) == [2, 2, 2, 2]
    assert set().union(*seen) == set(range(8))


# ----------------------------------------------------------------------------- flow(x, y)


def clips(count: int, rng) -> np.ndarray:
    return (0.1 * rng.standard_normal((count, 800))).astype(np.float32)


def flow_ids(generator, x, y, **kwargs) -> list[int]:
    iterator = generator.flow(x, y, seed=0, **kwargs)
    try:
        return [int(i) for i in iterator.index.clip_ids]
    finally:
        iterator.close()


@pytest.mark.parametrize("strategy", FOLD_STRATEGIES)
def test_flow_folds_partition_the_groups_of_clips(strategy):
    rng = np.random.default_rng(5)
    sizes = rng.integers(1, 7, 20)
    groups = np.repeat([f"speaker{g}" for g in range(20)], sizes)
    y = rng.integers(0, 3, groups.size)
    x = clips(groups.size, rng)
    generator = ParallelAudioDataGenerator(cores=0, test_split=0.1)
    test = flow_ids(generator, x, y, groups=groups, subset="test")
    assert set(test) == {i for i, g in enumerate(groups) if hash_fraction(g) >= 0.9}
    validation_sets = []
    for k in range(3):
        kwargs = dict(groups=groups, fold=k, num_folds=3, fold_strategy=strategy)
        validation = flow_ids(generator, x, y, subset="validation", **kwargs)
        training = flow_ids(generator, x, y, subset="training", **kwargs)
        assert sorted(validation + training + test) == list(range(groups.size))
        assert {groups[i] for i in validation}.isdisjoint({groups[i] for i in training})
        validation_sets.append(set(validation))
    assert sum(len(v) for v in validation_sets) == groups.size - len(test)


def test_flow_balanced_folds_are_scikit_learns_group_k_fold():
    groups = np.repeat([f"g{s:02d}" for s in range(13)], np.arange(1, 14))
    y = np.arange(groups.size) % 2
    x = clips(groups.size, np.random.default_rng(0))
    expected = [set(groups[test]) for _, test in GroupKFold(n_splits=3).split(x, y, groups)]
    generator = ParallelAudioDataGenerator(cores=0)
    got = [
        {
            groups[i]
            for i in flow_ids(
                generator,
                x,
                y,
                groups=groups,
                subset="validation",
                fold=k,
                num_folds=3,
                fold_strategy="balanced",
            )
        }
        for k in range(3)
    ]
    assert got == expected


def test_flow_without_groups_deals_each_clip_by_its_position():
    x = clips(50, np.random.default_rng(1))
    y = np.arange(50) % 2
    generator = ParallelAudioDataGenerator(cores=0)
    for k in range(5):
        assert flow_ids(generator, x, y, subset="validation", fold=k, num_folds=5) == [
            i for i in range(50) if int(hash_fraction(str(i)) * 5) == k
        ]
    generator.test_split = 0.2
    assert flow_ids(generator, x, None, subset="test") == [
        i for i in range(50) if hash_fraction(str(i)) >= 0.8
    ]


def test_flow_split_errors_name_the_problem():
    x = clips(12, np.random.default_rng(2))
    generator = ParallelAudioDataGenerator(cores=0)
    with pytest.raises(DatasetError, match="num_folds=3 needs at least 3 groups .* has 2"):
        generator.flow(x, groups=["a", "b"] * 6, subset="validation", fold=0, num_folds=3)
    with pytest.raises(DatasetError, match="fold=0 needs num_folds"):
        generator.flow(x, subset="validation", fold=0)
    y = np.zeros(12, int)
    y[5] = 1  # class 1 has one clip, so one group: every other fold lacks it
    lone_fold = int(hash_fraction("5") * 3)
    other = (lone_fold + 1) % 3
    with pytest.raises(
        DatasetError, match=f"class 1 of y has no clip in the validation .*fold {other} of 3"
    ):
        generator.flow(x, y, subset="validation", fold=other, num_folds=3)
    generator.validation_split = 0.3
    with pytest.raises(DatasetError, match="cannot be combined with num_folds"):
        generator.flow(x, subset="validation", fold=0, num_folds=3)


# ----------------------------------------------------------------------------- info


def info_columns(capsys, *args) -> dict[str, list[int]]:
    from parallel_audio.cli import main

    assert main([str(a) for a in args]) == 0
    out = capsys.readouterr().out
    table = out.split(" serves:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    names = [name.strip() for name in table[0].split("  ") if name.strip()][1:]  # not "class"
    rows = {line.split()[0]: [int(v) for v in line.split()[1:]] for line in table[1:]}
    return {
        name: [rows[c][i] for c in ("yes", "no", "up", "total")] for i, name in enumerate(names)
    }


def test_info_counts_each_folds_validation_side_and_the_test_split(tmp_path, capsys):
    table = uneven_table(num_speakers=40)
    root = write_directory(tmp_path / "data", table)
    path = tmp_path / "rows.csv"
    table.to_csv(path, index=False)
    # Independently: the hash rule's fold of each row's speaker, the test rows at the top.
    fraction = [hash_fraction(speaker_group(f)) for f in table["filename"]]
    expected = {"test": [0, 0, 0, 0]}
    expected.update({f"fold {k}": [0, 0, 0, 0] for k in range(4)})
    for name, h in zip(table["class"], fraction, strict=True):
        column = "test" if h >= 0.8 else f"fold {int(h / 0.8 * 4)}"
        expected[column][CLASSES.index(name)] += 1
        expected[column][3] += 1
    options = ["--classes", *CLASSES, "--num-folds", 4, "--test-split", 0.2, "--cores", 0]
    assert info_columns(capsys, "info", root, *options) == expected
    assert info_columns(capsys, "info", "--manifest", path, root, *options) == expected
    # Without folds: training, validation and test, which add up to every row.
    sides = info_columns(
        capsys, "info", root, "--classes", *CLASSES, "--validation-split", 0.3, "--test-split", 0.2
    )
    assert list(sides) == ["training", "validation", "test"]
    assert sides["test"] == expected["test"]
    assert sum(side[3] for side in sides.values()) == len(table)


def test_a_multi_label_fold_without_rows_of_a_class_names_it():
    # "bark" is marked on the rows of one group only; every other fold lacks it.
    rows = [{"filename": f"s{i}_nohash_0.wav", "labels": ["dog"]} for i in range(10)]
    rows.append({"filename": "lone_nohash_0.wav", "labels": ["dog", "bark"]})
    table = pd.DataFrame(rows)
    lone_fold = int(hash_fraction("lone") * 3)
    generator = ParallelAudioDataGenerator(cores=0)
    kwargs = dict(y_col="labels", class_mode="multi_label", subset="validation", num_folds=3)
    other = (lone_fold + 1) % 3
    with pytest.raises(
        DatasetError,
        match=f"class 'bark' has no usable row in the validation subset \\(fold {other}",
    ):
        generator.flow_from_dataframe(table, fold=other, **kwargs)
    with generator.flow_from_dataframe(table, fold=lone_fold, **kwargs) as iterator:
        assert "lone_nohash_0.wav" in iterator.filenames
    # And clips with multi-hot rows.
    y = np.array([[1, 0]] * 10 + [[1, 1]], np.float32)
    x = clips(11, np.random.default_rng(3))
    clip_fold = int(hash_fraction("10") * 3)
    with pytest.raises(DatasetError, match="class 1 of y has no clip in the validation"):
        generator.flow(x, y, subset="validation", fold=(clip_fold + 1) % 3, num_folds=3)

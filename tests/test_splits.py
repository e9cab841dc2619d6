"""Grouped k-fold and the test split: partition properties, scikit-learn's rules, errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold

from parallel_audio.dataset_index import UNKNOWN_CLASS, DatasetError, build_index, speaker_group
from parallel_audio.splits import FOLD_STRATEGIES, SplitSpec

CLASSES = ["yes", "no", "up"]


def write_files(root: Path, files: dict[str, list[str]]) -> Path:
    for class_name, names in files.items():
        (root / class_name).mkdir(parents=True, exist_ok=True)
        for name in names:
            (root / class_name / name).write_bytes(b"")
    return root


def uneven_dataset(root: Path, num_speakers: int = 24, seed: int = 3) -> Path:
    """Speakers with different numbers of files in each class (some in one class only)."""
    rng = np.random.default_rng(seed)
    files: dict[str, list[str]] = {name: [] for name in CLASSES}
    for s in range(num_speakers):
        weights = rng.dirichlet(np.full(len(CLASSES), 0.5))
        for c, name in enumerate(CLASSES):
            count = int(round(weights[c] * (2 + s % 7)))
            files[name] += [f"spk{s:02d}_nohash_{i}.wav" for i in range(count)]
    for c, name in enumerate(CLASSES):  # every class has a file from a speaker of its own
        files[name].append(f"solo{c}_nohash_0.wav")
    return write_files(root, files)


def hash_fraction(group: str) -> float:
    """The documented rule, written independently: sha1 of the group, first 64 bits."""
    return int(hashlib.sha1(group.encode()).hexdigest()[:16], 16) / 2**64


def listed(root: Path, **kwargs) -> list[str]:
    index = build_index(root, CLASSES, **kwargs)
    return list(index.filenames)


def groups_of(paths) -> set[str]:
    return {speaker_group(p) for p in paths}


@pytest.mark.parametrize("strategy", FOLD_STRATEGIES)
@pytest.mark.parametrize("fold_seed", [None, 7])
def test_folds_partition_the_groups(tmp_path, strategy, fold_seed):
    root = uneven_dataset(tmp_path)
    everything = set(listed(root))
    num_folds = 4
    validation_sets = []
    for fold in range(num_folds):
        kwargs = dict(fold=fold, num_folds=num_folds, fold_strategy=strategy, fold_seed=fold_seed)
        validation = listed(root, subset="validation", **kwargs)
        training = listed(root, subset="training", **kwargs)
        # Each fold: the two sides are disjoint, complete, and share no group.
        assert set(validation).isdisjoint(training)
        assert set(validation) | set(training) == everything
        assert groups_of(validation).isdisjoint(groups_of(training))
        validation_sets.append(set(validation))
    # Each file (so each group) is in exactly one validation fold.
    assert sum(len(v) for v in validation_sets) == len(everything)
    assert set().union(*validation_sets) == everything


def test_hash_fold_zero_of_five_is_the_validation_split_of_a_fifth(tmp_path):
    root = uneven_dataset(tmp_path, num_speakers=60)
    for subset in ("validation", "training"):
        assert listed(root, subset=subset, fold=0, num_folds=5) == listed(
            root, subset=subset, validation_split=0.2
        )
    # And fold k holds the groups whose hash fraction lies in [k/5, (k+1)/5).
    for fold in range(5):
        validation = listed(root, subset="validation", fold=fold, num_folds=5)
        assert groups_of(validation) == {
            g for g in groups_of(listed(root)) if int(hash_fraction(g) * 5) == fold
        }


def test_hash_folds_do_not_move_when_files_are_added(tmp_path):
    root = uneven_dataset(tmp_path, num_speakers=20)
    before = [listed(root, subset="validation", fold=k, num_folds=3) for k in range(3)]
    write_files(root, {"yes": [f"new{i}_nohash_0.wav" for i in range(15)]})
    write_files(root, {"no": ["spk01_nohash_99.wav"]})
    after = [listed(root, subset="validation", fold=k, num_folds=3) for k in range(3)]
    for old, new in zip(before, after, strict=True):
        assert set(old) <= set(new)


def sklearn_test_groups(splitter, root: Path, num_folds: int) -> list[set[str]]:
    everything = build_index(root, CLASSES)
    groups = [speaker_group(p) for p in everything.filenames]
    folds = []
    for _, test in splitter.split(np.zeros(len(groups)), everything.class_ids, groups):
        folds.append({groups[i] for i in test})
    return folds


def test_balanced_folds_are_scikit_learns_group_k_fold(tmp_path):
    # Group sizes all differ (speaker i has i + 1 files), so the order is free of ties.
    files: dict[str, list[str]] = {name: [] for name in CLASSES}
    for s in range(17):
        for i in range(s + 1):
            files[CLASSES[(s + i) % 3]].append(f"g{s:02d}_nohash_{i}.wav")
    root = write_files(tmp_path, files)
    expected = sklearn_test_groups(GroupKFold(n_splits=4), root, 4)
    got = [
        groups_of(listed(root, subset="validation", fold=k, num_folds=4, fold_strategy="balanced"))
        for k in range(4)
    ]
    assert got == expected


@pytest.mark.parametrize("seed", [3, 11, 19])
def test_stratified_folds_are_scikit_learns_stratified_group_k_fold(tmp_path, seed):
    root = uneven_dataset(tmp_path, num_speakers=30, seed=seed)
    expected = sklearn_test_groups(StratifiedGroupKFold(n_splits=5), root, 5)
    got = [
        groups_of(
            listed(root, subset="validation", fold=k, num_folds=5, fold_strategy="stratified")
        )
        for k in range(5)
    ]
    assert got == expected


def class_share_spread(root: Path, strategy: str, num_folds: int) -> float:
    """Mean over classes of the std across folds of each fold's share of the class."""
    totals = build_index(root, CLASSES).counts()
    shares = []
    for fold in range(num_folds):
        index = build_index(
            root,
            CLASSES,
            subset="validation",
            fold=fold,
            num_folds=num_folds,
            fold_strategy=strategy,
        )
        counts = index.counts()
        shares.append([counts[name] / totals[name] for name in CLASSES])
    return float(np.mean(np.std(np.array(shares), axis=0)))


@pytest.mark.parametrize("seed", [1, 2, 4, 5])
def test_stratified_is_never_worse_balanced_than_hash(tmp_path, seed):
    root = uneven_dataset(tmp_path, num_speakers=40, seed=seed)
    assert class_share_spread(root, "stratified", 4) <= class_share_spread(root, "hash", 4)


def test_fold_seed_changes_the_partition_and_keeps_it_reproducible(tmp_path):
    root = uneven_dataset(tmp_path, num_speakers=30)
    for strategy in ("hash", "stratified"):
        a = listed(root, subset="validation", fold=0, num_folds=3, fold_strategy=strategy)
        b = listed(
            root, subset="validation", fold=0, num_folds=3, fold_strategy=strategy, fold_seed=5
        )
        c = listed(
            root, subset="validation", fold=0, num_folds=3, fold_strategy=strategy, fold_seed=5
        )
        assert b == c
        assert a != b


def test_test_split_is_grouped_disjoint_and_leaves_validation_unchanged(tmp_path):
    root = uneven_dataset(tmp_path, num_speakers=60)
    everything = listed(root)
    validation = listed(root, subset="validation", validation_split=0.2)
    test = listed(root, subset="test", validation_split=0.2, test_split=0.25)
    training = listed(root, subset="training", validation_split=0.2, test_split=0.25)
    assert listed(root, subset="validation", validation_split=0.2, test_split=0.25) == validation
    assert test and groups_of(test) == {
        g for g in groups_of(everything) if hash_fraction(g) >= 0.75
    }
    assert sorted(validation + test + training) == sorted(everything)
    assert groups_of(test).isdisjoint(groups_of(validation) | groups_of(training))
    # A training subset with a test split only: everything that is not test.
    assert set(listed(root, subset="training", test_split=0.25)) == set(everything) - set(test)


@pytest.mark.parametrize("strategy", FOLD_STRATEGIES)
def test_folds_leave_the_test_groups_out(tmp_path, strategy):
    root = uneven_dataset(tmp_path, num_speakers=60)
    test = set(listed(root, subset="test", test_split=0.2))
    folds = [
        set(
            listed(
                root,
                subset="validation",
                test_split=0.2,
                fold=k,
                num_folds=3,
                fold_strategy=strategy,
            )
        )
        for k in range(3)
    ]
    assert all(fold.isdisjoint(test) for fold in folds)
    assert set().union(*folds) | test == set(listed(root))


def test_fewer_groups_than_folds_is_named(tmp_path):
    root = write_files(tmp_path, {"yes": ["a_nohash_0.wav", "b_nohash_0.wav"]})
    for strategy in FOLD_STRATEGIES:
        with pytest.raises(DatasetError, match="num_folds=3 needs at least 3 groups .* has 2"):
            build_index(
                root, ["yes"], subset="validation", fold=0, num_folds=3, fold_strategy=strategy
            )


def test_a_fold_without_a_class_is_named(tmp_path):
    files = {"yes": [f"s{i}_nohash_0.wav" for i in range(10)], "no": ["lone_nohash_0.wav"]}
    root = write_files(tmp_path, files)
    lone_fold = int(hash_fraction("lone") * 2)
    with pytest.raises(DatasetError, match=f"class 'no' has no file .*fold {1 - lone_fold} of 2"):
        build_index(root, ["yes", "no"], subset="validation", fold=1 - lone_fold, num_folds=2)


@pytest.mark.filterwarnings("ignore:'_unknown_' asks for")
def test_unknown_candidates_follow_the_folds(tmp_path):
    root = uneven_dataset(tmp_path, num_speakers=20)
    write_files(tmp_path, {"other": [f"spk{s:02d}_nohash_50.wav" for s in range(20)]})
    sides = {}
    for subset in ("validation", "training"):
        index = build_index(
            root,
            [*CLASSES, UNKNOWN_CLASS],
            subset=subset,
            fold=1,
            num_folds=3,
            fold_strategy="stratified",
            unknown_class_percentage=5.0,
        )
        sides[subset] = set(index.filenames)
    assert groups_of(sides["validation"]).isdisjoint(groups_of(sides["training"]))


def test_split_spec_describes_itself_to_a_custom_listing_function_only_when_it_can():
    assert SplitSpec("validation", validation_split=0.25).reference_split == (0.0, 0.25)
    assert SplitSpec("training", validation_split=0.25).reference_split == (0.25, 1.0)
    assert SplitSpec("validation", fold=0, num_folds=2).reference_split is None
    assert SplitSpec("training", validation_split=0.1, test_split=0.1).reference_split is None


def test_flow_from_directory_lists_a_fold_and_the_test_split(tmp_path):
    from parallel_audio import ParallelAudioDataGenerator

    root = uneven_dataset(tmp_path, num_speakers=40)
    generator = ParallelAudioDataGenerator(cores=0, test_split=0.2)
    flows = {
        subset: generator.flow_from_directory(
            root, CLASSES, subset=subset, fold=1, num_folds=3, fold_strategy="balanced", seed=0
        )
        for subset in ("training", "validation", "test")
    }
    assert flows["test"].filenames == listed(root, subset="test", test_split=0.2)
    assert flows["validation"].filenames == listed(
        root,
        subset="validation",
        test_split=0.2,
        fold=1,
        num_folds=3,
        fold_strategy="balanced",
    )
    assert sorted(sum((f.filenames for f in flows.values()), [])) == sorted(listed(root))
    generator.validation_split = 0.1
    with pytest.raises(DatasetError, match="cannot be combined with num_folds"):
        generator.flow_from_directory(root, CLASSES, subset="validation", fold=0, num_folds=3)


def test_the_test_subset_is_augmented_only_as_validation_is(tmp_path, rng):
    from support import assert_same_epochs, augmenting, epochs, write_dataset

    write_dataset(tmp_path, rng, speakers=10, per_speaker=2)
    classes = ["low", "high"]

    def test_epochs(**settings):
        generator = augmenting(cores=0, test_split=0.3, **settings)
        iterator = generator.flow_from_directory(
            tmp_path, classes, subset="test", seed=5, shuffle=False
        )
        assert iterator.samples > 0
        return epochs(iterator)

    # With validation_augmentation_enabled=False the test samples are the default transform's:
    # the same every epoch, and those of a generator that draws no random transform at all.
    fixed = test_epochs(validation_augmentation_enabled=False)
    assert_same_epochs(fixed[:1], fixed[1:])
    assert_same_epochs(fixed, test_epochs(disable_random_transforms=True))
    # By default (the reference's), evaluation subsets are augmented: each epoch differs.
    augmented = test_epochs()
    assert not np.array_equal(augmented[0][0][0], augmented[1][0][0])

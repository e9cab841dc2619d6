"""Which side of a split each group of files is on: training, validation, test, or a k-fold.

Every ``flow_*`` method groups its files (by speaker, or by a ``group_col``) and asks this
module which subset each group belongs to, so the validation split, the test split and the
k folds behave alike whatever lists the files. Nothing here reads files, and the only
random stream is ``Stream.FOLD_ORDER`` of ``fold_seed``: the hash splits depend only on the
group names, the fold strategies on the groups, their sizes and classes, and ``fold_seed``.

The rules, for a group ``g`` whose name hashes to the fraction ``h(g)`` in [0, 1) (the first
64 bits of the sha1 of its UTF-8 name, divided by 2**64):

- test: ``h(g) >= 1 - test_split``. The test groups never depend on the folds or their seed.
- validation (no folds): ``h(g) < validation_split``. Disjoint from test while
  ``validation_split + test_split < 1``.
- fold ``k`` of ``K`` (the groups that are not test), by ``fold_strategy``:

  - ``"hash"``: ``floor(h(g) / (1 - test_split) * K)``, or with ``fold_seed``
    ``floor(h_seed(g) * K)`` where ``h_seed`` hashes ``"<fold_seed>", a NUL and ``g````. Fold 0 of 5
    without a test split is exactly ``validation_split=0.2``'s validation set, and adding
    files never moves a group.
  - ``"balanced"``: scikit-learn ``GroupKFold``'s rule: groups by decreasing number of files
    (ties in name order, or in a ``fold_seed`` permutation), each to the fold with the fewest
    files so far (the lowest-numbered on ties).
  - ``"stratified"``: scikit-learn ``StratifiedGroupKFold``'s greedy rule: groups by
    decreasing standard deviation of their per-class counts (stable on name order, or on a
    ``fold_seed`` permutation), each to the fold that minimises the mean over classes of the
    standard deviation across folds of the class's share, fewer files breaking ties.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from parallel_audio.errors import DatasetError
from parallel_audio.random_streams import Stream, random_generator

__all__ = [
    "EVALUATION_SUBSETS",
    "FOLD_STRATEGIES",
    "SUBSETS",
    "SplitSpec",
    "assign_folds",
    "group_fraction",
]

SUBSETS = ("training", "validation", "test")
#: The subsets a model is evaluated on: augmented only with
#: ``validation_augmentation_enabled`` (the reference's flag, named for the one it had).
EVALUATION_SUBSETS = ("validation", "test")
FOLD_STRATEGIES = ("hash", "balanced", "stratified")
#: Most folds a k-fold split may have: more would leave one group per fold on any dataset
#: whose folds could still be trained on.
MAX_FOLDS = 1000


def group_fraction(group: str, salt: int | None = None) -> float:
    """Map a group name to a fixed number in [0, 1): its sha1 read as a binary fraction.

    Parameters
    ----------
    group : str
        The group's name (a speaker, or a file's stem).
    salt : int, optional
        Hash the salt, a NUL and the name instead, for a partition of its own per salt.

    Returns
    -------
    float
        The first 64 bits of the digest divided by 2**64.

    Examples
    --------
    >>> 0.0 <= group_fraction("0a7c2a8d") < 1.0
    True
    """
    text = group if salt is None else f"{salt}\0{group}"
    digest = hashlib.sha1(text.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


@dataclass(frozen=True)
class SplitSpec:
    """One ``flow_*`` call's subset and the splits that define it.

    Parameters
    ----------
    subset : {None, "training", "validation", "test"}
        Which side to list; None lists every file.
    validation_split : float
        Fraction of the groups in validation, in [0, 1). Not with ``num_folds``.
    test_split : float
        Fraction of the groups held out for ``subset="test"``, in [0, 1), taken from the top
        of the hash range so that ``validation_split`` keeps its meaning.
    fold : int, optional
        The fold ``subset="validation"`` lists (``"training"`` lists the others), in
        ``[0, num_folds)``.
    num_folds : int, optional
        Number of folds, from 2 to :data:`MAX_FOLDS`.
    fold_strategy : {"hash", "balanced", "stratified"}
        How groups are dealt to folds (see the module's documentation).
    fold_seed : int, optional
        Varies the fold partition (>= 0); None is the fixed default partition.

    Raises
    ------
    DatasetError
        A value out of range, ``fold`` without ``num_folds`` (or the reverse),
        ``validation_split`` with ``num_folds``, a subset without a split to choose it, or
        validation and test splits that leave no training group.
    TypeError
        A value of the wrong type.
    """

    subset: str | None = None
    validation_split: float = 0.0
    test_split: float = 0.0
    fold: int | None = None
    num_folds: int | None = None
    fold_strategy: str = "hash"
    fold_seed: int | None = None

    def __post_init__(self) -> None:
        _check_fraction("validation_split", self.validation_split)
        _check_fraction("test_split", self.test_split)
        object.__setattr__(self, "validation_split", float(self.validation_split))
        object.__setattr__(self, "test_split", float(self.test_split))
        if self.subset is not None and self.subset not in SUBSETS:
            raise DatasetError(
                f"subset must be None, 'training', 'validation' or 'test', got {self.subset!r}"
            )
        if self.fold_strategy not in FOLD_STRATEGIES:
            error = DatasetError if isinstance(self.fold_strategy, str) else TypeError
            raise error(
                f"fold_strategy must be one of {', '.join(map(repr, FOLD_STRATEGIES))}, got "
                f"{self.fold_strategy!r}"
            )
        _check_optional_int("num_folds", self.num_folds, 2, MAX_FOLDS)
        _check_optional_int("fold_seed", self.fold_seed, 0, 2**128 - 1)
        if self.fold is not None and self.num_folds is None:
            raise DatasetError(
                f"fold={self.fold!r} needs num_folds: pass num_folds=K with fold in [0, K)"
            )
        if self.num_folds is not None:
            if self.fold is None:
                raise DatasetError(
                    f"num_folds={self.num_folds} needs fold: the fold in [0, {self.num_folds}) "
                    "that subset='validation' lists"
                )
            _check_optional_int("fold", self.fold, 0, self.num_folds - 1)
            if self.validation_split > 0:
                raise DatasetError(
                    f"validation_split={self.validation_split} cannot be combined with "
                    f"num_folds={self.num_folds}: with folds, fold {self.fold} is the "
                    "validation set; set the generator's validation_split to 0"
                )
        if self.validation_split + self.test_split >= 1:
            raise DatasetError(
                f"validation_split ({self.validation_split}) + test_split ({self.test_split}) "
                "must be below 1, so that some groups are left for training"
            )
        if self.subset == "test" and self.test_split == 0:
            raise DatasetError(
                "subset='test' needs test_split > 0 on the generator (got 0): with no test "
                "split there is no test subset"
            )
        if self.subset == "validation" and self.validation_split == 0 and self.num_folds is None:
            raise DatasetError(
                "subset='validation' needs validation_split > 0 (got 0) or fold and "
                "num_folds: with no validation split there is nothing to choose between; pass "
                "subset=None to use every file"
            )
        if (
            self.subset == "training"
            and self.validation_split == 0
            and self.test_split == 0
            and self.num_folds is None
        ):
            raise DatasetError(
                "subset='training' needs validation_split > 0 (got 0), a test_split, or fold "
                "and num_folds: with no split there is nothing to choose between; pass "
                "subset=None to use every file"
            )

    @property
    def is_split(self) -> bool:
        """Whether the call lists one side of a split (else every file)."""
        return self.subset is not None

    @property
    def needs_all_groups(self) -> bool:
        """Whether a group's side depends on the other groups (balanced, stratified folds)."""
        return self.is_split and self.num_folds is not None and self.fold_strategy != "hash"

    @property
    def reference_split(self) -> tuple[float, float] | None:
        """The reference's ``split`` argument of a custom listing function, or None.

        Only a plain validation split can be described to such a function; with folds or a
        test split it receives None (every file) and the index splits what it returns.
        """
        if not self.is_split or self.num_folds is not None or self.test_split > 0:
            return None
        v = self.validation_split
        return (0.0, v) if self.subset == "validation" else (v, 1.0)

    def describe(self) -> str:
        """Describe the split in words, for messages: ``fold 2 of 5 (stratified)``."""
        if self.num_folds is not None:
            text = f"fold {self.fold} of {self.num_folds} ({self.fold_strategy})"
        else:
            text = f"validation_split={self.validation_split}"
        if self.test_split:
            text += f", test_split={self.test_split}"
        return text

    def side_function(
        self, groups: Sequence[str] = (), labels: Sequence[int] = ()
    ) -> Callable[[str], str]:
        """Return the function mapping a group name to its subset.

        Parameters
        ----------
        groups, labels : sequence
            One entry per file of the listed classes: its group and class id. Needed by the
            balanced and stratified fold strategies (which deal these groups to folds);
            groups not among them (say, only in folders that feed ``_unknown_``) fall by
            their hash, as with ``"hash"``.

        Returns
        -------
        callable
            ``side(group) -> "training" | "validation" | "test"``.

        Raises
        ------
        DatasetError
            Fewer groups than folds.
        """
        test_floor = 1.0 - self.test_split
        folds: dict[str, int] = {}
        if self.needs_all_groups:
            kept = [
                (g, int(y))
                for g, y in zip(groups, labels, strict=True)
                if group_fraction(g) < test_floor
            ]
            folds = assign_folds(
                [g for g, _ in kept],
                [y for _, y in kept],
                self.num_folds,
                self.fold_strategy,
                self.fold_seed,
            )
        elif self.num_folds is not None:
            distinct = {g for g in groups if group_fraction(g) < test_floor}
            if groups and len(distinct) < self.num_folds:
                raise DatasetError(_too_few_groups(len(distinct), self.num_folds))
        cache: dict[str, str] = {}

        def side(group: str) -> str:
            known = cache.get(group)
            if known is not None:
                return known
            fraction = group_fraction(group)
            if fraction >= test_floor:
                result = "test"
            elif self.num_folds is None:
                result = "validation" if fraction < self.validation_split else "training"
            else:
                fold = folds.get(group)
                if fold is None:
                    fold = self._hash_fold(group, fraction, test_floor)
                result = "validation" if fold == self.fold else "training"
            cache[group] = result
            return result

        return side

    def _hash_fold(self, group: str, fraction: float, test_floor: float) -> int:
        if self.fold_seed is not None:
            fraction, test_floor = group_fraction(group, self.fold_seed), 1.0
        return min(int(fraction / test_floor * self.num_folds), self.num_folds - 1)


def assign_folds(
    groups: Sequence[str],
    labels: Sequence[int],
    num_folds: int,
    strategy: str,
    seed: int | None = None,
) -> dict[str, int]:
    """Deal groups to folds by the balanced or stratified rule (see the module's documentation).

    Parameters
    ----------
    groups : sequence of str
        The group of each file.
    labels : sequence of int
        The class id of each file (used by ``"stratified"``).
    num_folds : int
        Number of folds.
    strategy : {"balanced", "stratified", "hash"}
        The rule; ``"hash"`` deals by :func:`group_fraction`.
    seed : int, optional
        Orders groups of equal rank by a seeded permutation instead of by name.

    Returns
    -------
    dict of str to int
        Each group's fold.

    Raises
    ------
    DatasetError
        Fewer distinct groups than folds.

    Examples
    --------
    >>> assign_folds(["a", "a", "a", "b", "b", "c"], [0] * 6, 2, "balanced")
    {'a': 0, 'b': 1, 'c': 1}
    """
    names, group_ids = np.unique(np.asarray(list(groups), dtype=object), return_inverse=True)
    names = [str(name) for name in names]
    if len(names) < num_folds:
        raise DatasetError(_too_few_groups(len(names), num_folds))
    if strategy == "hash":
        return {
            name: min(int(group_fraction(name, seed) * num_folds), num_folds - 1) for name in names
        }
    _, label_ids = np.unique(np.asarray(list(labels)), return_inverse=True)
    num_classes = int(label_ids.max()) + 1 if label_ids.size else 1
    # counts[g, c]: files of group g in class c.
    counts = np.zeros((len(names), num_classes))
    np.add.at(counts, (group_ids.reshape(-1), label_ids.reshape(-1)), 1)
    # The order in which groups of equal rank are taken: by name, or a seeded permutation.
    order = np.arange(len(names))
    if seed is not None:
        order = random_generator(Stream.FOLD_ORDER, seed).permutation(len(names))
    if strategy == "balanced":
        sizes = counts.sum(axis=1)
        ranked = order[np.argsort(-sizes[order], kind="stable")]
        load = np.zeros(num_folds)
        folds = {}
        for g in ranked:
            lightest = int(np.argmin(load))
            load[lightest] += sizes[g]
            folds[names[g]] = lightest
        return folds
    if strategy != "stratified":
        raise DatasetError(f"unknown fold strategy {strategy!r}")
    class_totals = counts.sum(axis=0)
    ranked = order[np.argsort(-np.std(counts[order], axis=1), kind="stable")]
    per_fold = np.zeros((num_folds, num_classes))
    folds = {}
    for g in ranked:
        best, best_score, best_size = 0, math.inf, math.inf
        for k in range(num_folds):
            per_fold[k] += counts[g]
            score = float(np.mean(np.std(per_fold / class_totals, axis=0)))
            per_fold[k] -= counts[g]
            size = float(per_fold[k].sum())
            # Within numpy's isclose of the best score, the fold with fewer files wins.
            near = abs(score - best_score) <= 1e-8 + 1e-5 * abs(best_score)
            if score < best_score or (near and size < best_size):
                best, best_score, best_size = k, score, size
        per_fold[best] += counts[g]
        folds[names[g]] = best
    return folds


def _too_few_groups(num_groups: int, num_folds: int) -> str:
    return (
        f"num_folds={num_folds} needs at least {num_folds} groups (speakers, or files without "
        f"a speaker) but the dataset has {num_groups}; use fewer folds"
    )


def _check_fraction(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a float in [0, 1), got {value!r}")
    if not 0.0 <= value < 1.0:
        raise DatasetError(f"{name} must lie in [0, 1), got {value}")


def _check_optional_int(name: str, value: Any, low: int, high: int) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int in [{low}, {high}] or None, got {value!r}")
    if not low <= value <= high:
        raise DatasetError(f"{name} must lie in [{low}, {high}], got {value}")

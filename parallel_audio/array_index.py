"""The dataset index of clips held in memory (``flow``): labels, weights and groups checked."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from parallel_audio.dataset_index import DatasetIndex
from parallel_audio.errors import DatasetError
from parallel_audio.splits import SplitSpec
from parallel_audio.table_index import rows_in_subset

__all__ = ["build_array_index"]


def build_array_index(
    count: int,
    y: Any,
    sample_weight: Any,
    groups: Sequence[Any] | None,
    *,
    directory: str,
    subset: str | None,
    validation_split: float,
    test_split: float = 0.0,
    fold: int | None = None,
    num_folds: int | None = None,
    fold_strategy: str = "hash",
    fold_seed: int | None = None,
) -> DatasetIndex:
    """Index ``count`` in-memory clips with their labels, weights and groups.

    Parameters
    ----------
    count : int
        Number of clips.
    y : array-like, optional
        Class ids (1-D, whole numbers >= 0) or label rows (2-D: one-hot or multi-hot).
    sample_weight : array-like, optional
        One finite weight >= 0 per clip.
    groups : sequence, optional
        One group per clip (compared as ``str``); default each clip its own group, named by
        its position (``"0"``, ``"1"``, ...), so a clip's side depends only on its position.
    directory : str
        Where a relative ``bg_noise_dir`` is found.
    subset : {None, "training", "validation", "test"}
        Which side of the split to keep; the groups are dealt to sides by
        :class:`~parallel_audio.splits.SplitSpec`, as ``flow_from_directory`` deals speakers.
    validation_split : float
        Fraction of groups in validation (0 with ``num_folds``).
    test_split : float
        Fraction of groups held out for ``subset="test"``.
    fold, num_folds, fold_strategy, fold_seed
        Grouped k-fold, as for :func:`~parallel_audio.dataset_index.build_index`. The
        ``"balanced"`` and ``"stratified"`` strategies deal every clip's group; a clip's
        class (for ``"stratified"``) is its class id, or the one class of a one-hot row
        (other rows count as one more class).

    Returns
    -------
    DatasetIndex
        The kept clips in their order; ``clip_ids`` gives each one's position in ``x``,
        and its name is ``"clip <position>"``.

    Raises
    ------
    DatasetError
        For ``y``, ``sample_weight`` or ``groups`` of another length than ``x``, class ids
        that are not whole numbers >= 0, non-finite labels or weights, negative weights; for
        a split as ``flow_from_directory`` (fewer groups than folds, ``fold`` without
        ``num_folds``, ...), and a class of ``y`` (a class id, or a column some label row
        marks) with no clip in the subset, naming it.
    """
    split = SplitSpec(
        subset=subset,
        validation_split=validation_split,
        test_split=test_split,
        fold=fold,
        num_folds=num_folds,
        fold_strategy=fold_strategy,
        fold_seed=fold_seed,
    )
    class_names: tuple[str, ...] = ()
    class_ids = np.full(count, -1, np.int64)
    label_rows = None
    if y is not None:
        labels = np.asarray(y)
        _check_length("y", labels, count)
        if labels.dtype.kind not in "biuf" or labels.ndim not in (1, 2):
            raise DatasetError(
                f"y must be class ids (1-D) or label rows (2-D) of numbers, got an array of "
                f"shape {labels.shape} and dtype {labels.dtype}"
            )
        if not np.isfinite(labels.astype(np.float64)).all():
            bad = np.flatnonzero(~np.isfinite(labels.astype(np.float64)).reshape(count, -1).all(1))
            raise DatasetError(f"y holds non-finite values, for clips {_first(bad)}")
        if labels.ndim == 1:
            whole = (labels >= 0) & (np.floor(labels) == labels)
            if not whole.all():
                raise DatasetError(
                    "y of 1 dimension holds class ids, whole numbers >= 0; clips "
                    f"{_first(np.flatnonzero(~whole), labels)} do not"
                )
            class_ids = labels.astype(np.int64)
            class_names = tuple(str(i) for i in range(int(class_ids.max()) + 1))
        else:
            label_rows = labels.astype(np.float32)
            class_names = tuple(str(i) for i in range(labels.shape[1]))
            one_hot = (np.count_nonzero(labels, axis=1) == 1) & (labels.max(axis=1) == 1)
            class_ids = np.where(one_hot, labels.argmax(axis=1), -1)
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=np.float64)
        _check_length("sample_weight", weights, count)
        bad = np.flatnonzero(~np.isfinite(weights) | (weights < 0))
        if weights.ndim != 1 or bad.size:
            raise DatasetError(
                "sample_weight must hold one finite weight >= 0 per clip; clips "
                f"{_first(bad, weights)} do not"
            )
    if groups is None:
        group_names = [str(i) for i in range(count)]
    else:
        group_names = [str(group) for group in groups]
        if len(group_names) != count:
            raise DatasetError(f"groups has {len(group_names)} entries for {count} clips in x")
    kept = np.arange(count)
    if split.is_split:
        kept = np.flatnonzero(rows_in_subset(split, group_names, class_ids, np.ones(count, bool)))
        _check_classes_kept(class_ids, label_rows, kept, subset, split)
    return DatasetIndex(
        directory,
        class_names,
        tuple(f"clip {i}" for i in kept),
        class_ids[kept],
        regions=None,
        label_rows=None if label_rows is None else label_rows[kept],
        weights=None if weights is None else weights[kept],
        groups=tuple(group_names[i] for i in kept),
        clip_ids=kept,
    )


def _check_classes_kept(
    class_ids: np.ndarray,
    label_rows: np.ndarray | None,
    kept: np.ndarray,
    subset: str,
    split: SplitSpec,
) -> None:
    """Raise when a class some clip has has no clip in the subset, as directories do.

    A clip has the class of its id (1-D ``y``), or each class its label row marks (2-D).
    """
    if label_rows is None:
        present = np.unique(class_ids[class_ids >= 0])
        missing = np.setdiff1d(present, class_ids[kept])
    else:
        marked = label_rows != 0
        missing = np.flatnonzero(marked.any(axis=0) & ~marked[kept].any(axis=0))
    if missing.size:
        raise DatasetError(
            f"class {', '.join(str(int(c)) for c in missing)} of y has no clip in the {subset} "
            f"subset ({split.describe()}): its groups all fall on other sides of the split. "
            "Pass more groups, change the split, or leave the class out"
        )


def _check_length(name: str, values: np.ndarray, count: int) -> None:
    if values.ndim == 0 or values.shape[0] != count:
        raise DatasetError(
            f"{name} must have one entry per clip of x ({count}), got shape {values.shape}"
        )


def _first(positions: np.ndarray, values: np.ndarray | None = None, limit: int = 5) -> str:
    shown = [
        f"{int(i)}" + ("" if values is None else f" ({values[int(i)].item()!r})")
        for i in positions[:limit]
    ]
    more = f" and {positions.size - limit} more" if positions.size > limit else ""
    return ", ".join(shown) + more

"""How often each class and sample is seen in an epoch: sampling, epoch length, class weights.

Pure functions of the dataset's class ids and the run's seed, called in the training process
by the epoch plan: :func:`resolve_sampling` checks what the user asked for once, and
:func:`epoch_sample_ids` draws one epoch's sample ids from named random streams of
``(seed, epoch)``. Workers never draw a plan; they receive sample ids and stream ids.

The modes:

- ``None``: each epoch visits the samples in cycles of a permutation (``Stream.EPOCH_PLAN``
  of the cycle), ``samples_per_epoch`` at a time; with the default epoch length, epoch ``e``
  is cycle ``e``, exactly the plan without sampling.
- ``"balanced"``: each class gets a quota of the epoch (equal for real classes; ``_unknown_``
  and ``_silence_`` get their percentage of it), filled from a stream of its samples made of
  cycles of per-(seed, class, cycle) permutations (``Stream.BALANCED_CYCLE``), so every
  sample of a small class is used before any repeats, across epochs too. The epoch's samples
  are then put in a random order (``Stream.SAMPLED_ORDER``).
- weights (a ``{class: weight}`` dict, or one weight per sample): independent draws with
  replacement with probability proportional to the weight (``Stream.WEIGHTED_DRAW``); a
  class weight multiplies the weight of each of its samples, as if its files were copied
  that many times.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from parallel_audio.errors import SettingsError
from parallel_audio.random_streams import Stream, random_generator

__all__ = [
    "CLASS_WEIGHT_MODES",
    "SAMPLING_MODES",
    "Sampling",
    "balanced_class_weights",
    "epoch_sample_ids",
    "occurrences",
    "resolve_sampling",
]

CLASS_WEIGHT_MODES = ("balanced",)
SAMPLING_MODES = ("none", "balanced", "weights")
#: The longest epoch: enough for any dataset a batch of 2**16 samples could cycle through,
#: and small enough that one epoch's plan (8 bytes a sample) stays below 8 GB.
MAX_SAMPLES_PER_EPOCH = 2**30
_PSEUDO_CLASSES = ("_unknown_", "_silence_")


@dataclass(frozen=True, eq=False)
class Sampling:
    """One dataset's sampling, resolved and checked: what an epoch plan needs to draw epochs.

    Attributes
    ----------
    mode : {"none", "balanced", "weights"}
        How samples are chosen.
    samples : int
        Samples in the dataset.
    epoch_length : int
        Samples per epoch.
    shuffle : bool
        Whether epochs are drawn in a random order (always, except mode "none" unshuffled).
    members : tuple of numpy.ndarray
        ``"balanced"``: the sample ids of each class, in index order.
    quotas : numpy.ndarray
        ``"balanced"``: samples of each class per epoch (they add up to ``epoch_length``).
    probabilities : numpy.ndarray
        ``"weights"``: each sample's probability per draw.
    """

    mode: str
    samples: int
    epoch_length: int
    shuffle: bool = True
    members: tuple[np.ndarray, ...] = ()
    quotas: np.ndarray | None = None
    probabilities: np.ndarray | None = None

    def _key(self) -> tuple:
        arrays = (*self.members, self.quotas, self.probabilities)
        return (
            self.mode,
            self.samples,
            self.epoch_length,
            self.shuffle,
            tuple(None if a is None else (a.dtype.str, a.shape, a.tobytes()) for a in arrays),
        )

    def __eq__(self, other: object) -> bool:
        # By value, arrays included: a plan and its pickled copy compare equal.
        return isinstance(other, Sampling) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def expected_class_counts(self, class_ids: np.ndarray, num_classes: int) -> np.ndarray:
        """Return how many samples of each class an epoch holds on average."""
        class_ids = np.asarray(class_ids, dtype=np.intp)
        if self.mode == "balanced":
            return np.asarray(self.quotas, dtype=np.float64)
        if self.mode == "weights":
            mass = np.bincount(class_ids, weights=self.probabilities, minlength=num_classes)
            return self.epoch_length * mass
        counts = np.bincount(class_ids, minlength=num_classes).astype(np.float64)
        return counts * (self.epoch_length / self.samples)


def resolve_sampling(
    sampling: Any,
    samples_per_epoch: Any,
    class_ids: Sequence[int],
    class_names: Sequence[str],
    *,
    shuffle: bool,
    pseudo_percentages: Mapping[str, float] | None = None,
) -> Sampling:
    """Check ``sampling`` and ``samples_per_epoch`` against a dataset and resolve them.

    Parameters
    ----------
    sampling : None, "balanced", dict or sequence of float
        See the module's documentation.
    samples_per_epoch : int or None
        Samples per epoch, from 1 to 2**30; None is the number of samples in the dataset.
    class_ids : sequence of int
        Every sample's class id, in index order.
    class_names : sequence of str
        The classes, in class-id order.
    shuffle : bool
        The iterator's ``shuffle``; sampling needs it on.
    pseudo_percentages : mapping of str to float, optional
        The ``_unknown_`` and ``_silence_`` percentages, which size their balanced quotas
        relative to a real class's.

    Returns
    -------
    Sampling

    Raises
    ------
    SettingsError
        Weights of the wrong length, negative, not finite or all zero; a class in the dict
        that is not among the classes; ``"balanced"`` with an empty class (named); sampling
        with ``shuffle=False``; an out-of-range ``samples_per_epoch``.
    TypeError
        A value of the wrong type.
    """
    class_ids = np.asarray(class_ids, dtype=np.intp)
    samples = int(class_ids.size)
    epoch_length = _check_samples_per_epoch(samples_per_epoch, samples)
    if sampling is None:
        return Sampling("none", samples, epoch_length, shuffle=bool(shuffle))
    if not shuffle:
        raise SettingsError(
            f"sampling={_describe(sampling)} draws the samples of each epoch at random; it "
            "cannot be combined with shuffle=False (set shuffle=True, or sampling=None)"
        )
    if isinstance(sampling, str):
        if sampling != "balanced":
            raise SettingsError(
                f"sampling must be None, 'balanced', a {{class: weight}} dict or one weight "
                f"per sample, got {sampling!r}"
            )
        return _balanced(class_ids, class_names, epoch_length, pseudo_percentages or {})
    if isinstance(sampling, Mapping):
        weights = _class_dict_weights(sampling, class_ids, class_names)
    else:
        weights = _sample_weights(sampling, samples)
    return Sampling(
        "weights", samples, epoch_length, probabilities=_read_only(weights / weights.sum())
    )


def epoch_sample_ids(sampling: Sampling, seed: int, epoch: int) -> np.ndarray:
    """Return the sample ids of epoch ``epoch``, in the order it visits them.

    Parameters
    ----------
    sampling : Sampling
        From :func:`resolve_sampling`.
    seed : int
        The run's seed.
    epoch : int
        The epoch, from 0.

    Returns
    -------
    numpy.ndarray of int64, shape (epoch_length,)
    """
    length = sampling.epoch_length
    if sampling.mode == "weights":
        rng = random_generator(Stream.WEIGHTED_DRAW, seed, epoch)
        drawable = np.flatnonzero(sampling.probabilities)  # a zero weight is never drawn
        p = sampling.probabilities[drawable]
        return drawable[rng.choice(drawable.size, size=length, p=p / p.sum())].astype(np.int64)
    if sampling.mode == "none":
        members = np.arange(sampling.samples)

        def cycle_order(cycle: int) -> np.ndarray:
            if not sampling.shuffle:
                return members
            return random_generator(Stream.EPOCH_PLAN, seed, cycle).permutation(sampling.samples)

        return _cycled(cycle_order, sampling.samples, epoch * length, length).astype(np.int64)
    parts = []
    for class_id, (members, quota) in enumerate(
        zip(sampling.members, sampling.quotas, strict=True)
    ):
        quota = int(quota)
        if quota == 0:
            continue

        def class_cycle(cycle: int, members=members, class_id=class_id) -> np.ndarray:
            rng = random_generator(Stream.BALANCED_CYCLE, seed, class_id, cycle)
            return members[rng.permutation(members.size)]

        parts.append(_cycled(class_cycle, members.size, epoch * quota, quota))
    ids = np.concatenate(parts)
    rng = random_generator(Stream.SAMPLED_ORDER, seed, epoch)
    return ids[rng.permutation(ids.size)].astype(np.int64)


def occurrences(ids: np.ndarray) -> np.ndarray:
    """Return, for each position, how many times its id occurred at earlier positions.

    Examples
    --------
    >>> occurrences(np.array([3, 1, 3, 3, 1])).tolist()
    [0, 0, 1, 2, 1]
    """
    ids = np.asarray(ids)
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    starts = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
    run_start = np.repeat(starts, np.diff(np.r_[starts, ids.size]))
    counts = np.empty(ids.size, dtype=np.int64)
    counts[order] = np.arange(ids.size) - run_start
    return counts


def balanced_class_weights(counts: Sequence[float], mode: str = "balanced") -> np.ndarray:
    """Return each class's weight ``n / (classes * n_c)``: what ``fit(class_weight=)`` takes.

    Parameters
    ----------
    counts : sequence of float
        The number of samples of each class (``n_c``) in one epoch; ``n`` is their sum and
        ``classes`` their number. Expected counts (not integers) are accepted.
    mode : {"balanced"}
        The rule: scikit-learn's and MLTK's ``class_weights='balanced'``.

    Returns
    -------
    numpy.ndarray of float64
        One weight per class; 0.0 for a class with no sample (it never occurs, so its weight
        never counts).

    Raises
    ------
    SettingsError
        An unknown ``mode``.

    Examples
    --------
    >>> balanced_class_weights([30, 10]).tolist()
    [0.6666666666666666, 2.0]
    """
    if mode not in CLASS_WEIGHT_MODES:
        raise SettingsError(
            f"class weight mode must be one of {', '.join(map(repr, CLASS_WEIGHT_MODES))}, got "
            f"{mode!r}"
        )
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    weights = np.zeros_like(counts)
    weights[present] = counts.sum() / (counts.size * counts[present])
    return weights


# ----------------------------------------------------------------------------- helpers


def _cycled(cycle_order, size: int, start: int, length: int) -> np.ndarray:
    """Positions ``[start, start + length)`` of the endless concatenation of cycle orders."""
    first, last = start // size, (start + length - 1) // size
    cycles = np.concatenate([cycle_order(c) for c in range(first, last + 1)])
    offset = start - first * size
    return cycles[offset : offset + length]


def _balanced(
    class_ids: np.ndarray,
    class_names: Sequence[str],
    epoch_length: int,
    pseudo_percentages: Mapping[str, float],
) -> Sampling:
    num_classes = len(class_names)
    members = tuple(_read_only(np.flatnonzero(class_ids == c)) for c in range(num_classes))
    shares = np.array(
        [float(pseudo_percentages.get(name, 1.0)) for name in class_names], dtype=np.float64
    )
    for name, share, ids in zip(class_names, shares, members, strict=True):
        if share > 0 and ids.size == 0:
            raise SettingsError(
                f"sampling='balanced' gives class {name!r} a share of every epoch, but it has "
                "no sample in this subset; remove it from classes or use another sampling"
            )
    quotas = _largest_remainder(epoch_length * shares / shares.sum())
    return Sampling(
        "balanced",
        int(class_ids.size),
        epoch_length,
        members=members,
        quotas=_read_only(quotas),
    )


def _largest_remainder(exact: np.ndarray) -> np.ndarray:
    """Round shares to integers adding up to their sum; larger remainders, then lower ids, first."""
    floors = np.floor(exact).astype(np.int64)
    missing = int(round(exact.sum())) - int(floors.sum())
    order = np.argsort(-(exact - floors), kind="stable")
    floors[order[:missing]] += 1
    return floors


def _class_dict_weights(
    weights: Mapping[Any, Any], class_ids: np.ndarray, class_names: Sequence[str]
) -> np.ndarray:
    unknown = [name for name in weights if name not in class_names]
    if unknown:
        raise SettingsError(
            f"sampling names {', '.join(map(repr, unknown))}, not among the classes "
            f"{list(class_names)}"
        )
    per_class = np.ones(len(class_names))
    for name, weight in weights.items():
        per_class[list(class_names).index(name)] = _check_weight(f"sampling[{name!r}]", weight)
    sample_weights = per_class[class_ids]
    if not sample_weights.sum() > 0:
        raise SettingsError(
            f"sampling={_describe(weights)} gives every sample of this subset weight 0; at "
            "least one must be drawable"
        )
    return sample_weights


def _sample_weights(weights: Any, samples: int) -> np.ndarray:
    if isinstance(weights, (str, bytes)) or not isinstance(weights, (Sequence, np.ndarray)):
        raise TypeError(
            "sampling must be None, 'balanced', a {class: weight} dict or one weight per "
            f"sample, got {type(weights).__name__}"
        )
    try:
        array = np.asarray(weights, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("sampling weights must be numbers") from None
    if array.ndim != 1 or array.size != samples:
        raise SettingsError(
            f"sampling has {array.size if array.ndim == 1 else array.shape} weights but the "
            f"subset has {samples} samples; give one weight per sample, in the iterator's "
            "filenames order"
        )
    bad = np.flatnonzero(~np.isfinite(array) | (array < 0))
    if bad.size:
        raise SettingsError(
            f"sampling weights must be finite and >= 0; sample {bad[0]} has {array[bad[0]]}"
            + (f" ({bad.size} such samples)" if bad.size > 1 else "")
        )
    if not array.sum() > 0:
        raise SettingsError("sampling weights are all 0; at least one sample must be drawable")
    return array


def _check_weight(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number >= 0, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise SettingsError(f"{name} must be finite and >= 0, got {value}")
    return float(value)


def _check_samples_per_epoch(value: Any, samples: int) -> int:
    if value is None:
        return samples
    allowed = f"an int from 1 to {MAX_SAMPLES_PER_EPOCH}, or None for the subset's size"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"samples_per_epoch must be {allowed}, got {value!r}")
    if not 1 <= value <= MAX_SAMPLES_PER_EPOCH:
        raise SettingsError(f"samples_per_epoch must be {allowed}, got {value}")
    return int(value)


def _describe(sampling: Any) -> str:
    if isinstance(sampling, (str, Mapping)):
        return repr(sampling)
    return f"<{len(sampling)} weights>" if hasattr(sampling, "__len__") else repr(sampling)


def _read_only(array: np.ndarray) -> np.ndarray:
    array.setflags(write=False)
    return array

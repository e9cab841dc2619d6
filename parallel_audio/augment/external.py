"""Running ``audiomentations`` transforms reproducibly, after the built-in augmentations."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import numpy as np

# audiomentations draws from the global `random` and `numpy.random` states. Seeding them
# per sample makes its draws reproducible; the lock keeps debug threads from interleaving.
_GLOBAL_RANDOM_LOCK = threading.Lock()


def apply_augmentations(
    transforms: tuple[Callable, ...], audio: np.ndarray, sample_rate: int, seed: int
) -> np.ndarray:
    """Apply ``transforms`` in order with the global random states seeded from ``seed``.

    The caller's global random states are restored afterwards.

    Returns
    -------
    numpy.ndarray of float32
    """
    if not transforms:
        return audio
    with _GLOBAL_RANDOM_LOCK:
        python_state, numpy_state = random.getstate(), np.random.get_state()
        random.seed(seed)
        np.random.seed(seed % 2**32)
        try:
            for transform in transforms:
                audio = transform(samples=audio, sample_rate=sample_rate)
        finally:
            random.setstate(python_state)
            np.random.set_state(numpy_state)
    return np.asarray(audio, np.float32)


class ExternalAugmentations:
    """The user's ``augmentations`` transforms, run with global random states seeded per sample.

    ``draw`` draws the seed; ``apply`` runs the transforms in order with Python's and numpy's
    global random states seeded from it (audiomentations draws from them), then restores them.

    Parameters
    ----------
    transforms : tuple of callable
        Each called as ``transform(samples=audio, sample_rate=sample_rate)``. Empty: off.
    sample_rate : int
        Rate of the clips, in Hz.

    Examples
    --------
    >>> double = ExternalAugmentations((lambda samples, sample_rate: 2 * samples,), sample_rate=8)
    >>> double.apply(np.ones(2, np.float32), double.draw(np.random.default_rng(0)))
    array([2., 2.], dtype=float32)
    """

    def __init__(self, transforms: tuple[Callable, ...], *, sample_rate: int) -> None:
        self.transforms = tuple(transforms)
        self.sample_rate = int(sample_rate)

    @property
    def enabled(self) -> bool:
        """Whether there are transforms."""
        return bool(self.transforms)

    def draw(self, rng: np.random.Generator) -> int | None:
        """Draw one sample's seed (None, drawing nothing, when off)."""
        if not self.transforms:
            return None
        return int(rng.integers(2**63))

    def apply(self, audio: np.ndarray, seed: int | None) -> np.ndarray:
        """Return ``audio`` through the transforms seeded by ``seed`` (itself for None)."""
        if seed is None:
            return audio
        return apply_augmentations(self.transforms, audio, self.sample_rate, seed)

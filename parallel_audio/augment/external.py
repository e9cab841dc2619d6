"""Running ``audiomentations`` transforms reproducibly."""

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

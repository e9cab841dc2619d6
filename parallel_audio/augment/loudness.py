"""Loudness: a gain drawn per sample."""

from __future__ import annotations

import numpy as np

from parallel_audio.limits import MAX_LOUDNESS_FACTOR
from parallel_audio.validation import check_range


class LoudnessChange:
    """Multiply a clip by a gain drawn uniformly from ``loudness_range``.

    The gain applies to the whole mix: the noise added afterwards is multiplied by it too,
    as the reference does, so the signal-to-noise ratio does not depend on it.

    Parameters
    ----------
    loudness_range : (float, float)
        Lowest and highest gain, within [0, :data:`MAX_LOUDNESS_FACTOR`] (100); < 1 quieter,
        > 1 louder.

    Examples
    --------
    >>> LoudnessChange((0.5, 1.5)).apply(np.ones(2, np.float32), 0.5)
    array([0.5, 0.5], dtype=float32)
    """

    def __init__(self, loudness_range: tuple[float, float]) -> None:
        low, high = check_range(
            "loudness_range", loudness_range, minimum=0, maximum=MAX_LOUDNESS_FACTOR
        )
        self.loudness_range = (float(low), float(high))

    def draw(self, rng: np.random.Generator) -> float:
        """Draw one sample's gain."""
        return float(rng.uniform(*self.loudness_range))

    @staticmethod
    def apply(audio: np.ndarray, gain: float) -> np.ndarray:
        """Return ``audio * gain``."""
        if gain == 1.0:
            return audio
        return audio * np.float32(gain)

"""Loudness: a gain drawn per sample."""

from __future__ import annotations

import numpy as np

from parallel_audio.limits import MAX_LOUDNESS_FACTOR
from parallel_audio.validation import float_range


class LoudnessChange:
    """Multiply a clip by a gain drawn uniformly from ``loudness_range``.

    The gain applies to the whole mix: the noise added afterwards is multiplied by it too,
    as the reference does, so the signal-to-noise ratio does not depend on it (see
    :class:`~parallel_audio.augment.added_noise.NoiseDraw`).

    Parameters
    ----------
    loudness_range : (float, float), optional
        Lowest and highest gain, within [0, :data:`~parallel_audio.limits.MAX_LOUDNESS_FACTOR`]
        (100); < 1 quieter, > 1 louder. None: off (draws 1).

    Examples
    --------
    >>> LoudnessChange((0.5, 1.5)).apply(np.ones(2, np.float32), 0.5)
    array([0.5, 0.5], dtype=float32)
    """

    def __init__(self, loudness_range: tuple[float, float] | None) -> None:
        self.loudness_range = float_range(
            "loudness_range", loudness_range, minimum=0, maximum=MAX_LOUDNESS_FACTOR
        )

    @property
    def enabled(self) -> bool:
        """Whether a range was given."""
        return self.loudness_range is not None

    def draw(self, rng: np.random.Generator) -> float:
        """Draw one sample's gain (1.0, drawing nothing, when off)."""
        if self.loudness_range is None:
            return 1.0
        return float(rng.uniform(*self.loudness_range))

    def apply(self, audio: np.ndarray, gain: float) -> np.ndarray:
        """Return ``audio * gain`` (``audio`` itself for a gain of 1)."""
        if gain == 1.0:
            return audio
        return audio * np.float32(gain)

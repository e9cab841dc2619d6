"""Speed: play a clip faster or slower at the same pitch."""

from __future__ import annotations

import numpy as np

from parallel_audio.augment.vocoder import stretch_and_warp
from parallel_audio.limits import SPEED_FACTOR_LIMITS
from parallel_audio.validation import check_range


class SpeedChange:
    """Change a clip's tempo by a factor drawn from ``speed_range``, keeping its pitch.

    A factor of 1.25 plays the clip 1.25 times faster: 1 s becomes 0.8 s, a 440 Hz tone
    stays at 440 Hz. Factors are drawn uniformly over the range (continuous, both ends
    included).

    Parameters
    ----------
    speed_range : (float, float)
        Lowest and highest factor, within :data:`SPEED_FACTOR_LIMITS` (0.1 to 10); < 1 slows
        down, > 1 speeds up.

    Examples
    --------
    >>> speed = SpeedChange((0.9, 1.1))
    >>> factor = speed.draw(np.random.default_rng(0))
    >>> 0.9 <= factor <= 1.1
    True
    """

    def __init__(self, speed_range: tuple[float, float]) -> None:
        low, high = check_range(
            "speed_range",
            speed_range,
            minimum=SPEED_FACTOR_LIMITS[0],
            maximum=SPEED_FACTOR_LIMITS[1],
        )
        self.speed_range = (float(low), float(high))

    def draw(self, rng: np.random.Generator) -> float:
        """Draw one sample's factor."""
        return float(rng.uniform(*self.speed_range))

    @staticmethod
    def apply(audio: np.ndarray, factor: float) -> np.ndarray:
        """Return ``audio`` played ``factor`` times faster: ``round(len(audio) / factor)`` long."""
        if factor == 1.0:
            return audio
        return stretch_and_warp(audio, rate=factor)

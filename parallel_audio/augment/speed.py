"""Speed: play a clip faster or slower at the same pitch."""

from __future__ import annotations

import numpy as np

from parallel_audio.augment.vocoder import VocoderPass
from parallel_audio.limits import SPEED_FACTOR_LIMITS
from parallel_audio.validation import float_range


class SpeedChange:
    """Change a clip's tempo by a factor drawn from ``speed_range``, keeping its pitch.

    A factor of 1.25 plays the clip 1.25 times faster: 1 s becomes 0.8 s, a 440 Hz tone
    stays at 440 Hz. Factors are drawn uniformly over the range (continuous, both ends
    included). The factor is the time rate of the vocoder pass the clip goes through (see
    :class:`~parallel_audio.augment.vocoder.VocoderPass`).

    Parameters
    ----------
    speed_range : (float, float), optional
        Lowest and highest factor, within :data:`~parallel_audio.limits.SPEED_FACTOR_LIMITS`
        (0.1 to 10); < 1 slows down, > 1 speeds up. None: off (draws 1).

    Examples
    --------
    >>> speed = SpeedChange((0.9, 1.1))
    >>> factor = speed.draw(np.random.default_rng(0))
    >>> 0.9 <= factor <= 1.1
    True
    >>> speed.apply(VocoderPass(), 1.25).rate
    1.25
    """

    def __init__(self, speed_range: tuple[float, float] | None) -> None:
        low, high = SPEED_FACTOR_LIMITS
        self.speed_range = float_range("speed_range", speed_range, minimum=low, maximum=high)

    @property
    def enabled(self) -> bool:
        """Whether a range was given."""
        return self.speed_range is not None

    def draw(self, rng: np.random.Generator) -> float:
        """Draw one sample's factor (1.0, drawing nothing, when off)."""
        if self.speed_range is None:
            return 1.0
        return float(rng.uniform(*self.speed_range))

    def apply(self, vocoder: VocoderPass, factor: float) -> VocoderPass:
        """Return the pass playing ``factor`` times faster: ``round(n / factor)`` samples."""
        return vocoder.faster(factor)

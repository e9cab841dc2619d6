"""What colored and background noise share: drawing a source, a level and a crop; adding it."""

from __future__ import annotations

from typing import ClassVar, NamedTuple

import numpy as np

from parallel_audio.augment.levels import noise_scale
from parallel_audio.limits import NOISE_LEVEL_LIMITS
from parallel_audio.validation import NOISE_LEVEL_MODES, check_choice, float_range


class NoiseDraw(NamedTuple):
    """One sample's added noise.

    Attributes
    ----------
    source : str
        Which noise: a color, or a background noise file's name.
    level : float
        A factor, or a signal-to-noise ratio in dB (see :class:`AddedNoise`).
    position : float
        Where the crop starts, as a fraction of the noise, in [0, 1).
    gain : float
        The loudness gain the clip got; in "factor" mode the noise is multiplied by it too,
        as the reference does, so that the ratio of clip to noise does not depend on it.
    """

    source: str
    level: float
    position: float
    gain: float = 1.0


class AddedNoise:
    """Add a crop of noise, from a source drawn among ``sources``, at a level drawn from a range.

    Levels, with ``n`` the noise crop and ``g`` the sample's loudness gain:

    - ``mode="factor"`` (the reference's meaning: 0.0 no noise): ``y = x + g * level * n``.
    - ``mode="snr_db"``: ``level`` is the signal-to-noise ratio in dB between the clip and
      the crop, both measured in LUFS (see
      :func:`~parallel_audio.augment.levels.noise_scale`); the gain plays no part.

    Subclasses say what the sources are and how a crop is cut (:meth:`crop`).

    Parameters
    ----------
    sources : sequence of str
        What ``draw`` picks from, uniformly; empty: off.
    level_range : (float, float), optional
        Factors within [0, 100], or SNRs within [-100, 100] dB
        (:data:`~parallel_audio.limits.NOISE_LEVEL_LIMITS`). None: off.
    mode : {"factor", "snr_db"}
    sample_rate : int
        Rate of the clips, in Hz.
    """

    #: The generator parameter that holds the level range, for messages.
    range_name: ClassVar[str] = "level_range"

    def __init__(
        self,
        sources: tuple[str, ...] | list[str],
        level_range: tuple[float, float] | None,
        *,
        mode: str = "factor",
        sample_rate: int = 16000,
    ) -> None:
        self.mode = check_choice("noise_level_mode", mode, NOISE_LEVEL_MODES)
        minimum, maximum = NOISE_LEVEL_LIMITS[mode]
        self.level_range = float_range(
            self.range_name, level_range, minimum=minimum, maximum=maximum
        )
        self.sources = tuple(sources)
        self.sample_rate = int(sample_rate)

    @property
    def enabled(self) -> bool:
        """Whether ``draw`` draws: there are sources and a level range."""
        return bool(self.sources) and self.level_range is not None

    def draw(self, rng: np.random.Generator) -> NoiseDraw | None:
        """Draw one sample's (source, level, crop position); None, drawing nothing, when off."""
        if not self.enabled:
            return None
        source = self.sources[int(rng.integers(len(self.sources)))]
        return NoiseDraw(source, float(rng.uniform(*self.level_range)), float(rng.random()))

    def apply(self, audio: np.ndarray, draw: NoiseDraw | None) -> np.ndarray:
        """Return ``audio`` with the drawn noise added (``audio`` itself for None or level 0)."""
        if draw is None or (self.mode == "factor" and draw.level == 0):
            return audio
        noise = self.crop(draw.source, audio.size, draw.position)
        scale = noise_scale(draw.level, self.mode, audio, noise, self.sample_rate)
        if self.mode == "factor":
            scale *= draw.gain
        return audio + np.float32(scale) * noise

    def crop(self, source: str, length: int, position: float) -> np.ndarray:
        """Return ``length`` samples of noise ``source`` from ``position`` (a fraction)."""
        raise NotImplementedError

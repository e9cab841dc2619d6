"""Colored noise: Gaussian noise with a 1/f^beta power spectrum, added at a drawn level."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from parallel_audio.augment.levels import noise_scale
from parallel_audio.errors import SettingsError
from parallel_audio.limits import NOISE_LEVEL_LIMITS
from parallel_audio.random_streams import Stream, random_generator
from parallel_audio.validation import NOISE_COLORS, check_range

#: Power spectrum exponent of each color: power falls as 1 / f ** exponent.
NOISE_EXPONENTS = dict(zip(NOISE_COLORS, (0.0, 1.0, 2.0, -1.0, -2.0), strict=True))

#: Length of the noise buffer each color is cropped from. Generating noise costs more than a
#: whole augmented sample, so each process generates every color once, from a fixed seed
#: (the same buffer in every process), and each sample crops it at its own drawn position.
NOISE_BUFFER_SECONDS = 30


@lru_cache(maxsize=16)
def noise_buffer(color: str, length: int) -> np.ndarray:
    """``length`` samples of noise of one color, peak 1, float32, read-only.

    Generated in the frequency domain by ``colorednoise`` (random phase, power spectrum
    exactly ``1 / f ** beta``), so the buffer is periodic: a crop may wrap around its end
    without a seam.
    """
    import colorednoise

    rng = random_generator(Stream.NOISE_BUFFER, 0, NOISE_COLORS.index(color))
    noise = colorednoise.powerlaw_psd_gaussian(NOISE_EXPONENTS[color], length, random_state=rng)
    noise = (noise / np.max(np.abs(noise))).astype(np.float32)
    noise.setflags(write=False)
    return noise


def crop_circular(buffer: np.ndarray, length: int, start: int) -> np.ndarray:
    """``length`` samples of ``buffer`` from ``start``, wrapping around its end."""
    start %= buffer.size
    if start + length <= buffer.size:
        return buffer[start : start + length]
    return np.take(buffer, np.arange(start, start + length), mode="wrap")


class ColoredNoise:
    """Add noise of a color drawn from ``colors`` at a level drawn from ``level_range``.

    Levels, with ``n`` the noise crop, peak-normalized over its buffer, and ``g`` the
    sample's loudness gain:

    - ``mode="factor"`` (the reference's meaning: 0.0 no noise, 1.0 full noise):
      ``y = x + g * level * n``; at 1.0 the noise reaches digital full scale.
    - ``mode="snr_db"``: ``level`` is the signal-to-noise ratio in dB between the clip
      and the noise, both measured in LUFS (see :func:`~parallel_audio.augment.levels.noise_scale`).

    Parameters
    ----------
    colors : sequence of str
        Among white, pink, brown (power falling as 1/f^0, 1/f, 1/f^2), blue, violet (rising
        as f, f^2).
    level_range : (float, float)
        Factors within [0, 100], or SNRs within [-100, 100] dB (:data:`NOISE_LEVEL_LIMITS`).
    mode : {"factor", "snr_db"}
    sample_rate : int
        Rate of the clips, for the buffer length and the loudness meter.

    Examples
    --------
    >>> noise = ColoredNoise(["pink"], (0.1, 0.2), sample_rate=16000)
    >>> color, level, position = noise.draw(np.random.default_rng(0))
    >>> color
    'pink'
    """

    def __init__(
        self,
        colors: tuple[str, ...] | list[str],
        level_range: tuple[float, float],
        *,
        mode: str = "factor",
        sample_rate: int = 16000,
    ) -> None:
        unknown = [c for c in colors if c not in NOISE_EXPONENTS]
        if unknown or not colors:
            raise SettingsError(f"colors must be among {', '.join(NOISE_COLORS)}; got {colors!r}")
        self.colors = tuple(colors)
        minimum, maximum = NOISE_LEVEL_LIMITS[mode]
        low, high = check_range("noise_color_range", level_range, minimum=minimum, maximum=maximum)
        self.level_range = (float(low), float(high))
        self.mode = mode
        self.sample_rate = int(sample_rate)

    def draw(self, rng: np.random.Generator) -> tuple[str, float, float]:
        """Draw one sample's (color, level, crop position as a fraction of the buffer)."""
        color = self.colors[int(rng.integers(len(self.colors)))]
        return color, float(rng.uniform(*self.level_range)), float(rng.random())

    def apply(
        self, audio: np.ndarray, color: str, level: float, position: float, gain: float = 1.0
    ) -> np.ndarray:
        """Return ``audio`` with the noise of ``color`` added at ``level``."""
        if self.mode == "factor" and level == 0:
            return audio
        buffer = noise_buffer(color, max(NOISE_BUFFER_SECONDS * self.sample_rate, audio.size))
        noise = crop_circular(buffer, audio.size, int(position * buffer.size))
        scale = noise_scale(level, self.mode, audio, noise, self.sample_rate)
        if self.mode == "factor":
            scale *= gain
        return audio + np.float32(scale) * noise

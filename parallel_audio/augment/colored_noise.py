"""Colored noise: Gaussian noise with a 1/f^beta power spectrum, added at a drawn level."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from parallel_audio.augment.added_noise import AddedNoise
from parallel_audio.random_streams import Stream, random_generator
from parallel_audio.validation import NOISE_COLORS, wrong_value

#: Power spectrum exponent of each color: power falls as 1 / f ** exponent.
NOISE_EXPONENTS = dict(zip(NOISE_COLORS, (0.0, 1.0, 2.0, -1.0, -2.0), strict=True))

#: Length of the noise buffer each color is cropped from. Generating noise costs more than a
#: whole augmented sample, so every color is generated once per process, from a fixed seed
#: (the same buffer in every process), and each sample crops it at its own drawn position.
#: Worker processes do not even generate it: they receive it (see ColoredNoise.__getstate__).
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


class ColoredNoise(AddedNoise):
    """Add noise of a color drawn from ``colors`` at a level drawn from ``level_range``.

    The crop is cut from a buffer of the color (peak 1 over the whole buffer, so that at the
    factor 1.0 the noise reaches digital full scale), wrapping around its end. Levels are read
    as :class:`~parallel_audio.augment.added_noise.AddedNoise` says. Any color can be applied,
    drawn among ``colors`` or not.

    Parameters
    ----------
    colors : sequence of str
        Among white, pink, brown (power falling as 1/f^0, 1/f, 1/f^2), blue, violet (rising
        as f, f^2). Empty: off.
    level_range : (float, float), optional
        Factors within [0, 100], or SNRs within [-100, 100] dB. None: off.
    mode : {"factor", "snr_db"}
    sample_rate : int
        Rate of the clips, for the buffer length and the loudness meter.

    Examples
    --------
    >>> noise = ColoredNoise(["pink"], (0.1, 0.2), sample_rate=16000)
    >>> noise.draw(np.random.default_rng(0)).source
    'pink'
    """

    range_name = "noise_color_range"

    def __init__(
        self,
        colors: tuple[str, ...] | list[str],
        level_range: tuple[float, float] | None,
        *,
        mode: str = "factor",
        sample_rate: int = 16000,
    ) -> None:
        if any(color not in NOISE_EXPONENTS for color in colors):
            raise wrong_value("colors", f"colors among {', '.join(NOISE_COLORS)}", colors)
        super().__init__(colors, level_range, mode=mode, sample_rate=sample_rate)
        # Buffers received with a pickle, by color; else this process's noise_buffer cache.
        self._received: dict[str, np.ndarray] = {}

    def crop(self, source: str, length: int, position: float) -> np.ndarray:
        """Return ``length`` samples of the color ``source`` from ``position`` of its buffer."""
        size = max(NOISE_BUFFER_SECONDS * self.sample_rate, length)
        buffer = self._received.get(source)
        if buffer is None or buffer.size != size:
            buffer = noise_buffer(source, size)
        return crop_circular(buffer, length, int(position * buffer.size))

    def __getstate__(self) -> dict:
        """Pickle with the buffer of every color ``draw`` picks from, generated here if need be.

        A worker process then crops the buffers it receives instead of generating them before
        its first batch, which would take longer than the batch itself (about 50 ms a color
        for 30 s at 16 kHz, against milliseconds to receive 2 MB). The buffers are generated
        once per process (``noise_buffer`` keeps them) and are the same in every process, so
        the crops are bit for bit those the worker would have cut from its own.
        """
        state = self.__dict__.copy()
        if self.enabled:
            size = NOISE_BUFFER_SECONDS * self.sample_rate
            state["_received"] = {color: noise_buffer(color, size) for color in self.sources}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        for buffer in self._received.values():
            buffer.setflags(write=False)  # as noise_buffer's: crops are views of it

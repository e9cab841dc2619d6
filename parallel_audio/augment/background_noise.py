"""Background noise: a crop of a recorded noise file, looped if short, added at a drawn level."""

from __future__ import annotations

import os

import numpy as np

from parallel_audio.augment._ranges import check_range
from parallel_audio.augment.levels import noise_scale
from parallel_audio.errors import DatasetError

#: File extensions read as background noise.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aif", ".aiff", ".au", ".opus")


def load_background_noise(directory: str, sample_rate: int) -> dict[str, np.ndarray]:
    """Read every audio file of ``directory`` (not recursive) once, at ``sample_rate``.

    Other files (a README, for instance) are ignored.

    Returns
    -------
    dict of str to numpy.ndarray
        File name without extension to mono float32 audio, in sorted order.

    Raises
    ------
    DatasetError
        The directory does not exist or holds no audio file.
    AudioFileError
        A file cannot be read.
    """
    from parallel_audio.audio_io import read_audio

    if not os.path.isdir(directory):
        raise DatasetError(f"bg_noise_dir {directory!r} is not a directory")
    names = sorted(
        name
        for name in os.listdir(directory)
        if name.lower().endswith(AUDIO_EXTENSIONS) and os.path.isfile(os.path.join(directory, name))
    )
    if not names:
        raise DatasetError(
            f"bg_noise_dir {directory!r} holds no audio file ({', '.join(AUDIO_EXTENSIONS)})"
        )
    noises = {}
    for name in names:
        audio = read_audio(os.path.join(directory, name), sample_rate)
        audio.setflags(write=False)
        noises[os.path.splitext(name)[0]] = audio
    return noises


def crop_looped(noise: np.ndarray, length: int, position: float) -> np.ndarray:
    """``length`` samples of ``noise`` from a fractional position.

    A file at least ``length`` long is cropped at ``int(position * (len - length + 1))``,
    so crops cover the whole file evenly; a shorter one is looped from
    ``int(position * len)``.
    """
    if noise.size >= length:
        start = min(int(position * (noise.size - length + 1)), noise.size - length)
        return noise[start : start + length]
    start = int(position * noise.size)
    return np.take(noise, np.arange(start, start + length), mode="wrap")


class BackgroundNoise:
    """Add a crop of a background noise file at a level drawn from ``level_range``.

    Levels, with ``b`` the crop at its recorded level and ``g`` the sample's loudness gain:

    - ``mode="factor"`` (the reference's meaning): ``y = x + g * level * b``.
    - ``mode="snr_db"``: ``level`` is the signal-to-noise ratio in dB between the clip and
      the crop, both measured in LUFS (see :func:`~parallel_audio.augment.levels.noise_scale`).

    Parameters
    ----------
    noises : dict of str to numpy.ndarray
        From :func:`load_background_noise`.
    level_range : (float, float)
        Factors >= 0, or SNRs in dB.
    mode : {"factor", "snr_db"}
    sample_rate : int

    Examples
    --------
    >>> noise = BackgroundNoise({"hum": np.ones(100, np.float32)}, (0.5, 0.5))
    >>> name, level, position = noise.draw(np.random.default_rng(0))
    >>> noise.apply(np.zeros(3, np.float32), name, level, position)
    array([0.5, 0.5, 0.5], dtype=float32)
    """

    def __init__(
        self,
        noises: dict[str, np.ndarray],
        level_range: tuple[float, float],
        *,
        mode: str = "factor",
        sample_rate: int = 16000,
    ) -> None:
        self.noises = noises
        self.names = tuple(noises)
        minimum = 0 if mode == "factor" else None
        low, high = check_range("bg_noise_range", level_range, minimum=minimum)
        self.level_range = (float(low), float(high))
        self.mode = mode
        self.sample_rate = int(sample_rate)

    def draw(self, rng: np.random.Generator) -> tuple[str, float, float]:
        """Draw one sample's (file name, level, crop position as a fraction)."""
        name = self.names[int(rng.integers(len(self.names)))]
        return name, float(rng.uniform(*self.level_range)), float(rng.random())

    def apply(
        self, audio: np.ndarray, name: str, level: float, position: float, gain: float = 1.0
    ) -> np.ndarray:
        """Return ``audio`` with a crop of background noise ``name`` added at ``level``."""
        if self.mode == "factor" and level == 0:
            return audio
        noise = crop_looped(self.noises[name], audio.size, position)
        scale = noise_scale(level, self.mode, audio, noise, self.sample_rate)
        if self.mode == "factor":
            scale *= gain
        return audio + np.float32(scale) * noise

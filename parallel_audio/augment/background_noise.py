"""Background noise: a crop of a recorded noise file, looped if short, added at a drawn level."""

from __future__ import annotations

import os
from collections import Counter

import numpy as np

from parallel_audio.augment.levels import noise_scale
from parallel_audio.errors import AudioFileError, DatasetError
from parallel_audio.limits import NOISE_LEVEL_LIMITS
from parallel_audio.listing import AUDIO_EXTENSIONS, list_audio_files
from parallel_audio.validation import check_range


def load_background_noise(directory: str, sample_rate: int) -> dict[str, np.ndarray]:
    """Read every audio file of ``directory`` (not recursive) once, at ``sample_rate``.

    The files are those the dataset index would list in a class folder (see
    :mod:`parallel_audio.listing`): every accepted audio extension, hidden files (such as
    macOS's ``._hum.wav``) skipped, FIFOs and devices never opened. Other files (a README,
    for instance) and sub-folders are ignored.

    Parameters
    ----------
    directory : str
        The background noise folder.
    sample_rate : int
        Rate to read the files at, in Hz.

    Returns
    -------
    dict of str to numpy.ndarray
        Read-only mono float32 audio by name, in the sorted order of the file names. A file
        is named by its name without the extension, as the reference names it
        (``white_noise.wav`` is ``"white_noise"``), unless that would be ambiguous: when
        another file has the same stem (``hum.wav`` and ``hum.flac``) or is named like it,
        the whole file name is its name. So no two files ever share a name.

    Raises
    ------
    DatasetError
        The directory does not exist, cannot be listed or holds no audio file.
    AudioFileError
        A file cannot be read; the message names it and the folder.
    """
    from parallel_audio.audio_io import read_audio

    if not os.path.isdir(directory):
        raise DatasetError(f"bg_noise_dir {directory!r} is not a directory")
    unlistable: list[tuple[str, str]] = []
    filenames = list_audio_files(directory, recursive=False, unlistable=unlistable)
    if unlistable:
        raise DatasetError(f"bg_noise_dir {directory!r} {unlistable[0][1]}")
    if not filenames:
        raise DatasetError(
            f"bg_noise_dir {directory!r} holds no audio file (extensions "
            f"{', '.join(AUDIO_EXTENSIONS)}; hidden files are skipped)"
        )
    noises = {}
    for name, filename in zip(noise_names(filenames), filenames, strict=True):
        try:
            audio = read_audio(os.path.join(directory, filename), sample_rate)
        except AudioFileError as error:
            raise AudioFileError(
                error.path,
                f"{error.problem}; every audio file of bg_noise_dir {directory!r} is read as "
                "background noise: fix or remove this one",
            ) from error
        audio.setflags(write=False)
        noises[name] = audio
    return noises


def noise_names(filenames: list[str]) -> list[str]:
    """Return the name of each background noise file: its stem, or its file name if ambiguous.

    Parameters
    ----------
    filenames : list of str
        Distinct file names of one folder, each with an extension.

    Returns
    -------
    list of str
        One distinct name per file, in order. A file's stem (its name without the last
        extension) is its name unless another file has the same stem, or another file's
        whole name equals it (``a.wav`` beside ``a.wav.flac``); then it is its whole file name.

    Examples
    --------
    >>> noise_names(["hum.flac", "hum.wav", "rain.wav"])
    ['hum.flac', 'hum.wav', 'rain']
    """
    # Distinct because file names are: two stems never clash (a shared stem is not used), and
    # a stem is never used where it equals a file name.
    stems = [filename.rsplit(".", 1)[0] for filename in filenames]
    stem_counts = Counter(stems)
    taken = set(filenames)
    return [
        stem if stem_counts[stem] == 1 and stem not in taken else filename
        for stem, filename in zip(stems, filenames, strict=True)
    ]


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
        Factors within [0, 100], or SNRs within [-100, 100] dB (:data:`NOISE_LEVEL_LIMITS`).
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
        minimum, maximum = NOISE_LEVEL_LIMITS[mode]
        low, high = check_range("bg_noise_range", level_range, minimum=minimum, maximum=maximum)
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

"""Background noise: a crop of a recorded noise file, looped if short, added at a drawn level."""

from __future__ import annotations

import functools
import os
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import numpy as np

from parallel_audio.augment.added_noise import AddedNoise
from parallel_audio.errors import AudioFileError, DatasetError, SettingsError
from parallel_audio.listing import AUDIO_EXTENSIONS, list_audio_files

if TYPE_CHECKING:
    from parallel_audio.clip_store import ClipStore


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


class SharedNoise(Mapping[str, np.ndarray]):
    """Background noise by name, held once in memory every worker process maps read-only.

    A read-only mapping of name to float32 audio, as :func:`load_background_noise` returns,
    whose arrays are views of one :class:`~parallel_audio.clip_store.ClipStore`. It pickles as
    the names and where the store's buffer is, never the audio: each worker process maps the
    same pages (shared, never a private copy per worker), and one on another machine reads
    the folder again (see :func:`share_background_noise`).

    Parameters
    ----------
    names : list of str
        The noises' names, in order.
    store : ClipStore
        Their audio, one clip per name.
    """

    def __init__(self, names: list[str], store: ClipStore) -> None:
        self._ids = {name: i for i, name in enumerate(names)}
        self.store = store

    def __getitem__(self, name: str) -> np.ndarray:
        return self.store.view(self._ids[name])

    def __iter__(self) -> Iterator[str]:
        return iter(self._ids)

    def __len__(self) -> int:
        return len(self._ids)

    @property
    def nbytes(self) -> int:
        """Bytes of audio held (once, whatever the number of workers)."""
        return self.store.nbytes

    def close(self) -> None:
        """Release the memory (see :meth:`ClipStore.close`)."""
        self.store.close()


def share_background_noise(directory: str, sample_rate: int) -> SharedNoise:
    """Read the background noise of ``directory`` into memory shared with worker processes.

    As :func:`load_background_noise` (same files, names, errors and samples, bit for bit),
    but held in one :class:`~parallel_audio.clip_store.ClipStore`: worker processes map it,
    the training process releases it with :meth:`SharedNoise.close`. A process on another
    machine reads ``directory`` again, by its absolute path.

    Parameters
    ----------
    directory : str
        The background noise folder.
    sample_rate : int
        Rate to read the files at, in Hz.

    Returns
    -------
    SharedNoise
    """
    from parallel_audio.clip_store import ClipStore

    folder = os.path.abspath(directory)
    noises = load_background_noise(folder, sample_rate)
    store = ClipStore(
        list(noises.values()),
        sample_rate,
        kind="noise",
        reload=functools.partial(_noise_arrays, folder, sample_rate),
        checked=True,
    )
    return SharedNoise(list(noises), store)


def _noise_arrays(directory: str, sample_rate: int) -> list[np.ndarray]:
    """Read the noise of ``directory`` again, in the order of its names (another machine)."""
    return list(load_background_noise(directory, sample_rate).values())


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


class BackgroundNoise(AddedNoise):
    """Add a crop of a background noise file at a level drawn from ``level_range``.

    The file is drawn among the loaded ones; the crop is cut at a drawn position, looped if
    the file is shorter than the clip (:func:`crop_looped`), and added at its recorded level
    times the drawn one, read as :class:`~parallel_audio.augment.added_noise.AddedNoise` says.

    Parameters
    ----------
    noises : mapping of str to numpy.ndarray, optional
        From :func:`load_background_noise` (copied), or a :class:`SharedNoise` (kept: its
        audio stays in the shared memory). None or empty: off, and nothing to apply.
    level_range : (float, float), optional
        Factors within [0, 100], or SNRs within [-100, 100] dB. None: off (files named by a
        transform still apply).
    mode : {"factor", "snr_db"}
    sample_rate : int

    Examples
    --------
    >>> noise = BackgroundNoise({"hum": np.ones(100, np.float32)}, (0.5, 0.5))
    >>> draw = noise.draw(np.random.default_rng(0))
    >>> noise.apply(np.zeros(3, np.float32), draw)
    array([0.5, 0.5, 0.5], dtype=float32)
    """

    range_name = "bg_noise_range"

    def __init__(
        self,
        noises: Mapping[str, np.ndarray] | None,
        level_range: tuple[float, float] | None,
        *,
        mode: str = "factor",
        sample_rate: int = 16000,
    ) -> None:
        # A SharedNoise is kept as it is: a dict of its views would pickle the audio.
        self.noises = noises if isinstance(noises, SharedNoise) else dict(noises or {})
        super().__init__(tuple(self.noises), level_range, mode=mode, sample_rate=sample_rate)

    def crop(self, source: str, length: int, position: float) -> np.ndarray:
        """Return ``length`` samples of background noise ``source`` from ``position``."""
        noise = self.noises.get(source)
        if noise is None:
            if not self.noises:
                raise SettingsError(
                    f"the transform asks for background noise {source!r} but none is loaded: "
                    "set bg_noise_dir (flow_from_directory reads it, relative to the dataset "
                    "when it is not a folder of its own)"
                )
            raise SettingsError(
                f"the transform asks for background noise {source!r}, which bg_noise_dir does "
                f"not hold; it holds {', '.join(map(repr, self.noises))}"
            )
        return crop_looped(noise, length, position)

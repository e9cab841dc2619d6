"""Reading audio files as mono float32 at the frontend's sample rate."""

from __future__ import annotations

import os

import numpy as np
import soundfile
import soxr

from parallel_audio.errors import AudioFileError


def read_audio(path: str | os.PathLike, sample_rate_hz: int) -> np.ndarray:
    """Read an audio file as mono float32 in [-1, 1] at ``sample_rate_hz``.

    Any format libsndfile reads (WAV of any PCM or float width, FLAC, OGG, MP3 with
    libsndfile >= 1.1, AIFF, ...), any sample rate (resampled with soxr, high quality), any
    channel count (averaged to mono).

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    sample_rate_hz : int
        Rate to return the audio at.

    Returns
    -------
    numpy.ndarray of float32, shape (n,)

    Raises
    ------
    AudioFileError
        The file cannot be read, holds no samples, or holds NaN or infinite values; the
        message names the file and the problem.
    """
    try:
        data, file_rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as error:
        raise AudioFileError(path, f"cannot be read as audio: {error}") from error
    if data.shape[0] == 0:
        raise AudioFileError(path, "holds no audio samples")
    mono = data[:, 0] if data.shape[1] == 1 else data.mean(axis=1, dtype=np.float32)
    if not np.all(np.isfinite(mono)):
        raise AudioFileError(path, "holds NaN or infinite sample values")
    if file_rate != sample_rate_hz:
        mono = soxr.resample(mono, file_rate, sample_rate_hz, quality="HQ")
    return np.ascontiguousarray(mono, dtype=np.float32)

"""Deterministic operations on one clip: trimming silence, fitting it to a length, resampling."""

from __future__ import annotations

import numpy as np
import soxr

#: Frame and hop of the silence detector, in samples (librosa.effects.trim's defaults).
TRIM_FRAME_LENGTH = 2048
TRIM_HOP_LENGTH = 512


def trim_silence(
    audio: np.ndarray,
    threshold_db: float,
    *,
    frame_length: int = TRIM_FRAME_LENGTH,
    hop_length: int = TRIM_HOP_LENGTH,
) -> np.ndarray:
    """Cut leading and trailing silence, as ``librosa.effects.trim(top_db=threshold_db)`` does.

    A frame is silent when its RMS is more than ``threshold_db`` below the loudest frame's.
    Frames are ``frame_length`` samples centred every ``hop_length`` samples (zero padded at
    the ends); the clip keeps samples from the first non-silent frame's centre to one hop past
    the last one's.

    Parameters
    ----------
    audio : numpy.ndarray, shape (n,)
        The clip.
    threshold_db : float
        How far below the peak RMS a frame counts as silence, > 0.

    Returns
    -------
    numpy.ndarray
        A view of ``audio``; empty when the whole clip is silent.
    """
    n = audio.size
    if n == 0:
        return audio
    half = frame_length // 2
    num_frames = 1 + n // hop_length
    if frame_length % hop_length == 0 and half % hop_length == 0:
        # Frames are whole hop-sized blocks: sum the squares per block, then add
        # frame_length / hop_length neighbouring blocks.
        padded = np.zeros((num_frames - 1) * hop_length + frame_length, np.float32)
        padded[half : half + n] = audio[: padded.size - half]
        blocks = np.add.reduce(np.square(padded).reshape(-1, hop_length), axis=1, dtype=np.float64)
        blocks_per_frame = frame_length // hop_length
        energy = blocks[:num_frames].copy()
        for shift in range(1, blocks_per_frame):
            energy += blocks[shift : shift + num_frames]
    else:
        power = np.zeros(n + 2 * half + 1, np.float64)
        np.cumsum(np.square(audio, dtype=np.float64), out=power[half + 1 : n + half + 1])
        power[n + half + 1 :] = power[n + half]
        starts = np.arange(num_frames) * hop_length
        energy = power[starts + frame_length] - power[starts]
    mean_square = energy / frame_length
    # Relative to the loudest frame in dB, with librosa's floor of 1e-10 on both.
    floor = 1e-10
    relative_db = 10 * np.log10(np.maximum(mean_square, floor)) - 10 * np.log10(
        max(mean_square.max(), floor)
    )
    loud = np.flatnonzero(relative_db > -threshold_db)
    if loud.size == 0:
        return audio[:0]
    return audio[loud[0] * hop_length : min(n, (loud[-1] + 1) * hop_length)]


def fit_to_length(audio: np.ndarray, length: int, offset: float) -> np.ndarray:
    """Zero-pad or crop a clip to ``length`` samples, placing it at a fractional offset.

    Shorter clips get ``int((length - n) * offset)`` zeros before them and the rest after,
    the reference's formula. Longer clips are cropped to the window starting at
    ``int((n - length) * offset)``, so an offset of 0 keeps the start and 1 the end.

    Parameters
    ----------
    audio : numpy.ndarray, shape (n,)
    length : int
        Samples to return.
    offset : float
        In [0, 1].

    Returns
    -------
    numpy.ndarray, shape (length,), the dtype of ``audio``
    """
    n = audio.size
    if n >= length:
        start = int((n - length) * offset)
        return audio[start : start + length]
    before = int((length - n) * offset)
    output = np.zeros(length, audio.dtype)
    output[before : before + n] = audio
    return output


def resample(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Resample a clip with soxr's high quality filter; the clip itself at the same rate.

    Parameters
    ----------
    audio : numpy.ndarray of float32, shape (n,)
    from_rate, to_rate : int
        Sample rates in Hz.

    Returns
    -------
    numpy.ndarray of float32, shape (about n * to_rate / from_rate,)
    """
    if from_rate == to_rate:
        return audio
    return soxr.resample(audio, from_rate, to_rate, quality="HQ").astype(np.float32, copy=False)

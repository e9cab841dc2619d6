"""Deterministic operations on one clip: trimming silence and fitting it to a length.

Also how much of a long clip each step needs, so that a long file costs what its sample uses:
the pipeline reads an excerpt of :func:`read_length` samples, trims it, and hands the phase
vocoder at most :func:`stretch_input_length` samples of it.
"""

from __future__ import annotations

import math

import numpy as np

from parallel_audio.augment.vocoder import FRAME_LENGTH

#: Frame and hop of the silence detector, in samples (librosa.effects.trim's defaults).
TRIM_FRAME_LENGTH = 2048
TRIM_HOP_LENGTH = 512

#: Samples the phase vocoder's input keeps on each side of what its output needs: one
#: analysis frame, whose window fades the output's first and last frame.
STRETCH_MARGIN = FRAME_LENGTH


def stretch_input_length(sample_length: int, speed: float) -> int:
    """Longest input the speed, pitch and VTLP pass needs to fill a sample.

    The pass turns ``n`` samples into ``n / speed``; a sample of ``sample_length`` takes
    ``sample_length * speed`` of them, and :data:`STRETCH_MARGIN` more on each side. Never less
    than ``sample_length + 2 * STRETCH_MARGIN``, so that a clip as long as the sample (or a
    little longer) is always processed whole.

    Parameters
    ----------
    sample_length : int
        Samples in one sample.
    speed : float
        The speed factor, > 0.

    Returns
    -------
    int

    Examples
    --------
    >>> stretch_input_length(16000, 1.1)
    18624
    >>> stretch_input_length(16000, 0.5)
    17024
    """
    return math.ceil(sample_length * max(1.0, speed)) + 2 * STRETCH_MARGIN


def read_length(sample_length: int, max_speed: float) -> int:
    """Return how many samples of a file a sample can use: twice the longest stretch input.

    Trimming silence needs context around what it keeps, and the stretch pass then takes at
    most :func:`stretch_input_length` of what trimming left; a file longer than this is read
    as an excerpt of this length.

    Parameters
    ----------
    sample_length : int
        Samples in one sample.
    max_speed : float
        The largest speed factor a sample may draw (1.0 without speed changes).

    Returns
    -------
    int
    """
    return 2 * stretch_input_length(sample_length, max_speed)


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

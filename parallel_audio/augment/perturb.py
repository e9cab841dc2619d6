"""Speed, pitch and VTLP of one clip in a single phase-vocoder pass."""

from __future__ import annotations

import numpy as np

from parallel_audio.augment.pitch import frequency_ratio
from parallel_audio.augment.vocoder import stretch_and_warp
from parallel_audio.augment.vtlp import VTLP_CUTOFF_HZ, vtlp_map


def change_speed_pitch_vtlp(
    audio: np.ndarray,
    *,
    sample_rate: int,
    speed: float = 1.0,
    semitones: float = 0.0,
    vtlp: float = 1.0,
    vtlp_cutoff_hz: float = VTLP_CUTOFF_HZ,
) -> np.ndarray:
    """Apply a speed factor, a pitch shift and a VTLP factor together.

    The result equals applying :class:`~parallel_audio.augment.vtlp.VocalTractLengthPerturbation`,
    then :class:`~parallel_audio.augment.pitch.PitchShift`, then
    :class:`~parallel_audio.augment.speed.SpeedChange`, but costs one STFT analysis and one
    synthesis: the frequency map is ``f -> 2 ** (semitones / 12) * w_vtlp(f)`` and the
    frames are read at rate ``speed``.

    Parameters
    ----------
    audio : numpy.ndarray, shape (n,)
        float32 audio.
    sample_rate : int
        Its rate in Hz (places the VTLP cut-off).
    speed, semitones, vtlp : float
        The three factors; 1.0, 0.0 and 1.0 leave the clip alone.
    vtlp_cutoff_hz : float
        Upper edge of the band VTLP scales.

    Returns
    -------
    numpy.ndarray of float32, shape (round(n / speed),)
    """
    frequency_map = None
    if vtlp != 1.0 or semitones != 0.0:
        source, target = vtlp_map(vtlp, sample_rate, vtlp_cutoff_hz)
        frequency_map = (source, target * frequency_ratio(semitones))
    elif speed == 1.0:
        return audio
    return stretch_and_warp(audio, rate=speed, frequency_map=frequency_map)

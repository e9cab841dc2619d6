"""Pitch: shift a clip up or down by semitones, keeping its duration."""

from __future__ import annotations

import numpy as np

from parallel_audio.augment.vocoder import stretch_and_warp
from parallel_audio.limits import MAX_PITCH_SEMITONES
from parallel_audio.validation import check_range, is_number


def frequency_ratio(semitones: float) -> float:
    """Return the factor a shift multiplies frequencies by: ``2 ** (semitones / 12)``."""
    return float(2.0 ** (semitones / 12))


def pitch_map(semitones: float) -> tuple[np.ndarray, np.ndarray]:
    """Knots (source, target), in fractions of the sample rate, of ``f -> ratio * f``."""
    ratio = frequency_ratio(semitones)
    return np.array([0.0, 0.5]), np.array([0.0, 0.5 * ratio])


class PitchShift:
    """Shift a clip's pitch by a number of semitones drawn from ``pitch_range``.

    As the reference documents: a range of two ints is in semitone steps, drawn as an
    integer with both ends included; a range holding a float is in octaves, converted to
    semitones times 12 and drawn uniformly (``(-0.5, 0.5)`` is -6 to +6 semitones). Every
    frequency is multiplied by ``2 ** (semitones / 12)``; the duration is unchanged.

    Parameters
    ----------
    pitch_range : (int, int) or (float, float)
        < 0 lowers, > 0 raises; at most :data:`MAX_PITCH_SEMITONES` (24) semitones either
        way, 2 octaves as floats.

    Examples
    --------
    >>> PitchShift((-2, 2)).semitone_range
    (-2, 2)
    >>> PitchShift((-0.5, 0.5)).semitone_range
    (-6.0, 6.0)
    """

    def __init__(self, pitch_range: tuple[float, float]) -> None:
        low, high = check_range("pitch_range", pitch_range)
        self.integer_steps = is_number(low, integer=True) and is_number(high, integer=True)
        limit = MAX_PITCH_SEMITONES if self.integer_steps else MAX_PITCH_SEMITONES / 12
        check_range("pitch_range", pitch_range, minimum=-limit, maximum=limit)
        self.semitone_range = (
            (int(low), int(high)) if self.integer_steps else (12.0 * low, 12.0 * high)
        )

    def draw(self, rng: np.random.Generator) -> float:
        """Draw one sample's shift in semitones."""
        low, high = self.semitone_range
        if self.integer_steps:
            return float(rng.integers(low, high, endpoint=True))
        return float(rng.uniform(low, high))

    @staticmethod
    def apply(audio: np.ndarray, semitones: float) -> np.ndarray:
        """Return ``audio`` with every frequency multiplied by ``2 ** (semitones / 12)``."""
        if semitones == 0:
            return audio
        return stretch_and_warp(audio, frequency_map=pitch_map(semitones))

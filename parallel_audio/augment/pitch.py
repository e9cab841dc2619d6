"""Pitch: shift a clip up or down by semitones, keeping its duration."""

from __future__ import annotations

import math

import numpy as np

from parallel_audio.augment._ranges import check_range, is_number
from parallel_audio.augment.vocoder import stretch_and_warp

#: Largest shift either way, in semitones: two octaves. Beyond, a voice is no longer one, and
#: the frequency map's slope would overflow.
MAX_PITCH_SEMITONES = 24


def frequency_ratio(semitones: float) -> float:
    """Return the factor a shift multiplies frequencies by: ``2 ** (semitones / 12)``."""
    return float(2.0 ** (semitones / 12))


def pitch_map(semitones: float) -> tuple[np.ndarray, np.ndarray]:
    """Knots (source, target), in fractions of the sample rate, of ``f -> ratio * f``."""
    ratio = frequency_ratio(semitones)
    return np.array([0.0, 0.5]), np.array([0.0, 0.5 * ratio])


#: A float ``pitch_range`` reaching further than this from the original pitch, in semitones,
#: was most likely written as frequency factors (``(0.9, 1.1)``) rather than in octaves.
LARGE_OCTAVE_SHIFT_SEMITONES = 6.0


def octave_range_warning(pitch_range: tuple[float, float] | None) -> str | None:
    """Explain a float ``pitch_range`` that shifts by more than 6 semitones, else None.

    A float range is in octaves (the reference's documented meaning, which both libraries
    implement), so ``(0.9, 1.1)`` shifts every clip up by 10.8 to 13.2 semitones, about an
    octave: almost surely meant as frequency factors. The message gives the octave range
    that does mean those factors (their base-2 logarithms) when both bounds are positive.

    Parameters
    ----------
    pitch_range : (float, float) or None
        As the generator received it (already validated).

    Returns
    -------
    str or None
        The warning's text, or None when the range is ints, None, or within 6 semitones.

    Examples
    --------
    >>> octave_range_warning((-0.25, 0.25)) is None
    True
    >>> print(octave_range_warning((0.9, 1.1)).split(": ")[1].split(",")[0])
    +10.8 to +13.2 semitones
    """
    if pitch_range is None or all(is_number(v, integer=True) for v in pitch_range):
        return None
    low, high = (12.0 * float(v) for v in pitch_range)
    if max(abs(low), abs(high)) <= LARGE_OCTAVE_SHIFT_SEMITONES:
        return None
    message = (
        f"pitch_range={tuple(pitch_range)!r} holds floats, so it is in octaves (as MLTK reads "
        f"it too): {low:+.1f} to {high:+.1f} semitones, every frequency multiplied by "
        f"{frequency_ratio(low):.2f} to {frequency_ratio(high):.2f}. "
    )
    if 0 < pitch_range[0] <= pitch_range[1]:
        octaves = (round(math.log2(pitch_range[0]), 3), round(math.log2(pitch_range[1]), 3))
        message += (
            f"If you meant frequency factors, pass their log2, pitch_range={octaves!r}, or "
            "two ints for whole semitone steps, such as (-2, 2)."
        )
    else:
        message += (
            "A float range within (-0.5, 0.5) stays within 6 semitones; two ints are whole "
            "semitone steps, such as (-2, 2)."
        )
    return message


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

"""Pitch: shift a clip up or down by semitones, keeping its duration."""

from __future__ import annotations

import numpy as np

from parallel_audio.augment.vocoder import VocoderPass
from parallel_audio.limits import MAX_PITCH_SEMITONES
from parallel_audio.validation import check_range, is_number


def frequency_ratio(semitones: float) -> float:
    """Return the factor a shift multiplies frequencies by: ``2 ** (semitones / 12)``."""
    return float(2.0 ** (semitones / 12))


class PitchShift:
    """Shift a clip's pitch by a number of semitones drawn from ``pitch_range``.

    As the reference documents: a range of two ints is in semitone steps, drawn as an
    integer with both ends included; a range holding a float is in octaves, converted to
    semitones times 12 and drawn uniformly (``(-0.5, 0.5)`` is -6 to +6 semitones). Every
    frequency is multiplied by ``2 ** (semitones / 12)``: the shift multiplies the targets of
    the vocoder pass's frequency map (see
    :class:`~parallel_audio.augment.vocoder.VocoderPass`); the duration is unchanged.

    Parameters
    ----------
    pitch_range : (int, int) or (float, float), optional
        < 0 lowers, > 0 raises; at most :data:`~parallel_audio.limits.MAX_PITCH_SEMITONES` (24)
        semitones either way, 2 octaves as floats. None: off (draws 0).

    Examples
    --------
    >>> PitchShift((-2, 2)).semitone_range
    (-2, 2)
    >>> PitchShift((-0.5, 0.5)).semitone_range
    (-6.0, 6.0)
    >>> float(PitchShift(None).apply(VocoderPass(), 12).frequency_map[1][-1])  # 0.5 doubled
    1.0
    """

    def __init__(self, pitch_range: tuple[float, float] | None) -> None:
        checked = check_range("pitch_range", pitch_range)
        self.semitone_range: tuple[float, float] | None = None
        self.integer_steps = False
        if checked is not None:
            low, high = checked
            self.integer_steps = is_number(low, integer=True) and is_number(high, integer=True)
            limit = MAX_PITCH_SEMITONES if self.integer_steps else MAX_PITCH_SEMITONES / 12
            check_range("pitch_range", pitch_range, minimum=-limit, maximum=limit)
            self.semitone_range = (
                (int(low), int(high)) if self.integer_steps else (12.0 * low, 12.0 * high)
            )

    @property
    def enabled(self) -> bool:
        """Whether a range was given."""
        return self.semitone_range is not None

    def draw(self, rng: np.random.Generator) -> float:
        """Draw one sample's shift in semitones (0.0, drawing nothing, when off)."""
        if self.semitone_range is None:
            return 0.0
        low, high = self.semitone_range
        if self.integer_steps:
            return float(rng.integers(low, high, endpoint=True))
        return float(rng.uniform(low, high))

    def apply(self, vocoder: VocoderPass, semitones: float) -> VocoderPass:
        """Return the pass with every frequency multiplied by ``2 ** (semitones / 12)``."""
        if semitones == 0:
            return vocoder
        return vocoder.transposed(frequency_ratio(semitones))

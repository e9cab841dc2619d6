"""Vocal tract length perturbation: a piecewise-linear warp of the frequency axis."""

from __future__ import annotations

import numpy as np

from parallel_audio.augment.vocoder import stretch_and_warp
from parallel_audio.limits import VTLP_FACTOR_LIMITS
from parallel_audio.validation import check_range

#: Upper edge, in Hz, of the band scaled by the warp factor (Jaitly and Hinton, 2013).
VTLP_CUTOFF_HZ = 4800.0


def vtlp_map(alpha: float, sample_rate: int, cutoff_hz: float = VTLP_CUTOFF_HZ):
    """Knots (source, target), in fractions of the sample rate, of the VTLP warp.

    ``w(f) = alpha * f`` up to the boundary ``f0 = cutoff * min(alpha, 1) / alpha``; above
    it, the straight line from ``(f0, alpha * f0)`` to ``(sr / 2, sr / 2)``, so the band
    stays within Nyquist. ``cutoff`` is limited to just below ``sr / 2``.
    """
    half = sample_rate / 2
    cutoff = min(cutoff_hz, (sample_rate - 1) // 2)
    boundary = cutoff * min(alpha, 1.0) / alpha
    source = np.array([0.0, boundary, half]) / sample_rate
    target = np.array([0.0, alpha * boundary, half]) / sample_rate
    return source, target


class VocalTractLengthPerturbation:
    """Warp the spectrum of a clip as a longer or shorter vocal tract would.

    Frequencies below the boundary ``f0 = cutoff_hz * min(alpha, 1) / alpha`` are
    multiplied by ``alpha``; above it the warp is linear up to Nyquist, which stays put (see
    :func:`vtlp_map`). ``alpha`` is drawn uniformly from ``vtlp_range``; 0.9 moves a formant
    at 1000 Hz to 900 Hz. Time and duration are untouched.

    Parameters
    ----------
    vtlp_range : (float, float)
        Lowest and highest factor ``alpha``, within :data:`VTLP_FACTOR_LIMITS` (0.5 to 2);
        0.9 to 1.1 is typical.
    cutoff_hz : float
        Upper edge of the band scaled by ``alpha``, in Hz.

    Examples
    --------
    >>> vtlp = VocalTractLengthPerturbation((0.9, 1.1))
    >>> 0.9 <= vtlp.draw(np.random.default_rng(0)) <= 1.1
    True
    """

    def __init__(self, vtlp_range: tuple[float, float], cutoff_hz: float = VTLP_CUTOFF_HZ):
        low, high = check_range(
            "vtlp_range", vtlp_range, minimum=VTLP_FACTOR_LIMITS[0], maximum=VTLP_FACTOR_LIMITS[1]
        )
        self.vtlp_range = (float(low), float(high))
        self.cutoff_hz = float(cutoff_hz)

    def draw(self, rng: np.random.Generator) -> float:
        """Draw one sample's factor ``alpha``."""
        return float(rng.uniform(*self.vtlp_range))

    def apply(self, audio: np.ndarray, alpha: float, sample_rate: int) -> np.ndarray:
        """Return ``audio`` with its spectrum warped by ``alpha``."""
        if alpha == 1.0:
            return audio
        return stretch_and_warp(audio, frequency_map=vtlp_map(alpha, sample_rate, self.cutoff_hz))

"""Vocal tract length perturbation: a piecewise-linear warp of the frequency axis."""

from __future__ import annotations

import numpy as np

from parallel_audio.augment.vocoder import FrequencyMap, VocoderPass
from parallel_audio.limits import VTLP_FACTOR_LIMITS
from parallel_audio.validation import float_range

#: Upper edge, in Hz, of the band scaled by the warp factor (Jaitly and Hinton, 2013).
VTLP_CUTOFF_HZ = 4800.0


def vtlp_map(alpha: float, sample_rate: int, cutoff_hz: float = VTLP_CUTOFF_HZ) -> FrequencyMap:
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
    at 1000 Hz to 900 Hz. Time and duration are untouched. The warp is the frequency map of
    the vocoder pass the clip goes through (see
    :class:`~parallel_audio.augment.vocoder.VocoderPass`), set first, before a pitch shift
    scales it; at ``alpha = 1`` it is the identity.

    Parameters
    ----------
    vtlp_range : (float, float), optional
        Lowest and highest factor ``alpha``, within
        :data:`~parallel_audio.limits.VTLP_FACTOR_LIMITS` (0.5 to 2); 0.9 to 1.1 is typical.
        None: off (draws 1).
    sample_rate : int
        Rate of the clips in Hz: places the cut-off.
    cutoff_hz : float
        Upper edge of the band scaled by ``alpha``, in Hz.

    Examples
    --------
    >>> vtlp = VocalTractLengthPerturbation((0.9, 1.1))
    >>> 0.9 <= vtlp.draw(np.random.default_rng(0)) <= 1.1
    True
    >>> source, target = vtlp.apply(VocoderPass(), 0.9).frequency_map
    >>> round(float(target[1] / source[1]), 6)  # below the boundary, frequencies times alpha
    0.9
    """

    def __init__(
        self,
        vtlp_range: tuple[float, float] | None,
        *,
        sample_rate: int = 16000,
        cutoff_hz: float = VTLP_CUTOFF_HZ,
    ) -> None:
        low, high = VTLP_FACTOR_LIMITS
        self.vtlp_range = float_range("vtlp_range", vtlp_range, minimum=low, maximum=high)
        self.sample_rate = int(sample_rate)
        self.cutoff_hz = float(cutoff_hz)
        # The warp at alpha = 1, built once: one array as both source and target.
        source, _ = vtlp_map(1.0, self.sample_rate, self.cutoff_hz)
        source.setflags(write=False)  # shared by every pass this warps
        self._identity = (source, source)

    @property
    def enabled(self) -> bool:
        """Whether a range was given."""
        return self.vtlp_range is not None

    def draw(self, rng: np.random.Generator) -> float:
        """Draw one sample's factor ``alpha`` (1.0, drawing nothing, when off)."""
        if self.vtlp_range is None:
            return 1.0
        return float(rng.uniform(*self.vtlp_range))

    def apply(self, vocoder: VocoderPass, alpha: float) -> VocoderPass:
        """Return the pass warped by ``alpha`` (the identity warp at 1).

        At 1 the warp still has its knot at the cut-off, so that a pitch shift then scales
        the same three knots whatever ``alpha`` is.
        """
        if alpha == 1.0:
            return vocoder.warped(self._identity)
        return vocoder.warped(vtlp_map(alpha, self.sample_rate, self.cutoff_hz))

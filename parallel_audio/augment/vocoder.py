"""One STFT pass that changes a clip's duration and warps its frequency axis.

Speed (tempo without pitch), the time stretch behind a pitch shift, and vocal tract length
perturbation all rewrite the same short-time spectrum, so they share one analysis and one
synthesis: a phase vocoder whose output frames are read at a fractional rate along time and
through a piecewise-linear map along frequency. The per-frame arithmetic (framing, polar
form, phase advance, the map, overlap-add) is C
(``frontend/phase_vocoder/src/phase_vocoder.c``); the FFTs between are scipy's.
"""

from __future__ import annotations

import dataclasses
import math
from functools import lru_cache

import numpy as np
import scipy.fft

from parallel_audio import _phase_vocoder

#: A piecewise-linear frequency map: increasing knots (source, target), in fractions of the
#: sample rate, from 0 to the Nyquist frequency (0.5), extended past the last knot.
FrequencyMap = tuple[np.ndarray, np.ndarray]

#: Analysis window and hop in samples. 32 ms frames at 16 kHz resolve speech harmonics;
#: a hop of a quarter frame keeps the phase advance between frames unambiguous within the
#: Hann window's main lobe (+-2 bins), which the phase vocoder needs.
FRAME_LENGTH = 512
HOP_LENGTH = FRAME_LENGTH // 4

_IDENTITY = np.zeros(0, np.float64)

# How much of a long clip each step needs, so that a long file costs what its sample uses: the
# pipeline reads an excerpt of read_length samples, trims it, and hands the pass at most
# stretch_input_length samples of it.

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


@lru_cache(maxsize=8)
def _hann(length: int) -> np.ndarray:
    """Periodic Hann window, float32 (read-only: shared by every call)."""
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)).astype(np.float32)
    window.setflags(write=False)
    return window


def _knots_in_bins(
    frequency_map: tuple[np.ndarray, np.ndarray] | None, frame_length: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return the map's knots in bins, checked; empty arrays for the identity."""
    if frequency_map is None:
        return _IDENTITY, _IDENTITY
    source, target = (np.ascontiguousarray(k, np.float64) * frame_length for k in frequency_map)
    valid = source.ndim == 1 and source.shape == target.shape and source.size >= 2
    if valid:
        with np.errstate(all="ignore"):
            slopes = np.diff(target) / np.diff(source)
            valid = (
                source[0] == 0
                and target[0] == 0
                and bool(np.all(np.diff(source) > 0) and np.all(np.diff(target) > 0))
                and bool(np.all(np.isfinite(slopes) & np.isfinite(1 / slopes)))
            )
    if not valid:
        raise ValueError(
            "frequency_map must be two increasing arrays of knots of equal length, "
            "starting at 0, with finite non-zero slopes"
        )
    return source, target


def stretch_and_warp(
    audio: np.ndarray,
    *,
    rate: float = 1.0,
    frequency_map: tuple[np.ndarray, np.ndarray] | None = None,
    frame_length: int = FRAME_LENGTH,
    hop_length: int = HOP_LENGTH,
) -> np.ndarray:
    """Play a clip ``rate`` times faster at the same pitch, and warp its frequency axis.

    A phase vocoder: the output's frame ``m`` takes the magnitude of the input at frame
    position ``m * rate`` (interpolated between the two neighbouring frames) and advances
    each bin's phase by the instantaneous frequency measured there, so partials keep their
    frequency while the duration becomes ``len(audio) / rate``.

    With ``frequency_map = (source_hz, target_hz)`` as increasing knots of a piecewise-
    linear map ``w`` given in fractions of the sample rate (0 to 0.5), energy at frequency
    ``f`` moves to ``w(f)``: output bin ``j`` reads the magnitude at ``w^-1(j)`` and
    advances its phase at ``w`` of the instantaneous frequency found there.

    Parameters
    ----------
    audio : numpy.ndarray, shape (n,)
        float32 audio.
    rate : float
        > 1 shortens, < 1 lengthens; 1 keeps the duration.
    frequency_map : (numpy.ndarray, numpy.ndarray), optional
        Knots of the frequency warp, each increasing, starting at 0 and ending at 0.5.
    frame_length, hop_length : int
        STFT frame and hop in samples; ``frame_length`` a multiple of ``hop_length``.

    Returns
    -------
    numpy.ndarray of float32, shape (round(n / rate),)

    Examples
    --------
    >>> tone = np.sin(2 * np.pi * 440 / 16000 * np.arange(16000)).astype(np.float32)
    >>> stretch_and_warp(tone, rate=1.25).shape
    (12800,)
    """
    audio = np.asarray(audio)
    if audio.dtype.kind not in "biuf":
        raise TypeError(f"audio must hold real numbers, got dtype {audio.dtype}")
    if audio.ndim != 1:
        raise ValueError(f"audio must be one-dimensional, got shape {audio.shape}")
    audio = np.ascontiguousarray(audio, np.float32)
    if not (np.isfinite(rate) and rate > 0):
        raise ValueError(f"rate must be a positive number, got {rate}")
    if frame_length < 2 or frame_length % 2 or hop_length < 1 or frame_length % hop_length:
        raise ValueError(
            "frame_length must be even and a multiple of hop_length, "
            f"got {frame_length} and {hop_length}"
        )
    source, target = _knots_in_bins(frequency_map, frame_length)
    out_length = int(round(audio.size / rate))
    if audio.size == 0 or out_length == 0:
        return np.zeros(out_length, np.float32)

    window = _hann(frame_length)
    frames = np.empty((_phase_vocoder.num_frames(audio.size, hop_length), frame_length), np.float32)
    _phase_vocoder.analysis_frames(audio, window, hop_length, frames)
    spectrum = scipy.fft.rfft(frames, axis=1)
    out_spectrum = np.empty(
        (_phase_vocoder.num_frames(out_length, hop_length), spectrum.shape[1]), np.complex64
    )
    _phase_vocoder.resynthesize(spectrum, hop_length, float(rate), source, target, out_spectrum)
    out_frames = scipy.fft.irfft(out_spectrum, n=frame_length, axis=1, overwrite_x=True)
    out = np.empty(out_length, np.float32)
    _phase_vocoder.overlap_add(out_frames, window, hop_length, out)
    return out


#: The map that moves no frequency, as two knots.
_IDENTITY_MAP = (np.array([0.0, 0.5]), np.array([0.0, 0.5]))


@dataclasses.dataclass(frozen=True)
class VocoderPass:
    """The time rate and frequency map of one phase-vocoder pass, as augmentations set them.

    Speed, pitch and vocal tract length perturbation each contribute to one pass instead of
    running their own: VTLP sets the frequency map (:meth:`warped`; it acts on the clip's own
    frequencies, so it comes first), a pitch shift multiplies every target frequency
    (:meth:`transposed`), speed multiplies the rate (:meth:`faster`). :meth:`run` then costs
    one STFT analysis and one synthesis however many contributed, and returns the clip itself
    when nothing changes (rate 1, no map or the identity).

    Parameters
    ----------
    rate : float
        How many times faster the clip plays, > 0.
    frequency_map : (numpy.ndarray, numpy.ndarray), optional
        Where each frequency goes (see :func:`stretch_and_warp`); None moves none.

    Examples
    --------
    >>> tone = np.sin(np.arange(16000) * 0.1).astype(np.float32)
    >>> VocoderPass().faster(1.25).transposed(2.0).run(tone).shape
    (12800,)
    >>> VocoderPass().run(tone) is tone
    True
    """

    rate: float = 1.0
    frequency_map: FrequencyMap | None = None

    def faster(self, factor: float) -> VocoderPass:
        """Return the pass playing ``factor`` times faster still."""
        return VocoderPass(self.rate * factor, self.frequency_map)

    def warped(self, frequency_map: FrequencyMap) -> VocoderPass:
        """Return the pass with ``frequency_map`` as its map; it must not have one yet."""
        if self.frequency_map is not None:
            raise ValueError(
                "this vocoder pass is already warped: set the frequency warp first, then "
                "transpose it"
            )
        return VocoderPass(self.rate, frequency_map)

    def transposed(self, ratio: float) -> VocoderPass:
        """Return the pass with every target frequency of its map multiplied by ``ratio``."""
        source, target = self.frequency_map or _IDENTITY_MAP
        return VocoderPass(self.rate, (source, target * ratio))

    def run(self, audio: np.ndarray) -> np.ndarray:
        """Return ``audio`` through the pass: ``round(len(audio) / rate)`` samples.

        The identity map (every target equal to its source) is dropped, so the result does
        not depend on which augmentations contributed nothing.
        """
        frequency_map = self.frequency_map
        if frequency_map is not None and (
            frequency_map[0] is frequency_map[1] or np.array_equal(*frequency_map)
        ):
            frequency_map = None
        if self.rate == 1.0 and frequency_map is None:
            return audio
        return stretch_and_warp(audio, rate=self.rate, frequency_map=frequency_map)

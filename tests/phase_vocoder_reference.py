"""The phase vocoder written in numpy, vectorized over frames and bins: the reference that the
C implementation in frontend/phase_vocoder/src/phase_vocoder.c is checked against.

It shares the algorithm but none of the code: numpy's atan2, cos and sin instead of the C
polynomials, a cumulative sum of the phase advances instead of a running phase, numpy's
interpolation and gathers instead of the C bin map.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import scipy.fft

#: Analysis window and hop in samples. 32 ms frames at 16 kHz resolve speech harmonics;
#: a hop of a quarter frame keeps the phase advance between frames unambiguous within the
#: Hann window's main lobe (+-2 bins), which the phase vocoder needs.
FRAME_LENGTH = 512
HOP_LENGTH = FRAME_LENGTH // 4


@lru_cache(maxsize=8)
def _hann(length: int) -> np.ndarray:
    """Periodic Hann window, float32 (read-only: shared by every call)."""
    window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)).astype(np.float32)
    window.setflags(write=False)
    return window


@lru_cache(maxsize=8)
def _bin_advance(frame_length: int, hop_length: int) -> np.ndarray:
    """Phase advance of each bin's centre frequency over one hop, in radians."""
    bins = np.arange(frame_length // 2 + 1, dtype=np.float32)
    advance = np.float32(2 * np.pi * hop_length / frame_length) * bins
    advance.setflags(write=False)
    return advance


def _frames(audio: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """Windowed frames centred every hop (zero padded by half a frame at both ends)."""
    half = frame_length // 2
    num_frames = 1 + (audio.size + hop_length - 1) // hop_length
    padded = np.zeros((num_frames - 1) * hop_length + frame_length, np.float32)
    padded[half : half + audio.size] = audio
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame_length)[::hop_length]
    return frames * _hann(frame_length)


@lru_cache(maxsize=64)
def _inverse_window_power(num_frames: int, frame_length: int, hop_length: int) -> np.ndarray:
    """1 / (sum of the squared windows overlapping each output sample), read-only."""
    power = np.zeros((num_frames - 1) * hop_length + frame_length, np.float32)
    window_power = _hann(frame_length) ** 2
    for frame in range(num_frames):
        power[frame * hop_length : frame * hop_length + frame_length] += window_power
    inverse = 1 / np.maximum(power, np.float32(1e-3))
    inverse.setflags(write=False)
    return inverse


def _overlap_add(frames: np.ndarray, hop_length: int, length: int) -> np.ndarray:
    """Sum frames placed every hop, divide by the summed squared window, drop the padding."""
    num_frames, frame_length = frames.shape
    overlap = frame_length // hop_length
    blocks = np.zeros((num_frames + overlap - 1, hop_length), np.float32)
    for part in range(overlap):
        blocks[part : part + num_frames] += frames[:, part * hop_length : (part + 1) * hop_length]
    half = frame_length // 2
    audio = blocks.reshape(-1)[half : half + length]
    return audio * _inverse_window_power(num_frames, frame_length, hop_length)[half : half + length]


def _cumulative_sum_rows(values: np.ndarray) -> np.ndarray:
    """``np.cumsum(values, axis=0)`` in log2(rows) vectorized steps (numpy's is sequential)."""
    total = values.copy()
    shift = 1
    while shift < total.shape[0]:
        total[shift:] = total[shift:] + total[:-shift]
        shift *= 2
    return total


def _knots_in_bins(
    frequency_map: tuple[np.ndarray, np.ndarray], frame_length: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the knots in bins, extended to cover every output bin, and segment slopes."""
    source, target = (np.asarray(k, np.float64) * frame_length for k in frequency_map)
    slopes = np.diff(target) / np.diff(source)
    top = frame_length / 2
    if target[-1] < top:  # the map compresses: the top output bins read above Nyquist
        source = np.append(source, source[-1] + (top - target[-1]) / slopes[-1])
        target = np.append(target, top)
        slopes = np.append(slopes, slopes[-1])
    return source, target, slopes


def _wrap(phase: np.ndarray) -> np.ndarray:
    """Phase in radians, wrapped into [-pi, pi]."""
    two_pi = np.float32(2 * np.pi)
    return phase - two_pi * np.round(phase / two_pi)


def stretch_and_warp(
    audio: np.ndarray,
    *,
    rate: float = 1.0,
    frequency_map: tuple[np.ndarray, np.ndarray] | None = None,
    frame_length: int = FRAME_LENGTH,
    hop_length: int = HOP_LENGTH,
) -> np.ndarray:
    """``parallel_audio.augment.stretch_and_warp``, with the same arguments and result."""
    audio = np.asarray(audio, np.float32)
    out_length = int(round(audio.size / rate))
    if audio.size == 0 or out_length == 0:
        return np.zeros(out_length, np.float32)

    spectrum = scipy.fft.rfft(_frames(audio, frame_length, hop_length), axis=1)
    magnitude = np.abs(spectrum)
    angle = np.angle(spectrum)
    # How far each bin's phase advance from one frame to the next departs from the advance
    # of its centre frequency: the offset of the partial in that bin, in radians per hop.
    nominal = _bin_advance(frame_length, hop_length)
    deviation = _wrap(np.diff(angle, axis=0) - nominal)

    # Output frames at fractional input positions; enough of them to cover out_length.
    num_out = 1 + (out_length + hop_length - 1) // hop_length
    positions = np.minimum(
        np.arange(num_out, dtype=np.float64) * rate, spectrum.shape[0] - 1.000001
    )
    lower = positions.astype(np.intp)
    weight = (positions - lower).astype(np.float32)[:, np.newaxis]
    out_magnitude = magnitude[lower] * (1 - weight) + magnitude[lower + 1] * weight
    out_deviation = deviation[np.minimum(lower, deviation.shape[0] - 1)]
    start_phase = angle[0]

    if frequency_map is None:
        out_advance = out_deviation + nominal
    else:
        num_bins = magnitude.shape[1]
        bins = np.arange(num_bins)
        source, target, slopes = _knots_in_bins(frequency_map, frame_length)
        read_at = np.interp(bins, target, source)  # w^-1 of each output bin, in source bins
        below = np.minimum(read_at.astype(np.intp), num_bins - 2)
        slope = slopes[np.clip(np.searchsorted(source, read_at) - 1, 0, slopes.size - 1)]
        frac = np.minimum(read_at - below, 1)
        # Where the map compresses, a partial's peak gets narrower than the window's main
        # lobe and resynthesizes that much quieter: give it back its amplitude. Nothing is
        # read from above the Nyquist bin.
        gain = (read_at <= num_bins - 1) / np.minimum(slope, 1)
        interpolated = out_magnitude
        out_magnitude = interpolated[:, below] * ((1 - frac) * gain).astype(np.float32)
        out_magnitude += interpolated[:, below + 1] * (frac * gain).astype(np.float32)
        # A bin's advance scales with its frequency: map the source's true frequency
        # (nearest bin plus its deviation) through w's local slope.
        nearest = np.minimum(np.rint(read_at).astype(np.intp), num_bins - 1)
        per_bin = 2 * np.pi * hop_length / frame_length
        base = (nominal + per_bin * (nearest - read_at) * slope).astype(np.float32)
        out_advance = out_deviation[:, nearest] * slope.astype(np.float32)
        out_advance += base
        # Phases of a windowed partial alternate by pi from bin to bin because the window is
        # centred half a frame in; referred to the frame's centre they agree across its main
        # lobe, so that is the reference in which a bin may borrow its neighbour's phase.
        alternation = np.float32(np.pi) * (bins % 2)
        start_phase = (start_phase + alternation)[nearest] - alternation

    # Frame m's phase: the start phase plus the advances of frames 0 .. m-1.
    phase = _cumulative_sum_rows(out_advance)
    phase -= out_advance
    phase += start_phase
    out_spectrum = np.empty(out_magnitude.shape, np.complex64)
    out_spectrum.real = out_magnitude * np.cos(phase)
    out_spectrum.imag = out_magnitude * np.sin(phase)
    frames = scipy.fft.irfft(out_spectrum, n=frame_length, axis=1)
    frames *= _hann(frame_length)
    return _overlap_add(frames, hop_length, out_length)

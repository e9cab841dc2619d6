"""How loud added noise is: a factor, or a signal-to-noise ratio in loudness units."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from parallel_audio import _loudness

#: Loudness a clip without measurable loudness (a ``_silence_`` sample) counts as in
#: "snr_db" mode: the EBU R128 programme target.
SILENT_CLIP_LUFS = -23.0

#: BS.1770 gating block; shorter clips are measured in one block of their own length.
LOUDNESS_BLOCK_SECONDS = 0.4


#: ITU-R BS.1770 gating: blocks overlap by 75 %, an absolute gate at -70 LUFS and a relative
#: gate 10 LU below the loudness of the blocks above the absolute one.
_BLOCK_OVERLAP = 0.75
_ABSOLUTE_GATE_LUFS = -70.0
_RELATIVE_GATE_LU = 10.0


@lru_cache(maxsize=16)
def _k_weighting(sample_rate: int) -> np.ndarray:
    """Second-order sections of the BS.1770 K-weighting filter, as pyloudnorm designs it.

    Rows of (b0, b1, b2, a0, a1, a2), normalized so that a0 = 1; read-only.
    """
    from pyloudnorm.iirfilter import IIRfilter

    stages = (
        IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sample_rate, "high_shelf"),
        IIRfilter(0.0, 0.5, 38.0, sample_rate, "high_pass"),
    )
    sections = np.array([np.concatenate([stage.b, stage.a]) for stage in stages])
    sections = np.ascontiguousarray(sections / sections[:, 3:4])
    sections.setflags(write=False)
    return sections


@lru_cache(maxsize=64)
def _gating_blocks(num_samples: int, sample_rate: int) -> tuple[np.ndarray, ...]:
    """Return the gating blocks of a clip of this length: where they start and end.

    Returns the sorted distinct block edges in samples (uint64), each block's start and end
    as indices into them, and the block length in samples. The edges are pyloudnorm's:
    ``int()`` of the block bounds in samples.
    """
    block_seconds = min(LOUDNESS_BLOCK_SECONDS, num_samples / sample_rate)
    step = 1.0 - _BLOCK_OVERLAP
    duration = num_samples / sample_rate
    num_blocks = int(np.round((duration - block_seconds) / (block_seconds * step))) + 1
    starts = np.arange(num_blocks)
    upper = (block_seconds * (starts * step + 1) * sample_rate).astype(np.int64)
    upper = np.minimum(upper, num_samples)
    lower = np.minimum((block_seconds * (starts * step) * sample_rate).astype(np.int64), upper)
    edges = np.unique(np.concatenate([lower, upper]))
    blocks = (
        edges.astype(np.uint64),
        np.searchsorted(edges, lower),
        np.searchsorted(edges, upper),
        np.float64(block_seconds * sample_rate),
    )
    for array in blocks[:3]:
        array.setflags(write=False)
    return blocks


def loudness_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness of a clip in LUFS (ITU-R BS.1770, as ``pyloudnorm`` measures it).

    ``pyloudnorm.Meter(sample_rate).integrated_loudness`` with its K-weighting filter, 400 ms
    blocks and gates; clips shorter than a block are measured in one block of their own
    length. The filter and the block energies come from one pass in C
    (``frontend/loudness/src/loudness.c``); pyloudnorm loops over blocks in Python, which costs more
    than the rest of an augmented sample. Returns ``-inf`` for an empty or silent clip.
    """
    audio = np.ascontiguousarray(audio, np.float32)
    if audio.size < 2 or not np.any(audio):
        return -math.inf
    edges, lower, upper, block_samples = _gating_blocks(audio.size, sample_rate)
    energy = np.empty(edges.size)
    _loudness.filtered_energy(audio, _k_weighting(sample_rate), edges, energy)
    mean_square = (energy[upper] - energy[lower]) / block_samples
    with np.errstate(divide="ignore", invalid="ignore"):
        block_loudness = -0.691 + 10 * np.log10(mean_square)
    above_absolute = block_loudness >= _ABSOLUTE_GATE_LUFS
    if not above_absolute.any():
        return -math.inf
    relative_gate = -0.691 + 10 * np.log10(mean_square[above_absolute].mean()) - _RELATIVE_GATE_LU
    gated = (block_loudness > relative_gate) & (block_loudness > _ABSOLUTE_GATE_LUFS)
    if not gated.any():
        return -math.inf
    return float(-0.691 + 10 * np.log10(mean_square[gated].mean()))


def noise_scale(
    level: float,
    mode: str,
    clip: np.ndarray,
    noise: np.ndarray,
    sample_rate: int,
) -> float:
    """Return the factor to multiply ``noise`` by before adding it to ``clip``.

    - ``"factor"``: ``level`` itself.
    - ``"snr_db"``: ``level`` is the signal-to-noise ratio in dB, in loudness units:
      ``scale = 10 ** ((L(clip) - level - L(noise)) / 20)`` with ``L`` the integrated
      loudness in LUFS, so that ``L(clip) - L(scale * noise) = level``. A silent clip
      counts as :data:`SILENT_CLIP_LUFS`; silent noise gets a scale of 0.
    """
    if mode == "factor":
        return level
    noise_loudness = loudness_lufs(noise, sample_rate)
    if not math.isfinite(noise_loudness):
        return 0.0
    clip_loudness = loudness_lufs(clip, sample_rate)
    if not math.isfinite(clip_loudness):
        clip_loudness = SILENT_CLIP_LUFS
    return 10 ** ((clip_loudness - level - noise_loudness) / 20)

"""How loud added noise is: a factor, or a signal-to-noise ratio in loudness units."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

#: Ways to read ``noise_color_range`` and ``bg_noise_range``.
NOISE_LEVEL_MODES = ("factor", "snr_db")

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
    """Second-order sections of the BS.1770 K-weighting filter, as pyloudnorm designs it."""
    from pyloudnorm.iirfilter import IIRfilter

    stages = (
        IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sample_rate, "high_shelf"),
        IIRfilter(0.0, 0.5, 38.0, sample_rate, "high_pass"),
    )
    sections = np.array([np.concatenate([stage.b, stage.a]) for stage in stages])
    return sections / sections[:, 3:4]  # normalized so that a0 = 1


def loudness_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness of a clip in LUFS (ITU-R BS.1770, as ``pyloudnorm`` measures it).

    ``pyloudnorm.Meter(sample_rate).integrated_loudness`` with its K-weighting filter, 400 ms
    blocks and gates, vectorized over blocks (it loops over them in Python, which costs more
    than the rest of an augmented sample); clips shorter than a block are measured in one
    block of their own length. Returns ``-inf`` for an empty or silent clip.
    """
    import scipy.signal

    if audio.size < 2 or not np.any(audio):
        return -math.inf
    block_seconds = min(LOUDNESS_BLOCK_SECONDS, audio.size / sample_rate)
    weighted = scipy.signal.sosfilt(_k_weighting(sample_rate), audio.astype(np.float64))
    energy = np.concatenate([[0.0], np.cumsum(np.square(weighted))])
    step = 1.0 - _BLOCK_OVERLAP
    duration = audio.size / sample_rate
    num_blocks = int(np.round((duration - block_seconds) / (block_seconds * step))) + 1
    starts = np.arange(num_blocks)
    # The same bounds as pyloudnorm: int() of the block edges in samples.
    lower = (block_seconds * (starts * step) * sample_rate).astype(np.int64)
    upper = (block_seconds * (starts * step + 1) * sample_rate).astype(np.int64)
    upper = np.minimum(upper, audio.size)
    mean_square = (energy[upper] - energy[np.minimum(lower, upper)]) / (block_seconds * sample_rate)
    with np.errstate(divide="ignore"):
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

"""How loud added noise is: a factor, or a signal-to-noise ratio in loudness units."""

from __future__ import annotations

import math
import warnings
from functools import lru_cache

import numpy as np

#: Ways to read ``noise_color_range`` and ``bg_noise_range``.
NOISE_LEVEL_MODES = ("factor", "snr_db")

#: Loudness a clip without measurable loudness (a ``_silence_`` sample) counts as in
#: "snr_db" mode: the EBU R128 programme target.
SILENT_CLIP_LUFS = -23.0

#: BS.1770 gating block; shorter clips are measured in one block of their own length.
LOUDNESS_BLOCK_SECONDS = 0.4


@lru_cache(maxsize=16)
def _meter(sample_rate: int, block_size: float):
    import pyloudnorm

    return pyloudnorm.Meter(sample_rate, block_size=block_size)


def loudness_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness of a clip in LUFS (ITU-R BS.1770, with ``pyloudnorm``).

    Returns ``-inf`` for an empty or silent clip.
    """
    if audio.size < 2 or not np.any(audio):
        return -math.inf
    block = min(LOUDNESS_BLOCK_SECONDS, audio.size / sample_rate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pyloudnorm warns about samples beyond [-1, 1]
        return float(_meter(sample_rate, block).integrated_loudness(audio.astype(np.float64)))


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

"""Placement: where a clip sits in the sample, padded or cropped to the sample's length."""

from __future__ import annotations

import numpy as np

from parallel_audio.audio_ops import fit_to_length
from parallel_audio.validation import float_range


class Placement:
    """Fit a clip to the sample length at an offset drawn from ``offset_range``.

    A shorter clip gets ``int((length - n) * offset)`` zeros before it and the rest after; a
    longer one is cropped to the window starting at ``int((n - length) * offset)`` (see
    :func:`~parallel_audio.audio_ops.fit_to_length`).

    Parameters
    ----------
    offset_range : (float, float), optional
        Offsets within [0, 1], drawn uniformly. None: off (draws 0, the clip at the start).
    sample_length : int
        The sample's length in samples.

    Examples
    --------
    >>> Placement((0.0, 1.0), sample_length=4).apply(np.ones(2, np.float32), 0.5)
    array([0., 1., 1., 0.], dtype=float32)
    """

    def __init__(self, offset_range: tuple[float, float] | None, *, sample_length: int) -> None:
        self.offset_range = float_range("offset_range", offset_range, minimum=0, maximum=1)
        self.sample_length = int(sample_length)

    @property
    def enabled(self) -> bool:
        """Whether a range was given."""
        return self.offset_range is not None

    def draw(self, rng: np.random.Generator) -> float:
        """Draw one sample's offset (0.0, drawing nothing, when off)."""
        if self.offset_range is None:
            return 0.0
        return float(rng.uniform(*self.offset_range))

    def apply(self, audio: np.ndarray, offset: float) -> np.ndarray:
        """Return ``audio`` padded or cropped to the sample length at ``offset``."""
        return fit_to_length(audio, self.sample_length, offset)

"""What every augmentation offers: draw its parameters, apply them."""

from __future__ import annotations

from typing import Protocol, TypeVar

import numpy as np

Parameters = TypeVar("Parameters")
Target = TypeVar("Target")


class Augmentation(Protocol[Parameters, Target]):
    """One augmentation: a random choice of parameters kept apart from their deterministic effect.

    ``draw`` picks one sample's parameters from the sample's own generator; ``apply`` applies
    given parameters, drawn or not (a transform dict from the reference's API, a fixed draw for
    unaugmented silence), and draws nothing. An augmentation built without a range is *off*:
    ``enabled`` is False, and ``draw`` returns the parameters that change nothing and takes
    nothing from the generator, so the draws of the others are those they would be without it.
    ``apply`` still applies whatever parameters it is given.

    The target is what ``apply`` changes: the audio (``numpy.ndarray``) for loudness, noise,
    placement and external transforms; the plan of the one phase-vocoder pass
    (:class:`~parallel_audio.augment.vocoder.VocoderPass`) for speed, pitch and VTLP, which
    contribute their time rate and frequency map to it instead of each running a pass.

    Examples
    --------
    >>> from parallel_audio.augment.loudness import LoudnessChange
    >>> gain = LoudnessChange((0.5, 0.5))
    >>> gain.apply(np.ones(2, np.float32), gain.draw(np.random.default_rng(0)))
    array([0.5, 0.5], dtype=float32)
    """

    @property
    def enabled(self) -> bool:
        """Whether ``draw`` draws (a range was given)."""
        ...

    def draw(self, rng: np.random.Generator) -> Parameters:
        """Draw one sample's parameters from its generator."""
        ...

    def apply(self, target: Target, parameters: Parameters) -> Target:
        """Return the target changed by the parameters; the target itself is left unchanged."""
        ...

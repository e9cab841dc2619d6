"""The augmentation policy: which augmentations a sample gets, how strongly, in what order."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, Protocol

import numpy as np

from parallel_audio.audio_ops import fit_to_length, trim_silence
from parallel_audio.augment.added_noise import NoiseDraw
from parallel_audio.augment.background_noise import BackgroundNoise
from parallel_audio.augment.colored_noise import ColoredNoise
from parallel_audio.augment.external import ExternalAugmentations
from parallel_audio.augment.loudness import LoudnessChange
from parallel_audio.augment.pitch import PitchShift
from parallel_audio.augment.placement import Placement
from parallel_audio.augment.speed import SpeedChange
from parallel_audio.augment.transform import AugmentationTransform
from parallel_audio.augment.vocoder import VocoderPass, stretch_input_length
from parallel_audio.augment.vtlp import VocalTractLengthPerturbation


class AugmentationSettings(Protocol):
    """What the policy reads from a configuration (a generator, or its snapshot)."""

    sample_rate_hz: int
    sample_length: int
    trim_threshold_db: float | None
    disable_random_transforms: bool
    offset_range: tuple[float, float]
    loudness_range: tuple[float, float] | None
    speed_range: tuple[float, float] | None
    pitch_range: tuple[float, float] | None
    vtlp_range: tuple[float, float] | None
    noise_colors: tuple[str, ...]
    noise_color_range: tuple[float, float] | None
    bg_noise_range: tuple[float, float] | None
    noise_level_mode: str
    augmentations: tuple[Callable, ...]


class Augmentations(NamedTuple):
    """Every augmentation of a policy, each off when its range is not configured."""

    placement: Placement
    loudness: LoudnessChange
    speed: SpeedChange
    pitch: PitchShift
    vtlp: VocalTractLengthPerturbation
    colored_noise: ColoredNoise
    background_noise: BackgroundNoise
    external: ExternalAugmentations


class AugmentationPolicy:
    """Draws one sample's :class:`AugmentationTransform` and applies it, in the design's order.

    Drawing, from the sample's own generator: with both colored and background noise
    configured, a coin picks one of them; the noise's source, level and crop position; then
    (not for a ``_silence_`` sample, which gets noise only, background noise when there is
    some) the offset, loudness, speed, pitch, VTLP and the seed of the ``augmentations``
    transforms. Augmentations that are off draw nothing.

    Applying: trim silence; crop a clip longer than the pass needs
    (:func:`~parallel_audio.augment.vocoder.stretch_input_length`) at its offset; speed, pitch
    and VTLP in one vocoder pass; place the clip at its offset in the sample length; loudness;
    colored or background noise; the ``augmentations`` transforms, their output fitted back to
    the sample length.

    Parameters
    ----------
    augmentations : Augmentations
        The augmentations; those built without a range are off.
    trim_threshold_db : float, optional
        Leading and trailing audio this many dB below the loudest frame is cut first; None
        or 0 keeps the clip whole.
    disabled : bool
        Draw no augmentation at all (``disable_random_transforms``): every draw is the
        default transform. Applying is unaffected.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> settings = SimpleNamespace(
    ...     sample_rate_hz=16000, sample_length=16000, trim_threshold_db=None,
    ...     disable_random_transforms=False, offset_range=(0.0, 1.0), loudness_range=(0.5, 1.5),
    ...     speed_range=None, pitch_range=None, vtlp_range=None, noise_colors=(),
    ...     noise_color_range=None, bg_noise_range=None, noise_level_mode="factor",
    ...     augmentations=())
    >>> policy = AugmentationPolicy.from_settings(settings)
    >>> transform = policy.draw(np.random.default_rng(0))
    >>> policy.apply(np.ones(8000, np.float32), transform).shape
    (16000,)
    """

    def __init__(
        self,
        augmentations: Augmentations,
        *,
        trim_threshold_db: float | None = None,
        disabled: bool = False,
    ) -> None:
        self.augmentations = augmentations
        self.trim_threshold_db = trim_threshold_db
        self.disabled = disabled

    @classmethod
    def from_settings(
        cls,
        settings: AugmentationSettings,
        background_noises: Mapping[str, np.ndarray] | None = None,
    ) -> AugmentationPolicy:
        """Build the policy a configuration describes.

        Parameters
        ----------
        settings : AugmentationSettings
            A generator (or its snapshot): its ranges, noise settings and sample format.
        background_noises : mapping of str to numpy.ndarray, optional
            The background noise loaded for the dataset, at ``settings.sample_rate_hz``: a
            dict, or a :class:`~parallel_audio.augment.background_noise.SharedNoise`.

        Returns
        -------
        AugmentationPolicy
        """
        rate = settings.sample_rate_hz
        mode = settings.noise_level_mode
        augmentations = Augmentations(
            placement=Placement(settings.offset_range, sample_length=settings.sample_length),
            loudness=LoudnessChange(settings.loudness_range or None),
            speed=SpeedChange(settings.speed_range or None),
            pitch=PitchShift(settings.pitch_range or None),
            vtlp=VocalTractLengthPerturbation(settings.vtlp_range or None, sample_rate=rate),
            colored_noise=ColoredNoise(
                settings.noise_colors, settings.noise_color_range, mode=mode, sample_rate=rate
            ),
            background_noise=BackgroundNoise(
                background_noises, settings.bg_noise_range, mode=mode, sample_rate=rate
            ),
            external=ExternalAugmentations(settings.augmentations, sample_rate=rate),
        )
        return cls(
            augmentations,
            trim_threshold_db=settings.trim_threshold_db,
            disabled=settings.disable_random_transforms,
        )

    @property
    def sample_length(self) -> int:
        """The length of the samples the policy produces."""
        return self.augmentations.placement.sample_length

    def draw(self, rng: np.random.Generator, *, silence: bool = False) -> AugmentationTransform:
        """Draw one sample's transform from its generator.

        Parameters
        ----------
        rng : numpy.random.Generator
            The sample's own generator.
        silence : bool
            Draw for a ``_silence_`` sample: noise only.

        Returns
        -------
        AugmentationTransform
        """
        if self.disabled:
            return AugmentationTransform()
        a = self.augmentations
        colored, background = a.colored_noise.enabled, a.background_noise.enabled
        if silence:
            colored = colored and not background
        elif colored and background:
            if rng.random() < 0.5:
                background = False
            else:
                colored = False
        values: dict[str, Any] = {}
        if colored:
            color = a.colored_noise.draw(rng)
            values.update(
                noise_color=color.source,
                noise_color_factor=color.level,
                noise_position=color.position,
            )
        if background:
            noise = a.background_noise.draw(rng)
            values.update(
                bg_noise=noise.source, bg_noise_factor=noise.level, bg_noise_position=noise.position
            )
        if not silence:
            # In this order: each draw takes the generator where the previous one left it.
            values["offset_percentage"] = a.placement.draw(rng)
            values["loudness_factor"] = a.loudness.draw(rng)
            values["speed_factor"] = a.speed.draw(rng)
            values["pitch_factor"] = a.pitch.draw(rng)
            values["vtlp_factor"] = a.vtlp.draw(rng)
            values["augmentation_seed"] = a.external.draw(rng)
        return AugmentationTransform(**values)

    def apply(
        self,
        audio: np.ndarray,
        transform: AugmentationTransform,
        *,
        whole_sample: bool = False,
        trim: bool = True,
    ) -> np.ndarray:
        """Augment one clip as ``transform`` says.

        Parameters
        ----------
        audio : numpy.ndarray, shape (n,)
            float32 audio at the policy's sample rate.
        transform : AugmentationTransform
            Drawn by :meth:`draw`, or given.
        whole_sample : bool
            As the reference: keep the clip's whole length (no trimming, no placement).
        trim : bool
            Whether to trim silence (when configured); False for a clip already cut, as the
            two clips of an audio pair are, on the same bounds.

        Returns
        -------
        numpy.ndarray of float32, shape (sample_length,), or the clip's own length with
        ``whole_sample``.
        """
        a = self.augmentations
        t = transform
        if self.trim_threshold_db and trim and not whole_sample:
            audio = trim_silence(audio, self.trim_threshold_db)
        needed = stretch_input_length(self.sample_length, t.speed_factor)
        if not whole_sample and audio.size > needed:
            # A long clip: the pass gets only what the sample can use, around the same place
            # (where it lands in the sample is the same to within a sample).
            audio = fit_to_length(audio, needed, t.offset_percentage)
        vocoder = a.vtlp.apply(VocoderPass(), t.vtlp_factor)
        vocoder = a.pitch.apply(vocoder, t.pitch_factor)
        vocoder = a.speed.apply(vocoder, t.speed_factor)
        audio = vocoder.run(audio)
        if not whole_sample:
            audio = a.placement.apply(audio, t.offset_percentage)
        gain = t.loudness_factor
        audio = a.loudness.apply(audio, gain)
        if t.noise_color is not None:
            draw = NoiseDraw(t.noise_color, t.noise_color_factor, t.noise_position, gain)
            audio = a.colored_noise.apply(audio, draw)
        if t.bg_noise is not None:
            draw = NoiseDraw(t.bg_noise, t.bg_noise_factor, t.bg_noise_position, gain)
            audio = a.background_noise.apply(audio, draw)
        if t.augmentation_seed is not None:
            audio = a.external.apply(audio, t.augmentation_seed)
            if not whole_sample and audio.size != self.sample_length:
                audio = fit_to_length(audio, self.sample_length, 0.0)
        return np.ascontiguousarray(audio, np.float32)

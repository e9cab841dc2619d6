"""The augmentations, and the policy that draws and applies them.

Every augmentation is one class with the same small protocol (:class:`Augmentation`): it
draws its parameters from a sample's generator and applies given parameters. Speed, pitch and
VTLP contribute their rate and frequency map to one phase-vocoder pass (:class:`VocoderPass`);
colored and background noise share their level and crop logic (:class:`AddedNoise`).
:class:`AugmentationPolicy` builds them from a configuration's ranges, draws a sample's
:class:`AugmentationTransform` and applies it.
"""

from parallel_audio.augment.added_noise import AddedNoise, NoiseDraw
from parallel_audio.augment.background_noise import (
    BackgroundNoise,
    SharedNoise,
    crop_looped,
    load_background_noise,
    share_background_noise,
)
from parallel_audio.augment.base import Augmentation
from parallel_audio.augment.colored_noise import ColoredNoise, noise_buffer
from parallel_audio.augment.external import ExternalAugmentations, apply_augmentations
from parallel_audio.augment.levels import loudness_lufs, noise_scale
from parallel_audio.augment.loudness import LoudnessChange
from parallel_audio.augment.pitch import PitchShift, frequency_ratio
from parallel_audio.augment.placement import Placement
from parallel_audio.augment.policy import AugmentationPolicy, Augmentations
from parallel_audio.augment.speed import SpeedChange
from parallel_audio.augment.transform import AugmentationTransform
from parallel_audio.augment.vocoder import VocoderPass, stretch_and_warp
from parallel_audio.augment.vtlp import VocalTractLengthPerturbation, vtlp_map
from parallel_audio.validation import NOISE_COLORS, NOISE_LEVEL_MODES

__all__ = [
    "NOISE_COLORS",
    "NOISE_LEVEL_MODES",
    "AddedNoise",
    "Augmentation",
    "AugmentationPolicy",
    "AugmentationTransform",
    "Augmentations",
    "BackgroundNoise",
    "ColoredNoise",
    "ExternalAugmentations",
    "LoudnessChange",
    "NoiseDraw",
    "PitchShift",
    "Placement",
    "SharedNoise",
    "SpeedChange",
    "VocalTractLengthPerturbation",
    "VocoderPass",
    "apply_augmentations",
    "crop_looped",
    "frequency_ratio",
    "load_background_noise",
    "loudness_lufs",
    "noise_buffer",
    "noise_scale",
    "share_background_noise",
    "stretch_and_warp",
    "vtlp_map",
]

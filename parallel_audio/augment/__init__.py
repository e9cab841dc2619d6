"""The augmentations: each one a class that draws its parameters and applies them.

Speed, pitch and VTLP share one phase-vocoder pass (:func:`change_speed_pitch_vtlp`);
colored and background noise are cropped from buffers loaded or generated once per process.
"""

from parallel_audio.augment.background_noise import (
    BackgroundNoise,
    crop_looped,
    load_background_noise,
)
from parallel_audio.augment.colored_noise import ColoredNoise, noise_buffer
from parallel_audio.augment.external import apply_augmentations
from parallel_audio.augment.levels import loudness_lufs, noise_scale
from parallel_audio.augment.loudness import LoudnessChange
from parallel_audio.augment.perturb import change_speed_pitch_vtlp
from parallel_audio.augment.pitch import PitchShift, frequency_ratio
from parallel_audio.augment.speed import SpeedChange
from parallel_audio.augment.vocoder import stretch_and_warp
from parallel_audio.augment.vtlp import VocalTractLengthPerturbation, vtlp_map
from parallel_audio.validation import NOISE_COLORS, NOISE_LEVEL_MODES

__all__ = [
    "NOISE_COLORS",
    "NOISE_LEVEL_MODES",
    "BackgroundNoise",
    "ColoredNoise",
    "LoudnessChange",
    "PitchShift",
    "SpeedChange",
    "VocalTractLengthPerturbation",
    "apply_augmentations",
    "change_speed_pitch_vtlp",
    "crop_looped",
    "frequency_ratio",
    "load_background_noise",
    "loudness_lufs",
    "noise_buffer",
    "noise_scale",
    "stretch_and_warp",
    "vtlp_map",
]

"""parallel_audio: audio for neural-network training, in parallel and bit for bit reproducible."""

from parallel_audio.errors import ParallelAudioError, SettingsError
from parallel_audio.feature_generator import AudioFeatureGenerator
from parallel_audio.frontend_settings import AudioFeatureGeneratorSettings

__all__ = [
    "AudioFeatureGenerator",
    "AudioFeatureGeneratorSettings",
    "ParallelAudioError",
    "SettingsError",
]
__version__ = "0.1.0"

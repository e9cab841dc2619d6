"""parallel_audio: audio for neural-network training, in parallel and bit for bit reproducible.

Importing the package loads neither TensorFlow nor Keras (worker processes import it);
``ParallelAudioIterator``, the Keras ``PyDataset``, loads Keras when first used.
"""

from typing import Any

from parallel_audio.cross_validation import cross_validate, iter_folds
from parallel_audio.errors import (
    AudioFileError,
    CacheError,
    CacheWarning,
    DatasetError,
    ParallelAudioError,
    ParallelAudioWarning,
    SettingsError,
    SkippedFilesWarning,
    WorkerError,
)
from parallel_audio.feature_generator import AudioFeatureGenerator
from parallel_audio.frontend_settings import AudioFeatureGeneratorSettings
from parallel_audio.generator import ParallelAudioDataGenerator
from parallel_audio.process_params import ParallelProcessParams

__all__ = [
    "AudioFeatureGenerator",
    "AudioFeatureGeneratorSettings",
    "AudioFileError",
    "CacheError",
    "CacheWarning",
    "DatasetError",
    "ParallelAudioDataGenerator",
    "ParallelAudioError",
    "ParallelAudioIterator",
    "ParallelAudioWarning",
    "ParallelProcessParams",
    "SettingsError",
    "SkippedFilesWarning",
    "WorkerError",
    "cross_validate",
    "iter_folds",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name == "ParallelAudioIterator":
        from parallel_audio.iterator import ParallelAudioIterator

        return ParallelAudioIterator
    raise AttributeError(f"module 'parallel_audio' has no attribute {name!r}")

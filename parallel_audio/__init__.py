"""parallel_audio: audio for neural-network training, in parallel and bit for bit reproducible.

The public names are imported when first used (PEP 562), not with the package: worker
processes and their fork server import this package before the modules a worker needs (see
``worker_start.FORK_SERVER_PRELOAD``), and so load those only, not the iterator, the
cross-validation or the command line. Importing the package loads neither TensorFlow nor
Keras; ``ParallelAudioIterator``, the Keras ``PyDataset``, loads Keras when first used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time, __getattr__ below
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
    from parallel_audio.iterator import ParallelAudioIterator
    from parallel_audio.process_params import ParallelProcessParams

#: The module each public name comes from.
_PUBLIC_NAMES = {
    "AudioFeatureGenerator": "parallel_audio.feature_generator",
    "AudioFeatureGeneratorSettings": "parallel_audio.frontend_settings",
    "AudioFileError": "parallel_audio.errors",
    "CacheError": "parallel_audio.errors",
    "CacheWarning": "parallel_audio.errors",
    "DatasetError": "parallel_audio.errors",
    "ParallelAudioDataGenerator": "parallel_audio.generator",
    "ParallelAudioError": "parallel_audio.errors",
    "ParallelAudioIterator": "parallel_audio.iterator",
    "ParallelAudioWarning": "parallel_audio.errors",
    "ParallelProcessParams": "parallel_audio.process_params",
    "SettingsError": "parallel_audio.errors",
    "SkippedFilesWarning": "parallel_audio.errors",
    "WorkerError": "parallel_audio.errors",
    "cross_validate": "parallel_audio.cross_validation",
    "iter_folds": "parallel_audio.cross_validation",
}

# Spelt out, not computed, for the tools that read it without running the module.
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
    """Import a public name's module on first use and keep the name in the package."""
    module = _PUBLIC_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'parallel_audio' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later uses skip this function
    return value


def __dir__() -> list[str]:
    """List the public names with the module's own, imported or not yet."""
    return sorted(set(globals()) | set(_PUBLIC_NAMES))

"""Helpers the commands share: the audio generator, WAV output, memory."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from parallel_audio.cli.data_settings import (
    DataSettings,
    build_generator,
)
from parallel_audio.frontend_settings import AudioFeatureGeneratorSettings

if TYPE_CHECKING:
    from parallel_audio.generator import ParallelAudioDataGenerator


def build_audio_generator(
    settings: DataSettings,
    *,
    base_frontend: AudioFeatureGeneratorSettings | None = None,
    **overrides: Any,
) -> ParallelAudioDataGenerator:
    """Build the generator with the frontend off: its samples are the augmented audio.

    The audio is what the frontend would receive: trimmed, augmented and fitted to the sample
    length at the frontend's sample rate.
    """
    length = settings.frontend_settings(base_frontend).sample_length
    overrides = {"frontend_enabled": False, "sample_shape": (length,), **overrides}
    return build_generator(settings, base_frontend=base_frontend, **overrides)


def write_wav(path: str | os.PathLike, audio: np.ndarray, sample_rate: int) -> None:
    """Write float audio as 16-bit PCM, clipped to full scale as the frontend clips it."""
    import soundfile

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    clipped = np.clip(np.asarray(audio, np.float32).reshape(-1), -1.0, 32767 / 32768)
    soundfile.write(os.fspath(path), clipped, sample_rate, subtype="PCM_16")


def worker_rss_mb(pids: Sequence[int]) -> list[float] | None:
    """Resident memory of each process in MB, or None where the system does not tell."""
    sizes = []
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        sizes.append(int(line.split()[1]) / 1024)
                        break
        except OSError:
            try:
                import psutil
            except ImportError:
                return None
            try:
                sizes.append(psutil.Process(pid).memory_info().rss / 2**20)
            except psutil.Error:
                return None
    return sizes


def quiet_tensorflow() -> None:
    """Keep TensorFlow's C++ start-up messages out of the command's output."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

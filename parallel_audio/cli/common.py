"""Helpers the commands share: listing a dataset, the audio generator, WAV output, memory."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from parallel_audio.cli.options import DataSettings, build_generator
from parallel_audio.frontend_settings import AudioFeatureGeneratorSettings

if TYPE_CHECKING:
    from parallel_audio.generator import ParallelAudioDataGenerator

#: Folder names that are never classes (the dataset index's rule): ``_background_noise_`` and
#: the like, hidden folders, and editor lock folders.
NON_CLASS_PREFIXES = ("_", ".", "~")


def class_folders(directory: str | os.PathLike) -> list[str]:
    """Return the sub-folders of a dataset directory that can be classes, sorted."""
    with os.scandir(directory) as entries:
        return sorted(
            entry.name
            for entry in entries
            if entry.is_dir() and not entry.name.startswith(NON_CLASS_PREFIXES)
        )


def audio_files(directory: str | os.PathLike) -> list[str]:
    """Return every audio file under ``directory``, relative with ``/`` separators, sorted.

    Hidden files and folders are skipped; the extensions are those the dataset index lists.
    """
    from parallel_audio.dataset_index import WHITE_LIST_FORMATS

    accepted = frozenset(WHITE_LIST_FORMATS)
    root = os.fspath(directory)
    found = []
    for folder, subfolders, files in os.walk(root):
        relative = os.path.relpath(folder, root)
        at_top = relative == "."
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in files:
            extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
            if not name.startswith(".") and extension in accepted:
                path = name if at_top else f"{relative}/{name}"
                found.append(path.replace(os.sep, "/"))
    return sorted(found)


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

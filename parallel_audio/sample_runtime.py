"""What is built or loaded for one dataset and configuration: the sample runtime.

A :class:`~parallel_audio.ParallelAudioDataGenerator` is configuration only. Whatever its
configuration needs at run time (the background noise read for a dataset, the native
frontend, the augmentation policy built from the ranges) is a :class:`SampleRuntime`, and each
one has a single owner:

- each iterator builds its own when ``flow_from_directory`` creates it, in the training
  process (a missing background folder or settings the device refuses fail there), hands it to
  its workers pickled, once, and is the only one that uses it (with its shards): its
  background noise is held once in memory the workers map (a
  :class:`~parallel_audio.augment.SharedNoise`), released when the last of them closes;
- a generator builds one on demand for its own methods (``get_random_transform``,
  ``apply_transform``, ``apply_frontend``), for its configuration as it is at the call,
  reusing the costly parts through a :class:`RuntimeCache` while their settings stay the same.
"""

from __future__ import annotations

import os
import threading
import weakref
from typing import TYPE_CHECKING, Any

import numpy as np

from parallel_audio.audio_ops import resample
from parallel_audio.augment import (
    AugmentationPolicy,
    AugmentationTransform,
    SharedNoise,
    load_background_noise,
    share_background_noise,
)
from parallel_audio.errors import DatasetError
from parallel_audio.feature_generator import AudioFeatureGenerator
from parallel_audio.frontend_settings import AudioFeatureGeneratorSettings

if TYPE_CHECKING:
    from parallel_audio.generator import ParallelAudioDataGenerator


def background_noise_folder(bg_noise_dir: str, directory: str) -> str:
    """Return the folder ``bg_noise_dir`` names: as given if it exists, else inside ``directory``.

    The reference's rule. Raises :class:`~parallel_audio.DatasetError` when it is neither.
    """
    folder = bg_noise_dir
    if not os.path.isdir(folder):
        folder = os.path.join(directory, bg_noise_dir)
    if not os.path.isdir(folder):
        raise DatasetError(
            f"bg_noise_dir {bg_noise_dir!r} is neither a directory nor one inside {directory!r}"
        )
    return folder


class RuntimeCache:
    """The costly parts of a runtime, kept while the settings they come from stay the same.

    A generator's own methods follow a configuration that may change between calls: the
    native frontend is built again when the frontend settings differ, the background noise is
    read again when its folder or the sample rate does. Never shared with an iterator.
    """

    def __init__(self) -> None:
        self._frontend: tuple[AudioFeatureGeneratorSettings, AudioFeatureGenerator] | None = None
        self._noises: tuple[tuple[str, int], dict[str, np.ndarray]] | None = None

    def frontend(self, settings: AudioFeatureGeneratorSettings) -> AudioFeatureGenerator:
        """Return a frontend for ``settings`` as they are now."""
        if self._frontend is None or self._frontend[0] != settings:
            frozen = settings.frozen()
            self._frontend = (frozen, AudioFeatureGenerator(frozen))
        return self._frontend[1]

    def background_noise(self, folder: str, sample_rate: int) -> dict[str, np.ndarray]:
        """Return the background noise of ``folder`` read at ``sample_rate``."""
        key = (os.path.realpath(folder), sample_rate)
        if self._noises is None or self._noises[0] != key:
            self._noises = (key, load_background_noise(key[0], sample_rate))
        return self._noises[1]


class SampleRuntime:
    """The augmentation policy and the native frontend of one configuration and dataset.

    Pickles as its policy and its frontend's settings; the native frontend is built again as
    it is unpickled, in each worker. An iterator's background noise is a
    :class:`~parallel_audio.augment.SharedNoise`, which pickles as where its memory is, not
    as the audio; a generator's own is a dict of arrays.

    Parameters
    ----------
    sample_rate : int
        The rate clips are resampled to, in Hz.
    policy : AugmentationPolicy
        Draws and applies the augmentations, with the dataset's background noise.
    frontend : AudioFeatureGenerator, optional
        The spectrogram frontend; None with the frontend off.
    shared_noise : SharedNoise, optional
        The policy's background noise when it is shared with workers: released by
        :meth:`hold`'s last holder.

    Examples
    --------
    >>> from parallel_audio import ParallelAudioDataGenerator
    >>> configuration = ParallelAudioDataGenerator(cores=0, loudness_range=(0.5, 1.5))
    >>> runtime = SampleRuntime.build(configuration.snapshot(), directory=None)
    >>> transform = runtime.random_transform(np.random.default_rng(0))
    >>> audio = runtime.apply_transform(np.zeros(8000, np.float32), 8000, transform)
    >>> runtime.apply_frontend(audio).shape
    (98, 32)
    """

    def __init__(
        self,
        *,
        sample_rate: int,
        policy: AugmentationPolicy,
        frontend: AudioFeatureGenerator | None,
        shared_noise: SharedNoise | None = None,
    ) -> None:
        self.sample_rate = sample_rate
        self.policy = policy
        self.frontend = frontend
        self.shared_noise = shared_noise
        self._holders = 0
        self._holders_lock = threading.Lock()

    def hold(self, holder: object) -> weakref.finalize:
        """Count ``holder`` (an iterator, or a shard of it) as using the shared noise.

        Returns
        -------
        weakref.finalize
            Its release: call it when the holder closes (it runs once, and by itself when
            the holder is collected). The last release frees the shared noise.
        """
        with self._holders_lock:
            self._holders += 1
        return weakref.finalize(holder, self._release)

    def release_unheld(self) -> None:
        """Free the shared noise now if no holder ever took it (a ``flow_*`` that failed)."""
        with self._holders_lock:
            unheld = self._holders == 0
        if unheld and self.shared_noise is not None:
            self.shared_noise.close()

    def _release(self) -> None:
        with self._holders_lock:
            self._holders -= 1
            last = self._holders == 0
        if last and self.shared_noise is not None:
            self.shared_noise.close()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_holders_lock"]  # the holders are the training process's
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._holders_lock = threading.Lock()

    @classmethod
    def build(
        cls,
        configuration: ParallelAudioDataGenerator,
        directory: str | None,
        *,
        cache: RuntimeCache | None = None,
    ) -> SampleRuntime:
        """Build the runtime of a configuration for the dataset in ``directory``.

        Parameters
        ----------
        configuration : ParallelAudioDataGenerator
            An iterator's frozen snapshot, or a generator (then the runtime is of its
            configuration at this call).
        directory : str, optional
            The dataset folder a relative ``bg_noise_dir`` lies in; None: no background
            noise (a generator before any ``flow_from_directory``, as the reference).
        cache : RuntimeCache, optional
            Reuse the frontend and background noise it holds when their settings match.
            None (an iterator's runtime): the background noise is read into memory shared
            with the workers, released by the runtime's last holder (see :meth:`hold`).

        Returns
        -------
        SampleRuntime

        Raises
        ------
        DatasetError
            ``bg_noise_dir`` is not a folder, holds no audio file or cannot be listed.
        SettingsError
            The device's frontend refuses the settings.
        AudioFileError
            A background noise file cannot be read.
        """
        rate = configuration.sample_rate_hz
        noises = shared_noise = None
        if configuration.bg_noise_dir is not None and directory is not None:
            folder = background_noise_folder(configuration.bg_noise_dir, directory)
            if cache is None:
                noises = shared_noise = share_background_noise(folder, rate)
            else:
                noises = cache.background_noise(folder, rate)
        cache = cache if cache is not None else RuntimeCache()
        frontend = None
        if configuration.frontend_enabled:
            frontend = cache.frontend(configuration.frontend_settings)
        return cls(
            sample_rate=rate,
            policy=AugmentationPolicy.from_settings(configuration, noises),
            frontend=frontend,
            shared_noise=shared_noise,
        )

    def random_transform(
        self, rng: np.random.Generator, *, silence: bool = False
    ) -> AugmentationTransform:
        """Draw one sample's transform from its generator (see ``AugmentationPolicy.draw``)."""
        return self.policy.draw(rng, silence=silence)

    def apply_transform(
        self,
        audio: np.ndarray,
        sample_rate: int,
        transform: AugmentationTransform,
        *,
        whole_sample: bool = False,
        trim: bool = True,
    ) -> np.ndarray:
        """Resample a clip from ``sample_rate`` to the runtime's rate and augment it.

        ``trim=False`` leaves out the silence trimming (of a clip already cut).

        Returns
        -------
        numpy.ndarray of float32
            Of the sample length, or of the resampled clip's with ``whole_sample``.
        """
        audio = resample(np.asarray(audio, np.float32), sample_rate, self.sample_rate)
        return self.policy.apply(audio, transform, whole_sample=whole_sample, trim=trim)

    def apply_frontend(self, audio: np.ndarray, dtype: Any = np.float32) -> np.ndarray:
        """Return the spectrogram of a clip, (frames, channels), in ``dtype``."""
        if self.frontend is None:
            raise ValueError("this runtime has no frontend: its configuration has it off")
        return self.frontend.process_sample(audio, dtype=dtype)

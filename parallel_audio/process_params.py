"""What a batch function and the user callbacks receive about the generator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from parallel_audio.splits import EVALUATION_SUBSETS

if TYPE_CHECKING:
    from parallel_audio.clip_store import ClipStore
    from parallel_audio.generator import ParallelAudioDataGenerator
    from parallel_audio.sample_runtime import SampleRuntime


@dataclass(frozen=True)
class ParallelProcessParams:
    """The generator's configuration as seen from the code that builds a batch.

    Passed as the first argument of ``noaug_preprocessing_function``,
    ``preprocessing_function`` and ``postprocessing_function`` and as the last of
    ``get_batch_function``, with the reference's attribute names. It is pickled once per
    worker, so callbacks must not expect to change it.

    Attributes
    ----------
    audio_data_generator : ParallelAudioDataGenerator
        The iterator's frozen snapshot of the generator's configuration. Its
        ``get_random_transform``, ``apply_transform``, ``apply_frontend`` and ``standardize``
        work as the reference's, for callbacks and batch functions written for it (they build
        what they need in the process that calls them); the pipeline computes with
        ``sample_runtime``.
    sample_rate : int
        Rate every clip is resampled to, in Hz.
    sample_length_ms : int
        Length of a clip after padding, in milliseconds.
    sample_shape : tuple of int
        Shape of one sample in a batch. Given the generator's ``sample_shape``, the channel
        axis is added here when the frontend is on and ``add_channel_dimension`` applies,
        as the reference's params do.
    subset : str or None
        ``"training"``, ``"validation"`` or None.
    class_indices : dict of str to int
        Class name to class id.
    dtype : numpy.dtype
        dtype of the batch's samples (``params.dtype == np.int8`` holds for int8).
    frontend_dtype : numpy.dtype or None
        dtype the frontend produces, before ``standardize``; None means ``dtype``.
    directory : str
        The dataset directory; file names are relative to it.
    class_mode : str or None
        How labels are returned.
    get_batch_function, noaug_preprocessing_function, preprocessing_function,
    postprocessing_function : callable or None
        The user's callbacks.
    frontend_enabled : bool
        Whether samples are spectrograms (True) or audio (False).
    add_channel_dimension : bool
        Whether spectrograms get a trailing axis of 1.
    seed : int
        The seed every sample's generator derives from, with the epoch and the sample id.
    sample_runtime : SampleRuntime, optional
        The iterator's runtime: its augmentation policy (with the dataset's background
        noise) and native frontend. None in params built by hand, where :attr:`runtime`
        falls back to the generator's own.
    clips : ClipStore, optional
        The clips of ``flow``, which samples with a clip id are read from (shared with the
        workers, never copied per worker).
    pair_transforms : {"geometric", "all", "input"}
        With ``class_mode`` "audio" or "denoise": which augmentations the target receives
        (see :mod:`parallel_audio.pairs`).
    target_frontend : bool
        With ``class_mode`` "audio" or "denoise": the target is a spectrogram (True) or a
        waveform.
    windowing : WindowPlan, optional
        For ``flow_from_annotations``: how samples are cut from long files and labelled
        from their events (:class:`~parallel_audio.window_pipeline.WindowPlan`); None for
        every other source.
    sample_cache : SampleCache, optional
        The iterator's disk cache (``cache_dir``): decoded audio the pipeline reads instead of
        the files, or the final samples of unaugmented files. None without a cache.
    """

    audio_data_generator: ParallelAudioDataGenerator
    sample_rate: int
    sample_length_ms: int
    sample_shape: tuple[int, ...]
    subset: str | None
    class_indices: dict[str, int]
    dtype: np.dtype
    frontend_dtype: np.dtype | None
    directory: str
    class_mode: str | None
    get_batch_function: Any
    noaug_preprocessing_function: Any
    preprocessing_function: Any
    postprocessing_function: Any
    frontend_enabled: bool
    add_channel_dimension: bool
    seed: int
    sample_runtime: SampleRuntime | None = None
    clips: ClipStore | None = None
    pair_transforms: str = "geometric"
    target_frontend: bool = False
    windowing: Any = None
    sample_cache: Any = None

    def __post_init__(self) -> None:
        # As the reference's params: the channel axis of spectrograms is added here, from the
        # generator's (frames, channels), and dtypes are numpy dtypes.
        shape = tuple(self.sample_shape)
        if self.frontend_enabled and self.add_channel_dimension and len(shape) == 2:
            shape = (*shape, 1)
        object.__setattr__(self, "sample_shape", shape)
        object.__setattr__(self, "dtype", np.dtype(self.dtype))
        if self.frontend_dtype is not None:
            object.__setattr__(self, "frontend_dtype", np.dtype(self.frontend_dtype))

    @property
    def target_shape(self) -> tuple[int, ...]:
        """Shape of one target of an audio pair: a sample's, or the waveform's."""
        if self.target_frontend:
            return self.sample_shape
        return (self.audio_data_generator.sample_length,)

    @property
    def runtime(self) -> SampleRuntime:
        """What samples are computed with: the iterator's runtime, else the generator's own."""
        if self.sample_runtime is not None:
            return self.sample_runtime
        return self.audio_data_generator._runtime()

    @property
    def augmentation_enabled(self) -> bool:
        """Whether samples of this subset receive random transforms."""
        generator = self.audio_data_generator
        if generator.disable_random_transforms:
            return False
        return self.subset not in EVALUATION_SUBSETS or generator.validation_augmentation_enabled

    @property
    def validation_split(self) -> float:
        """The generator's ``validation_split`` (the reference's attribute)."""
        return self.audio_data_generator.validation_split

    @property
    def split(self) -> tuple[float, float] | None:
        """The fraction of each class the subset covers, as the reference gives it.

        ``(0, validation_split)``, ``(validation_split, 1)`` or None, as a listing function
        receives it.
        """
        if self.subset is None:
            return None
        if self.subset == "validation":
            return (0.0, self.validation_split)
        return (self.validation_split, 1.0)

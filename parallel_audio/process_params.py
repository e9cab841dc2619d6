"""What a batch function and the user callbacks receive about the generator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from parallel_audio.generator import ParallelAudioDataGenerator


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
        The generator: its ``get_random_transform``, ``apply_transform``,
        ``apply_frontend`` and ``standardize`` are the pipeline's steps.
    sample_rate : int
        Rate every clip is resampled to, in Hz.
    sample_length_ms : int
        Length of a clip after padding, in milliseconds.
    sample_shape : tuple of int
        Shape of one sample in a batch.
    subset : str or None
        ``"training"``, ``"validation"`` or None.
    class_indices : dict of str to int
        Class name to class id.
    dtype : str
        dtype of the batch's samples.
    frontend_dtype : str or None
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
    """

    audio_data_generator: ParallelAudioDataGenerator
    sample_rate: int
    sample_length_ms: int
    sample_shape: tuple[int, ...]
    subset: str | None
    class_indices: dict[str, int]
    dtype: str
    frontend_dtype: str | None
    directory: str
    class_mode: str | None
    get_batch_function: Any
    noaug_preprocessing_function: Any
    preprocessing_function: Any
    postprocessing_function: Any
    frontend_enabled: bool
    add_channel_dimension: bool
    seed: int

    @property
    def augmentation_enabled(self) -> bool:
        """Whether samples of this subset receive random transforms."""
        generator = self.audio_data_generator
        if generator.disable_random_transforms:
            return False
        return self.subset != "validation" or generator.validation_augmentation_enabled

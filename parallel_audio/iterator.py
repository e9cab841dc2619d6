"""The batch iterator handed to ``model.fit``: a Keras ``PyDataset``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import keras
import numpy as np

from parallel_audio.pipeline import get_batches_of_transformed_samples
from parallel_audio.process_params import ParallelProcessParams

if TYPE_CHECKING:
    from parallel_audio.dataset_index import DatasetIndex
    from parallel_audio.generator import ParallelAudioDataGenerator


class ParallelAudioIterator(keras.utils.PyDataset):
    """Batches of one dataset subset, for ``model.fit``, ``evaluate`` and ``predict``.

    ``len(iterator)`` is the number of batches per epoch and ``iterator[i]`` is batch ``i``
    of the current epoch: ``(x, y)``, or ``x`` alone with ``class_mode=None``. Each epoch
    visits every sample exactly once, in an order drawn from ``(seed, epoch)`` when
    ``shuffle`` is on, and ``on_epoch_end`` (called by Keras) moves to the next epoch. A
    batch depends only on ``(seed, epoch, i)``, never on the order batches are asked for.
    Iterating with ``next()`` runs through the epochs endlessly, as the reference's
    iterator does.

    Attributes
    ----------
    class_indices : dict of str to int
    classes : numpy.ndarray of int32
        Class id of every sample, in index order.
    filenames : list of str or None
        Every sample's file, relative to ``directory`` (None for ``_silence_``).
    samples, num_classes, batch_size : int
    seed : int
        The seed in use (drawn when ``flow_from_directory`` got None).
    epoch : int
        The current epoch, from 0.
    """

    def __init__(
        self,
        generator: ParallelAudioDataGenerator,
        index: DatasetIndex,
        *,
        class_mode: str | None,
        batch_size: int,
        shuffle: bool,
        seed: int,
        subset: str | None,
    ) -> None:
        # The generator's own pool does the work; Keras' workers stay off.
        super().__init__(workers=1, use_multiprocessing=False)
        self.directory = index.directory
        self.class_indices = {name: i for i, name in enumerate(index.class_names)}
        self.classes = np.asarray(index.class_ids, dtype=np.int32)
        self.filenames = list(index.filenames)
        self.samples = len(self.filenames)
        if self.samples == 0:
            raise ValueError(f"no samples for subset {subset!r} in {index.directory}")
        self.num_classes = len(self.class_indices)
        self.batch_size = self.samples if batch_size == -1 else batch_size
        self.class_mode = class_mode
        self.shuffle = shuffle
        self.seed = seed
        self.subset = subset
        self.epoch = 0
        self._next_batch = 0
        self.generator = generator
        self.process_params = ParallelProcessParams(
            audio_data_generator=generator,
            sample_rate=generator.sample_rate_hz,
            sample_length_ms=generator.sample_length_ms,
            sample_shape=generator.sample_shape,
            subset=subset,
            class_indices=self.class_indices,
            dtype=generator.dtype,
            frontend_dtype=generator.frontend_dtype,
            directory=index.directory,
            class_mode=class_mode,
            get_batch_function=generator.get_batch_function,
            noaug_preprocessing_function=generator.noaug_preprocessing_function,
            preprocessing_function=generator.preprocessing_function,
            postprocessing_function=generator.postprocessing_function,
            frontend_enabled=generator.frontend_enabled,
            add_channel_dimension=generator.add_channel_dimension,
            seed=seed,
        )
        self._plan_epoch = -1
        self._plan = np.arange(self.samples)

    def __len__(self) -> int:
        return math.ceil(self.samples / self.batch_size)

    @property
    def num_batches(self) -> int:
        """Batches per epoch."""
        return len(self)

    def epoch_plan(self, epoch: int) -> np.ndarray:
        """Sample ids in the order epoch ``epoch`` visits them."""
        if not self.shuffle:
            return np.arange(self.samples)
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, epoch, 0x5A5A]))
        return rng.permutation(self.samples)

    def batch_sample_ids(self, batch_index: int, epoch: int | None = None) -> np.ndarray:
        """Sample ids in batch ``batch_index`` of ``epoch`` (default: the current one)."""
        epoch = self.epoch if epoch is None else epoch
        if epoch != self._plan_epoch:
            self._plan = self.epoch_plan(epoch)
            self._plan_epoch = epoch
        return self._plan[batch_index * self.batch_size : (batch_index + 1) * self.batch_size]

    def __getitem__(self, batch_index: int) -> Any:
        if not 0 <= batch_index < len(self):
            raise IndexError(f"batch {batch_index} is out of range: {len(self)} batches per epoch")
        sample_ids = self.batch_sample_ids(batch_index)
        filenames = [self.filenames[i] for i in sample_ids]
        class_ids = [int(self.classes[i]) for i in sample_ids]
        if self.process_params.get_batch_function is not None:
            _, batch = self.process_params.get_batch_function(
                batch_index, filenames, class_ids, self.process_params
            )
        else:
            _, batch = get_batches_of_transformed_samples(
                batch_index,
                filenames,
                class_ids,
                self.process_params,
                sample_ids=sample_ids,
                epoch=self.epoch,
            )
        return batch

    def on_epoch_end(self) -> None:
        """Move to the next epoch's order (Keras calls this after every epoch)."""
        self.epoch += 1
        self._next_batch = 0

    def reset(self) -> None:
        """Return to the first batch of epoch 0."""
        self.epoch = 0
        self._next_batch = 0

    def __iter__(self) -> ParallelAudioIterator:
        return self

    def __next__(self) -> Any:
        if self._next_batch >= len(self):
            self.on_epoch_end()
        batch = self[self._next_batch]
        self._next_batch += 1
        return batch

    def as_tf_dataset(self):
        """Return the batches as a ``tf.data.Dataset`` with a fixed signature (for tf.distribute).

        Each pass over the dataset is one epoch and advances the iterator's epoch.
        """
        import tensorflow as tf

        dtype = tf.as_dtype(self.generator.dtype)
        x_spec = tf.TensorSpec((None, *self.generator.sample_shape), dtype)
        if self.class_mode is None:
            signature = x_spec
        elif self.class_mode == "input":
            signature = (x_spec, x_spec)
        elif self.class_mode == "categorical":
            signature = (x_spec, tf.TensorSpec((None, self.num_classes), dtype))
        else:
            signature = (x_spec, tf.TensorSpec((None,), dtype))

        def one_epoch():
            for i in range(len(self)):
                yield self[i]
            self.on_epoch_end()

        return tf.data.Dataset.from_generator(one_epoch, output_signature=signature)

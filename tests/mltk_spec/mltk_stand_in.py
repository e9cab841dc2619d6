"""What MLTK's model classes do around a model specification, reduced to what touches the
generator: a stand-in for ``mltk.core`` so that a spec runs with only its import lines
changed.

Each piece follows the MLTK 0.20 code it names: ``AudioDatasetMixin.load_dataset`` (the
``flow_from_directory`` keywords, the deep copy of the generator, the evaluation flags),
``DataGeneratorContext.shutdown`` (errors swallowed, as MLTK does), the metadata step
(``_populate_audio_dataset_model_parameters``), ``compute_class_weights('balanced')``,
``train_model``'s ``fit`` arguments and ``evaluate_classifier``'s evaluation loop.
"""

from __future__ import annotations

import copy

import numpy as np
import tensorflow as tf


class DataGeneratorContext:
    """MLTK's loaded-dataset context: its shutdown swallows every error, as MLTK's does."""

    def __init__(self, subset, train_datagen, validation_datagen):
        self.subset = subset
        self.train_datagen = train_datagen
        self.validation_datagen = validation_datagen

    def shutdown(self):
        try:
            self.train_datagen.shutdown()
        except Exception:
            pass
        try:
            self.validation_datagen.shutdown()
        except Exception:
            pass


class MltkModel:
    """The attributes a spec sets, with MLTK's defaults."""

    def __init__(self):
        self.version = 1
        self.description = ""
        self.epochs = 100
        self.batch_size = 32
        self.optimizer = "adam"
        self.metrics = ["accuracy"]
        self.loss = "categorical_crossentropy"
        self.checkpoint = {"monitor": "val_accuracy"}
        self.lr_schedule = None
        self.tflite_converter = {}
        self.model_parameters = {}
        self.build_model_function = None
        self.dataset = None
        self.classes = None
        self.class_weights = None
        self.class_mode = "categorical"
        self.follow_links = True
        self.shuffle_dataset_enabled = False
        self.datagen = None
        self.validation_datagen = None
        self.test_mode_enabled = False
        self.x = None
        self.y = None
        self.validation_data = None
        self.datagen_context = None
        self.class_counts = {"training": {}, "validation": {}}
        self.loaded_subset = None

    @property
    def n_classes(self):
        return len(self.classes)

    @property
    def input_shape(self):
        # AudioDatasetMixin.audio_input_shape with the frontend on.
        shape = self.datagen.frontend_settings.spectrogram_shape
        if self.datagen.add_channel_dimension:
            shape = shape + (1,)
        return shape


class TrainMixin:
    pass


class EvaluateClassifierMixin:
    pass


class AudioDatasetMixin:
    def get_datagen_creator(self, subset):
        """DataGeneratorDatasetMixin.get_datagen_creator: a deep copy of the generator."""
        if subset == "training" or not self.validation_datagen:
            creator = self.datagen
        else:
            creator = self.validation_datagen
        creator = copy.deepcopy(creator)
        if self.test_mode_enabled:
            creator.debug = True
        return creator

    def load_dataset(self, subset, classes=None, max_samples_per_class=-1, test=False):
        """AudioDatasetMixin.load_dataset."""
        self.loaded_subset = subset
        classes = classes or self.classes
        dataset_dir = self.dataset.load_data()
        batch_size = self.batch_size
        eval_shuffle = False
        eval_augmentation_enabled = False
        if test:
            batch_size = 3
            max_samples_per_class = batch_size
            self.batch_size = batch_size
            self.datagen.max_batches_pending = 1
        train_datagen = validation_datagen = None
        if subset == "training":
            training_datagen_creator = self.get_datagen_creator("training")
        validation_datagen_creator = self.get_datagen_creator("validation")
        kwargs = dict(
            directory=dataset_dir,
            target_size=self.input_shape[:2],
            classes=classes,
            class_mode=self.class_mode,
            follow_links=self.follow_links,
            batch_size=batch_size,
            max_samples_per_class=max_samples_per_class,
            shuffle_index_dir=None,
            list_valid_filenames_in_directory_function=getattr(
                self.dataset, "list_valid_filenames_in_directory", None
            ),
        )
        if subset == "training":
            train_datagen = training_datagen_creator.flow_from_directory(
                subset="training",
                shuffle=True,
                class_counts=self.class_counts["training"],
                **kwargs,
            )
        if subset in ("training", "validation"):
            validation_datagen = validation_datagen_creator.flow_from_directory(
                subset="validation",
                shuffle=True,
                class_counts=self.class_counts["validation"],
                **kwargs,
            )
        if subset == "evaluation":
            validation_datagen_creator.validation_augmentation_enabled = eval_augmentation_enabled
            validation_datagen = validation_datagen_creator.flow_from_directory(
                subset="validation",
                shuffle=eval_shuffle,
                class_counts=self.class_counts["validation"],
                **kwargs,
            )
        self.x = self.validation_data = None
        if subset == "training":
            self.x = train_datagen
        if subset in ("training", "validation"):
            self.validation_data = validation_datagen
        if subset == "evaluation":
            self.x = validation_datagen
        self.datagen_context = DataGeneratorContext(subset, train_datagen, validation_datagen)

    def unload_dataset(self):
        """DataGeneratorDatasetMixin.unload_dataset."""
        try:
            self.datagen_context.shutdown()
        except Exception:
            pass
        self.datagen_context = None

    def populate_model_parameters(self):
        """AudioDatasetMixin._populate_audio_dataset_model_parameters (at compile time)."""
        parameters = self.model_parameters
        parameters["samplewise_norm.rescale"] = float(self.datagen.rescale or 0)
        parameters["samplewise_norm.mean_and_std"] = (
            self.datagen.samplewise_center and self.datagen.samplewise_std_normalization
        )
        parameters.update(self.datagen.frontend_settings)


def compute_class_weights(mltk_model):
    """compute_class_weights with class_weights='balanced', from the training class counts."""
    counts = mltk_model.class_counts["training"]
    total = sum(counts.values())
    return {i: total / (len(counts) * counts[name]) for i, name in enumerate(mltk_model.classes)}


def train_model(mltk_model, epochs=None):
    """train_model: build, fit with MLTK's arguments, unload the dataset."""
    mltk_model.load_dataset(subset="training")
    keras_model = mltk_model.build_model_function(mltk_model)
    callbacks = []
    if isinstance(mltk_model.lr_schedule, dict):
        callbacks.append(tf.keras.callbacks.LearningRateScheduler(**mltk_model.lr_schedule))
    fit_kwargs = dict(
        x=mltk_model.x,
        y=mltk_model.y,
        batch_size=mltk_model.batch_size,
        steps_per_epoch=None,
        validation_split=0.0,
        validation_data=mltk_model.validation_data,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
        shuffle=True,
        class_weight=compute_class_weights(mltk_model),
        sample_weight=None,
        epochs=epochs or mltk_model.epochs,
        initial_epoch=0,
        callbacks=callbacks,
        verbose=0,
    )
    history = keras_model.fit(**fit_kwargs)
    # Returned for the caller to check that unloading stopped them.
    iterators = (mltk_model.x, mltk_model.validation_data)
    workers = [list(it.worker_pids) for it in iterators]
    mltk_model.unload_dataset()
    return keras_model, history, iterators, workers


def iterate_evaluation_data(mltk_model):
    """evaluate_classifier.iterate_evaluation_data, for a data generator."""
    x = mltk_model.validation_data if mltk_model.validation_data is not None else mltk_model.x
    for batch in x:
        batch_x, batch_y, _ = tf.keras.utils.unpack_x_y_sample_weight(batch)
        yield np.asarray(batch_x), np.asarray(batch_y)


def evaluate_model(mltk_model, keras_model):
    """evaluate_classifier.generate_predictions on the evaluation subset."""
    mltk_model.load_dataset(subset="evaluation")
    iterator = mltk_model.x
    y_pred, y_label = [], []
    for batch_x, batch_y in iterate_evaluation_data(mltk_model):
        y_pred.extend(keras_model.predict(batch_x, verbose=0))
        y_label.extend(np.argmax(batch_y, -1))
    workers = list(iterator.worker_pids)
    mltk_model.unload_dataset()
    return np.asarray(y_label, np.int32), np.asarray(y_pred), iterator, workers

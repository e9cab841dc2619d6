"""MLTK's keyword_spotting_on_off model specification, with its import lines switched.

mltk.core's classes come from ``mltk_stand_in`` and the dataset module from the local
``speech_commands_v2`` (a synthesized dataset); the generator and its settings come from
parallel_audio. Everything else is the spec's own code and values: TensorFlow imported at the
top, no ``if __name__ == "__main__":`` guard around the model's definition.
"""

import numpy as np
import speech_commands_v2
import tensorflow as tf
from mltk_stand_in import AudioDatasetMixin, EvaluateClassifierMixin, MltkModel, TrainMixin
from tensorflow.keras import regularizers
from tensorflow.keras.layers import (
    Activation,
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPooling2D,
)
from tensorflow.keras.models import Sequential

from parallel_audio import AudioFeatureGeneratorSettings, ParallelAudioDataGenerator


class MyModel(MltkModel, TrainMixin, AudioDatasetMixin, EvaluateClassifierMixin):
    pass


my_model = MyModel()
my_model.version = 1
my_model.description = 'Keyword spotting classifier to detect: "on" and "off"'
my_model.epochs = 80
my_model.batch_size = 10
my_model.optimizer = "adam"
my_model.metrics = ["accuracy"]
my_model.loss = "categorical_crossentropy"
my_model.checkpoint["monitor"] = "val_accuracy"


def lr_schedule(epoch):
    initial_learning_rate = 0.001
    decay_per_epoch = 0.95
    lrate = initial_learning_rate * (decay_per_epoch**epoch)
    return lrate


my_model.lr_schedule = dict(schedule=lr_schedule, verbose=0)

my_model.tflite_converter["optimizations"] = [tf.lite.Optimize.DEFAULT]
my_model.tflite_converter["supported_ops"] = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
my_model.tflite_converter["inference_input_type"] = np.int8
my_model.tflite_converter["inference_output_type"] = np.int8
my_model.tflite_converter["representative_dataset"] = "generate"

my_model.dataset = speech_commands_v2
my_model.class_mode = "categorical"
my_model.classes = ["on", "off", "_unknown_", "_silence_"]
my_model.class_weights = "balanced"

frontend_settings = AudioFeatureGeneratorSettings()
frontend_settings.sample_rate_hz = 8000
frontend_settings.sample_length_ms = 1000
frontend_settings.window_size_ms = 30
frontend_settings.window_step_ms = 20
frontend_settings.filterbank_n_channels = 32
frontend_settings.filterbank_upper_band_limit = 4000.0 - 1
frontend_settings.filterbank_lower_band_limit = 100.0
frontend_settings.noise_reduction_enable = True
frontend_settings.noise_reduction_smoothing_bits = 5
frontend_settings.noise_reduction_even_smoothing = 0.004
frontend_settings.noise_reduction_odd_smoothing = 0.004
frontend_settings.noise_reduction_min_signal_remaining = 0.05
frontend_settings.pcan_enable = False
frontend_settings.pcan_strength = 0.95
frontend_settings.pcan_offset = 80.0
frontend_settings.pcan_gain_bits = 21
frontend_settings.log_scale_enable = True
frontend_settings.log_scale_shift = 6

my_model.model_parameters.update(frontend_settings)

my_model.datagen = ParallelAudioDataGenerator(
    dtype=my_model.tflite_converter["inference_input_type"],
    frontend_settings=frontend_settings,
    cores=0.45,
    debug=False,
    max_batches_pending=16,
    validation_split=0.10,
    validation_augmentation_enabled=True,
    samplewise_center=False,
    samplewise_std_normalization=False,
    rescale=None,
    unknown_class_percentage=2.0,
    silence_class_percentage=0.3,
    offset_range=(0.0, 1.0),
    trim_threshold_db=30,
    noise_colors=None,
    loudness_range=(0.2, 1.0),
    speed_range=(0.9, 1.1),
    pitch_range=(0.9, 1.1),
    bg_noise_range=(0.1, 0.4),
    bg_noise_dir="_background_noise_",
)


def my_model_builder(model: MyModel):
    weight_decay = 1e-4
    regularizer = regularizers.l2(weight_decay)
    input_shape = model.input_shape
    filters = 8

    keras_model = Sequential(
        name="keyword_spotting_on_off",
        layers=[
            Conv2D(
                filters,
                (3, 3),
                padding="same",
                kernel_regularizer=regularizer,
                input_shape=input_shape,
                strides=(2, 2),
            ),
            BatchNormalization(),
            Activation("relu"),
            Conv2D(
                2 * filters, (3, 3), padding="same", kernel_regularizer=regularizer, strides=(2, 2)
            ),
            BatchNormalization(),
            Activation("relu"),
            Dropout(rate=0.1),
            Conv2D(
                4 * filters, (3, 3), padding="same", kernel_regularizer=regularizer, strides=(2, 2)
            ),
            BatchNormalization(),
            Activation("relu"),
            Dropout(rate=0.3),
            MaxPooling2D(pool_size=[7, 1]),
            Flatten(),
            Dense(model.n_classes, activation="softmax"),
        ],
    )
    keras_model.compile(loss=model.loss, optimizer=model.optimizer, metrics=model.metrics)
    return keras_model


my_model.build_model_function = my_model_builder
my_model.model_parameters["average_window_duration_ms"] = 1000
my_model.model_parameters["detection_threshold"] = 160
my_model.model_parameters["suppression_ms"] = 750
my_model.model_parameters["minimum_count"] = 3
my_model.model_parameters["volume_gain"] = 2
my_model.model_parameters["latency_ms"] = 100
my_model.model_parameters["verbose_model_output_logs"] = False

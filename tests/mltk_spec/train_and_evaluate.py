"""What ``mltk train`` and ``mltk evaluate`` do with a model specification, as a script.

Usage: python train_and_evaluate.py SPEC.py RESULTS.json [EPOCHS] [--debug]

With ``--debug`` the spec's generator computes in threads (``datagen.debug = True``, what
MLTK's test mode sets) instead of worker processes.

Imports the spec as MLTK does (by path, as a module), trains it with MLTK's fit arguments,
shuts the data down, evaluates it with MLTK's evaluation loop, runs the model-metadata step,
rebuilds the frontend settings from the model parameters as MLTK's tools do, and writes what
it saw to RESULTS.json. No ``__main__`` guard, as users' scripts.
"""

import importlib.util
import json
import os
import sys

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mltk_stand_in  # noqa: E402

from parallel_audio import AudioFeatureGeneratorSettings  # noqa: E402

arguments = [a for a in sys.argv[1:] if a != "--debug"]
spec_path, results_path = arguments[0], arguments[1]
epochs = int(arguments[2]) if len(arguments) > 2 else None
spec_name = os.path.splitext(os.path.basename(spec_path))[0]
module_spec = importlib.util.spec_from_file_location(spec_name, spec_path)
spec = importlib.util.module_from_spec(module_spec)
module_spec.loader.exec_module(spec)
my_model = spec.my_model
if "--debug" in sys.argv:
    my_model.datagen.debug = True

tf.keras.utils.set_random_seed(0)
keras_model, history, (train, validation), workers = mltk_stand_in.train_model(
    my_model, epochs=epochs
)
y_label, y_pred, evaluation, evaluation_workers = mltk_stand_in.evaluate_model(
    my_model, keras_model
)
workers.append(evaluation_workers)

mltk_stand_in.AudioDatasetMixin.populate_model_parameters(my_model)
parameters = json.loads(json.dumps(my_model.model_parameters))  # as a .tflite stores them
rebuilt = AudioFeatureGeneratorSettings(**parameters)

results = {
    "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
    "input_shape": list(my_model.input_shape),
    "class_counts": my_model.class_counts,
    "model_parameters": parameters,
    "rebuilt_spectrogram_shape": list(rebuilt.spectrogram_shape),
    "frontend_settings": dict(my_model.datagen.frontend_settings),
    "evaluation": {
        "labels": y_label.tolist(),
        "predictions": np.argmax(y_pred, -1).tolist(),
        "index_labels": evaluation.classes.tolist(),
        "samples": evaluation.samples,
        "augmented": evaluation.process_params.augmentation_enabled,
    },
    "iterators": {
        name: {"running": it.is_running, "workers": pids, "samples": it.samples}
        for name, it, pids in zip(
            ("train", "validation", "evaluation"),
            (train, validation, evaluation),
            workers,
            strict=True,
        )
    },
    "sample_shape": list(train.process_params.sample_shape),
    "dtype": train.process_params.dtype.name,
}
with open(results_path, "w") as f:
    json.dump(results, f)

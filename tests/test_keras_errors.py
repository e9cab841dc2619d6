"""Errors of the iterator reach the caller of model.fit, evaluate and predict as themselves.

Each backend runs in its own interpreter (Keras picks it at import), from ``python -c`` as a
notebook or a piped script would.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import soundfile

# Each backend's interpreter imports it and trains: left out of `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

BACKENDS = ["tensorflow", "jax", "torch"]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("keras_errors")
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        (root / name).mkdir()
        for i in range(6):
            x = (0.1 * rng.standard_normal(16000)).astype(np.float32)
            soundfile.write(root / name / f"s{i}_nohash_0.wav", x, 16000)
    # Last in file order: batch 6 of 7, past the two batches Keras' TensorFlow backend
    # computes in the training thread to learn the shapes, so it fails in tf.data's thread.
    (root / "b" / "zz_broken.wav").write_text("<html>not found</html>")
    return root


SCRIPT = """
import os
os.environ["KERAS_BACKEND"] = {backend!r}
import keras
from parallel_audio import AudioFileError, ParallelAudioDataGenerator, WorkerError
assert keras.backend.backend() == {backend!r}

def model(shape):
    layers = [keras.Input(shape), keras.layers.Flatten(), keras.layers.Dense(2)]
    network = keras.Sequential(layers)
    network.compile("sgd", "mse")
    return network

def flow(generator, classes=("a", "b")):
    return generator.flow_from_directory(
        {root!r}, classes=list(classes), batch_size=2, shuffle=False, seed=0
    )

# Worker processes: WorkerError, caused by the worker's AudioFileError, with its traceback.
workers = ParallelAudioDataGenerator(cores=1)
for call in ("fit", "evaluate", "predict"):
    with flow(workers) as iterator:
        try:
            getattr(model(workers.sample_shape), call)(iterator, verbose=0)
        except WorkerError as error:
            cause = error.__cause__
            assert isinstance(cause, AudioFileError), (call, repr(cause))
            assert cause.path.endswith("zz_broken.wav") and "HTML page" in cause.problem
            assert "Worker traceback" in str(error) and "in read_audio" in str(error)
            print(call, "WorkerError")
        else:
            raise AssertionError(call + " raised nothing")

# No workers (cores=0): the pipeline's own exception, with its own cause.
inline = ParallelAudioDataGenerator(cores=0)
try:
    model(inline.sample_shape).fit(flow(inline), verbose=0)
except AudioFileError as error:
    assert error.path.endswith("zz_broken.wav"), error.path
    assert error.__cause__ is not None
    print("fit AudioFileError")

# Any other error passes through untouched.
try:
    model((3,)).fit(flow(workers, ["a"]), verbose=0)
except (WorkerError, AudioFileError):
    raise
except Exception as error:
    print("other", type(error).__name__)

# Nothing recorded outlives the calls (the exceptions' tracebacks hold frames).
from parallel_audio import keras_errors
assert not keras_errors._raised and not keras_errors._active_calls
"""


@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_evaluate_and_predict_raise_the_iterators_own_error(dataset, backend):
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed")
    code = textwrap.dedent(SCRIPT).format(backend=backend, root=str(dataset))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-4000:]
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        "fit WorkerError",
        "evaluate WorkerError",
        "predict WorkerError",
        "fit AudioFileError",
    ], result.stdout
    assert lines[4].startswith("other ") and "Error" in lines[4], result.stdout

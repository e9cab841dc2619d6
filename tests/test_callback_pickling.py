"""What worker processes receive: callbacks by name or by value, and clear refusals.

Whether a callback travels by name shows in a round trip in one process: unpickled, a
function sent by name is the very same object, one sent by value a new one.
"""

from __future__ import annotations

import contextlib
import functools
import io
import pickle
import socket
import sys
import threading

import numpy as np
import pytest

from parallel_audio import ParallelAudioDataGenerator, SettingsError
from parallel_audio.callback_pickling import pickle_for_workers


def plus_thousand(params, x):
    return x + 1000.0


def scaled(params, x, *, factor):
    return factor * x


def guarded_by(lock):
    def call_under_lock(params, x):
        with lock:
            return x + 1

    return call_under_lock


class Holder:
    """A callable object holding something in an attribute."""

    def __init__(self, held):
        self.held = held

    def __call__(self, params, x):
        return x


def round_trip(callback):
    return pickle.loads(pickle_for_workers(callback, "callback"))


def test_functions_of_importable_modules_travel_by_name():
    for callback in (plus_thousand, np.sqrt, ParallelAudioDataGenerator.standardize):
        assert round_trip(callback) is callback
    bound = round_trip(functools.partial(scaled, factor=2.0))
    assert bound.func is scaled and bound.keywords == {"factor": 2.0}


def test_lambdas_and_closures_travel_by_value_and_compute_the_same():
    offset = 7.0
    for callback in (lambda params, x: x + offset, guarded_by(contextlib.nullcontext())):
        copy = round_trip(callback)
        assert copy is not callback
        assert copy(None, 1.0) == callback(None, 1.0)


def unpicklable_cases():
    """(callback, the path the message must name, what the object at its end is)."""
    yield guarded_by(threading.Lock()), "closure variable 'lock'", "_thread.lock"
    connection = socket.socket()
    yield Holder(connection), "attribute 'held'", "socket.socket"
    log = io.StringIO()  # in memory, yet a file object: refused like any other
    yield functools.partial(scaled, factor=log), "keyword argument 'factor'", "_io.StringIO"
    yield Holder(Holder(threading.Lock())), "attribute 'held' → attribute 'held'", "_thread.lock"


@pytest.mark.parametrize("case", range(4))
def test_an_unpicklable_callback_is_named_with_the_path_to_the_object_at_fault(case):
    callback, path, kind = list(unpicklable_cases())[case]
    with pytest.raises(SettingsError) as raised:
        pickle_for_workers(callback, "preprocessing_function")
    message = str(raised.value)
    assert message.startswith("preprocessing_function (")
    assert f"its {path} is a {kind}" in message, message
    assert "debug=True" in message and "cores=0" in message


def test_tensorflow_objects_and_modules_are_refused_even_though_they_pickle():
    tf = pytest.importorskip("tensorflow")
    tensor = tf.constant([1.0, 2.0])
    pickle.dumps(tensor)  # TensorFlow pickles it: the refusal is ours

    def uses_the_module(params, x):
        return tf.identity(x).numpy()

    cases = [
        (uses_the_module, "closure variable 'tf' is the module tensorflow"),
        (Holder(tensor), "attribute 'held' is a tensorflow."),
        (
            functools.partial(scaled, factor=tf.reduce_sum),
            "keyword argument 'factor' is tensorflow.",
        ),
    ]
    for callback, expected in cases:
        with pytest.raises(SettingsError, match="never load TensorFlow, Keras or JAX") as raised:
            pickle_for_workers(callback, "postprocessing_function")
        assert expected in str(raised.value)


def test_the_standard_streams_may_travel(monkeypatch):
    # A callback that writes to sys.stderr writes to its worker's own. (pytest replaces the
    # stream with one of its own while it captures output: put the real one back.)
    monkeypatch.setattr(sys, "stderr", sys.__stderr__)
    holder = round_trip(Holder(sys.stderr))
    assert holder.held is sys.stderr

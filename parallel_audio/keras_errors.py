"""Errors of the iterator reach the caller of ``model.fit``, ``evaluate`` and ``predict`` intact.

Two things stand between the exception a batch raises and the training script's ``except``:

- On the TensorFlow backend Keras reads a ``PyDataset`` through
  ``tf.data.Dataset.from_generator``, so ``__getitem__`` runs in a tf.data thread under
  TensorFlow's ``py_func``, which turns any Python exception into a status code and its
  formatted text. The training thread then gets ``tf.errors.UnknownError`` (or
  ``InvalidArgumentError`` for a ``ValueError``) holding the original only as text.
- On every backend, Keras' traceback filtering re-raises what ``fit`` raised ``from None``,
  which drops its ``__cause__`` (a ``WorkerError``'s cause is the worker's exception).

Neither Keras nor TensorFlow offers a hook for either, and between the failure and the caller
only their code runs in the training thread. So the iterator records each exception it raises
while one of these calls runs (:func:`remember`), and :func:`install` wraps ``fit``,
``evaluate`` and ``predict`` of ``keras.Model`` once: when such a call fails with an exception
the iterator recorded, or with an error whose message carries one's text, that exception is
raised again with its cause. Every other error passes through untouched, and nothing is kept
once the outermost call returns.
"""

from __future__ import annotations

import functools
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: The Keras methods that read a dataset to the end and so may fail inside one.
WRAPPED_METHODS = ("fit", "evaluate", "predict")

_WRAPPED_MARK = "__parallel_audio_reraises__"


@dataclass(frozen=True)
class _Raised:
    """An exception the iterator raised, as it was before Keras or TensorFlow handled it."""

    error: BaseException
    cause: BaseException | None
    text: str  # how tracebacks print it (what TensorFlow's message quotes), spaces collapsed


_lock = threading.Lock()
_active_calls = 0  # wrapped calls running, in any thread (fit runs evaluate inside)
_raised: list[_Raised] = []


def install() -> None:
    """Wrap ``keras.Model.fit``, ``evaluate`` and ``predict``, once per process."""
    import keras

    with _lock:
        for name in WRAPPED_METHODS:
            method = getattr(keras.Model, name)
            if not getattr(method, _WRAPPED_MARK, False):
                setattr(keras.Model, name, _reraising(method))


def remember(error: BaseException) -> None:
    """Record an exception the iterator is raising, if a wrapped Keras call is running.

    Called from whichever thread asked for the batch (tf.data's, on TensorFlow).
    """
    with _lock:
        if _active_calls:
            text = "".join(traceback.format_exception_only(type(error), error))
            _raised.append(_Raised(error, error.__cause__, _collapsed(text)))


def _reraising(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        global _active_calls
        with _lock:
            _active_calls += 1
        try:
            return method(self, *args, **kwargs)
        except Exception as failure:
            raised = _recorded_behind(failure)
            if raised is None:
                raise
            raise raised.error from raised.cause
        finally:
            with _lock:
                _active_calls -= 1
                if not _active_calls:
                    _raised.clear()  # the tracebacks hold frames: keep them no longer

    setattr(call, _WRAPPED_MARK, True)
    return call


def _recorded_behind(failure: BaseException) -> _Raised | None:
    """Find the recorded exception ``failure`` is, or the one whose text its message holds."""
    with _lock:
        recorded = list(_raised)
    for raised in reversed(recorded):
        if raised.error is failure:
            return raised
    # TensorFlow quotes the formatted exception with its line breaks doubled.
    message = _collapsed(str(failure))
    for raised in reversed(recorded):
        if raised.text and raised.text in message:
            return raised
    return None


def _collapsed(text: str) -> str:
    """``text`` with every run of white space a single space."""
    return " ".join(text.split())

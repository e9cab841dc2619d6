"""Reads of the iterator during ``model.fit`` never change what ``fit`` trains on.

``fit(shuffle=True)`` asks for every epoch's batches in a random order, which the iterator
serves in its own (already shuffled) order; a callback or another thread reading a batch
meanwhile must get the batch it named and leave the epoch whole. The batches here carry the
ids of their samples, and a layer records what the model is fed, so each epoch can be
checked against the iterator's plan, an independent expectation: every batch of the plan
exactly once.

This module must not import Keras or TensorFlow at module level: worker processes import it
to find the batch function.
"""

from __future__ import annotations

import collections
import functools
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from support import deadline, write_dataset

from parallel_audio import ParallelAudioDataGenerator

CLASSES = ["low", "high"]
EPOCHS = 3
BATCH_SIZE = 3


def sample_id_batch(batch_index, filenames, classes, params, *, ids):
    """A batch whose x is each sample's id (its position in the iterator's file list)."""
    x = np.asarray([[ids[name]] for name in filenames], np.float32)
    return batch_index, (x, np.asarray(classes, np.float32))


def fit_with_peeks(directory: str, *, cores: int) -> None:
    """Fit with a callback reading ``train[0]`` after every batch; check every epoch.

    Runs under whichever Keras backend is loaded (the JAX test calls it in a subprocess).
    """
    import keras

    listing = ParallelAudioDataGenerator(cores=0).flow_from_directory(
        directory, classes=CLASSES, batch_size=BATCH_SIZE
    )
    ids = {name: i for i, name in enumerate(listing.filenames)}
    generator = ParallelAudioDataGenerator(
        cores=cores,
        max_batches_pending=2,
        get_batch_function=functools.partial(sample_id_batch, ids=ids),
    )
    train = generator.flow_from_directory(
        directory, classes=CLASSES, class_mode="sparse", batch_size=BATCH_SIZE, seed=4
    )
    assert train.samples % BATCH_SIZE != 0  # a short last batch too

    fed: dict[int, list[tuple[int, ...]]] = collections.defaultdict(list)
    peeks: dict[int, list[tuple[int, ...]]] = collections.defaultdict(list)
    state = {"epoch": None}

    def as_ids(x) -> tuple[int, ...]:
        return tuple(int(v) for v in np.asarray(x).reshape(-1))

    class Recorder(keras.layers.Layer):
        """Passes x through; records it while a fit epoch runs (the model runs eagerly)."""

        def call(self, x):
            if state["epoch"] is not None:
                fed[state["epoch"]].append(as_ids(keras.ops.convert_to_numpy(x)))
            return x

    class Peek(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            state["epoch"] = epoch

        def on_train_batch_end(self, batch, logs=None):
            peeks[state["epoch"]].append(as_ids(train[0][0]))

        def on_epoch_end(self, epoch, logs=None):
            state["epoch"] = None

    model = keras.Sequential([keras.Input((1,)), Recorder(), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
    with train:
        model.fit(train, epochs=EPOCHS, verbose=0, callbacks=[Peek()])
        # Keras may end an epoch of the iterator before the first (after building the
        # model): fit's epochs are the iterator's last EPOCHS.
        first = train.epoch - EPOCHS
        assert first >= 0, train.epoch
        for fit_epoch in range(EPOCHS):
            epoch = first + fit_epoch
            plan = [
                tuple(int(i) for i in train.batch_sample_ids(b, epoch)) for b in range(len(train))
            ]
            assert collections.Counter(fed[fit_epoch]) == collections.Counter(plan), (
                f"epoch {fit_epoch}: fit saw {fed[fit_epoch]}, the plan is {plan}"
            )
            assert len(peeks[fit_epoch]) == len(train)
            assert set(peeks[fit_epoch]) == {plan[0]}, (fit_epoch, peeks[fit_epoch], plan[0])
        # Consecutive epochs are different permutations, so the check above has teeth.
        assert fed[0] != fed[1]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    # 8 files per class: 16 samples, five full batches of 3 and one of 1.
    root = tmp_path_factory.mktemp("fit_dataset")
    return write_dataset(root, np.random.default_rng(3), speakers=2, per_speaker=4)


@pytest.mark.parametrize("cores", [2, 0], ids=["processes", "cores0"])
def test_a_callback_reading_a_batch_during_fit_leaves_every_epoch_whole(dataset, cores):
    with deadline(120):
        fit_with_peeks(str(dataset), cores=cores)


@pytest.mark.slow
def test_a_callback_reading_a_batch_during_fit_under_the_jax_backend(dataset):
    pytest.importorskip("jax")
    code = (
        "import test_reads_during_fit as t\n"
        "import keras\n"
        "assert keras.backend.backend() == 'jax'\n"
        f"t.fit_with_peeks({str(dataset)!r}, cores=2)\n"
    )
    tests = str(Path(__file__).resolve().parent)
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": tests}
    subprocess.run([sys.executable, "-c", code], check=True, cwd=tests, env=env, timeout=240)

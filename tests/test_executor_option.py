"""The executor option of flow_from_directory, and executor_stats() of the local pool."""

from __future__ import annotations

import socket

import numpy as np
import pytest
from support import write_dataset

from parallel_audio import ParallelAudioDataGenerator


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("dataset"), np.random.default_rng(3))


def test_flow_rejects_an_executor_that_is_not_one(dataset):
    with pytest.raises(TypeError, match=r"executor must be an Executor .* got 'ray' \(str\)"):
        ParallelAudioDataGenerator(cores=0).flow_from_directory(
            dataset, classes=["low", "high"], executor="ray"
        )


@pytest.mark.parametrize("cores, executor", [(0, "caller's thread"), (1, "processes")])
def test_executor_stats_of_the_local_pool_count_the_batches_received(dataset, cores, executor):
    train = ParallelAudioDataGenerator(cores=cores).flow_from_directory(
        dataset, classes=["low", "high"], batch_size=8
    )
    with train:
        for i in range(3):
            train.batch(i)
        stats = train.executor_stats()
    assert stats == {
        "executor": executor,
        "workers": cores,
        "batches_per_node": {socket.gethostname(): 3},
    }

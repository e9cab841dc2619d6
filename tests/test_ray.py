"""Ray: to_ray_dataset and the Ray executor, on a two-node cluster of one CPU each.

The cluster (``ray.cluster_utils.Cluster``: two raylets in this machine, one CPU each) starts
once for the module. Skipped when Ray is not installed.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from support import deadline, write_dataset

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

from parallel_audio import ParallelAudioDataGenerator  # noqa: E402

pytestmark = pytest.mark.ray

CLASSES = ["low", "high"]  # 48 samples in the dataset below


@pytest.fixture(scope="module")
def cluster():
    """Two Ray nodes of one CPU each, this process connected as the driver.

    Usage statistics off: tests send nothing anywhere, and Ray Data then starts no poller
    thread that would outlive the cluster.
    """
    if ray.is_initialized():
        ray.shutdown()
    usage_stats = os.environ.get("RAY_USAGE_STATS_ENABLED")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    nodes = cluster_utils.Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "include_dashboard": False},
    )
    try:
        nodes.add_node(num_cpus=1)
        nodes.wait_for_nodes()
        ray.init(address=nodes.address, log_to_driver=False)
        yield nodes
    finally:
        ray.shutdown()
        nodes.shutdown()
        if usage_stats is None:
            del os.environ["RAY_USAGE_STATS_ENABLED"]
        else:
            os.environ["RAY_USAGE_STATS_ENABLED"] = usage_stats


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("dataset"), np.random.default_rng(21))


def augmenting(**kwargs):
    """A generator that draws something random for every sample (offset, speed, noise)."""
    return ParallelAudioDataGenerator(
        speed_range=(0.9, 1.1),
        loudness_range=(0.5, 1.5),
        noise_colors="all",
        noise_color_range=(0.05, 0.2),
        bg_noise_dir="_background_noise_",
        bg_noise_range=(0.05, 0.2),
        offset_range=(0.0, 1.0),
        **kwargs,
    )


def test_the_cluster_has_two_nodes_of_one_cpu(cluster):
    alive = [node for node in ray.nodes() if node["Alive"]]
    assert len(alive) == 2
    assert [node["Resources"]["CPU"] for node in alive] == [1.0, 1.0]


@pytest.mark.parametrize("class_mode", ["categorical", None])
def test_to_ray_dataset_batches_equal_the_iterators_batches(cluster, dataset, class_mode):
    pytest.importorskip("ray.data")  # the ray-data extra (pyarrow)
    train = augmenting(cores=0).flow_from_directory(
        dataset, classes=CLASSES, batch_size=10, seed=4, class_mode=class_mode
    )
    with deadline(120):
        rows = train.to_ray_dataset(epoch=1)
        batches = list(rows.iter_batches(batch_size=10, batch_format="numpy"))
    assert len(batches) == len(train) == 5
    assert train.epoch == 0  # building a dataset of epoch 1 moves nothing
    for i, batch in enumerate(batches):
        expected = train.batch(i, epoch=1)
        if class_mode is None:
            assert set(batch) == {"x"}
            assert np.array_equal(batch["x"], expected)
        else:
            assert set(batch) == {"x", "y"}
            assert np.array_equal(batch["x"], expected[0])
            assert np.array_equal(batch["y"], expected[1])

"""Ray: to_ray_dataset and the Ray executor, on a two-node cluster of one CPU each.

The cluster (``ray.cluster_utils.Cluster``: two raylets in this machine, one CPU each) starts
once for the module. Skipped when Ray is not installed.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from support import assert_gone, augmenting, deadline, write_dataset

ray = pytest.importorskip("ray")
cluster_utils = pytest.importorskip("ray.cluster_utils")

from parallel_audio import ParallelAudioDataGenerator, SettingsError, WorkerError  # noqa: E402
from parallel_audio.ray import RayExecutor  # noqa: E402

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


# --- RayExecutor -----------------------------------------------------------------------------


def two_actors(**kwargs):
    return RayExecutor(num_actors=2, reserve_cpus=0, **kwargs)


def test_ray_executor_gives_the_cores_0_batches_for_two_epochs_on_both_nodes(cluster, dataset):
    flow = dict(classes=CLASSES, batch_size=8, seed=13)
    inline = augmenting(cores=0).flow_from_directory(dataset, **flow)
    with deadline(120):
        remote = augmenting(cores=0).flow_from_directory(dataset, executor=two_actors(), **flow)
        try:
            for epoch in (0, 1):
                for i, (x, y) in enumerate(remote):
                    expected_x, expected_y = inline.batch(i, epoch)
                    assert np.array_equal(x, expected_x) and np.array_equal(y, expected_y)
                    assert x.flags.writeable and y.flags.writeable  # as local workers' batches
            stats = remote.executor_stats()
        finally:
            remote.close()
    nodes = {node["NodeID"] for node in ray.nodes() if node["Alive"]}
    assert stats["executor"] == "ray" and stats["workers"] == 2 and stats["replaced"] == 0
    assert set(stats["batches_per_node"]) == nodes  # one actor on each node
    assert sum(stats["batches_per_node"].values()) >= 2 * len(remote)


def test_a_killed_actor_is_replaced_with_a_warning_and_identical_batches(cluster, dataset):
    flow = dict(classes=CLASSES, batch_size=8, seed=17)
    inline = augmenting(cores=0).flow_from_directory(dataset, **flow)
    with deadline(120):
        remote = augmenting(cores=0).flow_from_directory(dataset, executor=two_actors(), **flow)
        try:
            victim = remote.worker_pids[0]
            batches = [remote.batch(0)]
            os.kill(victim, signal.SIGKILL)
            with pytest.warns(RuntimeWarning, match=r"Ray actor actor-\d .*died") as caught:
                batches += [remote.batch(i) for i in range(1, len(remote))]
            stats = remote.executor_stats()
        finally:
            remote.close()
    assert "started Ray actor actor-2 in its place" in str(caught[0].message)
    assert victim not in remote.worker_pids
    assert stats["replaced"] == 1
    for i, (x, y) in enumerate(batches):
        expected_x, expected_y = inline.batch(i)
        assert np.array_equal(x, expected_x) and np.array_equal(y, expected_y)


def test_a_failing_callback_raises_worker_error_with_the_actors_traceback(cluster, dataset):
    bad = "spk02_nohash_1"

    def preprocessing(params, x, batch_filenames, batch_index):
        if bad in str(batch_filenames[batch_index]):
            raise ValueError("this clip is not wanted")
        return x

    gen = ParallelAudioDataGenerator(cores=0, preprocessing_function=preprocessing)
    train = gen.flow_from_directory(
        dataset, classes=CLASSES, batch_size=48, shuffle=False, executor=two_actors()
    )
    try:
        with deadline(120), pytest.raises(WorkerError) as caught:
            train.batch(0)
    finally:
        train.close()
    message = str(caught.value)
    assert "failed in Ray actor" in message and "ValueError('this clip is not wanted')" in message
    assert f"while processing low/{bad}" in message  # the file, from the actor's traceback
    assert ", in preprocessing\nValueError: this clip is not wanted" in message, message
    assert isinstance(caught.value.__cause__, ValueError)


def test_closing_the_iterator_stops_its_actors(cluster, dataset):
    with deadline(120):
        train = ParallelAudioDataGenerator(cores=0).flow_from_directory(
            dataset, classes=CLASSES, batch_size=8, executor=two_actors()
        )
        pids = train.worker_pids
        train.batch(0)
        train.close()
    assert len(pids) == 2
    assert_gone(pids, timeout=20)


def test_actors_the_cluster_cannot_place_raise_instead_of_hanging(cluster, dataset, monkeypatch):
    from parallel_audio.ray import executor

    monkeypatch.setattr(executor, "STARTUP_TIMEOUT_S", 3.0)
    with deadline(60), pytest.raises(WorkerError, match="did not start within 3 s.*CPU"):
        ParallelAudioDataGenerator(cores=0).flow_from_directory(
            dataset, classes=CLASSES, batch_size=8, executor=RayExecutor(num_cpus_per_actor=3)
        )


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        ({"num_actors": 0}, SettingsError, "num_actors must be an int >= 1 or None, got 0"),
        ({"num_actors": 1.5}, TypeError, "num_actors must be an int >= 1 or None"),
        ({"num_cpus_per_actor": 0}, SettingsError, "num_cpus_per_actor must be a number > 0"),
        ({"reserve_cpus": -1}, SettingsError, "reserve_cpus must be a number >= 0"),
        ({"max_batches_pending": 0}, SettingsError, "max_batches_pending must be an int >= 1"),
        ({"runtime_env": "pip"}, TypeError, "runtime_env must be a dict or None, got str"),
        ({"address": 6379}, TypeError, "address must be a str or None, got int"),
    ],
)
def test_ray_executor_rejects_nonsense_before_starting_anything(kwargs, error, message):
    with pytest.raises(error, match=message):
        RayExecutor(**kwargs)


def test_actors_never_import_tensorflow_keras_or_jax(cluster, dataset):
    def modules_loaded(batch_index, filenames, classes, params):
        import sys

        loaded = [name for name in ("tensorflow", "keras", "jax") if name in sys.modules]
        return batch_index, (np.zeros((len(filenames), 1)), np.array(loaded, dtype=object))

    import keras  # noqa: F401  (the training process has it; the actors must not)

    gen = ParallelAudioDataGenerator(cores=0, get_batch_function=modules_loaded)
    train = gen.flow_from_directory(dataset, classes=CLASSES, batch_size=8, executor=two_actors())
    try:
        with deadline(120):
            loaded = [train.batch(i)[1].tolist() for i in range(4)]
        assert len(train.executor_stats()["batches_per_node"]) == 2
    finally:
        train.close()
    assert loaded == [[], [], [], []]


USER_SCRIPT = """
import json
import sys
import tensorflow as tf  # a training script imports TensorFlow first, and has no main guard
import numpy as np
from parallel_audio import ParallelAudioDataGenerator
from parallel_audio.ray import RayExecutor

address, dataset, out = sys.argv[1:4]
gen = ParallelAudioDataGenerator(cores=0, speed_range=(0.9, 1.1), noise_colors="all",
                                 noise_color_range=(0.05, 0.2))
train = gen.flow_from_directory(dataset, classes=["low", "high"], batch_size=8, seed=3,
                                executor=RayExecutor(address, num_actors=2, reserve_cpus=0))
model = tf.keras.Sequential([tf.keras.layers.Flatten(), tf.keras.layers.Dense(2)])
model.compile("sgd", tf.keras.losses.CategoricalCrossentropy(from_logits=True))
model.fit(train, epochs=1, shuffle=True, verbose=0)
np.save(out, np.stack([train.batch(i, epoch=1)[0] for i in range(len(train))]))
print(json.dumps(sorted(train.executor_stats()["batches_per_node"].values())))
train.close()
"""


@pytest.mark.slow
def test_a_training_script_fits_with_the_ray_executor(cluster, dataset, tmp_path):
    script = tmp_path / "train.py"
    script.write_text(USER_SCRIPT)
    out = tmp_path / "epoch1.npy"
    command = [sys.executable, str(script), cluster.address, str(dataset), str(out)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    inline = ParallelAudioDataGenerator(
        cores=0, speed_range=(0.9, 1.1), noise_colors="all", noise_color_range=(0.05, 0.2)
    ).flow_from_directory(dataset, classes=CLASSES, batch_size=8, seed=3)
    expected = np.stack([inline.batch(i, epoch=1)[0] for i in range(len(inline))])
    assert np.array_equal(np.load(out), expected)
    per_node = json.loads(done.stdout.strip().splitlines()[-1])
    assert len(per_node) == 2 and sum(per_node) >= 2 * len(inline)


def test_a_shard_on_ray_actors_computes_its_rows_of_the_global_batches(cluster, dataset):
    flow = dict(classes=CLASSES, batch_size=8, seed=23)
    inline = augmenting(cores=0).flow_from_directory(dataset, **flow)
    source = augmenting(cores=0).flow_from_directory(dataset, executor=two_actors(), **flow)
    with deadline(120):
        source.close()  # its actors hold the cluster's two CPUs; the shard starts its own
        shard = source.shard(1, 2)
        try:
            rows = [shard.batch(i) for i in range(3)]
            assert shard.executor_stats()["executor"] == "ray"
        finally:
            shard.close()
    for i, (x, y) in enumerate(rows):
        expected_x, expected_y = inline.batch(i)
        assert np.array_equal(x, expected_x[4:]) and np.array_equal(y, expected_y[4:])

"""iterator.shard(index, count): each host's rows of the same global batches."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from support import RATE, augmenting, deadline, write_dataset

from parallel_audio import ParallelAudioDataGenerator, SettingsError
from parallel_audio.epoch_plan import EpochPlan
from parallel_audio.sampling import resolve_sampling

CLASSES = ["low", "high"]  # 48 samples in the training dataset below


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("dataset"), np.random.default_rng(21))


@pytest.mark.parametrize(
    "samples, batch_size, last_batch, count",
    [(48, 8, "short", 4), (50, 8, "short", 2), (50, 8, "repeat", 4), (5, 4, "repeat", 2)],
)
def test_the_plans_of_the_shards_partition_every_batch_and_its_streams(
    samples, batch_size, last_batch, count
):
    plan = dict(samples=samples, batch_size=batch_size, seed=8, shuffle=True, last_batch=last_batch)
    whole = EpochPlan(**plan)
    shards = [EpochPlan(**plan, shard_index=p, num_shards=count) for p in range(count)]
    for epoch in (0, 3):
        for b in range(len(whole)):
            for method in ("batch_sample_ids", "stream_ids"):
                parts = [getattr(shard, method)(epoch, b) for shard in shards]
                assert np.array_equal(np.concatenate(parts), getattr(whole, method)(epoch, b))
    assert all(len(shard) == len(whole) for shard in shards)
    assert sum(shard.sample_count for shard in shards) == whole.sample_count
    with pytest.raises(ValueError, match=r"shard_index must be in \[0, 2\), got 2"):
        EpochPlan(**plan, shard_index=2, num_shards=2)


@pytest.mark.parametrize("sampling", ["balanced", {"a": 3.0, "b": 1.0}])
@pytest.mark.parametrize("last_batch", ["short", "repeat"])
def test_the_shards_of_a_sampled_plan_partition_its_batches_and_streams(sampling, last_batch):
    # Sampling draws an epoch of another length, some samples twice: the shards still split
    # the same batches, and a repeated sample keeps the stream of its occurrence in the batch.
    class_ids = [0] * 7 + [1] * 3
    resolved = resolve_sampling(sampling, 23, class_ids, ["a", "b"], shuffle=True)
    plan = dict(samples=10, batch_size=6, seed=4, shuffle=True, last_batch=last_batch)
    whole = EpochPlan(**plan, sampling=resolved)
    shards = [EpochPlan(**plan, sampling=resolved, shard_index=p, num_shards=2) for p in (0, 1)]
    for epoch in (0, 2):
        streams = []
        for b in range(len(whole)):
            for method in ("batch_sample_ids", "stream_ids"):
                parts = [getattr(shard, method)(epoch, b) for shard in shards]
                assert np.array_equal(np.concatenate(parts), getattr(whole, method)(epoch, b))
            streams.extend(whole.stream_ids(epoch, b))
        # No two positions of an epoch share a random stream.
        assert len(set(streams)) == len(streams)


def rows_of(batch, part: slice):
    x, y = batch
    return x[part], y[part]


@pytest.mark.parametrize(
    "count, batch_size, last_batch",
    [(2, 10, "short"), (4, 20, "short"), (2, 10, "repeat"), (3, 9, "repeat")],
)
def test_the_shards_of_a_step_make_the_unsharded_batch_bit_for_bit(
    dataset, count, batch_size, last_batch
):
    flow = dict(classes=CLASSES, batch_size=batch_size, seed=5, last_batch=last_batch)
    whole = augmenting(cores=0).flow_from_directory(dataset, **flow)
    sharded = augmenting(cores=0).flow_from_directory(dataset, **flow)
    shards = [sharded.shard(p, count) for p in range(count)]
    assert whole.samples == 48 and len(whole) == -(-48 // batch_size)
    for epoch in (0, 1):
        for b in range(len(whole)):
            x, y = whole.batch(b, epoch)
            parts = [shard.batch(b, epoch) for shard in shards]
            # Disjoint and complete: concatenated in shard order, the rows are the batch.
            assert np.array_equal(np.concatenate([p[0] for p in parts]), x)
            assert np.array_equal(np.concatenate([p[1] for p in parts]), y)
            sizes = [len(p[0]) for p in parts]
            assert max(sizes) - min(sizes) <= 1 and sum(sizes) == len(x)
            ids = np.concatenate([s.batch_sample_ids(b, epoch) for s in shards])
            assert np.array_equal(ids, whole.batch_sample_ids(b, epoch))
    for shard in shards:
        assert len(shard) == len(whole)
        assert shard.sample_count * count == whole.sample_count


@pytest.mark.parametrize("sampling", ["balanced", {"low": 3.0}])
def test_the_shards_of_a_sampled_iterator_make_its_batches(dataset, sampling):
    flow = dict(classes=CLASSES, batch_size=8, seed=6, sampling=sampling, samples_per_epoch=40)
    whole = augmenting(cores=0).flow_from_directory(dataset, **flow)
    shards = [whole.shard(p, 2) for p in range(2)]
    assert all(len(shard) == len(whole) == 5 for shard in shards)
    for epoch in (0, 1):
        for b in range(len(whole)):
            x, y = whole.batch(b, epoch)
            parts = [shard.batch(b, epoch) for shard in shards]
            assert np.array_equal(np.concatenate([p[0] for p in parts]), x)
            assert np.array_equal(np.concatenate([p[1] for p in parts]), y)


def test_a_shard_computed_by_worker_processes_equals_the_same_rows_computed_inline(dataset):
    flow = dict(classes=CLASSES, batch_size=8, seed=11)
    whole = augmenting(cores=0).flow_from_directory(dataset, **flow)
    source = augmenting(cores=1).flow_from_directory(dataset, **flow)
    with deadline(120):
        source.close()  # only the shard computes
        shard = source.shard(1, 2)
        try:
            assert shard.worker_pids, "the shard should compute in its own worker process"
            for epoch in (0, 1):
                for b, batch in enumerate(shard):
                    assert shard.epoch == epoch
                    expected = rows_of(whole.batch(b, epoch), slice(4, 8))
                    assert all(np.array_equal(a, e) for a, e in zip(batch, expected, strict=True))
        finally:
            shard.close()


def test_a_shard_starts_at_its_iterators_epoch(dataset):
    whole = augmenting(cores=0).flow_from_directory(dataset, classes=CLASSES, batch_size=8, seed=3)
    whole.on_epoch_end()
    shard = whole.shard(0, 4)
    assert shard.epoch == 1
    assert np.array_equal(shard[0][0], whole[0][0][:2])


@pytest.mark.parametrize(
    "index, count, error, message",
    [
        (0, 3, SettingsError, "count must divide the batch size: batch_size=8"),
        (2, 2, SettingsError, r"index must be an int in \[0, 2\)"),
        (-1, 2, SettingsError, r"index must be an int in \[0, 2\)"),
        (0, 0, SettingsError, "count must be an int >= 1, got 0"),
        (0, 2.0, TypeError, r"count must be an int >= 1, got 2.0 \(float\)"),
        ("0", 2, TypeError, r"index must be an int in \[0, 2\).*'0' \(str\)"),
    ],
)
def test_shard_rejects_what_cannot_split_a_batch(dataset, index, count, error, message):
    train = ParallelAudioDataGenerator(cores=0).flow_from_directory(
        dataset, classes=CLASSES, batch_size=8, seed=1
    )
    with pytest.raises(error, match=message):
        train.shard(index, count)


def test_shard_rejects_a_last_batch_too_small_to_split_and_a_shard_of_a_shard(dataset):
    gen = ParallelAudioDataGenerator(cores=0)
    short = gen.flow_from_directory(dataset, classes=CLASSES, batch_size=14, seed=1)
    assert 48 % 14 == 6  # the last batch holds 6 samples: fewer than 7 shards
    with pytest.raises(SettingsError, match="last batch holds 6 sample.*last_batch='repeat'"):
        short.shard(0, 7)
    repeat = gen.flow_from_directory(
        dataset, classes=CLASSES, batch_size=14, seed=1, last_batch="repeat"
    )
    assert len(repeat.shard(6, 7)[len(repeat) - 1][0]) == 2
    with pytest.raises(SettingsError, match="already shard 1 of 2"):
        short.shard(1, 2).shard(0, 2)


def test_as_tf_dataset_of_a_shard_turns_auto_sharding_off(dataset):
    tf = pytest.importorskip("tensorflow")
    train = ParallelAudioDataGenerator(cores=0).flow_from_directory(
        dataset, classes=CLASSES, batch_size=8, seed=1
    )
    policy = tf.data.experimental.AutoShardPolicy
    whole = train.as_tf_dataset()
    part = train.shard(1, 2).as_tf_dataset()
    assert whole.options().experimental_distribute.auto_shard_policy == policy.AUTO
    assert part.options().experimental_distribute.auto_shard_policy == policy.OFF
    (x, y), *_ = part.take(1).as_numpy_iterator()
    expected_x, expected_y = train.batch(0)
    assert np.array_equal(x, expected_x[4:]) and np.array_equal(y, expected_y[4:])


# --- Two training processes on this machine ------------------------------------------------------

MULTI_WORKER_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    from parallel_audio import ParallelAudioDataGenerator

    dataset, out = sys.argv[1], sys.argv[2]
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    gen = ParallelAudioDataGenerator(cores=1, frontend_enabled=False, sample_shape=(16000,),
                                     dtype="float32")
    train = gen.flow_from_directory(dataset, classes=["low", "high"], batch_size=8, seed=9)
    pipelines = []

    def shard_for(context):
        pipelines.append((context.input_pipeline_id, context.num_input_pipelines))
        return train.shard(context.input_pipeline_id, context.num_input_pipelines).as_tf_dataset()

    inputs = strategy.distribute_datasets_from_function(shard_for)
    steps = []
    for x, y in inputs:
        (local_x,) = strategy.experimental_local_results(x)
        steps.append(local_x.numpy())
    # Every worker takes part in one collective: the steps are in lockstep.
    total = strategy.reduce("SUM", strategy.run(lambda: tf.constant(1.0)), axis=None)
    np.save(out, np.stack(steps))
    print(json.dumps({"pipelines": pipelines, "workers": float(total)}))
    """
)


def free_ports(count):
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.slow
def test_two_multi_worker_mirrored_processes_each_compute_their_half_of_every_batch(
    dataset, tmp_path
):
    pytest.importorskip("tensorflow")
    # The audio itself, unaugmented: each row tells which file it came from.
    unsharded = ParallelAudioDataGenerator(
        cores=0, frontend_enabled=False, sample_shape=(RATE,), dtype="float32"
    ).flow_from_directory(dataset, classes=CLASSES, batch_size=8, seed=9)
    script = tmp_path / "train.py"
    script.write_text(MULTI_WORKER_SCRIPT)
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
    workers = []
    for rank in range(2):
        config = {"cluster": cluster, "task": {"type": "worker", "index": rank}}
        env = {**os.environ, "TF_CONFIG": json.dumps(config), "CUDA_VISIBLE_DEVICES": "-1"}
        command = [sys.executable, str(script), str(dataset), str(tmp_path / f"rows{rank}.npy")]
        workers.append(
            subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
        )
    try:
        outputs = [worker.communicate(timeout=240) for worker in workers]
    finally:
        for worker in workers:
            worker.kill()
    for worker, (_, stderr) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, stderr[-3000:]
    reports = [json.loads(stdout.strip().splitlines()[-1]) for stdout, _ in outputs]
    assert [r["pipelines"] for r in reports] == [[[0, 2]], [[1, 2]]]
    assert all(r["workers"] == 2.0 for r in reports)
    rows = [np.load(tmp_path / f"rows{rank}.npy") for rank in range(2)]
    assert all(r.shape == (len(unsharded), 4, RATE) for r in rows)
    for step in range(len(unsharded)):
        x, _ = unsharded.batch(step)
        assert len({row.tobytes() for row in x}) == 8  # eight different files
        assert np.array_equal(np.concatenate([rows[0][step], rows[1][step]]), x)

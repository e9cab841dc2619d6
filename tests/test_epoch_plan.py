"""The epoch plan: which samples each batch holds, a pure function of (seed, epoch, batch)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from parallel_audio.epoch_plan import BatchTasks, EpochPlan


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize(("samples", "batch_size"), [(1, 1), (7, 3), (32, 8), (33, 8), (5, 40)])
def test_a_short_plan_visits_every_sample_once_per_epoch(samples, batch_size, shuffle):
    plan = EpochPlan(samples=samples, batch_size=batch_size, seed=3, shuffle=shuffle)
    assert len(plan) == -(-samples // batch_size)
    for epoch in range(3):
        ids = np.concatenate([plan.batch_sample_ids(epoch, b) for b in range(len(plan))])
        assert sorted(ids.tolist()) == list(range(samples))
        assert ids.tolist() == plan.order(epoch).tolist()
        streams = np.concatenate([plan.stream_ids(epoch, b) for b in range(len(plan))])
        assert streams.tolist() == ids.tolist()  # nothing repeated: each sample its own stream
    assert plan.sample_count == samples


def test_unshuffled_order_is_the_index_order_and_shuffled_orders_differ_by_epoch():
    assert EpochPlan(samples=10, batch_size=4, seed=1).order(5).tolist() == list(range(10))
    plan = EpochPlan(samples=1000, batch_size=4, seed=1, shuffle=True)
    orders = {tuple(plan.order(epoch)) for epoch in range(4)}
    assert len(orders) == 4
    other_seed = EpochPlan(samples=1000, batch_size=4, seed=2, shuffle=True)
    assert tuple(other_seed.order(0)) not in orders


@pytest.mark.parametrize(("samples", "batch_size"), [(7, 3), (5, 40), (1, 4), (33, 8)])
def test_repeat_fills_the_last_batch_from_the_start_of_the_order_with_fresh_streams(
    samples, batch_size
):
    plan = EpochPlan(
        samples=samples, batch_size=batch_size, seed=9, shuffle=True, last_batch="repeat"
    )
    assert plan.sample_count == len(plan) * batch_size
    for epoch in range(2):
        order = plan.order(epoch).tolist()
        ids = np.concatenate([plan.batch_sample_ids(epoch, b) for b in range(len(plan))])
        streams = np.concatenate([plan.stream_ids(epoch, b) for b in range(len(plan))])
        # The epoch's order, then its start again, as often as needed.
        expected = [order[p % samples] for p in range(len(plan) * batch_size)]
        assert ids.tolist() == expected
        # The k-th repeat of sample i draws from stream i + k * samples: all distinct, and
        # the first visit keeps the sample's own stream.
        assert len(set(streams.tolist())) == streams.size
        assert (streams % samples).tolist() == ids.tolist()
        assert streams[:samples].tolist() == order


def test_a_plan_pickles_and_answers_the_same_in_any_order_of_requests():
    plan = EpochPlan(samples=50, batch_size=8, seed=11, shuffle=True, last_batch="repeat")
    forward = [plan.stream_ids(e, b).tolist() for e in range(4) for b in range(len(plan))]
    copy = pickle.loads(pickle.dumps(plan))
    assert copy == plan
    backward = [
        copy.stream_ids(e, b).tolist()
        for e in reversed(range(4))
        for b in reversed(range(len(plan)))
    ]
    assert backward[::-1] == forward


def test_batch_tasks_carry_the_files_and_classes_of_the_planned_samples():
    files = [f"c{i % 3}/f{i}.wav" for i in range(10)] + [None]
    classes = [i % 3 for i in range(10)] + [3]
    plan = EpochPlan(samples=11, batch_size=4, seed=0, shuffle=True, last_batch="repeat")
    tasks = pickle.loads(pickle.dumps(BatchTasks(plan, files, classes)))
    for b in range(len(plan)):
        task = tasks(2, b)
        ids = plan.batch_sample_ids(2, b).tolist()
        assert (task.epoch, task.batch_index) == (2, b)
        assert task.filenames == [files[i] for i in ids]
        assert task.class_ids == [classes[i] for i in ids]
        assert task.sample_ids == plan.stream_ids(2, b).tolist()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"samples": 0, "batch_size": 1}, "at least one sample"),
        ({"samples": 3, "batch_size": 0}, "batch_size"),
        ({"samples": 3, "batch_size": 1, "last_batch": "drop"}, "last_batch"),
    ],
)
def test_a_plan_refuses_what_it_cannot_plan(arguments, message):
    with pytest.raises(ValueError, match=message):
        EpochPlan(seed=0, **arguments)


def test_batches_out_of_range_and_mismatched_tasks_are_refused():
    plan = EpochPlan(samples=5, batch_size=2, seed=0)
    with pytest.raises(IndexError, match="3 batches per epoch"):
        plan.positions(3)
    with pytest.raises(ValueError, match="5 samples but 4 files"):
        BatchTasks(plan, ["a"] * 4, [0] * 5)

"""An epoch of batches as a ``ray.data.Dataset``, for Ray Data and Ray Train users.

The plan stays ours: the dataset's input is the epoch's batch numbers, one block each, and
an actor class in ``map_batches`` computes each batch from the plan's rows (its files,
classes and sample ids) with the iterator's ``compute``, received once per actor, as a
local worker does. Order is
preserved, so the rows come out in plan order and ``iter_batches(batch_size=...)`` with the
iterator's rows per batch gives back exactly ``iterator.batch(i)``. Ray Data's own seeds
play no part.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["COLUMNS", "PlanBatches", "plan_dataset"]

#: The columns of a batch, in the order of the iterator's (x, y, sample_weight) tuple.
COLUMNS = ("x", "y", "sample_weight")


def batch_columns(batch: Any) -> dict[str, np.ndarray]:
    """Name the arrays of one of the iterator's batches: ``x``, ``y``, ``sample_weight``."""
    arrays = batch if isinstance(batch, tuple) else (batch,)
    return {name: np.asarray(array) for name, array in zip(COLUMNS, arrays, strict=False)}


class PlanBatches:
    """The ``map_batches`` actor class: batch numbers in, the batches' rows out.

    Parameters
    ----------
    compute : bytes
        The iterator's ``compute(task)``, pickled for workers.
    tasks : sequence of BatchTask
        The epoch's plan, one task per batch, indexed by batch number.
    """

    def __init__(self, compute: bytes, tasks: Sequence[Any]) -> None:
        self._compute = pickle.loads(compute)
        self._tasks = list(tasks)

    def __call__(self, rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Compute the batches whose numbers are in ``rows["id"]``; return their rows."""
        batches = [batch_columns(self._compute(self._tasks[int(i)])) for i in rows["id"]]
        return {name: np.concatenate([b[name] for b in batches]) for name in batches[0]}


def plan_dataset(compute: bytes, tasks: Sequence[Any], *, max_actors: int | None) -> Any:
    """Build the ``ray.data.Dataset`` of an epoch's batches, in plan order.

    Parameters
    ----------
    compute : bytes
        The iterator's ``compute(task)``, pickled for workers.
    tasks : sequence of BatchTask
        One task per batch, in batch order.
    max_actors : int, optional
        At most this many actors compute batches (one CPU each); None lets Ray Data scale
        the pool from one actor up to the cluster's CPUs.

    Returns
    -------
    ray.data.Dataset
        Rows are samples, with columns ``x``, ``y`` (unless the class mode is None) and
        ``sample_weight`` (when the iterator's batches carry one).
    """
    import ray
    import ray.data

    if not ray.is_initialized():
        ray.init()  # a local Ray, or the cluster RAY_ADDRESS names
    if max_actors is None:
        max_actors = max(1, int(ray.cluster_resources().get("CPU", 1)))
    numbers = ray.data.range(len(tasks), override_num_blocks=len(tasks))
    dataset = numbers.map_batches(
        PlanBatches,
        fn_constructor_args=(compute, list(tasks)),
        batch_size=1,  # one batch task per call: a block holds one batch number
        batch_format="numpy",
        num_cpus=1,
        concurrency=(1, max(1, min(max_actors, len(tasks)))),
    )
    # Ray Data may finish blocks out of order; the plan's order is the point.
    dataset.context.execution_options.preserve_order = True
    return dataset

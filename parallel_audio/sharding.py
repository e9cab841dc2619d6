"""Which rows of each global batch a shard serves, for data parallelism over several hosts.

A shard never changes what a batch is: global batch ``b`` of an epoch holds the same samples,
augmented the same way, whatever the number of shards, since every sample draws its
randomness from ``(seed, epoch, sample id)``. Shard ``p`` of ``count`` serves rows
``[p * n // count, (p + 1) * n // count)`` of a batch of ``n`` rows, so the shards of one step
are disjoint and together make the global batch, in its order.
"""

from __future__ import annotations

from typing import Any

from parallel_audio.errors import SettingsError
from parallel_audio.validation import check_number

__all__ = ["check_shard", "shard_rows"]


def check_shard(index: Any, count: Any, *, batch_size: int, last_batch_rows: int) -> None:
    """Check a shard's index and count against the batches it would split.

    Parameters
    ----------
    index : int
        The shard, in ``[0, count)``.
    count : int
        The number of shards, >= 1; it must divide ``batch_size``.
    batch_size : int
        Rows of a full global batch.
    last_batch_rows : int
        Rows of the epoch's last global batch (fewer than ``batch_size`` with
        ``last_batch="short"``); every shard must get at least one of them.

    Raises
    ------
    TypeError
        If ``index`` or ``count`` is not an int.
    SettingsError
        If ``count < 1``, ``index`` is outside ``[0, count)``, ``count`` does not divide
        ``batch_size``, or the last batch has fewer rows than there are shards.
    """
    check_number("count", count, "an int >= 1", integer=True, minimum=1)
    check_number(
        "index",
        index,
        f"an int in [0, {count}) (count={count})",
        integer=True,
        minimum=0,
        maximum=count,
        below_maximum=True,
    )
    if batch_size % count != 0:
        raise SettingsError(
            f"count must divide the batch size: batch_size={batch_size} does not split into "
            f"{count} shards of equal size; choose a batch_size that is a multiple of {count}"
        )
    if last_batch_rows < count:
        raise SettingsError(
            f"the epoch's last batch holds {last_batch_rows} sample(s), fewer than the {count} "
            "shards, so a shard would get an empty batch; use last_batch='repeat' (every batch "
            "full) or a batch_size that divides the number of samples"
        )


def shard_rows(num_rows: int, index: int, count: int) -> slice:
    """Return the rows of a batch of ``num_rows`` that shard ``index`` of ``count`` serves.

    Parameters
    ----------
    num_rows : int
        Rows of the global batch.
    index, count : int
        The shard and the number of shards (checked by :func:`check_shard`).

    Returns
    -------
    slice
        ``slice(index * num_rows // count, (index + 1) * num_rows // count)``: equal parts
        when ``count`` divides ``num_rows``, parts one row apart in size otherwise.

    Examples
    --------
    >>> shard_rows(8, 1, 4)
    slice(2, 4, None)
    """
    return slice(index * num_rows // count, (index + 1) * num_rows // count)

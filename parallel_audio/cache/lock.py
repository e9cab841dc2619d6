"""The lock one cache folder is built under, so that two processes never write it at once."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator

import filelock

_logger = logging.getLogger(__name__)

#: How often a process waiting for another's build says that it still waits, in seconds.
REPORT_INTERVAL = 10.0
LOCK_NAME = "lock"


@contextlib.contextmanager
def building_lock(folder: str, *, report_interval: float = REPORT_INTERVAL) -> Iterator[None]:
    """Hold the cache folder's lock, waiting for another process's build to end.

    The lock is an operating-system lock on ``folder/lock`` (``filelock``): a process that
    dies, killed or not, releases it. While it waits, a warning says so every
    ``report_interval`` seconds, naming the folder and the time waited.

    Parameters
    ----------
    folder : str
        The cache folder.
    report_interval : float
        Seconds between the messages.
    """
    lock = filelock.FileLock(os.path.join(folder, LOCK_NAME))
    started = time.monotonic()
    while True:
        try:
            lock.acquire(timeout=report_interval)
            break
        except filelock.Timeout:
            _logger.warning(
                "waiting for another process building the cache in %s (%.0f s so far)",
                folder,
                time.monotonic() - started,
            )
    try:
        yield
    finally:
        lock.release()

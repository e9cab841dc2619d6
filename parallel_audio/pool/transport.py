"""How a result travels from a worker process to its parent: shared memory, or the pipe.

The parent owns a few result slots per worker: anonymous shared memory (memfd) sized by the
largest result seen, which every worker receives by descriptor when it starts, so that no
name in /dev/shm can be left behind. It lends one slot with each task. The worker pickles the
result with its arrays out of band (protocol 5), writes the arrays into the slot and sends
only their layout and the small pickle (:class:`~parallel_audio.pool.messages.SharedResult`).
The parent copies the arrays out and frees the slot at once, so a result the consumer keeps
never pins a slot. A result that does not fit its slot, or has none (before the first result
sized the slots, when shared memory is full, or without memfd), comes through the pipe:
the small pickle, then each array as a raw message received straight into its final memory
(:class:`~parallel_audio.pool.messages.InlineResult`).

``benchmarks/bench_transport.py`` measures the two side by side (``RESULTS.md``).
"""

from __future__ import annotations

import errno
import mmap
import os
import pickle
from collections.abc import Iterable, Sequence
from typing import Any

from parallel_audio.pool.messages import InlineResult, SharedResult, Slot

__all__ = [
    "MAX_SLOT_DESCRIPTORS",
    "ResultSlots",
    "SlotMappings",
    "encode_result",
    "receive_arrays",
]

#: Result slots at most, beyond which results come through the pipes: each worker receives
#: every slot's descriptor when it starts, and a process start passes at most 252.
MAX_SLOT_DESCRIPTORS = 128
#: Alignment of each array in a result slot, in bytes (a cache line).
SLOT_ALIGNMENT = 64


def aligned(size: int) -> int:
    """Return ``size`` rounded up to SLOT_ALIGNMENT."""
    return -(-size // SLOT_ALIGNMENT) * SLOT_ALIGNMENT


def spans(sizes: Iterable[int]) -> list[tuple[int, int]]:
    """Return the (offset, size) of each array in a slot, each offset aligned."""
    result, offset = [], 0
    for size in sizes:
        result.append((offset, size))
        offset += aligned(size)
    return result


# --- The worker's side ---------------------------------------------------------------------


class SlotMappings:
    """A worker's mappings of the parent's result slots, by slot number.

    The worker holds every slot's descriptor from its start and maps a slot the first time
    it is given it; a slot the parent has since grown is mapped again, at its new size.

    Parameters
    ----------
    descriptors : sequence of int
        Every slot's descriptor, by slot number.
    """

    def __init__(self, descriptors: Sequence[int]) -> None:
        self._descriptors = list(descriptors)
        self._maps: dict[int, mmap.mmap] = {}

    def write(self, slot: Slot, raws: list[memoryview]) -> list[tuple[int, int]]:
        """Copy the arrays into the slot; return their (offset, size)."""
        mapping = self._maps.get(slot.number)
        if mapping is None or len(mapping) < slot.size:
            if mapping is not None:
                mapping.close()
            self._maps.pop(slot.number, None)
            mapping = mmap.mmap(self._descriptors[slot.number], slot.size)
            self._maps[slot.number] = mapping
        layout = spans(raw.nbytes for raw in raws)
        for (offset, nbytes), raw in zip(layout, raws, strict=True):
            mapping[offset : offset + nbytes] = raw
        return layout


def encode_result(
    task_id: int, result: Any, slot: Slot | None, mappings: SlotMappings
) -> tuple[SharedResult | InlineResult, list[memoryview]]:
    """Pickle a result for its parent; return the message and the raw arrays to send after it.

    The arrays go to the slot when they fit (then none follow the message), else after the
    message as raw bytes, never through pickle's own copy.

    Raises
    ------
    Exception
        Whatever pickling the result raises.
    """
    buffers: list[pickle.PickleBuffer] = []
    header = pickle.dumps(result, protocol=5, buffer_callback=buffers.append)
    try:
        raws = [buffer.raw() for buffer in buffers]
    except BufferError:  # a buffer that is not contiguous: the whole result in band
        header, raws = pickle.dumps(result, protocol=5), []
    sizes = [raw.nbytes for raw in raws]
    if slot is not None and sum(aligned(size) for size in sizes) <= slot.size:
        try:
            layout = mappings.write(slot, raws)
        except (OSError, ValueError):  # it cannot be mapped: send the result in the pipe
            pass
        else:
            return SharedResult(task_id, header, layout, slot.number), []
    return InlineResult(task_id, header, sizes), raws


# --- The parent's side ---------------------------------------------------------------------


def receive_arrays(
    message: SharedResult | InlineResult, pipe: Any, slots: ResultSlots
) -> list[bytearray]:
    """Return a result's arrays, copied out of its slot or received from the pipe.

    Copied, so that the result owns its memory and the slot can be freed at once.
    """
    if isinstance(message, InlineResult):
        raws = []
        for size in message.sizes:
            raw = bytearray(size)
            pipe.recv_bytes_into(raw)
            raws.append(raw)
        return raws
    view = slots.view(message.slot)
    try:
        return [bytearray(view[offset : offset + size]) for offset, size in message.spans]
    finally:
        view.release()


class ResultSlots:
    """Anonymous shared memory the workers write results into; owned and freed here.

    Each slot is a memfd: memory with no name in any file system, made when the pool starts
    and passed by descriptor to every worker as it starts (``descriptors``). Nothing in
    ``/dev/shm`` can outlive the processes, however they end: the memory goes when the last
    process holding a descriptor or a mapping of it is gone, SIGKILL of them all included.

    Sized by the largest result seen: until one is seen, and for a result larger than the
    slots, results come through the pipes. A slot is grown when it is next taken, never while
    a worker may write to it, and never shrunk, so a worker's mapping is never longer than
    the memory behind it. Space is reserved as a slot grows, so memory that runs out shows
    here as an error (and results keep using the pipes), never as a SIGBUS in a worker
    writing to a page that cannot be backed. Without memfd (not Linux), or with more slots
    than a process start can pass descriptors, results come through the pipes. Not
    thread-safe: its owner serializes the calls.

    Parameters
    ----------
    count : int
        Slots to make.
    """

    def __init__(self, count: int) -> None:
        self.size = 0
        self.descriptors: list[int] = []
        self._maps: list[mmap.mmap | None] = [None] * count
        self._free = list(range(count))
        self._disabled = not hasattr(os, "memfd_create") or count > MAX_SLOT_DESCRIPTORS
        if self._disabled:
            return
        try:
            for number in range(count):
                name = f"parallel_audio-{os.getpid()}-slot-{number}"
                self.descriptors.append(os.memfd_create(name, os.MFD_CLOEXEC))
        except OSError:  # a kernel without memfd, or no descriptors left
            self.close()
            self._disabled = True

    def take(self) -> Slot | None:
        """Take a free slot, or None if there is none."""
        if self.size == 0 or not self._free:
            return None
        number = self._free.pop()
        mapping = self._maps[number]
        if mapping is None or len(mapping) < self.size:
            if not self._grow(number):
                self._free.append(number)
                return None
        return Slot(number, len(self._maps[number]))

    def give_back(self, slot: Slot | None) -> None:
        """Free a taken slot (None: there was none)."""
        if slot is None:
            return
        if self._disabled:
            self._release(slot.number)
        self._free.append(slot.number)

    def view(self, number: int) -> memoryview:
        """Return the memory of a taken slot; valid until it is given back."""
        return memoryview(self._maps[number])

    def fit(self, nbytes: int) -> None:
        """Make slots taken from now on hold a result of ``nbytes``."""
        if not self._disabled and nbytes > self.size:
            page = mmap.PAGESIZE
            self.size = -(-nbytes // page) * page

    def fit_arrays(self, raws: Sequence[bytearray]) -> None:
        """Make slots taken from now on hold a result with these arrays."""
        self.fit(sum(aligned(len(raw)) for raw in raws))

    def _grow(self, number: int) -> bool:
        """Grow a free slot to ``size`` and map it here; False if memory ran out."""
        descriptor = self.descriptors[number]
        mapping = self._maps[number]
        self._maps[number] = None
        if mapping is not None:
            mapping.close()
        try:
            os.ftruncate(descriptor, self.size)
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(descriptor, 0, self.size)
            self._maps[number] = mmap.mmap(descriptor, self.size)
        except OSError as error:
            if error.errno in (errno.ENOSPC, errno.ENOMEM, errno.EFBIG):
                self._give_up()
                return False
            raise
        return True

    def _give_up(self) -> None:
        """Stop using shared memory (it is full): every result comes through the pipes."""
        self._disabled = True
        self.size = 0
        for number in self._free:  # the others go when given back
            self._release(number)

    def _release(self, number: int) -> None:
        """Unmap a slot and free its memory; workers no longer touch it."""
        mapping = self._maps[number]
        self._maps[number] = None
        if mapping is not None:
            mapping.close()
        try:
            os.ftruncate(self.descriptors[number], 0)
        except OSError:
            pass

    def close(self) -> None:
        """Unmap every slot and close the descriptors; the memory goes with the workers'."""
        for number in range(len(self._maps)):
            mapping = self._maps[number]
            self._maps[number] = None
            if mapping is not None:
                try:
                    mapping.close()
                except BufferError:  # still being copied from: unmapped when collected
                    pass
        for descriptor in self.descriptors:
            os.close(descriptor)
        self.descriptors = []

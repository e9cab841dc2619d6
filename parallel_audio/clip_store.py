"""Clips held in memory, shared with worker processes without a copy per worker.

``flow(x)`` puts every clip, once, into one anonymous memory file (a memfd on Linux): one
float32 buffer of the clips one after another, and their offsets. Worker processes map that
file read-only (through ``/proc/<pid>/fd/<n>`` of the training process), so all of them read
the same physical pages; a batch task names clips by number, never carries their samples.
The memory has no name in any file system: nothing is left in ``/dev/shm``, and it is freed
when the iterator closes the file (or its process ends, however it ends). Without memfd (not
Linux) the buffer is a temporary file, deleted when the store is closed.

The same store holds the background noise of an iterator (see
:func:`~parallel_audio.augment.background_noise.share_background_noise`). A process on
another machine (a Ray actor on another node) cannot map the buffer: the store knows that
from the machine's boot id and the buffer's inode, and then builds its own copy with the
``reload`` it was given (background noise reads its folder again), or raises if it has none.
"""

from __future__ import annotations

import mmap
import os
import tempfile
import threading
from collections.abc import Callable, Sequence

import numpy as np
import soxr

from parallel_audio.audio_io import MAX_SAMPLE_MAGNITUDE
from parallel_audio.errors import DatasetError

__all__ = ["ClipStore"]

_MEMFD_PREFIX = "parallel_audio_"


def _boot_id() -> str | None:
    """Return this machine's boot id (Linux), which tells one machine from another."""
    try:
        with open("/proc/sys/kernel/random/boot_id") as file:
            return file.read().strip()
    except OSError:
        return None


class ClipStore:
    """Equal-length or ragged mono clips at one sample rate, shared read-only with workers.

    Parameters
    ----------
    clips : numpy.ndarray or sequence of numpy.ndarray
        A 2-D array of equal-length clips (one per row), or a sequence of 1-D arrays of any
        lengths (>= 1 sample each). Copied once into the shared buffer as float32.
    sample_rate_hz : int
        Their sample rate.
    kind : str
        What the clips are, naming the memory (``/memfd:parallel_audio_<kind>`` in
        ``/proc/<pid>/maps``) and the temporary file.
    reload : callable, optional
        Picklable; returns the same arrays again, in any process. Used where the buffer
        cannot be mapped (a process on another machine). None: such a process gets an error.
    checked : bool
        The arrays are 1-D float32 already checked (as :func:`~parallel_audio.audio_io.read_audio`
        returns them): the checks of ``x`` are not repeated.

    Notes
    -----
    Pickling a store sends where its buffer is (process id, descriptor, or the temporary
    file's path, with the machine's boot id and the buffer's inode) and the clip offsets, not
    the samples; the receiving process maps the buffer when it first reads a clip. The store
    must stay open while workers use it: the iterator that owns it closes it after its workers.
    """

    def __init__(
        self,
        clips: np.ndarray | Sequence[np.ndarray],
        sample_rate_hz: int,
        *,
        kind: str = "clips",
        reload: Callable[[], Sequence[np.ndarray]] | None = None,
        checked: bool = False,
    ) -> None:
        arrays = list(clips) if checked else _check_clips(clips)
        self.sample_rate_hz = int(sample_rate_hz)
        self.kind = kind
        self._reload = reload
        lengths = np.array([a.size for a in arrays], dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self.offsets.setflags(write=False)
        nbytes = int(self.offsets[-1]) * 4
        self._owner_pid = os.getpid()
        self._path: str | None = None
        self._descriptor: int | None = None
        if hasattr(os, "memfd_create"):
            self._descriptor = os.memfd_create(_MEMFD_PREFIX + kind, os.MFD_CLOEXEC)
        else:  # not Linux: a temporary file, removed by close()
            handle, self._path = tempfile.mkstemp(prefix=f"{_MEMFD_PREFIX}{kind}-")
            self._descriptor = handle
        os.ftruncate(self._descriptor, max(nbytes, 1))
        # Where the buffer may be mapped: this machine, this very file.
        self._boot_id = _boot_id()
        self._inode = os.fstat(self._descriptor).st_ino
        self._map: mmap.mmap | None = mmap.mmap(self._descriptor, max(nbytes, 1))
        self._buffer = np.frombuffer(self._map, np.float32, count=int(self.offsets[-1]))
        for array, start in zip(arrays, self.offsets[:-1], strict=True):
            self._buffer[start : start + array.size] = array
        self._lock = threading.Lock()
        self.closed = False

    def __len__(self) -> int:
        return self.offsets.size - 1

    @property
    def nbytes(self) -> int:
        """Bytes of samples held."""
        return int(self.offsets[-1]) * 4

    def lengths(self) -> np.ndarray:
        """Return the number of samples of every clip."""
        return np.diff(self.offsets)

    def read(self, clip_id: int, sample_rate_hz: int) -> np.ndarray:
        """Return clip ``clip_id`` as float32 at ``sample_rate_hz``.

        Resampled as :func:`~parallel_audio.audio_io.read_audio` resamples a file of the
        store's rate (soxr, high quality), so a clip equals the same clip written to a
        float WAV file and read.
        """
        buffer = self._samples()
        start, stop = int(self.offsets[clip_id]), int(self.offsets[clip_id + 1])
        clip = np.array(buffer[start:stop], dtype=np.float32)  # a copy: the pipeline owns it
        if self.sample_rate_hz != sample_rate_hz:
            clip = soxr.resample(clip, self.sample_rate_hz, sample_rate_hz, quality="HQ")
        return np.ascontiguousarray(clip, dtype=np.float32)

    def view(self, clip_id: int) -> np.ndarray:
        """Return clip ``clip_id`` at the store's rate, read-only, without a copy.

        The array is a view of the shared buffer: valid while the store is open.
        """
        buffer = self._samples()
        view = buffer[int(self.offsets[clip_id]) : int(self.offsets[clip_id + 1])]
        view.flags.writeable = False
        return view

    def _samples(self) -> np.ndarray:
        if self.closed:
            raise DatasetError("the clips of this iterator were released when it was closed")
        if self._buffer is None:
            with self._lock:
                if self._buffer is None:
                    self._attach()
        return self._buffer

    def _attach(self) -> None:
        """Map the owner's buffer read-only (in a worker process), or reload where it is not."""
        if self._path is not None:
            path = self._path
        elif self._owner_pid == os.getpid() and self._descriptor is not None:
            path = f"/proc/self/fd/{self._descriptor}"
        else:
            path = f"/proc/{self._owner_pid}/fd/{self._remote_descriptor}"
        count = int(self.offsets[-1])
        if self._boot_id != _boot_id():  # another machine, whose /proc/<pid> is not ours
            self._buffer = self._reloaded(
                count,
                "this process runs on another machine (a Ray actor on another node, for "
                "instance); give the clips as files on a file system every node reads",
            )
            return
        try:
            file = open(path, "rb")  # noqa: SIM115 (closed below, once mapped)
        except OSError:
            file = None
        if file is not None:
            with file:
                # The same pid in another pid namespace (a container) is another process.
                if os.fstat(file.fileno()).st_ino == self._inode:
                    self._map = mmap.mmap(file.fileno(), max(count * 4, 1), access=mmap.ACCESS_READ)
                    self._buffer = np.frombuffer(self._map, np.float32, count=count)
                    return
        self._buffer = self._reloaded(
            count,
            "this process does not see the training process's memory (it runs in another "
            "container, or the iterator holding the memory was closed)",
        )

    def _reloaded(self, count: int, reason: str) -> np.ndarray:
        """Return this process's own copy of the samples, from ``reload``, or raise why not."""
        if self._reload is None:
            raise DatasetError(
                f"the {self.kind} held in memory by the training process cannot be read here: "
                + reason
            )
        arrays = [np.asarray(a, np.float32).ravel() for a in self._reload()]
        if [a.size for a in arrays] != np.diff(self.offsets).tolist():
            raise DatasetError(
                f"the {self.kind} read again on this machine differ in length from the "
                "training process's: the files must be the same on every node"
            )
        buffer = np.concatenate(arrays) if arrays else np.zeros(0, np.float32)
        buffer.flags.writeable = False
        return buffer[:count]

    def __getstate__(self) -> dict:
        return {
            "sample_rate_hz": self.sample_rate_hz,
            "offsets": self.offsets,
            "owner_pid": self._owner_pid,
            "descriptor": self._descriptor,
            "path": self._path,
            "kind": self.kind,
            "reload": self._reload,
            "boot_id": self._boot_id,
            "inode": self._inode,
        }

    def __setstate__(self, state: dict) -> None:
        self.sample_rate_hz = state["sample_rate_hz"]
        self.offsets = state["offsets"]
        self._owner_pid = state["owner_pid"]
        self._remote_descriptor = state["descriptor"]
        self._descriptor = None  # the descriptor number is the owner's, not ours
        self._path = state["path"]
        self.kind = state["kind"]
        self._reload = state["reload"]
        self._boot_id = state["boot_id"]
        self._inode = state["inode"]
        self._map = None
        self._buffer = None
        self._lock = threading.Lock()
        self.closed = False

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # at interpreter exit, modules may be gone already
            pass

    def close(self) -> None:
        """Release the buffer (the owner: for every process; a copy: its own mapping)."""
        if self.closed:
            return
        self.closed = True
        self._buffer = None
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # a clip view still alive; the mapping goes with it
                pass
            self._map = None
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None
        if self._path is not None and self._owner_pid == os.getpid():
            try:
                os.unlink(self._path)
            except OSError:
                pass


def _check_clips(clips: np.ndarray | Sequence[np.ndarray]) -> list[np.ndarray]:
    """Return the clips as 1-D float32 arrays, refusing empty, non-finite or absurd ones."""
    if isinstance(clips, np.ndarray):
        if clips.ndim != 2:
            raise DatasetError(
                f"x must be a 2-D array of equal-length clips (clips, samples) or a list of 1-D "
                f"arrays, got an array of shape {clips.shape}"
            )
        arrays = list(clips)
    elif isinstance(clips, (list, tuple)):
        arrays = list(clips)
    else:
        raise TypeError(
            "x must be a 2-D numpy array of equal-length clips or a list of 1-D arrays, got "
            f"{type(clips).__name__}"
        )
    if not arrays:
        raise DatasetError("x holds no clip")
    checked = []
    for i, clip in enumerate(arrays):
        clip = np.asarray(clip)
        if clip.ndim != 1 or clip.size == 0:
            raise DatasetError(
                f"clip {i} of x has shape {clip.shape}; each clip is a non-empty 1-D array of "
                "mono samples"
            )
        if clip.dtype.kind != "f":
            raise DatasetError(
                f"clip {i} of x has dtype {clip.dtype}; clips hold float samples at full scale "
                "1.0 (divide int16 samples by 32768)"
            )
        plausible = np.abs(clip) <= MAX_SAMPLE_MAGNITUDE
        if not plausible.all():
            where = int(np.argmin(plausible))
            raise DatasetError(
                f"clip {i} of x holds {float(clip[where])} at sample {where}: clips must be finite "
                f"float audio, full scale 1.0 (magnitudes up to {MAX_SAMPLE_MAGNITUDE:.3g})"
            )
        checked.append(clip.astype(np.float32, copy=False))
    return checked

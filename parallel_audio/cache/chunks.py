"""Chunk files: arrays of many files back to back, written once, then memory-mapped read-only."""

from __future__ import annotations

import math
import mmap
import os
from typing import Any

import numpy as np

#: Every array starts on a multiple of this many bytes (a cache line), so views are aligned.
ALIGNMENT = 64
#: Chunk files are named ``<something>.bin`` in the cache folder's ``chunks`` sub-folder.
CHUNK_SUFFIX = ".bin"
CHUNKS_FOLDER = "chunks"


class ChunkWriter:
    """Appends arrays to one new chunk file; nothing reads it before the manifest names it.

    The file is created on the first array (a task whose files all fail writes none).

    Parameters
    ----------
    path : str
        The chunk file; it must not exist.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.size = 0
        self._file: Any = None

    def append(self, array: np.ndarray) -> int:
        """Write ``array``'s bytes; return the offset they start at."""
        if self._file is None:
            self._file = open(self.path, "xb")  # noqa: SIM115 (closed by close())
        padding = -self.size % ALIGNMENT
        if padding:
            self._file.write(b"\0" * padding)
        offset = self.size + padding
        data = np.ascontiguousarray(array)
        self._file.write(memoryview(data).cast("B"))
        self.size = offset + data.nbytes
        return offset

    def close(self) -> int:
        """Flush the file to the disk; return its size (0: no file was written)."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
        return self.size


class ChunkReader:
    """The chunk files of one cache folder, each mapped read-only on first use.

    Pickles as its folder alone: every process maps the files itself, so workers share the
    operating system's page cache and nothing is copied or pickled per worker.

    Parameters
    ----------
    folder : str
        The ``chunks`` folder.
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self._maps: dict[str, mmap.mmap] = {}

    def view(self, chunk: str, offset: int, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
        """Return a read-only view of one array of a chunk."""
        mapping = self._maps.get(chunk)
        if mapping is None:
            with open(os.path.join(self.folder, chunk), "rb") as file:
                mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
            self._maps[chunk] = mapping
        count = math.prod(shape)
        return np.frombuffer(mapping, dtype=dtype, count=count, offset=offset).reshape(shape)

    def close(self) -> None:
        """Unmap every chunk (views still in use keep theirs alive)."""
        self._maps.clear()

    def __getstate__(self) -> dict[str, Any]:
        return {"folder": self.folder}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.folder = state["folder"]
        self._maps = {}

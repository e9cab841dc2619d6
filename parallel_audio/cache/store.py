"""What a worker reads samples from: one iterator's view of a built cache."""

from __future__ import annotations

import os
from typing import Any, NamedTuple

import numpy as np

from parallel_audio.audio_io import Region, excerpt_start, read_audio, region_bounds
from parallel_audio.cache.chunks import ChunkReader
from parallel_audio.errors import AudioFileError

#: int16 audio is full scale / 2**15, as 16-bit WAV files are read (an exact power of two).
INT16_SCALE = np.float32(1.0 / 32768.0)
#: Formats whose seek lands on the very frames a whole decode gives (PCM and FLAC); a seek in
#: MP3 or Ogg may decode a region's frames differently, so those regions are read uncached.
EXACT_SEEK_CONTAINERS = frozenset({"WAV", "WAVEX", "W64", "RF64", "AIFF", "AU", "CAF", "FLAC"})


class CachedFile(NamedTuple):
    """Where one file's array is, and what places excerpts in it (audio)."""

    chunk: str
    offset: int
    dtype: str
    shape: tuple[int, ...]
    file_rate: int
    frames: int
    seekable: bool
    container: str = ""  # libsndfile's major format; "" in entries written before it was kept


class SampleCache:
    """The cached arrays of one iterator's files, read from memory-mapped chunk files.

    Sent to the workers with the pipeline's configuration: it pickles as the chunk folder and
    a small table per file (no audio); each process maps the chunks read-only when it first
    reads them.

    Parameters
    ----------
    kind : {"audio", "features"}
        What the arrays are.
    directory : str
        The dataset folder file names are relative to.
    sample_rate : int
        The rate of cached audio.
    chunks : ChunkReader
        The cache folder's chunk files.
    files : dict of str to CachedFile or str
        Per file name (as the index has it): where its array is, or the problem that makes
        it unreadable.
    """

    def __init__(
        self,
        *,
        kind: str,
        directory: str,
        sample_rate: int,
        chunks: ChunkReader,
        files: dict[str, CachedFile | str],
    ) -> None:
        self.kind = kind
        self.directory = directory
        self.sample_rate = sample_rate
        self.chunks = chunks
        self.files = files

    @property
    def holds_features(self) -> bool:
        """Whether the arrays are final samples (else decoded audio)."""
        return self.kind == "features"

    def __contains__(self, filename: str) -> bool:
        return filename in self.files

    def _lookup(self, filename: str) -> CachedFile | None:
        cached = self.files.get(filename)
        if isinstance(cached, str):  # recorded as unreadable: the error reading it raises
            raise AudioFileError(os.path.join(self.directory, filename), cached)
        return cached

    def read_audio(
        self,
        filename: str,
        *,
        max_length: int | None,
        position: Any = 0.0,
        region: Region | None = None,
    ) -> np.ndarray:
        """Return what :func:`~parallel_audio.audio_io.read_audio` returns for the file.

        The whole file, or the excerpt of ``max_length`` samples at ``position`` sliced out
        of the cached whole file. A file the cache does not hold is read from the disk.

        A ``region`` is sliced out of the cached whole file only where that gives the
        samples :func:`~parallel_audio.audio_io.read_audio` reads bit for bit: the file is
        at the cache's rate (a region of a file at another rate is resampled alone, which
        differs from a slice of the whole file resampled), is PCM or FLAC (whose seek is
        exact, unlike MP3's) and holds the frames its header declares. Any other region is
        read from the file, uncached.
        """
        if region is not None:
            return self._read_region(filename, region, max_length, position)
        cached = self._lookup(filename)
        if cached is None or self.kind != "audio":
            return self._read_file(filename, max_length, position)
        whole = self.chunks.view(cached.chunk, cached.offset, cached.dtype, cached.shape)
        where = (cached.file_rate, cached.frames, cached.seekable)
        start = excerpt_start(where, self.sample_rate, max_length, position)
        if start is not None:
            if start >= whole.size:  # a header claiming more frames than the file holds
                start = 0
            whole = whole[start : start + max_length]
        if whole.dtype == np.int16:
            return whole.astype(np.float32) * INT16_SCALE
        return np.array(whole, dtype=np.float32)  # a copy: callbacks may write to it

    def _read_file(
        self, filename: str, max_length: int | None, position: Any, region: Region | None = None
    ) -> np.ndarray:
        """Read the file itself, as if there were no cache."""
        path = os.path.join(self.directory, filename)
        return read_audio(
            path, self.sample_rate, max_length=max_length, position=position, region=region
        )

    def _read_region(
        self, filename: str, region: Region, max_length: int | None, position: Any
    ) -> np.ndarray:
        """Slice ``region`` out of the cached file where that is exact, else read it."""
        cached = self.files.get(filename)
        exact = (
            self.kind == "audio"
            and isinstance(cached, CachedFile)
            and cached.file_rate == self.sample_rate
            and cached.container in EXACT_SEEK_CONTAINERS
            and cached.shape == (cached.frames,)
        )
        if not exact:
            return self._read_file(filename, max_length, position, region)
        first, stop = region_bounds(region, cached.file_rate, cached.frames)
        if first >= stop:  # no frame in the region: the file's read raises the error
            return self._read_file(filename, max_length, position, region)
        whole = self.chunks.view(cached.chunk, cached.offset, cached.dtype, cached.shape)
        span = whole[first:stop]
        where = (cached.file_rate, stop - first, cached.seekable)
        start = excerpt_start(where, self.sample_rate, max_length, position)
        if start is not None:
            span = span[start : start + max_length]
        if span.dtype == np.int16:
            return span.astype(np.float32) * INT16_SCALE
        return np.array(span, dtype=np.float32)

    def features(self, filename: str) -> np.ndarray | None:
        """Return the file's final sample, a read-only view; None if the cache lacks it."""
        cached = self._lookup(filename)
        if cached is None or self.kind != "features":
            return None
        return self.chunks.view(cached.chunk, cached.offset, cached.dtype, cached.shape)

"""Building a cache folder: finding the files to decode, decoding them in workers, recording.

A :class:`CacheBuild` holds the folder's lock from the moment a ``flow_*`` call opens it until
the iterator's files are all cached: the ``on_error="skip"`` check asks it about files
(decoding them into the cache, so each is decoded once), then :meth:`CacheBuild.finish`
decodes the rest, saves the manifest, writes the marker and returns the
:class:`~parallel_audio.cache.store.SampleCache` the workers read from.

Folder layout (``<kind>-<fingerprint>`` inside ``cache_dir``)::

    fingerprint.json   what the fingerprint covers, readable
    manifest.json      one entry per file (see ``manifest``); journal.jsonl while building
    chunks/*.bin       the arrays, back to back, memory-mapped read-only by the workers
    lock               held while building
    complete.json      the marker, written last by an atomic rename: the build ended
"""

from __future__ import annotations

import concurrent.futures
import json
import logging
import math
import os
import pickle
import shutil
import threading
import time
import uuid
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import soundfile

from parallel_audio.audio_io import decode_file
from parallel_audio.cache.chunks import CHUNK_SUFFIX, CHUNKS_FOLDER, ChunkReader, ChunkWriter
from parallel_audio.cache.fingerprint import fingerprint
from parallel_audio.cache.lock import building_lock
from parallel_audio.cache.manifest import Manifest, entry_is_current, file_state, write_atomically
from parallel_audio.cache.options import CacheOptions
from parallel_audio.cache.store import CachedFile, SampleCache
from parallel_audio.errors import AudioFileError, CacheError, CacheWarning

_logger = logging.getLogger(__name__)

MARKER_NAME = "complete.json"
FINGERPRINT_NAME = "fingerprint.json"
#: Files per build task: enough to amortize a task's overhead, few enough to balance workers.
MIN_FILES_PER_TASK = 4
MAX_FILES_PER_TASK = 256
#: Files whose headers are read to estimate the cache's size before building it.
SIZE_SAMPLE_FILES = 32
#: int16 full scale, as 16-bit audio is stored.
_INT16_FULL_SCALE = 32768.0


def cache_folder(options: CacheOptions, fields: dict[str, Any]) -> str:
    """Return the folder of a cache: ``<cache_dir>/<kind>-<fingerprint>``."""
    return os.path.join(options.cache_dir, f"{options.kind}-{fingerprint(fields)}")


@dataclass(frozen=True)
class BuildContext:
    """What every build task needs, sent to each worker once.

    Attributes
    ----------
    kind : {"audio", "features"}
    sample_rate : int
        Audio is stored at this rate.
    dtype : {"float32", "int16"}
        How audio is stored.
    params : ParallelProcessParams, optional
        For "features": the pipeline's configuration, without callbacks or augmentation.
    """

    kind: str
    sample_rate: int
    dtype: str
    params: Any = None


@dataclass(frozen=True)
class ChunkTask:
    """Files one task decodes into one chunk file: ``(absolute path, name in the index)``."""

    chunk: str
    chunk_path: str
    files: list[tuple[str, str]]


@dataclass(frozen=True)
class ChunkResult:
    """What a task wrote: its chunk's size (0: none) and an entry per file."""

    chunk: str
    size: int
    entries: dict[str, dict[str, Any]]
    clipped: int


def build_chunk(context: BuildContext, task: ChunkTask) -> ChunkResult:
    """Decode (and for "features" compute) each file of a task into its chunk file.

    A file is examined (size, time, hash of its bytes) before it is decoded, so that a change
    made while it is decoded shows at the next validation. A file that cannot be read gets an
    entry with the problem instead of samples.
    """
    writer = ChunkWriter(task.chunk_path)
    entries: dict[str, dict[str, Any]] = {}
    clipped = 0
    try:
        for path, filename in task.files:
            try:
                entry = file_state(path, content=True)
            except OSError:
                entry = {"size": None, "mtime_ns": None}
            try:
                array, about = _compute(context, path, filename)
            except AudioFileError as error:
                entry["error"] = error.problem
            else:
                if context.kind == "audio" and context.dtype == "int16":
                    array, was_clipped = _to_int16(array)
                    clipped += was_clipped
                offset = writer.append(array)
                entry.update(
                    chunk=task.chunk,
                    offset=offset,
                    dtype=array.dtype.name,
                    shape=list(array.shape),
                    **about,
                )
            entries[path] = entry
    finally:
        size = writer.close()
    return ChunkResult(task.chunk, size, entries, clipped)


def _compute(context: BuildContext, path: str, filename: str) -> tuple[np.ndarray, dict]:
    if context.kind == "features":
        from parallel_audio.pipeline import sample_rng, transform_sample

        # Unaugmented and without callbacks, a file's sample depends on nothing else: the
        # generator it is handed is never drawn from, and the excerpt of a long file starts at 0.
        rng = sample_rng(context.params.seed, 0, 0)
        sample = transform_sample(context.params, filename, 0, rng, {}, position=0.0)
        return np.asarray(sample), {}
    decoded = decode_file(path, context.sample_rate)
    about = {
        "file_rate": decoded.file_rate,
        "frames": decoded.declared_frames,
        "seekable": decoded.seekable,
        "container": decoded.container,
    }
    return decoded.samples, about


def _to_int16(audio: np.ndarray) -> tuple[np.ndarray, bool]:
    scaled = np.rint(audio * _INT16_FULL_SCALE)
    clipped = bool(np.any(scaled > 32767) or np.any(scaled < -32768))
    return np.clip(scaled, -32768, 32767).astype(np.int16), clipped


# ----------------------------------------------------------------------------- worker side

_worker_context: BuildContext | None = None


#: How often a build worker checks that the process it builds for still runs, in seconds.
OWNER_CHECK_INTERVAL = 0.5


def _start_worker(pickled_context: bytes, owner: int) -> None:
    """Initialize a build worker process: the context, and an exit when ``owner`` is gone.

    The worker's parent is the fork server, which outlives the process that asked for the
    worker as long as any worker it forked lives (each holds the fork server's "alive" pipe),
    and the task queue's pipe is open at both ends in every worker: neither tells a worker that
    the training process was killed. So the worker watches that process itself.
    """
    global _worker_context
    _worker_context = pickle.loads(pickled_context)

    def watch_owner() -> None:
        while _process_runs(owner):
            time.sleep(OWNER_CHECK_INTERVAL)
        os._exit(1)

    threading.Thread(target=watch_owner, daemon=True, name="owner-watch").start()


def _process_runs(pid: int) -> bool:
    """Whether process ``pid`` runs: it exists and (where /proc tells) is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            state = file.read().rsplit(b")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in (b"Z", b"X")


def _build_chunk_in_worker(task: ChunkTask) -> ChunkResult:
    assert _worker_context is not None
    return build_chunk(_worker_context, task)


# ----------------------------------------------------------------------------- the build


class CacheBuild:
    """One ``flow_*`` call's use of a cache folder, under its lock.

    Use as a context manager; the lock is released and the workers stopped on exit.

    Parameters
    ----------
    options : CacheOptions
    fields : dict
        The fingerprint's fields (see ``fingerprint``).
    directory : str
        The dataset folder file names are relative to.
    context : BuildContext
    num_workers : int
        Build worker processes (threads with ``threads``); 0 builds in this thread.
    threads : bool
        Threads instead of processes (``debug=True``).
    """

    def __init__(
        self,
        options: CacheOptions,
        fields: dict[str, Any],
        *,
        directory: str,
        context: BuildContext,
        num_workers: int,
        threads: bool = False,
    ) -> None:
        self.options = options
        self.fields = fields
        self.folder = cache_folder(options, fields)
        self.chunks_folder = os.path.join(self.folder, CHUNKS_FOLDER)
        self.directory = directory
        self.context = context
        self.num_workers = num_workers
        self.threads = threads
        self.manifest: Manifest | None = None
        self.reused = 0
        self.decoded = 0
        self.stale = 0
        self._current: set[str] = set()  # absolute paths validated or built in this build
        self._executor: concurrent.futures.Executor | None = None
        self._lock: Any = None
        self._dirty = False
        self._run = uuid.uuid4().hex[:12]
        self._tasks = 0

    # -- opening and closing

    def __enter__(self) -> CacheBuild:
        self._prepare_folder()
        self._lock = building_lock(self.folder)
        self._lock.__enter__()
        try:
            self._load()
        except BaseException:
            self._release()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._release()

    def _release(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None
        if self._lock is not None:
            lock, self._lock = self._lock, None
            lock.__exit__(None, None, None)

    def _prepare_folder(self) -> None:
        cache_dir = self.options.cache_dir
        try:
            os.makedirs(self.chunks_folder, exist_ok=True)
            probe = os.path.join(self.folder, f".write-test-{os.getpid()}")
            with open(probe, "wb"):
                pass
            os.remove(probe)
        except OSError as error:
            raise CacheError(
                f"cache_dir {cache_dir!r} is not writable ({error.strerror or error}): choose a "
                "folder this user can create files in, or cache_dir=None"
            ) from error
        fingerprint_path = os.path.join(self.folder, FINGERPRINT_NAME)
        if not os.path.exists(fingerprint_path):
            write_atomically(fingerprint_path, json.dumps(self.fields, indent=1, sort_keys=True))

    def _load(self) -> None:
        self.manifest = Manifest.load(self.folder)
        if not os.path.exists(os.path.join(self.folder, MARKER_NAME)) and (
            self.manifest.files or self.manifest.journal_lines
        ):
            _logger.info(
                "resuming the interrupted build of %s (%d files cached)",
                self.folder,
                len(self.manifest.files),
            )
        for chunk, size in sorted(self.manifest.chunks.items()):
            path = os.path.join(self.chunks_folder, chunk)
            try:
                actual: int | None = os.path.getsize(path)
            except OSError:
                actual = None
            if actual != size:
                dropped = self.manifest.forget_chunk(chunk)
                self._dirty = True
                found = "is missing" if actual is None else f"has {actual} bytes"
                warnings.warn(
                    CacheWarning(
                        f"cache chunk {path!r} {found} where the manifest says {size}: its "
                        f"{len(dropped)} files are decoded again"
                    ),
                    stacklevel=2,
                )
        # Chunks no entry points to: a killed build's last, unfinished ones.
        live = set(self.manifest.chunks)
        for name in os.listdir(self.chunks_folder):
            if name.endswith(CHUNK_SUFFIX) and name not in live:
                os.remove(os.path.join(self.chunks_folder, name))

    # -- building

    def _key(self, filename: str) -> str:
        return os.path.abspath(os.path.join(self.directory, filename))

    def check(self, filenames: list[str]) -> dict[str, str | None]:
        """Cache ``filenames`` (relative to the directory); return each one's problem or None.

        The ``on_error="skip"`` check: a file is decoded only if the cache does not hold it
        yet, and only once.
        """
        self.ensure(filenames)
        assert self.manifest is not None
        return {name: self.manifest.files[self._key(name)].get("error") for name in filenames}

    def ensure(self, filenames: list[str | None]) -> None:
        """Decode, in the workers, the files of ``filenames`` the cache lacks or holds stale."""
        assert self.manifest is not None
        todo: dict[str, str] = {}
        for filename in filenames:
            if filename is None:
                continue
            key = self._key(filename)
            if key in self._current or key in todo:
                continue
            entry = self.manifest.files.get(key)
            if entry_is_current(entry, key, self.options.validate):
                self._current.add(key)
                self.reused += 1
            else:
                self.stale += entry is not None
                todo[key] = filename
        if todo:
            self._build(list(todo.items()))

    def _build(self, files: list[tuple[str, str]]) -> None:
        assert self.manifest is not None
        self._check_free_space(files)
        if not self._dirty:
            # From now on the folder is being changed: no marker until the build ends.
            try:
                os.remove(os.path.join(self.folder, MARKER_NAME))
            except FileNotFoundError:
                pass
            self._dirty = True
        workers = max(1, self.num_workers)
        per_task = min(
            MAX_FILES_PER_TASK, max(MIN_FILES_PER_TASK, math.ceil(len(files) / (4 * workers)))
        )
        tasks = []
        for start in range(0, len(files), per_task):
            chunk = f"{self._run}-{self._tasks:06d}{CHUNK_SUFFIX}"
            self._tasks += 1
            path = os.path.join(self.chunks_folder, chunk)
            tasks.append(ChunkTask(chunk, path, files[start : start + per_task]))
        clipped = 0
        with _progress(len(files), f"caching {self.options.kind}") as progress:
            for result in self._run_tasks(tasks):
                self.manifest.record(
                    result.chunk if result.size else None, result.size, result.entries
                )
                self._current.update(result.entries)
                self.decoded += len(result.entries)
                clipped += result.clipped
                progress.update(len(result.entries))
        if clipped:
            warnings.warn(
                CacheWarning(
                    f"cache_dtype='int16' clipped {clipped} of the {len(files)} files decoded "
                    "into the cache to full scale (their samples exceed [-1, 1)); "
                    "cache_dtype='float32' keeps them as the files hold them"
                ),
                stacklevel=2,
            )

    def _run_tasks(self, tasks: list[ChunkTask]):
        if self.num_workers == 0 or len(tasks) == 1:
            for task in tasks:
                yield build_chunk(self.context, task)
            return
        executor = self._start_executor()
        if self.threads:
            futures = [executor.submit(build_chunk, self.context, task) for task in tasks]
        else:
            futures = [executor.submit(_build_chunk_in_worker, task) for task in tasks]
        try:
            for future in concurrent.futures.as_completed(futures):
                yield future.result()
        finally:
            for future in futures:
                future.cancel()

    def _start_executor(self) -> concurrent.futures.Executor:
        if self._executor is None:
            if self.threads:
                self._executor = concurrent.futures.ThreadPoolExecutor(self.num_workers)
            else:
                from parallel_audio.callback_pickling import pickle_for_workers
                from parallel_audio.worker_start import worker_context

                self._executor = concurrent.futures.ProcessPoolExecutor(
                    self.num_workers,
                    mp_context=worker_context(),
                    initializer=_start_worker,
                    initargs=(
                        pickle_for_workers(self.context, "the cache's configuration"),
                        os.getpid(),
                    ),
                )
        return self._executor

    def _check_free_space(self, files: list[tuple[str, str]]) -> None:
        needed = self._estimate_bytes(files)
        free = shutil.disk_usage(self.folder).free
        if needed > free:
            raise CacheError(
                f"the cache in {self.folder!r} needs about {_size(needed)} for {len(files)} "
                f"files but its disk has {_size(free)} free: free some space, choose another "
                "cache_dir, or use cache_dtype='int16' (half the size of 'float32')"
            )

    def _estimate_bytes(self, files: list[tuple[str, str]]) -> int:
        """Estimate the bytes ``files`` take in the cache, from a few of their headers."""
        if self.context.kind == "features":
            shape = self.context.params.sample_shape
            itemsize = max(4, np.dtype(self.context.params.dtype).itemsize)
            return len(files) * int(np.prod(shape)) * itemsize
        itemsize = 2 if self.context.dtype == "int16" else 4
        sizes = []
        for path, _ in files:
            try:
                sizes.append(os.path.getsize(path))
            except OSError:
                sizes.append(0)
        step = max(1, len(files) // SIZE_SAMPLE_FILES)
        file_bytes = cached_bytes = 0
        for i in range(0, len(files), step):
            try:
                info = soundfile.info(os.fsencode(files[i][0]))
            except Exception:  # noqa: BLE001 (an unreadable file costs nothing to cache)
                continue
            file_bytes += sizes[i]
            cached_bytes += info.frames * self.context.sample_rate / info.samplerate * itemsize
        if file_bytes == 0:
            return 0
        return int(sum(sizes) * cached_bytes / file_bytes)

    def finish(self, filenames: list[str | None]) -> SampleCache:
        """Cache the iterator's files, save the manifest and the marker; return the reader."""
        self.ensure(filenames)
        assert self.manifest is not None
        if self._dirty or not os.path.exists(os.path.join(self.folder, MARKER_NAME)):
            self.manifest.save()
            marker = {
                "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "files": len(self.manifest.files),
                "reused": self.reused,
                "decoded": self.decoded,
                "stale": self.stale,
            }
            write_atomically(os.path.join(self.folder, MARKER_NAME), json.dumps(marker, indent=1))
        files: dict[str, CachedFile | str] = {}
        for filename in filenames:
            if filename is None or filename in files:
                continue
            entry = self.manifest.files.get(self._key(filename))
            if entry is None:
                continue
            if "error" in entry:
                files[filename] = entry["error"]
            else:
                files[filename] = CachedFile(
                    entry["chunk"],
                    int(entry["offset"]),
                    entry["dtype"],
                    tuple(entry["shape"]),
                    int(entry.get("file_rate", 0)),
                    int(entry.get("frames", 0)),
                    bool(entry.get("seekable", False)),
                    str(entry.get("container", "")),
                )
        if self.decoded:
            _logger.info(
                "cache %s: %d files decoded, %d reused", self.folder, self.decoded, self.reused
            )
        return SampleCache(
            kind=self.options.kind,
            directory=self.directory,
            sample_rate=self.context.sample_rate,
            chunks=ChunkReader(self.chunks_folder),
            files=files,
        )


class _progress:
    """A tqdm bar on a terminal (never in a log file), as a context manager."""

    def __init__(self, total: int, description: str) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(total=total, desc=description, unit="file", disable=None)

    def __enter__(self) -> Any:
        return self._bar

    def __exit__(self, *exc_info: object) -> None:
        self._bar.close()


def _size(nbytes: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if nbytes < 1000 or unit == "TB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1000
    return f"{nbytes:.1f} TB"

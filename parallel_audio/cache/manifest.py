"""The manifest of a cache folder: one human-readable entry per file, and the chunk sizes.

``manifest.json`` is rewritten whole, atomically (a temporary file renamed over it), when a
build ends. While it runs, each finished task appends its entries as one JSON line to
``journal.jsonl``, flushed to the disk: a build that is killed keeps every task it finished,
and the next one replays the journal (a torn last line is ignored) and resumes.

An entry, keyed by the file's absolute path::

    {"size": 32044, "mtime_ns": 1700000000123456789, "blake2b": "…",
     "chunk": "…-000003.bin", "offset": 4096, "dtype": "float32", "shape": [16000],
     "file_rate": 16000, "frames": 16000, "seekable": true}

or, for a file that cannot be read, ``{"size": …, "mtime_ns": …, "blake2b": …, "error": "…"}``
(the same problem ``read_audio`` names, so that ``on_error`` acts on it without decoding).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

MANIFEST_NAME = "manifest.json"
JOURNAL_NAME = "journal.jsonl"
_HASH_BLOCK = 1 << 20


class Manifest:
    """The entries of one cache folder and the chunk files they point into.

    Parameters
    ----------
    folder : str
        The cache folder (the one named by the fingerprint).
    """

    def __init__(self, folder: str) -> None:
        self.folder = folder
        self.files: dict[str, dict[str, Any]] = {}
        self.chunks: dict[str, int] = {}
        self.journal_lines = 0  # replayed on load: the sign of an interrupted build

    @classmethod
    def load(cls, folder: str) -> Manifest:
        """Read the manifest and replay the journal of an interrupted build, if any.

        A manifest that cannot be parsed counts as empty: its files are decoded again.
        """
        manifest = cls(folder)
        try:
            with open(os.path.join(folder, MANIFEST_NAME), encoding="utf-8") as file:
                saved = json.load(file)
            manifest.files = dict(saved["files"])
            manifest.chunks = {name: int(size) for name, size in saved["chunks"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            pass
        try:
            with open(os.path.join(folder, JOURNAL_NAME), encoding="utf-8") as file:
                lines = file.read().splitlines()
        except OSError:
            lines = []
        for line in lines:
            try:
                record = json.loads(line)
                chunk, size, files = record["chunk"], int(record["size"]), record["files"]
            except (ValueError, KeyError, TypeError):
                continue  # the line a killed build was writing
            if chunk is not None:
                manifest.chunks[chunk] = size
            manifest.files.update(files)
            manifest.journal_lines += 1
        return manifest

    def record(self, chunk: str | None, size: int, files: dict[str, dict[str, Any]]) -> None:
        """Add one task's entries and its chunk, in memory and to the journal on the disk."""
        line = json.dumps({"chunk": chunk, "size": size, "files": files}) + "\n"
        with open(os.path.join(self.folder, JOURNAL_NAME), "a", encoding="utf-8") as journal:
            journal.write(line)
            journal.flush()
            os.fsync(journal.fileno())
        if chunk is not None:
            self.chunks[chunk] = size
        self.files.update(files)

    def forget_chunk(self, chunk: str) -> list[str]:
        """Drop a chunk and every entry in it; return the files dropped."""
        self.chunks.pop(chunk, None)
        dropped = [path for path, entry in self.files.items() if entry.get("chunk") == chunk]
        for path in dropped:
            del self.files[path]
        return dropped

    def referenced_chunks(self) -> set[str]:
        """Return the chunks some entry points into."""
        return {entry["chunk"] for entry in self.files.values() if "chunk" in entry}

    def save(self) -> None:
        """Write the manifest atomically, then drop the journal it now holds."""
        live = self.referenced_chunks()
        self.chunks = {name: size for name, size in self.chunks.items() if name in live}
        text = json.dumps({"chunks": self.chunks, "files": self.files}, indent=1, sort_keys=True)
        write_atomically(os.path.join(self.folder, MANIFEST_NAME), text)
        try:
            os.remove(os.path.join(self.folder, JOURNAL_NAME))
        except FileNotFoundError:
            pass


def write_atomically(path: str, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file renamed over it, after an fsync."""
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def file_state(path: str, *, content: bool) -> dict[str, Any]:
    """Return the fields an entry is validated by: size, mtime and, with ``content``, a hash.

    Raises OSError when the file cannot be examined.
    """
    status = os.stat(path)
    state: dict[str, Any] = {"size": status.st_size, "mtime_ns": status.st_mtime_ns}
    if content:
        state["blake2b"] = content_hash(path)
    return state


def content_hash(path: str) -> str:
    """Return the BLAKE2b digest of a file's bytes, in hex."""
    digest = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as file:
        while block := file.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def entry_is_current(entry: dict[str, Any] | None, path: str, validate: str) -> bool:
    """Whether a cached entry still describes the file at ``path``.

    "stat": same size and modification time; "content": also the same bytes; "none": any
    entry is trusted.
    """
    if entry is None:
        return False
    if validate == "none":
        return True
    try:
        state = file_state(path, content=False)
    except OSError:
        return "error" in entry and entry.get("size") is None
    if state["size"] != entry.get("size") or state["mtime_ns"] != entry.get("mtime_ns"):
        return False
    if validate == "content":
        try:
            return content_hash(path) == entry.get("blake2b")
        except OSError:
            return False
    return True

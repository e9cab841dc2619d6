"""Naming what kind of file a non-audio file is, from its first bytes, without quoting them.

When libsndfile cannot open a file, the error should say what the file is (an HTML error
page, a Git LFS pointer, a ZIP archive, ...) so that the fix is obvious, but it must never
reproduce the file's bytes: a class folder may hold a link to ``/etc/shadow`` or
``/proc/self/environ``, and error messages end up in logs and notebooks.
"""

from __future__ import annotations

from typing import NamedTuple

#: Bytes of a file's start that :func:`file_kind` looks at.
HEAD_BYTES = 512
#: The kind of a file that starts as a format libsndfile reads (so it is damaged or uses an
#: encoding libsndfile lacks), and of binary data of no known kind: only libsndfile's own
#: reason can say more.
AUDIO_DATA = "audio data"
BINARY_DATA = "binary data"

# Signatures of common formats libsndfile reads: RIFF/RIFX/RF64 WAV, FLAC, Ogg, AIFF,
# ID3-tagged MP3, Sun .au.
_LIBSNDFILE_SIGNATURES = (b"RIFF", b"RIFX", b"RF64", b"fLaC", b"OggS", b"FORM", b"ID3", b".snd")


class FileKind(NamedTuple):
    """What a file's first bytes say it is.

    Attributes
    ----------
    text : bool
        The bytes decode as UTF-8 and are printable (tabs and line breaks allowed).
    name : str
        A noun phrase for the kind ("an HTML page", "a ZIP archive", "binary data").
    advice : str
        What to do about it, or "" when there is nothing specific to say.
    audio : bool
        Audio in a container libsndfile does not read (the name says so).
    """

    text: bool
    name: str
    advice: str = ""
    audio: bool = False


# Signatures at offset 0 of formats that are not audio. None is a prefix of another.
_BINARY_SIGNATURES: tuple[tuple[bytes, str, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive", "extract it"),
    (b"\x1f\x8b", "gzip-compressed data", "decompress it"),
    (b"BZh", "bzip2-compressed data", "decompress it"),
    (b"\xfd7zXZ\x00", "xz-compressed data", "decompress it"),
    (b"(\xb5/\xfd", "zstd-compressed data", "decompress it"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract it"),
    (b"%PDF", "a PDF document", ""),
    (b"\x89PNG\r\n\x1a\n", "a PNG image", ""),
    (b"\xff\xd8\xff", "a JPEG image", ""),
    (b"GIF8", "a GIF image", ""),
    (b"\x7fELF", "an executable (ELF)", ""),
    (b"\x93NUMPY", "a NumPy array file (.npy)", "load it with numpy.load and write it as WAV"),
    (b"\x80\x04\x95", "a Python pickle", ""),
    (b"SQLite format 3\x00", "an SQLite database", ""),
)
# Audio containers libsndfile does not read, by their signature at offset 0.
_OTHER_AUDIO_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x1a\x45\xdf\xa3", "a Matroska / WebM container"),
    (b"#!AMR", "AMR speech"),
)
_CONVERT = "convert it, e.g. `ffmpeg -i INPUT -ar 16000 OUTPUT.wav`"

# Text formats recognised by how they start, after white space and a byte order mark.
_TEXT_STARTS: tuple[tuple[str, str, str], ...] = (
    ("<!doctype html", "an HTML page", "a download saved an error page? download it again"),
    ("<html", "an HTML page", "a download saved an error page? download it again"),
    ("<?xml", "an XML document", "a download saved an error response? download it again"),
    ("{", "JSON", ""),
    ("[", "JSON", ""),
)


def file_kind(head: bytes) -> FileKind:
    r"""Tell what kind of file starts with ``head``, without reproducing any of it.

    Parameters
    ----------
    head : bytes
        The file's first bytes (:data:`HEAD_BYTES` of them is plenty).

    Returns
    -------
    FileKind
        ``name`` is a fixed phrase chosen from the bytes, never built from them.

    Examples
    --------
    >>> file_kind(b"<!DOCTYPE html><html><body>Not found</body></html>").name
    'an HTML page'
    >>> file_kind(b"PK\x03\x04\x14\x00").name
    'a ZIP archive'
    """
    if not head:
        return FileKind(False, "an empty file")
    if head.startswith(_LIBSNDFILE_SIGNATURES):
        return FileKind(False, AUDIO_DATA)
    if head.startswith(b"version https://git-lfs"):
        return FileKind(True, "a Git LFS pointer", "fetch the files with `git lfs pull`")
    if b"/annex/objects/" in head[:256] and _is_text(head):
        return FileKind(True, "a git-annex pointer", "fetch the files with `git annex get`")
    if head[4:8] == b"ftyp":  # the ISO base media file format: MP4, M4A, 3GP, MOV
        return FileKind(False, "an MP4 / M4A container (AAC or ALAC audio)", _CONVERT, True)
    for signature, name in _OTHER_AUDIO_SIGNATURES:
        if head.startswith(signature):
            return FileKind(False, name, _CONVERT, True)
    for signature, name, advice in _BINARY_SIGNATURES:
        if head.startswith(signature):
            return FileKind(False, name, advice)
    if _is_text(head):
        start = head.decode("utf-8", "ignore").lstrip("\ufeff \t\r\n").lower()
        for prefix, name, advice in _TEXT_STARTS:
            if start.startswith(prefix):
                return FileKind(True, name, advice)
        return FileKind(True, "text")
    return FileKind(False, BINARY_DATA)


def _is_text(head: bytes) -> bool:
    """Whether ``head`` is printable UTF-8; a character cut at the end still counts."""
    for cut in range(4):  # a UTF-8 character is at most 4 bytes
        try:
            text = head[: len(head) - cut].decode("utf-8")
        except UnicodeDecodeError:
            continue
        text = text.lstrip("\ufeff")  # a byte order mark starts some text files
        return bool(text) and all(c.isprintable() or c in "\t\r\n\f" for c in text)
    return False

"""Exceptions and warnings of parallel_audio; every one derives from a package root."""

from __future__ import annotations

import os
import reprlib


class ParallelAudioError(Exception):
    """Root of every exception parallel_audio raises on purpose."""


class ParallelAudioWarning(UserWarning):
    """Root of every warning parallel_audio issues."""


class SettingsError(ParallelAudioError, ValueError):
    """A setting is outside the range it allows; the message names both."""


class DatasetError(ParallelAudioError, ValueError):
    """The dataset folder or the arguments describing it cannot give a usable index."""


class AudioFileError(ParallelAudioError):
    """An audio file cannot be used; ``path`` names it and the message says why.

    Parameters
    ----------
    path : str or os.PathLike or bytes
        The file, as it was opened.
    problem : str
        What is wrong with it, phrased to follow the path ("holds no audio samples").
    """

    def __init__(self, path: object, problem: str) -> None:
        self.path = os.fsdecode(path) if isinstance(path, (bytes, os.PathLike)) else str(path)
        self.problem = problem
        super().__init__(f"{printable_path(self.path)}: {problem}")

    def __reduce__(self):
        return (type(self), (self.path, self.problem))


class CacheError(ParallelAudioError):
    """The disk cache cannot be built: its folder is not writable or the disk is too full."""


class CacheWarning(ParallelAudioWarning):
    """Something about the disk cache a user should know: a damaged chunk, clipped files."""


class WorkerError(ParallelAudioError):
    """A worker failed or died; the message carries its traceback, batch and file."""


class SkippedFilesWarning(ParallelAudioWarning):
    """Files that cannot be read were left out of a dataset (``on_error="skip"``)."""


def printable_path(path: str) -> str:
    r"""Return ``path`` with bytes that are not UTF-8 shown as ``\xNN`` escapes.

    File names that are not valid UTF-8 reach Python as lone surrogates, which cannot be
    printed to a UTF-8 terminal; messages show them escaped instead.

    Parameters
    ----------
    path : str
        A path as ``os.fsdecode`` returns it.

    Returns
    -------
    str
        The same path where it is valid UTF-8.
    """
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 80
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 6
_SHORT.maxlevel = 3


def short_repr(value: object) -> str:
    """Return ``repr(value)`` abridged for a message: long strings and containers are cut.

    Messages quote the value they reject; a value read from a config file can be a huge
    nested list, and the message must stay a line or two.

    Parameters
    ----------
    value : object
        What was received.

    Returns
    -------
    str
        At most a few hundred characters; ``...`` marks what was left out.

    Examples
    --------
    >>> short_repr(list(range(1000)))
    '[0, 1, 2, 3, 4, 5, ...]'
    """
    return _SHORT.repr(value)

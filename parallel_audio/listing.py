"""Which files are audio and which folders are classes: the one set of listing rules.

The dataset index, the background-noise folder and the command line all list folders through
this module, so they agree on every folder:

- an audio file has one of :data:`AUDIO_EXTENSIONS` (compared case-insensitively);
- a hidden entry (its name starts with ``.``, such as macOS's ``._clip.wav`` resource forks and
  ``.git``) is never listed nor entered;
- a top-level folder whose name starts with one of :data:`NON_CLASS_PREFIXES` (``_`` for
  ``_background_noise_``, ``.``, ``~``) is never a class.

Listing is safe on any folder: FIFOs, sockets and devices are never listed (opening a FIFO
blocks), symlink loops end, a folder is entered once, and names that are not UTF-8 come
through as ``os.fsdecode`` gives them. Nothing here opens a file.
"""

from __future__ import annotations

import os

from parallel_audio.errors import DatasetError, printable_path

__all__ = [
    "AUDIO_EXTENSIONS",
    "NON_CLASS_PREFIXES",
    "class_folders",
    "has_audio_extension",
    "is_class_folder_name",
    "is_hidden",
    "list_audio_files",
    "list_dataset_files",
]

#: Extensions libsndfile (behind soundfile) reads, lower-case and without the dot. mp3 needs
#: libsndfile >= 1.1, which current soundfile wheels bundle.
AUDIO_EXTENSIONS: tuple[str, ...] = (
    "wav",
    "wave",
    "flac",
    "ogg",
    "oga",
    "opus",
    "mp3",
    "aiff",
    "aif",
    "aifc",
    "au",
    "snd",
    "caf",
    "w64",
    "rf64",
)

#: Top-level folders starting with these are never classes and never feed ``_unknown_``:
#: "_" by our convention (``_background_noise_``), "." for hidden folders (such as the
#: reference's ``.index``), "~" for editor and Office lock folders, as the reference skips them.
NON_CLASS_PREFIXES: tuple[str, ...] = ("_", ".", "~")

_HIDDEN_PREFIX = "."


def is_hidden(name: str) -> bool:
    """Whether a file or folder name is hidden, and so never listed nor entered.

    Parameters
    ----------
    name : str
        One path component.

    Returns
    -------
    bool

    Examples
    --------
    >>> is_hidden("._noise.wav"), is_hidden("noise.wav")
    (True, False)
    """
    return name.startswith(_HIDDEN_PREFIX)


def has_audio_extension(name: str, extensions: tuple[str, ...] = AUDIO_EXTENSIONS) -> bool:
    """Whether a file name ends with an accepted audio extension.

    Parameters
    ----------
    name : str
        One path component.
    extensions : tuple of str, optional
        Accepted extensions, lower-case and without the dot.

    Returns
    -------
    bool
        False for a name that is only an extension (``".wav"``) and for hidden names.

    Examples
    --------
    >>> has_audio_extension("hum.W64"), has_audio_extension("notes.txt")
    (True, False)
    """
    dot = name.rfind(".")
    return dot > 0 and not is_hidden(name) and name[dot + 1 :].lower() in extensions


def is_class_folder_name(name: str) -> bool:
    """Whether a top-level folder of a dataset may be a class, judging by its name.

    Parameters
    ----------
    name : str
        A folder name.

    Returns
    -------
    bool
        False for names starting with one of :data:`NON_CLASS_PREFIXES`.

    Examples
    --------
    >>> is_class_folder_name("yes"), is_class_folder_name("_background_noise_")
    (True, False)
    """
    return not name.startswith(NON_CLASS_PREFIXES)


def class_folders(directory: str | os.PathLike[str]) -> list[str]:
    """Return the names of the sub-folders of a dataset that can be classes, sorted.

    Symlinks to folders count as folders.

    Parameters
    ----------
    directory : str or os.PathLike
        The dataset folder.

    Returns
    -------
    list of str
        Sorted in code-point order.

    Raises
    ------
    DatasetError
        ``directory`` does not exist, is not a folder, or cannot be listed.
    """
    directory = os.fspath(directory)
    if not os.path.exists(directory):
        raise DatasetError(f"dataset directory {directory!r} does not exist")
    if not os.path.isdir(directory):
        raise DatasetError(f"dataset directory {directory!r} is not a directory")
    try:
        with os.scandir(directory) as entries:
            return sorted(
                entry.name
                for entry in entries
                if is_class_folder_name(entry.name) and _is_directory(entry, True)
            )
    except OSError as error:
        raise DatasetError(
            f"dataset directory {directory!r} cannot be listed: {error.strerror or error}"
        ) from error


def list_audio_files(
    directory: str,
    folder: str = "",
    *,
    extensions: tuple[str, ...] = AUDIO_EXTENSIONS,
    follow_links: bool = False,
    recursive: bool = True,
    unlistable: list[tuple[str, str]] | None = None,
    others: list[str] | None = None,
) -> list[str]:
    """Return the audio files of one folder, relative to ``directory``, sorted.

    One ``os.scandir`` per folder; ``DirEntry.is_dir``/``is_file`` use the type the directory
    listing already returned, so only symlinks and, with ``follow_links``, directories cost a
    ``stat``.

    Parameters
    ----------
    directory : str
        The folder paths are relative to.
    folder : str, optional
        The sub-folder to list, relative to ``directory`` with ``/`` separators; ``""`` lists
        ``directory`` itself. It is entered even when it is a symlink.
    extensions : tuple of str, optional
        Accepted extensions, lower-case and without the dot.
    follow_links : bool, optional
        Whether to enter symlinks to folders found inside ``folder``. Each folder is entered
        at most once, so symlink loops end.
    recursive : bool, optional
        Whether to list sub-folders too.
    unlistable : list, optional
        Where a sub-folder that cannot be listed is recorded, as ``("<relative folder>/",
        reason)``, and left out. Without it such a folder raises DatasetError.
    others : list, optional
        Where the other files that are not hidden are appended (relative paths): those
        without an accepted extension.

    Returns
    -------
    list of str
        Relative paths with ``/`` separators, in code-point order. Regular files, symlinks to
        them, and symlinks with an audio extension that lead nowhere (a missing target, a
        loop): those are listed so that reading them reports the broken link, instead of a
        dataset fetched without its link targets silently losing files. Never FIFOs, sockets
        or devices, nor links to them: opening a FIFO blocks.

    Raises
    ------
    DatasetError
        A folder cannot be listed and ``unlistable`` is None.
    """
    root = os.path.join(directory, folder) if folder else directory
    visited = set()
    if follow_links:
        key = _directory_key(root)
        if key is not None:
            visited.add(key)
    found: list[str] = []
    stack = [(root, folder)]
    while stack:
        path, relative = stack.pop()
        try:
            with os.scandir(path) as entries:
                # The whole listing first: an error while iterating must not leave half of
                # a folder listed.
                entries = list(entries)
        except OSError as error:
            reason = f"cannot be listed: {error.strerror or error}"
            if unlistable is None:
                raise DatasetError(
                    f"folder {printable_path(relative or '.')!r} of {directory!r} {reason}. Fix "
                    "its permissions, or pass on_error='skip' to leave it out"
                ) from error
            unlistable.append(((relative or ".") + "/", reason))
            continue
        for entry in entries:
            name = entry.name
            if is_hidden(name):
                continue
            entry_relative = f"{relative}/{name}" if relative else name
            if _is_directory(entry, follow_links):
                if not recursive:
                    continue
                if follow_links:
                    key = _directory_key(entry.path)
                    if key is None or key in visited:
                        continue  # a symlink loop, a folder reached twice, or gone meanwhile
                    visited.add(key)
                stack.append((entry.path, entry_relative))
                continue
            # The extension first: only symlinks among the candidates then cost a stat.
            if has_audio_extension(name, extensions):
                if _is_listed_file(entry):
                    found.append(entry_relative)
            elif others is not None and _is_listed_file(entry):
                others.append(entry_relative)
    found.sort()
    if others is not None:
        others.sort()
    return found


def list_dataset_files(
    directory: str | os.PathLike[str],
    *,
    unlistable: list[tuple[str, str]] | None = None,
    others: list[str] | None = None,
) -> list[str]:
    """Return every audio file of a dataset, in class folders or not, relative, sorted.

    The files at the top level, and those of every top-level folder that is not hidden
    (``_background_noise_`` included), each folder listed as the dataset index lists a class
    folder with ``follow_links=False``: a top-level symlink to a folder is entered, symlinks to
    folders below it are not.

    Parameters
    ----------
    directory : str or os.PathLike
        The dataset folder.
    unlistable, others : list, optional
        As for :func:`list_audio_files`.

    Returns
    -------
    list of str
        Relative paths with ``/`` separators, in code-point order.

    Raises
    ------
    DatasetError
        ``directory``, or a folder inside it when ``unlistable`` is None, cannot be listed.
    """
    directory = os.fspath(directory)
    found = list_audio_files(directory, recursive=False, unlistable=unlistable, others=others)
    try:
        with os.scandir(directory) as entries:
            folders = sorted(
                entry.name
                for entry in entries
                if not is_hidden(entry.name) and _is_directory(entry, True)
            )
    except OSError as error:
        raise DatasetError(
            f"dataset directory {directory!r} cannot be listed: {error.strerror or error}"
        ) from error
    for folder in folders:
        found += list_audio_files(directory, folder, unlistable=unlistable, others=others)
    found.sort()
    if others is not None:
        others.sort()
    return found


def _is_directory(entry: os.DirEntry, follow_links: bool) -> bool:
    """Whether an entry is a folder to enter; a symlink that loops is none."""
    try:
        return entry.is_dir(follow_symlinks=follow_links)
    except OSError:  # ELOOP and the like; a missing target already gives False
        return False


def _is_listed_file(entry: os.DirEntry) -> bool:
    """Whether an entry is listed as a file.

    Regular files, symlinks to them, and symlinks that lead nowhere (missing target, loop).
    Never FIFOs, sockets or devices, nor links to them.
    """
    try:
        if entry.is_file():
            return True
    except OSError:
        return True  # a symlink that loops
    if not entry.is_symlink():
        return False
    try:
        os.stat(entry.path)
    except OSError:
        return True  # the target does not exist
    return False


def _directory_key(path: str) -> tuple[int, int] | None:
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_dev, status.st_ino)

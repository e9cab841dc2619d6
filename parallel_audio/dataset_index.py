"""The dataset index: which audio files, of which class, a ``flow_from_directory`` call will serve.

The index is built once per ``flow_from_directory`` call. It lists the class folders, splits
them into training and validation by speaker, caps each class, and adds the ``_unknown_`` and
``_silence_`` pseudo-classes. It reads audio only with ``on_error="skip"``, to leave out the
files that cannot be read. The generator builds its per-epoch shuffled
plans from the result; nothing here shuffles per epoch.

Differences from MLTK's ``ParallelAudioDataGenerator`` (each one deliberate):

- The split hashes the speaker, as the Speech Commands ``which_set`` does, instead of cutting
  each class's file list at a position. So one speaker never lands on both sides, and adding
  files never moves existing files from one side to the other.
- Pseudo-class sizes are relative to the *smallest* real class, as the reference's documentation
  says (its code uses the mean and truncates).
- Nothing is ever written into the dataset folder. Shuffle index files go only under
  ``shuffle_index_dir``, are written atomically, and are rebuilt when files were added or removed.
- All randomness is seeded; there is no global random state.
"""

from __future__ import annotations

import hashlib
import logging
import math
import os
import stat
import tempfile
import warnings
from collections.abc import Callable, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass

import numpy as np

from parallel_audio.audio_io import Region, check_audio, check_resampled_length
from parallel_audio.errors import (
    AudioFileError,
    DatasetError,
    SettingsError,
    SkippedFilesWarning,
    printable_path,
)
from parallel_audio.listing import (
    AUDIO_EXTENSIONS,
    class_folders,
    is_class_folder_name,
    list_audio_files,
)
from parallel_audio.random_streams import Stream, random_generator
from parallel_audio.splits import SplitSpec
from parallel_audio.splits import group_fraction as _group_fraction  # noqa: F401 - window_index

__all__ = [
    "SILENCE_CLASS",
    "UNKNOWN_CLASS",
    "WHITE_LIST_FORMATS",
    "DatasetError",
    "DatasetIndex",
    "ON_ERROR_MODES",
    "build_index",
    "speaker_group",
]

_logger = logging.getLogger(__name__)

# The reference's name for the accepted extensions; the listing module defines them.
WHITE_LIST_FORMATS: tuple[str, ...] = AUDIO_EXTENSIONS
UNKNOWN_CLASS = "_unknown_"
SILENCE_CLASS = "_silence_"
PSEUDO_CLASSES = (UNKNOWN_CLASS, SILENCE_CLASS)
ON_ERROR_MODES = ("raise", "skip")

# Shuffle index files live at <shuffle_index_dir>/.index/<class>.txt, where the reference
# writes them, so an order the reference wrote is reused when the files are the same.
_INDEX_SUBFOLDER = ".index"
_NOHASH = "_nohash_"
# With on_error="skip", a progress bar appears (on a terminal) from this many files to check:
# decoding takes about 0.1 ms per second of 16-bit audio from a warm cache, so smaller
# datasets are checked before a bar would be worth drawing.
_PROGRESS_MIN_FILES = 2000
# Skipped files the warning names; the index lists them all.
_WARNING_NAMES = 5

#: Checks files for on_error="skip" instead of decoding them here: given file names relative
#: to the directory, returns each one's problem (None: readable). A disk cache passes its own,
#: which decodes the files into the cache, in its workers.
FileCheck = Callable[[Sequence[str]], Mapping[str, "str | None"]]

ListFunction = Callable[
    [str, str, tuple[str, ...], tuple[float, float], bool, "str | None"],
    tuple[str, Sequence[str]],
]


@dataclass(frozen=True, eq=False)
class DatasetIndex:
    """The samples of one ``flow_from_directory`` call: a file (or silence) and a class each.

    Parameters
    ----------
    directory : str
        The dataset folder; ``filenames`` are relative to it.
    class_names : tuple of str
        The ``classes`` argument, in order; a class id is a position in this tuple.
    filenames : tuple of (str or None)
        Path of each sample relative to ``directory`` with ``/`` separators, or None for a
        ``_silence_`` sample.
    class_ids : numpy.ndarray
        int32 array of shape ``(len(filenames),)``, the class id of each sample. Stored read-only.
    skipped : tuple of (str, str), optional
        With ``on_error="skip"``: each file left out because it cannot be read, and each
        folder left out because it cannot be listed (its path ends with ``/``), relative to
        ``directory``, with the reason. Sorted by path.
    regions : numpy.ndarray, optional
        float64 array of shape ``(len(filenames), 2)``: the span of each file the sample
        is, as (start, end) seconds; a row whose start is NaN is the whole file, an end of
        NaN is the file's end. None: every sample is its whole file.
    label_rows : numpy.ndarray, optional
        float32 array of shape ``(len(filenames), k)`` or ``(len(filenames),)``: each
        sample's label row when labels are not one class id (multi-hot rows, or the values of
        regression targets). None: labels come from ``class_ids``.
    weights : numpy.ndarray, optional
        float32 array of shape ``(len(filenames),)``: each sample's weight, finite and >= 0.
    groups : tuple of (str or None), optional
        The group of each sample (speaker, session, recording) that a split keeps on one
        side; None for generated samples (``_silence_``).
    clip_ids : numpy.ndarray, optional
        int64 array of shape ``(len(filenames),)``: for samples held in memory (``flow``),
        the clip of the iterator's :class:`~parallel_audio.clip_store.ClipStore` each sample
        is; ``filenames`` then only name them.
    target_filenames : tuple of str, optional
        For audio pairs (class mode "audio"): each sample's target file, relative to
        ``directory``.

    Notes
    -----
    ``flow_from_directory`` groups samples by class in ``class_names`` order; within a class
    they keep the order :func:`build_index` documents. A class id of -1 is a sample without
    a single class (an unlabeled sample, or a multi-hot row). Two indexes compare by
    identity (``eq=False``): compare ``filenames`` and ``class_ids`` to compare contents.

    Examples
    --------
    >>> index = DatasetIndex("data", ("yes", "_silence_"), ("yes/a.wav", None), np.array([0, 1]))
    >>> index.counts()
    {'yes': 1, '_silence_': 1}
    """

    directory: str
    class_names: tuple[str, ...]
    filenames: tuple[str | None, ...]
    class_ids: np.ndarray
    skipped: tuple[tuple[str, str], ...] = ()
    regions: np.ndarray | None = None
    label_rows: np.ndarray | None = None
    weights: np.ndarray | None = None
    groups: tuple[str | None, ...] | None = None
    clip_ids: np.ndarray | None = None
    target_filenames: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        class_names = tuple(self.class_names)
        filenames = tuple(self.filenames)
        count = len(filenames)
        class_ids = np.array(self.class_ids, dtype=np.int32, copy=True).reshape(-1)
        if class_ids.shape[0] != count:
            raise ValueError(
                f"class_ids has {class_ids.shape[0]} entries but filenames has {count}; "
                "they must have one entry per sample"
            )
        if class_ids.size and (class_ids.min() < -1 or class_ids.max() >= len(class_names)):
            raise ValueError(
                f"class_ids must lie in [0, {len(class_names)}) for {len(class_names)} classes "
                f"(or be -1: no single class), got values in [{class_ids.min()}, "
                f"{class_ids.max()}]"
            )
        class_ids.setflags(write=False)
        object.__setattr__(self, "directory", os.fspath(self.directory))
        object.__setattr__(self, "class_names", class_names)
        object.__setattr__(self, "filenames", filenames)
        object.__setattr__(self, "class_ids", class_ids)
        object.__setattr__(self, "skipped", tuple((str(p), str(r)) for p, r in self.skipped))
        object.__setattr__(
            self, "regions", _per_sample("regions", self.regions, np.float64, count, 2)
        )
        object.__setattr__(
            self,
            "label_rows",
            _per_sample("label_rows", self.label_rows, np.float32, count, (1, 2)),
        )
        object.__setattr__(
            self, "weights", _per_sample("weights", self.weights, np.float32, count, 1)
        )
        object.__setattr__(
            self, "clip_ids", _per_sample("clip_ids", self.clip_ids, np.int64, count, 1)
        )
        if self.target_filenames is not None:
            targets = tuple(self.target_filenames)
            if len(targets) != count:
                raise ValueError(f"target_filenames has {len(targets)} entries for {count} samples")
            object.__setattr__(self, "target_filenames", targets)
        if self.groups is not None:
            groups = tuple(self.groups)
            if len(groups) != count:
                raise ValueError(f"groups has {len(groups)} entries for {count} samples")
            object.__setattr__(self, "groups", groups)

    def __len__(self) -> int:
        return len(self.filenames)

    def __repr__(self) -> str:
        counts = ", ".join(f"{name}={count}" for name, count in self.counts().items())
        return f"DatasetIndex(directory={self.directory!r}, num_samples={len(self)}, {counts})"

    @property
    def num_classes(self) -> int:
        """Number of classes, pseudo-classes included."""
        return len(self.class_names)

    def counts(self) -> dict[str, int]:
        """Return the number of samples of each class.

        Returns
        -------
        dict of str to int
            ``{class_name: number_of_samples}`` for every class, in ``class_names`` order.
        """
        rows = self.label_rows
        if rows is not None and rows.ndim == 2 and rows.shape[1] == len(self.class_names):
            # Multi-hot rows: a sample counts once for every class it holds.
            counts = np.count_nonzero(rows, axis=0)
        else:
            labelled = self.class_ids[self.class_ids >= 0]
            counts = np.bincount(labelled, minlength=len(self.class_names))
        return {name: int(count) for name, count in zip(self.class_names, counts, strict=True)}

    def region(self, i: int) -> Region | None:
        """Return the region of the file sample ``i`` is, or None for the whole file.

        Parameters
        ----------
        i : int
            Sample position, ``0 <= i < len(self)``.

        Returns
        -------
        Region or None
        """
        if self.regions is None or math.isnan(self.regions[i, 0]):
            return None
        start, end = self.regions[i]
        return Region(float(start), None if math.isnan(end) else float(end))

    def path(self, i: int) -> str | None:
        """Return the full path of sample ``i``, or None for a ``_silence_`` sample.

        Parameters
        ----------
        i : int
            Sample position, ``0 <= i < len(self)``.

        Returns
        -------
        str or None
            ``directory`` joined with the sample's relative path.
        """
        filename = self.filenames[i]
        return None if filename is None else os.path.join(self.directory, filename)


def _per_sample(
    name: str, values: np.ndarray | None, dtype: type, count: int, ndim: int | tuple[int, ...]
) -> np.ndarray | None:
    """Return a per-sample array as a read-only copy, checking its first dimension."""
    if values is None:
        return None
    array = np.array(values, dtype=dtype, copy=True)
    allowed = (ndim,) if isinstance(ndim, int) else ndim
    if array.ndim not in allowed or array.shape[0] != count:
        raise ValueError(
            f"{name} must have {ndim} dimensions and one row per sample ({count}), got shape "
            f"{array.shape}"
        )
    array.setflags(write=False)
    return array


def speaker_group(filename: str) -> str:
    """Return the group a file belongs to for the training/validation split.

    Parameters
    ----------
    filename : str
        A file name or a path (only its last component counts).

    Returns
    -------
    str
        For ``<speaker>_nohash_<n>.<ext>``, the speaker (the part before the first
        ``_nohash_``); for any other file, its stem (the name without its last extension).

    Examples
    --------
    >>> speaker_group("yes/0a7c2a8d_nohash_1.wav")
    '0a7c2a8d'
    >>> speaker_group("clips/take_3.flac")
    'take_3'
    """
    name = filename.rsplit("/", 1)[-1].rsplit(os.sep, 1)[-1]
    speaker, found, _ = name.partition(_NOHASH)
    if found:
        return speaker
    stem, dot, _ = name.rpartition(".")
    return stem if dot and stem else name


def build_index(
    directory: str | os.PathLike[str],
    classes: Sequence[str],
    *,
    subset: str | None = None,
    validation_split: float = 0.0,
    seed: int = 0,
    follow_links: bool = False,
    max_samples_per_class: int = -1,
    unknown_class_percentage: float = 1.0,
    silence_class_percentage: float = 0.6,
    shuffle_index_dir: str | os.PathLike[str] | None = None,
    list_valid_filenames_in_directory_function: ListFunction | None = None,
    class_counts: MutableMapping[str, int] | None = None,
    white_list_formats: Iterable[str] = WHITE_LIST_FORMATS,
    on_error: str = "raise",
    sample_rate_hz: int | None = None,
    test_split: float = 0.0,
    fold: int | None = None,
    num_folds: int | None = None,
    fold_strategy: str = "hash",
    fold_seed: int | None = None,
    file_check: FileCheck | None = None,
) -> DatasetIndex:
    """List a dataset folder into the samples of one subset.

    ``directory`` holds one sub-folder per class. Each listed real class's folder is searched
    recursively for audio files, the files are split into training and validation by speaker,
    each class is capped at ``max_samples_per_class``, and the pseudo-classes ``_unknown_`` and
    ``_silence_`` are added where ``classes`` lists them. Nothing is read from the audio files and
    nothing is written into ``directory``.

    Parameters
    ----------
    directory : str or os.PathLike
        The dataset folder. Its sub-folders whose names start with ``_``, ``.`` or ``~`` (for
        instance ``_background_noise_``) are never classes and never feed ``_unknown_``.
    classes : sequence of str
        Class names in class-id order: folder names of ``directory``, plus optionally
        ``"_unknown_"`` and ``"_silence_"``. At least one real class, no duplicates.
    subset : {None, "training", "validation", "test"}, optional
        Which side of the split to list; None lists every file (the test subset included).
    validation_split : float, optional
        Fraction of speakers in the validation subset, in [0, 1). Must be above 0 when
        ``subset`` is given. A file ``<speaker>_nohash_<n>.<ext>`` belongs to group
        ``<speaker>``; any other file is a group of its own, named by its stem. A group is in
        validation when the first 64 bits of the sha1 of its UTF-8 name, read as a fraction of
        2**64, fall below ``validation_split``. So a speaker is never on both sides, the split
        does not depend on ``seed``, and adding files never moves existing ones; the validation
        fraction is close to ``validation_split`` when there are many groups.
    seed : int, optional
        Seed (>= 0) of the shuffle index order and of the ``_unknown_`` draw. The split does not
        depend on it.
    follow_links : bool, optional
        Whether to enter symbolic links to directories inside class folders. Each directory is
        entered at most once, so symlink loops end. A class folder that is itself a symlink is
        always entered; symlinks to files are always files. A symlink with an audio extension
        that leads nowhere (its target is missing, or it loops) is listed like a file, so that
        ``on_error`` decides: reading it raises an error naming the link and its target, or it
        is skipped. Symlinks to FIFOs, sockets and devices are never listed (reading a FIFO
        would block).
    max_samples_per_class : int, optional
        -1 keeps every file; a positive N keeps the first N files of each real class's subset,
        in the order described under Returns.
    unknown_class_percentage : float, optional
        Size of ``_unknown_`` (>= 0) as a fraction of the smallest real class (after the split
        and the cap), rounded half up, and at least 1 when the fraction is above 0. The files
        are drawn without replacement from the same subset of the class folders ``classes``
        does not list, from the random stream ``Stream.UNKNOWN_DRAW`` of ``seed``; if fewer
        exist, all are used and a warning says so.
    silence_class_percentage : float, optional
        Size of ``_silence_`` (>= 0), computed as for ``_unknown_``; its samples have filename
        None.
    shuffle_index_dir : str or os.PathLike, optional
        If given, the files of each class are kept in a seeded random order (sorted by the sha1
        of seed and path), stored as ``<shuffle_index_dir>/.index/<class>.txt``, one path
        relative to ``directory`` per line, UTF-8. The file is written atomically (temporary
        file, then ``os.replace``) and reused on later runs while it lists exactly the class's
        current files, so it fixes which files ``max_samples_per_class`` keeps; when files were
        added or removed it is rebuilt. Delete it to reshuffle with a new seed. If it cannot be
        written, a warning is issued and the order is used without being stored. It is read
        only when it is a regular file no larger than the class's paths one per line: anything
        else at its path (a FIFO, a link to a device such as ``/dev/zero``) is replaced, with
        a warning, and never read.
    list_valid_filenames_in_directory_function : callable, optional
        Replaces the listing of each class folder (listed and unlisted), called by keyword
        as the reference does, ``fn(base_directory=, search_class=, white_list_formats=,
        split=, follow_links=, shuffle_index_directory=)``, and returning
        ``(search_class, filenames)`` with ``filenames`` relative to ``base_directory``
        (``"yes/abc.wav"``). ``split`` is ``(0, validation_split)`` for validation,
        ``(validation_split, 1)`` for training and None for ``subset=None`` (the reference's
        values); ``white_list_formats`` is a tuple of lower-case
        extensions without the dot. The returned files are taken, in their order, as that
        subset's files: they are not split, filtered or sorted again, only capped.
    class_counts : dict, optional
        If given, updated with ``{class_name: number_of_samples}`` for every class in
        ``classes``, pseudo-classes included, as the reference does.
    white_list_formats : iterable of str, optional
        Accepted file extensions, compared case-insensitively, with or without the leading dot.
    on_error : {"raise", "skip"}, optional
        What a file that cannot be used does. "raise" (default): files are listed without
        being opened; reading one that cannot be read raises :class:`AudioFileError` when the
        batch that holds it is built; a folder that cannot be listed (permissions) raises a
        DatasetError here. "skip": every file the index would hold is decoded once, here,
        exactly as the pipeline will read it (the same checks: it opens, holds at least one
        sample, every value is finite, its sample rate is plausible), about 0.1 ms per second
        of 16-bit audio from a warm disk cache, with a progress bar on a terminal from
        2000 files; files that fail are left out and replaced by the next readable file of
        their class (up to ``max_samples_per_class``) or, for ``_unknown_``, by further
        seeded draws; folders that cannot be listed are left out. One
        :class:`~parallel_audio.errors.SkippedFilesWarning` gives the count and the first few
        names, and ``DatasetIndex.skipped`` lists them all with the reason. Files beyond the
        cap and ``_unknown_`` candidates not drawn are not read. When nothing is skipped the
        index equals the one "raise" gives. A file that becomes unreadable after the check
        still raises when its batch is built.
    sample_rate_hz : int, optional
        The rate the pipeline reads files at; with "skip", a file whose rate is so low that
        resampling it up would exceed the reader's bound is skipped too.
    test_split : float, optional
        Fraction of groups held out for ``subset="test"``, in [0, 1): a group is a test group
        when its hash fraction (as for ``validation_split``) is at least ``1 - test_split``.
        Test groups are in neither training nor validation (nor any fold), and
        ``validation_split`` keeps its meaning; the two must add up to less than 1.
    fold, num_folds : int, optional
        Grouped k-fold: ``subset="validation"`` lists fold ``fold`` of ``num_folds`` (in
        ``[0, num_folds)``), ``"training"`` the other folds, over the same groups as
        ``validation_split`` (which must then be 0). Given together or not at all.
    fold_strategy : {"hash", "balanced", "stratified"}, optional
        How groups are dealt to folds, see :mod:`parallel_audio.splits`: by their hash
        (fold 0 of 5 is ``validation_split=0.2``'s validation set, and adding files moves no
        group), to the fold with the fewest files (scikit-learn's ``GroupKFold``), or
        keeping each fold's class shares close to the dataset's (``StratifiedGroupKFold``).
        The last two deal the groups of the listed classes' files; a group found only among
        ``_unknown_``'s candidates falls by its hash.
    fold_seed : int, optional
        Varies the partition into folds (>= 0); None is the default partition. The test
        groups do not depend on it.
    file_check : callable, optional
        With "skip": checks many files at once instead of decoding them one by one here,
        ``file_check(names) -> {name: problem or None}`` (a disk cache passes its own, which
        decodes them into the cache in its workers, so that each file is decoded once).

    Returns
    -------
    DatasetIndex
        Samples grouped by class in ``classes`` order. Within a real class: sorted by relative
        path (code-point order), or in the shuffle index order when ``shuffle_index_dir`` is
        given, or in the custom function's order. ``_unknown_`` files follow the sorted order
        of the unlisted classes' files; ``_silence_`` entries are None.

    Raises
    ------
    DatasetError
        (a ``ValueError``) When ``directory`` is missing or cannot be listed, a class folder is
        missing or holds no audio file, a class has no file in the requested subset or fold
        (named), there are fewer groups than folds, ``fold`` comes without ``num_folds``,
        ``validation_split`` with ``num_folds``, a class has no file in the requested subset (with
        ``on_error="skip"``: no readable file), a folder cannot be listed and ``on_error`` is
        "raise", ``_unknown_`` has no unlisted class folder to draw from, or an argument is out
        of range.
    SettingsError
        (a ``ValueError``) When ``on_error`` is neither "raise" nor "skip".
    TypeError
        When an argument has the wrong type, such as ``classes`` given as one string.

    Notes
    -----
    Hidden files and folders (names starting with ``.``, such as macOS ``._x.wav`` resource
    forks) inside class folders are skipped. File and folder names may hold any character,
    spaces and bytes that are not UTF-8 included (they reach Python as ``os.fsdecode`` gives
    them).

    Examples
    --------
    >>> index = build_index("data", ["yes", "no", "_unknown_", "_silence_"],
    ...                     subset="training", validation_split=0.1, seed=42)  # doctest: +SKIP
    >>> index.counts()  # doctest: +SKIP
    {'yes': 3228, 'no': 3130, '_unknown_': 3130, '_silence_': 1878}
    """
    directory = os.fspath(directory)
    class_names = _check_classes(classes)
    formats = _check_formats(white_list_formats)
    split = SplitSpec(
        subset=subset,
        validation_split=validation_split,
        test_split=test_split,
        fold=fold,
        num_folds=num_folds,
        fold_strategy=fold_strategy,
        fold_seed=fold_seed,
    )
    seed = _check_seed(seed)
    max_samples_per_class = _check_max_samples(max_samples_per_class)
    unknown_class_percentage = _check_percentage(
        "unknown_class_percentage", unknown_class_percentage
    )
    silence_class_percentage = _check_percentage(
        "silence_class_percentage", silence_class_percentage
    )
    if shuffle_index_dir is not None:
        shuffle_index_dir = os.fspath(shuffle_index_dir)
    on_error = _check_on_error(on_error)
    list_function = list_valid_filenames_in_directory_function
    if list_function is not None and not callable(list_function):
        raise TypeError(
            "list_valid_filenames_in_directory_function must be callable or None, "
            f"got {type(list_function).__name__}"
        )

    folders = class_folders(directory)
    real_classes = [name for name in class_names if name not in PSEUDO_CLASSES]
    _check_folders_exist(directory, real_classes, folders)
    unlisted = sorted(name for name in folders if name not in class_names)
    if UNKNOWN_CLASS in class_names and not unlisted:
        raise DatasetError(
            f"'{UNKNOWN_CLASS}' is drawn from class folders that `classes` does not list, but "
            f"every class folder of {directory!r} is listed ({_names(folders)}); add folders of "
            f"other words to the dataset or remove '{UNKNOWN_CLASS}' from `classes`"
        )

    # Folders that cannot be listed: with "skip" they are recorded here, with "raise" the
    # listing raises at the first one.
    unlistable: list[tuple[str, str]] | None = [] if on_error == "skip" else None

    # A custom listing function splits by itself when the split can be described to it (the
    # reference's (start, end) fractions); otherwise it lists every file and the index splits.
    function_splits = list_function is not None and split.reference_split is not None

    def list_class(name: str, *, listed: bool) -> list[str]:
        if list_function is not None:
            # As the reference: no subset, no split (Speech Commands' own function needs None).
            return _call_list_function(
                list_function,
                directory,
                name,
                formats,
                split.reference_split,
                follow_links,
                shuffle_index_dir,
            )
        files = list_audio_files(
            directory, name, extensions=formats, follow_links=follow_links, unlistable=unlistable
        )
        if listed and not files:
            raise DatasetError(
                _empty_folder_message(directory, name, formats, follow_links, unlistable)
            )
        if listed and shuffle_index_dir is not None:
            files = _shuffle_index_order(files, name, shuffle_index_dir, seed)
        return files

    all_listed = {name: list_class(name, listed=True) for name in real_classes}
    side = None
    if split.is_split and not function_splits:
        groups = [speaker_group(path) for files in all_listed.values() for path in files]
        labels = [
            class_id
            for class_id, files in enumerate(all_listed.get(n, []) for n in class_names)
            for _ in files
        ]
        side = split.side_function(groups, labels)

    def select(files: list[str]) -> list[str]:
        if side is None:
            return files
        return [path for path in files if side(speaker_group(path)) == subset]

    listed_files: dict[str, list[str]] = {}
    for name in real_classes:
        files = select(all_listed[name])
        if not files:
            cause = (
                "list_valid_filenames_in_directory_function returned no file"
                if list_function is not None and (function_splits or not all_listed[name])
                else "its speakers all fall on other sides of the split. Add files from more "
                "speakers, change the split, or remove the class"
            )
            raise DatasetError(
                f"class {name!r} has no file in the {subset or 'whole'} subset "
                f"({split.describe()}): {cause}"
            )
        listed_files[name] = files
    unlisted_files = (
        [select(list_class(name, listed=False)) for name in unlisted]
        if UNKNOWN_CLASS in class_names
        else []
    )

    checker = None
    if on_error == "skip":
        to_check = sum(
            len(files) if max_samples_per_class < 0 else min(len(files), max_samples_per_class)
            for files in listed_files.values()
        )
        checker = _FileChecker(
            directory, expected=to_check, sample_rate_hz=sample_rate_hz, file_check=file_check
        )
    samples: dict[str, list[str] | list[None]] = {}
    try:
        for name, files in listed_files.items():
            if checker is None:
                if max_samples_per_class > 0:
                    files = files[:max_samples_per_class]
            else:
                kept = checker.keep(files, max_samples_per_class)
                if not kept:
                    raise DatasetError(
                        f"no file of class {name!r} in the {subset or 'whole'} subset can be "
                        f"read ({len(files)} tried, on_error='skip'); for instance "
                        f"{checker.describe(files[:3])}"
                    )
                files = kept
            samples[name] = files
        smallest = min(len(files) for files in samples.values())
        unknown_shortfall = ""
        if UNKNOWN_CLASS in class_names:
            target = _pseudo_count(unknown_class_percentage, smallest)
            pool: list[str] = []
            for files in unlisted_files:
                # An unlisted folder without audio files (docs, say) simply adds nothing.
                pool.extend(files)
            if list_function is None:
                pool.sort()  # one order for the whole pool, whatever the folder names
            if target > 0 and not pool:
                raise DatasetError(
                    f"'{UNKNOWN_CLASS}' is drawn from the unlisted class folders "
                    f"({_names(unlisted)}) but none of them has an audio file in the "
                    f"{subset or 'whole'} subset"
                )
            if target > len(pool):
                warnings.warn(
                    f"'{UNKNOWN_CLASS}' asks for {target} samples ({unknown_class_percentage} x "
                    f"{smallest}) but the unlisted class folders hold only {len(pool)} files in "
                    f"the {subset or 'whole'} subset; using all of them",
                    stacklevel=2,
                )
                target = len(pool)
            rng = random_generator(Stream.UNKNOWN_DRAW, seed)
            chosen = rng.choice(len(pool), size=target, replace=False)
            if checker is not None:
                checker.expect(target)
                chosen = _draw_readable(pool, chosen, rng, checker)
                if len(chosen) < target:
                    unknown_shortfall = (
                        f"; '{UNKNOWN_CLASS}' has only {len(chosen)} of the {target} samples "
                        "asked, as no more unlisted files are readable"
                    )
            samples[UNKNOWN_CLASS] = [pool[i] for i in np.sort(chosen)]
    finally:
        if checker is not None:
            checker.close()
    if SILENCE_CLASS in class_names:
        samples[SILENCE_CLASS] = [None] * _pseudo_count(silence_class_percentage, smallest)

    filenames: list[str | None] = []
    class_ids = np.empty(sum(len(files) for files in samples.values()), dtype=np.int32)
    for class_id, name in enumerate(class_names):
        start = len(filenames)
        filenames.extend(samples[name])
        class_ids[start : len(filenames)] = class_id
    skipped: list[tuple[str, str]] = []
    if checker is not None:
        skipped = sorted([*checker.skipped, *(unlistable or [])])
        if skipped:
            _warn_skipped(directory, checker, unlistable or [], unknown_shortfall)
    groups = tuple(None if name is None else speaker_group(name) for name in filenames)
    index = DatasetIndex(
        directory, class_names, tuple(filenames), class_ids, tuple(skipped), groups=groups
    )
    if class_counts is not None:
        class_counts.update(index.counts())
    return index


# ----------------------------------------------------------------------------- argument checks


def _check_classes(classes: Sequence[str]) -> tuple[str, ...]:
    if isinstance(classes, (str, bytes)) or not isinstance(classes, Iterable):
        raise TypeError(
            f"classes must be a list of class names such as ['yes', 'no', '_unknown_'], "
            f"got {classes!r}"
        )
    names = tuple(classes)
    if not names:
        raise DatasetError("classes is empty; list at least one class folder name")
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"class names must be str, got {name!r} ({type(name).__name__})")
        if name in PSEUDO_CLASSES:
            continue
        if not name or name in (".", "..") or "/" in name or os.sep in name:
            raise DatasetError(
                f"class name {name!r} is not a folder name; each class is one sub-folder of the "
                "dataset directory"
            )
        if not is_class_folder_name(name):
            raise DatasetError(
                f"class name {name!r} starts with {name[0]!r}: such folders (for instance "
                f"_background_noise_) are never classes; the only allowed '_' names are "
                f"{PSEUDO_CLASSES}"
            )
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DatasetError(f"classes lists {_names(duplicates)} more than once: {list(names)}")
    if all(name in PSEUDO_CLASSES for name in names):
        raise DatasetError(
            f"classes {list(names)} holds no real class; '{UNKNOWN_CLASS}' and "
            f"'{SILENCE_CLASS}' are sized relative to the smallest real class, so list at least "
            "one class folder"
        )
    return names


def _check_formats(white_list_formats: Iterable[str]) -> tuple[str, ...]:
    if isinstance(white_list_formats, str):
        white_list_formats = (white_list_formats,)  # the reference's own default is 'wav'
    formats = []
    for extension in white_list_formats:
        if not isinstance(extension, str) or not extension.strip(". "):
            raise DatasetError(
                f"white_list_formats must hold file extensions such as 'wav', got {extension!r}"
            )
        formats.append(extension.strip().lstrip(".").lower())
    if not formats:
        raise DatasetError(
            f"white_list_formats is empty; give extensions such as {WHITE_LIST_FORMATS[:4]}"
        )
    return tuple(dict.fromkeys(formats))


def _check_seed(seed: int) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(
            f"seed must be an int >= 0, got {seed!r}; the generator resolves seed=None to a "
            "fresh int before building the index"
        )
    if seed < 0:
        raise DatasetError(f"seed must be >= 0, got {seed}")
    return int(seed)


def _check_max_samples(max_samples_per_class: int) -> int:
    if isinstance(max_samples_per_class, bool) or not isinstance(
        max_samples_per_class, (int, np.integer)
    ):
        raise TypeError(
            f"max_samples_per_class must be an int (-1 for all), got {max_samples_per_class!r}"
        )
    if max_samples_per_class != -1 and max_samples_per_class < 1:
        raise DatasetError(
            f"max_samples_per_class must be -1 (all files) or >= 1, got {max_samples_per_class}"
        )
    return int(max_samples_per_class)


def _check_percentage(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a float >= 0, got {value!r}")
    if not math.isfinite(value) or value < 0:
        raise DatasetError(f"{name} must be a finite float >= 0, got {value}")
    return float(value)


def _check_on_error(on_error: str) -> str:
    if not (isinstance(on_error, str) and on_error in ON_ERROR_MODES):
        error = SettingsError if isinstance(on_error, str) else TypeError
        raise error(
            f"on_error must be one of {', '.join(repr(m) for m in ON_ERROR_MODES)}, got "
            f"{on_error!r}: 'raise' stops at the first file that cannot be read, 'skip' leaves "
            "such files out with a warning"
        )
    return on_error


def _pseudo_count(percentage: float, smallest: int) -> int:
    """Round half up (not Python's half-to-even), and keep at least one sample when asked."""
    if percentage == 0:
        return 0
    return max(1, math.floor(percentage * smallest + 0.5))


def _names(names: Iterable[str], limit: int = 20) -> str:
    names = list(names)
    if not names:
        return "none"
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


# ----------------------------------------------------------------------------- listing


def _check_folders_exist(directory: str, real_classes: list[str], folders: list[str]) -> None:
    present = set(folders)
    missing = [name for name in real_classes if name not in present]
    if missing:
        raise DatasetError(
            f"no folder for class {_names(missing)} in {directory!r}; its class folders are "
            f"{_names(folders)}"
        )


def _empty_folder_message(
    directory: str,
    class_name: str,
    formats: tuple[str, ...],
    follow_links: bool,
    unlistable: list[tuple[str, str]] | None = None,
) -> str:
    other: dict[str, int] = {}
    for _, _, files in os.walk(os.path.join(directory, class_name), followlinks=False):
        for name in files:
            extension = os.path.splitext(name)[1].lower() or "(none)"
            other[extension] = other.get(extension, 0) + 1
        if len(files) > 10000:
            break  # enough to show what the folder holds
    found = ", ".join(f"{count} x {ext}" for ext, count in sorted(other.items())) or "nothing"
    hint = "" if follow_links else "; symlinked folders are not entered unless follow_links=True"
    prefix = class_name + "/"
    hidden = [path for path, _ in unlistable or () if path.startswith(prefix)]
    if hidden:
        hint += f"; {_names(hidden, 5)} cannot be listed"
    return (
        f"class folder {class_name!r} in {directory!r} holds no audio file with an extension in "
        f"{formats} (found: {found}){hint}. A class with no sample is almost certainly a mistake: "
        "fix the folder or remove the class"
    )


def _call_list_function(
    function: ListFunction,
    directory: str,
    class_name: str,
    formats: tuple[str, ...],
    split: tuple[float, float] | None,
    follow_links: bool,
    shuffle_index_dir: str | None,
) -> list[str]:
    try:
        # By keyword, with the reference's names: functions written for it rely on them.
        result = function(
            base_directory=directory,
            search_class=class_name,
            white_list_formats=formats,
            split=split,
            follow_links=follow_links,
            shuffle_index_directory=shuffle_index_dir,
        )
    except Exception as error:
        if hasattr(error, "add_note"):
            error.add_note(
                f"in list_valid_filenames_in_directory_function for class {class_name!r}"
            )
        raise
    if not (isinstance(result, tuple) and len(result) == 2):
        raise TypeError(
            "list_valid_filenames_in_directory_function must return (search_class, filenames), "
            f"got {type(result).__name__} for class {class_name!r}"
        )
    returned_class, filenames = result
    if returned_class != class_name:
        raise DatasetError(
            f"list_valid_filenames_in_directory_function was asked for class {class_name!r} but "
            f"returned class {returned_class!r}"
        )
    if isinstance(filenames, str) or not isinstance(filenames, Iterable):
        raise TypeError(
            f"list_valid_filenames_in_directory_function returned {type(filenames).__name__} for "
            f"class {class_name!r}; filenames must be a list of paths relative to the directory"
        )
    paths = []
    for path in filenames:
        path = os.fspath(path)
        if not isinstance(path, str):
            raise TypeError(
                f"list_valid_filenames_in_directory_function returned {path!r} for class "
                f"{class_name!r}; filenames must be str"
            )
        paths.append(path.replace("\\", "/"))
    return paths


# ----------------------------------------------------------------------------- on_error="skip"


class _FileChecker:
    """Decodes files for ``on_error="skip"`` and records those that fail, with the reason."""

    def __init__(
        self,
        directory: str,
        *,
        expected: int,
        sample_rate_hz: int | None,
        file_check: FileCheck | None = None,
    ) -> None:
        self.directory = directory
        self.file_check = file_check
        self.sample_rate_hz = sample_rate_hz
        self.skipped: list[tuple[str, str]] = []
        self.num_checked = 0
        # A custom listing may name a file twice, a table a file's region twice.
        self._readable: dict[tuple[str, Region | None], bool] = {}
        self._expected = expected
        self._progress = None

    def expect(self, more: int) -> None:
        """Add ``more`` to the number of files the progress bar expects."""
        self._expected += more
        if self._progress is not None:
            self._progress.total = self._expected
            self._progress.refresh()

    def readable(self, relative: str, region: Region | None = None) -> bool:
        """Decode one file (relative to the directory), or its region; False if it fails.

        A failure is recorded with its reason.
        """
        key = (relative, region)
        known = self._readable.get(key)
        if known is not None:
            return known
        if self.file_check is not None and region is None:
            self.check_ahead([relative])
            return self._readable[key]
        if self._progress is None and self._expected >= _PROGRESS_MIN_FILES:
            from tqdm.auto import tqdm

            # disable=None: drawn on a terminal only, never into a log file.
            self._progress = tqdm(
                total=self._expected, desc="checking audio files", unit="file", disable=None
            )
        try:
            path = os.path.join(self.directory, relative)
            num_frames, file_rate = check_audio(path, region)
            if self.sample_rate_hz is not None:
                check_resampled_length(path, num_frames, file_rate, self.sample_rate_hz)
            readable = True
        except AudioFileError as error:
            self.skipped.append((relative, error.problem))
            readable = False
        self._readable[key] = readable
        self.num_checked += 1
        if self._progress is not None:
            self._progress.update(1)
        return readable

    def check_ahead(self, files: Sequence[str]) -> None:
        """Check whole ``files`` at once through ``file_check``, if given (else one by one).

        Regions of files are checked one by one (``file_check`` decodes whole files).
        """
        if self.file_check is None:
            return
        unknown = list(dict.fromkeys(path for path in files if (path, None) not in self._readable))
        if not unknown:
            return
        problems = self.file_check(unknown)
        for path in unknown:
            problem = problems[path]
            if problem is not None:
                self.skipped.append((path, problem))
            self._readable[(path, None)] = problem is None
            self.num_checked += 1

    def keep(self, files: list[str], limit: int) -> list[str]:
        """Return the readable files among ``files``, in order, at most ``limit`` (-1: all)."""
        self.check_ahead(files if limit < 0 else files[:limit])
        kept = []
        for path in files:
            if self.readable(path):
                kept.append(path)
                if len(kept) == limit:
                    break
        return kept

    def describe(self, files: list[str]) -> str:
        """Return the recorded reasons of some of ``files``, for a message."""
        reasons = dict(self.skipped)
        return "; ".join(
            f"{printable_path(path)!r} {reasons[path]}" for path in files if path in reasons
        )

    def close(self) -> None:
        if self._progress is not None:
            self._progress.close()
            self._progress = None


def _draw_readable(
    pool: Sequence[object],
    chosen: np.ndarray,
    rng: np.random.Generator,
    checker: _FileChecker,
    readable: Callable[[int], bool] | None = None,
    ahead: Callable[[Sequence[int]], None] | None = None,
) -> np.ndarray:
    """Replace the unreadable files of a draw by further draws from the rest of the pool.

    A draw of only readable files is returned unchanged, so skipping changes nothing when
    there is nothing to skip; otherwise the replacements come from the same seeded stream.
    """
    if readable is None:
        readable = lambda i: checker.readable(pool[i])  # noqa: E731
        ahead = lambda indices: checker.check_ahead([pool[i] for i in indices])  # noqa: E731
    elif ahead is None:
        ahead = lambda indices: None  # noqa: E731
    target = len(chosen)
    ahead([int(i) for i in chosen])
    kept = [int(i) for i in chosen if readable(int(i))]
    drawn = np.zeros(len(pool), bool)
    drawn[chosen] = True
    while len(kept) < target:
        remaining = np.flatnonzero(~drawn)
        if remaining.size == 0:
            break
        more = rng.choice(remaining, size=min(target - len(kept), remaining.size), replace=False)
        drawn[more] = True
        checker.expect(len(more))
        ahead([int(i) for i in more])
        kept.extend(int(i) for i in more if readable(int(i)))
    return np.asarray(kept, dtype=np.intp)


def _warn_skipped(
    directory: str,
    checker: _FileChecker,
    unlistable: list[tuple[str, str]],
    unknown_shortfall: str,
) -> None:
    parts = []
    if checker.skipped:
        parts.append(
            f"{len(checker.skipped)} of the {checker.num_checked} files checked, as they "
            "cannot be read"
        )
    if unlistable:
        parts.append(f"{len(unlistable)} folders that cannot be listed")
    listed = sorted([*checker.skipped, *unlistable])
    shown = "; ".join(
        f"{printable_path(path)!r} {reason}" for path, reason in listed[:_WARNING_NAMES]
    )
    more = f"; and {len(listed) - _WARNING_NAMES} more" if len(listed) > _WARNING_NAMES else ""
    message = (
        f"on_error='skip' left out {' and '.join(parts)} in {directory!r}: {shown}{more}"
        f"{unknown_shortfall}. The iterator's skipped_files lists them all with the reason"
    )
    _logger.info("%s", message)
    warnings.warn(SkippedFilesWarning(message), stacklevel=3)


# ----------------------------------------------------------------------------- shuffle index


def _shuffle_index_order(
    files: list[str], class_name: str, shuffle_index_dir: str, seed: int
) -> list[str]:
    """Return ``files`` in the order of the class's shuffle index file, (re)writing it if stale."""
    index_path = os.path.join(shuffle_index_dir, _INDEX_SUBFOLDER, f"{class_name}.txt")
    stored = _read_index_file(index_path, files)
    if stored is not None and len(stored) == len(files) and set(stored) == set(files):
        return stored
    if stored is not None:
        _logger.info("rebuilding %s: the files of class %r changed", index_path, class_name)

    def key(path: str) -> bytes:
        return hashlib.sha1(f"{seed}\0{path}".encode("utf-8", "surrogateescape")).digest()

    # Sorting by a seeded hash is a seeded random permutation that also keeps the relative
    # order of the existing files when files are added.
    order = sorted(files, key=key)
    _write_index_file(index_path, order)
    return order


def _read_index_file(index_path: str, files: list[str]) -> list[str] | None:
    """Read the shuffle index of ``files``, if it is a regular file small enough to list them.

    Whatever sits at the index's path is untrusted (a dataset folder shared or unpacked from
    an archive): a symlink to ``/dev/zero`` would be read forever and a FIFO would block the
    open, so only a regular file no larger than ``files`` listed one per line (CRLF allowed)
    is read. Anything else is rebuilt; None means "no usable index".
    """
    limit = sum(len(path.encode("utf-8", "surrogateescape")) + 2 for path in files)
    # O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer; it changes
    # nothing for a regular file.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        descriptor = os.open(index_path, flags)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        _warn_unreadable_index(index_path, error.strerror or str(error))
        return None
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        _warn_unreadable_index(index_path, "it is not a regular file")
        return None
    with open(descriptor, "rb") as file:
        if status.st_size > limit:
            _logger.info(
                "rebuilding %s: its %d bytes are more than the %d that list the class's files",
                index_path,
                status.st_size,
                limit,
            )
            return None
        try:
            data = file.read(limit + 1)  # the file may have grown since fstat
        except OSError as error:
            _warn_unreadable_index(index_path, error.strerror or str(error))
            return None
    if len(data) > limit:
        return None
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    return [line.rstrip("\r") for line in lines if line.rstrip("\r")]


def _warn_unreadable_index(index_path: str, reason: str) -> None:
    warnings.warn(
        f"cannot read shuffle index {printable_path(index_path)!r} ({reason}); rebuilding it",
        stacklevel=6,
    )


def _write_index_file(index_path: str, order: list[str]) -> None:
    if any("\n" in path or "\r" in path for path in order):
        warnings.warn(
            f"not writing shuffle index {index_path!r}: a file name holds a line break, which a "
            "one-path-per-line file cannot store; the order is still seeded and reproducible",
            stacklevel=5,
        )
        return
    folder = os.path.dirname(index_path)
    temporary = None
    try:
        os.makedirs(folder, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=folder, prefix=os.path.basename(index_path) + ".", suffix=".tmp"
        )
        with open(handle, "w", encoding="utf-8", errors="surrogateescape", newline="\n") as file:
            file.writelines(path + "\n" for path in order)
        os.replace(temporary, index_path)
        temporary = None
    except OSError as error:
        warnings.warn(
            f"cannot write shuffle index {index_path!r} ({error}); using the seeded order "
            "without storing it",
            stacklevel=5,
        )
    finally:
        if temporary is not None:
            try:
                os.unlink(temporary)
            except OSError:
                pass

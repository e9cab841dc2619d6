"""Fixed windows over long recordings, and the labels a window gets from timed events.

Pure numpy: the index builder uses it to cut files into windows, and workers use it to label
each window after its audio was transformed. Labels are computed from the events alone, never
from the audio, and follow the transforms that move time: a speed factor ``s`` maps a time
``t`` to ``t / s``, and the placement of the sped-up clip in the sample shifts every time by
the same amount. Pitch, VTLP, loudness and noise do not move time.

Conventions
-----------
- Times are seconds, relative to a window's start unless said otherwise; an event covers
  ``[onset, offset)``.
- Window ``i`` of a file covers ``[i * hop, i * hop + length)`` samples of the file, at the
  frontend's sample rate.
- The frame grid is the microfrontend's: frame ``k`` covers samples
  ``[k * step, k * step + frame_length)`` of the sample, ``(length - frame_length) // step + 1``
  frames in all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "FRAME_RULES",
    "LABEL_MODES",
    "LAST_WINDOW_MODES",
    "FrameGrid",
    "WindowLabels",
    "clip_and_transform",
    "jittered_start",
    "label_window",
    "merge_events",
    "placement_shift",
    "window_starts",
]

LABEL_MODES = ("majority", "any", "fraction", "frames")
FRAME_RULES = ("center", "any")
LAST_WINDOW_MODES = ("pad", "drop")

# Times this close (in seconds) compare equal: coverage sums of float differences then tie
# where the events tie exactly (a 0.5 s event in two windows is 0.5 s in both).
_TIME_TOLERANCE_S = 1e-9
# A frame-grid position this close (in frames) to a whole frame is on it, for "any" frames.
_GRID_TOLERANCE = 1e-6


def window_starts(
    num_samples: int, window_length: int, hop_length: int, last_window: str = "pad"
) -> np.ndarray:
    """Return the first sample of each window of a file.

    Windows start every ``hop_length`` samples. With ``"drop"`` only windows lying wholly in
    the file are kept. With ``"pad"`` one more window follows when the kept ones leave part of
    the file's tail uncovered (or when the file is shorter than one window): the next window of
    the grid, which extends past the end and is zero-padded. With a hop longer than the window,
    the gaps between windows (the tail's included) stay uncovered in both modes.

    Parameters
    ----------
    num_samples : int
        The file's length in samples, >= 0.
    window_length : int
        Samples per window, >= 1.
    hop_length : int
        Samples between window starts, >= 1.
    last_window : {"pad", "drop"}
        What to do with the tail of the file that no whole window covers.

    Returns
    -------
    numpy.ndarray of int64, shape (num_windows,)

    Examples
    --------
    >>> window_starts(10, 4, 3, "drop")
    array([0, 3, 6])
    >>> window_starts(11, 4, 3, "pad")
    array([0, 3, 6, 9])
    >>> window_starts(3, 4, 3, "pad"), window_starts(3, 4, 3, "drop")
    (array([0]), array([], dtype=int64))
    """
    if window_length < 1 or hop_length < 1:
        raise ValueError(
            f"window_length and hop_length must be >= 1, got {window_length} and {hop_length}"
        )
    if last_window not in LAST_WINDOW_MODES:
        raise ValueError(f"last_window must be 'pad' or 'drop', got {last_window!r}")
    num_samples = int(num_samples)
    if num_samples <= 0:
        return np.zeros(0, np.int64)
    whole = (num_samples - window_length) // hop_length + 1 if num_samples >= window_length else 0
    starts = np.arange(whole, dtype=np.int64) * hop_length
    if last_window == "pad":
        covered_to = int(starts[-1]) + window_length if whole else 0
        next_start = whole * hop_length
        if covered_to < num_samples and next_start < num_samples:
            starts = np.append(starts, np.int64(next_start))
    return starts


def jittered_start(
    start: int, jitter: int, num_samples: int, window_length: int, rng: np.random.Generator
) -> int:
    """Move a window's start by a uniform draw in ``[-jitter, +jitter]`` samples.

    The result never leaves the file: it is clipped to ``[0, max(num_samples - window_length,
    start)]``, so a window that lay wholly in the file still does, and the padded last window
    can only move towards the file (less padding). One draw (``rng.integers``) is taken only
    when ``jitter > 0``.

    Parameters
    ----------
    start : int
        The window's start on the grid, in samples.
    jitter : int
        Largest move in samples, >= 0.
    num_samples, window_length : int
        The file's and the window's length in samples.
    rng : numpy.random.Generator
        The sample's own generator.

    Returns
    -------
    int
    """
    if jitter <= 0:
        return int(start)
    moved = int(start) + int(rng.integers(-jitter, jitter, endpoint=True))
    return min(max(moved, 0), max(num_samples - window_length, int(start)))


def placement_shift(content_length: int, sample_length: int, offset: float) -> int:
    """Where the placement puts a clip's first sample in the sample, in samples.

    The same arithmetic as :func:`parallel_audio.audio_ops.fit_to_length`: a clip shorter than
    the sample gets ``int((sample_length - n) * offset)`` zeros before it (a positive shift);
    a longer one is cropped from ``int((n - sample_length) * offset)`` (a negative shift).

    Parameters
    ----------
    content_length : int
        The clip's length after the speed change (``round(n / speed)``).
    sample_length : int
        The sample's length.
    offset : float
        The sample's drawn ``offset_percentage``, in [0, 1].

    Returns
    -------
    int

    Examples
    --------
    >>> placement_shift(12800, 16000, 0.5), placement_shift(20000, 16000, 0.25)
    (1600, -1000)
    """
    if content_length >= sample_length:
        return -int((content_length - sample_length) * offset)
    return int((sample_length - content_length) * offset)


def merge_events(
    class_ids: np.ndarray, onsets: np.ndarray, offsets: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge the events of each class that overlap or touch into one.

    Parameters
    ----------
    class_ids : numpy.ndarray of int, shape (n,)
    onsets, offsets : numpy.ndarray of float, shape (n,)
        Seconds, ``onset < offset``.

    Returns
    -------
    (class_ids, onsets, offsets)
        The merged events, sorted by class then onset; within a class they are disjoint and
        separated by a gap.

    Examples
    --------
    >>> merge_events(np.array([0, 0, 1]), np.array([0.0, 0.5, 0.2]), np.array([1.0, 1.5, 0.3]))
    (array([0, 1]), array([0. , 0.2]), array([1.5, 0.3]))
    """
    class_ids = np.asarray(class_ids, np.int64).reshape(-1)
    onsets = np.asarray(onsets, np.float64).reshape(-1)
    offsets = np.asarray(offsets, np.float64).reshape(-1)
    if class_ids.size == 0:
        return class_ids, onsets, offsets
    order = np.lexsort((onsets, class_ids))
    class_ids, onsets, offsets = class_ids[order], onsets[order], offsets[order]
    merged_ids, merged_on, merged_off = [class_ids[0]], [onsets[0]], [offsets[0]]
    for class_id, onset, offset in zip(class_ids[1:], onsets[1:], offsets[1:], strict=True):
        if class_id == merged_ids[-1] and onset <= merged_off[-1]:
            merged_off[-1] = max(merged_off[-1], offset)
        else:
            merged_ids.append(class_id)
            merged_on.append(onset)
            merged_off.append(offset)
    return (
        np.array(merged_ids, np.int64),
        np.array(merged_on, np.float64),
        np.array(merged_off, np.float64),
    )


@dataclass(frozen=True)
class FrameGrid:
    """The microfrontend's frames over one sample.

    Parameters
    ----------
    sample_rate : int
        Hz.
    sample_length : int
        Samples per sample (the window length).
    frame_length, frame_step : int
        The frontend's window and step, in samples.

    Examples
    --------
    >>> grid = FrameGrid(16000, 16000, 480, 320)
    >>> grid.num_frames, float(grid.centres[0]), grid.step_seconds
    (49, 0.015, 0.02)
    """

    sample_rate: int
    sample_length: int
    frame_length: int
    frame_step: int

    @property
    def num_frames(self) -> int:
        """Frames per sample: ``(sample_length - frame_length) // frame_step + 1``."""
        return max(0, (self.sample_length - self.frame_length) // self.frame_step + 1)

    @property
    def step_seconds(self) -> float:
        """The step between frames in seconds: the resolution of the ``"any"`` frame rule."""
        return self.frame_step / self.sample_rate

    @property
    def centres(self) -> np.ndarray:
        """Each frame's centre in seconds from the sample's start, shape (num_frames,)."""
        first = np.arange(self.num_frames, dtype=np.float64) * self.frame_step
        return (first + self.frame_length / 2) / self.sample_rate


@dataclass(frozen=True)
class WindowLabels:
    """How windows are labelled from events (everything but the events themselves).

    Parameters
    ----------
    num_classes : int
        Classes, the background class included when there is one.
    mode : {"majority", "any", "fraction", "frames"}
        See :func:`label_window`.
    window_seconds : float
        The window's length.
    min_overlap : float
        In [0, 1]; see :func:`label_window`.
    background_id : int, optional
        The background class's id, or None.
    grid : FrameGrid, optional
        The frame grid; needed with ``"frames"``.
    frame_rule : {"center", "any"}
        Which frames an event marks in ``"frames"`` mode.
    """

    num_classes: int
    mode: str
    window_seconds: float
    min_overlap: float = 0.5
    background_id: int | None = None
    grid: FrameGrid | None = None
    frame_rule: str = "center"

    def __post_init__(self) -> None:
        if self.mode not in LABEL_MODES:
            raise ValueError(f"mode must be one of {LABEL_MODES}, got {self.mode!r}")
        if self.frame_rule not in FRAME_RULES:
            raise ValueError(f"frame_rule must be one of {FRAME_RULES}, got {self.frame_rule!r}")
        if self.mode == "frames" and self.grid is None:
            raise ValueError("mode 'frames' needs the frame grid")
        if self.mode == "majority" and self.background_id is None:
            raise ValueError("mode 'majority' needs a background class")

    @property
    def label_shape(self) -> tuple[int, ...]:
        """The shape of one window's label."""
        if self.mode == "majority":
            return ()
        if self.mode == "frames":
            assert self.grid is not None
            return (self.grid.num_frames, self.num_classes)
        return (self.num_classes,)


def clip_and_transform(
    class_ids: np.ndarray,
    onsets: np.ndarray,
    offsets: np.ndarray,
    *,
    read_start: float,
    read_length: float,
    file_duration: float,
    speed: float = 1.0,
    shift: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """Bring a file's events into a sample's time: clip to what was read, then transform.

    The events are clipped to the audio the window read, ``[read_start, read_start +
    read_length)`` of the file and never past ``file_duration`` (audio that is not in the
    sample cannot carry a label), made relative to ``read_start``, then mapped as the audio
    was: ``t -> t / speed + shift``.

    Parameters
    ----------
    class_ids : numpy.ndarray of int, shape (n,)
    onsets, offsets : numpy.ndarray of float, shape (n,)
        The file's events, in seconds of the file.
    read_start, read_length : float
        The span of the file the window read, in seconds.
    file_duration : float
        The file's length in seconds.
    speed : float
        The sample's speed factor (> 1 plays faster: times shrink).
    shift : float
        Seconds the placement moved the sped-up audio by (:func:`placement_shift` / rate).

    Returns
    -------
    (class_ids, onsets, offsets, durations, valid_end)
        The events that overlap the read span, in the sample's seconds (not yet clipped to
        the sample); each one's whole duration after the speed change (for the ``"any"``
        rule's shorter-of measure); and where the file's audio ends in the sample (``inf``
        when the window read no padding past the file's end).

    Examples
    --------
    >>> clip_and_transform(np.array([3]), np.array([0.5]), np.array([1.5]), read_start=1.0,
    ...                    read_length=1.0, file_duration=3.0, speed=1.25, shift=0.1)
    (array([3]), array([0.1]), array([0.5]), array([0.8]), inf)
    """
    class_ids = np.asarray(class_ids, np.int64)
    onsets = np.asarray(onsets, np.float64)
    offsets = np.asarray(offsets, np.float64)
    read_end = min(read_start + read_length, file_duration)
    clipped_on = np.maximum(onsets, read_start)
    clipped_off = np.minimum(offsets, read_end)
    keep = clipped_off > clipped_on
    durations = (offsets[keep] - onsets[keep]) / speed
    new_on = (clipped_on[keep] - read_start) / speed + shift
    new_off = (clipped_off[keep] - read_start) / speed + shift
    padded = read_start + read_length > file_duration
    valid_end = (file_duration - read_start) / speed + shift if padded else math.inf
    return class_ids[keep], new_on, new_off, durations, valid_end


def _coverage(
    class_ids: np.ndarray, onsets: np.ndarray, offsets: np.ndarray, length: float, num: int
) -> np.ndarray:
    """Seconds of ``[0, length)`` each class's (merged) events cover."""
    overlap = np.clip(np.minimum(offsets, length) - np.maximum(onsets, 0.0), 0.0, None)
    covered = np.bincount(class_ids, weights=overlap, minlength=num)[:num]
    return np.round(covered / _TIME_TOLERANCE_S) * _TIME_TOLERANCE_S


def label_window(
    settings: WindowLabels,
    class_ids: np.ndarray,
    onsets: np.ndarray,
    offsets: np.ndarray,
    durations: np.ndarray | None = None,
    valid_end: float = math.inf,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Label one window from the events it holds.

    The events must be merged per class (:func:`merge_events`) and in the window's time
    (:func:`clip_and_transform`); parts outside ``[0, window_seconds)`` are ignored.

    - ``"majority"``: the class covering the most of the window wins if it covers at least
      ``min_overlap`` of it, otherwise the background class; a tie goes to the lower class id.
      Returns the class id (int64 scalar).
    - ``"any"``: multi-hot; a class is present when one of its events overlaps the window by
      more than ``min_overlap`` times the shorter of the event's duration and the window.
    - ``"fraction"``: each class's covered time over the window's length.
    - ``"frames"``: a ``(num_frames, num_classes)`` multi-hot. ``frame_rule="center"`` marks a
      frame whose centre an event covers (``onset <= centre < offset``); ``"any"`` marks frames
      ``floor(onset / step)`` to ``ceil(offset / step) - 1`` of the grid of frame steps, as
      sed_eval's event roll does; a time within a millionth of a frame of a grid line counts as
      on it (sed_eval's plain division puts 0.29 s at 28.999999999999996 steps of 10 ms and
      marks frame 28 too). Returned with a per-frame weight: 0 for frames whose centre
      lies at or after ``valid_end`` (padding past the file's end), else 1.

    With a background class, in the multi-label modes its column says "no other class": 1 in
    ``"any"`` and ``"frames"`` where no other class is marked, and in ``"fraction"`` the share
    of the window no other class covers.

    Parameters
    ----------
    settings : WindowLabels
    class_ids : numpy.ndarray of int, shape (n,)
    onsets, offsets : numpy.ndarray of float, shape (n,)
        Seconds from the window's start.
    durations : numpy.ndarray of float, shape (n,), optional
        Each event's whole duration (for ``"any"``); default ``offsets - onsets``.
    valid_end : float
        Where the file's audio ends in the window (for the frame weights).

    Returns
    -------
    (label, weights)
        ``weights`` is None except in ``"frames"`` mode (float32, shape (num_frames,)).
        ``label`` is int64 (``"majority"``) or float32.
    """
    s = settings
    class_ids = np.asarray(class_ids, np.int64)
    onsets = np.asarray(onsets, np.float64)
    offsets = np.asarray(offsets, np.float64)
    length = float(s.window_seconds)
    background = s.background_id
    if s.mode == "majority":
        covered = _coverage(class_ids, onsets, offsets, length, s.num_classes)
        if background is not None:
            covered[background] = -1.0  # background is what no event claims
        best = int(np.argmax(covered))  # the first maximum: ties to the lower id
        chosen = best if covered[best] >= s.min_overlap * length - _TIME_TOLERANCE_S else background
        return np.int64(chosen), None
    if s.mode == "fraction":
        covered = _coverage(class_ids, onsets, offsets, length, s.num_classes) / length
        label = np.minimum(covered, 1.0).astype(np.float32)
        if background is not None:
            label[background] = _uncovered_share(class_ids, onsets, offsets, length, background)
        return label, None
    if s.mode == "any":
        if durations is None:
            durations = offsets - onsets
        overlap = np.minimum(offsets, length) - np.maximum(onsets, 0.0)
        needed = s.min_overlap * np.minimum(np.asarray(durations, np.float64), length)
        present = overlap > needed + _TIME_TOLERANCE_S
        label = np.zeros(s.num_classes, np.float32)
        label[class_ids[present]] = 1.0
        if background is not None:
            label[background] = 0.0
            label[background] = float(not label.any())
        return label, None
    return _frame_labels(s, class_ids, onsets, offsets, valid_end)


def _uncovered_share(
    class_ids: np.ndarray, onsets: np.ndarray, offsets: np.ndarray, length: float, background: int
) -> float:
    """Share of ``[0, length)`` that no event of a class other than ``background`` covers."""
    keep = class_ids != background
    on = np.clip(onsets[keep], 0.0, length)
    off = np.clip(offsets[keep], 0.0, length)
    _, on, off = merge_events(np.zeros(on.size, np.int64), on, off)
    covered = float(np.sum(off - on))
    return float(np.float32(max(0.0, length - covered) / length))


def _frame_labels(
    s: WindowLabels,
    class_ids: np.ndarray,
    onsets: np.ndarray,
    offsets: np.ndarray,
    valid_end: float,
) -> tuple[np.ndarray, np.ndarray]:
    grid = s.grid
    assert grid is not None
    num_frames = grid.num_frames
    label = np.zeros((num_frames, s.num_classes), np.float32)
    if s.frame_rule == "center":
        centres = grid.centres
        for class_id, onset, offset in zip(class_ids, onsets, offsets, strict=True):
            label[(centres >= onset) & (centres < offset), class_id] = 1.0
    else:
        step = grid.step_seconds
        for class_id, onset, offset in zip(class_ids, onsets, offsets, strict=True):
            onset, offset = max(onset, 0.0), min(offset, s.window_seconds)
            if offset <= onset:
                continue
            first = math.floor(onset / step + _GRID_TOLERANCE)
            last = math.ceil(offset / step - _GRID_TOLERANCE)
            label[max(first, 0) : min(last, num_frames), class_id] = 1.0
    if s.background_id is not None:
        others = np.delete(label, s.background_id, axis=1)
        label[:, s.background_id] = ~others.any(axis=1)
    weights = (grid.centres < valid_end).astype(np.float32)
    return label, weights

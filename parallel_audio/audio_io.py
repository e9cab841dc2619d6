"""Reading audio files as mono float32 at the frontend's sample rate."""

from __future__ import annotations

import contextlib
import errno
import math
import os
from collections.abc import Callable, Iterator
from typing import NamedTuple

import numpy as np
import soundfile
import soxr

from parallel_audio.errors import AudioFileError
from parallel_audio.file_kind import AUDIO_DATA, BINARY_DATA, HEAD_BYTES, file_kind

#: Sample rates a file may declare, in Hz. Not only audio: sensor signals (a 360 Hz EKG,
#: which the reference trains on) are read too. A rate above 1 MHz is a damaged header.
MIN_FILE_SAMPLE_RATE_HZ = 1
MAX_FILE_SAMPLE_RATE_HZ = 1_000_000

#: Most samples resampling up may produce from one file (512 MiB of float32, 2.3 hours at
#: 16 kHz). A damaged header claiming a tiny rate would otherwise ask for thousands of times
#: the file's size in memory: a 10 MB file said to be at 1 Hz, read at 16 kHz, for 80 GB.
MAX_UPSAMPLED_SAMPLES = 2**27

#: Largest sample magnitude a file may hold. Full scale is 1.0; floats written at an
#: integer scale (up to 2**31) still pass. Larger values come from damaged float data, and
#: near the float32 limit they overflow to infinity in the resampler and in augmentation.
MAX_SAMPLE_MAGNITUDE = 2.0**32

# Values decoded per block (frames x channels): bounds the memory a many-channel file
# needs beyond its mono result, whatever frame count its header claims.
_BLOCK_VALUES = 1 << 20
# Frames read beyond each end of an excerpt that is resampled, so that the resampler's
# filter (soxr HQ: well under 1000 frames at any ratio) sees the excerpt's neighbours.
_RESAMPLER_LEAD_FRAMES = 1024


def read_audio(
    path: str | os.PathLike,
    sample_rate_hz: int,
    *,
    max_length: int | None = None,
    position: float | Callable[[], float] = 0.0,
    region: Region | None = None,
) -> np.ndarray:
    """Read an audio file, or a region of it, as mono float32 at ``sample_rate_hz``.

    Any format libsndfile reads: WAV of 8-bit unsigned, 16/24/32-bit integer or 32/64-bit
    float samples, FLAC, OGG (Vorbis, Opus), MP3 with libsndfile >= 1.1, AIFF, ... Integer
    samples are scaled to [-1, 1) by their full scale (``(v - 128) / 128`` for 8-bit
    unsigned, ``v / 2**23`` for 24-bit, ``v / 2**31`` for 32-bit); float samples are kept as
    they are, even outside [-1, 1] (the frontend clips), up to a magnitude of 2**32.
    Channels are averaged; any other sample rate is resampled with soxr (high quality) to a
    length of ``round(n * sample_rate_hz / file_rate)``, which is 0 for a clip shorter than
    one output sample. A file whose data ends before the length its header declares (a
    truncated copy) gives the samples it holds; bytes after the declared data are ignored.

    With ``max_length``, a file longer than that (at ``sample_rate_hz``) gives an excerpt of
    ``max_length`` samples, starting ``position`` of the way through the file (0: at its
    start, 1: ending at its end), and only that part is decoded, checked and resampled: a
    two-hour file costs what a few seconds do. The excerpt equals the same stretch of the
    whole file read and resampled (within float32 rounding): reading starts on a frame that
    resamples to a whole sample, with the resampler's filter length read on both sides.

    With ``region``, only the frames from ``start`` to ``end`` seconds are decoded (with
    soundfile's seek, as ``soundfile.read(start=, stop=)`` does), and they are then treated
    exactly as a file holding only them: resampled alone, so the result equals that span
    written as its own file and read; an excerpt of a long region is taken inside it.

    Parameters
    ----------
    path : str or os.PathLike
        The file. Names that are not valid UTF-8 work.
    sample_rate_hz : int
        Rate to return the audio at.
    max_length : int, optional
        Longest result in samples, >= 1; None reads the whole file.
    position : float or callable
        Where the excerpt of a longer file starts, as a fraction in [0, 1] of the samples
        that are not in it; a callable returning it is called only for such a file (the
        pipeline draws the position only when there is one to draw).
    region : Region, optional
        The span of the file to read, in seconds; None reads the whole file.

    Returns
    -------
    numpy.ndarray of float32, shape (n,)

    Raises
    ------
    AudioFileError
        The message names the file and the problem: it does not exist (or is a symbolic
        link to nothing), cannot be opened (permissions), is a directory, is empty
        (0 bytes), is a Git LFS or git-annex pointer, holds text (an HTML page, ...), is
        another kind of file (an archive, an image, an MP4 container, ...) or a format
        libsndfile does not read, has a damaged header or data, holds no samples, declares
        a sample rate outside [1 Hz, 1 MHz] or one so low that resampling it up to
        ``sample_rate_hz`` would give more than ``MAX_UPSAMPLED_SAMPLES``, or holds NaN,
        infinite values or values of a magnitude above ``MAX_SAMPLE_MAGNITUDE`` (2**32:
        damaged float data). The message names the kind of a file that is not audio but
        never quotes its bytes. With ``region``: the region starts at or after the file's
        end.

    Examples
    --------
    >>> audio = read_audio("yes/0a7c2a8d_nohash_0.wav", 16000)  # doctest: +SKIP
    >>> audio.dtype, audio.ndim  # doctest: +SKIP
    (dtype('float32'), 1)
    """
    with _open_audio(path) as sound:
        file_rate = sound.samplerate
        span = _region_frames(path, sound, region)
        plan = _excerpt_plan(sound, sample_rate_hz, max_length, position, span)
        if plan is not None and file_rate != sample_rate_hz:
            # As if read whole, so that a file is refused (or not) whatever part is read.
            check_resampled_length(path, span.num_frames, file_rate, sample_rate_hz)
        if plan is None:
            mono = _decode_span(path, sound, span)
        else:
            first = span.first_frame + plan.first_frame
            sound.seek(first)
            mono = _decode_mono(path, sound, max_frames=plan.num_frames, first=first)
            if mono.size == 0:  # the header claims frames that are not there: read its start
                sound.seek(span.first_frame)
                mono = _decode_mono(path, sound, max_frames=plan.num_frames, first=span.first_frame)
                plan = plan._replace(drop=0)
    if mono.size == 0:
        where = "" if region is None else f" in {region.describe()}"
        raise AudioFileError(path, f"holds no audio samples{where}")
    if file_rate != sample_rate_hz:
        check_resampled_length(path, mono.size, file_rate, sample_rate_hz)
        mono = soxr.resample(mono, file_rate, sample_rate_hz, quality="HQ")
    if plan is not None:
        mono = mono[plan.drop : plan.drop + max_length]
    return np.ascontiguousarray(mono, dtype=np.float32)


def check_resampled_length(
    path: str | os.PathLike, size: int, file_rate: int, sample_rate_hz: int
) -> None:
    """Raise AudioFileError if resampling up to ``sample_rate_hz`` gives too many samples.

    More than ``MAX_UPSAMPLED_SAMPLES`` from ``size`` samples at ``file_rate`` is refused;
    resampling down never grows a clip.
    """
    length = round(size * sample_rate_hz / file_rate)
    if length > max(size, MAX_UPSAMPLED_SAMPLES):
        raise AudioFileError(
            path,
            f"declares {file_rate} Hz: its {size} samples resampled to {sample_rate_hz} Hz "
            f"would be {length}, more than the {MAX_UPSAMPLED_SAMPLES} allowed when resampling "
            "up (a damaged header, or a sample_rate_hz far above the recording's)",
        )


def decode_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """Decode a whole audio file to mono float32 at its own rate, checking every value.

    :func:`read_audio` without the resampling or an excerpt; a file this accepts and
    :func:`check_resampled_length` accepts at the target rate, :func:`read_audio` accepts.

    Parameters
    ----------
    path : str or os.PathLike
        The file.

    Returns
    -------
    audio : numpy.ndarray of float32, shape (n,), n >= 1
        The channels' mean.
    sample_rate_hz : int
        The file's sample rate.

    Raises
    ------
    AudioFileError
        As :func:`read_audio` documents.
    """
    with _open_audio(path) as sound:
        mono = _decode_mono(path, sound)
        file_rate = sound.samplerate
    if mono.size == 0:
        raise AudioFileError(path, "holds no audio samples")
    return mono, file_rate


def check_audio(path: str | os.PathLike, region: Region | None = None) -> tuple[int, int]:
    """Decode a whole file and check every value as :func:`decode_audio`, keeping nothing.

    ``flow_from_directory(on_error="skip")`` calls it, and :func:`check_resampled_length`,
    on every file it keeps; memory stays one block whatever the file's length.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    region : Region, optional
        Check only this span of it, as :func:`read_audio` reads it.

    Returns
    -------
    num_frames : int
        Frames decoded, >= 1.
    sample_rate_hz : int
        The file's sample rate.

    Raises
    ------
    AudioFileError
        As :func:`read_audio` documents.
    """
    with _open_audio(path) as sound:
        span = _region_frames(path, sound, region)
        if span.whole:
            num_frames = _count_frames(path, sound)
        else:
            num_frames = _decode_span(path, sound, span).size
        file_rate = sound.samplerate
    if num_frames == 0:
        where = "" if region is None else f" in {region.describe()}"
        raise AudioFileError(path, f"holds no audio samples{where}")
    return num_frames, file_rate


class Region(NamedTuple):
    """A span of an audio file, in seconds from its start.

    Attributes
    ----------
    start : float
        Where the span starts, >= 0.
    end : float or None
        Where it ends, > ``start``; None (or beyond the file's end) is the file's end.
    """

    start: float
    end: float | None = None

    def describe(self) -> str:
        """Return the region in words, for messages ("the region 1.5 s to 3 s")."""
        end = "the end" if self.end is None else f"{self.end:g} s"
        return f"the region {self.start:g} s to {end}"


class _FrameSpan(NamedTuple):
    """The frames of a file a read covers: its region, or the whole file."""

    first_frame: int
    num_frames: int
    whole: bool


def _region_frames(
    path: str | os.PathLike, sound: soundfile.SoundFile, region: Region | None
) -> _FrameSpan:
    """Turn a region in seconds into frames of ``sound``, rounded to the nearest frame.

    A region ending beyond the file ends at the file's end; one starting at or after it is
    an error naming the file, the region and the file's duration.
    """
    total = sound.frames
    if region is None:
        return _FrameSpan(0, total, True)
    rate = sound.samplerate
    first, stop = region_bounds(region, rate, total)
    if first >= total:
        raise AudioFileError(
            path,
            f"lasts {total / rate:g} s ({total} frames at {rate} Hz), so {region.describe()} "
            "starts after its end",
        )
    if stop <= first:
        raise AudioFileError(path, f"holds no frame in {region.describe()} ({rate} Hz)")
    return _FrameSpan(first, stop - first, False)


def region_bounds(region: Region, file_rate: int, total: int) -> tuple[int, int]:
    """Return the first frame and the frame after the last of ``region`` in a file.

    Seconds are rounded to the nearest frame at ``file_rate``; the end is at most the
    file's ``total`` frames. The span is empty (``stop <= first``) when the region holds
    no frame of the file; :func:`read_audio` then raises.
    """
    first = round(region.start * file_rate)
    stop = total if region.end is None else min(total, round(region.end * file_rate))
    return first, stop


def _decode_span(
    path: str | os.PathLike, sound: soundfile.SoundFile, span: _FrameSpan
) -> np.ndarray:
    """Decode the frames of ``span``: the whole file, or only its region."""
    if span.whole:
        return _decode_mono(path, sound)
    if sound.seekable():
        sound.seek(span.first_frame)
        return _decode_mono(path, sound, max_frames=span.num_frames, first=span.first_frame)
    # A stream that cannot seek: decode up to the region's end and keep the region.
    mono = _decode_mono(path, sound, max_frames=span.first_frame + span.num_frames)
    return mono[span.first_frame :]


class _ExcerptPlan(NamedTuple):
    """Which frames of a file to decode for an excerpt, and what to drop once resampled."""

    first_frame: int
    num_frames: int
    drop: int  # samples at the front of the resampled frames: the resampler's lead-in


def _excerpt_frames(
    total: int,
    file_rate: int,
    rate: int,
    max_length: int,
    position: float | Callable[[], float],
) -> tuple[int, int, int] | None:
    """Return ``(start, needed, pad)`` in frames of an excerpt; None when the file is read whole.

    ``position`` is called only when there is an excerpt to place.
    """
    # Frames resampling to a whole number of samples: an excerpt starting on a multiple of
    # them lines up with the samples of the whole file resampled.
    step = file_rate // math.gcd(file_rate, rate)
    pad = 0 if file_rate == rate else step * -(-_RESAMPLER_LEAD_FRAMES // step)
    needed = -(-max_length * file_rate // rate)
    if total <= needed + 2 * pad:
        return None
    fraction = position() if callable(position) else position
    start = int((total - needed) * min(max(fraction, 0.0), 1.0)) // step * step
    return start, needed, pad


def _excerpt_plan(
    sound: soundfile.SoundFile,
    rate: int,
    max_length: int | None,
    position: float | Callable[[], float],
    span: _FrameSpan,
) -> _ExcerptPlan | None:
    """Plan an excerpt of ``max_length`` samples at ``position`` inside ``span``.

    Frames are counted from the span's first frame; None reads the whole span.
    """
    if max_length is None or not sound.seekable():
        return None
    file_rate = sound.samplerate
    total = span.num_frames
    frames = _excerpt_frames(total, file_rate, rate, max_length, position)
    if frames is None:
        return None
    start, needed, pad = frames
    first = max(0, start - pad)
    last = min(total, start + needed + pad)
    return _ExcerptPlan(first, last - first, (start - first) * rate // file_rate)


class DecodedFile(NamedTuple):
    """A whole file as :func:`read_audio` returns it, with what its excerpts are placed by."""

    samples: np.ndarray  #: float32, mono, at the requested rate
    file_rate: int  #: the file's own sample rate, in Hz
    declared_frames: int  #: frames its header declares (libsndfile's ``frames``)
    seekable: bool  #: whether :func:`read_audio` reads excerpts of it
    container: str = ""  #: libsndfile's major format ("WAV", "FLAC", "MPEG", ...)


def decode_file(path: str | os.PathLike, sample_rate_hz: int) -> DecodedFile:
    """Read a whole file exactly as :func:`read_audio` without ``max_length`` does.

    The samples are the same bit for bit; the rest lets :func:`excerpt_start` place, in
    them, the excerpt :func:`read_audio` would read with ``max_length``. A disk cache stores
    the samples and slices its excerpts out of them.

    Parameters
    ----------
    path : str or os.PathLike
        The file.
    sample_rate_hz : int
        Rate to return the audio at.

    Returns
    -------
    DecodedFile

    Raises
    ------
    AudioFileError
        As :func:`read_audio` documents.
    """
    with _open_audio(path) as sound:
        file_rate, frames, seekable = sound.samplerate, sound.frames, sound.seekable()
        container = str(sound.format)
        mono = _decode_mono(path, sound)
    if mono.size == 0:
        raise AudioFileError(path, "holds no audio samples")
    if file_rate != sample_rate_hz:
        check_resampled_length(path, mono.size, file_rate, sample_rate_hz)
        mono = soxr.resample(mono, file_rate, sample_rate_hz, quality="HQ")
    samples = np.ascontiguousarray(mono, dtype=np.float32)
    return DecodedFile(samples, int(file_rate), int(frames), bool(seekable), container)


def excerpt_start(
    file: DecodedFile | tuple[int, int, bool],
    sample_rate_hz: int,
    max_length: int | None,
    position: float | Callable[[], float],
) -> int | None:
    """Where, in a whole file's samples, :func:`read_audio`'s excerpt of it starts.

    Parameters
    ----------
    file : DecodedFile or (file_rate, declared_frames, seekable)
        What :func:`decode_file` returned about the file.
    sample_rate_hz : int
        The rate its samples are at.
    max_length : int, optional
        As :func:`read_audio`'s.
    position : float or callable
        As :func:`read_audio`'s; called only for a file that has an excerpt.

    Returns
    -------
    int or None
        The first sample of the excerpt of ``max_length`` samples; None when
        :func:`read_audio` reads the file whole. The samples there equal those of the
        excerpt :func:`read_audio` reads within float32 rounding (exactly when no resampling
        is needed).
    """
    if isinstance(file, DecodedFile):
        file_rate, frames, seekable = file.file_rate, file.declared_frames, file.seekable
    else:
        file_rate, frames, seekable = file
    if max_length is None or not seekable:
        return None
    placed = _excerpt_frames(frames, file_rate, sample_rate_hz, max_length, position)
    if placed is None:
        return None
    return placed[0] * sample_rate_hz // file_rate


@contextlib.contextmanager
def _open_audio(path: str | os.PathLike) -> Iterator[soundfile.SoundFile]:
    """Open a file with libsndfile, checking its rate and channels; name it in any failure."""
    # soundfile encodes a str path as strict UTF-8, which fails on names that are not;
    # bytes reach libsndfile as the file system spells them.
    encoded = os.fsencode(path)
    try:
        sound = soundfile.SoundFile(encoded)
    except (soundfile.LibsndfileError, RuntimeError, TypeError, ValueError, OSError) as error:
        raise open_failure(path, error) from error
    with sound:
        file_rate = sound.samplerate
        channels = sound.channels
        if not MIN_FILE_SAMPLE_RATE_HZ <= file_rate <= MAX_FILE_SAMPLE_RATE_HZ:
            raise AudioFileError(
                path,
                f"declares a sample rate of {file_rate} Hz, outside the "
                f"{MIN_FILE_SAMPLE_RATE_HZ} Hz to {MAX_FILE_SAMPLE_RATE_HZ} Hz that real "
                "recordings use: the header is damaged",
            )
        if channels < 1:
            raise AudioFileError(path, f"declares {channels} channels")
        yield sound


def _decode_mono(
    path: str | os.PathLike,
    sound: soundfile.SoundFile,
    *,
    max_frames: int | None = None,
    first: int = 0,
) -> np.ndarray:
    """Read ``sound`` block by block from where it stands, check each block, average channels.

    At most ``max_frames`` frames (all without); ``first`` is the frame it stands at, for
    messages.
    """
    blocks = list(_checked_blocks(path, sound, max_frames=max_frames, first=first))
    if not blocks:
        return np.empty(0, np.float32)
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def _count_frames(path: str | os.PathLike, sound: soundfile.SoundFile) -> int:
    """Decode and check all of ``sound`` as :func:`_decode_mono` does; return its frames."""
    return sum(block.size for block in _checked_blocks(path, sound, keep=False))


def _checked_blocks(
    path: str | os.PathLike,
    sound: soundfile.SoundFile,
    *,
    max_frames: int | None = None,
    first: int = 0,
    keep: bool = True,
) -> Iterator[np.ndarray]:
    """Yield ``sound``'s blocks, checked, as mono float32.

    With ``keep=False`` only their lengths are wanted: each block is yielded as a broadcast
    zero of its length, which costs no memory.
    """
    channels = sound.channels
    # float64 keeps a double file's values that float32 cannot hold visible as such,
    # instead of turning them into infinities.
    dtype = np.float64 if sound.subtype == "DOUBLE" else np.float32
    block_frames = max(1, _BLOCK_VALUES // channels)
    if max_frames is not None:
        block_frames = max(1, min(block_frames, max_frames))
    buffer = np.empty((block_frames, channels), dtype)
    frames_read = 0
    while max_frames is None or frames_read < max_frames:
        wanted = block_frames if max_frames is None else min(block_frames, max_frames - frames_read)
        try:
            block = sound.read(wanted, dtype=dtype.__name__, always_2d=True, out=buffer[:wanted])
        except (soundfile.LibsndfileError, RuntimeError, ValueError, OSError) as error:
            raise AudioFileError(
                path, f"cannot be decoded after {first + frames_read} frames: {_reason(error)}"
            ) from error
        if block.shape[0] == 0:
            break
        # One pass finds NaN, infinities and absurd magnitudes alike (NaN compares False).
        plausible = np.abs(block) <= MAX_SAMPLE_MAGNITUDE
        if not plausible.all():
            frame, channel = np.argwhere(~plausible)[0]
            raise AudioFileError(
                path, _implausible(block, plausible, first + frames_read, frame, channel)
            )
        if not keep:
            yield np.broadcast_to(np.float32(0), (block.shape[0],))
        elif channels == 1:
            yield block[:, 0].astype(np.float32, copy=True)
        else:
            yield block.mean(axis=1, dtype=np.float64).astype(np.float32)
        frames_read += block.shape[0]
        if block.shape[0] < wanted:
            break


def _implausible(
    block: np.ndarray, plausible: np.ndarray, frames_before: int, frame: int, channel: int
) -> str:
    value = block[frame, channel]
    where = f"at frame {frames_before + int(frame)}, channel {int(channel)}"
    finite = np.isfinite(block)
    if not finite[frame, channel]:
        return (
            f"holds a non-finite value ({value}) {where} ({int(np.count_nonzero(~finite))} NaN "
            "or infinite values in that block): the file is damaged, or the program that wrote "
            "it divided by zero"
        )
    return (
        f"holds the value {value:.3g} {where}, far beyond full scale (1.0; magnitudes up to "
        f"{MAX_SAMPLE_MAGNITUDE:.3g} are accepted): the file is damaged"
    )


def _reason(error: BaseException) -> str:
    """Return libsndfile's own words, without soundfile's prefix that repeats the path."""
    text = getattr(error, "error_string", None) or str(error)
    return text.strip().rstrip(".")


def open_failure(path: str | os.PathLike, error: BaseException) -> AudioFileError:
    """Say why libsndfile could not open ``path`` in words that point to the fix.

    libsndfile reports every operating-system failure as "System error", so the file is
    examined again here, only on this failure path.

    Parameters
    ----------
    path : str or os.PathLike or bytes
        The file libsndfile was asked to open.
    error : BaseException
        What soundfile raised.

    Returns
    -------
    AudioFileError
        Naming the file and the problem; a file that is not audio is named by its kind,
        never quoted.
    """
    name = os.fsencode(path)
    if os.path.islink(name) and not os.path.exists(name):
        try:
            target = os.fsdecode(os.readlink(name))
        except OSError:
            target = "?"
        try:
            os.stat(name)
        except OSError as stat_error:
            if stat_error.errno == errno.ELOOP:
                return AudioFileError(
                    path, f"is a symbolic link that loops (it points to {target!r})"
                )
        return AudioFileError(
            path,
            f"is a symbolic link to {target!r}, which does not exist (a dataset copied or "
            "fetched without the files its links point to?)",
        )
    try:
        with open(name, "rb") as file:
            head = file.read(HEAD_BYTES)
    except FileNotFoundError:
        return AudioFileError(path, "does not exist")
    except IsADirectoryError:
        return AudioFileError(path, "is a directory, not an audio file")
    except PermissionError:
        return AudioFileError(
            path, "cannot be opened: permission denied (the user running this cannot read it)"
        )
    except OSError as os_error:
        return AudioFileError(path, f"cannot be opened: {os_error.strerror or os_error}")
    return AudioFileError(path, not_audio_problem(head, _reason(error)))


def not_audio_problem(head: bytes, reason: str) -> str:
    """Say what a file libsndfile rejected is, naming its kind and never quoting its bytes.

    Parameters
    ----------
    head : bytes
        The file's first bytes.
    reason : str
        libsndfile's reason for rejecting it.

    Returns
    -------
    str
        The problem, phrased to follow the file's name ("holds text, not audio: an HTML
        page ...").
    """
    kind = file_kind(head)
    advice = f": {kind.advice}" if kind.advice else ""
    if not head:
        return "is empty (0 bytes)"
    if kind.name.endswith("pointer"):  # Git LFS, git-annex: the audio was never fetched
        return f"is {kind.name}, not the audio{advice}"
    if kind.text:
        detail = "" if kind.name == "text" else f": {kind.name}"
        return f"holds text, not audio{detail}" + (f" ({kind.advice})" if kind.advice else "")
    if kind.name in (AUDIO_DATA, BINARY_DATA):
        return f"cannot be read as audio: {reason}"
    if kind.audio:
        return f"is {kind.name}, which libsndfile does not read{advice}"
    return f"is {kind.name}, not audio{advice}"

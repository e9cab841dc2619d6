"""A corpus of hostile and unusual files, end to end through flow_from_directory's batches.

Each file either loads with the values that were written, fails with an AudioFileError that
names it and its problem when the batch holding it is built, or, with on_error="skip", is left
out with one warning and listed in ``skipped_files``. WAV files are written byte by byte here,
independently of libsndfile, so the decoded values are checked against an independent writer.
"""

from __future__ import annotations

import os
import re
import struct
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile

from parallel_audio import (
    AudioFeatureGeneratorSettings,
    AudioFileError,
    DatasetError,
    ParallelAudioDataGenerator,
    SettingsError,
    WorkerError,
)
from parallel_audio.audio_io import check_resampled_length, decode_audio, read_audio
from parallel_audio.errors import SkippedFilesWarning

RATE = 16000
LENGTH = 1600  # samples of 100 ms: every clip of the corpus fits, so the batch shows it whole
PCM, FLOAT = 1, 3  # WAVE format tags


def wav_bytes(
    frames: np.ndarray,
    rate: int,
    *,
    bits: int = 16,
    format_tag: int = PCM,
    declared_data_bytes: int | None = None,
) -> bytes:
    """A canonical RIFF/WAVE file: 'fmt ' then 'data', samples little-endian as given."""
    frames = np.asarray(frames)
    if frames.ndim == 1:
        frames = frames[:, np.newaxis]
    channels = frames.shape[1]
    if format_tag == FLOAT:
        raw = frames.astype("<f4" if bits == 32 else "<f8").tobytes()
    elif bits == 8:
        raw = frames.astype("<u1").tobytes()
    elif bits == 24:
        wide = frames.astype("<i4").reshape(-1)
        raw = np.stack([wide & 0xFF, (wide >> 8) & 0xFF, (wide >> 16) & 0xFF], 1)
        raw = raw.astype(np.uint8).tobytes()
    else:
        raw = frames.astype({16: "<i2", 32: "<i4"}[bits]).tobytes()
    block_align = channels * bits // 8
    fmt = struct.pack("<HHIIHH", format_tag, channels, rate, rate * block_align, block_align, bits)
    size = len(raw) if declared_data_bytes is None else declared_data_bytes
    body = b"WAVEfmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", size)
    body += raw + (b"\0" if len(raw) % 2 else b"")
    return b"RIFF" + struct.pack("<I", len(body)) + body


def tone(frequency: float, rate: int, n: int, amplitude: float = 0.5) -> np.ndarray:
    return amplitude * np.sin(2 * np.pi * frequency * np.arange(n) / rate)


def raw_generator(**kwargs) -> ParallelAudioDataGenerator:
    """A generator whose batches are the decoded audio itself, at offset 0, zero padded."""
    settings = {
        "cores": 0,
        "frontend_enabled": False,
        "sample_shape": (LENGTH,),
        "trim_threshold_db": None,
        "disable_random_transforms": True,
        "frontend_settings": AudioFeatureGeneratorSettings(sample_length_ms=LENGTH * 1000 // RATE),
    }
    return ParallelAudioDataGenerator(**{**settings, **kwargs})


def flow(root: Path, classes, generator=None, **kwargs):
    generator = generator or raw_generator()
    kwargs = {"class_mode": "sparse", "batch_size": 1, "shuffle": False, "seed": 0, **kwargs}
    return generator.flow_from_directory(root, classes=list(classes), **kwargs)


def sample_of(iterator, relative: str) -> np.ndarray:
    x, _ = iterator[iterator.filenames.index(relative)]
    return x[0]


def padded(values: np.ndarray) -> np.ndarray:
    out = np.zeros(LENGTH, np.float32)
    out[: len(values)] = values
    return out


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(4242)


# ----------------------------------------------------------------------------- loads correctly


def test_integer_widths_are_scaled_by_their_full_scale(tmp_path, rng):
    u8 = rng.integers(0, 256, 1000)
    i16 = rng.integers(-(2**15), 2**15, 1000)
    i24 = np.concatenate([[-(2**23), 2**23 - 1], rng.integers(-(2**23), 2**23, 998)])
    i32 = np.concatenate([[-(2**31), 2**31 - 1], rng.integers(-(2**31), 2**31, 998)])
    write(tmp_path / "x" / "u8.wav", wav_bytes(u8, RATE, bits=8))
    write(tmp_path / "x" / "i16.wav", wav_bytes(i16, RATE, bits=16))
    write(tmp_path / "x" / "i24.wav", wav_bytes(i24, RATE, bits=24))
    write(tmp_path / "x" / "i32.wav", wav_bytes(i32, RATE, bits=32))
    it = flow(tmp_path, ["x"])
    expected = {
        "u8": (u8 - 128) / 128,
        "i16": i16 / 2**15,
        "i24": i24 / 2**23,
        "i32": i32 / 2**31,  # float32 keeps 24 bits: rounded, as np.float32 rounds it
    }
    for name, values in expected.items():
        np.testing.assert_array_equal(sample_of(it, f"x/{name}.wav"), padded(values), name)
    assert sample_of(it, "x/u8.wav")[:2].dtype == np.float32


def test_float_files_keep_their_values_even_beyond_full_scale(tmp_path, rng):
    values = np.concatenate([[1.5, -2.0, 1e-30, 0.0, 32767.0, -(2.0**32)], rng.uniform(-1, 1, 994)])
    write(tmp_path / "x" / "f32.wav", wav_bytes(values, RATE, bits=32, format_tag=FLOAT))
    write(tmp_path / "x" / "f64.wav", wav_bytes(values, RATE, bits=64, format_tag=FLOAT))
    it = flow(tmp_path, ["x"])
    for name in ("f32", "f64"):
        np.testing.assert_array_equal(sample_of(it, f"x/{name}.wav"), padded(values), name)
    # Values beyond full scale are clipped where the frontend converts to int16, not before.
    spectrogram_generator = ParallelAudioDataGenerator(cores=0, trim_threshold_db=None)
    x, _ = flow(tmp_path, ["x"], spectrogram_generator)[0]
    assert np.isfinite(x).all()


def test_channels_are_averaged(tmp_path, rng):
    frames = rng.integers(-(2**15), 2**15, (800, 6))
    write(tmp_path / "x" / "six.wav", wav_bytes(frames, RATE))
    expected = (frames / 2**15).mean(axis=1)
    np.testing.assert_array_equal(sample_of(flow(tmp_path, ["x"]), "x/six.wav"), padded(expected))


@pytest.mark.parametrize("file_rate", [8000, 44100, 96000])
def test_other_rates_are_resampled_to_the_frontend_rate(tmp_path, file_rate):
    n = file_rate // 10  # 100 ms
    write(tmp_path / "x" / "tone.wav", wav_bytes(tone(1000, file_rate, n) * 2**15, file_rate))
    x = sample_of(flow(tmp_path, ["x"]), "x/tone.wav")
    expected = tone(1000, RATE, LENGTH)
    # The same 100 ms; away from the edges, where the resampler's filter has no history,
    # the 1 kHz tone is reproduced closely.
    middle = slice(200, LENGTH - 200)
    np.testing.assert_allclose(x[middle], expected[middle], atol=2e-3)


def test_flac_is_lossless_and_ogg_keeps_the_tone(tmp_path, rng):
    values = rng.integers(-(2**15), 2**15, 1500)
    (tmp_path / "x").mkdir()
    soundfile.write(tmp_path / "x" / "a.flac", values.astype(np.int16), RATE)
    soundfile.write(tmp_path / "x" / "b.ogg", tone(440, RATE, LENGTH).astype(np.float32), RATE)
    it = flow(tmp_path, ["x"])
    np.testing.assert_array_equal(sample_of(it, "x/a.flac"), padded(values / 2**15))
    ogg = sample_of(it, "x/b.ogg")
    expected = tone(440, RATE, LENGTH)
    assert np.corrcoef(ogg[100:-100], expected[100:-100])[0, 1] > 0.99
    assert abs(np.std(ogg) / np.std(expected) - 1) < 0.05


def test_a_one_sample_clip_and_a_silent_clip_load(tmp_path):
    write(tmp_path / "x" / "one.wav", wav_bytes(np.array([12345]), RATE))
    write(tmp_path / "x" / "one_8k.wav", wav_bytes(np.array([12345]), 8000))
    write(tmp_path / "x" / "silent.wav", wav_bytes(np.zeros(800), RATE))
    it = flow(tmp_path, ["x"])
    np.testing.assert_array_equal(sample_of(it, "x/one.wav"), padded([12345 / 2**15]))
    np.testing.assert_array_equal(sample_of(it, "x/silent.wav"), np.zeros(LENGTH, np.float32))
    assert sample_of(it, "x/one_8k.wav")[2:].max() == 0  # round(1 x 16000 / 8000) samples
    # With the default pipeline (trimming on, frontend on) they give finite spectrograms.
    default = ParallelAudioDataGenerator(cores=0)
    full = flow(tmp_path, ["x"], default)
    for i in range(len(full)):
        x, _ = full[i]
        assert x.shape == (1, *full.process_params.sample_shape) and np.isfinite(x).all()


def test_a_ten_minute_clip_is_cropped_at_the_offset(tmp_path):
    n = 10 * 60 * RATE
    values = np.zeros(n, np.int16)
    values[:LENGTH] = np.arange(LENGTH)
    values[-LENGTH:] = -np.arange(LENGTH)
    (tmp_path / "x").mkdir()
    soundfile.write(tmp_path / "x" / "long.flac", values, RATE)
    start = time.perf_counter()
    first = sample_of(flow(tmp_path, ["x"]), "x/long.flac")
    elapsed = time.perf_counter() - start
    np.testing.assert_array_equal(first, np.arange(LENGTH) / 2**15)
    last_generator = raw_generator(disable_random_transforms=False, offset_range=(1.0, 1.0))
    last = sample_of(flow(tmp_path, ["x"], last_generator), "x/long.flac")
    np.testing.assert_array_equal(last, -np.arange(LENGTH) / 2**15)
    assert elapsed < 10, f"{elapsed:.1f} s to read a 10-minute clip"


def test_data_shorter_or_longer_than_declared_loads_what_the_header_and_file_allow(tmp_path):
    values = np.arange(1, 1001) * 20
    whole = wav_bytes(values, RATE)
    # A truncated copy: the header declares 1000 samples, the file holds 300.
    write(tmp_path / "x" / "truncated.wav", whole[: 44 + 600])
    # Bytes after the declared data (another program's trailer): ignored.
    write(tmp_path / "x" / "trailer.wav", whole + b"\x7f" * 999)
    # The header declares 400 samples of the 1000 that follow.
    write(tmp_path / "x" / "declared_short.wav", wav_bytes(values, RATE, declared_data_bytes=800))
    it = flow(tmp_path, ["x"])
    np.testing.assert_array_equal(sample_of(it, "x/truncated.wav"), padded(values[:300] / 2**15))
    np.testing.assert_array_equal(sample_of(it, "x/trailer.wav"), padded(values / 2**15))
    np.testing.assert_array_equal(
        sample_of(it, "x/declared_short.wav"), padded(values[:400] / 2**15)
    )


def test_unicode_space_and_non_utf8_names(tmp_path):
    names = ["日本語 ファイル.wav", "  spaces  everywhere  .wav", "ça va ?.WAV", "tab\tname.wav"]
    for i, name in enumerate(names):
        write(tmp_path / "clé à molette" / name, wav_bytes(np.full(10, 1000 * (i + 1)), RATE))
    raw_name = b"caf\xe9 latin-1.wav"  # not UTF-8: reaches Python with a surrogate escape
    folder = os.fsencode(tmp_path / "clé à molette")
    try:
        with open(os.path.join(folder, raw_name), "wb") as file:
            file.write(wav_bytes(np.full(10, 7000), RATE))
    except OSError:
        pytest.skip("this file system stores only UTF-8 names")
    it = flow(tmp_path, ["clé à molette"])
    for i, name in enumerate(names):
        x = sample_of(it, f"clé à molette/{name}")
        np.testing.assert_array_equal(x, padded(np.full(10, 1000 * (i + 1)) / 2**15), name)
    x = sample_of(it, "clé à molette/" + os.fsdecode(raw_name))
    np.testing.assert_array_equal(x, padded(np.full(10, 7000) / 2**15))
    assert len(it.filenames) == len(names) + 1
    # The shuffle index file stores these names and reads them back unchanged.
    first = flow(tmp_path, ["clé à molette"], shuffle_index_dir=tmp_path / "index")
    again = flow(tmp_path, ["clé à molette"], shuffle_index_dir=tmp_path / "index")
    assert sorted(first.filenames) == sorted(it.filenames) and again.filenames == first.filenames
    assert (tmp_path / "index" / ".index" / "clé à molette.txt").exists()


def test_symlink_loops_with_follow_links_list_each_file_once(tmp_path):
    write(tmp_path / "x" / "a.wav", wav_bytes(np.full(5, 100), RATE))
    write(tmp_path / "x" / "sub" / "b.wav", wav_bytes(np.full(5, 200), RATE))
    (tmp_path / "x" / "sub" / "up").symlink_to(tmp_path / "x", target_is_directory=True)
    (tmp_path / "x" / "self").symlink_to(".", target_is_directory=True)
    (tmp_path / "x" / "knot").symlink_to("knot")  # a link to itself, no audio extension
    it = flow(tmp_path, ["x"], follow_links=True)
    assert it.filenames == ["x/a.wav", "x/sub/b.wav"]
    np.testing.assert_array_equal(sample_of(it, "x/sub/b.wav"), padded(np.full(5, 200) / 2**15))


# ----------------------------------------------------------------------------- fails clearly

# name -> (bytes, or a callable that makes the entry, and what the error says)
BAD_FILES = {
    "empty.wav": (b"", r"is empty \(0 bytes\)"),
    "truncated_header.wav": (
        wav_bytes(np.arange(100), RATE)[:20],
        r"cannot be read as audio: .*(fmt|[Mm]alformed|[Ff]ormat)",
    ),
    "header_only.wav": (wav_bytes(np.zeros(0), RATE), "holds no audio samples"),
    "text.wav": (b"This is not audio, just some notes.\n" * 4, r"holds text, not audio"),
    "lfs.wav": (
        b"version https://git-lfs.github.com/spec/v1\noid sha256:0123\nsize 32044\n",
        "Git LFS pointer",
    ),
    "nan.wav": (
        wav_bytes(np.array([0.1, 0.2, np.nan, 0.3]), RATE, bits=32, format_tag=FLOAT),
        r"non-finite value \(nan\) at frame 2, channel 0",
    ),
    "inf64.wav": (
        wav_bytes(np.array([0.1, -np.inf]), RATE, bits=64, format_tag=FLOAT),
        r"non-finite value \(-inf\) at frame 1",
    ),
    "huge64.wav": (
        wav_bytes(np.array([0.1, 1e300]), RATE, bits=64, format_tag=FLOAT),
        r"holds the value 1e\+300 at frame 1, channel 0, far beyond full scale",
    ),
    # Near the float32 limit, resampling would overshoot to infinity.
    "huge32_at_15872_hz.wav": (
        wav_bytes(np.array([0.1, 0.2, -2.7e38]), 15872, bits=32, format_tag=FLOAT),
        r"holds the value -2.7e\+38 at frame 2, channel 0, far beyond full scale",
    ),
    "rate_2000000.wav": (
        wav_bytes(np.arange(100), 2_000_000),
        "declares a sample rate of 2000000 Hz",
    ),
    # 20 KB claiming 1 Hz: read at RATE it would be 160 million samples (640 MB).
    "rate_1.wav": (wav_bytes(np.zeros(10000), 1), "declares 1 Hz: its 10000 samples resampled"),
    "dangling.wav": (
        lambda path: path.symlink_to(path.parent / "gone.wav"),
        r"is a symbolic link to '.*gone\.wav', which does not exist",
    ),
    "loop.wav": (lambda path: path.symlink_to(path.name), "is a symbolic link that loops"),
}


def make_bad_files(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (content, _) in BAD_FILES.items():
        if callable(content):
            content(folder / name)
        else:
            (folder / name).write_bytes(content)
    return {name: message for name, (_, message) in BAD_FILES.items()}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_each_bad_file_fails_its_batch_naming_the_file_and_the_problem(tmp_path, name):
    messages = make_bad_files(tmp_path / "x")
    write(tmp_path / "x" / "good.wav", wav_bytes(np.arange(10), RATE))
    it = flow(tmp_path, ["x"])  # listing opens nothing: every file is in the index
    assert sorted(it.filenames) == sorted([f"x/{n}" for n in BAD_FILES] + ["x/good.wav"])
    with pytest.raises(AudioFileError, match=messages[name]) as caught:
        it[it.filenames.index(f"x/{name}")]
    assert caught.value.path == str(tmp_path / "x" / name)
    assert str(caught.value).startswith(str(tmp_path / "x" / name) + ": ")
    # The other batches are not affected.
    np.testing.assert_array_equal(sample_of(it, "x/good.wav"), padded(np.arange(10) / 2**15))


def test_a_bad_file_in_a_worker_process_reaches_the_parent_naming_the_file(tmp_path):
    make_bad_files(tmp_path / "x")
    with flow(tmp_path, ["x"], raw_generator(cores=1), batch_size=len(BAD_FILES)) as it:
        with pytest.raises((AudioFileError, WorkerError)) as caught:
            it[0]
    error = caught.value
    file_error = error if isinstance(error, AudioFileError) else error.__cause__
    assert isinstance(file_error, AudioFileError), repr(error)
    assert file_error.path.startswith(str(tmp_path / "x"))
    assert file_error.path in str(error)


def test_read_audio_raises_the_same_errors_directly(tmp_path):
    messages = make_bad_files(tmp_path)
    for name, message in messages.items():
        with pytest.raises(AudioFileError, match=message):
            read_audio(tmp_path / name, RATE)
    with pytest.raises(AudioFileError, match="does not exist"):
        read_audio(tmp_path / "missing.wav", RATE)
    with pytest.raises(AudioFileError, match="is a directory"):
        read_audio(tmp_path, RATE)


def test_a_file_without_read_permission(tmp_path):
    path = write(tmp_path / "x" / "secret.wav", wav_bytes(np.arange(10), RATE))
    path.chmod(0)
    try:
        try:
            path.read_bytes()
        except PermissionError:
            pass
        else:
            pytest.skip("running as a user that reads any file (root): chmod 000 blocks nothing")
        with pytest.raises(AudioFileError, match="permission denied"):
            flow(tmp_path, ["x"])[0]
        with pytest.raises(DatasetError, match="no file of class 'x' .*permission denied"):
            flow(tmp_path, ["x"], on_error="skip")
    finally:
        path.chmod(0o644)


def test_a_folder_that_cannot_be_listed(tmp_path, monkeypatch):
    write(tmp_path / "x" / "good.wav", wav_bytes(np.arange(10), RATE))
    write(tmp_path / "x" / "private" / "hidden.wav", wav_bytes(np.arange(10), RATE))
    private = tmp_path / "x" / "private"
    private.chmod(0)
    try:
        try:
            os.listdir(private)
            denied = False
        except PermissionError:
            denied = True
        if not denied:
            # Running as root, which lists any folder: make scandir answer as it does for
            # other users, so that the handling is still exercised.
            from parallel_audio import dataset_index

            real_scandir = os.scandir

            def scandir(path="."):
                if os.fspath(path) == str(private):
                    raise PermissionError(13, "Permission denied", os.fspath(path))
                return real_scandir(path)

            monkeypatch.setattr(dataset_index.os, "scandir", scandir)
        with pytest.raises(DatasetError, match=r"folder 'x/private' of .* cannot be listed"):
            flow(tmp_path, ["x"])
        with pytest.warns(SkippedFilesWarning, match="1 folders that cannot be listed"):
            it = flow(tmp_path, ["x"], on_error="skip")
        assert it.filenames == ["x/good.wav"]
        assert it.skipped_files == [("x/private/", "cannot be listed: Permission denied")]
    finally:
        private.chmod(0o755)


def test_an_empty_class_folder_is_an_error_in_both_modes(tmp_path):
    write(tmp_path / "full" / "a.wav", wav_bytes(np.arange(10), RATE))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("nothing here")
    for on_error in ("raise", "skip"):
        with pytest.raises(DatasetError, match=r"'empty' .* holds no audio file .*1 x \.txt"):
            flow(tmp_path, ["full", "empty"], on_error=on_error)


def test_fifos_are_never_listed(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs on this system")
    write(tmp_path / "x" / "a.wav", wav_bytes(np.arange(10), RATE))
    os.mkfifo(tmp_path / "x" / "pipe.wav")  # opening it to read would block forever
    (tmp_path / "x" / "pipe_link.wav").symlink_to("pipe.wav")
    for on_error in ("raise", "skip"):
        assert flow(tmp_path, ["x"], on_error=on_error).filenames == ["x/a.wav"]


# ----------------------------------------------------------------------------- no file content

# A marker no message may contain, and the kind each file must be called instead.
SECRET = "s3cr3t-7f1b9c"
NOT_AUDIO = {
    "page.wav": (f"<!DOCTYPE html>\n<html><body>{SECRET}</body></html>\n".encode(), "an HTML page"),
    "bom.wav": (f"\ufeff  <html><p>{SECRET}</p></html>".encode(), "an HTML page"),
    "s3.wav": (f'<?xml version="1.0"?><Error><Code>{SECRET}</Code></Error>'.encode(), "XML"),
    "meta.wav": (f'{{"token": "{SECRET}"}}'.encode(), "JSON"),
    "notes.wav": (f"user: {SECRET}\npassword: {SECRET}\n".encode(), r"holds text, not audio$"),
    "shadow.wav": (f"root:$6${SECRET}$abc:19000:0:99999:7:::\n".encode(), "holds text"),
    "lfs.wav": (
        f"version https://git-lfs.github.com/spec/v1\noid sha256:{SECRET}\nsize 3\n".encode(),
        "is a Git LFS pointer, not the audio: fetch the files with `git lfs pull`",
    ),
    "annex.wav": (
        f"/annex/objects/SHA256E-s3--{SECRET}.wav\n".encode(),
        "is a git-annex pointer, not the audio: fetch the files with `git annex get`",
    ),
    "archive.wav": (b"PK\x03\x04\x14\x00" + SECRET.encode() * 4, "is a ZIP archive, not audio"),
    "array.wav": (b"\x93NUMPY\x01\x00v\x00{'descr': '" + SECRET.encode(), "NumPy array"),
    "movie.wav": (b"\x00\x00\x00\x20ftypM4A " + SECRET.encode(), "MP4 / M4A container"),
    "environ.wav": (f"HOME=/root\0KEY={SECRET}\0PATH=/bin\0".encode(), "cannot be read as audio"),
    "noise.wav": (bytes(range(256)) + SECRET.encode(), "cannot be read as audio"),
}


def assert_quotes_nothing(message: str, content: bytes, path: Path) -> None:
    """No 8 printable bytes in a row of ``content`` are in ``message`` (its path aside)."""
    assert SECRET not in message, message
    for run in re.findall(rb"[\x21-\x7e]{8,}", content):
        for start in range(len(run) - 7):
            window = run[start : start + 8].decode()
            assert window not in message or window in str(path), (window, message)


@pytest.mark.parametrize("name", sorted(NOT_AUDIO))
def test_a_file_that_is_not_audio_is_named_by_kind_without_quoting_it(tmp_path, name):
    content, kind = NOT_AUDIO[name]
    write(tmp_path / "x" / name, content)
    with pytest.raises(AudioFileError) as caught:
        read_audio(tmp_path / "x" / name, RATE)
    assert re.search(kind, caught.value.problem), caught.value.problem
    assert_quotes_nothing(str(caught.value), content, tmp_path)
    # Neither does the skip warning, nor the reason skipped_files gives.
    write(tmp_path / "x" / "good.wav", wav_bytes(np.arange(10), RATE))
    with pytest.warns(SkippedFilesWarning) as warned:
        it = flow(tmp_path, ["x"], on_error="skip")
    assert_quotes_nothing(str(warned[0].message), content, tmp_path)
    assert_quotes_nothing(dict(it.skipped_files)[f"x/{name}"], content, tmp_path)


@pytest.mark.parametrize("target", ["/etc/shadow", "/proc/self/environ"])
def test_a_link_to_a_system_file_does_not_leak_it(tmp_path, target):
    try:
        with open(target, "rb") as file:
            content = file.read(4096)
    except OSError:
        pytest.skip(f"{target} cannot be read here")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "a.wav").symlink_to(target)
    with pytest.raises(AudioFileError) as caught:
        flow(tmp_path, ["x"])[0]
    assert_quotes_nothing(str(caught.value), content, tmp_path)
    write(tmp_path / "x" / "good.wav", wav_bytes(np.arange(10), RATE))
    with pytest.warns(SkippedFilesWarning) as warned:
        flow(tmp_path, ["x"], on_error="skip")
    assert_quotes_nothing(str(warned[0].message), content, tmp_path)


# ----------------------------------------------------------------------------- on_error="skip"


def test_skip_leaves_out_exactly_the_bad_files_with_one_warning(tmp_path, rng):
    messages = make_bad_files(tmp_path / "mixed")
    good = {}
    for i in range(3):
        good[f"mixed/good{i}.wav"] = rng.integers(-(2**15), 2**15, 100)
        good[f"other/good{i}.wav"] = rng.integers(-(2**15), 2**15, 100)
    for relative, values in good.items():
        write(tmp_path / relative, wav_bytes(values, RATE))
    class_counts: dict[str, int] = {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        it = flow(tmp_path, ["mixed", "other"], on_error="skip", class_counts=class_counts)
    skip_warnings = [w for w in caught if issubclass(w.category, SkippedFilesWarning)]
    assert len(skip_warnings) == 1 and len(caught) == 1, [str(w.message) for w in caught]
    text = str(skip_warnings[0].message)
    assert f"{len(BAD_FILES)} of the {len(BAD_FILES) + 6} files checked" in text
    assert "skipped_files lists them all" in text
    assert len(re.findall(r"'mixed/", text)) == 5  # a few names, not all of them

    assert sorted(it.filenames) == sorted(good)
    assert class_counts == {"mixed": 3, "other": 3}
    skipped = dict(it.skipped_files)
    assert sorted(skipped) == sorted(f"mixed/{name}" for name in BAD_FILES)
    for name, message in messages.items():
        assert re.search(message, skipped[f"mixed/{name}"]), (name, skipped[f"mixed/{name}"])
    # Every batch of what is left loads, with the values written.
    for relative, values in good.items():
        np.testing.assert_array_equal(sample_of(it, relative), padded(values / 2**15))


def test_skip_with_nothing_to_skip_gives_the_raise_index_and_no_warning(tmp_path, rng):
    for speaker in range(6):
        for word in ("yes", "no", "up", "down"):
            values = rng.integers(-1000, 1000, 50)
            write(tmp_path / word / f"s{speaker}_nohash_0.wav", wav_bytes(values, RATE))
    kwargs = dict(classes=["yes", "no", "_unknown_", "_silence_"], subset="training")
    generator = raw_generator(validation_split=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        skipping = flow(tmp_path, generator=generator, on_error="skip", seed=3, **kwargs)
    raising = flow(tmp_path, generator=generator, seed=3, **kwargs)
    assert skipping.filenames == raising.filenames
    np.testing.assert_array_equal(skipping.classes, raising.classes)
    assert skipping.skipped_files == []


def test_skip_fills_the_cap_and_unknown_with_readable_files(tmp_path, rng):
    for i in range(6):
        write(tmp_path / "yes" / f"{i}.wav", wav_bytes(rng.integers(-99, 99, 20), RATE))
    (tmp_path / "yes" / "0.wav").write_bytes(b"")  # the first in sorted order
    for word in ("up", "down"):
        for i in range(5):
            write(tmp_path / word / f"{i}.wav", wav_bytes(rng.integers(-99, 99, 20), RATE))
    for i in range(5):
        (tmp_path / "up" / f"{i}.wav").write_bytes(b"broken")
    with pytest.warns(SkippedFilesWarning) as caught:
        it = flow(
            tmp_path,
            ["yes", "_unknown_"],
            on_error="skip",
            max_samples_per_class=4,
            seed=11,
        )
    assert len(caught) == 1
    yes = [f for f, c in zip(it.filenames, it.classes, strict=True) if c == 0]
    unknown = [f for f, c in zip(it.filenames, it.classes, strict=True) if c == 1]
    assert yes == ["yes/1.wav", "yes/2.wav", "yes/3.wav", "yes/4.wav"]  # still 4
    assert len(unknown) == 4 and all(f.startswith("down/") for f in unknown)
    skipped = [path for path, _ in it.skipped_files]
    assert "yes/0.wav" in skipped and "yes/5.wav" not in skipped  # beyond the cap: not read
    assert set(skipped) - {"yes/0.wav"} <= {f"up/{i}.wav" for i in range(5)}
    # The same seed draws the same files again.
    with pytest.warns(SkippedFilesWarning):
        again = flow(
            tmp_path, ["yes", "_unknown_"], on_error="skip", max_samples_per_class=4, seed=11
        )
    assert again.filenames == it.filenames


def test_every_real_class_file_unreadable_is_an_error_naming_reasons(tmp_path):
    write(tmp_path / "ok" / "a.wav", wav_bytes(np.arange(10), RATE))
    write(tmp_path / "bad" / "a.wav", b"")
    write(tmp_path / "bad" / "b.wav", b"RIFF")
    # The error itself gives the reasons; no warning comes before it.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DatasetError, match=r"no file of class 'bad' .*'bad/a.wav' is empty"):
            flow(tmp_path, ["ok", "bad"], on_error="skip")


def test_on_error_must_be_raise_or_skip(tmp_path):
    write(tmp_path / "x" / "a.wav", wav_bytes(np.arange(10), RATE))
    with pytest.raises(SettingsError, match=r"on_error must be one of 'raise', 'skip'"):
        flow(tmp_path, ["x"], on_error="ignore")
    for value in (None, True):  # not a string: the wrong type
        with pytest.raises(TypeError, match=r"on_error must be one of 'raise', 'skip'"):
            flow(tmp_path, ["x"], on_error=value)


def test_decode_audio_accepts_exactly_what_read_audio_accepts(tmp_path):
    # What on_error="skip" checks: decoding, then the length resampling to RATE would give.
    def check(path):
        audio, rate = decode_audio(path)
        check_resampled_length(path, audio.size, rate, RATE)

    make_bad_files(tmp_path)
    write(tmp_path / "good.wav", wav_bytes(np.arange(1, 11), 8000))
    for path in sorted(tmp_path.iterdir()):
        outcomes = []
        for function in (check, lambda p: read_audio(p, RATE)):
            try:
                function(path)
                outcomes.append(None)
            except AudioFileError as error:
                outcomes.append(error.problem)
        assert outcomes[0] == outcomes[1], path.name
    mono, rate = decode_audio(tmp_path / "good.wav")
    assert rate == 8000 and mono.dtype == np.float32
    np.testing.assert_array_equal(mono, np.arange(1, 11) / 2**15)


@pytest.mark.skipif(sys.platform == "win32", reason="symlinks and FIFOs are POSIX here")
def test_the_error_pickles_with_its_path_and_problem(tmp_path):
    import pickle

    error = AudioFileError(os.fsdecode(b"/data/caf\xe9.wav"), "holds no audio samples")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.problem) == (error.path, error.problem)
    assert str(copy) == "/data/caf\\xe9.wav: holds no audio samples"  # printable
    str(copy).encode("utf-8")  # no lone surrogate left to fail a print

"""The disk cache (``cache_dir``): the same batches as without it, decoding each file once.

Every expectation is independent of the cache: batches are compared with those the same
generator computes without ``cache_dir``, and decoding is counted by patching libsndfile's
reader (``soundfile.SoundFile.read``) in a fresh Python process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile
from support import speech_like

from parallel_audio import (
    CacheError,
    CacheWarning,
    ParallelAudioDataGenerator,
    SettingsError,
)

CLASSES = ["yes", "no"]
# Every format and rate the issue names, and a 16 kHz WAV read without resampling.
FORMATS = [("wav", 44100), ("flac", 48000), ("mp3", 44100), ("mp3", 48000), ("flac", 44100),
           ("wav", 48000), ("wav", 16000)]  # fmt: skip
EVERY_AUGMENTATION = dict(
    loudness_range=(0.5, 1.5),
    speed_range=(0.9, 1.1),
    pitch_range=(-2, 2),
    vtlp_range=(0.9, 1.1),
    noise_colors=("white", "pink"),
    noise_color_range=(0.0, 0.05),
    bg_noise_range=(0.0, 0.1),
    bg_noise_dir="_background_noise_",
)


def write_clip(path: Path, rng: np.random.Generator, rate: int, seconds: float) -> None:
    n = int(rate * seconds)
    x = 0.5 * speech_like(rng, n, rate).astype(np.float32) / 32768  # below full scale
    soundfile.write(path, x, rate)


def write_formats_dataset(root: Path, rng: np.random.Generator, per_class: int = 7) -> Path:
    for name in CLASSES:
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            extension, rate = FORMATS[i % len(FORMATS)]
            write_clip(root / name / f"s{i}_nohash_0.{extension}", rng, rate, rng.uniform(0.6, 1.2))
    (root / "_background_noise_").mkdir()
    soundfile.write(
        root / "_background_noise_" / "noise.wav", 0.1 * rng.standard_normal(32000), 16000
    )
    return root


@pytest.fixture
def dataset(tmp_path, rng) -> Path:
    return write_formats_dataset(tmp_path / "data", rng)


def epochs(directory, *, epochs=2, cores=0, subset=None, generator_args=None, **flow):
    """Every batch of ``epochs`` epochs, as (x, y) arrays."""
    args = {"cores": cores, **(generator_args or {})}
    generator = ParallelAudioDataGenerator(**args)
    iterator = generator.flow_from_directory(
        directory, CLASSES, batch_size=4, seed=7, subset=subset, **flow
    )
    try:
        return [batch for _ in range(epochs) for batch in iterator]
    finally:
        iterator.close()


def assert_same_batches(expected, actual):
    assert len(expected) == len(actual)
    for (x0, y0), (x1, y1) in zip(expected, actual, strict=True):
        assert x0.dtype == x1.dtype
        np.testing.assert_array_equal(x0, x1)
        np.testing.assert_array_equal(y0, y1)


def cache_folders(cache_dir: Path) -> list[Path]:
    return sorted(p for p in cache_dir.iterdir() if p.is_dir())


def count_reads(monkeypatch) -> list[str]:
    """Record the base name of every file soundfile reads from now on (until undone)."""
    reads: list[str] = []
    original = soundfile.SoundFile.read

    def counting_read(self, *args, **kwargs):
        reads.append(os.path.basename(os.fsdecode(self.name)))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(soundfile.SoundFile, "read", counting_read)
    return reads


# --- batches bit for bit ---------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("cores", [0, 2])
def test_cached_batches_equal_uncached_with_every_augmentation(dataset, tmp_path, cores):
    reference = epochs(dataset, cores=cores, generator_args=EVERY_AUGMENTATION)
    cache_dir = tmp_path / "cache"
    building = epochs(dataset, cores=cores, generator_args=EVERY_AUGMENTATION, cache_dir=cache_dir)
    reusing = epochs(dataset, cores=cores, generator_args=EVERY_AUGMENTATION, cache_dir=cache_dir)
    assert_same_batches(reference, building)
    assert_same_batches(reference, reusing)
    (folder,) = cache_folders(cache_dir)
    assert folder.name.startswith("audio-")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(manifest["files"]) == 2 * 7
    assert (folder / "complete.json").exists()


def test_audio_cache_slices_long_files_as_read_audio_does(tmp_path, rng):
    """A file longer than a sample's read length: its excerpt is cut from the cached file."""
    root = tmp_path / "data"
    for name in CLASSES:
        (root / name).mkdir(parents=True)
        write_clip(root / name / "long_nohash_0.wav", rng, 16000, 30.0)  # no resampling
        write_clip(root / name / "short_nohash_0.wav", rng, 16000, 1.0)
    args = {"loudness_range": (0.5, 1.5), "offset_range": (0.0, 1.0)}
    reference = epochs(root, generator_args=args, epochs=3)
    cached = epochs(root, generator_args=args, epochs=3, cache_dir=tmp_path / "cache")
    assert_same_batches(reference, cached)


def test_long_resampled_file_excerpt_matches_within_rounding(tmp_path, rng):
    """Resampled, the uncached excerpt approximates the whole file's: equal within rounding."""
    root = tmp_path / "data"
    for name in CLASSES:
        (root / name).mkdir(parents=True)
        write_clip(root / name / "long_nohash_0.flac", rng, 48000, 20.0)
    args = {"frontend_enabled": False, "sample_shape": (16000,), "trim_threshold_db": None}
    reference = epochs(root, generator_args=args)
    cached = epochs(root, generator_args=args, cache_dir=tmp_path / "cache")
    for (x0, _), (x1, _) in zip(reference, cached, strict=True):
        np.testing.assert_allclose(x0, x1, atol=1e-5)


# --- decoding counted in a fresh process -------------------------------------------------------

_COUNTING_SCRIPT = textwrap.dedent(
    """
    import collections, json, sys
    import soundfile
    reads = collections.Counter()
    original = soundfile.SoundFile.read
    def counting_read(self, *args, **kwargs):
        reads[self.name.decode() if isinstance(self.name, bytes) else self.name] += 1
        return original(self, *args, **kwargs)
    soundfile.SoundFile.read = counting_read
    import numpy as np
    from parallel_audio import ParallelAudioDataGenerator
    data, cache_dir, on_error = sys.argv[1], sys.argv[2], sys.argv[3]
    kill_after, cores = int(sys.argv[4]), int(sys.argv[5])
    if kill_after:
        import multiprocessing, os, signal
        from parallel_audio.cache import manifest
        recorded = manifest.Manifest.record
        def record_then_die(self, *args, **kwargs):
            recorded(self, *args, **kwargs)
            if len(self.files) >= kill_after:
                workers = [p.pid for p in multiprocessing.active_children()]
                print(json.dumps({"workers": workers}), flush=True)
                os.kill(os.getpid(), signal.SIGKILL)
        manifest.Manifest.record = record_then_die
    generator = ParallelAudioDataGenerator(cores=cores, loudness_range=(0.5, 1.5))
    iterator = generator.flow_from_directory(
        data, ["yes", "no"], batch_size=4, seed=7, cache_dir=cache_dir, on_error=on_error
    )
    built = dict(reads)
    digest = [float(np.float64(x.astype(np.float64).sum())) for _ in range(2) for x, _ in iterator]
    print(json.dumps({"built": built, "batches": dict(reads), "digest": digest,
                      "skipped": [name for name, _ in iterator.skipped_files]}))
    """
)


def run_counting(
    data: Path, cache_dir: Path, *, on_error="raise", kill_after=0, wait=True, cores=0
):
    command = [sys.executable, "-c", _COUNTING_SCRIPT, str(data), str(cache_dir), on_error,
               str(kill_after), str(cores)]  # fmt: skip
    if not wait:
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def reference_digest(data: Path) -> list[float]:
    batches = epochs(data, generator_args={"loudness_range": (0.5, 1.5)})
    return [float(x.astype(np.float64).sum()) for x, _ in batches]


def relative_reads(counts: dict[str, int], data: Path) -> dict[str, int]:
    return {os.path.relpath(name, data): n for name, n in counts.items()}


@pytest.mark.slow
def test_second_process_decodes_nothing_and_changes_decode_only_the_changed(dataset, tmp_path, rng):
    cache_dir = tmp_path / "cache"
    files = sorted(str(p.relative_to(dataset)) for p in dataset.glob("[yn]*/*"))
    first = run_counting(dataset, cache_dir)
    # The first build reads each file exactly once (one block each: they are short).
    assert sorted(relative_reads(first["built"], dataset)) == files
    assert set(relative_reads(first["built"], dataset).values()) == {1}
    second = run_counting(dataset, cache_dir)
    assert second["batches"] == {}  # a fresh process, two epochs: nothing decoded at all
    assert second["digest"] == first["digest"] == reference_digest(dataset)

    changed = dataset / "yes" / "s2_nohash_0.mp3"
    write_clip(changed, rng, 44100, 0.9)
    added = dataset / "no" / "s9_nohash_0.flac"
    write_clip(added, rng, 48000, 0.8)
    third = run_counting(dataset, cache_dir)
    reads = relative_reads(third["batches"], dataset)
    assert sorted(reads) == ["no/s9_nohash_0.flac", "yes/s2_nohash_0.mp3"]
    assert third["digest"] == reference_digest(dataset)


def test_new_sample_rate_makes_a_new_fingerprint(dataset, tmp_path):
    cache_dir = tmp_path / "cache"
    epochs(dataset, epochs=1, cache_dir=cache_dir, cache="audio")
    settings = {"sample_rate_hz": 8000, "sample_length_ms": 1000}
    generator = ParallelAudioDataGenerator(cores=0, frontend_enabled=False, sample_shape=(8000,))
    generator.frontend_settings.update(settings)
    iterator = generator.flow_from_directory(dataset, CLASSES, cache_dir=cache_dir, cache="audio")
    reference = ParallelAudioDataGenerator(cores=0, frontend_enabled=False, sample_shape=(8000,))
    reference.frontend_settings.update(settings)
    expected = reference.flow_from_directory(dataset, CLASSES, batch_size=32, seed=1)
    cached = generator.flow_from_directory(dataset, CLASSES, batch_size=32, seed=1,
                                           cache_dir=cache_dir, cache="audio")  # fmt: skip
    np.testing.assert_array_equal(expected[0][0], cached[0][0])
    iterator.close()
    folders = cache_folders(cache_dir)
    assert len(folders) == 2
    rates = {json.loads((f / "fingerprint.json").read_text())["sample_rate_hz"] for f in folders}
    assert rates == {16000, 8000}


def test_content_validation_catches_a_same_size_same_time_rewrite(dataset, tmp_path, rng):
    cache_dir = tmp_path / "cache"
    target = dataset / "yes" / "s0_nohash_0.wav"
    before = epochs(dataset, epochs=1, cache_dir=cache_dir)
    status = target.stat()
    info = soundfile.info(target)
    x = 0.5 * rng.standard_normal(info.frames).astype(np.float32)
    soundfile.write(target, x, info.samplerate, subtype=info.subtype)
    os.utime(target, ns=(status.st_atime_ns, status.st_mtime_ns))
    assert target.stat().st_size == status.st_size
    assert target.stat().st_mtime_ns == status.st_mtime_ns
    now = epochs(dataset, epochs=1)  # uncached: the new content
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(before, now, strict=True))
    # "stat" cannot see the rewrite: the old samples are served.
    assert_same_batches(before, epochs(dataset, epochs=1, cache_dir=cache_dir))
    # "content" hashes the bytes: the file is decoded again.
    assert_same_batches(
        now, epochs(dataset, epochs=1, cache_dir=cache_dir, cache_validate="content")
    )
    assert_same_batches(now, epochs(dataset, epochs=1, cache_dir=cache_dir))


@pytest.mark.slow
def test_a_build_killed_midway_resumes_and_then_equals_uncached(dataset, tmp_path):
    cache_dir = tmp_path / "cache"
    process = run_counting(dataset, cache_dir, kill_after=4, wait=False)
    process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL
    (folder,) = cache_folders(cache_dir)
    assert not (folder / "complete.json").exists()
    assert (folder / "journal.jsonl").exists()
    resumed = run_counting(dataset, cache_dir)
    decoded = relative_reads(resumed["built"], dataset)
    assert 0 < len(decoded) <= 14 - 4  # the files the killed build finished are not decoded
    assert resumed["digest"] == reference_digest(dataset)
    marker = json.loads((folder / "complete.json").read_text())
    assert marker["reused"] >= 4 and marker["decoded"] == len(decoded)
    assert not (folder / "journal.jsonl").exists()


@pytest.mark.slow
def test_build_workers_exit_when_the_building_process_is_killed(dataset, tmp_path):
    from support import assert_gone

    cache_dir = tmp_path / "cache"
    process = run_counting(dataset, cache_dir, kill_after=4, wait=False, cores=2)
    stdout, _ = process.communicate(timeout=300)
    assert process.returncode == -signal.SIGKILL
    workers = json.loads(stdout.strip().splitlines()[-1])["workers"]
    assert len(workers) == 2
    assert_gone(workers, timeout=15)
    assert_same_batches(epochs(dataset, cache_dir=cache_dir), epochs(dataset))


@pytest.mark.slow
def test_two_processes_building_at_once_end_with_one_cache(dataset, tmp_path):
    cache_dir = tmp_path / "cache"
    processes = [run_counting(dataset, cache_dir, wait=False) for _ in range(2)]
    outputs = []
    for process in processes:
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr[-3000:]
        outputs.append(json.loads(stdout.strip().splitlines()[-1]))
    assert outputs[0]["digest"] == outputs[1]["digest"] == reference_digest(dataset)
    # One of them decoded every file, the other none: it waited and reused the cache.
    built = sorted(len(output["built"]) for output in outputs)
    assert built == [0, 14]
    (folder,) = cache_folders(cache_dir)
    manifest = json.loads((folder / "manifest.json").read_text())
    chunk_files = {p.name for p in (folder / "chunks").iterdir()}
    assert chunk_files == set(manifest["chunks"])
    assert len(manifest["files"]) == 14


# --- on_error="skip" shares the decoding -----------------------------------------------------


@pytest.mark.slow
def test_skip_check_and_build_decode_each_file_once(dataset, tmp_path):
    broken = dataset / "no" / "broken_nohash_0.wav"
    broken.write_bytes(b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(8))
    cache_dir = tmp_path / "cache"
    first = run_counting(dataset, cache_dir, on_error="skip")
    assert first["skipped"] == ["no/broken_nohash_0.wav"]
    reads = relative_reads(first["built"], dataset)
    assert len(reads) == 14 and set(reads.values()) == {1}
    second = run_counting(dataset, cache_dir, on_error="skip")
    assert second["skipped"] == ["no/broken_nohash_0.wav"]  # known from the manifest
    assert second["built"] == {} and second["batches"] == {}
    broken.unlink()
    assert first["digest"] == second["digest"] == reference_digest(dataset)


def test_unreadable_file_raises_as_uncached(dataset, tmp_path):
    from parallel_audio import AudioFileError, WorkerError

    (dataset / "no" / "empty_nohash_0.wav").write_bytes(b"")
    generator = ParallelAudioDataGenerator(cores=0)
    iterator = generator.flow_from_directory(
        dataset, CLASSES, batch_size=64, cache_dir=tmp_path / "cache"
    )
    with pytest.raises((AudioFileError, WorkerError), match="empty_nohash_0.wav"):
        iterator[0]


# --- storage: int16, damaged chunks, space, writability ----------------------------------------


def test_int16_halves_the_disk_and_counts_clipped_files(dataset, tmp_path, rng):
    loud = dataset / "yes" / "loud_nohash_0.wav"
    soundfile.write(loud, 1.5 * np.sin(np.arange(16000) / 5.0), 16000, subtype="FLOAT")
    float_dir, int_dir = tmp_path / "f32", tmp_path / "i16"
    reference = epochs(dataset, epochs=1)
    assert_same_batches(reference, epochs(dataset, epochs=1, cache_dir=float_dir))
    with pytest.warns(CacheWarning, match=r"clipped 1 of the 15 files"):
        quantized = epochs(dataset, epochs=1, cache_dir=int_dir, cache_dtype="int16")

    def chunk_bytes(cache_dir):
        return sum(p.stat().st_size for p in cache_dir.glob("*/chunks/*.bin"))

    assert chunk_bytes(int_dir) == pytest.approx(chunk_bytes(float_dir) / 2, rel=0.02)
    # Quantized to 16 bits: spectrograms close to the float32 ones, not equal.
    for (x0, _), (x1, _) in zip(reference, quantized, strict=True):
        assert np.mean(np.abs(x0 - x1)) < 0.05 * np.mean(np.abs(x0)) + 1e-6


def test_a_chunk_of_the_wrong_size_is_rebuilt_with_a_warning(dataset, tmp_path):
    cache_dir = tmp_path / "cache"
    reference = epochs(dataset, epochs=1, cache_dir=cache_dir)
    chunk = sorted(cache_dir.glob("*/chunks/*.bin"))[0]
    with open(chunk, "r+b") as file:
        file.truncate(chunk.stat().st_size - 100)
    with pytest.warns(CacheWarning, match=chunk.name):
        rebuilt = epochs(dataset, epochs=1, cache_dir=cache_dir)
    assert_same_batches(reference, rebuilt)
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        assert_same_batches(reference, epochs(dataset, epochs=1, cache_dir=cache_dir))


def test_cache_dir_that_is_not_writable_is_named(dataset, tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(CacheError, match=r"cache_dir .*a_file.* is not writable"):
        epochs(dataset, cache_dir=blocker / "cache")


def test_too_little_free_space_is_said_before_any_work(dataset, tmp_path, monkeypatch):
    import shutil as shutil_module

    from parallel_audio.cache import builder

    usage = shutil_module.disk_usage(tmp_path)
    monkeypatch.setattr(builder.shutil, "disk_usage", lambda path: usage._replace(free=10_000))
    cache_dir = tmp_path / "cache"
    with pytest.raises(CacheError, match=r"needs about (\d+\.\d) KB .* has 10\.0 KB free") as error:
        epochs(dataset, cache_dir=cache_dir)
    # 14 clips of 0.6-1.2 s stored as float32 at 16 kHz: 540 KB to 1080 KB.
    needed = float(error.value.args[0].split("needs about ")[1].split(" KB")[0])
    assert 400 < needed < 1300
    assert list(cache_dir.glob("*/chunks/*.bin")) == []


# --- features -----------------------------------------------------------------------------------


def test_features_for_unaugmented_validation_equal_uncached(dataset, tmp_path):
    args = {**EVERY_AUGMENTATION, "validation_augmentation_enabled": False,
            "validation_split": 0.5}  # fmt: skip
    reference = epochs(dataset, subset="validation", generator_args=args)
    cache_dir = tmp_path / "cache"
    for _ in range(2):
        cached = epochs(dataset, subset="validation", generator_args=args, cache_dir=cache_dir)
        assert_same_batches(reference, cached)
    (folder,) = cache_folders(cache_dir)
    assert folder.name.startswith("features-")  # what "auto" picks there
    manifest = json.loads((folder / "manifest.json").read_text())
    shapes = {tuple(entry["shape"]) for entry in manifest["files"].values()}
    assert shapes == {(98, 32, 1)}


def test_features_are_refused_where_a_random_transform_or_a_callback_runs(dataset, tmp_path):
    cache_dir = tmp_path / "cache"
    with pytest.raises(SettingsError, match="cache='audio'"):
        epochs(dataset, generator_args={"loudness_range": (0.5, 1.5)}, cache_dir=cache_dir,
               cache="features")  # fmt: skip
    with pytest.raises(SettingsError, match="preprocessing_function.*cache='audio'"):
        epochs(dataset, generator_args={"disable_random_transforms": True,
                                        "preprocessing_function": lambda p, x: x},
               cache_dir=cache_dir, cache="features")  # fmt: skip
    # "auto" falls back to audio for augmented training.
    epochs(dataset, epochs=1, generator_args={"loudness_range": (0.5, 1.5)}, cache_dir=cache_dir)
    assert [f.name.split("-")[0] for f in cache_folders(cache_dir)] == ["audio"]


def test_cache_arguments_are_checked(dataset, tmp_path):
    with pytest.raises(SettingsError, match="cache must be one of"):
        epochs(dataset, cache_dir=tmp_path, cache="spectrograms")
    with pytest.raises(SettingsError, match="cache_dtype must be one of"):
        epochs(dataset, cache_dir=tmp_path, cache_dtype="float16")
    with pytest.raises(SettingsError, match="cache_validate must be one of"):
        epochs(dataset, cache_dir=tmp_path, cache_validate="mtime")


# --- command line -------------------------------------------------------------------------------


def test_cli_builds_the_cache_that_training_then_reads_and_info_reports_it(
    dataset, tmp_path, rng, capsys, monkeypatch
):
    from parallel_audio.cli import main

    cache_dir = tmp_path / "cache"
    assert main(["cache", str(dataset), "--classes", *CLASSES, "--cache-dir", str(cache_dir),
                 "--cores", "0", "--loudness-range", "0.5", "1.5"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "14 files cached as audio" in out
    reads = count_reads(monkeypatch)
    args = {"loudness_range": (0.5, 1.5)}
    cached = epochs(dataset, epochs=1, generator_args=args, cache_dir=cache_dir)
    assert reads == []  # training decodes nothing: the command built its cache
    monkeypatch.undo()
    assert_same_batches(epochs(dataset, epochs=1, generator_args=args), cached)

    write_clip(dataset / "no" / "s3_nohash_0.mp3", rng, 48000, 0.7)
    assert main(["info", str(dataset), "--cache-dir", str(cache_dir)]) == 0
    out = capsys.readouterr().out
    assert "13 of 14 files served from the cache, 1 stale" in out
    assert "stale: no/s3_nohash_0.mp3" in out


def test_cli_caches_the_test_split_too(dataset, tmp_path, capsys, monkeypatch):
    from parallel_audio.cli import main

    cache_dir = tmp_path / "cache"
    assert main(["cache", str(dataset), "--classes", *CLASSES, "--cache-dir", str(cache_dir),
                 "--cores", "0", "--test-split", "0.3"]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "training:" in out and "test:" in out
    reads = count_reads(monkeypatch)
    args = {"test_split": 0.3}
    cached = epochs(dataset, epochs=1, subset="test", generator_args=args, cache_dir=cache_dir)
    assert cached and reads == []  # the held-out speakers were cached by the command
    monkeypatch.undo()
    assert_same_batches(epochs(dataset, epochs=1, subset="test", generator_args=args), cached)


def test_a_process_waiting_for_the_lock_says_so(tmp_path, caplog):
    import threading

    import filelock

    from parallel_audio.cache.lock import LOCK_NAME, building_lock

    held = filelock.FileLock(str(tmp_path / LOCK_NAME))
    held.acquire()
    entered = threading.Event()

    def build():
        with building_lock(str(tmp_path), report_interval=0.1):
            entered.set()

    with caplog.at_level("WARNING", logger="parallel_audio.cache.lock"):
        waiter = threading.Thread(target=build)
        waiter.start()
        assert not entered.wait(0.5)  # it waits while the other holds the lock...
        held.release()
        assert entered.wait(10)  # ...and goes on once it is released
        waiter.join()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) >= 2
    assert all(f"building the cache in {tmp_path}" in m for m in messages)


# --- tables, regions and pairs ---------------------------------------------------------------


def dataset_rows(directory: Path) -> list[dict]:
    """One row per file of the class folders, as flow_from_dataframe reads them."""
    return [
        {"filename": f"{name}/{path.name}", "class": name}
        for name in CLASSES
        for path in sorted((directory / name).iterdir())
    ]


def table_epochs(rows, directory, *, generator_args=None, subset=None, **flow):
    generator = ParallelAudioDataGenerator(cores=0, **(generator_args or {}))
    iterator = generator.flow_from_dataframe(
        rows, directory, batch_size=4, seed=7, subset=subset, **flow
    )
    try:
        return [batch for _ in range(2) for batch in iterator]
    finally:
        iterator.close()


@pytest.mark.parametrize(
    ("generator_args", "kind"),
    [
        (EVERY_AUGMENTATION, "audio"),
        (dict(validation_split=0.5, validation_augmentation_enabled=False), "features"),
    ],
)
def test_flow_from_dataframe_with_cache_equals_without(dataset, tmp_path, generator_args, kind):
    rows = dataset_rows(dataset)
    subset = "validation" if kind == "features" else None
    reference = table_epochs(rows, dataset, generator_args=generator_args, subset=subset)
    cache_dir = tmp_path / "cache"
    cached = table_epochs(
        rows, dataset, generator_args=generator_args, subset=subset, cache_dir=cache_dir
    )
    assert_same_batches(reference, cached)
    (folder,) = cache_folders(cache_dir)
    assert folder.name.startswith(f"{kind}-")
    manifest = json.loads((folder / "manifest.json").read_text())
    served = {row["filename"] for row in rows}
    if kind == "features":  # only the validation rows' files
        assert 0 < len(manifest["files"]) < len(served)
    else:
        assert len(manifest["files"]) == len(served)


def test_regions_are_sliced_from_the_cache_only_where_exact(tmp_path, rng, monkeypatch):
    """A region of a PCM or FLAC file at the frontend's rate comes from the cache; others not."""
    data = tmp_path / "data"
    data.mkdir()
    write_clip(data / "at_16k.flac", rng, 16000, 4.0)
    write_clip(data / "at_44k.wav", rng, 44100, 4.0)
    write_clip(data / "at_16k.mp3", rng, 16000, 4.0)
    rows = [
        {"filename": name, "class": label, "start": start, "end": end}
        for name in ("at_16k.flac", "at_44k.wav", "at_16k.mp3")
        for label, start, end in (("yes", 0.25, 1.5), ("no", 2.0, None), ("yes", 3.1, 3.6))
    ]
    flow = dict(start_col="start", end_col="end", generator_args=EVERY_AUGMENTATION)
    (data / "_background_noise_").mkdir()
    soundfile.write(data / "_background_noise_" / "noise.wav", rng.standard_normal(16000), 16000)
    reference = table_epochs(rows, data, **flow)
    cache_dir = tmp_path / "cache"
    assert_same_batches(reference, table_epochs(rows, data, cache_dir=cache_dir, **flow))

    # Built: count what the batches decode (cores=0 computes them in this process).
    opened = count_reads(monkeypatch)
    assert_same_batches(reference, table_epochs(rows, data, cache_dir=cache_dir, **flow))
    assert "at_16k.flac" not in opened
    assert "at_44k.wav" in opened  # a region resampled alone is read uncached
    assert "at_16k.mp3" in opened  # a seek in MP3 does not give a whole decode's frames


def test_audio_pairs_with_cache_equal_without_and_features_are_refused(tmp_path, rng):
    data = tmp_path / "data"
    data.mkdir()
    rows = []
    for i, rate in enumerate((16000, 48000, 44100)):
        write_clip(data / f"in{i}.wav", rng, rate, 1.0)
        write_clip(data / f"out{i}.flac", rng, rate, 1.0)
        rows.append({"filename": f"in{i}.wav", "target": f"out{i}.flac"})
    flow = dict(class_mode="audio", y_col=None, target_col="target")
    reference = table_epochs(rows, data, **flow)
    cache_dir = tmp_path / "cache"
    assert_same_batches(reference, table_epochs(rows, data, cache_dir=cache_dir, **flow))
    (folder,) = cache_folders(cache_dir)
    assert folder.name.startswith("audio-")  # "auto" with pairs
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(manifest["files"]) == 6  # inputs and targets
    with pytest.raises(SettingsError, match="use cache='audio'"):
        table_epochs(rows, data, cache_dir=cache_dir, cache="features", **flow)

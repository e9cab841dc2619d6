"""Fuzzing: damaged files through read_audio and through whole batches of
flow_from_directory, random arrays and settings through the frontend and its binding, and
random clips, rates and frequency maps through the phase vocoder and its binding, and the
same clips through the loudness measurement.

Each target runs in a child process (this file, run as a script), so that a crash or a hang
is reported with the case that caused it instead of taking pytest down. A run is a fixed
number of cases from a fixed seed, so that every run checks the same cases however busy the
machine is. PARALLEL_AUDIO_FUZZ_SEED picks another seed ("random" draws one, printed on
failure), and PARALLEL_AUDIO_FUZZ_SCALE multiplies the number of cases. For a long session::

    PARALLEL_AUDIO_FUZZ_SEED=random PARALLEL_AUDIO_FUZZ_SCALE=200 pytest tests/test_fuzz.py
"""

from __future__ import annotations

import io
import json
import math
import os
import subprocess
import sys
import traceback
import warnings
from pathlib import Path

import numpy as np
import pytest

# Minutes of subprocesses, builds or long runs: left out of `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

FUZZ_SEED = os.environ.get("PARALLEL_AUDIO_FUZZ_SEED", "0")
FUZZ_SCALE = float(os.environ.get("PARALLEL_AUDIO_FUZZ_SCALE", "1"))
#: Cases per target at scale 1 (rounds of two small class folders for "batches"): each takes
#: a few seconds on one core.
CASES = {"read_audio": 150, "batches": 2, "frontend": 150, "binding": 300, "vocoder": 100}
#: A deadline per case, not a speed requirement: only a hang should ever reach it. Imports
#: (TensorFlow, through Keras, for the batch target) come on top.
SECONDS_PER_CASE = {
    "read_audio": 1.0,
    "batches": 60.0,
    "frontend": 1.0,
    "binding": 0.5,
    "vocoder": 2.0,
}
STARTUP_ALLOWANCE = 120


def planned_cases(target: str) -> int:
    return max(1, round(CASES[target] * FUZZ_SCALE))


def run_target(tmp_path: Path, target: str) -> dict:
    seed = int.from_bytes(os.urandom(4), "little") if FUZZ_SEED == "random" else int(FUZZ_SEED)
    num_cases = planned_cases(target)
    work = tmp_path / "work"
    work.mkdir()
    command = [sys.executable, "-X", "faulthandler", __file__, target]
    command += [str(num_cases), str(seed), str(work)]
    timeout = num_cases * SECONDS_PER_CASE[target] + STARTUP_ALLOWANCE
    rerun = f"repeat with PARALLEL_AUDIO_FUZZ_SEED={seed} pytest {__file__} -k {target}"
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as expired:
        pytest.fail(
            f"fuzz target {target} hung: no result after {timeout:.0f} s; last case: "
            f"{last_case(work)}; {rerun}\n{expired.stderr or ''}"
        )
    if result.returncode != 0:
        pytest.fail(
            f"fuzz target {target} failed with exit code {result.returncode} (a negative code is "
            f"the signal that killed it); last case: {last_case(work)}; {rerun}\n"
            f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-8000:]}"
        )
    return json.loads(result.stdout.strip().splitlines()[-1])


def last_case(work: Path) -> str:
    try:
        return (work / "progress.txt").read_text()
    except OSError:
        return "none recorded"


def test_damaged_files_through_read_audio(tmp_path):
    summary = run_target(tmp_path, "read_audio")
    assert summary["cases"] == planned_cases("read_audio"), summary
    # Both outcomes occur: the mutations leave some files readable and break others.
    assert summary["loaded"] > 0 and summary["rejected"] > 0, summary


def test_damaged_files_through_flow_from_directory(tmp_path):
    summary = run_target(tmp_path, "batches")
    assert summary["rounds"] == planned_cases("batches"), summary
    assert summary["failed_batches"] > 0 and summary["batches"] > summary["failed_batches"]


def test_random_arrays_through_the_frontend(tmp_path):
    summary = run_target(tmp_path, "frontend")
    assert summary["cases"] == planned_cases("frontend"), summary
    assert summary["accepted"] > 0 and summary["rejected"] > 0, summary


def test_random_arrays_and_settings_through_the_native_binding(tmp_path):
    summary = run_target(tmp_path, "binding")
    assert summary["cases"] == planned_cases("binding"), summary
    assert summary["accepted"] > 0 and summary["rejected"] > 0, summary


def test_random_clips_rates_and_maps_through_the_phase_vocoder(tmp_path):
    summary = run_target(tmp_path, "vocoder")
    assert summary["cases"] == planned_cases("vocoder"), summary
    assert summary["accepted"] > 0 and summary["rejected"] > 0, summary


# ----------------------------------------------------------------------------- the child side


class FuzzFailure(Exception):
    """A case broke a property; the message says which and how."""


def seed_files() -> dict[str, bytes]:
    """Valid files of every format and width, to mutate."""
    import soundfile

    rng = np.random.default_rng(0)
    signal = (0.3 * np.sin(np.arange(4000) / 7) + 0.01 * rng.standard_normal(4000)).astype(
        np.float32
    )
    specs = [
        ("wav", "WAV", "PCM_16", 16000, 1),
        ("wav", "WAV", "PCM_24", 22050, 2),
        ("wav", "WAV", "PCM_U8", 8000, 1),
        ("wav", "WAV", "FLOAT", 16000, 1),
        ("wav", "WAV", "DOUBLE", 48000, 3),
        ("flac", "FLAC", "PCM_16", 16000, 1),
        ("flac", "FLAC", "PCM_24", 44100, 2),
        ("ogg", "OGG", "VORBIS", 16000, 1),
    ]
    files = {}
    for extension, container, subtype, rate, channels in specs:
        buffer = io.BytesIO()
        data = np.stack([signal] * channels, axis=1) if channels > 1 else signal
        soundfile.write(buffer, data, rate, format=container, subtype=subtype)
        files[f"{subtype.lower()}_{channels}ch.{extension}"] = buffer.getvalue()
    return files


EXTREMES = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """Damage a file as copies, downloads and buggy writers do, 1 to 4 times."""
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 5))):
        operation = int(rng.integers(0, 8))
        position = int(rng.integers(0, len(out) + 1))
        if operation == 0 and out:  # flip bytes, mostly in the header
            for _ in range(int(rng.integers(1, 9))):
                limit = min(len(out), 128) if rng.random() < 0.7 else len(out)
                out[int(rng.integers(0, limit))] ^= 1 << int(rng.integers(0, 8))
        elif operation == 1 and len(out) >= 4:  # a size, rate or count field set to an extreme
            at = int(rng.integers(0, min(len(out), 96) - 3))
            out[at : at + 4] = int(rng.choice(EXTREMES)).to_bytes(4, "little")
        elif operation == 2:  # truncated
            del out[position:]
        elif operation == 3:  # random bytes appended or inserted
            out[position:position] = rng.bytes(int(rng.integers(1, 512)))
        elif operation == 4 and out:  # a slice repeated
            start = int(rng.integers(0, len(out)))
            out[position:position] = out[start : start + int(rng.integers(1, 256))]
        elif operation == 5:  # a range zeroed
            end = position + int(rng.integers(1, 256))
            out[position:end] = bytes(len(out[position:end]))
        elif operation == 6 and out:  # a 2-byte field set to an extreme
            at = int(rng.integers(0, min(len(out), 64)))
            out[at : at + 2] = int(rng.choice(EXTREMES) & 0xFFFF).to_bytes(2, "little")
        elif operation == 7:  # samples replaced by NaN-like float patterns
            pattern = rng.choice([b"\x00\x00\xc0\x7f", b"\x00\x00\x80\x7f", b"\xff\xff\xff\xff"])
            at = int(rng.integers(0, max(1, len(out) - 4)))
            out[at : at + 4] = pattern
    return bytes(out)


def random_file(seeds: dict[str, bytes], rng: np.random.Generator) -> tuple[bytes, str]:
    names = sorted(seeds)
    name = names[int(rng.integers(0, len(names)))]
    kind = rng.random()
    if kind < 0.1:
        data = rng.bytes(int(rng.integers(0, 2048)))
    elif kind < 0.2:  # a valid header with a random body
        data = seeds[name][:64] + rng.bytes(int(rng.integers(0, 4096)))
    else:
        data = mutate(seeds[name], rng)
    extension = name.rsplit(".", 1)[1]
    if rng.random() < 0.15:  # the wrong extension
        extension = str(rng.choice(["wav", "flac", "ogg"]))
    return data, extension


def check_loaded(audio: object, where: str) -> None:
    if not (isinstance(audio, np.ndarray) and audio.dtype == np.float32 and audio.ndim == 1):
        raise FuzzFailure(
            f"{where}: read_audio returned {type(audio)} {getattr(audio, 'shape', '')}"
        )
    if not np.isfinite(audio).all():
        raise FuzzFailure(f"{where}: read_audio returned non-finite values")


def fuzz_read_audio(num_cases: int, seed: int, work: Path, record) -> dict:
    from parallel_audio import AudioFileError
    from parallel_audio.audio_io import read_audio

    seeds = seed_files()
    counts = {"cases": 0, "loaded": 0, "rejected": 0}
    while counts["cases"] < num_cases:
        case = counts["cases"]
        rng = np.random.default_rng([seed, case])
        data, extension = random_file(seeds, rng)
        path = work / f"case.{extension}"
        path.write_bytes(data)
        record(f"case {case}: {len(data)} bytes as .{extension}, kept in {path}")
        try:
            audio = read_audio(path, 16000)
        except AudioFileError as error:
            if error.path != str(path) or not error.problem:
                raise FuzzFailure(
                    f"case {case}: the error does not name the file: {error!r}"
                ) from error
            counts["rejected"] += 1
        else:
            check_loaded(audio, f"case {case}")
            counts["loaded"] += 1
        counts["cases"] += 1
    return counts


def fuzz_batches(num_rounds: int, seed: int, work: Path, record) -> dict:
    import soundfile

    from parallel_audio import AudioFileError, ParallelAudioDataGenerator

    seeds = seed_files()
    generator = ParallelAudioDataGenerator(cores=0)
    counts = {"rounds": 0, "batches": 0, "failed_batches": 0}
    while counts["rounds"] < num_rounds:
        round_index = counts["rounds"]
        rng = np.random.default_rng([seed, round_index])
        root = work / f"round{round_index}"
        for class_name in ("a", "b"):
            (root / class_name).mkdir(parents=True)
            for i in range(3):  # every class keeps readable files whatever the damage
                tone = 0.3 * np.sin(np.arange(8000) * (0.05 + 0.01 * i))
                soundfile.write(root / class_name / f"good{i}.wav", tone, 16000)
            for i in range(6):
                data, extension = random_file(seeds, rng)
                (root / class_name / f"fuzz{i}.{extension}").write_bytes(data)
        record(f"round {round_index}: files in {root}")
        iterator = generator.flow_from_directory(
            root, classes=["a", "b"], batch_size=1, shuffle=False, seed=1, class_mode="sparse"
        )
        failed = set()
        for i in range(len(iterator)):
            record(f"round {round_index}: batch of {iterator.filenames[i]} in {root}")
            try:
                x, y = iterator[i]
            except AudioFileError as error:
                if error.path != os.path.join(root, iterator.filenames[i]):
                    raise FuzzFailure(
                        f"{error!r} names another file than {iterator.filenames[i]}"
                    ) from error
                failed.add(iterator.filenames[i])
                continue
            if x.shape != (1, *iterator.process_params.sample_shape) or not np.isfinite(x).all():
                raise FuzzFailure(f"batch of {iterator.filenames[i]}: shape {x.shape} or values")
        counts["batches"] += len(iterator)
        counts["failed_batches"] += len(failed)
        record(f"round {round_index}: on_error='skip' in {root}")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            skipping = generator.flow_from_directory(
                root, classes=["a", "b"], batch_size=4, seed=1, on_error="skip"
            )
        skipped = {path for path, _ in skipping.skipped_files}
        if skipped != failed:
            raise FuzzFailure(
                f"round {round_index}: on_error='skip' left out {sorted(skipped)} but the batches "
                f"of {sorted(failed)} failed"
            )
        for i in range(len(skipping)):
            skipping[i]  # every batch of the checked files loads
        counts["rounds"] += 1
    return counts


def random_array(rng: np.random.Generator, window: int) -> np.ndarray:
    """Arrays of every dtype, rank, layout and length that a caller might pass."""
    lengths = [0, 1, window - 1, window, window + 1, int(rng.integers(0, 40000))]
    if rng.random() < 0.03:
        lengths.append(2_000_000)
    n = max(0, int(rng.choice(lengths)))
    dtype = rng.choice(
        np.array(
            ["int16", ">i2", "float32", ">f4", "float64", "float16", "int32", "int64", "uint16"]
            + ["int8", "bool", "object", "complex64", "U3", "longdouble"],
            dtype=object,
        )
    )
    kind = rng.random()
    if kind < 0.1:
        array = np.asarray(rng.standard_normal(()))
    elif kind < 0.2:
        array = rng.standard_normal((int(rng.integers(0, 3)), n // 4 + 1))
    else:
        array = rng.standard_normal(n) * float(rng.choice([1e-3, 0.3, 1.0, 3.0, 1e5]))
    if np.dtype(dtype).kind in "f" and array.size and rng.random() < 0.3:
        special = rng.choice([np.nan, np.inf, -np.inf, 1e38, -1e38, 5e-324])
        array.flat[int(rng.integers(0, array.size))] = special
    if np.dtype(dtype).kind in "iu":
        info = np.iinfo(np.dtype(dtype))
        array = np.clip(array * 10000, info.min, info.max)
    with np.errstate(all="ignore"):
        array = array.astype(dtype)
    if array.ndim == 1 and rng.random() < 0.2:
        array = np.repeat(array, 2)[::2]  # not contiguous
    if rng.random() < 0.1:
        array.setflags(write=False)
    return array


def oracle_int16(array: np.ndarray) -> np.ndarray | None:
    """The int16 the frontend must see, or None when the input must be rejected."""
    if array.ndim != 1:
        return None
    if array.dtype.kind == "i" and array.dtype.itemsize == 2:
        return array.astype(np.int16)
    if array.dtype.kind != "f":
        return None
    wide = array.astype(np.float64)
    if not np.isfinite(wide).all():
        return None
    return np.clip(np.rint(wide * 32768.0), -32768, 32767).astype(np.int16)


def random_settings(rng: np.random.Generator):
    """Valid frontend settings across their ranges, or None for a rejected draw."""
    from parallel_audio import AudioFeatureGeneratorSettings, SettingsError

    rate = int(rng.choice([1000, 8000, 11025, 16000, 22050, 48000]))
    window = int(rng.integers(1, 80))
    values = dict(
        sample_rate_hz=rate,
        sample_length_ms=int(rng.integers(1, 1500)),
        window_size_ms=window,
        window_step_ms=int(rng.integers(1, window + 1)),
        filterbank_n_channels=int(rng.integers(1, 100)),
        filterbank_upper_band_limit=float(rng.uniform(10, rate / 2)),
        noise_reduction_enable=bool(rng.random() < 0.5),
        noise_reduction_smoothing_bits=int(rng.integers(0, 17)),
        pcan_enable=bool(rng.random() < 0.3),
        pcan_gain_bits=int(rng.integers(0, 32)),
        log_scale_enable=bool(rng.random() < 0.8),
        log_scale_shift=int(rng.integers(0, 16)),
        dc_notch_filter_enable=bool(rng.random() < 0.3),
        activity_detection_enable=bool(rng.random() < 0.3),
        quantize_dynamic_scale_enable=bool(rng.random() < 0.3),
        quantize_dynamic_scale_range_db=float(rng.uniform(1e-3, 200)),
    )
    values["filterbank_lower_band_limit"] = float(
        rng.uniform(0, values["filterbank_upper_band_limit"])
    )
    try:
        settings = AudioFeatureGeneratorSettings(**values)
        settings.validate()
    except SettingsError:
        return None
    return settings


def fuzz_frontend(num_cases: int, seed: int, work: Path, record) -> dict:
    from parallel_audio import AudioFeatureGenerator, SettingsError

    counts = {"cases": 0, "accepted": 0, "rejected": 0, "settings_rejected": 0}
    generator = None
    while counts["cases"] < num_cases:
        case = counts["cases"]
        rng = np.random.default_rng([seed, case])
        if generator is None or rng.random() < 0.1:
            settings = random_settings(rng)
            if settings is None:
                counts["settings_rejected"] += 1
                counts["cases"] += 1
                continue
            try:
                generator = AudioFeatureGenerator(settings)
            except SettingsError:
                counts["settings_rejected"] += 1  # the top band reaching the last FFT bin
                counts["cases"] += 1
                continue
        settings = generator.settings
        array = random_array(rng, settings.window_samples)
        dtype = rng.choice(np.array(["uint16", "float32", "int8", "float64", "junk"], object))
        record(
            f"case {case}: {settings!r}, array {array.dtype} {array.shape} "
            f"strides {array.strides}, dtype={dtype}"
        )
        expected = oracle_int16(array)
        try:
            result = generator.process_sample(array, dtype=dtype)
        except (TypeError, ValueError) as error:
            if expected is not None and dtype in ("uint16", "float32", "int8"):
                raise FuzzFailure(f"case {case}: valid input rejected: {error!r}") from error
            if not str(error):
                raise FuzzFailure(
                    f"case {case}: {type(error).__name__} without a message"
                ) from error
            counts["rejected"] += 1
        else:
            if expected is None or dtype not in ("uint16", "float32", "int8"):
                raise FuzzFailure(f"case {case}: invalid input accepted")
            window, step = settings.window_samples, settings.step_samples
            frames = 0 if expected.size < window else (expected.size - window) // step + 1
            if result.shape != (frames, settings.filterbank_n_channels):
                raise FuzzFailure(f"case {case}: shape {result.shape}, expected {frames} frames")
            if result.dtype != np.dtype(dtype):
                raise FuzzFailure(f"case {case}: dtype {result.dtype}, asked for {dtype}")
            if expected.size < 100_000:  # the float path equals the int16 it documents
                again = generator.process_sample(expected, dtype=dtype)
                if not np.array_equal(result, again):
                    raise FuzzFailure(f"case {case}: differs from its int16 conversion")
            counts["accepted"] += 1
        counts["cases"] += 1
    return counts


CONFIG_INTS = [-(2**31), -1, 0, 1, 2, 3, 4, 15, 16, 31, 32, 1000, 16000, 384000, 384001, 2**31 - 1]
CONFIG_FLOATS = [float("nan"), float("inf"), -float("inf"), -1.0, 0.0, 1e-30, 0.5, 1.0, 7999.0]


def random_config(rng: np.random.Generator):
    """A raw native config: defaults with a few fields set to extremes."""
    from parallel_audio import _microfrontend

    config = _microfrontend.Config()
    names = [name for name in dir(config) if not name.startswith("_")]
    for name in rng.choice(names, size=int(rng.integers(0, 4)), replace=False):
        current = getattr(config, name)
        if isinstance(current, float):
            value = float(rng.choice(CONFIG_FLOATS + [float(rng.uniform(-1e4, 1e5))]))
        else:
            value = int(rng.choice(CONFIG_INTS + [int(rng.integers(-100, 50000))]))
        setattr(config, name, value)
    return config


def fuzz_binding(num_cases: int, seed: int, work: Path, record) -> dict:
    from parallel_audio import _microfrontend

    counts = {"cases": 0, "accepted": 0, "rejected": 0}
    while counts["cases"] < num_cases:
        case = counts["cases"]
        rng = np.random.default_rng([seed, case])
        config = random_config(rng)
        fields = {name: getattr(config, name) for name in dir(config) if not name.startswith("_")}
        record(f"case {case}: Frontend({fields})")
        try:
            frontend = _microfrontend.Frontend(config)
        except ValueError as error:
            if "invalid frontend setting" not in str(error):
                raise FuzzFailure(f"case {case}: unclear rejection {error!r}") from error
            counts["rejected"] += 1
            frontend = None
        if frontend is not None:
            window = frontend.window_samples
            samples = random_array(rng, window)
            frames = frontend.num_frames(samples.size) if samples.ndim == 1 else 0
            shapes = [(frames, frontend.num_channels), (frames + 1, frontend.num_channels)]
            shapes += [
                (frames, max(frontend.num_channels - 1, 0)),
                (frames * frontend.num_channels,),
            ]
            shape = shapes[int(rng.integers(0, len(shapes)))]
            out_dtype = np.uint16 if rng.random() < 0.8 else np.int16
            out = np.zeros(shape, out_dtype)
            if rng.random() < 0.1:
                out = np.asfortranarray(np.zeros(shape[::-1], out_dtype).T)
            if rng.random() < 0.05:
                out.setflags(write=False)
            valid = (
                samples.dtype == np.int16
                and samples.ndim == 1
                and samples.flags.c_contiguous
                and out.dtype == np.uint16
                and out.shape == (frames, frontend.num_channels)
                and out.flags.c_contiguous
                and out.flags.writeable
            )
            record(
                f"case {case}: Frontend({fields}).process({samples.dtype} {samples.shape} "
                f"strides {samples.strides}, out {out.dtype} {out.shape} strides {out.strides})"
            )
            try:
                frontend.process(samples, out)
            except (TypeError, ValueError) as error:
                if valid:
                    raise FuzzFailure(f"case {case}: valid call rejected: {error!r}") from error
                counts["rejected"] += 1
            else:
                if not valid:
                    raise FuzzFailure(f"case {case}: invalid call accepted")
                counts["accepted"] += 1
        fuzz_quantize(rng, case, counts, record)
        counts["cases"] += 1
    return counts


def fuzz_quantize(rng: np.random.Generator, case: int, counts: dict, record) -> None:
    from parallel_audio import _microfrontend

    n = int(rng.choice([0, 1, 7, int(rng.integers(0, 5000))]))
    values = rng.integers(0, 65536, n).astype(rng.choice([np.uint16, np.uint16, np.int32]))
    out = np.zeros(n + int(rng.choice([0, 0, 0, 1, -1 if n else 0])), np.int8)
    if rng.random() < 0.1 and n > 1:
        values = np.repeat(values, 2)[::2]
    range_db = float(rng.choice([40.0, 0.0, -5.0, 1e-9, 200.0, 201.0, 1e30, np.nan, np.inf]))
    shift = int(rng.choice([0, 6, 15, 16, 31, 40, -1, -(2**31)]))
    dynamic = rng.random() < 0.5
    record(
        f"case {case}: quantize ({'dynamic' if dynamic else 'static'}) {values.dtype} "
        f"{values.shape} strides {values.strides} -> {out.shape}, range_db={range_db}, "
        f"shift={shift}"
    )
    valid = values.dtype == np.uint16 and values.flags.c_contiguous and out.size == values.size
    if dynamic:
        valid = valid and np.isfinite(range_db) and 0 < range_db <= 200 and 0 <= shift <= 15
    try:
        if dynamic:
            _microfrontend.quantize_int8_dynamic(values, out, range_db, shift)
        else:
            _microfrontend.quantize_int8_static(values, out)
    except (TypeError, ValueError) as error:
        if valid:
            raise FuzzFailure(f"case {case}: valid quantize rejected: {error!r}") from error
        counts["rejected"] += 1
        return
    if not valid:
        raise FuzzFailure(f"case {case}: invalid quantize accepted")
    if not dynamic:
        expected = np.clip((values.astype(np.int64) * 256 + 333) // 666 - 128, -128, 127)
        if not np.array_equal(out, expected):
            raise FuzzFailure(f"case {case}: static quantization differs from its formula")
    counts["accepted"] += 1


def random_frequency_map(rng: np.random.Generator):
    """None, a valid map, or one of the ways a map can be wrong."""
    kind = rng.random()
    if kind < 0.2:
        return None
    knots = int(rng.integers(2, 5))
    source = np.concatenate([[0.0], np.cumsum(rng.uniform(1e-3, 0.3, knots - 1))])
    target = np.concatenate([[0.0], np.cumsum(rng.uniform(1e-3, 0.3, knots - 1))])
    if kind < 0.7:
        return source, target
    broken = [
        lambda: (source[::-1], target),
        lambda: (source + 0.1, target),
        lambda: (source, target[:-1]),
        lambda: (np.where(source > 0, np.nan, 0.0), target),
        lambda: (source, np.zeros_like(target)),
        lambda: (source * 1e-300, target * 1e300),
        lambda: (source.reshape(1, -1), target.reshape(1, -1)),
    ]
    return broken[int(rng.integers(0, len(broken)))]()


def map_is_valid(frequency_map) -> bool:
    if frequency_map is None:
        return True
    source, target = (np.asarray(k, np.float64) for k in frequency_map)
    if source.ndim != 1 or source.shape != target.shape or source.size < 2:
        return False
    if source[0] != 0 or target[0] != 0:
        return False
    with np.errstate(all="ignore"):
        slopes = np.diff(target) / np.diff(source)
        return bool(
            np.all(np.diff(source) > 0)
            and np.all(np.diff(target) > 0)
            and np.all(np.isfinite(slopes) & np.isfinite(1 / slopes))
        )


def fuzz_vocoder(num_cases: int, seed: int, work: Path, record) -> dict:
    from parallel_audio.augment import loudness_lufs, stretch_and_warp

    counts = {"cases": 0, "accepted": 0, "rejected": 0}
    while counts["cases"] < num_cases:
        case = counts["cases"]
        rng = np.random.default_rng([seed, case])
        audio = random_array(rng, 512)
        if audio.size > 100_000:
            audio = audio[:100_000]
        rate = float(rng.choice([1.0, 0.5, 2.0, 0.01, 1e3, 1e9, 0.0, -1.0, np.nan, np.inf]))
        rate = rate * float(rng.uniform(0.9, 1.1)) if rng.random() < 0.5 else rate
        frequency_map = random_frequency_map(rng)
        frame, hop = [(512, 128), (64, 16), (16, 16), (8, 2), (512, 100), (7, 7), (0, 1)][
            int(rng.integers(0, 7))
        ]
        record(
            f"case {case}: stretch_and_warp({audio.dtype} {audio.shape} strides "
            f"{audio.strides}, rate={rate}, frequency_map={frequency_map}, "
            f"frame_length={frame}, hop_length={hop})"
        )
        valid = (
            audio.ndim == 1
            and audio.dtype.kind in "biuf"
            and np.isfinite(rate)
            and rate > 0
            and frame >= 2
            and frame % 2 == 0
            and frame % hop == 0
            and map_is_valid(frequency_map)
        )
        try:
            with np.errstate(all="ignore"):
                out = stretch_and_warp(
                    audio,
                    rate=rate,
                    frequency_map=frequency_map,
                    frame_length=frame,
                    hop_length=hop,
                )
        except (TypeError, ValueError) as error:
            if valid:
                raise FuzzFailure(f"case {case}: valid call rejected: {error!r}") from error
            counts["rejected"] += 1
        else:
            if not valid:
                raise FuzzFailure(f"case {case}: invalid call accepted")
            if out.dtype != np.float32 or out.shape != (int(round(audio.size / rate)),):
                raise FuzzFailure(f"case {case}: output {out.dtype} {out.shape}")
            clean = np.all(np.isfinite(audio.astype(np.float32)))
            if clean and np.max(np.abs(audio.astype(np.float64)), initial=0) < 1e3:
                if not np.all(np.isfinite(out)):
                    raise FuzzFailure(f"case {case}: finite clip, non-finite output")
            counts["accepted"] += 1
        if audio.ndim == 1 and audio.dtype.kind in "biuf":
            sample_rate = int(rng.choice([8000, 16000, 44100, 1]))
            record(f"case {case}: loudness_lufs({audio.dtype} {audio.shape}, {sample_rate})")
            with np.errstate(all="ignore"):
                loudness = loudness_lufs(audio, sample_rate)
            if not isinstance(loudness, float) or loudness == math.inf:
                raise FuzzFailure(f"case {case}: loudness {loudness!r}")
        counts["cases"] += 1
    return counts


TARGETS = {
    "read_audio": fuzz_read_audio,
    "batches": fuzz_batches,
    "frontend": fuzz_frontend,
    "binding": fuzz_binding,
    "vocoder": fuzz_vocoder,
}


def main(argv: list[str]) -> int:
    target, num_cases, seed, work = argv[0], int(argv[1]), int(argv[2]), Path(argv[3])
    progress = work / "progress.txt"

    def record(text: str) -> None:
        # Written before each case, so that a crash or a hang leaves the case behind.
        progress.write_text(f"seed {seed}, {text}")

    if target != "batches":
        # Any allocation a damaged header or a huge array could cause fails as MemoryError
        # here instead of exhausting the machine (TensorFlow, loaded by the batch target,
        # reserves too much address space for such a limit).
        import resource

        limit = 6 * 2**30
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    if target == "batches":
        import parallel_audio.iterator  # noqa: F401  (Keras and its backend: not fuzzing time)
    try:
        counts = TARGETS[target](num_cases, seed, work, record)
    except Exception:
        print(traceback.format_exc(), file=sys.stderr)
        return 1
    print(json.dumps({"seed": seed, **counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

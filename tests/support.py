"""Helpers the test modules share: synthetic signals and datasets, deadlines, and process checks.

Test modules import from here, never from each other.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

import numpy as np
import soundfile

# --- Signals ---------------------------------------------------------------------------------


def to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), -32768, 32767).astype(np.int16)


def speech_like(rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """Voiced harmonics under moving formants, syllable-rate envelope, breath noise."""
    t = np.arange(n) / sample_rate
    f0 = 110 + 40 * np.sin(2 * np.pi * 1.3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voice = np.zeros(n)
    for harmonic in range(1, 25):
        frequency = harmonic * 120
        if frequency >= sample_rate / 2:
            break
        formant = np.exp(-(((frequency - 700) / 300) ** 2)) + 0.5 * np.exp(
            -(((frequency - 1800 - 400 * np.sin(2 * np.pi * 0.7 * t)) / 400) ** 2)
        )
        voice += formant * np.sin(harmonic * phase)
    envelope = np.clip(np.sin(2 * np.pi * 3 * t), 0, None) ** 2
    return to_int16(6000 * envelope * voice + 200 * rng.standard_normal(n))


def colored_noise(rng: np.random.Generator, n: int, exponent: float, rms: float) -> np.ndarray:
    """Noise whose power falls as 1/f**exponent."""
    spectrum = np.fft.rfft(rng.standard_normal(max(n, 2)))
    frequencies = np.arange(spectrum.size, dtype=float)
    frequencies[0] = 1.0
    spectrum /= frequencies ** (exponent / 2)
    noise = np.fft.irfft(spectrum, max(n, 2))[:n]
    return to_int16(noise / (noise.std() + 1e-12) * rms)


SIGNAL_KINDS = (
    "speech",
    "white",
    "pink",
    "brown",
    "silence",
    "dc",
    "full_scale",
    "clipped",
    "tiny",
    "tone",
)


def make_signal(kind: str, rng: np.random.Generator, n: int, sample_rate: int) -> np.ndarray:
    """One of SIGNAL_KINDS, n samples long."""
    t = np.arange(n) / sample_rate
    if kind == "speech":
        return speech_like(rng, n, sample_rate)
    if kind == "white":
        return to_int16(3000 * rng.standard_normal(n))
    if kind == "pink":
        return colored_noise(rng, n, 1.0, 3000)
    if kind == "brown":
        return colored_noise(rng, n, 2.0, 3000)
    if kind == "silence":
        return np.zeros(n, np.int16)
    if kind == "dc":
        return np.full(n, 12000, np.int16)
    if kind == "full_scale":
        return rng.choice(np.array([-32768, 32767], np.int16), n)
    if kind == "clipped":
        return to_int16(np.clip(60000 * np.sin(2 * np.pi * 300 * t), -32768, 32767))
    if kind == "tiny":
        return rng.integers(-2, 3, n).astype(np.int16)
    if kind == "tone":
        return to_int16(20000 * np.sin(2 * np.pi * 1000 * t))
    raise ValueError(kind)


# --- Datasets --------------------------------------------------------------------------------


RATE = 16000


# Two classes a model can only tell apart by their content: a low and a high tone.
CLASS_TONES = {"low": 400.0, "high": 3000.0}


def tone_burst(frequency, rate, length, start, stop, amplitude=0.5):
    t = np.arange(length) / rate
    x = np.zeros(length, np.float32)
    x[start:stop] = amplitude * np.sin(2 * np.pi * frequency * t[start:stop])
    return x


def write_dataset(root: Path, rng, *, speakers=6, per_speaker=4, extra_classes=("other",)):
    """Class folders of tone bursts at random places, with speaker-style names, in several
    sample rates, channel counts and formats."""
    formats = [("wav", 16000, 1), ("flac", 22050, 2), ("wav", 8000, 1), ("ogg", 44100, 1)]
    tones = {**CLASS_TONES, **{name: 1200.0 for name in extra_classes}}
    for name, frequency in tones.items():
        folder = root / name
        folder.mkdir(parents=True)
        for speaker in range(speakers):
            for n in range(per_speaker):
                extension, rate, channels = formats[(speaker + n) % len(formats)]
                length = int(rate * rng.uniform(0.5, 1.2))
                start = int(rng.integers(0, length // 3))
                stop = int(start + rng.integers(length // 4, length // 2))
                x = tone_burst(frequency * rng.uniform(0.95, 1.05), rate, length, start, stop)
                x += 0.002 * rng.standard_normal(length).astype(np.float32)
                data = np.stack([x] * channels, axis=1) if channels > 1 else x
                soundfile.write(folder / f"spk{speaker:02d}_nohash_{n}.{extension}", data, rate)
    (root / "_background_noise_").mkdir()
    soundfile.write(
        root / "_background_noise_" / "noise.wav", 0.1 * rng.standard_normal(RATE), RATE
    )
    return root


# --- Deadlines and processes -----------------------------------------------------------------


@contextlib.contextmanager
def deadline(seconds: float):
    """Fail with TimeoutError if the block runs longer than ``seconds`` (a hand-made timeout)."""

    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def is_gone(pid: int) -> bool:
    """True once ``pid`` has exited (no /proc entry, or a zombie waiting for its reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_until(condition, timeout: float, interval: float = 0.05) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def assert_gone(pids, timeout: float = 5.0) -> None:
    pids = list(pids)
    assert pids, "no worker pids to check"
    assert wait_until(lambda: all(is_gone(p) for p in pids), timeout), [
        p for p in pids if not is_gone(p)
    ]


def package_segments(pid: int) -> list[str]:
    """Names in /dev/shm this package made for process ``pid`` (never other programs')."""
    return sorted(p.name for p in Path("/dev/shm").glob(f"parallel_audio-{pid}-*"))


def assert_no_segments_of(pid: int, timeout: float = 5.0) -> None:
    assert wait_until(lambda: not package_segments(pid), timeout), package_segments(pid)


def result_slots_held(pid: int) -> list[str]:
    """The package's anonymous result slots (memfd) that process ``pid`` holds or maps."""
    prefix = "/memfd:parallel_audio-"
    held = set()
    with contextlib.suppress(FileNotFoundError, ProcessLookupError, PermissionError):
        for entry in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{entry}")
                if target.startswith(prefix):
                    held.add(target)
        for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
            if prefix in line:
                held.add(line[line.index(prefix) :])
    return sorted(held)


def process_table() -> list[tuple[int, str, int, int]]:
    """(pid, state, parent pid, session) of every process, from /proc."""
    table = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        table.append((int(entry), fields[0], int(fields[1]), int(fields[3])))
    return table


def session_processes(session: int) -> list[int]:
    """Live processes in a session (the children a script left behind, however reparented)."""
    return [
        pid
        for pid, state, _, in_session in process_table()
        if state not in ("Z", "X") and in_session == session
    ]


def epochs(iterator, count: int = 2) -> list[list]:
    """Every batch of ``count`` epochs, read the way Keras reads them."""
    out = []
    for _ in range(count):
        out.append([iterator[i] for i in range(len(iterator))])
        iterator.on_epoch_end()
    return out


def assert_same_epochs(first: list[list], second: list[list]) -> None:
    """Assert two runs of :func:`epochs` gave the same arrays, bit for bit."""
    for epoch_a, epoch_b in zip(first, second, strict=True):
        for batch_a, batch_b in zip(epoch_a, epoch_b, strict=True):
            for part_a, part_b in zip(batch_a, batch_b, strict=True):
                np.testing.assert_array_equal(part_a, part_b)


def augmenting(**kwargs):
    """A generator that draws something random for every sample (offset, speed, noise).

    Its background noise is the dataset's ``_background_noise_`` folder (see
    :func:`write_dataset`).
    """
    from parallel_audio import ParallelAudioDataGenerator

    return ParallelAudioDataGenerator(
        speed_range=(0.9, 1.1),
        loudness_range=(0.5, 1.5),
        noise_colors="all",
        noise_color_range=(0.05, 0.2),
        bg_noise_dir="_background_noise_",
        bg_noise_range=(0.05, 0.2),
        offset_range=(0.0, 1.0),
        **kwargs,
    )

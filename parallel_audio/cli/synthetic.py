"""A keyword-spotting dataset synthesized on the spot, with no download.

Words are strings of phones rendered by a small formant synthesizer: voiced phones are a
harmonic series under a cascade of formant resonances whose frequencies glide from phone to
phone; fricatives, stop bursts and aspiration are band-filtered noise. Each speaker has a
pitch, a vocal-tract length (all formants scaled together), a speaking rate and a
breathiness; each token varies its phone durations, formants, pitch contour, loudness, onset
and recording noise. Files are named ``<speaker>_nohash_<n>.wav`` as in Speech Commands, so
the validation split keeps each speaker on one side. When ``espeak-ng`` is installed, some
speakers are espeak-ng voices instead.

A ``_background_noise_`` folder holds long noise recordings: white, pink and brown noise,
mains hum, running water and babble (many quiet synthesized voices).
"""

from __future__ import annotations

import io
import json
import math
import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from parallel_audio.random_streams import Stream, random_generator

SAMPLE_RATE = 16000
CLIP_SECONDS = 1.0
NOISE_FOLDER = "_background_noise_"
NOISE_NAMES = (
    "white_noise.wav",
    "pink_noise.wav",
    "brown_noise.wav",
    "hum.wav",
    "running_water.wav",
    "babble.wav",
)
#: Marks a folder written by :func:`write_keyword_dataset`, with the arguments that made it.
MARKER_FILE = ".synthetic_dataset.json"
#: Fewest speakers of a dataset, so that a validation split of 10 % or more almost surely
#: holds one (0.9 ** 40 < 2 %).
MIN_SPEAKERS = 40


@dataclass(frozen=True)
class Phone:
    """One speech sound.

    Attributes
    ----------
    kind : str
        ``vowel``, ``glide``, ``nasal``, ``fricative``, ``voiced_fricative``, ``aspiration``,
        ``stop`` or ``voiced_stop``.
    duration_ms : float
        Typical duration at a normal speaking rate.
    formants : (float, float, float), optional
        F1, F2, F3 in Hz for an adult male vocal tract, where the phone is voiced.
    band_hz : (float, float), optional
        Band of the noise of a fricative or a stop burst, in Hz.
    level : float
        Amplitude relative to a vowel.
    """

    kind: str
    duration_ms: float
    formants: tuple[float, float, float] | None = None
    band_hz: tuple[float, float] | None = None
    level: float = 1.0


# Vowel formants: adult male averages of American English vowels (Peterson and Barney 1952).
PHONES: dict[str, Phone] = {
    "i": Phone("vowel", 140, (270, 2290, 3010)),
    "I": Phone("vowel", 100, (390, 1990, 2550)),
    "e": Phone("vowel", 130, (530, 1840, 2480)),
    "ae": Phone("vowel", 150, (660, 1720, 2410)),
    "a": Phone("vowel", 150, (730, 1090, 2440)),
    "o": Phone("vowel", 140, (570, 840, 2410)),
    "U": Phone("vowel", 100, (440, 1020, 2240)),
    "u": Phone("vowel", 140, (300, 870, 2240)),
    "A": Phone("vowel", 120, (640, 1190, 2390)),
    "er": Phone("vowel", 150, (490, 1350, 1690)),
    "j": Phone("glide", 60, (260, 2100, 3000), level=0.6),
    "w": Phone("glide", 60, (300, 650, 2200), level=0.6),
    "l": Phone("glide", 70, (360, 1050, 2700), level=0.6),
    "r": Phone("glide", 70, (350, 1100, 1500), level=0.6),
    "m": Phone("nasal", 80, (250, 1000, 2200), level=0.3),
    "n": Phone("nasal", 80, (250, 1500, 2500), level=0.3),
    "s": Phone("fricative", 130, band_hz=(4200, 7600), level=0.3),
    "S": Phone("fricative", 130, band_hz=(2000, 5000), level=0.35),
    "f": Phone("fricative", 110, band_hz=(1200, 7600), level=0.1),
    "z": Phone("voiced_fricative", 110, (250, 1600, 2600), band_hz=(4200, 7600), level=0.25),
    "h": Phone("aspiration", 70, level=0.15),
    "p": Phone("stop", 90, band_hz=(400, 2000), level=0.45),
    "t": Phone("stop", 90, band_hz=(3000, 7000), level=0.45),
    "k": Phone("stop", 90, band_hz=(1500, 3500), level=0.45),
    "b": Phone("voiced_stop", 70, band_hz=(400, 2000), level=0.3),
    "d": Phone("voiced_stop", 70, band_hz=(3000, 6000), level=0.3),
    "g": Phone("voiced_stop", 70, band_hz=(1500, 3200), level=0.3),
}

#: Words as phone strings (a rough General American transcription).
WORDS: dict[str, str] = {
    "yes": "j e s",
    "no": "n o U",
    "up": "A p",
    "down": "d a U n",
    "left": "l e f t",
    "right": "r a I t",
    "on": "a n",
    "off": "o f",
    "stop": "s t a p",
    "go": "g o U",
    "wow": "w a U",
    "tree": "t r i",
    "bird": "b er d",
    "house": "h a U s",
    "zero": "z i r o U",
    "sheila": "S i l A",
}
KEYWORDS = ("yes", "no", "up", "down", "left", "right")
UNKNOWN_WORDS = ("on", "off", "stop", "go", "wow", "tree", "bird", "house", "zero", "sheila")


@dataclass(frozen=True)
class Speaker:
    """A voice: every token of one speaker shares these.

    Attributes
    ----------
    name : str
        8 hex digits, the ``<speaker>`` of the file names.
    f0_hz : float
        Mean pitch.
    formant_scale : float
        Formant frequencies relative to the adult male table (shorter vocal tract: higher).
    rate : float
        Duration multiplier of every phone (above 1: slower).
    breathiness : float
        Level of the aspiration noise mixed into voicing.
    espeak_voice : str, optional
        An espeak-ng voice (``en-us+f3``) that speaks instead of the synthesizer.
    """

    name: str
    f0_hz: float
    formant_scale: float
    rate: float
    breathiness: float
    espeak_voice: str | None = None


def random_speaker(rng: np.random.Generator, *, espeak: bool = False) -> Speaker:
    """Draw a speaker: a man, a woman or a child, with individual pitch, tract and tempo."""
    kind = rng.choice(3, p=[0.45, 0.45, 0.1])
    f0 = (115.0, 205.0, 265.0)[kind] * float(rng.lognormal(0.0, 0.12))
    scale = (1.0, 1.16, 1.3)[kind] * float(rng.normal(1.0, 0.04))
    voice = None
    if espeak:
        variant = ["m1", "m2", "m3", "m4", "m7", "f1", "f2", "f3", "f4"][int(rng.integers(9))]
        voice = f"en-us+{variant}"
    return Speaker(
        name=f"{int(rng.integers(0, 2**32)):08x}",
        f0_hz=f0,
        formant_scale=scale,
        rate=float(rng.uniform(0.8, 1.25)),
        breathiness=float(rng.uniform(0.0, 0.03)),
        espeak_voice=voice,
    )


# ----------------------------------------------------------------------------- synthesis


def _resonance(frequency: np.ndarray, formant: np.ndarray, bandwidth: np.ndarray) -> np.ndarray:
    """Magnitude response of a second-order resonator, 1 at 0 Hz (one stage of a cascade)."""
    f2 = formant * formant
    return f2 / np.sqrt((f2 - frequency * frequency) ** 2 + (frequency * bandwidth) ** 2)


def _cascade(frequency: np.ndarray, formants: np.ndarray, scale: float) -> np.ndarray:
    """Gain of the vocal tract at ``frequency`` for formants of shape (3, ...), plus F4 and F5."""
    # Bandwidths grow with frequency, as in Klatt's defaults.
    gain = np.ones_like(frequency)
    for index, bandwidth in enumerate((80.0, 100.0, 150.0)):
        gain = gain * _resonance(frequency, formants[index], bandwidth + 0.04 * formants[index])
    for fixed, bandwidth in ((3500.0, 250.0), (4500.0, 300.0)):
        gain = gain * _resonance(frequency, np.float32(fixed * scale), np.float32(bandwidth))
    return gain


def _band_noise(rng: np.random.Generator, n: int, band: tuple[float, float]) -> np.ndarray:
    """White noise limited to a band with soft edges, unit RMS."""
    if n <= 1:
        return np.zeros(n, np.float32)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    frequency = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    low, high = band
    edge = 0.15 * (high - low) + 1.0
    weight = np.clip((frequency - low) / edge + 0.5, 0, 1) * np.clip(
        (high - frequency) / edge + 0.5, 0, 1
    )
    noise = np.fft.irfft(spectrum * weight, n)
    return (noise / (np.sqrt(np.mean(noise**2)) + 1e-12)).astype(np.float32)


def _shaped_noise(
    rng: np.random.Generator, n: int, formants: np.ndarray, scale: float
) -> np.ndarray:
    """Aspiration: white noise through the vocal tract of the next vowel, unit RMS."""
    if n <= 1:
        return np.zeros(n, np.float32)
    spectrum = np.fft.rfft(rng.standard_normal(n))
    frequency = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    gain = _cascade(frequency, formants.reshape(3, 1) * np.ones((1, frequency.size)), scale)
    noise = np.fft.irfft(spectrum * gain, n)
    return (noise / (np.sqrt(np.mean(noise**2)) + 1e-12)).astype(np.float32)


def _ramp(n: int, ramp: int) -> np.ndarray:
    """Return an envelope of n samples rising and falling over ``ramp`` samples (raised cosine)."""
    envelope = np.ones(n, np.float32)
    ramp = min(ramp, n // 2)
    if ramp > 0:
        rise = 0.5 - 0.5 * np.cos(np.pi * np.arange(ramp) / ramp)
        envelope[:ramp] = rise
        envelope[n - ramp :] = rise[::-1]
    return envelope


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    if width <= 1:
        return x
    kernel = np.hanning(width + 2)[1:-1]
    return np.convolve(x, kernel / kernel.sum(), mode="same").astype(np.float32)


def _voiced(
    f0: np.ndarray, formants: np.ndarray, amplitude: np.ndarray, scale: float
) -> np.ndarray:
    """Sum the harmonics of f0 under the formant cascade: gain(k f0) / k sin(k phase) over k.

    The 1/k slope is the glottal source's -12 dB per octave plus the lips' +6 dB. The gains
    are computed every 4 ms and interpolated: formants move slowly, and this is where most of
    the work would be.
    """
    n = f0.size
    phase = 2 * np.pi * np.cumsum(f0, dtype=np.float64) / SAMPLE_RATE
    max_frequency = min(5500.0, 0.45 * SAMPLE_RATE)
    harmonics = np.arange(1, int(max_frequency / f0.min()) + 1, dtype=np.float32)
    step = 64
    coarse = np.arange(0, n + step, step).clip(max=n - 1)
    frequency = harmonics[:, None] * f0[coarse][None, :]
    gain = _cascade(frequency, formants[:, coarse][:, None, :], scale) / harmonics[:, None]
    gain *= frequency < max_frequency
    position = np.arange(n) / step
    left = np.minimum(position.astype(np.int64), coarse.size - 2)
    weight = (position - left).astype(np.float32)
    fine = gain[:, left] * (1 - weight) + gain[:, left + 1] * weight
    waves = np.sin(np.outer(harmonics, phase)).astype(np.float32)
    return (np.sum(fine * waves, axis=0) * amplitude).astype(np.float32)


def synthesize_word(word: str, speaker: Speaker, rng: np.random.Generator) -> np.ndarray:
    """Render one token of ``word`` in ``speaker``'s voice, at SAMPLE_RATE, peak 1.

    Parameters
    ----------
    word : str
        A key of WORDS.
    speaker : Speaker
        The voice.
    rng : numpy.random.Generator
        The token's randomness: phone durations, formant jitter, pitch contour, noise.

    Returns
    -------
    numpy.ndarray of float32
        Just the word, with 20 ms of tail.
    """
    phones = [PHONES[symbol] for symbol in WORDS[word].split()]
    durations = [
        p.duration_ms * speaker.rate * float(rng.uniform(0.85, 1.15)) * SAMPLE_RATE / 1000
        for p in phones
    ]
    if phones[-1].kind in ("vowel", "nasal", "glide"):
        durations[-1] *= 1.25  # words end longer than they run
    edges = np.concatenate([[0], np.cumsum(durations)]).astype(np.int64)
    n = int(edges[-1]) + SAMPLE_RATE // 50
    scale = speaker.formant_scale

    # Formant tracks: each voiced phone pulls toward its target; vowels hold it over their
    # middle, and the tracks glide linearly between targets (through unvoiced phones too).
    anchor_times, anchor_values = [], []
    targets: list[np.ndarray | None] = []
    for phone, start, stop in zip(phones, edges[:-1], edges[1:], strict=True):
        if phone.formants is None:
            targets.append(None)
            continue
        target = np.array(phone.formants) * scale * rng.normal(1.0, 0.03, 3)
        targets.append(target)
        points = (0.3, 0.7) if phone.kind == "vowel" else (0.5,)
        for fraction in points:
            anchor_times.append(start + fraction * (stop - start))
            anchor_values.append(target)
    if not anchor_values:  # a word with no voiced phone: a neutral tract
        anchor_times, anchor_values = [0.0], [np.array((500.0, 1500.0, 2500.0)) * scale]
    samples = np.arange(n)
    values = np.array(anchor_values)
    formants = np.stack([np.interp(samples, anchor_times, values[:, i]) for i in range(3)])
    formants = formants.astype(np.float32)

    voicing = np.zeros(n, np.float32)
    noise = np.zeros(n, np.float32)
    ramp = SAMPLE_RATE // 100
    for i, (phone, start, stop) in enumerate(zip(phones, edges[:-1], edges[1:], strict=True)):
        start, stop = int(start), int(stop)
        length = stop - start
        following = next((t for t in targets[i + 1 :] if t is not None), None)
        if following is None:
            following = next((t for t in reversed(targets[:i]) if t is not None), None)
        if following is None:
            following = np.array((500.0, 1500.0, 2500.0)) * scale
        band = None
        if phone.band_hz is not None:
            # A shorter vocal tract moves noise bands up too, less than the formants.
            band = (phone.band_hz[0] * math.sqrt(scale), phone.band_hz[1] * math.sqrt(scale))
        if phone.kind in ("vowel", "glide", "nasal"):
            voicing[start:stop] = phone.level
        elif phone.kind in ("fricative", "voiced_fricative"):
            noise[start:stop] += phone.level * _band_noise(rng, length, band) * _ramp(length, ramp)
            if phone.kind == "voiced_fricative":
                voicing[start:stop] = 0.4
        elif phone.kind == "aspiration":
            noise[start:stop] += (
                phone.level * _shaped_noise(rng, length, following, scale) * _ramp(length, ramp)
            )
        else:  # a stop: closure, then a burst, then (unvoiced) aspiration into what follows
            closure = int(0.6 * length)
            if phone.kind == "voiced_stop":
                voicing[start : start + closure] = 0.08  # the voice bar
            burst = max(2, int(rng.uniform(0.008, 0.015) * SAMPLE_RATE))
            at = start + closure
            burst = min(burst, n - at)
            noise[at : at + burst] += phone.level * _band_noise(rng, burst, band) * _ramp(burst, 8)
            if phone.kind == "stop":
                rest = max(0, min(stop - at - burst, n - at - burst))
                aspiration = _shaped_noise(rng, rest, following, scale) * _ramp(rest, ramp)
                noise[at + burst : at + burst + rest] += 0.3 * phone.level * aspiration
    voicing = _smooth(voicing, SAMPLE_RATE // 80)

    # Pitch: declination over the word, a slow wobble and a little jitter.
    contour = np.linspace(rng.uniform(1.02, 1.15), rng.uniform(0.82, 0.95), n)
    wobble = _smooth(rng.standard_normal(n).astype(np.float32), SAMPLE_RATE // 20)
    f0 = (speaker.f0_hz * contour * (1 + 0.3 * wobble)).astype(np.float32)
    f0 = np.clip(f0, 60.0, 500.0)

    voiced = _voiced(f0, formants, voicing, scale)
    voiced /= np.max(np.abs(voiced)) + 1e-9
    breath = speaker.breathiness * voicing * _band_noise(rng, n, (300.0, 4000.0))
    word_audio = voiced + breath + noise
    return (word_audio / (np.max(np.abs(word_audio)) + 1e-9)).astype(np.float32)


def espeak_word(word: str, speaker: Speaker, rng: np.random.Generator) -> np.ndarray:
    """Render ``word`` with espeak-ng in the speaker's voice, at SAMPLE_RATE, peak 1."""
    import soundfile
    import soxr

    pitch = int(np.clip(50 + (speaker.f0_hz - 160) / 3 + rng.normal(0, 5), 0, 99))
    speed = int(np.clip(170 / speaker.rate + rng.normal(0, 8), 100, 260))
    command = ["espeak-ng", "-v", speaker.espeak_voice, "-p", str(pitch), "-s", str(speed)]
    command += ["--stdout", word]
    try:
        result = subprocess.run(command, capture_output=True, check=True, timeout=30)
        audio, rate = soundfile.read(io.BytesIO(result.stdout), dtype="float32", always_2d=True)
    except (OSError, subprocess.SubprocessError, RuntimeError, ValueError) as error:
        from parallel_audio.cli.data_settings import CommandLineError

        detail = getattr(error, "stderr", b"") or b""
        raise CommandLineError(
            f"espeak-ng failed on {word!r} with voice {speaker.espeak_voice}: {error} "
            f"{detail.decode(errors='replace').strip()}; pass --no-espeak to do without it"
        ) from None
    audio = audio.mean(axis=1)
    if rate != SAMPLE_RATE:
        audio = soxr.resample(audio, rate, SAMPLE_RATE).astype(np.float32)
    loud = np.flatnonzero(np.abs(audio) > 0.01 * (np.max(np.abs(audio)) + 1e-12))
    if loud.size:  # espeak-ng pads with silence; the clip's own placement decides the onset
        audio = audio[loud[0] : loud[-1] + 1]
    return (audio / (np.max(np.abs(audio)) + 1e-9)).astype(np.float32)


def make_clip(word: str, speaker: Speaker, rng: np.random.Generator) -> np.ndarray:
    """One 1 s clip: the word at a random onset and loudness over faint recording noise."""
    length = int(CLIP_SECONDS * SAMPLE_RATE)
    if speaker.espeak_voice is not None:
        audio = espeak_word(word, speaker, rng)
    else:
        audio = synthesize_word(word, speaker, rng)
    margin = SAMPLE_RATE // 50
    audio = audio[: length - 2 * margin]
    onset = int(rng.integers(margin, length - margin - audio.size + 1))
    clip = np.zeros(length, np.float32)
    clip[onset : onset + audio.size] = audio * 10 ** (rng.uniform(-24.0, -3.0) / 20)
    floor = 10 ** (rng.uniform(-72.0, -54.0) / 20)
    clip += (floor * rng.standard_normal(length)).astype(np.float32)
    return clip


# ----------------------------------------------------------------------------- noise


def _colored_noise(rng: np.random.Generator, n: int, exponent: float) -> np.ndarray:
    """Noise whose power falls as 1/f**exponent, unit RMS."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    frequency = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    frequency[0] = frequency[1]
    noise = np.fft.irfft(spectrum / frequency ** (exponent / 2), n)
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-12)


def background_noises(rng: np.random.Generator, seconds: float) -> dict[str, np.ndarray]:
    """Long noise recordings by file name: colored noise, hum, running water and babble."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    hum = sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 2 * np.pi)) / k for k in (1, 2, 3, 5))
    hum = hum / np.sqrt(np.mean(hum**2)) + 0.1 * rng.standard_normal(n)
    gurgle = _smooth(np.abs(rng.standard_normal(n)).astype(np.float32), SAMPLE_RATE // 30)
    water = _band_noise(rng, n, (300.0, 6000.0)) * (0.4 + gurgle / (gurgle.mean() + 1e-9))
    babble = np.zeros(n, np.float32)
    words = list(WORDS)
    for _ in range(int(6 * seconds)):  # about six words a second from many voices
        audio = synthesize_word(words[int(rng.integers(len(words)))], random_speaker(rng), rng)
        start = int(rng.integers(0, max(1, n - audio.size)))
        part = audio[: n - start] * rng.uniform(0.3, 1.0)
        babble[start : start + part.size] += part
    # RMS of each recording; the others get 0.08.
    sounds = [
        rng.standard_normal(n),
        _colored_noise(rng, n, 1.0),
        _colored_noise(rng, n, 2.0),
        hum,
        water,
        babble,
    ]
    # RMS of each recording, in the order of NOISE_NAMES.
    levels = (0.1, 0.1, 0.1, 0.05, 0.08, 0.08)
    noises = {}
    for name, sound, level in zip(NOISE_NAMES, sounds, levels, strict=True):
        rms = np.sqrt(np.mean(np.square(sound))) + 1e-12
        noises[name] = (level * sound / rms).astype(np.float32)
    return noises


# ----------------------------------------------------------------------------- the dataset


@dataclass(frozen=True)
class DatasetRecipe:
    """The arguments of :func:`write_keyword_dataset`; equal recipes give equal datasets."""

    samples_per_class: int
    keywords: tuple[str, ...]
    unknown_words: tuple[str, ...]
    unknown_per_word: int
    noise_seconds: float
    seed: int
    espeak: bool


def espeak_available() -> bool:
    """Whether the ``espeak-ng`` program is on the PATH."""
    return shutil.which("espeak-ng") is not None


def write_keyword_dataset(
    root: str | os.PathLike,
    *,
    samples_per_class: int = 200,
    keywords: Sequence[str] = KEYWORDS,
    unknown_words: Sequence[str] = UNKNOWN_WORDS,
    unknown_per_word: int | None = None,
    noise_seconds: float = 10.0,
    seed: int = 0,
    espeak: bool | None = None,
    progress: bool = True,
) -> dict[str, int]:
    """Write the dataset: one folder per word, and ``_background_noise_``.

    A folder already written with the same arguments is kept as it is, so that a second run
    starts at once.

    Parameters
    ----------
    root : str or os.PathLike
        The dataset folder, created. It must be empty, absent, or written by this function.
    samples_per_class : int
        Clips per keyword (>= 1). Speakers each say every word about three times.
    keywords, unknown_words : sequence of str
        Words of WORDS: the classes to recognize, and the others (for ``_unknown_``).
    unknown_per_word : int, optional
        Clips per unknown word; default enough for ``_unknown_`` to be 1.5 times a class.
    noise_seconds : float
        Length of each background noise file.
    seed : int
        Seeds everything: equal arguments give identical files.
    espeak : bool, optional
        Let a quarter of the speakers be espeak-ng voices. Default: when espeak-ng is
        installed.
    progress : bool
        Show a progress bar.

    Returns
    -------
    dict of str to int
        Clips per folder.
    """
    import soundfile
    from tqdm import tqdm

    from parallel_audio.cli.data_settings import CommandLineError

    unknown = list(unknown_words)
    if unknown_per_word is None:
        unknown_per_word = (
            math.ceil(1.5 * samples_per_class / max(1, len(unknown))) if unknown else 0
        )
    for word in [*keywords, *unknown]:
        if word not in WORDS:
            raise CommandLineError(f"no pronunciation for {word!r}; words: {', '.join(WORDS)}")
    if samples_per_class < 1:
        raise CommandLineError(f"samples per class must be at least 1, got {samples_per_class}")
    recipe = DatasetRecipe(
        samples_per_class,
        tuple(keywords),
        tuple(unknown),
        unknown_per_word,
        float(noise_seconds),
        seed,
        espeak_available() if espeak is None else bool(espeak),
    )
    root = Path(root)
    marker = root / MARKER_FILE
    counts = {word: samples_per_class for word in keywords}
    counts.update({word: unknown_per_word for word in unknown})
    counts[NOISE_FOLDER] = len(NOISE_NAMES)
    if marker.exists():
        try:
            if json.loads(marker.read_text()) == _recipe_json(recipe):
                return counts
        except (OSError, ValueError):
            pass
        for folder in [*WORDS, NOISE_FOLDER]:
            shutil.rmtree(root / folder, ignore_errors=True)  # only what this function writes
        marker.unlink()
    elif root.exists() and any(root.iterdir()):
        raise CommandLineError(
            f"{os.fspath(root)!r} is not empty and was not written by the demo; choose another "
            "folder"
        )

    speaker_rng = random_generator(Stream.DEMO_SPEAKERS, seed)
    # Every speaker says every keyword about once, as most do in Speech Commands: many
    # speakers make the speaker-grouped validation split hold every class even in small sets.
    num_speakers = max(MIN_SPEAKERS, math.ceil(samples_per_class / 2))
    speakers = [
        random_speaker(speaker_rng, espeak=recipe.espeak and index % 4 == 3)
        for index in range(num_speakers)
    ]
    # (word, clip number, speaker index): the unknown words take turns through all speakers.
    jobs = [(w, i, i) for w in keywords for i in range(samples_per_class)]
    jobs += [
        (w, i, k * unknown_per_word + i)
        for k, w in enumerate(unknown)
        for i in range(unknown_per_word)
    ]
    for word, i, speaker_index in tqdm(
        jobs, desc="synthesizing words", unit="clip", disable=not progress
    ):
        word_index = list(WORDS).index(word)
        rng = random_generator(Stream.DEMO_CLIP, seed, word_index, i)
        speaker = speakers[speaker_index % num_speakers]
        path = root / word / f"{speaker.name}_nohash_{speaker_index // num_speakers}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(path, make_clip(word, speaker, rng), SAMPLE_RATE, subtype="PCM_16")
    noise_rng = random_generator(Stream.DEMO_NOISE, seed)
    (root / NOISE_FOLDER).mkdir(parents=True, exist_ok=True)
    for name, noise in background_noises(noise_rng, noise_seconds).items():
        clipped = np.clip(noise, -1.0, 32767 / 32768)
        soundfile.write(root / NOISE_FOLDER / name, clipped, SAMPLE_RATE, subtype="PCM_16")
    marker.write_text(json.dumps(_recipe_json(recipe)))
    return counts


def _recipe_json(recipe: DatasetRecipe) -> dict:
    return json.loads(json.dumps(asdict(recipe)))

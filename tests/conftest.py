"""Shared fixtures: a seeded generator and synthetic test signals."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261121)


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

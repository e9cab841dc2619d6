"""Time each augmentation and the whole per-sample pipeline against librosa implementations.

On 1 s, 16 kHz speech-like clips. Each row pairs our step with a straightforward
implementation of the same step (librosa's time_stretch and pitch_shift, an STFT VTLP with a
Python loop over bins, colorednoise per sample); both sides run interleaved, round by round, so
load on this shared machine hits them alike. The whole pipeline (read, trim, speed, pitch,
VTLP, pad, loudness, noise, frontend) is timed with every augmentation really applied.
Prints per-clip medians and ratios and writes them to benchmarks/RESULTS.md.

Usage: python benchmarks/bench_augment.py [--rounds N] [--clips N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile

from parallel_audio import ParallelAudioDataGenerator
from parallel_audio.audio_ops import fit_to_length
from parallel_audio.augment import (
    ColoredNoise,
    NoiseDraw,
    PitchShift,
    SpeedChange,
    VocalTractLengthPerturbation,
    VocoderPass,
    loudness_lufs,
)

sys.path.insert(0, str(Path(__file__).parent))
from results import write_section  # noqa: E402

RATE = 16000
SPEED, SEMITONES, ALPHA = 1.1, 3, 0.9


def speech_like(rng: np.random.Generator) -> np.ndarray:
    """1 s of voiced harmonics under two formants, a syllable envelope and breath noise."""
    t = np.arange(RATE) / RATE
    phase = 2 * np.pi * np.cumsum(110 + 40 * np.sin(2 * np.pi * 1.3 * t)) / RATE
    voice = sum(
        (np.exp(-(((h * 120 - 700) / 300) ** 2)) + 0.5 * np.exp(-(((h * 120 - 1800) / 400) ** 2)))
        * np.sin(h * phase)
        for h in range(1, 40)
    )
    envelope = np.clip(np.sin(2 * np.pi * 2 * t + rng.uniform(0, 6)), 0, None) ** 2
    audio = 0.2 * envelope * voice + 0.005 * rng.standard_normal(RATE)
    return audio.astype(np.float32)


# --- The straightforward side ----------------------------------------------------------------


def loop_vtlp(audio: np.ndarray, alpha: float, cutoff: float = 4800.0) -> np.ndarray:
    """VTLP as commonly written: librosa STFT, a Python loop moving each bin's energy."""
    import librosa

    stft = librosa.stft(audio)
    num_bins = stft.shape[0]
    half = RATE / 2
    boundary = cutoff * min(alpha, 1) / alpha
    frequencies = np.linspace(0, half, num_bins)
    warped = np.where(
        frequencies <= boundary,
        alpha * frequencies,
        half - (half - alpha * boundary) / (half - boundary) * (half - frequencies),
    )
    positions = warped / half * (num_bins - 1)
    out = np.zeros_like(stft)
    for i in range(num_bins):
        if i == 0 or i + 1 >= num_bins:
            out[i] += stft[i]
            continue
        low = int(np.floor(positions[i]))
        up = positions[i] - low
        out[low] += (1 - up) * stft[i]
        out[min(low + 1, num_bins - 1)] += up * stft[i]
    return librosa.istft(out, length=audio.size)


def librosa_speed(audio):
    import librosa

    return librosa.effects.time_stretch(audio, rate=SPEED)


def librosa_pitch(audio):
    import librosa

    return librosa.effects.pitch_shift(audio, sr=RATE, n_steps=SEMITONES)


NOISE_RNG = np.random.default_rng(1)


def colorednoise_per_sample(audio, rng=NOISE_RNG):
    import colorednoise

    noise = colorednoise.powerlaw_psd_gaussian(1.0, audio.size, random_state=rng)
    return audio + 0.05 * (noise / np.max(np.abs(noise))).astype(np.float32)


class LibrosaPipeline:
    """Read, trim, stretch, shift, VTLP, pad, gain, noise, frontend: one library call each."""

    def __init__(self, generator: ParallelAudioDataGenerator, background: np.ndarray) -> None:
        self.generator = generator
        self.background = background
        self.rng = np.random.default_rng(2)

    def __call__(self, path: str) -> np.ndarray:
        import librosa

        audio, rate = soundfile.read(path, dtype="float32")
        audio, _ = librosa.effects.trim(audio, top_db=20)
        audio = librosa.effects.time_stretch(audio, rate=SPEED)
        audio = librosa.effects.pitch_shift(audio, sr=RATE, n_steps=SEMITONES)
        audio = loop_vtlp(audio, ALPHA)
        audio = fit_to_length(audio, RATE, self.rng.random()) * np.float32(0.8)
        if self.rng.random() < 0.5:
            audio = colorednoise_per_sample(audio, self.rng)
        else:
            start = self.rng.integers(self.background.size - RATE)
            audio = audio + 0.2 * self.background[start : start + RATE]
        return self.generator.apply_frontend(audio.astype(np.float32))


# --- Our side --------------------------------------------------------------------------------


class OurPipeline:
    """The generator's own steps, with a transform that applies every augmentation."""

    def __init__(self, generator: ParallelAudioDataGenerator) -> None:
        self.generator = generator
        self.rng = np.random.default_rng(3)

    def __call__(self, path: str) -> np.ndarray:
        from parallel_audio.audio_io import read_audio

        generator = self.generator
        audio = read_audio(path, RATE)
        transform = generator.get_random_transform(self.rng)
        # Fixed, non-identity factors: every augmentation really runs.
        transform.update(speed_factor=SPEED, pitch_factor=SEMITONES, vtlp_factor=ALPHA)
        audio = generator.apply_transform(audio, RATE, transform)
        return generator.apply_frontend(audio)


def time_per_clip(step: Callable, inputs: list) -> float:
    start = time.perf_counter()
    for item in inputs:
        step(item)
    return (time.perf_counter() - start) / len(inputs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--clips", type=int, default=40)
    args = parser.parse_args()

    import pyloudnorm

    meter = pyloudnorm.Meter(RATE)
    rng = np.random.default_rng(0)
    clips = [speech_like(rng) for _ in range(args.clips)]
    workdir = tempfile.mkdtemp(prefix="bench_augment_")
    dataset = Path(workdir, "data")
    (dataset / "word").mkdir(parents=True)
    (dataset / "_background_noise_").mkdir()
    paths = []
    for i, clip in enumerate(clips):
        path = dataset / "word" / f"s{i:03d}_nohash_0.wav"
        soundfile.write(path, clip, RATE, subtype="PCM_16")
        paths.append(str(path))
    background = (0.1 * rng.standard_normal(30 * RATE)).astype(np.float32)
    soundfile.write(dataset / "_background_noise_" / "noise.wav", background, RATE)

    augmentation = dict(
        speed_range=(0.9, 1.1),
        pitch_range=(-3, 3),
        vtlp_range=(0.9, 1.1),
        loudness_range=(0.5, 1.5),
        noise_colors="all",
        noise_color_range=(0.01, 0.05),
        bg_noise_dir="_background_noise_",
        bg_noise_range=(0.1, 0.3),
    )
    generator = ParallelAudioDataGenerator(cores=0, **augmentation)
    generator.flow_from_directory(dataset, classes=["word"], seed=0)  # loads the background
    # The same with noise levels as signal-to-noise ratios (dB), measured in loudness units.
    snr_generator = ParallelAudioDataGenerator(
        cores=0,
        **{**augmentation, "noise_color_range": (5, 20), "bg_noise_range": (5, 20)},
        noise_level_mode="snr_db",
    )
    snr_generator.flow_from_directory(dataset, classes=["word"], seed=0)
    speed = SpeedChange((SPEED, SPEED))
    pitch = PitchShift((SEMITONES, SEMITONES))
    vtlp = VocalTractLengthPerturbation((ALPHA, ALPHA), sample_rate=RATE)

    def one_pass(x):
        vocoder = speed.apply(pitch.apply(vtlp.apply(VocoderPass(), ALPHA), SEMITONES), SPEED)
        return vocoder.run(x)

    colored = ColoredNoise(["pink"], (0.05, 0.05), sample_rate=RATE)
    snr = ColoredNoise(["pink"], (10, 10), mode="snr_db", sample_rate=RATE)

    # (step, ours, theirs, inputs); `theirs` None: ours alone, no counterpart.
    rows = [
        (
            "speed 1.1 (time stretch)",
            lambda x: speed.apply(VocoderPass(), SPEED).run(x),
            librosa_speed,
            clips,
        ),
        (
            "pitch +3 semitones",
            lambda x: pitch.apply(VocoderPass(), SEMITONES).run(x),
            librosa_pitch,
            clips,
        ),
        (
            "VTLP 0.9",
            lambda x: vtlp.apply(VocoderPass(), ALPHA).run(x),
            lambda x: loop_vtlp(x, ALPHA),
            clips,
        ),
        (
            "speed + pitch + VTLP",
            one_pass,
            lambda x: loop_vtlp(librosa_pitch(librosa_speed(x)), ALPHA),
            clips,
        ),
        (
            "pink noise",
            lambda x: colored.apply(x, NoiseDraw("pink", 0.05, 0.3)),
            colorednoise_per_sample,
            clips,
        ),
        (
            "pink noise at an SNR (two loudness measurements)",
            lambda x: snr.apply(x, NoiseDraw("pink", 10.0, 0.3)),
            None,
            clips,
        ),
        (
            "loudness, BS.1770",
            lambda x: loudness_lufs(x, RATE),
            lambda x: meter.integrated_loudness(x.astype(np.float64)),
            clips,
        ),
        (
            "whole pipeline, every augmentation",
            OurPipeline(generator),
            LibrosaPipeline(generator, background),
            paths,
        ),
        ("whole pipeline, SNR-mode noise levels", OurPipeline(snr_generator), None, paths),
    ]
    for _, ours, theirs, inputs in rows:  # warm up: first calls build caches and buffers
        time_per_clip(ours, inputs[:5])
        if theirs is not None:
            time_per_clip(theirs, inputs[:5])

    ours_times = {name: [] for name, *_ in rows}
    theirs_times = {name: [] for name, *_ in rows}
    for _ in range(args.rounds):
        for name, ours, theirs, inputs in rows:
            ours_times[name].append(time_per_clip(ours, inputs))
            if theirs is not None:
                theirs_times[name].append(time_per_clip(theirs, inputs))

    table = [
        "| step, per 1 s clip | ours (ms) | librosa implementation (ms) | ours is faster by |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, *_ in rows:
        ours_ms = statistics.median(ours_times[name]) * 1e3
        if theirs_times[name]:
            theirs_ms = statistics.median(theirs_times[name]) * 1e3
            table.append(
                f"| {name} | {ours_ms:.3f} | {theirs_ms:.3f} | {theirs_ms / ours_ms:.1f}x |"
            )
        else:
            table.append(f"| {name} | {ours_ms:.3f} | | |")
    table = "\n".join(table)
    print(table)
    command = "python benchmarks/bench_augment.py" + (
        f" --rounds {args.rounds} --clips {args.clips}"
        if (args.rounds, args.clips) != (7, 40)
        else ""
    )
    write_section(
        "augment",
        f"""## Augmentation

`{command}` on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()},
one core. 1 s, 16 kHz speech-like clips; medians of {args.rounds} interleaved rounds of
{args.clips} clips. Factors are fixed (speed 1.1, +3 semitones, VTLP 0.9) so every step really
runs.

What is compared: speed is our phase vocoder (its per-frame arithmetic in C, scipy's FFTs)
against `librosa.effects.time_stretch`; pitch is
our vocoder's frequency map against `librosa.effects.pitch_shift` (a stretch plus a
resample); VTLP is our vectorized warp against an STFT with a Python loop over bins (the way
the reference writes it, with a frequency warp); pink noise is a crop of a buffer generated once
per process against `colorednoise` per sample. The whole pipeline reads a 16-bit WAV, trims
silence, applies speed, pitch and VTLP, pads at a random offset, applies a gain, adds colored
or background noise (50/50) and runs the microfrontend; the librosa side chains
`soundfile.read`, `librosa.effects.trim`, `time_stretch`, `pitch_shift`, the loop VTLP, the
same padding, gain and noise, and the same microfrontend. Loudness (for SNR-mode levels) is
pyloudnorm's BS.1770 measurement (its filter design, blocks and gates) with the filtering and
block energies in one C pass, against `pyloudnorm.Meter` itself; SNR mode measures it twice per
sample, and the last row is the whole pipeline with noise levels set that way.

{table}
""",
    )


if __name__ == "__main__":
    main()

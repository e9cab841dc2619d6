"""Time the frontend in each arithmetic against TensorFlow's microfrontend op and a numpy pipeline.

All run on the same 1 s, 16 kHz clips (30 ms windows every 10 ms, 40 channels, noise reduction
and PCAN on: 98 frames), interleaved round by round so that load on this shared machine hits them
alike. The arithmetic only changes tables built at start-up, so the three should time alike.
Prints per-clip times and ratios and writes them to benchmarks/RESULTS.md.

Usage: python benchmarks/bench_frontend.py [--rounds N] [--clips N]
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import statistics
import sys
import time
from pathlib import Path

# Every contender runs on one thread. Without this, the BLAS threads the numpy contender's
# matrix product wakes keep spinning after it returns, on the core the next contender's
# timing would otherwise have to itself.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from parallel_audio import AudioFeatureGenerator, AudioFeatureGeneratorSettings  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from results import write_section  # noqa: E402

SETTINGS = AudioFeatureGeneratorSettings(
    window_size_ms=30,
    window_step_ms=10,
    filterbank_n_channels=40,
    noise_reduction_enable=True,
    pcan_enable=True,
)
ARITHMETICS = ("mltk", "tf_op", "tflm")


def in_arithmetic(arithmetic: str) -> AudioFeatureGeneratorSettings:
    settings = SETTINGS.copy()
    settings.arithmetic = arithmetic
    return settings


class NumpyFrontend:
    """The same pipeline in float64 numpy, vectorized over frames where the math allows."""

    def __init__(self, settings: AudioFeatureGeneratorSettings) -> None:
        self.settings = settings
        self.window = 0.5 - 0.5 * np.cos(
            2 * np.pi * (np.arange(settings.window_samples) + 0.5) / settings.window_samples
        )
        bins = settings.fft_length // 2 + 1
        mel = lambda hz: 1127.0 * np.log1p(hz / 700.0)  # noqa: E731
        bin_mel = mel(np.arange(bins) * settings.sample_rate_hz / settings.fft_length)
        low = mel(settings.filterbank_lower_band_limit)
        high = mel(settings.filterbank_upper_band_limit)
        edges = low + (high - low) * np.arange(settings.filterbank_n_channels + 2) / (
            settings.filterbank_n_channels + 1
        )
        rising = (bin_mel[None, :] - edges[:-2, None]) / (edges[1:-1, None] - edges[:-2, None])
        falling = (edges[2:, None] - bin_mel[None, :]) / (edges[2:, None] - edges[1:-1, None])
        self.filterbank = np.clip(np.minimum(rising, falling), 0, None)
        self.filterbank[:, 0] = 0.0  # DC excluded, as on the device

    def process_sample(self, sample: np.ndarray) -> np.ndarray:
        s = self.settings
        frames = np.lib.stride_tricks.sliding_window_view(
            sample.astype(np.float64), s.window_samples
        )[:: s.step_samples]
        spectrum = np.fft.rfft(frames * self.window, n=s.fft_length)
        energy = spectrum.real**2 + spectrum.imag**2
        channels = np.sqrt(energy @ self.filterbank.T)
        # Noise reduction and PCAN carry state from frame to frame.
        estimate = np.zeros(s.filterbank_n_channels)
        smoothing = np.where(
            np.arange(s.filterbank_n_channels) % 2 == 0,
            s.noise_reduction_even_smoothing,
            s.noise_reduction_odd_smoothing,
        )
        output = np.empty_like(channels)
        for i, frame in enumerate(channels):
            estimate = smoothing * frame + (1 - smoothing) * estimate
            reduced = np.maximum(frame - estimate, frame * s.noise_reduction_min_signal_remaining)
            gain = (estimate + s.pcan_offset) ** -s.pcan_strength
            output[i] = reduced * gain
        return np.log(np.maximum(output, 1e-12)) * (1 << s.log_scale_shift)


def make_tf_frontend(settings: AudioFeatureGeneratorSettings):
    import tensorflow as tf
    from tensorflow.lite.experimental.microfrontend.python.ops import audio_microfrontend_op

    def process_sample(sample: np.ndarray):
        return audio_microfrontend_op.audio_microfrontend(
            tf.constant(sample),
            sample_rate=settings.sample_rate_hz,
            window_size=settings.window_size_ms,
            window_step=settings.window_step_ms,
            num_channels=settings.filterbank_n_channels,
            enable_pcan=settings.pcan_enable,
            out_scale=1,
            out_type=tf.uint16,
        )

    return process_sample


def time_per_clip(process, clips) -> float:
    start = time.perf_counter()
    for clip in clips:
        process(clip)
    return (time.perf_counter() - start) / len(clips)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--clips", type=int, default=100)
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    rng = np.random.default_rng(0)
    clips = [
        (rng.standard_normal(SETTINGS.sample_length) * 3000).astype(np.int16)
        for _ in range(args.clips)
    ]
    ours = {
        # The raw values, as TensorFlow's op gives them.
        arithmetic: functools.partial(
            AudioFeatureGenerator(in_arithmetic(arithmetic)).process_sample, dtype=np.uint16
        )
        for arithmetic in ARITHMETICS
    }
    tf_op = make_tf_frontend(SETTINGS)
    contenders = {
        **{f"parallel_audio (C), arithmetic={a!r}": process for a, process in ours.items()},
        "TensorFlow op": tf_op,
        "numpy float64": NumpyFrontend(SETTINGS).process_sample,
    }
    for process in contenders.values():  # warm up: first calls build kernels and caches
        time_per_clip(process, clips[:10])
    np.testing.assert_array_equal(ours["tf_op"](clips[0]), np.asarray(tf_op(clips[0])))

    samples = {name: [] for name in contenders}
    names = list(contenders)
    for round_index in range(args.rounds):
        # Each round starts with the next contender, so that none always follows the same one.
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(time_per_clip(contenders[name], clips))
    median = {name: statistics.median(times) for name, times in samples.items()}
    # The fastest round is the one least disturbed by other load on the machine.
    fastest = {name: min(times) for name, times in samples.items()}
    tf_time = median["TensorFlow op"]

    rows = [
        "| frontend | ms per 1 s clip (median) | fastest round (ms) | TF op's time / this |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, seconds in median.items():
        rows.append(
            f"| {name} | {seconds * 1e3:.3f} | {fastest[name] * 1e3:.3f} "
            f"| {tf_time / seconds:.2f}x |"
        )
    table = "\n".join(rows)
    print(table)
    command = "python benchmarks/bench_frontend.py" + (
        f" --rounds {args.rounds} --clips {args.clips}"
        if (args.rounds, args.clips) != (15, 100)
        else ""
    )
    write_section(
        "frontend",
        f"""## Frontend

`{command}` on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()};
load average {load_before:.1f} when it started and {os.getloadavg()[0]:.1f} when it ended.
1 s clips at 16 kHz, 30 ms windows every 10 ms, 40 channels, noise reduction and PCAN on
(98 frames); all run interleaved, {args.rounds} rounds of {args.clips} clips, each round starting
with the next contender; the output of ours with `arithmetic="tf_op"` equals the TF op's (the
arithmetic changes only start-up tables); every contender on one thread (BLAS and OpenMP
threads off). With GCC on x86-64 Linux the C library carries AVX2 copies of its vector loops,
picked at load time on CPUs that have AVX2; with GCC or Clang on x86-64 the window, the FFT,
the filterbank, noise reduction, PCAN and the log scale take AVX2 kernels on such CPUs.

{table}
""",
    )


if __name__ == "__main__":
    main()

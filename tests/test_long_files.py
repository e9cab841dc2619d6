"""Long files: only what a sample can use is read and processed, in bounded memory."""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import soundfile

from parallel_audio.audio_io import read_audio

RATE = 16000


def write_long_wav(path: Path, seconds: float, rate: int, channels: int, parts: dict) -> None:
    """A 16-bit WAV of ``seconds`` of silence, but for ``parts`` (start second -> frames).

    Written sparse: the silence costs no disk and no time, whatever the length.
    """
    frames = int(seconds * rate)
    data_bytes = frames * channels * 2
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * 2, channels * 2, 16)
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt " + struct.pack("<I", 16)
    header += fmt + b"data" + struct.pack("<I", data_bytes)
    with open(path, "wb") as file:
        file.write(header)
        for start_s, part in parts.items():
            samples = np.asarray(part, "<i2").reshape(-1, 1).repeat(channels, axis=1)
            file.seek(len(header) + int(start_s * rate) * channels * 2)
            file.write(samples.tobytes())
        file.truncate(len(header) + data_bytes)


@pytest.mark.parametrize("file_rate", [16000, 8000, 22050, 44100, 48000, 11025, 44099])
@pytest.mark.parametrize("position", [0.0, 0.37, 1.0])
def test_an_excerpt_equals_that_stretch_of_the_whole_file(tmp_path, rng, file_rate, position):
    seconds = 3.0
    noise = (rng.standard_normal(int(seconds * file_rate)) * 3000).astype(np.int16)
    path = tmp_path / "long.wav"
    soundfile.write(path, noise, file_rate)
    whole = read_audio(path, RATE)
    excerpt = read_audio(path, RATE, max_length=RATE // 2, position=position)
    assert excerpt.shape == (RATE // 2,)
    # Where the excerpt lies in the whole: the best match (the start is aligned on the
    # frames that resample to a whole sample, so it is within one such step of the ideal).
    ideal = int((whole.size - RATE // 2) * position)
    starts = range(max(0, ideal - 2 * RATE), min(whole.size - RATE // 2, ideal + 2 * RATE) + 1)
    errors = [np.max(np.abs(whole[s : s + RATE // 2] - excerpt)) for s in starts]
    best = starts[int(np.argmin(errors))]
    assert min(errors) < 1e-5 * np.abs(whole).max(), min(errors)
    # The alignment step is file_rate / gcd(file_rate, RATE) frames: at most a second.
    assert abs(best - ideal) <= RATE // np.gcd(file_rate, RATE)


def test_a_file_no_longer_than_the_excerpt_is_read_whole(tmp_path, rng):
    noise = (rng.standard_normal(RATE) * 3000).astype(np.int16)
    soundfile.write(tmp_path / "a.flac", noise, RATE)
    whole = read_audio(tmp_path / "a.flac", RATE)
    for max_length in (RATE, RATE + 1, 10 * RATE):
        same = read_audio(tmp_path / "a.flac", RATE, max_length=max_length, position=0.5)
        np.testing.assert_array_equal(same, whole)
    np.testing.assert_array_equal(
        read_audio(tmp_path / "a.flac", RATE, max_length=100, position=1.0), whole[-100:]
    )


def test_a_header_that_claims_more_than_the_file_holds_gives_an_excerpt_of_what_it_holds(
    tmp_path,
):
    path = tmp_path / "cut.wav"
    write_long_wav(path, 600, RATE, 1, {0: np.arange(1, 1001)})
    with open(path, "r+b") as file:
        file.truncate(44 + 2000)  # 1000 frames remain of the 600 s the header declares
    excerpt = read_audio(path, RATE, max_length=500, position=0.5)
    np.testing.assert_array_equal(excerpt, np.arange(251, 751) / 2**15)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_two_hour_files_cost_a_worker_what_short_ones_do(tmp_path, rng):
    """Two-hour files in a class folder, every augmentation on, batches from a worker."""
    hours = 2 * 3600
    tone = (8000 * np.sin(2 * np.pi * 1000 / RATE * np.arange(20 * RATE))).astype(np.int16)
    (tmp_path / "long").mkdir()
    # The middle 20 s hold a 1 kHz tone; the rest is silence (written sparse, in no time).
    write_long_wav(tmp_path / "long" / "a_nohash_0.wav", hours, RATE, 1, {hours / 2 - 10: tone})
    tone44 = 8000 * np.sin(2 * np.pi * 1000 / 44100 * np.arange(20 * 44100))
    write_long_wav(tmp_path / "long" / "b_nohash_0.wav", hours, 44100, 2, {hours / 2 - 10: tone44})
    (tmp_path / "short").mkdir()
    for i in range(4):
        soundfile.write(tmp_path / "short" / f"s{i}_nohash_0.wav", tone[:RATE] / 2**15, RATE)
    (tmp_path / "_background_noise_").mkdir()
    soundfile.write(
        tmp_path / "_background_noise_" / "n.wav", 0.1 * rng.standard_normal(3 * RATE), RATE
    )
    code = textwrap.dedent(
        f"""
        import numpy as np
        from parallel_audio import ParallelAudioDataGenerator
        every = dict(
            speed_range=(0.9, 1.1), pitch_range=(-2, 2), vtlp_range=(0.9, 1.1),
            loudness_range=(0.5, 1.5), noise_colors="all", noise_color_range=(0.01, 0.05),
            bg_noise_dir="_background_noise_", bg_noise_range=(0.1, 0.3), trim_threshold_db=30,
        )
        # Trimmed (on an excerpt), and not (the speed, pitch and VTLP pass gets a crop).
        for trim in (30, None):
            gen = ParallelAudioDataGenerator(cores=1, **{{**every, "trim_threshold_db": trim}})
            with gen.flow_from_directory({str(tmp_path)!r}, classes=["long", "short"],
                                         batch_size=3, seed=0) as it:
                for epoch in range(3):
                    for i in range(len(it)):
                        x, _ = it[i]
                        assert np.isfinite(x).all()
                    it.on_epoch_end()
                (pid,) = it.worker_pids
                with open(f"/proc/{{pid}}/status") as status:
                    print([line for line in status if line.startswith("VmHWM")][0].split()[1])
        # Where the excerpt is: the middle (offset 0.5), so the sample holds the tone.
        audio = ParallelAudioDataGenerator(
            cores=0, speed_range=(0.9, 1.1), offset_range=(0.5, 0.5), trim_threshold_db=30,
            frontend_enabled=False, sample_shape=({RATE},),
        )
        it = audio.flow_from_directory({str(tmp_path)!r}, classes=["long"], batch_size=2,
                                       shuffle=False, seed=0)
        x, _ = it[0]
        for sample in x:
            spectrum = np.abs(np.fft.rfft(sample * np.hanning(sample.size)))
            print(int(np.argmax(spectrum)), float(np.sqrt(np.mean(sample ** 2))))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.split()
    for peak_kb in lines[:2]:
        assert int(peak_kb) / 1024 < 300, f"worker peak {int(peak_kb) / 1024:.0f} MB"
    for peak_bin, rms in zip(lines[2::2], lines[3::2], strict=True):
        assert abs(int(peak_bin) - 1000) <= 2  # 1 Hz bins: the tone, speed keeps its pitch
        assert float(rms) > 0.1


@pytest.mark.parametrize("speed", [0.9, 1.0, 1.3])
def test_the_stretch_pass_gets_a_clip_whole_up_to_its_input_length_then_a_crop(rng, speed):
    from parallel_audio import ParallelAudioDataGenerator
    from parallel_audio.audio_ops import fit_to_length
    from parallel_audio.augment import (
        PitchShift,
        SpeedChange,
        VocalTractLengthPerturbation,
        VocoderPass,
    )
    from parallel_audio.augment.vocoder import stretch_input_length

    generator = ParallelAudioDataGenerator(
        cores=0, trim_threshold_db=None, frontend_enabled=False, sample_shape=(RATE,)
    )
    transform = {"speed_factor": speed, "pitch_factor": 1.0, "offset_percentage": 0.3}
    needed = stretch_input_length(RATE, speed)
    assert needed == int(np.ceil(RATE * max(1.0, speed))) + 2 * 512

    def stretched(x):
        vocoder = VocalTractLengthPerturbation(None, sample_rate=RATE).apply(VocoderPass(), 1.0)
        vocoder = PitchShift(None).apply(vocoder, 1.0)
        return SpeedChange(None).apply(vocoder, speed).run(x)

    for n in (RATE // 2, RATE, needed, needed + 1, 20 * RATE):
        x = rng.standard_normal(n).astype(np.float32)
        whole = fit_to_length(stretched(x), RATE, 0.3)
        cropped = fit_to_length(stretched(fit_to_length(x, needed, 0.3)), RATE, 0.3)
        expected = whole if n <= needed else cropped
        np.testing.assert_array_equal(generator.apply_transform(x, RATE, transform), expected)

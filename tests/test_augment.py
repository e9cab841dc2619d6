"""Augmentations: each transform against a closed-form expectation, and their policy."""

from __future__ import annotations

import math
import re
import sys
import warnings

import numpy as np
import phase_vocoder_reference
import pyloudnorm
import pytest
import scipy.signal
import soundfile
from support import write_dataset

from parallel_audio import ParallelAudioDataGenerator, SettingsError
from parallel_audio.augment import (
    NOISE_COLORS,
    BackgroundNoise,
    ColoredNoise,
    NoiseDraw,
    PitchShift,
    SpeedChange,
    VocalTractLengthPerturbation,
    VocoderPass,
    crop_looped,
    loudness_lufs,
    stretch_and_warp,
)
from parallel_audio.augment.vtlp import vtlp_map

RATE = 16000


def change_speed(audio: np.ndarray, factor: float) -> np.ndarray:
    return SpeedChange(None).apply(VocoderPass(), factor).run(audio)


def shift_pitch(audio: np.ndarray, semitones: float) -> np.ndarray:
    return PitchShift(None).apply(VocoderPass(), semitones).run(audio)


def perturb_vocal_tract(audio: np.ndarray, alpha: float) -> np.ndarray:
    vtlp = VocalTractLengthPerturbation(None, sample_rate=RATE)
    return vtlp.apply(VocoderPass(), alpha).run(audio)


def one_pass(audio: np.ndarray, *, speed=1.0, semitones=0.0, vtlp=1.0) -> np.ndarray:
    """The three contributions to one vocoder pass, in the policy's order."""
    vocoder = VocalTractLengthPerturbation(None, sample_rate=RATE).apply(VocoderPass(), vtlp)
    vocoder = PitchShift(None).apply(vocoder, semitones)
    return SpeedChange(None).apply(vocoder, speed).run(audio)


def tone(frequency: float, seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def tone_burst(frequency: float, before: float, burst: float, after: float) -> np.ndarray:
    return np.concatenate(
        [np.zeros(int(before * RATE)), tone(frequency, burst), np.zeros(int(after * RATE))]
    ).astype(np.float32)


def peak_frequency(audio: np.ndarray) -> float:
    """Frequency of the strongest spectral line, refined by parabolic interpolation."""
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(audio.size)))
    k = int(np.argmax(spectrum[1:-1])) + 1
    a, b, c = np.log(spectrum[k - 1 : k + 2] + 1e-12)
    return (k + 0.5 * (a - c) / (a - 2 * b + c)) * RATE / audio.size


def burst_duration(audio: np.ndarray) -> float:
    """Seconds during which the envelope is above half its maximum."""
    envelope = np.abs(scipy.signal.hilbert(audio))
    envelope = np.convolve(envelope, np.ones(64) / 64, mode="same")
    return np.count_nonzero(envelope > 0.5 * envelope.max()) / RATE


# --- Noise colors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "color, slope", [("white", 0), ("pink", -1), ("brown", -2), ("blue", 1), ("violet", 2)]
)
def test_noise_color_has_its_spectral_slope(color, slope, rng):
    noise = ColoredNoise([color], (1.0, 1.0), sample_rate=RATE)
    x = noise.apply(np.zeros(4 * RATE, np.float32), NoiseDraw(color, 1.0, rng.random()))
    frequencies, power = scipy.signal.welch(x, RATE, nperseg=2048)
    band = (frequencies >= 50) & (frequencies <= 6000)
    fitted = np.polyfit(np.log10(frequencies[band]), np.log10(power[band]), 1)[0]
    assert fitted == pytest.approx(slope, abs=0.15)


def test_noise_factor_one_reaches_full_scale_and_scales_linearly():
    noise = ColoredNoise(["white"], (0.0, 1.0), sample_rate=RATE)
    silent = np.zeros(RATE * 30, np.float32)  # the whole buffer: its peak is exactly 1
    full = noise.apply(silent, NoiseDraw("white", 1.0, 0.0))
    assert np.max(np.abs(full)) == pytest.approx(1.0)
    half = noise.apply(silent[:RATE], NoiseDraw("white", 0.5, 0.25, gain=0.5))
    assert np.allclose(half, 0.25 * full[RATE * 30 // 4 :][:RATE], atol=1e-7)


def test_noise_is_not_time_symmetric_and_differs_by_position():
    noise = ColoredNoise(["pink"], (1.0, 1.0), sample_rate=RATE)
    zeros = np.zeros(RATE, np.float32)
    a = noise.apply(zeros, NoiseDraw("pink", 1.0, 0.1))
    b = noise.apply(zeros, NoiseDraw("pink", 1.0, 0.6))
    assert not np.allclose(a, a[::-1], atol=1e-3)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.2


# --- Speed, pitch, VTLP ----------------------------------------------------------------------


def test_speed_125_shortens_a_tone_burst_and_keeps_its_frequency():
    burst = tone_burst(440, 0.2, 0.6, 0.2)
    faster = change_speed(burst, 1.25)
    assert faster.size == round(burst.size / 1.25)
    assert burst_duration(faster) == pytest.approx(burst_duration(burst) / 1.25, rel=0.03)
    assert peak_frequency(faster) == pytest.approx(440, rel=0.005)


@pytest.mark.parametrize("factor", [0.8, 0.9, 1.1, 1.5])
def test_speed_changes_duration_by_its_factor(factor):
    burst = tone_burst(1000, 0.1, 0.5, 0.1)
    changed = change_speed(burst, factor)
    assert burst_duration(changed) == pytest.approx(burst_duration(burst) / factor, rel=0.03)
    assert peak_frequency(changed) == pytest.approx(1000, rel=0.005)


def test_pitch_up_an_octave_doubles_a_tone_and_keeps_its_length():
    clip = tone(440, 1.0)
    shifted = shift_pitch(clip, 12)
    assert shifted.size == clip.size
    assert peak_frequency(shifted) == pytest.approx(880, rel=0.005)


@pytest.mark.parametrize("semitones", [-7, -3, 2, 5])
def test_pitch_shift_moves_a_tone_by_its_semitones(semitones):
    shifted = shift_pitch(tone(500, 1.0), semitones)
    assert peak_frequency(shifted) == pytest.approx(500 * 2 ** (semitones / 12), rel=0.005)
    # The partial keeps its amplitude within a few percent (a gain would be a bug).
    rms = np.sqrt(np.mean(shifted[2000:-2000] ** 2))
    assert rms == pytest.approx(0.5 / math.sqrt(2), rel=0.1)


def test_pitch_range_semantics_follow_the_reference_documentation(rng):
    steps = PitchShift((-2, 2))
    drawn = {steps.draw(rng) for _ in range(400)}
    assert drawn == {-2.0, -1.0, 0.0, 1.0, 2.0}  # ints: steps, both ends included
    octaves = PitchShift((-0.5, 0.5))
    values = [octaves.draw(rng) for _ in range(400)]
    assert -6 <= min(values) < -5 and 5 < max(values) <= 6  # floats: times 12
    assert len(set(values)) == 400


def test_a_float_pitch_range_beyond_six_semitones_warns_at_the_callers_line():
    # (0.9, 1.1) reads as octaves in both libraries: about an octave up, surely not meant.
    with pytest.warns(UserWarning, match=r"\+10\.8 to \+13\.2 semitones") as record:
        line = sys._getframe().f_lineno + 1
        ParallelAudioDataGenerator(cores=0, pitch_range=(0.9, 1.1))
    [warning] = [w for w in record if "pitch_range" in str(w.message)]
    assert (warning.filename, warning.lineno) == (__file__, line)
    # The octave range it suggests multiplies frequencies by 0.9 to 1.1 (to 0.001 octave).
    suggested = re.search(r"log2, pitch_range=\((-?[\d.]+), (-?[\d.]+)\)", str(warning.message))
    octaves = [float(v) for v in suggested.groups()]
    assert 2 ** octaves[0] == pytest.approx(0.9, abs=1e-3)
    assert 2 ** octaves[1] == pytest.approx(1.1, abs=1e-3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ParallelAudioDataGenerator(cores=0, pitch_range=octaves)


@pytest.mark.parametrize("pitch_range", [(-0.6, 0.6), (0.0, 0.75), (-2.0, 2.0)])
def test_other_float_pitch_ranges_beyond_six_semitones_warn(pitch_range):
    with pytest.warns(UserWarning, match="in octaves"):
        ParallelAudioDataGenerator(cores=0, pitch_range=pitch_range)


@pytest.mark.parametrize("pitch_range", [(-0.5, 0.5), (-0.25, 0.1), (-7, 7), (-12, 12)])
def test_pitch_ranges_within_six_semitones_or_in_steps_do_not_warn(pitch_range):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ParallelAudioDataGenerator(cores=0, pitch_range=pitch_range)


def formant(center: float, rng, seconds: float = 3.0) -> np.ndarray:
    """Noise through a resonance at ``center`` Hz: a formant-like spectral peak."""
    b, a = scipy.signal.iirpeak(center, Q=8, fs=RATE)
    return scipy.signal.lfilter(b, a, rng.standard_normal(int(seconds * RATE))).astype(np.float32)


def spectral_peak(audio: np.ndarray) -> float:
    """Centre of the spectral envelope's peak: the power centroid within 3 dB of its top."""
    frequencies, power = scipy.signal.welch(audio, RATE, nperseg=1024)
    smooth = np.convolve(power, np.ones(7) / 7, mode="same")
    top = smooth >= smooth.max() / 2
    return float(np.sum(frequencies[top] * smooth[top]) / np.sum(smooth[top]))


@pytest.mark.parametrize("alpha", [0.85, 0.9, 1.1, 1.15])
def test_vtlp_moves_a_formant_below_the_cutoff_by_alpha(alpha, rng):
    clip = formant(1500, rng)
    warped = perturb_vocal_tract(clip, alpha)
    assert warped.size == clip.size
    assert spectral_peak(warped) == pytest.approx(alpha * spectral_peak(clip), rel=0.03)


def test_vtlp_keeps_nyquist_in_place_and_warps_linearly_above_the_boundary(rng):
    # A formant at 6 kHz sits above the boundary: it moves along the line to (8k, 8k).
    alpha, boundary = 0.9, 4800.0
    clip = formant(6000, rng)
    warped = perturb_vocal_tract(clip, alpha)
    expected = 8000 - (8000 - alpha * boundary) / (8000 - boundary) * (8000 - 6000)
    assert spectral_peak(warped) == pytest.approx(expected, rel=0.02)


def test_vocoder_matches_librosa_phase_vocoder():
    librosa = pytest.importorskip("librosa")
    rng = np.random.default_rng(3)
    clip = (tone(300, 1.0) + tone(1234, 1.0, 0.2) + 0.01 * rng.standard_normal(RATE)).astype(
        np.float32
    )
    for rate in (0.9, 1.2):
        ours = stretch_and_warp(clip, rate=rate)
        stft = librosa.stft(clip, n_fft=512, hop_length=128, window="hann")
        theirs = librosa.istft(
            librosa.phase_vocoder(stft, rate=rate, hop_length=128, n_fft=512),
            hop_length=128,
            n_fft=512,
            length=ours.size,
        )
        inner = slice(1024, -1024)
        correlation = np.corrcoef(ours[inner], theirs[inner])[0, 1]
        assert correlation > 0.99, (rate, correlation)


@pytest.mark.parametrize("rate", [0.8, 1.0, 1.25])
@pytest.mark.parametrize("warp", ["none", "vtlp 0.9", "vtlp 1.1 and +3 semitones", "-5 semitones"])
def test_c_vocoder_matches_the_numpy_reference(rate, warp, rng):
    frequency_maps = {
        "none": None,
        "vtlp 0.9": vtlp_map(0.9, RATE),
        "vtlp 1.1 and +3 semitones": (vtlp_map(1.1, RATE)[0], vtlp_map(1.1, RATE)[1] * 2**0.25),
        "-5 semitones": (np.array([0, 0.5]), np.array([0, 0.5]) * 2 ** (-5 / 12)),
    }
    clip = (formant(900, rng, seconds=1.0) + 0.3 * tone(2345, 1.0)).astype(np.float32)
    ours = stretch_and_warp(clip, rate=rate, frequency_map=frequency_maps[warp])
    reference = phase_vocoder_reference.stretch_and_warp(
        clip, rate=rate, frequency_map=frequency_maps[warp]
    )
    assert ours.shape == reference.shape and ours.dtype == np.float32
    assert np.corrcoef(ours, reference)[0, 1] > 0.9999
    assert np.max(np.abs(ours - reference)) < 0.01 * np.max(np.abs(reference))


def test_vocoder_rejects_bad_arguments_clearly():
    clip = tone(440, 0.1)
    with pytest.raises(ValueError, match="rate"):
        stretch_and_warp(clip, rate=0.0)
    with pytest.raises(ValueError, match="one-dimensional"):
        stretch_and_warp(clip.reshape(2, -1))
    with pytest.raises(TypeError, match="real numbers"):
        stretch_and_warp(clip.astype(np.complex64))
    with pytest.raises(ValueError, match="frame_length"):
        stretch_and_warp(clip, frame_length=500, hop_length=128)
    with pytest.raises(ValueError, match="frequency_map"):
        stretch_and_warp(clip, frequency_map=(np.array([0, 0.3, 0.2]), np.array([0, 0.1, 0.5])))


def test_one_pass_equals_the_separate_transforms_on_a_tone():
    clip = tone_burst(700, 0.1, 0.7, 0.2)
    combined = one_pass(clip, speed=1.2, semitones=3, vtlp=0.9)
    assert combined.size == round(clip.size / 1.2)
    # 700 Hz is below the VTLP boundary: 700 * 0.9 * 2 ** (3 / 12).
    assert peak_frequency(combined) == pytest.approx(700 * 0.9 * 2**0.25, rel=0.01)
    assert burst_duration(combined) == pytest.approx(burst_duration(clip) / 1.2, rel=0.04)


def test_identity_factors_return_the_clip_unchanged():
    clip = tone(440, 0.3)
    assert one_pass(clip) is clip
    near = stretch_and_warp(clip, rate=1.0)
    assert np.max(np.abs(near - clip)) < 1e-4


@pytest.mark.parametrize("length", [0, 1, 100, 511, 512, 513, 5000])
def test_short_and_edge_lengths(length, rng):
    clip = rng.standard_normal(length).astype(np.float32) * 0.1
    out = one_pass(clip, speed=0.9, semitones=-2, vtlp=1.1)
    assert out.shape == (round(length / 0.9),) and out.dtype == np.float32
    assert np.all(np.isfinite(out))


# --- Levels in SNR mode ----------------------------------------------------------------------


@pytest.mark.parametrize("snr", [-5.0, 0.0, 10.0, 25.0])
def test_snr_mode_hits_the_requested_loudness_ratio(snr, rng):
    clip = formant(800, rng) * np.float32(0.05)
    noise = ColoredNoise(["pink"], (snr, snr), mode="snr_db", sample_rate=RATE)
    mixed = noise.apply(clip, NoiseDraw("pink", snr, 0.3))
    meter = pyloudnorm.Meter(RATE)
    measured = meter.integrated_loudness(clip.astype(float)) - meter.integrated_loudness(
        (mixed - clip).astype(float)
    )
    assert measured == pytest.approx(snr, abs=0.5)


def test_snr_mode_with_equal_spectra_matches_the_rms_ratio(rng):
    # White noise on white noise: K-weighting cancels, so the loudness SNR is the power SNR.
    clip = (0.05 * rng.standard_normal(2 * RATE)).astype(np.float32)
    mixed = ColoredNoise(["white"], (6, 6), mode="snr_db", sample_rate=RATE).apply(
        clip, NoiseDraw("white", 6.0, 0.5)
    )
    added = mixed - clip
    rms_snr = 20 * np.log10(np.sqrt(np.mean(clip**2)) / np.sqrt(np.mean(added**2)))
    assert rms_snr == pytest.approx(6.0, abs=0.5)


def test_snr_mode_on_silence_uses_the_reference_loudness(rng):
    noise = BackgroundNoise(
        {"hiss": (0.1 * rng.standard_normal(RATE)).astype(np.float32)},
        (10, 10),
        mode="snr_db",
        sample_rate=RATE,
    )
    mixed = noise.apply(np.zeros(RATE, np.float32), NoiseDraw("hiss", 10.0, 0.0))
    assert loudness_lufs(mixed, RATE) == pytest.approx(-23 - 10, abs=0.5)


# --- Background noise ------------------------------------------------------------------------


def test_background_crops_come_from_random_positions_across_the_file(rng):
    ramp = np.arange(5 * RATE, dtype=np.float32)  # each value names its position
    noise = BackgroundNoise({"ramp": ramp}, (1.0, 1.0), sample_rate=RATE)
    starts = []
    for _ in range(500):
        crop = noise.apply(np.zeros(RATE, np.float32), noise.draw(rng))
        assert np.array_equal(np.diff(crop), np.ones(RATE - 1))  # a contiguous crop
        starts.append(crop[0])
    deciles = np.histogram(starts, bins=10, range=(0, ramp.size - RATE + 1))[0]
    assert deciles.min() > 25  # uniform over every possible start: ~50 per decile


def test_short_background_noise_is_looped():
    short = np.arange(1000, dtype=np.float32)
    crop = crop_looped(short, 2500, 0.5)
    assert np.array_equal(crop, np.take(short, np.arange(500, 3000), mode="wrap"))


# --- The policy inside the generator ---------------------------------------------------------


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("augment"), np.random.default_rng(11))


ALL_AUGMENTATIONS = dict(
    speed_range=(0.9, 1.1),
    pitch_range=(-2, 2),
    vtlp_range=(0.9, 1.1),
    loudness_range=(0.5, 1.5),
    noise_colors="all",
    noise_color_range=(0.01, 0.05),
    bg_noise_dir="_background_noise_",
    bg_noise_range=(0.1, 0.5),
)


def test_noise_or_background_is_close_to_fifty_fifty(dataset, rng):
    gen = ParallelAudioDataGenerator(cores=0, **ALL_AUGMENTATIONS)
    gen.flow_from_directory(dataset, classes=["low", "high"], seed=1)
    draws = [gen.get_random_transform(rng) for _ in range(4000)]
    colored = sum(d["noise_color"] is not None for d in draws)
    background = sum(d["bg_noise"] is not None for d in draws)
    assert colored + background == len(draws)
    assert colored / len(draws) == pytest.approx(0.5, abs=0.03)  # 4 sigma
    colors = {d["noise_color"] for d in draws if d["noise_color"]}
    assert colors == set(NOISE_COLORS)


def test_draws_are_continuous_over_the_ranges(dataset, rng):
    gen = ParallelAudioDataGenerator(cores=0, speed_range=(0.95, 1.05), vtlp_range=(0.9, 1.1))
    draws = [gen.get_random_transform(rng) for _ in range(500)]
    speeds = [d["speed_factor"] for d in draws]
    vtlps = [d["vtlp_factor"] for d in draws]
    assert len(set(speeds)) == 500 and 0.95 <= min(speeds) and max(speeds) <= 1.05
    assert len(set(vtlps)) == 500 and min(vtlps) < 0.92 and max(vtlps) > 1.08


def batches(iterator, count=3):
    return [iterator.batch(i, epoch=0) for i in range(count)]


def test_disabled_transforms_and_unaugmented_validation_leave_samples_untouched(dataset):
    classes = ["low", "high", "_silence_"]
    plain = ParallelAudioDataGenerator(
        cores=0, validation_split=0.3, disable_random_transforms=True
    )
    disabled = ParallelAudioDataGenerator(
        cores=0, validation_split=0.3, disable_random_transforms=True, **ALL_AUGMENTATIONS
    )
    no_val_aug = ParallelAudioDataGenerator(
        cores=0, validation_split=0.3, validation_augmentation_enabled=False, **ALL_AUGMENTATIONS
    )
    augmented = ParallelAudioDataGenerator(cores=0, validation_split=0.3, **ALL_AUGMENTATIONS)
    flow = dict(classes=classes, seed=5, batch_size=8)

    for subset in ("training", "validation"):
        untouched = batches(plain.flow_from_directory(dataset, subset=subset, **flow), 2)
        got = batches(disabled.flow_from_directory(dataset, subset=subset, **flow), 2)
        for (x0, y0), (x1, y1) in zip(untouched, got, strict=True):
            assert np.array_equal(x0, x1) and np.array_equal(y0, y1)
    silence_id = classes.index("_silence_")
    x = np.concatenate([batch[0] for batch in untouched])
    y = np.concatenate([batch[1] for batch in untouched])
    is_silence = np.argmax(y, axis=1) == silence_id
    assert is_silence.any() and np.all(x[is_silence] == 0)  # untouched silence stays silent
    # Unaugmented validation: the files untouched; _silence_ keeps its (fixed) noise.
    validation = batches(no_val_aug.flow_from_directory(dataset, subset="validation", **flow), 2)
    x_val = np.concatenate([batch[0] for batch in validation])
    assert np.array_equal(x_val[~is_silence], x[~is_silence])
    assert not np.any(np.all(x_val[is_silence] == x[is_silence], axis=(1, 2, 3)))
    changed = batches(augmented.flow_from_directory(dataset, subset="validation", **flow), 1)
    assert not np.array_equal(changed[0][0], untouched[0][0])


def test_silence_gets_background_noise_only(dataset):
    gen = ParallelAudioDataGenerator(
        cores=0, frontend_enabled=False, sample_shape=(RATE,), **ALL_AUGMENTATIONS
    )
    it = gen.flow_from_directory(dataset, classes=["low", "_silence_"], seed=3, batch_size=64)
    x, y = it.batch(0)
    silence = x[np.argmax(y, axis=1) == 1]
    assert len(silence) > 0
    noise = soundfile.read(dataset / "_background_noise_" / "noise.wav", dtype="float32")[0]
    for sample in silence:
        assert np.sqrt(np.mean(sample**2)) > 0.005  # not the reference's all-zero silence
        # Background noise times a level, nothing else: a scaled crop of the file.
        assert _is_scaled_crop(sample, noise)


def unaugmented_validation_silence(dataset, cores: int, epochs=(0, 1)) -> list[np.ndarray]:
    gen = ParallelAudioDataGenerator(
        cores=cores,
        validation_split=0.3,
        validation_augmentation_enabled=False,
        frontend_enabled=False,
        sample_shape=(RATE,),
        **ALL_AUGMENTATIONS,
    )
    flow = dict(classes=["low", "high", "_silence_"], subset="validation", seed=8, batch_size=8)
    with gen.flow_from_directory(dataset, **flow) as it:
        epochs_x = []
        for epoch in epochs:
            x = np.concatenate([it.batch(i, epoch=epoch)[0] for i in range(len(it))])
            ids = np.concatenate([it.batch_sample_ids(i, epoch) for i in range(len(it))])
            order = np.argsort(ids)  # by sample, whatever the epoch's order
            silent = np.array([f is None for f in it.filenames])[ids[order]]
            epochs_x.append(x[order][silent])
    return epochs_x


def test_unaugmented_validation_silence_gets_a_fixed_background_crop(dataset):
    first, second = unaugmented_validation_silence(dataset, cores=0)
    on_two_workers = unaugmented_validation_silence(dataset, cores=2, epochs=(3,))[0]
    assert len(first) >= 2
    # The same crop at the same level in every epoch and on every pool.
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, on_two_workers)
    noise = soundfile.read(dataset / "_background_noise_" / "noise.wav", dtype="float32")[0]
    levels = []
    for sample in first:
        assert _is_scaled_crop(sample, noise)  # background noise, not digital zero
        levels.append(np.sqrt(np.mean(sample**2)) / np.sqrt(np.mean(noise**2)))
    low, high = ALL_AUGMENTATIONS["bg_noise_range"]
    assert all(low * 0.9 <= level <= high * 1.1 for level in levels)
    assert len(set(np.round(levels, 6))) == len(levels)  # each sample its own level


def _is_scaled_crop(sample: np.ndarray, noise: np.ndarray) -> bool:
    """Whether ``sample`` is ``level * noise[start : start + len]`` for some start and level."""
    for start in range(noise.size - sample.size + 1):
        crop = noise[start : start + sample.size]
        level = np.dot(sample, crop) / np.dot(crop, crop)
        if np.max(np.abs(sample - level * crop)) < 1e-5:
            return True
    return False


def test_augmented_batches_are_identical_across_runs_and_pools(dataset):
    flow = dict(classes=["low", "high", "_unknown_", "_silence_"], seed=9, batch_size=8)
    results = []
    for cores in (0, 2):
        gen = ParallelAudioDataGenerator(cores=cores, **ALL_AUGMENTATIONS)
        with gen.flow_from_directory(dataset, **flow) as it:
            results.append(batches(it, len(it)))
    for (x0, y0), (x1, y1) in zip(*results, strict=True):
        assert np.array_equal(x0, x1) and np.array_equal(y0, y1)


def test_audiomentations_run_after_the_builtins_reproducibly(dataset):
    audiomentations = pytest.importorskip("audiomentations")
    transform = audiomentations.Compose(
        [
            audiomentations.AddGaussianNoise(min_amplitude=0.01, max_amplitude=0.02, p=1.0),
            audiomentations.Gain(min_gain_db=-6, max_gain_db=6, p=1.0),
        ]
    )
    kwargs = dict(cores=0, frontend_enabled=False, sample_shape=(RATE,), augmentations=transform)
    flow = dict(classes=["low", "high"], seed=4, batch_size=8)
    first = batches(ParallelAudioDataGenerator(**kwargs).flow_from_directory(dataset, **flow), 2)
    second = batches(ParallelAudioDataGenerator(**kwargs).flow_from_directory(dataset, **flow), 2)
    for (x0, _), (x1, _) in zip(first, second, strict=True):
        assert np.array_equal(x0, x1)
    other = batches(
        ParallelAudioDataGenerator(**kwargs).flow_from_directory(dataset, **{**flow, "seed": 5}), 1
    )
    assert not np.array_equal(first[0][0], other[0][0])
    # Gaussian noise was added after padding: the zero padding is no longer zero.
    plain = batches(
        ParallelAudioDataGenerator(
            cores=0, frontend_enabled=False, sample_shape=(RATE,)
        ).flow_from_directory(dataset, **flow),
        1,
    )
    assert np.count_nonzero(plain[0][0] == 0) > 1000
    assert np.count_nonzero(first[0][0] == 0) == 0


def test_bad_augmentation_settings_are_rejected():
    with pytest.raises(SettingsError, match="noise_level_mode"):
        ParallelAudioDataGenerator(noise_level_mode="loud")
    with pytest.raises(SettingsError, match="noise_color_range"):
        ParallelAudioDataGenerator(noise_colors="white", noise_color_range=(-1, 0))
    ParallelAudioDataGenerator(
        noise_colors="white", noise_color_range=(-5, 10), noise_level_mode="snr_db"
    )
    with pytest.raises(SettingsError, match="noise_colors"):
        ParallelAudioDataGenerator(noise_colors=["red"], noise_color_range=(0, 1))
    with pytest.raises(SettingsError, match="speed_range"):
        ParallelAudioDataGenerator(speed_range=(0, 1.1))
    with pytest.raises(SettingsError, match="vtlp_range"):
        ParallelAudioDataGenerator(vtlp_range=(1.1, 0.9))
    with pytest.raises(TypeError, match="augmentations"):
        ParallelAudioDataGenerator(augmentations=[42])
    with pytest.warns(UserWarning, match="noise_color_range"):
        ParallelAudioDataGenerator(noise_colors="white")


def test_missing_background_directory_is_named(dataset):
    gen = ParallelAudioDataGenerator(cores=0, bg_noise_dir="nowhere", bg_noise_range=(0, 1))
    with pytest.raises(ValueError, match="nowhere"):
        gen.flow_from_directory(dataset, classes=["low"])


@pytest.mark.parametrize("length", [800, 6399, 6400, 6401, 16000, 33333])
def test_loudness_equals_pyloudnorm(length, rng):
    import warnings

    for level in (0.5, 1e-3, 1e-5):
        clip = rng.standard_normal(length) * level
        clip[: length // 3] = 0  # some blocks fall under the gates
        block = min(0.4, length / RATE)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = pyloudnorm.Meter(RATE, block_size=block).integrated_loudness(clip)
        assert loudness_lufs(clip.astype(np.float32), RATE) == pytest.approx(expected, abs=1e-4)

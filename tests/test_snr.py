"""The signal-to-noise ratios preview and info report, against closed forms on steady tones."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile

from parallel_audio import ParallelAudioDataGenerator
from parallel_audio.cli import main
from parallel_audio.cli.snr import clip_and_noise, snr_warning, survey_snr

RATE = 16000
TONE_HZ = 1000.0
# Clips and background noise are steady 1 kHz tones: the K-weighting treats both alike and
# every 400 ms block holds the same power, so their loudness differs by 20 log10 of the
# amplitude ratio, and a factor f gives an SNR of 20 log10(A / (f B)).
CLIP_AMPLITUDE = 0.5
NOISE_AMPLITUDE = 0.25
FILES_PER_CLASS = 150


def closed_form_snr_db(factor: float) -> float:
    return 20 * math.log10(CLIP_AMPLITUDE / (factor * NOISE_AMPLITUDE))


@pytest.fixture(scope="module")
def steady(tmp_path_factory):
    root = tmp_path_factory.mktemp("steady")
    rng = np.random.default_rng(3)
    t = np.arange(RATE) / RATE
    for name in ("a", "b"):
        (root / name).mkdir()
        for i in range(FILES_PER_CLASS):
            phase = rng.uniform(0, 2 * np.pi)
            clip = CLIP_AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * t + phase)
            soundfile.write(root / name / f"s{i:03d}_nohash_0.wav", clip, RATE, subtype="FLOAT")
    (root / "_background_noise_").mkdir()
    t2 = np.arange(2 * RATE) / RATE
    noise = NOISE_AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * t2)
    soundfile.write(root / "_background_noise_" / "tone.wav", noise, RATE, subtype="FLOAT")
    return root


def steady_iterator(steady, **augmentation):
    generator = ParallelAudioDataGenerator(
        cores=0,
        frontend_enabled=False,
        sample_shape=(RATE,),
        trim_threshold_db=None,
        loudness_range=(0.3, 1.5),  # scales clip and noise alike: no effect on the SNR
        **augmentation,
    )
    return generator.flow_from_directory(steady, classes=["a", "b", "_silence_"], seed=5)


@pytest.mark.parametrize("factor", [0.5, 2.0, 3.0])
def test_each_samples_snr_is_the_closed_form_of_its_factor(steady, factor):
    iterator = steady_iterator(
        steady, bg_noise_dir="_background_noise_", bg_noise_range=(factor, factor)
    )
    survey = survey_snr(iterator, num_samples=60)
    assert survey.num_silence > 0  # _silence_ has no clip: left out, counted
    assert survey.num_measured + survey.num_silence == 60
    np.testing.assert_allclose(survey.snr_db, closed_form_snr_db(factor), atol=0.01)


def test_the_distribution_over_a_factor_range_matches_the_closed_form(steady):
    low, high = 0.5, 4.0
    iterator = steady_iterator(
        steady, bg_noise_dir="_background_noise_", bg_noise_range=(low, high)
    )
    survey = survey_snr(iterator, num_samples=iterator.samples)  # every sample
    assert survey.num_measured == 2 * FILES_PER_CLASS
    assert survey.num_silence == round(0.6 * FILES_PER_CLASS)
    # f uniform on [0.5, 4]: SNR < 0 dB exactly when f > A / B = 2; the p-th percentile of the
    # SNR is the closed form at the (100 - p)-th percentile of f.
    ratio = CLIP_AMPLITUDE / NOISE_AMPLITUDE
    share = (high - ratio) / (high - low)
    sigma = math.sqrt(share * (1 - share) / survey.num_measured)
    assert survey.share_below_0_db == pytest.approx(share, abs=4 * sigma)
    for percent in (10, 50):
        factor = low + (1 - percent / 100) * (high - low)
        assert survey.percentile_db(percent) == pytest.approx(closed_form_snr_db(factor), abs=1.5)
    assert snr_warning(survey) is not None and "--bg-noise-range none" in snr_warning(survey)


def test_snr_mode_levels_are_reported_as_set(steady):
    iterator = steady_iterator(
        steady, noise_colors="white", noise_color_range=(3.0, 3.0), noise_level_mode="snr_db"
    )
    survey = survey_snr(iterator, num_samples=40)
    np.testing.assert_allclose(survey.snr_db, 3.0, atol=0.01)
    assert survey.share_below_0_db == 0 and snr_warning(survey) is None


def test_clip_and_noise_add_up_to_the_pipelines_sample(tmp_path):
    # Every augmentation at once, on clips that are not steady: the parts are the pipeline's.
    from support import write_dataset

    write_dataset(tmp_path, np.random.default_rng(2))
    generator = ParallelAudioDataGenerator(
        cores=0,
        frontend_enabled=False,
        sample_shape=(RATE,),
        speed_range=(0.9, 1.1),
        pitch_range=(-2, 2),
        vtlp_range=(0.9, 1.1),
        loudness_range=(0.5, 1.5),
        noise_colors="all",
        noise_color_range=(0.01, 0.1),
        bg_noise_dir="_background_noise_",
        bg_noise_range=(0.1, 0.5),
    )
    iterator = generator.flow_from_directory(
        tmp_path, classes=["low", "high"], batch_size=1, shuffle=False, seed=6
    )
    for sample_id in range(0, iterator.samples, 5):
        clip, noise = clip_and_noise(iterator, sample_id)
        assert np.any(noise) and np.any(clip)
        augmented = iterator.batch(sample_id)[0][0]  # unshuffled: batch k is sample k
        np.testing.assert_allclose(clip + noise, augmented, atol=1e-6)


def run(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_preview_reports_the_snrs_and_warns_below_0_db(steady, tmp_path, capsys):
    common = ("preview", steady, "--classes", "a", "b", "--n", "1", "--out", tmp_path)
    noise = ("--bg-noise-dir", "_background_noise_", "--trim-threshold-db", "none")
    code, out, err = run(capsys, *common, *noise, "--bg-noise-range", "0.5", "4")
    assert code == 0
    match = float(out.split("% below 0 dB")[0].rsplit(", ", 1)[1])
    assert match == pytest.approx(100 * 2 / 3.5, abs=10)
    assert "Signal-to-noise ratio of 200 samples" in out
    assert "warning:" in err and "leave bg_noise_range unset" in err
    # Factors 0.1 to 0.2 keep the noise 20 log10(2 / 0.2) = 20 dB below the clips or more.
    code, out, err = run(capsys, *common, *noise, "--bg-noise-range", "0.1", "0.2")
    assert code == 0 and "0.0 % below 0 dB" in out and "warning" not in err
    median = float(out.split("median ")[1].split(" dB")[0])
    assert closed_form_snr_db(0.2) <= median <= closed_form_snr_db(0.1)


def test_info_reports_the_snrs_only_with_noise_options(steady, capsys):
    code, out, _ = run(capsys, "info", steady, "--classes", "a", "b", "_silence_")
    assert code == 0 and "Signal-to-noise" not in out
    code, out, err = run(
        capsys,
        "info",
        steady,
        "--classes",
        "a",
        "b",
        "--validation-split",
        "0.2",
        "--snr-samples",
        "50",
        "--bg-noise-dir",
        "_background_noise_",
        "--bg-noise-range",
        "1",
        "1",
    )
    assert code == 0 and "Signal-to-noise ratio of 50 training samples" in out
    expected = closed_form_snr_db(1.0)  # 6.0 dB for every sample
    assert f"median {expected:.1f} dB, 10th percentile {expected:.1f} dB, 0.0 % below" in out
    assert "warning" not in err

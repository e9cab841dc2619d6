"""The augmentation policy and the protocol its augmentations share.

Each augmentation's effect is tested against closed forms in ``test_augment.py``; here, what
holds for all of them (an augmentation that is off draws nothing and changes nothing), the one
vocoder pass speed, pitch and VTLP share, the noise level rule both noises share, the order of
the draws (which fixes every batch of a seed) and the typed transform's round trip through the
reference's dict.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest

from parallel_audio import SettingsError
from parallel_audio.augment import (
    AugmentationPolicy,
    AugmentationTransform,
    BackgroundNoise,
    ColoredNoise,
    ExternalAugmentations,
    LoudnessChange,
    NoiseDraw,
    PitchShift,
    Placement,
    SpeedChange,
    VocalTractLengthPerturbation,
    VocoderPass,
    vocoder,
)

RATE = 16000
#: The keys of the reference's transform dict (MLTK's ``default_transform``), with its values.
MLTK_DEFAULT_TRANSFORM = {
    "offset_percentage": 0.0,
    "loudness_factor": 1.0,
    "noise_color": "none",
    "noise_color_factor": 0.0,
    "bg_noise": None,
    "bg_noise_factor": 0.0,
    "speed_factor": 1.0,
    "pitch_factor": 0,
    "vtlp_factor": 1.0,
}


def settings(**overrides) -> SimpleNamespace:
    """A configuration as the policy reads it: nothing configured but the offset."""
    base = dict(
        sample_rate_hz=RATE,
        sample_length=RATE,
        trim_threshold_db=None,
        disable_random_transforms=False,
        offset_range=(0.0, 1.0),
        loudness_range=None,
        speed_range=None,
        pitch_range=None,
        vtlp_range=None,
        noise_colors=(),
        noise_color_range=None,
        bg_noise_range=None,
        noise_level_mode="factor",
        augmentations=(),
    )
    return SimpleNamespace(**{**base, **overrides})


def tone(seconds: float = 0.5, frequency: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


OFF = [
    (lambda: Placement(None, sample_length=8), "audio"),
    (lambda: LoudnessChange(None), "audio"),
    (lambda: SpeedChange(None), "vocoder"),
    (lambda: PitchShift(None), "vocoder"),
    (lambda: VocalTractLengthPerturbation(None, sample_rate=RATE), "vocoder"),
    (lambda: ColoredNoise([], None, sample_rate=RATE), "audio"),
    (lambda: ColoredNoise(["pink"], None, sample_rate=RATE), "audio"),
    (lambda: BackgroundNoise(None, (0.1, 0.2), sample_rate=RATE), "audio"),
    (lambda: ExternalAugmentations((), sample_rate=RATE), "audio"),
]


@pytest.mark.parametrize(("build", "target"), OFF)
def test_an_augmentation_that_is_off_draws_nothing_and_changes_nothing(build, target):
    augmentation = build()
    assert not augmentation.enabled
    rng = np.random.default_rng(1)
    before = rng.bit_generator.state
    parameters = augmentation.draw(rng)
    assert rng.bit_generator.state == before  # the others' draws are not shifted
    audio = np.linspace(-0.5, 0.5, 8, dtype=np.float32)
    if target == "audio":
        assert np.array_equal(augmentation.apply(audio, parameters), audio)
    else:
        assert augmentation.apply(VocoderPass(), parameters).run(audio) is audio


def test_speed_pitch_and_vtlp_cost_one_vocoder_pass(monkeypatch):
    calls = []
    original = vocoder.stretch_and_warp

    def counted(audio, **kwargs):
        calls.append(kwargs)
        return original(audio, **kwargs)

    monkeypatch.setattr(vocoder, "stretch_and_warp", counted)
    policy = AugmentationPolicy.from_settings(settings())
    transform = AugmentationTransform(speed_factor=1.2, pitch_factor=3.0, vtlp_factor=0.9)
    policy.apply(tone(), transform)
    assert len(calls) == 1
    # The one pass: the rate of speed, and the VTLP warp's knots scaled by the pitch ratio.
    assert calls[0]["rate"] == 1.2
    source, target = calls[0]["frequency_map"]
    assert target[1] / source[1] == pytest.approx(0.9 * 2 ** (3 / 12))
    assert target[-1] / source[-1] == pytest.approx(2 ** (3 / 12))  # Nyquist moves by pitch only
    calls.clear()
    policy.apply(tone(), AugmentationTransform())
    assert not calls  # nothing to change: no pass at all


def test_a_pass_is_warped_once_then_transposed():
    warp = (np.array([0.0, 0.2, 0.5]), np.array([0.0, 0.18, 0.5]))
    transposed = VocoderPass().warped(warp).transposed(2.0)
    np.testing.assert_array_equal(transposed.frequency_map[1], warp[1] * 2.0)
    with pytest.raises(ValueError, match="already warped"):
        transposed.warped(warp)


def noise_of(kind: str, mode: str, level_range=(0.0, 1.0)):
    if kind == "colored":
        return ColoredNoise(["brown"], level_range, mode=mode, sample_rate=RATE), "brown"
    hum = (0.2 * np.sin(np.arange(3 * RATE) * 0.3)).astype(np.float32)
    return BackgroundNoise({"hum": hum}, level_range, mode=mode, sample_rate=RATE), "hum"


@pytest.mark.parametrize("kind", ["colored", "background"])
def test_both_noises_add_their_crop_at_level_times_gain_as_factors(kind):
    noise, source = noise_of(kind, "factor")
    clip = tone()
    assert noise.apply(clip, NoiseDraw(source, 0.0, 0.3, gain=2.0)) is clip  # level 0: none
    mixed = noise.apply(clip, NoiseDraw(source, 0.25, 0.3, gain=2.0))
    crop = noise.crop(source, clip.size, 0.3)
    np.testing.assert_allclose(mixed - clip, 0.5 * crop, atol=1e-6)


@pytest.mark.parametrize("kind", ["colored", "background"])
def test_both_noises_ignore_the_gain_in_snr_mode(kind):
    noise, source = noise_of(kind, "snr_db", (-10.0, 10.0))
    clip = tone()
    with_gain = noise.apply(clip, NoiseDraw(source, 5.0, 0.3, gain=3.0))
    without = noise.apply(clip, NoiseDraw(source, 5.0, 0.3))
    np.testing.assert_array_equal(with_gain, without)


@pytest.mark.parametrize("kind", ["colored", "background"])
def test_both_noises_draw_a_source_a_level_and_a_position(kind):
    noise, source = noise_of(kind, "factor", (0.2, 0.4))
    draws = [noise.draw(np.random.default_rng(i)) for i in range(200)]
    assert {d.source for d in draws} == {source}
    assert all(0.2 <= d.level <= 0.4 and 0 <= d.position < 1 for d in draws)
    assert len({d.position for d in draws}) == 200


def test_background_noise_names_what_it_holds_when_asked_for_another():
    noise, _ = noise_of("background", "factor")
    with pytest.raises(SettingsError, match="'rain'.*holds 'hum'"):
        noise.apply(tone(), NoiseDraw("rain", 0.5, 0.0))
    with pytest.raises(SettingsError, match="none is loaded"):
        BackgroundNoise(None, None).apply(tone(), NoiseDraw("rain", 0.5, 0.0))


def test_draws_follow_the_documented_order():
    # The order fixes every batch of a seed: noise choice, noise, then offset, loudness,
    # speed, pitch, VTLP and the augmentations' seed, each from where the previous left.
    config = settings(
        loudness_range=(0.5, 1.5),
        speed_range=(0.9, 1.1),
        pitch_range=(-2, 2),
        vtlp_range=(0.8, 1.2),
        noise_colors=("white", "pink"),
        noise_color_range=(0.0, 0.1),
        bg_noise_range=(0.2, 0.3),
        augmentations=(lambda samples, sample_rate: samples,),
    )
    policy = AugmentationPolicy.from_settings(config, {"hum": np.ones(RATE, np.float32)})
    for seed in range(20):
        drawn = policy.draw(np.random.default_rng(seed))
        rng = np.random.default_rng(seed)
        colored = rng.random() < 0.5
        if colored:
            color = ("white", "pink")[int(rng.integers(2))]
            noise = dict(noise_color=color, noise_color_factor=rng.uniform(0.0, 0.1))
            noise["noise_position"] = rng.random()
        else:
            rng.integers(1)
            noise = dict(bg_noise="hum", bg_noise_factor=rng.uniform(0.2, 0.3))
            noise["bg_noise_position"] = rng.random()
        expected = AugmentationTransform(
            **noise,
            offset_percentage=rng.uniform(0.0, 1.0),
            loudness_factor=rng.uniform(0.5, 1.5),
            speed_factor=rng.uniform(0.9, 1.1),
            pitch_factor=float(rng.integers(-2, 2, endpoint=True)),
            vtlp_factor=rng.uniform(0.8, 1.2),
            augmentation_seed=int(rng.integers(2**63)),
        )
        assert drawn == expected


def test_silence_draws_background_noise_only():
    config = settings(
        loudness_range=(0.5, 1.5),
        noise_colors=("white",),
        noise_color_range=(0.0, 0.1),
        bg_noise_range=(0.2, 0.3),
    )
    policy = AugmentationPolicy.from_settings(config, {"hum": np.ones(RATE, np.float32)})
    for seed in range(20):
        drawn = policy.draw(np.random.default_rng(seed), silence=True)
        assert drawn.bg_noise == "hum" and drawn.noise_color is None
        assert drawn.loudness_factor == 1.0 and drawn.offset_percentage == 0.0


def test_the_transform_round_trips_through_the_reference_dict():
    policy = AugmentationPolicy.from_settings(
        settings(
            loudness_range=(0.5, 1.5),
            pitch_range=(-0.2, 0.2),
            noise_colors=("blue",),
            noise_color_range=(0.0, 0.1),
        )
    )
    for seed in range(10):
        transform = policy.draw(np.random.default_rng(seed))
        as_dict = transform.to_dict()
        assert set(MLTK_DEFAULT_TRANSFORM) <= set(as_dict)
        assert AugmentationTransform.from_dict(as_dict) == transform
    # MLTK's own default dict (its 'none', its int pitch) is the default transform.
    assert AugmentationTransform.from_dict(MLTK_DEFAULT_TRANSFORM) == AugmentationTransform()
    # Keys of other meaning are ignored, colors in any case are read, missing keys default.
    read = AugmentationTransform.from_dict({"noise_color": "Pink", "zoom": 2, "speed_factor": 2})
    assert read == AugmentationTransform(noise_color="pink", speed_factor=2.0)
    assert isinstance(read.speed_factor, float)
    assert dataclasses.fields(AugmentationTransform)[0].name == "offset_percentage"


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"speed_factor": "fast"}, TypeError),
        ({"noise_color": 3}, TypeError),
        ({"noise_color": "green"}, SettingsError),
        ({"bg_noise": 1}, TypeError),
        ({"augmentation_seed": 1.5}, TypeError),
        ([("speed_factor", 1.1)], TypeError),
    ],
)
def test_a_transform_of_the_wrong_form_is_refused(params, error):
    with pytest.raises(error):
        AugmentationTransform.from_dict(params)


def test_a_disabled_policy_draws_the_default_transform_and_still_applies():
    policy = AugmentationPolicy.from_settings(
        settings(disable_random_transforms=True, loudness_range=(0.5, 1.5))
    )
    rng = np.random.default_rng(0)
    assert policy.draw(rng) == AugmentationTransform()
    clip = tone(0.25)
    out = policy.apply(clip, AugmentationTransform(loudness_factor=0.5))
    np.testing.assert_array_equal(out[: clip.size], clip * np.float32(0.5))

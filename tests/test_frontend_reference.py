"""Equality with the reference generator's own frontend outputs (tests/data), arithmetic "mltk"."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from parallel_audio import AudioFeatureGenerator, AudioFeatureGeneratorSettings
from parallel_audio.feature_generator import quantize_int8

GOLDEN = np.load(Path(__file__).parent / "data" / "reference_frontend.npz")
CASES = json.loads(str(GOLDEN["meta"]))


def case_ids():
    return [f"{i}-{case['name']}" for i, case in enumerate(CASES)]


@pytest.fixture(params=range(len(CASES)), ids=case_ids())
def case(request):
    i = request.param
    meta = CASES[i]
    settings = AudioFeatureGeneratorSettings.from_dict(meta["settings"])
    arrays = {kind: GOLDEN[f"{i}_{kind}"] for kind in ("input", "uint16", "int8", "float32")}
    return settings, meta, arrays


def test_int8_and_float32_are_the_reference_mappings_of_its_uint16(case):
    settings, _, arrays = case
    np.testing.assert_array_equal(quantize_int8(arrays["uint16"], settings), arrays["int8"])
    np.testing.assert_array_equal(arrays["uint16"].astype(np.float32), arrays["float32"])


def test_every_dtype_equals_the_reference(case):
    settings, _, arrays = case
    assert settings.arithmetic == "mltk"  # the default: the reference's own arithmetic
    assert settings.spectrogram_shape == arrays["uint16"].shape
    generator = AudioFeatureGenerator(settings)
    for kind in ("uint16", "int8", "float32"):
        actual = generator.process_sample(arrays["input"], dtype=np.dtype(kind))
        assert actual.dtype == arrays[kind].dtype
        np.testing.assert_array_equal(actual, arrays[kind], err_msg=kind)


def test_activity_flag_agrees_with_the_reference(case):
    settings, meta, arrays = case
    generator = AudioFeatureGenerator(settings)
    generator.process_sample(arrays["input"])
    assert generator.activity_was_detected() == meta["activity"]


def test_each_dtype_follows_from_our_uint16(case):
    settings, _, arrays = case
    generator = AudioFeatureGenerator(settings)
    values = generator.process_sample(arrays["input"], dtype=np.uint16)
    np.testing.assert_array_equal(
        generator.process_sample(arrays["input"], dtype=np.float32), values.astype(np.float32)
    )
    np.testing.assert_array_equal(
        generator.process_sample(arrays["input"], dtype=np.int8), quantize_int8(values, settings)
    )


def test_the_reference_cases_cover_what_tf_cannot_express():
    settings = [AudioFeatureGeneratorSettings.from_dict(c["settings"]) for c in CASES]
    assert any(not s.noise_reduction_enable for s in settings)
    assert any(s.dc_notch_filter_enable for s in settings)
    assert any(s.activity_detection_enable for s in settings)
    assert any(s.quantize_dynamic_scale_enable for s in settings)
    assert any(not s.log_scale_enable for s in settings)
    assert sum(c["activity"] for c in CASES) >= 2

"""The validation rule: the exception's class, what its message says, where warnings point.

The per-parameter cases (every constructor and flow_from_directory argument, a wrong type and
a wrong value for each) are the property tests of ``test_generator_properties.py``; here the
rule's parts that those do not show.
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
import soundfile

from parallel_audio import ParallelAudioDataGenerator, SettingsError
from parallel_audio.validation import check_range, received, warn_at_caller


def here() -> int:
    """The line number of the caller's next line."""
    return sys._getframe(1).f_lineno + 1


@pytest.fixture
def dataset(tmp_path):
    for word in ("yes", "no"):
        (tmp_path / word).mkdir()
        for i in range(2):
            tone = 0.3 * np.sin(np.arange(8000) * 0.05 * (i + 1)).astype(np.float32)
            soundfile.write(tmp_path / word / f"s{i}_nohash_0.wav", tone, 16000)
    return tmp_path


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("30", "'30' (str)"),
        (None, "None"),
        (True, "True"),
        (2.5, "2.5 (float)"),
        (list(range(100)), "[0, 1, 2, 3, 4, 5, ...] (list)"),
        ("x" * 500, "(str)"),
    ],
)
def test_messages_show_what_was_received_abridged_with_its_type(value, shown):
    text = received(value)
    assert shown in text and len(text) < 120


def test_a_wrong_type_and_a_wrong_value_of_one_parameter_raise_different_classes():
    with pytest.raises(TypeError, match=r"speed_range must be a \(low, high\) pair.*got 'fast'"):
        ParallelAudioDataGenerator(cores=0, speed_range="fast")
    with pytest.raises(SettingsError, match=r"speed_range must have low <= high, got \(1.2, 0.8\)"):
        ParallelAudioDataGenerator(cores=0, speed_range=(1.2, 0.8))
    # A TypeError is never a SettingsError (a ValueError), so the two can be told apart.
    assert not issubclass(TypeError, ValueError)


def test_range_messages_name_the_allowed_bounds():
    with pytest.raises(SettingsError, match=r"x must lie within \(0, 2\], got \(0, 1\)"):
        check_range("x", (0, 1), minimum=0, maximum=2, open_minimum=True)
    with pytest.raises(SettingsError, match=r"x must hold two finite numbers, got \(nan, 1\)"):
        check_range("x", (float("nan"), 1))


def test_a_suspicious_pitch_range_warns_at_the_users_line_when_assigned_later():
    generator = ParallelAudioDataGenerator(cores=0)
    with pytest.warns(UserWarning, match="in octaves") as record:
        line = here()
        generator.pitch_range = (0.9, 1.1)
    [warning] = record
    assert (warning.filename, warning.lineno) == (__file__, line)


def test_noise_without_its_level_warns_at_the_users_line():
    with pytest.warns(UserWarning, match="bg_noise_dir is set but bg_noise_range is not") as rec:
        line = here()
        ParallelAudioDataGenerator(cores=0, bg_noise_dir="_background_noise_")
    [warning] = rec
    assert (warning.filename, warning.lineno) == (__file__, line)


def test_ignored_flow_arguments_warn_at_the_users_line(dataset):
    generator = ParallelAudioDataGenerator(cores=0)
    with pytest.warns(UserWarning, match="flow_from_directory ignores color_mode") as record:
        line = here()
        generator.flow_from_directory(dataset, classes=["yes", "no"], color_mode="rgb")
    [warning] = record
    assert (warning.filename, warning.lineno) == (__file__, line)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the reference's mixin always passes target_size
        generator.flow_from_directory(dataset, classes=["yes", "no"], target_size=(98, 32))


def test_warn_at_caller_skips_every_frame_of_the_package():
    # Called from a test module (outside the package) it points at the call itself.
    with pytest.warns(UserWarning) as record:
        line = here()
        warn_at_caller("look here")
    assert (record[0].filename, record[0].lineno) == (__file__, line)

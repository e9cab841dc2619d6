"""Python's frontend settings and the C frontend accept the same values and share defaults.

Python checks each setting as it is assigned (``AudioFeatureGeneratorSettings``) and their
combinations in ``validate()``; C checks the whole configuration in ``mf_config_validate``
(``frontend/microfrontend/src/frontend.c``), reached here through the binding's ``Frontend``.
For every numeric field of C's configuration, both sides' accepted intervals are searched, the
same way, over every int32 or float32 value, with the other settings at their defaults, and must
end at the same values. A value C refuses that Python lets through would fail later with C's
terse message; one Python refuses that C takes is a needless limit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from parallel_audio import SettingsError, _microfrontend
from parallel_audio.frontend_settings import _SETTINGS, AudioFeatureGeneratorSettings

#: C's field of each Python setting whose name differs.
C_FIELDS = {
    "filterbank_n_channels": "filterbank_num_channels",
    "filterbank_lower_band_limit": "filterbank_lower_band_limit_hz",
    "filterbank_upper_band_limit": "filterbank_upper_band_limit_hz",
}
PYTHON_NAMES = {c: python for python, c in C_FIELDS.items()}

#: Settings under which a field's own bound is the one that binds (others at their defaults):
#: PCAN's fields are checked only with PCAN on; a low band limit lets the sample rate reach its
#: own minimum; a 1 ms step lets the window shrink to its own minimum.
PROBE_BASES = {
    "sample_rate_hz": {"filterbank_upper_band_limit": 400.0},
    "window_size_ms": {"window_step_ms": 1},
    "pcan_strength": {"pcan_enable": True, "noise_reduction_enable": True},
    "pcan_offset": {"pcan_enable": True, "noise_reduction_enable": True},
    "pcan_gain_bits": {"pcan_enable": True, "noise_reduction_enable": True},
}

INT32 = (-(2**31), 2**31 - 1)
FLOAT32_INF_KEY = int(np.float32(np.inf).view(np.int32))


def c_fields() -> list[str]:
    config = _microfrontend.Config()
    return [name for name in dir(config) if not name.startswith("_")]


def python_name(field: str) -> str:
    return PYTHON_NAMES.get(field, field)


def c_accepts(field: str, value: float, base: dict) -> bool:
    """Whether ``mf_config_validate`` accepts the field's value on top of ``base``."""
    config = _microfrontend.Config()
    for name, setting in base.items():
        setattr(config, C_FIELDS.get(name, name), setting)
    setattr(config, field, value)
    try:
        _microfrontend.Frontend(config)
    except ValueError as error:
        # Validation names the field it refuses; a layout the filterbank cannot build is a
        # later step, after every setting was accepted.
        return "invalid frontend setting: the filterbank" in str(error)
    except MemoryError:
        return True  # accepted, then too large to build
    return True


def python_accepts(name: str, value: float, base: dict) -> bool:
    """Whether Python's checks accept the setting's value on top of ``base``.

    A verdict the settings obtain from the C frontend itself (its message starts with
    "invalid frontend setting") counts as Python's acceptance: the comparison is between
    Python's own rules and C's.
    """
    try:
        settings = AudioFeatureGeneratorSettings(**base)
        setattr(settings, name, value)
        settings.validate()
    except (SettingsError, TypeError) as error:
        return str(error).startswith("invalid frontend setting")
    return True


def to_key(value: float, kind: type) -> int:
    """An int that orders like the value: itself for ints, float32's ordered bits for floats."""
    if kind is int:
        return int(value)
    bits = int(np.float32(value).view(np.int32))
    return bits if bits >= 0 else -(bits & 0x7FFFFFFF)


def from_key(key: int, kind: type) -> float:
    if kind is int:
        return key
    bits = key if key >= 0 else (-key) | -0x80000000
    return float(np.int32(bits).view(np.float32))


def boundary(accepts, start: float, kind: type, direction: int) -> float:
    """The last value accepted going from ``start`` (accepted) in ``direction`` (+1 or -1).

    The accepted values must form an interval around ``start``: a binary search between the
    last accepted and the first refused value of an exponential walk, over every int32 or
    every float32.
    """
    limit = INT32[direction > 0] if kind is int else direction * FLOAT32_INF_KEY
    good = to_key(start, kind)
    assert accepts(from_key(good, kind)), start
    step = 1
    bad = None
    while bad is None:
        probe = good + direction * step
        if (probe - limit) * direction >= 0:
            probe = limit
        if accepts(from_key(probe, kind)):
            if probe == limit:
                return from_key(limit, kind)
            good, step = probe, step * 2
        else:
            bad = probe
    while abs(bad - good) > 1:
        middle = (good + bad) // 2
        if accepts(from_key(middle, kind)):
            good = middle
        else:
            bad = middle
    return from_key(good, kind)


def numeric_fields() -> list[str]:
    return [f for f in c_fields() if _SETTINGS[python_name(f)].kind in (int, float)]


def test_every_c_setting_has_a_python_setting():
    missing = [f for f in c_fields() if python_name(f) not in _SETTINGS]
    assert not missing, f"C settings without a Python setting: {missing}"


@pytest.mark.parametrize("field", c_fields())
def test_python_and_c_share_every_default(field):
    setting = _SETTINGS[python_name(field)]
    c_default = getattr(_microfrontend.Config(), field)
    if setting.kind is float:
        assert np.float32(setting.default) == np.float32(c_default)
    elif setting.kind in (int, bool):
        assert int(setting.default) == c_default
    else:  # an enumeration: C holds the value the binding gives the name
        assert field == "arithmetic", f"compare {field}'s default through its binding's names"
        assert _microfrontend.ARITHMETICS[setting.default] == c_default
        assert set(_microfrontend.ARITHMETICS) == set(setting.choices)


@pytest.mark.parametrize("field", numeric_fields())
def test_python_and_c_accept_the_same_interval(field):
    name = python_name(field)
    kind = _SETTINGS[name].kind
    base = PROBE_BASES.get(name, {})
    start = _SETTINGS[name].default
    ends = {}
    for side, accepts in (
        ("python", lambda v: python_accepts(name, v, base)),
        ("c", lambda v: c_accepts(field, v, base)),
    ):
        ends[side] = (boundary(accepts, start, kind, -1), boundary(accepts, start, kind, +1))
    assert ends["python"] == ends["c"], ends


@pytest.mark.parametrize(
    "field", [f for f in numeric_fields() if isinstance(getattr(_microfrontend.Config(), f), float)]
)
def test_python_and_c_refuse_nan(field):
    name = python_name(field)
    base = PROBE_BASES.get(name, {})
    assert not python_accepts(name, math.nan, base)
    assert not c_accepts(field, math.nan, base)


def test_the_dynamic_int8_scaling_takes_the_settings_ranges():
    # quantize_dynamic_scale_range_db in (0, 200] dB and log_scale_shift in [0, 15], as the
    # settings allow them; the C scaling's own guard uses the same constant.
    shift = _SETTINGS["log_scale_shift"]
    assert _microfrontend.MAX_LOG_SCALE_SHIFT == shift.maximum
    range_db = _SETTINGS["quantize_dynamic_scale_range_db"]
    values = np.arange(64, dtype=np.uint16) * 100
    out = np.empty(values.shape, np.int8)

    def c_accepts_scaling(range_value: float, shift_value: int) -> bool:
        try:
            _microfrontend.quantize_int8_dynamic(values, out, range_value, shift_value)
        except ValueError:
            return False
        return True

    top = float(np.float32(range_db.maximum))
    assert c_accepts_scaling(top, shift.maximum) and c_accepts_scaling(1e-3, shift.minimum)
    assert not c_accepts_scaling(float(np.nextafter(np.float32(top), np.float32(np.inf))), 6)
    assert not c_accepts_scaling(range_db.minimum, 6)  # open below, as Python's range
    assert not c_accepts_scaling(40.0, shift.maximum + 1)
    assert not c_accepts_scaling(40.0, shift.minimum - 1)

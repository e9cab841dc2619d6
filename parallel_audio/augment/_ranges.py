"""Checking the (low, high) ranges augmentations draw from."""

from __future__ import annotations

import math
import numbers
from typing import Any

from parallel_audio.errors import SettingsError, short_repr


def is_number(value: Any, *, integer: bool = False) -> bool:
    """Tell whether ``value`` is a finite real (or integral) number, not a bool."""
    kind = numbers.Integral if integer else numbers.Real
    if not isinstance(value, kind) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int beyond float's range
        return False


def check_range(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    open_minimum: bool = False,
) -> tuple[float, float] | None:
    """Validate an optional (low, high) pair of finite numbers, low <= high, within bounds.

    Returns the pair with its numbers' types kept (ints stay ints), or None.
    """
    if value is None:
        return None
    try:
        low, high = value
    except (TypeError, ValueError):
        raise SettingsError(
            f"{name} must be a (low, high) pair or None, got {short_repr(value)}"
        ) from None
    if not (is_number(low) and is_number(high)):
        raise SettingsError(f"{name} must hold two finite numbers, got {short_repr(value)}")
    if low > high:
        raise SettingsError(f"{name} must have low <= high, got {short_repr(value)}")
    too_low = minimum is not None and (low < minimum or (open_minimum and low == minimum))
    if too_low or (maximum is not None and high > maximum):
        bounds = (
            f"{'(' if open_minimum else '['}{'-inf' if minimum is None else minimum}, "
            f"{'inf' if maximum is None else maximum}]"
        )
        raise SettingsError(f"{name} must lie within {bounds}, got {short_repr(value)}")
    return (low, high)

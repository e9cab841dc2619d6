"""One sample's augmentation parameters: the reference's transform dict, typed."""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Mapping
from typing import Any

from parallel_audio.validation import NOISE_COLORS, wrong_type, wrong_value

_NUMBER_FIELDS = (
    "offset_percentage",
    "loudness_factor",
    "noise_color_factor",
    "noise_position",
    "bg_noise_factor",
    "bg_noise_position",
    "speed_factor",
    "pitch_factor",
    "vtlp_factor",
)


@dataclasses.dataclass(frozen=True)
class AugmentationTransform:
    """The parameters one sample is augmented with; the defaults change nothing.

    The fields are the reference's transform keys, in its order, plus where the noise crops
    start and the seed of the ``augmentations`` transforms. :meth:`to_dict` and
    :meth:`from_dict` convert to and from the reference's dict, which
    ``get_random_transform`` returns and ``apply_transform`` takes.

    Attributes
    ----------
    offset_percentage : float
        Where the clip sits in the padded sample, as a fraction of the padding, in [0, 1].
    loudness_factor : float
        Gain of the clip (and of the noise added to it in "factor" mode).
    noise_color : str or None
        Color of the added noise (white, pink, brown, blue, violet); None: none.
        ``from_dict`` also takes the reference's ``"none"``, and any case.
    noise_color_factor : float
        Its level: a factor, or an SNR in dB (``noise_level_mode``).
    noise_position : float
        Where its crop starts, as a fraction of the noise buffer.
    bg_noise : str or None
        Name of the background noise file to add; None: none.
    bg_noise_factor, bg_noise_position : float
        Its level and where its crop starts, as a fraction of the file.
    speed_factor : float
        Tempo factor, > 0.
    pitch_factor : float
        Pitch shift in semitones (0: none).
    vtlp_factor : float
        Vocal tract length perturbation factor, > 0.
    augmentation_seed : int or None
        Seed of the ``augmentations`` transforms; None: they do not run.

    Examples
    --------
    >>> transform = AugmentationTransform.from_dict({"speed_factor": 1.1, "noise_color": "none"})
    >>> transform.speed_factor, transform.noise_color
    (1.1, None)
    >>> AugmentationTransform().to_dict()["loudness_factor"]
    1.0
    """

    offset_percentage: float = 0.0
    loudness_factor: float = 1.0
    noise_color: str | None = None
    noise_color_factor: float = 0.0
    noise_position: float = 0.0
    bg_noise: str | None = None
    bg_noise_factor: float = 0.0
    bg_noise_position: float = 0.0
    speed_factor: float = 1.0
    pitch_factor: float = 0.0
    vtlp_factor: float = 1.0
    augmentation_seed: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the reference's transform dict (the keys in the order of the fields)."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    @classmethod
    def from_dict(cls, params: Mapping[str, Any]) -> AugmentationTransform:
        """Build a transform from the reference's dict.

        Missing keys take their default and keys of other meaning are ignored, as the
        reference's ``apply_transform`` does. Numbers are stored as floats.

        Parameters
        ----------
        params : mapping
            A transform dict, for instance from ``get_random_transform`` or MLTK's code.

        Returns
        -------
        AugmentationTransform

        Raises
        ------
        TypeError
            For a value of the wrong type (a string where a number goes).
        SettingsError
            For a ``noise_color`` that is no color.
        """
        if not isinstance(params, Mapping):
            raise wrong_type("the transform", "a dict of transform parameters", params)
        names = {field.name for field in dataclasses.fields(cls)}
        values = {name: value for name, value in params.items() if name in names}
        for name in _NUMBER_FIELDS:
            if name in values:
                values[name] = _number(name, values[name])
        if "noise_color" in values:
            values["noise_color"] = _noise_color(values["noise_color"])
        bg_noise = values.get("bg_noise")
        if bg_noise is not None and not isinstance(bg_noise, str):
            raise wrong_type("bg_noise", "a background noise file's name or None", bg_noise)
        seed = values.get("augmentation_seed")
        if seed is not None:
            if not isinstance(seed, numbers.Integral) or isinstance(seed, bool):
                raise wrong_type("augmentation_seed", "an int or None", seed)
            values["augmentation_seed"] = int(seed)
        return cls(**values)


def _number(name: str, value: Any) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool):
        raise wrong_type(name, "a number", value)
    return float(value)


def _noise_color(value: Any) -> str | None:
    """Return the color a transform's ``noise_color`` names; None for None or "none"."""
    allowed = f"one of {', '.join(NOISE_COLORS)}, 'none' or None"
    if value is None:
        return None
    if not isinstance(value, str):
        raise wrong_type("noise_color", allowed, value)
    color = value.lower()
    if color == "none":
        return None
    if color not in NOISE_COLORS:
        raise wrong_value("noise_color", allowed, value)
    return color

"""The fingerprint of a cache: everything that changes the values it holds, hashed.

A cache folder is named by its fingerprint, so a change to any of these fields starts a new
folder and leaves the old one intact (to be removed by hand). The list of files is not part
of it: files are validated one by one against the manifest, and only the files that changed
are decoded again.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from typing import Any

import numpy as np
import soundfile
import soxr

#: Raised whenever the layout of chunk files or manifest entries changes.
FORMAT_VERSION = 1

#: Generator parameters that decide how, not what, is computed: never part of a fingerprint.
_NOT_VALUES = frozenset(
    {
        "cores",
        "debug",
        "max_batches_pending",
        "batch_timeout",
        "disable_gpu_in_subprocesses",
        "validation_split",
        "unknown_class_percentage",
        "silence_class_percentage",
    }
)


def audio_fields(sample_rate: int, dtype: str) -> dict[str, Any]:
    """Return what decoded audio depends on: decoder, resampler, rate and storage dtype."""
    return {
        "format_version": FORMAT_VERSION,
        "kind": "audio",
        "sample_rate_hz": int(sample_rate),
        "resampler": f"soxr {soxr.__version__} HQ",
        "decoder": f"soundfile {soundfile.__version__}, {soundfile.__libsndfile_version__}",
        "dtype": dtype,
    }


def features_fields(configuration: Any) -> dict[str, Any]:
    """Return what an unaugmented final sample depends on.

    The audio's fields (stored in the sample's own dtype) and every value parameter of the
    generator's constructor: frontend settings, dtypes, standardization, trimming, sample
    shape, ... Parameters that only say how the work is run (``cores``, ...) are left out.
    """
    fields = audio_fields(configuration.sample_rate_hz, "sample")
    fields["kind"] = "features"
    signature = inspect.signature(type(configuration).__init__)
    for name in signature.parameters:
        if name == "self" or name in _NOT_VALUES or name.endswith("_function"):
            continue
        if hasattr(configuration, name):
            fields[name] = _plain(getattr(configuration, name))
    return fields


def fingerprint(fields: dict[str, Any]) -> str:
    """Return the hash naming a cache folder: 16 hex digits of the fields' SHA-256."""
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _plain(value: Any) -> Any:
    """Return a JSON-ready rendering of a setting, the same for equal settings."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, np.generic)):
        return np.dtype(value).name
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return _plain(to_dict())
    return repr(value)

"""How often each class and sample is seen: class weights for ``fit``.

Pure functions of class counts; the iterator calls them with its index's counts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from parallel_audio.errors import SettingsError

__all__ = ["CLASS_WEIGHT_MODES", "balanced_class_weights"]

CLASS_WEIGHT_MODES = ("balanced",)


def balanced_class_weights(counts: Sequence[float], mode: str = "balanced") -> np.ndarray:
    """Return each class's weight ``n / (classes * n_c)``: what ``fit(class_weight=)`` takes.

    Parameters
    ----------
    counts : sequence of float
        The number of samples of each class (``n_c``) in one epoch; ``n`` is their sum and
        ``classes`` their number. Expected counts (not integers) are accepted.
    mode : {"balanced"}
        The rule: scikit-learn's and MLTK's ``class_weights='balanced'``.

    Returns
    -------
    numpy.ndarray of float64
        One weight per class; 0.0 for a class with no sample (it never occurs, so its weight
        never counts).

    Raises
    ------
    SettingsError
        An unknown ``mode``.

    Examples
    --------
    >>> balanced_class_weights([30, 10]).tolist()
    [0.6666666666666666, 2.0]
    """
    if mode not in CLASS_WEIGHT_MODES:
        raise SettingsError(
            f"class weight mode must be one of {', '.join(map(repr, CLASS_WEIGHT_MODES))}, got "
            f"{mode!r}"
        )
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    weights = np.zeros_like(counts)
    weights[present] = counts.sum() / (counts.size * counts[present])
    return weights

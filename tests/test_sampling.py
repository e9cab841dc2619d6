"""Class weights, sample weights, and the sampled epoch plans."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
from sklearn.utils.class_weight import compute_class_weight

from parallel_audio import ParallelAudioDataGenerator
from parallel_audio.sampling import balanced_class_weights

RATE = 16000
#: An imbalanced dataset: files per class.
SIZES = {"yes": 12, "no": 5, "up": 2}
CLASSES = list(SIZES)


def write_imbalanced(root: Path, sizes: dict[str, int] = SIZES) -> Path:
    rng = np.random.default_rng(5)
    for c, (name, count) in enumerate(sizes.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            t = np.arange(RATE // 4) / RATE
            x = 0.3 * np.sin(2 * np.pi * (300 + 200 * c) * t) + 0.01 * rng.standard_normal(t.size)
            soundfile.write(root / name / f"s{i:02d}_nohash_0.wav", x.astype(np.float32), RATE)
    return root


@pytest.fixture(scope="module")
def imbalanced(tmp_path_factory) -> Path:
    return write_imbalanced(tmp_path_factory.mktemp("imbalanced"))


def test_balanced_class_weights_are_scikit_learns(imbalanced):
    iterator = ParallelAudioDataGenerator(cores=0).flow_from_directory(imbalanced, CLASSES, seed=1)
    labels = iterator.classes
    expected = compute_class_weight("balanced", classes=np.arange(len(CLASSES)), y=labels)
    weights = iterator.class_weights("balanced")
    assert list(weights) == [0, 1, 2]
    np.testing.assert_allclose([weights[c] for c in range(3)], expected, rtol=1e-12)
    # Each class then weighs the same in total: n_c * w_c = n / classes.
    totals = np.bincount(labels) * np.array([weights[c] for c in range(3)])
    np.testing.assert_allclose(totals, len(labels) / 3)
    np.testing.assert_allclose(iterator.sample_weights(), expected[labels], rtol=1e-12)


def test_a_class_without_samples_weighs_nothing_and_modes_are_checked():
    np.testing.assert_allclose(balanced_class_weights([4, 0, 4]), [8 / 12, 0.0, 8 / 12])
    with pytest.raises(ValueError, match="class weight mode must be one of 'balanced'"):
        balanced_class_weights([1, 2], "inverse")

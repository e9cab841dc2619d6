"""Class weights, sample weights, and the sampled epoch plans."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile
from sklearn.utils.class_weight import compute_class_weight

from parallel_audio import ParallelAudioDataGenerator
from parallel_audio.sampling import (
    balanced_class_weights,
    epoch_sample_ids,
    occurrences,
    resolve_sampling,
)

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


# ----------------------------------------------------------------------------- epoch draws


def class_ids_of(sizes) -> np.ndarray:
    return np.repeat(np.arange(len(sizes)), sizes)


def test_no_sampling_with_the_default_length_is_the_plain_epoch_order():
    from parallel_audio.random_streams import Stream, random_generator

    sampling = resolve_sampling(None, None, class_ids_of([5, 3]), ["a", "b"], shuffle=True)
    for epoch in range(3):
        expected = random_generator(Stream.EPOCH_PLAN, 4, epoch).permutation(8)
        assert epoch_sample_ids(sampling, 4, epoch).tolist() == expected.tolist()
    unshuffled = resolve_sampling(None, 5, class_ids_of([5, 3]), ["a", "b"], shuffle=False)
    assert [epoch_sample_ids(unshuffled, 0, e).tolist() for e in range(3)] == [
        [0, 1, 2, 3, 4],
        [5, 6, 7, 0, 1],
        [2, 3, 4, 5, 6],
    ]


def test_an_epoch_length_cycles_through_every_sample_before_any_repeat():
    sampling = resolve_sampling(None, 7, class_ids_of([10, 10]), ["a", "b"], shuffle=True)
    stream = np.concatenate([epoch_sample_ids(sampling, 3, e) for e in range(6)])  # 42 draws
    for cycle in range(2):
        assert sorted(stream[cycle * 20 : (cycle + 1) * 20]) == list(range(20))


@pytest.mark.parametrize("epoch_length", [None, 30, 301])
def test_balanced_gives_exact_quotas_and_uses_a_small_class_whole_before_repeats(epoch_length):
    sizes = [40, 9, 3]
    class_ids = class_ids_of(sizes)
    sampling = resolve_sampling("balanced", epoch_length, class_ids, ["a", "b", "c"], shuffle=True)
    length = epoch_length or sum(sizes)
    drawn = np.zeros(sum(sizes), dtype=int)  # times each sample was drawn so far
    for epoch in range(6):
        ids = epoch_sample_ids(sampling, 11, epoch)
        assert ids.size == length
        counts = np.bincount(class_ids[ids], minlength=3)
        # Equal quotas: each within one of length / 3 (largest remainder), adding up.
        assert all(abs(count - length / 3) < 1 for count in counts) and counts.sum() == length
        np.add.at(drawn, ids, 1)
        for c in range(3):
            # After every epoch, the samples of a class were drawn equally often, give or
            # take one: none is drawn again before every other sample of its class was.
            of_class = drawn[class_ids == c]
            assert of_class.max() - of_class.min() <= 1, (epoch, c, of_class)
    # The epoch's order mixes the classes (not one class after another).
    first = class_ids[epoch_sample_ids(sampling, 11, 0)]
    assert np.count_nonzero(np.diff(first)) > 3


def test_balanced_pseudo_classes_follow_their_percentages():
    class_ids = class_ids_of([50, 20, 10, 6])
    sampling = resolve_sampling(
        "balanced",
        300,
        class_ids,
        ["a", "b", "_unknown_", "_silence_"],
        shuffle=True,
        pseudo_percentages={"_unknown_": 1.0, "_silence_": 0.5},
    )
    counts = np.bincount(class_ids[epoch_sample_ids(sampling, 0, 0)], minlength=4)
    # Shares 1 : 1 : 1 : 0.5 of 300 are 85.71 x 3 and 42.86: rounded by largest remainder
    # (Hamilton's method), _silence_'s .86 first, then the first two classes' .71.
    assert counts.tolist() == [86, 86, 85, 43]


def test_weighted_draws_follow_the_weights_by_a_chi_square_test():
    from scipy.stats import chisquare

    weights = np.array([5.0, 1.0, 0.0, 2.0, 0.5, 1.5])
    sampling = resolve_sampling(weights, 4000, class_ids_of([6]), ["a"], shuffle=True)
    draws = np.concatenate([epoch_sample_ids(sampling, 21, e) for e in range(10)])
    counts = np.bincount(draws, minlength=weights.size)
    assert counts[2] == 0  # a zero weight is never drawn
    drawable = weights > 0
    expected = draws.size * weights[drawable] / weights.sum()
    assert chisquare(counts[drawable], expected).pvalue > 0.001


def test_a_class_weight_multiplies_its_samples_weight():
    from scipy.stats import chisquare

    class_ids = class_ids_of([8, 2])
    sampling = resolve_sampling({"rare": 4.0}, 5000, class_ids, ["common", "rare"], shuffle=True)
    counts = np.bincount(class_ids[epoch_sample_ids(sampling, 2, 0)], minlength=2)
    # 8 samples of weight 1 against 2 of weight 4: one half each.
    assert chisquare(counts, [2500, 2500]).pvalue > 0.001
    zero = resolve_sampling({"rare": 0}, 500, class_ids, ["common", "rare"], shuffle=True)
    assert not np.any(class_ids[epoch_sample_ids(zero, 2, 0)] == 1)


@pytest.mark.parametrize(
    ("sampling", "extra", "error", "message"),
    [
        ([1.0, 2.0], {}, ValueError, "sampling has 2 weights but the subset has 4 samples"),
        ([1.0, -1.0, 1.0, 1.0], {}, ValueError, "sample 1 has -1.0"),
        ([1.0, np.nan, 1.0, 1.0], {}, ValueError, "finite and >= 0; sample 1 has nan"),
        ([0, 0, 0, 0], {}, ValueError, "all 0"),
        ({"c": 1.0}, {}, ValueError, "sampling names 'c', not among the classes"),
        ({"a": 0, "b": 0}, {}, ValueError, "gives every sample of this subset weight 0"),
        ({"a": float("inf")}, {}, ValueError, r"sampling\['a'\] must be finite"),
        ("balanced", {"shuffle": False}, ValueError, "cannot be combined with shuffle=False"),
        ("oversample", {}, ValueError, "sampling must be None, 'balanced'"),
        (None, {"samples_per_epoch": 0}, ValueError, "samples_per_epoch must be an int"),
        (None, {"samples_per_epoch": 2.5}, TypeError, "samples_per_epoch must be an int"),
        (7, {}, TypeError, "sampling must be None"),
    ],
)
def test_invalid_sampling_is_named(sampling, extra, error, message):
    kwargs = {"shuffle": True, "samples_per_epoch": None, **extra}
    per_epoch = kwargs.pop("samples_per_epoch")
    with pytest.raises(error, match=message):
        resolve_sampling(sampling, per_epoch, class_ids_of([2, 2]), ["a", "b"], **kwargs)


def test_balanced_with_an_empty_class_is_named():
    with pytest.raises(ValueError, match="class 'b' a share of every epoch, but it has no sample"):
        resolve_sampling("balanced", None, class_ids_of([3, 0, 2]), ["a", "b", "c"], shuffle=True)


def test_occurrences_count_earlier_equal_ids():
    ids = np.random.default_rng(0).integers(0, 7, 200)
    expected = [int(np.sum(ids[:p] == ids[p])) for p in range(ids.size)]
    assert occurrences(ids).tolist() == expected


# ----------------------------------------------------------------------------- iterators


def sampled_flow(root, cores=0, debug=False, **kwargs):
    generator = ParallelAudioDataGenerator(
        cores=cores,
        debug=debug,
        speed_range=(0.9, 1.1),
        loudness_range=(0.5, 1.5),
        noise_colors="white",
        noise_color_range=(0.01, 0.05),
        **kwargs.pop("generator", {}),
    )
    options = dict(seed=7, batch_size=8, sampling="balanced", samples_per_epoch=30)
    options.update(kwargs)
    return generator.flow_from_directory(root, CLASSES, **options)


def epoch_batches(iterator, epoch):
    return [iterator.batch(i, epoch=epoch) for i in range(len(iterator))]


@pytest.mark.slow
def test_sampled_batches_are_the_same_whatever_cores_and_debug(imbalanced):
    expected = None
    for cores, debug in ((0, False), (2, False), (2, True)):
        with sampled_flow(imbalanced, cores=cores, debug=debug, last_batch="repeat") as flow:
            batches = [epoch_batches(flow, epoch) for epoch in (0, 1)]
        if expected is None:
            expected = batches
            continue
        for got_epoch, want_epoch in zip(batches, expected, strict=True):
            for (x, y), (x0, y0) in zip(got_epoch, want_epoch, strict=True):
                np.testing.assert_array_equal(x, x0)
                np.testing.assert_array_equal(y, y0)


def test_balanced_iterator_serves_the_quotas_and_its_class_weights(imbalanced):
    flow = sampled_flow(imbalanced, samples_per_epoch=31)
    assert len(flow) == 4  # ceil(31 / 8)
    for epoch in range(2):
        labels = np.concatenate([y.argmax(axis=1) for _, y in epoch_batches(flow, epoch)])
        assert np.bincount(labels, minlength=3).tolist() == [11, 10, 10]  # 31 = 10.33 x 3
    # Class weights for the epochs the iterator serves: n / (classes * n_c) of its quotas.
    weights = flow.class_weights()
    np.testing.assert_allclose([weights[c] for c in range(3)], [31 / 33, 31 / 30, 31 / 30])


def duplicate_rows(flow, epoch):
    """Pairs of batch rows that hold the same sample in one epoch."""
    seen, pairs = {}, []
    for b in range(len(flow)):
        for row, sample in enumerate(flow.batch_sample_ids(b, epoch)):
            if int(sample) in seen:
                pairs.append((seen[int(sample)], (b, row)))
            else:
                seen[int(sample)] = (b, row)
    return pairs


def test_duplicates_differ_with_augmentation_and_are_equal_without(imbalanced):
    for augment in (True, False):
        flow = sampled_flow(
            imbalanced, generator={"disable_random_transforms": not augment}, sampling={"up": 6.0}
        )
        batches = epoch_batches(flow, 0)
        pairs = duplicate_rows(flow, 0)
        assert len(pairs) >= 3
        for (b0, r0), (b1, r1) in pairs:
            same = np.array_equal(batches[b0][0][r0], batches[b1][0][r1])
            assert same is not augment


def test_a_first_occurrence_keeps_the_samples_stream_and_repeats_get_their_own(imbalanced):
    flow = sampled_flow(imbalanced, sampling={"up": 6.0}, last_batch="repeat")
    plain = ParallelAudioDataGenerator(cores=0).flow_from_directory(imbalanced, CLASSES, seed=7)
    for epoch in range(3):
        ids = np.concatenate([flow.plan.batch_sample_ids(epoch, b) for b in range(len(flow))])
        streams = np.concatenate([flow.plan.stream_ids(epoch, b) for b in range(len(flow))])
        assert len(set(streams.tolist())) == streams.size  # one stream per occurrence
        first = np.unique(ids, return_index=True)[1]
        assert (streams[first] == ids[first]).all()  # as the sample's stream without sampling
        assert ((streams - ids) % flow.samples == 0).all()
    # The plan pickles by value, as the pool's executors need it.
    copy = pickle.loads(pickle.dumps(flow.plan))
    assert copy == flow.plan and hash(copy) == hash(flow.plan)
    assert copy.stream_ids(2, 1).tolist() == flow.plan.stream_ids(2, 1).tolist()
    # The plan without sampling is untouched: sampling=None gives today's batches.
    assert plain.sampling is None and plain.plan.sampling is None


def test_sampling_errors_are_raised_by_flow_from_directory(imbalanced):
    generator = ParallelAudioDataGenerator(cores=0)
    with pytest.raises(ValueError, match="cannot be combined with shuffle=False"):
        generator.flow_from_directory(imbalanced, CLASSES, sampling="balanced", shuffle=False)
    with pytest.raises(ValueError, match="sampling names 'down'"):
        generator.flow_from_directory(imbalanced, CLASSES, sampling={"down": 2.0})
    with pytest.raises(ValueError, match="3 weights but the subset has 19 samples"):
        generator.flow_from_directory(imbalanced, CLASSES, sampling=[1.0, 1.0, 1.0])


@pytest.mark.slow
def test_fit_runs_the_steps_samples_per_epoch_sets_without_running_out_of_data(imbalanced):
    import warnings

    import keras

    flow = sampled_flow(imbalanced, cores=1, samples_per_epoch=40, batch_size=16)
    assert len(flow) == 3
    model = keras.Sequential(
        [
            keras.Input(flow.process_params.sample_shape),
            keras.layers.Flatten(),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    steps = []

    class CountSteps(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            steps.append(batch)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(flow, epochs=3, callbacks=[CountSteps()], verbose=0)
    flow.close()
    assert steps == [0, 1, 2] * 3
    assert len(history.history["loss"]) == 3
    assert not [w for w in caught if "ran out of data" in str(w.message)]

"""flow_from_annotations: windows of long files through the pipeline, labels after transforms."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import soundfile

from parallel_audio import AudioFeatureGeneratorSettings, ParallelAudioDataGenerator
from parallel_audio.errors import DatasetError, SettingsError

RATE = 16000


def quiet_generator(**kwargs):
    """A generator that changes nothing unless asked: no trimming, no augmentation."""
    settings = {"cores": 0, "trim_threshold_db": None, **kwargs}
    return ParallelAudioDataGenerator(**settings)


@pytest.fixture
def recording(tmp_path, rng):
    """A 2.0 s noise recording and 0.6 s one, with dog [0.2, 0.9) and cat [0.6, 1.7)."""
    soundfile.write(
        tmp_path / "a.wav",
        (0.1 * rng.standard_normal(2 * RATE)).astype(np.float32),
        RATE,
        subtype="FLOAT",
    )
    soundfile.write(
        tmp_path / "b.wav",
        (0.1 * rng.standard_normal(9600)).astype(np.float32),
        RATE,
        subtype="FLOAT",
    )
    events = tmp_path / "events.tsv"
    events.write_text(
        "filename\tonset\toffset\tevent_label\n"
        "a.wav\t0.2\t0.9\tdog\n"
        "a.wav\t0.6\t1.7\tcat\n"
        "b.wav\t\t\t\n"
    )
    return tmp_path, events


def test_windows_table_and_labels_by_hand(recording):
    root, events = recording
    generator = quiet_generator()
    iterator = generator.flow_from_annotations(
        events, root, hop_seconds=0.75, batch_size=-1, shuffle=False, seed=3, classes=["dog", "cat"]
    )
    # a.wav: [0, 1), [0.75, 1.75), [1.5, 2.5) padded; b.wav (0.6 s): one padded [0, 1).
    assert [tuple(w) for w in iterator.windows] == [
        (0, "a.wav", 0.0, 1.0),
        (1, "a.wav", 0.75, 1.75),
        (2, "a.wav", 1.5, 2.5),
        (3, "b.wav", 0.0, 1.0),
    ]
    x, y = iterator[0]
    # majority, min_overlap 0.5: dog (0.7 s), cat (0.95 s), background (cat 0.2 s), background.
    assert iterator.class_indices == {"dog": 0, "cat": 1, "_background_": 2}
    np.testing.assert_array_equal(y, np.eye(3)[[0, 1, 2, 2]])
    assert x.shape == (4, 98, 32, 1)


def test_window_audio_is_the_span_of_the_file(recording):
    root, events = recording
    audio, _ = soundfile.read(root / "a.wav", dtype="float32")
    generator = quiet_generator(frontend_enabled=False, sample_shape=(RATE,))
    iterator = generator.flow_from_annotations(
        events, root, hop_seconds=0.75, batch_size=-1, shuffle=False, label_mode="fraction"
    )
    x, y = iterator[0]
    np.testing.assert_array_equal(x[0], audio[:16000])
    np.testing.assert_array_equal(x[1], audio[12000:28000])
    np.testing.assert_array_equal(x[2][:8000], audio[24000:])
    np.testing.assert_array_equal(x[2][8000:], 0)  # zero-padded past the end
    # classes default to the sorted labels: cat, dog.
    np.testing.assert_allclose(y[:3], [[0.4, 0.7], [0.95, 0.15], [0.2, 0.0]], atol=1e-6)


def test_jittered_windows_are_labelled_where_they_were_read(recording):
    root, events = recording
    audio, _ = soundfile.read(root / "a.wav", dtype="float32")
    generator = quiet_generator(frontend_enabled=False, sample_shape=(RATE,))
    iterator = generator.flow_from_annotations(
        events,
        root,
        files=["a.wav"],
        hop_seconds=0.5,
        jitter_seconds=0.2,
        batch_size=-1,
        shuffle=False,
        label_mode="fraction",
        seed=11,
        classes=["dog", "cat"],
    )
    assert [w.start for w in iterator.windows] == [0.0, 0.5, 1.0]
    moved = []
    for epoch in range(3):
        x, y = iterator.batch(0, epoch)
        for window, sample, label in zip(iterator.windows, x, y, strict=True):
            grid = round(window.start * RATE)
            candidates = [
                s
                for s in range(max(0, grid - 3200), min(grid + 3200, 16000) + 1)
                if np.array_equal(audio[s : s + 16000], sample)
            ]
            assert len(candidates) == 1
            start = candidates[0] / RATE
            moved.append(start * RATE - grid)
            # Coverage of [start, start + 1) by dog [0.2, 0.9) and cat [0.6, 1.7).
            dog = max(0.0, min(0.9, start + 1) - max(0.2, start))
            cat = max(0.0, min(1.7, start + 1) - max(0.6, start))
            np.testing.assert_allclose(label, [dog, cat], atol=1e-6)
    assert len(set(moved)) > 3  # the windows did move, by different amounts
    # Without augmentation (validation, or disable_random_transforms) they stay on the grid.
    still = quiet_generator(
        frontend_enabled=False, sample_shape=(RATE,), disable_random_transforms=True
    ).flow_from_annotations(
        events,
        root,
        files=["a.wav"],
        hop_seconds=0.5,
        jitter_seconds=0.2,
        batch_size=-1,
        shuffle=False,
        label_mode="fraction",
        seed=11,
    )
    x, _ = still[0]
    np.testing.assert_array_equal(x[1], audio[8000:24000])


def burst_recording(root, *, onset, offset, duration=3.0):
    """A 1 kHz tone between onset and offset, silence elsewhere, and its event."""
    t = np.arange(round(duration * RATE)) / RATE
    audio = np.where((t >= onset) & (t < offset), 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0)
    soundfile.write(root / "burst.wav", audio.astype(np.float32), RATE, subtype="FLOAT")
    return [("burst.wav", onset, offset, "tone")]


def channel_nearest(frequency, settings):
    """The filterbank channel whose centre is nearest ``frequency`` (mel-spaced centres)."""

    def mel(f):
        return 1127.0 * np.log1p(f / 700.0)

    low, high = mel(settings.filterbank_lower_band_limit), mel(settings.filterbank_upper_band_limit)
    n = settings.filterbank_n_channels
    centres_mel = low + (high - low) * np.arange(1, n + 1) / (n + 1)
    centres = 700.0 * np.expm1(centres_mel / 1127.0)
    return int(np.argmin(np.abs(centres - frequency)))


@pytest.mark.parametrize(("speed", "offset"), [(1.25, 0.5), (1.25, 0.0), (0.8, 0.25), (1.0, 0.0)])
def test_frame_labels_follow_speed_and_offset_on_labels_and_audio(tmp_path, speed, offset):
    events = burst_recording(tmp_path, onset=1.3, offset=1.8)
    settings = AudioFeatureGeneratorSettings()
    generator = quiet_generator(
        frontend_settings=settings,
        speed_range=(speed, speed),
        offset_range=(offset, offset),
        frontend_dtype="float32",
    )
    iterator = generator.flow_from_annotations(
        events,
        tmp_path,
        hop_seconds=0.5,
        label_mode="frames",
        batch_size=-1,
        shuffle=False,
        seed=5,
    )
    x, y, w = iterator[0]
    assert y.shape == (len(iterator.windows), 98, 1) and w.shape == (len(iterator.windows), 98)
    channel = channel_nearest(1000.0, settings)
    checked = 0
    for window, spectrogram, labels, weights in zip(iterator.windows, x, y, w, strict=True):
        # The formula: the burst's part inside the window, relative to its start, / speed,
        # + the placement's shift of round(16000 / speed) samples at this offset.
        n = round(16000 / speed)
        shift = (int((16000 - n) * offset) if n < 16000 else -int((n - 16000) * offset)) / RATE
        onset = (max(1.3, window.start) - window.start) / speed + shift
        offset_s = (min(1.8, window.end) - window.start) / speed + shift
        centres = np.arange(98) * 0.01 + 0.0125
        expected = (
            (centres >= onset) & (centres < offset_s)
            if 1.8 > window.start and 1.3 < window.end
            else np.zeros(98, bool)
        )
        np.testing.assert_array_equal(labels[:, 0].astype(bool), expected, err_msg=str(window))
        # Weights: 0 for frames centred past the file's end (3.0 s), which moves as times do.
        file_end = (3.0 - window.start) / speed + shift if window.end > 3.0 else math.inf
        np.testing.assert_array_equal(weights, centres < file_end, err_msg=str(window))
        # The audio: frames where the 1 kHz channel is within 6 dB of the tone's level (the
        # log scale is 2**6 units per natural log of amplitude: 6 dB is 64 * ln 2).
        energy = spectrogram[:, channel, 0]
        labelled = np.flatnonzero(expected)
        if labelled.size == 0:
            assert energy.max() == 0, window
            continue
        heard = np.flatnonzero(energy > np.median(energy[energy > 0]) - 64 * math.log(2))
        # The burst sits where the labels say: its middle within one frame. Its edges within
        # one frame plus the phase vocoder's smear (half its 512-sample frame, stretched by
        # 1 / speed) when the speed changes.
        assert abs((heard[0] + heard[-1]) / 2 - (labelled[0] + labelled[-1]) / 2) <= 1, window
        smear = 0 if speed == 1 else math.ceil(256 / speed / 160)
        assert abs(heard[0] - labelled[0]) <= 1 + smear, (window, heard, labelled)
        assert abs(heard[-1] - labelled[-1]) <= 1 + smear, (window, heard, labelled)
        checked += 1
    assert checked >= 2


def test_validation_split_keeps_a_recording_on_one_side(tmp_path, rng):
    names = []
    for i in range(12):
        name = f"rec{i:02d}.wav"
        soundfile.write(
            tmp_path / name, (0.1 * rng.standard_normal(3 * RATE)).astype(np.float32), RATE
        )
        names.append(name)
    rows = [(name, 0.5, 1.5, "dog") for name in names]
    generator = quiet_generator(validation_split=0.4)
    sides = {}
    for subset in ("training", "validation"):
        iterator = generator.flow_from_annotations(rows, tmp_path, subset=subset, shuffle=False)
        sides[subset] = {w.file for w in iterator.windows}
        assert len(iterator.windows) == 3 * len(sides[subset])  # every window of the file
    assert sides["training"] and sides["validation"]
    assert not sides["training"] & sides["validation"]
    assert sides["training"] | sides["validation"] == set(names)
    # By group: files of one site stay together.
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(rows, columns=["filename", "onset", "offset", "event_label"])
    frame["site"] = [f"site{i % 3}" for i in range(12)]
    site_of = dict(zip(frame.filename, frame.site, strict=True))
    seen = {}
    for subset in ("training", "validation"):
        iterator = generator.flow_from_annotations(
            frame, tmp_path, subset=subset, group_col="site", shuffle=False
        )
        seen[subset] = {site_of[w.file] for w in iterator.windows}
    assert not seen["training"] & seen["validation"]


def test_time_series_labels_are_held(tmp_path, rng):
    soundfile.write(
        tmp_path / "r.wav", (0.1 * rng.standard_normal(2 * RATE)).astype(np.float32), RATE
    )
    labels = tmp_path / "labels"
    labels.mkdir()
    # music is declared but never on: still a class.
    (labels / "r.csv").write_text("time,speech,music\n0,0,0\n0.25,1,0\n1.0,0,0\n")
    generator = quiet_generator()
    iterator = generator.flow_from_annotations(
        str(labels),
        tmp_path,
        annotations_format="timeseries",
        label_mode="fraction",
        hop_seconds=0.5,
        batch_size=-1,
        shuffle=False,
    )
    # speech [0.25, 1.0): windows [0,1) 0.75, [0.5,1.5) 0.5, [1,2) 0.
    assert iterator.class_indices == {"music": 0, "speech": 1}
    np.testing.assert_allclose(iterator[0][1], [[0, 0.75], [0, 0.5], [0, 0.0]], atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"hop_seconds": 0}, SettingsError, r"hop_seconds must be > 0, got 0"),
        ({"hop_seconds": -0.5}, SettingsError, r"hop_seconds must be > 0"),
        ({"min_overlap": 1.5}, SettingsError, r"min_overlap must lie in \[0, 1\], got 1.5"),
        ({"min_overlap": -0.1}, SettingsError, r"min_overlap"),
        (
            {"jitter_seconds": 0.5, "hop_seconds": 0.5},
            SettingsError,
            r"jitter_seconds \(0.5\) must be smaller than the hop \(0.5 s\)",
        ),
        ({"label_mode": "vote"}, SettingsError, r"label_mode must be one of"),
        (
            {"classes": ["dog"]},
            DatasetError,
            r"1 events of .* label not in classes: 'cat' \(line 3\)",
        ),
    ],
)
def test_settings_errors(recording, kwargs, error, message):
    root, events = recording
    with pytest.raises(error, match=message):
        quiet_generator().flow_from_annotations(events, root, **kwargs)


def test_frames_need_the_frontend(recording):
    root, events = recording
    generator = quiet_generator(frontend_enabled=False, sample_shape=(RATE,))
    with pytest.raises(SettingsError, match=r"label_mode='frames'.*frontend_enabled=False"):
        generator.flow_from_annotations(events, root, label_mode="frames")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a.wav\t0.9\t0.2\tdog", r"line 2 of .*events.tsv.*onset 0.9 is not before offset 0.2"),
        ("a.wav\t-1\t0.2\tdog", r"line 2 .*negative onset"),
        ("gone.wav\t0.1\t0.2\tdog", r"gone.wav' does not exist \(its events are line 2 of"),
    ],
)
def test_annotation_errors_name_the_row_or_file(tmp_path, line, message):
    soundfile.write(tmp_path / "a.wav", np.zeros(RATE, np.float32), RATE)
    events = tmp_path / "events.tsv"
    events.write_text(f"filename\tonset\toffset\tevent_label\n{line}\n")
    with pytest.raises(DatasetError, match=message):
        quiet_generator().flow_from_annotations(events, tmp_path)


def test_events_past_the_end_warn_and_are_clipped(recording):
    root, _ = recording
    rows = [("b.wav", 0.1, 5.0, "dog")]  # b.wav lasts 0.6 s
    with pytest.warns(UserWarning, match=r"'b.wav' \(row 0: 0.1-5 s 'dog', file ends at 0.6 s\)"):
        iterator = quiet_generator().flow_from_annotations(
            rows, root, label_mode="fraction", shuffle=False
        )
    np.testing.assert_allclose(iterator[0][1], [[0.5]], atol=1e-6)


def test_trimming_is_off_with_one_warning(recording):
    import parallel_audio.generator as generator_module

    root, events = recording
    generator_module._TRIM_WARNED = False
    generator = ParallelAudioDataGenerator(cores=0, trim_threshold_db=20)
    with pytest.warns(UserWarning, match="does not trim silence"):
        iterator = generator.flow_from_annotations(events, root, shuffle=False)
    assert iterator.generator.trim_threshold_db is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        generator.flow_from_annotations(events, root, shuffle=False)


def test_unlabeled_windows_for_inference(recording):
    root, _ = recording
    iterator = quiet_generator().flow_from_annotations(
        None, root, files="all", batch_size=2, shuffle=False
    )
    assert [(w.file, w.start) for w in iterator.windows] == [
        ("a.wav", 0.0),
        ("a.wav", 1.0),
        ("b.wav", 0.0),
    ]
    batch = iterator[0]
    assert isinstance(batch, np.ndarray) and batch.shape == (2, 98, 32, 1)
    assert not math.isnan(float(batch.sum()))


@pytest.mark.slow
def test_same_batches_with_workers(recording):
    root, events = recording
    batches = {}
    for cores in (0, 2):
        generator = ParallelAudioDataGenerator(
            cores=cores, speed_range=(0.9, 1.1), offset_range=(0.0, 1.0), trim_threshold_db=None
        )
        with generator.flow_from_annotations(
            events,
            root,
            label_mode="frames",
            hop_seconds=0.25,
            jitter_seconds=0.1,
            batch_size=3,
            seed=9,
        ) as iterator:
            batches[cores] = [
                iterator.batch(i, epoch) for epoch in range(2) for i in range(len(iterator))
            ]
    for a, b in zip(batches[0], batches[2], strict=True):
        for part_a, part_b in zip(a, b, strict=True):
            assert part_a.tobytes() == part_b.tobytes()


@pytest.mark.slow
def test_model_fit_with_frame_labels_and_weights(recording):
    keras = pytest.importorskip("keras")
    root, events = recording
    generator = ParallelAudioDataGenerator(cores=0, trim_threshold_db=None, speed_range=(0.9, 1.1))
    iterator = generator.flow_from_annotations(
        events,
        root,
        label_mode="frames",
        hop_seconds=0.25,
        batch_size=4,
        seed=2,
        classes=["dog", "cat"],
    )
    x, y, w = iterator[0]
    assert w.shape == (x.shape[0], 98) and y.shape == (x.shape[0], 98, 2)
    model = keras.Sequential(
        [
            keras.Input(shape=x.shape[1:]),
            keras.layers.Reshape((98, 32)),
            keras.layers.Conv1D(8, 3, padding="same", activation="relu"),
            keras.layers.Dense(2, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    history = model.fit(iterator, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and all(np.isfinite(history.history["loss"]))
    # Inference over whole files: one prediction per window, in iterator.windows order.
    detect = ParallelAudioDataGenerator(cores=0, trim_threshold_db=None).flow_from_annotations(
        None, root, files="all", hop_seconds=0.5, batch_size=3, shuffle=False
    )
    scores = model.predict(detect, verbose=0)
    assert scores.shape == (len(detect.windows), 98, 2)
    assert [(w.file, w.start) for w in detect.windows] == [
        ("a.wav", 0.0),
        ("a.wav", 0.5),
        ("a.wav", 1.0),
        ("b.wav", 0.0),
    ]
    single = model.predict(detect[1], verbose=0)  # batch 1 holds windows 3 (and none else)
    np.testing.assert_allclose(scores[3:], single, rtol=1e-5, atol=1e-6)


def test_unreadable_files_raise_or_are_skipped(recording):
    root, _ = recording
    (root / "text.wav").write_text("not audio at all")
    rows = [("a.wav", 0.2, 0.9, "dog"), ("text.wav", 0.0, 0.5, "dog")]
    with pytest.raises(DatasetError, match=r"text.wav' cannot be read as audio"):
        quiet_generator().flow_from_annotations(rows, root)
    with pytest.warns(UserWarning, match=r"left out 1 files: .*text.wav"):
        iterator = quiet_generator().flow_from_annotations(rows, root, on_error="skip")
    assert {w.file for w in iterator.windows} == {"a.wav"}
    assert iterator.skipped_files[0][0] == "text.wav"


def test_tf_dataset_signature_of_frame_labels(recording):
    tf = pytest.importorskip("tensorflow")
    root, events = recording
    iterator = quiet_generator().flow_from_annotations(
        events, root, label_mode="frames", batch_size=2, shuffle=False, classes=["dog", "cat"]
    )
    x, y, w = next(iter(iterator.as_tf_dataset()))
    assert x.shape == (2, 98, 32, 1) and y.shape == (2, 98, 2) and w.shape == (2, 98)
    assert y.dtype == tf.float32 and w.dtype == tf.float32
    np.testing.assert_array_equal(y.numpy(), iterator.batch(0, 0)[1])


def test_which_files_are_windowed(recording):
    root, events = recording
    (root / "extra").mkdir()
    soundfile.write(root / "extra" / "c.wav", np.zeros(RATE, np.float32), RATE)
    generator = quiet_generator()
    # None: the files the annotations name (b.wav is listed without events).
    listed = generator.flow_from_annotations(events, root, shuffle=False)
    assert sorted({w.file for w in listed.windows}) == ["a.wav", "b.wav"]
    # "all": every audio file; c.wav has no event, so its window is background.
    every = generator.flow_from_annotations(events, root, files="all", shuffle=False)
    assert sorted({w.file for w in every.windows}) == ["a.wav", "b.wav", "extra/c.wav"]
    position = [w.file for w in every.windows].index("extra/c.wav")
    assert every.classes[position] == every.class_indices["_background_"]
    # A list: only those; events of other files are not used.
    only = generator.flow_from_annotations(
        events, root, files=["b.wav"], label_mode="any", shuffle=False
    )
    assert [w.file for w in only.windows] == ["b.wav"]
    np.testing.assert_array_equal(only[0][1], [[0, 0]])
    # An annotated file that is not there is an error with "all" too.
    rows = [("a.wav", 0.1, 0.2, "dog"), ("lost.wav", 0.1, 0.2, "dog")]
    with pytest.raises(DatasetError, match=r"lost.wav' does not exist \(its events are row 1"):
        generator.flow_from_annotations(rows, root, files="all")


@pytest.mark.parametrize("extension", ["flac", "mp3"])
def test_windows_of_flac_and_mp3_equal_the_decoded_span(tmp_path, rng, extension):
    if extension.upper() not in soundfile.available_formats():
        pytest.skip(f"this libsndfile does not write {extension}")
    t = np.arange(20 * RATE) / RATE
    audio = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(t.size)).astype(
        np.float32
    )
    path = tmp_path / f"long.{extension}"
    soundfile.write(path, audio, RATE)
    whole, _ = soundfile.read(path, dtype="float32")  # the whole file, decoded once
    generator = quiet_generator(frontend_enabled=False, sample_shape=(RATE,))
    iterator = generator.flow_from_annotations(
        None, tmp_path, files="all", hop_seconds=3.3, batch_size=-1, shuffle=False
    )
    for window, x in zip(iterator.windows, iterator[0], strict=True):
        first = round(window.start * RATE)
        span = whole[first : first + RATE]
        np.testing.assert_allclose(x[: span.size], span, atol=1e-6, err_msg=str(window))


def test_pitch_vtlp_loudness_and_noise_do_not_move_labels(recording):
    root, events = recording
    arguments = {"label_mode": "frames", "hop_seconds": 0.25, "batch_size": -1, "seed": 4}
    plain = quiet_generator().flow_from_annotations(events, root, shuffle=False, **arguments)
    augmented = quiet_generator(
        pitch_range=(-3, 3),
        vtlp_range=(0.9, 1.1),
        loudness_range=(0.5, 1.5),
        noise_colors="all",
        noise_color_range=(0.1, 0.3),
        offset_range=(0.0, 1.0),  # a window fills the sample: the offset has nothing to move
    ).flow_from_annotations(events, root, shuffle=False, **arguments)
    x_plain, y_plain, w_plain = plain[0]
    x_augmented, y_augmented, w_augmented = augmented[0]
    assert not np.array_equal(x_plain, x_augmented)  # the audio did change
    np.testing.assert_array_equal(y_augmented, y_plain)
    np.testing.assert_array_equal(w_augmented, w_plain)

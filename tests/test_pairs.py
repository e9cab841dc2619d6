"""Audio pairs: an input and its target augmented together (class_mode "audio"/"denoise")."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
from support import RATE, speech_like

from parallel_audio import AudioFileError, ParallelAudioDataGenerator, SettingsError
from parallel_audio.audio_io import read_audio
from parallel_audio.audio_ops import fit_to_length
from parallel_audio.pipeline import sample_rng

GEOMETRY = dict(
    speed_range=(0.85, 1.15),
    pitch_range=(-2, 2),
    loudness_range=(0.5, 1.5),
    offset_range=(0.0, 1.0),
)
NOISE = dict(noise_colors=["white", "pink"], noise_color_range=(0.05, 0.2))


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("pairs")
    rng = np.random.default_rng(3)
    rows = []
    for k in range(6):
        audio = speech_like(rng, int(RATE * rng.uniform(0.5, 0.9)), RATE) / 32768.0
        soundfile.write(root / f"clean{k}.wav", audio, RATE, subtype="FLOAT")
        noisy = audio + 0.05 * rng.standard_normal(audio.size)
        soundfile.write(root / f"noisy{k}.wav", noisy, RATE, subtype="FLOAT")
        rows.append(
            {"filename": f"noisy{k}.wav", "clean": f"clean{k}.wav", "same": f"noisy{k}.wav"}
        )
    return root, rows


def waveform_generator(**kwargs):
    return ParallelAudioDataGenerator(
        cores=0, frontend_enabled=False, sample_shape=(RATE,), **kwargs
    )


def test_with_the_input_as_target_x_minus_y_is_the_drawn_noise(clips):
    root, rows = clips
    gen = waveform_generator(**GEOMETRY, **NOISE)
    iterator = gen.flow_from_dataframe(
        rows, root, target_col="same", class_mode="audio", batch_size=6, seed=12
    )
    x, y = iterator[0]
    runtime = iterator.process_params.runtime
    colored = runtime.policy.augmentations.colored_noise
    for i, sample_id in enumerate(iterator.batch_sample_ids(0)):
        transform = runtime.random_transform(sample_rng(12, 0, int(sample_id)))
        assert transform.noise_color is not None  # every sample gets noise here
        noise = colored.crop(transform.noise_color, RATE, transform.noise_position)
        expected = np.float32(transform.noise_color_factor * transform.loudness_factor) * noise
        np.testing.assert_allclose(x[i] - y[i], expected, atol=2e-7)
        assert np.abs(y[i]).max() > 0.01  # the target is the speech, augmented


def test_without_noise_x_equals_y_and_denoise_needs_no_target(clips):
    root, rows = clips
    gen = waveform_generator(**GEOMETRY)
    x, y = gen.flow_from_dataframe(
        rows, root, target_col="same", class_mode="audio", batch_size=6, seed=4
    )[0]
    np.testing.assert_array_equal(x, y)
    noisy_gen = waveform_generator(**GEOMETRY, **NOISE)
    paired = noisy_gen.flow_from_dataframe(
        rows, root, target_col="same", class_mode="audio", batch_size=6, seed=4
    )[0]
    denoise = noisy_gen.flow_from_dataframe(rows, root, class_mode="denoise", batch_size=6, seed=4)[
        0
    ]
    for a, b in zip(paired, denoise, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(denoise[0], denoise[1])  # the input got its noise


def test_all_applies_the_noise_to_both_and_input_leaves_the_target_as_decoded(clips):
    root, rows = clips
    gen = waveform_generator(**GEOMETRY, **NOISE)
    x, y = gen.flow_from_dataframe(
        rows,
        root,
        target_col="same",
        class_mode="audio",
        pair_transforms="all",
        batch_size=6,
        seed=2,
    )[0]
    np.testing.assert_array_equal(x, y)
    iterator = gen.flow_from_dataframe(
        rows,
        root,
        target_col="clean",
        class_mode="audio",
        pair_transforms="input",
        batch_size=6,
        seed=2,
    )
    _, y = iterator[0]
    for i, sample_id in enumerate(iterator.batch_sample_ids(0)):
        clean = read_audio(root / rows[sample_id]["clean"], RATE)
        np.testing.assert_array_equal(y[i], fit_to_length(clean, RATE, 0.0))


def test_target_frontend_gives_the_spectrogram_of_the_geometric_target(clips):
    root, rows = clips
    gen = ParallelAudioDataGenerator(cores=0, **GEOMETRY)
    x, y = gen.flow_from_dataframe(
        rows,
        root,
        target_col="same",
        class_mode="audio",
        target_frontend=True,
        batch_size=6,
        seed=8,
    )[0]
    assert y.shape == x.shape == (6, *gen.sample_shape, 1)
    np.testing.assert_array_equal(x, y)
    with pytest.raises(SettingsError, match="target_frontend"):
        waveform_generator().flow_from_dataframe(
            rows, root, target_col="same", class_mode="audio", target_frontend=True
        )


def test_a_pair_of_different_lengths_names_both_files(clips, tmp_path):
    root, _ = clips
    soundfile.write(tmp_path / "a.wav", np.zeros(RATE, np.float32) + 0.1, RATE)
    soundfile.write(tmp_path / "b.wav", np.zeros(RATE // 2, np.float32) + 0.1, RATE)
    iterator = waveform_generator().flow_from_dataframe(
        [{"filename": "a.wav", "target": "b.wav"}],
        tmp_path,
        target_col="target",
        class_mode="audio",
        batch_size=1,
        seed=0,
    )
    with pytest.raises(AudioFileError) as caught:
        iterator[0]
    assert "a.wav" in str(caught.value) and "b.wav" in str(caught.value)


def test_model_fit_learns_to_denoise(clips):
    import keras

    root, rows = clips
    gen = waveform_generator(noise_colors="white", noise_color_range=(0.05, 0.05))
    train = gen.flow_from_dataframe(rows * 4, root, class_mode="denoise", batch_size=8, seed=0)
    assert train.as_tf_dataset().element_spec[1].shape.as_list() == [None, RATE]
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((RATE,)),
            keras.layers.Reshape((RATE, 1)),
            keras.layers.Conv1D(1, 9, padding="same"),
            keras.layers.Reshape((RATE,)),
        ]
    )
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    history = model.fit(train, epochs=4, verbose=0)
    assert history.history["loss"][-1] < 0.7 * history.history["loss"][0]

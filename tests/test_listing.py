"""One set of listing rules: the dataset index, background noise and the command line agree.

First the three background-noise bugs as they were reported (a macOS resource fork raised, a
``.w64`` file was ignored, ``hum.wav`` and ``hum.flac`` overwrote each other), then the rules
themselves on one folder of mixed files seen by all three.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile
from hypothesis import given
from hypothesis import strategies as st

from parallel_audio import AudioFileError, DatasetError, ParallelAudioDataGenerator
from parallel_audio.augment import BackgroundNoise, load_background_noise
from parallel_audio.augment.background_noise import noise_names
from parallel_audio.cli import main
from parallel_audio.cli.info import survey_dataset
from parallel_audio.dataset_index import build_index
from parallel_audio.listing import (
    AUDIO_EXTENSIONS,
    has_audio_extension,
    is_class_folder_name,
    is_hidden,
    list_dataset_files,
)

RATE = 16000
# The first bytes of a macOS AppleDouble file ("._name"): resource fork and Finder data that
# copies to a non-Apple file system leave beside every file. Not audio.
APPLE_DOUBLE = b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        " + bytes(64)

# How to write a file of each accepted extension: (soundfile format, subtype, lossless).
WRITERS = {
    "wav": ("WAV", "PCM_16", True),
    "wave": ("WAV", "PCM_16", True),
    "flac": ("FLAC", "PCM_16", True),
    "ogg": ("OGG", "VORBIS", False),
    "oga": ("OGG", "VORBIS", False),
    "opus": ("OGG", "OPUS", False),
    "mp3": ("MP3", "MPEG_LAYER_III", False),
    "aiff": ("AIFF", "PCM_16", True),
    "aif": ("AIFF", "PCM_16", True),
    "aifc": ("AIFF", "PCM_16", True),
    "au": ("AU", "PCM_16", True),
    "snd": ("AU", "PCM_16", True),
    "caf": ("CAF", "PCM_16", True),
    "w64": ("W64", "PCM_16", True),
    "rf64": ("RF64", "PCM_16", True),
}


def write_constant(path: Path, value: float, *, seconds: float = 0.25) -> None:
    """A file holding ``value`` in every sample; values k / 64 are exact in 16 bits."""
    extension = path.name.rsplit(".", 1)[-1].lower()
    file_format, subtype, _ = WRITERS[extension]
    path.parent.mkdir(parents=True, exist_ok=True)
    audio = np.full(int(RATE * seconds), value, np.float32)
    soundfile.write(path, audio, RATE, format=file_format, subtype=subtype)


def within_deadline(function, seconds: float = 30.0):
    """Run ``function`` in a thread; fail instead of hanging (a FIFO opened to read blocks)."""
    result = {}

    def run():
        try:
            result["value"] = function()
        except BaseException as error:  # handed to the test thread below
            result["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"still running after {seconds} s: a blocking file was opened"
    if "error" in result:
        raise result["error"]
    return result["value"]


def silence_values(root: Path, bg_noise_dir: str, *, batch_size: int = 64) -> set[float]:
    """The values of the ``_silence_`` samples of one batch: each is one noise file's crop.

    With the level fixed at 1 and files that hold one value each, a silence sample is that
    value in every sample, so the set tells which noise files were used.
    """
    generator = ParallelAudioDataGenerator(
        cores=0,
        frontend_enabled=False,
        sample_shape=(RATE,),
        bg_noise_dir=bg_noise_dir,
        bg_noise_range=(1.0, 1.0),
        silence_class_percentage=8.0,
    )
    with generator.flow_from_directory(
        root, classes=["word", "_silence_"], batch_size=batch_size, seed=5
    ) as iterator:
        x, y = iterator.batch(0)
    silence = x[np.argmax(y, axis=1) == 1]
    assert len(silence) > 40
    for sample in silence:
        assert np.all(sample == sample[0]), "a silence sample is not one noise file's value"
    return {float(sample[0]) for sample in silence}


@pytest.fixture
def word_dataset(tmp_path) -> Path:
    """One class folder, so that ``_silence_`` has a size to be relative to."""
    for i in range(8):
        write_constant(tmp_path / "word" / f"s{i}_nohash_0.wav", 0.0)
    return tmp_path


# ----------------------------------------------------------------------------- the three bugs


def test_a_macos_resource_fork_in_the_background_folder_is_skipped(word_dataset):
    noise_folder = word_dataset / "_background_noise_"
    write_constant(noise_folder / "noise.wav", 0.25)
    (noise_folder / "._noise.wav").write_bytes(APPLE_DOUBLE)  # unreadable as audio

    noises = load_background_noise(str(noise_folder), RATE)
    assert list(noises) == ["noise"]
    np.testing.assert_array_equal(noises["noise"], np.full(RATE // 4, 0.25, np.float32))
    # The dataset index skips the same file in a class folder.
    (word_dataset / "word" / "._s0_nohash_0.wav").write_bytes(APPLE_DOUBLE)
    assert "word/._s0_nohash_0.wav" not in build_index(word_dataset, ["word"]).filenames
    # And training with both runs.
    assert silence_values(word_dataset, "_background_noise_") == {0.25}


def test_a_w64_file_is_background_noise_as_it_is_a_dataset_file(word_dataset):
    noise_folder = word_dataset / "_background_noise_"
    write_constant(noise_folder / "rumble.w64", -0.125)
    write_constant(word_dataset / "word" / "rumble.w64", -0.125)

    assert "word/rumble.w64" in build_index(word_dataset, ["word"]).filenames
    noises = load_background_noise(str(noise_folder), RATE)
    assert list(noises) == ["rumble"]
    np.testing.assert_array_equal(noises["rumble"], np.full(RATE // 4, -0.125, np.float32))
    assert silence_values(word_dataset, "_background_noise_") == {-0.125}


def test_files_sharing_a_stem_are_separate_background_noises(word_dataset):
    noise_folder = word_dataset / "_background_noise_"
    write_constant(noise_folder / "hum.wav", 0.25)
    write_constant(noise_folder / "hum.flac", -0.5)
    write_constant(noise_folder / "rain.wav", 0.125)

    noises = load_background_noise(str(noise_folder), RATE)
    # Sorted by file name; the ambiguous stem gives way to the whole name, the rest keep the
    # reference's name (the stem).
    assert list(noises) == ["hum.flac", "hum.wav", "rain"]
    assert float(noises["hum.flac"][0]) == -0.5 and float(noises["hum.wav"][0]) == 0.25
    assert float(noises["rain"][0]) == 0.125
    # Every file feeds training: 64 samples of which > 40 silence, P(a file unused) < 3 * (2/3)^40.
    assert silence_values(word_dataset, "_background_noise_") == {0.25, -0.5, 0.125}


def test_a_transform_names_the_file_whose_noise_it_adds(word_dataset, rng):
    noise_folder = word_dataset / "_background_noise_"
    write_constant(noise_folder / "hum.wav", 0.25)
    write_constant(noise_folder / "hum.flac", -0.5)
    generator = ParallelAudioDataGenerator(
        cores=0,
        frontend_enabled=False,
        sample_shape=(RATE,),
        bg_noise_dir="_background_noise_",
        bg_noise_range=(1.0, 1.0),
        trim_threshold_db=None,
    )
    generator.flow_from_directory(word_dataset, classes=["word"], seed=0)
    assert sorted(generator.bg_noises) == ["hum.flac", "hum.wav"]
    drawn = {generator.get_random_transform(rng)["bg_noise"] for _ in range(200)}
    assert drawn == {"hum.flac", "hum.wav"}
    silent = np.zeros(RATE, np.float32)
    for name, value in (("hum.wav", 0.25), ("hum.flac", -0.5)):
        transform = {"bg_noise": name, "bg_noise_factor": 1.0, "bg_noise_position": 0.3}
        out = generator.apply_transform(silent, RATE, transform)
        np.testing.assert_array_equal(out, np.full(RATE, value, np.float32))


def test_the_reference_names_are_kept_where_they_are_unambiguous(word_dataset):
    # Speech Commands' folder: MLTK names each noise by its file name without ".wav"
    # (fn[:-4]), and code written for it reads bg_noises["white_noise"].
    names = ["doing_the_dishes.wav", "dude_miaowing.wav", "white_noise.wav", "pink_noise.wav"]
    for i, name in enumerate(names):
        write_constant(word_dataset / "_background_noise_" / name, i / 64)
    (word_dataset / "_background_noise_" / "README.md").write_text("about these files")
    noises = load_background_noise(str(word_dataset / "_background_noise_"), RATE)
    assert sorted(noises) == sorted(name[:-4] for name in names)
    assert float(noises["white_noise"][0]) == 2 / 64


def test_an_unreadable_background_file_names_itself_and_the_folder(word_dataset):
    noise_folder = word_dataset / "_background_noise_"
    write_constant(noise_folder / "good.wav", 0.25)
    (noise_folder / "broken.wav").write_bytes(b"RIFF, but not really a wave file")
    with pytest.raises(AudioFileError) as caught:
        load_background_noise(str(noise_folder), RATE)
    message = str(caught.value)
    assert caught.value.path == str(noise_folder / "broken.wav")
    assert f"bg_noise_dir {str(noise_folder)!r}" in message
    assert "fix or remove this one" in message
    # Through the generator too: the error reaches the caller of flow_from_directory.
    generator = ParallelAudioDataGenerator(
        cores=0, bg_noise_dir="_background_noise_", bg_noise_range=(0.1, 0.2)
    )
    with pytest.raises(AudioFileError, match=r"broken\.wav: .*bg_noise_dir '.*_background_"):
        generator.flow_from_directory(word_dataset, classes=["word"], seed=0)


def test_a_broken_link_in_the_background_folder_is_reported_not_ignored(tmp_path):
    write_constant(tmp_path / "good.wav", 0.25)
    (tmp_path / "gone.wav").symlink_to(tmp_path / "elsewhere" / "gone.wav")
    with pytest.raises(AudioFileError, match=r"gone\.wav: .*bg_noise_dir"):
        load_background_noise(str(tmp_path), RATE)


def test_a_background_folder_of_only_hidden_and_other_files_is_an_error(tmp_path):
    (tmp_path / "._hum.wav").write_bytes(APPLE_DOUBLE)
    (tmp_path / "notes.txt").write_text("not audio")
    write_constant(tmp_path / "sub" / "deeper.wav", 0.25)  # not recursive, as the reference
    with pytest.raises(DatasetError, match=r"holds no audio file \(extensions wav, wave, .*w64"):
        load_background_noise(str(tmp_path), RATE)


# ----------------------------------------------------------------------------- names


@given(
    st.lists(
        st.tuples(
            st.text(alphabet="ab.", min_size=1, max_size=4).filter(lambda s: not is_hidden(s)),
            st.sampled_from(["wav", "WAV", "flac", "wav.flac", "w64"]),
        ),
        max_size=12,
    )
)
def test_background_names_never_collide_and_keep_the_stem_when_they_can(parts):
    filenames = sorted({f"{stem}.{extension}" for stem, extension in parts})
    names = noise_names(filenames)
    assert len(set(names)) == len(filenames)
    for filename, name in zip(filenames, names, strict=True):
        stem = filename.rsplit(".", 1)[0]
        assert name in (stem, filename)
        others = [other for other in filenames if other != filename]
        unambiguous = stem not in others and all(o.rsplit(".", 1)[0] != stem for o in others)
        assert (name == stem) == unambiguous


def test_background_noise_draws_every_name_it_was_given(rng):
    noises = {"hum.flac": np.full(10, -0.5, np.float32), "hum.wav": np.full(10, 0.25, np.float32)}
    background = BackgroundNoise(noises, (1.0, 1.0))
    drawn = {background.draw(rng).source for _ in range(100)}
    assert drawn == set(noises)


# ----------------------------------------------------------------------------- the shared rules

# One folder of mixed entries and what every listing must make of it.
AUDIO = ["B.WAV", "a.wav", "c.flac", "d.w64", "e.wave", "f.aifc", "g.caf", "h.rf64", "i.snd"]
HIDDEN = {"._a.wav": APPLE_DOUBLE, ".hidden.flac": None}  # None: a real, readable audio file
OTHER = ["README", "clip.wav.part", "mp3", "notes.txt"]


def write_mixed_folder(folder: Path) -> None:
    for i, name in enumerate(AUDIO):
        write_constant(folder / name, (i + 1) / 64)
    for name, content in HIDDEN.items():
        if content is None:
            write_constant(folder / name, 0.5)
        else:
            (folder / name).write_bytes(content)
    for name in OTHER:
        (folder / name).write_text("not audio")
    write_constant(folder / ".git" / "inside.wav", 0.5)  # a hidden folder is never entered
    if hasattr(os, "mkfifo"):
        os.mkfifo(folder / "pipe.wav")  # opening it to read would block forever


@pytest.fixture
def mixed_dataset(tmp_path) -> Path:
    write_mixed_folder(tmp_path / "mixed")
    write_mixed_folder(tmp_path / "_background_noise_")
    write_constant(tmp_path / "other" / "x.wav", 0.0)
    return tmp_path


def test_the_index_background_noise_and_the_cli_list_the_same_files(mixed_dataset, capsys):
    root = mixed_dataset
    index = within_deadline(lambda: build_index(root, ["mixed", "other"]))
    assert [f for f in index.filenames if f.startswith("mixed/")] == [
        f"mixed/{name}" for name in AUDIO
    ]

    noises = within_deadline(lambda: load_background_noise(str(root / "_background_noise_"), RATE))
    assert list(noises) == [name.rsplit(".", 1)[0] for name in AUDIO]
    for i, audio in enumerate(noises.values()):
        np.testing.assert_array_equal(audio, np.full(RATE // 4, (i + 1) / 64, np.float32))

    survey = within_deadline(lambda: survey_dataset(root))
    for folder in ("mixed", "_background_noise_"):
        assert [f.path for f in survey.files if f.path.startswith(folder + "/")] == [
            f"{folder}/{name}" for name in AUDIO
        ]
        assert [p for p in survey.ignored if p.startswith(folder + "/")] == [
            f"{folder}/{name}" for name in OTHER
        ]
    assert survey.unreadable == []

    code = within_deadline(lambda: main(["info", str(root), "--classes", "mixed", "other"]))
    out = capsys.readouterr().out
    assert code == 0
    rows = {
        m[1]: (int(m[2]), int(m[3]))
        for m in re.finditer(r"^  (\S+)\s+(\d+)\s+\d+\s+[\d.]+\s+(\d+)", out, re.MULTILINE)
    }
    assert rows["mixed"] == (len(AUDIO), 0) and rows["_background_noise_"] == (len(AUDIO), 0)
    assert f"{2 * len(OTHER)} files without an audio extension are ignored" in out


def test_a_symlinked_class_folder_is_listed_alike_by_the_index_and_the_cli(tmp_path):
    write_constant(tmp_path / "elsewhere" / "a.wav", 0.25)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "linked").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert build_index(tmp_path / "data", ["linked"]).filenames == ("linked/a.wav",)
    assert list_dataset_files(tmp_path / "data") == ["linked/a.wav"]
    assert [f.path for f in survey_dataset(tmp_path / "data").files] == ["linked/a.wav"]


def test_a_folder_that_cannot_be_listed_is_named_by_every_listing(tmp_path, monkeypatch, capsys):
    write_constant(tmp_path / "word" / "a.wav", 0.25)
    write_constant(tmp_path / "word" / "private" / "b.wav", 0.25)
    write_constant(tmp_path / "_background_noise_" / "hum.wav", 0.25)
    denied = {str(tmp_path / "word" / "private"), str(tmp_path / "_background_noise_")}
    real_scandir = os.scandir

    def scandir(path="."):  # as for a folder without read permission (root reads any)
        if os.fspath(path) in denied:
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(DatasetError, match=r"folder 'word/private' of .* cannot be listed"):
        build_index(tmp_path, ["word"])
    with pytest.raises(DatasetError, match=r"bg_noise_dir '.*' cannot be listed: Permission"):
        load_background_noise(str(tmp_path / "_background_noise_"), RATE)
    survey = survey_dataset(tmp_path)
    assert [f.path for f in survey.files] == ["word/a.wav"]
    assert survey.unlistable == [
        ("_background_noise_/", "cannot be listed: Permission denied"),
        ("word/private/", "cannot be listed: Permission denied"),
    ]
    assert main(["info", str(tmp_path)]) == 0
    assert "! folder word/private/ cannot be listed: Permission denied" in capsys.readouterr().out


@pytest.mark.parametrize("extension", AUDIO_EXTENSIONS)
def test_every_accepted_extension_reads_as_background_noise_and_dataset_file(tmp_path, extension):
    file_format, subtype, lossless = WRITERS[extension]
    # A 500 Hz tone at 16-bit values (exact in every lossless format); codecs drop DC.
    tone = np.round(8192 * np.sin(2 * np.pi * 500 * np.arange(RATE) / RATE)) / 32768
    path = tmp_path / "noise" / f"clip.{extension.upper()}"
    path.parent.mkdir()
    soundfile.write(path, tone, RATE, format=file_format, subtype=subtype)
    noises = load_background_noise(str(tmp_path / "noise"), RATE)
    assert list(noises) == ["clip"]
    audio = noises["clip"]
    if lossless:
        np.testing.assert_array_equal(audio, tone.astype(np.float32))
    else:  # a codec's delay and ringing at the ends; the middle keeps the level
        middle = audio[audio.size // 4 : 3 * audio.size // 4]
        rms = float(np.sqrt(np.mean(middle**2)))
        assert rms == pytest.approx(0.25 / np.sqrt(2), rel=0.1), (file_format, subtype)
    write_constant(tmp_path / "data" / "word" / f"clip.{extension}", 0.25)
    assert build_index(tmp_path / "data", ["word"]).filenames == (f"word/clip.{extension}",)


def test_the_rules_by_name():
    assert has_audio_extension("x.WAV") and has_audio_extension("x.y.flac")
    assert not has_audio_extension(".wav") and not has_audio_extension("._x.wav")
    assert not has_audio_extension("wav") and not has_audio_extension("x.wav.part")
    assert has_audio_extension("x.wav", ("wav",)) and not has_audio_extension("x.flac", ("wav",))
    assert is_hidden(".git") and is_hidden("._x.wav") and not is_hidden("_background_noise_")
    for name in ("_background_noise_", "_unknown_", ".index", "~lock"):
        assert not is_class_folder_name(name)
    assert is_class_folder_name("yes") and is_class_folder_name("a_b")

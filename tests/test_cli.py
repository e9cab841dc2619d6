"""The parallel-audio command line, run on small datasets written as real audio files."""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
import stat
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile
from PIL import Image

from parallel_audio import AudioFeatureGeneratorSettings, ParallelAudioDataGenerator
from parallel_audio.cli import COMMANDS, build_parser, main
from parallel_audio.cli.augment import copy_stems
from parallel_audio.cli.config_file import config_from_settings, load_config, save_config
from parallel_audio.cli.data_settings import DataSettings, build_generator
from parallel_audio.cli.option_specs import frontend_option_specs, generator_option_specs
from parallel_audio.cli.options import resolve_settings
from parallel_audio.cli.synthetic import MARKER_FILE, write_keyword_dataset
from parallel_audio.cli.tune import Measurement, recommend

RATE = 16000
TONES = {"low": 400.0, "high": 3000.0, "other": 1200.0}
# (extension, sample rate, channels, seconds), cycled over the files of each class.
FORMATS = [("wav", 16000, 1, 1.0), ("flac", 22050, 2, 0.5), ("wav", 8000, 1, 1.5)]


def write_dataset(root: Path, *, speakers: int = 4, per_speaker: int = 2) -> dict[str, tuple]:
    """Class folders of tone bursts in several formats, and _background_noise_.

    Returns every audio file written in a class folder, relative, with (rate, channels,
    frames).
    """
    rng = np.random.default_rng(5)
    manifest = {}
    for name, frequency in TONES.items():
        (root / name).mkdir(parents=True)
        for speaker in range(speakers):
            for n in range(per_speaker):
                extension, rate, channels, seconds = FORMATS[(speaker + n) % len(FORMATS)]
                frames = int(rate * seconds)
                t = np.arange(frames) / rate
                x = np.zeros(frames, np.float32)
                start, stop = frames // 4, frames // 2
                x[start:stop] = 0.5 * np.sin(2 * np.pi * frequency * t[start:stop])
                x += 0.001 * rng.standard_normal(frames).astype(np.float32)
                data = np.stack([x] * channels, axis=1) if channels > 1 else x
                relative = f"{name}/spk{speaker:02d}_nohash_{n}.{extension}"
                soundfile.write(root / relative, data, rate)
                manifest[relative] = (rate, channels, frames)
    (root / "_background_noise_").mkdir()
    soundfile.write(
        root / "_background_noise_" / "noise.wav", 0.1 * rng.standard_normal(RATE), RATE
    )
    return manifest


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dataset")
    write_dataset(root)
    return root


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def read_png_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as image:
        image.load()  # decodes the whole image, not only the header
        return image.size


# ----------------------------------------------------------------------------- parser


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_has_help(capsys, command):
    argv = ["--help"] if command is None else [command, "--help"]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    if command is None:
        for name in COMMANDS:
            assert re.search(rf"^\s+{name}\s+\S", out, re.MULTILINE), name
    else:
        assert out.startswith(f"usage: parallel-audio {command}")
        assert "--speed-range LOW HIGH" in out and "--fe.window-size-ms N" in out
        assert "--config FILE" in out


def test_options_are_the_constructors_parameters():
    # Every parameter with a command-line form: all but callbacks, Python transform objects
    # and the settings object, whose fields have options of their own.
    expected = {
        name
        for name, parameter in inspect.signature(ParallelAudioDataGenerator).parameters.items()
        if "Callable" not in str(parameter.annotation)
        and name not in ("augmentations", "frontend_settings")
    }
    assert {spec.name for spec in generator_option_specs()} == expected
    settable = {k[3:] for k in AudioFeatureGeneratorSettings().to_dict()} - {"fft_length"}
    assert {spec.name for spec in frontend_option_specs()} == settable


def test_options_become_the_constructors_values():
    args = build_parser().parse_args(
        [
            "info",
            "data",
            "--speed-range",
            "0.9",
            "1.1",
            "--pitch-range",
            "-2",
            "2",
            "--noise-colors",
            "white",
            "pink",
            "--noise-color-range",
            "0.1",
            "0.2",
            "--trim-threshold-db",
            "none",
            "--cores",
            "0.5",
            "--max-batches-pending",
            "3",
            "--no-add-channel-dimension",
            "--frontend-dtype",
            "int8",
            "--fe.window-size-ms",
            "30",
            "--fe.pcan-enable",
            "--fe.noise-reduction-enable",
            "--fe.filterbank-upper-band-limit",
            "7000",
        ]
    )
    settings = resolve_settings(args)
    assert settings.generator_kwargs == {
        "speed_range": (0.9, 1.1),
        "pitch_range": (-2, 2),
        "noise_colors": ("white", "pink"),
        "noise_color_range": (0.1, 0.2),
        "trim_threshold_db": None,
        "cores": 0.5,
        "max_batches_pending": 3,
        "add_channel_dimension": False,
        "frontend_dtype": "int8",
    }
    # Two ints are semitone steps for pitch_range, floats would be octaves: types matter.
    assert all(type(v) is int for v in settings.generator_kwargs["pitch_range"])
    assert (
        type(build_parser().parse_args(["info", "d", "--cores", "2"]).__dict__["generator:cores"])
        is int
    )
    generator = build_generator(settings)
    assert generator.speed_range == (0.9, 1.1) and generator.noise_colors == ("white", "pink")
    assert generator.trim_threshold_db is None and generator.max_batches_pending == 3
    assert generator.frontend_settings == AudioFeatureGeneratorSettings(
        window_size_ms=30,
        pcan_enable=True,
        noise_reduction_enable=True,
        filterbank_upper_band_limit=7000.0,
    )
    assert generator.sample_shape == (98, 32)


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_the_command_line_overrides_the_config_file(tmp_path, suffix):
    config = {
        "speed_range": [0.8, 1.2],
        "loudness_range": [0.5, 1.5],
        "validation_split": 0.2,
        "frontend_settings": {"window_size_ms": 30, "filterbank_n_channels": 40},
        "fe.window_step_ms": 20,
        "fe.fft_length": 512,  # derived, as to_dict writes it: ignored
        "classes": ["low", "high"],
        "seed": 5,
    }
    path = tmp_path / f"config{suffix}"
    if suffix == ".json":
        path.write_text(json.dumps(config))
    else:
        import yaml

        path.write_text(yaml.safe_dump(config))
    saved = tmp_path / "saved.yaml"
    args = build_parser().parse_args(
        ["info", "data", "--config", str(path), "--speed-range", "0.9", "1.1"]
        + ["--fe.window-size-ms", "25", "--seed", "7", "--save-config", str(saved)]
    )
    settings = resolve_settings(args)
    assert settings.generator_kwargs["speed_range"] == (0.9, 1.1)
    assert settings.generator_kwargs["loudness_range"] == [0.5, 1.5]
    assert settings.frontend == {
        "window_size_ms": 25,
        "filterbank_n_channels": 40,
        "window_step_ms": 20,
    }
    assert settings.classes == ["low", "high"] and settings.seed == 7
    generator = build_generator(settings)
    assert generator.frontend_settings.spectrogram_shape == (49, 40)
    assert generator.validation_split == 0.2 and generator.loudness_range == (0.5, 1.5)

    # The saved file is the settings in effect, and reads back to the same generator.
    again = load_config(saved)
    assert again.classes == ["low", "high"] and again.seed == 7
    rebuilt = build_generator(again)
    assert rebuilt.speed_range == (0.9, 1.1)
    assert rebuilt.frontend_settings == generator.frontend_settings


# One value per kind of option; the strings are words YAML 1.1 reads as booleans.
VALUE_OF_KIND = {
    "int": 3,
    "float": 0.25,
    "number": 0.5,
    "str": "on",
    "range": (2, 3),
    "strings": ("yes", "off"),
    "ints": (4, 5),
}


@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_every_option_survives_a_config_file(tmp_path, suffix):
    # Whatever the command line can set, --save-config writes and --config reads back with its
    # type: ints stay ints, tuples come back as sequences of the same values, text stays text.
    specs = generator_option_specs() + frontend_option_specs()
    values = {
        spec: (not spec.default) if spec.kind == "bool" else VALUE_OF_KIND[spec.kind]
        for spec in specs
    }
    settings = DataSettings(
        generator_kwargs={s.name: v for s, v in values.items() if not s.frontend},
        frontend={s.name: v for s, v in values.items() if s.frontend},
        classes=["yes", "no", "on", "off"],
        seed=7,
        batch_size=16,
    )
    path = tmp_path / f"settings{suffix}"
    save_config(settings, path)
    again = load_config(path)

    def written(mapping):
        # repr tells 2 from 2.0 and "on" from True; tuples are written as lists.
        return {k: repr(list(v) if isinstance(v, tuple) else v) for k, v in mapping.items()}

    assert written(again.generator_kwargs) == written(settings.generator_kwargs)
    assert written(again.frontend) == written(settings.frontend)
    assert (again.classes, again.seed, again.batch_size) == (["yes", "no", "on", "off"], 7, 16)


def test_an_unknown_config_key_is_named(tmp_path, capsys, dataset):
    path = tmp_path / "config.yaml"
    path.write_text("sped_range: [0.9, 1.1]\nfe.window_size: 30\n")
    code, _, err = run_cli(capsys, "info", dataset, "--config", path)
    assert code == 2
    assert "'sped_range'" in err and "'fe.window_size'" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("classes: [yes, 3]\n", "classes must be a list of names"),
        ("seed: 0.5\n", "seed must be an integer"),
    ],
)
def test_dataset_keys_of_a_config_file_are_checked(tmp_path, capsys, dataset, content, message):
    path = tmp_path / "config.yaml"
    path.write_text(content)
    code, _, err = run_cli(capsys, "info", dataset, "--config", path)
    assert code == 2 and message in err


def test_the_readme_config_example_loads_as_written(tmp_path):
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(.*?)```", readme, re.DOTALL)[1]
    path = tmp_path / "data_config.yaml"
    path.write_text(example)
    settings = load_config(path)
    # YAML 1.1 reads yes, no, on and off as booleans; class names are folder names.
    assert settings.classes == ["yes", "no", "_unknown_", "_silence_"]
    generator = build_generator(settings)
    assert generator.speed_range == (0.9, 1.1) and generator.noise_level_mode == "snr_db"
    assert generator.frontend_settings.window_size_ms == 30
    # Every word YAML 1.1 calls a boolean stays a string; YAML 1.2's true and false do not.
    path.write_text(
        "classes: [y, Y, n, N, yes, Yes, YES, no, NO, on, On, ON, off, Off, OFF]\n"
        "add_channel_dimension: false\nvalidation_augmentation_enabled: True\n"
    )
    settings = load_config(path)
    assert settings.classes == "y Y n N yes Yes YES no NO on On ON off Off OFF".split()
    assert settings.generator_kwargs == {
        "add_channel_dimension": False,
        "validation_augmentation_enabled": True,
    }


# A "billion laughs": nine levels of ten aliases, 10**9 values once expanded, in 900 bytes.
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{b}: &{b} [*{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}]\n"
    for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (ALIAS_BOMB + "speed_range: *i\n", "aliases expand to more than 10000 values"),
        ("speed_range: &r [0.9, *r]\n", "aliases expand to more than 10000 values"),
        ("classes: [" + "a, " * 600_000 + "b]\n", "larger than 1 MiB"),
        ("seed: \xff\xfe\n", "is not UTF-8 text"),
    ],
    ids=["alias-bomb", "recursive-alias", "too-large", "not-utf8"],
)
def test_a_hostile_config_file_gets_a_short_error(tmp_path, capsys, dataset, content, message):
    path = tmp_path / "config.yaml"
    path.write_bytes(content.encode("latin-1"))
    code, out, err = run_cli(capsys, "info", dataset, "--config", path)
    assert code == 2 and message in err and "Traceback" not in err
    assert len(err) < 1000, len(err)


def test_a_config_file_that_never_ends_is_refused(capsys, dataset):
    code, _, err = run_cli(capsys, "info", dataset, "--config", "/dev/zero")
    assert code == 2 and "larger than 1 MiB" in err and len(err) < 1000


@pytest.mark.parametrize(
    ("options", "constructor_kwargs"),
    [
        (["--loudness-range", "2", "1"], {"loudness_range": (2, 1)}),
        (["--speed-range", "1.1"], {"speed_range": (1.1,)}),
        (["--noise-colors", "purple"], {"noise_colors": "purple"}),
        (["--cores", "-2"], {"cores": -2}),
        (
            ["--fe.window-size-ms", "10", "--fe.window-step-ms", "20"],
            {
                "frontend_settings": AudioFeatureGeneratorSettings(
                    window_size_ms=10, window_step_ms=20
                )
            },
        ),
    ],
)
def test_invalid_options_give_the_generators_message(capsys, dataset, options, constructor_kwargs):
    with pytest.raises((ValueError, TypeError)) as expected:
        ParallelAudioDataGenerator(**constructor_kwargs)
    code, out, err = run_cli(capsys, "info", dataset, *options)
    assert code == 2 and out == ""
    assert str(expected.value) in err and "Traceback" not in err


def test_a_malformed_number_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["info", "data", "--speed-range", "fast", "1.1"])
    assert exit_info.value.code == 2
    assert "--speed-range: expected a number, got 'fast'" in capsys.readouterr().err


# ----------------------------------------------------------------------------- info


def test_info_reports_counts_histograms_and_unreadable_files(tmp_path, capsys):
    root = tmp_path / "data"
    manifest = write_dataset(root)
    (root / "low" / "broken.wav").write_bytes(b"RIFF, but not really a wave file")
    (root / "high" / "empty.wav").write_bytes(b"")
    (root / "notes.txt").write_text("not audio")
    code, out, _ = run_cli(
        capsys,
        "info",
        root,
        "--classes",
        "low",
        "high",
        "_unknown_",
        "_silence_",
        "--validation-split",
        "0.3",
        "--silence-class-percentage",
        "0.5",
    )
    assert code == 0
    folder_rows = {
        m[1]: (int(m[2]), int(m[3]), int(m[4]))
        for m in re.finditer(r"^  (\S+)\s+(\d+)\s+(\d+)\s+[\d.]+\s+(\d+)", out, re.MULTILINE)
    }
    assert folder_rows["low"] == (9, 5, 1)  # 8 files + broken.wav; broken.wav is a speaker
    assert folder_rows["high"] == (9, 5, 1)
    assert folder_rows["other"] == (8, 4, 0)
    assert folder_rows["_background_noise_"] == (1, 1, 0)

    def histogram(title: str) -> dict[str, int]:
        section = out.split(f"\n{title}\n", 1)[1].split("\n\n", 1)[0]
        return {
            m[1]: int(m[2]) for m in re.finditer(r"^\s+(.+?) \| #* *(\d+)$", section, re.MULTILINE)
        }

    rates = Counter(f"{rate} Hz" for rate, _, _ in manifest.values())
    assert histogram("Sample rate") == dict(rates)
    assert histogram("Channels") == dict(Counter(str(c) for _, c, _ in manifest.values()))
    durations = re.search(r"Duration \(s\) of the (\d+) readable", out)
    assert int(durations[1]) == len(manifest)
    assert sum(
        int(n)
        for n in re.findall(r"\| [#.]* *(\d+)\n", out.split("Duration")[1].split("Sample rate")[0])
    ) == len(manifest)

    assert re.search(r"^  low/broken\.wav: cannot be read as audio: .+$", out, re.MULTILINE)
    assert re.search(r"^  high/empty\.wav: .+$", out, re.MULTILINE)
    assert "2 files cannot be read" in out and "notes.txt" in out

    rows = {
        m[1]: (int(m[2]), int(m[3]))
        for m in re.finditer(r"^  (\S+)\s+(\d+)\s+(\d+)(?:  \(.*\))?$", out, re.MULTILINE)
    }
    # Each real class splits its files (the broken ones are listed too: nothing is read).
    assert sum(rows["low"]) == 9 and sum(rows["high"]) == 9
    for side in (0, 1):
        smallest = min(rows["low"][side], rows["high"][side])
        assert rows["_silence_"][side] == max(1, int(0.5 * smallest + 0.5))
        assert rows["_unknown_"][side] == smallest  # unknown_class_percentage 1.0
        assert rows["total"][side] == sum(
            rows[c][side] for c in ("low", "high", "_unknown_", "_silence_")
        )


@pytest.mark.slow
def test_info_reads_every_file_name_the_generator_reads(tmp_path):
    """Names that are not UTF-8 (Latin-1 from an old archive) are read, counted and shown."""
    root = os.fsencode(tmp_path / "data")
    folders = {b"caf\xe9": 0.5, b"plain": 1.0}  # class folder -> seconds of each file
    try:
        for folder, seconds in folders.items():
            os.makedirs(os.path.join(root, folder))
            for name in (b"voix_\xe0_nohash_0.wav", b"ok_nohash_0.wav"):
                x = 0.1 * np.sin(np.arange(int(RATE * seconds)) * 0.3)
                soundfile.write(os.path.join(root, folder, name), x, RATE)
        with open(os.path.join(root, b"plain", b"notes_\xff.txt"), "w") as file:
            file.write("not audio")
    except (OSError, UnicodeError):
        pytest.skip("this file system stores only UTF-8 names")
    # The generator reads them (the reference for what info must handle).
    generator = ParallelAudioDataGenerator(cores=0, trim_threshold_db=None)
    iterator = generator.flow_from_directory(
        os.fsdecode(root), classes=[os.fsdecode(f) for f in folders], batch_size=4
    )
    assert iterator.samples == 4 and iterator.batch(0)[0].shape[0] == 4
    # info, run as a user runs it, on a terminal that takes UTF-8 only.
    result = subprocess.run(
        [sys.executable, "-m", "parallel_audio", "info", root],
        capture_output=True,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
        timeout=120,
        check=False,
    )
    out = result.stdout.decode("utf-8")
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    assert "Every audio file can be read." in out
    assert re.search(r"^  caf\\xe9\s+2\s+2\s+1\.0\s+0$", out, re.MULTILINE), out
    assert re.search(r"^  plain\s+2\s+2\s+2\.0\s+0$", out, re.MULTILINE), out
    assert "Duration (s) of the 4 readable files" in out
    assert "notes_\\xff.txt" in out  # the ignored file, shown escaped


def test_info_on_a_missing_directory_says_so(capsys, tmp_path):
    code, _, err = run_cli(capsys, "info", tmp_path / "nowhere")
    assert code == 2 and "does not exist" in err


# ----------------------------------------------------------------------------- preview


def test_preview_writes_the_grid_and_the_audio(tmp_path, capsys, dataset):
    out = tmp_path / "preview"
    classes = ["low", "high", "_unknown_", "_silence_"]
    code, stdout, _ = run_cli(
        capsys,
        "preview",
        dataset,
        "--classes",
        *classes,
        "--n",
        "3",
        "--out",
        out,
        "--loudness-range",
        "0.25",
        "0.75",
        "--offset-range",
        "0",
        "0",
    )
    assert code == 0 and "preview.png" in stdout
    # One panel of 160 x 120 pixels per version, 90 pixels of row names, 50 of titles.
    assert read_png_size(out / "preview.png") == (90 + 160 * 4, 50 + 120 * len(classes))
    gains = []
    for name in classes:
        original, rate = soundfile.read(out / name / "original.wav")
        assert rate == RATE and original.shape == (RATE,)
        for k in range(1, 4):
            augmented, rate = soundfile.read(out / name / f"augmented_{k}.wav")
            assert rate == RATE and augmented.shape == (RATE,)
            if name == "_silence_":  # no noise configured: silence stays silent
                assert not augmented.any() and not original.any()
                continue
            # With the offset fixed, the only change is the drawn loudness.
            gain = float(augmented @ original / (original @ original))
            assert 0.25 <= gain <= 0.75
            np.testing.assert_allclose(augmented, gain * original, atol=3 / 32768)
            gains.append(gain)
    assert len(set(np.round(gains, 4))) == len(gains)  # every version draws its own


def test_preview_needs_classes(capsys, dataset, tmp_path):
    code, _, err = run_cli(capsys, "preview", dataset, "--out", tmp_path)
    assert code == 2 and "--classes" in err


# ----------------------------------------------------------------------------- augment


def test_augment_writes_copies_in_the_same_folders(tmp_path, capsys, dataset):
    sources = sorted(
        p.relative_to(dataset).as_posix()
        for p in dataset.rglob("*")
        if p.is_file() and not p.relative_to(dataset).as_posix().startswith("_")
    )
    options = ["--per-file", "2", "--seed", "3"]
    options += ["--fe.sample-rate-hz", "8000", "--fe.filterbank-upper-band-limit", "3800"]
    options += ["--loudness-range", "0.5", "1.5", "--bg-noise-dir", "_background_noise_"]
    options += ["--bg-noise-range", "0.05", "0.1"]
    code, out, err = run_cli(capsys, "augment", dataset, tmp_path / "a", "--cores", "2", *options)
    assert code == 0 and f"wrote {2 * len(sources)} files" in out
    assert "augmenting" in err  # the progress bar
    written = sorted(
        p.relative_to(tmp_path / "a").as_posix() for p in (tmp_path / "a").rglob("*.wav")
    )
    expected = sorted(f"{path.rsplit('.', 1)[0]}_aug{k}.wav" for path in sources for k in (1, 2))
    assert written == expected
    for path in written[:6]:
        info = soundfile.info(tmp_path / "a" / path)
        assert (info.samplerate, info.frames, info.channels) == (8000, 8000, 1)
    first, _ = soundfile.read(tmp_path / "a" / expected[0])
    second, _ = soundfile.read(tmp_path / "a" / expected[1])
    assert not np.array_equal(first, second)

    # The copies depend on the seed alone, not on the number of workers.
    code, _, _ = run_cli(capsys, "augment", dataset, tmp_path / "b", "--cores", "0", *options)
    assert code == 0
    for path in expected:
        assert (tmp_path / "a" / path).read_bytes() == (tmp_path / "b" / path).read_bytes()


def test_copies_of_files_that_differ_by_extension_do_not_collide():
    paths = ["yes/a_nohash_0.wav", "yes/a_nohash_0.flac", "no/b.v2.wav"]
    assert copy_stems(paths) == ["yes/a_nohash_0_wav", "yes/a_nohash_0_flac", "no/b.v2"]


def test_augment_refuses_to_write_inside_its_source(capsys, dataset):
    code, _, err = run_cli(capsys, "augment", dataset, dataset / "copies", "--per-file", "1")
    assert code == 2 and "inside SRC" in err
    assert not (dataset / "copies").exists()


# ----------------------------------------------------------------------------- tune


def test_tune_measures_the_grid_and_recommends(capsys, dataset):
    code, out, _ = run_cli(
        capsys,
        "tune",
        dataset,
        "--classes",
        "low",
        "high",
        "--cores",
        "0",
        "1",
        "--max-batches-pending",
        "1",
        "3",
        "--batches",
        "2",
        "--batch-size",
        "4",
    )
    assert code == 0
    rows = re.findall(r"^\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+[\d.]+\s+(.+)$", out, re.MULTILINE)
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("0", "0", "1"),
        ("0", "0", "3"),
        ("1", "1", "1"),
        ("1", "1", "3"),
    ]
    assert all(int(r[3]) > 0 for r in rows)
    if sys.platform.startswith("linux"):  # worker memory from /proc
        assert all(float(r[4]) > 5 for r in rows[2:])
    assert re.search(
        r"^recommended: cores=[01], max_batches_pending=[13]: \d+ samples/s", out, re.MULTILINE
    )
    assert "MB in flight" in out


def test_recommend_takes_the_cheapest_pair_within_five_percent():
    def m(cores, pending, rate):
        return Measurement(cores, pending, cores, rate, 0.1, [40.0] * cores, 0.5)

    grid = [m(1, 2, 900), m(1, 8, 940), m(2, 2, 1000), m(2, 8, 1004)]
    assert (recommend(grid).cores, recommend(grid).max_batches_pending) == (2, 2)
    grid = [m(1, 2, 700), m(1, 8, 980), m(2, 4, 1000)]
    assert (recommend(grid).cores, recommend(grid).max_batches_pending) == (1, 8)


# ----------------------------------------------------------------------------- demo


def test_synthetic_dataset_is_reproducible_and_kept(tmp_path):
    kwargs = {
        "samples_per_class": 3,
        "keywords": ("yes", "no"),
        "unknown_words": ("on",),
        "unknown_per_word": 2,
        "noise_seconds": 0.5,
        "espeak": False,
        "progress": False,
    }
    counts = write_keyword_dataset(tmp_path / "a", **kwargs)
    assert counts == {"yes": 3, "no": 3, "on": 2, "_background_noise_": 6}
    for folder, count in counts.items():
        files = sorted((tmp_path / "a" / folder).iterdir())
        assert len(files) == count
        for path in files:
            info = soundfile.info(path)
            assert info.samplerate == RATE and info.channels == 1
            if folder != "_background_noise_":
                assert re.fullmatch(r"[0-9a-f]{8}_nohash_\d+\.wav", path.name)
                assert info.frames == RATE
    write_keyword_dataset(tmp_path / "b", **kwargs)
    for path in (tmp_path / "a").rglob("*.wav"):
        assert path.read_bytes() == (tmp_path / "b" / path.relative_to(tmp_path / "a")).read_bytes()
    # A second run with the same arguments keeps the files; another seed rewrites them.
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "a").rglob("*.wav")}
    write_keyword_dataset(tmp_path / "a", **kwargs)
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "a").rglob("*.wav")} == before
    write_keyword_dataset(tmp_path / "a", **{**kwargs, "seed": 1})
    names = {p.name for p in (tmp_path / "a" / "yes").iterdir()}
    assert names.isdisjoint(p.name for p in (tmp_path / "b" / "yes").iterdir())  # new speakers
    assert len(names) == 3
    assert json.loads((tmp_path / "a" / MARKER_FILE).read_text())["seed"] == 1


def test_synthetic_dataset_refuses_a_foreign_folder(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    from parallel_audio.cli.data_settings import CommandLineError

    with pytest.raises(CommandLineError, match="not empty"):
        write_keyword_dataset(tmp_path, samples_per_class=1, progress=False)
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_espeak_voices_speak_when_espeak_ng_is_there(tmp_path, monkeypatch):
    # A stand-in espeak-ng: a 1 kHz tone at 22050 Hz on stdout, its arguments logged.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "calls.txt"
    script = bin_dir / "espeak-ng"
    script.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import io, sys, numpy as np, soundfile
            with open({str(log)!r}, "a") as f:
                f.write(" ".join(sys.argv[1:]) + "\\n")
            t = np.arange(8820) / 22050
            x = np.concatenate([np.zeros(2000), 0.5 * np.sin(2 * np.pi * 1000 * t), np.zeros(2000)])
            buffer = io.BytesIO()
            soundfile.write(buffer, x, 22050, format="WAV")
            sys.stdout.buffer.write(buffer.getvalue())
            """
        )
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    write_keyword_dataset(
        tmp_path / "data",
        samples_per_class=4,
        keywords=("yes",),
        unknown_words=(),
        noise_seconds=0.2,
        progress=False,
    )
    calls = log.read_text().splitlines()
    assert calls and all(
        re.match(r"-v en-us\+[mf]\d -p \d+ -s \d+ --stdout yes$", c) for c in calls
    )
    # Every fourth speaker is an espeak-ng voice: clip 3 of 0..3 is the tone.
    spectra = {}
    for path in (tmp_path / "data" / "yes").iterdir():
        audio, rate = soundfile.read(path)
        spectrum = np.abs(np.fft.rfft(audio))
        spectra[path.name] = np.fft.rfftfreq(audio.size, 1 / rate)[np.argmax(spectrum)]
    tones = [name for name, peak in spectra.items() if abs(peak - 1000) < 5]
    assert len(tones) == len(calls) == 1


def test_quick_demo_trains_and_saves_everything(tmp_path, capsys):
    import keras

    out = tmp_path / "demo"
    code, stdout, _ = run_cli(
        capsys, "demo", "--quick", "--epochs", "1", "--verbose", "2", "--out", out
    )
    assert code == 0
    assert read_png_size(out / "training_curves.png") == (960, 380)
    assert read_png_size(out / "preview.png") == (90 + 160 * 5, 50 + 120 * 8)
    model = keras.models.load_model(out / "model.keras")
    frontend = AudioFeatureGeneratorSettings.from_dict(
        config_from_settings(load_config(out / "data_config.yaml"))
    )
    assert frontend.spectrogram_shape == (49, 40)
    # The file holds every setting of the run: it rebuilds the demo's generator.
    saved = load_config(out / "data_config.yaml")
    assert saved.seed == 0 and len(saved.classes) == 8
    rebuilt = build_generator(saved).get_config()
    assert set(config_from_settings(saved)) - {"classes", "seed", "batch_size"} == set(rebuilt)
    assert rebuilt == {k: v for k, v in config_from_settings(saved).items() if k in rebuilt}
    assert model.predict(np.zeros((2, 49, 40, 1), np.float32), verbose=0).shape == (2, 8)
    rate = re.search(r"training throughput: (\d+) samples/s", stdout)
    accuracy = re.search(r"validation accuracy: ([\d.]+) on (\d+) samples", stdout)
    total = re.search(r"total time: ([\d.]+) s", stdout)
    assert rate and int(rate[1]) > 0
    assert accuracy and 0 <= float(accuracy[1]) <= 1 and int(accuracy[2]) > 0
    assert total and float(total[1]) > 0
    # Keras reports progress: one line per epoch with --verbose 2.
    assert re.search(r"^\d+/\d+ - \d+s - .*val_accuracy: ", stdout, re.MULTILINE)


# ----------------------------------------------------------------------------- console script


def test_the_console_script_runs_and_info_loads_no_keras(dataset):
    beside_python = Path(sys.executable).with_name("parallel-audio")
    script = str(beside_python) if beside_python.exists() else shutil.which("parallel-audio")
    assert script, "the console script is not installed"
    result = subprocess.run(
        [script, "info", str(dataset), "--classes", "low", "high"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "serves:" in result.stdout
    code = (
        "import sys\n"
        "from parallel_audio.cli import main\n"
        f"assert main(['info', {str(dataset)!r}]) == 0\n"
        "heavy = ('keras', 'tensorflow', 'matplotlib')\n"
        "loaded = [m for m in sys.modules if m.split('.')[0] in heavy]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd="/", capture_output=True)
    version = subprocess.run(
        [sys.executable, "-m", "parallel_audio", "--version"],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",  # the installed package, not the source tree
    )
    assert version.stdout.startswith("parallel-audio ")

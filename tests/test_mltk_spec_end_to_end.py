"""An MLTK model specification trains and evaluates end to end, with only its imports changed.

``mltk_spec/keyword_spotting_on_off.py`` is MLTK's keyword_spotting_on_off spec (TensorFlow
imported at its top, no main guard); ``mltk_spec/train_and_evaluate.py`` does what ``mltk
train`` and ``mltk evaluate`` do around it (the dataset mixin's ``flow_from_directory``
keywords, ``fit`` with MLTK's arguments, the shutdown, the evaluation ``for`` loop, the
model-metadata step). They run in a subprocess with ``sys.executable`` on a synthesized
dataset laid out like Google Speech Commands.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

# Minutes of subprocesses, builds or long runs: left out of `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

SPEC_DIR = Path(__file__).parent / "mltk_spec"
RATE = 16000
# Keywords and the words _unknown_ is drawn from, as tones of their own pitch. The spec's
# float pitch_range (0.9, 1.1) shifts every clip up by 10.8 to 13.2 semitones; these stay
# apart and below the 4 kHz band limit after that.
WORDS = {"on": 300.0, "off": 900.0, "up": 1300.0, "down": 150.0}
SPEAKERS = 20
# What MLTK's summary of keyword_spotting_on_off.tflite gives as the model's input.
MLTK_INPUT_SHAPE = [49, 32, 1]


def write_speech_commands(root: Path, rng: np.random.Generator) -> Path:
    """<word>/<speaker>_nohash_<n>.wav, 16 kHz, 1 s, and _background_noise_/*.wav."""
    t = np.arange(RATE) / RATE
    for word, frequency in WORDS.items():
        (root / word).mkdir(parents=True)
        for _ in range(SPEAKERS):
            speaker = f"{rng.integers(2**32):08x}"
            for n in range(2):
                length = rng.uniform(0.3, 0.6)
                start = rng.uniform(0.05, 0.95 - length)
                inside = (t >= start) & (t < start + length)
                envelope = inside * np.sin(np.pi * np.clip((t - start) / length, 0, 1))
                f = frequency * rng.uniform(0.97, 1.03)
                voice = 0.4 * np.sin(2 * np.pi * f * t) + 0.15 * np.sin(4 * np.pi * f * t)
                x = envelope * voice + 0.003 * rng.standard_normal(RATE)
                soundfile.write(
                    root / word / f"{speaker}_nohash_{n}.wav", x.astype(np.float32), RATE
                )
    noise_dir = root / "_background_noise_"
    noise_dir.mkdir()
    soundfile.write(noise_dir / "white_noise.wav", 0.1 * rng.standard_normal(3 * RATE), RATE)
    brown = np.cumsum(rng.standard_normal(3 * RATE))
    brown -= np.convolve(brown, np.ones(400) / 400, "same")
    soundfile.write(noise_dir / "running_tap.wav", 0.1 * brown / brown.std(), RATE)
    return root


def run_spec(dataset: Path, results: Path, *options: str) -> subprocess.CompletedProcess:
    command = [
        sys.executable,
        str(SPEC_DIR / "train_and_evaluate.py"),
        str(SPEC_DIR / "keyword_spotting_on_off.py"),
        str(results),
        "8",  # epochs; the spec says 80
        *options,
    ]
    environment = {**os.environ, "SPEECH_COMMANDS_DIR": str(dataset), "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run(
        command, env=environment, cwd=results.parent, capture_output=True, text=True, timeout=600
    )


def process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def check_results(dataset: Path, run: subprocess.CompletedProcess, results_path: Path) -> dict:
    assert run.returncode == 0, run.stderr[-4000:]
    # target_size, which the mixin always passes, is ignored without a word.
    assert "flow_from_directory ignores" not in run.stderr
    results = json.loads(results_path.read_text())

    # The settings went into the model parameters as MLTK stores them, and come back.
    parameters = results["model_parameters"]
    assert {k: v for k, v in parameters.items() if k.startswith("fe.")} == results[
        "frontend_settings"
    ]
    assert parameters["fe.sample_rate_hz"] == 8000 and parameters["fe.fft_length"] == 256
    assert parameters["samplewise_norm.rescale"] == 0.0
    assert parameters["samplewise_norm.mean_and_std"] is False
    assert parameters["detection_threshold"] == 160
    assert results["rebuilt_spectrogram_shape"] + [1] == results["input_shape"] == MLTK_INPUT_SHAPE
    assert results["sample_shape"] == MLTK_INPUT_SHAPE and results["dtype"] == "int8"

    # The Speech Commands listing function split each keyword's files between the subsets
    # (it wrote its index into the dataset, as MLTK's does; that folder is no class).
    counts = results["class_counts"]
    for word in ("on", "off"):
        assert counts["training"][word] + counts["validation"][word] == 2 * SPEAKERS
        assert (dataset / ".index" / f"{word}.txt").is_file()
    assert set(counts["training"]) == {"on", "off", "_unknown_", "_silence_"}
    assert all(count > 0 for count in counts["validation"].values())

    # fit with MLTK's arguments (class weights, shuffle, validation data) learned the words:
    # far above the 0.47 of always answering _unknown_, the largest validation class.
    history = results["history"]
    assert len(history["accuracy"]) == 8
    assert history["val_accuracy"][-1] >= 0.7, history

    # MLTK's evaluation loop ended after one epoch, unaugmented, in the index's order.
    evaluation = results["evaluation"]
    assert len(evaluation["labels"]) == len(evaluation["predictions"]) == evaluation["samples"]
    assert evaluation["labels"] == evaluation["index_labels"]
    assert evaluation["samples"] == sum(counts["validation"].values())
    assert evaluation["augmented"] is False

    # Shutdown stopped every iterator, and their workers are gone.
    for name, iterator in results["iterators"].items():
        assert iterator["running"] is False, name
        assert not any(process_exists(pid) for pid in iterator["workers"]), name
    return results


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_speech_commands(
        tmp_path_factory.mktemp("speech_commands"), np.random.default_rng(7)
    )


def test_the_spec_trains_and_evaluates_with_threads(dataset, tmp_path):
    # datagen.debug = True, as MLTK's test mode sets it: the pool computes in threads.
    results_path = tmp_path / "results.json"
    run = run_spec(dataset, results_path, "--debug")
    check_results(dataset, run, results_path)


def test_the_spec_trains_and_evaluates_with_worker_processes(dataset, tmp_path):
    # The spec's own cores=0.45: worker processes, started from a script without a main guard.
    results_path = tmp_path / "results.json"
    run = run_spec(dataset, results_path)
    results = check_results(dataset, run, results_path)
    assert all(results["iterators"][name]["workers"] for name in results["iterators"])

"""How workers start: when the fork server starts, what it imports, what a worker still makes.

Each test that starts a fork server does it in a fresh interpreter (``sys.executable``): in
the test process one may run already, started by an earlier test.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from support import write_dataset

from parallel_audio.augment.colored_noise import NOISE_BUFFER_SECONDS, ColoredNoise, noise_buffer
from parallel_audio.validation import NOISE_COLORS
from parallel_audio.worker_start import FORK_SERVER_PRELOAD

RATE = 16000


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("start_dataset")
    return write_dataset(root, np.random.default_rng(11), speakers=2, per_speaker=2)


def run_python(code: str, *args: str) -> dict:
    """Run ``code`` in a fresh interpreter; the JSON it prints last."""
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


# --- When the fork server starts -----------------------------------------------------------

#: A script that records whether the fork server runs when the dataset is first listed, and
#: which processes it has as children once it has read a batch.
WHEN_STARTED = """
import json, os, sys
from pathlib import Path

from parallel_audio import ParallelAudioDataGenerator
from parallel_audio.worker_start import fork_server_pid

dataset = sys.argv[1]
seen = {}
listing = os.scandir


def scandir(path="."):
    # The first listing of a folder of the dataset: is the fork server running by then?
    if str(path).startswith(dataset):
        seen.setdefault("server_at_listing", fork_server_pid())
    return listing(path)


os.scandir = scandir


def children():
    return sorted(
        int(pid)
        for task in Path(f"/proc/{os.getpid()}/task").iterdir()
        for pid in (task / "children").read_text().split()
    )


settings = json.loads(sys.argv[2])
generator = ParallelAudioDataGenerator(speed_range=(0.9, 1.1), noise_colors="all",
                                       noise_color_range=(0.01, 0.02), **settings)
seen["after_constructor"] = [fork_server_pid(), children()]
with generator.flow_from_directory(dataset, classes=["low", "high"], batch_size=4, seed=1) as it:
    it.batch(0)
    seen["workers"] = list(it.worker_pids)
    seen["while_open"] = [fork_server_pid(), children()]
print(json.dumps(seen))
"""


@pytest.mark.parametrize("settings", [{"cores": 0}, {"cores": 2, "debug": True}])
def test_no_process_is_started_without_workers(dataset, settings):
    seen = run_python(WHEN_STARTED, str(dataset), json.dumps(settings))
    assert seen["server_at_listing"] is None
    assert seen["after_constructor"] == [None, []]
    assert seen["while_open"] == [None, []]
    assert seen["workers"] == []


def test_the_fork_server_starts_before_the_dataset_is_listed(dataset):
    seen = run_python(WHEN_STARTED, str(dataset), json.dumps({"cores": 2}))
    assert seen["after_constructor"] == [None, []]  # a generator is configuration only
    server, children = seen["while_open"]
    assert seen["server_at_listing"] == server is not None
    # The workers are the fork server's children, not ours (our other child, if any, is
    # multiprocessing's resource tracker).
    assert server in children and len(children) <= 2
    assert len(seen["workers"]) == 2 and not set(seen["workers"]) & set(children)


# --- What the fork server imports ----------------------------------------------------------


def test_the_fork_server_imports_what_workers_need_and_nothing_of_the_training_side():
    preload = ", ".join(FORK_SERVER_PRELOAD)
    loaded = run_python(f"import json, sys, {preload}; print(json.dumps(sorted(sys.modules)))")
    # What a worker unpickles and runs (its loop, the batch and window computations, the
    # configuration and runtime they hold), and the vocoder's FFTs.
    for needed in (
        "parallel_audio.pool.worker_loop",
        "parallel_audio.pipeline",
        "parallel_audio.window_pipeline",
        "parallel_audio.generator",
        "parallel_audio.sample_runtime",
        "scipy.fft",
        "cloudpickle",
    ):
        assert needed in loaded, needed
    training_side = {
        "parallel_audio.iterator",
        "parallel_audio.cross_validation",
        "parallel_audio.pool.scheduler",
        "parallel_audio.pool.process_backend",
        "parallel_audio.cli",
    }
    assert not set(loaded) & training_side, sorted(set(loaded) & training_side)
    libraries = {name.partition(".")[0] for name in loaded}
    assert not libraries & {"keras", "tensorflow", "pandas", "torch", "jax", "ray"}


# --- What a worker no longer makes ---------------------------------------------------------


def test_colored_noise_travels_with_its_buffers_and_crops_as_the_buffers_made_here():
    noise = ColoredNoise(["pink", "violet"], (0.1, 0.2), sample_rate=RATE)
    received = pickle.loads(pickle.dumps(noise))
    size = NOISE_BUFFER_SECONDS * RATE
    assert sorted(received._received) == ["pink", "violet"]  # the drawable colors only
    for color in ("pink", "violet"):
        np.testing.assert_array_equal(received._received[color], noise_buffer(color, size))
        assert not received._received[color].flags.writeable
        for position in (0.0, 0.37, 0.9999):  # the last one wraps around the buffer's end
            np.testing.assert_array_equal(
                received.crop(color, RATE, position), noise.crop(color, RATE, position)
            )
    # A color outside the drawable ones, and a crop longer than the buffer, are made.
    np.testing.assert_array_equal(received.crop("brown", RATE, 0.5), noise.crop("brown", RATE, 0.5))
    long = received.crop("pink", size + 10, 0.0)
    np.testing.assert_array_equal(long, noise_buffer("pink", size + 10)[: size + 10])
    # Off (no level range): nothing to send.
    assert pickle.loads(pickle.dumps(ColoredNoise(["pink"], None)))._received == {}


def test_a_process_that_receives_colored_noise_makes_none():
    noise = ColoredNoise(list(NOISE_COLORS), (0.1, 0.2), sample_rate=RATE)
    expected = {color: noise.crop(color, 4000, 0.25).tolist()[:50] for color in NOISE_COLORS}
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                """
                import json, pickle, sys
                noise = pickle.loads(sys.stdin.buffer.read())
                crops = {c: noise.crop(c, 4000, 0.25).tolist()[:50] for c in noise.sources}
                print(json.dumps({"crops": crops, "made": "colorednoise" in sys.modules}))
                """
            ),
        ],
        input=pickle.dumps(noise),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    found = json.loads(done.stdout.decode().splitlines()[-1])
    assert found["made"] is False  # colorednoise, which makes the buffers, was never imported
    assert found["crops"] == expected

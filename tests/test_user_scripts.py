"""Training code as users write it starts workers: scripts, standard input, notebooks.

Each test runs real code in a fresh interpreter (``sys.executable``), code that imports
TensorFlow at its top as training scripts do, and checks what the issue of re-run main
modules broke: the code runs once (in the parent: each run appends a line to runs.txt),
the workers compute the same batches as ``cores=0``, bit for bit, with callbacks defined
in the script, a lambda, a closure or a notebook cell, and no TensorFlow library is mapped
into a worker (its /proc/<pid>/maps, copied while it runs), while it is in the parent.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from support import assert_gone, session_processes, wait_until, write_dataset

from parallel_audio.worker_start import FORK_SERVER_PRELOAD

# Minutes of subprocesses, builds or long runs: left out of `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

#: Seconds one script may take; importing TensorFlow alone takes 5-15 s on a busy machine.
SCRIPT_TIMEOUT = 240

# The code of a training script, in notebook cells ("# %%"). The first cell is what every
# variant shares: TensorFlow imported first, a record of each run, and the batches of two
# epochs with workers and in the caller's thread, saved for the test to compare.
HEAD = """\
import tensorflow as tf  # a training script imports TensorFlow first
import json
import os
import sys
from pathlib import Path

import numpy as np

from parallel_audio import ParallelAudioDataGenerator, SettingsError, WorkerError

with open("runs.txt", "a") as runs:  # one line for every run of this code
    runs.write(f"{{os.getpid()}}\\n")

DATASET = {dataset!r}
AUGMENTATION = dict(
    speed_range=(0.9, 1.1),
    noise_colors="all",
    noise_color_range=(0.05, 0.1),
    bg_noise_dir="_background_noise_",
    bg_noise_range=(0.1, 0.2),
)


def flow(cores, **callbacks):
    generator = ParallelAudioDataGenerator(cores=cores, **AUGMENTATION, **callbacks)
    return generator.flow_from_directory(
        DATASET, classes=["low", "high"], batch_size=4, seed=5
    )


def batches(cores, **callbacks):
    with flow(cores, **callbacks) as iterator:
        found = [iterator.batch(i, epoch=e) for e in range(2) for i in range(len(iterator))]
        for pid in iterator.worker_pids:
            Path(f"maps-{{pid}}.txt").write_text(Path(f"/proc/{{pid}}/maps").read_text())
    return [array for batch in found for array in batch]


def save(**callbacks):
    np.savez("workers.npz", *batches(2, **callbacks))
    np.savez("caller.npz", *batches(0, **callbacks))
    Path("maps-parent.txt").write_text(Path(f"/proc/{{os.getpid()}}/maps").read_text())
"""

GUARDED = """
# %%
class BadClip(Exception):
    \"\"\"The script's own exception, raised in a worker.\"\"\"


def louder(params, x):
    return 1.5 * x


def shifted(params, x):
    return x + 1000.0


def refuse_high(params, x, filename):
    if filename.startswith("high"):
        raise BadClip(filename)
    return x


def report(batch_index, filenames, classes, params):
    \"\"\"What the worker has imported, and whether its main module is this script.\"\"\"
    main = sys.modules["__main__"]
    found = {
        "modules": sorted(sys.modules),
        "main_file": getattr(main, "__file__", None),
        "main_is_script": hasattr(main, "report"),
    }
    return batch_index, (np.zeros(len(filenames)), found)


if __name__ == "__main__":
    save(preprocessing_function=louder, postprocessing_function=shifted)
    with flow(2, preprocessing_function=refuse_high) as iterator:
        try:
            for i in range(len(iterator)):
                iterator.batch(i)
        except WorkerError as error:
            raised = {"cause_is_bad_clip": type(error.__cause__) is BadClip, "text": str(error)}
    Path("error.json").write_text(json.dumps(raised))
    with flow(2, get_batch_function=report) as iterator:
        reports = [iterator.batch(i)[1] for i in range(len(iterator))]
    Path("worker_modules.json").write_text(json.dumps(reports))
"""

UNGUARDED = """
# %%
def offset_by(amount):
    def offset(params, x):
        return x + amount

    return offset


save(preprocessing_function=lambda params, x: 0.5 * x, postprocessing_function=offset_by(1000.0))
"""

NOTEBOOK = """
# %%
from parallel_audio.pipeline import get_batches_of_transformed_samples


def pipeline_plus_thousand(batch_index, filenames, classes, params):
    \"\"\"The pipeline's own batch, shifted: a get_batch_function defined in a cell.\"\"\"
    index, (x, y) = get_batches_of_transformed_samples(batch_index, filenames, classes, params)
    return index, (x + 1000.0, y)

# %%
save(get_batch_function=pipeline_plus_thousand, postprocessing_function=lambda params, x: 2 * x)
"""

UNPICKLABLE = """
# %%
import functools
import multiprocessing
import threading

import keras


def guarded_by(lock):
    def call_under_lock(params, x):
        with lock:
            return x

    return call_under_lock


class Denoiser:
    def __init__(self, model):
        self.model = model

    def __call__(self, params, x):
        return x


def log_to(params, x, *, log):
    log.write(".")
    return x


model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
cases = {
    "lock": {"preprocessing_function": guarded_by(threading.Lock())},
    "model": {"postprocessing_function": Denoiser(model)},
    "file": {"noaug_preprocessing_function": functools.partial(log_to, log=open("log.txt", "w"))},
}
found = {}
for case, callbacks in cases.items():
    try:
        flow(2, **callbacks)
    except SettingsError as error:
        found[case] = {"text": str(error), "children": len(multiprocessing.active_children())}
Path("errors.json").write_text(json.dumps(found))
"""

#: Runs the cells of a file in a ``__main__`` without ``__file__``, as a notebook does.
CELL_RUNNER = """\
import sys
namespace = sys.modules["__main__"].__dict__
for cell in open(sys.argv[1]).read().split("# %%"):
    exec(compile(cell, "<cell>", "exec"), namespace)
"""


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("scripts_dataset")
    return write_dataset(root, np.random.default_rng(11), speakers=2, per_speaker=3)


@pytest.fixture(autouse=True)
def _quiet_tensorflow(monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")


def source(dataset, *parts: str) -> str:
    return HEAD.format(dataset=str(dataset)) + "".join(textwrap.dedent(p) for p in parts)


def run(tmp_path, argv, *, stdin: str | None = None) -> subprocess.CompletedProcess:
    """Run ``argv`` in ``tmp_path`` in a session of its own; fail on its error or timeout."""
    process = subprocess.Popen(
        argv,
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        start_new_session=True,  # every process it leaves behind is findable
    )
    try:
        stdout, stderr = process.communicate(stdin, timeout=SCRIPT_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        raise
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr  # no worker failed quietly on the side
    assert wait_until(lambda: not session_processes(process.pid), 5)
    assert wait_until(lambda: not result_slots_of(process.pid), 5), result_slots_of(process.pid)
    return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)


def result_slots_of(pid: int) -> list[str]:
    """The shared-memory result slots a parent process made and left behind."""
    return sorted(p.name for p in Path("/dev/shm").glob(f"parallel_audio-{pid}-*"))


def tensorflow_libraries(maps: str) -> list[str]:
    """TensorFlow's shared libraries in a /proc/<pid>/maps listing."""
    return sorted(set(re.findall(r"\S*tensorflow\S*\.so[.\d]*", maps)))


def check_batches_and_workers(tmp_path) -> np.ndarray:
    """Check what every variant must hold; return the workers' first spectrogram batch."""
    runs = (tmp_path / "runs.txt").read_text().split()
    assert len(runs) == 1, f"the code ran {len(runs)} times: {runs}"
    parent = int(runs[0])
    parent_libraries = tensorflow_libraries((tmp_path / "maps-parent.txt").read_text())
    assert parent_libraries, "the parent has TensorFlow loaded: the check must see it"
    worker_maps = {int(p.stem[5:]): p.read_text() for p in tmp_path.glob("maps-[0-9]*.txt")}
    assert len(worker_maps) == 2 and parent not in worker_maps
    for pid, maps in worker_maps.items():
        assert "parallel_audio" in maps  # the listing is the worker's own, read while it ran
        assert tensorflow_libraries(maps) == [], f"worker {pid} has TensorFlow mapped"
    assert_gone(worker_maps)
    with np.load(tmp_path / "workers.npz") as workers, np.load(tmp_path / "caller.npz") as caller:
        # 12 files in batches of 4, 2 epochs, (x, y) each
        assert workers.files == caller.files and len(caller.files) == 3 * 2 * 2
        for key in caller.files:
            assert workers[key].dtype == caller[key].dtype
            np.testing.assert_array_equal(workers[key], caller[key])
        return workers["arr_0"]


# --- The variants --------------------------------------------------------------------------


@pytest.mark.parametrize("started_as", ["path", "module"])
def test_a_guarded_script_importing_tensorflow_runs_once_and_its_workers_have_none(
    dataset, tmp_path, started_as
):
    (tmp_path / "train.py").write_text(source(dataset, GUARDED))
    target = ["train.py"] if started_as == "path" else ["-m", "train"]
    run(tmp_path, [sys.executable, *target])
    x = check_batches_and_workers(tmp_path)
    assert x.min() >= 1000.0  # shifted() ran, in the workers as in the caller's thread

    # An exception class of the script, raised in a worker, reaches the parent as itself.
    raised = json.loads((tmp_path / "error.json").read_text())
    assert raised["cause_is_bad_clip"], raised["text"]
    assert re.search(r"BadClip: high/spk\d\d_nohash_\d", raised["text"])

    # A worker imports nothing itself: besides the standard library, it has what its fork
    # server imported before forking it (what a fresh interpreter loads importing
    # FORK_SERVER_PRELOAD), module for module; nothing of the script, nothing imported per
    # worker. (__mp_main__ is multiprocessing's alias of __main__.)
    fresh = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys, {', '.join(FORK_SERVER_PRELOAD)}; print(*sys.modules)",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    allowed = set(fresh.stdout.split())
    reports = json.loads((tmp_path / "worker_modules.json").read_text())
    assert reports
    for report in reports:
        assert report["main_file"] is None and not report["main_is_script"]
        imported = set(report["modules"])
        assert not {name.partition(".")[0] for name in imported} & {"tensorflow", "keras"}
        outside_stdlib = {m for m in imported if m.partition(".")[0] not in sys.stdlib_module_names}
        beyond = outside_stdlib - allowed - {"__mp_main__"}
        assert beyond == set(), beyond


def test_an_unguarded_script_with_a_lambda_and_a_closure(dataset, tmp_path):
    (tmp_path / "train.py").write_text(source(dataset, UNGUARDED))
    run(tmp_path, [sys.executable, "train.py"])
    x = check_batches_and_workers(tmp_path)
    assert x.min() >= 1000.0  # the closure's offset


def test_a_script_fed_on_standard_input(dataset, tmp_path):
    run(tmp_path, [sys.executable, "-"], stdin=source(dataset, UNGUARDED))
    x = check_batches_and_workers(tmp_path)
    assert x.min() >= 1000.0


def test_cells_executed_as_a_notebook_does_with_a_batch_function_of_a_cell(dataset, tmp_path):
    (tmp_path / "cells.py").write_text(source(dataset, NOTEBOOK))
    run(tmp_path, [sys.executable, "-c", CELL_RUNNER, "cells.py"])
    x = check_batches_and_workers(tmp_path)
    assert x.min() >= 1000.0  # the cell's batch function, then the lambda, ran


def test_a_real_notebook_executed_by_a_jupyter_kernel(dataset, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    cells = source(dataset, NOTEBOOK).split("# %%")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    client = nbclient.NotebookClient(
        notebook,
        timeout=SCRIPT_TIMEOUT,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, with the cell's traceback, if one fails
    x = check_batches_and_workers(tmp_path)
    assert x.min() >= 1000.0
    kernel = int((tmp_path / "runs.txt").read_text())
    assert wait_until(lambda: not result_slots_of(kernel), 5), result_slots_of(kernel)


def test_an_unpicklable_callback_fails_at_flow_from_directory_naming_it_and_the_object(
    dataset, tmp_path
):
    (tmp_path / "train.py").write_text(source(dataset, UNPICKLABLE))
    run(tmp_path, [sys.executable, "train.py"])
    found = json.loads((tmp_path / "errors.json").read_text())
    assert set(found) == {"lock", "model", "file"}
    assert all(case["children"] == 0 for case in found.values())  # no worker was started
    lock, model, file = found["lock"]["text"], found["model"]["text"], found["file"]["text"]
    assert lock.startswith("preprocessing_function (guarded_by.<locals>.call_under_lock)")
    assert "closure variable 'lock' is a _thread.lock, which cannot be pickled" in lock
    assert model.startswith("postprocessing_function (a __main__.Denoiser)")
    assert re.search(r"attribute 'model' is a keras\.\S*Sequential, and worker processes", model)
    assert file.startswith("noaug_preprocessing_function")
    assert "keyword argument 'log' is a _io.TextIOWrapper (the file 'log.txt')" in file
    for text in (lock, model, file):
        assert "debug=True" in text and "cores=0" in text  # the ways out

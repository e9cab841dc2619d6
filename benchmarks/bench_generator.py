"""Measure the generator: samples per second against cores, the pool's overhead, fit's wait.

On a synthesized keyword dataset (1 s clips of tone sweeps and noise bursts at 16 kHz, with
silence around them) this measures, in one run:

- samples per second for cores = 0 (the caller's thread), 1 .. N, with and without the
  random transforms, and the speed-up of each count over one worker;
- the overhead of the pool, as a fraction of the pipeline's own time: within one run, the
  consumer's wall time per batch with one worker against the time the pipeline took inside
  that worker for the same batches (so that both see the same load from other processes);
  between runs, one worker against the pipeline in the caller's thread; and the fixed cost
  of moving one batch from a worker to the consumer (wall and CPU time), measured with a
  batch function that hands back a ready-made batch;
- the resident memory of each worker process;
- the time from creating the iterator to its first batch, and the share of ``model.fit``
  spent waiting for data with a small keyword-spotting CNN;
- start-up as a training script sees it: each variant a fresh interpreter running a script
  that imports TensorFlow at its top (guarded by ``if __name__ == "__main__":`` or not),
  and the guarded one with multiprocessing's own forkserver start-up, which re-runs the
  script in every worker: time from ``flow_from_directory`` to the first batch with 2
  workers, with the fork server still to start (the first iterator of the process) and
  already running (the next), and each worker's resident memory.

With ``--long-files`` it measures instead, side by side, what a two-hour recording in a class
folder costs against a 1 s clip, every augmentation on: milliseconds per sample in the
caller's thread, and the peak resident memory of a worker.

Every configuration runs ``--rounds`` times, the configurations interleaved, and the tables
give medians, so that a burst of load from other processes on the machine hits all of them
alike. Each run times ``--batches`` batches after a warm-up of ``max_batches_pending``
batches (the pool's start, and the batches it computed ahead while the first one was
awaited, are not timed). CPU time comes from /proc (Linux).

Results go to benchmarks/RESULTS.md.

Usage: python benchmarks/bench_generator.py [--clips-per-class N] [--batches N] [--rounds N]
       [--startup-rounds N] [--startup-only]
       python benchmarks/bench_generator.py --long-files [--rounds N]
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import parallel_audio  # noqa: E402
from parallel_audio import ParallelAudioDataGenerator  # noqa: E402
from parallel_audio.pipeline import get_batches_of_transformed_samples  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from results import write_section  # noqa: E402

RATE = 16000
CLASSES = ["yes", "no", "up", "down", "left", "right"]
BATCH_SIZE = 32
MAX_PENDING = 8
DEFAULTS = {"clips_per_class": 80, "batches": 30, "rounds": 5, "startup_rounds": 3}


def write_keyword_dataset(root: Path, clips_per_class: int) -> Path:
    """Each class a tone sweep in its own band, with noise, placed at random in silence."""
    rng = np.random.default_rng(0)
    for k, name in enumerate(CLASSES):
        folder = root / name
        folder.mkdir(parents=True)
        for n in range(clips_per_class):
            length = int(RATE * rng.uniform(0.8, 1.0))
            start = int(rng.integers(0, RATE // 5))
            size = int(rng.integers(RATE // 4, RATE // 2))
            t = np.arange(size) / RATE
            low = 300 + 500 * k
            sweep = np.sin(2 * np.pi * (low * t + 400 * t**2)) * np.hanning(size)
            clip = 0.002 * rng.standard_normal(length)
            clip[start : start + size] += 0.5 * sweep[: max(0, min(size, length - start))]
            soundfile.write(folder / f"s{n % 20:02d}_nohash_{n}.wav", clip.astype(np.float32), RATE)
    noise_folder = root / "_background_noise_"
    noise_folder.mkdir()
    for n in range(2):
        noise = (0.05 * rng.standard_normal(20 * RATE)).astype(np.float32)
        soundfile.write(noise_folder / f"noise{n}.wav", noise, RATE)
    return root


def worker_rss_mb(pids: list[int]) -> list[float]:
    sizes = []
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        except OSError:
            pass
    return sizes


def cpu_seconds(pids: list[int]) -> float:
    """CPU time of every thread of these processes so far, in seconds (nanosecond counts)."""
    total = 0
    for pid in pids:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, IndexError, ValueError):
                pass  # a thread that ended meanwhile
    return total / 1e9


_READY_MADE: dict = {}


def ready_made_batch(batch_index, filenames, classes, params):
    """A batch of the pipeline's shape and dtype that costs nothing to compute."""
    shape = (len(filenames), *params.sample_shape)
    if shape not in _READY_MADE:
        x = np.random.default_rng(0).standard_normal(shape).astype(params.dtype)
        y = np.eye(len(params.class_indices), dtype=params.dtype)[np.asarray(classes)]
        _READY_MADE[shape] = (x, y)
    return batch_index, _READY_MADE[shape]


def timed_pipeline_batch(batch_index, filenames, classes, params):
    """The pipeline's batch, with the seconds it took to compute as a third element."""
    start = time.perf_counter()
    _, (x, y) = get_batches_of_transformed_samples(batch_index, filenames, classes, params)
    return batch_index, (x, y, np.array([time.perf_counter() - start]))


#: Every augmentation: speed, pitch and VTLP, loudness, and colored or background noise.
FULL_AUGMENTATION = {
    "offset_range": (0.0, 1.0),
    "loudness_range": (0.5, 1.5),
    "speed_range": (0.9, 1.1),
    "pitch_range": (-2, 2),
    "vtlp_range": (0.9, 1.1),
    "noise_colors": "all",
    "noise_color_range": (0.01, 0.05),
    "bg_noise_dir": "_background_noise_",
    "bg_noise_range": (0.1, 0.5),
}


def generator(cores, augment: bool, **kwargs) -> ParallelAudioDataGenerator:
    extra = FULL_AUGMENTATION if augment else {"disable_random_transforms": True}
    return ParallelAudioDataGenerator(
        cores=cores, max_batches_pending=MAX_PENDING, **extra, **kwargs
    )


def timed_run(data: Path, cores, augment: bool, batches: int, **kwargs) -> dict:
    """Time ``batches`` batches after a warm-up; wall and CPU time per batch, first batch."""
    gen = generator(cores, augment, **kwargs)
    created = time.perf_counter()
    with gen.flow_from_directory(data, classes=CLASSES, batch_size=BATCH_SIZE, seed=0) as it:
        it.batch(0)
        first = time.perf_counter() - created
        for k in range(1, MAX_PENDING + 1):
            it.batch(k % len(it), epoch=k // len(it))
        pids = it.worker_pids
        cpu_start = time.process_time() + cpu_seconds(pids)
        start = time.perf_counter()
        count, computing = 0, 0.0
        for k in range(MAX_PENDING + 1, MAX_PENDING + 1 + batches):
            x, *rest = it.batch(k % len(it), epoch=k // len(it))
            count += len(x)
            if len(rest) == 2:  # timed_pipeline_batch: the pipeline's own time
                computing += float(rest[1][0])
        elapsed = time.perf_counter() - start
        cpu = time.process_time() + cpu_seconds(pids) - cpu_start
        rss = worker_rss_mb(pids)
        batch_bytes = x.nbytes
    return {
        "rate": count / elapsed,
        "wall": elapsed / batches,
        "computing": computing / batches,
        "cpu": cpu / batches,
        "first": first,
        "rss": rss,
        "batch_bytes": batch_bytes,
    }


def fit_wait_share(data: Path, cores) -> tuple[float, float]:
    """Fraction of model.fit's time spent inside the iterator, and fit's wall time."""
    import keras

    gen = generator(cores, augment=True)
    with gen.flow_from_directory(data, classes=CLASSES, batch_size=BATCH_SIZE, seed=0) as it:
        waited = 0.0
        original = type(it).__getitem__

        def timed(self, index):
            nonlocal waited
            start = time.perf_counter()
            try:
                return original(self, index)
            finally:
                waited += time.perf_counter() - start

        it.__class__ = type("TimedIterator", (type(it),), {"__getitem__": timed})
        model = keras.Sequential(
            [
                keras.Input(it.process_params.sample_shape),
                keras.layers.Conv2D(16, 3, activation="relu"),
                keras.layers.MaxPooling2D(2),
                keras.layers.Conv2D(32, 3, activation="relu"),
                keras.layers.GlobalAveragePooling2D(),
                keras.layers.Dense(len(CLASSES), activation="softmax"),
            ]
        )
        model.compile("adam", "categorical_crossentropy")
        start = time.perf_counter()
        model.fit(it, epochs=2, verbose=0)
        total = time.perf_counter() - start
    return waited / total, total


def median(runs: list[dict], key: str) -> float:
    return statistics.median(run[key] for run in runs)


# --- Start-up, from a training script ------------------------------------------------------

#: A training script: TensorFlow imported first, then iterators with 2 workers. {plain}
#: swaps in multiprocessing's forkserver start-up (which re-runs the script in each worker),
#: and {call} runs main() under the guard or without.
STARTUP_SCRIPT = """\
import tensorflow as tf  # noqa: F401
import json
import os
import sys
import time
from pathlib import Path

from parallel_audio import ParallelAudioDataGenerator

AUGMENTATION = {augmentation!r}


def rss_mb(pid):
    for line in Path(f"/proc/{{pid}}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024


def stat_fields(pid):
    return Path(f"/proc/{{pid}}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid):
    fields = stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main():
    if {plain}:
        import multiprocessing

        import parallel_audio.pool.process_backend as pool

        def plain_forkserver():
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["parallel_audio.pipeline"])
            return context

        pool.worker_context = plain_forkserver
    found = {{}}
    for attempt in ("cold", "warm"):
        generator = ParallelAudioDataGenerator(cores={cores}, **AUGMENTATION)
        start = time.perf_counter()
        with generator.flow_from_directory(
            sys.argv[1], classes={classes!r}, batch_size={batch_size}, seed=0
        ) as iterator:
            iterator.batch(0)
            found[attempt] = time.perf_counter() - start
            if attempt == "cold":  # the fork server: the workers' parent, idle since
                servers = {{int(stat_fields(pid)[1]) for pid in iterator.worker_pids}}
                found["server_cpu"] = [cpu_seconds(server) for server in servers]
            for i in range(1, {max_pending} + 1):
                iterator.batch(i % len(iterator), epoch=i // len(iterator))
            found[attempt + "_rss"] = [rss_mb(pid) for pid in iterator.worker_pids]
    print("RESULT", json.dumps(found), flush=True)


{call}
"""

#: (label, guarded, multiprocessing's own start-up, cores)
STARTUP_VARIANTS = [
    ("guarded", True, False, 2),
    ("no guard", False, False, 2),
    ("guarded; multiprocessing's forkserver start-up (before this version)", True, True, 2),
    ("guarded; cores=0, no workers (the pipeline's own first batch)", True, False, 0),
]


def startup_run(data: Path, folder: Path, variant: tuple) -> dict:
    """Run one start-up script in a fresh interpreter; its first-batch times and RSS."""
    label, guarded, plain, cores = variant
    script = folder / f"train_{STARTUP_VARIANTS.index(variant)}.py"
    script.write_text(
        STARTUP_SCRIPT.format(
            augmentation=FULL_AUGMENTATION,
            plain=plain,
            cores=cores,
            classes=CLASSES,
            batch_size=BATCH_SIZE,
            max_pending=MAX_PENDING,
            call='if __name__ == "__main__":\n    main()' if guarded else "main()",
        )
    )
    done = subprocess.run(
        [sys.executable, str(script), str(data)],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=folder,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{label}: exit code {done.returncode}\n{done.stderr[-3000:]}")
    return json.loads(lines[-1].removeprefix("RESULT "))


def startup_section(data: Path, rounds: int) -> str:
    """Rounds of every start-up variant, interleaved; a table of medians."""
    runs: dict = {variant: [] for variant in STARTUP_VARIANTS}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(rounds):
            for variant in STARTUP_VARIANTS:
                runs[variant].append(startup_run(data, Path(tmp), variant))
    rows = []
    for variant, done in runs.items():
        rss = [size for run in done for size in run["cold_rss"] + run["warm_rss"]]
        rss_text = f"{statistics.median(rss):.0f} ({min(rss):.0f}-{max(rss):.0f})" if rss else "-"
        servers = [cpu for run in done for cpu in run.get("server_cpu", [])]
        server_text = f"{statistics.median(servers):.2f}" if servers else "-"
        rows.append(
            f"| {variant[0]} | {median(done, 'cold'):.2f} | {median(done, 'warm'):.2f} | "
            f"{server_text} | {rss_text} |"
        )
    return "\n".join(
        [
            "| script importing TensorFlow | first iterator: first batch (s) | "
            "second iterator: first batch (s) | fork server's CPU time (s) | "
            "worker RSS, median (range) (MB) |",
            "| --- | ---: | ---: | ---: | ---: |",
            *rows,
        ]
    )


# --- Long files ------------------------------------------------------------------------------

LONG_HOURS = 2
LONG_RATES = (16000, 44100)


def write_long_files(root: Path) -> Path:
    """Class "long": two-hour recordings at 16 and 44.1 kHz; class "short": 1 s clips.

    Both hold the same sound throughout, a keyword-like sweep over noise every second (so
    trimming keeps the whole recording), written in blocks: the long files take about 0.9 GB
    of disk for the run.
    """
    write_keyword_dataset(root / "keywords", 1)  # for its _background_noise_
    os.replace(root / "keywords" / "_background_noise_", root / "_background_noise_")
    rng = np.random.default_rng(1)
    for folder in ("long", "short"):
        (root / folder).mkdir()
    for rate in LONG_RATES:
        t = np.arange(rate) / rate
        second = 0.05 * rng.standard_normal(rate)
        second[: rate // 2] += 0.4 * np.sin(2 * np.pi * (500 * t + 800 * t**2))[: rate // 2]
        block = np.tile(second, 60).astype(np.float32)  # a minute
        path = root / "long" / f"rec{rate}_nohash_0.wav"
        with soundfile.SoundFile(path, "w", rate, 1, "PCM_16") as file:
            for _ in range(60 * LONG_HOURS):
                file.write(block)
        for n in range(4):
            soundfile.write(root / "short" / f"s{rate}_nohash_{n}.wav", second, rate)
    return root


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def long_file_run(data: Path, folder: str, cores: int, batches: int) -> dict:
    """Milliseconds per sample (cores=0) or a worker's peak memory (cores=1) for one folder."""
    gen = generator(cores, augment=True)
    with gen.flow_from_directory(data, classes=[folder], batch_size=4, seed=0) as it:
        it.batch(0)
        start = time.perf_counter()
        count = 0
        for k in range(1, batches + 1):
            count += len(it.batch(k % len(it), epoch=k // len(it))[0])
        elapsed = time.perf_counter() - start
        peaks = [peak_rss_mb(pid) for pid in it.worker_pids]
    return {"ms": 1e3 * elapsed / count, "peak": max(peaks) if peaks else float("nan")}


def long_files_main(rounds: int) -> None:
    """Measure two-hour files against 1 s clips and write the "long-files" section."""
    import keras  # noqa: F401  (imported once, outside the timings)

    load_before = os.getloadavg()
    folders = ("short", "long")
    runs: dict = {(folder, cores): [] for folder in folders for cores in (0, 1)}
    with tempfile.TemporaryDirectory() as tmp:
        data = write_long_files(Path(tmp))
        for _ in range(rounds):
            for folder in folders:
                for cores in (0, 1):
                    runs[folder, cores].append(long_file_run(data, folder, cores, 25))
    load_after = os.getloadavg()
    labels = {
        "short": "1 s clips (16 and 44.1 kHz)",
        "long": f"{LONG_HOURS}-hour recordings (16 and 44.1 kHz)",
    }
    rows = [
        f"| {labels[folder]} | {median(runs[folder, 0], 'ms'):.2f} | "
        f"{median(runs[folder, 1], 'ms'):.2f} | {max(r['peak'] for r in runs[folder, 1]):.0f} |"
        for folder in folders
    ]
    table = "\n".join(
        [
            "| files | ms per sample, caller's thread | ms per sample, 1 worker "
            "| worker peak RSS (MB) |",
            "| --- | ---: | ---: | ---: |",
            *rows,
        ]
    )
    load = (
        f"load average {load_before[0]:.1f} when it started and {load_after[0]:.1f} when it ended"
    )
    print(table)
    print(load)
    command = "python benchmarks/bench_generator.py --long-files" + (
        f" --rounds {rounds}" if rounds != DEFAULTS["rounds"] else ""
    )
    write_section(
        "long-files",
        f"""## Long files

`{command}` on {platform.machine()}, {os.cpu_count()} cores, Python
{platform.python_version()}; {load}.
Every augmentation (offset, loudness, speed, pitch, VTLP, colored or background noise) and
trimming at 20 dB; batches of 4, 25 timed after one untimed, medians of {rounds} interleaved
rounds; the peak is the worker's VmHWM, the largest over the rounds. The recordings hold
sound throughout, so trimming keeps them whole: each sample reads an excerpt of about 2 s
of its file (resampled, checked), trims it and stretches at most what the sample uses.
For comparison, the pipeline before it read excerpts (commit 0a31ddc) had a worker peak at
2.5 GB on the two-hour files of `tests/test_long_files.py`.

{table}
""",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips-per-class", type=int, default=DEFAULTS["clips_per_class"])
    parser.add_argument("--batches", type=int, default=DEFAULTS["batches"])
    parser.add_argument("--rounds", type=int, default=DEFAULTS["rounds"])
    parser.add_argument("--startup-rounds", type=int, default=DEFAULTS["startup_rounds"])
    parser.add_argument(
        "--startup-only", action="store_true", help="measure the start-up from scripts only"
    )
    parser.add_argument(
        "--long-files",
        action="store_true",
        help="measure two-hour files against 1 s clips instead (section 'long-files')",
    )
    args = parser.parse_args()
    if args.long_files:
        long_files_main(args.rounds)
        return
    if not args.startup_only:
        measure_throughput(args)
    measure_startup(args)


def command_line(args: argparse.Namespace, names: list[str]) -> str:
    """The command that repeats a measurement: the options that differ from the defaults."""
    return "python benchmarks/bench_generator.py" + "".join(
        f" --{name.replace('_', '-')} {getattr(args, name)}"
        for name in names
        if getattr(args, name) != DEFAULTS[name]
    )


def compile_package_bytecode() -> None:
    """Compile the package's bytecode, as installing it does (pip compiles a wheel's modules).

    Where no bytecode is written (``PYTHONDONTWRITEBYTECODE``, as on the machine these figures
    come from) an editable install leaves none, and every new interpreter, the fork server
    included, would compile each of the package's modules from source: a cost of this
    machine's set-up, which an installed package does not have.
    """
    compileall.compile_dir(Path(parallel_audio.__file__).parent, quiet=1)


def measure_startup(args: argparse.Namespace) -> None:
    compile_package_bytecode()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        data = write_keyword_dataset(Path(tmp), args.clips_per_class)
        table = startup_section(data, args.startup_rounds)
    load_after = os.getloadavg()
    load = (
        f"load average {load_before[0]:.1f} when it started and {load_after[0]:.1f} when it ended"
    )
    print(table)
    print(load)
    command = command_line(args, ["clips_per_class", "startup_rounds"]) + " --startup-only"
    write_section(
        "generator-startup",
        f"""## Generator start-up from a training script

`{command}`
on {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; {load}.
Each row runs a script in a fresh interpreter, the rows interleaved; the figures are medians
of {args.startup_rounds} rounds. The script imports TensorFlow at its top, then makes two
iterators in turn, with 2 workers, every augmentation and batches of {BATCH_SIZE}, and times
`flow_from_directory` up to the first batch of each: for the first iterator of the process
the fork server has to start and import what workers need (numpy, scipy.fft for the phase
vocoder, the pipeline), while the script lists the dataset and prepares the workers'
configuration; for the second it runs already. The fork server's CPU time, most of it
importing, is the share of the first wait that does not depend on the machine's load. The
package's bytecode is compiled first, as installing it does. RSS is each worker's resident
memory after {MAX_PENDING + 1} batches. The third row starts workers the way
multiprocessing's forkserver context does by itself, as parallel_audio did before: every
worker re-runs the script, TensorFlow import included. The cores=0 row computes the batches
in the script's own thread: for the first iterator its time includes the per-process set-up
(colored-noise buffers, which workers receive made, and the frontend's state).

{table}
""",
    )


def measure_throughput(args: argparse.Namespace) -> None:
    max_cores = os.cpu_count() or 1
    # The iterator is a Keras PyDataset: imported once up front, so that the first run's
    # "first batch" does not include importing Keras and TensorFlow.
    import keras  # noqa: F401

    load_before = os.getloadavg()

    with tempfile.TemporaryDirectory() as tmp:
        data = write_keyword_dataset(Path(tmp), args.clips_per_class)
        configurations = [(a, c) for a in (False, True) for c in [0, *range(1, max_cores + 1)]]
        runs: dict = {key: [] for key in configurations}
        transport: list[dict] = []
        timed: dict = {0: [], 1: []}
        for _ in range(args.rounds):
            for augment, cores in configurations:
                runs[augment, cores].append(timed_run(data, cores, augment, args.batches))
            for cores, done in timed.items():
                done.append(
                    timed_run(
                        data, cores, True, args.batches, get_batch_function=timed_pipeline_batch
                    )
                )
            transport.append(
                timed_run(data, 1, False, 10 * args.batches, get_batch_function=ready_made_batch)
            )
        wait_share, fit_seconds = fit_wait_share(data, max_cores)
    load_after = os.getloadavg()

    rows = []
    for augment, cores in configurations:
        done = runs[augment, cores]
        rate = median(done, "rate")
        label = "caller's thread" if cores == 0 else f"{cores} worker(s)"
        scaling = "" if cores == 0 else f"{rate / median(runs[augment, 1], 'rate'):.2f}x"
        rss = ", ".join(f"{m:.0f}" for m in done[-1]["rss"]) or "-"
        rows.append(
            f"| {'yes' if augment else 'no'} | {label} | {rate:.0f} | {scaling} | "
            f"{median(done, 'first'):.2f} | {rss} |"
        )
    table = "\n".join(
        [
            "| augmented | where | samples/s | vs 1 worker | first batch (s) | worker RSS (MB) |",
            "| --- | --- | ---: | ---: | ---: | --- |",
            *rows,
        ]
    )
    # Within a run: the consumer's time per batch against the pipeline's inside the worker.
    within = {
        cores: [run["wall"] / run["computing"] - 1 for run in done] for cores, done in timed.items()
    }
    # Between runs: one worker against the same work in the caller's thread, round by round.
    between = [
        pooled["wall"] / inline["wall"] - 1
        for inline, pooled in zip(runs[True, 0], runs[True, 1], strict=True)
    ]
    overhead_lines = [
        f"- pool overhead with one worker (augmented), within each run: "
        f"{statistics.median(within[1]):+.1%} of the pipeline's own time (rounds: "
        f"{', '.join(f'{w:+.1%}' for w in within[1])}); the caller's thread, measured the "
        f"same way: {statistics.median(within[0]):+.1%}",
        f"- the same between runs, one worker against the caller's thread: "
        f"{statistics.median(between):+.1%} (rounds: "
        f"{', '.join(f'{w:+.0%}' for w in between)}: each run has its own share of the "
        "machine's other load)",
    ]
    pipeline_wall = median(runs[True, 0], "wall")
    moved_wall, moved_cpu = median(transport, "wall"), median(transport, "cpu")
    summary = "\n".join(
        [
            *overhead_lines,
            f"- fixed cost of moving one batch ({transport[0]['batch_bytes'] / 1024:.0f} KiB of "
            f"samples, plus labels) from a worker to the consumer: {moved_wall * 1e3:.2f} ms "
            f"wall, {moved_cpu * 1e3:.2f} ms CPU per batch, that is "
            f"{moved_wall / pipeline_wall:.1%} of the pipeline's {pipeline_wall * 1e3:.1f} ms "
            "per batch",
            f"- `model.fit` (2 epochs, small CNN, cores={max_cores}): {wait_share:.1%} of "
            f"{fit_seconds:.1f} s spent waiting for batches",
        ]
    )
    load = (
        f"load average {load_before[0]:.1f} when it started and {load_after[0]:.1f} when it ended"
    )
    print(table)
    print(summary)
    print(load)
    command = command_line(args, ["clips_per_class", "batches", "rounds"])
    write_section(
        "generator",
        f"""## Generator

`{command}` on {platform.machine()}, {max_cores} cores, Python {platform.python_version()};
{load}.
{len(CLASSES)} classes x {args.clips_per_class} clips of 1 s at 16 kHz (WAV),
batches of {BATCH_SIZE}.
Each run times {args.batches} batches after {MAX_PENDING} untimed ones (start-up, prefetch);
the figures are medians of {args.rounds} interleaved rounds.
"Augmented" means every augmentation: offset, loudness, speed, pitch, VTLP, and colored or
background noise.
The machine is shared: the parent process, which also receives the results, runs on the
same cores as the workers, and so do other processes.

{table}

{summary}
""",
    )


if __name__ == "__main__":
    main()

"""Build the C libraries' own tests from frontend/ and run them, plainly and under ASan + UBSan."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

# Minutes of subprocesses, builds or long runs: left out of `pytest -m "not slow"`.
pytestmark = pytest.mark.slow

FRONTEND = Path(__file__).resolve().parents[1] / "frontend"


def build(tmp_path: Path, *options: str) -> Path:
    cmake = shutil.which("cmake")
    if cmake is None:
        pytest.fail("cmake is needed to build the C tests: pip install '.[test]' brings it")
    build_dir = tmp_path / "build"
    generator = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.run(
        [
            cmake,
            "-S",
            str(FRONTEND),
            "-B",
            str(build_dir),
            *generator,
            "-DMF_BUILD_TESTS=ON",
            *options,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result = subprocess.run([cmake, "--build", str(build_dir)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    # The library compiles without a warning.
    assert "warning:" not in result.stdout + result.stderr, result.stdout + result.stderr
    return build_dir


def run(build_dir: Path, *command: str) -> str:
    result = subprocess.run(
        [str(build_dir / command[0]), *command[1:]], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}{result.stderr}"
    return result.stdout


# Each build once per module: plain (Release), Debug under ASan + UBSan, and the portable C.
BUILDS = {
    "release": ("-DCMAKE_BUILD_TYPE=Release",),
    "sanitizers": ("-DCMAKE_BUILD_TYPE=Debug", "-DMF_SANITIZE=ON"),
    # The plain C that CPUs without AVX2 and other targets run: without the FFT's AVX2 kernels
    # and the AVX2 clones, which this machine would otherwise take. Same vectors, same values.
    "portable": (
        "-DCMAKE_BUILD_TYPE=Release",
        "-DCMAKE_C_FLAGS=-DMF_X86_KERNELS=0 -DMF_VECTOR_CLONES=",
    ),
}


@pytest.fixture(scope="module", params=list(BUILDS))
def c_build(request, tmp_path_factory) -> tuple[str, Path]:
    return request.param, build(tmp_path_factory.mktemp(request.param), *BUILDS[request.param])


@pytest.mark.parametrize(
    "program",
    [
        "microfrontend/frontend_tests",
        # TensorFlow Lite Micro's published vectors for each stage, its exact integers.
        "microfrontend/tflm_vector_tests",
        "phase_vocoder/phase_vocoder_tests",
        "loudness/loudness_tests",
    ],
)
def test_c_unit_tests(c_build, program):
    _, build_dir = c_build
    assert "all checks passed" in run(build_dir, program)


def test_random_sweep(c_build):
    kind, build_dir = c_build
    # A fixed seed by default, so every run checks the same cases; PARALLEL_AUDIO_FUZZ_SEED
    # picks another ("random" draws one). The seed is in the output on failure.
    seed = os.environ.get("PARALLEL_AUDIO_FUZZ_SEED", "0")
    if seed == "random":
        seed = str(int.from_bytes(os.urandom(4), "little"))
    cases = 400 if kind == "sanitizers" else 100
    output = run(build_dir, "microfrontend/frontend_sweep", str(cases), seed)
    accepted = int(output.split()[1])
    assert accepted > cases // 2, output

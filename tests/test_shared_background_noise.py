"""Background noise is held once, in memory every worker maps read-only, never copied per worker."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile
from support import RATE, assert_same_epochs, augmenting, epochs, write_dataset

import parallel_audio.sample_runtime
from parallel_audio import DatasetError, ParallelAudioDataGenerator
from parallel_audio.augment import SharedNoise, load_background_noise, share_background_noise
from parallel_audio.clip_store import ClipStore

MEMFD = hasattr(os, "memfd_create")
NOISE_MEMORY = "parallel_audio_noise"
FLOW = dict(classes=["low", "high"], batch_size=6, seed=11)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = write_dataset(
        tmp_path_factory.mktemp("noisy"), np.random.default_rng(5), speakers=3, per_speaker=2
    )
    # A second noise, shorter than a sample (looped), so names and offsets are exercised.
    noise = 0.05 * np.random.default_rng(6).standard_normal(RATE // 3)
    soundfile.write(root / "_background_noise_" / "hum.flac", noise, RATE)
    return root


def noise_descriptors() -> list[str]:
    """This process's descriptors of shared background noise."""
    found = []
    for entry in os.listdir("/proc/self/fd"):
        try:
            if NOISE_MEMORY in os.readlink(f"/proc/self/fd/{entry}"):
                found.append(entry)
        except OSError:  # the listing's own descriptor, closed since
            pass
    return found


def maps_noise(pid: int) -> bool:
    """Whether process ``pid`` maps the shared background noise."""
    return NOISE_MEMORY in Path(f"/proc/{pid}/maps").read_text()


def status_kib(pid: int, field: str) -> int:
    """A ``kB`` field of ``/proc/<pid>/status`` (``RssAnon``, ``RssShmem``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def test_shared_noise_holds_what_load_background_noise_reads(dataset):
    folder = str(dataset / "_background_noise_")
    loaded = load_background_noise(folder, RATE)
    shared = share_background_noise(folder, RATE)
    try:
        assert list(shared) == list(loaded) == ["hum", "noise"]
        for name, audio in loaded.items():
            assert shared[name].dtype == np.float32 and not shared[name].flags.writeable
            np.testing.assert_array_equal(shared[name], audio)
        # Pickled: where the memory is, never the audio.
        assert len(pickle.dumps(shared)) < shared.nbytes / 4
    finally:
        shared.close()


@pytest.mark.parametrize("pool", [dict(cores=2), dict(cores=2, debug=True)])
def test_batches_with_shared_noise_equal_a_single_process_run_and_the_unshared_noise(
    dataset, pool, monkeypatch
):
    with augmenting(cores=0).flow_from_directory(dataset, **FLOW) as inline:
        expected = epochs(inline)
    with augmenting(**pool).flow_from_directory(dataset, **FLOW) as pooled:
        assert_same_epochs(expected, epochs(pooled))
    # As before the noise was shared: a dict of arrays, pickled to every worker.
    monkeypatch.setattr(parallel_audio.sample_runtime, "share_background_noise", unshared_noise)
    with augmenting(**pool).flow_from_directory(dataset, **FLOW) as unshared:
        assert isinstance(
            unshared.process_params.sample_runtime.policy.augmentations.background_noise.noises,
            dict,
        )
        assert_same_epochs(expected, epochs(unshared))


class UnsharedNoise(dict):
    """The noise as it was before it was shared: a dict of arrays, closed by nothing."""

    def close(self) -> None:
        pass


def unshared_noise(folder: str, sample_rate: int) -> UnsharedNoise:
    return UnsharedNoise(load_background_noise(folder, sample_rate))


def worker_memory(dataset: Path, noise_folder: Path) -> list[tuple[int, int, bool]]:
    """(RssAnon kiB, pid, maps the shared noise) of each worker after an epoch."""
    generator = ParallelAudioDataGenerator(
        cores=2,
        bg_noise_dir=str(noise_folder),
        bg_noise_range=(0.1, 0.3),  # every sample
    )
    with generator.flow_from_directory(dataset, **FLOW) as iterator:
        epochs(iterator, 1)
        return [(status_kib(pid, "RssAnon"), pid, maps_noise(pid)) for pid in iterator.worker_pids]


@pytest.mark.skipif(not MEMFD, reason="memfd is Linux's")
def test_worker_memory_does_not_grow_with_the_noise_and_nothing_is_left(dataset, tmp_path):
    seconds = 1200  # 20 minutes: 77 MB of float32, well above a worker's own anonymous memory
    small, large = tmp_path / "small", tmp_path / "large"
    small.mkdir()
    large.mkdir()
    rng = np.random.default_rng(7)
    soundfile.write(small / "noise.wav", 0.1 * rng.standard_normal(RATE), RATE)
    noise = (0.1 * rng.standard_normal(seconds * RATE)).astype(np.float32)
    soundfile.write(large / "noise.wav", noise, RATE, subtype="PCM_16")
    noise_kib = noise.nbytes // 1024
    before_shm = set(os.listdir("/dev/shm"))
    before_descriptors = noise_descriptors()

    baseline = worker_memory(dataset, small)
    with_large = worker_memory(dataset, large)

    assert len(baseline) == len(with_large) == 2
    assert all(mapped for _, _, mapped in with_large)  # mapped from the one shared memory
    growth = max(anon for anon, _, _ in with_large) - max(anon for anon, _, _ in baseline)
    # A copy per worker would add the whole noise to each worker's private memory.
    assert growth < noise_kib / 4, (growth, noise_kib)
    assert noise_descriptors() == before_descriptors
    assert set(os.listdir("/dev/shm")) <= before_shm


@pytest.mark.skipif(not MEMFD, reason="memfd is Linux's")
def test_the_noise_lives_until_the_last_shard_closes(dataset):
    before = noise_descriptors()
    train = augmenting(cores=0).flow_from_directory(dataset, **FLOW)
    expected = train[0]
    shard = train.shard(0, 2)
    train.close()
    assert len(noise_descriptors()) > len(before)  # the shard still uses it
    first_rows = shard[0]
    for whole, part in zip(expected, first_rows, strict=True):
        np.testing.assert_array_equal(whole[: len(part)], part)
    shard.close()
    assert noise_descriptors() == before


def unpickled_elsewhere(store: ClipStore, **changes) -> ClipStore:
    """The store as a process on another machine (or another pid namespace) unpickles it."""
    state = store.__getstate__()
    state.update(changes)
    copy = ClipStore.__new__(ClipStore)
    copy.__setstate__(state)
    return copy


@pytest.mark.parametrize("elsewhere", [dict(boot_id="another machine"), dict(inode=-1)])
def test_a_process_that_cannot_map_the_noise_reads_its_folder_again(dataset, elsewhere):
    folder = dataset / "_background_noise_"
    shared = share_background_noise(str(folder), RATE)
    try:
        remote = SharedNoise(list(shared), unpickled_elsewhere(shared.store, **elsewhere))
        for name in shared:
            np.testing.assert_array_equal(remote[name], shared[name])
        assert not maps_noise_of_store(remote)
    finally:
        shared.close()


def maps_noise_of_store(noise: SharedNoise) -> bool:
    """Whether the store's samples come from a mapping (rather than a copy read again)."""
    noise.store._samples()
    return noise.store._map is not None


@pytest.mark.parametrize(
    ("elsewhere", "reason"),
    [(dict(boot_id="another machine"), "another machine"), (dict(inode=-1), "another container")],
)
def test_clips_of_flow_where_they_cannot_be_mapped_are_a_clear_error(rng, elsewhere, reason):
    store = ClipStore(rng.standard_normal((2, 100)).astype(np.float32), RATE)
    try:
        remote = unpickled_elsewhere(store, **elsewhere)
        with pytest.raises(DatasetError, match=f"clips held in memory .*{reason}"):
            remote.read(0, RATE)
    finally:
        store.close()


def test_without_memfd_the_noise_is_a_temporary_file_removed_at_close(
    dataset, tmp_path, monkeypatch
):
    with augmenting(cores=0).flow_from_directory(dataset, **FLOW) as inline:
        expected = epochs(inline, 1)
    monkeypatch.delattr(os, "memfd_create", raising=False)  # as on macOS
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    with augmenting(cores=2).flow_from_directory(dataset, **FLOW) as pooled:
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(NOISE_MEMORY)]
        assert_same_epochs(expected, epochs(pooled, 1))
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(NOISE_MEMORY)]


@pytest.mark.skipif(not MEMFD, reason="memfd is Linux's")
def test_a_flow_that_fails_frees_the_noise_at_once(dataset):
    import gc

    before = noise_descriptors()
    gc.disable()  # freed by the failure itself, not by a later collection
    try:
        with pytest.raises(DatasetError, match="no folder for class 'missing'"):
            augmenting(cores=0).flow_from_directory(dataset, ["low", "missing"], seed=1)
        assert noise_descriptors() == before
    finally:
        gc.enable()

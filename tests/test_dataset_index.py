"""The dataset index: listing, speaker split, caps, pseudo-classes, shuffle index files, errors."""

from __future__ import annotations

import hashlib
import os
import stat
import threading
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import soundfile

from parallel_audio.dataset_index import (
    SILENCE_CLASS,
    UNKNOWN_CLASS,
    WHITE_LIST_FORMATS,
    DatasetError,
    DatasetIndex,
    build_index,
    speaker_group,
)


def touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def make_dataset(root: Path, layout: dict[str, list[str]]) -> Path:
    for class_name, names in layout.items():
        (root / class_name).mkdir(parents=True, exist_ok=True)
        for name in names:
            touch(root / class_name / name)
    return root


def is_validation(path: str, validation_split: float) -> bool:
    """The documented rule, written independently: sha1 of the speaker, first 64 bits."""
    name = path.split("/")[-1]
    group = name.split("_nohash_")[0] if "_nohash_" in name else name.rsplit(".", 1)[0]
    digest = hashlib.sha1(group.encode()).hexdigest()
    return int(digest[:16], 16) / 2**64 < validation_split


def files_of(index: DatasetIndex, class_name: str) -> list[str | None]:
    class_id = index.class_names.index(class_name)
    return [f for f, c in zip(index.filenames, index.class_ids, strict=True) if c == class_id]


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            status = os.lstat(path)
            out[os.path.relpath(path, root)] = (status.st_size, status.st_mtime_ns)
    return out


# ----------------------------------------------------------------------------- listing


def test_lists_class_files_recursively_sorted_with_class_ids(tmp_path):
    root = make_dataset(tmp_path / "data", {"yes": ["b.wav", "a.wav", "sub/c.wav", "A.wav"]})
    make_dataset(root, {"no": ["z.wav", "deep/er/y.wav"]})
    soundfile.write(root / "no" / "real.wav", np.zeros(160, dtype=np.float32), 16000)

    index = build_index(root, ["no", "yes"])

    assert index.class_names == ("no", "yes")
    assert index.filenames == (
        "no/deep/er/y.wav",
        "no/real.wav",
        "no/z.wav",
        "yes/A.wav",
        "yes/a.wav",
        "yes/b.wav",
        "yes/sub/c.wav",
    )
    assert index.class_ids.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert index.class_ids.dtype == np.int32
    assert index.directory == os.fspath(root)
    assert index.path(1) == os.path.join(root, "no/real.wav")
    assert len(index) == 7 and index.num_classes == 2
    assert index.counts() == {"no": 3, "yes": 4}


def test_result_does_not_depend_on_creation_order(tmp_path):
    names = [f"s{i:03d}_nohash_{j}.wav" for i in range(30) for j in range(2)]
    first = make_dataset(tmp_path / "first", {"yes": names, "no": names})
    second = make_dataset(tmp_path / "second", {"no": names[::-1], "yes": names[::-1]})
    a = build_index(first, ["yes", "no"], subset="training", validation_split=0.3)
    b = build_index(second, ["yes", "no"], subset="training", validation_split=0.3)
    assert a.filenames == b.filenames
    assert np.array_equal(a.class_ids, b.class_ids)


def test_extension_filter_is_case_insensitive_and_skips_other_files(tmp_path):
    names = [
        "a.wav",
        "b.WAV",
        "c.Flac",
        "d.ogg",
        "e.mp3",
        "f.aiff",
        "g.aif",
        "h.au",
        "notes.txt",
        "x.wav.bak",
        "wav",
        "noextension",
        ".hidden.wav",
        "._resource_fork.wav",
    ]
    root = make_dataset(tmp_path, {"yes": names})
    (root / "yes" / "folder.wav").mkdir()  # a directory named like audio is not a file
    (root / "yes" / ".git").mkdir()
    touch(root / "yes" / ".git" / "inside.wav")  # hidden folders are not entered

    index = build_index(root, ["yes"])
    expected = ["a.wav", "b.WAV", "c.Flac", "d.ogg", "e.mp3", "f.aiff", "g.aif", "h.au"]
    assert index.filenames == tuple(sorted(f"yes/{n}" for n in expected))

    only_wav = build_index(root, ["yes"], white_list_formats=[".WAV"])
    assert only_wav.filenames == ("yes/a.wav", "yes/b.WAV")
    assert build_index(root, ["yes"], white_list_formats="flac").filenames == ("yes/c.Flac",)


def test_white_list_formats_cover_common_libsndfile_formats():
    for extension in ("wav", "flac", "ogg", "mp3", "aiff", "aif", "au"):
        assert extension in WHITE_LIST_FORMATS
    assert all(e == e.lower() and not e.startswith(".") for e in WHITE_LIST_FORMATS)


def test_underscore_and_hidden_folders_are_never_classes_nor_unknown(tmp_path):
    root = make_dataset(
        tmp_path,
        {
            "yes": [f"y{i}.wav" for i in range(4)],
            "other": [f"o{i}.wav" for i in range(50)],
            "_background_noise_": [f"n{i}.wav" for i in range(50)],
            ".index": [f"i{i}.wav" for i in range(50)],
            "~lock": [f"l{i}.wav" for i in range(50)],
        },
    )
    index = build_index(root, ["yes", UNKNOWN_CLASS], unknown_class_percentage=10.0)
    unknown = files_of(index, UNKNOWN_CLASS)
    assert len(unknown) == 40
    assert all(path.startswith("other/") for path in unknown)

    with pytest.raises(DatasetError, match=r"'_background_noise_' starts with '_'"):
        build_index(root, ["yes", "_background_noise_"])


# ----------------------------------------------------------------------------- pseudo-classes


@pytest.mark.parametrize(
    ("percentage", "expected"),
    [(1.0, 7), (0.5, 4), (0.6, 4), (0.1, 1), (0.01, 1), (2.0, 14), (0.0, 0)],
)
def test_pseudo_class_counts_are_relative_to_the_smallest_real_class(
    tmp_path, percentage, expected
):
    # Real classes of 10, 7 and 12 files: the smallest has 7. 0.5 * 7 = 3.5 rounds half up to 4;
    # 0.01 * 7 rounds to 0 but a positive percentage keeps at least one sample.
    root = make_dataset(
        tmp_path,
        {
            "a": [f"{i}.wav" for i in range(10)],
            "b": [f"{i}.wav" for i in range(7)],
            "c": [f"{i}.wav" for i in range(12)],
            "u1": [f"{i}.wav" for i in range(20)],
            "u2": [f"{i}.wav" for i in range(20)],
        },
    )
    classes = ["a", UNKNOWN_CLASS, "b", SILENCE_CLASS, "c"]
    index = build_index(
        root,
        classes,
        unknown_class_percentage=percentage,
        silence_class_percentage=percentage,
    )
    counts = index.counts()
    assert counts == {"a": 10, UNKNOWN_CLASS: expected, "b": 7, SILENCE_CLASS: expected, "c": 12}
    # The index is grouped by class in `classes` order.
    assert (
        index.class_ids.tolist() == [0] * 10 + [1] * expected + [2] * 7 + [3] * expected + [4] * 12
    )
    assert files_of(index, SILENCE_CLASS) == [None] * expected
    unknown = files_of(index, UNKNOWN_CLASS)
    pool = {f"u{k}/{i}.wav" for k in (1, 2) for i in range(20)}
    assert len(set(unknown)) == expected and set(unknown) <= pool


def test_unknown_draw_is_seeded_and_uses_the_same_subset(tmp_path):
    names = [f"s{i:03d}_nohash_0.wav" for i in range(300)]
    root = make_dataset(tmp_path, {"yes": names[:40], "u1": names, "u2": names})
    kwargs = dict(subset="training", validation_split=0.3, unknown_class_percentage=2.0)
    first = files_of(build_index(root, ["yes", UNKNOWN_CLASS], seed=1, **kwargs), UNKNOWN_CLASS)
    again = files_of(build_index(root, ["yes", UNKNOWN_CLASS], seed=1, **kwargs), UNKNOWN_CLASS)
    other = files_of(build_index(root, ["yes", UNKNOWN_CLASS], seed=2, **kwargs), UNKNOWN_CLASS)
    training_yes = [n for n in names[:40] if not is_validation(n, 0.3)]
    assert len(first) == 2 * len(training_yes)
    assert first == again
    assert first != other
    assert all(not is_validation(path, 0.3) for path in first + other)

    validation = build_index(
        root, ["yes", UNKNOWN_CLASS], seed=1, **{**kwargs, "subset": "validation"}
    )
    assert all(is_validation(p, 0.3) for p in files_of(validation, UNKNOWN_CLASS))


def test_unknown_pool_smaller_than_asked_warns_and_uses_all(tmp_path):
    root = make_dataset(
        tmp_path, {"yes": [f"{i}.wav" for i in range(10)], "u": ["1.wav", "2.wav", "3.wav"]}
    )
    with pytest.warns(UserWarning, match=r"asks for 10 samples .* hold only 3 files"):
        index = build_index(root, ["yes", UNKNOWN_CLASS])
    assert sorted(files_of(index, UNKNOWN_CLASS)) == ["u/1.wav", "u/2.wav", "u/3.wav"]


def test_unlisted_folder_without_audio_adds_nothing_to_unknown(tmp_path):
    root = make_dataset(
        tmp_path,
        {"yes": ["1.wav", "2.wav"], "docs": ["readme.txt"], "u": ["a.wav", "b.wav", "c.wav"]},
    )
    index = build_index(root, ["yes", UNKNOWN_CLASS])
    assert all(path.startswith("u/") for path in files_of(index, UNKNOWN_CLASS))


# ----------------------------------------------------------------------------- split


def speaker_dataset(root: Path, num_speakers: int, rng: np.random.Generator) -> Path:
    layout: dict[str, list[str]] = {"yes": [], "no": []}
    for speaker in range(num_speakers):
        for class_name in layout:
            for n in range(rng.integers(0, 3)):
                layout[class_name].append(f"{speaker:08x}_nohash_{n}.wav")
    layout["yes"].append("ffffffff_nohash_0.wav")  # never an empty class
    return make_dataset(root, layout)


def test_split_groups_speakers_and_partitions_all_files(tmp_path, rng):
    root = speaker_dataset(tmp_path, 1000, rng)
    split = 0.2
    everything = build_index(root, ["yes", "no"])
    training = build_index(root, ["yes", "no"], subset="training", validation_split=split)
    validation = build_index(root, ["yes", "no"], subset="validation", validation_split=split)

    pairs = lambda index: set(zip(index.filenames, index.class_ids.tolist(), strict=True))  # noqa: E731
    assert pairs(training) | pairs(validation) == pairs(everything)
    assert not pairs(training) & pairs(validation)

    speakers_of = lambda index: {speaker_group(f) for f in index.filenames}  # noqa: E731
    assert not speakers_of(training) & speakers_of(validation)
    # Each file on the side the documented sha1 rule puts it, computed here independently.
    assert all(is_validation(f, split) for f in validation.filenames)
    assert not any(is_validation(f, split) for f in training.filenames)

    fraction = len(speakers_of(validation)) / len(speakers_of(everything))
    assert abs(fraction - split) < 0.05  # ~1000 speakers: standard deviation 0.013


def test_split_of_existing_files_is_stable_when_files_are_added(tmp_path, rng):
    root = speaker_dataset(tmp_path, 300, rng)
    build = lambda subset: set(  # noqa: E731
        build_index(root, ["yes", "no"], subset=subset, validation_split=0.25).filenames
    )
    before_training, before_validation = build("training"), build("validation")
    # New files of new speakers, and new takes of speakers already on each side.
    old_validation_speaker = speaker_group(sorted(before_validation)[0])
    old_training_speaker = speaker_group(sorted(before_training)[0])
    for name in [f"new{i}_nohash_0.wav" for i in range(40)] + [
        f"{old_validation_speaker}_nohash_9.wav",
        f"{old_training_speaker}_nohash_9.wav",
    ]:
        touch(root / "yes" / name)
    after_training, after_validation = build("training"), build("validation")
    assert before_training <= after_training
    assert before_validation <= after_validation
    assert f"yes/{old_validation_speaker}_nohash_9.wav" in after_validation
    assert f"yes/{old_training_speaker}_nohash_9.wav" in after_training


def test_files_without_nohash_are_grouped_by_stem(tmp_path):
    stems = [f"clip{i}" for i in range(200)]
    root = make_dataset(
        tmp_path, {"yes": [f"{s}.wav" for s in stems], "no": [f"{s}.flac" for s in stems]}
    )
    validation = build_index(root, ["yes", "no"], subset="validation", validation_split=0.5)
    yes = {f.split("/")[1].split(".")[0] for f in files_of(validation, "yes")}
    no = {f.split("/")[1].split(".")[0] for f in files_of(validation, "no")}
    assert yes == no  # the same stem is one group, whatever its class or extension
    assert yes == {s for s in stems if is_validation(f"{s}.wav", 0.5)}
    assert speaker_group("a/b/take.2.wav") == "take.2"
    assert speaker_group("x/spk_nohash_nohash_1.wav") == "spk"


# ----------------------------------------------------------------------------- cap


def test_max_samples_per_class_keeps_the_first_sorted_files_after_the_split(tmp_path):
    names = [f"s{i:03d}_nohash_0.wav" for i in range(100)]
    root = make_dataset(tmp_path, {"yes": names, "no": names[:5]})
    index = build_index(root, ["yes", "no", SILENCE_CLASS], max_samples_per_class=8)
    assert files_of(index, "yes") == [f"yes/{n}" for n in names[:8]]
    assert files_of(index, "no") == [f"no/{n}" for n in names[:5]]
    assert index.counts()[SILENCE_CLASS] == 3  # round(0.6 * 5)

    validation = build_index(
        root, ["yes"], subset="validation", validation_split=0.5, max_samples_per_class=8
    )
    expected = [f"yes/{n}" for n in names if is_validation(n, 0.5)][:8]
    assert validation.filenames == tuple(expected)


# ----------------------------------------------------------------------------- shuffle index


def test_shuffle_index_is_written_once_reused_and_rebuilt_on_change(tmp_path):
    names = [f"{i:03d}.wav" for i in range(60)]
    root = make_dataset(tmp_path / "data", {"yes": names, "no": names[:10]})
    index_dir = tmp_path / "index"
    index_file = index_dir / ".index" / "yes.txt"

    first = build_index(root, ["yes", "no"], shuffle_index_dir=index_dir, seed=3)
    assert index_file.is_file()
    stored = index_file.read_text(encoding="utf-8").splitlines()
    # Plain text, one relative path per line, every file exactly once, shuffled.
    assert sorted(stored) == [f"yes/{n}" for n in names]
    assert stored != sorted(stored)
    assert files_of(first, "yes") == stored
    assert not list(index_dir.glob("**/*.tmp"))
    written = index_file.stat().st_mtime_ns

    time.sleep(0.01)
    second = build_index(root, ["yes", "no"], shuffle_index_dir=index_dir, seed=3)
    assert second.filenames == first.filenames
    assert index_file.stat().st_mtime_ns == written  # reused, not rewritten

    # A stored order is honoured as long as it lists the same files (even another seed's).
    index_file.write_text("".join(f"yes/{n}\n" for n in reversed(names)), encoding="utf-8")
    reversed_order = build_index(root, ["yes"], shuffle_index_dir=index_dir, seed=99)
    assert files_of(reversed_order, "yes") == [f"yes/{n}" for n in reversed(names)]
    capped = build_index(root, ["yes"], shuffle_index_dir=index_dir, max_samples_per_class=4)
    assert capped.filenames == tuple(f"yes/{n}" for n in reversed(names[-4:]))

    touch(root / "yes" / "added.wav")
    third = build_index(root, ["yes"], shuffle_index_dir=index_dir, seed=3)
    rebuilt = index_file.read_text(encoding="utf-8").splitlines()
    assert sorted(rebuilt) == sorted([f"yes/{n}" for n in names] + ["yes/added.wav"])
    assert files_of(third, "yes") == rebuilt

    (root / "yes" / "000.wav").unlink()
    fourth = build_index(root, ["yes"], shuffle_index_dir=index_dir, seed=3)
    assert "yes/000.wav" not in fourth.filenames
    assert "yes/000.wav" not in index_file.read_text(encoding="utf-8").splitlines()


def test_shuffle_index_order_then_split(tmp_path):
    names = [f"s{i:03d}_nohash_0.wav" for i in range(80)]
    root = make_dataset(tmp_path / "data", {"yes": names})
    index_dir = tmp_path / "index"
    training = build_index(
        root, ["yes"], subset="training", validation_split=0.4, shuffle_index_dir=index_dir
    )
    stored = (index_dir / ".index" / "yes.txt").read_text().splitlines()
    assert list(training.filenames) == [p for p in stored if not is_validation(p, 0.4)]
    validation = build_index(
        root, ["yes"], subset="validation", validation_split=0.4, shuffle_index_dir=index_dir
    )
    assert list(validation.filenames) == [p for p in stored if is_validation(p, 0.4)]


# Builds the index of class "yes" with a hostile shuffle index file in place, under a 4 GB
# address-space limit, and prints the order it got.
_HOSTILE_INDEX_SCRIPT = """
import resource, sys, warnings
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
from parallel_audio.dataset_index import build_index
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    index = build_index(sys.argv[1], ["yes"], shuffle_index_dir=sys.argv[2], seed=3)
print("\\n".join(index.filenames))
print("WARNINGS", *[str(w.message) for w in caught], sep="\\n")
"""


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and /dev/zero")
@pytest.mark.parametrize("kind", ["dev-zero", "fifo", "sparse-8GB", "directory"])
def test_a_shuffle_index_that_is_not_a_small_regular_file_is_not_read(tmp_path, kind):
    import subprocess
    import sys

    names = [f"{i:03d}.wav" for i in range(30)]
    root = make_dataset(tmp_path / "data", {"yes": names})
    expected = build_index(root, ["yes"], shuffle_index_dir=tmp_path / "clean", seed=3)
    index_file = tmp_path / "index" / ".index" / "yes.txt"
    index_file.parent.mkdir(parents=True)
    if kind == "dev-zero":
        index_file.symlink_to("/dev/zero")  # endless: memory would grow by about 1 GB/s
    elif kind == "fifo":
        os.mkfifo(index_file)  # opening it to read would block until a writer comes
    elif kind == "sparse-8GB":
        with open(index_file, "wb") as file:
            file.truncate(8 << 30)  # one 8 GB line of NUL bytes, costing no disk
    else:
        index_file.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", _HOSTILE_INDEX_SCRIPT, str(root), str(tmp_path / "index")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    order, warned = result.stdout.split("WARNINGS\n")
    assert order.split() == list(expected.filenames)  # the seeded order, as if none existed
    if kind in ("dev-zero", "fifo"):
        assert "(it is not a regular file); rebuilding it" in warned, warned
    if kind != "directory":  # replaced by a regular file holding that order
        assert index_file.read_text().split() == list(expected.filenames)


def test_unwritable_shuffle_index_dir_warns_and_still_works(tmp_path):
    root = make_dataset(tmp_path / "data", {"yes": ["a.wav", "b.wav", "c.wav"]})
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where the index folder should go")
    with pytest.warns(UserWarning, match="cannot write shuffle index"):
        index = build_index(root, ["yes"], shuffle_index_dir=blocker)
    assert sorted(index.filenames) == ["yes/a.wav", "yes/b.wav", "yes/c.wav"]


def test_read_only_dataset_is_never_written(tmp_path):
    names = [f"s{i}_nohash_0.wav" for i in range(20)]
    root = make_dataset(tmp_path / "data", {"yes": names, "no": names, "other": names})
    before = snapshot(root)
    folders = [root, root / "yes", root / "no", root / "other"]
    for folder in folders:
        folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        for subset in ("training", "validation"):
            index = build_index(
                root,
                ["yes", "no", UNKNOWN_CLASS, SILENCE_CLASS],
                subset=subset,
                validation_split=0.3,
                shuffle_index_dir=tmp_path / "index",
            )
            assert len(files_of(index, "yes")) > 0
    finally:
        for folder in folders:
            folder.chmod(stat.S_IRWXU)
    assert snapshot(root) == before  # nothing created or modified, even as root


# ----------------------------------------------------------------------------- symlinks


def test_follow_links_enters_symlinked_directories_only_when_asked(tmp_path):
    root = make_dataset(tmp_path / "data", {"yes": ["own.wav"]})
    external = make_dataset(tmp_path / "external", {"more": ["x.wav", "y.wav"]})
    (root / "yes" / "linked").symlink_to(external / "more", target_is_directory=True)
    (root / "yes" / "file_link.wav").symlink_to(external / "more" / "x.wav")
    (root / "yes" / "broken.wav").symlink_to(tmp_path / "missing.wav")

    # A link that leads nowhere is listed like a file, so that reading it names the broken
    # link (or on_error="skip" leaves it out) instead of the file silently vanishing.
    plain = build_index(root, ["yes"])
    assert plain.filenames == ("yes/broken.wav", "yes/file_link.wav", "yes/own.wav")
    followed = build_index(root, ["yes"], follow_links=True)
    assert followed.filenames == (
        "yes/broken.wav",
        "yes/file_link.wav",
        "yes/linked/x.wav",
        "yes/linked/y.wav",
        "yes/own.wav",
    )


def test_symlinked_class_folder_is_entered(tmp_path):
    external = make_dataset(tmp_path / "external", {"words": ["a.wav"]})
    root = tmp_path / "data"
    root.mkdir()
    (root / "yes").symlink_to(external / "words", target_is_directory=True)
    assert build_index(root, ["yes"]).filenames == ("yes/a.wav",)


def test_symlink_loop_terminates(tmp_path):
    root = make_dataset(tmp_path / "data", {"yes": ["a.wav", "sub/b.wav"]})
    (root / "yes" / "sub" / "up").symlink_to(root / "yes", target_is_directory=True)
    (root / "yes" / "self").symlink_to(".", target_is_directory=True)
    result: dict[str, object] = {}

    def run() -> None:
        try:
            result["index"] = build_index(root, ["yes"], follow_links=True)
        except BaseException as error:  # reported below
            result["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=10)
    assert not thread.is_alive(), "build_index hung on a symlink loop"
    assert "error" not in result, result.get("error")
    assert result["index"].filenames == ("yes/a.wav", "yes/sub/b.wav")


# ----------------------------------------------------------------------------- custom listing


def test_custom_listing_function_is_called_as_the_reference_calls_it(tmp_path):
    root = make_dataset(
        tmp_path / "data", {"yes": ["real.wav"], "no": ["real.wav"], "other": ["real.wav"]}
    )
    calls = []

    # Keyword-only: the reference passes every argument by name, with these names.
    def list_files(
        *,
        base_directory,
        search_class,
        white_list_formats,
        split,
        follow_links,
        shuffle_index_directory,
    ):
        calls.append((base_directory, search_class, split, follow_links, shuffle_index_directory))
        assert set(white_list_formats) == set(WHITE_LIST_FORMATS)
        assert "abc.wav".endswith(white_list_formats)  # usable as the reference used it
        # Files named so the speaker split would put some on each side: none may be dropped.
        names = [f"{search_class}\\z{i}_nohash_0.wav" for i in range(6)][::-1]
        return search_class, names

    classes = ["yes", "no", UNKNOWN_CLASS]
    # Without a subset the reference passes split=None (Speech Commands' function needs it).
    expectations = {"training": (0.25, 1.0), "validation": (0.0, 0.25), None: None}
    for subset, split in expectations.items():
        calls.clear()
        index = build_index(
            root,
            classes,
            subset=subset,
            validation_split=0.25 if subset else 0.0,
            follow_links=True,
            shuffle_index_dir="somewhere",
            max_samples_per_class=5,
            list_valid_filenames_in_directory_function=list_files,
        )
        assert calls == [
            (os.fspath(root), name, split, True, "somewhere") for name in ("yes", "no", "other")
        ]
        # The function's order is kept (reversed here), backslashes become '/', then the cap.
        assert files_of(index, "yes") == [f"yes/z{i}_nohash_0.wav" for i in range(5, 0, -1)]
        unknown = files_of(index, UNKNOWN_CLASS)
        assert len(unknown) == 5 and all(p.startswith("other/z") for p in unknown)
        assert not (tmp_path / "data" / ".index").exists()

    def wrong_class(base_directory, search_class, **kwargs):
        return "elsewhere", []

    with pytest.raises(DatasetError, match="asked for class 'yes' but returned class 'elsewhere'"):
        build_index(root, ["yes"], list_valid_filenames_in_directory_function=wrong_class)

    def empty(base_directory, search_class, **kwargs):
        return search_class, []

    with pytest.raises(DatasetError, match="class 'yes' has no file .*function returned no file"):
        build_index(root, ["yes"], list_valid_filenames_in_directory_function=empty)


# ----------------------------------------------------------------------------- class_counts


def test_class_counts_is_filled_with_every_class(tmp_path):
    root = make_dataset(
        tmp_path,
        {"yes": [f"{i}.wav" for i in range(9)], "no": [f"{i}.wav" for i in range(5)]},
    )
    make_dataset(root, {"u": [f"{i}.wav" for i in range(30)]})
    counts = {"stale": 1}
    index = build_index(
        root,
        ["yes", "no", UNKNOWN_CLASS, SILENCE_CLASS],
        class_counts=counts,
        unknown_class_percentage=0.8,
        silence_class_percentage=0.6,
    )
    assert counts == {"stale": 1, "yes": 9, "no": 5, UNKNOWN_CLASS: 4, SILENCE_CLASS: 3}
    assert index.counts() == {"yes": 9, "no": 5, UNKNOWN_CLASS: 4, SILENCE_CLASS: 3}


# ----------------------------------------------------------------------------- errors


@pytest.fixture
def small(tmp_path):
    return make_dataset(
        tmp_path / "data",
        {"yes": ["only_nohash_0.wav"], "no": ["a.wav", "b.wav"], "empty": ["readme.txt"]},
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(classes=[]), DatasetError, "classes is empty"),
        (dict(classes="yes"), TypeError, "classes must be a list of class names"),
        (dict(classes=["yes", "no", "yes"]), DatasetError, "lists 'yes' more than once"),
        (dict(classes=["maybe"]), DatasetError, r"no folder for class 'maybe' .* 'no', 'yes'"),
        (dict(classes=["a/b"]), DatasetError, "is not a folder name"),
        (dict(classes=[UNKNOWN_CLASS, SILENCE_CLASS]), DatasetError, "holds no real class"),
        (dict(classes=["empty"]), DatasetError, r"'empty' .* no audio file .* 1 x \.txt"),
        (dict(subset="training"), DatasetError, r"subset='training' needs validation_split > 0"),
        (dict(subset="testing", validation_split=0.1), DatasetError, "got 'testing'"),
        (dict(subset="test", validation_split=0.1), DatasetError, "needs test_split > 0"),
        (dict(validation_split=0.5, test_split=0.5), DatasetError, r"must be below 1"),
        (dict(subset="validation", fold=1), DatasetError, "fold=1 needs num_folds"),
        (dict(subset="validation", num_folds=3), DatasetError, "num_folds=3 needs fold"),
        (dict(fold=3, num_folds=3), DatasetError, r"fold must lie in \[0, 2\]"),
        (dict(fold=0, num_folds=1), DatasetError, r"num_folds must lie in \[2, 1000\]"),
        (
            dict(fold=0, num_folds=3, validation_split=0.2),
            DatasetError,
            "validation_split=0.2 cannot be combined with num_folds=3",
        ),
        (dict(fold=0, num_folds=2, fold_strategy="random"), DatasetError, "fold_strategy"),
        (dict(validation_split=1.0), DatasetError, r"validation_split must lie in \[0, 1\)"),
        (dict(validation_split=-0.1), DatasetError, r"validation_split must lie in \[0, 1\)"),
        (dict(max_samples_per_class=0), DatasetError, "max_samples_per_class must be -1"),
        (dict(max_samples_per_class=2.5), TypeError, "max_samples_per_class must be an int"),
        (dict(unknown_class_percentage=-1), DatasetError, "unknown_class_percentage must be"),
        (dict(silence_class_percentage=float("nan")), DatasetError, "silence_class_percentage"),
        (dict(seed=-3), DatasetError, "seed must be >= 0"),
        (dict(seed=None), TypeError, "seed must be an int"),
        (dict(white_list_formats=[]), DatasetError, "white_list_formats is empty"),
        (dict(list_valid_filenames_in_directory_function=3), TypeError, "must be callable"),
    ],
)
def test_invalid_arguments_raise_naming_the_problem(small, kwargs, error, message):
    kwargs = {"classes": ["yes", "no"], **kwargs}
    with pytest.raises(error, match=message):
        build_index(small, **kwargs)


def test_missing_or_non_directory_dataset_raises(tmp_path):
    with pytest.raises(DatasetError, match=r"dataset directory .*nowhere.* does not exist"):
        build_index(tmp_path / "nowhere", ["yes"])
    (tmp_path / "file").write_text("")
    with pytest.raises(DatasetError, match="is not a directory"):
        build_index(tmp_path / "file", ["yes"])


def test_unknown_without_unlisted_class_folders_raises(small):
    with pytest.raises(DatasetError, match=r"'_unknown_' is drawn from class folders .* every"):
        build_index(small, ["yes", "no", "empty", UNKNOWN_CLASS])


def test_class_with_no_file_in_the_subset_raises(small):
    # "only" is a single speaker; whichever side it hashes to, the other side is empty.
    other_side = "training" if is_validation("only_nohash_0.wav", 0.5) else "validation"
    with pytest.raises(DatasetError, match=f"class 'yes' has no file in the {other_side} subset"):
        build_index(small, ["yes"], subset=other_side, validation_split=0.5)


def test_errors_are_value_errors(small):
    with pytest.raises(ValueError, match="classes is empty"):
        build_index(small, [])


# ----------------------------------------------------------------------------- the dataclass


def test_dataset_index_is_immutable_and_checked():
    index = DatasetIndex("d", ["a", "b"], ["a/1.wav", None], np.array([0, 1], dtype=np.int64))
    assert index.class_names == ("a", "b") and index.filenames == ("a/1.wav", None)
    assert index.class_ids.dtype == np.int32
    with pytest.raises(ValueError, match="read-only"):
        index.class_ids[0] = 1
    with pytest.raises(AttributeError):
        index.filenames = ()
    assert index.path(1) is None
    assert "num_samples=2" in repr(index)
    with pytest.raises(ValueError, match="class_ids has 1 entries but filenames has 2"):
        DatasetIndex("d", ("a",), ("x", "y"), np.array([0]))
    with pytest.raises(ValueError, match=r"class_ids must lie in \[0, 1\)"):
        DatasetIndex("d", ("a",), ("x",), np.array([1]))


# ----------------------------------------------------------------------------- speed


@pytest.mark.slow
def test_listing_many_files_ends_within_a_deadline(tmp_path):
    # 100k files list in about 0.3 s on a quiet machine (benchmarks measure speed); the
    # deadline only catches work that grows faster than the file count.
    num_files = 10000
    for class_name in ("yes", "no"):
        folder = tmp_path / class_name
        folder.mkdir()
        for i in range(num_files // 2):
            open(folder / f"{i:05x}_nohash_0.wav", "wb").close()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        index = build_index(tmp_path, ["yes", "no"], subset="training", validation_split=0.1)
    elapsed = time.perf_counter() - start
    assert 0.85 * num_files < len(index) < 0.95 * num_files
    assert elapsed < 10.0, f"{elapsed:.2f} s for {num_files} files"

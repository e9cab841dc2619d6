"""The named random streams cannot collide, and every seed the package derives goes through them."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import numpy as np
import pytest

from parallel_audio.random_streams import Stream, random_generator, seed_sequence

PACKAGE = Path(__file__).resolve().parents[1] / "parallel_audio"

# Keys each stream takes, covering the small values where ad-hoc tags used to collide
# (the epoch plan's old tag 0x5A5A was sample 23130's key).
KEY_LENGTHS = {
    Stream.SAMPLE: 2,
    Stream.EPOCH_PLAN: 1,
    Stream.UNKNOWN_DRAW: 0,
    Stream.NOISE_BUFFER: 1,
    Stream.PREVIEW_CHOICE: 0,
    Stream.DEMO_SPEAKERS: 0,
    Stream.DEMO_CLIP: 2,
    Stream.DEMO_NOISE: 0,
    Stream.UNAUGMENTED_SILENCE: 1,
    Stream.LONG_FILE_EXCERPT: 2,
    Stream.BALANCED_CYCLE: 2,
    Stream.SAMPLED_ORDER: 1,
    Stream.WEIGHTED_DRAW: 1,
    Stream.FOLD_ORDER: 0,
}
KEY_VALUES = (0, 1, 2, 3, 0x5A5A, 2**31)


def all_states(seeds):
    for seed in seeds:
        for stream in Stream:
            for key in itertools.product(KEY_VALUES, repeat=KEY_LENGTHS[stream]):
                state = seed_sequence(stream, seed, *key).generate_state(4)
                yield (seed, stream, key), state.tobytes()


def test_every_stream_has_a_documented_key_length():
    assert set(KEY_LENGTHS) == set(Stream)


def test_streams_keys_and_seeds_give_pairwise_distinct_states():
    seen: dict[bytes, tuple] = {}
    # Seeds that differ only in the words numpy could confuse with a spawn key.
    seeds = (0, 1, 2, 2**32, 2**32 + 1, 2**64 + 1, 2**127)
    for name, state in all_states(seeds):
        assert state not in seen, f"{name} and {seen[state]} share a state"
        seen[state] = name
    per_seed = sum(len(KEY_VALUES) ** length for length in KEY_LENGTHS.values())
    assert len(seen) == len(seeds) * per_seed


def test_a_stream_is_a_function_of_its_seed_and_key_alone():
    first = random_generator(Stream.SAMPLE, 7, 3, 11).random(5)
    again = random_generator(Stream.SAMPLE, 7, 3, 11).random(5)
    np.testing.assert_array_equal(first, again)


@pytest.mark.parametrize("seed", [-1, 2**128])
def test_seeds_outside_the_padded_range_are_refused(seed):
    with pytest.raises(ValueError, match="below 2\\*\\*128"):
        seed_sequence(Stream.SAMPLE, seed, 0, 0)


def test_the_package_derives_no_seed_outside_the_streams_module():
    # SeedSequence, and default_rng given anything but a generator passed in, belong to
    # random_streams.py alone; elsewhere they would be a stream no one checks for collisions.
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "random_streams.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "SeedSequence":
                offenders.append(f"{path.name}:{node.lineno}")
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "default_rng"
                and node.args
                and not isinstance(node.args[0], ast.Name)
            ):
                offenders.append(f"{path.name}:{node.lineno}")
    assert not offenders, offenders

"""Every random stream the package draws from, named in one place so that none can collide.

A stream is ``SeedSequence(seed, spawn_key=(stream, *key))``: the seed is the entropy and the
stream's number leads the spawn key. numpy pads the entropy to its pool size before it appends
a spawn key, so no (seed, key) pair with a seed below 2**128 can reproduce another's words,
and two streams differ in their first spawn word whatever the rest of their keys. Each
stream's key has a fixed length, listed here with its meaning.

Adding a stream means adding a member at the end; renumbering one changes the batches every
seed gives (say so in the changelog).
"""

from __future__ import annotations

import enum

import numpy as np

__all__ = ["Stream", "random_generator", "seed_sequence"]


class Stream(enum.IntEnum):
    """The package's random streams, each with the key that follows its number."""

    #: One sample's augmentation in one epoch; key ``(epoch, sample_id)``. A sample that occurs
    #: again in an epoch (drawn twice by sampling, or repeated to fill a last batch with
    #: ``last_batch="repeat"``) takes ``sample_id + k * samples`` on its k-th repeat, a key no
    #: sample of the iterator has: its first occurrence keeps the sample's own stream.
    SAMPLE = 1
    #: The order of one epoch's samples; key ``(epoch,)``.
    EPOCH_PLAN = 2
    #: Which files of unlisted classes feed ``_unknown_``; key ``()``.
    UNKNOWN_DRAW = 3
    #: The fixed colored-noise buffers; key ``(color_index,)``, seed 0.
    NOISE_BUFFER = 4
    #: Which file of each class ``parallel-audio preview`` shows; key ``()``.
    PREVIEW_CHOICE = 5
    #: The demo's synthesized speakers; key ``()``.
    DEMO_SPEAKERS = 6
    #: One synthesized demo clip; key ``(word_index, clip_index)``.
    DEMO_CLIP = 7
    #: The demo's synthesized background noise; key ``()``.
    DEMO_NOISE = 8
    #: The noise of an unaugmented ``_silence_`` sample, the same every epoch; key
    #: ``(sample_id,)``.
    UNAUGMENTED_SILENCE = 9
    #: Where the excerpt of a file too long to read whole starts; key ``(epoch, sample_id)``.
    #: Apart from SAMPLE, so that a file's draws are the same whether or not it is long.
    LONG_FILE_EXCERPT = 10
    #: The order in which a balanced class's samples are drawn, cycle after cycle; key
    #: ``(class_id, cycle)``.
    BALANCED_CYCLE = 11
    #: The order of one balanced epoch's drawn samples; key ``(epoch,)``.
    SAMPLED_ORDER = 12
    #: One epoch's weighted draws with replacement; key ``(epoch,)``.
    WEIGHTED_DRAW = 13
    #: The order in which the balanced and stratified fold strategies take groups of equal
    #: rank; key ``()``, seeded with ``fold_seed``.
    FOLD_ORDER = 14


def seed_sequence(stream: Stream, seed: int, *key: int) -> np.random.SeedSequence:
    """Return the seed sequence of ``stream`` for ``seed`` and the stream's ``key``.

    Parameters
    ----------
    stream : Stream
        Which stream.
    seed : int
        The run's seed, a non-negative integer below 2**128.
    *key : int
        The stream's key (see :class:`Stream`), non-negative integers.

    Returns
    -------
    numpy.random.SeedSequence

    Examples
    --------
    >>> a = seed_sequence(Stream.SAMPLE, 42, 0, 7).generate_state(2)
    >>> b = seed_sequence(Stream.EPOCH_PLAN, 42, 0).generate_state(2)
    >>> bool((a != b).any())
    True
    """
    if not 0 <= seed < 2**128:
        # Longer seeds would no longer be padded apart from the spawn key.
        raise ValueError(f"seed must be a non-negative integer below 2**128, got {seed}")
    return np.random.SeedSequence(int(seed), spawn_key=(int(stream), *(int(k) for k in key)))


def random_generator(stream: Stream, seed: int, *key: int) -> np.random.Generator:
    """Return a PCG64 generator drawing from ``stream`` (see :func:`seed_sequence`)."""
    return np.random.default_rng(seed_sequence(stream, seed, *key))

"""Windows over a file and their labels, against tables computed by hand from the documented rules.

The file: 2.0 s at 16 kHz, windows of 1.0 s, the microfrontend's default frames (25 ms every
10 ms: 98 frames, frame k centred at k * 10 ms + 12.5 ms). Events: dog [0.2, 0.9) and cat
[0.6, 1.7). Classes: dog 0, cat 1, background 2.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from parallel_audio.windows import (
    FrameGrid,
    WindowLabels,
    clip_and_transform,
    jittered_start,
    label_window,
    merge_events,
    placement_shift,
    window_starts,
)

RATE = 16000
LENGTH = 16000  # 1.0 s windows
FILE_SAMPLES = 32000  # 2.0 s
FILE_SECONDS = 2.0
GRID = FrameGrid(RATE, LENGTH, 400, 160)
DOG, CAT, BACKGROUND = 0, 1, 2
EVENT_IDS = np.array([DOG, CAT])
EVENT_ON = np.array([0.2, 0.6])
EVENT_OFF = np.array([0.9, 1.7])


def labels_of(mode, start_s, *, min_overlap=0.5, frame_rule="center", speed=1.0, shift=0.0):
    settings = WindowLabels(
        num_classes=3,
        mode=mode,
        window_seconds=1.0,
        min_overlap=min_overlap,
        background_id=BACKGROUND,
        grid=GRID,
        frame_rule=frame_rule,
    )
    ids, on, off = merge_events(EVENT_IDS, EVENT_ON, EVENT_OFF)
    events = clip_and_transform(
        ids,
        on,
        off,
        read_start=start_s,
        read_length=1.0,
        file_duration=FILE_SECONDS,
        speed=speed,
        shift=shift,
    )
    return label_window(settings, *events)


def frames(first, last):
    """Frames first..last inclusive as a boolean column of the 98."""
    column = np.zeros(GRID.num_frames, bool)
    column[first : last + 1] = True
    return column


@pytest.mark.parametrize(
    ("hop_s", "last_window", "expected_starts_s"),
    [
        (1.0, "pad", [0.0, 1.0]),  # two whole windows cover the file exactly
        (1.0, "drop", [0.0, 1.0]),
        (0.5, "pad", [0.0, 0.5, 1.0]),  # (2.0 - 1.0) / 0.5 + 1 whole windows
        (0.5, "drop", [0.0, 0.5, 1.0]),
        (0.75, "pad", [0.0, 0.75, 1.5]),  # [0.75, 1.75) leaves [1.75, 2.0): one padded window
        (0.75, "drop", [0.0, 0.75]),
        (1.5, "pad", [0.0, 1.5]),  # [1.0, 1.5) is a gap; [1.5, 2.5) is padded
        (1.5, "drop", [0.0]),
        (2.5, "pad", [0.0]),  # the next start (2.5 s) is past the end: nothing to pad
    ],
)
def test_window_grid(hop_s, last_window, expected_starts_s):
    starts = window_starts(FILE_SAMPLES, LENGTH, round(hop_s * RATE), last_window)
    assert starts.dtype == np.int64
    np.testing.assert_array_equal(starts, np.round(np.array(expected_starts_s) * RATE))


def test_window_grid_short_and_empty_files():
    assert window_starts(15999, LENGTH, LENGTH, "pad").tolist() == [0]
    assert window_starts(15999, LENGTH, LENGTH, "drop").tolist() == []
    assert window_starts(16000, LENGTH, 4000, "pad").tolist() == [0]
    assert window_starts(0, LENGTH, LENGTH, "pad").tolist() == []
    # Overlapping windows: [0,4) [3,7) [6,10) cover 10 samples, 11 need a padded [9,13).
    assert window_starts(10, 4, 3, "pad").tolist() == [0, 3, 6]
    assert window_starts(11, 4, 3, "pad").tolist() == [0, 3, 6, 9]
    with pytest.raises(ValueError, match="hop_length"):
        window_starts(10, 4, 0)


# Hand-computed for hop 0.75 s, last_window="pad": windows [0, 1), [0.75, 1.75), [1.5, 2.5).
#   [0, 1):      dog covers 0.7 s (0.2-0.9), cat 0.4 s (0.6-1.0), their union 0.8 s.
#   [0.75,1.75): dog 0.15 s (0.75-0.9), cat 0.95 s (0.75-1.7), union 0.95 s.
#   [1.5, 2.5):  cat 0.2 s (1.5-1.7), nothing else; the file ends 0.5 s into it.
@pytest.mark.parametrize(
    ("start_s", "majority", "any_", "fraction"),
    [
        # majority: dog 0.7 >= 0.5 * 1.0. any: dog 0.7 > 0.5 * min(0.7, 1) = 0.35; cat 0.4 is
        # not > 0.5 * min(1.1, 1) = 0.5. fraction: 0.7, 0.4, background 1 - 0.8.
        (0.0, DOG, [1, 0, 0], [0.7, 0.4, 0.2]),
        # majority: cat 0.95. any: dog 0.15 is not > 0.35; cat 0.95 > 0.5.
        (0.75, CAT, [0, 1, 0], [0.15, 0.95, 0.05]),
        # majority: cat 0.2 < 0.5: background. any: cat 0.2 is not > 0.5: background only.
        (1.5, BACKGROUND, [0, 0, 1], [0.0, 0.2, 0.8]),
    ],
)
def test_window_labels_by_hand(start_s, majority, any_, fraction):
    label, weights = labels_of("majority", start_s)
    assert weights is None and int(label) == majority
    label, _ = labels_of("any", start_s)
    np.testing.assert_array_equal(label, any_)
    label, _ = labels_of("fraction", start_s)
    np.testing.assert_allclose(label, fraction, atol=1e-6)


def test_min_overlap_moves_the_decisions():
    # Window [0, 1) with min_overlap 0.75: dog's 0.7 no longer wins the majority ...
    assert int(labels_of("majority", 0.0, min_overlap=0.75)[0]) == BACKGROUND
    # ... and with 0.3 cat's 0.4 > 0.3 * 1.0 makes it present in "any".
    np.testing.assert_array_equal(labels_of("any", 0.0, min_overlap=0.3)[0], [1, 1, 0])
    # min_overlap 0: any overlap at all counts (dog touches [0.75, 1.75) for 0.15 s).
    np.testing.assert_array_equal(labels_of("any", 0.75, min_overlap=0.0)[0], [1, 1, 0])


def test_majority_tie_goes_to_the_lower_class_id():
    settings = WindowLabels(num_classes=3, mode="majority", window_seconds=1.0, background_id=2)
    # cat (1) and dog (0) cover 0.5 s each, cat listed first.
    label, _ = label_window(settings, np.array([1, 0]), np.array([0.0, 0.5]), np.array([0.5, 1.0]))
    assert int(label) == 0


def test_frames_center_by_hand():
    # Window [0, 1): a frame is marked when onset <= k*0.01 + 0.0125 < offset.
    # dog [0.2, 0.9): k >= 18.75 and k < 88.75: frames 19-88. cat [0.6, 1.0): frames 59-97.
    label, weights = labels_of("frames", 0.0)
    assert label.shape == (98, 3) and weights.shape == (98,)
    np.testing.assert_array_equal(label[:, DOG], frames(19, 88))
    np.testing.assert_array_equal(label[:, CAT], frames(59, 97))
    np.testing.assert_array_equal(label[:, BACKGROUND], frames(0, 18))
    np.testing.assert_array_equal(weights, np.ones(98))
    # Padded window [1.5, 2.5): cat [0, 0.2): frames 0-18; the file ends at 0.5 s, so frames
    # centred at or after it (k >= 48.75) weigh 0.
    label, weights = labels_of("frames", 1.5)
    np.testing.assert_array_equal(label[:, CAT], frames(0, 18))
    np.testing.assert_array_equal(label[:, DOG], frames(0, -1))
    np.testing.assert_array_equal(weights, frames(0, 48))


def test_frames_any_by_hand():
    # frame_rule "any": frames floor(onset / 0.01) to ceil(offset / 0.01) - 1.
    # dog [0.2, 0.9): 20-89; cat [0.6, 1.0): 60-97 (the grid ends at frame 97).
    label, _ = labels_of("frames", 0.0, frame_rule="any")
    np.testing.assert_array_equal(label[:, DOG], frames(20, 89))
    np.testing.assert_array_equal(label[:, CAT], frames(60, 97))
    # Window [0.75, 1.75): dog [0, 0.15): 0-14; cat [0, 0.95): 0-94.
    label, _ = labels_of("frames", 0.75, frame_rule="any")
    np.testing.assert_array_equal(label[:, DOG], frames(0, 14))
    np.testing.assert_array_equal(label[:, CAT], frames(0, 94))


def test_labels_follow_speed_and_offset_by_hand():
    # Speed 1.25: the 1.0 s window plays in round(16000 / 1.25) = 12800 samples; offset 0.5
    # puts int((16000 - 12800) * 0.5) = 1600 zeros (0.1 s) before it. dog [0.2, 0.9) lands at
    # [0.2 / 1.25 + 0.1, 0.9 / 1.25 + 0.1) = [0.26, 0.82): centres k >= 24.75, k < 80.75.
    shift = placement_shift(round(LENGTH / 1.25), LENGTH, 0.5)
    assert shift == 1600
    label, weights = labels_of("frames", 0.0, speed=1.25, shift=shift / RATE)
    np.testing.assert_array_equal(label[:, DOG], frames(25, 80))
    # cat [0.6, 1.0) (clipped to what was read) -> [0.58, 0.9): k >= 56.75, k < 88.75.
    np.testing.assert_array_equal(label[:, CAT], frames(57, 88))
    np.testing.assert_array_equal(weights, np.ones(98))  # placement's zeros are not padding
    # Speed 0.8: 20000 samples, offset 0.25 crops int(4000 * 0.25) = 1000 (0.0625 s) off the
    # front: dog -> [0.25 - 0.0625, 1.125 - 0.0625) = [0.1875, 1.0625): k >= 17.5, all after.
    shift = placement_shift(round(LENGTH / 0.8), LENGTH, 0.25)
    assert shift == -1000
    label, _ = labels_of("frames", 0.0, speed=0.8, shift=shift / RATE)
    np.testing.assert_array_equal(label[:, DOG], frames(18, 97))
    # fraction follows too: dog covers 0.56 s of the sped-up window, cat 0.32 s.
    label, _ = labels_of("fraction", 0.0, speed=1.25, shift=0.1)
    np.testing.assert_allclose(label[:2], [0.56, 0.32], atol=1e-6)


def test_padded_window_weights_follow_speed():
    # Window [1.5, 2.5) at speed 1.25, shift 0.1 s: the file's end (0.5 s in) lands at
    # 0.5 / 1.25 + 0.1 = 0.5 s: frames with centres >= 0.5 (k >= 48.75) weigh 0.
    _, weights = labels_of("frames", 1.5, speed=1.25, shift=0.1)
    np.testing.assert_array_equal(weights, frames(0, 48))


def test_merge_events_merges_overlapping_and_touching_per_class():
    ids, on, off = merge_events(
        np.array([1, 0, 0, 0, 1]),
        np.array([0.0, 0.5, 0.0, 1.0, 0.5]),
        np.array([0.4, 1.0, 0.6, 1.2, 0.7]),
    )
    # class 0: [0, 0.6) and [0.5, 1.0) overlap, [1.0, 1.2) touches: one [0, 1.2).
    # class 1: [0, 0.4) and [0.5, 0.7) stay apart.
    assert ids.tolist() == [0, 1, 1]
    assert on.tolist() == [0.0, 0.0, 0.5]
    assert off.tolist() == [1.2, 0.4, 0.7]
    # Merged first: two overlapping dog events covering [0.1, 0.8) are 0.7 s, not 0.9 s.
    settings = WindowLabels(num_classes=1, mode="fraction", window_seconds=1.0)
    ids, on, off = merge_events(np.array([0, 0]), np.array([0.1, 0.3]), np.array([0.6, 0.8]))
    np.testing.assert_allclose(label_window(settings, ids, on, off)[0], [0.7])


def test_jitter_stays_in_the_file_and_within_bounds(rng):
    starts = [jittered_start(8000, 1600, 32000, 16000, rng) for _ in range(2000)]
    assert min(starts) == 8000 - 1600 and max(starts) == 8000 + 1600
    # A window at the file's start cannot move before it; one ending at the end cannot move
    # past; the padded window can only move back.
    assert min(jittered_start(0, 1600, 32000, 16000, rng) for _ in range(200)) == 0
    assert max(jittered_start(16000, 1600, 32000, 16000, rng) for _ in range(200)) == 16000
    assert max(jittered_start(24000, 1600, 32000, 16000, rng) for _ in range(200)) == 24000
    # Jitter 0 draws nothing.
    state = rng.bit_generator.state
    assert jittered_start(5, 0, 100, 10, rng) == 5
    assert rng.bit_generator.state == state


def test_frame_grid_matches_the_frontend():
    from parallel_audio import AudioFeatureGeneratorSettings
    from parallel_audio.feature_generator import AudioFeatureGenerator

    settings = AudioFeatureGeneratorSettings(window_size_ms=30, window_step_ms=20)
    spectrogram = AudioFeatureGenerator(settings).process_sample(np.zeros(16000, np.int16))
    grid = FrameGrid(16000, 16000, 480, 320)
    assert spectrogram.shape[0] == grid.num_frames
    assert math.isclose(grid.centres[1], 0.02 + 0.015)


def test_label_settings_refuse_what_cannot_label():
    with pytest.raises(ValueError, match="background"):
        WindowLabels(num_classes=2, mode="majority", window_seconds=1.0)
    with pytest.raises(ValueError, match="grid"):
        WindowLabels(num_classes=2, mode="frames", window_seconds=1.0)
    with pytest.raises(ValueError, match="mode"):
        WindowLabels(num_classes=2, mode="vote", window_seconds=1.0)


def test_frames_any_equals_sed_eval_event_roll(rng):
    """The "any" frame rule is sed_eval's event roll, window by window."""
    sed_eval = pytest.importorskip("sed_eval")
    step = GRID.step_seconds
    duration = 30.0
    labels = ["cat", "dog", "speech"]
    events = []
    for _ in range(40):  # random times: none falls on a frame boundary
        onset = float(rng.uniform(0, duration - 0.05))
        length = float(rng.uniform(0.013, 3.0))
        events.append(
            {
                "event_label": labels[int(rng.integers(3))],
                "onset": onset,
                "offset": min(onset + length, duration),
            }
        )
    roll = sed_eval.util.event_roll.event_list_to_event_roll(events, labels, step)
    roll = sed_eval.util.event_roll.pad_event_roll(roll, int(duration / step) + GRID.num_frames)
    ids = np.array([labels.index(e["event_label"]) for e in events])
    ids, on, off = merge_events(
        ids, np.array([e["onset"] for e in events]), np.array([e["offset"] for e in events])
    )
    settings = WindowLabels(
        num_classes=3, mode="frames", window_seconds=1.0, grid=GRID, frame_rule="any"
    )
    hop = 50 * GRID.frame_step  # 0.5 s: a whole number of frame steps
    starts = window_starts(round(duration * RATE), LENGTH, hop, "drop")
    assert starts.size == 59
    for start in starts:
        start_s = start / RATE
        events = clip_and_transform(
            ids, on, off, read_start=start_s, read_length=1.0, file_duration=duration
        )
        label, _ = label_window(settings, *events)
        first = start // GRID.frame_step
        np.testing.assert_array_equal(label, roll[first : first + GRID.num_frames])

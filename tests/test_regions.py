"""Regions of files: a sample that is a span of a longer recording, read alone."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
from support import speech_like

from parallel_audio import ParallelAudioDataGenerator
from parallel_audio.audio_io import Region, read_audio
from parallel_audio.dataset_index import DatasetIndex
from parallel_audio.errors import AudioFileError
from parallel_audio.iterator import ParallelAudioIterator


def _long_recording(tmp_path, rng, rate, seconds, name="long.wav", subtype="PCM_16"):
    path = tmp_path / name
    data = speech_like(rng, int(rate * seconds), rate)
    soundfile.write(path, data, rate, subtype=subtype)
    return path, data


@pytest.mark.parametrize(("rate", "extension"), [(16000, "wav"), (44100, "wav"), (22050, "flac")])
def test_a_region_equals_the_span_written_as_its_own_file(tmp_path, rng, rate, extension):
    path, data = _long_recording(tmp_path, rng, rate, 7.0, name=f"long.{extension}")
    start, end = 2.5, 3.75
    span = data[round(start * rate) : round(end * rate)]
    alone = tmp_path / f"span.{extension}"
    soundfile.write(alone, span, rate, subtype="PCM_16")
    expected = read_audio(alone, 16000)
    got = read_audio(path, 16000, region=Region(start, end))
    np.testing.assert_array_equal(got, expected)
    assert got.size == round(span.size * 16000 / rate)


def test_only_the_region_is_decoded(tmp_path, rng, monkeypatch):
    path, _ = _long_recording(tmp_path, rng, 16000, 60.0)
    decoded = []
    original = soundfile.SoundFile.read

    def counting_read(self, frames=-1, *args, **kwargs):
        block = original(self, frames, *args, **kwargs)
        decoded.append(len(block))
        return block

    monkeypatch.setattr(soundfile.SoundFile, "read", counting_read)
    got = read_audio(path, 16000, region=Region(30.0, 31.0))
    assert got.size == 16000
    assert sum(decoded) == 16000  # one second of a minute, not the file


def test_a_region_without_end_runs_to_the_file_end_and_an_end_beyond_it_is_clipped(tmp_path, rng):
    path, data = _long_recording(tmp_path, rng, 16000, 2.0)
    whole = read_audio(path, 16000)
    np.testing.assert_array_equal(read_audio(path, 16000, region=Region(1.5)), whole[24000:])
    np.testing.assert_array_equal(read_audio(path, 16000, region=Region(1.5, 9.0)), whole[24000:])


def test_a_region_after_the_end_names_the_file_the_region_and_the_duration(tmp_path, rng):
    path, _ = _long_recording(tmp_path, rng, 16000, 2.0)
    with pytest.raises(AudioFileError) as caught:
        read_audio(path, 16000, region=Region(5.0, 6.0))
    message = str(caught.value)
    assert "long.wav" in message and "5 s to 6 s" in message and "lasts 2 s" in message


def test_an_index_region_gives_the_batch_of_the_span_file(tmp_path, rng):
    """Through the iterator: a region sample and its span written out give the same x."""
    path, data = _long_recording(tmp_path, rng, 16000, 5.0)
    soundfile.write(tmp_path / "span.wav", data[16000:32000], 16000, subtype="PCM_16")
    index = DatasetIndex(
        str(tmp_path),
        ("speech",),
        ("long.wav", "span.wav"),
        np.zeros(2, np.int32),
        regions=np.array([[1.0, 2.0], [np.nan, np.nan]]),
    )
    generator = ParallelAudioDataGenerator(cores=0, disable_random_transforms=True)
    iterator = ParallelAudioIterator(
        generator, index, class_mode="sparse", batch_size=2, shuffle=False, seed=1, subset=None
    )
    x, y = iterator[0]
    np.testing.assert_array_equal(x[0], x[1])
    assert x[0].std() > 0
    np.testing.assert_array_equal(y, [0, 0])

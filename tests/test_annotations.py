"""Reading and checking event tables: DataFrames, rows, DCASE files, time-series CSVs."""

from __future__ import annotations

import numpy as np
import pytest

from parallel_audio.annotations import (
    check_labels,
    clip_to_durations,
    read_events,
    read_timeseries,
)
from parallel_audio.errors import DatasetError

DCASE_TSV = (
    "filename\tonset\toffset\tevent_label\n"
    "a.wav\t0.2\t0.9\tdog\n"
    "a.wav\t0.6\t1.7\tcat\n"
    "b.wav\t\t\t\n"  # DCASE's file without events
    "c/d.wav\t1.0\t1.5\tdog\n"
)


def test_dcase_tsv_with_header(tmp_path):
    path = tmp_path / "meta.tsv"
    path.write_text(DCASE_TSV)
    table = read_events(path)
    assert table.filenames == ("a.wav", "a.wav", "c/d.wav")
    np.testing.assert_array_equal(table.onsets, [0.2, 0.6, 1.0])
    np.testing.assert_array_equal(table.offsets, [0.9, 1.7, 1.5])
    assert table.labels == ("dog", "cat", "dog")
    assert table.rows == ("line 2", "line 3", "line 5")
    assert table.listed_files == ("a.wav", "b.wav", "c/d.wav")


def test_headerless_tsv_and_csv_and_rows_and_dataframe_agree(tmp_path):
    headerless = tmp_path / "meta.txt"
    headerless.write_text("".join(DCASE_TSV.splitlines(True)[1:]))
    csv_path = tmp_path / "meta.csv"
    csv_path.write_text(DCASE_TSV.replace("\t", ","))
    rows = [("a.wav", 0.2, 0.9, "dog"), ("a.wav", 0.6, 1.7, "cat"), ("c/d.wav", 1.0, 1.5, "dog")]
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame(
        {
            "filename": ["a.wav", "a.wav", "b.wav", "c/d.wav"],
            "onset": [0.2, 0.6, np.nan, 1.0],
            "offset": [0.9, 1.7, np.nan, 1.5],
            "event_label": ["dog", "cat", None, "dog"],
        }
    )
    mappings = [{"file": f, "start": a, "end": b, "label": c} for f, a, b, c in rows]
    for source in (headerless, csv_path, rows, frame, mappings):
        table = read_events(source)
        assert table.filenames == ("a.wav", "a.wav", "c/d.wav"), source
        np.testing.assert_array_equal(table.onsets, [0.2, 0.6, 1.0])
        np.testing.assert_array_equal(table.offsets, [0.9, 1.7, 1.5])
        assert table.labels == ("dog", "cat", "dog")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "a.wav\t0.9\t0.2\tdog",
            r"line 3 of .*meta.tsv.*'a.wav'.*onset 0.9 is not before offset 0.2",
        ),
        ("a.wav\t0.5\t0.5\tdog", r"line 3 .*onset 0.5 is not before offset 0.5"),
        ("a.wav\t-0.1\t0.2\tdog", r"line 3 .*negative onset -0.1"),
        ("a.wav\tsoon\t0.2\tdog", r"line 3 .*onset must be a number of seconds, got 'soon'"),
        ("a.wav\tnan\t0.2\tdog", r"line 3 .*onset is nan"),
        ("a.wav\t0.1\t0.2\t", r"line 3 .*has no event_label"),
        ("\t0.1\t0.2\tdog", r"line 3 .*file name must be a non-empty string"),
        ("a.wav\t0.1\t0.2\tdog\textra", r"line 3 .*5 fields, the header 4"),
    ],
)
def test_bad_rows_are_named(tmp_path, line, message):
    path = tmp_path / "meta.tsv"
    path.write_text(f"filename\tonset\toffset\tevent_label\nok.wav\t0\t1\tdog\n{line}\n")
    with pytest.raises(DatasetError, match=message):
        read_events(path)


def test_missing_column_lists_the_present_ones():
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"filename": ["a.wav"], "onset": [0.0], "event_label": ["dog"]})
    with pytest.raises(DatasetError, match=r"no column 'offset'.*columns are"):
        read_events(frame)


def test_unknown_labels_give_count_and_first_rows():
    rows = [("a.wav", 0.0, 1.0, "dog")] + [("a.wav", i, i + 1.0, "bird") for i in range(7)]
    table = read_events(rows)
    with pytest.raises(DatasetError, match=r"7 events .* 'bird' \(row 1, row 2, .* and 2 more\)"):
        check_labels(table, ["dog", "cat"])
    assert check_labels(table, ["bird", "dog"]).tolist() == [1, 0, 0, 0, 0, 0, 0, 0]


def test_events_past_the_end_are_clipped_with_a_warning_naming_them():
    table = read_events(
        [("a.wav", 0.5, 3.0, "dog"), ("a.wav", 2.5, 2.8, "cat"), ("b.wav", 0, 1, "dog")]
    )
    with pytest.warns(
        UserWarning, match=r"2 events .*'a.wav' \(row 0: 0.5-3 s 'dog', file ends at 2 s\)"
    ):
        clipped = clip_to_durations(table, {"a.wav": 2.0, "b.wav": 5.0})
    assert clipped.filenames == ("a.wav", "b.wav")  # cat starts after the end: dropped
    np.testing.assert_array_equal(clipped.offsets, [2.0, 1.0])


def test_timeseries_are_held_until_the_next_row(tmp_path):
    path = tmp_path / "rec.csv"
    path.write_text("time,speech,music\n0.0,0,1\n0.5,1,1\n1.25,1,0\n2.0,0,0\n2.5,0,1\n")
    table = read_timeseries(str(path), "rec.wav", 3.0)
    # speech: rows 0.5 and 1.25 -> [0.5, 2.0); music: [0, 1.25) and [2.5, end 3.0).
    got = sorted(zip(table.labels, table.onsets.tolist(), table.offsets.tolist(), strict=True))
    assert got == [("music", 0.0, 1.25), ("music", 2.5, 3.0), ("speech", 0.5, 2.0)]
    assert set(table.filenames) == {"rec.wav"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("t,speech\n0,1\n", r"must start with a header 'time"),
        ("time,speech\n0,1\n0,0\n", r"line 3 .*after the previous"),
        ("time,speech\n0,0.5\n", r"line 2 .*'speech' is '0.5'.* 0 or 1"),
    ],
)
def test_timeseries_errors_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "rec.csv"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message):
        read_timeseries(str(path), "rec.wav", 3.0)

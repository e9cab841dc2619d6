"""``info`` and ``preview`` with ``--manifest``: a manifest's rows, as flow_from_manifest reads."""

from __future__ import annotations

import json
import re

import numpy as np
import soundfile
from PIL import Image
from support import RATE, speech_like

from parallel_audio.cli import main


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_nemo(root, rng):
    """Six 2-second recordings; each row is one second of one, starting at 0.5 s."""
    lines = []
    for k in range(6):
        soundfile.write(root / f"rec{k}.wav", speech_like(rng, 2 * RATE, RATE), RATE)
        lines.append(
            {"audio_filepath": f"rec{k}.wav", "offset": 0.5, "duration": 1.0, "label": "ab"[k % 2]}
        )
    (root / "broken.wav").write_bytes(b"RIFF, not really")
    lines.append({"audio_filepath": "broken.wav", "duration": 1.0, "label": "a"})
    path = root / "train.json"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_info_reports_the_rows_regions_unreadable_files_and_classes(tmp_path, capsys, rng):
    manifest = write_nemo(tmp_path, rng)
    code, out, _ = run_cli(capsys, "info", "--manifest", manifest)
    assert code == 0
    assert "7 rows" in out and "NeMo" in out
    # The rows' durations are their regions (1 s), not the files' (2 s).
    assert re.search(r"Duration \(s\) of the 6 readable rows .*min 1\.000, median 1\.000", out)
    assert re.search(r"^  broken\.wav: .+$", out, re.MULTILINE)
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^  (a|b|total)\s+(\d+)$", out, re.MULTILINE)}
    assert counts == {"a": 4, "b": 3, "total": 7}


def test_info_without_data_dir_or_manifest_says_what_it_needs(capsys):
    code, _, err = run_cli(capsys, "info")
    assert code == 2 and "--manifest" in err


def test_preview_of_a_manifest_draws_one_row_per_label(tmp_path, capsys, rng):
    manifest = write_nemo(tmp_path, rng)
    manifest.write_text("".join(manifest.read_text().splitlines(True)[:6]))  # no broken row
    out = tmp_path / "preview"
    code, stdout, _ = run_cli(
        capsys,
        "preview",
        "--manifest",
        manifest,
        "--n",
        "2",
        "--out",
        out,
        "--trim-threshold-db",
        "0",
    )
    assert code == 0 and "preview.png" in stdout
    with Image.open(out / "preview.png") as image:
        assert image.size == (90 + 160 * 3, 50 + 120 * 2)
    for label in "ab":
        original, rate = soundfile.read(out / label / "original.wav")
        assert rate == RATE and original.shape == (RATE,)
        shown = re.search(rf"^  {label}: (rec\d)\.wav", stdout, re.MULTILINE)[1]
        recording, _ = soundfile.read(tmp_path / f"{shown}.wav")
        # The original is the row's region: 0.5 s to 1.5 s of the recording.
        np.testing.assert_allclose(original, recording[RATE // 2 : RATE // 2 + RATE], atol=1e-4)

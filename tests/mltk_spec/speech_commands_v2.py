"""A stand-in for ``mltk.datasets.audio.speech_commands.speech_commands_v2``.

``load_data`` returns the synthesized dataset (its path in ``SPEECH_COMMANDS_DIR``) instead
of downloading Google's; ``list_valid_filenames_in_directory`` does what MLTK's does: an
index of sorted file names written to ``<dataset>/.index/<class>.txt`` and reused, and for a
subset a cut at the split's fraction, moved so that one speaker (the name before
``_nohash_``) stays on one side; without a subset (``split`` None) every file.
"""

from __future__ import annotations

import math
import os
import re


def load_data():
    return os.environ["SPEECH_COMMANDS_DIR"]


def _speaker(path):
    return re.sub(r"_nohash_.*$", "", os.path.basename(path))


def list_valid_filenames_in_directory(
    base_directory, search_class, white_list_formats, split, follow_links, shuffle_index_directory
):
    assert shuffle_index_directory is None, "Shuffling the index is not supported by this dataset"
    index_path = f"{base_directory}/.index/{search_class}.txt"
    if os.path.exists(index_path):
        with open(index_path) as f:
            file_list = [line.strip() for line in f]
    else:
        class_dir = os.path.join(base_directory, search_class)
        file_list = sorted(
            f"{search_class}/{name}"
            for name in os.listdir(class_dir)
            if name.lower().endswith(white_list_formats)
        )
        os.makedirs(os.path.dirname(index_path), exist_ok=True)
        with open(index_path, "w") as f:
            f.writelines(p + "\n" for p in file_list)
    if not file_list:
        raise RuntimeError(f"No samples found for class: {search_class}")
    if not split:
        return search_class, file_list
    if split[0] == 0:
        stop = math.ceil(split[1] * len(file_list))
        other_side = _speaker(file_list[stop])  # MLTK indexes here too: (0, 1) would fail
        while stop > 0 and _speaker(file_list[stop - 1]) == other_side:
            stop -= 1
        return search_class, file_list[:stop]
    start = math.ceil(split[0] * len(file_list))
    this_side = _speaker(file_list[start])
    while start > 0 and _speaker(file_list[start - 1]) == this_side:
        start -= 1
    return search_class, file_list[start:]

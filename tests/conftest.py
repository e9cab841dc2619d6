"""Shared fixtures: a seeded random generator (helpers live in support.py)."""

from __future__ import annotations

import os

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261121)


@pytest.fixture(scope="session", autouse=True)
def _outside_the_source_tree(tmp_path_factory):
    """Run every test, and so every Python subprocess a test starts, outside the repository.

    A child started from the repository's root would import the uncompiled source folder
    ``parallel_audio/`` (the working directory comes first on its path) instead of the
    installed package, as no user's script would.
    """
    previous = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(previous)

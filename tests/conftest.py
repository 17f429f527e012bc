"""Shared fixtures: the bundled evidence (read once) and a writer for small CSVs."""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")
os.environ.setdefault("PYTENSOR_FLAGS", "cxx=")  # quiet: no C compiler needed for tests that only build graphs

SEEDS = Path(__file__).resolve().parents[1].parent / "shared" / "seeds"


@pytest.fixture(scope="session")
def evidence():
    from sclcmeta import read_evidence

    return read_evidence()


@pytest.fixture
def write_csv(tmp_path):
    def _write(text: str, name: str = "input.csv") -> Path:
        p = tmp_path / name
        p.write_text(text.strip() + "\n")
        return p

    return _write

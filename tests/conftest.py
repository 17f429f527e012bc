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


@pytest.fixture(scope="session")
def dask_client():
    """A local Dask cluster of 2 worker processes (1 thread each), started on first use and shared by the
    multiverse and SBC tests of this test process; the workers import sclcmeta once, up front."""
    import importlib
    import logging

    from dask.distributed import Client, LocalCluster

    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           silence_logs=logging.CRITICAL)
    client = Client(cluster)
    client.run(importlib.import_module, "sclcmeta.analyses.multiverse")
    yield client
    client.close()
    cluster.close()

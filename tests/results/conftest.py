"""Fits shared by the results tests (each is fitted once per session)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def q4_os_network(evidence):
    import sclcmeta as sm

    return sm.run_spec(sm.load_spec("q4_network_1l_os"), evidence)

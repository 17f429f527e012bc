"""Where the bundled evidence tables and analysis specs live.

In a source checkout (editable install) they are the repository's ``data/`` and ``models/``;
in a wheel they are shipped inside the package as ``sclcmeta/_bundled/``.
"""

from __future__ import annotations

from pathlib import Path

_PKG = Path(__file__).resolve().parent


def _first_existing(*candidates: Path) -> Path:
    for c in candidates:
        if c.is_dir():
            return c
    raise FileNotFoundError(
        "Cannot find the bundled folder; looked in "
        + ", ".join(str(c) for c in candidates)
        + ". Reinstall sclcmeta or pass explicit paths."
    )


def data_dir() -> Path:
    """Folder holding the bundled evidence tables (``evidence.csv``, ``studies.csv``, ``nodes.csv``)."""
    return _first_existing(_PKG.parents[1] / "data", _PKG / "_bundled" / "data")


def models_dir() -> Path:
    """Folder holding the bundled analysis specs (``*.toml``) and prior sets (``priors/*.toml``)."""
    return _first_existing(_PKG.parents[1] / "models", _PKG / "_bundled" / "models")

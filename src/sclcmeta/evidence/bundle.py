"""A user's evidence as one bundle: the estimates together with the study and node tables they rely on.

The study table is what says which cohorts share patients (``patient_pool``); without it two papers on
the same patients would both enter one likelihood. So every command that takes ``--data`` resolves the
whole bundle here, and says what it used:

* ``--data FOLDER``: ``FOLDER/evidence.csv`` with ``FOLDER/studies.csv`` and ``FOLDER/nodes.csv`` when present;
* ``--data FILE.csv``: that file, with ``--studies`` / ``--nodes`` when given; a ``studies.csv`` /
  ``nodes.csv`` lying beside a full-format evidence file is used too, and the note says so;
* no study table at all: every cohort is its own patient pool, and a warning says that cohorts sharing
  patients would then be counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import EvidenceError


@dataclass(frozen=True)
class DataBundle:
    """The files of one evidence bundle and the notes/warnings on how they were found."""

    evidence: tuple[Path, ...]
    studies: Path | None = None
    nodes: Path | None = None
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def _is_full_format(path: Path) -> bool:
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            header = fh.readline()
    except OSError:
        return False
    cols = {c.strip().strip('"') for c in header.split(",")}
    return "cohort" in cols and "source" in cols


def resolve_data(data: str | Path | list, *, studies: str | Path | None = None,
                 nodes: str | Path | None = None, what: str = "--data") -> DataBundle:
    """Find the evidence, study and node files of a ``--data`` argument (see module docstring).

    Examples
    --------
    >>> from sclcmeta.paths import data_dir
    >>> b = resolve_data(data_dir())
    >>> b.studies.name, b.nodes.name
    ('studies.csv', 'nodes.csv')
    """
    items = [Path(p) for p in (data if isinstance(data, (list, tuple)) else [data])]
    notes, warns, ev = [], [], []
    for p in items:
        if p.is_dir():
            f = p / "evidence.csv"
            if not f.is_file():
                raise EvidenceError(f"{what} {str(p)!r} is a folder without evidence.csv; give the evidence CSV itself "
                                    "or a folder holding evidence.csv (and optionally studies.csv, nodes.csv).")
            ev.append(f)
            if studies is None and (p / "studies.csv").is_file():
                studies = p / "studies.csv"
            if nodes is None and (p / "nodes.csv").is_file():
                nodes = p / "nodes.csv"
        else:
            ev.append(p)
            if p.is_file() and _is_full_format(p):
                if studies is None and (p.parent / "studies.csv").is_file() and p.name != "studies.csv":
                    studies = p.parent / "studies.csv"
                    notes.append(f"using the study table {studies} found beside {p} (pass --studies to choose another)")
                if nodes is None and (p.parent / "nodes.csv").is_file() and p.name != "nodes.csv":
                    nodes = p.parent / "nodes.csv"
                    notes.append(f"using the node table {nodes} found beside {p} (pass --nodes to choose another)")
    if studies is None:
        warns.append("no study table (studies.csv): every cohort is treated as its own patient pool, so two "
                     "publications on the same patients would both be counted; give --studies FILE (or --data FOLDER "
                     "with studies.csv) if any cohorts share patients.")
    return DataBundle(tuple(ev), Path(studies) if studies else None, Path(nodes) if nodes else None,
                      tuple(notes), tuple(warns))


def read_bundle(bundle: DataBundle, scale: str | None = None):
    """Read and validate the bundle's tables (an :class:`~sclcmeta.evidence.EvidenceTable`)."""
    from .table import read_evidence

    return read_evidence(list(bundle.evidence), studies=bundle.studies, nodes=bundle.nodes, scale=scale)

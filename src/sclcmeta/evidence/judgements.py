"""Certainty judgements that need a person: ``read_judgements`` -> :class:`Judgements`.

GRADE and CINeMA rate some domains from numbers (risk of bias from the risk-of-bias table,
inconsistency, imprecision); others need a reviewer's reading of the studies: indirectness
(do the populations, interventions and comparators match the question?) and, where there is a
reason to suspect it, publication bias. Those judgements live in ``data/certainty_judgements.csv``,
one row per (analysis, comparison, domain), each with its reason, source, location and a verbatim
quote, and :mod:`sclcmeta.results.certainty` reads them from here.

An empty ``comparison`` applies to every answer of the analysis; a network contrast
("continue same ICI vs stop ICI") can have its own row, which wins.

Examples
--------
>>> j = read_judgements()
>>> j.lookup("q1_continuation_os", "indirectness").judgement
'serious'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..errors import EvidenceError
from .messages import where as _where
from .reading import read_curated_table

COLUMNS = ("analysis", "comparison", "domain", "judgement", "reason", "source", "location", "quote")
#: domains a person judges (the others are computed by declared rules in results/certainty.py)
DOMAINS = ("indirectness", "publication_bias")
#: GRADE wording; CINeMA's no / some / major concerns map onto the same three levels
LEVELS = ("not_serious", "serious", "very_serious")
REQUIRED_TEXT = ("analysis", "reason", "source", "location", "quote")
_SOURCE = re.compile(r"^(\d{3}_[0-9a-f]+\.txt|10\.\S+/\S+)$")


@dataclass(frozen=True)
class Judgement:
    """One person's judgement: its level (``not_serious``/``serious``/``very_serious``), reason and source."""

    analysis: str
    comparison: str
    domain: str
    judgement: str
    reason: str
    source: str
    location: str
    quote: str

    @property
    def levels_down(self) -> int:
        """GRADE levels this judgement rates down (0, 1 or 2)."""
        return LEVELS.index(self.judgement)


@dataclass(frozen=True)
class Judgements:
    """The validated judgement table (``data`` holds the CSV columns as text, plus ``row_``)."""

    data: pd.DataFrame
    file: str = ""

    def __repr__(self) -> str:
        return (f"<Judgements: {len(self.data)} rows for {self.data['analysis'].nunique()} analyses; "
                f"file: {Path(self.file).name}>")

    def lookup(self, analysis: str, domain: str, comparison: str = "") -> Judgement | None:
        """The judgement for this analysis, domain and comparison (the analysis-wide row if none is specific)."""
        d = self.data[(self.data["analysis"] == analysis) & (self.data["domain"] == domain)]
        for comp in ([comparison] if comparison else []) + [""]:
            hit = d[d["comparison"] == comp]
            if len(hit):
                r = hit.iloc[0]
                return Judgement(**{c: r[c] for c in COLUMNS})
        return None


def _known_analyses() -> set[str]:
    from ..paths import models_dir

    return {p.stem for p in models_dir().glob("*.toml") if p.name != "questions.toml"}


def read_judgements(path: str | Path | None = None, analyses: set[str] | None = None) -> Judgements:
    """Read and validate the judgement table; every problem in one :class:`EvidenceError`, one line each.

    ``analyses`` are the analysis names a row may refer to (default: the specs in the bundled ``models/``).
    """
    from ..paths import data_dir

    p = Path(path) if path is not None else data_dir() / "certainty_judgements.csv"
    file = str(p)
    df = read_curated_table(p, COLUMNS, what="certainty-judgement", section="5")
    known = _known_analyses() if analyses is None else set(analyses)
    errors: list[str] = []
    seen: dict[tuple, int] = {}
    for i, r in df.iterrows():
        row = int(i) + 1
        for c in REQUIRED_TEXT:
            if r[c] == "":
                errors.append(f"{_where(file, row, c, '')}: missing {c}; every judgement needs the analysis it "
                              "applies to, its reason, the source (seed file or DOI), the location and a verbatim quote.")
        if r["analysis"] and known and r["analysis"] not in known:
            errors.append(f"{_where(file, row, 'analysis', r['analysis'])}: no analysis spec of that name; use the "
                          "name of a spec in models/ (`sclcmeta list` shows them).")
        if r["domain"] not in DOMAINS:
            errors.append(f"{_where(file, row, 'domain', r['domain'])}: not a domain judged by a person; use one of "
                          f"{', '.join(DOMAINS)} (risk of bias, inconsistency and imprecision are computed).")
        if r["judgement"] not in LEVELS:
            errors.append(f"{_where(file, row, 'judgement', r['judgement'])}: unknown judgement; use one of "
                          f"{', '.join(LEVELS)}.")
        if r["source"] and not _SOURCE.match(r["source"]):
            errors.append(f"{_where(file, row, 'source', r['source'])}: not a seed file name (NNN_<hash>.txt) or a "
                          "DOI starting with '10.'; give where the quote was read.")
        key = (r["analysis"], r["comparison"], r["domain"])
        if key in seen:
            errors.append(f"{_where(file, row, 'domain', r['domain'])}: {r['analysis']} {r['comparison'] or '(all)'} "
                          f"{r['domain']} is already judged in row {seen[key]}; keep one row per (analysis, "
                          "comparison, domain).")
        seen.setdefault(key, row)
    if errors:
        raise EvidenceError(errors)
    out = df[list(COLUMNS)].copy()
    out["row_"] = range(1, len(out) + 1)
    return Judgements(data=out, file=file)


def check_judgements(path: str | Path | None = None) -> list[str]:
    """Summary lines for ``sclcmeta data check``; raises :class:`EvidenceError` if the table does not validate."""
    j = read_judgements(path)
    counts = j.data.groupby(["domain", "judgement"]).size()
    txt = "; ".join(f"{d} {lvl} {n}" for (d, lvl), n in counts.items())
    return [f"certainty judgements: {len(j.data)} rows for {j.data['analysis'].nunique()} analyses ({txt})"]


__all__ = ["COLUMNS", "DOMAINS", "LEVELS", "Judgement", "Judgements", "check_judgements", "read_judgements"]

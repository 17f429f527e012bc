"""Risk of bias per estimate: ``read_risk_of_bias`` -> :class:`RiskOfBias`.

The table (``data/risk_of_bias.csv``) is long: one row per (assessment, domain), each judgement
with its reason, source, location and a verbatim quote. An assessment covers the evidence rows
named in ``applies_to``: ROBINS-I for observational treatment effects (Sterne et al. 2016, BMJ
355:i4919), RoB 2 for randomized trials (Sterne et al. 2019, BMJ 366:l4898). Prognostic-factor
rows are out of scope (see data/README.md, 3k).

The overall judgement is never stored; it is computed from the domains by :func:`overall_judgement`.
Validation raises :class:`~sclcmeta.errors.EvidenceError` listing every problem, one line each,
naming file, row, column and value, and what would fix it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import pandas as pd

from ..errors import EvidenceError
from ..vocabulary import ROB2, ROB_DOMAINS as DOMAINS, ROB_JUDGEMENTS as JUDGEMENTS, ROBINS_I
from .messages import where as _where
from .reading import read_curated_table
from .table import EvidenceTable

COLUMNS = ("assessment", "tool", "cohort", "applies_to", "domain", "judgement", "reason",
           "source", "location", "quote")
REQUIRED_TEXT = ("reason", "source", "location", "quote")
# columns that describe the assessment, not the domain: equal in every row of one assessment
PER_ASSESSMENT = ("tool", "cohort", "applies_to")
ASSESSED_KINDS = ("treatment_effect", "subgroup_treatment_effect")
NOT_ASSESSED = "not_assessed"

_ROBINS_RANK = {"low": 0, "moderate": 1, "serious": 2, "critical": 3}
_ROB2_RANK = {"low": 0, "some_concerns": 1, "high": 2}


def overall_judgement(tool: str, judgements: Iterable[str]) -> str:
    """Overall risk of bias from the domain judgements of one assessment.

    ROBINS-I (Sterne et al. 2016): the most severe domain judgement (low < moderate < serious <
    critical). ``no_information`` is the overall judgement only when no domain is serious or
    critical: a study with a serious domain is at serious risk whatever is unknown elsewhere.
    RoB 2 (Sterne et al. 2019): low if every domain is low, high if any domain is high, otherwise
    some_concerns. (RoB 2 lets a reviewer raise several some_concerns to high; that is a judgement,
    not a rule, and it is not applied here.)

    Examples
    --------
    >>> overall_judgement("ROBINS-I", ["low", "moderate", "no_information"])
    'no_information'
    >>> overall_judgement("ROBINS-I", ["low", "serious", "no_information"])
    'serious'
    >>> overall_judgement("RoB2", ["low", "some_concerns"])
    'some_concerns'
    """
    js = list(judgements)
    if tool == ROBINS_I:
        unknown = [j for j in js if j not in JUDGEMENTS[ROBINS_I]]
        if unknown or not js:
            raise ValueError(f"not ROBINS-I judgements: {unknown or js!r}")
        known = [j for j in js if j != "no_information"]
        worst = max(known, key=_ROBINS_RANK.__getitem__) if known else "no_information"
        if _ROBINS_RANK.get(worst, -1) >= _ROBINS_RANK["serious"]:
            return worst
        return "no_information" if "no_information" in js else worst
    if tool == ROB2:
        unknown = [j for j in js if j not in JUDGEMENTS[ROB2]]
        if unknown or not js:
            raise ValueError(f"not RoB 2 judgements: {unknown or js!r}")
        return max(js, key=_ROB2_RANK.__getitem__)
    raise ValueError(f"unknown tool {tool!r}; use {ROBINS_I} or {ROB2}")


def split_ids(applies_to: str) -> list[str]:
    """The evidence ids of an ``applies_to`` cell (``;``-separated, blanks ignored)."""
    return [s.strip() for s in str(applies_to).split(";") if s.strip()]


@dataclass(frozen=True)
class RiskOfBias:
    """Validated risk-of-bias table, one row per (assessment, domain).

    ``data`` holds the CSV columns (strings) plus ``row_`` (1-based data row). Build it with
    :func:`read_risk_of_bias`.

    Examples
    --------
    >>> rob = read_risk_of_bias()
    >>> rob.overall().set_index("assessment").loc["gu2026_os_unadjusted", "overall"]
    'critical'
    """

    data: pd.DataFrame
    file: str = ""

    def __repr__(self) -> str:
        ov = self.overall()
        counts = ov.groupby("tool").size().to_dict()
        txt = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        return f"<RiskOfBias: {len(ov)} assessments ({txt}); {len(self.data)} domain rows; file: {Path(self.file).name}>"

    def overall(self) -> pd.DataFrame:
        """One row per assessment: ``assessment, tool, cohort, applies_to, overall, driven_by``.

        ``driven_by`` lists the domains whose judgement equals the overall judgement.
        """
        rows = []
        for a, g in self.data.groupby("assessment", sort=False):
            tool = g["tool"].iloc[0]
            ov = overall_judgement(tool, g["judgement"])
            rows.append({"assessment": a, "tool": tool, "cohort": g["cohort"].iloc[0],
                         "applies_to": g["applies_to"].iloc[0], "overall": ov,
                         "driven_by": ";".join(g.loc[g["judgement"] == ov, "domain"])})
        return pd.DataFrame(rows, columns=["assessment", "tool", "cohort", "applies_to", "overall", "driven_by"])

    def for_ids(self, ids: Iterable[str]) -> pd.DataFrame:
        """Per-estimate overall judgement: ``id, assessment, tool, overall``, in the order given.

        An id that no assessment covers (a prognostic-factor row, or an id unknown to the table)
        gets assessment ``""``, tool ``""`` and overall ``"not_assessed"``.
        """
        by_id = {}
        for r in self.overall().itertuples():
            for i in split_ids(r.applies_to):
                by_id[i] = (r.assessment, r.tool, r.overall)
        rows = [{"id": i, **dict(zip(("assessment", "tool", "overall"), by_id.get(i, ("", "", NOT_ASSESSED))))}
                for i in ids]
        return pd.DataFrame(rows, columns=["id", "assessment", "tool", "overall"])

    def domains(self, assessment: str) -> pd.DataFrame:
        """The domain rows of one assessment (``domain, judgement, reason, source, location, quote``)."""
        g = self.data[self.data["assessment"] == assessment]
        if g.empty:
            raise KeyError(f"no assessment {assessment!r} in {self.file}")
        return g[["domain", "judgement", "reason", "source", "location", "quote"]].reset_index(drop=True)


def _read(path: Path) -> pd.DataFrame:
    return read_curated_table(path, COLUMNS, what="risk-of-bias", section="1.5")


def _evidence_frame(evidence) -> pd.DataFrame:
    if evidence is None:
        from .table import read_evidence

        evidence = read_evidence()
    df = evidence.data if isinstance(evidence, EvidenceTable) else evidence
    df = df.copy()
    for c in ("design", "kind", "cohort"):
        if c not in df.columns:
            df[c] = ""
    if "file_" not in df.columns:
        df["file_"] = "evidence"
    if "row_" not in df.columns:
        df["row_"] = range(1, len(df) + 1)
    return df


def _validate_rows(df: pd.DataFrame, file: str) -> list[str]:
    errors: list[str] = []
    for i, r in df.iterrows():
        row = int(i) + 1
        if r["assessment"] == "":
            errors.append(f"{_where(file, row, 'assessment', '')}: empty assessment id; name the assessment, "
                          "e.g. 'gu2026_os_unadjusted'.")
        tool = r["tool"]
        if tool not in DOMAINS:
            errors.append(f"{_where(file, row, 'tool', tool)}: unknown tool; use {ROBINS_I} (observational) "
                          f"or {ROB2} (randomized trials).")
        else:
            if r["domain"] not in DOMAINS[tool]:
                errors.append(f"{_where(file, row, 'domain', r['domain'])}: not a {tool} domain; use one of "
                              f"{', '.join(DOMAINS[tool])}.")
            if r["judgement"] not in JUDGEMENTS[tool]:
                errors.append(f"{_where(file, row, 'judgement', r['judgement'])}: not a {tool} judgement; use one "
                              f"of {', '.join(JUDGEMENTS[tool])}.")
        for c in REQUIRED_TEXT:
            if r[c] == "":
                errors.append(f"{_where(file, row, c, '')}: missing {c}; every judgement needs its reason, the "
                              "source (seed file or DOI), the location (table/section) and a verbatim quote.")
        if r["cohort"] == "":
            errors.append(f"{_where(file, row, 'cohort', '')}: missing cohort; give the cohort id of the "
                          "estimates in applies_to.")
        if not split_ids(r["applies_to"]):
            errors.append(f"{_where(file, row, 'applies_to', r['applies_to'])}: no evidence id; list the ids "
                          "of the estimates this assessment covers, separated by ';'.")
    return errors


def _validate_assessments(df: pd.DataFrame, file: str) -> list[str]:
    errors: list[str] = []
    for a, g in df[df["assessment"] != ""].groupby("assessment", sort=False):
        first = int(g.index[0]) + 1
        for c in PER_ASSESSMENT:
            for i in g.index[g[c] != g.at[g.index[0], c]]:
                errors.append(f"{_where(file, int(i) + 1, c, df.at[i, c])}: differs from row {first} "
                              f"({g.at[g.index[0], c]!r}) of assessment {a!r}; every row of one assessment "
                              f"must give the same {c}.")
        tool = g["tool"].iloc[0]
        if tool not in DOMAINS:
            continue
        seen: dict[str, int] = {}
        for i, d in g["domain"].items():
            if d in seen:
                errors.append(f"{_where(file, int(i) + 1, 'domain', d)}: domain already judged for assessment "
                              f"{a!r} in row {seen[d]}; keep one row per (assessment, domain).")
            else:
                seen[d] = int(i) + 1
        lacking = [d for d in DOMAINS[tool] if d not in seen]
        if lacking:
            errors.append(f"{_where(file, first, 'domain', ';'.join(g['domain']))}: assessment {a!r} lacks "
                          f"{tool} domain(s) {', '.join(lacking)}; add one row for each.")
    return errors


def _validate_coverage(df: pd.DataFrame, file: str, ev: pd.DataFrame) -> list[str]:
    errors: list[str] = []
    ev_by_id = ev.set_index("id")
    covered: dict[str, tuple[str, int]] = {}
    for a, g in df[df["assessment"] != ""].groupby("assessment", sort=False):
        i0 = g.index[0]
        row, tool, cohort, cell = int(i0) + 1, g.at[i0, "tool"], g.at[i0, "cohort"], g.at[i0, "applies_to"]
        for rid in split_ids(cell):
            if rid not in ev_by_id.index:
                errors.append(f"{_where(file, row, 'applies_to', cell)}: evidence id {rid!r} of assessment {a!r} "
                              "does not exist in the evidence table; correct the id or remove it.")
                continue
            e = ev_by_id.loc[rid]
            if rid in covered:
                errors.append(f"{_where(file, row, 'applies_to', cell)}: evidence id {rid!r} is already covered "
                              f"by assessment {covered[rid][0]!r} (row {covered[rid][1]}); each estimate belongs to "
                              "exactly one assessment, so remove it from one of them.")
                continue
            covered[rid] = (a, row)
            if e["kind"] not in ASSESSED_KINDS:
                errors.append(f"{_where(file, row, 'applies_to', cell)}: {rid!r} is a {e['kind']} row; prognostic-"
                              "factor estimates are not assessed (ROBINS-I and RoB 2 are tools for intervention "
                              "effects; see data/README.md, 3k); remove it.")
            elif tool in DOMAINS:
                need = ROB2 if e["design"] == "rct" else ROBINS_I
                if tool != need:
                    errors.append(f"{_where(file, row, 'tool', tool)}: assessment {a!r} covers {rid!r}, whose design "
                                  f"is {e['design']!r}; use {need} for it (RoB 2 for randomized trials, ROBINS-I "
                                  "for observational estimates).")
            if cohort != "" and e["cohort"] != cohort:
                errors.append(f"{_where(file, row, 'cohort', cohort)}: assessment {a!r} covers {rid!r} from cohort "
                              f"{e['cohort']!r}; an assessment covers one cohort, so split it or correct the cohort.")
    need = ev[ev["kind"].isin(ASSESSED_KINDS)]
    for r in need.itertuples():
        if r.id not in covered:
            tool = ROB2 if r.design == "rct" else ROBINS_I
            errors.append(f"{_where(r.file_, int(r.row_), 'id', r.id)}: {r.kind} ({r.design}) not covered by any "
                          f"{tool} assessment in {file}; add its id to the applies_to of one.")
    return errors


def read_risk_of_bias(path: str | Path | None = None, evidence: EvidenceTable | pd.DataFrame | None = None
                      ) -> RiskOfBias:
    """Read and validate the risk-of-bias table against the evidence it assesses.

    Parameters
    ----------
    path
        The long risk-of-bias CSV; ``None`` reads the bundled ``data/risk_of_bias.csv``.
    evidence
        The evidence it covers (an :class:`EvidenceTable`, or a frame with ``id, design, kind,
        cohort``); ``None`` reads the bundled evidence. Every treatment-effect and subgroup
        treatment-effect row must be covered by exactly one assessment of the right tool.

    Raises
    ------
    EvidenceError
        listing every problem, one line each, with file, row, column, value and the fix.
    """
    from ..paths import data_dir

    p = Path(path) if path is not None else data_dir() / "risk_of_bias.csv"
    df = _read(p)
    ev = _evidence_frame(evidence)
    file = str(p)
    errors = _validate_rows(df, file) + _validate_assessments(df, file) + _validate_coverage(df, file, ev)
    if errors:
        raise EvidenceError(errors)
    out = df[list(COLUMNS)].copy()
    out["row_"] = range(1, len(out) + 1)
    return RiskOfBias(data=out, file=file)


def check_risk_of_bias(evidence: EvidenceTable | pd.DataFrame | None = None, path: str | Path | None = None
                       ) -> list[str]:
    """Summary lines for ``sclcmeta data check`` (which validates the table with them).

    Returns a count line, one line per overall judgement level, and one line per assessment at
    serious/critical/high risk or with no information. Raises :class:`EvidenceError` (every problem,
    one line each) if the table does not validate, like :func:`read_evidence`.
    """
    rob = read_risk_of_bias(path, evidence)
    ov = rob.overall()
    n_ids = sum(len(split_ids(a)) for a in ov["applies_to"])
    lines = [f"risk of bias: {len(ov)} assessments ({(ov['tool'] == ROBINS_I).sum()} {ROBINS_I}, "
             f"{(ov['tool'] == ROB2).sum()} {ROB2}) covering {n_ids} estimates; "
             "prognostic-factor rows are not assessed"]
    for tool in (ROBINS_I, ROB2):
        counts = ov.loc[ov["tool"] == tool, "overall"].value_counts()
        if len(counts):
            txt = ", ".join(f"{j} {counts[j]}" for j in JUDGEMENTS[tool] if j in counts)
            lines.append(f"  {tool} overall: {txt}")
    for r in ov[ov["overall"].isin(["serious", "critical", "high", "no_information"])].itertuples():
        lines.append(f"  [{r.overall}] {r.assessment} ({len(split_ids(r.applies_to))} estimates): "
                     f"driven by {r.driven_by.replace(';', ', ')}")
    return lines


__all__ = ["COLUMNS", "DOMAINS", "JUDGEMENTS", "RiskOfBias", "check_risk_of_bias", "overall_judgement",
           "read_risk_of_bias", "split_ids"]

"""Load and validate evidence tables: ``read_evidence`` -> :class:`EvidenceTable`.

Errors stop (an :class:`~sclcmeta.errors.EvidenceError` listing every problem, one line each,
naming file, row, column and value, and what would fix it). Flags are kept with the rows and
reported: they mark numbers that are usable but suspicious.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import EvidenceError
from .encodings import EFFECT_INPUTS as _EFFECT_INPUTS, check_encodings as _check_encodings, derive as _derive, present as _present
from .messages import Flag, where as _where
from .reading import read_table
from .scales import MD_DERIVATIONS, SCALE_COLUMNS, apply_scales
from . import schema
from .derive import (
    Printed,
    ci_symmetric_within_rounding,
    log_asymmetry,
    p_consistent_with_ci,
    p_from_log_hr,
    parse_p,
    se_from_ci,
    z_for_level,
)


@dataclass
class EvidenceTable:
    """Validated evidence rows with log HR and SE derived, plus flags and provenance.

    Build it with :func:`read_evidence`. ``data`` holds one row per reported estimate with the
    original printed columns (strings) plus derived ``log_hr_``, ``se_``, ``se_method``,
    ``derivation`` (the extraction method used, see :data:`schema.DERIVATIONS`) and ``flags`` columns; ``studies`` and ``nodes`` are the optional study and node tables.

    Examples
    --------
    >>> from sclcmeta import read_evidence
    >>> ev = read_evidence()                      # the bundled tables
    >>> ev.data[["id", "outcome", "log_hr_", "se_"]].head()  # doctest: +SKIP
    """

    data: pd.DataFrame
    flags: list[Flag] = field(default_factory=list)
    studies: pd.DataFrame | None = None
    nodes: pd.DataFrame | None = None
    files: tuple[str, ...] = ()
    minimal: bool = False
    #: SHA-256 (16 hex digits) of the bytes of every table as they were read: the data as analysed
    data_hash: str = ""

    def __repr__(self) -> str:
        n = len(self.data)
        cohorts = self.data["cohort"].nunique() if n else 0
        kinds = self.data["kind"].value_counts().to_dict() if n else {}
        kind_txt = ", ".join(f"{v} {k}" for k, v in sorted(kinds.items()))
        return (
            f"<EvidenceTable: {n} estimates from {cohorts} cohorts ({kind_txt}); "
            f"{len(self.flags)} flags; files: {', '.join(Path(f).name for f in self.files)}>"
        )

    def _repr_html_(self) -> str:  # notebooks
        head = f"<p><b>EvidenceTable</b>: {len(self.data)} estimates, {len(self.flags)} flags</p>"
        cols = [c for c in ("id", "cohort", "line", "outcome", "kind", "population", "analysis",
                            "treatment", "comparator", "hr", "ci_low", "ci_high") if c in self.data]
        return head + self.data[cols].to_html(index=False, max_rows=30)

    def outcome(self, asked: str | None = None, where: str = "--data") -> str:
        """The outcome to analyse: ``asked``, or the table's only outcome; several and none asked is an error."""
        outcomes = sorted(self.data["outcome"].unique())
        if asked:
            return asked
        if len(outcomes) != 1:
            raise EvidenceError(f"{where}: the file has outcomes {', '.join(outcomes)}; choose one with --outcome.")
        return outcomes[0]

    def flags_frame(self) -> pd.DataFrame:
        """Flags as a table: ``code, id, message``."""
        return pd.DataFrame([{"code": f.code, "id": f.row_id, "message": f.message} for f in self.flags],
                            columns=["code", "id", "message"])

    def patient_pool(self, cohort: str) -> str:
        """The patient pool a cohort belongs to (cohorts sharing patients share a pool)."""
        if self.studies is not None and cohort in set(self.studies["cohort"]):
            return str(self.studies.set_index("cohort").loc[cohort, "patient_pool"])
        return cohort

    def covariates(self) -> pd.DataFrame:
        """Study-level covariates indexed by cohort (numeric columns of the study table)."""
        if self.studies is None:
            return pd.DataFrame()
        st = self.studies.set_index("cohort")
        out = {}
        for c in schema.STUDY_COVARIATES:
            if c in st.columns:
                out[c] = pd.to_numeric(st[c].replace("", np.nan), errors="coerce")
        return pd.DataFrame(out)


#: Column names a user's evidence CSV is checked against for near-misses ("ci_levl" -> "ci_level").
KNOWN_COLUMNS = tuple(dict.fromkeys(schema.FULL_REQUIRED + schema.OPTIONAL + schema.EFFECT_COLUMNS
                                    + schema.NUMERIC_COLUMNS + schema.DERIVATION_COLUMNS + schema.MINIMAL_REQUIRED
                                    + ("study", "shared_var", "factor", "population") + SCALE_COLUMNS))


def _read_csv(path: Path, hasher=None, known: tuple[str, ...] = ()) -> pd.DataFrame:
    return read_table(path, known=known, hasher=hasher, what="evidence")


def _is_minimal(df: pd.DataFrame) -> bool:
    return "source" not in df.columns and "id" not in df.columns


def _check_minimal_studies(df: pd.DataFrame, file: str) -> None:
    """A user's table: one study name per study, and each comparison of a study (either way round) once."""
    errors = []
    names: dict[str, tuple[str, int]] = {}
    for i, st in enumerate(df["study"], start=1):
        key = " ".join(str(st).split()).casefold()
        if key in names and names[key][0] != st:
            errors.append(f"{_where(file, i, 'study', st)}: looks like study {names[key][0]!r} of row {names[key][1]} "
                          "written differently (case or spaces); write one study one way, or give them clearly "
                          "different names if they are different studies.")
        names.setdefault(key, (st, i))
    pop = df["population"] if "population" in df.columns else pd.Series("overall", index=df.index)
    seen: dict[tuple, int] = {}
    for i, (st, t, c, o, pp) in enumerate(zip(df["study"], df["treatment"], df["comparator"], df["outcome"], pop),
                                          start=1):
        key = (st, tuple(sorted((t, c))), o, pp)
        if key in seen:
            errors.append(f"{_where(file, i, 'study', st)}: study {st!r} reports {t} vs {c} ({o}, {pp}) again (first "
                          f"in row {seen[key]}); a study enters a likelihood once per comparison: keep one row, or give "
                          "the rows different populations if they are different subgroups.")
        seen.setdefault(key, i)
    if errors:
        raise EvidenceError(errors)


def _minimal_to_full(df: pd.DataFrame, file: str) -> pd.DataFrame:
    missing = [c for c in schema.MINIMAL_REQUIRED if c not in df.columns]
    has_group = [all(c in df.columns for c in g) for g in schema.MINIMAL_EFFECT_GROUPS]
    if missing or not any(has_group):
        need = list(missing)
        if not any(has_group):
            need.append("hr, ci_low, ci_high (or log_hr, se) or another encoding of the effect")
        groups = "; ".join(", ".join(g) for g in schema.MINIMAL_EFFECT_GROUPS)
        raise EvidenceError(
            f"{file}: missing required column(s) {', '.join(need)}. The minimal import format is "
            "'study, treatment, comparator, outcome' plus one set of effect columns, any of: "
            f"{groups} (see data/README.md section 1.4); add the missing column(s) to the header."
        )
    _check_minimal_studies(df, file)
    out = df.copy()
    ids = []
    seen: dict[str, int] = {}
    for _, r in df.iterrows():
        base = f"{r['study']}:{r['treatment']} vs {r['comparator']}:{r['outcome']}"
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    out["id"] = ids
    out["cohort"] = df["study"]
    out["publication"] = df["study"]
    defaults = {"line": "", "design": "", "kind": "treatment_effect", "population": "overall",
                "analysis": "unadjusted", "source": file, "location": "", "quote": ""}
    for c, v in defaults.items():
        if c not in out.columns:
            out[c] = v
    return out


#: Every column an effect can be derived from (filled with "" when a file lacks it).
def _validate(df: pd.DataFrame, file: str, minimal: bool, nodes: set[str] | None) -> list[str]:
    errors: list[str] = []
    required = schema.MINIMAL_REQUIRED if minimal else schema.FULL_REQUIRED
    missing = [c for c in required if c not in df.columns]
    if missing:
        return [f"{file}: missing required column(s) {', '.join(missing)}; add them to the header "
                f"(see data/README.md for the column dictionary)."]
    for c in _EFFECT_INPUTS:
        if c not in df.columns:
            df[c] = ""
    dup = df["id"][df["id"].duplicated(keep=False) & (df["id"] != "")]
    for i in dup.index:
        first = int(df.index[df["id"] == df.at[i, "id"]][0]) + 1
        if i + 1 != first:
            errors.append(f"{_where(file, i + 1, 'id', df.at[i, 'id'])}: duplicate id (first used in row {first}); "
                          "give every estimate its own id.")
    for i, r in df.iterrows():
        errors.extend(_row_errors(r, int(i) + 1, file, minimal, nodes))
    return errors


def _row_errors(r: pd.Series, row: int, file: str, minimal: bool, nodes: set[str] | None) -> list[str]:
    """Every problem of one data row (1-based ``row``), each naming file, row, column and value."""
    errors: list[str] = []
    n_before = 0
    if r["id"] == "":
        errors.append(f"{_where(file, row, 'id', '')}: empty id; give the row a unique id.")
    if not minimal:
        for c in schema.PROVENANCE:
            if r.get(c, "") == "":
                errors.append(f"{_where(file, row, c, '')}: missing provenance; every number needs its "
                              "source (seed file or DOI), location (table/section) and a verbatim quote.")
    for c, allowed in schema.CATEGORIES.items():
        v = r.get(c, "")
        if v != "" and v not in allowed:
            errors.append(f"{_where(file, row, c, v)}: not a known {c}; use one of {', '.join(allowed)}.")
    errors.extend(_outcome_errors(r.get("outcome", ""), file, row))
    nums = _numbers(r, file, row, errors)
    for c in schema.POSITIVE_COLUMNS:
        if c in nums and nums[c] <= 0:
            why = ("hazard ratios and their bounds are > 0; write a log HR in 'log_hr' instead"
                   if c in ("hr", "ci_low", "ci_high", "se") else
                   "a log-rank variance, an event count, an allocation ratio and a median are > 0")
            errors.append(f"{_where(file, row, c, r[c])}: must be positive ({why}).")
    if "ci_level" in nums and not 0 < nums["ci_level"] < 1:
        errors.append(f"{_where(file, row, 'ci_level', r['ci_level'])}: CI level must be a proportion "
                      "such as 0.95 (not 95).")
    if r.get("p_value", "") != "":
        try:
            parse_p(r["p_value"])
        except ValueError:
            errors.append(f"{_where(file, row, 'p_value', r['p_value'])}: not a p-value; write e.g. 0.003 or <0.001.")
    lo, hr, hi = nums.get("ci_low"), nums.get("hr"), nums.get("ci_high")
    if lo is not None and hi is not None and lo > 0 and hi > 0:
        if lo >= hi:
            errors.append(f"{_where(file, row, 'ci_low', r['ci_low'])}: lower bound is not below the upper "
                          f"bound {r['ci_high']!r}; check the order of ci_low and ci_high.")
        elif hr is not None and hr > 0 and not lo <= hr <= hi:
            col = "ci_low" if hr < lo else "ci_high"
            errors.append(f"{_where(file, row, col, r[col])}: bounds ({r['ci_low']}, {r['ci_high']}) do not "
                          f"bracket the HR {r['hr']}; check the transcription (a swapped or mistyped digit).")
    has_ci = lo is not None and hi is not None
    has_log = "log_hr" in nums and "se" in nums
    has_p = hr is not None and r.get("p_value", "") != ""
    errors.extend(_check_encodings(r, nums, file, row, classic=has_ci or has_log or has_p))
    if has_ci and has_log:
        errors.extend(_ci_vs_log_hr(r, nums, file, row))
    has_other = any(_present(r, nums)[k] for k in ("o_minus_e_v", "logrank_p_events", "medians_exponential"))
    # a row whose effect columns already drew an error (e.g. V not a number) needs no second message
    effect_error = any(f"column '{c}'" in e for e in errors[n_before:] for c in _EFFECT_INPUTS)
    if not (has_ci or has_log or has_p or has_other or effect_error):
        errors.append(f"{_where(file, row, 'hr', r.get('hr', ''))}: no usable estimate; give hr with ci_low "
                      "and ci_high, or log_hr with se, or hr with p_value, or o_minus_e with v, or logrank_p "
                      "with favours and the events (events_total, or events_treatment and "
                      "events_comparator), or both medians with the events in each arm.")
    if nodes is not None and r.get("kind") in ("treatment_effect", "subgroup_treatment_effect"):
        for c in ("treatment", "comparator"):
            if r[c] not in nodes:
                errors.append(f"{_where(file, row, c, r[c])}: unknown treatment node; add it to nodes.csv "
                              f"or use one of {', '.join(sorted(nodes)[:5])}, ...")
    return errors


def _ci_vs_log_hr(r: pd.Series, nums: dict[str, float], file: str, row: int) -> list[str]:
    """A row giving both the HR with its CI and log_hr with se: they must describe the same estimate.

    Agreement is judged within printed rounding: some unrounded HR and bounds consistent with the printed
    digits must give the printed log HR and SE (each within half a unit of their own last digit).
    """
    level = nums.get("ci_level", 0.95)
    lo_p, hi_p = Printed.parse(r["ci_low"]), Printed.parse(r["ci_high"])
    lh_p, se_p = Printed.parse(r["log_hr"]), Printed.parse(r["se"])
    if "hr" in nums:
        hr_p = Printed.parse(r["hr"])
        b_lo, b_hi = math.log(max(hr_p.low, 1e-300)), math.log(hr_p.high)
    else:
        b_lo = 0.5 * (math.log(max(lo_p.low, 1e-300)) + math.log(max(hi_p.low, 1e-300)))
        b_hi = 0.5 * (math.log(lo_p.high) + math.log(hi_p.high))
    corners = [se_from_ci(a, b, level) for a in (lo_p.low, lo_p.high) for b in (hi_p.low, hi_p.high) if 0 < a < b]
    ok_b = b_lo - lh_p.half_ulp <= lh_p.value <= b_hi + lh_p.half_ulp
    ok_s = bool(corners) and min(corners) - se_p.half_ulp <= se_p.value <= max(corners) + se_p.half_ulp
    if ok_b and ok_s:
        return []
    return [f"{_where(file, row, 'log_hr', r['log_hr'])}: the row gives the estimate twice and the two disagree: "
            f"log_hr {r['log_hr']} (se {r['se']}) vs HR {r.get('hr', '') or '(none)'} with CI {r['ci_low']}-"
            f"{r['ci_high']} (log HR {(b_lo + b_hi) / 2:.4f}, SE {sum(corners) / max(len(corners), 1):.4f}); "
            "keep one encoding, or correct the transcription."]


def _outcome_errors(v: str, file: str, row: int) -> list[str]:
    """Any time-to-event label (OS, PFS, DFS, EFS, TTP...) is an outcome; a case variant of a common one is not."""
    if not re.match(schema.OUTCOME_LABEL, v):
        return [f"{_where(file, row, 'outcome', v)}: not an outcome label; write a short name such as OS, PFS, DFS, "
                "EFS or TTP (a letter, then letters, digits, '_', '-' or '+')."]
    for known in schema.TIME_TO_EVENT_OUTCOMES:
        if v != known and v.casefold() == known.casefold():
            return [f"{_where(file, row, 'outcome', v)}: write {known!r} (outcome labels are case-sensitive, and "
                    f"{v!r} would be a different outcome from {known!r})."]
    return []


def _numbers(r: pd.Series, file: str, row: int, errors: list[str]) -> dict[str, float]:
    """The row's numeric cells as floats; a cell that is not a finite number adds an error instead."""
    nums: dict[str, float] = {}
    for c in schema.NUMERIC_COLUMNS:
        v = r.get(c, "")
        if v == "":
            continue
        try:
            x = float(v)
        except ValueError:
            errors.append(f"{_where(file, row, c, v)}: not a number; write a plain decimal such as 0.75.")
            continue
        if not math.isfinite(x):
            errors.append(f"{_where(file, row, c, v)}: not a finite number.")
            continue
        nums[c] = x
    return nums


def _flags(df: pd.DataFrame) -> list[Flag]:
    flags: list[Flag] = []
    for _, r in df.iterrows():
        rid = r["id"]
        if r["se_method"] == "unusable":
            flags.append(Flag("no_se", rid, f"HR {r['hr']} with p {r['p_value']} gives no standard error; "
                                            "the row is kept for the record but cannot enter a likelihood."))
        if r["se_method"] in ("p_value", "p_bound"):
            extra = (" The p-value is printed as a bound, so the SE is an upper bound (conservative)."
                     if r["se_method"] == "p_bound" else "")
            flags.append(Flag("se_from_p", rid, f"SE derived from HR {r['hr']} and p {r['p_value']} "
                                                f"(no CI printed).{extra}"))
        if r["se_method"] == "ci_midpoint":
            flags.append(Flag("hr_from_ci", rid, "no HR printed; log HR taken as the midpoint of the log CI."))
        if r["derivation"] == "logrank_p_events":
            events = (f"events {r['events_treatment']} vs {r['events_comparator']}"
                      if r["events_treatment"] != "" and r["events_comparator"] != "" else
                      f"{r['events_total']} events, allocation {r['allocation_ratio'] or '1'}:1")
            bound = (" The p is printed as a bound, so |log HR| is a lower bound (biased towards no effect)."
                     if parse_p(r["logrank_p"])[1] != "=" else "")
            flags.append(Flag("se_from_logrank_p", rid,
                              f"log HR and SE derived from the log-rank p {r['logrank_p']} favouring the "
                              f"{r['favours']} and {events} (Parmar 1998; Tierney 2007); no HR with CI "
                              f"used.{bound}"))
        if r["derivation"] == "medians_exponential":
            flags.append(Flag("hr_from_medians", rid,
                              f"HR {math.exp(r['log_hr_']):.3g} is the ratio of the medians "
                              f"({r['median_comparator']} / {r['median_treatment']} months) with variance "
                              "1/E_t + 1/E_c: the weakest method; it assumes exponential survival; treat as a "
                              "sensitivity estimate."))
        if r["alternatives_"]:
            flags.append(Flag("derivation_alternatives", rid,
                              f"derived from {r['derivation']} (HR {math.exp(r['log_hr_']):.3g}, SE "
                              f"{r['se_']:.3g}), but {r['alternatives_']}; check the transcription of both."))
        if r["hr"] != "" and r["ci_low"] != "" and r["ci_high"] != "":
            hr, lo, hi = (Printed.parse(r[c]) for c in ("hr", "ci_low", "ci_high"))
            if not ci_symmetric_within_rounding(hr, lo, hi):
                a = log_asymmetry(hr.value, lo.value, hi.value)
                flags.append(Flag("ci_asymmetric", rid,
                                  f"CI ({r['ci_low']}-{r['ci_high']}) is not symmetric about HR {r['hr']} on the "
                                  f"log scale beyond printed rounding (upper minus lower log half-width {a:+.3f}); "
                                  "possible transcription or printing error, or a non-Wald interval."))
            if r["p_value"] != "" and r["se_method"] == "ci":
                try:
                    ok = p_consistent_with_ci(r["p_value"], r["log_hr_"], r["se_"])
                except ValueError:
                    ok = True
                if not ok:
                    implied = p_from_log_hr(r["log_hr_"], r["se_"])
                    one_sided = p_consistent_with_ci(r["p_value"], r["log_hr_"], r["se_"], sides=1)
                    hint = (" It matches a one-sided p-value (half the two-sided one)." if one_sided else
                            " Check the transcription; the CI is used, not the p-value.")
                    flags.append(Flag("p_inconsistent", rid, f"printed p {r['p_value']} disagrees with the "
                                      f"two-sided p implied by the CI ({implied:.3g}).{hint}"))
        if (r.get("median_treatment", "") not in ("", None) and r.get("median_comparator", "") not in ("", None)
                and r["kind"] != "prognostic_factor" and math.isfinite(r["se_"])):
            mt, mc = float(r["median_treatment"]), float(r["median_comparator"])
            if mt > 0 and mc > 0 and r["log_hr_"] != 0 and np.sign(math.log(mc / mt)) != np.sign(r["log_hr_"]) \
                    and abs(math.log(mc / mt)) > 0.05:
                flags.append(Flag("direction_vs_medians", rid,
                                  f"HR {math.exp(r['log_hr_']):.3g} ({r['treatment']} vs {r['comparator']}) "
                                  f"points the other way from the medians ({mt} vs {mc} months); check which arm "
                                  "is the reference."))
        if math.isfinite(r["se_"]) and abs(r["log_hr_"]) > math.log(5) and r.get("scale", "log_hr") != "md":
            flags.append(Flag("implausible_effect", rid,
                              f"HR {math.exp(r['log_hr_']):.3g} is beyond 1/5-5, implausibly large for this setting; "
                              "check the direction and the reference level."))
        for cf in filter(None, (c.strip() for c in str(r.get("curator_flags", "")).split("|"))):
            code, _, msg = cf.partition(":")
            flags.append(Flag(code.strip(), rid, (msg.strip() or "declared by the curator") + " (see notes)"))
    flags.extend(_discordance_flags(df))
    return flags


def _discordance_flags(df: pd.DataFrame) -> list[Flag]:
    """Estimates of the same comparison in the same cohort that differ more than two-fold."""
    flags: list[Flag] = []
    keys = ["cohort", "outcome", "kind", "population", "treatment", "comparator"]
    ratio = df["scale"] != "md" if "scale" in df.columns else True
    for _, g in df[(df["kind"] != "prognostic_factor") & ratio].groupby(keys):
        g = g[np.isfinite(g["se_"])]
        if len(g) < 2:
            continue
        lo_i, hi_i = g["log_hr_"].idxmin(), g["log_hr_"].idxmax()
        if g.at[hi_i, "log_hr_"] - g.at[lo_i, "log_hr_"] > math.log(2):
            flags.append(Flag("discordant_estimates", g.at[lo_i, "id"],
                              f"HR {math.exp(g.at[lo_i, 'log_hr_']):.3g} ({g.at[lo_i, 'analysis']}) differs more than "
                              f"two-fold from HR {math.exp(g.at[hi_i, 'log_hr_']):.3g} ({g.at[hi_i, 'analysis']}, "
                              f"{g.at[hi_i, 'id']}) for the same comparison in the same cohort."))
    return flags


def _read_aux(path: Path, required: tuple[str, ...], what: str, hasher=None) -> pd.DataFrame:
    df = _read_csv(path, hasher)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise EvidenceError(f"{path}: missing required column(s) {', '.join(missing)} of the {what} table; "
                            "add them to the header (see data/README.md).")
    return df


def _check_cohorts_known(data: pd.DataFrame, study_df: pd.DataFrame, studies) -> None:
    bad = data[~data["cohort"].isin(set(study_df["cohort"]))]
    if len(bad):
        i = bad.index[0]
        raise EvidenceError(f"{_where(data.at[i, 'file_'], int(data.at[i, 'row_']), 'cohort', data.at[i, 'cohort'])}: "
                            f"cohort not in the study table {studies}; add a row for it there.")


def read_evidence(
    paths: str | Path | list[str | Path] | None = None,
    *,
    studies: str | Path | None = None,
    nodes: str | Path | None = None,
    scale: str | None = None,
) -> EvidenceTable:
    """Read, validate and derive log HR/SE for one or more evidence CSVs.

    Parameters
    ----------
    paths
        Evidence CSV(s) in the full format (``data/evidence.csv``) or the minimal import format
        (``study, treatment, comparator, outcome, hr, ci_low, ci_high`` or ``log_hr, se``, or any
        encoding of :data:`schema.MINIMAL_EFFECT_GROUPS`: log-rank ``o_minus_e, v``, a ``logrank_p``
        with ``favours`` and the events, or the medians with the events per arm; see
        ``data/README.md`` 1.4 and 2.3). ``None`` reads the bundled tables, with their study and node tables.
    studies, nodes
        Optional study and treatment-node tables. With a node table, every treatment node is checked.
    scale
        The effect scale of rows without a ``scale`` column (default log HR): ``log_hr``, ``log_or``,
        ``log_rr`` or ``md``; see :mod:`sclcmeta.evidence.scales` for the columns each scale accepts.

    Raises
    ------
    EvidenceError
        listing every problem, one line each, with file, row, column, value and the fix.

    Examples
    --------
    >>> ev = read_evidence()
    >>> sorted(ev.data["outcome"].unique())
    ['OS', 'PFS']
    """
    from ..paths import data_dir

    if paths is None:
        d = data_dir()
        paths = [d / "evidence.csv"]
        studies = studies or d / "studies.csv"
        nodes = nodes or d / "nodes.csv"
    if isinstance(paths, (str, Path)):
        paths = [paths]
    paths = [Path(p) for p in paths]
    hasher = hashlib.sha256()
    node_df = _read_aux(Path(nodes), schema.NODE_REQUIRED, "treatment-node", hasher) if nodes else None
    study_df = _read_aux(Path(studies), schema.STUDY_REQUIRED, "study", hasher) if studies else None
    node_set = set(node_df["node"]) if node_df is not None else None
    frames, errors, minimal_any = [], [], False
    for p in paths:
        raw = _read_csv(p, hasher, KNOWN_COLUMNS)
        raw, scale_errors = apply_scales(raw, str(p), scale)
        if scale_errors:
            errors.extend(scale_errors)
            continue
        minimal = _is_minimal(raw)
        minimal_any |= minimal
        df = _minimal_to_full(raw, str(p)) if minimal else raw
        errs = _validate(df, str(p), minimal, None if minimal else node_set)
        errors.extend(errs)
        df["file_"] = str(p)
        df["row_"] = np.arange(1, len(df) + 1)
        frames.append(df)
    if errors:
        raise EvidenceError(errors)
    data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    dup = data["id"][data["id"].duplicated()]
    if len(dup):
        i = dup.index[0]
        raise EvidenceError(f"{_where(data.at[i, 'file_'], int(data.at[i, 'row_']), 'id', data.at[i, 'id'])}: "
                            "duplicate id across files; give every estimate its own id.")
    if study_df is not None:
        _check_cohorts_known(data, study_df, studies)
    data = _derive(data)
    if "md_derivation_" in data.columns:   # mean differences: the derivation says how their SE was obtained
        data["md_derivation_"] = data["md_derivation_"].fillna("")
        md = data["md_derivation_"].isin(MD_DERIVATIONS)
        data.loc[md, "derivation"] = data.loc[md, "md_derivation_"]
        data.loc[md, "se_method"] = data.loc[md, "md_derivation_"]
        data["md_reported_"] = data.get("md_reported_", pd.Series("", index=data.index)).fillna("")
    data["patient_pool"] = (data["cohort"].map(study_df.set_index("cohort")["patient_pool"])
                            if study_df is not None else data["cohort"])
    flags = _flags(data)
    by_id: dict[str, list[str]] = {}
    for f in flags:
        by_id.setdefault(f.row_id, []).append(f.code)
    data["flags"] = data["id"].map(lambda i: ";".join(by_id.get(i, [])))
    files = tuple(str(p) for p in paths) + tuple(str(x) for x in (studies, nodes) if x)
    return EvidenceTable(data=data, flags=flags, studies=study_df, nodes=node_df, files=files, minimal=minimal_any,
                         data_hash=hasher.hexdigest()[:16])


__all__ = ["EvidenceTable", "Flag", "read_evidence", "z_for_level"]

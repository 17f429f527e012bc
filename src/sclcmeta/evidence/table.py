"""Load and validate evidence tables: ``read_evidence`` -> :class:`EvidenceTable`.

Errors stop (an :class:`~sclcmeta.errors.EvidenceError` listing every problem, one line each,
naming file, row, column and value, and what would fix it). Flags are kept with the rows and
reported: they mark numbers that are usable but suspicious.
"""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import EvidenceError
from . import schema
from .derive import (
    Printed,
    ci_symmetric_within_rounding,
    from_logrank_p,
    from_logrank_p_arm_events,
    from_medians,
    from_o_minus_e,
    log_asymmetry,
    p_consistent_with_ci,
    p_from_log_hr,
    parse_p,
    se_from_ci,
    se_from_p,
    z_for_level,
)


@dataclass(frozen=True)
class Flag:
    """A suspicious but usable number, kept with its row and reported by ``sclcmeta data check``."""

    code: str
    row_id: str
    message: str

    def __str__(self) -> str:
        return f"[{self.code}] {self.row_id}: {self.message}"


def _where(file: str, row: int, column: str, value: object) -> str:
    # row is the 1-based data row; the file line is row + 1 because of the header
    return f"{file}, row {row} (line {row + 1}), column '{column}', value {value!r}"


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


def _read_csv(path: Path, hasher=None) -> pd.DataFrame:
    if not path.exists():
        raise EvidenceError(f"{path}: file not found. Give the path of an evidence CSV.")
    raw = path.read_bytes()
    if hasher is not None:
        hasher.update(raw)
    try:
        df = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, skipinitialspace=False)
    except pd.errors.ParserError as exc:  # pragma: no cover - message passthrough
        raise EvidenceError(f"{path}: not a readable CSV ({exc}). Check quoting and commas.") from exc
    df.columns = [c.strip() for c in df.columns]
    return df.apply(lambda col: col.str.strip())


def _is_minimal(df: pd.DataFrame) -> bool:
    return "source" not in df.columns and "id" not in df.columns


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
_EFFECT_INPUTS = schema.EFFECT_COLUMNS + schema.DERIVATION_COLUMNS + ("median_treatment", "median_comparator")
#: Two encodings of one row disagree "beyond rounding" when their log HRs differ by more than this
#: (about 5% on the HR scale) or their SEs by more than a factor of 1.25 (log-rank and Cox estimates of
#: the same trial usually agree far closer; rounding of printed O - E, V or p moves them much less).
ALTERNATIVE_TOL_LOG_HR = 0.05
ALTERNATIVE_TOL_SE_RATIO = 1.25
_CLASSIC = ("log_hr_se", "ci", "ci_midpoint", "hr_p", "hr_p_bound")
_SE_METHOD = {"log_hr_se": "given", "hr_p": "p_value", "hr_p_bound": "p_bound"}


def _present(r: pd.Series, nums: dict[str, float]) -> dict[str, bool]:
    """Which of the non-classic encodings a validated row carries completely."""
    per_arm = "events_treatment" in nums and "events_comparator" in nums
    return {
        "o_minus_e_v": "o_minus_e" in nums and "v" in nums,
        "logrank_p_events": (r.get("logrank_p", "") != "" and r.get("favours", "") in schema.FAVOURS
                             and ("events_total" in nums or per_arm)),
        "medians_exponential": per_arm and "median_treatment" in nums and "median_comparator" in nums,
    }


def _check_encodings(r: pd.Series, nums: dict[str, float], file: str, row: int, classic: bool) -> list[str]:
    """Errors for the O - E/V, log-rank and medians columns of one row (incomplete or invalid)."""
    errors: list[str] = []
    oe, v = r.get("o_minus_e", ""), r.get("v", "")
    if (oe != "") != (v != ""):
        gap = "v" if v == "" else "o_minus_e"
        errors.append(f"{_where(file, row, gap, '')}: O - E and V come as a pair; give both o_minus_e and v "
                      "(the log-rank observed minus expected events of the treatment arm and its variance).")
    fav = r.get("favours", "")
    if fav != "" and fav not in schema.FAVOURS:
        errors.append(f"{_where(file, row, 'favours', fav)}: not a direction; use one of "
                      f"{', '.join(schema.FAVOURS)} (the arm the log-rank p-value favours).")
    lp = r.get("logrank_p", "")
    per_arm = "events_treatment" in nums and "events_comparator" in nums
    if lp != "":
        try:
            value, op = parse_p(lp)
        except ValueError:
            errors.append(f"{_where(file, row, 'logrank_p', lp)}: not a p-value; write e.g. 0.003 or <0.001.")
        else:
            if not 0.0 < value < 1.0:
                errors.append(f"{_where(file, row, 'logrank_p', lp)}: a log-rank p-value must lie strictly "
                              "between 0 and 1 to give an estimate.")
            elif op in (">", ">="):
                errors.append(f"{_where(file, row, 'logrank_p', lp)}: a p printed as a lower bound gives no "
                              "estimate; give the exact p, or leave logrank_p empty.")
        if fav == "":
            errors.append(f"{_where(file, row, 'favours', '')}: a log-rank p-value has no sign; say which arm "
                          f"it favours ({' or '.join(schema.FAVOURS)}).")
        if "events_total" not in nums and not per_arm:
            errors.append(f"{_where(file, row, 'events_total', r.get('events_total', ''))}: a log-rank p-value "
                          "needs the number of events: events_total (with allocation_ratio if not 1:1), or "
                          "events_treatment and events_comparator.")
        if "events_total" in nums and per_arm and \
                abs(nums["events_total"] - nums["events_treatment"] - nums["events_comparator"]) > 0.5:
            errors.append(f"{_where(file, row, 'events_total', r['events_total'])}: not the sum of "
                          f"events_treatment {r['events_treatment']} and events_comparator "
                          f"{r['events_comparator']}; check the counts.")
    attempted = oe != "" or v != "" or lp != ""
    med_cols = ("median_treatment", "median_comparator", "events_treatment", "events_comparator")
    if not (classic or attempted) and any(r.get(c, "") != "" for c in med_cols):
        for c in med_cols:
            if r.get(c, "") == "":
                errors.append(f"{_where(file, row, c, '')}: the medians method (exponential survival) needs "
                              "both medians and both event counts (median_treatment, median_comparator, "
                              "events_treatment, events_comparator); give the missing one or another encoding.")
    return errors


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
        if c == "outcome" or v != "":
            if v not in allowed:
                errors.append(f"{_where(file, row, c, v)}: not a known {c}; use one of {', '.join(allowed)}.")
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


def _encodings(r: pd.Series) -> list[tuple[str, float, float]]:
    """Every ``(derivation, log_hr, se)`` a validated row supports, strongest first.

    Order: ``log_hr_se`` (given), a CI (``ci``/``ci_midpoint``), log-rank ``O - E`` and ``V``, a
    log-rank p with the events, HR with p (``hr_p``/``hr_p_bound``), medians under exponential
    survival. ``unusable`` (a p that gives no SE) is last: any other encoding beats it.
    """
    out: list[tuple[str, float, float]] = []
    num = {c: float(r[c]) for c in _EFFECT_INPUTS if c not in ("p_value", "logrank_p", "favours") and r[c] != ""}
    if "log_hr" in num and "se" in num:
        out.append(("log_hr_se", num["log_hr"], num["se"]))
    if "ci_low" in num and "ci_high" in num:
        lo, hi = num["ci_low"], num["ci_high"]
        s = se_from_ci(lo, hi, num.get("ci_level", 0.95))
        if "hr" in num:
            out.append(("ci", math.log(num["hr"]), s))
        else:
            out.append(("ci_midpoint", 0.5 * (math.log(lo) + math.log(hi)), s))
    if "o_minus_e" in num and "v" in num:
        out.append(("o_minus_e_v", *from_o_minus_e(num["o_minus_e"], num["v"])))
    if r["logrank_p"] != "":
        p, _ = parse_p(r["logrank_p"])
        if "events_treatment" in num and "events_comparator" in num:
            b, s = from_logrank_p_arm_events(p, num["events_treatment"], num["events_comparator"], r["favours"])
        else:
            b, s = from_logrank_p(p, num["events_total"], num.get("allocation_ratio", 1.0), r["favours"])
        out.append(("logrank_p_events", b, s))
    unusable = None
    if "hr" in num and r["p_value"] != "":
        hr = num["hr"]
        p, op = parse_p(r["p_value"])
        if p <= 0 or p >= 1 or hr == 1:
            unusable = ("unusable", math.log(hr), float("nan"))
        else:
            out.append(("hr_p" if op == "=" else "hr_p_bound", math.log(hr), se_from_p(hr, p)))
    if all(c in num for c in ("median_treatment", "median_comparator", "events_treatment", "events_comparator")):
        out.append(("medians_exponential", *from_medians(num["median_treatment"], num["median_comparator"],
                                                         num["events_treatment"], num["events_comparator"])))
    if unusable is not None:
        out.append(unusable)
    return out


def _disagreeing(chosen: tuple[str, float, float], others: list[tuple[str, float, float]]) -> str:
    """Text naming the other encodings of a row that disagree with the chosen one beyond rounding."""
    name, b, s = chosen
    msgs = []
    for alt, b2, s2 in others:
        if name in _CLASSIC and alt in _CLASSIC:  # CI vs HR with p: the p_inconsistent check covers it
            continue
        if not (math.isfinite(s) and math.isfinite(s2)):
            continue
        if abs(b2 - b) > ALTERNATIVE_TOL_LOG_HR or max(s2 / s, s / s2) > ALTERNATIVE_TOL_SE_RATIO:
            msgs.append(f"{alt} gives HR {math.exp(b2):.3g} (SE {s2:.3g})")
    return "; ".join(msgs)


def _derive(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``log_hr_``, ``se_``, ``se_method``, ``derivation`` (validated input assumed).

    ``derivation`` names the encoding used (:data:`schema.DERIVATIONS`); ``se_method`` keeps its older
    vocabulary (``given``, ``ci``, ``ci_midpoint``, ``p_value``, ``p_bound``, ``unusable``) and takes the
    ``derivation`` name for the newer encodings. ``alternatives_`` lists other encodings of the same row
    that disagree with the chosen one beyond rounding (flag ``derivation_alternatives``).
    """
    log_hr, se, method, derivation, alternatives = [], [], [], [], []
    for _, r in df.iterrows():
        encs = _encodings(r)
        chosen = encs[0]
        derivation.append(chosen[0])
        method.append(_SE_METHOD.get(chosen[0], chosen[0]))
        log_hr.append(chosen[1])
        se.append(chosen[2])
        alternatives.append(_disagreeing(chosen, encs[1:]))
    out = df.copy()
    out["log_hr_"] = log_hr
    out["se_"] = se
    out["se_method"] = method
    out["derivation"] = derivation
    out["alternatives_"] = alternatives
    return out


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
        if math.isfinite(r["se_"]) and abs(r["log_hr_"]) > math.log(5):
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
    for _, g in df[df["kind"] != "prognostic_factor"].groupby(keys):
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
        raw = _read_csv(p, hasher)
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

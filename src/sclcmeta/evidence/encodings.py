"""Which encodings of an estimate a row carries, their checks, and the derivation of log HR and SE from the strongest.

Encodings, strongest first: log HR with SE (given), a CI, log-rank O - E and V, a log-rank p with the events,
HR with p, medians with events under exponential survival (weakest). Every row records its ``derivation``;
other encodings that disagree with it beyond rounding are flagged (``derivation_alternatives``).
"""

from __future__ import annotations

import math

import pandas as pd

from . import schema
from .derive import (from_logrank_p, from_logrank_p_arm_events, from_medians, from_o_minus_e, parse_p, se_from_ci,
                     se_from_p)
from .messages import where as _where

EFFECT_INPUTS = schema.EFFECT_COLUMNS + schema.DERIVATION_COLUMNS + ("median_treatment", "median_comparator")
#: Two encodings of one row disagree "beyond rounding" when their log HRs differ by more than this
#: (about 5% on the HR scale) or their SEs by more than a factor of 1.25 (log-rank and Cox estimates of
#: the same trial usually agree far closer; rounding of printed O - E, V or p moves them much less).
ALTERNATIVE_TOL_LOG_HR = 0.05
ALTERNATIVE_TOL_SE_RATIO = 1.25
_CLASSIC = ("log_hr_se", "ci", "ci_midpoint", "hr_p", "hr_p_bound")
_SE_METHOD = {"log_hr_se": "given", "hr_p": "p_value", "hr_p_bound": "p_bound"}


def present(r: pd.Series, nums: dict[str, float]) -> dict[str, bool]:
    """Which of the non-classic encodings a validated row carries completely."""
    per_arm = "events_treatment" in nums and "events_comparator" in nums
    return {
        "o_minus_e_v": "o_minus_e" in nums and "v" in nums,
        "logrank_p_events": (r.get("logrank_p", "") != "" and r.get("favours", "") in schema.FAVOURS
                             and ("events_total" in nums or per_arm)),
        "medians_exponential": per_arm and "median_treatment" in nums and "median_comparator" in nums,
    }


def check_encodings(r: pd.Series, nums: dict[str, float], file: str, row: int, classic: bool) -> list[str]:
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



def _encodings(r: pd.Series) -> list[tuple[str, float, float]]:
    """Every ``(derivation, log_hr, se)`` a validated row supports, strongest first.

    Order: ``log_hr_se`` (given), a CI (``ci``/``ci_midpoint``), log-rank ``O - E`` and ``V``, a
    log-rank p with the events, HR with p (``hr_p``/``hr_p_bound``), medians under exponential
    survival. ``unusable`` (a p that gives no SE) is last: any other encoding beats it.
    """
    out: list[tuple[str, float, float]] = []
    num = {c: float(r[c]) for c in EFFECT_INPUTS if c not in ("p_value", "logrank_p", "favours") and r[c] != ""}
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


def derive(df: pd.DataFrame) -> pd.DataFrame:
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



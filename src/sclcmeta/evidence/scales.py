"""Effect scales of a user's table: the ``scale`` column, its alias columns, and mean differences.

A row's ``scale`` is one of :data:`sclcmeta.vocabulary.SCALES`: ``log_hr`` (the default), ``log_or``,
``log_rr`` or ``md``. A file without a ``scale`` column takes the scale its columns name (an ``or`` or
``log_or`` column means log OR, ``rr``/``log_rr`` log RR, ``md`` mean difference), else the default
(``--scale`` on the command line, else log HR).

Accepted effect columns per scale (``estimate`` is a scale-neutral name for the point estimate):

* ratio scales: the ratio with its CI (``hr``/``or``/``rr``/``estimate``, ``ci_low``, ``ci_high``
  [, ``ci_level``]), the log ratio with its SE (``log_hr``/``log_or``/``log_rr``, ``se``), or the ratio
  with a p-value; the alias columns are renamed to ``hr``/``log_hr`` so one set of derivations serves
  every ratio. The log-rank and medians encodings are hazard-ratio methods and need ``scale = log_hr``.
* ``md``: the difference (``md`` or ``estimate``) with ``se``, or with a CI (``ci_low``, ``ci_high``:
  ``se = (hi - lo) / (2 z)``), or with a two-sided p-value (``se = |md| / z_{1 - p/2}``). The MD is
  analysed as it is (nothing is exponentiated), recorded as ``derivation`` ``md_se``, ``md_ci`` or
  ``md_p``.

One analysis pools one scale: :func:`sclcmeta.evidence.select_estimates` refuses a selection mixing them.
"""

from __future__ import annotations

import math

import pandas as pd

from ..vocabulary import DEFAULT_SCALE, SCALES
from .derive import parse_p, z_for_level
from .messages import where as _where

#: Alias columns of the ratio scales -> the column they stand for, and the scale they imply.
RATIO_ALIASES = {"or": ("hr", "log_or"), "rr": ("hr", "log_rr"), "log_or": ("log_hr", "log_or"),
                 "log_rr": ("log_hr", "log_rr")}
#: Columns this module reads (known to the header check).
SCALE_COLUMNS = ("scale", "estimate", "md") + tuple(RATIO_ALIASES)
#: Encodings that only give a log hazard ratio.
HR_ONLY = ("o_minus_e", "v", "logrank_p", "events_total", "favours", "median_treatment", "median_comparator")
#: ``derivation`` values of mean-difference rows.
MD_DERIVATIONS = ("md_se", "md_ci", "md_p")


def _implied_scale(df: pd.DataFrame, default: str) -> str:
    implied = {RATIO_ALIASES[c][1] for c in RATIO_ALIASES if c in df.columns}
    if "md" in df.columns:
        implied.add("md")
    return implied.pop() if len(implied) == 1 else default


def apply_scales(df: pd.DataFrame, file: str, default: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """The table with a ``scale`` column, ratio aliases renamed, mean differences turned into ``log_hr``/``se``
    cells (the engine's analysis-scale columns) with ``md_derivation_``; and every problem found (one line each).
    """
    default = default or DEFAULT_SCALE
    errors: list[str] = []
    if default not in SCALES:
        return df, [f"--scale {default!r}: not an effect scale; use one of {', '.join(SCALES)}."]
    out = df.copy()
    if "scale" not in out.columns:
        out["scale"] = _implied_scale(out, default)
    out["scale"] = out["scale"].replace("", default)
    for i, s in enumerate(out["scale"], start=1):
        if s not in SCALES:
            errors.append(f"{_where(file, i, 'scale', s)}: not an effect scale; use one of {', '.join(SCALES)} "
                          "(log hazard ratio, log odds ratio, log risk ratio, mean difference).")
    if errors:
        return out, errors
    for alias, (target, scale) in RATIO_ALIASES.items():
        if alias not in out.columns:
            continue
        for i, (v, s) in enumerate(zip(out[alias], out["scale"]), start=1):
            if v != "" and s != scale:
                errors.append(f"{_where(file, i, alias, v)}: a {alias} value on a row whose scale is {s}; set scale "
                              f"to {scale} for this row, or move the value to the {s} columns.")
        if target in out.columns:
            clash = [i for i, (a, b) in enumerate(zip(out[alias], out[target]), start=1) if a != "" and b != ""]
            if clash:
                errors.append(f"{_where(file, clash[0], alias, out[alias].iloc[clash[0] - 1])}: both {alias} and "
                              f"{target} are given; keep one.")
            out[target] = [b if b != "" else a for a, b in zip(out[alias], out[target])]
        else:
            out[target] = out[alias]
        out = out.drop(columns=[alias])
    if "estimate" in out.columns:
        for i, (v, s) in enumerate(zip(out["estimate"], out["scale"]), start=1):
            col = "md" if s == "md" else "hr"
            if v != "" and out.get(col, pd.Series("", index=out.index)).iloc[i - 1] != "":
                errors.append(f"{_where(file, i, 'estimate', v)}: both estimate and {col} are given; keep one.")
        ratio = out["scale"] != "md"
        if "hr" not in out.columns:
            out["hr"] = ""
        out.loc[ratio & (out["estimate"] != ""), "hr"] = out.loc[ratio & (out["estimate"] != ""), "estimate"]
        if "md" not in out.columns:
            out["md"] = ""
        out.loc[~ratio & (out["estimate"] != ""), "md"] = out.loc[~ratio & (out["estimate"] != ""), "estimate"]
        out = out.drop(columns=["estimate"])
    for c in HR_ONLY:
        if c not in out.columns:
            continue
        for i, (v, s) in enumerate(zip(out[c], out["scale"]), start=1):
            if v != "" and s != "log_hr":
                errors.append(f"{_where(file, i, c, v)}: {c} is a hazard-ratio extraction method (log-rank or "
                              f"survival medians) and this row's scale is {s}; give the effect with its CI or SE, "
                              "or set scale to log_hr.")
    if "md" in out.columns:
        for i, (v, s) in enumerate(zip(out["md"], out["scale"]), start=1):
            if v != "" and s != "md":
                errors.append(f"{_where(file, i, 'md', v)}: a mean difference on a row whose scale is {s}; set "
                              "scale to md for this row.")
    if errors:
        return out, errors
    md_rows = out.index[out["scale"] == "md"]
    if len(md_rows):
        out, errs = _mean_differences(out, md_rows, file)
        errors.extend(errs)
    if "md" in out.columns:
        out = out.drop(columns=["md"])
    return out, errors


def _num(v: str) -> float | None:
    try:
        x = float(v)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _mean_differences(out: pd.DataFrame, rows, file: str) -> tuple[pd.DataFrame, list[str]]:
    """Mean-difference rows -> ``log_hr`` (the MD itself) and ``se`` cells, ``md_derivation_`` saying how."""
    errors: list[str] = []
    for c in ("md", "ci_low", "ci_high", "ci_level", "se", "p_value", "hr", "log_hr"):
        if c not in out.columns:
            out[c] = ""
    out["md_derivation_"] = ""
    for idx in rows:
        row = int(out.index.get_loc(idx)) + 1
        r = out.loc[idx]
        if r["hr"] != "" or r["log_hr"] != "":
            col = "hr" if r["hr"] != "" else "log_hr"
            errors.append(f"{_where(file, row, col, r[col])}: a ratio column on a mean-difference row (scale md); "
                          "give the difference in md (or estimate) with se, a CI or a p-value.")
            continue
        vals = {}
        for c in ("md", "ci_low", "ci_high", "ci_level", "se"):
            if r[c] != "":
                x = _num(r[c])
                if x is None:
                    errors.append(f"{_where(file, row, c, r[c])}: not a finite number; write a plain decimal.")
                    break
                vals[c] = x
        else:
            md, lo, hi, level = vals.get("md"), vals.get("ci_low"), vals.get("ci_high"), vals.get("ci_level", 0.95)
            if md is None and lo is not None and hi is not None:
                md = 0.5 * (lo + hi)
            if md is None:
                errors.append(f"{_where(file, row, 'md', '')}: no mean difference; give md (or estimate) with se, "
                              "with ci_low and ci_high, or with p_value.")
                continue
            if not 0 < level < 1:
                errors.append(f"{_where(file, row, 'ci_level', r['ci_level'])}: CI level must be a proportion such as "
                              "0.95 (not 95).")
                continue
            if "se" in vals:
                if vals["se"] <= 0:
                    errors.append(f"{_where(file, row, 'se', r['se'])}: must be positive.")
                    continue
                se, how = vals["se"], "md_se"
            elif lo is not None and hi is not None:
                if not lo < hi:
                    errors.append(f"{_where(file, row, 'ci_low', r['ci_low'])}: lower bound is not below the upper "
                                  f"bound {r['ci_high']!r}; check the order of ci_low and ci_high.")
                    continue
                if not lo <= md <= hi:
                    errors.append(f"{_where(file, row, 'ci_high' if md > hi else 'ci_low', r['ci_high' if md > hi else 'ci_low'])}: "
                                  f"bounds ({r['ci_low']}, {r['ci_high']}) do not bracket the MD {md:g}; check the "
                                  "transcription.")
                    continue
                se, how = (hi - lo) / (2 * z_for_level(level)), "md_ci"
            elif r["p_value"] != "":
                try:
                    p, _ = parse_p(r["p_value"])
                except ValueError:
                    errors.append(f"{_where(file, row, 'p_value', r['p_value'])}: not a p-value; write e.g. 0.003.")
                    continue
                if not 0 < p < 1 or md == 0:
                    errors.append(f"{_where(file, row, 'p_value', r['p_value'])}: a p-value of {p:g} with MD {md:g} "
                                  "gives no standard error; give se or a CI.")
                    continue
                se, how = abs(md) / z_for_level(1 - p), "md_p"
            else:
                errors.append(f"{_where(file, row, 'md', r['md'])}: a mean difference needs its precision: se, "
                              "ci_low and ci_high, or p_value.")
                continue
            out.loc[idx, ["log_hr", "se", "ci_low", "ci_high", "ci_level", "p_value", "md_derivation_"]] = [
                repr(float(md)), repr(float(se)), "", "", "", "", how]
            out.loc[idx, "md_reported_"] = r["md"] if r["md"] != "" else f"{md:g}"
    return out, errors

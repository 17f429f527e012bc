"""Results as JSON: one documented, stable shape for ``sclcmeta fit --json`` and ``sclcmeta sensitivity --json``.

The document is one object::

    {"format": "sclcmeta-summary/1",
     "header": {"sclcmeta_version", "analysis", "outcome", "comparison", "scale", "effect_label", "model", "k",
                "method", "sampler", "seed", "priors": {role: prior}, "diagnostics": {...}, ...},
     "rows": [{column: value, ...}, ...]}

``rows`` is the summary table as a list of row objects (the columns of
:data:`sclcmeta.results.base.SUMMARY_COLUMNS`), floats rounded to :data:`DIGITS` significant digits, missing
values (NaN: e.g. ``r_hat`` of an exact fit) as ``null``. ``header.diagnostics`` is ``{"method": "exact",
"passed": true}`` for the exact solver, and for MCMC the gate's verdict with ``r_hat`` (max), ``ess_bulk``,
``ess_tail`` (min), ``divergences``, ``chains``, ``draws`` and ``problems``. A new key may be added in a later
version; none is renamed or removed without a new ``format``.

>>> rounded(0.123456789), rounded(12345678.9), rounded(float("nan"))
(0.123457, 12345700.0, None)
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: Identifies the document's shape.
FORMAT = "sclcmeta-summary/1"
#: Significant digits of every float (the exact solver's quantiles are accurate far beyond this; MCMC ones not).
DIGITS = 6


def rounded(x, digits: int = DIGITS):
    """``x`` to ``digits`` significant digits; NaN/inf -> None; numpy scalars -> Python numbers."""
    if x is None or isinstance(x, (bool, np.bool_)):
        return None if x is None else bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        x = float(x)
        return float(f"{x:.{digits}g}") if math.isfinite(x) else None
    return x


def table_rows(df: pd.DataFrame, digits: int = DIGITS) -> list[dict]:
    """A table as JSON-ready row objects (rounded floats, NaN -> None)."""
    return [{str(k): rounded(v, digits) for k, v in rec.items()} for rec in df.to_dict(orient="records")]


def _diagnostics(d) -> dict:
    if d.method == "exact":
        return {"method": "exact", "passed": True}
    return {"method": d.method, "sampler": d.sampler, "passed": d.passed, "r_hat": rounded(d.r_hat),
            "ess_bulk": rounded(d.ess_bulk), "ess_tail": rounded(d.ess_tail), "divergences": int(d.divergences),
            "chains": int(d.chains), "draws": int(d.draws), "problems": list(d.problems)}


def fit_header(res, **extra) -> dict:
    """The header object of a fitted analysis (``extra`` adds keys, e.g. the data file and its hash)."""
    sc = res.effect_scale
    return {"sclcmeta_version": _version(), "analysis": res.name, "outcome": res.outcome,
            "comparison": res.comparison, "scale": sc.name, "effect_label": sc.label, "model": res.model.kind,
            "k": int(res.model.k), "method": res.method,
            "sampler": res.diagnostics.sampler if res.method == "mcmc" else "exact",
            "seed": int(getattr(res.raw, "seed", 0)),
            "priors": {k: str(v) for k, v in res._used_priors().items()},
            "diagnostics": _diagnostics(res.diagnostics), **extra}


def fit_document(res, table: pd.DataFrame | None = None, **extra) -> dict:
    """The JSON document of a fitted analysis: header and rows (the summary table unless ``table`` is given)."""
    table = res.summary() if table is None else table
    return {"format": FORMAT, "header": fit_header(res, **extra), "rows": table_rows(table)}


def sensitivity_document(sens, **extra) -> dict:
    """The JSON document of a sensitivity run: which analysis, how many settings, and one row per setting."""
    spec = sens.spec
    header = {"sclcmeta_version": _version(), "analysis": spec.name, "outcome": spec.outcome,
              "method": str(sens.table["method"].iloc[0]) if "method" in sens.table and len(sens.table) else "",
              "settings": int(len(sens.table)), "seed": int(spec.inference["seed"]),
              "priors": {"set": spec.priors.name}, "notes": list(sens.notes), **extra}
    return {"format": FORMAT, "header": header, "rows": table_rows(sens.table)}


def _version() -> str:
    from ..vocabulary import VERSION

    return VERSION


def display_table(res, table: pd.DataFrame) -> pd.DataFrame:
    """The summary's reading columns with labels of the effect scale (``OR median``, ``P(OR < 1)``...); MCMC
    diagnostics only for an MCMC fit."""
    sc = res.effect_scale
    lab = sc.label
    cols = {"quantity": "quantity", "comparison": "comparison"}
    if sc.ratio:
        cols.update({"hr_median": f"{lab} median", "hr_q2.5": f"{lab} 2.5%", "hr_q97.5": f"{lab} 97.5%"})
    else:   # a difference is reported as it is: one set of columns
        cols.update({"median": f"{lab} median", "q2.5": f"{lab} 2.5%", "q97.5": f"{lab} 97.5%"})
    for t in sc.thresholds:
        key = "prob_hr_below_1" if t == 1.0 else ("prob_hr_below_0.8" if t == 0.8 else f"prob_hr_below_{t:g}")
        cols[key] = f"P({lab} < {t:g})"
    if sc.ratio:
        cols.update({"median": f"median ({sc.log_label})", "q2.5": "2.5%", "q97.5": "97.5%"})
    if res.method == "mcmc":
        cols.update({"r_hat": "R-hat", "ess_bulk": "bulk ESS"})
    out = table[[c for c in cols if c in table.columns]].rename(columns=cols)
    tau = table["quantity"].isin([c.name for c in res.model.components]).to_numpy()
    for c in out.columns:       # a heterogeneity SD has no effect-scale columns: leave them empty
        if c.startswith("P(") or (sc.ratio and c.startswith(f"{lab} ")):
            out.loc[tau, c] = np.nan
    return out

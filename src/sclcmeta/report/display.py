"""Tables as a clinician reads them: readable column names, one "HR (95% CrI)" cell, failed fits marked.

:func:`display` turns any DataFrame of the report (summary rows, sensitivity rows, rank tables, E-values,
flags...) into a :class:`Table`: raw column names become words (``hr_q2.5`` never reaches the page), HR
median and bounds are merged into one cell, log-scale duplicates are dropped (they are in summary.csv), and
a row whose fit failed the convergence check (gate FAILED, R-hat > 1.01, ESS < 400) is flagged so both
templates can mark it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .answers import failed_row

#: Readable names of the package's column names.
COLUMN_NAMES = {
    "analysis": "Analysis", "outcome": "Outcome", "quantity": "Quantity", "comparison": "Comparison",
    "prob_hr_below_1": "P(HR < 1)", "prob_hr_below_0.8": "P(HR < 0.8)", "prob_less_benefit": "P(less benefit)",
    "r_hat": "R-hat", "ess_bulk": "ESS (bulk)", "gate": "Fit check", "method": "Method", "k": "Estimates",
    "setting": "Setting", "kind": "Kind", "description": "What changes", "tau_median": "tau (median)",
    "evidence": "Evidence rows", "treatment": "Treatment", "study": "Study", "id": "Evidence row", "code": "Flag",
    "message": "Message", "parameter": "Parameter", "prior": "Prior sensitivity", "likelihood": "Likelihood sensitivity",
    "diagnosis": "Diagnosis", "hr_bound": "HR bound nearer 1", "rr_point": "RR (point)", "rr_bound": "RR (bound)",
    "evalue_point": "E-value (point)", "evalue_bound": "E-value (CrI bound)", "common_outcome": "Common outcome",
    "population": "Population", "levels": "Levels", "hr": "HR (reported)", "ci": "CI (reported)", "flags": "Flags",
    "status": "Status", "reason": "Reason", "factor": "Factor", "assessment": "Assessment", "assumption": "Assumption",
    "model": "Model", "resdev": "Residual deviance", "pD": "pD", "DIC": "DIC", "n_data": "Data points",
    "item": "Item", "value": "Value", "vs": "Row vs column",
    "bias_prior": "Bias prior", "bias": "Bias model", "estimand": "Estimand", "top_ranked": "Ranked first",
    "bias_mean": "Bias mean (log HR)", "bias_sd": "Bias SD (log HR)", "overall": "Overall risk of bias",
    "direction": "Direction of the bias mean",
}

#: Readable names of the summary's quantities.
QUANTITY_NAMES = {
    "pooled": "pooled effect", "predictive": "new cohort (predictive)", "study": "study (shrunken estimate)",
    "tau": "tau: between-cohort SD", "contrast": "contrast", "direct": "direct evidence",
    "indirect": "indirect evidence", "inconsistency": "direct / indirect (inconsistency)",
    "interaction": "ratio of HRs (interaction)", "subgroup": "subgroup HR", "prognostic": "prognostic HR",
    "fitted": "fitted HR", "meta_regression": "ratio of HRs per unit (meta-regression)", "class_mean": "class mean",
    "class_difference": "class difference", "class_sd": "within-class SD", "bias": "bias term",
}

_LOG_COLS = ["median", "mean", "sd", "q2.5", "q97.5", "mode", "hdi_low", "hdi_high"]


@dataclass
class Table:
    """Header, text cells, per-row "failed" marks, and which columns are numeric (right-aligned)."""

    columns: list[str]
    rows: list[list[str]]
    failed: list[bool] = field(default_factory=list)
    numeric: list[bool] = field(default_factory=list)

    def __post_init__(self):
        self.failed = self.failed or [False] * len(self.rows)
        self.numeric = self.numeric or [False] * len(self.columns)

    @property
    def any_failed(self) -> bool:
        return any(self.failed)


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (float, np.floating)):
        return f"{v:.3f}" if abs(v) < 1e4 else f"{v:.0f}"
    return str(v)


def _hr_cell(r) -> str:
    if pd.notna(r.get("hr_median", np.nan)):
        return f"{r['hr_median']:.2f} ({r['hr_q2.5']:.2f}-{r['hr_q97.5']:.2f})"
    if pd.notna(r.get("median", np.nan)) and pd.notna(r.get("q2.5", np.nan)):
        return f"SD {r['median']:.2f} ({r['q2.5']:.2f}-{r['q97.5']:.2f})"
    return ""


def display(df: pd.DataFrame, *, keep_log: bool = False, hr_name: str = "HR (95% CrI)") -> Table:
    """A report table from ``df`` (see the module doc).

    >>> t = display(pd.DataFrame({"quantity": ["pooled"], "hr_median": [0.65], "hr_q2.5": [0.44],
    ...                           "hr_q97.5": [0.93], "median": [-0.43], "q2.5": [-0.82], "q97.5": [-0.07],
    ...                           "prob_hr_below_1": [0.98], "gate": ["FAILED: 1 divergence"]}))
    >>> t.columns, t.rows[0], t.failed
    (['Quantity', 'HR (95% CrI)', 'P(HR < 1)', 'Fit check'], ['pooled effect', '0.65 (0.44-0.93)', '0.980', 'FAILED: 1 divergence'], [True])
    """
    d = df.reset_index(drop=True)
    failed = [bool(failed_row(r)) for _, r in d.iterrows()] if len(d) else []
    cols: list[tuple[str, list[str], bool]] = []
    hr_done = False
    for c in d.columns:
        if c in ("hr_median", "hr_q2.5", "hr_q97.5"):
            if not hr_done:
                cols.append((hr_name, [_hr_cell(r) for _, r in d.iterrows()], True))
                hr_done = True
            continue
        if c in _LOG_COLS and not keep_log and "hr_median" in d.columns:
            continue
        if c in ("r_hat", "ess_bulk") and d[c].isna().all():
            continue
        vals = d[c]
        if c == "quantity":
            texts = [QUANTITY_NAMES.get(str(v), str(v)) for v in vals]
        elif c == "ess_bulk":
            texts = ["" if pd.isna(v) else f"{v:.0f}" for v in vals]
        else:
            texts = [_fmt(v) for v in vals]
        name = COLUMN_NAMES.get(str(c), str(c).replace("_", " ").capitalize() if str(c).islower() else str(c))
        cols.append((name, texts, vals.dtype.kind in "fi"))
    return Table([c[0] for c in cols], [list(r) for r in zip(*[c[1] for c in cols])] if cols else [],
                 failed, [c[2] for c in cols])


def as_table(obj) -> Table:
    """A :class:`Table` from a Table or a DataFrame."""
    return obj if isinstance(obj, Table) else display(obj)

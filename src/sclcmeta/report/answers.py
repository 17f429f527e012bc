"""The answer table that opens the report: one row per clinical question, outcome and headline comparison.

Which rows are headline answers (declared here, applied in :func:`answer_rows`):

* pairwise analyses (Q1, Q5): the pooled HR. When the summary has a ``bias`` column (bias-adjusted and
  unadjusted fits of the same question), the ``adjusted`` row is the answer and the ``unadjusted`` row is
  shown beside it;
* within-study interactions (Q3): the pooled ratio of HRs (prognostic factors and ecological
  meta-regressions are context, shown in the detail only);
* networks with class effects (Q4): each class mean vs the reference and the class difference;
* other networks (Q2): every pairwise contrast in the report's one direction (see :func:`canonical`).

Every contrast is written "T vs C" with HR < 1 favouring T (the first-named); in a network C is the
treatment that comes earlier in the network's treatment order (the reference comes first).

The table is built from :data:`ANSWER_COLUMNS`, a tuple of :class:`Column` specs, so a column is added by
appending one spec (for example a certainty rating or an absolute effect)::

    cols = ANSWER_COLUMNS + (Column("certainty", "Certainty", "GRADE rating and reasons",
                                    lambda r: [r["certainty"], r["certainty_reasons"]]),)
    table = answer_table(rows, cols)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ..results.moderators import ModeratorResult
from ..results.network import NetworkResult
from .statements import statement

#: What each outcome's HR is about, in words.
OUTCOME_WORDS = {"OS": "overall survival", "PFS": "progression-free survival"}


def fmt_hr_text(median: float, lo: float, hi: float, what: str = "HR") -> str:
    """``HR 0.65 (95% CrI 0.44-0.93)``.

    >>> fmt_hr_text(0.6458, 0.4404, 0.9323)
    'HR 0.65 (95% CrI 0.44-0.93)'
    """
    return f"{what} {median:.2f} (95% CrI {lo:.2f}-{hi:.2f})"


def failed_row(r) -> bool:
    """True when a summary/sensitivity row failed the convergence gate (R-hat > 1.01, ESS < 400, divergences)."""
    from ..vocabulary import GATE

    gate = str(r.get("gate", "") or "")
    rh, ess = r.get("r_hat", np.nan), r.get("ess_bulk", np.nan)
    return (gate.startswith("FAILED") or (pd.notna(rh) and rh > GATE["r_hat"])
            or (pd.notna(ess) and ess < GATE["ess_bulk"]))


@dataclass(frozen=True)
class Column:
    """One column of the answer table: the header, what it means (shown as a tooltip and a footnote), and how
    to render an answer row into the cell's lines of text."""

    key: str
    header: str
    explain: str
    render: Callable[[dict], list[str]]


def _hr_cell(r: dict) -> list[str]:
    what = "ratio of HRs" if r["kind"] != "effect" else "HR"
    lines = [fmt_hr_text(r["hr_median"], r["hr_lo"], r["hr_hi"], what)]
    if r.get("unadjusted") is not None:
        u = r["unadjusted"]
        lines.append("unadjusted for bias: " + fmt_hr_text(u["hr_median"], u["hr_lo"], u["hr_hi"], what))
    return lines


def _prob(key: str):
    def render(r: dict) -> list[str]:
        lines = [f"{r[key]:.2f}"]
        if r.get("unadjusted") is not None:
            lines.append(f"unadjusted {r['unadjusted'][key]:.2f}")
        return lines
    return render


def _pred_cell(r: dict) -> list[str]:
    if r.get("pred") is None:
        return ["not computed for networks" if r["network"] else "n/a"]
    p = r["pred"]
    return [f"{p['median']:.2f} ({p['lo']:.2f}-{p['hi']:.2f})"]


def _tau_cell(r: dict) -> list[str]:
    t = r.get("tau")
    return [f"{t['median']:.2f} ({t['lo']:.2f}-{t['hi']:.2f})"] if t is not None else ["fixed effect"]


def _certainty_cell(r: dict) -> list[str]:
    """The rating and, compactly, the domains that lowered it (each domain's reason is in the analysis section)."""
    import re

    c = r.get("certainty")
    if c is None:
        return ["not rated (see the analysis section)"]
    down = re.findall(r"([a-z][a-z -]+?) \([^)]*?(-\d)\)", str(c.get("summary", "")).split("rated down for", 1)[-1]) \
        if "rated down for" in str(c.get("summary", "")) else []
    lines = [str(c["rating"]).upper()]
    if down:
        lines.append(", ".join(f"{d.strip()} {n}" for d, n in down))
    return lines


def _absolute_cell(r: dict) -> list[str]:
    a = [x for x in (r.get("absolute") or []) if "12 months" in x]
    return [a[0].replace(" patients alive at 12 months", " alive at 12 mo")
            .replace(" patients alive and free of progression (PFS) at 12 months", " free of progression at 12 mo")] if a else \
        ["none: no baseline survival curve is declared for this comparator (or the answer is a ratio of HRs)"]


def _diag_cell(r: dict) -> list[str]:
    return [r["gate"] if r["passed"] else "FAILED: " + r["gate"].removeprefix("FAILED: ")]


#: The answer table's columns, in order (append a :class:`Column` to add one).
ANSWER_COLUMNS: tuple[Column, ...] = (
    Column("question", "Question", "the clinical question and outcome (OS: overall survival; PFS: progression-free "
           "survival)", lambda r: [f"{r['question']} {r['outcome']}"]),
    Column("comparison", "Comparison (HR < 1 favours the first)", "treatment vs comparator; a hazard ratio below 1 "
           "means a lower hazard of death (OS) or of progression or death (PFS) with the first-named",
           lambda r: [r["comparison"]]),
    Column("hr", "Pooled effect, posterior median (95% CrI)", "the hazard ratio pooled over the cohorts: posterior "
           "median and 95% credible interval (CrI: the HR lies in it with 95% probability, given model and priors)",
           _hr_cell),
    Column("p1", "P(HR < 1)", "posterior probability of any benefit", _prob("p1")),
    Column("p08", "P(HR < 0.8)", "posterior probability of a benefit of at least HR 0.8, the smallest effect "
           "most clinicians would act on", _prob("p08")),
    Column("pred", "HR in a new cohort (95% PrI)", "the predictive HR for a cohort not yet studied: the pooled "
           "effect plus the between-cohort variation (PrI: predictive interval); wider than the CrI", _pred_cell),
    Column("tau", "tau (95% CrI)", "tau, the between-cohort standard deviation of the true log HRs: 0.1 is "
           "little variation, 0.5 means true HRs differing by a factor of about 2.7 between cohorts", _tau_cell),
    Column("certainty", "Certainty of evidence", "GRADE (pairwise answers) or CINeMA (network contrasts): high, "
           "moderate, low or very low, and why it was rated down (the rules are in sclcmeta.results.certainty; "
           "the judgements that need a person are in data/certainty_judgements.csv)", _certainty_cell),
    Column("absolute", "Absolute effect (95% CrI)", "what the HR means for 100 patients, given the comparator's "
           "survival curve named in data/baselines.csv, under proportional hazards", _absolute_cell),
    Column("diagnostics", "Fit check", "exact = computed by numerical integration (no sampling error to check); "
           "passed/FAILED = the MCMC convergence check (R-hat <= 1.01, ESS >= 400, no divergent transitions)",
           _diag_cell),
)


def _summary_row(s: pd.DataFrame, quantity: str, comparison: str | None = None, bias: str | None = None):
    m = s["quantity"] == quantity
    if comparison is not None:
        m &= s["comparison"] == comparison
    if bias is not None and "bias" in s.columns:
        m &= s["bias"] == bias
    hit = s[m]
    return hit.iloc[0] if len(hit) else None


def _interval(row) -> dict | None:
    if row is None:
        return None
    if pd.notna(row.get("hr_median", np.nan)):
        return {"median": row["hr_median"], "lo": row["hr_q2.5"], "hi": row["hr_q97.5"]}
    return {"median": row["median"], "lo": row["q2.5"], "hi": row["q97.5"]}


def flip(row: pd.Series) -> pd.Series:
    """The same contrast read the other way: "A vs B" becomes "B vs A" (HR inverted, P(HR<1) complemented).

    >>> r = pd.Series({"comparison": "a vs b", "hr_median": 2.0, "hr_q2.5": 1.0, "hr_q97.5": 4.0,
    ...                "median": 0.693, "q2.5": 0.0, "q97.5": 1.386, "prob_hr_below_1": 0.1})
    >>> f = flip(r); f["comparison"], f["hr_median"], f["hr_q2.5"], round(f["prob_hr_below_1"], 2)
    ('b vs a', 0.5, 0.25, 0.9)
    """
    r = row.copy()
    a, b = str(row["comparison"]).split(" vs ", 1)
    r["comparison"] = f"{b} vs {a}"
    if "hr_median" in r:
        r["hr_median"], r["hr_q2.5"], r["hr_q97.5"] = 1 / row["hr_median"], 1 / row["hr_q97.5"], 1 / row["hr_q2.5"]
    for c in ("median", "mean", "mode"):
        if c in r and pd.notna(r[c]):
            r[c] = -row[c]
    if "q2.5" in r:
        r["q2.5"], r["q97.5"] = -row["q97.5"], -row["q2.5"]
    if "hdi_low" in r:
        r["hdi_low"], r["hdi_high"] = -row["hdi_high"], -row["hdi_low"]
    if "prob_hr_below_1" in r:
        r["prob_hr_below_1"] = 1 - row["prob_hr_below_1"]
    if "prob_hr_below_0.8" in r:      # P(HR_ba < 0.8) = P(HR_ab > 1.25): not in the row, so not shown
        r["prob_hr_below_0.8"] = np.nan
    return r


def canonical(res: NetworkResult, comparison: str) -> bool:
    """True when "A vs B" is in the report's direction: B earlier than A in the network's treatment order."""
    order = [res.label(t) for t in res.net.treatments]
    a, b = comparison.split(" vs ", 1)
    return a in order and b in order and order.index(b) < order.index(a)


def _row(res, sec_anchor: str, r, *, kind: str, s: pd.DataFrame, pred=None, network: bool = False,
         unadjusted=None, labels: dict | None = None) -> dict:
    tau = _summary_row(s, "tau", bias=r.get("bias") if "bias" in s.columns else None)
    out = {"question": res.question, "analysis": res.name, "anchor": sec_anchor, "outcome": res.outcome,
           "comparison": r["comparison"], "kind": kind, "network": network,
           "hr_median": r["hr_median"], "hr_lo": r["hr_q2.5"], "hr_hi": r["hr_q97.5"],
           "p1": r["prob_hr_below_1"], "p08": r["prob_hr_below_0.8"],
           "pred": _interval(pred), "pred_p1": pred["prob_hr_below_1"] if pred is not None else None,
           "tau": _interval(tau), "passed": not failed_row(r) and res.passed,
           "gate": str(r.get("gate", res.gate)), "labels": labels or {}, "unadjusted": None}
    if unadjusted is not None:
        out["unadjusted"] = {"hr_median": unadjusted["hr_median"], "hr_lo": unadjusted["hr_q2.5"],
                             "hr_hi": unadjusted["hr_q97.5"], "p1": unadjusted["prob_hr_below_1"],
                             "p08": unadjusted["prob_hr_below_0.8"]}
    out["statement"] = statement(out)
    return out


def headline(res, anchor: str) -> list[dict]:
    """The answer rows of one fitted analysis (empty when it is context, not an answer; rules in the module doc)."""
    s = res.summary()
    if isinstance(res, NetworkResult):
        rows = []
        cm = s[s["quantity"] == "class_mean"]
        if len(cm):
            ref = res.label(res.net.reference)
            for _, r in cm.iterrows():
                cls = str(r["comparison"]).split(" vs ", 1)[0]
                r = r.copy()
                source = r["comparison"]
                r["comparison"] = f"{cls} antibody + {ref} (class mean) vs {ref}"
                rows.append(_row(res, anchor, r, kind="effect", s=s, network=True))
                rows[-1]["source_comparison"] = source        # the summary's label, which the tables join on
            cd = _summary_row(s, "class_difference")
            if cd is not None:
                rows.append(_row(res, anchor, cd, kind="class_difference", s=s, network=True))
            return rows
        c = s[(s["quantity"] == "contrast") & (s["bias"] != "unadjusted")]
        un = s[(s["quantity"] == "contrast") & (s["bias"] == "unadjusted")].set_index("comparison")
        for _, r in c.iterrows():
            if canonical(res, r["comparison"]):
                u = un.loc[r["comparison"]] if r["comparison"] in un.index else None
                rows.append(_row(res, anchor, r, kind="effect", s=s, network=True, unadjusted=u))
        return rows
    if isinstance(res, ModeratorResult):
        if res.kind != "interaction":
            return []
        r = _summary_row(s, "interaction")
        mod = res.moderator
        return [_row(res, anchor, r, kind="interaction", s=s, pred=_summary_row(s, "predictive"),
                     labels={"index": mod.index_label, "reference": mod.reference_label,
                             "effect": res.comparison})] if r is not None else []
    if "pooled" not in set(s["quantity"]):
        return []
    if "bias" in s.columns and {"adjusted", "unadjusted"} <= set(s["bias"].dropna()):
        adj, un = _summary_row(s, "pooled", bias="adjusted"), _summary_row(s, "pooled", bias="unadjusted")
        return [_row(res, anchor, adj, kind="effect", s=s, pred=_summary_row(s, "predictive", bias="adjusted"),
                     unadjusted=un)]
    return [_row(res, anchor, _summary_row(s, "pooled"), kind="effect", s=s, pred=_summary_row(s, "predictive"))]


def attach_certainty_and_absolute(rows: list[dict], results) -> None:
    """Add each answer row's certainty rating (``row["certainty"]``) and absolute effects (``row["absolute"]``,
    its sentences at 12 months and for the median) from :mod:`sclcmeta.results.certainty` and
    :mod:`sclcmeta.results.absolute`, joined on (analysis, comparison)."""
    from ..results import absolute_table, certainty_table

    cert = certainty_table(results)
    by_c = {}
    for r in cert.to_dict("records"):      # CINeMA's domains do not depend on the direction of a contrast
        by_c[(r["analysis"], r["comparison"])] = r
        a, _, b = str(r["comparison"]).partition(" vs ")
        by_c.setdefault((r["analysis"], f"{b} vs {a}"), r)
    ab = absolute_table(results)
    keep = ab[ab["quantity"].eq("median_gain") | (ab["quantity"].eq("survival_difference") & ab["time_months"].eq(12))]
    by_a: dict = {}
    for r in keep.to_dict("records"):
        by_a.setdefault((r["analysis"], r["comparison"]), []).append(str(r["text"]))
    for r in rows:
        key = (r["analysis"], r.get("source_comparison", r["comparison"]))
        r["certainty"] = by_c.get(key)
        r["absolute"] = by_a.get(key, [])
        if r["certainty"] is not None:
            r["statement"] = statement(r, certainty=r["certainty"]["rating"])


def answer_rows(sections, anchor=lambda name: f"a-{name}") -> list[dict]:
    """Every headline row of the report, in question order (Q1..Q5), OS before PFS within a question, with its
    certainty of evidence and absolute effect."""
    from ..vocabulary import question_titles

    titles = question_titles()
    rows = [r for sec in sections for r in headline(sec.result, anchor(sec.spec.name))]
    attach_certainty_and_absolute(rows, [sec.result for sec in sections])
    for r in rows:
        r["question_title"] = titles.get(r["question"], r["question"])
    order = {"OS": 0, "PFS": 1}
    return sorted(rows, key=lambda r: (r["question"], order.get(r["outcome"], 2)))


@dataclass(frozen=True)
class AnswerTable:
    """The rendered answer table: headers, tooltips, cell lines per row, and which rows failed."""

    columns: tuple[Column, ...]
    rows: list[dict]

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def cells(self, r: dict) -> list[list[str]]:
        return [c.render(r) for c in self.columns]

    def frame(self) -> pd.DataFrame:
        """The table as plain text (cell lines joined by "; "), e.g. for Markdown or CSV."""
        return pd.DataFrame([["; ".join(x) for x in self.cells(r)] for r in self.rows], columns=self.headers)


def answer_table(rows: list[dict], columns: tuple[Column, ...] = ANSWER_COLUMNS) -> AnswerTable:
    """The answer table of ``rows`` with ``columns`` (default :data:`ANSWER_COLUMNS`)."""
    return AnswerTable(tuple(columns), rows)


__all__ = ["ANSWER_COLUMNS", "AnswerTable", "Column", "answer_rows", "answer_table", "canonical", "failed_row",
           "flip", "fmt_hr_text", "headline"]


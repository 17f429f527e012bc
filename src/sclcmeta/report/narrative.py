"""Narrative text of the report: one plain-language paragraph per result, by result type (singledispatch)."""

from __future__ import annotations

import math
from functools import singledispatch

import numpy as np
import pandas as pd

from ..evidence.moderators import fmt_ci
from ..results import FitResult
from ..results.moderators import ModeratorResult
from ..results.network import NetworkResult


#: Study-level covariates in words (the meta-regression paragraphs name them).
COVARIATE_WORDS = {"l1_ici_fraction": "the share of the cohort that had a first-line ICI",
                   "prop_liver_mets": "the share of the cohort with liver metastases"}


def with_labels(text: str, labels: dict) -> str:
    """``text`` with treatment-node ids replaced by their readable names (longest id first, whole words).

    >>> with_labels("durvalumab_1l and durvalumab_tremelimumab_1l vs chemo_1l",
    ...             {"durvalumab_1l": "durvalumab + EP", "durvalumab_tremelimumab_1l": "durvalumab + tremelimumab + EP",
    ...              "chemo_1l": "platinum-etoposide"})
    'durvalumab + EP and durvalumab + tremelimumab + EP vs platinum-etoposide'
    """
    import re

    for k in sorted(labels, key=len, reverse=True):
        text = re.sub(rf"(?<![\w]){re.escape(k)}(?![\w])", labels[k], text)
    return text


def fmt_hr(r) -> str:
    """``0.65 (95% CrI 0.44-0.93)`` from a summary row."""
    return f"{r['hr_median']:.2f} (95% CrI {r['hr_q2.5']:.2f}-{r['hr_q97.5']:.2f})"


@singledispatch
def paragraph(res: FitResult) -> str:
    """One paragraph a clinician-statistician can read: the posterior and what it rests on."""
    p = res.pooled_hr()
    d = res.effects.data if res.effects is not None else pd.DataFrame()
    k = len(d)
    designs = d["design"].value_counts().to_dict() if k else {}
    n_rct = designs.get("rct", 0)
    design_txt = (f"{k} estimate{'s' if k != 1 else ''} ({n_rct} randomized, {k - n_rct} non-randomized)"
                  if k else "")
    ev_txt = "; ".join(f"{r.study} ({r.analysis.replace('_', '-')}{', SE from p-value' if 'se_from_p' in r.flags else ''})"
                       for r in d.itertuples()) if k else ""
    tau = next((q for q in res.quantities if q.quantity == "tau"), None)
    pred = next((q for q in res.quantities if q.quantity == "predictive"), None)
    parts = [f"For {res.comparison} ({res.outcome}), pooling {design_txt}, the posterior median hazard ratio is "
             f"{fmt_hr(p)}; P(HR < 1) = {p['prob_hr_below_1']:.2f} and P(HR < 0.8) = {p['prob_hr_below_0.8']:.2f}."]
    if tau is not None:
        tm = float(np.asarray(tau.marginal.quantile(0.5)).ravel()[0])
        pr = res.row(pred)
        parts.append(f"The between-cohort SD tau has posterior median {tm:.2f} on the log-HR scale; a new cohort's "
                     f"HR is predicted to lie in {pr['hr_q2.5']:.2f}-{pr['hr_q97.5']:.2f} (95%), which is the honest "
                     "range for a patient population not yet studied.")
    if k and n_rct == 0:
        parts.append("All evidence is observational: residual confounding (for example by performance status or "
                     "by who is offered continued immunotherapy) is not removed by pooling, and with so few cohorts the "
                     "heterogeneity is largely prior-driven (see the sensitivity section).")
    if ev_txt:
        parts.append(f"Evidence: {ev_txt}.")
    if not res.passed:
        parts.append("WARNING: this fit failed the convergence gate and is not an answer.")
    return " ".join(parts)


@paragraph.register
def _(self: NetworkResult) -> str:
    from .tables import ranking, splits_in_direction

    ref = self.label(self.net.reference)
    s = self.summary()
    c = s[(s["quantity"] == "contrast") & (s["bias"] != "unadjusted") & s["comparison"].str.endswith(f" vs {ref}")]
    parts = [f"Network of {len(self.net.studies)} studies and {len(self.net.rows)} contrasts ({self.outcome}), "
             f"reference {ref}."]
    for _, r in c.iterrows():
        parts.append(f"{r['comparison']}: HR {r['hr_median']:.2f} (95% CrI {r['hr_q2.5']:.2f}-{r['hr_q97.5']:.2f}), "
                     f"P(HR<1) {r['prob_hr_below_1']:.2f}.")
    parts.append(ranking(self)[1])
    cd = s[s["quantity"] == "class_difference"]
    if len(cd):
        r = cd.iloc[0]
        parts.append(f"PD-1 vs PD-L1 class difference: ratio of HRs {r['hr_median']:.2f} (95% CrI "
                     f"{r['hr_q2.5']:.2f}-{r['hr_q97.5']:.2f}); P(PD-1 class better) {r['prob_hr_below_1']:.2f}. "
                     "Drugs differ in backbone, population and trial era; the class contrast is indirect (no trial "
                     "compares PD-1 with PD-L1 antibodies) and rests on the exchangeability assumption.")
    if not self.inconsistency_assessable:
        parts.append("The network has no closed loop (no comparison has evidence both directly and through other "
                     "studies), so inconsistency between direct and indirect evidence cannot be assessed; no node-split "
                     "or consistency-vs-UME comparison is shown, because neither could detect any.")
    else:
        if self.splits is not None and len(self.splits):
            sp = splits_in_direction(self)
            inc = sp[sp["quantity"] == "inconsistency"]
            worst = inc.loc[(inc["prob_hr_below_1"] - 0.5).abs().idxmax()] if len(inc) else None
            if worst is not None:
                parts.append(f"Node-splitting: largest direct-indirect discrepancy for {worst['comparison']} (ratio "
                             f"of direct to indirect HR {worst['hr_median']:.2f}, 95% CrI {worst['hr_q2.5']:.2f}-"
                             f"{worst['hr_q97.5']:.2f}).")
        if self.ume_dic is not None:
            parts.append(f"DIC consistency {self.consistency_dic['DIC']:.1f} vs unrelated mean effects "
                         f"{self.ume_dic['DIC']:.1f} (UME more than ~3 points lower would point to inconsistency).")
        if self.net.edges()["n_studies"].max() <= 2:
            parts.append("With one or two studies per comparison these checks have little power: finding no "
                         "inconsistency is not evidence of consistency.")
    if self.assumptions:
        parts.append("Assumptions: " + "; ".join(with_labels(a, self.net.labels) for a in self.assumptions) + ".")
    return " ".join(parts)


@paragraph.register
def _(self: ModeratorResult) -> str:
    p = self.pooled_hr()
    e = self.effects
    mod = self.moderator

    def hr(r):
        return f"{r['hr_median']:.2f} (95% CrI {r['hr_q2.5']:.2f}-{r['hr_q97.5']:.2f})"

    parts: list[str] = []
    if self.kind == "interaction":
        d = e.pairs
        studies = ", ".join(d["study"])
        parts.append(f"Does the {self.outcome} benefit of {self.comparison} differ {mod.index_label} vs "
                     f"{mod.reference_label}? Within-study evidence (the treatment HR in both subgroups of the "
                     f"same cohort) exists for {len(d)} cohort(s): {studies}.")
        for r in d.itertuples():
            parts.append(
                f"In {r.study}, the treatment HR is {r.txt_index} {mod.index_label}"
                f"{' (derived by back-calculation)' if r.derived_index else ' (reported)'} and "
                f"{r.txt_ref} {mod.reference_label}"
                f"{' (derived by back-calculation)' if r.derived_ref else ' (reported)'}; their ratio is "
                f"{fmt_ci(r.y, r.se)}.")
        st = [self.row(q) for q in self.quantities if q.quantity == "study"]
        parts.append(f"The pooled ratio of HRs ({mod.index_label} / {mod.reference_label}) has posterior median "
                     f"{hr(p)}; P(less benefit {mod.index_label}) = P(ratio > 1) = {p['prob_less_benefit']:.2f}"
                     + (f" (within {d['study'].iloc[0]} alone: {st[0]['hr_median']:.2f}, "
                        f"P(ratio > 1) = {st[0]['prob_less_benefit']:.2f})" if len(st) == 1 else "") + ".")
        sy, sn = self.subgroup_row(mod.index), self.subgroup_row(mod.reference)
        if sy and sn:
            parts.append(f"Pooled treatment HR {mod.index_label}: {hr(sy)}, P(HR < 1) = {sy['prob_hr_below_1']:.2f}; "
                         f"{mod.reference_label}: {hr(sn)}, P(HR < 1) = {sn['prob_hr_below_1']:.2f} (each pooled "
                         "on its own; the ratio above is the within-study comparison).")
        if (d["derived"]).any():
            parts.append("An interval that includes 1 here means the data cannot tell whether the benefit "
                         "differs; it is not evidence that it is the same.")
    elif self.kind == "prognostic":
        d = e.data
        parts.append(f"Among second-line ICI-treated patients, {mod.label} ({d['treatment'].iloc[0]} vs "
                     f"{d['comparator'].iloc[0]}): pooled prognostic {self.outcome} HR {hr(p)}, "
                     f"P(HR > 1) = {1 - p['prob_hr_below_1']:.2f}, from {len(d)} cohort(s): "
                     + "; ".join(f"{r.study} {r.analysis} HR {math.exp(r.y):.2f} ({r.id})" for r in d.itertuples())
                     + ".")
        if len(d) == 1:
            st = next(self.row(q) for q in self.quantities if q.quantity == "study")
            parts.append(f"Within that cohort alone the HR is {hr(st)}; the pooled interval is wider because a "
                         "single cohort says nothing about how much the HR varies between cohorts.")
        c = e.candidates
        same = c[(c["status"] == "not used") & c["reason"].str.startswith("same patients")]
        if len(same):
            parts.append("Cohorts that share patients enter once: "
                         + "; ".join(f"{r.id} is not used ({r.reason})" for r in same.itertuples())
                         + ". The other choice is a sensitivity setting.")
    else:
        col = self.model.coef_names[1]
        cov = COVARIATE_WORDS.get(col, col.replace("_", " "))
        d = e.data
        parts.append(f"Study-level meta-regression of the {self.outcome} log HR of {self.comparison} on {cov} "
                     f"(study-table column {col}), k = {len(d)} cohorts ("
                     + "; ".join(f"{r.study} {getattr(r, col):.2f}" for r in d.itertuples()) + "): the ratio of "
                     f"HRs between a cohort where {cov} is 1 and one where it is 0 has posterior median {hr(p)}; "
                     f"P(ratio > 1, i.e. less benefit in cohorts with a larger share) = {p['prob_less_benefit']:.2f}. "
                     "Where a within-study interaction of the same moderator exists, it is the better answer.")
    parts.extend(self.caveats)
    if self.kind == "interaction" and mod is not None and mod.factor == "liver_metastases":
        parts.append("Prognostic is not predictive: liver metastases roughly double the hazard among ICI-treated "
                     "patients (q3_liver_prognostic_*), which says who does worse, not who benefits less. A "
                     "meta-regression on the cohort share with liver metastases is not estimable (one independent "
                     "cohort reports both the share and a treatment HR) and would be ecological anyway. No PFS "
                     "liver-metastasis subgroup HR is printed in any paper.")
    if self.kind != "ecological":
        parts.append("The named prior sets 'sceptical' and 'enthusiastic' are calibrated for treatment effects; on "
                     "a ratio of HRs or a prognostic HR they act as a pull towards 1 or towards 0.75.")
    if not self.passed:
        parts.append("WARNING: this fit failed the convergence gate and is not an answer.")
    return " ".join(parts)

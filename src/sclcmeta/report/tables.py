"""Tables of the report beyond the summary: rank probabilities, league tables, moderator tables (singledispatch)."""

from __future__ import annotations

import math
from functools import singledispatch

import numpy as np
import pandas as pd

from ..evidence.backcalc import BACK_CALCULATION_ASSUMPTIONS
from ..evidence.moderators import fmt_ci
from ..results import FitResult
from ..results.evalues import evalue_table
from ..results.moderators import ModeratorResult
from ..results.network import NetworkResult


@singledispatch
def extra_tables(res: FitResult) -> dict[str, pd.DataFrame]:
    """Titled tables shown under an analysis' summary: for a pooled HR resting on observational evidence only,
    its E-values (how strong unmeasured confounding would have to be to explain it away)."""
    ev = evalues_of(res)
    return {EVALUE_TITLE: ev.drop(columns=[c for c in ("analysis", "outcome") if c in ev])} if ev is not None else {}


EVALUE_TITLE = ("E-values: the risk ratio an unmeasured confounder would need with both the treatment choice and "
                "death, above the measured confounders, to explain the pooled HR away (death a common outcome)")


def evalues_of(res: FitResult) -> pd.DataFrame | None:
    """E-value rows of a pairwise pooled HR whose evidence is all non-randomized (None otherwise)."""
    d = getattr(res.effects, "data", None)
    if d is None or not len(d) or "design" not in d or (d["design"] == "rct").any() or "mu" not in res.model.coef_names:
        return None
    t = evalue_table(res.summary())
    return t if len(t) else None


#: When the report may call a treatment "best" (declared; applied by :func:`ranking`).
BEST_RULE = ("A treatment is named best only when P(best) >= 0.90 and the 95% CrI of its HR against the runner-up "
             "(the next-highest SUCRA) excludes 1; otherwise the report says the rank probabilities do not separate "
             "the treatments and names none.")


def rank_interval(p: np.ndarray, level: float = 0.95) -> tuple[int, int]:
    """Equal-tailed credible interval of a rank from its probabilities ``p[r-1] = P(rank r)``.

    >>> rank_interval(np.array([0.5, 0.46, 0.04]))
    (1, 3)
    >>> rank_interval(np.array([0.98, 0.02, 0.0])), rank_interval(np.array([0.96, 0.04, 0.0]))
    ((1, 1), (1, 2))
    """
    c = np.cumsum(p) / np.sum(p)
    a = (1 - level) / 2
    return int(np.searchsorted(c, a - 1e-12) + 1), int(np.searchsorted(c, 1 - a - 1e-12) + 1)


def ranking(res: NetworkResult) -> tuple[pd.DataFrame, str]:
    """Rank table (P(best), SUCRA, median rank and its 95% CrI, the rank probabilities) and the verdict
    sentence under :data:`BEST_RULE`."""
    rp = res.rank_probabilities()
    pcols = [c for c in rp.columns if c.startswith("P(rank ")]
    P = rp[pcols].to_numpy(float)
    iv = [rank_interval(p) for p in P]
    med = [rank_interval(p, 0.0)[0] for p in P]
    tab = pd.DataFrame({"Treatment": rp["treatment"], "P(best)": rp["P(best)"], "SUCRA": rp["SUCRA"],
                        "Median rank (95% CrI)": [f"{m} ({lo}-{hi})" for m, (lo, hi) in zip(med, iv)],
                        "Mean rank": rp["mean rank"]})
    tab = pd.concat([tab, rp[pcols]], axis=1)
    if len(rp) < 2:
        return tab, "A single treatment: nothing to rank."
    top, second = rp["treatment"].iloc[0], rp["treatment"].iloc[1]
    s = res.summary()
    row = s[(s["quantity"] == "contrast") & (s.get("bias", pd.Series("", index=s.index)) != "unadjusted")
            & (s["comparison"] == f"{top} vs {second}")]
    excl = bool(len(row)) and row["hr_q97.5"].iloc[0] < 1
    if rp["P(best)"].iloc[0] >= 0.90 and excl:
        r = row.iloc[0]
        verdict = (f"{top} is the best-ranked treatment: P(best) {rp['P(best)'].iloc[0]:.2f}, HR vs the runner-up "
                   f"{second} {r['hr_median']:.2f} (95% CrI {r['hr_q2.5']:.2f}-{r['hr_q97.5']:.2f}).")
    else:
        hi1 = iv[0][1]
        tied = [t for t, (lo, _) in list(zip(rp["treatment"], iv))[1:] if lo <= hi1]
        verdict = (f"The rank probabilities do not separate the top-ranked {top} (P(best) {rp['P(best)'].iloc[0]:.2f}, "
                   f"rank 95% CrI {iv[0][0]}-{hi1}) from " + ", ".join(tied or [second])
                   + " (overlapping rank intervals or an HR against the runner-up whose CrI includes 1): no treatment "
                   "is named best.")
    return tab, verdict


def splits_in_direction(res: NetworkResult) -> pd.DataFrame:
    """The node-splitting rows read in the report's one direction (see :func:`sclcmeta.report.answers.canonical`)."""
    from .answers import canonical, flip

    rows = [r if canonical(res, r["comparison"]) else flip(r) for _, r in res.splits.iterrows()]
    return pd.DataFrame(rows).reset_index(drop=True)


@extra_tables.register
def _(self: NetworkResult) -> dict[str, pd.DataFrame]:
    rank, verdict = ranking(self)
    out = {f"Rank probabilities and SUCRA (surface under the cumulative ranking curve: 1 = always ranked first, 0 = "
           f"always last; rank 1 = lowest HR), with each rank's 95% credible interval. {verdict} {BEST_RULE}": rank,
           "League table (row vs column, HR median and 95% CrI)": self.league_table()}
    if self.splits is not None and len(self.splits):
        out["Node-splitting: direct vs indirect evidence (each comparison in the direction of the contrasts; "
            "node-splitting estimates a contrast once from the trials that compare the two treatments directly and "
            "once from the rest of the network; a ratio far from 1 signals inconsistency)"] = splits_in_direction(
            self)[["quantity", "comparison", "hr_median", "hr_q2.5", "hr_q97.5", "prob_hr_below_1"]]
    if not self.inconsistency_assessable:
        out["Inconsistency"] = pd.DataFrame({"assessment": [
            "not assessable: the network has no closed loops, so no comparison has both direct and indirect "
            "evidence; a consistency-vs-UME DIC comparison cannot detect inconsistency here and is not shown"]})
    elif self.ume_dic is not None:
        out["Consistency vs unrelated mean effects (TSD4 DIC)"] = pd.DataFrame(
            [{"model": "consistency", **self.consistency_dic}, {"model": "unrelated mean effects", **self.ume_dic}])
    if self.assumptions:
        from .narrative import with_labels

        out["Assumptions"] = pd.DataFrame({"assumption": [with_labels(a, self.net.labels) for a in self.assumptions]})
    return out


@extra_tables.register
def _(self: ModeratorResult) -> dict:
    out: dict[str, pd.DataFrame] = {}
    e = self.effects
    if self.kind == "interaction":
        mod = self.moderator
        d = e.pairs
        st = {q.comparison.split(":")[0]: self.row(q) for q in self.quantities if q.quantity == "study"}
        rows = []
        for r in d.itertuples():
            s = st.get(r.study, {})
            rows.append({
                "study": r.study,
                f"HR {mod.index_label}": r.txt_index,
                f"source ({mod.index})": "derived" if r.derived_index else "reported",
                f"HR {mod.reference_label}": r.txt_ref,
                f"source ({mod.reference})": "derived" if r.derived_ref else "reported",
                "ratio (95% CI)": fmt_ci(r.y, r.se),
                "ratio range from printed rounding": (f"{math.exp(r.rounding_lo):.2f}-{math.exp(r.rounding_hi):.2f}"
                                                      if pd.notna(r.rounding_lo) else ""),
                "information share of derived": r.information_share, "patient share of derived": r.patient_share,
                "P(ratio > 1) within study": s.get("prob_less_benefit", np.nan),
                "evidence": f"{r.id_index} / {r.id_ref}",
            })
        out["Within-study subgroup estimates (derived = inverse-variance back-calculation)"] = pd.DataFrame(rows)
        ps = [self.row(q) for q in self.quantities if q.quantity in ("interaction", "predictive", "study")]
        out[f"P(less benefit {mod.index_label}) = P(ratio of HRs > 1)"] = pd.DataFrame([
            {"quantity": r["quantity"], "comparison": r["comparison"], "ratio median": r["hr_median"],
             "ratio q2.5": r["hr_q2.5"], "ratio q97.5": r["hr_q97.5"], "P(ratio < 1)": r["prob_hr_below_1"],
             "P(ratio > 1): less benefit": r["prob_less_benefit"]} for r in ps])
        if d["derived"].any():
            out["Back-calculation assumptions"] = pd.DataFrame({"assumption": list(BACK_CALCULATION_ASSUMPTIONS)})
        if self.inventory is not None:        # built from the evidence that was analysed
            out["Moderators considered for Q3"] = self.inventory
    elif self.kind == "prognostic":
        c = e.candidates.copy()
        c["HR (harmonized)"] = np.exp(c["y"])
        out["Prognostic estimates considered"] = c[["study", "id", "population", "analysis", "levels", "hr", "ci",
                                                    "HR (harmonized)", "flags", "status", "reason"]]
    else:
        out["Cohorts and covariate (ecological)"] = e.candidates
    return out

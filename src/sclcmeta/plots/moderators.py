"""Figures of Q3 moderator results: subgroup/interaction forest, prognostic forest (both adapters onto
:func:`sclcmeta.plots.forest.forest`), ecological scatter."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..vocabulary import Z95
from .forest import ForestRow, fmt_hr, forest

if TYPE_CHECKING:
    from ..results.moderators import ModeratorResult


_REPORTED = "reported (95% CI)"
_DERIVED = "derived by back-calculation"


def plot_moderator_forest(res: ModeratorResult, ax=None):
    """Forest plot per moderator: reported vs derived subgroup HRs and ratios (interaction), every
    prognostic estimate considered (used or not, with why), or the meta-regression line (ecological)."""
    if res.kind == "ecological":
        return _plot_ecological(res, ax)
    mod = res.moderator
    rows = _interaction_rows(res) if res.kind == "interaction" else _prognostic_rows(res)
    rows += _summary_rows(res)
    if res.kind == "interaction":
        xlabel = (f"HR ({res.outcome}); ratio > 1 = less benefit {mod.index_label}. Open orange squares: derived "
                  "by back-calculation; blue: posterior (shrunken)")
    else:
        xlabel = (f"prognostic HR ({res.outcome}) among ICI-treated patients; > 1 = worse prognosis. Grey: "
                  "considered, not used (see table)")
    title = f"{res.name}: {res.spec.title if res.spec is not None else res.comparison}"
    return forest(rows, title=title, xlabel=xlabel, failed=not res.passed, ax=ax)


def _reported(label: str, y: float, se: float, derived: bool, **kw) -> ForestRow:
    """A reported (or back-calculated) estimate, from its log HR and SE."""
    return ForestRow.from_log(label + (" [derived]" if derived else ""), y, se, "derived" if derived else "study",
                              legend=_DERIVED if derived else _REPORTED, **kw)


def _interaction_rows(res: ModeratorResult) -> list:
    """Treatment HR per subgroup (reported / derived, pooled per level), then the ratio of HRs per study
    (reported and shrunken)."""
    mod, d = res.moderator, res.effects.pairs
    rows = [ForestRow("Treatment HR by subgroup", style="header")]
    for r in d.itertuples():
        for key, lab in (("index", mod.index_label), ("ref", mod.reference_label)):
            rows.append(_reported(f"{r.study}, {lab}", getattr(r, f"y_{key}"), getattr(r, f"se_{key}"),
                                  bool(getattr(r, f"derived_{key}")), text=getattr(r, f"txt_{key}")))
    for q in res.quantities:
        if q.quantity == "subgroup":
            lv = mod.index_label if q.level == mod.index else mod.reference_label
            rows.append(ForestRow.from_summary(f"Pooled, {lv}", res.row(q), "pooled", legend="pooled (95% CrI)"))
    rows.append(ForestRow(f"Ratio of HRs ({mod.index_label} / {mod.reference_label})", style="header"))
    post = {q.comparison.split(":")[0]: res.row(q) for q in res.quantities if q.quantity == "study"}
    for r in d.itertuples():
        s = post[r.study]
        rows.append((_reported(r.study, r.y, r.se, bool(r.derived), offset=0.12),
                     ForestRow.from_summary(r.study, s, "shrunken", text=f"{s['hr_median']:.2f}", offset=-0.12,
                                            size=4, legend="shrunken (95% CrI)")))
    return rows


def _prognostic_rows(res: ModeratorResult) -> list:
    """Every prognostic estimate considered: used ones dark, the others grey with why they were not used."""
    mod, c, data = res.moderator, res.effects.candidates, res.effects.data
    rows = [ForestRow(f"Prognostic HR: {mod.label} {data['treatment'].iloc[0]} vs {data['comparator'].iloc[0]}",
                      style="header")]
    for r in c.itertuples():
        if not (np.isfinite(r.y) and np.isfinite(r.se)) or r.reason.startswith(("levels", "population")):
            continue
        used = r.status == "used"
        tag = "" if used else (" [excluded: direction contradicts paper]" if r.reason.startswith("curator flag")
                               else " [not used]")
        printed = f"{r.hr} ({r.ci})" + ("" if abs(math.log(float(r.hr)) - r.y) < 1e-9 else
                                        f" as printed; entered as {math.exp(r.y):.3g}")
        rows.append(ForestRow.from_log(f"{r.study} {r.analysis}{tag}", r.y, r.se, "study" if used else "muted",
                                       text=printed, legend=_REPORTED if used else "considered, not used"))
    return rows


def _summary_rows(res: ModeratorResult) -> list:
    """The pooled primary quantity (with its probability) and the predictive row, when there is one."""
    prim = res.pooled_hr()
    prob = (f"; P(>1) {prim['prob_less_benefit']:.2f}" if pd.notna(prim.get("prob_less_benefit"))
            else f"; P(<1) {prim['prob_hr_below_1']:.2f}")
    rows = [ForestRow.from_summary(f"Pooled {res.primary}", prim, "pooled", legend="pooled (95% CrI)",
                                   text=fmt_hr(prim["hr_median"], prim["hr_q2.5"], prim["hr_q97.5"]) + prob)]
    pr = next((res.row(q) for q in res.quantities if q.quantity == "predictive"), None)
    if pr is not None:
        rows.append(ForestRow.from_summary("Predictive (new cohort)", pr, "predictive",
                                           legend="predictive (95% interval)"))
    return rows


def _plot_ecological(res: ModeratorResult, ax=None):
    Z = Z95
    d = res.effects.data
    cov = res.model.coef_names[1]
    x = d[cov].to_numpy(float)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7.5, 4.2))
    w = 1 / d["se"].to_numpy(float) ** 2
    ax.errorbar(x, np.exp(d["y"]), yerr=[np.exp(d["y"]) - np.exp(d["y"] - Z * d["se"]),
                                         np.exp(d["y"] + Z * d["se"]) - np.exp(d["y"])],
                fmt="none", ecolor="0.5", lw=1)
    ax.scatter(x, np.exp(d["y"]), s=30 + 200 * w / w.max(), color="0.3", zorder=3)
    for xi, yi, s in zip(x, d["y"], d["study"]):
        ax.annotate(s, (xi, math.exp(yi)), xytext=(5, 5), textcoords="offset points", fontsize=8)
    grid = np.linspace(x.min(), x.max(), 40)
    qs = []
    for g in grid:
        c = np.array([1.0, g - x.mean()] + [0.0] * (res.model.p - 2))
        qs.append(np.asarray(res.linear_marginal(c).quantile([0.025, 0.5, 0.975]), float).ravel())
    qs = np.exp(np.array(qs))
    ax.fill_between(grid, qs[:, 0], qs[:, 2], color="tab:blue", alpha=0.2, label="95% CrI of the fitted HR")
    ax.plot(grid, qs[:, 1], color="tab:blue", label="posterior median")
    ax.axhline(1.0, color="0.3", lw=0.8)
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    ticks = [t for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0) if lo <= t <= hi]
    ax.set_yticks(ticks)
    ax.set_yticklabels([f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.text(0.01, 0.02, "between-cohort association (ecological): not a within-patient effect modification",
            transform=ax.transAxes, fontsize=8, color="tab:red")
    ax.set_xlabel(f"{cov} (cohort level)")
    ax.set_ylabel(f"treatment HR ({res.outcome})")
    p = res.pooled_hr()
    ax.set_title(f"{res.name}: ECOLOGICAL meta-regression, k = {len(d)}; ratio per unit {p['hr_median']:.2f} "
                 f"({p['hr_q2.5']:.2f}-{p['hr_q97.5']:.2f})", loc="left", fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


__all__ = ["plot_moderator_forest"]

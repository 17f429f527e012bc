"""Figures of Q3 moderator results: subgroup/interaction forest, prognostic forest, ecological scatter."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..evidence.moderators import fmt_ci
from ..vocabulary import Z95
from .pairwise import hr_axis


# --------------------------------------------------------------------------------------------------
def plot_moderator_forest(res: ModeratorResult, ax=None):
    """Forest plot per moderator: reported vs derived subgroup HRs and ratios (interaction), every
    prognostic estimate considered (used or not, with why), or the meta-regression line (ecological)."""


    Z = Z95
    if res.kind == "ecological":
        return _plot_ecological(res, ax)
    entries = []  # (label, y, se or None, (lo, med, hi) or None, style, text)
    mod = res.moderator
    if res.kind == "interaction":
        d = res.effects.pairs
        entries.append(("Treatment HR by subgroup", None, None, None, "header", ""))
        for r in d.itertuples():
            for key, lab in (("index", mod.index_label), ("ref", mod.reference_label)):
                y, se, der = getattr(r, f"y_{key}"), getattr(r, f"se_{key}"), getattr(r, f"derived_{key}")
                entries.append((f"{r.study}, {lab}" + (" [derived]" if der else ""), y, se, None,
                                "derived" if der else "reported", getattr(r, f"txt_{key}")))
        for q in res.quantities:
            if q.quantity == "subgroup":
                rr = res.row(q)
                lv = mod.index_label if q.level == mod.index else mod.reference_label
                entries.append((f"Pooled, {lv}", None, None,
                                (rr["hr_q2.5"], rr["hr_median"], rr["hr_q97.5"]), "pooled",
                                f"{rr['hr_median']:.2f} ({rr['hr_q2.5']:.2f}-{rr['hr_q97.5']:.2f})"))
        entries.append((f"Ratio of HRs ({mod.index_label} / {mod.reference_label})", None, None, None, "header", ""))
        st = {q.comparison.split(":")[0]: res.row(q) for q in res.quantities if q.quantity == "study"}
        for r in d.itertuples():
            s = st[r.study]
            entries.append((f"{r.study}" + (" [derived]" if r.derived else ""), r.y, r.se,
                            (s["hr_q2.5"], s["hr_median"], s["hr_q97.5"]), "derived" if r.derived else "reported",
                            f"{fmt_ci(r.y, r.se)} -> {s['hr_median']:.2f}"))
    else:
        c = res.effects.candidates
        entries.append((f"Prognostic HR: {mod.label} {res.effects.data['treatment'].iloc[0]} vs "
                        f"{res.effects.data['comparator'].iloc[0]}", None, None, None, "header", ""))
        for r in c.itertuples():
            if not (np.isfinite(r.y) and np.isfinite(r.se)) or r.reason.startswith("levels") \
                    or r.reason.startswith("population"):
                continue
            used = r.status == "used"
            tag = "" if used else (" [excluded: direction contradicts paper]" if r.reason.startswith("curator flag")
                                   else " [not used]")
            printed = f"{r.hr} ({r.ci})" + ("" if abs(math.log(float(r.hr)) - r.y) < 1e-9 else
                                            f" as printed; entered as {math.exp(r.y):.3g}")
            entries.append((f"{r.study} {r.analysis}{tag}", r.y, r.se, None, "reported" if used else "unused",
                            printed))
    prim = res.pooled_hr()
    entries.append((f"Pooled {res.primary}", None, None, (prim["hr_q2.5"], prim["hr_median"], prim["hr_q97.5"]),
                    "pooled", f"{prim['hr_median']:.2f} ({prim['hr_q2.5']:.2f}-{prim['hr_q97.5']:.2f})"
                    + (f"; P(>1) {prim['prob_less_benefit']:.2f}" if pd.notna(prim.get("prob_less_benefit"))
                       else f"; P(<1) {prim['prob_hr_below_1']:.2f}")))
    pr = next((res.row(q) for q in res.quantities if q.quantity == "predictive"), None)
    if pr is not None:
        entries.append(("Predictive (new cohort)", None, None, (pr["hr_q2.5"], pr["hr_median"], pr["hr_q97.5"]),
                        "predictive", f"{pr['hr_median']:.2f} ({pr['hr_q2.5']:.2f}-{pr['hr_q97.5']:.2f})"))
    n = len(entries)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(10.5, 0.45 * n + 1.6))
    yk = np.arange(n)[::-1]
    xs = []
    colors = {"reported": "0.2", "derived": "tab:orange", "unused": "0.7"}
    labels = []
    for ypos, (lab, y, se, post, style, text) in zip(yk, entries):
        labels.append(lab)
        if style == "header":
            continue
        if y is not None:
            lo, hi = math.exp(y - Z * se), math.exp(y + Z * se)
            col = colors[style]
            off = 0.12 if post is not None else 0.0
            ax.plot([lo, hi], [ypos + off] * 2, color=col, lw=1.3)
            ax.plot(math.exp(y), ypos + off, "s", ms=6, color=col, mfc="white" if style == "derived" else col)
            xs += [lo, hi]
        if post is not None and style in ("reported", "derived"):
            ax.plot([post[0], post[2]], [ypos - 0.12] * 2, color="tab:blue", lw=1.6)
            ax.plot(post[1], ypos - 0.12, "o", color="tab:blue", ms=4)
            xs += [post[0], post[2]]
        elif style == "pooled":
            ax.fill([post[0], post[1], post[2], post[1]], [ypos, ypos + 0.25, ypos, ypos - 0.25], color="black")
            xs += [post[0], post[2]]
        elif style == "predictive":
            ax.plot([post[0], post[2]], [ypos] * 2, color="tab:red", lw=2.5, solid_capstyle="butt")
            ax.plot(post[1], ypos, "|", color="tab:red", ms=12)
            xs += [post[0], post[2]]
        ax.annotate(text, xy=(1.02, ypos), xycoords=("axes fraction", "data"), va="center", fontsize=8)
    lo, hi = max(min(xs) * 0.85, 0.02), min(max(xs) * 1.15, 60)
    hr_axis(ax, lo, hi)
    if hi / lo > 30:  # wide range: fewer ticks so the labels do not collide
        ticks = [t for t in (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0) if lo <= t <= hi]
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.set_yticks(yk)
    ax.set_yticklabels(labels, fontsize=8)
    for t, (_, _, _, _, style, _) in zip(ax.get_yticklabels(), entries):
        if style == "header":
            t.set_fontweight("bold")
    ax.set_ylim(-0.8, n - 0.2)
    if res.kind == "interaction":
        ax.set_xlabel(f"HR ({res.outcome}); ratio > 1 = less benefit {mod.index_label}. Open orange squares: derived "
                      "by back-calculation; blue: posterior (shrunken)", fontsize=8)
    else:
        ax.set_xlabel(f"prognostic HR ({res.outcome}) among ICI-treated patients; > 1 = worse prognosis. Grey: "
                      "considered, not used (see table)", fontsize=8)
    ax.set_title(f"{res.name}: {res.spec.title if res.spec is not None else res.comparison}", loc="left", fontsize=10)
    fig.subplots_adjust(left=0.34, right=0.70)
    if not res.passed:
        ax.text(0.5, 0.5, "FAILED CONVERGENCE GATE", transform=ax.transAxes, color="red", alpha=0.4,
                ha="center", va="center", fontsize=20, rotation=20)
    return fig


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


__all__ = [
    "BACK_CALCULATION_ASSUMPTIONS", "DOUBT_FLAGS", "ICI_ARMS", "MODERATORS", "MODERATOR_KINDS", "DerivedSubgroup",
    "Moderator", "ModeratorEffects", "ModeratorResult", "derive_complementary_subgroup", "ecological_effects",
    "effects_for_moderator_spec", "interaction_effects", "interaction_estimate", "moderator_inventory",
    "plot_moderator_forest", "prognostic_effects", "rounding_range", "run_moderator_spec", "sensitivity_settings",
    "subgroup_effects", "subgroup_pairs", "wrap_fit",
]

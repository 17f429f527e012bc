"""Figures of pairwise results: forest, posterior density, prior vs posterior, sensitivity forest.

Drawn from a :class:`~sclcmeta.results.FitResult` (never from the CSVs).

Log scale inside, HR scale on the axes. Every function returns a matplotlib Figure.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg") if matplotlib.get_backend().lower() in ("", "agg") else None
import matplotlib.pyplot as plt
import numpy as np

from ..vocabulary import Z95 as Z

_HR_TICKS = [0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0]


def hr_axis(ax, lo, hi):
    """A log-scale HR axis with readable ticks and the line of no effect."""
    ax.set_xscale("log")
    ticks = [t for t in _HR_TICKS if lo * 0.9 <= t <= hi * 1.1]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.axvline(1.0, color="0.3", lw=0.8)
    ax.set_xlim(lo, hi)


def plot_forest(res, ax=None, title: str | None = None):
    """Forest plot: reported cohort HRs, shrunken cohort effects, pooled and predictive rows."""
    s = res.summary()
    studies = s[s["quantity"] == "study"]
    pooled = s[s["quantity"] == "pooled"]
    pred = s[s["quantity"] == "predictive"]
    m = res.model
    n = len(studies) + len(pooled) + len(pred)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(10.5, 0.5 * n + 1.5))
    w = 1 / m.se**2
    w = w / w.max()
    yk = np.arange(n)[::-1]
    labels, texts = [], []
    lo_all, hi_all = [], []
    for j, (i, r) in enumerate(studies.iterrows()):
        idx = list(m.studies).index(r["comparison"])
        yo, se = m.y[idx], m.se[idx]
        ypos = yk[j]
        ax.plot([math.exp(yo - Z * se), math.exp(yo + Z * se)], [ypos + 0.12] * 2, color="0.45", lw=1.2)
        ax.plot(math.exp(yo), ypos + 0.12, "s", color="0.45", ms=3 + 5 * math.sqrt(w[idx]),
                label="reported (95% CI)" if j == 0 else None)
        ax.plot([r["hr_q2.5"], r["hr_q97.5"]], [ypos - 0.12] * 2, color="tab:blue", lw=1.6)
        ax.plot(r["hr_median"], ypos - 0.12, "o", color="tab:blue", ms=5, label="shrunken (95% CrI)" if j == 0 else None)
        labels.append(r["comparison"])
        texts.append(f"{math.exp(yo):.2f} ({math.exp(yo - Z * se):.2f}-{math.exp(yo + Z * se):.2f}) -> "
                     f"{r['hr_median']:.2f} ({r['hr_q2.5']:.2f}-{r['hr_q97.5']:.2f})")
        lo_all += [math.exp(yo - Z * se), r["hr_q2.5"]]
        hi_all += [math.exp(yo + Z * se), r["hr_q97.5"]]
    j = len(studies)
    for _, r in pooled.iterrows():
        ypos = yk[j]
        xs = [r["hr_q2.5"], r["hr_median"], r["hr_q97.5"], r["hr_median"]]
        ax.fill(xs, [ypos, ypos + 0.25, ypos, ypos - 0.25], color="black")
        labels.append("Pooled HR")
        texts.append(f"{r['hr_median']:.2f} ({r['hr_q2.5']:.2f}-{r['hr_q97.5']:.2f}); P(HR<1) {r['prob_hr_below_1']:.2f}")
        lo_all.append(r["hr_q2.5"])
        hi_all.append(r["hr_q97.5"])
        j += 1
    for _, r in pred.iterrows():
        ypos = yk[j]
        ax.plot([r["hr_q2.5"], r["hr_q97.5"]], [ypos] * 2, color="tab:red", lw=2.5, solid_capstyle="butt")
        ax.plot(r["hr_median"], ypos, "|", color="tab:red", ms=12)
        labels.append("Predictive (new cohort)")
        texts.append(f"{r['hr_median']:.2f} ({r['hr_q2.5']:.2f}-{r['hr_q97.5']:.2f})")
        lo_all.append(r["hr_q2.5"])
        hi_all.append(r["hr_q97.5"])
        j += 1
    lo, hi = max(min(lo_all) * 0.85, 0.05), min(max(hi_all) * 1.15, 20)
    hr_axis(ax, lo, hi)
    ax.set_yticks(yk)
    ax.set_yticklabels(labels)
    for ypos, t in zip(yk, texts):
        ax.annotate(t, xy=(1.02, ypos), xycoords=("axes fraction", "data"), va="center", fontsize=8)
    ax.set_ylim(-0.8, n - 0.2)
    ax.set_xlabel(f"Hazard ratio ({res.outcome}); < 1 favours the treatment")
    ax.set_title(title or res.name, loc="left", fontsize=10)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, fontsize=8, frameon=False)
    fig.subplots_adjust(left=0.22, right=0.58)
    if not res.passed:
        ax.text(0.5, 0.5, "FAILED CONVERGENCE GATE", transform=ax.transAxes, color="red", alpha=0.4,
                ha="center", va="center", fontsize=20, rotation=20)
    return fig


def plot_density(res, quantity: str = "pooled", ax=None):
    """Posterior density of the HR with P(HR < 1) shaded and the 0.8 threshold marked."""
    q = next(q for q in res.quantities if q.quantity == quantity)
    mg = q.marginal
    lo, hi = (float(v) for v in np.asarray(mg.quantile([0.0005, 0.9995])).ravel())
    lo, hi = min(lo, -0.05), max(hi, 0.05)
    x = np.linspace(lo, hi, 600)
    d = np.asarray(mg.pdf(x)).ravel()
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.4, 3.4))
    hr = np.exp(x)
    ax.plot(hr, d, color="black", lw=1.5)
    ax.fill_between(hr, d, where=x < 0, color="tab:blue", alpha=0.35)
    p1 = float(np.asarray(mg.cdf(0.0)).ravel()[0])
    p08 = float(np.asarray(mg.cdf(math.log(0.8))).ravel()[0])
    ax.axvline(0.8, ls="--", color="tab:green", lw=1)
    ax.text(0.02, 0.95, f"P(HR < 1) = {p1:.3f}\nP(HR < 0.8) = {p08:.3f}", transform=ax.transAxes, va="top",
            fontsize=9)
    hr_axis(ax, math.exp(lo), math.exp(hi))
    ax.set_yticks([])
    ax.set_xlabel(f"{quantity} HR ({res.outcome}): {res.comparison}")
    ax.set_title(f"{res.name}: posterior density (log-HR density on a log axis)", loc="left", fontsize=10)
    fig.tight_layout()
    return fig


def plot_prior_posterior(res):
    """Prior versus posterior for the pooled effect and each heterogeneity SD."""
    m = res.model
    panels = [("mu", "effect")] if "mu" in m.coef_names else []
    panels += [(c.name, c.prior_role) for c in m.components]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), squeeze=False)
    for ax, (name, role) in zip(axes[0], panels):
        prior = getattr(res.priors, role)
        if name == "mu":
            mg = res.coef_marginal("mu")
            lo, hi = (float(v) for v in np.asarray(mg.quantile([0.001, 0.999])).ravel())
            span = hi - lo
            x = np.linspace(lo - span, hi + span, 500)
            ax.set_xlabel("pooled log HR (mu)")
        else:
            mg = res.variance_marginal(name)
            hi = float(np.asarray(mg.quantile(0.995)).ravel()[0])
            x = np.linspace(0, max(hi * 1.5, float(prior.quantile(0.95))), 500)
            ax.set_xlabel(f"{name} (between-cohort SD, log HR)")
        ax.plot(x, np.exp(prior.logpdf(x)), color="0.5", ls="--", label=f"prior {prior}")
        ax.plot(x, np.asarray(mg.pdf(x)).ravel(), color="tab:blue", label="posterior")
        ax.set_yticks([])
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle(f"{res.name}: prior vs posterior", fontsize=10, x=0.02, ha="left")
    fig.tight_layout()
    return fig


def plot_sensitivity(table, title: str = "", ax=None):
    """Sensitivity forest: pooled HR and 95% CrI under every prior set and evidence choice."""
    n = len(table)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(8.0, 0.38 * n + 1.4))
    yk = np.arange(n)[::-1]
    colors = {"prior": "tab:blue", "evidence": "tab:orange"}
    for ypos, (_, r) in zip(yk, table.iterrows()):
        c = colors.get(r.get("kind", "prior"), "black")
        ax.plot([r["hr_q2.5"], r["hr_q97.5"]], [ypos, ypos], color=c, lw=1.8)
        ax.plot(r["hr_median"], ypos, "o", color=c, ms=5)
        ax.annotate(f"{r['hr_median']:.2f} ({r['hr_q2.5']:.2f}-{r['hr_q97.5']:.2f})  P<1 {r['prob_hr_below_1']:.2f}",
                    xy=(1.02, ypos), xycoords=("axes fraction", "data"), va="center", fontsize=8)
    hr_axis(ax, max(table["hr_q2.5"].min() * 0.85, 0.05), min(table["hr_q97.5"].max() * 1.15, 20))
    ax.set_yticks(yk)
    ax.set_yticklabels(table["setting"])
    ax.set_xlabel("pooled hazard ratio")
    ax.set_title(title, loc="left", fontsize=10)
    fig.tight_layout()
    return fig

"""Figures of pairwise results: forest, posterior density, prior vs posterior, sensitivity forest.

The two forests are adapters onto :func:`sclcmeta.plots.forest.forest`.

Drawn from a :class:`~sclcmeta.results.FitResult` (never from the CSVs).

Log scale inside, HR scale on the axes. Every function returns a matplotlib Figure.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg") if matplotlib.get_backend().lower() in ("", "agg") else None
import matplotlib.pyplot as plt
import numpy as np

from .forest import ForestRow, fmt_hr, forest, hr_axis

__all__ = ["hr_axis", "plot_density", "plot_forest", "plot_prior_posterior", "plot_sensitivity"]


def plot_forest(res, ax=None, title: str | None = None):
    """Forest plot: reported cohort HRs, shrunken cohort effects, pooled and predictive rows."""
    s = res.summary()
    m = res.model
    studies = list(m.studies)
    w = 1 / m.se**2
    w = w / w.max()
    rows = []
    for _, r in s[s["quantity"] == "study"].iterrows():
        i = studies.index(r["comparison"])
        rows.append((ForestRow.from_log(r["comparison"], m.y[i], m.se[i], "study", color="0.45", offset=0.12,
                                        size=3 + 5 * math.sqrt(w[i]), legend="reported (95% CI)"),
                     ForestRow.from_summary(r["comparison"], r, "shrunken", offset=-0.12,
                                            legend="shrunken (95% CrI)")))
    for _, r in s[s["quantity"] == "pooled"].iterrows():
        rows.append(ForestRow.from_summary("Pooled HR", r, "pooled", legend="pooled (95% CrI)",
                                           text=f"{fmt_hr(r['hr_median'], r['hr_q2.5'], r['hr_q97.5'])}; "
                                                f"P(HR<1) {r['prob_hr_below_1']:.2f}"))
    for _, r in s[s["quantity"] == "predictive"].iterrows():
        rows.append(ForestRow.from_summary("Predictive (new cohort)", r, "predictive",
                                           legend="predictive (95% interval)"))
    return forest(rows, title=title or res.name, xlabel=f"Hazard ratio ({res.outcome}); < 1 favours the treatment",
                  failed=not res.passed, ax=ax)


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
    colors = {"prior": "tab:blue", "evidence": "tab:orange"}
    names = {"prior": "prior set", "evidence": "evidence choice"}
    rows, failed = [], False
    several = "comparison" in table and table["comparison"].nunique() > 1     # a network: label setting: contrast
    for _, r in table.iterrows():
        kind = r.get("kind", "prior")
        bad = str(r.get("gate", "")).startswith("FAILED")
        failed |= bad
        rows.append(ForestRow.from_summary(
            f"{r['setting']}: {r['comparison']}" if several else str(r["setting"]), r, "estimate", color=colors.get(kind, "black"), legend=names.get(kind, str(kind)),
            text=f"{fmt_hr(r['hr_median'], r['hr_q2.5'], r['hr_q97.5'])}  P<1 {r['prob_hr_below_1']:.2f}"
                 + ("  [gate FAILED]" if bad else "")))
    return forest(rows, title=title, xlabel="pooled hazard ratio", failed=failed, ax=ax)

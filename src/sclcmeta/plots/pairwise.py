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
    """Forest plot: reported cohort effects, shrunken cohort effects, pooled and predictive rows.

    On the result's effect scale (HR, OR, RR on a log axis; a mean difference on a linear one). A fixed-effect
    model has no shrunken study effects (every study's effect is the pooled one), so only the reported marks
    are drawn."""
    s = res.summary()
    unadjusted = s[s["bias"] == "unadjusted"] if "bias" in s else s.iloc[:0]
    s = s[s["bias"] != "unadjusted"] if "bias" in s else s      # the primary (bias-adjusted) fit
    m = res.model
    sc = res.effect_scale
    studies = list(m.studies)
    # a bias-adjusted model holds y - m and s^2 + v: the reported marks are the estimates as printed
    bias_m = res.bias.mean if res.bias is not None else np.zeros(m.k)
    bias_v = res.bias.var if res.bias is not None else np.zeros(m.k)
    y_rep, se_rep = m.y + bias_m, np.sqrt(m.se**2 - bias_v)
    w = 1 / se_rep**2
    w = w / w.max()
    shrink = m.kind != "fixed_effect"
    rows = []
    for _, r in s[s["quantity"] == "study"].iterrows():
        i = studies.index(r["comparison"])
        rep = ForestRow.from_log(r["comparison"], y_rep[i], se_rep[i], "study", color="0.45",
                                 offset=0.12 if shrink else 0.0, size=3 + 5 * math.sqrt(w[i]),
                                 legend="reported (95% CI)", ratio=sc.ratio)
        rows.append((rep, ForestRow.from_summary(r["comparison"], r, "shrunken", offset=-0.12,
                                                 legend="shrunken (95% CrI)")) if shrink else (rep,))
    null = f"{sc.null:g}"
    p_key = "prob_hr_below_1" if sc.ratio else "prob_hr_below_0"
    for label, tab in ((f"Pooled {sc.label}" + (", bias-adjusted" if res.bias is not None else ""), s),
                       (f"Pooled {sc.label}, unadjusted for bias", unadjusted)):
        for _, r in tab[tab["quantity"] == "pooled"].iterrows():
            rows.append(ForestRow.from_summary(label, r, "pooled", legend="pooled (95% CrI)",
                                               text=f"{fmt_hr(r['hr_median'], r['hr_q2.5'], r['hr_q97.5'])}; "
                                                    f"P({sc.label}<{null}) {r[p_key]:.2f}"))
    for _, r in s[s["quantity"] == "predictive"].iterrows():
        rows.append(ForestRow.from_summary("Predictive (new cohort)", r, "predictive",
                                           legend="predictive (95% interval)"))
    side = "< 1" if sc.ratio else "< 0"
    return forest(rows, title=title or res.name,
                  xlabel=f"{sc.long[0].upper() + sc.long[1:]} ({res.outcome}); {side} favours the treatment"
                  + ("" if sc.name == "log_hr" else " if lower is better"),
                  failed=not res.passed, ax=ax, linear=not sc.ratio)


def plot_density(res, quantity: str = "pooled", ax=None):
    """Posterior density of the effect with P(effect < no effect) shaded (and the 0.8 threshold of a ratio)."""
    q = next(q for q in res.quantities if q.quantity == quantity)
    sc = res.effect_scale
    mg = q.marginal
    lo, hi = (float(v) for v in np.asarray(mg.quantile([0.0005, 0.9995])).ravel())
    pad = 0.05 if sc.ratio else 0.05 * (hi - lo)
    lo, hi = min(lo, -pad), max(hi, pad)
    x = np.linspace(lo, hi, 600)
    d = np.asarray(mg.pdf(x)).ravel()
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.4, 3.4))
    xs = np.exp(x) if sc.ratio else x
    ax.plot(xs, d, color="black", lw=1.5)
    ax.fill_between(xs, d, where=x < 0, color="tab:blue", alpha=0.35)
    p1 = float(np.asarray(mg.cdf(0.0)).ravel()[0])
    text = f"P({sc.label} < {sc.null:g}) = {p1:.3f}"
    if sc.ratio:
        p08 = float(np.asarray(mg.cdf(math.log(0.8))).ravel()[0])
        ax.axvline(0.8, ls="--", color="tab:green", lw=1)
        text += f"\nP({sc.label} < 0.8) = {p08:.3f}"
        hr_axis(ax, math.exp(lo), math.exp(hi))
    else:
        ax.axvline(0.0, color="0.3", lw=0.8)
        ax.set_xlim(lo, hi)
    ax.text(0.02, 0.95, text, transform=ax.transAxes, va="top", fontsize=9)
    ax.set_yticks([])
    ax.set_xlabel(f"{quantity} {sc.label} ({res.outcome}): {res.comparison}")
    how = f"log-{sc.label} density on a log axis" if sc.ratio else f"{sc.label} density"
    ax.set_title(f"{res.name}: posterior density ({how})", loc="left", fontsize=10)
    fig.tight_layout()
    return fig


def plot_prior_posterior(res):
    """Prior versus posterior for the pooled effect and each heterogeneity SD.

    An improper prior (``flat``, ``jeffreys``) has no normalised density and is named in the legend only; a
    fixed tau is drawn as a vertical line at its value."""
    m = res.model
    sc = res.effect_scale
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
            ax.set_xlabel(f"pooled {sc.log_label} (mu)")
        elif prior.family == "fixed":
            ax.axvline(prior["value"], color="tab:blue", label=f"fixed at {prior['value']:g} (prior = posterior)")
            ax.set_xlabel(f"{name} (between-cohort SD, {sc.log_label})")
            ax.set_yticks([])
            ax.legend(fontsize=7, frameon=False)
            continue
        else:
            mg = res.variance_marginal(name)
            hi = float(np.asarray(mg.quantile(0.995)).ravel()[0])
            top = prior.quantile(0.95) if prior.proper else hi
            x = np.linspace(0, max(hi * 1.5, float(top)), 500)
            ax.set_xlabel(f"{name} (between-cohort SD, {sc.log_label})")
        if prior.proper:
            ax.plot(x, np.exp(prior.logpdf(x)), color="0.5", ls="--", label=f"prior {prior}")
        else:
            ax.plot([], [], color="0.5", ls="--", label=f"prior {prior} (improper: no density to draw)")
        ax.plot(x, np.asarray(mg.pdf(x)).ravel(), color="tab:blue", label="posterior")
        ax.set_yticks([])
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle(f"{res.name}: prior vs posterior", fontsize=10, x=0.02, ha="left")
    fig.tight_layout()
    return fig


def plot_sensitivity(table, title: str = "", ax=None):
    """Sensitivity forest: pooled HR and 95% CrI under every prior set and evidence choice."""
    from ..vocabulary import effect_scale

    colors = {"prior": "tab:blue", "evidence": "tab:orange"}
    names = {"prior": "prior set", "evidence": "evidence choice"}
    sc = effect_scale(table["scale"].iloc[0] if "scale" in table.columns and len(table) else None)
    p_key = "prob_hr_below_1" if sc.ratio else "prob_hr_below_0"
    rows, failed = [], False
    several = "comparison" in table and table["comparison"].nunique() > 1     # a network: label setting: contrast
    for _, r in table.iterrows():
        kind = r.get("kind", "prior")
        bad = str(r.get("gate", "")).startswith("FAILED")
        failed |= bad
        rows.append(ForestRow.from_summary(
            f"{r['setting']}: {r['comparison']}" if several else str(r["setting"]), r, "estimate", color=colors.get(kind, "black"), legend=names.get(kind, str(kind)),
            text=f"{fmt_hr(r['hr_median'], r['hr_q2.5'], r['hr_q97.5'])}  P<{sc.null:g} {r.get(p_key, float('nan')):.2f}"
                 + ("  [gate FAILED]" if bad else "")))
    return forest(rows, title=title, xlabel=f"pooled {sc.long}", failed=failed, ax=ax, linear=not sc.ratio)

"""Figures of network results: the evidence network, relative effects (a forest), rankogram."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import networkx as nx
import numpy as np

from .forest import ForestRow, fmt_hr, forest

__all__ = ["plot_contrasts", "plot_network", "plot_rankogram"]


def plot_network(res, ax=None):
    """Network graph: nodes on a circle, edge width by evidence precision, labels with study counts."""
    net = res.net
    edges = net.edges()
    pos = {t: tuple(xy) for t, xy in nx.circular_layout(net.graph()).items()}
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.2, 5.6))
    wmax = np.sqrt(edges["precision"]).max()
    for _, e in edges.iterrows():
        (x1, y1), (x2, y2) = pos[e["a"]], pos[e["b"]]
        ax.plot([x1, x2], [y1, y2], color="tab:blue", lw=1 + 8 * math.sqrt(e["precision"]) / wmax, alpha=0.6,
                zorder=1, solid_capstyle="round")
        ax.text((x1 + x2) / 2, (y1 + y2) / 2, str(e["n_studies"]), fontsize=8, ha="center", va="center",
                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none"), zorder=3)
    for t, (x, y) in pos.items():
        ax.scatter([x], [y], s=260, color="white", edgecolor="black", zorder=2)
        ax.text(x * 1.17, y * 1.17, res.label(t), ha="center", va="center", fontsize=9)
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.45, 1.45)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"{res.name}: evidence network (edge width ~ sqrt(precision); numbers = studies)", fontsize=9,
                 loc="left")
    fig.tight_layout()
    return fig


_CONTRAST_STYLE = {"contrast": ("black", "o", "vs the reference"), "class_mean": ("tab:purple", "D", "class mean"),
                   "class_difference": ("tab:red", "D", "class difference")}


def plot_contrasts(res, ax=None):
    """Forest of every treatment vs the reference (and class means / class difference when present)."""
    s = res.summary()
    ref = res.label(res.net.reference)
    keep = s[((s["quantity"] == "contrast") & (s["bias"] != "unadjusted") & s["comparison"].str.endswith(f" vs {ref}"))
             | s["quantity"].isin(["class_mean", "class_difference"])]
    rows = []
    for _, r in keep.iterrows():
        color, marker, name = _CONTRAST_STYLE[r["quantity"]]
        rows.append(ForestRow.from_summary(
            r["comparison"], r, "estimate", color=color, marker=marker, legend=name,
            text=f"{fmt_hr(r['hr_median'], r['hr_q2.5'], r['hr_q97.5'])}  P<1 {r['prob_hr_below_1']:.2f}"))
    return forest(rows, title=f"{res.name}: relative effects", xlabel=f"hazard ratio ({res.outcome})",
                  failed=not getattr(res, "passed", True), ax=ax)


def plot_rankogram(res, ax=None):
    """Rankogram: P(rank r) per treatment (rank 1 = lowest HR), SUCRA in the legend."""
    rp = res.rank_probabilities()
    cols = [c for c in rp.columns if c.startswith("P(rank ")]
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(6.8, 3.6))
    x = np.arange(1, len(cols) + 1)
    for _, r in rp.iterrows():
        ax.plot(x, r[cols].to_numpy(float), marker="o", label=f"{r['treatment']} (SUCRA {r['SUCRA']:.2f})")
    ax.set_xticks(x)
    ax.set_xlabel("rank (1 = best, lowest hazard)")
    ax.set_ylabel("probability")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7, frameon=False, bbox_to_anchor=(1.01, 1), loc="upper left")
    ax.set_title(f"{res.name}: rankogram", loc="left", fontsize=10)
    fig.tight_layout()
    return fig

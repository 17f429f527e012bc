"""Specification curve of a multiverse run: the headline HR of every setting, sorted, above which choices made it.

Top panel: each setting's posterior median HR with its 95% credible interval, settings sorted by the
median (intervals wholly below 1 blue, wholly above 1 red, crossing 1 grey; the primary analysis drawn
black; an MCMC fit that failed the convergence gate hollow). Bottom panel: one row per value of every axis,
a mark under each setting that uses it (Simonsohn, Simmons & Nelson 2020, Nat Hum Behav 4:1208).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..errors import SclcmetaError

#: Short names of the default axes in the indicator panel.
AXIS_NAMES = {"prior_set": "prior", "evidence_choice": "evidence", "leave_out": "left out"}
_BELOW, _ABOVE, _CROSS = "#2b6cb0", "#c53030", "0.55"


def _pick(result, analysis: str | None) -> str:
    names = result.analyses
    if analysis is None:
        if len(names) != 1:
            raise SclcmetaError(f"the multiverse holds {len(names)} analyses ({', '.join(names[:4])}"
                                f"{', ...' if len(names) > 4 else ''}); name one with analysis=.")
        return names[0]
    if analysis not in names:
        raise SclcmetaError(f"analysis {analysis!r} is not in this multiverse; it holds {', '.join(names)}.")
    return analysis


def plot_specification_curve(result, analysis: str | None = None, *, title: str = "") -> Figure:
    """The specification curve of one analysis of a :class:`~sclcmeta.results.multiverse.MultiverseResult`.

    Examples
    --------
    >>> import sclcmeta as sm
    >>> from sclcmeta.plots.multiverse import plot_specification_curve
    >>> mv = sm.multiverse(["q1_continuation_os"], prior_files=["default", "vague"], scheduler="synchronous")
    >>> fig = plot_specification_curve(mv)
    >>> [ax.get_ylabel() for ax in fig.axes][0]
    'pooled HR (median, 95% CrI)'
    """
    name = _pick(result, analysis)
    h = result.headline(name)
    ok = h[h["status"] == "ok"].sort_values(["hr_median", "setting"], kind="stable").reset_index(drop=True)
    skipped = len(h) - len(ok)
    if ok.empty:
        raise SclcmetaError(f"{name}: no setting of the multiverse could be fitted ({skipped} did not run); see "
                            "the table's error column.")
    values = [(a, v) for a in result.axes for v in dict.fromkeys(h[a].astype(str))]   # grid order, primary first
    n, m = len(ok), len(values)
    fig = Figure(figsize=(min(24.0, max(8.0, 3.5 + 0.07 * n)), 3.6 + 0.2 * m))
    gs = fig.add_gridspec(2, 1, height_ratios=[3.2, 0.2 * m + 0.3], hspace=0.06)
    top, bot = fig.add_subplot(gs[0]), fig.add_subplot(gs[1])
    top.sharex(bot)
    x = np.arange(n)
    lo, med, hi = ok["hr_q2.5"].to_numpy(), ok["hr_median"].to_numpy(), ok["hr_q97.5"].to_numpy()
    colors = np.where(hi < 1, _BELOW, np.where(lo > 1, _ABOVE, _CROSS)).astype(object)
    prim = ok["primary"].to_numpy(bool)
    colors[prim] = "black"
    top.vlines(x, lo, hi, colors=list(colors), lw=1.2 if n < 150 else 0.6)
    failed = ok["gate"].str.startswith("FAILED").to_numpy()
    for mask, face in ((~failed, None), (failed, "white")):
        if mask.any():
            top.scatter(x[mask], med[mask], s=14 if n < 150 else 6, zorder=3, c=list(colors[mask]) if face is None
                        else face, edgecolors=list(colors[mask]), linewidths=0.8)
    if prim.any():
        i = int(np.flatnonzero(prim)[0])
        top.scatter([i], [med[i]], marker="D", s=40, color="black", zorder=4, label="primary analysis")
        top.legend(loc="upper left", fontsize=8, frameon=False)
    top.set_yscale("log")
    top.axhline(1.0, color="0.3", lw=0.8)
    quantity = str(ok["quantity"].iloc[0])
    top.set_ylabel(f"{'pooled' if quantity == 'pooled' else quantity} HR (median, 95% CrI)")
    top.tick_params(labelbottom=False)
    top.grid(axis="y", color="0.92", lw=0.6)
    note = f"; {skipped} setting(s) not estimable or failed, not shown" if skipped else ""
    gate = f"; {int(failed.sum())} hollow: MCMC gate failed" if failed.any() else ""
    top.set_title(title or f"{name}: {quantity} HR across {n} settings (sorted){note}{gate}", fontsize=10)
    rows = {v: j for j, v in enumerate(values)}
    xs, ys, cs = [], [], []
    for i, r in ok.iterrows():
        for a in result.axes:
            xs.append(i)
            ys.append(rows[(a, str(r[a]))])
            cs.append("black" if r["primary"] else colors[i])
    bot.scatter(xs, ys, marker="s", s=9 if n < 150 else 3, c=cs, linewidths=0)
    bounds = np.cumsum([sum(1 for v in values if v[0] == a) for a in result.axes])[:-1]
    for b in bounds:
        bot.axhline(b - 0.5, color="0.6", lw=0.6)
    bot.set_yticks(range(m))
    bot.set_yticklabels([f"{AXIS_NAMES.get(a, a)}: {v}" for a, v in values], fontsize=7)
    bot.set_ylim(m - 0.5, -0.5)
    bot.set_xlim(-0.5 if n > 1 else -1, n - 0.5 if n > 1 else 1)
    bot.set_xlabel("settings, sorted by the median HR")
    bot.set_xticks([])
    return fig


__all__ = ["plot_specification_curve"]

"""The one forest plot: any mix of rows (studies, shrunken effects, pooled diamonds, predictive bars,
headers, greyed rows) on a log hazard-ratio axis, with a right-hand text column and a legend.

Every forest-like figure of the package (``plot_forest``, ``plot_sensitivity``, ``plot_contrasts``,
``plot_moderator_forest``) is a thin adapter that turns a result into :class:`ForestRow` objects and
calls :func:`forest`.

A *line* of the plot (one y tick label) is either one :class:`ForestRow` or a tuple of rows drawn at
the same height (e.g. a reported and a shrunken estimate of the same study, separated by ``offset``).
The line's label is its first row's label; its text is the rows' non-empty texts joined by `` -> ``.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg") if matplotlib.get_backend().lower() in ("", "agg") else None
import matplotlib.pyplot as plt  # noqa: E402

from ..vocabulary import Z95  # noqa: E402

_HR_TICKS = [0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0]
_WIDE_HR_TICKS = [0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0]
_X_FLOOR, _X_CEIL = 0.02, 60.0  # the HR axis never extends beyond these
WATERMARK = "FAILED CONVERGENCE GATE"
MUTED = "0.7"  # the colour of considered-but-not-used rows

# style -> how the mark is drawn: line width, marker, marker size, colour, open marker, line capstyle
_STYLES = {
    "study": dict(lw=1.3, marker="s", ms=6, color="0.3", open=False),  # reported estimate (95% CI)
    "derived": dict(lw=1.3, marker="s", ms=6, color="tab:orange", open=True),  # back-calculated estimate
    "muted": dict(lw=1.3, marker="s", ms=6, color=MUTED, open=False),  # considered, not used
    "shrunken": dict(lw=1.6, marker="o", ms=5, color="tab:blue", open=False),  # posterior of a study effect
    "estimate": dict(lw=1.8, marker="o", ms=5, color="black", open=False),  # a posterior summary, point + CrI
    "predictive": dict(lw=2.5, marker="|", ms=12, color="tab:red", open=False),  # predictive interval
    "pooled": dict(color="black"),  # diamond
    "header": {},  # bold label, no mark
}
STYLES = tuple(_STYLES)


@dataclass(frozen=True)
class ForestRow:
    """One mark of a forest plot, on the HR scale (``median``, ``lo``, ``hi``; ``None`` for a header).

    ``style`` is one of :data:`STYLES`; ``marker`` / ``color`` / ``size`` override the style's defaults;
    ``offset`` moves the mark up (+) or down (-) from its line; ``legend`` names it in the legend
    (once per distinct name); ``text`` is shown in the right-hand column."""

    label: str
    median: float | None = None
    lo: float | None = None
    hi: float | None = None
    style: str = "study"
    text: str = ""
    marker: str | None = None
    color: str | None = None
    offset: float = 0.0
    size: float | None = None
    legend: str | None = None

    def __post_init__(self):
        if self.style not in _STYLES:
            raise ValueError(f"unknown forest row style {self.style!r}; expected one of {STYLES}")

    @classmethod
    def from_summary(cls, label: str, r, style: str = "estimate", text: str | None = None, **kw) -> ForestRow:
        """A row from a summary record with ``hr_median``, ``hr_q2.5`` and ``hr_q97.5``; text defaults to
        ``median (lo-hi)``."""
        med, lo, hi = float(r["hr_median"]), float(r["hr_q2.5"]), float(r["hr_q97.5"])
        return cls(label, med, lo, hi, style, fmt_hr(med, lo, hi) if text is None else text, **kw)

    @classmethod
    def from_log(cls, label: str, y: float, se: float, style: str = "study", text: str | None = None,
                 ratio: bool = True, **kw) -> ForestRow:
        """A row from a log HR and its standard error (95% interval ``y +- 1.96 se``); ``ratio=False``: ``y`` is a
        difference (mean difference), shown as it is."""
        f = math.exp if ratio else float
        med, lo, hi = f(y), f(y - Z95 * se), f(y + Z95 * se)
        return cls(label, med, lo, hi, style, fmt_hr(med, lo, hi) if text is None else text, **kw)


def fmt_hr(med: float, lo: float, hi: float) -> str:
    """``0.65 (0.44-0.94)``; an interval with a negative end (a mean difference) as ``-1.20 (-2.00 to -0.40)``."""
    if min(med, lo, hi) < 0:
        return f"{med:.2f} ({lo:.2f} to {hi:.2f})"
    return f"{med:.2f} ({lo:.2f}-{hi:.2f})"


def hr_axis(ax, lo, hi):
    """A log-scale HR axis with readable ticks (fewer on a wide range) and the line of no effect."""
    ax.set_xscale("log")
    grid = _WIDE_HR_TICKS if hi / lo > 30 else _HR_TICKS
    ticks = [t for t in grid if lo * 0.9 <= t <= hi * 1.1]
    ax.set_xticks(ticks)
    ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.axvline(1.0, color="0.3", lw=0.8)
    ax.set_xlim(lo, hi)


def linear_axis(ax, lo, hi):
    """A linear effect axis (a mean difference) with the line of no effect at 0."""
    ax.axvline(0.0, color="0.3", lw=0.8)
    ax.set_xlim(lo, hi)


def _linear_xlim(lines) -> tuple[float, float]:
    xs = [v for line in lines for r in line if r.median is not None for v in (r.lo, r.hi, r.median)]
    xs = [v for v in xs if v is not None and math.isfinite(v)] + [0.0]
    pad = 0.08 * (max(xs) - min(xs) or 1.0)
    return min(xs) - pad, max(xs) + pad


def _lines(rows) -> list[tuple[ForestRow, ...]]:
    return [tuple(r) if isinstance(r, Sequence) else (r,) for r in rows]


def _draw(ax, row: ForestRow, y: float) -> None:
    """Draw one row's mark at height ``y``."""
    if row.style == "header" or row.median is None:
        return
    st = _STYLES[row.style]
    color = row.color or st["color"]
    if row.style == "pooled":
        h = 0.25 if row.size is None else row.size
        ax.fill([row.lo, row.median, row.hi, row.median], [y, y + h, y, y - h], color=color, label=row.legend)
        return
    yy = y + row.offset
    ax.plot([row.lo, row.hi], [yy, yy], color=color, lw=st["lw"], solid_capstyle="butt")
    ax.plot(row.median, yy, ls="none", marker=row.marker or st["marker"], ms=row.size or st["ms"], color=color,
            mfc="white" if st["open"] else color, label=row.legend)


def _xlim(lines) -> tuple[float, float]:
    xs = [v for line in lines for r in line if r.median is not None for v in (r.lo, r.hi, r.median)]
    xs = [v for v in xs if v is not None and math.isfinite(v) and v > 0] or [0.5, 2.0]
    return max(min(xs) * 0.85, _X_FLOOR), min(max(xs) * 1.15, _X_CEIL)


def _figure(lines, texts, title: str, ax):
    """The figure and axes: a new one sized to the rows, labels and text column, or the caller's."""
    if ax is not None:
        return ax.figure, ax, False
    label_w = max(len(line[0].label) for line in lines) * 0.068
    text_w = max(len(t) for t in texts) * 0.062 if any(texts) else 0.0
    width = min(max(label_w + text_w + 4.6, 8.0), 16.0)
    height = 0.42 * len(lines) + 1.7 + 0.17 * (len(title) // 90)
    fig, ax = plt.subplots(figsize=(width, height))
    return fig, ax, True


def _legend(fig, ax, own: bool) -> float:
    """A legend of the distinct ``legend`` names (none when no row has one); returns the height it takes."""
    handles, labels = ax.get_legend_handles_labels()
    seen = {}
    for h, lab in zip(handles, labels):
        seen.setdefault(lab, h)
    if not seen:
        return 0.0
    if not own:
        ax.legend(seen.values(), seen.keys(), fontsize=7, frameon=False, loc="best")
        return 0.0
    fig.legend(seen.values(), seen.keys(), loc="lower center", ncol=min(len(seen), 5), fontsize=8, frameon=False)
    return 0.3 * math.ceil(len(seen) / 5)


def _layout(fig, ax, title: str, bottom: float) -> None:
    """Tight layout (legend strip kept free), with the left-aligned title wrapped to the room right of the
    axes' left edge."""
    rect = (0, bottom / fig.get_figheight(), 1, 1)
    fig.tight_layout(rect=rect)
    room = fig.get_figwidth() * (1 - ax.get_position().x0) - 0.1
    wrapped = textwrap.fill(title, max(int(room * 12.5), 30))
    if wrapped != ax.get_title(loc="left"):
        ax.set_title(wrapped, loc="left", fontsize=10)
        fig.tight_layout(rect=rect)


def forest(rows, *, title: str = "", xlabel: str = "hazard ratio", failed: bool = False, ax=None,
           linear: bool = False):
    """Draw a forest plot of ``rows`` (each a :class:`ForestRow` or a tuple of rows sharing a line, top
    to bottom) on a log HR axis (``linear=True``: a linear axis with no effect at 0, for mean differences);
    returns the Figure.

    Right of the axes: each line's text. Below: a legend of the rows' ``legend`` names. ``failed``
    stamps the "FAILED CONVERGENCE GATE" watermark across the axes."""
    lines = _lines(rows)
    if not lines:
        raise ValueError("a forest plot needs at least one row")
    texts = [" -> ".join(r.text for r in line if r.text) for line in lines]
    fig, ax, own = _figure(lines, texts, title, ax)
    n = len(lines)
    ys = [n - 1 - i for i in range(n)]
    for y, line, text in zip(ys, lines, texts):
        for row in line:
            _draw(ax, row, y)
        if text:
            ax.annotate(text, xy=(1.02, y), xycoords=("axes fraction", "data"), va="center", fontsize=8)
    if linear:
        linear_axis(ax, *_linear_xlim(lines))
    else:
        hr_axis(ax, *_xlim(lines))
    ax.set_yticks(ys)
    ax.set_yticklabels([line[0].label for line in lines], fontsize=9)
    for tick, line in zip(ax.get_yticklabels(), lines):
        if line[0].style == "header":
            tick.set_fontweight("bold")
        elif all(r.style == "muted" for r in line):
            tick.set_color("0.45")
    ax.set_ylim(-0.8, n - 0.2)
    ax.set_xlabel(textwrap.fill(xlabel, 120), fontsize=9)
    ax.set_title(title, loc="left", fontsize=10)
    if failed:
        ax.text(0.5, 0.5, WATERMARK, transform=ax.transAxes, color="red", alpha=0.4, ha="center", va="center",
                fontsize=20, rotation=20)
    bottom = _legend(fig, ax, own)
    if own:
        _layout(fig, ax, title, bottom)
    return fig


__all__ = ["MUTED", "STYLES", "WATERMARK", "ForestRow", "fmt_hr", "forest", "hr_axis", "linear_axis"]

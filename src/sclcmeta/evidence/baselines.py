"""Baseline survival curves of the comparator: ``read_baselines`` -> :class:`Baselines` of :class:`BaselineCurve`.

An absolute effect needs the survival of the comparator arm. ``data/baselines.csv`` holds one row per
cited curve (a cohort's control arm, or the chemotherapy arm of a randomized trial), with its source,
location and a verbatim quote, like every number in ``data/``. A curve is piecewise exponential
through its knots: the median (survival 0.5 at ``median_months``) and any landmark survival
proportions (``landmarks = "12:0.299;24:0.054"``). Between knots the hazard is constant; after the
last knot the last interval's hazard goes on. With the median alone this is the exponential curve
S(t) = 2^(-t/m).

Validation raises :class:`~sclcmeta.errors.EvidenceError` listing every problem, one line each,
naming file, row, column and value, and what would fix it.

Examples
--------
>>> c = BaselineCurve.exponential(8.0)
>>> round(float(c.survival(8.0)), 3), round(float(c.survival(16.0)), 3)
(0.5, 0.25)
>>> round(float(c.median_under_hr(0.5)), 2)      # exponential: m / HR
16.0
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import EvidenceError
from .messages import where as _where
from .reading import read_curated_table

COLUMNS = ("name", "outcome", "setting", "curve", "median_months", "landmarks", "use_for", "source",
           "location", "quote", "notes")
CURVES = ("exponential", "piecewise_exponential")
REQUIRED_TEXT = ("name", "outcome", "setting", "source", "location", "quote")
_QUESTION = re.compile(r"^Q\d+$")
_SOURCE = re.compile(r"^(\d{3}_[0-9a-f]+\.txt|10\.\S+/\S+)$")


@dataclass(frozen=True)
class BaselineCurve:
    """A comparator survival curve, piecewise exponential through knots ``(times[i], surv[i])``.

    The curve starts at S(0) = 1; cumulative hazard ``H = -log S`` is linear between knots and goes on
    with the last slope after the last knot. Under proportional hazards a treatment with hazard ratio
    HR has ``S_trt(t) = S(t) ** HR``.
    """

    times: tuple[float, ...]
    surv: tuple[float, ...]
    name: str = ""
    outcome: str = ""
    setting: str = ""
    source: str = ""
    location: str = ""
    quote: str = ""
    curve: str = "piecewise_exponential"
    _H: np.ndarray = field(init=False, repr=False, compare=False)
    _t: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        t = np.asarray(self.times, float)
        s = np.asarray(self.surv, float)
        if t.ndim != 1 or len(t) == 0 or len(t) != len(s):
            raise ValueError("a baseline curve needs one survival proportion per knot time, at least one knot")
        if np.any(t <= 0) or np.any(np.diff(t) <= 0):
            raise ValueError(f"knot times must be positive and increasing; got {list(t)}")
        if np.any((s <= 0) | (s >= 1)) or np.any(np.diff(s) >= 0):
            raise ValueError(f"survival at the knots must lie in (0, 1) and fall over time; got {list(s)}")
        object.__setattr__(self, "_t", np.concatenate([[0.0], t]))
        object.__setattr__(self, "_H", np.concatenate([[0.0], -np.log(s)]))

    @classmethod
    def exponential(cls, median_months: float, **kw) -> "BaselineCurve":
        """The exponential curve with this median: S(t) = 2^(-t/m)."""
        return cls(times=(float(median_months),), surv=(0.5,), curve="exponential", **kw)

    @property
    def last_knot(self) -> float:
        """The last time the curve is read from data; beyond it the curve is extrapolated."""
        return float(self._t[-1])

    @property
    def median(self) -> float:
        return float(self.median_under_hr(1.0))

    def cumulative_hazard(self, t) -> np.ndarray:
        t = np.asarray(t, float)
        slope = (self._H[-1] - self._H[-2]) / (self._t[-1] - self._t[-2])
        inside = np.interp(t, self._t, self._H)
        return np.where(t > self._t[-1], self._H[-1] + slope * (t - self._t[-1]), inside)

    def survival(self, t) -> np.ndarray:
        """Baseline survival at time(s) ``t`` (months)."""
        return np.exp(-self.cumulative_hazard(t))

    def survival_under_hr(self, t: float, hr) -> np.ndarray:
        """Survival at ``t`` of a treatment with hazard ratio(s) ``hr`` under proportional hazards."""
        return np.exp(-np.asarray(hr, float) * float(self.cumulative_hazard(t)))

    def time_at_cumhaz(self, h) -> np.ndarray:
        """The time at which the cumulative hazard reaches ``h`` (inverse of :meth:`cumulative_hazard`)."""
        h = np.asarray(h, float)
        slope = (self._H[-1] - self._H[-2]) / (self._t[-1] - self._t[-2])
        inside = np.interp(h, self._H, self._t)
        return np.where(h > self._H[-1], self._t[-1] + (h - self._H[-1]) / slope, inside)

    def median_under_hr(self, hr) -> np.ndarray:
        """Median survival of a treatment with hazard ratio(s) ``hr`` under proportional hazards.

        S(t)^HR = 1/2 where H(t) = log(2) / HR.
        """
        return self.time_at_cumhaz(math.log(2.0) / np.asarray(hr, float))

    def describe(self) -> str:
        """One line: the curve, its knots and where it comes from."""
        knots = ", ".join(f"{s:.1%} at {t:g} mo" for t, s in zip(self.times, self.surv))
        kind = (f"exponential with median {self.times[0]:g} months" if self.curve == "exponential"
                else f"piecewise exponential through {knots}")
        src = f"; {self.name} ({self.source}, {self.location})" if self.name else ""
        return f"{kind}{src}"

    def __repr__(self) -> str:
        return f"<BaselineCurve {self.name or 'unnamed'} {self.outcome}: {self.describe()}>"


def _parse_landmarks(text: str) -> list[tuple[float, float]]:
    out = []
    for part in [p.strip() for p in text.split(";") if p.strip()]:
        t, _, s = part.partition(":")
        out.append((float(t), float(s)))
    return out


def curve_from_row(r: dict) -> BaselineCurve:
    """The curve of one validated ``baselines.csv`` row (median as a knot at 0.5, plus landmarks)."""
    knots = _parse_landmarks(r.get("landmarks", ""))
    if r.get("median_months", ""):
        knots.append((float(r["median_months"]), 0.5))
    knots.sort()
    info = {k: r.get(k, "") for k in ("name", "outcome", "setting", "source", "location", "quote")}
    return BaselineCurve(times=tuple(t for t, _ in knots), surv=tuple(s for _, s in knots),
                         curve=r.get("curve", "piecewise_exponential") or "piecewise_exponential", **info)


def _row_errors(r: pd.Series, row: int, file: str) -> list[str]:
    errors = []
    for c in REQUIRED_TEXT:
        if r[c] == "":
            errors.append(f"{_where(file, row, c, '')}: missing {c}; every baseline needs a name, its outcome and "
                          "setting, the source (seed file or DOI), the location (table/section) and a verbatim quote.")
    if r["source"] and not _SOURCE.match(r["source"]):
        errors.append(f"{_where(file, row, 'source', r['source'])}: not a seed file name (NNN_<hash>.txt) or a DOI "
                      "starting with '10.'; give where the numbers were read.")
    if r["curve"] not in CURVES:
        errors.append(f"{_where(file, row, 'curve', r['curve'])}: unknown curve; use one of {', '.join(CURVES)}.")
    median = None
    if r["median_months"]:
        try:
            median = float(r["median_months"])
            if not (math.isfinite(median) and median > 0):
                raise ValueError
        except ValueError:
            errors.append(f"{_where(file, row, 'median_months', r['median_months'])}: not a positive number of "
                          "months; write e.g. 8.95.")
            median = None
    knots = []
    if r["landmarks"]:
        try:
            knots = _parse_landmarks(r["landmarks"])
            if any(not (t > 0 and 0 < s < 1) for t, s in knots):
                raise ValueError
        except ValueError:
            errors.append(f"{_where(file, row, 'landmarks', r['landmarks'])}: write landmark survival as "
                          "'months:proportion' pairs separated by ';', e.g. '12:0.299;24:0.054' (proportions, "
                          "not percentages).")
            knots = []
    if r["curve"] == "exponential" and r["landmarks"]:
        errors.append(f"{_where(file, row, 'landmarks', r['landmarks'])}: an exponential curve is fixed by its "
                      "median alone; use curve 'piecewise_exponential' to add landmark survival.")
    if median is None and not knots and not any(e.startswith(_where(file, row, c, r[c]))
                                                for e in errors for c in ("median_months", "landmarks")):
        errors.append(f"{_where(file, row, 'median_months', '')}: no median and no landmarks; give the median "
                      "survival of the comparator arm (months) or landmark survival proportions.")
    if median is not None or knots:
        pts = sorted(knots + ([(median, 0.5)] if median is not None else []))
        ok = all(t2 > t1 and s2 < s1 for (t1, s1), (t2, s2) in zip(pts, pts[1:]))
        if not ok:
            errors.append(f"{_where(file, row, 'landmarks', r['landmarks'])}: with the median "
                          f"({r['median_months'] or 'none'}) the knots {pts} do not fall over time; survival must "
                          "decrease as time increases (check the months and the proportions).")
    for q in [x.strip() for x in r["use_for"].split(";") if x.strip()]:
        if not _QUESTION.match(q):
            errors.append(f"{_where(file, row, 'use_for', r['use_for'])}: {q!r} is not a question id; list "
                          "question ids such as 'Q1;Q2', or leave empty for an alternative baseline.")
    return errors


@dataclass(frozen=True)
class Baselines:
    """The validated baseline table (``data`` holds the CSV columns as text, plus ``row_``)."""

    data: pd.DataFrame
    file: str = ""

    def __repr__(self) -> str:
        return f"<Baselines: {len(self.data)} curves; file: {Path(self.file).name}>"

    @property
    def names(self) -> list[str]:
        return list(self.data["name"])

    def get(self, name: str) -> BaselineCurve:
        """The curve called ``name``, or an error listing the names there are."""
        hit = self.data[self.data["name"] == name]
        if hit.empty:
            raise EvidenceError(f"{self.file}: no baseline named {name!r}; use one of {', '.join(self.names)}.")
        return curve_from_row(hit.iloc[0].to_dict())

    def default_for(self, question: str, outcome: str) -> BaselineCurve | None:
        """The baseline declared for ``question`` and ``outcome`` in ``use_for`` (None if there is none)."""
        for r in self.data.itertuples():
            if r.outcome == outcome and question in [q.strip() for q in r.use_for.split(";")]:
                return self.get(r.name)
        return None


def read_baselines(path: str | Path | None = None) -> Baselines:
    """Read and validate ``data/baselines.csv`` (or ``path``); every problem in one :class:`EvidenceError`."""
    from ..paths import data_dir

    p = Path(path) if path is not None else data_dir() / "baselines.csv"
    file = str(p)
    df = read_curated_table(p, COLUMNS, what="baseline-survival", section="5")
    errors: list[str] = []
    seen: dict[str, int] = {}
    for i, r in df.iterrows():
        row = int(i) + 1
        errors += _row_errors(r, row, file)
        if r["name"] in seen:
            errors.append(f"{_where(file, row, 'name', r['name'])}: duplicate name (also row {seen[r['name']]}); "
                          "give each baseline its own name.")
        seen.setdefault(r["name"], row)
    claimed: dict[tuple[str, str], int] = {}
    for i, r in df.iterrows():
        for q in [x.strip() for x in r["use_for"].split(";") if x.strip()]:
            key = (q, r["outcome"])
            if key in claimed:
                errors.append(f"{_where(file, int(i) + 1, 'use_for', r['use_for'])}: {q} {r['outcome']} already has "
                              f"its default baseline in row {claimed[key]}; one default per question and outcome "
                              "(leave use_for empty for alternatives).")
            claimed.setdefault(key, int(i) + 1)
    if errors:
        raise EvidenceError(errors)
    out = df[list(COLUMNS)].copy()
    out["row_"] = range(1, len(out) + 1)
    return Baselines(data=out, file=file)


def check_baselines(path: str | Path | None = None) -> list[str]:
    """Summary lines for ``sclcmeta data check``; raises :class:`EvidenceError` if the table does not validate."""
    b = read_baselines(path)
    lines = [f"baselines: {len(b.data)} comparator survival curves"]
    for r in b.data.itertuples():
        use = f"default for {r.use_for.replace(';', ', ')}" if r.use_for else "alternative"
        lines.append(f"  {r.name} ({r.outcome}, {use}): {b.get(r.name).describe().split(';')[0]}")
    return lines


__all__ = ["BaselineCurve", "Baselines", "CURVES", "check_baselines", "curve_from_row", "read_baselines"]

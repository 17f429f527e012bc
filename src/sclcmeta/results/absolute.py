"""Absolute effects: survival differences and median gains from the posterior of the log HR and a baseline curve.

A hazard ratio says nothing about how many patients it helps until it is applied to the survival of
the comparator. Under **proportional hazards**, a treatment with hazard ratio HR has survival
``S_trt(t) = S_base(t) ** HR``; so, draw by draw of the posterior of log HR,

* survival difference at t:   ``S_base(t) ** HR - S_base(t)``  (reported per 100 patients)
* median survival gain:       ``t_trt - m_base``, where ``S_base(t_trt) ** HR = 1/2``

and each is summarised by its posterior median and 95% credible interval. The baseline is a cited
comparator curve from ``data/baselines.csv`` (:mod:`sclcmeta.evidence.baselines`), or the one a spec
names in its ``[absolute]`` table. The proportional-hazards assumption and the baseline are printed
with every row, because the absolute numbers are only as good as both.

Examples
--------
>>> import numpy as np
>>> from sclcmeta.evidence.baselines import BaselineCurve
>>> base = BaselineCurve.exponential(8.0)
>>> d = absolute_from_draws(np.log([0.5, 0.5, 0.5]), base, times=(8.0,))
>>> round(float(d["survival_difference"][8.0].mean()), 3)     # 0.5**0.5 - 0.5
0.207
>>> round(float(d["median_gain"].mean()), 2)                    # m / HR - m
8.0
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..evidence.baselines import BaselineCurve, Baselines, read_baselines

#: Times (months) at which survival differences are reported unless a spec says otherwise.
DEFAULT_TIMES = (6.0, 12.0)
ASSUMPTION = "proportional hazards: S_trt(t) = S_base(t)^HR"
COLUMNS = ["analysis", "outcome", "comparison", "quantity", "time_months", "baseline_value", "treated_median",
           "median", "q2.5", "q97.5", "per_100", "text", "baseline", "baseline_curve", "baseline_source",
           "assumption", "gate", "note"]


def absolute_from_draws(log_hr: np.ndarray, baseline: BaselineCurve, times: Sequence[float] = DEFAULT_TIMES) -> dict:
    """Per-draw absolute effects: ``survival_difference`` {t: draws}, ``treated_median`` and ``median_gain`` draws."""
    hr = np.exp(np.asarray(log_hr, float).ravel())
    diff = {float(t): baseline.survival_under_hr(float(t), hr) - float(baseline.survival(float(t))) for t in times}
    treated = baseline.median_under_hr(hr)
    return {"hr": hr, "survival_difference": diff, "treated_median": treated,
            "median_gain": treated - baseline.median}


def _q(x: np.ndarray) -> tuple[float, float, float]:
    m, lo, hi = np.quantile(x, [0.5, 0.025, 0.975])
    return float(m), float(lo), float(hi)


def _signed(x: float, decimals: int = 0) -> str:
    """``+3``, ``-1.2``, ``0``: a signed number without a negative zero."""
    v = round(float(x), decimals) + 0.0
    return "0" if v == 0 else f"{v:+.{decimals}f}"


def _per_100_text(m: float, lo: float, hi: float, t: float, outcome: str) -> str:
    state = "alive" if outcome == "OS" else f"alive and free of progression ({outcome})"
    n = round(100 * m)
    word = "more" if n >= 0 else "fewer"
    return (f"{abs(n)} {word} per 100 patients {state} at {t:g} months "
            f"(95% CrI {_signed(100 * lo)} to {_signed(100 * hi)})")


def _gain_text(m: float, lo: float, hi: float, outcome: str) -> str:
    what = "median survival" if outcome == "OS" else f"median {outcome}"
    return f"{what} {'gain' if m >= 0 else 'loss'} of {abs(m):.1f} months (95% CrI {_signed(lo, 1)} to {_signed(hi, 1)})"


def log_hr_draws(result) -> dict[str, np.ndarray]:
    """Posterior draws of the log HR of each headline comparison: the pooled effect, or network contrasts vs the reference."""
    net = getattr(result, "net", None)
    if net is not None:
        dd = result.drug_draws
        ref = net.reference
        out = {f"{result.label(t)} vs {result.label(ref)}": np.asarray(dd[t] - dd[ref], float).ravel()
               for t in net.treatments if t != ref}
        names = list(result.model.coef_names)
        lab = f" vs {result.label(ref)}]"
        means = [n for n in names if n.startswith("D[") and n.endswith(lab)]     # class means vs the reference
        if means:
            b = result.idata.posterior["b"].values.reshape(-1, len(names))
            out.update({n[2:-1]: b[:, names.index(n)] for n in means})
        return out
    if "mu" not in getattr(result.model, "coef_names", ()):
        raise SpecError(f"{result.name}: absolute effects need a pooled hazard ratio (or network contrasts); "
                        f"this is a {result.model.kind} analysis without one.")
    return {result.comparison: result.idata.posterior["b"].sel(coef="mu").values.ravel()}


def absolute_effects(result, baseline: BaselineCurve, times: Sequence[float] = DEFAULT_TIMES) -> pd.DataFrame:
    """Absolute effects of one survival answer against ``baseline``: one row per comparison and quantity.

    Rows: the survival difference at each of ``times`` (proportion; ``per_100`` = per 100 patients) and
    the median survival gain (months). ``median``, ``q2.5``, ``q97.5`` summarise the per-draw values;
    ``text`` is the sentence a clinician reads ("12 more per 100 patients alive at 12 months (95% CrI ...)").
    Computed under proportional hazards (column ``assumption``).
    """
    rows = []
    for comp, draws in log_hr_draws(result).items():
        d = absolute_from_draws(draws, baseline, times)
        info = {"analysis": result.name, "outcome": result.outcome, "comparison": comp, "baseline": baseline.name,
                "baseline_curve": baseline.describe().split(";")[0],
                "baseline_source": f"{baseline.source}, {baseline.location}".strip(", "), "assumption": ASSUMPTION,
                "gate": result.gate}
        expo = baseline.curve == "exponential"
        expo_note = "exponential baseline through the reported median (constant hazard assumed)"
        for t, x in d["survival_difference"].items():
            m, lo, hi = _q(x)
            note = expo_note if expo else ("" if t <= baseline.last_knot else (
                f"{t:g} months is beyond the baseline's last data point ({baseline.last_knot:g} months): extrapolated"))
            rows.append({**info, "quantity": "survival_difference", "time_months": t,
                         "baseline_value": float(baseline.survival(t)), "treated_median": np.nan,
                         "median": m, "q2.5": lo, "q97.5": hi, "per_100": 100 * m,
                         "text": _per_100_text(m, lo, hi, t, result.outcome), "note": note})
        m, lo, hi = _q(d["median_gain"])
        tm = float(np.median(d["treated_median"]))
        hi_t = float(np.quantile(d["treated_median"], 0.975))
        note = expo_note if expo else "" if hi_t <= baseline.last_knot else (
            f"the upper treated median ({hi_t:.1f} months) is beyond the baseline's last data point "
            f"({baseline.last_knot:g} months): extrapolated with the last interval's hazard")
        rows.append({**info, "quantity": "median_gain", "time_months": np.nan, "baseline_value": baseline.median,
                     "treated_median": tm, "median": m, "q2.5": lo, "q97.5": hi, "per_100": np.nan,
                     "text": _gain_text(m, lo, hi, result.outcome), "note": note})
    return pd.DataFrame(rows, columns=COLUMNS)


def baseline_for(result, baselines: Baselines | None = None) -> tuple[BaselineCurve | None, list[str]]:
    """The baseline of one result: the spec's ``[absolute]`` choice, else the question's default in baselines.csv.

    Returns the curve (None if there is none) and the spec's ``times`` (empty: the defaults).
    """
    spec = getattr(result, "spec", None)
    ab = dict(getattr(spec, "absolute", {}) or {})
    times = list(ab.get("times", []))
    if ab.get("median_months") is not None:
        return BaselineCurve.exponential(float(ab["median_months"]), name="spec [absolute] median_months",
                                         outcome=result.outcome, source=getattr(spec, "path", ""),
                                         location="[absolute] median_months", quote=""), times
    baselines = baselines if baselines is not None else read_baselines()
    if ab.get("baseline"):
        curve = baselines.get(ab["baseline"])
        if curve.outcome != result.outcome:
            raise SpecError(f"{getattr(spec, 'path', result.name)}: [absolute] baseline {ab['baseline']!r} is a "
                            f"{curve.outcome} curve but the analysis outcome is {result.outcome}; name a "
                            f"{result.outcome} baseline from data/baselines.csv.")
        return curve, times
    return baselines.default_for(getattr(spec, "question", "") or result.question, result.outcome), times


def absolute_table(results: Iterable, baselines: Baselines | None = None) -> pd.DataFrame:
    """One table of absolute effects for every survival answer among ``results`` (pooled or network contrasts).

    Answers that have no absolute effect get one row saying why (``quantity`` = ``not_applicable``):
    moderator analyses (Q3: ratios of HRs, prognostic HRs) and a network's PD-1 vs PD-L1 class-mean
    difference. An answer whose question has no declared baseline gets one row saying so
    (``quantity`` = ``no_baseline``).
    """
    baselines = baselines if baselines is not None else read_baselines()
    frames = []

    def _why_not(res, comparison, why):
        frames.append(pd.DataFrame([{"analysis": res.name, "outcome": res.outcome, "comparison": comparison,
                                     "quantity": "not_applicable", "gate": res.gate, "note": why}], columns=COLUMNS))

    for res in results:
        net = getattr(res, "net", None)
        kind = getattr(getattr(res, "spec", None), "kind", "pairwise")
        if net is None and (kind == "moderator" or "mu" not in getattr(res.model, "coef_names", ())):
            _why_not(res, res.comparison, "a moderator answer (ratio of hazard ratios or a prognostic HR) has no "
                                          "absolute effect without a baseline for each subgroup")
            continue
        curve, times = baseline_for(res, baselines)
        if curve is None:
            frames.append(pd.DataFrame([{"analysis": res.name, "outcome": res.outcome, "comparison": res.comparison,
                                         "quantity": "no_baseline", "assumption": ASSUMPTION,
                                         "note": f"no {res.outcome} baseline declared for "
                                                 f"{getattr(res.spec, 'question', '') or 'this question'} in "
                                                 "data/baselines.csv (use_for) or the spec's [absolute] table",
                                         "gate": res.gate}],
                                       columns=COLUMNS))
            continue
        frames.append(absolute_effects(res, curve, times or DEFAULT_TIMES))
        if net is not None and any(q.quantity == "class_difference" for q in res.quantities):
            _why_not(res, "PD-1 vs PD-L1 (class means)", "a difference between two classes' HRs vs the reference "
                                                         "has no comparator arm, so no absolute effect")
    if not frames:
        return pd.DataFrame(columns=COLUMNS)
    return pd.concat(frames, ignore_index=True)


__all__ = ["ASSUMPTION", "DEFAULT_TIMES", "absolute_effects", "absolute_from_draws", "absolute_table",
           "baseline_for", "log_hr_draws"]

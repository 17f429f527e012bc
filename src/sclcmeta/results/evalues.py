"""E-values for pooled hazard ratios: how strong unmeasured confounding would have to be to explain them away.

The E-value (VanderWeele TJ, Ding P. Sensitivity analysis in observational research: introducing the
E-value. Ann Intern Med 2017;167:268-274) is the minimum strength of association, on the risk-ratio
scale, that an unmeasured confounder would need with both the exposure and the outcome, above the
measured confounders, to fully explain away an observed exposure-outcome association:

    E = RR + sqrt(RR * (RR - 1))      for RR >= 1; for RR < 1 apply it to 1 / RR.

It is reported for the point estimate and for the interval bound nearest 1; when the interval already
includes 1, the bound's E-value is 1 (no confounding is needed to reach the null).

Hazard ratios are first put on the risk-ratio scale:

* rare outcome (< 15% at the end of follow-up): RR ~ HR;
* common outcome (> 15%): RR ~ (1 - 0.5**sqrt(HR)) / (1 - 0.5**sqrt(1 / HR)) (VanderWeele TJ. Optimal
  approximate conversions of odds ratios and hazard ratios to risk ratios. Biometrics 2020;76:746-752;
  also Table 2 of the E-value paper).

Death during ES-SCLC second-line follow-up is a common outcome, so ``common_outcome=True`` is the default.

Where the formulas were checked (public sources):

* the R package EValue (Mathur, Ding, Riddell, VanderWeele), source file ``R/EValue.R`` in the CRAN
  mirror repository ``cran/EValue``: ``threshold()`` computes ``x + sqrt(x * (x - 1))`` after inverting
  ``x <= 1``; ``evalues.HR(..., rare = FALSE)`` converts with ``(1 - 0.5^sqrt(values)) /
  (1 - 0.5^sqrt(1 / values))``; ``evalues.RR()`` sets the interval's E-value to 1 when the interval
  crosses the null and reports only the limit closer to the null;
* the EValue reference manual pages for ``evalues.HR`` (https://search.r-project.org/CRAN/refmans/EValue/
  html/evalues.HR.html: "rare ... <15 percent at end of follow-up") and ``convert_measures``
  (https://rdrr.io/pkg/EValue/man/convert_measures.html: conversions of Table 2 of VanderWeele & Ding
  2017, and VanderWeele 2020 Biometrics);
* the worked example RR = 3.9 -> E-value 7.263034 is printed by the rmorie reference page
  https://rootcoder007.github.io/rmorie/reference/morie_e_value.html (a wrapper over EValue).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from sclcmeta.errors import SclcmetaError

__all__ = ["EValue", "evalue_hr", "evalue_rr", "evalue_table", "hr_to_rr"]

#: columns :func:`evalue_table` needs in a ``FitResult.summary()`` table
_NEEDED = ("quantity", "comparison", "hr_median", "hr_q2.5", "hr_q97.5")


def _positive(x, name: str) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise SclcmetaError(f"{name} must be a positive number, got {x!r}; pass the ratio on its natural scale.") from None
    if not math.isfinite(v) or v <= 0:
        raise SclcmetaError(f"{name} must be a positive finite number, got {x!r}; pass the ratio on its natural "
                            "scale (not the log scale).")
    return v


def evalue_rr(rr: float) -> float:
    """E-value of a risk ratio: ``RR + sqrt(RR * (RR - 1))``, with ``1 / RR`` used first when ``RR < 1``."""
    r = _positive(rr, "rr")
    if r < 1:
        r = 1.0 / r
    return r + math.sqrt(r * (r - 1.0))


def hr_to_rr(hr: float, common_outcome: bool) -> float:
    """The risk ratio an E-value is computed from, for a hazard ratio.

    Rare outcome (< 15% at the end of follow-up): the HR itself. Common outcome: VanderWeele's (2020)
    approximation ``(1 - 0.5**sqrt(HR)) / (1 - 0.5**sqrt(1 / HR))``, which maps 1 to 1 and 1/HR to 1/RR.
    """
    h = _positive(hr, "hr")
    if not common_outcome:
        return h
    return (1.0 - 0.5 ** math.sqrt(h)) / (1.0 - 0.5 ** math.sqrt(1.0 / h))


@dataclass(frozen=True)
class EValue:
    """E-values of one hazard ratio and its interval.

    ``point`` is the E-value of the point estimate; ``bound`` that of the interval bound nearest 1
    (1.0 when the interval includes 1). ``rr`` and ``rr_bound`` are the risk ratios they were computed
    from; ``hr`` and ``hr_bound`` the hazard ratios given.
    """

    point: float
    bound: float
    rr: float
    rr_bound: float
    hr: float
    hr_bound: float
    common_outcome: bool = True

    @property
    def interval_includes_null(self) -> bool:
        return self.bound == 1.0

    def explain(self, exposure: str = "continuing the ICI", outcome: str = "survival") -> str:
        """One sentence for clinicians on what these E-values mean."""
        head = (f"An unmeasured confounder associated with both {exposure} and {outcome} by a risk ratio of "
                f"{self.point:.2f} each, above the measured confounders, could explain away the point estimate "
                f"(HR {self.hr:.2f})")
        if self.interval_includes_null:
            return head + "; the interval already includes no effect, so no confounding is needed to move it there."
        return head + (f"; a confounder of {self.bound:.2f} each could move the interval "
                       f"(bound HR {self.hr_bound:.2f}) to include no effect.")


def evalue_hr(hr: float, lo: float, hi: float, *, common_outcome: bool = True) -> EValue:
    """E-values of a hazard ratio ``hr`` with interval ``[lo, hi]`` (confidence or credible interval).

    The bound used is the one nearest 1 (``hi`` for a protective HR, ``lo`` for a harmful one); if the
    interval includes 1 its E-value is 1. ``common_outcome`` selects the HR-to-RR conversion.
    """
    h, lo_, hi_ = _positive(hr, "hr"), _positive(lo, "lo"), _positive(hi, "hi")
    if not lo_ <= h <= hi_:
        raise SclcmetaError(f"the interval must contain the point estimate: got hr={hr!r}, lo={lo!r}, hi={hi!r}; "
                            "pass lo <= hr <= hi.")
    rr = hr_to_rr(h, common_outcome)
    point = evalue_rr(rr)
    if h < 1:
        hb = hi_
    elif h > 1:
        hb = lo_
    else:
        hb = 1.0
    rr_b = hr_to_rr(hb, common_outcome)
    includes_null = lo_ <= 1.0 <= hi_
    bound = 1.0 if includes_null else evalue_rr(rr_b)
    return EValue(point=point, bound=bound, rr=rr, rr_bound=rr_b, hr=h, hr_bound=hb,
                  common_outcome=bool(common_outcome))


def evalue_table(summary_df: pd.DataFrame, *, common_outcome: bool = True) -> pd.DataFrame:
    """E-value rows for the pooled HRs of a ``FitResult.summary()`` table (rows with quantity == "pooled").

    Returns one row per pooled row: the identifying columns present (analysis, outcome, comparison),
    the HR and its interval, the risk ratios used, the E-values of the point estimate and of the bound
    nearest 1, and a one-sentence explanation.
    """
    missing = [c for c in _NEEDED if c not in summary_df.columns]
    if missing:
        raise SclcmetaError(f"evalue_table needs the columns {', '.join(missing)} of FitResult.summary(); "
                            f"the table given has {', '.join(map(str, summary_df.columns))}.")
    ids = [c for c in ("analysis", "outcome", "comparison", "bias") if c in summary_df.columns]
    rows = []
    for _, r in summary_df[summary_df["quantity"] == "pooled"].iterrows():
        e = evalue_hr(r["hr_median"], r["hr_q2.5"], r["hr_q97.5"], common_outcome=common_outcome)
        rows.append({**{c: r[c] for c in ids}, "hr_median": e.hr, "hr_q2.5": r["hr_q2.5"],
                     "hr_q97.5": r["hr_q97.5"], "hr_bound": e.hr_bound, "rr_point": e.rr, "rr_bound": e.rr_bound,
                     "evalue_point": e.point, "evalue_bound": e.bound, "common_outcome": e.common_outcome,
                     "explanation": e.explain()})
    cols = ids + ["hr_median", "hr_q2.5", "hr_q97.5", "hr_bound", "rr_point", "rr_bound", "evalue_point",
                  "evalue_bound", "common_outcome", "explanation"]
    return pd.DataFrame(rows, columns=cols)

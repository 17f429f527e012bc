"""Back-calculation of a missing subgroup HR and the arithmetic of within-study interactions.

Where a cohort reports the overall HR and only one subgroup, the complementary subgroup is derived by
inverse-variance back-calculation (:func:`derive_complementary_subgroup`), and the printed-rounding range of
the result is computed (:func:`rounding_range`). Everything derived here is marked ``derived`` downstream and
travels with :data:`BACK_CALCULATION_ASSUMPTIONS`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from ..errors import EvidenceError
from ..vocabulary import Z95
from .derive import Printed, se_from_ci

#: Back-calculation assumptions, stated with every derived estimate.
BACK_CALCULATION_ASSUMPTIONS = (
    "the two subgroups are disjoint and together make up exactly the patients of the overall analysis",
    "the overall log HR behaves as the inverse-variance (fixed-effect) combination of the two subgroup log HRs, "
    "with 1/SE_overall^2 = 1/SE_1^2 + 1/SE_2^2 (an unstratified Cox HR is only approximately that: it is "
    "not collapsible and is shifted when the subgroup is unevenly split between the arms)",
    "the overall and the subgroup HRs come from the same kind of analysis (same adjustment, same population "
    "before or after matching) and have Wald CIs",
    "printed rounding of the HR and CI is ignored in the point estimate (its effect is reported as a range)",
)


# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DerivedSubgroup:
    """The complementary subgroup's log HR and SE from :func:`derive_complementary_subgroup`.

    ``information_share`` is the derived subgroup's share of the overall precision,
    ``(1/se^2) / (1/se_overall^2)``; ``patient_share`` its share of the patients (when known). Under
    proportional hazards the information tracks the number of events, so a subgroup with worse
    prognosis carries somewhat more information than patients; a large mismatch suggests the
    subgroup and the overall HR do not come from the same analysis.
    """

    log_hr: float
    se: float
    information_share: float
    patient_share: float = float("nan")
    warnings: tuple[str, ...] = ()
    derived: bool = True
    assumptions: tuple[str, ...] = BACK_CALCULATION_ASSUMPTIONS

    @property
    def hr(self) -> float:
        return math.exp(self.log_hr)

    def ci(self, z: float = Z95) -> tuple[float, float]:
        return math.exp(self.log_hr - z * self.se), math.exp(self.log_hr + z * self.se)


def derive_complementary_subgroup(overall: tuple[float, float], subgroup: tuple[float, float],
                                  n_subgroup: float | None = None, n_total: float | None = None, *,
                                  proportion: float | None = None, where: str = "back-calculation"
                                  ) -> DerivedSubgroup:
    """Derive the HR of the complementary subgroup from the overall HR and one subgroup's HR.

    With a fixed-effect (inverse-variance) combination of two disjoint subgroups,
    ``y_o = (w1 y1 + w2 y2) / (w1 + w2)`` and ``1/se_o^2 = w1 + w2`` (``w = 1/se^2``), so::

        w2 = 1/se_o^2 - 1/se_1^2,   y2 = (y_o/se_o^2 - y1/se_1^2) / w2,   se2 = 1/sqrt(w2)

    Parameters
    ----------
    overall, subgroup
        ``(log_hr, se)`` of the whole analysis and of the reported subgroup.
    n_subgroup, n_total, proportion
        Patients in the reported subgroup and in total, or ``proportion`` = their ratio; used only
        for the plausibility check of the implied information share.

    Assumptions (stated with every derived row): the subgroups are disjoint and exhaustive; the
    overall HR behaves as the IV-weighted combination of the subgroup HRs (an unstratified Cox HR
    only approximately); both HRs come from the same analysis (same adjustment and population)
    with Wald CIs.

    Raises
    ------
    EvidenceError
        when ``w2 <= 0``: the subgroup is at least as precise as the whole, so the two numbers
        cannot come from the same analysis of the same patients.

    Examples
    --------
    >>> import math
    >>> y1, s1, y2, s2 = math.log(0.8), 0.2, math.log(1.25), 0.25
    >>> w1, w2 = 1 / s1**2, 1 / s2**2
    >>> overall = ((w1 * y1 + w2 * y2) / (w1 + w2), (w1 + w2) ** -0.5)
    >>> d = derive_complementary_subgroup(overall, (y1, s1))
    >>> round(d.hr, 6), round(d.se, 6)
    (1.25, 0.25)
    """
    y_o, se_o = (float(v) for v in overall)
    y_1, se_1 = (float(v) for v in subgroup)
    for name, v in (("overall log HR", y_o), ("subgroup log HR", y_1)):
        if not math.isfinite(v):
            raise EvidenceError(f"{where}: {name} is not finite ({v!r}).")
    for name, v in (("overall SE", se_o), ("subgroup SE", se_1)):
        if not (math.isfinite(v) and v > 0):
            raise EvidenceError(f"{where}: {name} must be positive and finite; got {v!r}.")
    w_o, w_1 = se_o ** -2, se_1 ** -2
    w_2 = w_o - w_1
    if w_2 <= 0:
        raise EvidenceError(
            f"{where}: the subgroup (SE of log HR {se_1:.4f}) is at least as precise as the whole analysis "
            f"(SE {se_o:.4f}), so the complementary subgroup would have weight 1/SE^2 = {w_2:.3g} <= 0. The two "
            "estimates cannot come from the same analysis of the same patients: check that both are from the same "
            "population (before or after matching), the same adjustment, and the CI transcription.")
    y_2 = (y_o * w_o - y_1 * w_1) / w_2
    se_2 = w_2 ** -0.5
    share = w_2 / w_o
    if proportion is None and n_subgroup is not None and n_total is not None:
        proportion = float(n_subgroup) / float(n_total)
    patient_share = float("nan")
    notes: list[str] = []
    if proportion is not None and math.isfinite(float(proportion)):
        if not 0.0 < float(proportion) < 1.0:
            raise EvidenceError(f"{where}: the reported subgroup's share of patients must lie strictly between 0 "
                                f"and 1; got {proportion!r} (is the subgroup the whole cohort?).")
        patient_share = 1.0 - float(proportion)
        ratio = share / patient_share
        if not 0.5 <= ratio <= 2.0:
            notes.append(f"implied information share of the derived subgroup {share:.3f} differs from its patient "
                         f"share {patient_share:.3f} by a factor {ratio:.2f}: the overall and subgroup HRs may not "
                         "come from the same analysis")
    if share < 0.02:
        notes.append(f"the derived subgroup carries {share:.1%} of the overall information: it is a small "
                     "difference of two nearly equal precisions, and printed rounding moves it a lot")
    return DerivedSubgroup(y_2, se_2, share, patient_share, tuple(notes))


def interaction_estimate(index: tuple[float, float], reference: tuple[float, float]) -> tuple[float, float]:
    """Log ratio of two independent subgroup HRs, ``log(HR_index / HR_reference)``, and its SE.

    >>> y, se = interaction_estimate((math.log(1.2), 0.3), (math.log(0.8), 0.4))
    >>> round(math.exp(y), 3), round(se, 3)
    (1.5, 0.5)
    """
    (y1, s1), (y2, s2) = index, reference
    return float(y1) - float(y2), math.hypot(float(s1), float(s2))


def _printed_box(row) -> list[tuple[float, float]] | None:
    """(log HR, SE) at every corner of the printed-rounding box of one evidence row, or None."""
    if not all(str(row.get(c, "")) != "" for c in ("hr", "ci_low", "ci_high")):
        return None
    level = float(row["ci_level"]) if str(row.get("ci_level", "")) != "" else 0.95
    h, lo, hi = (Printed.parse(str(row[c])) for c in ("hr", "ci_low", "ci_high"))
    out = []
    for a, b, c in itertools.product((h.low, h.high), (lo.low, lo.high), (hi.low, hi.high)):
        if a > 0 and b > 0 and c > b:
            out.append((math.log(a), se_from_ci(b, c, level)))
    return out


def rounding_range(overall_row, subgroup_row) -> dict | None:
    """Range of the derived log HR over the printed-rounding box of both rows (64 corners).

    Returns ``{"derived": (min, max), "corners": [(y_reported, se_reported, y_derived, se_derived)]}``
    or None when a row has no printed HR and CI. Corners where the back-calculation is impossible
    are counted in ``"impossible"``.
    """
    bo, bs = _printed_box(overall_row), _printed_box(subgroup_row)
    if not bo or not bs:
        return None
    corners, impossible = [], 0
    for (yo, so), (y1, s1) in itertools.product(bo, bs):
        w2 = so ** -2 - s1 ** -2
        if w2 <= 0:
            impossible += 1
            continue
        corners.append((y1, s1, (yo * so ** -2 - y1 * s1 ** -2) / w2, w2 ** -0.5))
    if not corners:
        return {"derived": (float("nan"), float("nan")), "corners": [], "impossible": impossible}
    yd = [c[2] for c in corners]
    return {"derived": (min(yd), max(yd)), "corners": corners, "impossible": impossible}

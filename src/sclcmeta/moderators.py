"""Q3 moderator analyses: does the effect of a second-line ICI depend on a patient characteristic?

Three kinds of evidence answer three different questions, and they are kept apart:

``interaction`` (within-study effect modification)
    In each cohort that reports the treatment HR in both subgroups of a moderator (liver metastases
    yes / no), the log ratio of the two subgroup HRs is that cohort's interaction; the interactions,
    not the subgroups, are pooled (random effects). This comparison is made inside each cohort, so
    it is free of ecological bias. Where a cohort reports the overall HR and only one subgroup, the
    complementary subgroup is **derived** by inverse-variance back-calculation
    (:func:`derive_complementary_subgroup`), marked ``derived`` everywhere, with its assumptions
    stated. The treatment HR within each subgroup is pooled separately and reported as ``subgroup``
    rows.
``prognostic`` (prognostic-factor pooling)
    Cox HRs of a factor (liver metastases yes vs no; 1L-PFS >= 6 vs < 6 months; >= 3 vs < 3
    metastatic sites) *within ICI-treated patients*. These say who does worse on an ICI, not who
    benefits less from it: prognostic is not predictive. Direction is harmonized to one
    orientation; rows whose direction contradicts their own paper (curator flags
    ``direction_doubtful`` / ``direction_contradicts_text``) are excluded by default with a logged
    reason, never silently flipped; a sensitivity setting includes them as printed, and another
    flips them explicitly (``flipped_by_assumption``).
``ecological`` (study-level meta-regression)
    The cohort log HR regressed on a cohort-level share (``prop_liver_mets``, ``l1_ici_fraction``).
    An association across cohorts is not an association within patients (ecological bias), and
    with a handful of cohorts the slope rests on one or two contrasts; both caveats go into every
    output.

Spec format (``models/q3_*.toml``): ``[evidence] kind = "interaction" | "prognostic" |
"ecological"`` routes a spec here (:func:`run_moderator_spec`, and :func:`effects_for_moderator_spec`
for ``sclcmeta sensitivity``). Extra ``[evidence]`` keys: ``factor`` (the moderator),
``direction_doubtful`` (``"exclude"`` | ``"as_printed"`` | ``"flipped"``), ``pool_prefer`` (cohort
order inside a shared patient pool), ``inventory`` (attach the table of every moderator considered).
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from .engine.build import model_from_effects
from .errors import ConvergenceWarning, EvidenceError, SpecError
from .evidence import EffectData, EvidenceTable, Printed, select_estimates
from .evidence.derive import se_from_ci
from .fitting import fit_model
from .results import FitResult, Quantity

#: ``[evidence] kind`` values handled by this module.
MODERATOR_KINDS = ("interaction", "prognostic", "ecological")

#: Curator flags meaning "the printed direction of this HR contradicts its own paper".
DOUBT_FLAGS = ("direction_doubtful", "direction_contradicts_text")

#: Cox models fitted within ICI-treated second-line arms (data/README.md, column ``population``).
ICI_ARMS = ("arm=2l_ici", "arm=ici_cont_2l", "arm=atezolizumab_cont_2l")

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
# moderators
# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Moderator:
    """A patient characteristic whose levels define subgroups or a prognostic contrast.

    ``index`` is the level in the numerator of the interaction ratio and of the prognostic HR
    (liver metastases ``yes``), ``reference`` the denominator (``no``). ``proportion`` names the
    ``studies.csv`` column with the share of patients at the index level.
    """

    factor: str
    label: str
    index: str
    reference: str
    index_label: str
    reference_label: str
    proportion: str | None = None
    synonyms: tuple[tuple[str, str], ...] = ()
    usable_interaction: bool = True
    note: str = ""

    def canonical(self, level: str) -> str:
        return dict(self.synonyms).get(level, level)

    @property
    def ratio_label(self) -> str:
        return f"HR ratio {self.index_label} / {self.reference_label}"


MODERATORS: dict[str, Moderator] = {m.factor: m for m in (
    Moderator("liver_metastases", "liver metastases", "yes", "no", "with liver metastases",
              "without liver metastases", "prop_liver_mets",
              note="Zhang 2025a's PFS subgroups, and Zhang 2025b's and Gu 2026's liver-metastasis subgroups, are "
                   "only in forest-plot images (no numbers in the text); Gu 2026's variable is liver metastases "
                   "arising during 2L, a post-baseline event, not baseline liver metastases."),
    Moderator("l1_pfs", "first-line PFS >= 6 months", ">=6", "<6", "1L-PFS >= 6 months", "1L-PFS < 6 months",
              synonyms=(("long_term_response", ">=6"), ("short_term_response", "<6")),
              note="Shi 2025's 'long-term response' is 1L-PFS >= 6 months. Gu 2026 reports 1L-PFS per month and "
                   "split at 8.62 months, in a Cox model of both arms: a different scale and population."),
    Moderator("n_metastatic_sites", "number of metastatic sites", ">=3", "<3", ">= 3 metastatic sites",
              "< 3 metastatic sites"),
    Moderator("l1_ici", "first-line ICI exposure", "yes", "no", "after a first-line ICI", "ICI-naive",
              "l1_ici_fraction",
              note="Zhang 2025a's 1L-ICI subgroup is the same estimate as Zhang 2025b's main result "
                   "(curator flag duplicate_estimate): used here only inside Zhang 2025a, never pooled with 2025b."),
    Moderator("reason_stop_l1_ici", "reason for stopping the first-line ICI", "secondary_resistance", "other",
              "secondary resistance", "primary resistance or adverse events", usable_interaction=False,
              note="Not a usable moderator: the complement of Gu 2026's secondary-resistance subgroup (148 of 160) "
                   "is 12 patients of two clinically different kinds (5 primary resistance, 7 stopped for adverse "
                   "events); its back-calculated HR rests on about 6% of the information, from a Cox model on a "
                   "dozen patients, so the interaction is computed for the record and not pooled."),
)}


def get_moderator(factor: str) -> Moderator:
    if factor not in MODERATORS:
        raise SpecError(f"unknown moderator factor {factor!r}; known: {', '.join(MODERATORS)}.")
    return MODERATORS[factor]


# --------------------------------------------------------------------------------------------------
# back-calculation and interaction arithmetic
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

    def ci(self, z: float = 1.959963984540054) -> tuple[float, float]:
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


# --------------------------------------------------------------------------------------------------
# EffectData for moderator analyses
# --------------------------------------------------------------------------------------------------
@dataclass(repr=False)
class ModeratorEffects(EffectData):
    """:class:`EffectData` plus what a moderator analysis needs to explain itself.

    ``data`` has the usual columns plus ``derived`` (True when an estimate rests on a
    back-calculated subgroup). ``candidates`` lists every evidence row considered, with its status
    (used / not used) and the reason; ``pairs`` (interactions) holds both subgroup estimates per
    cohort.
    """

    kind: str = "interaction"
    moderator: str = ""
    candidates: pd.DataFrame | None = None
    pairs: pd.DataFrame | None = None
    caveats: list[str] = field(default_factory=list)


def _labels(ev: EvidenceTable) -> dict:
    if ev.studies is not None and "label" in ev.studies.columns:
        return {c: (l or c) for c, l in zip(ev.studies["cohort"], ev.studies["label"])}
    return {}


def _num(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _n_of(row) -> float:
    n = _num(row.get("n_total", ""))
    if not math.isfinite(n):
        n = _num(row.get("n_treatment", "")) + _num(row.get("n_comparator", ""))
    return n


def _as_tuple(x) -> tuple:
    if x is None:
        return ()
    if isinstance(x, str):
        return (x,)
    return tuple(x)


def _printed(r) -> str:
    """An evidence row's HR and CI as printed."""
    return f"{r['hr']} ({r['ci_low']}-{r['ci_high']})" if r["ci_low"] != "" else _fmt_ci(r["log_hr_"], r["se_"])


def _fmt_ci(y: float, se: float) -> str:
    z = 1.959963984540054
    return f"{math.exp(y):.2f} ({math.exp(y - z * se):.2f}-{math.exp(y + z * se):.2f})"


def _overall_row(d: pd.DataFrame, sub, treatments: Sequence[str], comparators: Sequence[str]):
    """The overall treatment HR of the same cohort, outcome, analysis and comparison as ``sub``."""
    m = ((d["cohort"] == sub["cohort"]) & (d["outcome"] == sub["outcome"]) & (d["kind"] == "treatment_effect")
         & (d["population"] == "overall") & np.isfinite(d["se_"]))
    m &= d["treatment"].isin(set(treatments) | {sub["treatment"]}) if treatments else d["treatment"] != ""
    m &= d["comparator"].isin(set(comparators) | {sub["comparator"]}) if comparators else \
        d["comparator"] == sub["comparator"]
    cand = d[m]
    same = cand[cand["analysis"] == sub["analysis"]]
    if "preferred" in same.columns and len(same) > 1:
        same = same.assign(_r=same["preferred"].map({"yes": 0, "": 1, "no": 2}).fillna(1)).sort_values("_r")
    return (same.iloc[0] if len(same) else None), cand[cand["analysis"] != sub["analysis"]]


def subgroup_pairs(ev: EvidenceTable, factor: str, outcome: str, *, treatment: Iterable[str] | None = None,
                   comparator: Iterable[str] | None = None, line: str | None = None, exclude: Iterable[str] = (),
                   pool_prefer: Sequence[str] = (), derive: bool = True, rounding: str | None = None,
                   log: list[str] | None = None) -> pd.DataFrame:
    """Both subgroups' treatment HRs per cohort (reported, or one derived), one cohort per patient pool.

    ``rounding`` = ``"low"`` / ``"high"`` replaces each derived subgroup by the printed-rounding
    corner that gives the smallest / largest interaction (a sensitivity setting).

    Returns one row per cohort with ``y_index, se_index, id_index, derived_index``, the same for
    ``ref``, the interaction ``y, se``, ``derived``, ``information_share``, ``patient_share``,
    ``rounding_lo``/``rounding_hi`` (interaction log ratio over the rounding box) and notes.
    """
    mod = get_moderator(factor)
    log = log if log is not None else []
    d = ev.data
    t, c = _as_tuple(treatment), _as_tuple(comparator)
    fac = d["factor"] if "factor" in d.columns else pd.Series("", index=d.index)
    m = (d["kind"] == "subgroup_treatment_effect") & (fac == factor) & (d["outcome"] == outcome)
    if line is not None:
        m &= d["line"] == line
    ex = set(exclude)
    if ex:
        m &= ~d["cohort"].isin(ex) & ~d["patient_pool"].isin(ex)
    sg = d[m]
    labels = _labels(ev)
    cov = ev.covariates()
    rows = []
    for cohort, g in sg.groupby("cohort", sort=False):
        by_level: dict[str, pd.Series] = {}
        for _, r in g.iterrows():
            level = mod.canonical(r["population"].split("=", 1)[1] if "=" in r["population"] else "")
            if t and c and not (r["treatment"] in t and r["comparator"] in c):
                log.append(f"not used: {r['id']} (comparison {r['treatment']} vs {r['comparator']} is not the "
                           "requested one)")
                continue
            if not np.isfinite(r["se_"]):
                log.append(f"not used: {r['id']} (no standard error)")
                continue
            if level not in (mod.index, mod.reference):
                log.append(f"not used: {r['id']} (level {level!r} is neither {mod.index!r} nor {mod.reference!r})")
                continue
            if level in by_level:
                log.append(f"not used: {r['id']} (a second {factor}={level} estimate in {cohort}; "
                           f"{by_level[level]['id']} is used)")
                continue
            by_level[level] = r
        if not by_level:
            continue
        rec = {"cohort": cohort, "patient_pool": g["patient_pool"].iloc[0], "study": labels.get(cohort, cohort),
               "outcome": outcome, "notes": []}
        est: dict[str, dict] = {}
        for level, r in by_level.items():
            est[level] = {"y": float(r["log_hr_"]), "se": float(r["se_"]), "id": r["id"], "derived": False,
                          "row": r}
        missing = [lv for lv in (mod.index, mod.reference) if lv not in est]
        if missing:
            (have_level, have), = est.items()
            lack = missing[0]
            r = have["row"]
            if not derive:
                log.append(f"not used: {cohort} reports only {factor}={have_level} ({r['id']}); back-calculation "
                           "switched off")
                continue
            o, others = _overall_row(d, r, t, c)
            if o is None:
                log.append(f"not used: {cohort} reports only {factor}={have_level} ({r['id']}) and no overall HR "
                           f"from the same kind of analysis ({r['analysis']}) to back-calculate the other subgroup")
                continue
            n_sub, n_all = _n_of(r), _n_of(o)
            prop = None
            if not (math.isfinite(n_sub) and math.isfinite(n_all)):
                p_index = cov[mod.proportion].get(cohort, np.nan) if (mod.proportion and mod.proportion in cov) \
                    else np.nan
                if math.isfinite(p_index):
                    prop = p_index if have_level == mod.index else 1.0 - p_index
            where = f"back-calculation of {cohort} {factor}={lack} from {o['id']} and {r['id']}"
            try:
                der = derive_complementary_subgroup((o["log_hr_"], o["se_"]), (r["log_hr_"], r["se_"]),
                                                    n_sub if math.isfinite(n_sub) else None,
                                                    n_all if math.isfinite(n_all) else None,
                                                    proportion=prop, where=where)
            except EvidenceError as exc:
                log.append(f"not used: {cohort}: {exc}")
                continue
            did = f"derived[{o['id']} minus {r['id']}]"
            est[lack] = {"y": der.log_hr, "se": der.se, "id": did, "derived": True, "row": None}
            rec["overall_id"] = o["id"]
            rec["information_share"] = der.information_share
            rec["patient_share"] = der.patient_share
            rec["derived_level"] = lack
            rec["notes"] += list(der.warnings)
            rng = rounding_range(o, r)
            sign = 1.0 if lack == mod.index else -1.0   # interaction = y_index - y_ref
            if rng is not None and rng["corners"]:
                inter = [sign * (yd - y1) for y1, _, yd, _ in rng["corners"]]
                rec["rounding_lo"], rec["rounding_hi"] = min(inter), max(inter)
                rec["derived_hr_lo"], rec["derived_hr_hi"] = (math.exp(v) for v in rng["derived"])
                if rounding in ("low", "high"):
                    k = int(np.argmin(inter) if rounding == "low" else np.argmax(inter))
                    y1, s1, yd, sd = rng["corners"][k]
                    est[lack].update(y=yd, se=sd)
                    est[have_level].update(y=y1, se=s1)
                    rec["notes"].append(f"rounding setting '{rounding}': printed numbers moved within their "
                                        "rounding to the corner giving the "
                                        f"{'smallest' if rounding == 'low' else 'largest'} interaction")
            for _, alt in others.iterrows():
                try:
                    derive_complementary_subgroup((alt["log_hr_"], alt["se_"]), (r["log_hr_"], r["se_"]))
                    ok = "also possible"
                except EvidenceError:
                    ok = ("impossible (the subgroup is more precise than that whole), so the subgroup does not "
                          "come from that analysis")
                rec["notes"].append(f"back-calculation against {alt['id']} ({alt['analysis']}) is {ok}")
            log.append(
                f"derived: {cohort} {factor}={lack}: HR {_fmt_ci(der.log_hr, der.se)} by inverse-variance "
                f"back-calculation from the overall {o['id']} ({_printed(o)}) and the reported "
                f"{factor}={have_level} {r['id']} ({_printed(r)}); information share "
                f"{der.information_share:.3f} vs patient share {der.patient_share:.3f}"
                + (f"; printed rounding alone moves the derived HR over {rec.get('derived_hr_lo', np.nan):.2f}-"
                   f"{rec.get('derived_hr_hi', np.nan):.2f}" if "derived_hr_lo" in rec else "")
                + "".join(f"; {n}" for n in rec["notes"]))
        a, b = est[mod.index], est[mod.reference]
        src = by_level.get(mod.index, by_level.get(mod.reference))
        y, se = interaction_estimate((a["y"], a["se"]), (b["y"], b["se"]))
        rec.update({"txt_index": _printed(a["row"]) if a["row"] is not None else _fmt_ci(a["y"], a["se"]),
                    "txt_ref": _printed(b["row"]) if b["row"] is not None else _fmt_ci(b["y"], b["se"]),
                    "y_index": a["y"], "se_index": a["se"], "id_index": a["id"], "derived_index": a["derived"],
                    "y_ref": b["y"], "se_ref": b["se"], "id_ref": b["id"], "derived_ref": b["derived"],
                    "y": y, "se": se, "derived": a["derived"] or b["derived"], "analysis": src["analysis"],
                    "design": src["design"], "line": src["line"], "treatment": src["treatment"],
                    "comparator": src["comparator"],
                    "flags": ";".join(x for x in dict.fromkeys(
                        ";".join(str(e["row"]["flags"]) for e in (a, b) if e["row"] is not None).split(";")) if x)})
        rows.append(rec)
    cols = ["cohort", "patient_pool", "study", "outcome", "y_index", "se_index", "id_index", "derived_index", "y_ref",
            "se_ref", "id_ref", "derived_ref", "y", "se", "derived", "analysis", "design", "line", "treatment",
            "comparator", "flags", "overall_id", "information_share", "patient_share", "derived_level",
            "rounding_lo", "rounding_hi", "derived_hr_lo", "derived_hr_hi", "txt_index", "txt_ref", "notes"]
    out = pd.DataFrame(rows)
    for col in cols:
        if col not in out.columns:
            out[col] = np.nan if col not in ("notes",) else [[] for _ in range(len(out))]
    out = out[cols]
    if len(out):
        rank = {co: i for i, co in enumerate(pool_prefer)}
        out["_r"] = [(rank.get(co, len(rank)), int(dv)) for co, dv in zip(out["cohort"], out["derived"])]
        keep = []
        for pool, g in out.groupby("patient_pool", sort=False):
            g = g.sort_values("_r", kind="stable")
            keep.append(g.index[0])
            for j in g.index[1:]:
                log.append(f"not used: {g.at[j, 'cohort']} interaction (same patients as {g['cohort'].iloc[0]}, "
                           f"patient pool {pool!r})")
        out = out.loc[keep].drop(columns="_r").reset_index(drop=True)
    return out


def interaction_effects(ev: EvidenceTable, factor: str, outcome: str, *, treatment=None, comparator=None,
                        line: str | None = None, exclude: Iterable[str] = (), pool_prefer: Sequence[str] = (),
                        derive: bool = True, rounding: str | None = None, allow_unusable: bool = False,
                        source: str = "interaction") -> ModeratorEffects:
    """Within-study interactions ``log(HR_index / HR_reference)``, one per patient pool.

    Examples
    --------
    >>> from sclcmeta import read_evidence
    >>> eff = interaction_effects(read_evidence(), "liver_metastases", "OS",
    ...                           treatment=["ici_any_2l"], comparator=["no_ici_2l"])
    >>> bool(eff.data["derived"].iloc[0])
    True
    """
    mod = get_moderator(factor)
    if not mod.usable_interaction and not allow_unusable:
        raise EvidenceError(f"{source}: {mod.label} is not used as a moderator. {mod.note}")
    log: list[str] = []
    pairs = subgroup_pairs(ev, factor, outcome, treatment=treatment, comparator=comparator, line=line,
                           exclude=exclude, pool_prefer=pool_prefer, derive=derive, rounding=rounding, log=log)
    if pairs.empty:
        raise EvidenceError(
            f"{source}: no cohort reports the {outcome} treatment HR in both subgroups of {mod.label} (or one "
            "subgroup plus the overall HR of the same analysis), so no within-study interaction can be formed. "
            + mod.note)
    data = pd.DataFrame({
        "id": [f"{a} / {b}" for a, b in zip(pairs["id_index"], pairs["id_ref"])],
        "study": pairs["study"], "cohort": pairs["cohort"], "patient_pool": pairs["patient_pool"],
        "y": pairs["y"].astype(float), "se": pairs["se"].astype(float),
        "treatment": f"{factor}={mod.index}", "comparator": f"{factor}={mod.reference}",
        "analysis": pairs["analysis"], "design": pairs["design"], "line": pairs["line"],
        "population": "within-study interaction", "flipped": False,
        "flags": [";".join(x for x in (f, "derived_subgroup" if dv else "") if x)
                  for f, dv in zip(pairs["flags"].fillna(""), pairs["derived"])],
        "derived": pairs["derived"].astype(bool),
    })
    cov = ev.covariates()
    if not cov.empty:
        data = data.join(cov, on="cohort")
    for r in pairs.itertuples():
        log.append(f"used: {r.cohort} interaction {mod.index_label} / {mod.reference_label}: "
                   f"{_fmt_ci(r.y, r.se)} from {r.id_index} and {r.id_ref}"
                   + (" [derived]" if r.derived else " [reported]"))
    caveats = _interaction_caveats(mod, pairs, ev)
    return ModeratorEffects(data, outcome=outcome, treatment_label=mod.index_label,
                            comparator_label=mod.reference_label, log=log, kind="interaction", moderator=factor,
                            pairs=pairs, caveats=caveats)


def subgroup_effects(pairs: pd.DataFrame, mod: Moderator, level: str, outcome: str, ev: EvidenceTable | None = None,
                     treatment_label: str = "treatment", comparator_label: str = "comparator") -> ModeratorEffects:
    """The treatment HR within one subgroup level, one per cohort (reported or derived)."""
    key = "index" if level == mod.index else "ref"
    data = pd.DataFrame({
        "id": pairs[f"id_{key}"], "study": pairs["study"], "cohort": pairs["cohort"],
        "patient_pool": pairs["patient_pool"], "y": pairs[f"y_{key}"].astype(float),
        "se": pairs[f"se_{key}"].astype(float), "treatment": pairs["treatment"], "comparator": pairs["comparator"],
        "analysis": pairs["analysis"], "design": pairs["design"], "line": pairs["line"],
        "population": f"{mod.factor}={level}", "flipped": False,
        "flags": ["derived_subgroup" if dv else "" for dv in pairs[f"derived_{key}"]],
        "derived": pairs[f"derived_{key}"].astype(bool),
    })
    if ev is not None:
        cov = ev.covariates()
        if not cov.empty:
            data = data.join(cov, on="cohort")
    lab = mod.index_label if level == mod.index else mod.reference_label
    log = [f"used: {r.cohort} {mod.factor}={level}: {_fmt_ci(r.y, r.se)} ({r.id})"
           + (" [derived]" if r.derived else " [reported]") for r in data.itertuples()]
    return ModeratorEffects(data, outcome=outcome, treatment_label=treatment_label,
                            comparator_label=f"{comparator_label}, {lab}" if comparator_label else lab, log=log,
                            kind="subgroup",
                            moderator=mod.factor)


def prognostic_effects(ev: EvidenceTable, factor: str, outcome: str, *, index: Iterable[str] | None = None,
                       reference: Iterable[str] | None = None, populations: Iterable[str] = ICI_ARMS,
                       prefer: Sequence[str] = ("multivariable", "univariable"), pool_prefer: Sequence[str] = (),
                       direction_doubtful: str = "exclude", exclude: Iterable[str] = (),
                       ids: Iterable[str] | None = None, source: str = "prognostic") -> ModeratorEffects:
    """Prognostic HRs of ``factor`` within ICI-treated arms, harmonized to ``index`` vs ``reference``.

    One estimate per patient pool: ``pool_prefer`` orders cohorts inside a shared pool (Zhang
    2025b's continuation arm, all after a 1L ICI, before Zhang 2025a's 2L-ICI arm, 41% ICI-naive),
    then ``prefer`` orders analyses (multivariable before univariable).

    ``direction_doubtful``: rows whose printed direction contradicts their paper
    (:data:`DOUBT_FLAGS`) are ``"exclude"``-d (default, logged), used ``"as_printed"``, or
    ``"flipped"`` explicitly (``flipped`` column True and flag ``flipped_by_assumption``).
    """
    if direction_doubtful not in ("exclude", "as_printed", "flipped"):
        raise SpecError(f"{source}: direction_doubtful must be 'exclude', 'as_printed' or 'flipped'; got "
                        f"{direction_doubtful!r}.")
    mod = get_moderator(factor)
    idx = {mod.canonical(x) for x in (_as_tuple(index) or (mod.index,))}
    ref = {mod.canonical(x) for x in (_as_tuple(reference) or (mod.reference,))}
    if len(idx) != 1 or len(ref) != 1:
        raise SpecError(f"{source}: the levels {sorted(idx)} / {sorted(ref)} do not name one index and one reference "
                        f"level of {factor} (synonyms: {dict(mod.synonyms)}).")
    idx_l, ref_l = idx.pop(), ref.pop()
    pops = set(_as_tuple(populations)) or set(ICI_ARMS)
    d = ev.data
    fac = d["factor"] if "factor" in d.columns else pd.Series("", index=d.index)
    cand = d[(d["kind"] == "prognostic_factor") & (fac == factor) & (d["outcome"] == outcome)].copy()
    ids = list(ids) if ids else None
    if ids:
        unknown = [i for i in ids if i not in set(cand["id"])]
        if unknown:
            raise EvidenceError(f"{source}: evidence id(s) {', '.join(unknown)} are not {outcome} prognostic rows of "
                                f"{factor}.")
    log: list[str] = []
    labels = _labels(ev)
    rows, status = [], []
    ex = set(exclude)
    for _, r in cand.iterrows():
        ti, ci = mod.canonical(r["treatment"]), mod.canonical(r["comparator"])
        flags = [f for f in str(r["flags"]).split(";") if f]
        st = {"id": r["id"], "cohort": r["cohort"], "study": labels.get(r["cohort"], r["cohort"]),
              "population": r["population"], "analysis": r["analysis"],
              "levels": f"{r['treatment']} vs {r['comparator'] or '(per unit)'}", "hr": r["hr"],
              "ci": f"{r['ci_low']}-{r['ci_high']}", "flags": ";".join(flags), "y": np.nan, "se": float(r["se_"]),
              "status": "", "reason": ""}
        reason = ""
        flipped = False
        if ids is not None and r["id"] not in ids:
            reason = "not among the spec's ids"
        elif r["cohort"] in ex or r["patient_pool"] in ex:
            reason = "cohort excluded by the spec"
        elif r["population"] not in pops:
            reason = (f"population {r['population']!r} is not an ICI-treated arm (a Cox model across both arms "
                      "describes prognosis under either treatment)")
        elif not np.isfinite(r["se_"]):
            reason = "no standard error"
        elif (ti, ci) == (idx_l, ref_l):
            pass
        elif (ti, ci) == (ref_l, idx_l):
            flipped = True
        else:
            reason = (f"levels {r['treatment']} vs {r['comparator'] or 'per unit'} are not {idx_l} vs {ref_l} "
                      "(different cutpoint or a continuous scale)")
        doubt = [f for f in flags if f in DOUBT_FLAGS]
        y = float(r["log_hr_"]) * (-1.0 if flipped else 1.0)
        st["y"] = y
        if not reason and doubt:
            if direction_doubtful == "exclude":
                reason = (f"curator flag {'/'.join(doubt)}: the printed direction contradicts the paper, so it is "
                          "excluded by default and not flipped (sensitivity settings use it as printed and flipped)")
            elif direction_doubtful == "flipped":
                y = -y
                flipped = not flipped
                flags.append("flipped_by_assumption")
                st["y"] = y
                log.append(f"flipped by assumption: {r['id']} ({'/'.join(doubt)}): entered as HR {math.exp(y):.3g} "
                           "on the assumption that the table is inversely coded (sensitivity setting)")
            else:
                log.append(f"as printed: {r['id']} ({'/'.join(doubt)}) enters with its printed direction, "
                           f"HR {math.exp(y):.3g} (sensitivity setting)")
        if reason:
            st["status"], st["reason"] = "not used", reason
            status.append(st)
            log.append(f"not used: {r['id']} ({reason})")
            continue
        rows.append({**r.to_dict(), "y": y, "flipped_": flipped, "flags_": ";".join(flags), "_st": len(status)})
        status.append(st)
    if not rows:
        raise EvidenceError(f"{source}: no {outcome} prognostic HR of {factor} ({idx_l} vs {ref_l}) within ICI-treated "
                            "arms is usable; see the selection log.")
    sel = pd.DataFrame(rows)
    prank = {co: i for i, co in enumerate(pool_prefer)}
    arank = {a: i for i, a in enumerate(prefer)}
    pref = sel["preferred"].map({"yes": 0, "": 1, "no": 2}).fillna(1) if "preferred" in sel else 1
    sel["_r"] = list(zip(sel["cohort"].map(lambda x: prank.get(x, len(prank))),
                         sel["analysis"].map(lambda a: arank.get(a, len(arank))), pref))
    chosen = []
    for pool, g in sel.groupby("patient_pool", sort=False):
        g = g.sort_values("_r", kind="stable")
        top = g.iloc[0]
        if (g["_r"] == top["_r"]).sum() > 1:
            tied = g[g["_r"] == top["_r"]]
            raise EvidenceError(f"{source}: rows {', '.join(tied['id'])} are equally preferred estimates from patient "
                                f"pool {pool!r}; order the cohorts with pool_prefer or name one with ids.")
        chosen.append(g.index[0])
        status[int(top["_st"])].update(status="used", reason="")
        for j in g.index[1:]:
            why = (f"same patients as {top['id']}" if g.at[j, "cohort"] != top["cohort"]
                   else f"{g.at[j, 'analysis']}; {top['analysis']} {top['id']} preferred")
            if g.at[j, "cohort"] != top["cohort"]:
                why += f" (patient pool {pool!r}; {top['cohort']} preferred: pool_prefer {list(pool_prefer)})"
            status[int(g.at[j, "_st"])].update(status="not used", reason=why)
            log.append(f"not used: {g.at[j, 'id']} ({why})")
    sel = sel.loc[chosen]
    arm_txt = {"arm=2l_ici": "2L-ICI arm", "arm=ici_cont_2l": "ICI continuation arm",
               "arm=atezolizumab_cont_2l": "atezolizumab continuation, single arm"}
    data = pd.DataFrame({
        "id": sel["id"].to_numpy(),
        "study": [f"{labels.get(c_, c_)} ({arm_txt.get(p, p)})" for c_, p in zip(sel["cohort"], sel["population"])],
        "cohort": sel["cohort"].to_numpy(), "patient_pool": sel["patient_pool"].to_numpy(),
        "y": sel["y"].astype(float).to_numpy(), "se": sel["se_"].astype(float).to_numpy(),
        "treatment": idx_l, "comparator": ref_l, "analysis": sel["analysis"].to_numpy(),
        "design": sel["design"].to_numpy(), "line": sel["line"].to_numpy(), "population": sel["population"].to_numpy(),
        "flipped": sel["flipped_"].astype(bool).to_numpy(), "flags": sel["flags_"].to_numpy(), "derived": False,
    })
    cov = ev.covariates()
    if not cov.empty:
        data = data.join(cov, on="cohort")
    for r in data.itertuples():
        log.append(f"used: {r.id} ({r.analysis}, {r.population}; HR {math.exp(r.y):.3g} {idx_l} vs {ref_l}"
                   + (", direction harmonized (reported the other way round)" if r.flipped and
                      "flipped_by_assumption" not in r.flags else "") + ")")
    cands = pd.DataFrame(status)
    caveats = _prognostic_caveats(mod, data, cands)
    return ModeratorEffects(data.reset_index(drop=True), outcome=outcome, treatment_label=f"{factor} {idx_l}",
                            comparator_label=f"{ref_l}", log=log, kind="prognostic", moderator=factor,
                            candidates=cands, caveats=caveats)


def ecological_effects(ev: EvidenceTable, covariate: str, outcome: str, *, treatment, comparator,
                       line: str | None = "2L", exclude: Iterable[str] = (), prefer: Sequence[str] | None = None,
                       min_k: int = 3, source: str = "ecological") -> ModeratorEffects:
    """Overall treatment HRs of cohorts that report ``covariate``, for a study-level meta-regression.

    Raises :class:`EvidenceError` (with the availability table in the message) when fewer than
    ``min_k`` independent patient pools report both an HR and the covariate, or the covariate does
    not vary: the regression is then not estimable.
    """
    d = ev.data
    cov = ev.covariates()
    if covariate not in cov.columns:
        raise EvidenceError(f"{source}: {covariate!r} is not a study-level covariate; available: "
                            f"{', '.join(cov.columns)}.")
    t, c = _as_tuple(treatment), _as_tuple(comparator)
    m = ((d["outcome"] == outcome) & (d["kind"] == "treatment_effect") & (d["population"] == "overall")
         & np.isfinite(d["se_"]) & ((d["treatment"].isin(t) & d["comparator"].isin(c))
                                    | (d["treatment"].isin(c) & d["comparator"].isin(t))))
    if line is not None:
        m &= d["line"] == line
    ex = set(exclude)
    avail = d[m]
    labels = _labels(ev)
    tab = []
    for cohort, g in avail.groupby("cohort", sort=False):
        x = cov[covariate].get(cohort, np.nan)
        tab.append({"cohort": cohort, "study": labels.get(cohort, cohort), "patient_pool": g["patient_pool"].iloc[0],
                    covariate: x, "excluded": cohort in ex or g["patient_pool"].iloc[0] in ex,
                    "has_covariate": bool(np.isfinite(x))})
    tab = pd.DataFrame(tab, columns=["cohort", "study", "patient_pool", covariate, "excluded", "has_covariate"])
    ok = tab[~tab["excluded"] & tab["has_covariate"]]
    pools = ok["patient_pool"].nunique()
    values = ok.drop_duplicates("patient_pool")[covariate]
    listing = "; ".join(f"{r.study} ({r.patient_pool}): {covariate} = "
                        f"{'missing' if not r.has_covariate else format(getattr(r, covariate), '.3f')}"
                        f"{', excluded' if r.excluded else ''}" for r in tab.itertuples())
    if pools < min_k or values.nunique() < 2:
        raise EvidenceError(
            f"{source}: a meta-regression of the {outcome} treatment log HR on {covariate} is not estimable: only "
            f"{pools} independent patient pool(s) report both a treatment HR and {covariate}, with "
            f"{values.nunique()} distinct value(s); at least {min_k} pools and 2 values are needed. Cohorts: {listing}.")
    drop = list(tab.loc[~tab["has_covariate"], "cohort"])
    kw = dict(outcome=outcome, treatment=t, comparator=c, line=line, exclude=list(ex) + drop, source=source)
    if prefer:
        kw["prefer"] = tuple(prefer)
    eff = select_estimates(ev, **kw)
    log = list(eff.log) + [f"not used: {co} ({covariate} not reported)" for co in drop]
    data = eff.data.copy()
    data["derived"] = False
    caveats = _ecological_caveats(covariate, data)
    return ModeratorEffects(data, outcome=outcome, treatment_label=eff.treatment_label,
                            comparator_label=eff.comparator_label, log=log, kind="ecological", moderator=covariate,
                            candidates=tab, caveats=caveats)


# --------------------------------------------------------------------------------------------------
# caveats (text that travels with every output)
# --------------------------------------------------------------------------------------------------
def _interaction_caveats(mod: Moderator, pairs: pd.DataFrame, ev: EvidenceTable | None = None) -> list[str]:
    out = []
    mixed = pairs[pairs["treatment"] == "ici_any_2l"]
    if len(mixed):
        out.append(f"Population: in {', '.join(mixed['study'])} the ICI arm mixes ICI-naive and ICI-pretreated "
                   "patients (node ici_any_2l), so the interaction describes Q5's population, not only patients "
                   "treated again after a first-line ICI (Q1).")
    st = ev.studies.set_index("cohort") if ev is not None and ev.studies is not None else None
    if st is not None and mod.proportion and f"{mod.proportion}_treatment" in st.columns:
        for r in pairs[pairs["derived"]].itertuples():
            pt, pc = (_num(st.at[r.cohort, f"{mod.proportion}_{a}"]) for a in ("treatment", "comparator"))
            if math.isfinite(pt) and math.isfinite(pc):
                out.append(f"In {r.study}, {mod.label} ({mod.index}) in {pt:.1%} of the treatment arm vs {pc:.1%} of "
                           "the comparator arm: with a strongly prognostic moderator, an unstratified overall HR is "
                           "shifted by this imbalance and is only approximately the inverse-variance combination of "
                           "the subgroup HRs that the back-calculation assumes.")
    k = len(pairs)
    if k == 1:
        out.append(f"Single study: the interaction rests on one cohort ({pairs['study'].iloc[0]}); the between-cohort "
                   "SD of the interaction is not informed by data, so the pooled (average) interaction and the "
                   "prediction for a new cohort are as wide as the tau prior makes them (see the sensitivity table).")
    elif k < 5:
        out.append(f"Only {k} cohorts: the between-cohort SD of the interaction is mostly prior-driven.")
    if pairs["derived"].any():
        out.append("Derived subgroup: " + "; ".join(
            f"{r.study}'s {mod.factor}={r.derived_level} HR is back-calculated from its overall HR ({r.overall_id})"
            + (f"; printed rounding alone moves it over {r.derived_hr_lo:.2f}-{r.derived_hr_hi:.2f}"
               if pd.notna(r.derived_hr_lo) else "")
            for r in pairs[pairs["derived"]].itertuples())
            + ". Assumptions: " + "; ".join(BACK_CALCULATION_ASSUMPTIONS) + ".")
        out.append("Selective reporting: a paper that prints one subgroup HR in its text usually prints the one that "
                   "was significant; the missing subgroup is recovered here, but other moderators that were tested "
                   "and not printed are not.")
    if mod.note:
        out.append(mod.note)
    return out


def _prognostic_caveats(mod: Moderator, data: pd.DataFrame, cands: pd.DataFrame) -> list[str]:
    out = ["Prognostic is not predictive: these HRs compare patients with and without the factor, all treated with "
           "an ICI. They say who does worse on second-line immunotherapy, not who benefits less from it; that needs "
           "the treatment HR in both subgroups (a within-study interaction)."]
    if len(data) == 1:
        out.append("Single cohort: the between-cohort SD is prior-driven, and the prediction for a new cohort is wide.")
    an = set(data["analysis"])
    if "multivariable" in an:
        out.append("Multivariable HRs adjust for different covariate sets in each paper (and are few-event models), "
                   "so they are not strictly the same quantity across cohorts.")
    nu = cands[(cands["status"] == "not used") & cands["reason"].str.startswith("curator flag")]
    if len(nu):
        out.append("Excluded by default because the printed direction contradicts the paper: "
                   + ", ".join(f"{r.id} (HR {r.hr} [{r.ci}]; {'/'.join(f for f in r.flags.split(';') if f in DOUBT_FLAGS)})"
                               for r in nu.itertuples())
                   + ". They are neither flipped nor silently dropped: the sensitivity table shows them as printed and "
                     "flipped.")
    if mod.note:
        out.append(mod.note)
    return out


def _ecological_caveats(covariate: str, data: pd.DataFrame) -> list[str]:
    x = data[covariate].to_numpy(float)
    return [f"Ecological bias: the slope is an association between cohorts' {covariate} and their HRs. It is not an "
            "association within patients: cohorts also differ in drugs, centres, follow-up, adjustment and selection, "
            "and any of these can produce or hide a slope.",
            f"k = {len(data)} cohorts with {len(np.unique(x))} distinct values of {covariate} "
            f"({', '.join(f'{v:.3g}' for v in sorted(np.unique(x)))}): the slope rests essentially on the contrast "
            "between those groups of cohorts, and its width is governed by the tau and beta priors."]


# --------------------------------------------------------------------------------------------------
# inventory of every moderator considered
# --------------------------------------------------------------------------------------------------
def moderator_inventory(ev: EvidenceTable) -> pd.DataFrame:
    """Every moderator x outcome considered for Q3, with what the evidence allows and why.

    Numbers are computed from the evidence table (interaction with its SE, derived or reported);
    the status says whether an analysis uses them.
    """
    specs = {("liver_metastases", "OS"): "q3_liver_interaction_os", ("l1_ici", "OS"): "q3_prior_ici_interaction_os"}
    rows = []
    for factor, mod in MODERATORS.items():
        for outcome in ("OS", "PFS"):
            log: list[str] = []
            pairs = subgroup_pairs(ev, factor, outcome, log=log)
            prog = ev.data[(ev.data["kind"] == "prognostic_factor") & (ev.data["factor"] == factor)
                           & (ev.data["outcome"] == outcome)]
            base = {"moderator": mod.label, "factor": factor, "outcome": outcome,
                    "prognostic_rows": len(prog)}
            if pairs.empty:
                rows.append({**base, "interaction": "", "evidence": "",
                             "status": "interaction not estimable: no subgroup treatment HR in the text"
                                       + ("" if factor != "liver_metastases" or outcome != "PFS"
                                          else " (Zhang 2025a/2025b Fig. 2A and Gu 2026 Fig. 1B are images)"),
                             "analysis": ""})
                continue
            for r in pairs.itertuples():
                spec = specs.get((factor, outcome), "")
                status = ("used (within-study interaction" + (", derived subgroup" if r.derived else "") + ")"
                          if mod.usable_interaction and spec else
                          "computed, not pooled: " + (mod.note if not mod.usable_interaction else "no spec"))
                rng = (f"; printed rounding: ratio {math.exp(r.rounding_lo):.2f}-{math.exp(r.rounding_hi):.2f}"
                       if pd.notna(r.rounding_lo) else "")
                rows.append({**base, "interaction": f"{mod.ratio_label}: {_fmt_ci(r.y, r.se)}{rng}",
                             "evidence": f"{r.study}: {r.id_index} / {r.id_ref}" + (" [derived]" if r.derived else ""),
                             "status": status, "analysis": spec})
    rows.append({"moderator": "liver metastases (cohort share)", "factor": "prop_liver_mets", "outcome": "OS/PFS",
                 "prognostic_rows": 0, "interaction": "", "evidence": "studies.csv prop_liver_mets",
                 "status": "meta-regression not estimable: the only cohorts with both a treatment HR and the share "
                           "(Zhang 2025a 0.20, Zhang 2025b 0.26) are one patient pool; Gu 2026 and Zhang B 2025 do "
                           "not report it; Shi 2025 has no comparator", "analysis": ""})
    rows.append({"moderator": "first-line ICI exposure (cohort share)", "factor": "l1_ici_fraction",
                 "outcome": "OS/PFS", "prognostic_rows": 0, "interaction": "", "evidence": "studies.csv l1_ici_fraction",
                 "status": "ecological meta-regression, k = 3 (two distinct values)",
                 "analysis": "q3_prior_ici_metareg_os / _pfs"})
    rows.append({"moderator": "liver metastases arising during 2L", "factor": "liver_metastases_during_2l",
                 "outcome": "OS/PFS", "prognostic_rows": 2, "interaction": "", "evidence": "Gu 2026",
                 "status": "not a moderator: a post-baseline event (not known when the treatment is chosen)",
                 "analysis": ""})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------------
# spec glue: EffectData, fitting, sensitivity settings
# --------------------------------------------------------------------------------------------------
def is_moderator_spec(spec) -> bool:
    return spec.evidence.get("kind") in MODERATOR_KINDS


def effects_for_moderator_spec(spec, evidence: EvidenceTable, **overrides) -> ModeratorEffects:
    """The EffectData a Q3 moderator spec declares (errors name the spec file)."""
    ev = spec.evidence
    kind = ev.get("kind")
    src = f"{spec.path} [evidence]"
    factor = ev.get("factor") or ""
    try:
        if kind == "interaction":
            if not factor:
                raise SpecError(f"{src}: kind = 'interaction' needs factor = '<moderator>' (e.g. 'liver_metastases').")
            kw = dict(treatment=ev.get("treatment"), comparator=ev.get("comparator"), line=ev.get("line"),
                      exclude=ev.get("exclude", ()), pool_prefer=tuple(ev.get("pool_prefer", ())), source=src)
            kw.update(overrides)
            return interaction_effects(evidence, factor, spec.outcome, **kw)
        if kind == "prognostic":
            if not factor:
                raise SpecError(f"{src}: kind = 'prognostic' needs factor = '<factor>' (e.g. 'liver_metastases').")
            pops = ev.get("population")
            pops = ICI_ARMS if pops in (None, "overall", ["overall"]) else _as_tuple(pops)
            kw = dict(index=ev.get("treatment"), reference=ev.get("comparator"), populations=pops,
                      prefer=tuple(ev.get("prefer") or ("multivariable", "univariable")),
                      pool_prefer=tuple(ev.get("pool_prefer", ())),
                      direction_doubtful=ev.get("direction_doubtful", "exclude"), exclude=ev.get("exclude", ()),
                      ids=ev.get("ids") or None, source=src)
            kw.update(overrides)
            return prognostic_effects(evidence, factor, spec.outcome, **kw)
        if kind == "ecological":
            covs = list(spec.model.get("covariates", ()))
            if spec.model.get("type") != "meta_regression" or len(covs) != 1:
                raise SpecError(f"{spec.path} [model]: kind = 'ecological' needs type = 'meta_regression' with one "
                                "covariate, e.g. covariates = ['l1_ici_fraction'].")
            kw = dict(treatment=ev.get("treatment"), comparator=ev.get("comparator"), line=ev.get("line", "2L"),
                      exclude=ev.get("exclude", ()), prefer=ev.get("prefer") or None, source=src)
            kw.update(overrides)
            return ecological_effects(evidence, covs[0], spec.outcome, **kw)
    except EvidenceError as exc:
        raise SpecError(str(exc)) from None
    raise SpecError(f"{src}: kind {kind!r} is not a moderator analysis ({', '.join(MODERATOR_KINDS)}).")


def sensitivity_settings(spec, evidence: EvidenceTable) -> list[tuple[str, str, ModeratorEffects]]:
    """Evidence choices specific to moderator analyses, for :func:`sclcmeta.sensitivity.run_sensitivity`.

    Prognostic: direction-doubtful rows as printed / explicitly flipped; the other cohort of a shared
    patient pool. Interaction: derived subgroups at the printed-rounding extremes.
    """
    kind = spec.evidence.get("kind")
    base = effects_for_moderator_spec(spec, evidence)
    seen = {tuple(base.data["id"]) + tuple(np.round(base.data["y"], 12))}
    out: list[tuple[str, str, ModeratorEffects]] = []

    def add(label, desc, **kw):
        try:
            eff = effects_for_moderator_spec(spec, evidence, **kw)
        except SpecError:
            return
        key = tuple(eff.data["id"]) + tuple(np.round(eff.data["y"], 12))
        if key not in seen:
            seen.add(key)
            out.append((label, desc, eff))

    if kind == "prognostic":
        add("direction-doubtful rows as printed", "rows flagged direction_doubtful / direction_contradicts_text "
            "included with their printed direction", direction_doubtful="as_printed")
        add("direction-doubtful rows flipped", "the same rows included with the sign flipped (assumes the table is "
            "inversely coded)", direction_doubtful="flipped")
        pp = tuple(spec.evidence.get("pool_prefer", ()))
        if len(pp) > 1:
            add(f"prefer {pp[-1]} in its patient pool", f"pool_prefer reversed: {', '.join(reversed(pp))}",
                pool_prefer=tuple(reversed(pp)))
    elif kind == "interaction" and base.data["derived"].any():
        add("derived subgroup at rounding low", "printed HRs/CIs moved within their rounding to give the smallest "
            "interaction", rounding="low")
        add("derived subgroup at rounding high", "printed HRs/CIs moved within their rounding to give the largest "
            "interaction", rounding="high")
    return out


def _fit(model, spec, method, cache, progress, seed_offset=0):
    inf = spec.inference
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit_model(model, spec.priors, method=method, draws=inf["draws"], tune=inf["tune"],
                         chains=inf["chains"], seed=inf["seed"] + seed_offset, sampler=inf["sampler"],
                         progress=progress, cache=cache)


def _build(eff, spec):
    m = spec.model
    return model_from_effects(eff, m["type"], covariates=tuple(m.get("covariates", ())),
                              design_bias=bool(m.get("design_bias", False)), where=f"{spec.path} [model]")


def wrap_fit(spec, raw, eff: ModeratorEffects, parts: dict | None = None) -> ModeratorResult:
    """A :class:`ModeratorResult` around one fitted primary model (sensitivity reruns use this)."""
    kind = spec.evidence.get("kind")
    return ModeratorResult(name=spec.name, outcome=spec.outcome, comparison=spec.comparison or
                           f"{eff.treatment_label} vs {eff.comparator_label}", raw=raw, effects=eff, spec=spec,
                           question=spec.question, kind=kind, factor=eff.moderator, parts=parts or {},
                           caveats=list(eff.caveats))


def run_moderator_spec(spec, evidence: EvidenceTable | None = None, *, cache=None, progress: bool = False,
                       method: str | None = None) -> ModeratorResult:
    """Fit a Q3 moderator spec: the primary model (interaction / prognostic / ecological) and, for
    interactions, the treatment HR within each subgroup level."""
    from .evidence import read_evidence

    evidence = evidence if evidence is not None else read_evidence()
    method = method or spec.inference["method"]
    kind = spec.evidence.get("kind")
    if kind in ("interaction", "prognostic") and spec.model["type"] not in ("random_effects", "fixed_effect"):
        raise SpecError(f"{spec.path} [model]: a {kind} analysis pools one quantity per cohort; use type = "
                        "'random_effects' (or 'fixed_effect').")
    eff = effects_for_moderator_spec(spec, evidence)
    raw = _fit(_build(eff, spec), spec, method, cache, progress)
    parts: dict[str, FitResult] = {}
    if kind == "interaction":
        mod = get_moderator(eff.moderator)
        tr = spec.evidence.get("treatment") or ["treatment"]
        co = spec.evidence.get("comparator") or ["comparator"]
        t_lab = spec.comparison or f"{'/'.join(tr)} vs {'/'.join(co)}"
        for j, level in enumerate((mod.index, mod.reference)):
            sub = subgroup_effects(eff.pairs, mod, level, spec.outcome, evidence, treatment_label=t_lab,
                                   comparator_label="")
            r = _fit(_build(sub, spec), spec, method, cache, progress, seed_offset=j + 1)
            lab = mod.index_label if level == mod.index else mod.reference_label
            parts[level] = FitResult(name=spec.name, outcome=spec.outcome, comparison=f"{t_lab}, {lab}", raw=r,
                                     effects=sub, spec=spec, question=spec.question)
    return wrap_fit(spec, raw, eff, parts)


# --------------------------------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------------------------------
@dataclass
class SourcedQuantity(Quantity):
    """A quantity whose row is computed by another fit (a subgroup's own pooled model)."""

    source: object = None
    level: str = ""


_PRIMARY = {"interaction": "interaction", "prognostic": "prognostic", "ecological": "meta_regression"}


@dataclass
class ModeratorResult(FitResult):
    """A fitted moderator analysis: :class:`FitResult` with moderator-specific rows, text and plots.

    Summary rows (``quantity``): ``interaction`` (pooled ratio of HRs; ``prob_hr_below_1`` is
    P(ratio < 1) and ``prob_less_benefit`` is P(ratio > 1), i.e. less benefit at the index level),
    ``study`` (each cohort's interaction), ``predictive``, ``tau``, ``subgroup`` (the treatment HR
    pooled within each level); ``prognostic``; ``meta_regression`` (ratio of HRs per unit of the
    covariate, ecological) and ``fitted`` (HR at observed covariate values).
    """

    kind: str = "interaction"
    factor: str = ""
    parts: dict = field(default_factory=dict)
    caveats: list = field(default_factory=list)

    @property
    def primary(self) -> str:
        return _PRIMARY[self.kind]

    @property
    def passed(self) -> bool:
        """The primary fit and every subgroup fit passed the convergence gate (or are exact)."""
        return self.diagnostics.passed and all(p.passed for p in self.parts.values())

    @property
    def moderator(self) -> Moderator | None:
        return MODERATORS.get(self.factor)

    def __repr__(self) -> str:
        p = self.pooled_hr()
        extra = (f", P(ratio > 1: less benefit {self.moderator.index_label if self.moderator else 'per unit'}) = "
                 f"{p['prob_less_benefit']:.3f}" if pd.notna(p.get("prob_less_benefit", np.nan)) else "")
        lines = [f"<ModeratorResult {self.name!r}: {self.kind}, {self.outcome}, k={self.model.k}, {self.method}>",
                 f"  {self.primary}: {p['comparison']}",
                 f"  HR {p['hr_median']:.3f} (95% CrI {p['hr_q2.5']:.3f}-{p['hr_q97.5']:.3f}), "
                 f"P(<1) = {p['prob_hr_below_1']:.3f}{extra}",
                 f"  diagnostics: {self.diagnostics}"]
        for q in self.quantities:
            if q.quantity == "subgroup":
                r = self._row(q)
                lines.append(f"  subgroup {q.comparison}: HR {r['hr_median']:.3f} ({r['hr_q2.5']:.3f}-"
                             f"{r['hr_q97.5']:.3f})")
        return "\n".join(lines)

    # -- quantities ----------------------------------------------------------------------------
    @cached_property
    def quantities(self) -> list[Quantity]:
        base = FitResult.quantities.func(self)
        mod = self.moderator
        out: list[Quantity] = []
        if self.kind == "interaction":
            label = f"{mod.ratio_label} ({self.comparison})" if mod else self.comparison
            for q in base:
                if q.quantity == "pooled":
                    out.append(Quantity("interaction", label, q.marginal))
                elif q.quantity == "predictive":
                    out.append(Quantity("predictive", f"{label} (new cohort)", q.marginal))
                elif q.quantity == "study":
                    out.append(Quantity("study", f"{q.comparison}: within-study ratio", q.marginal))
                else:
                    out.append(q)
            for level, part in self.parts.items():
                pq = next(x for x in part.quantities if x.quantity == "pooled")
                out.append(SourcedQuantity("subgroup", part.comparison, pq.marginal, source=part, level=level))
        elif self.kind == "prognostic":
            e = self.effects
            label = (f"{mod.label}: {e.data['treatment'].iloc[0]} vs {e.data['comparator'].iloc[0]} "
                     f"(HR of the factor among ICI-treated patients)") if mod else self.comparison
            for q in base:
                if q.quantity == "pooled":
                    out.append(Quantity("prognostic", label, q.marginal))
                elif q.quantity == "predictive":
                    out.append(Quantity("predictive", f"{label} (new cohort)", q.marginal))
                else:
                    out.append(q)
        else:  # ecological
            cov = self.model.coef_names[1]
            x = self.effects.data[cov].to_numpy(float)
            for q in base:
                if q.quantity == "beta":
                    out.append(Quantity("meta_regression", f"HR ratio per unit {cov} (1 vs 0; ecological)",
                                        q.marginal))
                elif q.quantity == "pooled":
                    out.append(Quantity("fitted", f"{self.comparison} at mean {cov} = {x.mean():.3g}", q.marginal))
                else:
                    out.append(q)
            for v in sorted(set(np.round(x, 6))):
                c = np.array([1.0, v - x.mean()] + [0.0] * (self.model.p - 2))
                out.append(Quantity("fitted", f"{self.comparison} at {cov} = {v:.3g}", self.linear_marginal(c)))
        return out

    def _row(self, q: Quantity, thresholds: Sequence[float] = (1.0, 0.8)) -> dict:
        src = getattr(q, "source", None)
        row = src._row(q, thresholds) if src is not None else super()._row(q, thresholds)
        row["analysis"] = self.name
        row["prob_less_benefit"] = (1.0 - row["prob_hr_below_1"]) if self._less_benefit_row(q) else np.nan
        return row

    def _less_benefit_row(self, q: Quantity) -> bool:
        return q.log_scale and (q.quantity in ("interaction", "meta_regression")
                                or (self.kind == "interaction" and q.quantity in ("study", "predictive")))

    def summary(self, thresholds: Sequence[float] = (1.0, 0.8)) -> pd.DataFrame:
        """The FitResult summary plus ``prob_less_benefit`` = P(ratio > 1) on interaction rows."""
        df = super().summary(thresholds)
        mask = np.array([self._less_benefit_row(q) for q in self.quantities])
        df["prob_less_benefit"] = np.where(mask, 1.0 - df["prob_hr_below_1"].to_numpy(float), np.nan)
        return df

    def glance(self) -> pd.DataFrame:
        """Headline rows: the primary quantity, plus the subgroup HRs of an interaction analysis."""
        s = self.summary()
        return s[s["quantity"].isin([self.primary, "subgroup"])]

    def pooled_hr(self) -> dict:
        """The primary row (interaction, prognostic HR or meta-regression ratio) as a dict."""
        return self._row(next(q for q in self.quantities if q.quantity == self.primary))

    def prob_hr_below(self, threshold: float, quantity: str = "pooled") -> float:
        quantity = self.primary if quantity == "pooled" else quantity
        q = next(q for q in self.quantities if q.quantity == quantity)
        return float(np.asarray(q.marginal.cdf(math.log(threshold))).ravel()[0])

    def to_netcdf(self, path):
        """Primary posterior, plus each subgroup's pooled log HR as ``subgroup_<level>`` when shapes agree."""
        post = self.idata.posterior
        for level, part in self.parts.items():
            b = part.idata.posterior["b"].sel(coef="mu")
            if b.shape == post["b"].sel(coef="mu").shape:
                post[f"subgroup_{level.replace('>=', 'ge').replace('<', 'lt')}"] = (("chain", "draw"), b.values)
        self.idata.posterior = post
        return super().to_netcdf(path)

    # -- text, tables, figures -----------------------------------------------------------------
    def subgroup_row(self, level: str) -> dict | None:
        """Summary row of the pooled treatment HR within one level of the moderator."""
        for q in self.quantities:
            if q.quantity == "subgroup" and getattr(q, "level", "") == level:
                return self._row(q)
        return None

    def plain_language(self, evidence=None) -> str:
        p = self.pooled_hr()
        e = self.effects
        mod = self.moderator

        def hr(r):
            return f"{r['hr_median']:.2f} (95% CrI {r['hr_q2.5']:.2f}-{r['hr_q97.5']:.2f})"

        parts: list[str] = []
        if self.kind == "interaction":
            d = e.pairs
            studies = ", ".join(d["study"])
            parts.append(f"Does the {self.outcome} benefit of {self.comparison} differ {mod.index_label} vs "
                         f"{mod.reference_label}? Within-study evidence (the treatment HR in both subgroups of the "
                         f"same cohort) exists for {len(d)} cohort(s): {studies}.")
            for r in d.itertuples():
                parts.append(
                    f"In {r.study}, the treatment HR is {r.txt_index} {mod.index_label}"
                    f"{' (derived by back-calculation)' if r.derived_index else ' (reported)'} and "
                    f"{r.txt_ref} {mod.reference_label}"
                    f"{' (derived by back-calculation)' if r.derived_ref else ' (reported)'}; their ratio is "
                    f"{_fmt_ci(r.y, r.se)}.")
            st = [self._row(q) for q in self.quantities if q.quantity == "study"]
            parts.append(f"The pooled ratio of HRs ({mod.index_label} / {mod.reference_label}) has posterior median "
                         f"{hr(p)}; P(less benefit {mod.index_label}) = P(ratio > 1) = {p['prob_less_benefit']:.2f}"
                         + (f" (within {d['study'].iloc[0]} alone: {st[0]['hr_median']:.2f}, "
                            f"P(ratio > 1) = {st[0]['prob_less_benefit']:.2f})" if len(st) == 1 else "") + ".")
            sy, sn = self.subgroup_row(mod.index), self.subgroup_row(mod.reference)
            if sy and sn:
                parts.append(f"Pooled treatment HR {mod.index_label}: {hr(sy)}, P(HR < 1) = {sy['prob_hr_below_1']:.2f}; "
                             f"{mod.reference_label}: {hr(sn)}, P(HR < 1) = {sn['prob_hr_below_1']:.2f} (each pooled "
                             "on its own; the ratio above is the within-study comparison).")
            if (d["derived"]).any():
                parts.append("An interval that includes 1 here means the data cannot tell whether the benefit "
                             "differs; it is not evidence that it is the same.")
        elif self.kind == "prognostic":
            d = e.data
            parts.append(f"Among second-line ICI-treated patients, {mod.label} ({d['treatment'].iloc[0]} vs "
                         f"{d['comparator'].iloc[0]}): pooled prognostic {self.outcome} HR {hr(p)}, "
                         f"P(HR > 1) = {1 - p['prob_hr_below_1']:.2f}, from {len(d)} cohort(s): "
                         + "; ".join(f"{r.study} {r.analysis} HR {math.exp(r.y):.2f} ({r.id})" for r in d.itertuples())
                         + ".")
            if len(d) == 1:
                st = next(self._row(q) for q in self.quantities if q.quantity == "study")
                parts.append(f"Within that cohort alone the HR is {hr(st)}; the pooled interval is wider because a "
                             "single cohort says nothing about how much the HR varies between cohorts.")
            c = e.candidates
            same = c[(c["status"] == "not used") & c["reason"].str.startswith("same patients")]
            if len(same):
                parts.append("Cohorts that share patients enter once: "
                             + "; ".join(f"{r.id} is not used ({r.reason})" for r in same.itertuples())
                             + ". The other choice is a sensitivity setting.")
        else:
            cov = self.model.coef_names[1]
            d = e.data
            parts.append(f"Study-level meta-regression of the {self.outcome} log HR of {self.comparison} on {cov}, "
                         f"k = {len(d)} cohorts ("
                         + "; ".join(f"{r.study} {getattr(r, cov):.2f}" for r in d.itertuples()) + "): the ratio of "
                         f"HRs between a cohort with {cov} = 1 and one with 0 has posterior median {hr(p)}; "
                         f"P(ratio > 1, i.e. less benefit in cohorts with more {cov}) = {p['prob_less_benefit']:.2f}. "
                         "Where a within-study interaction of the same moderator exists, it is the better answer.")
        parts.extend(self.caveats)
        if self.kind == "interaction" and mod is not None and mod.factor == "liver_metastases":
            parts.append("Prognostic is not predictive: liver metastases roughly double the hazard among ICI-treated "
                         "patients (q3_liver_prognostic_*), which says who does worse, not who benefits less. A "
                         "meta-regression on the cohort share with liver metastases is not estimable (one independent "
                         "cohort reports both the share and a treatment HR) and would be ecological anyway. No PFS "
                         "liver-metastasis subgroup HR is printed in any paper.")
        if self.kind != "ecological":
            parts.append("The named prior sets 'sceptical' and 'enthusiastic' are calibrated for treatment effects; on "
                         "a ratio of HRs or a prognostic HR they act as a pull towards 1 or towards 0.75.")
        if not self.passed:
            parts.append("WARNING: this fit failed the convergence gate and is not an answer.")
        return " ".join(parts)

    def tables(self) -> dict:
        out: dict[str, pd.DataFrame] = {}
        e = self.effects
        if self.kind == "interaction":
            mod = self.moderator
            d = e.pairs
            st = {q.comparison.split(":")[0]: self._row(q) for q in self.quantities if q.quantity == "study"}
            rows = []
            for r in d.itertuples():
                s = st.get(r.study, {})
                rows.append({
                    "study": r.study,
                    f"HR {mod.index_label}": r.txt_index,
                    f"source ({mod.index})": "derived" if r.derived_index else "reported",
                    f"HR {mod.reference_label}": r.txt_ref,
                    f"source ({mod.reference})": "derived" if r.derived_ref else "reported",
                    "ratio (95% CI)": _fmt_ci(r.y, r.se),
                    "ratio range from printed rounding": (f"{math.exp(r.rounding_lo):.2f}-{math.exp(r.rounding_hi):.2f}"
                                                          if pd.notna(r.rounding_lo) else ""),
                    "information share of derived": r.information_share, "patient share of derived": r.patient_share,
                    "P(ratio > 1) within study": s.get("prob_less_benefit", np.nan),
                    "evidence": f"{r.id_index} / {r.id_ref}",
                })
            out["Within-study subgroup estimates (derived = inverse-variance back-calculation)"] = pd.DataFrame(rows)
            ps = [self._row(q) for q in self.quantities if q.quantity in ("interaction", "predictive", "study")]
            out[f"P(less benefit {mod.index_label}) = P(ratio of HRs > 1)"] = pd.DataFrame([
                {"quantity": r["quantity"], "comparison": r["comparison"], "ratio median": r["hr_median"],
                 "ratio q2.5": r["hr_q2.5"], "ratio q97.5": r["hr_q97.5"], "P(ratio < 1)": r["prob_hr_below_1"],
                 "P(ratio > 1): less benefit": r["prob_less_benefit"]} for r in ps])
            if d["derived"].any():
                out["Back-calculation assumptions"] = pd.DataFrame({"assumption": list(BACK_CALCULATION_ASSUMPTIONS)})
            if self.spec is not None and self.spec.evidence.get("inventory"):
                from .evidence import read_evidence

                out["Moderators considered for Q3"] = moderator_inventory(read_evidence())
        elif self.kind == "prognostic":
            c = e.candidates.copy()
            c["HR (harmonized)"] = np.exp(c["y"])
            out["Prognostic estimates considered"] = c[["study", "id", "population", "analysis", "levels", "hr", "ci",
                                                        "HR (harmonized)", "flags", "status", "reason"]]
        else:
            out["Cohorts and covariate (ecological)"] = e.candidates
        return out

    def figures(self) -> dict:
        from .plots import plot_density, plot_prior_posterior
        from .report.build import _png

        figs = {"forest": _png(plot_moderator_forest(self)),
                "density": _png(plot_density(self, quantity=self.primary))}
        if self.kind != "ecological":
            figs["prior_posterior"] = _png(plot_prior_posterior(self))
        return figs


# --------------------------------------------------------------------------------------------------
# plots
# --------------------------------------------------------------------------------------------------
def plot_moderator_forest(res: ModeratorResult, ax=None):
    """Forest plot per moderator: reported vs derived subgroup HRs and ratios (interaction), every
    prognostic estimate considered (used or not, with why), or the meta-regression line (ecological)."""
    import matplotlib.pyplot as plt

    from .plots import _hr_axis

    Z = 1.959963984540054
    if res.kind == "ecological":
        return _plot_ecological(res, ax)
    entries = []  # (label, y, se or None, (lo, med, hi) or None, style, text)
    mod = res.moderator
    if res.kind == "interaction":
        d = res.effects.pairs
        entries.append(("Treatment HR by subgroup", None, None, None, "header", ""))
        for r in d.itertuples():
            for key, lab in (("index", mod.index_label), ("ref", mod.reference_label)):
                y, se, der = getattr(r, f"y_{key}"), getattr(r, f"se_{key}"), getattr(r, f"derived_{key}")
                entries.append((f"{r.study}, {lab}" + (" [derived]" if der else ""), y, se, None,
                                "derived" if der else "reported", getattr(r, f"txt_{key}")))
        for q in res.quantities:
            if q.quantity == "subgroup":
                rr = res._row(q)
                lv = mod.index_label if q.level == mod.index else mod.reference_label
                entries.append((f"Pooled, {lv}", None, None,
                                (rr["hr_q2.5"], rr["hr_median"], rr["hr_q97.5"]), "pooled",
                                f"{rr['hr_median']:.2f} ({rr['hr_q2.5']:.2f}-{rr['hr_q97.5']:.2f})"))
        entries.append((f"Ratio of HRs ({mod.index_label} / {mod.reference_label})", None, None, None, "header", ""))
        st = {q.comparison.split(":")[0]: res._row(q) for q in res.quantities if q.quantity == "study"}
        for r in d.itertuples():
            s = st[r.study]
            entries.append((f"{r.study}" + (" [derived]" if r.derived else ""), r.y, r.se,
                            (s["hr_q2.5"], s["hr_median"], s["hr_q97.5"]), "derived" if r.derived else "reported",
                            f"{_fmt_ci(r.y, r.se)} -> {s['hr_median']:.2f}"))
    else:
        c = res.effects.candidates
        entries.append((f"Prognostic HR: {mod.label} {res.effects.data['treatment'].iloc[0]} vs "
                        f"{res.effects.data['comparator'].iloc[0]}", None, None, None, "header", ""))
        for r in c.itertuples():
            if not (np.isfinite(r.y) and np.isfinite(r.se)) or r.reason.startswith("levels") \
                    or r.reason.startswith("population"):
                continue
            used = r.status == "used"
            tag = "" if used else (" [excluded: direction contradicts paper]" if r.reason.startswith("curator flag")
                                   else " [not used]")
            printed = f"{r.hr} ({r.ci})" + ("" if abs(math.log(float(r.hr)) - r.y) < 1e-9 else
                                            f" as printed; entered as {math.exp(r.y):.3g}")
            entries.append((f"{r.study} {r.analysis}{tag}", r.y, r.se, None, "reported" if used else "unused",
                            printed))
    prim = res.pooled_hr()
    entries.append((f"Pooled {res.primary}", None, None, (prim["hr_q2.5"], prim["hr_median"], prim["hr_q97.5"]),
                    "pooled", f"{prim['hr_median']:.2f} ({prim['hr_q2.5']:.2f}-{prim['hr_q97.5']:.2f})"
                    + (f"; P(>1) {prim['prob_less_benefit']:.2f}" if pd.notna(prim.get("prob_less_benefit"))
                       else f"; P(<1) {prim['prob_hr_below_1']:.2f}")))
    pr = next((res._row(q) for q in res.quantities if q.quantity == "predictive"), None)
    if pr is not None:
        entries.append(("Predictive (new cohort)", None, None, (pr["hr_q2.5"], pr["hr_median"], pr["hr_q97.5"]),
                        "predictive", f"{pr['hr_median']:.2f} ({pr['hr_q2.5']:.2f}-{pr['hr_q97.5']:.2f})"))
    n = len(entries)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(10.5, 0.45 * n + 1.6))
    yk = np.arange(n)[::-1]
    xs = []
    colors = {"reported": "0.2", "derived": "tab:orange", "unused": "0.7"}
    labels = []
    for ypos, (lab, y, se, post, style, text) in zip(yk, entries):
        labels.append(lab)
        if style == "header":
            continue
        if y is not None:
            lo, hi = math.exp(y - Z * se), math.exp(y + Z * se)
            col = colors[style]
            off = 0.12 if post is not None else 0.0
            ax.plot([lo, hi], [ypos + off] * 2, color=col, lw=1.3)
            ax.plot(math.exp(y), ypos + off, "s", ms=6, color=col, mfc="white" if style == "derived" else col)
            xs += [lo, hi]
        if post is not None and style in ("reported", "derived"):
            ax.plot([post[0], post[2]], [ypos - 0.12] * 2, color="tab:blue", lw=1.6)
            ax.plot(post[1], ypos - 0.12, "o", color="tab:blue", ms=4)
            xs += [post[0], post[2]]
        elif style == "pooled":
            ax.fill([post[0], post[1], post[2], post[1]], [ypos, ypos + 0.25, ypos, ypos - 0.25], color="black")
            xs += [post[0], post[2]]
        elif style == "predictive":
            ax.plot([post[0], post[2]], [ypos] * 2, color="tab:red", lw=2.5, solid_capstyle="butt")
            ax.plot(post[1], ypos, "|", color="tab:red", ms=12)
            xs += [post[0], post[2]]
        ax.annotate(text, xy=(1.02, ypos), xycoords=("axes fraction", "data"), va="center", fontsize=8)
    lo, hi = max(min(xs) * 0.85, 0.02), min(max(xs) * 1.15, 60)
    _hr_axis(ax, lo, hi)
    if hi / lo > 30:  # wide range: fewer ticks so the labels do not collide
        ticks = [t for t in (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0) if lo <= t <= hi]
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks])
    ax.set_yticks(yk)
    ax.set_yticklabels(labels, fontsize=8)
    for t, (_, _, _, _, style, _) in zip(ax.get_yticklabels(), entries):
        if style == "header":
            t.set_fontweight("bold")
    ax.set_ylim(-0.8, n - 0.2)
    if res.kind == "interaction":
        ax.set_xlabel(f"HR ({res.outcome}); ratio > 1 = less benefit {mod.index_label}. Open orange squares: derived "
                      "by back-calculation; blue: posterior (shrunken)", fontsize=8)
    else:
        ax.set_xlabel(f"prognostic HR ({res.outcome}) among ICI-treated patients; > 1 = worse prognosis. Grey: "
                      "considered, not used (see table)", fontsize=8)
    ax.set_title(f"{res.name}: {res.spec.title if res.spec is not None else res.comparison}", loc="left", fontsize=10)
    fig.subplots_adjust(left=0.34, right=0.70)
    if not res.passed:
        ax.text(0.5, 0.5, "FAILED CONVERGENCE GATE", transform=ax.transAxes, color="red", alpha=0.4,
                ha="center", va="center", fontsize=20, rotation=20)
    return fig


def _plot_ecological(res: ModeratorResult, ax=None):
    import matplotlib.pyplot as plt

    Z = 1.959963984540054
    d = res.effects.data
    cov = res.model.coef_names[1]
    x = d[cov].to_numpy(float)
    fig, ax = (ax.figure, ax) if ax is not None else plt.subplots(figsize=(7.5, 4.2))
    w = 1 / d["se"].to_numpy(float) ** 2
    ax.errorbar(x, np.exp(d["y"]), yerr=[np.exp(d["y"]) - np.exp(d["y"] - Z * d["se"]),
                                         np.exp(d["y"] + Z * d["se"]) - np.exp(d["y"])],
                fmt="none", ecolor="0.5", lw=1)
    ax.scatter(x, np.exp(d["y"]), s=30 + 200 * w / w.max(), color="0.3", zorder=3)
    for xi, yi, s in zip(x, d["y"], d["study"]):
        ax.annotate(s, (xi, math.exp(yi)), xytext=(5, 5), textcoords="offset points", fontsize=8)
    grid = np.linspace(x.min(), x.max(), 40)
    qs = []
    for g in grid:
        c = np.array([1.0, g - x.mean()] + [0.0] * (res.model.p - 2))
        qs.append(np.asarray(res.linear_marginal(c).quantile([0.025, 0.5, 0.975]), float).ravel())
    qs = np.exp(np.array(qs))
    ax.fill_between(grid, qs[:, 0], qs[:, 2], color="tab:blue", alpha=0.2, label="95% CrI of the fitted HR")
    ax.plot(grid, qs[:, 1], color="tab:blue", label="posterior median")
    ax.axhline(1.0, color="0.3", lw=0.8)
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    ticks = [t for t in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0) if lo <= t <= hi]
    ax.set_yticks(ticks)
    ax.set_yticklabels([f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.text(0.01, 0.02, "between-cohort association (ecological): not a within-patient effect modification",
            transform=ax.transAxes, fontsize=8, color="tab:red")
    ax.set_xlabel(f"{cov} (cohort level)")
    ax.set_ylabel(f"treatment HR ({res.outcome})")
    p = res.pooled_hr()
    ax.set_title(f"{res.name}: ECOLOGICAL meta-regression, k = {len(d)}; ratio per unit {p['hr_median']:.2f} "
                 f"({p['hr_q2.5']:.2f}-{p['hr_q97.5']:.2f})", loc="left", fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


__all__ = [
    "BACK_CALCULATION_ASSUMPTIONS", "DOUBT_FLAGS", "ICI_ARMS", "MODERATORS", "MODERATOR_KINDS", "DerivedSubgroup",
    "Moderator", "ModeratorEffects", "ModeratorResult", "derive_complementary_subgroup", "ecological_effects",
    "effects_for_moderator_spec", "interaction_effects", "interaction_estimate", "moderator_inventory",
    "plot_moderator_forest", "prognostic_effects", "rounding_range", "run_moderator_spec", "sensitivity_settings",
    "subgroup_effects", "subgroup_pairs", "wrap_fit",
]

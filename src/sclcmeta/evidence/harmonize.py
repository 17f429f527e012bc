"""Harmonize: choose one estimate per patient pool, put every log HR in one direction.

``select_estimates`` turns an :class:`EvidenceTable` into :class:`EffectData`, the only input the
engine accepts. The selection is declared (which comparison, which population, which analysis is
preferred) and logged, so a reader can see why each row is in and each alternative is out.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..errors import EvidenceError, EvidenceWarning
from .table import EvidenceTable

from . import schema
from .labels import study_labels
from .selection import (DEFAULT_PREFERENCE, check_disjoint_nesting, estimand_of, is_second_hand,  # noqa: F401
                        one_per_pool, population_terms, populations_disjoint, preference_rank, primary_candidates)


def _as_tuple(x: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if x is None:
        return None
    if isinstance(x, str):
        return (x,)
    return tuple(x)


@dataclass
class EffectData:
    """Harmonized estimates ready for a model: one row per estimate entering the likelihood.

    Columns: ``id, study, cohort, patient_pool, y`` (log HR, treatment vs comparator), ``se``,
    ``treatment, comparator, analysis, estimand`` (marginal or conditional HR), ``second_hand``,
    ``design, line, flipped, flags`` and any study covariates.
    ``log`` records every selection decision (kept / dropped, and why). ``scale`` is the effect scale
    of ``y`` (``log_hr`` by default; ``log_or``, ``log_rr`` or ``md``, see :data:`sclcmeta.vocabulary.SCALES`).

    Examples
    --------
    >>> from sclcmeta import read_evidence, select_estimates
    >>> ev = read_evidence()
    >>> eff = select_estimates(ev, outcome="OS", treatment="ici_cont_2l", comparator="no_ici_2l")
    >>> eff.k >= 1
    True
    """

    data: pd.DataFrame
    outcome: str
    treatment_label: str = "treatment"
    comparator_label: str = "comparator"
    log: list[str] = field(default_factory=list)
    scale: str = "log_hr"

    def __post_init__(self):
        from ..vocabulary import effect_scale

        try:
            effect_scale(self.scale)
        except ValueError as exc:
            raise EvidenceError(str(exc)) from None

    @property
    def k(self) -> int:
        return len(self.data)

    @property
    def y(self) -> np.ndarray:
        return self.data["y"].to_numpy(float)

    @property
    def se(self) -> np.ndarray:
        return self.data["se"].to_numpy(float)

    @property
    def studies(self) -> list[str]:
        return self.data["study"].tolist()

    def __repr__(self) -> str:
        from ..vocabulary import effect_scale

        sc = effect_scale(self.scale)
        rows = "\n".join(
            f"  {r.study:<28} {sc.label} {sc.to_report(r.y):6.3f} (SE {sc.log_label} {r.se:.3f}) {r.analysis}"
            + (" [flipped]" if r.flipped else "") + (f" [{r.flags}]" if r.flags else "")
            for r in self.data.itertuples()
        )
        return (f"<EffectData {self.outcome}: {self.treatment_label} vs {self.comparator_label}, "
                f"k={self.k}>\n{rows}")

    @classmethod
    def from_arrays(cls, y: Sequence[float], se: Sequence[float], studies: Sequence[str] | None = None,
                    outcome: str = "effect", scale: str = "log_hr", **covariates: Sequence[float]) -> "EffectData":
        """Build directly from log effects (or mean differences, ``scale="md"``) and standard errors (for
        reference datasets and simulations)."""
        y = np.asarray(y, float)
        se = np.asarray(se, float)
        if y.shape != se.shape or y.ndim != 1:
            raise EvidenceError(f"`y` and `se` must be 1-D and the same length; got {y.shape} and {se.shape}.")
        if np.any(~np.isfinite(y)) or np.any(~np.isfinite(se)) or np.any(~(se > 0)):
            raise EvidenceError("`y` must be finite and `se` positive and finite for every study.")
        studies = list(studies) if studies is not None else [f"study {i + 1}" for i in range(len(y))]
        df = pd.DataFrame({"id": studies, "study": studies, "cohort": studies, "patient_pool": studies,
                           "y": y, "se": se, "treatment": "treatment", "comparator": "comparator",
                           "analysis": "", "design": "", "line": "", "flipped": False, "flags": ""})
        for k, v in covariates.items():
            df[k] = np.asarray(v, float)
        return cls(df, outcome=outcome, scale=scale)


def select_estimates(
    evidence: EvidenceTable,
    *,
    outcome: str,
    treatment: str | Iterable[str] | None = None,
    comparator: str | Iterable[str] | None = None,
    kind: str = "treatment_effect",
    population: str | Iterable[str] = "overall",
    factor: str | None = None,
    prefer: Sequence[str] = DEFAULT_PREFERENCE,
    line: str | None = None,
    design: str | Iterable[str] | None = None,
    cohorts: Iterable[str] | None = None,
    exclude: Iterable[str] = (),
    ids: Iterable[str] | None = None,
    nest_within_cohort: bool = False,
    second_hand: bool = False,
    source: str = "selection",
) -> EffectData:
    """Pick one estimate per patient pool for one comparison and outcome, harmonizing direction.

    Parameters
    ----------
    outcome
        ``"OS"`` or ``"PFS"``.
    treatment, comparator
        Node id(s) (or factor levels for prognostic factors). A row reported the other way round
        (comparator vs treatment) enters with its log HR negated, and ``flipped`` set.
    kind, population, factor, line, design
        Row filters (see the column dictionary in ``data/README.md``).
    prefer
        Order of preference among analyses of the same comparison in the same cohort; the first
        one available is used, the others are logged as alternatives.
    cohorts, exclude
        Restrict to these cohorts / leave these cohorts out (leave-one-out sensitivity).
    ids
        Use exactly these evidence rows (overrides the preference); still checked for overlap.
    nest_within_cohort
        Allow several rows from one patient pool when they are disjoint subgroups (distinct
        ``population`` values); they then share a cohort random effect in the model.
    second_hand
        Also use estimates known only through another paper's citation or a summary page (the
        sensitivity setting "with second-hand estimates"); by default they are logged and left out.
        Rows whose model adjusts for a post-baseline variable are never used unless named in ``ids``.

    Raises
    ------
    EvidenceError
        when nothing matches, or when one patient pool would enter the likelihood twice.
    """
    d = evidence.data
    t, c = _as_tuple(treatment), _as_tuple(comparator)
    pops = _as_tuple(population)
    unknown = [x for x in exclude if x not in set(d["cohort"]) | set(d["patient_pool"])]
    if unknown:
        raise EvidenceError(f"{source}: exclude names cohort(s) {', '.join(map(repr, unknown))} that are not in the "
                            f"evidence; known cohorts: {', '.join(sorted(set(d['cohort']))[:8])}, ...")
    m_all = _row_filter(d, outcome=outcome, kind=kind, pops=pops, factor=factor, line=line,
                        designs=_as_tuple(design), cohorts=cohorts, exclude=set(exclude))
    m = m_all & np.isfinite(d["se_"])
    cand = _comparison_rows(d, m, t, c)
    if ids is not None:
        cand = _restrict_to_ids(d, cand, list(ids), outcome, kind, source)
    if cand.empty:
        what = f"{'/'.join(t or ['any'])} vs {'/'.join(c or ['any'])}"
        raise EvidenceError(f"{source}: no evidence matches outcome {outcome!r}, kind {kind!r}, population "
                            f"{'/'.join(pops or ['any'])}, comparison {what}; loosen the selection or check node names.")
    scale = _one_scale(cand, source)
    log: list[str] = _unusable_rows(d, m_all, t, c, source)
    if ids is None:
        usable = primary_candidates(cand, second_hand=second_hand, log=log)
        if usable.empty:
            raise EvidenceError(f"{source}: the only estimates of this comparison ({', '.join(cand['id'])}) are "
                                "second-hand or adjusted for a post-baseline variable; name them with `ids` (or set "
                                "second_hand = true) to use them anyway.")
        cand = usable
    keys = ["patient_pool", "population"] if nest_within_cohort else ["patient_pool"]
    sel = cand.loc[one_per_pool(cand, prefer, keys, exact_ids=ids is not None, source=source, log=log)]
    if nest_within_cohort:
        check_disjoint_nesting(sel, source)
    for r in sel.itertuples():
        log.append(f"used: {r.id} ({r.analysis}{', direction flipped' if r.flipped else ''})")
    out = _effect_frame(sel, evidence, nest_within_cohort)
    return EffectData(out.reset_index(drop=True), outcome=outcome, treatment_label="/".join(t) if t else "treatment",
                      comparator_label="/".join(c) if c else "comparator", log=log, scale=scale)


def _one_scale(cand: pd.DataFrame, source: str) -> str:
    """The one effect scale of the candidate rows (an analysis pools one scale; mixing them is an error)."""
    if "scale" not in cand.columns:
        return "log_hr"
    scales = sorted(set(cand["scale"].replace("", "log_hr")))
    if len(scales) > 1:
        ex = "; ".join(f"{s}: {', '.join(cand.loc[cand['scale'] == s, 'id'].head(2))}" for s in scales)
        raise EvidenceError(f"{source}: the selected estimates mix effect scales ({ex}); one analysis pools one "
                            "scale: select one with --outcome / --treatment, or convert the estimates to one scale.")
    return scales[0] if scales else "log_hr"


def _row_filter(d: pd.DataFrame, *, outcome, kind, pops, factor, line, designs, cohorts, exclude) -> pd.Series:
    """Rows of the outcome, kind, population, factor, line, design and cohorts asked for (usable SE or not)."""
    m = (d["outcome"] == outcome) & (d["kind"] == kind)
    if pops is not None and "*" not in pops:
        m &= d["population"].isin(pops)
    if factor is not None:
        m &= d.get("factor", pd.Series("", index=d.index)) == factor
    if line is not None:
        m &= d["line"] == line
    if designs is not None:
        m &= d["design"].isin(designs)
    if cohorts is not None:
        m &= d["cohort"].isin(list(cohorts))
    if exclude:
        m &= ~d["cohort"].isin(exclude) & ~d["patient_pool"].isin(exclude)
    return m


def _unusable_rows(d: pd.DataFrame, m: pd.Series, t, c, source: str) -> list[str]:
    """Log lines (and one warning) for rows of the requested comparison that carry no standard error."""
    bad = _comparison_rows(d, m & ~np.isfinite(d["se_"]), t, c)
    lines = [f"not used: {r.id} (no standard error: {r.derivation}; "
             "e.g. a p-value of 1 or HR 1 with only a p-value)" for r in bad.itertuples()]
    if lines:
        warnings.warn(f"{source}: {len(lines)} estimate(s) of this comparison carry no standard error and cannot enter "
                      f"the likelihood: {', '.join(bad['id'])}; give a CI or SE for them.", EvidenceWarning,
                      stacklevel=4)
    return lines


def _comparison_rows(d: pd.DataFrame, m: pd.Series, t, c) -> pd.DataFrame:
    """Rows of ``t`` vs ``c`` (either way round; ``flipped`` marks those reported as ``c`` vs ``t``)."""
    forward = pd.Series(True, index=d.index)
    backward = pd.Series(False, index=d.index)
    if t is not None and c is not None:
        forward = d["treatment"].isin(t) & d["comparator"].isin(c)
        backward = d["treatment"].isin(c) & d["comparator"].isin(t)
    elif t is not None:
        forward = d["treatment"].isin(t)
    cand = d[m & (forward | backward)].copy()
    cand["flipped"] = backward[cand.index] & ~forward[cand.index]
    return cand


def _restrict_to_ids(d, cand, ids: list[str], outcome, kind, source) -> pd.DataFrame:
    unknown = [i for i in ids if i not in set(d["id"])]
    if unknown:
        raise EvidenceError(f"{source}: evidence id(s) {', '.join(unknown)} not found; check the spelling "
                            "against data/evidence.csv.")
    cand = cand[cand["id"].isin(ids)]
    missing = [i for i in ids if i not in set(cand["id"])]
    if missing:
        raise EvidenceError(f"{source}: evidence id(s) {', '.join(missing)} do not match outcome {outcome!r}, "
                            f"kind {kind!r} and the requested comparison; remove them or fix the filters.")
    return cand


def _effect_frame(sel: pd.DataFrame, evidence, nest_within_cohort: bool) -> pd.DataFrame:
    """The engine's input: log HR in the requested direction, SE, labels, covariates, a user's numeric columns."""
    labels = study_labels(evidence)
    names = [labels.get(c_) or p for c_, p in zip(sel["cohort"], sel["publication"])]
    out = pd.DataFrame({
        "id": sel["id"].to_numpy(),
        "study": [n if not nest_within_cohort else f"{n} [{pop}]" for n, pop in zip(names, sel["population"])],
        "cohort": sel["cohort"].to_numpy(),
        "patient_pool": sel["patient_pool"].to_numpy(),
        "y": np.where(sel["flipped"], -sel["log_hr_"], sel["log_hr_"]),
        "se": sel["se_"].to_numpy(float),
        "treatment": np.where(sel["flipped"], sel["comparator"], sel["treatment"]),
        "comparator": np.where(sel["flipped"], sel["treatment"], sel["comparator"]),
        "analysis": sel["analysis"].to_numpy(),
        "estimand": [estimand_of(a) for a in sel["analysis"]],
        "second_hand": is_second_hand(sel).to_numpy(bool),
        "design": sel["design"].to_numpy(),
        "line": sel["line"].to_numpy(),
        "population": sel["population"].to_numpy(),
        "flipped": sel["flipped"].to_numpy(bool),
        "flags": sel["flags"].to_numpy(),
    })
    cov = evidence.covariates()
    if not cov.empty:
        out = out.join(cov, on="cohort")
    # extra numeric columns of a user's CSV (e.g. a covariate for meta-regression) travel with the rows
    known = set(schema.FULL_REQUIRED) | set(schema.OPTIONAL) | set(schema.EFFECT_COLUMNS) | {
        "study", "file_", "row_", "log_hr_", "se_", "se_method", "derivation", "alternatives_", "flags",
        "patient_pool", "_rank", "scale", "md_derivation_", "md_reported_"}
    for col in sel.columns:
        if col in known or col in out.columns:
            continue
        vals = pd.to_numeric(sel[col].replace("", np.nan), errors="coerce")
        if vals.notna().all():
            out[col] = vals.to_numpy(float)
    return out

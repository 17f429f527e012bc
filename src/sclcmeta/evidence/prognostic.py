"""Prognostic-factor pooling and study-level (ecological) covariates for Q3.

``prognostic``
    Cox HRs of a factor (liver metastases yes vs no; 1L-PFS >= 6 vs < 6 months; >= 3 vs < 3 metastatic
    sites) *within ICI-treated patients*. These say who does worse on an ICI, not who benefits less from
    it: prognostic is not predictive. Direction is harmonized to one orientation; rows whose direction
    contradicts their own paper (curator flags in :data:`DOUBT_FLAGS`) are excluded by default with a logged
    reason, never silently flipped; sensitivity settings include them as printed, or flipped explicitly.
``ecological``
    The cohort log HR regressed on a cohort-level share (``prop_liver_mets``, ``l1_ici_fraction``). An
    association across cohorts is not an association within patients (ecological bias); the caveat goes
    into every output.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from ..errors import EvidenceError, SpecError
from .harmonize import select_estimates
from .labels import join_covariates, study_labels
from .moderators import DOUBT_FLAGS, ICI_ARMS, Moderator, ModeratorEffects, as_tuple, get_moderator
from .selection import is_second_hand, preference_rank
from .table import EvidenceTable

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
    idx = {mod.canonical(x) for x in (as_tuple(index) or (mod.index,))}
    ref = {mod.canonical(x) for x in (as_tuple(reference) or (mod.reference,))}
    if len(idx) != 1 or len(ref) != 1:
        raise SpecError(f"{source}: the levels {sorted(idx)} / {sorted(ref)} do not name one index and one reference "
                        f"level of {factor} (synonyms: {dict(mod.synonyms)}).")
    idx_l, ref_l = idx.pop(), ref.pop()
    pops = set(as_tuple(populations)) or set(ICI_ARMS)
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
    labels = study_labels(ev)
    rows, status = [], []
    screen = dict(mod=mod, idx_l=idx_l, ref_l=ref_l, pops=pops, ids=ids, exclude=set(exclude),
                  direction_doubtful=direction_doubtful, labels=labels, log=log)
    for _, r in cand.iterrows():
        st, row = _screen_row(r, **screen)
        if row is not None:
            rows.append({**row, "_st": len(status)})
        status.append(st)
    if not rows:
        raise EvidenceError(f"{source}: no {outcome} prognostic HR of {factor} ({idx_l} vs {ref_l}) within ICI-treated "
                            "arms is usable; see the selection log.")
    sel = pd.DataFrame(rows)
    chosen = _one_per_pool(sel, status, prefer, pool_prefer, source, log)
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
    data = join_covariates(data, ev)
    for r in data.itertuples():
        log.append(f"used: {r.id} ({r.analysis}, {r.population}; HR {math.exp(r.y):.3g} {idx_l} vs {ref_l}"
                   + (", direction harmonized (reported the other way round)" if r.flipped and
                      "flipped_by_assumption" not in r.flags else "") + ")")
    cands = pd.DataFrame(status)
    caveats = _prognostic_caveats(mod, data, cands)
    return ModeratorEffects(data.reset_index(drop=True), outcome=outcome, treatment_label=f"{factor} {idx_l}",
                            comparator_label=f"{ref_l}", log=log, kind="prognostic", moderator=factor,
                            candidates=cands, caveats=caveats)


def _screen_row(r, *, mod: Moderator, idx_l: str, ref_l: str, pops: set, ids, exclude: set, direction_doubtful: str,
                labels: dict, log: list[str]) -> tuple[dict, dict | None]:
    """One candidate's status row, and the row harmonized to ``idx_l`` vs ``ref_l`` if it is usable (else None)."""
    ti, ci = mod.canonical(r["treatment"]), mod.canonical(r["comparator"])
    flags = [f for f in str(r["flags"]).split(";") if f]
    st = {"id": r["id"], "cohort": r["cohort"], "study": labels.get(r["cohort"], r["cohort"]),
          "population": r["population"], "analysis": r["analysis"],
          "levels": f"{r['treatment']} vs {r['comparator'] or '(per unit)'}", "hr": r["hr"],
          "ci": f"{r['ci_low']}-{r['ci_high']}", "flags": ";".join(flags), "y": np.nan, "se": float(r["se_"]),
          "status": "", "reason": ""}
    reason, flipped = "", False
    if ids is not None and r["id"] not in ids:
        reason = "not among the spec's ids"
    elif r["cohort"] in exclude or r["patient_pool"] in exclude:
        reason = "cohort excluded by the spec"
    elif r["population"] not in pops:
        reason = (f"population {r['population']!r} is not an ICI-treated arm (a Cox model across both arms "
                  "describes prognosis under either treatment)")
    elif not np.isfinite(r["se_"]):
        reason = "no standard error"
    elif (ti, ci) == (ref_l, idx_l):
        flipped = True
    elif (ti, ci) != (idx_l, ref_l):
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
            y, flipped = -y, not flipped
            flags.append("flipped_by_assumption")
            st["y"] = y
            log.append(f"flipped by assumption: {r['id']} ({'/'.join(doubt)}): entered as HR {math.exp(y):.3g} "
                       "on the assumption that the table is inversely coded (sensitivity setting)")
        else:
            log.append(f"as printed: {r['id']} ({'/'.join(doubt)}) enters with its printed direction, "
                       f"HR {math.exp(y):.3g} (sensitivity setting)")
    if reason:
        st["status"], st["reason"] = "not used", reason
        log.append(f"not used: {r['id']} ({reason})")
        return st, None
    return st, {**r.to_dict(), "y": y, "flipped_": flipped, "flags_": ";".join(flags)}


def _one_per_pool(sel: pd.DataFrame, status: list[dict], prefer, pool_prefer, source: str, log: list[str]) -> list:
    """One prognostic estimate per patient pool: cohort order ``pool_prefer`` first, then the one selection rule
    (:func:`~sclcmeta.evidence.selection.preference_rank`: analysis ``prefer``, the curator's ``preferred``);
    the status rows of the others say why they are not used."""
    prank = {co: i for i, co in enumerate(pool_prefer)}
    sel["_r"] = list(zip(sel["cohort"].map(lambda x: prank.get(x, len(prank))), preference_rank(sel, prefer)))
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
    return chosen


def ecological_effects(ev: EvidenceTable, covariate: str, outcome: str, *, treatment, comparator,
                       line: str | None = "2L", exclude: Iterable[str] = (), prefer: Sequence[str] | None = None,
                       min_k: int = 3, second_hand: bool = False, source: str = "ecological") -> ModeratorEffects:
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
    t, c = as_tuple(treatment), as_tuple(comparator)
    m = ((d["outcome"] == outcome) & (d["kind"] == "treatment_effect") & (d["population"] == "overall")
         & np.isfinite(d["se_"]) & ((d["treatment"].isin(t) & d["comparator"].isin(c))
                                    | (d["treatment"].isin(c) & d["comparator"].isin(t))))
    if line is not None:
        m &= d["line"] == line
    if not second_hand:
        m &= ~is_second_hand(d)
    ex = set(exclude)
    avail = d[m]
    labels = study_labels(ev)
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
    kw = dict(outcome=outcome, treatment=t, comparator=c, line=line, exclude=list(ex) + drop,
              second_hand=second_hand, source=source)
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

"""The one selection rule: which estimate of a patient pool enters a likelihood, and which subgroups are disjoint.

Every analysis kind (pairwise, network, moderator) ranks alternative estimates of one comparison in one
patient pool with :func:`preference_rank`, and decides whether two subgroups of one cohort may both enter
with :func:`populations_disjoint`.
"""

from __future__ import annotations

import itertools
from typing import Sequence

import pandas as pd

from ..errors import EvidenceError

#: Default preference among analyses of the same comparison in the same cohort.
DEFAULT_PREFERENCE = ("propensity_matched", "multivariable", "unadjusted", "univariable")

#: Analyses whose hazard ratio is marginal (population-averaged over the covariates), and conditional ones
#: (given the covariates of a multivariable model). The two estimands differ even without confounding,
#: because the hazard ratio is non-collapsible; an analysis pools one of them (issue 12, item 4).
MARGINAL_ANALYSES = ("propensity_matched", "unadjusted", "univariable", "iptw")
CONDITIONAL_ANALYSES = ("multivariable",)

#: Curator flags that keep a row out of every selection unless it is named by ``ids``:
#: a model adjusted for a variable measured after the start of treatment estimates no causal effect
#: of that treatment (it conditions on a consequence of it).
NEVER_PRIMARY_FLAGS = ("post_baseline_adjustment",)
#: Curator flags of second-hand estimates (known only through another paper's citation, with what that
#: paper chose to quote, or read on a secondary summary page): a sensitivity setting, never silently
#: primary evidence. Rows transcribed from a review's data table of a trial (``cited_reference`` filled,
#: HR and CI as published) are not second-hand in this sense.
SECOND_HAND_FLAGS = ("second_hand", "secondary_source")


def estimand_of(analysis: str) -> str:
    """``marginal``, ``conditional`` or ``unknown`` for an ``analysis`` label of the evidence table.

    Examples
    --------
    >>> estimand_of("propensity_matched"), estimand_of("multivariable")
    ('marginal', 'conditional')
    """
    if analysis in MARGINAL_ANALYSES:
        return "marginal"
    if analysis in CONDITIONAL_ANALYSES:
        return "conditional"
    return "unknown"


def _has_flag(flags: pd.Series, codes: Sequence[str]) -> pd.Series:
    return flags.fillna("").map(lambda f: any(c in str(f).split(";") for c in codes))


def is_second_hand(rows: pd.DataFrame) -> pd.Series:
    """True for estimates the curator flagged ``second_hand`` (known only through another paper's citation)
    or ``secondary_source`` (read on a secondary summary page)."""
    return _has_flag(rows.get("flags", pd.Series("", index=rows.index)), SECOND_HAND_FLAGS)


def primary_candidates(cand: pd.DataFrame, *, second_hand: bool, log: list[str]) -> pd.DataFrame:
    """Drop (and log) rows that may not be primary evidence: post-baseline adjustment always, second-hand
    estimates unless ``second_hand`` is true (the sensitivity setting "with second-hand estimates")."""
    flags = cand.get("flags", pd.Series("", index=cand.index))
    post = _has_flag(flags, NEVER_PRIMARY_FLAGS)
    for r in cand[post].itertuples():
        log.append(f"not used: {r.id} ({r.analysis} model adjusted for a variable measured after the start of "
                   "treatment; see its curator flag)")
    keep = ~post
    if not second_hand:
        hand = is_second_hand(cand) & keep
        for r in cand[hand].itertuples():
            log.append(f"not used: {r.id} (second-hand estimate, known only through another paper or a summary "
                       "page; used in the sensitivity setting 'with second-hand estimates')")
        keep &= ~hand
    return cand[keep]


def preference_rank(rows: pd.DataFrame, prefer: Sequence[str]) -> pd.Series:
    """Sort key among alternative estimates of one comparison in one patient pool (lower is preferred).

    The analysis order ``prefer`` comes first; among rows of the same analysis the curated ``preferred``
    column breaks ties (``yes`` before empty); ``no`` marks an estimate the curator rejected as primary
    (data/README.md says why) and is used only when nothing else is available.
    """
    order = {a: i for i, a in enumerate(prefer)}
    rank = rows["analysis"].map(lambda a: order.get(a, len(order))) * 3
    if "preferred" in rows.columns:
        rank = rank + rows["preferred"].map({"yes": 0, "": 1, "no": 100}).fillna(1).astype(int)
    return rank


def population_terms(population: str) -> dict[str, str]:
    """``"liver_metastases=yes & ecog_ps=0-1"`` -> ``{"liver_metastases": "yes", "ecog_ps": "0-1"}``; overall -> {}."""
    p = str(population).strip()
    if p in ("", "overall"):
        return {}
    terms = {}
    for part in p.replace(";", "&").split("&"):
        var, sep, level = part.partition("=")
        terms[var.strip()] = level.strip() if sep else "*"
    return terms


def populations_disjoint(a: str, b: str) -> bool:
    """True only when the two populations cannot share a patient: both restrict one variable to different levels.

    Subgroups are compared by their definitions, not their labels: ``liver_metastases=yes`` and
    ``liver_metastases=no`` are disjoint; ``overall`` overlaps every subgroup; ``liver_metastases=yes`` and
    ``ecog_ps=2`` overlap (a patient can be in both); a population written twice overlaps itself.
    """
    ta, tb = population_terms(a), population_terms(b)
    return any(v in tb and ta[v] != tb[v] and "*" not in (ta[v], tb[v]) for v in ta)




def one_per_pool(cand: pd.DataFrame, prefer: Sequence[str], keys: list[str], *, exact_ids: bool, source: str,
                 log: list[str]) -> list:
    """Index of the one estimate each patient pool (and population, when nesting) contributes.

    The most preferred row (:func:`preference_rank`) is used and the others are logged; two cohorts sharing
    patients with equally preferred rows, or two equally preferred rows of one cohort, are errors, as is
    more than one row of a pool when the caller named exact ``ids``.
    """
    cand = cand.assign(_rank=preference_rank(cand, prefer))
    chosen = []
    for key, g in cand.groupby(keys, sort=False):
        pool = g["patient_pool"].iloc[0]
        if exact_ids:
            if len(g) > 1:
                raise EvidenceError(f"{source}: rows {', '.join(g['id'])} come from the same patients (patient pool "
                                    f"{pool!r}) and would enter one likelihood twice; keep one of them.")
            chosen.append(g.index[0])
            continue
        g = g.sort_values("_rank", kind="stable")
        top = g[g["_rank"] == g["_rank"].iloc[0]]
        if len(top) > 1 and top["cohort"].nunique() > 1:
            raise EvidenceError(
                f"{source}: cohorts {', '.join(sorted(top['cohort'].unique()))} share patients (patient pool "
                f"{pool!r}) and both report {top['analysis'].iloc[0]} estimates ({', '.join(top['id'])}); "
                "a cohort may enter one likelihood only once: pick one with `ids` or exclude a cohort.")
        if len(top) > 1:
            raise EvidenceError(
                f"{source}: rows {', '.join(top['id'])} are equally preferred estimates of the same comparison in "
                f"patient pool {pool!r}; choose one with `ids` or refine the population.")
        chosen.append(top.index[0])
        for j in g.index[1:]:
            log.append(f"not used: {g.at[j, 'id']} ({g.at[j, 'analysis']}; same patients as {top['id'].iloc[0]}, "
                       f"which is preferred by {list(prefer)})")
    return chosen


def check_disjoint_nesting(sel: pd.DataFrame, source: str) -> None:
    """Raise when two rows of one patient pool have populations that can share a patient."""
    for pool, g in sel.groupby("patient_pool"):
        for a, b in itertools.combinations(list(g.itertuples()), 2):
            if not populations_disjoint(a.population, b.population):
                raise EvidenceError(
                    f"{source}: rows {a.id} (population {a.population!r}) and {b.id} (population "
                    f"{b.population!r}) come from patient pool {pool!r} and their populations can share patients; "
                    "nested rows must be disjoint subgroups (levels of one variable, e.g. liver_metastases=yes "
                    "and liver_metastases=no). Keep one of them or exclude a cohort.")

"""The one selection rule: which estimate of a patient pool enters a likelihood, and which subgroups are disjoint.

Every analysis kind (pairwise, network, moderator) ranks alternative estimates of one comparison in one
patient pool with :func:`preference_rank`, and decides whether two subgroups of one cohort may both enter
with :func:`populations_disjoint`.
"""

from __future__ import annotations

from typing import Sequence

import pandas as pd

#: Default preference among analyses of the same comparison in the same cohort.
DEFAULT_PREFERENCE = ("propensity_matched", "multivariable", "unadjusted", "univariable")


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



"""The one label lookup and the one covariate join of the evidence layer.

Study names (``studies.csv:label``) and treatment names (``nodes.csv:label``) are looked up here and
nowhere else, so every table, plot and sentence names studies and treatments the same way; study-level
covariates are joined to estimates here, by cohort.
"""

from __future__ import annotations

import pandas as pd


def study_labels(evidence) -> dict[str, str]:
    """``{cohort: readable study name}`` from the study table (empty when there is none)."""
    st = getattr(evidence, "studies", None)
    if st is None or "label" not in st.columns:
        return {}
    return {c: (lab or c) for c, lab in zip(st["cohort"], st["label"])}


def study_label(evidence, cohort: str, fallback: str | None = None) -> str:
    """The readable name of one cohort (``fallback``, else the cohort id, when the table has none)."""
    return study_labels(evidence).get(cohort) or (fallback if fallback else cohort)


def node_labels(evidence) -> dict[str, str]:
    """``{node: readable treatment name}`` from the node table (empty when there is none)."""
    nodes = getattr(evidence, "nodes", None)
    if nodes is None or "label" not in nodes.columns:
        return {}
    return {n: (lab or n) for n, lab in zip(nodes["node"], nodes["label"])}


def join_covariates(frame: pd.DataFrame, evidence) -> pd.DataFrame:
    """``frame`` (with a ``cohort`` column) joined with the study-level covariates of ``evidence``."""
    cov = evidence.covariates()
    if cov.empty:
        return frame
    return frame.join(cov[[c for c in cov.columns if c not in frame.columns]], on="cohort")

"""Column dictionary of the evidence tables (the single source of truth for validation).

The full format (``data/evidence.csv``) carries provenance on every row; the minimal import format
(``study, treatment, comparator, outcome, hr, ci_low, ci_high`` or ``log_hr, se``) is what a user
can bring from their own review. ``data/README.md`` documents the same columns for people.
"""

from __future__ import annotations

OUTCOMES = ("OS", "PFS")
LINES = ("1L", "2L", "LS")
DESIGNS = ("rct", "retrospective_cohort", "prospective_cohort", "single_arm")
KINDS = ("treatment_effect", "subgroup_treatment_effect", "prognostic_factor")
ANALYSES = ("unadjusted", "propensity_matched", "multivariable", "univariable")

#: Columns a full-format evidence row must have (and fill).
FULL_REQUIRED = (
    "id", "source", "publication", "cohort", "line", "design", "outcome", "kind",
    "population", "analysis", "treatment", "comparator", "location", "quote",
)
#: Provenance columns that must be non-empty in the full format.
PROVENANCE = ("source", "location", "quote")
#: Effect columns; a row needs hr + (ci_low, ci_high) or log_hr + se or hr + p_value.
EFFECT_COLUMNS = ("hr", "ci_low", "ci_high", "ci_level", "p_value", "log_hr", "se")
NUMERIC_COLUMNS = (
    "hr", "ci_low", "ci_high", "ci_level", "log_hr", "se",
    "n_treatment", "n_comparator", "n_total", "median_treatment", "median_comparator",
)
OPTIONAL = (
    "cited_reference", "cited_doi", "factor", "n_treatment", "n_comparator", "n_total",
    "median_treatment", "median_comparator", "notes", "curator_flags", "derived_from", "preferred",
)
#: Minimal import format: required columns (one of the two effect groups must be present too).
MINIMAL_REQUIRED = ("study", "treatment", "comparator", "outcome")
MINIMAL_EFFECT_GROUPS = (("hr", "ci_low", "ci_high"), ("log_hr", "se"))

#: Allowed values of categorical columns (checked row by row).
CATEGORIES = {
    "outcome": OUTCOMES,
    "line": LINES,
    "design": DESIGNS,
    "kind": KINDS,
    "analysis": ANALYSES,
}

STUDY_REQUIRED = ("cohort", "publication", "source", "patient_pool", "design", "line", "location", "quote")
NODE_REQUIRED = ("node", "label", "line", "ici_class", "meaning")
ICI_CLASSES = ("PD-1", "PD-L1", "CTLA-4", "PD-L1+CTLA-4", "mixed", "none")

#: Numeric study-level covariates of the study table usable in meta-regression.
STUDY_COVARIATES = ("prop_liver_mets", "prop_liver_mets_treatment", "prop_liver_mets_comparator",
                    "l1_ici_fraction", "rct")

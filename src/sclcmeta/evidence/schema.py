"""Column dictionary of the evidence tables (the single source of truth for validation).

The full format (``data/evidence.csv``) carries provenance on every row; the minimal import format
(``study, treatment, comparator, outcome, hr, ci_low, ci_high`` or ``log_hr, se``, or one of the
extraction encodings of Parmar 1998 / Tierney 2007 below) is what a user can bring from their own review. ``data/README.md`` documents the same columns for people.
"""

from __future__ import annotations

#: Any time-to-event outcome label is accepted in a user's table (OS and PFS are the bundled ones); common ones:
TIME_TO_EVENT_OUTCOMES = ("OS", "PFS", "DFS", "EFS", "RFS", "TTP", "TTF", "PFS2", "DRFS", "MFS", "CSS", "DSS")
#: What an outcome label may look like: a letter, then letters, digits, '_', '-' or '+' (at most 24 characters).
OUTCOME_LABEL = r"^[A-Za-z][A-Za-z0-9_+-]{0,23}$"
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
#: Columns of the other extraction encodings (Parmar 1998; Tierney 2007): log-rank O - E and V, a
#: log-rank p with the events (total with the allocation ratio, or per arm) and the direction it
#: favours (a p-value has no sign), and the events per arm that the medians method needs.
DERIVATION_COLUMNS = (
    "o_minus_e", "v", "logrank_p", "events_total", "events_treatment", "events_comparator",
    "allocation_ratio", "favours",
)
#: Values of ``favours``: the arm a log-rank p-value points to.
FAVOURS = ("treatment", "comparator")
#: Columns that must be > 0 when given.
POSITIVE_COLUMNS = (
    "hr", "ci_low", "ci_high", "se", "v", "events_total", "events_treatment", "events_comparator",
    "allocation_ratio", "median_treatment", "median_comparator",
)
NUMERIC_COLUMNS = (
    "hr", "ci_low", "ci_high", "ci_level", "log_hr", "se",
    "n_treatment", "n_comparator", "n_total", "median_treatment", "median_comparator",
    "o_minus_e", "v", "events_total", "events_treatment", "events_comparator", "allocation_ratio",
)
OPTIONAL = (
    "cited_reference", "cited_doi", "factor", "n_treatment", "n_comparator", "n_total",
    "median_treatment", "median_comparator", "notes", "curator_flags", "derived_from", "preferred",
) + DERIVATION_COLUMNS
#: How ``log_hr_``/``se_`` of a row were obtained (column ``derivation`` after loading), strongest first.
DERIVATIONS = (
    "log_hr_se", "ci", "ci_midpoint", "o_minus_e_v", "logrank_p_events", "hr_p", "hr_p_bound",
    "medians_exponential", "md_se", "md_ci", "md_p", "unusable",
)
#: Minimal import format: required columns (one of the effect groups must be present too).
MINIMAL_REQUIRED = ("study", "treatment", "comparator", "outcome")
MINIMAL_EFFECT_GROUPS = (
    ("hr", "ci_low", "ci_high"),
    ("log_hr", "se"),
    ("o_minus_e", "v"),
    ("logrank_p", "favours", "events_total"),
    ("logrank_p", "favours", "events_treatment", "events_comparator"),
    ("median_treatment", "median_comparator", "events_treatment", "events_comparator"),
)

#: Allowed values of categorical columns (checked row by row).
CATEGORIES = {
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

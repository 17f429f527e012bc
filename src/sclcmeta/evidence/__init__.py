"""Evidence layer: load, validate, derive log HR/SE, harmonize and select estimates."""

from .derive import se_from_ci, se_from_p, ci_symmetric_within_rounding, Printed
from .harmonize import EffectData, select_estimates
from .selection import DEFAULT_PREFERENCE, populations_disjoint, preference_rank
from .table import EvidenceTable, Flag, read_evidence

__all__ = [
    "DEFAULT_PREFERENCE", "EffectData", "EvidenceTable", "Flag", "Printed",
    "ci_symmetric_within_rounding", "populations_disjoint", "preference_rank", "read_evidence", "se_from_ci", "se_from_p", "select_estimates",
]

"""sclcmeta: Bayesian meta-analysis of immunotherapy evidence in extensive-stage small-cell lung cancer.

The pipeline runs one way::

    read_evidence() -> select_estimates() -> fit() / run_spec() -> FitResult.summary(), plots, report

Examples
--------
>>> import sclcmeta as sm
>>> ev = sm.read_evidence()
>>> eff = sm.select_estimates(ev, outcome="OS", treatment=["ici_cont_2l", "serplulimab_2l"],
...                           comparator="no_ici_2l")
>>> res = sm.fit(eff, method="exact")
>>> 0 < res.pooled_hr()["hr_median"] < 2
True
"""

from .analysis import fit, run_spec
from .errors import ConvergenceWarning, EvidenceError, PriorError, SpecError
from .evidence import EffectData, EvidenceTable, read_evidence, select_estimates
from .priors import Prior, PriorSet, default_prior_set, list_prior_sets, load_prior_set, parse_prior
from .results import FitResult
from .spec import AnalysisSpec, list_specs, load_spec

__version__ = "0.1.0"

__all__ = [
    "AnalysisSpec", "ConvergenceWarning", "EffectData", "EvidenceError", "EvidenceTable", "FitResult", "Prior",
    "PriorError", "PriorSet", "SpecError", "default_prior_set", "fit", "list_prior_sets", "list_specs",
    "load_prior_set", "load_spec", "parse_prior", "read_evidence", "run_spec", "select_estimates",
]

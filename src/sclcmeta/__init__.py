"""sclcmeta: Bayesian meta-analysis of immunotherapy evidence in extensive-stage small-cell lung cancer.

The pipeline runs one way, one folder per stage::

    evidence (read_evidence, select_estimates) -> spec (load_spec) -> engine -> fitting
      -> results (FitResult) -> analyses (fit, run_spec, run_sensitivity, multiverse) -> plots -> report -> cli

Names are imported on first use, so ``import sclcmeta`` and the command line's ``--help`` stay fast and
loading a spec never loads PyMC or ArviZ.

Examples
--------
>>> import sclcmeta as sm
>>> ev = sm.read_evidence()
>>> eff = sm.select_estimates(ev, outcome="OS", treatment=["ici_cont_2l", "ici_same_2l"],
...                           comparator="no_ici_2l")
>>> res = sm.fit(eff, method="exact")
>>> 0 < res.pooled_hr()["hr_median"] < 2
True
"""

from importlib import import_module

from .errors import ConvergenceWarning, EvidenceError, PriorError, SclcmetaError, SpecError
from .vocabulary import VERSION as __version__

_LAZY = {
    "EffectData": "evidence", "EvidenceTable": "evidence", "read_evidence": "evidence",
    "select_estimates": "evidence",
    "Prior": "priors", "PriorSet": "priors", "default_prior_set": "priors", "list_prior_sets": "priors",
    "load_prior_set": "priors", "parse_prior": "priors",
    "AnalysisSpec": "spec", "list_specs": "spec", "load_spec": "spec",
    "FitResult": "results",
    "fit": "analyses", "run_spec": "analyses", "run_sensitivity": "analyses", "sweep": "analyses",
    "multiverse": "analyses.multiverse",
    "build_report": "report",
}

__all__ = sorted(["ConvergenceWarning", "EvidenceError", "PriorError", "SclcmetaError", "SpecError", *_LAZY])


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'sclcmeta' has no attribute {name!r}")


def __dir__():
    return __all__

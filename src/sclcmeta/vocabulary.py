"""The package's shared vocabulary and defaults, in one place.

Every stage reads these names instead of repeating literals: the outcomes and methods a spec may name,
the samplers, the analysis kinds the registry dispatches on, the MCMC defaults, the convergence gate and
the 95% normal quantile. Question titles are data (``models/questions.toml``).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import lru_cache

#: The package version (also ``sclcmeta.__version__``).
VERSION = "0.1.0"

#: Outcomes of the bundled evidence tables.
OUTCOMES = ("OS", "PFS")
#: How a posterior is obtained: exact numerical integration or MCMC (NUTS).
METHODS = ("exact", "mcmc")
#: MCMC backends.
SAMPLERS = ("nutpie", "pymc")
#: Model types a spec may declare.
MODEL_TYPES = ("random_effects", "fixed_effect", "meta_regression", "nested", "network")
#: Pairwise model types (the rest is ``network``).
PAIRWISE_MODELS = ("random_effects", "fixed_effect", "meta_regression", "nested")
#: ``[evidence] kind`` values of Q3 moderator analyses.
MODERATOR_KINDS = ("interaction", "prognostic", "ecological")
#: Analysis kinds the registry in :mod:`sclcmeta.analyses` dispatches on.
ANALYSIS_KINDS = ("pairwise", "network", "moderator")

#: Default MCMC length per chain. The tail ESS of a 95% interval bound of a pooled log HR is about a
#: quarter of the draws; with 4 x 4000 draws its Monte Carlo SD is about 0.012 (measured over 40 seeds
#: against numerical integration), so bounds agree with the exact answer to 0.03 (tested).
DEFAULT_DRAWS = 4000
DEFAULT_TUNE = 1000
DEFAULT_CHAINS = 4
DEFAULT_SEED = 1
#: Largest seed a spec or --seed may give (derived seeds add small offsets and must stay below 2**32).
MAX_SEED = 2**32 - 10_001

#: The convergence gate of the design note: no posterior is an answer beyond these.
GATE = {"r_hat": 1.01, "ess_bulk": 400, "divergences": 0}

#: Risk-of-bias tools, their domains and judgements (ROBINS-I: Sterne et al. 2016, BMJ 355:i4919;
#: RoB 2: Sterne et al. 2019, BMJ 366:l4898); read by the risk-of-bias table and the bias priors.
ROBINS_I = "ROBINS-I"
ROB2 = "RoB2"
ROB_DOMAINS: dict[str, tuple[str, ...]] = {
    ROBINS_I: ("confounding", "selection", "classification", "deviations", "missing_data",
               "measurement", "reported_result"),
    ROB2: ("randomization", "deviations", "missing_data", "measurement", "reported_result"),
}
ROB_JUDGEMENTS: dict[str, tuple[str, ...]] = {
    ROBINS_I: ("low", "moderate", "serious", "critical", "no_information"),
    ROB2: ("low", "some_concerns", "high"),
}

@dataclass(frozen=True)
class EffectScale:
    """The scale an analysis pools on, and how its results are reported.

    ``ratio`` scales (log HR, log OR, log RR) are pooled as logs and reported exponentiated, with
    "no effect" at 1 and default thresholds 1 and 0.8; a difference scale (mean difference) is pooled
    and reported as it is, with "no effect" at 0 and the default threshold 0.

    >>> SCALES["log_or"].label, SCALES["log_or"].to_report(0.0), SCALES["md"].null
    ('OR', 1.0, 0.0)
    """

    name: str
    label: str          # HR, OR, RR, MD
    long: str           # hazard ratio, odds ratio, ...
    ratio: bool

    @property
    def null(self) -> float:
        """The no-effect value on the reporting scale (1 for a ratio, 0 for a difference)."""
        return 1.0 if self.ratio else 0.0

    @property
    def thresholds(self) -> tuple[float, ...]:
        """Default thresholds of ``P(effect < t)`` on the reporting scale."""
        return (1.0, 0.8) if self.ratio else (0.0,)

    @property
    def log_label(self) -> str:
        """What the analysis-scale columns (``median``, ``q2.5``...) hold: ``log HR`` or ``MD``."""
        return f"log {self.label}" if self.ratio else self.label

    def to_report(self, x: float) -> float:
        """Analysis scale -> reporting scale (exp for a ratio, identity for a difference)."""
        return math.exp(x) if self.ratio else float(x)

    def to_analysis(self, t: float) -> float:
        """Reporting scale -> analysis scale (a threshold ``t``; log for a ratio)."""
        return math.log(t) if self.ratio else float(t)


#: Effect scales an analysis may pool on (a user's CSV says which in a ``scale`` column; default log_hr).
SCALES = {
    "log_hr": EffectScale("log_hr", "HR", "hazard ratio", True),
    "log_or": EffectScale("log_or", "OR", "odds ratio", True),
    "log_rr": EffectScale("log_rr", "RR", "risk ratio", True),
    "md": EffectScale("md", "MD", "mean difference", False),
}
DEFAULT_SCALE = "log_hr"


def effect_scale(name: str | None) -> EffectScale:
    """The :class:`EffectScale` called ``name`` (``None``: log HR); a ValueError naming the valid ones."""
    key = DEFAULT_SCALE if name in (None, "") else str(name)
    if key not in SCALES:
        raise ValueError(f"unknown effect scale {name!r}; use one of {', '.join(SCALES)}.")
    return SCALES[key]


#: Two-sided 95% normal quantile, Phi^-1(0.975).
Z95 = 1.959963984540054


def analysis_kind(model_type: str, evidence_kind: str | None) -> str:
    """Which analysis a spec is: ``network`` (model type), ``moderator`` (evidence kind) or ``pairwise``."""
    if model_type == "network":
        return "network"
    if evidence_kind in MODERATOR_KINDS:
        return "moderator"
    return "pairwise"


@lru_cache(maxsize=1)
def question_titles() -> dict[str, str]:
    """``{"Q1": title, ...}`` from ``models/questions.toml``, in the report's order."""
    from .paths import models_dir

    with open(models_dir() / "questions.toml", "rb") as fh:
        return {q: v["title"] for q, v in tomllib.load(fh).items()}

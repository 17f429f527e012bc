"""Analysis specs: declarative TOML files in ``models/`` (question, evidence, model, priors, inference).

A spec is a cheap, inspectable value: loading it validates every key (unknown keys are errors that
name the file and the key) but touches no data and builds no model.

Format (every table and key; defaults in brackets)::

    [analysis]
    name = "q1_continuation_os"          # [file stem]
    question = "Q1"                      # Q1..Q5
    title = "Continue the ICI beyond 1L progression vs stop it (OS)"
    comparison = "ICI beyond progression vs no ICI"   # label used in tables and plots
    outcome = "OS"                       # OS | PFS

    [evidence]
    treatment = ["ici_cont_2l", "serplulimab_2l"]   # node id(s); rows reported the other way are flipped
    comparator = ["no_ici_2l"]
    kind = "treatment_effect"            # | subgroup_treatment_effect | prognostic_factor
    population = "overall"
    factor = ""                          # for prognostic factors / subgroups
    line = "2L"
    design = []                          # restrict designs, e.g. ["rct"]
    prefer = ["propensity_matched", "multivariable", "unadjusted", "univariable"]
    exclude = []                         # cohorts left out (e.g. a subset of another cohort)
    ids = []                             # exact evidence rows (overrides prefer)
    # Q3 moderator specs (kind = "interaction" | "prognostic" | "ecological"; see sclcmeta.moderators):
    direction_doubtful = "exclude"       # | as_printed | flipped: rows whose direction contradicts the paper
    pool_prefer = []                     # cohort order inside a shared patient pool
    inventory = false                    # attach the table of every moderator considered

    [model]
    type = "random_effects"              # | fixed_effect | meta_regression | nested | network
    covariates = []                      # study-level covariates for meta_regression
    design_bias = false                  # bias term for non-randomized estimates

    [priors]
    set = "default"                      # a file in models/priors/
    tau = "half_normal(0.5)"             # optional overrides: effect, tau, beta, omega, bias, class_sd

    [inference]
    method = "exact"                     # | mcmc
    sampler = "nutpie"                   # | pymc
    draws = 4000                         # per chain
    tune = 1000
    chains = 4
    seed = 1
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import SpecError
from .priors import PRIOR_TARGETS, PriorSet, load_prior_set, parse_prior
from .vocabulary import (DEFAULT_CHAINS, DEFAULT_DRAWS, DEFAULT_SEED, DEFAULT_TUNE, METHODS, MODEL_TYPES, OUTCOMES,
                         SAMPLERS, analysis_kind)

_TABLES = {
    "analysis": {"name", "question", "title", "outcome", "description", "comparison"},
    "evidence": {"treatment", "comparator", "kind", "population", "factor", "line", "design", "prefer",
                 "exclude", "ids", "nest_within_cohort", "reference", "nodes", "labels",
                 "direction_doubtful", "pool_prefer", "inventory"},  # last three: Q3 moderators (moderators.py)
    "model": {"type", "covariates", "design_bias", "effects", "classes", "mixtures"},
    "priors": {"set"} | set(PRIOR_TARGETS),
    "inference": {"method", "sampler", "draws", "tune", "chains", "seed"},
}


@dataclass(frozen=True)
class AnalysisSpec:
    """One analysis, as declared in a ``models/*.toml`` file (see module docstring)."""

    name: str
    question: str
    title: str
    outcome: str
    evidence: dict
    model: dict
    priors: PriorSet
    inference: dict
    path: str = ""
    text_hash: str = ""
    description: str = ""
    comparison: str = ""

    def __repr__(self) -> str:
        return (f"AnalysisSpec({self.name!r}, {self.question}: {self.title}; model={self.model['type']}, "
                f"priors={self.priors.name}, method={self.inference['method']}, seed={self.inference['seed']})")

    @property
    def kind(self) -> str:
        """``pairwise``, ``network`` or ``moderator``: which analysis in :mod:`sclcmeta.analyses` runs it."""
        return analysis_kind(self.model["type"], self.evidence.get("kind"))

    def with_priors(self, priors: PriorSet) -> "AnalysisSpec":
        return replace(self, priors=priors)

    def with_inference(self, **kw) -> "AnalysisSpec":
        return replace(self, inference={**self.inference, **kw})

    def with_evidence(self, **kw) -> "AnalysisSpec":
        return replace(self, evidence={**self.evidence, **kw})


def _locate(path: str | Path) -> Path:
    """A spec file, or the name of a bundled spec (``"q1_continuation_os"``), found from anywhere."""
    from .paths import models_dir

    p = Path(path)
    if p.is_file():
        return p
    if p.is_dir():
        raise SpecError(f"{p}: is a folder, not a spec file; give a .toml file or a bundled spec's name.")
    bundled = models_dir() / f"{p.stem}.toml"
    if p.parent == Path(".") and bundled.is_file():
        return bundled
    if p.parts[:1] == ("models",) and (models_dir() / Path(*p.parts[1:])).is_file():
        return models_dir() / Path(*p.parts[1:])
    names = ", ".join(sorted(f.stem for f in models_dir().glob("*.toml"))[:6])
    raise SpecError(f"{p}: spec file not found; give a path or the name of a bundled spec ({names}, ...; "
                    "`sclcmeta list` shows them all).")


def _err(path, key, msg) -> SpecError:
    return SpecError(f"{path}: [{key}] {msg}")


def load_spec(path: str | Path) -> AnalysisSpec:
    """Read and validate an analysis spec.

    Examples
    --------
    >>> spec = load_spec("q1_continuation_os")          # a bundled spec by name, or any path

    >>> spec.outcome
    'OS'
    """
    p = _locate(path)
    text = p.read_bytes()
    try:
        doc = tomllib.loads(text.decode())
    except tomllib.TOMLDecodeError as exc:
        raise SpecError(f"{p}: not valid TOML ({exc}).") from None
    unknown = set(doc) - set(_TABLES)
    if unknown:
        raise SpecError(f"{p}: unknown table(s) {', '.join(sorted(unknown))}; valid tables: {', '.join(_TABLES)}.")
    for t, keys in _TABLES.items():
        extra = set(doc.get(t, {})) - keys
        if extra:
            raise _err(p, f"{t}.{sorted(extra)[0]}", f"unknown key; valid keys in [{t}]: {', '.join(sorted(keys))}.")
    a = doc.get("analysis", {})
    outcome = a.get("outcome")
    if outcome not in OUTCOMES:
        raise _err(p, "analysis.outcome", f"must be 'OS' or 'PFS'; got {outcome!r}.")
    m = dict(doc.get("model", {}))
    m.setdefault("type", "random_effects")
    if m["type"] not in MODEL_TYPES:
        raise _err(p, "model.type", f"unknown model {m['type']!r}; valid models: {', '.join(MODEL_TYPES)}.")
    m.setdefault("covariates", [])
    m.setdefault("design_bias", False)
    ev = dict(doc.get("evidence", {}))
    ev.setdefault("kind", "treatment_effect")
    ev.setdefault("population", "overall")
    for key in ("treatment", "comparator", "exclude", "ids", "design"):
        if isinstance(ev.get(key), str):
            ev[key] = [ev[key]]
    if m["type"] != "network" and not (ev.get("treatment") or ev.get("ids")):
        raise _err(p, "evidence.treatment", "missing: name the treatment node(s) (or list evidence `ids`).")
    pri = dict(doc.get("priors", {}))
    try:
        ps = load_prior_set(pri.pop("set", "default"))
        if pri:
            ps = ps.replace(**{k: parse_prior(v, where=f"{p} [priors.{k}]") for k, v in pri.items()})
    except SpecError as exc:
        raise SpecError(f"{p}: [priors] {exc}") from None
    inf = {"method": "exact", "sampler": "nutpie", "draws": DEFAULT_DRAWS, "tune": DEFAULT_TUNE, "chains": DEFAULT_CHAINS,
           "seed": DEFAULT_SEED}
    inf.update(doc.get("inference", {}))
    if inf["method"] not in METHODS:
        raise _err(p, "inference.method", f"must be 'exact' or 'mcmc'; got {inf['method']!r}.")
    if inf["sampler"] not in SAMPLERS:
        raise _err(p, "inference.sampler", f"must be 'nutpie' or 'pymc'; got {inf['sampler']!r}.")
    for key in ("draws", "tune", "chains", "seed"):
        if isinstance(inf[key], bool) or not isinstance(inf[key], int) or inf[key] < (0 if key == "seed" else 1):
            raise _err(p, f"inference.{key}", f"must be a positive integer; got {inf[key]!r}.")
    return AnalysisSpec(name=a.get("name", p.stem), question=a.get("question", ""), title=a.get("title", p.stem),
                        outcome=outcome, evidence=ev, model=m, priors=ps, inference=inf, path=str(p),
                        text_hash=hashlib.sha256(text).hexdigest()[:16], description=a.get("description", ""),
                        comparison=a.get("comparison", ""))


def list_specs(folder: str | Path | None = None) -> list[AnalysisSpec]:
    """Every spec in ``folder`` (default: the bundled ``models/``), sorted by question then name."""
    from .paths import models_dir

    folder = Path(folder) if folder else models_dir()
    specs = [load_spec(f) for f in sorted(folder.glob("*.toml")) if f.name != "questions.toml"]
    return sorted(specs, key=lambda s: (s.question, s.name))

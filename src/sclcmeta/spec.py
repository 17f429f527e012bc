"""Analysis specs: declarative TOML files in ``models/`` (question, evidence, model, priors, inference).

A spec is a cheap, inspectable value: loading it validates every key but touches no data and builds no
model. Each table is a typed model (:class:`AnalysisTable`, :class:`EvidenceSection`, :class:`ModelTable`,
:class:`PriorsTable`, :class:`InferenceTable`; pydantic, unknown keys forbidden, TOML types taken strictly:
``draws = true`` or ``treatment = 3`` are errors, not coerced). Every problem of a file is reported in one
:class:`~sclcmeta.errors.SpecError`, one line each: ``"<file>: [table.key] what is wrong; how to fix it"``.

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
    second_hand = false                  # also use estimates known only through another paper's citation
    # Q3 moderator specs (kind = "interaction" | "prognostic" | "ecological"; see sclcmeta.moderators):
    direction_doubtful = "exclude"       # | as_printed | flipped: rows whose direction contradicts the paper
    pool_prefer = []                     # cohort order inside a shared patient pool
    inventory = false                    # attach the table of every moderator considered

    [model]
    type = "random_effects"              # | fixed_effect | meta_regression | nested | network
    covariates = []                      # study-level covariates for meta_regression
    design_bias = false                  # bias term for non-randomized estimates
    # network only: effects, classes, mixtures, and additive components of a combination arm
    # components = { benmelstobart_anlotinib_1l = ["benmelstobart_1l", "anlotinib_1l"] }
    # class_of = { benmelstobart_1l = "PD-L1" }

    [priors]
    set = "default"                      # a file in models/priors/
    tau = "half_normal(0.5)"             # optional overrides: effect, tau, beta, omega, bias, class_sd

    [bias]                               # optional: bias-adjusted primary answer, unadjusted beside it
    prior = "elicited"                   # a file in models/priors/bias/ (or a path); see sclcmeta.bias_priors

    [inference]
    method = "exact"                     # | mcmc
    sampler = "nutpie"                   # | pymc
    draws = 4000                         # per chain
    tune = 1000
    chains = 4
    seed = 1                             # 0 .. 4294957295 (vocabulary.MAX_SEED)

    [absolute]                           # optional: baseline survival for absolute effects
    baseline = "zhang2025b_psm_stop_os"  # a curve in data/baselines.csv, or instead:
    median_months = 8.3                  # an exponential baseline with this median (not both)
    times = [6, 12]                      # months of the survival differences [6, 12]
"""

from __future__ import annotations

import difflib
import hashlib
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PlainValidator, StrictBool, StrictStr, ValidationError
from pydantic_core import PydanticCustomError

from .bias_priors import load_bias_prior
from .files import read_toml
from .errors import SclcmetaError, SpecError
from .evidence.schema import ANALYSES, DESIGNS, KINDS, LINES, OUTCOME_LABEL
from .priors import PRIOR_TARGETS, PriorSet, PriorTargetsTable, load_prior_set, validation_problems
from .priors import _one, _shown as _show  # the same wording of values in both files
from .vocabulary import (DEFAULT_CHAINS, DEFAULT_DRAWS, DEFAULT_SEED, DEFAULT_TUNE, METHODS, MODEL_TYPES,
                         MODERATOR_KINDS, SAMPLERS, analysis_kind, MAX_SEED)

#: ``[evidence] direction_doubtful`` settings (see :func:`sclcmeta.evidence.prognostic.prognostic_effects`).
DIRECTION_DOUBTFUL = ("exclude", "as_printed", "flipped")
#: ``[evidence] kind`` values: evidence-row kinds and the Q3 moderator analyses.
EVIDENCE_KINDS = KINDS + MODERATOR_KINDS
#: ``[model] effects`` of a network model.
NETWORK_EFFECTS = ("random", "fixed")
#: Largest seed (numpy and the samplers take 32-bit seeds).


# -- the typed TOML tables (pydantic; structure and types only, the values' meaning is checked downstream) --
def _one_or_list(v):
    """``treatment = "x"`` is shorthand for ``treatment = ["x"]``."""
    return [v] if isinstance(v, str) else v


def _str_or_list(v):
    if isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v)):
        return v
    bad = next((x for x in v if not isinstance(x, str)), None) if isinstance(v, list) else v
    raise PydanticCustomError("sclcmeta_str_or_list", "must be text or a list of text in quotes; got {got}; write e.g. "
                              "population = \"overall\" or [\"arm=ici_cont_2l\"].", {"got": _show(bad)})


def _count(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise PydanticCustomError("sclcmeta_count", "must be a positive number of patients; got {got}.", {"got": _show(v)})
    return v


Strings = Annotated[list[StrictStr], BeforeValidator(_one_or_list)]
Count = Annotated[object, PlainValidator(_count)]
PositiveInt = Annotated[int, Field(ge=1)]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class AnalysisTable(_Table):
    """``[analysis]``: what the analysis is about."""

    name: StrictStr = ""
    question: StrictStr = ""
    title: StrictStr = ""
    outcome: Annotated[StrictStr, Field(pattern=OUTCOME_LABEL)]
    description: StrictStr = ""
    comparison: StrictStr = ""


class EvidenceSection(_Table):
    """``[evidence]``: which rows of the evidence table enter (``EvidenceTable`` is the data itself)."""

    treatment: Strings = []
    comparator: Strings = []
    kind: Literal[EVIDENCE_KINDS] = "treatment_effect"
    population: Annotated[object, PlainValidator(_str_or_list)] = "overall"
    factor: StrictStr = ""
    line: Literal[LINES] | None = None
    design: list[Literal[DESIGNS]] = []
    prefer: list[Literal[ANALYSES]] = []
    exclude: Strings = []
    ids: Strings = []
    nest_within_cohort: StrictBool = False
    second_hand: StrictBool = False
    reference: StrictStr = ""
    nodes: dict[str, StrictStr] = {}
    labels: dict[str, StrictStr] = {}
    # Q3 moderators (sclcmeta.analyses.moderators)
    direction_doubtful: Literal[DIRECTION_DOUBTFUL] = "exclude"
    pool_prefer: Strings = []
    inventory: StrictBool = False


class ModelTable(_Table):
    """``[model]``: the statistical model."""

    type: Literal[MODEL_TYPES] = "random_effects"
    covariates: Strings = []
    design_bias: StrictBool = False
    effects: Literal[NETWORK_EFFECTS] = "random"
    classes: StrictBool = False
    mixtures: dict[str, dict[str, dict[str, Count]]] = {}
    # network: additive components of combination treatments; the class of a treatment or component, overriding
    # nodes.csv ici_class (a class with one member, e.g. "none", leaves it out of the exchangeable classes)
    components: dict[str, list[StrictStr]] = {}
    class_of: dict[str, StrictStr] = {}


class PriorsTable(PriorTargetsTable):
    """``[priors]``: a prior set and optional per-target overrides (the targets of a prior-set file)."""

    set: StrictStr = "default"


class BiasTable(_Table):
    """``[bias]``: adjust observational estimates for bias (Turner et al. 2009) with this bias prior."""

    prior: StrictStr = "elicited"


class InferenceTable(_Table):
    """``[inference]``: how the posterior is obtained."""

    method: Literal[METHODS] = "exact"
    sampler: Literal[SAMPLERS] = "nutpie"
    draws: PositiveInt = DEFAULT_DRAWS
    tune: PositiveInt = DEFAULT_TUNE
    chains: PositiveInt = DEFAULT_CHAINS
    seed: Annotated[int, Field(ge=0, le=MAX_SEED)] = DEFAULT_SEED


class AbsoluteTable(_Table):
    """``[absolute]``: the comparator's baseline survival for absolute effects (sclcmeta.results.absolute).

    ``baseline`` names a curve in data/baselines.csv; ``median_months`` gives an exponential baseline
    instead (one of the two); ``times`` are the months at which survival differences are reported.
    """

    baseline: StrictStr = ""
    median_months: Annotated[float, Field(gt=0, allow_inf_nan=False)] | None = None
    times: list[Annotated[float, Field(gt=0, allow_inf_nan=False)]] = []


class SpecFile(_Table):
    """A whole spec file: one model per table."""

    analysis: AnalysisTable
    evidence: EvidenceSection = EvidenceSection()
    model: ModelTable = ModelTable()
    priors: PriorsTable = PriorsTable()
    bias: BiasTable | None = None
    inference: InferenceTable = InferenceTable()
    absolute: AbsoluteTable = AbsoluteTable()


_TABLE_MODELS = {"": SpecFile, **{k: f.annotation for k, f in SpecFile.model_fields.items()}, "bias": BiasTable}
#: The valid keys of every table (kept for readers of the old name).
_TABLES = {k: set(m.model_fields) for k, m in _TABLE_MODELS.items() if k}
#: Allowed values and what they are called, for enum-like keys (list keys name each bad entry).
_CHOICES = {
    ("evidence", "kind"): (EVIDENCE_KINDS, "evidence kind"),
    ("evidence", "line"): (LINES, "line"),
    ("evidence", "design"): (DESIGNS, "design"),
    ("evidence", "prefer"): (ANALYSES, "analysis type"),
    ("evidence", "direction_doubtful"): (DIRECTION_DOUBTFUL, "setting"),
    ("model", "type"): (MODEL_TYPES, "model"),
    ("model", "effects"): (NETWORK_EFFECTS, "network effects setting"),
    ("inference", "method"): (METHODS, "method"),
    ("inference", "sampler"): (SAMPLERS, "sampler"),
}


def _or(values) -> str:
    q = [repr(v) for v in values]
    return q[0] if len(q) == 1 else ", ".join(q[:-1]) + " or " + q[-1]


def _spec_wording(e, keys, item) -> str | None:
    """Spec-specific wording of a validation error (``None``: the generic one of :func:`validation_problems`)."""
    t, v, path = e["type"], e.get("input"), ".".join(keys)
    if t == "extra_forbidden" and len(keys) == 1:
        return f"[{keys[0]}] unknown table; valid tables: {', '.join(_TABLES)}."
    if t == "literal_error" and tuple(keys[:2]) in _CHOICES:
        allowed, noun = _CHOICES[tuple(keys[:2])]
        lower = {str(x).lower(): x for x in allowed}
        close = difflib.get_close_matches(str(v).lower(), lower, n=1)
        hint = f" (did you mean {lower[close[0]]!r}?)" if close and not isinstance(v, list) else ""
        if item:
            return (f"[{path}]{item} {_show(v)} is not a known {noun}{hint}; valid values: "
                    f"{', '.join(allowed)}.")
        if keys == ["model", "type"]:
            return f"[{path}] unknown model {_show(v)}{hint}; valid models: {', '.join(allowed)}."
        if keys == ["evidence", "direction_doubtful"]:
            return f"[{path}] direction_doubtful must be {_or(allowed)}; got {_show(v)}{hint}."
        return f"[{path}] must be {_or(allowed)}; got {_show(v)}{hint}{_one(v)}."
    if keys == ["analysis", "outcome"] and t in ("missing", "string_pattern_mismatch", "string_type"):
        return (f"[{path}] {'missing' if t == 'missing' else f'got {_show(v)}'}: name the outcome with a short label, "
                "e.g. outcome = \"OS\" (any time-to-event label: OS, PFS, DFS, EFS, TTP, ...).")
    if keys[:1] == ["inference"] and len(keys) == 2 and keys[1] in ("draws", "tune", "chains", "seed"):
        want = (f"a whole number from 0 to {MAX_SEED} (numpy seeds are 32-bit)" if keys[1] == "seed"
                else "a positive whole number")
        return f"[{path}] must be {want}, without quotes; got {_show(v)}."
    if keys[:2] == ["model", "mixtures"] and t in ("dict_type",):
        return (f"[{path}] must be a table of cohort -> arm node -> {{ treatment = patients }}, e.g. "
                f"[model.mixtures.zhang2025b.ici_cont_2l] continue = 105; got {_show(v)}.")
    return None


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
    #: the bias prior of a bias-adjusted analysis (:class:`~sclcmeta.bias_priors.BiasPrior`), or None
    bias: object | None = None
    absolute: dict = field(default_factory=dict)

    def __repr__(self) -> str:
        bias = f", bias={self.bias.name}" if self.bias is not None else ""
        return (f"AnalysisSpec({self.name!r}, {self.question}: {self.title}; model={self.model['type']}, "
                f"priors={self.priors.name}{bias}, method={self.inference['method']}, seed={self.inference['seed']})")

    @property
    def kind(self) -> str:
        """``pairwise``, ``network`` or ``moderator``: which analysis in :mod:`sclcmeta.analyses` runs it."""
        return analysis_kind(self.model["type"], self.evidence.get("kind"))

    def with_priors(self, priors: PriorSet) -> "AnalysisSpec":
        return replace(self, priors=priors)

    def with_bias(self, bias) -> "AnalysisSpec":
        """The same analysis with another bias prior (``None``: no bias adjustment)."""
        return replace(self, bias=bias)

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


def load_spec(path: str | Path) -> AnalysisSpec:
    """Read and validate an analysis spec.

    Every problem of the file is reported at once, in one :class:`SpecError` with one line per problem:
    ``"<file>: [table.key] what is wrong; how to fix it"``.

    Examples
    --------
    >>> spec = load_spec("q1_continuation_os")          # a bundled spec by name, or any path

    >>> spec.outcome
    'OS'
    """
    p = _locate(path)
    doc, text = read_toml(p, SpecError, "spec", "give a .toml file or a bundled spec's name")
    try:
        f = SpecFile.model_validate({"analysis": {}, **doc})
    except ValidationError as exc:
        problems = validation_problems(exc, _TABLE_MODELS, _spec_wording)
        raise SpecError("\n".join(f"{p}: {x}" for x in problems)) from None
    problems = []
    def as_written(table: BaseModel, name: str) -> dict:
        """The table's validated values, in the file's key order (as downstream code always saw them)."""
        d = table.model_dump(exclude_unset=True)
        return {k: d[k] for k in doc.get(name, {}) if k in d}

    m = as_written(f.model, "model")
    m.setdefault("type", "random_effects")
    m.setdefault("covariates", [])
    m.setdefault("design_bias", False)
    ev = as_written(f.evidence, "evidence")
    ev.setdefault("kind", "treatment_effect")
    ev.setdefault("population", "overall")
    if m["type"] != "network" and not (ev.get("treatment") or ev.get("ids")):
        problems.append("[evidence.treatment] missing: name the treatment node(s) (or list evidence `ids`).")
    ps = None
    try:
        ps = load_prior_set(f.priors.set)
    except SpecError as exc:
        problems += [f"[priors.set] {line}" for line in str(exc).splitlines()]
    over = {k: getattr(f.priors, k) for k in PRIOR_TARGETS if getattr(f.priors, k) is not None}
    bias = None
    if f.bias is not None:
        if ev.get("kind") in MODERATOR_KINDS:
            problems.append("[bias] is available for treatment-effect analyses (pairwise and network) only; "
                            "remove the table.")
        else:
            try:
                bias = load_bias_prior(f.bias.prior)
            except SclcmetaError as exc:
                problems += [f"[bias.prior] {line}" for line in str(exc).splitlines()]
    absolute = as_written(f.absolute, "absolute")
    if absolute.get("baseline") and absolute.get("median_months") is not None:
        problems.append("[absolute] give either baseline (a curve in data/baselines.csv) or median_months "
                        "(an exponential baseline), not both.")
    if problems:
        raise SpecError("\n".join(f"{p}: {x}" for x in problems))
    if over:
        ps = ps.replace(**over)
    inf = f.inference.model_dump()
    a = f.analysis
    return AnalysisSpec(name=a.name or p.stem, question=a.question, title=a.title or p.stem,
                        outcome=a.outcome, evidence=ev, model=m, priors=ps, inference=inf, path=str(p),
                        text_hash=hashlib.sha256(text).hexdigest()[:16], description=a.description,
                        comparison=a.comparison, bias=bias, absolute=absolute)


def list_specs(folder: str | Path | None = None) -> list[AnalysisSpec]:
    """Every spec in ``folder`` (default: the bundled ``models/``), sorted by question then name."""
    from .paths import models_dir

    folder = Path(folder) if folder else models_dir()
    specs = [load_spec(f) for f in sorted(folder.glob("*.toml")) if f.name != "questions.toml"]
    return sorted(specs, key=lambda s: (s.question, s.name))

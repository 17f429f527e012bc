"""Multiverse sensitivity: every analysis under every combination of its declared choices, run with Dask.

The grid of one analysis spec is the product of its **axes**. An axis is one small function
``axis(spec, evidence) -> list[Choice]``: the values one choice can take for this spec, each a
:class:`Choice` that says how it changes the primary analysis (prior set, prior overrides, ``[evidence]``
or ``[model]`` keys, estimate-selection overrides, cohorts left out, observational variance inflation).
The default axes are

* :func:`prior_axis`: every prior set in ``models/priors/*.toml`` (and the spec's own, if it is not one);
* :func:`evidence_axis`: the evidence choices of :mod:`.sensitivity` (estimate preference among the
  analyses of one patient pool, observational estimates down-weighted, and the analysis kind's own, e.g.
  direction-doubtful rows of a prognostic analysis as printed / flipped);
* :func:`leave_one_out_axis`: each selected cohort dropped in turn (when more than two are pooled).

Another axis is one more function with the same signature, passed in ``axes`` (or added to
:func:`default_axes`); nothing else changes. For instance, bias priors for the observational estimates::

    def bias_prior_axis(spec, evidence):
        files = sorted((models_dir() / "priors" / "bias").glob("*.toml"))
        return [Choice("bias_prior", "none", "no design-bias term", primary=True)] + [
            Choice("bias_prior", f.stem, f"design bias ~ {load_prior_set(f).bias}", model={"design_bias": True},
                   prior_overrides={"bias": load_prior_set(f).bias}) for f in files]

Each grid point is a :class:`Setting`, fitted by :func:`fit_setting` as one task of
:func:`~sclcmeta.runner.run_tasks` (a local Dask cluster by default, any cluster by address);
a setting that raises becomes a row with its message and ``status = "not estimable"`` (the package refused it
with a reason, e.g. leaving out a cohort leaves a meta-regression covariate without variation) or
``"error"`` (anything else), and the others finish.

Examples
--------
>>> import sclcmeta as sm
>>> spec, ev = sm.load_spec("q1_continuation_os"), sm.read_evidence()
>>> [len(axis(spec, ev)) for axis in default_axes()]      # prior sets, evidence choices, none + 3 cohorts left out
[8, 3, 4]
>>> len(expand(spec, ev))
96
>>> mv = sm.multiverse([spec], scheduler="synchronous")   # doctest: +SKIP
>>> mv.headline()[["prior_set", "evidence_choice", "leave_out", "hr_median"]]   # doctest: +SKIP
"""

from __future__ import annotations

import itertools
import time
import warnings
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from ..errors import SpecError
from ..evidence import EvidenceTable, read_evidence
from ..priors import PriorSet, list_prior_sets, load_prior_set
from ..results.multiverse import MultiverseResult
from ..spec import AnalysisSpec, load_spec
from .common import adjust_for_bias, analysis_for, bias_alternatives, fit_spec_model
from .pairwise import PREFERENCES, observational_mask
from ..runner import describe, run_tasks


@dataclass(frozen=True)
class Choice:
    """One value of one axis, and how it changes the primary analysis (applied in axis order).

    ``priors`` replaces the prior set; ``prior_overrides`` then swaps single priors
    (``{"bias": "normal(0, 0.3)"}``); ``evidence`` and ``model`` are merged into the spec's tables;
    ``effects_kw`` go to the analysis kind's ``effects(spec, evidence, **effects_kw)``; ``drop`` adds cohorts
    to ``[evidence] exclude``; ``observational_variance_scale`` multiplies the sampling variance of every
    non-randomized estimate. ``primary`` marks the value the spec itself uses.
    """

    axis: str
    label: str
    description: str = ""
    primary: bool = False
    priors: PriorSet | None = None
    prior_overrides: dict = field(default_factory=dict)
    evidence: dict = field(default_factory=dict)
    model: dict = field(default_factory=dict)
    effects_kw: dict = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    observational_variance_scale: float = 1.0
    #: a bias prior (:class:`~sclcmeta.bias_priors.BiasPrior`) to adjust with, ``"none"`` for no adjustment,
    #: ``None`` to leave the spec's own choice
    bias: object | None = None


Axis = Callable[[AnalysisSpec, EvidenceTable], list[Choice]]


def prior_axis(spec: AnalysisSpec, evidence=None, *, files: Sequence[str | Path] | None = None) -> list[Choice]:
    """Every prior set of ``models/priors/`` (or of ``files``), with the spec's own set first if it is none of them."""
    sets = [load_prior_set(f) for f in files] if files else list_prior_sets()
    own = spec.priors
    out = [] if own.name in {ps.name for ps in sets} else [Choice("prior_set", own.name, own.description or
                                                                   "the spec's own priors", primary=True, priors=own)]
    return out + [Choice("prior_set", ps.name, ps.description, primary=ps.name == own.name, priors=ps) for ps in sets]


def evidence_axis(spec: AnalysisSpec, evidence: EvidenceTable) -> list[Choice]:
    """The spec's selection, then every evidence choice of the sensitivity table that selects something else."""
    analysis = analysis_for(spec)
    base = analysis.effects(spec, evidence)
    out = [Choice("evidence_choice", "as specified", "the spec's own estimate selection", primary=True)]
    seen = {tuple(base.data["id"])}
    for label, pref in PREFERENCES.items():
        try:
            ids = tuple(analysis.effects(spec.with_evidence(prefer=list(pref), ids=[]), evidence).data["id"])
        except SpecError:
            ids = None                           # not selectable: kept, so its task reports why
        if ids in seen:
            continue
        seen.add(ids)
        out.append(Choice("evidence_choice", label, f"analysis preference {', '.join(pref[:3])}",
                          evidence={"prefer": list(pref), "ids": []}))
    if observational_mask(base).any():
        out.append(Choice("evidence_choice", "observational down-weighted",
                          "variance of every non-randomized estimate doubled (weight 1/2)",
                          observational_variance_scale=2.0))
    own = getattr(analysis, "evidence_choices", None)      # the kind's own choices, as effects() overrides
    for label, desc, overrides, _ in (own(spec, evidence) if own else []):
        out.append(Choice("evidence_choice", label, desc, effects_kw=dict(overrides)))
    return out


def leave_one_out_axis(spec: AnalysisSpec, evidence: EvidenceTable) -> list[Choice]:
    """No cohort left out, then each cohort of the spec's selection left out in turn (only when k > 2)."""
    base = analysis_for(spec).effects(spec, evidence)
    out = [Choice("leave_out", "none", "every selected cohort", primary=True)]
    if base.k > 2:
        out += [Choice("leave_out", c, f"cohort {c} removed", drop=(c,)) for c in dict.fromkeys(base.data["cohort"])]
    return out


def bias_axis(spec: AnalysisSpec, evidence=None) -> list[Choice]:
    """For a bias-adjusted spec: its own bias prior, then :func:`~.common.bias_alternatives` (no adjustment, every
    other bundled bias prior); for any other spec the single value "no bias model"."""
    if spec.bias is None:
        return [Choice("bias_prior", "none", "no bias model", primary=True)]
    own = Choice("bias_prior", spec.bias.name, "the spec's own bias prior", primary=True, bias=spec.bias)
    return [own] + [Choice("bias_prior", bp.name if bp is not None else "none", desc,
                           bias=bp if bp is not None else "none") for _, desc, bp in bias_alternatives(spec)]


def default_axes(prior_files: Sequence[str | Path] | None = None) -> tuple[Axis, ...]:
    """Prior sets x evidence choices x leave-one-out x bias priors (``prior_files`` narrows the prior sets)."""
    return (partial(prior_axis, files=list(prior_files)) if prior_files else prior_axis, evidence_axis,
            leave_one_out_axis, bias_axis)


@dataclass(frozen=True)
class Setting:
    """One grid point of one analysis: a choice from every axis."""

    spec: AnalysisSpec
    choices: tuple[Choice, ...]
    number: int = 0

    def __repr__(self) -> str:
        return f"Setting({self.spec.name} #{self.number}: {'; '.join(f'{c.axis}={c.label}' for c in self.choices)})"

    @property
    def labels(self) -> dict[str, str]:
        return {c.axis: c.label for c in self.choices}

    @property
    def primary(self) -> bool:
        """True for the spec's own analysis (the primary value on every axis)."""
        return all(c.primary for c in self.choices)

    @property
    def description(self) -> str:
        return "; ".join(c.description for c in self.choices if not c.primary) or "primary analysis"

    def resolve(self) -> tuple[AnalysisSpec, dict, float]:
        """``(spec, effects overrides, observational variance factor)`` with every choice applied in axis order."""
        spec, kw, scale, drop = self.spec, {}, 1.0, []
        for c in self.choices:
            if c.priors is not None:
                spec = spec.with_priors(c.priors)
            if c.prior_overrides:
                spec = spec.with_priors(spec.priors.replace(**c.prior_overrides))
            if c.evidence:
                spec = spec.with_evidence(**c.evidence)
            if c.model:
                spec = replace(spec, model={**spec.model, **c.model})
            if c.bias is not None:
                spec = spec.with_bias(None if c.bias == "none" else c.bias)
            kw.update(c.effects_kw)
            scale *= c.observational_variance_scale
            drop += [d for d in c.drop if d not in drop]
        if drop:
            spec = spec.with_evidence(exclude=list(spec.evidence.get("exclude", [])) + drop)
        return spec, kw, scale


def expand(spec: AnalysisSpec, evidence: EvidenceTable, axes: Sequence[Axis] | None = None) -> list[Setting]:
    """Every setting of ``spec``: the product of its axes (default :func:`default_axes`), primary first."""
    axes = default_axes() if axes is None else tuple(axes)
    lists = [list(axis(spec, evidence)) for axis in axes]
    names = []
    for axis, choices in zip(axes, lists):
        name = {c.axis for c in choices}
        if len(name) != 1:
            what = getattr(axis, "__name__", repr(axis))
            raise SpecError(f"multiverse axis {what} gave {'no choices' if not name else f'choices of several axes ({sorted(name)})'} "
                            f"for {spec.name}; an axis returns at least one Choice, all with the same axis name.")
        names += list(name)
    if len(set(names)) != len(names):
        raise SpecError(f"multiverse axes must have different names; got {names}.")
    lists = [sorted(ch, key=lambda c: not c.primary) for ch in lists]   # primary value first (stable)
    return [Setting(spec, combo, i) for i, combo in enumerate(itertools.product(*lists))]


def fit_setting(setting: Setting, evidence: EvidenceTable, method: str | None = "exact") -> list[dict]:
    """Fit one setting (one task); its summary rows, every reported quantity except per-study estimates."""
    spec, kw, scale = setting.resolve()
    analysis = analysis_for(spec)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        eff = analysis.effects(spec, evidence, **kw)
        model = analysis.build(eff, spec)
        if scale != 1.0:
            model = model.with_sampling_variance_scaled(observational_mask(eff), scale)
        if spec.bias is not None:
            model = adjust_for_bias(model, eff, spec, evidence)
        res = analysis.wrap(spec, fit_spec_model(model, spec, method=method), eff)
        head = res.pooled_hr()
        rows = []
        for q in res.quantities:
            if q.quantity in ("study", "subgroup"):
                continue
            r = res.row(q)
            r.update(headline=q.quantity == head["quantity"] and q.comparison == head["comparison"],
                     divergences=res.diagnostics.divergences, effect_prior=str(res.priors.effect),
                     tau_prior=str(res.priors.tau))
            rows.append(r)
    notes = " | ".join(dict.fromkeys(str(w.message) for w in caught))
    for r in rows:
        r["warnings"] = notes
    return rows


#: Column order of the multiverse table (axis columns go after ``setting``; extra columns at the end).
LEADING = ["analysis", "question", "outcome", "setting"]
TRAILING = ["primary", "description", "status", "error", "quantity", "comparison", "headline", "median", "mean", "sd",
            "q2.5", "q97.5", "hr_median", "hr_q2.5", "hr_q97.5", "prob_hr_below_1", "prob_hr_below_0.8", "r_hat",
            "ess_bulk", "divergences", "method", "gate", "k", "effect_prior", "tau_prior", "bias", "evidence", "warnings"]


def _table(outcomes, axis_names: list[str]) -> pd.DataFrame:
    rows = []
    for o in outcomes:
        s: Setting = o.item
        base = {"analysis": s.spec.name, "question": s.spec.question, "outcome": s.spec.outcome, "setting": s.number,
                **s.labels, "primary": s.primary, "description": s.description,
                "status": "ok" if o.ok else ("not estimable" if o.refused else "error"), "error": o.error}
        if o.ok:
            rows += [{**base, **r} for r in o.value]
        else:
            rows.append({**base, "headline": True, "quantity": "", "comparison": "", "gate": "not fitted"})
    df = pd.DataFrame(rows)
    cols = LEADING + axis_names + TRAILING
    df = df.reindex(columns=cols + sorted(c for c in df.columns if c not in cols))
    for c in ("quantity", "comparison", "gate", "method", "effect_prior", "tau_prior", "evidence", "warnings",
              "error"):
        df[c] = df[c].fillna("").astype(str)
    df["headline"] = df["headline"].astype(bool)
    df["divergences"] = df["divergences"].astype(float)
    return df


def multiverse(specs: Sequence[AnalysisSpec | str | Path], *, axes: Sequence[Axis] | None = None,
               prior_files: Sequence[str | Path] | None = None, scheduler=None, workers: int | None = None,
               method: str | None = "exact", evidence: EvidenceTable | None = None,
               progress: bool = False, batch_size: int | None = None) -> MultiverseResult:
    """Fit every setting of every spec's grid with dask.distributed; one tidy table of the results.

    Parameters
    ----------
    specs
        Analysis specs (objects, files or bundled names). Network specs are skipped with a note (their
        sensitivity reruns live in the report's network section).
    axes
        Axis functions ``axis(spec, evidence) -> [Choice]`` (default :func:`default_axes`).
    prior_files
        Prior-set files for the default prior axis (default: every set in ``models/priors/``).
    scheduler, workers
        Where the tasks run (:func:`~sclcmeta.runner.run_tasks`): ``None`` starts a local cluster of
        ``workers`` processes (default one per core); ``"tcp://host:8786"`` uses a running cluster; a
        ``distributed.Client`` is used as it is; ``"synchronous"`` runs a plain loop in this process.
    method
        ``"exact"`` (default) or ``"mcmc"`` (each spec's ``[inference]`` draws, chains, seed); None: each spec's own.
    batch_size
        Settings per Dask task (default: about 8 tasks per worker thread; 1: one task per setting).

    Examples
    --------
    >>> import sclcmeta as sm
    >>> mv = sm.multiverse(["q1_continuation_os"], prior_files=["default", "sceptical"],
    ...                    scheduler="synchronous")
    >>> len(mv.headline()), int((mv.headline()["status"] == "ok").sum())
    (24, 24)
    """
    t0 = time.perf_counter()
    evidence = evidence if evidence is not None else read_evidence()
    if axes is not None and prior_files:
        raise SpecError("multiverse: give either axes or prior_files (prior_files narrows the default prior axis).")
    axes = tuple(axes) if axes is not None else default_axes(prior_files)
    loaded = [s if isinstance(s, AnalysisSpec) else load_spec(s) for s in specs]
    if not loaded:
        raise SpecError("multiverse: give at least one analysis spec.")
    notes, settings = [], []
    for spec in loaded:
        if spec.kind == "network":
            notes.append(f"{spec.name}: network spec skipped (the multiverse covers pairwise and moderator analyses; "
                         "network reruns are in the report's network section)")
            continue
        settings += expand(spec, evidence, axes)
    if not settings:
        raise SpecError("multiverse: no pairwise or moderator spec among " + ", ".join(s.name for s in loaded) + ".")
    axis_names = [c.axis for c in settings[0].choices]
    outcomes = run_tasks(fit_setting, settings, shared={"evidence": evidence},
                         kwargs={"method": method}, scheduler=scheduler,
                         workers=workers, progress=progress, desc="multiverse", batch_size=batch_size)
    return MultiverseResult(_table(outcomes, axis_names), axes=tuple(axis_names), scheduler=describe(scheduler, workers),
                            seconds=time.perf_counter() - t0, notes=tuple(notes))


__all__ = ["Axis", "Choice", "Setting", "default_axes", "evidence_axis", "expand", "fit_setting",
           "leave_one_out_axis", "multiverse", "prior_axis"]

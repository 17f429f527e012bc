"""Run analyses: spec + evidence -> EffectData -> GaussianModel -> fit -> FitResult.

:func:`fit` is the notebook entry point for harmonized estimates; :func:`run_spec` runs one
declarative spec on an :class:`~sclcmeta.evidence.EvidenceTable`.
"""

from __future__ import annotations

from .engine.build import model_from_effects
from .errors import EvidenceError, SpecError
from .evidence import EffectData, EvidenceTable, read_evidence, select_estimates
from .fitting import DEFAULT_DRAWS, DEFAULT_TUNE, CompileCache, fit_model
from .priors import PriorSet, default_prior_set, load_prior_set
from .results import FitResult
from .spec import AnalysisSpec


def _resolve_priors(priors) -> PriorSet:
    if priors is None:
        return default_prior_set()
    if isinstance(priors, PriorSet):
        return priors
    if isinstance(priors, str):
        return load_prior_set(priors)
    if isinstance(priors, dict):
        return default_prior_set().replace(**priors)
    raise SpecError(f"`priors` must be a PriorSet, a prior-set name or a dict of priors; got {type(priors).__name__}.")


def fit(effects: EffectData, *, model: str = "random_effects", priors: PriorSet | str | dict | None = None,
        method: str = "exact", covariates: tuple[str, ...] = (), design_bias: bool = False,
        draws: int = DEFAULT_DRAWS, tune: int = DEFAULT_TUNE, chains: int = 4, seed: int = 1, sampler: str = "nutpie",
        progress: bool = False, name: str = "analysis", cache: CompileCache | None = None) -> FitResult:
    """Fit a pairwise model to harmonized estimates.

    Parameters
    ----------
    effects
        From :func:`~sclcmeta.evidence.select_estimates` or :meth:`EffectData.from_arrays`.
    model
        ``random_effects``, ``fixed_effect``, ``meta_regression`` or ``nested``.
    priors
        A :class:`PriorSet`, the name of a bundled set (``"vague"``...), or overrides of the default
        (``{"tau": "half_cauchy(0.5)"}``).
    method
        ``"exact"`` (numerical integration, milliseconds) or ``"mcmc"`` (NUTS; gated diagnostics).

    Examples
    --------
    >>> import sclcmeta as sm
    >>> eff = sm.EffectData.from_arrays([-0.4, -0.2, -0.5], [0.2, 0.15, 0.25])
    >>> res = sm.fit(eff, priors={"tau": "half_normal(0.5)"})
    >>> res.summary()[["quantity", "hr_median", "prob_hr_below_1"]].round(2)  # doctest: +SKIP
    """
    ps = _resolve_priors(priors)
    gm = model_from_effects(effects, model, covariates=tuple(covariates), design_bias=design_bias)
    raw = fit_model(gm, ps, method=method, draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler,
                    progress=progress, cache=cache)
    comparison = f"{effects.treatment_label} vs {effects.comparator_label}"
    return FitResult(name=name, outcome=effects.outcome, comparison=comparison, raw=raw, effects=effects)


def effects_for_spec(spec: AnalysisSpec, evidence: EvidenceTable) -> EffectData:
    """The evidence selection a spec declares, with errors naming the spec file and key."""
    # Q3 moderator specs ([evidence] kind = interaction | prognostic | ecological): sclcmeta.moderators
    from .moderators import effects_for_moderator_spec, is_moderator_spec

    if is_moderator_spec(spec):
        return effects_for_moderator_spec(spec, evidence)
    ev = spec.evidence
    kwargs = dict(outcome=spec.outcome, treatment=ev.get("treatment"), comparator=ev.get("comparator"),
                  kind=ev.get("kind", "treatment_effect"), population=ev.get("population", "overall"),
                  factor=ev.get("factor") or None, line=ev.get("line"), design=ev.get("design") or None,
                  exclude=ev.get("exclude", ()), ids=ev.get("ids") or None,
                  nest_within_cohort=bool(ev.get("nest_within_cohort", False)),
                  source=f"{spec.path} [evidence]")
    if ev.get("prefer"):
        kwargs["prefer"] = tuple(ev["prefer"])
    try:
        return select_estimates(evidence, **kwargs)
    except EvidenceError as exc:
        raise SpecError(str(exc)) from None


def run_spec(spec: AnalysisSpec, evidence: EvidenceTable | None = None, *, cache: CompileCache | None = None,
             progress: bool = False, method: str | None = None) -> FitResult:
    """Run one analysis spec (pairwise or network) on ``evidence`` (default: the bundled tables)."""
    evidence = evidence if evidence is not None else read_evidence()
    inf = spec.inference
    method = method or inf["method"]
    if spec.model["type"] == "network":
        from .network import run_network_spec

        return run_network_spec(spec, evidence, cache=cache, progress=progress, method=method)
    from .moderators import is_moderator_spec, run_moderator_spec  # Q3 moderator specs

    if is_moderator_spec(spec):
        return run_moderator_spec(spec, evidence, cache=cache, progress=progress, method=method)
    eff = effects_for_spec(spec, evidence)
    gm = model_from_effects(eff, spec.model["type"], covariates=tuple(spec.model.get("covariates", ())),
                            design_bias=bool(spec.model.get("design_bias", False)), where=f"{spec.path} [model]")
    raw = fit_model(gm, spec.priors, method=method, draws=inf["draws"], tune=inf["tune"], chains=inf["chains"],
                    seed=inf["seed"], sampler=inf["sampler"], progress=progress, cache=cache)
    comparison = spec.comparison or f"{eff.treatment_label} vs {eff.comparator_label}"
    return FitResult(name=spec.name, outcome=spec.outcome, comparison=comparison, raw=raw, effects=eff,
                     spec=spec, question=spec.question)

"""Pairwise analyses (Q1, Q5, and the shape of every other random-effects fit): selection -> model -> result."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..engine.build import model_from_effects
from ..errors import EvidenceError, SpecError
from ..evidence import EffectData, select_estimates
from ..fitting import CompileCache, fit_model
from ..priors import PriorSet, default_prior_set, load_prior_set, reference_prior_set
from ..results import FitResult
from ..spec import AnalysisSpec
from ..vocabulary import DEFAULT_CHAINS, DEFAULT_DRAWS, DEFAULT_SEED, DEFAULT_TUNE
from .common import adjust_for_bias, build_pairwise, fit_spec_model, register, warn_small_k

#: Evidence choices of the sensitivity table: analysis preference among estimates of one patient pool.
PREFERENCES = {
    "prefer matched": ("propensity_matched", "multivariable", "unadjusted", "univariable"),
    "prefer adjusted": ("multivariable", "propensity_matched", "unadjusted", "univariable"),
    "prefer unadjusted": ("unadjusted", "univariable", "propensity_matched", "multivariable"),
}


def resolve_priors(priors) -> PriorSet:
    """A :class:`PriorSet` from a set, a bundled set's name, or overrides of the default set."""
    if priors is None:
        return default_prior_set()
    if isinstance(priors, PriorSet):
        return priors
    if isinstance(priors, str):
        return load_prior_set(priors)
    if isinstance(priors, dict):
        return default_prior_set().replace(**priors)
    raise SpecError(f"`priors` must be a PriorSet, a prior-set name or a dict of priors; got {type(priors).__name__}.")


def priors_for_scale(scale: str, overrides: dict | None = None) -> PriorSet:
    """The default priors of an effect scale (with ``overrides``): the package default set for log ratios (HR, OR,
    RR), :func:`~sclcmeta.priors.reference_prior_set` (flat effect, Jeffreys tau) for a mean difference, whose
    units no default can know."""
    base = reference_prior_set() if scale == "md" else default_prior_set()
    return base.replace(**overrides) if overrides else base


def fit(effects: EffectData, *, model: str = "random_effects", priors: PriorSet | str | dict | None = None,
        method: str = "exact", covariates: tuple[str, ...] = (), design_bias: bool = False,
        draws: int = DEFAULT_DRAWS, tune: int = DEFAULT_TUNE, chains: int = DEFAULT_CHAINS, seed: int = DEFAULT_SEED,
        sampler: str = "nutpie", progress: bool = False, name: str = "analysis",
        cache: CompileCache | None = None) -> FitResult:
    """Fit a pairwise model to harmonized estimates.

    Parameters
    ----------
    effects
        From :func:`~sclcmeta.evidence.select_estimates` or :meth:`EffectData.from_arrays`.
    model
        ``random_effects``, ``fixed_effect``, ``meta_regression`` or ``nested``.
    priors
        A :class:`PriorSet`, the name of a bundled set (``"vague"``...), or overrides of the default
        (``{"tau": "half_cauchy(0.5)"}``). ``None``: the default set, or for mean differences
        (``effects.scale == "md"``) the unit-free reference priors (flat effect, Jeffreys tau; see
        :func:`priors_for_scale`).
    method
        ``"exact"`` (numerical integration, milliseconds) or ``"mcmc"`` (NUTS; gated diagnostics).

    Examples
    --------
    >>> import sclcmeta as sm
    >>> eff = sm.EffectData.from_arrays([-0.4, -0.2, -0.5], [0.2, 0.15, 0.25])
    >>> res = sm.fit(eff, priors={"tau": "half_normal(0.5)"})
    >>> res.summary()[["quantity", "hr_median", "prob_hr_below_1"]].round(2)  # doctest: +SKIP
    """
    scale = getattr(effects, "scale", "log_hr")
    ps = priors_for_scale(scale, priors) if priors is None or isinstance(priors, dict) else resolve_priors(priors)
    gm = model_from_effects(effects, model, covariates=tuple(covariates), design_bias=design_bias)
    warn_small_k(gm, name)
    raw = fit_model(gm, ps, method=method, draws=draws, tune=tune, chains=chains, seed=seed, sampler=sampler,
                    progress=progress, cache=cache)
    comparison = f"{effects.treatment_label} vs {effects.comparator_label}"
    return FitResult(name=name, outcome=effects.outcome, comparison=comparison, raw=raw, effects=effects)


@register("pairwise")
class PairwiseAnalysis:
    """Random effects, fixed effect, meta-regression or nested subgroups on one comparison."""

    @staticmethod
    def effects(spec: AnalysisSpec, evidence, **overrides) -> EffectData:
        ev = {**spec.evidence, **overrides}
        kwargs = dict(outcome=spec.outcome, treatment=ev.get("treatment"), comparator=ev.get("comparator"),
                      kind=ev.get("kind", "treatment_effect"), population=ev.get("population", "overall"),
                      factor=ev.get("factor") or None, line=ev.get("line"), design=ev.get("design") or None,
                      exclude=ev.get("exclude", ()), ids=ev.get("ids") or None,
                      nest_within_cohort=bool(ev.get("nest_within_cohort", False)),
                      second_hand=bool(ev.get("second_hand", False)), source=f"{spec.path} [evidence]")
        if ev.get("prefer"):
            kwargs["prefer"] = tuple(ev["prefer"])
        try:
            return select_estimates(evidence, **kwargs)
        except EvidenceError as exc:
            raise SpecError(str(exc)) from None

    build = staticmethod(build_pairwise)

    @staticmethod
    def wrap(spec: AnalysisSpec, raw, effects, unadjusted: FitResult | None = None) -> FitResult:
        """The result of one fit; a bias-adjusted model (``raw.model.meta["bias"]``) carries its terms, and
        ``unadjusted`` is the same analysis without them, reported beside it."""
        comparison = spec.comparison or f"{effects.treatment_label} vs {effects.comparator_label}"
        bias = raw.model.meta.get("bias")
        if unadjusted is not None:
            unadjusted = replace(unadjusted, bias_role="unadjusted")
        return FitResult(name=spec.name, outcome=spec.outcome, comparison=comparison, raw=raw, effects=effects,
                         spec=spec, question=spec.question, bias=bias, unadjusted=unadjusted)

    @classmethod
    def run(cls, spec: AnalysisSpec, evidence, *, method=None, cache=None, progress=False) -> FitResult:
        eff = cls.effects(spec, evidence)
        model = cls.build(eff, spec)
        warn_small_k(model, spec.name)
        unadjusted = None
        if spec.bias is not None:
            unadjusted = cls.wrap(spec, fit_spec_model(model, spec, method=method, cache=cache), eff)
            model = adjust_for_bias(model, eff, spec, evidence)
        raw = fit_spec_model(model, spec, method=method, cache=cache, progress=progress)
        return cls.wrap(spec, raw, eff, unadjusted)

    @staticmethod
    def evidence_settings(spec: AnalysisSpec, evidence) -> list[tuple[str, str, EffectData]]:
        """No pairwise-specific choices beyond the common ones of :mod:`.sensitivity`."""
        return []


def observational_mask(effects) -> np.ndarray:
    """True for every non-randomized estimate of ``effects``."""
    return (effects.data["design"] != "rct").to_numpy()

"""What every analysis kind shares: fitting a spec's model under its inference settings, and the registry.

Each analysis module (:mod:`.pairwise`, :mod:`.network`, :mod:`.moderators`) registers one class with the
same small contract, looked up by :func:`analysis_for` from the spec's analysis kind
(:func:`sclcmeta.vocabulary.analysis_kind`), never by inspecting attributes:

``effects(spec, evidence, **overrides)``
    the estimates the spec selects (errors name the spec file and key);
``build(effects, spec)``
    the Gaussian model of those estimates;
``wrap(spec, raw, effects)``
    the immutable result of one fitted model (sensitivity reruns use it);
``run(spec, evidence, *, method, cache, progress)``
    the full analysis (a network adds node-splits; an interaction adds the subgroup fits);
``evidence_settings(spec, evidence)``
    the kind's own evidence choices for the sensitivity table: ``[(label, description, effects)]``.
"""

from __future__ import annotations

import warnings

from ..engine.build import model_from_effects
from ..errors import ConvergenceWarning, SmallEvidenceWarning, SpecError
from ..fitting import fit_model
from ..spec import AnalysisSpec

REGISTRY: dict[str, type] = {}


def register(kind: str):
    """Class decorator: the analysis implementation for ``kind`` (see module docstring)."""
    def deco(cls):
        REGISTRY[kind] = cls
        cls.kind = kind
        return cls
    return deco


def analysis_for(spec: AnalysisSpec):
    """The registered analysis implementation of ``spec``'s kind."""
    try:
        return REGISTRY[spec.kind]
    except KeyError:
        raise SpecError(f"{spec.path}: no analysis is registered for kind {spec.kind!r}.") from None


def fit_spec_model(model, spec: AnalysisSpec, *, method: str | None = None, priors=None, cache=None,
                   progress: bool = False, seed_offset: int = 0):
    """Fit ``model`` with the spec's inference settings (convergence warnings become marks on the result)."""
    inf = spec.inference
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return fit_model(model, priors if priors is not None else spec.priors, method=method or inf["method"],
                         draws=inf["draws"], tune=inf["tune"], chains=inf["chains"], seed=inf["seed"] + seed_offset,
                         sampler=inf["sampler"], progress=progress, cache=cache)


def warn_small_k(model, where: str = "") -> None:
    """Say what the heterogeneity prior is doing when a random-effects model rests on one study (or < 5)."""
    if not any(c.name == "tau" for c in model.components):
        return
    pre = f"{where}: " if where else ""
    if model.k == 1:
        warnings.warn(f"{pre}one study only: tau (between-study heterogeneity) is not informed by the data at all, so "
                      "its posterior is the prior, and the pooled and predictive intervals are as wide as that prior "
                      "makes them; report the study's own estimate beside them, and see the sensitivity to the tau "
                      "prior.", SmallEvidenceWarning, stacklevel=3)
    elif model.k < 5:
        warnings.warn(f"{pre}{model.k} studies: tau is mostly prior-driven (the data say little about between-study "
                      "variation with fewer than 5 studies); check the sensitivity to the tau prior.",
                      SmallEvidenceWarning, stacklevel=3)


def build_pairwise(effects, spec: AnalysisSpec):
    """The pairwise Gaussian model a spec's ``[model]`` table declares for ``effects``."""
    m = spec.model
    return model_from_effects(effects, m["type"], covariates=tuple(m.get("covariates", ())),
                              design_bias=bool(m.get("design_bias", False)), where=f"{spec.path} [model]")


_ROB_CACHE: dict[tuple, object] = {}


def risk_of_bias_for(evidence, where: str = "bias"):
    """The risk-of-bias table that travels with ``evidence``: ``risk_of_bias.csv`` beside its evidence file
    (the bundled ``data/risk_of_bias.csv`` for the bundled tables), read and validated once per table."""
    from pathlib import Path

    from ..evidence.risk_of_bias import read_risk_of_bias

    files = tuple(getattr(evidence, "files", ()) or ())
    if not files:
        raise SpecError(f"{where}: a bias adjustment needs a risk-of-bias table, and these estimates come from no "
                        "file; read them with read_evidence() from a folder holding risk_of_bias.csv.")
    path = Path(files[0]).parent / "risk_of_bias.csv"
    if not path.is_file():
        raise SpecError(f"{where}: a bias adjustment needs a risk-of-bias table, and there is no {path}; add one "
                        "(columns and rules in data/README.md, section 3k) or remove the spec's [bias] table.")
    key = (str(path), getattr(evidence, "data_hash", ""), path.stat().st_mtime_ns)
    if key not in _ROB_CACHE:
        _ROB_CACHE[key] = read_risk_of_bias(path, evidence)
    return _ROB_CACHE[key]


def adjust_for_bias(model, effects, spec: AnalysisSpec, evidence, prior=None):
    """``model`` with the additive bias of each estimate integrated out, under ``prior`` (default: the spec's
    bias prior); the model itself when neither gives one."""
    from ..engine.bias import bias_adjusted, bias_terms

    prior = spec.bias if prior is None else prior
    if prior is None:
        return model
    where = f"{spec.path} [bias]"
    terms = bias_terms(effects.data, risk_of_bias_for(evidence, where), prior, getattr(evidence, "nodes", None),
                       where=where)
    return bias_adjusted(model, terms)


def bias_alternatives(spec: AnalysisSpec) -> list[tuple[str, str, object]]:
    """The bias settings a bias-adjusted spec is rerun under, as ``(label, description, bias prior or None)``:
    no adjustment first, then every other bundled bias prior (empty for a spec without a ``[bias]`` table)."""
    from ..bias_priors import list_bias_priors

    if spec.bias is None:
        return []
    return [("no bias adjustment", "the estimates as reported (the unadjusted answer)", None)] + [
        (f"bias prior {bp.name}", bp.description.split(". ")[0] + ".", bp)
        for bp in list_bias_priors() if bp.name != spec.bias.name]


def exact_cross_check(res) -> str:
    """For an MCMC fit of a Gaussian model: its pooled quantiles next to the exact solver's, in one sentence."""
    import numpy as np

    if res.method != "mcmc" or "mu" not in res.model.coef_names or len(res.model.components) > 3:
        return ""
    ex = fit_model(res.model, res.priors, method="exact")
    q = np.asarray(ex.exact.coef("mu").quantile([0.025, 0.5, 0.975]))
    d = np.quantile(res.idata.posterior["b"].sel(coef="mu").values, [0.025, 0.5, 0.975])
    diff = float(np.max(np.abs(q - d)))
    return (f"exact solver cross-check: pooled log-HR quantiles (2.5/50/97.5%) MCMC {d[0]:.3f}/{d[1]:.3f}/{d[2]:.3f} "
            f"vs exact {q[0]:.3f}/{q[1]:.3f}/{q[2]:.3f}; max abs difference {diff:.3f}")

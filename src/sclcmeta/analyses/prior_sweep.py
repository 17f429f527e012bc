"""Prior sweeps: one analysis under many prior settings, as one table.

:func:`sweep` is the public entry point: exact answers for every setting from one vectorized pass
(:func:`sclcmeta.engine.sweep.sweep_exact`), or, for an MCMC fit, Pareto-smoothed importance
reweighting of its draws (:func:`sclcmeta.engine.sweep.psis_reweight`), marked as approximate.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from ..engine.build import model_from_effects
from ..engine.gaussian import GaussianModel
from ..engine.sweep import psis_reweight, sweep_exact
from ..errors import SpecError
from ..evidence import EffectData
from ..priors import PRIOR_TARGETS, PriorSet, load_prior_set
from ..results import FitResult
from .pairwise import resolve_priors

#: Columns of the sweep table after the setting and its priors.
SWEEP_COLUMNS = ["median", "q2.5", "q97.5", "hr_median", "hr_q2.5", "hr_q97.5"]


def _one_setting(s, base: PriorSet, i: int, parsed: dict) -> PriorSet:
    """The PriorSet of setting ``i``. ``parsed`` memoizes (target, value) -> (prior, "target=prior") across
    the settings of one sweep, so each distinct prior is parsed and checked once."""
    if type(s) is dict:                           # the common case: every (target, value) seen before
        try:
            hits = [parsed[kv] for kv in s.items()]
        except (KeyError, TypeError):             # a new prior, a name, an empty cell: the full path below
            hits = None
        if hits is not None:
            return base._overridden({k: h[0] for k, h in zip(s, hits)}, base.name + "+" + ",".join(h[1] for h in hits))
    if isinstance(s, PriorSet):
        return s
    if isinstance(s, str):
        return load_prior_set(s)
    if not isinstance(s, Mapping):
        raise SpecError(f"prior setting {i + 1} must be a PriorSet, a prior-set name or a dict such as "
                        f"{{'tau': 'half_normal(0.5)'}}; got {type(s).__name__}.")
    kw, labels, name = {}, [], None
    for k, v in s.items():
        try:
            hit = parsed.get((k, v))
        except TypeError:                         # an unhashable value (a TOML-style table): no memo
            hit = None
        if hit is None:
            if isinstance(v, float) and math.isnan(v):      # an empty cell of a DataFrame row
                continue
            if k in ("name", "setting"):                    # "name" wins over "setting"
                name = v if k == "name" or name is None else name
                continue
            if k not in PRIOR_TARGETS:
                raise SpecError(f"prior setting {i + 1}: unknown key {k!r}; a setting names priors for "
                                f"{', '.join(PRIOR_TARGETS)} (and optionally 'name').")
            prior = getattr(base.replace(**{k: v}), k)      # parsed and checked as replace() does
            hit = (prior, f"{k}={prior}")
            try:
                parsed[(k, v)] = hit
            except TypeError:
                pass
        kw[k] = hit[0]
        labels.append(hit[1])
    return base._overridden(kw, str(name) if name is not None else base.name + "+" + ",".join(labels))


def prior_settings(settings, base: PriorSet) -> list[PriorSet]:
    """The :class:`PriorSet` of every setting: PriorSets, bundled set names, dicts of priors overriding
    ``base`` (``{"tau": "half_cauchy(0.5)", "name": "HC"}``), a DataFrame with one column per prior
    target, or a dict mapping setting names to any of these."""
    if isinstance(settings, pd.DataFrame):
        settings = settings.to_dict("records")
    elif isinstance(settings, Mapping) and not (set(settings) <= set(PRIOR_TARGETS) | {"name"}):
        settings = [{**v, "name": k} if isinstance(v, Mapping) else (v.replace(name=k) if isinstance(v, PriorSet)
                    else load_prior_set(v).replace(name=k)) for k, v in settings.items()]
    elif isinstance(settings, (PriorSet, str, Mapping)):
        settings = [settings]
    parsed: dict = {}
    out = [_one_setting(s, base, i, parsed) for i, s in enumerate(settings)]
    if not out:
        raise SpecError("a prior sweep needs at least one prior setting.")
    return out


def sweep(data: EffectData | GaussianModel | FitResult, settings: Iterable, *, model: str = "random_effects",
          priors: PriorSet | str | dict | None = None, target: str = "pooled", thresholds=(1.0, 0.8),
          covariates: tuple[str, ...] = (), design_bias: bool = False, strict: bool = True) -> pd.DataFrame:
    """Posterior of one quantity under every prior setting: one row per setting.

    Parameters
    ----------
    data
        Harmonized estimates (:class:`~sclcmeta.evidence.EffectData`, built into ``model``), a
        :class:`~sclcmeta.engine.GaussianModel`, or a fitted :class:`FitResult`. An exact fit (or
        estimates, or a model) is swept exactly; an MCMC fit is reweighted (below).
    settings
        The prior settings: PriorSets, bundled set names, or dicts of priors overriding ``priors``
        (default: the package default, or the fit's priors), e.g.
        ``[{"tau": f"half_normal({s})"} for s in (0.1, 0.25, 0.5, 1.0)]``; a DataFrame with one column
        per prior target works too.
    target
        ``"pooled"`` (the coefficient ``mu``), ``"predictive"`` (a new cohort's effect), or a coefficient name.

    Returns
    -------
    DataFrame with ``setting``, the priors used, the posterior median and 95% equal-tailed interval on the
    log and HR scales, ``prob_hr_below_<t>``, the posterior mean of the heterogeneity SD (``tau_mean``),
    ``method`` and ``approximate``. Exact rows equal separate exact fits (to 1e-9). Rows of an MCMC fit are
    Pareto-smoothed importance reweightings of its draws: ``approximate`` is True and ``khat`` is shown;
    with ``strict`` a setting with k-hat > 0.7 is refused (``strict=False`` keeps it, flagged).

    Examples
    --------
    >>> import sclcmeta as sm
    >>> eff = sm.EffectData.from_arrays([-0.4, -0.2, -0.5, -0.3, -0.1], [0.2, 0.15, 0.25, 0.2, 0.3])
    >>> tab = sm.sweep(eff, [{"tau": f"half_normal({s})"} for s in (0.1, 0.5, 1.0)])
    >>> list(tab["setting"])
    ['default+tau=half_normal(scale=0.1)', 'default+tau=half_normal(scale=0.5)', 'default+tau=half_normal(scale=1)']
    >>> bool((tab["hr_q97.5"] > tab["hr_median"]).all())
    True
    """
    fit = data if isinstance(data, FitResult) else None
    if fit is not None:
        gm = fit.model
        base = fit.priors if priors is None else resolve_priors(priors)
    elif isinstance(data, GaussianModel):
        gm, base = data, resolve_priors(priors)
    elif isinstance(data, EffectData):
        gm, base = model_from_effects(data, model, covariates=tuple(covariates), design_bias=design_bias), \
            resolve_priors(priors)
    else:
        raise SpecError(f"sweep() takes EffectData, a GaussianModel or a FitResult; got {type(data).__name__}.")
    sets = prior_settings(settings, base)
    if fit is not None and fit.method == "mcmc":
        post = fit.idata.posterior
        b = post["b"].values.reshape(-1, gm.p)
        sig = (np.stack([post[c.name].values.reshape(-1) for c in gm.components], 1) if gm.components
               else np.zeros((b.shape[0], 0)))
        d = fit.diagnostics
        reff = float(np.clip(d.ess_bulk / max(d.draws * d.chains, 1), 0.05, 1.0)) if np.isfinite(d.ess_bulk) else 1.0
        res = psis_reweight(gm, fit.priors, sets, b, sig, target=target, thresholds=thresholds, reff=reff,
                            strict=strict)
        method, approximate = "mcmc, PSIS-reweighted (approximate)", True
    else:
        res = sweep_exact(gm, sets, target=target, thresholds=thresholds)
        method, approximate = "exact", False
    roles = list(dict.fromkeys(list(gm.coef_roles) + [c.prior_role for c in gm.components]))
    cols = {"setting": [ps.name for ps in sets], **{r: [str(getattr(ps, r)) for ps in sets] for r in roles}}
    cols.update({c: res[c] for c in ("median", "q2.5", "q97.5")})
    cols.update({"hr_" + c: np.exp(res[c]) for c in ("median", "q2.5", "q97.5")})
    cols.update({f"prob_hr_below_{t:g}": res[f"prob_below_{t:g}"] for t in thresholds})
    if len(gm.components) == 1:
        cols[f"{gm.components[0].name}_mean"] = res["sigma_mean"]
    cols["method"] = method
    cols["approximate"] = approximate
    if approximate:
        cols["khat"], cols["ess"] = res["khat"], res["ess"]
    tab = pd.DataFrame(cols)
    return tab

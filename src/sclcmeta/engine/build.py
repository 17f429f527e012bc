"""EffectData -> GaussianModel: the pairwise model family (random effects, meta-regression, nesting)."""

from __future__ import annotations

import numpy as np

from ..errors import SpecError
from ..vocabulary import PAIRWISE_MODELS
from .gaussian import Component, GaussianModel



def model_from_effects(effects, model: str = "random_effects", *, covariates: tuple[str, ...] = (),
                       design_bias: bool = False, nested: bool = False, center: bool = True,
                       where: str = "model") -> GaussianModel:
    """Build the Gaussian model for a pairwise analysis.

    Parameters
    ----------
    effects
        :class:`~sclcmeta.evidence.EffectData` (one row per estimate, log HR ``y`` and ``se``).
    model
        ``random_effects`` (normal-normal; ``tau``), ``fixed_effect`` (tau = 0),
        ``meta_regression`` (adds ``covariates``), ``nested`` (several disjoint subgroups per cohort:
        a cohort effect ``tau`` shared by its subgroups plus a within-cohort SD ``omega``).
    covariates
        Study-level covariates (columns of ``effects.data``), centred at their mean when ``center``
        so that ``mu`` is the effect at the average covariate value.
    design_bias
        Add a ``bias`` coefficient for non-randomized estimates (observational minus randomized
        log HR), with its own prior: the explicit bias allowance for combining RCT and cohort evidence.
    """
    if model not in PAIRWISE_MODELS:
        raise SpecError(f"{where}: unknown model {model!r}; valid models: {', '.join(PAIRWISE_MODELS)}, network.")
    d = effects.data
    k = len(d)
    if k == 0:
        raise SpecError(f"{where}: no estimates to model.")
    y = d["y"].to_numpy(float)
    se = d["se"].to_numpy(float)
    bad = [str(st) for st, a, b in zip(d["study"], y, se) if not (np.isfinite(a) and np.isfinite(b) and b > 0)]
    if bad:
        raise SpecError(f"{where}: estimate(s) of {', '.join(bad[:5])} have a log HR that is not a finite number or an "
                        "SE that is not a positive finite number; fix or drop them.")
    cols, names, roles = [np.ones(k)], ["mu"], ["effect"]
    x_new = [1.0]
    if model == "meta_regression" and not covariates:
        raise SpecError(f"{where}: meta_regression needs at least one covariate; e.g. covariates = ['prop_liver_mets'].")
    for c in covariates:
        if c not in d.columns:
            raise SpecError(f"{where}: covariate {c!r} is not a study-level column; available: "
                            f"{', '.join(x for x in d.columns if x not in ('id', 'study', 'y', 'se'))}.")
        x = d[c].to_numpy(float)
        if np.any(~np.isfinite(x)):
            miss = d.loc[~np.isfinite(x), "cohort"].tolist()
            raise SpecError(f"{where}: covariate {c!r} is missing for cohort(s) {', '.join(miss)}; fill it in "
                            "data/studies.csv or exclude those cohorts.")
        if np.ptp(x) == 0:
            raise SpecError(f"{where}: covariate {c!r} takes one value ({x[0]:g}) across the selected cohorts; "
                            "it cannot be estimated.")
        cols.append(x - x.mean() if center else x)
        names.append(c)
        roles.append("beta")
        x_new.append(0.0 if center else float(x.mean()))
    if design_bias:
        obs = (d["design"] != "rct").to_numpy(float)
        if obs.min() == obs.max():
            raise SpecError(f"{where}: design_bias needs both randomized and non-randomized estimates.")
        cols.append(obs)
        names.append("bias")
        roles.append("bias")
        x_new.append(0.0)
    X = np.column_stack(cols)
    if X.shape[1] > 1 and k < X.shape[1]:
        raise SpecError(f"{where}: {k} estimates cannot inform {X.shape[1]} coefficients; drop covariates.")
    comps: tuple[Component, ...]
    if model == "fixed_effect":
        comps = ()
    elif model == "nested" or nested:
        groups = d["patient_pool"].to_numpy()
        _, idx = np.unique(groups, return_inverse=True)
        Z = np.eye(idx.max() + 1)[idx]
        comps = (Component("tau", Z @ Z.T, "tau"), Component("omega", np.eye(k), "omega"))
    else:
        comps = (Component("tau", np.eye(k), "tau"),)
    kind = "nested" if (model == "nested" or nested) else model
    return GaussianModel(y=y, S=np.diag(se**2), X=X, coef_names=tuple(names), coef_roles=tuple(roles),
                         components=comps, studies=tuple(d["study"]), kind=kind, x_new=np.array(x_new))

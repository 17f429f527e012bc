"""PyMC graph for a :class:`GaussianModel`, with every prior hyperparameter held as data.

Priors enter the graph only as ``pm.Data`` vectors ``[family_code, p1, p2, p3]``:

* coefficients (``mu``, ``beta``, ``bias``, ``d``) are flat parameters with a ``pm.Potential``
  that switches between the normal and Student-t log densities;
* each variance parameter is ``sigma = Q(Phi(z))`` with ``z ~ N(0, 1)`` and ``Q`` the quantile
  function of the chosen family (half-normal, half-Cauchy, uniform, log-normal on sigma^2,
  exponential), so the prior is exact, the geometry is smooth and the support is respected.

Swapping priors or data of the same shape is therefore ``pm.set_data``: PyMC's NUTS builds and
compiles the model once per structure. nutpie samples the same density written by hand in
:mod:`sclcmeta.engine.native`, which is tested against this graph (value and autodiff gradient).
"""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytensor.tensor as pt

from ..priors import PriorSet
from .gaussian import GaussianModel

_LOG_SQRT_2PI = 0.5 * np.log(2 * np.pi)


def _effect_logp(x, enc):
    """Log density of a normal (code 0) or Student-t (code 1) prior; ``enc = [code, mean, scale, df]``."""
    code, mean, scale, df = enc[0], enc[1], enc[2], enc[3]
    z = (x - mean) / scale
    normal = -0.5 * z**2 - pt.log(scale) - _LOG_SQRT_2PI
    student = (pt.gammaln((df + 1) / 2) - pt.gammaln(df / 2) - 0.5 * pt.log(df * np.pi) - pt.log(scale)
               - (df + 1) / 2 * pt.log1p(z**2 / df))
    return pt.switch(pt.eq(code, 1), student, normal)


def _scale_from_z(z, enc):
    """Variance parameter from a standard-normal ``z`` through the prior's quantile function."""
    code, a, b = enc[0], enc[1], enc[2]
    u = pt.clip(0.5 * pt.erfc(-z / np.sqrt(2.0)), 1e-15, 1 - 1e-15)    # Phi(z)
    half_normal = a * np.sqrt(2.0) * pt.erfinv(u)                         # Phi^-1((1+u)/2) * scale
    half_cauchy = a * pt.tan(np.pi / 2 * u)
    uniform = a + (b - a) * u
    log_normal = pt.exp(0.5 * (a + b * z))                                # log tau^2 ~ N(a, b)
    exponential = -pt.log1p(-u) / a
    return pt.switch(pt.eq(code, 0), half_normal,
           pt.switch(pt.eq(code, 1), half_cauchy,
           pt.switch(pt.eq(code, 2), uniform,
           pt.switch(pt.eq(code, 3), log_normal, exponential))))


def prior_data(model: GaussianModel, priors: PriorSet) -> dict[str, np.ndarray]:
    """The ``pm.Data`` values that encode ``priors`` for ``model``."""
    coef = np.stack([getattr(priors, r).encode() for r in model.coef_roles]) if model.p else np.zeros((0, 4))
    out = {"prior_coef": coef}
    for c in model.components:
        out[f"prior_{c.name}"] = getattr(priors, c.prior_role).encode()
    return out


def data_values(model: GaussianModel) -> dict[str, np.ndarray]:
    """The ``pm.Data`` values that carry the estimates of ``model``."""
    out = {"y": model.y, "X": model.X}
    if model.diagonal:
        out["se"] = model.se
        for c in model.components:
            out[f"K_{c.name}"] = np.diag(c.K).copy()
    else:
        out["S"] = model.S
        for c in model.components:
            out[f"K_{c.name}"] = c.K
    return out


def build_pymc_model(model: GaussianModel, priors: PriorSet) -> pm.Model:
    """Build the PyMC model (marginal likelihood over study effects).

    Free variables: ``b`` (coefficients, dim ``coef``) and ``z_<component>``; deterministics
    ``<component>`` (e.g. ``tau``). Study effects are drawn afterwards from their exact
    conditional distribution (see :mod:`sclcmeta.fitting`).

    Examples
    --------
    >>> from sclcmeta.engine import GaussianModel
    >>> from sclcmeta.priors import default_prior_set
    >>> m = build_pymc_model(GaussianModel.random_effects([-0.3, -0.1], [0.2, 0.1]), default_prior_set())
    >>> sorted(v.name for v in m.free_RVs)
    ['b', 'z_tau']
    """
    coords = {"coef": list(model.coef_names), "study": list(model.studies)}
    with pm.Model(coords=coords) as m:
        dv = data_values(model)
        pdv = prior_data(model, priors)
        y = pm.Data("y", dv["y"])
        X = pm.Data("X", dv["X"])
        pc = pm.Data("prior_coef", pdv["prior_coef"])
        b = pm.Flat("b", dims="coef")
        pm.Potential("b_prior", _effect_logp(b, pc.T).sum())
        sigmas = []
        for c in model.components:
            enc = pm.Data(f"prior_{c.name}", pdv[f"prior_{c.name}"])
            z = pm.Normal(f"z_{c.name}", 0.0, 1.0)
            s = pm.Deterministic(c.name, _scale_from_z(z, enc))
            sigmas.append((s, pm.Data(f"K_{c.name}", dv[f"K_{c.name}"])))
        mean = pt.dot(X, b)
        if model.diagonal:
            se = pm.Data("se", dv["se"])
            var = se**2
            for s, K in sigmas:
                var = var + s**2 * K
            pm.Normal("y_obs", mu=mean, sigma=pt.sqrt(var), observed=y)
        else:
            S = pm.Data("S", dv["S"])
            cov = S
            for s, K in sigmas:
                cov = cov + s**2 * K
            pm.MvNormal("y_obs", mu=mean, cov=cov, observed=y)
    return m

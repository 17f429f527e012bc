"""bayesmeta's improper and reference priors: where the posterior is proper, and their model-dependent densities.

The exact solver offers, as R's bayesmeta does (Röver 2020, J Stat Softw 93(6), section 2.3):

* ``flat()`` on an effect (the improper uniform prior, bayesmeta's default for mu): a zero prior precision in
  the closed-form update of the coefficients;
* ``flat()`` on tau (the improper uniform prior on [0, inf));
* ``jeffreys()`` on tau: ``p(tau) ∝ sqrt(sum_i (tau / (s_i^2 + tau^2))^2)``, the Jeffreys prior from the Fisher
  information of tau (bayesmeta's ``tau.prior = "Jeffreys"``; Bodnar et al. 2017), which depends on the SEs;
* ``fixed(value)``: tau held at a value (a fit conditional on tau).

When is the posterior proper? For ``y_i ~ N(x_i' b, s_i^2 + tau^2)`` with ``p_flat`` coefficients under flat
priors, integrating ``b`` leaves a marginal likelihood of tau that is bounded near 0 and decays like
``tau^-(k - p_flat)`` as tau grows (``|Sigma|^-1/2 ~ tau^-k``, ``|X' Sigma^-1 X|^-1/2 ~ tau^p_flat``). A prior
whose tail decays like ``tau^-a`` (``a = 0`` flat, ``a = 1`` Jeffreys) then gives a proper posterior exactly
when ``k - p_flat + a > 1``: a flat tau needs k >= 3 studies with a flat effect prior (k >= 2 with a proper
one), the Jeffreys prior k >= 2 (k >= 1). Both are integrable at 0. Flat coefficients need ``k >= p_flat``
(a full-rank design, which every model already has). :func:`check_propriety` refuses anything else with a
sentence saying what would make it proper.

Examples
--------
>>> from sclcmeta.engine import GaussianModel
>>> from sclcmeta.priors import default_prior_set
>>> m = GaussianModel.random_effects([0.1, -0.3], [0.2, 0.3])
>>> check_propriety(m, default_prior_set().replace(effect="flat()", tau="flat()"))
Traceback (most recent call last):
...
sclcmeta.errors.SpecError: an improper flat() prior on tau with a flat() effect prior needs at least 3 studies for a proper posterior (the likelihood of tau decays like tau^-1 here); this analysis has 2. Use jeffreys() or a proper tau prior such as half_normal(0.5) (Röver 2020, bayesmeta, section 2.3).
"""

from __future__ import annotations

import numpy as np

from ..errors import SpecError
from ..priors import EXACT_ONLY, PriorSet
from .gaussian import GaussianModel

#: Tail exponent ``a`` of each improper tau prior (``p(tau) ~ tau^-a`` as tau grows).
_TAIL = {"flat": 0, "jeffreys": 1}


def _ordinary_tau(model: GaussianModel) -> bool:
    """One variance component with K = I: the model bayesmeta's reference priors are defined for."""
    return len(model.components) == 1 and np.array_equal(model.components[0].K, np.eye(model.k))


def check_propriety(model: GaussianModel, priors: PriorSet) -> None:
    """Raise :class:`SpecError` unless every improper / data-dependent prior of ``model`` gives a proper posterior."""
    coef = [getattr(priors, r) for r in model.coef_roles]
    p_flat = sum(pr.family == "flat" for pr in coef)
    if p_flat > model.k:
        raise SpecError(f"{p_flat} coefficients with flat() priors cannot be identified from {model.k} estimate(s); "
                        "give the others proper priors.")
    for c in model.components:
        pr = getattr(priors, c.prior_role)
        if pr.family not in ("flat", "jeffreys"):
            continue
        if not _ordinary_tau(model):
            raise SpecError(f"a {pr} prior on {c.name} is defined here for the ordinary random-effects model (one "
                            "heterogeneity SD, independent studies) only; use a proper prior such as "
                            "half_normal(0.5) for this model.")
        decay = model.k - p_flat
        if decay + _TAIL[pr.family] <= 1:
            need = 2 - _TAIL[pr.family] + p_flat
            eff = "a flat() effect prior" if p_flat else "a proper effect prior"
            raise SpecError(f"an improper {pr} prior on {c.name} with {eff} needs at least {need} studies for a "
                            f"proper posterior (the likelihood of {c.name} decays like {c.name}^-{decay} here); this "
                            f"analysis has {model.k}. Use "
                            f"{'jeffreys() or ' if pr.family == 'flat' else ''}a proper {c.name} prior such as "
                            "half_normal(0.5) (Röver 2020, bayesmeta, section 2.3).")


def check_sampleable(model: GaussianModel, priors: PriorSet) -> None:
    """MCMC cannot use ``flat``, ``jeffreys`` or ``fixed`` priors: a :class:`SpecError` saying to use the exact solver."""
    used = [(r, getattr(priors, r)) for r in dict.fromkeys(list(model.coef_roles)
                                                         + [c.prior_role for c in model.components])]
    bad = [f"{r}={pr}" for r, pr in used if pr.family in EXACT_ONLY]
    if bad:
        raise SpecError(f"{', '.join(bad)}: flat, Jeffreys and fixed priors are handled by the exact solver only "
                        "(its closed-form update takes a flat prior exactly, and a fixed tau leaves nothing to sample); "
                        "use method = 'exact' (--method exact).")


def variance_logprior(prior, x: np.ndarray, model: GaussianModel) -> np.ndarray:
    """Log prior density of a heterogeneity SD at ``x`` (unnormalised for the improper ones).

    ``jeffreys``: ``0.5 * log(sum_i tau^2 / (s_i^2 + tau^2)^2)`` with the model's SEs ``s_i``; every other family
    is the prior's own :meth:`~sclcmeta.priors.Prior.logpdf`.
    """
    x = np.asarray(x, float)
    if prior.family != "jeffreys":
        return prior.logpdf(x)
    s2 = model.se ** 2
    with np.errstate(divide="ignore"):
        return 0.5 * np.log(np.sum(x[:, None] ** 2 / (s2[None, :] + x[:, None] ** 2) ** 2, axis=1))

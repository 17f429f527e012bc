"""Simulation-based calibration (Talts et al. 2018) of the exact solver: draw parameters from the prior,
data from the model, and check that the posterior CDF at the true value is uniform. A larger MCMC version
is ``benchmarks/sbc_mcmc.py``."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sclcmeta.engine import GaussianModel, solve_exact
from sclcmeta.priors import default_prior_set


@pytest.mark.parametrize("tau_prior", ["half_normal(0.5)", "half_cauchy(0.3)"])
def test_exact_solver_is_calibrated(tau_prior):
    rng = np.random.default_rng(20261121)
    ps = default_prior_set().replace(effect="normal(0, 0.5)", tau=tau_prior)
    n_sim, k = 300, 4
    u_mu, u_tau = [], []
    for _ in range(n_sim):
        mu = rng.normal(0, 0.5)
        tau = float(ps.tau.rvs(1, rng)[0])
        se = rng.uniform(0.1, 0.4, k)
        y = rng.normal(mu + tau * rng.standard_normal(k), se)
        post = solve_exact(GaussianModel.random_effects(y, se), ps)
        u_mu.append(post.coef("mu").cdf(mu)[0])
        u_tau.append(float(post.variance_marginal("tau").cdf(tau)))
    # uniform ranks: a miscalibrated solver (e.g. a wrong marginal likelihood) fails these at n = 300
    assert stats.kstest(u_mu, "uniform").pvalue > 0.01
    assert stats.kstest(u_tau, "uniform").pvalue > 0.01
    # 90% central intervals cover about 90% (binomial 99% band for n = 300)
    cover = np.mean((np.array(u_mu) > 0.05) & (np.array(u_mu) < 0.95))
    assert 0.84 < cover < 0.95

"""Independent estimates are fitted with vectors, not k x k matrices: memory stays linear in k; the
InferenceData of a fit is built only when asked for."""

from __future__ import annotations

import tracemalloc

import numpy as np

import sclcmeta as sm
from sclcmeta.engine import GaussianModel
from sclcmeta.fitting import conditional_study_effects, fit_model
from sclcmeta.priors import default_prior_set

K = 400


def _peak_mb(fn) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _large_model(k=K):
    rng = np.random.default_rng(3)
    se = rng.uniform(0.1, 0.4, k)
    return GaussianModel.random_effects(rng.normal(-0.2, np.sqrt(se**2 + 0.04)), se)


def test_exact_fit_of_many_independent_estimates_needs_no_k_by_k_array_per_node():
    m = _large_model()
    assert m.diagonal
    # one (G, k, k) array over the 480 refined nodes would be 480 * 400^2 * 8 B = 614 MB
    peak = _peak_mb(lambda: fit_model(m, default_prior_set(), method="exact").exact.theta(0).quantile(0.5))
    assert peak < 60, f"exact fit of k={K} peaked at {peak:.0f} MB"


def test_study_effect_draws_of_independent_estimates_are_elementwise():
    m = _large_model()
    rng = np.random.default_rng(0)
    n = 2000
    b, sig = rng.normal(-0.2, 0.05, (n, 1)), np.abs(rng.normal(0.2, 0.05, (n, 1)))
    # the dense algebra would hold (n, k, k) arrays: 2000 * 400^2 * 8 B = 2.6 GB each
    peak = _peak_mb(lambda: conditional_study_effects(m, b, sig, np.random.default_rng(1)))
    assert peak < 80, f"study-effect draws of k={K} peaked at {peak:.0f} MB"


def test_diagonal_study_effect_draws_follow_the_exact_conditional():
    """Elementwise draws have the conditional mean and variance of the dense formula."""
    m = GaussianModel.random_effects([-0.4, 0.1, -0.3], [0.2, 0.3, 0.15])
    n = 200_000
    b, sig = np.full((n, 1), -0.2), np.full((n, 1), 0.25)
    theta, _ = conditional_study_effects(m, b, sig, np.random.default_rng(2))
    Su = 0.25**2 * np.eye(3)
    Sigma = Su + m.S
    mean = -0.2 + Su @ np.linalg.solve(Sigma, m.y + 0.2)
    cov = Su - Su @ np.linalg.solve(Sigma, Su)
    assert np.all(np.abs(theta.mean(0) - mean) < 4 * np.sqrt(np.diag(cov) / n))
    np.testing.assert_allclose(theta.var(0), np.diag(cov), rtol=0.02)


def test_exact_fit_builds_its_inference_data_only_when_asked():
    res = sm.fit(sm.EffectData.from_arrays([-0.4, -0.2, -0.5, -0.3, -0.1], [0.2, 0.15, 0.25, 0.2, 0.3]),
                 method="exact")
    res.summary()
    assert not res.raw.idata_built
    idata = res.idata
    assert res.raw.idata_built and res.idata is idata
    assert {"posterior", "posterior_predictive", "prior", "log_likelihood", "log_prior"} <= set(idata.groups())
    assert idata.posterior["theta"].shape == (1, 4000, 5)

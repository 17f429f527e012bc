"""MCMC agrees with the exact solver; priors swap without rebuilding; the convergence gate marks failures.

Small draws keep CI fast; agreement tolerances are stated per check (MC error of ~1000 draws on a
posterior SD of ~0.15 is about 0.01).
"""

from __future__ import annotations

import math
import warnings

import arviz as az
import numpy as np
import pytest

import sclcmeta as sm
from sclcmeta.engine import GaussianModel
from sclcmeta.errors import ConvergenceWarning
from sclcmeta.fitting import CompileCache, fit_model
from sclcmeta.priors import default_prior_set

pytestmark = pytest.mark.mcmc

Y = [math.log(0.67), math.log(0.68), math.log(0.56)]
SE = [0.174, 0.179, 0.238]


@pytest.fixture(scope="module")
def cache():
    return CompileCache()


@pytest.mark.parametrize("prior", [{"tau": "half_normal(0.5)"}, {"tau": "half_cauchy(0.5)"},
                                   {"tau": "uniform(0, 2)"}, {"tau": "log_normal(-2.56, 1.74)"},
                                   {"effect": "student_t(0, 0.5, 3)"}])
def test_mcmc_matches_exact_and_reuses_the_compiled_model(cache, prior):
    m = GaussianModel.random_effects(Y, SE)
    ps = default_prior_set().replace(**prior)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mc = fit_model(m, ps, method="mcmc", draws=2000, tune=1000, chains=4, seed=11, cache=cache)
    ex = fit_model(m, ps, method="exact")
    draws = mc.idata.posterior["b"].sel(coef="mu").values
    ref = ex.exact.coef("mu").quantile([0.025, 0.5, 0.975])
    for q, r in zip([0.025, 0.5, 0.975], ref):
        # tolerance from the Monte Carlo standard error of the quantile (ArviZ), not a fixed number
        mcse = float(az.mcse(draws, method="quantile", prob=q))
        assert abs(np.quantile(draws, q) - r) < 4 * mcse + 0.01, (q, np.quantile(draws, q), r, mcse)
    assert np.median(mc.idata.posterior["tau"]) == pytest.approx(ex.exact.variance_marginal("tau").quantile(0.5),
                                                                abs=0.04)
    assert cache.misses == 1  # every prior family above ran on the one compiled model


def test_meta_regression_mcmc_matches_exact(cache):
    x = np.array([0.2, 0.26, 0.32, 0.45])
    y = np.array([-0.35, -0.4, -0.6, -0.7])
    se = np.array([0.15, 0.18, 0.2, 0.22])
    eff = sm.EffectData.from_arrays(y, se, liver=x)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mc = sm.fit(eff, model="meta_regression", covariates=("liver",), method="mcmc", draws=1000, tune=600,
                    chains=2, seed=3, cache=cache)
    ex = sm.fit(eff, model="meta_regression", covariates=("liver",), method="exact")
    a, b = mc.summary().set_index("comparison"), ex.summary().set_index("comparison")
    for q in ("liver",):
        assert a.loc[q, "median"] == pytest.approx(b.loc[q, "median"], abs=0.12)
    assert a.loc[a["quantity"] == "pooled", "median"].iloc[0] == pytest.approx(
        b.loc[b["quantity"] == "pooled", "median"].iloc[0], abs=0.03)


def test_convergence_gate_marks_a_short_run(cache):
    m = GaussianModel.random_effects(Y, SE)
    with pytest.warns(ConvergenceWarning, match="convergence gate"):
        raw = fit_model(m, default_prior_set(), method="mcmc", draws=60, tune=60, chains=2, seed=2, cache=cache)
    assert not raw.diagnostics.passed
    res = sm.results.FitResult("short", "OS", "a vs b", raw)
    assert res.summary()["gate"].str.startswith("FAILED").all()
    assert "not an answer" in repr(res)


def test_same_seed_gives_identical_draws(cache):
    m = GaussianModel.random_effects(Y, SE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        a = fit_model(m, default_prior_set(), method="mcmc", draws=200, tune=200, chains=2, seed=5, cache=cache)
        b = fit_model(m, default_prior_set(), method="mcmc", draws=200, tune=200, chains=2, seed=5, cache=cache)
    np.testing.assert_array_equal(a.idata.posterior["b"].values, b.idata.posterior["b"].values)


def test_idata_has_prior_predictive_and_data_groups(cache):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        raw = fit_model(GaussianModel.random_effects(Y, SE), default_prior_set(), method="mcmc", draws=200,
                        tune=200, chains=2, seed=5, cache=cache)
    groups = set(raw.idata.groups())
    assert {"posterior", "prior", "posterior_predictive", "observed_data", "sample_stats", "log_likelihood"} <= groups
    assert raw.idata.posterior["theta"].sizes["study"] == 3


@pytest.mark.parametrize("kw", [{"draws": 0}, {"draws": True}, {"chains": 0}, {"tune": -1}, {"seed": -1},
                                {"seed": 2**40}, {"method": "nuts"}])
def test_inference_settings_out_of_range_are_refused_before_sampling(kw):
    import sclcmeta as sm

    eff = sm.EffectData.from_arrays([-0.3, -0.2, -0.4, -0.1, -0.5], [0.2, 0.1, 0.2, 0.15, 0.3])
    with pytest.raises(sm.SpecError, match=next(iter(kw)) if "method" not in kw else "unknown method"):
        sm.fit(eff, **{"method": "mcmc", **kw})


def test_non_finite_estimates_are_refused_with_the_study_named():
    import numpy as np

    import sclcmeta as sm

    eff = sm.EffectData.from_arrays([-0.3, -0.2], [0.2, 0.1])
    with pytest.raises(sm.EvidenceError, match="positive and finite"):
        sm.EffectData.from_arrays([-0.3], [np.inf])
    eff.data.loc[0, "y"] = np.nan
    with pytest.raises(sm.SpecError, match="study 1 have a log HR that is not a finite number"):
        sm.fit(eff)

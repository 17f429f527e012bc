"""Prior sweeps: the vectorized sweep equals separate exact fits; PSIS reweighting approximates them and
refuses when unreliable; the closed-form prior densities equal scipy's."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import sclcmeta as sm
from sclcmeta.engine import Component, GaussianModel, solve_exact
from sclcmeta.engine.exact import log_scale_prior
from sclcmeta.engine.sweep import mixture_quantiles, psis_reweight, sweep_exact
from sclcmeta.errors import SpecError
from sclcmeta.priors import default_prior_set, parse_prior

Y = [-0.4, -0.2, -0.5, -0.3, -0.1]
SE = [0.2, 0.15, 0.25, 0.2, 0.3]
TAUS = ["half_normal(0.1)", "half_normal(1)", "half_cauchy(0.5)", "uniform(0, 2)", "uniform(0.1, 1)",
        "log_normal(-2.56, 1.74)", "exponential(5)"]
EFFECTS = ["normal(0, 2)", "normal(-0.29, 0.175)", "student_t(0, 2.5, 1)"]
KEYS = ["median", "q2.5", "q97.5", "mean", "prob_below_1", "prob_below_0.8"]


def _separate(model, sets, target="mu"):
    rows = []
    for ps in sets:
        post = solve_exact(model, ps)
        mix = post.predictive() if target == "predictive" else post.coef(target)
        rows.append([*mix.quantile([0.5, 0.025, 0.975]), mix.mean, mix.prob_below(0.0),
                     mix.prob_below(math.log(0.8))])
    return np.array(rows)


def test_sweep_equals_separate_exact_fits_for_every_prior_family():
    m = GaussianModel.random_effects(Y, SE)
    ps = default_prior_set()
    sets = [ps.replace(tau=t, effect=e) for t in TAUS for e in EFFECTS]
    for target in ("pooled", "predictive"):
        out = sweep_exact(m, sets, target=target)
        got = np.stack([out[k] for k in KEYS], 1)
        want = _separate(m, sets, "mu" if target == "pooled" else "predictive")
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, err_msg=target)
    tau_means = [float(p.weights @ p.nodes[:, 0]) for p in (solve_exact(m, s) for s in sets)]
    np.testing.assert_allclose(out["sigma_mean"], tau_means, rtol=0, atol=1e-9)


def test_sweep_of_a_meta_regression_coefficient_and_of_a_two_component_model():
    base = GaussianModel.random_effects(Y, SE)
    X = np.column_stack([np.ones(5), [0, 1, 0, 1, 1.0]])
    mr = GaussianModel(y=base.y, S=base.S, X=X, coef_names=("mu", "beta"), coef_roles=("effect", "beta"),
                       components=base.components)
    ps = default_prior_set()
    sets = [ps.replace(tau=t, beta=b) for t in ("half_normal(0.3)", "uniform(0, 2)")
            for b in ("normal(0, 1)", "student_t(0, 1, 3)")]
    out = sweep_exact(mr, sets, target="beta")
    np.testing.assert_allclose(np.stack([out[k] for k in KEYS], 1), _separate(mr, sets, "beta"), atol=1e-9)
    Z = np.kron(np.eye(2), np.ones((2, 1)))
    nested = GaussianModel(y=base.y[:4], S=base.S[:4, :4], X=np.ones((4, 1)), coef_names=("mu",),
                           coef_roles=("effect",), components=(Component("tau", Z @ Z.T), Component(
                               "omega", np.eye(4), "omega")), kind="nested")
    sets = [ps.replace(tau=t) for t in ("half_normal(0.2)", "half_cauchy(1)")]
    out = sweep_exact(nested, sets)
    np.testing.assert_allclose(np.stack([out[k] for k in KEYS], 1), _separate(nested, sets), atol=1e-9)


def test_closed_form_heterogeneity_densities_equal_scipy():
    x = np.array([0.0, 1e-3, 0.05, 0.3, 0.99, 1.0, 2.5, 7.0])
    for text in TAUS + ["half_cauchy(0.05)", "exponential(0.3)", "log_normal(-1, 0.5)", "uniform(0.2, 0.4)"]:
        pr = parse_prior(text)
        want = pr.logpdf(x)
        got = log_scale_prior(pr.family, dict(pr.params), x)
        fin = np.isfinite(want)
        assert np.array_equal(fin, np.isfinite(got)), text
        np.testing.assert_allclose(got[fin], want[fin], rtol=1e-12, atol=1e-12, err_msg=text)


def test_vectorized_mixture_quantiles_invert_the_mixture_cdf():
    rng = np.random.default_rng(4)
    w = rng.dirichlet(np.ones(30), size=6)
    m = rng.normal(0, 1, (6, 30))
    v = rng.uniform(0.01, 2, (6, 30))
    q = np.array([1e-6, 0.025, 0.5, 0.975])
    x = mixture_quantiles(w, m, v, q)
    from scipy.special import ndtr
    cdf = (w[:, None, :] * ndtr((x[:, :, None] - m[:, None, :]) / np.sqrt(v[:, None, :]))).sum(-1)
    np.testing.assert_allclose(cdf, np.broadcast_to(q, cdf.shape), rtol=0, atol=1e-12)


def test_public_sweep_table_names_settings_and_matches_separate_fits():
    eff = sm.EffectData.from_arrays(Y, SE)
    grid = pd.DataFrame({"tau": ["half_normal(0.25)", "half_cauchy(1)"], "effect": ["normal(0, 1)", "normal(0, 10)"],
                         "name": ["narrow", "wide"]})
    tab = sm.sweep(eff, grid)
    assert list(tab["setting"]) == ["narrow", "wide"]
    assert list(tab["tau"]) == ["half_normal(scale=0.25)", "half_cauchy(scale=1)"]
    assert not tab["approximate"].any() and set(tab["method"]) == {"exact"}
    for row, (tau, effect) in zip(tab.itertuples(), zip(grid["tau"], grid["effect"])):
        p = sm.fit(eff, priors={"tau": tau, "effect": effect}, method="exact").pooled_hr()
        for col in ("hr_median", "hr_q2.5", "hr_q97.5", "prob_hr_below_1", "prob_hr_below_0.8"):
            assert abs(tab.loc[row.Index, col] - p[col]) < 1e-9, col


def test_public_sweep_refuses_unknown_prior_targets_and_empty_settings():
    eff = sm.EffectData.from_arrays(Y, SE)
    with pytest.raises(SpecError, match="unknown key 'sigma'"):
        sm.sweep(eff, [{"sigma": "half_normal(1)"}])
    with pytest.raises(SpecError, match="at least one"):
        sm.sweep(eff, [])


def _posterior_draws(model, ps, n, rng):
    """Independent draws of the exact posterior (a stand-in for MCMC draws with no sampler noise of its own)."""
    d = solve_exact(model, ps).sample(n, rng)
    return d["b"], d["tau"][:, None]


def test_psis_reweighting_approximates_exact_fits_under_other_priors():
    m = GaussianModel.random_effects(Y, SE)
    base = default_prior_set()
    b, sig = _posterior_draws(m, base, 8000, np.random.default_rng(7))
    sets = [base.replace(tau="half_normal(0.3)"), base.replace(tau="half_normal(0.7)"),
            base.replace(effect="normal(0, 1)")]
    out = psis_reweight(m, base, sets, b, sig)
    exact = sweep_exact(m, sets)
    assert (out["khat"] <= 0.7).all()
    sd = (exact["q97.5"] - exact["q2.5"]) / 3.92
    # Monte Carlo error of a median from ~8000 draws is ~0.015 sd; 0.06 sd is four of them
    assert np.all(np.abs(out["median"] - exact["median"]) < 0.06 * sd)
    assert np.all(np.abs(out["prob_below_1"] - exact["prob_below_1"]) < 0.01)


def test_psis_refuses_a_prior_the_draws_cannot_represent():
    m = GaussianModel.random_effects(Y, SE)
    base = default_prior_set()
    b, sig = _posterior_draws(m, base, 2000, np.random.default_rng(1))
    with pytest.raises(SpecError, match="unreliable.*zero density"):
        psis_reweight(m, base, [base.replace(tau="uniform(0, 0.05)")], b, sig)
    with pytest.raises(SpecError, match="unreliable"):
        psis_reweight(m, base, [base.replace(effect="normal(2, 0.05)")], b, sig)
    kept = psis_reweight(m, base, [base.replace(effect="normal(2, 0.05)")], b, sig, strict=False)
    assert not (kept["khat"][0] <= 0.7 and kept["ess"][0] >= 200)


def test_sweep_of_many_heterogeneity_priors_per_effect_prior_equals_separate_fits():
    """Settings sharing an effect prior are solved from one CDF table (12 here, above the table's
    threshold); the answers are still the separate fits' to 1e-9, for the pooled and the predictive effect."""
    m = GaussianModel.random_effects(Y, SE)
    ps = default_prior_set()
    taus = [f"half_normal({s:.3f})" for s in np.linspace(0.05, 2.0, 8)] + \
        [f"half_cauchy({s:.3f})" for s in (0.1, 0.5, 1.0, 2.0)]
    sets = [ps.replace(tau=t, effect=e) for e in ("normal(0, 1)", "normal(-0.2, 0.5)") for t in taus]
    for target in ("pooled", "predictive"):
        out = sweep_exact(m, sets, target=target)
        got = np.stack([out[k] for k in KEYS], 1)
        want = _separate(m, sets, "mu" if target == "pooled" else "predictive")
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, err_msg=target)

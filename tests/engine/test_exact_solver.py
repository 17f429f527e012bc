"""The exact solver against independent references: brute-force 2-D quadrature (scipy) and closed forms."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from sclcmeta.engine import Component, GaussianModel, solve_exact
from sclcmeta.priors import default_prior_set

DATASETS = {
    # Q1-like: three 2L cohorts (log HR, SE)
    "three_cohorts": ([math.log(0.67), math.log(0.68), math.log(0.56)], [0.174, 0.179, 0.238]),
    # heterogeneous, five studies
    "five_heterogeneous": ([-0.36, -0.64, -0.25, -0.17, 0.22], [0.15, 0.16, 0.18, 0.2, 0.11]),
    # two studies
    "two_studies": ([-0.1, -0.6], [0.2, 0.3]),
}
PRIORS = {
    "hn05": {"effect": "normal(0, 2)", "tau": "half_normal(0.5)"},
    "hc05": {"effect": "normal(0, 2)", "tau": "half_cauchy(0.5)"},
    "unif": {"effect": "normal(0, 10)", "tau": "uniform(0, 2)"},
    "turner": {"effect": "normal(0, 2)", "tau": "log_normal(-2.56, 1.74)"},
    "t_effect": {"effect": "student_t(0, 0.5, 3)", "tau": "half_normal(0.5)"},
}


def _log_tau_prior(spec, t):
    """Heterogeneity prior densities written out by hand (independent of sclcmeta.priors)."""
    fam, args = spec.split("(")
    a = [float(v) for v in args.rstrip(")").split(",")]
    if fam == "half_normal":
        return np.log(2) + stats.norm.logpdf(t, 0, a[0])
    if fam == "half_cauchy":
        return np.log(2 / (np.pi * a[0])) - np.log1p((t / a[0]) ** 2)
    if fam == "uniform":
        return np.where((t >= a[0]) & (t <= a[1]), -np.log(a[1] - a[0]), -np.inf)
    if fam == "exponential":
        return np.where(t >= 0, np.log(a[0]) - a[0] * t, -np.inf)
    if fam == "log_normal":  # log(tau^2) ~ N(a0, a1): p(tau) = N(log tau^2) * 2 / tau
        t = np.maximum(t, 1e-300)
        return stats.norm.logpdf(np.log(t**2), a[0], a[1]) + np.log(2 / t)
    raise AssertionError(fam)


def _log_effect_prior(spec, m):
    fam, args = spec.split("(")
    a = [float(v) for v in args.rstrip(")").split(",")]
    return stats.norm.logpdf(m, a[0], a[1]) if fam == "normal" else stats.t.logpdf(m, a[2], a[0], a[1])


def _reference_quantiles(y, se, priors, qs=(0.025, 0.5, 0.975)):
    """Independent reference: integrate the joint density over tau with scipy's adaptive vector quadrature at
    every mu of a fine grid, accumulate the marginal of mu with Simpson's rule and invert it."""
    y, se = np.asarray(y)[:, None], np.asarray(se)[:, None]
    mu = np.linspace(-8.0, 8.0, 3201)
    lp_mu = _log_effect_prior(priors["effect"], mu)

    def f(t):
        ll = stats.norm.logpdf(y, mu[None, :], np.sqrt(se**2 + t**2)).sum(0)
        return np.exp(ll + lp_mu + _log_tau_prior(priors["tau"], np.array(t)))

    upper = 2.0 if priors["tau"].startswith("uniform") else 60.0
    pts = [0.05, 0.2, 0.5, 1.0, 2.0] if upper > 2 else [0.05, 0.2, 0.5, 1.0]
    d = sum(integrate.quad_vec(f, a, b, epsabs=1e-14, epsrel=1e-9)[0]
            for a, b in zip([0.0] + pts, pts + [upper]))
    cdf = integrate.cumulative_simpson(d, x=mu, initial=0.0)
    cdf /= cdf[-1]
    return [float(np.interp(q, cdf, mu)) for q in qs]


@pytest.mark.reference
@pytest.mark.parametrize("data", ["three_cohorts", "five_heterogeneous", "two_studies"])
@pytest.mark.parametrize("prior", ["hn05", "hc05", "unif", "turner", "t_effect"])
def test_exact_pooled_quantiles_match_brute_force_quadrature(data, prior):
    y, se = DATASETS[data]
    ps = default_prior_set().replace(**PRIORS[prior])
    post = solve_exact(GaussianModel.random_effects(y, se), ps)
    got = post.coef("mu").quantile([0.025, 0.5, 0.975])
    ref = _reference_quantiles(y, se, PRIORS[prior])
    np.testing.assert_allclose(got, ref, atol=2e-3)


def _precise_quantiles(y, se, tau_prior, effect_sd, qs=(0.5, 0.025, 0.975)):
    """Reference to ~1e-13: given tau, mu is normal in closed form (normal effect prior), so the marginal
    CDF of mu is one integral over tau, done by scipy's adaptive ``quad`` at relative tolerance 1e-13,
    and inverted by ``brentq``. Also the posterior mean of tau."""
    from scipy import optimize, special

    y, se = np.asarray(y, float), np.asarray(se, float)

    def cond(t):
        v = se**2 + t * t
        P = (1 / v).sum() + 1 / effect_sd**2
        r = (y / v).sum()
        ll = -0.5 * (np.log(v).sum() + (y * y / v).sum() - r * r / P + np.log(P))
        return ll, r / P, 1 / math.sqrt(P)

    ll0 = cond(float(np.std(y)))[0]

    def post(t):
        return math.exp(cond(t)[0] - ll0 + float(_log_tau_prior(tau_prior, np.array(t))))

    upper = float(tau_prior.rstrip(")").split(",")[1]) if tau_prior.startswith("uniform") else np.inf

    def quad(g):
        return integrate.quad(g, 0, upper, epsabs=0, epsrel=1e-13, limit=1000)[0]

    Z = quad(post)

    def cdf(x):
        return quad(lambda t: post(t) * special.ndtr((x - cond(t)[1]) / cond(t)[2])) / Z

    return ([optimize.brentq(lambda x: cdf(x) - q, -5, 5, xtol=1e-15) for q in qs],
            quad(lambda t: post(t) * t) / Z)


@pytest.mark.parametrize("data", ["five_heterogeneous", "two_studies"])
@pytest.mark.parametrize("tau", ["half_normal(0.5)", "half_cauchy(0.5)", "exponential(2)", "uniform(0, 2)",
                                 "log_normal(-2.56, 1.74)"])
def test_exact_solver_is_accurate_to_1e_10_for_every_heterogeneity_prior_family(data, tau):
    """The refined grid (sinh map, tanh-sinh ends) is accurate far below the 1e-9 at which the prior
    sweep is compared with separate fits: checked against adaptive quadrature, not against itself."""
    y, se = DATASETS[data]
    ps = default_prior_set().replace(tau=tau, effect="normal(0, 2)")
    post = solve_exact(GaussianModel.random_effects(y, se), ps)
    ref_q, ref_tau_mean = _precise_quantiles(y, se, tau, 2.0)
    np.testing.assert_allclose(post.coef("mu").quantile([0.5, 0.025, 0.975]), ref_q, rtol=0, atol=1e-10)
    # two studies under half_cauchy: the tau tail beyond the first pass's reach (~1e-8 of the mean) is cut
    assert abs(float(post.weights @ post.nodes[:, 0]) - ref_tau_mean) < 1e-7


def test_exact_tau_median_matches_quadrature():
    y, se = DATASETS["five_heterogeneous"]
    ps = default_prior_set()
    post = solve_exact(GaussianModel.random_effects(y, se), ps)
    y, se = np.asarray(y), np.asarray(se)

    t = np.linspace(0.0, 3.0, 1501)

    def f(m):  # joint density at mu = m for every tau on the grid
        return np.exp(stats.norm.logpdf(y[:, None], m, np.sqrt(se[:, None] ** 2 + t[None] ** 2)).sum(0)
                      + stats.norm.logpdf(m, 0, 2) + stats.halfnorm.logpdf(t, scale=0.5))

    marg = integrate.quad_vec(f, -4, 4, epsabs=1e-14)[0]
    cdf = integrate.cumulative_simpson(marg, x=t, initial=0.0)
    med = float(np.interp(0.5, cdf / cdf[-1], t))
    assert post.variance_marginal("tau").quantile(0.5) == pytest.approx(med, abs=3e-3)


def test_fixed_effect_with_normal_prior_is_the_conjugate_closed_form():
    y, se = np.array(DATASETS["five_heterogeneous"][0]), np.array(DATASETS["five_heterogeneous"][1])
    ps = default_prior_set().replace(effect="normal(0.1, 0.8)")
    post = solve_exact(GaussianModel.random_effects(y, se, fixed=True), ps)
    prec = 1 / 0.8**2 + (1 / se**2).sum()
    mean = (0.1 / 0.8**2 + (y / se**2).sum()) / prec
    mu = post.coef("mu")
    assert mu.mean == pytest.approx(mean, abs=1e-10)
    assert mu.sd == pytest.approx(prec**-0.5, abs=1e-10)
    assert mu.quantile(0.975)[0] == pytest.approx(mean + 1.959964 * prec**-0.5, abs=1e-6)


def test_vague_fixed_effect_tends_to_inverse_variance_pooling():
    y, se = np.array(DATASETS["three_cohorts"][0]), np.array(DATASETS["three_cohorts"][1])
    post = solve_exact(GaussianModel.random_effects(y, se, fixed=True), default_prior_set().replace(effect="normal(0, 1000)"))
    w = 1 / se**2
    assert post.coef("mu").mean == pytest.approx((w * y).sum() / w.sum(), abs=1e-5)


def test_shrunken_study_effects_lie_between_estimate_and_pooled_mean():
    y, se = DATASETS["five_heterogeneous"]
    post = solve_exact(GaussianModel.random_effects(y, se), default_prior_set())
    mu = post.coef("mu").mean
    for i, yi in enumerate(y):
        th = post.theta(i).mean
        assert min(yi, mu) - 1e-9 <= th <= max(yi, mu) + 1e-9


def test_predictive_is_wider_than_pooled():
    y, se = DATASETS["five_heterogeneous"]
    post = solve_exact(GaussianModel.random_effects(y, se), default_prior_set())
    assert post.predictive().sd > post.coef("mu").sd
    assert post.predictive().mean == pytest.approx(post.coef("mu").mean, abs=1e-9)


def test_meta_regression_matches_brute_force_quadrature():
    rng = np.random.default_rng(5)
    x = np.array([0.1, 0.25, 0.3, 0.45, 0.6, 0.2])
    se = rng.uniform(0.12, 0.3, 6)
    y = -0.3 + 0.8 * (x - x.mean()) + rng.normal(0, se)
    X = np.column_stack([np.ones(6), x - x.mean()])
    m = GaussianModel(y=y, S=np.diag(se**2), X=X, coef_names=("mu", "x"), coef_roles=("effect", "beta"),
                      components=(Component("tau", np.eye(6)),))
    ps = default_prior_set()
    post = solve_exact(m, ps)
    # reference: brute-force Riemann sum of the joint density on a dense 3-D grid (mu, beta, tau)
    mu = np.linspace(-1.6, 1.0, 131)[:, None, None]
    b = np.linspace(-3.5, 5.0, 171)[None, :, None]
    t = np.linspace(0.0, 2.5, 251)[None, None, :]
    ll = sum(stats.norm.logpdf(y[i], mu + b * X[i, 1], np.sqrt(se[i] ** 2 + t**2)) for i in range(6))
    lp = ll + stats.norm.logpdf(mu, 0, 2) + stats.norm.logpdf(b, 0, 1) + stats.halfnorm.logpdf(t, scale=0.5)
    w = np.exp(lp - lp.max())
    w[..., 0] *= 0.5  # trapezoid end point at tau = 0
    mean_b = float((w * b).sum() / w.sum())
    assert post.coef("x").mean == pytest.approx(mean_b, abs=2e-3)


def test_nested_model_with_singleton_groups_is_not_identified_but_solves():
    # two variance components on the same structure: the solver still integrates both
    y, se = DATASETS["five_heterogeneous"]
    k = len(y)
    groups = np.array([0, 0, 1, 1, 2])
    Z = np.eye(3)[groups]
    m = GaussianModel(y=np.array(y), S=np.diag(np.array(se) ** 2), X=np.ones((k, 1)), coef_names=("mu",),
                      coef_roles=("effect",), components=(Component("tau", Z @ Z.T), Component("omega", np.eye(k), "omega")))
    post = solve_exact(m, default_prior_set())
    assert np.isfinite(post.coef("mu").mean)
    assert 0 < post.variance_marginal("omega").quantile(0.5) < 1


def test_more_than_three_variance_components_is_refused():
    from sclcmeta.errors import SpecError

    k = 3
    comps = tuple(Component(f"s{i}", np.eye(k)) for i in range(4))
    m = GaussianModel(y=np.zeros(k), S=np.eye(k), X=np.ones((k, 1)), coef_names=("mu",), coef_roles=("effect",),
                      components=comps)
    with pytest.raises(SpecError, match="at most 3 variance parameters"):
        solve_exact(m, default_prior_set())

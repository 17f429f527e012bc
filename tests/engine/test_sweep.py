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


def _scipy_logpdf(pr, x):
    """scipy.stats' log density of a prior (the log-normal one as its definition: tau^2 ~ LN(mu, sigma))."""
    from scipy import stats

    p = dict(pr.params)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"normal": lambda: stats.norm.logpdf(x, p.get("mean"), p.get("sd")),
                "student_t": lambda: stats.t.logpdf(x, p.get("df"), p.get("mean"), p.get("scale")),
                "half_normal": lambda: stats.halfnorm.logpdf(x, scale=p.get("scale")),
                "half_cauchy": lambda: stats.halfcauchy.logpdf(x, scale=p.get("scale")),
                "exponential": lambda: stats.expon.logpdf(x, scale=1 / p.get("rate", 1.0)),
                "uniform": lambda: stats.uniform.logpdf(x, p.get("lower"), p.get("upper", 1.0) - p.get("lower", 0.0)),
                "log_normal": lambda: np.where(x > 0, stats.lognorm.logpdf(x * x, p.get("sigma"), scale=np.exp(p.get("mu", 0.0)))
                                               + np.log(2 * np.abs(x)), -np.inf)}[pr.family]()


def test_closed_form_prior_densities_equal_scipy():
    x = np.array([-0.5, 0.0, 1e-3, 0.05, 0.3, 0.99, 1.0, 2.5, 7.0])
    for text in TAUS + EFFECTS + ["half_cauchy(0.05)", "exponential(0.3)", "log_normal(-1, 0.5)", "uniform(0.2, 0.4)",
                                  "normal(-0.29, 0.175)", "student_t(0.1, 0.5, 30)"]:
        pr = parse_prior(text)
        want = _scipy_logpdf(pr, x)
        fin = np.isfinite(want)
        for got in ([pr.logpdf(x)] + ([log_scale_prior(pr.family, dict(pr.params), x)] if pr.group == "scale" else [])):
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
    """Settings sharing an effect prior are solved from one CDF table (8 half-normal priors here, at the
    table's threshold; the 4 half-Cauchy ones are solved directly); the answers are still the separate
    fits' to 1e-9, for the pooled and the predictive effect, with a normal or a Student-t effect prior."""
    m = GaussianModel.random_effects(Y, SE)
    ps = default_prior_set()
    taus = [f"half_normal({s:.3f})" for s in np.linspace(0.05, 2.0, 8)] + \
        [f"half_cauchy({s:.3f})" for s in (0.1, 0.5, 1.0, 2.0)]
    sets = [ps.replace(tau=t, effect=e) for e in ("normal(0, 1)", "normal(-0.2, 0.5)", "student_t(0, 1, 3)")
            for t in taus]
    for target in ("pooled", "predictive"):
        out = sweep_exact(m, sets, target=target)
        got = np.stack([out[k] for k in KEYS], 1)
        want = _separate(m, sets, "mu" if target == "pooled" else "predictive")
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, err_msg=target)


# -- the CDF table's pieces, against closed forms ------------------------------------------------------


def test_hermite_error_constant_is_the_maximum_of_he15_times_the_normal_density():
    from numpy.polynomial.hermite_e import hermeval

    from sclcmeta.engine.sweep import _HERMITE_BOUND, _HERMITE_M

    z = np.linspace(-12, 12, 480001)
    coef = np.zeros(2 * _HERMITE_M + 2)
    coef[-1] = 1.0                                    # He_15
    peak = np.max(np.abs(hermeval(z, coef)) * np.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))
    assert peak <= _HERMITE_BOUND <= peak * 1.001


def test_scaled_normal_cdf_derivatives_sum_to_the_cdf_increment():
    """sum_k h^k F^(k)(x) / k! t^k is F's Taylor series: for a small step it equals scipy's
    F(x + t h) - F(x) to the series' remainder (below 1e-13 here)."""
    from scipy.stats import norm

    from sclcmeta.engine.table_kernels import derivative_kernels

    m, s = np.array([0.0, -0.3, 0.4]), np.array([1.0, 0.2, 0.5])
    x = np.array([-2.5, -0.35, 0.0, 0.3, 1.7])
    h = 0.12
    K = derivative_kernels(x, m, s, h, 7)                                  # (G, M, n)
    np.testing.assert_allclose(K[:, 0, :], h * norm.pdf(x[None, :], m[:, None], s[:, None]), rtol=1e-14)
    for t in (-0.1, 0.05, 0.1):
        series = (K * (t ** np.arange(1, 8))[None, :, None]).sum(1)
        want = norm.cdf(x[None, :] + t * h, m[:, None], s[:, None]) - norm.cdf(x[None, :], m[:, None], s[:, None])
        np.testing.assert_allclose(series, want, rtol=0, atol=1e-13)


def test_two_point_hermite_inversion_reproduces_a_degree_15_cdf_exactly():
    """The regularized incomplete beta function I_t(a, b) with a + b = 16 is a monotone polynomial of
    degree 15 on [0, 1], so the interpolant built from its Taylor coefficients at both ends is that
    polynomial and its inverse is scipy's betaincinv."""
    from numpy.polynomial import polynomial as P
    from scipy.special import betainc, betaincinv

    from sclcmeta.engine.sweep import _invert_hermite

    n, M = 15, 7
    rows_a, rows_b, qs = [], [], []
    for a in (3, 6, 10):
        b = n + 1 - a
        coef = sum(math.comb(n, j) * P.polymul(P.polypow([0, 1], j), P.polypow([1, -1], n - j)) for j in range(a, n + 1))
        at1 = [P.polyval(1.0, P.polyder(coef, k)) / math.factorial(k) if k else 1.0 for k in range(M + 1)]
        for q in (0.025, 0.5, 0.975):
            rows_a.append(coef[:M + 1])
            rows_b.append(at1)
            qs.append((q, a, b))
    t = _invert_hermite(np.array(rows_a), np.array(rows_b), np.array([q for q, _, _ in qs]))
    # the Newton iteration stops after a step below 1e-6 of the interval: the error left is below 1e-12
    # of it (in the sweep's tables the interval is a fraction of an SD, so ~1e-14 in the effect)
    want = np.array([betaincinv(a, b, q) for q, a, b in qs])
    np.testing.assert_allclose(t, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(betainc([a for _, a, _ in qs], [b for _, _, b in qs], t), [q for q, _, _ in qs], atol=1e-12)


def test_sweep_weights_recomputed_in_log_space_where_the_two_factors_underflow():
    """400 precise cohorts put the likelihood of tau far from where a tight log-normal prior sits: the
    data factor and the prior factor of a setting are then each below 1e-300 where the other peaks,
    their product underflows, and the sweep must fall back to log-space weights (table and direct
    paths alike) to equal the separate fits."""
    rng = np.random.default_rng(11)
    se = np.full(400, 0.05)
    m = GaussianModel.random_effects(rng.normal(-0.2, np.sqrt(0.05**2 + se**2)), se)
    ps = default_prior_set()
    taus = [f"log_normal({math.log(v):.4f}, 0.02)" for v in np.linspace(1.0, 1.5, 9)]
    sets = [ps.replace(tau=t, effect="normal(0, 1)") for t in taus] + [ps.replace(tau=taus[0], effect="normal(0, 2)")]
    out = sweep_exact(m, sets)
    got = np.stack([out[k] for k in KEYS], 1)
    np.testing.assert_allclose(got, _separate(m, sets), rtol=0, atol=1e-9)


def test_prior_settings_built_from_memoized_priors_equal_replace():
    """The sweep parses each distinct (target, value) once and builds the sets without re-validating:
    the sets, names included, are those PriorSet.replace builds, for plain, named, DataFrame (empty
    cells) and table-valued settings, and a bad value is still refused with replace()'s message."""
    from sclcmeta.analyses.prior_sweep import prior_settings
    from sclcmeta.errors import PriorError

    base = default_prior_set()
    plain = [{"tau": t, "effect": e} for t in ("half_normal(0.5)", "half_cauchy(1)") for e in ("normal(0, 1)", "normal(0, 2)")]
    settings = plain + plain + [{"tau": "half_normal(0.5)", "name": "HN"}, {"setting": "S", "tau": "half_cauchy(1)"},
                                {"effect": {"family": "normal", "mean": 0, "sd": 3}}, {}]
    got = prior_settings(settings, base)
    want = [base.replace(**s) for s in plain + plain] + [base.replace(tau="half_normal(0.5)", name="HN"),
                                                          base.replace(tau="half_cauchy(1)", name="S"),
                                                          base.replace(effect={"family": "normal", "mean": 0, "sd": 3}),
                                                          base.replace()]
    assert got == want and [g.name for g in got] == [w.name for w in want]
    frame = pd.DataFrame({"tau": ["half_normal(0.5)", np.nan], "effect": [np.nan, "normal(0, 2)"]})
    assert prior_settings(frame, base) == [base.replace(tau="half_normal(0.5)"), base.replace(effect="normal(0, 2)")]
    with pytest.raises(PriorError, match="tau needs a positive"):
        prior_settings([{"tau": "normal(0, 1)"}], base)

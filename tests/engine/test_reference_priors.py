"""Flat (improper uniform) effect and tau priors, bayesmeta's Jeffreys tau prior and a fixed tau, in the exact solver.

References: bayesmeta's own output (Röver 2020, J Stat Softw 93(6); transcribed with repository, path and commit
in ``reference_data/published_references.json``): the eight schools under bayesmeta's default priors
(p(mu, tau) ∝ 1) and a 3-study example with ``tau.prior = "Jeffreys"`` and a uniform mu; closed forms for a
fixed tau; brute-force scipy quadrature for a flat effect prior with a proper tau prior.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

import sclcmeta as sm
from sclcmeta.engine import GaussianModel, solve_exact
from sclcmeta.errors import PriorError, SpecError
from sclcmeta.priors import default_prior_set, parse_prior

REF = json.loads((Path(__file__).parents[1] / "reference_data" / "published_references.json").read_text())


def _post(name, **priors):
    ref = REF[name]
    return solve_exact(GaussianModel.random_effects(ref["data"]["y"], ref["data"]["sigma"]),
                       default_prior_set().replace(**priors)), ref["expected"]


@pytest.mark.reference
def test_eight_schools_under_bayesmeta_default_flat_priors_match_its_printed_summary():
    post, exp = _post("bayesmeta_eight_schools_uniform_priors", effect="flat()", tau="flat()")
    mu, tau = post.coef("mu"), post.variance_marginal("tau")
    assert mu.quantile(0.5)[0] == pytest.approx(exp["mu"]["median"], rel=2e-4)
    assert mu.mean == pytest.approx(exp["mu"]["mean"], rel=2e-4)
    assert mu.sd == pytest.approx(exp["mu"]["sd"], rel=1e-3)
    assert mu.mode() == pytest.approx(exp["mu"]["mode"], rel=2e-4)
    lo, hi = mu.hdi(0.95)
    assert (lo, hi) == pytest.approx((exp["mu"]["hpd95_lower"], exp["mu"]["hpd95_upper"]), abs=5e-3)
    assert tau.quantile(0.5) == pytest.approx(exp["tau"]["median"], rel=1e-5)
    assert tau.mean == pytest.approx(exp["tau"]["mean"], rel=1e-5)
    assert tau.sd == pytest.approx(exp["tau"]["sd"], rel=1e-5)
    assert tau.mode() == 0.0 and tau.hdi(0.95) == pytest.approx((0.0, exp["tau"]["hpd95_upper"]), abs=1e-4)


@pytest.mark.reference
def test_jeffreys_tau_prior_with_flat_effect_matches_bayesmeta():
    post, exp = _post("okumura_bayesmeta_3studies_jeffreys", effect="flat()", tau="jeffreys()")
    mu, tau = post.coef("mu"), post.variance_marginal("tau")
    assert mu.mode() == pytest.approx(exp["mu"]["mode"], rel=1e-4)
    assert mu.quantile(0.5)[0] == pytest.approx(exp["mu"]["median"], rel=1e-4)
    assert mu.mean == pytest.approx(exp["mu"]["mean"], rel=1e-4)
    assert mu.hdi(0.95) == pytest.approx((exp["mu"]["hpd95_lower"], exp["mu"]["hpd95_upper"]), rel=5e-4)
    assert tau.mode() == pytest.approx(exp["tau"]["mode"], rel=1e-4)
    assert tau.quantile(0.5) == pytest.approx(exp["tau"]["median"], rel=5e-4)
    assert tau.mean == pytest.approx(exp["tau"]["mean"], rel=5e-4)
    assert tau.hdi(0.95)[1] == pytest.approx(exp["tau"]["hpd95_upper"], rel=3e-3)


Y, S = np.array([-0.4, -0.1, -0.6, 0.05]), np.array([0.2, 0.15, 0.3, 0.25])


@pytest.mark.parametrize("tau0", [0.0, 0.3])
def test_fixed_tau_with_flat_effect_is_the_inverse_variance_closed_form(tau0):
    post = solve_exact(GaussianModel.random_effects(Y, S), default_prior_set().replace(effect="flat()", tau=str(tau0)))
    w = 1 / (S**2 + tau0**2)
    mu = post.coef("mu")
    assert mu.mean == pytest.approx(np.sum(w * Y) / w.sum(), abs=1e-12)
    assert mu.sd == pytest.approx(1 / math.sqrt(w.sum()), rel=1e-12)
    assert post.variance_marginal("tau").quantile(0.5) == tau0
    # the shrunken study effects given tau: precision-weighted between y_i and mu (closed form with mu integrated)
    if tau0 > 0:
        B = S**2 / (S**2 + tau0**2)
        th = post.theta(0)
        assert th.mean == pytest.approx((1 - B[0]) * Y[0] + B[0] * mu.mean, abs=1e-12)


def test_fixed_tau_with_normal_effect_prior_is_conjugate():
    tau0, m0, s0 = 0.2, 0.0, 2.0
    post = solve_exact(GaussianModel.random_effects(Y, S), default_prior_set().replace(tau=f"fixed({tau0})"))
    w = 1 / (S**2 + tau0**2)
    prec = w.sum() + 1 / s0**2
    assert post.coef("mu").mean == pytest.approx((np.sum(w * Y) + m0 / s0**2) / prec, abs=1e-12)
    assert post.coef("mu").sd == pytest.approx(prec ** -0.5, rel=1e-12)


def test_flat_effect_with_half_normal_tau_matches_brute_force_quadrature():
    post = solve_exact(GaussianModel.random_effects(Y, S), default_prior_set().replace(effect="flat()"))
    mu, tau = np.linspace(-4, 4, 1601), np.linspace(0, 6, 1201)
    M, T = np.meshgrid(mu, tau, indexing="ij")
    sd = np.sqrt(S[None, None, :] ** 2 + T[..., None] ** 2)
    joint = np.exp(stats.norm.logpdf(Y, M[..., None], sd).sum(-1)) * stats.halfnorm.pdf(T, scale=0.5)
    z = integrate.simpson(integrate.simpson(joint, x=tau, axis=1), x=mu)
    m1 = integrate.simpson(integrate.simpson(M * joint, x=tau, axis=1), x=mu) / z
    below = mu <= 0
    cdf0 = integrate.simpson(integrate.simpson(joint[below], x=tau, axis=1), x=mu[below]) / z
    assert post.coef("mu").mean == pytest.approx(m1, abs=1e-6)
    assert post.coef("mu").prob_below(0.0) == pytest.approx(cdf0, abs=1e-6)


@pytest.mark.parametrize("k, priors, needed", [
    (2, {"effect": "flat()", "tau": "flat()"}, "at least 3 studies"),
    (1, {"tau": "flat()"}, "at least 2 studies"),
    (1, {"effect": "flat()", "tau": "jeffreys()"}, "at least 2 studies"),
])
def test_improper_tau_priors_are_refused_where_the_posterior_is_improper(k, priors, needed):
    with pytest.raises(SpecError, match=needed):
        solve_exact(GaussianModel.random_effects(Y[:k], S[:k]), default_prior_set().replace(**priors))


def test_improper_priors_are_accepted_at_the_propriety_boundary():
    for k, priors in ((3, {"effect": "flat()", "tau": "flat()"}), (2, {"tau": "flat()"}),
                      (2, {"effect": "flat()", "tau": "jeffreys()"}), (1, {"tau": "jeffreys()"})):
        post = solve_exact(GaussianModel.random_effects(Y[:k], S[:k]), default_prior_set().replace(**priors))
        assert np.isfinite(post.coef("mu").sd)


def test_mcmc_refuses_exact_only_priors_with_a_clear_error():
    eff = sm.EffectData.from_arrays(Y, S)
    for pr in ({"effect": "flat()"}, {"tau": "jeffreys()"}, {"tau": "0.2"}):
        with pytest.raises(SpecError, match="exact solver only"):
            sm.fit(eff, priors=pr, method="mcmc", draws=50, tune=50, chains=1)


def test_a_number_is_a_fixed_tau_and_a_spec_may_give_it_unquoted():
    assert parse_prior("0.25") == parse_prior("fixed(0.25)") == parse_prior(0.25)
    with pytest.raises(PriorError, match=">= 0"):
        parse_prior("fixed(-1)")


def test_a_spec_may_fix_tau_with_a_bare_number(tmp_path):
    text = (Path(sm.load_spec("q1_continuation_os").path).read_text()
            .replace('set = "default"', 'set = "default"\ntau = 0.2\neffect = "flat()"')
            .replace('method = "mcmc"', 'method = "exact"'))
    p = tmp_path / "fixed_tau.toml"
    p.write_text(text)
    spec = sm.load_spec(p)
    assert spec.priors.tau == parse_prior("fixed(0.2)") and spec.priors.effect == parse_prior("flat()")
    res = sm.run_spec(spec)
    primary = res.summary().query("bias != 'unadjusted'")          # the spec is bias-adjusted; tau is fixed in both
    assert primary.set_index("quantity").loc["tau", "median"] == pytest.approx(0.2)

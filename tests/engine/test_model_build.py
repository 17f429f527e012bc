"""The PyMC graph is built once per structure: priors and data are data, not structure (no sampling here)."""

from __future__ import annotations

import numpy as np
import pymc as pm
import pytest
from scipy import stats

from sclcmeta.engine import Component, GaussianModel
from sclcmeta.engine.pymc_model import build_pymc_model, data_values, prior_data
from sclcmeta.priors import default_prior_set, parse_prior


def _model():
    return GaussianModel.random_effects([-0.4, -0.2, -0.5], [0.2, 0.15, 0.25])


def test_free_variables_and_finite_logp():
    m = build_pymc_model(_model(), default_prior_set())
    assert sorted(v.name for v in m.free_RVs) == ["b", "z_tau"]
    assert np.isfinite(m.compile_logp()(m.initial_point()))


@pytest.mark.parametrize("text, dist", [
    ("half_normal(0.5)", stats.halfnorm(scale=0.5)), ("half_cauchy(0.3)", stats.halfcauchy(scale=0.3)),
    ("uniform(0, 2)", stats.uniform(0, 2)), ("exponential(2)", stats.expon(scale=0.5)),
])
def test_tau_transform_reproduces_the_prior_quantiles(text, dist):
    # tau = Q(Phi(z)) with z ~ N(0,1): the graph's transform must equal the prior's quantile function
    m = build_pymc_model(_model(), default_prior_set())
    z = np.array([-1.5, -0.3, 0.0, 0.8, 2.0])
    fn = m.compile_fn(m["tau"], inputs=[m["z_tau"]], on_unused_input="ignore")
    with m:
        pm.set_data({"prior_tau": parse_prior(text).encode()})
    got = [float(fn({"z_tau": zi})) for zi in z]
    np.testing.assert_allclose(got, dist.ppf(stats.norm.cdf(z)), rtol=1e-8)


def test_log_normal_tau_transform():
    m = build_pymc_model(_model(), default_prior_set())
    fn = m.compile_fn(m["tau"], inputs=[m["z_tau"]], on_unused_input="ignore")
    with m:
        pm.set_data({"prior_tau": parse_prior("log_normal(-2.56, 1.74)").encode()})
    assert float(fn({"z_tau": 0.5})) == pytest.approx(np.exp(0.5 * (-2.56 + 1.74 * 0.5)))


@pytest.mark.parametrize("text", ["normal(0.2, 1.5)", "student_t(0, 0.7, 4)"])
def test_effect_prior_potential_is_the_prior_log_density(text):
    m = build_pymc_model(_model(), default_prior_set())
    with m:
        pm.set_data({"prior_coef": np.stack([parse_prior(text).encode()])})
    f = m.compile_fn(m.potentials[0], inputs=[m["b"]], on_unused_input="ignore")
    for b in (-1.0, 0.3, 2.0):
        assert float(f({"b": np.array([b])})) == pytest.approx(float(parse_prior(text).logpdf(b)), rel=1e-10)


def test_structure_key_ignores_values_and_priors():
    a = _model()
    b = GaussianModel.random_effects([0.1, 0.3, -0.9], [0.3, 0.1, 0.2])
    assert a.structure_key() == b.structure_key()
    assert a.structure_key() != GaussianModel.random_effects([0.1, 0.3], [0.3, 0.1]).structure_key()


def test_non_diagonal_model_uses_a_multivariate_likelihood():
    S = np.array([[0.04, 0.01], [0.01, 0.05]])
    g = GaussianModel(y=np.array([-0.2, -0.4]), S=S, X=np.ones((2, 1)), coef_names=("mu",), coef_roles=("effect",),
                      components=(Component("tau", np.eye(2)),))
    m = build_pymc_model(g, default_prior_set())
    assert isinstance(m["y_obs"].owner.op, type(pm.MvNormal.dist(np.zeros(2), np.eye(2)).owner.op))
    assert set(data_values(g)) == {"y", "X", "S", "K_tau"} and set(prior_data(g, default_prior_set())) == {
        "prior_coef", "prior_tau"}

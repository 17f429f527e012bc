"""The hand-written numba log density equals the PyMC graph's, and its gradient equals PyTensor's autodiff.

The PyMC model of :mod:`sclcmeta.engine.pymc_model` is an independent statement of the same
density (PyTensor's own normal/MvNormal/Student-t log densities, erfinv/tan/erfc quantiles and
automatic differentiation); the numba version is checked against it at random points for every
prior family and for diagonal, dense (shared-arm covariance), nested and multi-component models.
"""

from __future__ import annotations

import numpy as np
import pytest

from sclcmeta.engine import Component, GaussianModel, native
from sclcmeta.engine.pymc_model import build_pymc_model
from sclcmeta.priors import default_prior_set

SCALE_PRIORS = ["half_normal(0.5)", "half_cauchy(0.3)", "uniform(0, 2)", "uniform(0.05, 1.5)",
                "log_normal(-2.56, 1.74)", "exponential(2)"]
EFFECT_PRIORS = ["normal(0, 2)", "normal(-0.2, 0.4)", "student_t(0, 0.5, 3)", "student_t(0.1, 1, 7)"]


def _diagonal_re():
    return GaussianModel.random_effects([-0.4, -0.1, -0.6, 0.05], [0.2, 0.15, 0.3, 0.25])


def _dense_two_components():
    # a 3-arm trial (two correlated contrasts), a cohort with two nested subgroups, and a covariate
    S = np.diag([0.04, 0.05, 0.03, 0.06, 0.02])
    S[0, 1] = S[1, 0] = 0.015
    Z = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1]], float)
    X = np.array([[1, 0.2], [1, 0.3], [1, 0.25], [1, 0.5], [1, 0.4]])
    return GaussianModel(y=np.array([-0.3, -0.5, 0.1, -0.2, -0.7]), S=S, X=X, coef_names=("mu", "liver"),
                         coef_roles=("effect", "beta"),
                         components=(Component("tau", np.eye(5)), Component("omega", Z @ Z.T, "omega")),
                         kind="nested")


def _fixed_effect():
    return GaussianModel.random_effects([-0.4, -0.1, -0.6], [0.2, 0.15, 0.3], fixed=True)


_COMPILED: dict = {}


def _pymc_logp_and_grad(builder, priors):
    """PyTensor's logp and autodiff gradient; compiled once per structure, priors swapped as data."""
    import pymc as pm

    from sclcmeta.engine.pymc_model import prior_data

    model = builder()
    if builder not in _COMPILED:
        m = build_pymc_model(model, priors)
        _COMPILED[builder] = (m, m.compile_logp(), m.compile_dlogp())
    m, logp, dlogp = _COMPILED[builder]
    with m:
        pm.set_data(prior_data(model, priors))
    names = [f"z_{c.name}" for c in model.components]

    def f(x):
        point = {"b": x[:model.p], **{n: x[model.p + j] for j, n in enumerate(names)}}
        return float(logp(point)), np.asarray(dlogp(point))

    return model, f


@pytest.mark.parametrize("builder", [_diagonal_re, _dense_two_components, _fixed_effect])
def test_native_log_density_and_gradient_equal_pytensor(builder):
    rng = np.random.default_rng(3)
    for scale_prior in SCALE_PRIORS:
        ps = default_prior_set().replace(tau=scale_prior, omega=scale_prior, effect="student_t(0, 0.5, 3)")
        model, ref = _pymc_logp_and_grad(builder, ps)
        for _ in range(6):
            x = rng.uniform(-2.5, 2.5, model.p + len(model.components))
            lp, grad = native.logp_and_grad(model, ps, x)
            lp_ref, grad_ref = ref(x)
            assert lp == pytest.approx(lp_ref, rel=1e-9, abs=1e-9), (scale_prior, x)
            np.testing.assert_allclose(grad, grad_ref, rtol=1e-7, atol=1e-8, err_msg=f"{scale_prior} at {x}")


def test_native_effect_priors_equal_pytensor():
    for effect_prior in EFFECT_PRIORS:
        ps = default_prior_set().replace(effect=effect_prior, beta=effect_prior)
        model, ref = _pymc_logp_and_grad(_dense_two_components, ps)
        x = np.array([0.3, -1.2, 0.4, -0.8])
        lp, grad = native.logp_and_grad(model, ps, x)
        lp_ref, grad_ref = ref(x)
        assert lp == pytest.approx(lp_ref, rel=1e-10), effect_prior
        np.testing.assert_allclose(grad, grad_ref, rtol=1e-8, atol=1e-10, err_msg=effect_prior)


def test_native_gradient_matches_finite_differences_in_the_tails():
    """Far tails of z (sigma near 0 or large), where the PyMC graph clips Phi(z) and stops being a reference."""
    model = _diagonal_re()
    for prior in SCALE_PRIORS:
        ps = default_prior_set().replace(tau=prior)
        for z in (-6.0, 6.0):
            x = np.array([-0.3, z])
            lp, grad = native.logp_and_grad(model, ps, x)
            h = 1e-6
            fd = (native.logp_and_grad(model, ps, x + [0, h])[0] - native.logp_and_grad(model, ps, x - [0, h])[0]) / (2 * h)
            assert np.isfinite(lp)
            assert grad[1] == pytest.approx(fd, rel=1e-5, abs=1e-6), (prior, z)


def test_native_scale_transform_has_the_prior_distribution():
    """sigma = Q(Phi(z)) with z ~ N(0, 1) reproduces each prior's quantiles (scipy as the reference)."""
    from scipy import stats

    from sclcmeta.priors import parse_prior

    zs = np.array([-6.0, -3.5, -1.64, -0.67, 0.0, 0.67, 1.64, 3.5, 6.0])
    for text in SCALE_PRIORS:
        prior = parse_prior(text)
        enc = prior.encode()
        got = np.array([native._scale(z, int(enc[0]), enc[1], enc[2])[0] for z in zs])
        central = np.abs(zs) < 3
        np.testing.assert_allclose(got[central], prior.quantile(stats.norm.cdf(zs[central])), rtol=1e-9)
        # tails: scipy's quantile of a probability within 1e-9 of 1 is itself only good to ~1e-7
        np.testing.assert_allclose(got[~central], prior.quantile(stats.norm.cdf(zs[~central])), rtol=1e-5)


def test_native_log_density_never_raises_far_out():
    """Wild warm-up proposals give a finite log density or -inf (a rejected step), never NaN or an exception."""
    for model in (_diagonal_re(), _dense_two_components()):
        for prior in SCALE_PRIORS:
            ps = default_prior_set().replace(tau=prior, omega=prior)
            for z in (-60.0, -40.0, 40.0, 60.0):
                x = np.full(model.p + len(model.components), z)
                lp, _ = native.logp_and_grad(model, ps, x)
                assert lp == -np.inf or np.isfinite(lp), (prior, z, lp)


def test_non_positive_definite_covariance_gives_minus_infinity_not_an_error():
    model = _dense_two_components()
    buf = native.pack(model, default_prior_set())
    k = model.k
    o = 5 + k + k * model.p                      # S block of the buffer
    buf[o:o + k * k] = -np.eye(k).ravel()
    grad = np.zeros(4)
    assert native.gaussian_logp(np.zeros(4), buf, grad) == -np.inf

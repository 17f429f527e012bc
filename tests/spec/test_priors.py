"""Priors are small value objects; prior sets are data files; errors say what to write instead."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sclcmeta import PriorError, list_prior_sets, load_prior_set, parse_prior
from sclcmeta.priors import Prior, default_prior_set


@pytest.mark.parametrize("text, family, params", [
    ("half_normal(0.5)", "half_normal", {"scale": 0.5}),
    ("normal(0, 10)", "normal", {"mean": 0, "sd": 10}),
    ("normal(2)", "normal", {"mean": 0, "sd": 2}),
    ("student_t(mean=0, scale=1, df=3)", "student_t", {"mean": 0, "scale": 1, "df": 3}),
    ("student_t(0, 2.5)", "student_t", {"mean": 0, "scale": 2.5, "df": 3}),
    ("uniform(0, 2)", "uniform", {"lower": 0, "upper": 2}),
    ("uniform(3)", "uniform", {"lower": 0, "upper": 3}),
    ("log_normal(-2.56, 1.74)", "log_normal", {"mu": -2.56, "sigma": 1.74}),
    ("half_cauchy(0.5)", "half_cauchy", {"scale": 0.5}),
])
def test_parse_prior(text, family, params):
    p = parse_prior(text)
    assert p.family == family and dict(p.params) == pytest.approx(params)


@pytest.mark.parametrize("text, match", [
    ("half_normall(0.5)", "unknown prior family 'half_normall'"),
    ("half_normal(-1)", "scale must be positive"),
    ("normal(0, 1, 2)", "at most 2 values"),
    ("uniform(2, 1)", "lower < upper"),
    ("normal(a, 1)", "must be numbers"),
    ("half_normal(scale=1, sd=2)", "no parameter 'sd'"),
])
def test_malformed_prior_errors_say_what_is_wrong(text, match):
    with pytest.raises(PriorError, match=match):
        parse_prior(text)


def test_priors_compare_and_print_by_value():
    assert parse_prior("normal(0, 10)") == Prior("normal", (("mean", 0.0), ("sd", 10.0)))
    assert repr(parse_prior("half_normal(0.5)")) == "half_normal(scale=0.5)"


def test_log_normal_prior_is_on_tau_squared():
    p = parse_prior("log_normal(-2.56, 1.74)")
    # median of tau^2 is exp(-2.56), so the median of tau is exp(-1.28)
    assert p.quantile(0.5) == pytest.approx(np.exp(-1.28))
    x = np.linspace(0.01, 3, 4000)
    assert np.trapezoid(np.exp(p.logpdf(x)), x) == pytest.approx(p.cdf(3.0) - p.cdf(0.01), abs=1e-4)


@pytest.mark.parametrize("text", ["half_normal(0.5)", "half_cauchy(0.5)", "uniform(0, 2)", "exponential(2)",
                                  "normal(0, 2)", "student_t(0, 1, 4)"])
def test_prior_density_cdf_and_quantile_agree(text):
    p = parse_prior(text)
    q = np.array([0.1, 0.5, 0.9])
    np.testing.assert_allclose(p.cdf(p.quantile(q)), q, atol=1e-9)


def test_default_toml_matches_default_prior_set():
    assert load_prior_set("default").as_dict() == default_prior_set().as_dict()


def test_every_bundled_prior_set_loads_and_has_a_description():
    sets = list_prior_sets()
    assert sets[0].name == "default" and len(sets) >= 8
    assert all(len(s.description) > 40 for s in sets)


def test_prior_set_with_unknown_key_names_file_and_key(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('name = "bad"\n[priors]\nheterogeneity = "half_normal(1)"\n')
    with pytest.raises(PriorError, match=r"bad.toml: \[priors\] has unknown key\(s\) heterogeneity"):
        load_prior_set(p)


def test_scale_prior_for_an_effect_is_refused():
    with pytest.raises(PriorError, match="effect needs a real-line"):
        default_prior_set().replace(effect="half_normal(1)")


def test_prior_draws_follow_the_distribution():
    rng = np.random.default_rng(1)
    d = parse_prior("half_normal(0.5)").rvs(20000, rng)
    assert stats.kstest(d, stats.halfnorm(scale=0.5).cdf).pvalue > 0.01

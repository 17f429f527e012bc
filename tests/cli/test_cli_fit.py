"""`sclcmeta fit --data CSV` on the minimal import format agrees with an independent reference:
within 0.01 (exact solver) and 0.03 (MCMC, default draws) on the pooled log-HR median and 95% bounds.

At the default 4 chains x 4000 draws the Monte Carlo SD of a 95% bound is about 0.012 (measured over
40 seeds), so 0.03 is about 2.5 Monte Carlo SDs; the median is within 0.005."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import integrate, stats

from sclcmeta.cli import main

CSV = """study,treatment,comparator,outcome,hr,ci_low,ci_high,prop_liver
Cohort A,ici,chemo,OS,0.67,0.48,0.95,0.24
Cohort B,ici,chemo,OS,0.68,0.48,0.97,0.38
Cohort C,ici,chemo,OS,0.56,0.35,0.89,0.20
Cohort D,ici,chemo,OS,0.88,0.70,1.11,0.18
"""


def _reference():
    """Independent numerical integration of the normal-normal posterior under N(0, 2^2) x half-normal(0.5)."""
    hr = np.array([0.67, 0.68, 0.56, 0.88])
    lo = np.array([0.48, 0.48, 0.35, 0.70])
    hi = np.array([0.95, 0.97, 0.89, 1.11])
    y = np.log(hr)[:, None]
    se = ((np.log(hi) - np.log(lo)) / (2 * stats.norm.ppf(0.975)))[:, None]
    mu = np.linspace(-3, 3, 6001)

    def f(t):
        return np.exp(stats.norm.logpdf(y, mu, np.sqrt(se**2 + t**2)).sum(0) + stats.norm.logpdf(mu, 0, 2)
                      + stats.halfnorm.logpdf(t, scale=0.5))

    dens = integrate.quad_vec(f, 0, 5, epsabs=1e-14)[0]
    cdf = integrate.cumulative_simpson(dens, x=mu, initial=0)
    cdf /= cdf[-1]
    return np.interp([0.5, 0.025, 0.975], cdf, mu)


def _pooled(capsys, *args):
    assert main(["fit", *args, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    r = next(r for r in rows if r["quantity"] == "pooled")
    return np.array([r["median"], r["q2.5"], r["q97.5"]]), rows


@pytest.mark.reference
def test_cli_exact_fit_matches_numerical_integration(write_csv, capsys):
    got, rows = _pooled(capsys, "--data", str(write_csv(CSV)), "--method", "exact")
    np.testing.assert_allclose(got, _reference(), atol=0.01)
    assert {r["quantity"] for r in rows} == {"pooled", "tau", "predictive", "study"}


@pytest.mark.mcmc
def test_cli_mcmc_fit_with_default_draws_matches_numerical_integration(write_csv, capsys):
    got, rows = _pooled(capsys, "--data", str(write_csv(CSV)), "--method", "mcmc", "--seed", "3")
    np.testing.assert_allclose(got, _reference(), atol=0.03)
    assert all(r["r_hat"] is not None for r in rows)


def test_cli_meta_regression_uses_a_covariate_column_of_the_csv(write_csv, capsys):
    _, rows = _pooled(capsys, "--data", str(write_csv(CSV)), "--model", "meta_regression", "--covariate",
                      "prop_liver")
    assert any(r["quantity"] == "beta" and r["comparison"] == "prop_liver" for r in rows)


def test_cli_prior_override_changes_the_answer(write_csv, capsys):
    a, _ = _pooled(capsys, "--data", str(write_csv(CSV)))
    b, _ = _pooled(capsys, "--data", str(write_csv(CSV)), "--prior", "effect=normal(0,0.1)")
    assert abs(b[0]) < abs(a[0])


def test_cli_help_lists_every_subcommand(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for cmd in ("report", "fit", "sensitivity", "data"):
        assert cmd in out

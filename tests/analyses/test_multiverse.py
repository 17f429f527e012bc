"""Multiverse sensitivity: the grid is the product of its axes, a Dask cluster gives the plain loop's table,
settings compose (checked against brute-force quadrature), and a setting that raises is reported."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

import sclcmeta as sm
from sclcmeta.analyses import run_sensitivity
from sclcmeta.analyses.multiverse import Choice, evidence_axis, expand, fit_setting, leave_one_out_axis, prior_axis
from sclcmeta.runner import SYNCHRONOUS, batches, check_scheduler, run_tasks
from sclcmeta.errors import SclcmetaError

TWO_PRIORS = ["default", "sceptical"]


def _three_cohorts():
    """Q5 OS with its second-hand cohort and without the bias model: three observational cohorts (Zhang 2025a,
    Zhang B 2025, Gu 2026), enough for leave-one-out."""
    return sm.load_spec("q5_any_ici_os").with_evidence(second_hand=True).with_bias(None)


def _broken_axis(spec, evidence):
    """An extra axis: the spec as it is, an estimate id that does not exist, and a prior set that is not one."""
    return [Choice("estimates", "as specified", primary=True),
            Choice("estimates", "unknown estimate", evidence={"ids": ["no_such_estimate"]}),
            Choice("estimates", "not a prior set", priors="sceptical")]


def test_grid_is_the_product_of_the_axes_with_the_primary_setting_first(evidence):
    spec = _three_cohorts()
    axes = [partial(prior_axis, files=TWO_PRIORS), evidence_axis, leave_one_out_axis]
    grid = expand(spec, evidence, axes)
    sizes = [len(a(spec, evidence)) for a in axes]
    assert sizes[0] == 2 and sizes[2] == 1 + 3          # no cohort left out, then each of the 3
    assert len(grid) == np.prod(sizes)
    assert len({tuple(s.labels.items()) for s in grid}) == len(grid)
    assert grid[0].primary and not any(s.primary for s in grid[1:])
    # one more axis is one more function: the grid multiplies by its length
    assert len(expand(spec, evidence, axes + [_broken_axis])) == 3 * len(grid)


def test_multiverse_rows_equal_the_sensitivity_reruns_of_the_same_settings(evidence):
    spec = _three_cohorts()
    mv = sm.multiverse([spec], evidence=evidence, prior_files=TWO_PRIORS, scheduler=SYNCHRONOUS)
    assert set(mv.headline()["bias_prior"]) == {"none"}          # no bias model in this spec: one value
    h = mv.headline().set_index(["prior_set", "evidence_choice", "leave_out"])
    sens = run_sensitivity(spec, evidence=evidence, method="exact", prior_files=TWO_PRIORS).table.set_index("setting")
    own = spec.priors.name
    cols = ["hr_median", "hr_q2.5", "hr_q97.5", "prob_hr_below_1"]
    for setting, r in sens.iterrows():
        if r["kind"] == "prior":
            key = (setting, "as specified", "none")
        elif setting.startswith("leave out "):
            key = (own, "as specified", setting.removeprefix("leave out "))
        else:
            key = (own, setting, "none")
        np.testing.assert_allclose(h.loc[key, cols].to_numpy(float), r[cols].to_numpy(float), rtol=1e-12,
                                   err_msg=str(key))
    assert (h["status"] == "ok").all() and len(h) == 2 * 3 * 4 and len(sens) == 2 + 2 + 3


def _posterior_quantiles(y, se, effect_sd, tau_scale):
    """Brute-force quadrature of the normal-normal posterior of mu under N(0, effect_sd^2) x half-normal(tau_scale)."""
    y, se = np.asarray(y)[:, None], np.asarray(se)[:, None]
    mu = np.linspace(-3, 3, 6001)

    def f(t):
        return np.exp(stats.norm.logpdf(y, mu, np.sqrt(se**2 + t**2)).sum(0) + stats.norm.logpdf(mu, 0, effect_sd)
                      + stats.halfnorm.logpdf(t, scale=tau_scale))

    dens = integrate.quad_vec(f, 0, 5, epsabs=1e-14)[0]
    cdf = integrate.cumulative_simpson(dens, x=mu, initial=0)
    return np.interp([0.5, 0.025, 0.975], cdf / cdf[-1], mu)


def test_a_setting_applies_every_one_of_its_choices(evidence):
    """Sceptical prior x observational estimates down-weighted x Gu 2026 left out, against quadrature on the
    primary selection's estimates with that row dropped by hand and the variances doubled."""
    spec = _three_cohorts()
    grid = {tuple(s.labels.values()): s for s in expand(spec, evidence)}
    rows = fit_setting(grid[("sceptical", "observational down-weighted", "gu2026", "none")], evidence, method="exact")
    got = np.array([next(r for r in rows if r["headline"])[c] for c in ("median", "q2.5", "q97.5")])
    d = sm.run_spec(spec, evidence, method="exact").effects.data
    keep = d[d["cohort"] != "gu2026"]
    assert (keep["design"] != "rct").all()
    ref = _posterior_quantiles(keep["y"], keep["se"] * np.sqrt(2), effect_sd=0.175, tau_scale=0.5)
    np.testing.assert_allclose(got, ref, atol=2e-3)
    assert grid[("default", "as specified", "none", "none")].primary


def test_a_bias_adjusted_spec_gets_every_bias_prior_and_no_adjustment_on_the_bias_axis(evidence):
    from sclcmeta.analyses.multiverse import bias_axis
    from sclcmeta.bias_priors import list_bias_priors

    spec = sm.load_spec("q5_any_ici_pfs")
    mv = sm.multiverse([spec], evidence=evidence, axes=[bias_axis], scheduler=SYNCHRONOUS).headline()
    assert set(mv["bias_prior"]) == {b.name for b in list_bias_priors()} | {"none"}
    by = mv.set_index("bias_prior")
    primary = sm.run_spec(spec, evidence, method="exact")
    assert by.loc[spec.bias.name, "hr_median"] == pytest.approx(primary.pooled_hr()["hr_median"], rel=1e-12)
    assert by.loc["none", "hr_median"] == pytest.approx(primary.unadjusted.pooled_hr()["hr_median"], rel=1e-12)
    assert by.loc[spec.bias.name, "bias"] == "adjusted"


def test_local_cluster_gives_the_same_table_as_the_plain_loop(evidence, dask_client):
    from dask.distributed import get_task_stream

    specs = [sm.load_spec(n) for n in ("q1_continuation_os", "q3_pfs1l_prognostic_os", "q3_prior_ici_metareg_os")]
    loop = sm.multiverse(specs, evidence=evidence, prior_files=["default"], scheduler=SYNCHRONOUS)
    with get_task_stream(dask_client) as ts:
        dist = sm.multiverse(specs, evidence=evidence, prior_files=["default"], scheduler=dask_client)
    pd.testing.assert_frame_equal(dist.table, loop.table, check_exact=True)
    ran = [t for t in ts.data if "multiverse" in str(t["key"])]
    assert len(ran) == len(batches(len(loop.headline()), slots=2)) > 2 and len({t["worker"] for t in ran}) == 2
    # moderator choices and not-estimable leave-one-out settings are part of the compared table
    assert "direction-doubtful rows flipped" in set(loop.table["evidence_choice"])
    assert (loop.headline()["status"] == "not estimable").any()


def test_a_task_that_raises_is_reported_with_its_settings_and_the_rest_finish(evidence, dask_client):
    axes = [partial(prior_axis, files=TWO_PRIORS), leave_one_out_axis, _broken_axis]
    mv = sm.multiverse([_three_cohorts()], evidence=evidence, axes=axes, scheduler=dask_client)
    h = mv.headline()
    assert len(h) == 2 * 4 * 3 and list(mv.axes) == ["prior_set", "leave_out", "estimates"]
    bad = h[h["estimates"] != "as specified"]
    assert set(bad["status"]) == {"not estimable", "error"}
    unknown = bad[bad["estimates"] == "unknown estimate"]
    assert (unknown["status"] == "not estimable").all() and unknown["error"].str.contains("no_such_estimate").all()
    assert bad.loc[bad["estimates"] == "not a prior set", "error"].str.startswith("AttributeError").all()
    assert bad["hr_median"].isna().all() and set(bad["prior_set"]) == set(TWO_PRIORS)
    good = h[h["estimates"] == "as specified"]
    assert len(good) == 8 and (good["status"] == "ok").all() and np.isfinite(good["hr_median"]).all()
    assert len(mv.failed) == 16 and "did not run (16" in repr(mv)
    # one Dask task per setting gives the same table as batches of settings
    single = sm.multiverse([_three_cohorts()], evidence=evidence, axes=axes, scheduler=dask_client, batch_size=1)
    pd.testing.assert_frame_equal(single.table, mv.table, check_exact=True)


def test_runner_reports_errors_in_item_order_without_dask():
    out = run_tasks(int, ["1", "x", "3"], scheduler=SYNCHRONOUS)
    assert [o.value for o in out] == [1, None, 3] and out[1].error.startswith("ValueError") and not out[1].refused


@pytest.mark.parametrize("scheduler, workers, message", [
    (None, 0, "1 or more"),
    ("tcp://127.0.0.1:8786", 2, "running cluster has the workers"),
    ("localhost", None, "not a scheduler address"),
    (SYNCHRONOUS, 2, "synchronous scheduler runs every task in this process"),
])
def test_scheduler_settings_that_cannot_work_are_refused_before_any_work(scheduler, workers, message):
    with pytest.raises(SclcmetaError, match=message):
        check_scheduler(scheduler, workers)


def test_an_unreachable_scheduler_is_a_clean_error(monkeypatch):
    monkeypatch.setattr("sclcmeta.runner.CONNECT_TIMEOUT", "1s")
    with pytest.raises(SclcmetaError, match="could not reach the Dask scheduler at tcp://127.0.0.1:9"):
        run_tasks(abs, [1], scheduler="tcp://127.0.0.1:9")


@pytest.mark.mcmc
def test_sbc_replications_do_not_depend_on_where_they_run(dask_client):
    from sclcmeta.analyses.calibration import SBCConfig, run_sbc

    cfg = SBCConfig(k=3, draws=100, tune=100, chains=2, rank_draws=19, seed=7)
    here = run_sbc(cfg, 2, scheduler=SYNCHRONOUS)
    there = run_sbc(cfg, 2, scheduler=dask_client)
    drop = ("seconds", "worker_pid", "new_model_shape")
    for a, b in zip(here, there):
        assert a.ok and b.ok
        assert {k: v for k, v in a.value.items() if k not in drop} == {k: v for k, v in b.value.items() if k not in drop}
    # the simulated truths differ between replications (one random stream each)
    assert here[0].value["mu"] != here[1].value["mu"]

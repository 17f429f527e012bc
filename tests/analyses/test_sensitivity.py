"""Sensitivity reruns reuse the compiled model and cover every prior set and evidence choice."""

from __future__ import annotations

import pytest

import sclcmeta as sm
from sclcmeta.fitting import CompileCache
from sclcmeta.paths import models_dir
from sclcmeta.analyses import run_sensitivity


def test_exact_sensitivity_covers_every_prior_set_and_evidence_choice(evidence):
    # with the second-hand estimate Q5 PFS has three cohorts, enough for leave-one-out
    spec = sm.load_spec(models_dir() / "q5_any_ici_pfs.toml").with_evidence(second_hand=True)
    sens = run_sensitivity(spec, evidence=evidence, method="exact")
    t = sens.table
    assert set(t.loc[t["kind"] == "prior", "setting"]) == {p.name for p in sm.list_prior_sets()}
    cohorts = set(sm.run_spec(spec, evidence, method="exact").effects.data["cohort"])
    assert {f"leave out {c}" for c in cohorts} <= set(t["setting"])
    assert "observational down-weighted" in set(t["setting"])
    # a sceptical prior pulls the pooled HR towards 1; the vague one widens the interval
    by = t.set_index("setting")
    assert by.loc["sceptical", "hr_median"] > by.loc["default", "hr_median"]
    assert (by.loc["vague", "hr_q97.5"] / by.loc["vague", "hr_q2.5"]
            > by.loc["default", "hr_q97.5"] / by.loc["default", "hr_q2.5"])
    assert {"parameter", "prior", "likelihood", "diagnosis"} <= set(sens.psens.columns)


@pytest.mark.mcmc
def test_mcmc_prior_sweep_sets_up_one_model_shape_for_every_prior_set(evidence):
    spec = sm.load_spec(models_dir() / "q1_continuation_os.toml").with_inference(draws=300, tune=300, chains=2)
    cache = CompileCache()
    sens = run_sensitivity(spec, evidence=evidence, cache=cache, evidence_choices=False)
    # every prior set, no bias adjustment, and each other bias prior: one compiled model for all of them
    from sclcmeta.bias_priors import list_bias_priors

    assert len(sens.table) == len(sm.list_prior_sets()) + len(list_bias_priors())
    assert sens.new_shapes == 1 and cache.hits == len(sens.table) - 1


@pytest.mark.mcmc
def test_pymc_sampler_is_a_working_fallback():
    import warnings

    from sclcmeta.engine import GaussianModel
    from sclcmeta.errors import ConvergenceWarning
    from sclcmeta.fitting import fit_model

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        raw = fit_model(GaussianModel.random_effects([-0.4, -0.3, -0.5], [0.17, 0.18, 0.24]), sm.default_prior_set(),
                        method="mcmc", sampler="pymc", draws=300, tune=300, chains=2, cache=CompileCache())
    assert raw.diagnostics.sampler == "pymc" and raw.idata.posterior.sizes["draw"] == 300

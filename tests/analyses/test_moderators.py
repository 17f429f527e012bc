"""Q3 moderator analyses: back-calculation against closed forms, recovery of a known interaction in
simulated studies (with the ecological bias a meta-regression suffers and the within-study
interaction does not), exact vs MCMC agreement, direction-doubtful rows never flipped silently, and
the bundled Q3 specs running through run_spec, sensitivity and the report."""

from __future__ import annotations

import math
import shutil
import warnings

import numpy as np
import pandas as pd
import pytest

import sclcmeta as sm
from sclcmeta.engine import GaussianModel, solve_exact
from sclcmeta.engine.build import model_from_effects
from sclcmeta.errors import ConvergenceWarning, EvidenceError, SpecError
from sclcmeta.evidence.backcalc import (
    BACK_CALCULATION_ASSUMPTIONS,
    derive_complementary_subgroup,
    interaction_estimate,
    rounding_range,
)
from sclcmeta.evidence.inventory import moderator_inventory
from sclcmeta.evidence.moderators import interaction_effects
from sclcmeta.evidence.prognostic import ecological_effects, prognostic_effects
from sclcmeta.report.figures import figures_for
from sclcmeta.report.narrative import paragraph
from sclcmeta.report.tables import extra_tables
from sclcmeta.results.moderators import ModeratorResult
from sclcmeta.paths import models_dir
from sclcmeta.priors import default_prior_set

PRIORS = default_prior_set()
Z = 1.959963984540054
Q1_NODES = ["ici_any_2l", "ici_cont_2l", "ici_same_2l", "serplulimab_2l", "atezolizumab_cont_2l"]


def _q3_specs():
    return [s for s in sm.list_specs() if s.question == "Q3"]


def _spec(name):
    return sm.load_spec(models_dir() / f"{name}.toml")


# -- back-calculation ------------------------------------------------------------------------------
@pytest.mark.parametrize("y1,s1,y2,s2", [(math.log(0.8), 0.2, math.log(1.25), 0.25),
                                         (math.log(0.55), 0.11, math.log(0.95), 0.40),
                                         (0.3, 0.5, -0.7, 0.05)])
def test_back_calculation_recovers_a_subgroup_combined_by_inverse_variance(y1, s1, y2, s2):
    w1, w2 = s1 ** -2, s2 ** -2
    overall = ((w1 * y1 + w2 * y2) / (w1 + w2), (w1 + w2) ** -0.5)
    d = derive_complementary_subgroup(overall, (y1, s1), 30, 100)
    assert d.log_hr == pytest.approx(y2, abs=1e-12) and d.se == pytest.approx(s2, rel=1e-12)
    assert d.information_share == pytest.approx(w2 / (w1 + w2), rel=1e-12)
    assert d.patient_share == pytest.approx(0.7) and d.derived
    # and the other way round: derive subgroup 1 from subgroup 2
    e = derive_complementary_subgroup(overall, (y2, s2))
    assert e.log_hr == pytest.approx(y1, abs=1e-12) and e.se == pytest.approx(s1, rel=1e-12)


def test_back_calculation_of_zhang_2025a_matches_a_hand_computation(evidence):
    # printed: overall OS 0.83 (0.68-1.00); without liver metastases 0.78 (0.62-0.97); Wald SEs from the CIs
    se_o = (math.log(1.00) - math.log(0.68)) / (2 * Z)
    se_1 = (math.log(0.97) - math.log(0.62)) / (2 * Z)
    w2 = 1 / se_o ** 2 - 1 / se_1 ** 2
    y2 = (math.log(0.83) / se_o ** 2 - math.log(0.78) / se_1 ** 2) / w2
    assert math.exp(y2) == pytest.approx(0.9928, abs=5e-4) and w2 ** -0.5 == pytest.approx(0.1939, abs=5e-4)
    eff = interaction_effects(evidence, "liver_metastases", "OS", treatment=Q1_NODES, comparator=["no_ici_2l"])
    p = eff.pairs.iloc[0]
    assert p["derived_index"] and not p["derived_ref"] and p["derived"]
    assert p["y_index"] == pytest.approx(y2, abs=1e-12) and p["se_index"] == pytest.approx(w2 ** -0.5, rel=1e-12)
    assert eff.data["y"].iloc[0] == pytest.approx(y2 - math.log(0.78), abs=1e-12)
    assert eff.data["se"].iloc[0] == pytest.approx(math.hypot(w2 ** -0.5, se_1), rel=1e-12)
    assert bool(eff.data["derived"].iloc[0]) and "derived_subgroup" in eff.data["flags"].iloc[0]
    assert "derived[zhang2025a_os_2lici_unadj minus zhang2025a_os_sg_liver_no]" in eff.data["id"].iloc[0]
    # the subgroup cannot come from the propensity-matched sample: it is more precise than that whole
    assert any("zhang2025a_os_2lici_psm (propensity_matched) is impossible" in x for x in eff.log)


def test_back_calculation_refuses_a_subgroup_more_precise_than_the_whole():
    with pytest.raises(EvidenceError, match="at least as precise as the whole"):
        derive_complementary_subgroup((math.log(0.88), 0.118), (math.log(0.78), 0.114))
    with pytest.raises(EvidenceError, match="at least as precise"):
        derive_complementary_subgroup((0.0, 0.2), (0.1, 0.2))
    with pytest.raises(EvidenceError, match="strictly between 0 and 1"):
        derive_complementary_subgroup((0.0, 0.1), (0.1, 0.2), proportion=1.0)


def test_implausible_information_share_is_warned_and_assumptions_travel_with_the_result():
    # derived subgroup holds 3/4 of the information but only 10% of the patients
    d = derive_complementary_subgroup((0.0, 0.1), (0.0, 0.2), n_subgroup=90, n_total=100)
    assert d.information_share == pytest.approx(0.75)
    assert any("may not come from the same analysis" in w for w in d.warnings)
    assert any("disjoint" in a for a in d.assumptions) and d.assumptions == BACK_CALCULATION_ASSUMPTIONS


def test_interaction_estimate_is_the_log_ratio_with_independent_variances():
    y, se = interaction_estimate((math.log(1.2), 0.3), (math.log(0.8), 0.4))
    assert y == pytest.approx(math.log(1.5)) and se == pytest.approx(0.5)


def test_rounding_range_brackets_the_printed_back_calculation(evidence):
    d = evidence.data.set_index("id")
    o, s = d.loc["zhang2025a_os_2lici_unadj"], d.loc["zhang2025a_os_sg_liver_no"]
    rng = rounding_range(o, s)
    lo, hi = (math.exp(v) for v in rng["derived"])
    assert lo < 0.9928 < hi and len(rng["corners"]) + rng["impossible"] == 64
    assert lo == pytest.approx(0.907, abs=0.005) and hi == pytest.approx(1.234, abs=0.005)


# -- simulation: a known interaction is recovered; the ecological slope is biased -------------------
def _simulate(rng, k, delta, tau_int, slope_confounded=0.0):
    """k cohorts: subgroup log HRs with a true within-cohort interaction ``delta`` (SD ``tau_int``
    between cohorts); the main effect varies with the cohort share at the index level through a
    cohort-level confounder (``slope_confounded``), which is no effect modification at all."""
    prop = rng.uniform(0.1, 0.5, k)
    mu = -0.4 + slope_confounded * (prop - 0.3) + rng.normal(0, 0.15, k)
    d_i = delta + rng.normal(0, tau_int, k)
    n = rng.integers(150, 500, k)
    events = 0.7 * n
    s_yes = 2 / np.sqrt(events * prop)           # ~ 2/sqrt(events) per subgroup (1:1 allocation)
    s_no = 2 / np.sqrt(events * (1 - prop))
    y_no = rng.normal(mu, s_no)
    y_yes = rng.normal(mu + d_i, s_yes)
    return prop, y_yes, s_yes, y_no, s_no


def _interaction_from_reports(y_yes, s_yes, y_no, s_no, derive_mask):
    """Where ``derive_mask``: the paper prints only the overall HR (IV combination) and 'no'."""
    y_int, se_int = [], []
    for a, sa, b, sb, der in zip(y_yes, s_yes, y_no, s_no, derive_mask):
        if der:
            w1, w2 = sb ** -2, sa ** -2
            overall = ((w1 * b + w2 * a) / (w1 + w2), (w1 + w2) ** -0.5)
            dd = derive_complementary_subgroup(overall, (b, sb))
            a, sa = dd.log_hr, dd.se
        y, se = interaction_estimate((a, sa), (b, sb))
        y_int.append(y)
        se_int.append(se)
    return np.array(y_int), np.array(se_int)


def test_simulated_interaction_is_recovered_with_nominal_coverage():
    rng = np.random.default_rng(20261121)
    delta, reps, k = 0.35, 200, 6
    cover, medians, p_less = 0, [], []
    for _ in range(reps):
        _, y_yes, s_yes, y_no, s_no = _simulate(rng, k, delta, tau_int=0.1)
        y, se = _interaction_from_reports(y_yes, s_yes, y_no, s_no, derive_mask=np.arange(k) % 2 == 0)
        mu = solve_exact(GaussianModel.random_effects(y, se), PRIORS).coef("mu")
        lo, med, hi = mu.quantile([0.025, 0.5, 0.975])
        cover += lo <= delta <= hi
        medians.append(med)
        p_less.append(1 - mu.prob_below(0.0))
    # 200 replicates: binomial SD of the coverage is 0.015
    assert 0.90 <= cover / reps <= 0.995, cover / reps
    assert abs(np.mean(medians) - delta) < 0.04, np.mean(medians)
    assert np.mean(p_less) > 0.8  # a true ratio of 1.42 is mostly detected as "less benefit"


def test_within_study_interaction_is_free_of_the_ecological_bias_that_moves_a_meta_regression():
    rng = np.random.default_rng(7)
    slopes, inters = [], []
    for _ in range(60):
        prop, y_yes, s_yes, y_no, s_no = _simulate(rng, 10, delta=0.0, tau_int=0.0, slope_confounded=2.0)
        # cohort-level overall HR (IV combination of the subgroups) against the cohort share
        w1, w2 = s_yes ** -2, s_no ** -2
        y_all, s_all = (w1 * y_yes + w2 * y_no) / (w1 + w2), (w1 + w2) ** -0.5
        meta = model_from_effects(sm.EffectData.from_arrays(y_all, s_all, share=prop), "meta_regression",
                                  covariates=("share",))
        slopes.append(float(solve_exact(meta, PRIORS).coef("share").quantile(0.5)[0]))
        y, se = _interaction_from_reports(y_yes, s_yes, y_no, s_no, derive_mask=np.zeros(10, bool))
        inters.append(float(solve_exact(GaussianModel.random_effects(y, se), PRIORS).coef("mu").quantile(0.5)[0]))
    # the true within-cohort interaction is 0; a between-cohort confounder makes the ecological slope ~2
    # (shrunk by the beta prior); the within-study interaction stays at 0
    assert np.mean(slopes) > 1.0, np.mean(slopes)
    assert abs(np.mean(inters)) < 0.05, np.mean(inters)


# -- prognostic pooling: direction, shared pools ---------------------------------------------------
def test_direction_doubtful_rows_are_excluded_by_default_and_never_flipped_silently(evidence):
    before = evidence.data[["id", "log_hr_", "se_"]].copy()
    eff = prognostic_effects(evidence, "liver_metastases", "OS", pool_prefer=("zhang2025b", "zhang2025a"))
    assert not eff.data["cohort"].eq("shi2025").any()
    cand = eff.candidates.set_index("id")
    for i in ("shi2025_os_liver_uv", "shi2025_os_liver_mv"):
        assert cand.loc[i, "status"] == "not used" and "direction_doubtful" in cand.loc[i, "reason"]
        assert any(x.startswith(f"not used: {i} (curator flag direction_doubtful") for x in eff.log)
    assert any("direction_doubtful" in c for c in eff.caveats)
    # as printed: the printed sign, not flipped
    ap = prognostic_effects(evidence, "liver_metastases", "OS", pool_prefer=("zhang2025b",),
                            direction_doubtful="as_printed").data.set_index("id")
    assert ap.loc["shi2025_os_liver_mv", "y"] == pytest.approx(math.log(0.13))
    assert not ap.loc["shi2025_os_liver_mv", "flipped"]
    # flipped: only when asked, and marked
    fl = prognostic_effects(evidence, "liver_metastases", "OS", pool_prefer=("zhang2025b",),
                            direction_doubtful="flipped")
    row = fl.data.set_index("id").loc["shi2025_os_liver_mv"]
    assert row["y"] == pytest.approx(-math.log(0.13)) and row["flipped"]
    assert "flipped_by_assumption" in row["flags"] and any(x.startswith("flipped by assumption") for x in fl.log)
    # the same holds for the 1L-response rows (direction_contradicts_text), and the evidence table is untouched
    l1 = prognostic_effects(evidence, "l1_pfs", "OS", pool_prefer=("zhang2025b",))
    assert not l1.data["cohort"].eq("shi2025").any()
    pd.testing.assert_frame_equal(before, evidence.data[["id", "log_hr_", "se_"]])
    # through the bundled spec
    spec = _spec("q3_liver_prognostic_os")
    assert spec.evidence["direction_doubtful"] == "exclude"
    assert "shi2025" not in set(sm.run_spec(spec, evidence).effects.data["cohort"])


def test_levels_asked_the_other_way_round_are_harmonized_and_marked(evidence):
    fwd = prognostic_effects(evidence, "liver_metastases", "OS", pool_prefer=("zhang2025b",)).data.iloc[0]
    rev = prognostic_effects(evidence, "liver_metastases", "OS", index=["no"], reference=["yes"],
                             pool_prefer=("zhang2025b",)).data.iloc[0]
    assert rev["id"] == fwd["id"] and rev["y"] == pytest.approx(-fwd["y"]) and rev["flipped"] and not fwd["flipped"]
    # synonyms: Shi's long-term response is 1L-PFS >= 6 months; other cutpoints are not harmonized
    c = prognostic_effects(evidence, "l1_pfs", "OS", pool_prefer=("zhang2025b",)).candidates.set_index("id")
    assert "direction_contradicts_text" in c.loc["shi2025_os_l1response_mv", "reason"]
    assert "not an ICI-treated arm" in c.loc["gu2026_os_l1pfs_cat_uv", "reason"]


def test_shared_patient_pool_contributes_one_estimate_chosen_by_pool_prefer(evidence):
    b = prognostic_effects(evidence, "liver_metastases", "PFS", pool_prefer=("zhang2025b", "zhang2025a"))
    a = prognostic_effects(evidence, "liver_metastases", "PFS", pool_prefer=("zhang2025a", "zhang2025b"))
    assert list(b.data["id"]) == ["zhang2025b_pfs_cont_liver_mv"]   # multivariable preferred over univariable
    assert list(a.data["id"]) == ["zhang2025a_pfs_liver_mv"]
    assert b.data["patient_pool"].is_unique
    with pytest.raises(EvidenceError, match="equally preferred"):
        prognostic_effects(evidence, "liver_metastases", "PFS")


# -- what the evidence cannot answer ----------------------------------------------------------------
def test_liver_metastasis_meta_regression_is_not_estimable_and_says_why(evidence):
    with pytest.raises(EvidenceError, match=r"prop_liver_mets is not estimable: only 1 independent patient pool"):
        ecological_effects(evidence, "prop_liver_mets", "OS", treatment=Q1_NODES, comparator=["no_ici_2l"])


def test_no_pfs_liver_interaction_and_secondary_resistance_is_not_used(evidence):
    with pytest.raises(EvidenceError, match="no cohort reports the PFS treatment HR in both subgroups"):
        interaction_effects(evidence, "liver_metastases", "PFS", treatment=Q1_NODES, comparator=["no_ici_2l"])
    with pytest.raises(EvidenceError, match="not used as a moderator"):
        interaction_effects(evidence, "reason_stop_l1_ici", "PFS")
    gu = interaction_effects(evidence, "reason_stop_l1_ici", "PFS", allow_unusable=True)
    assert gu.pairs["derived_ref"].iloc[0] and gu.pairs["information_share"].iloc[0] < 0.1
    inv = moderator_inventory(evidence).set_index(["factor", "outcome"])
    assert inv.loc[("reason_stop_l1_ici", "PFS"), "status"].startswith("computed, not pooled")
    assert inv.loc[("l1_pfs", "OS"), "status"].startswith("interaction not estimable")
    assert inv.loc[("prop_liver_mets", "OS/PFS"), "status"].startswith("meta-regression not estimable")


# -- bundled specs ----------------------------------------------------------------------------------
def test_bundled_q3_specs_run_and_report_their_quantities(evidence):
    specs = {s.name: s for s in _q3_specs()}
    assert {"q3_liver_interaction_os", "q3_liver_prognostic_os", "q3_liver_prognostic_pfs", "q3_pfs1l_prognostic_os",
            "q3_pfs1l_prognostic_pfs", "q3_prior_ici_metareg_os"} <= set(specs)
    for name, spec in specs.items():
        res = sm.run_spec(spec, evidence)
        assert isinstance(res, ModeratorResult), name
        s = res.summary()
        assert list(s.columns[:16]) == ["analysis", "outcome", "quantity", "comparison", "median", "mean", "sd",
                                        "q2.5", "q97.5", "hr_median", "hr_q2.5", "hr_q97.5", "prob_hr_below_1",
                                        "prob_hr_below_0.8", "r_hat", "ess_bulk"]
        assert (s["analysis"] == name).all() and res.primary in set(s["quantity"])
        p = res.pooled_hr()
        assert p["quantity"] == res.primary and p["hr_q2.5"] < p["hr_median"] < p["hr_q97.5"]
        assert paragraph(res) and extra_tables(res)
        assert eval_pool_unique(res)
    liver = sm.run_spec(specs["q3_liver_interaction_os"], evidence)
    s = liver.summary().set_index("quantity")
    inter = s.loc["interaction"]
    assert inter["prob_less_benefit"] == pytest.approx(1 - inter["prob_hr_below_1"])
    assert "derived[" in inter["evidence"]
    sub = liver.summary()
    sub = sub[sub["quantity"] == "subgroup"]
    assert len(sub) == 2 and sub["comparison"].str.contains("with liver metastases").sum() == 1
    assert sub["evidence"].str.contains(r"derived\[").sum() == 1 and sub["prob_less_benefit"].isna().all()
    text = paragraph(liver)
    for phrase in ("P(less benefit with liver metastases)", "Single study", "Derived subgroup",
                   "Prognostic is not predictive", "not estimable"):
        assert phrase in text
    meta = sm.run_spec(specs["q3_prior_ici_metareg_os"], evidence)
    assert "Ecological bias" in paragraph(meta)
    prog = sm.run_spec(specs["q3_liver_prognostic_os"], evidence)
    assert "Prognostic is not predictive" in paragraph(prog)
    figs = figures_for(liver)
    assert {"forest", "density"} <= set(figs) and all(v[:4] == b"\x89PNG" for v in figs.values())


def eval_pool_unique(res) -> bool:
    return bool(res.effects.data["patient_pool"].is_unique)


def test_q3_within_study_and_pooled_posteriors_have_the_expected_centre(evidence):
    res = sm.run_spec(_spec("q3_liver_interaction_os"), evidence)
    study = next(res.row(q) for q in res.quantities if q.quantity == "study")
    # k = 1: the within-study posterior is the data (flat-ish effect prior), centred at the derived ratio 1.27
    assert study["hr_median"] == pytest.approx(1.27, abs=0.01)
    assert study["hr_q2.5"] == pytest.approx(0.82, abs=0.02) and study["hr_q97.5"] == pytest.approx(1.97, abs=0.03)
    pooled = res.pooled_hr()
    assert pooled["hr_q2.5"] < study["hr_q2.5"] and pooled["hr_q97.5"] > study["hr_q97.5"]  # tau unknown: wider


def test_sensitivity_reruns_q3_specs_with_moderator_settings(evidence):
    from sclcmeta.analyses import run_sensitivity

    sens = run_sensitivity(_spec("q3_liver_prognostic_os"), evidence=evidence, method="exact")
    t = sens.table.set_index("setting")
    assert {"default", "vague", "direction-doubtful rows as printed", "direction-doubtful rows flipped",
            "prefer zhang2025a in its patient pool"} <= set(t.index)
    base = sm.run_spec(_spec("q3_liver_prognostic_os"), evidence).pooled_hr()
    assert t.loc["default", "hr_median"] == pytest.approx(base["hr_median"], rel=1e-9)
    assert "shi2025_os_liver_mv" in t.loc["direction-doubtful rows flipped", "evidence"]
    assert t.loc["direction-doubtful rows flipped", "hr_median"] > t.loc["default", "hr_median"] > \
        t.loc["direction-doubtful rows as printed", "hr_median"]
    inter = run_sensitivity(_spec("q3_liver_interaction_os"), evidence=evidence, method="exact").table
    t2 = inter.set_index("setting")
    assert t2.loc["derived subgroup at rounding low", "hr_median"] < t2.loc["default", "hr_median"] < \
        t2.loc["derived subgroup at rounding high", "hr_median"]
    meta = run_sensitivity(_spec("q3_prior_ici_metareg_os"), evidence=evidence, method="exact")
    assert any(n.startswith("leave out zhang2025a: not estimable") for n in meta.notes)
    # the ecological regression declares second_hand = true: the second-hand cohort is in, and marked
    eco = sm.run_spec(_spec("q3_prior_ici_metareg_os"), evidence, method="exact")
    assert eco.effects.data.set_index("cohort").loc["zhangb2025", "second_hand"]
    spec = _spec("q3_prior_ici_metareg_os")
    with pytest.raises(sm.SpecError, match="not estimable"):
        sm.run_spec(spec.with_evidence(second_hand=False), evidence, method="exact")


def test_unknown_direction_doubtful_setting_is_a_spec_error(tmp_path, evidence):
    text = (models_dir() / "q3_liver_prognostic_os.toml").read_text().replace(
        'direction_doubtful = "exclude"', 'direction_doubtful = "flip"')
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(SpecError, match="direction_doubtful must be"):
        sm.run_spec(sm.load_spec(p), evidence)


def test_report_section_for_q3_has_the_answers_tables_and_a_forest_per_moderator(tmp_path, evidence):
    from sclcmeta.report import build_report

    specs = tmp_path / "specs"
    specs.mkdir()
    for n in ("q3_liver_interaction_os", "q3_liver_prognostic_os", "q3_prior_ici_metareg_os"):
        shutil.copy(models_dir() / f"{n}.toml", specs)
    out = build_report(tmp_path / "rep", specs_dir=specs, progress=False, sensitivity=False, evidence=evidence)
    md = (out / "report.md").read_text()
    assert "## Q3:" in md and "P(less benefit with liver metastases) = P(ratio of HRs > 1)" in md
    assert "Moderators considered for Q3" in md and "Prognostic estimates considered" in md
    for n in ("q3_liver_interaction_os", "q3_liver_prognostic_os", "q3_prior_ici_metareg_os"):
        assert (out / "figures" / f"{n}_forest.png").stat().st_size > 0
    summary = pd.read_csv(out / "summary.csv")
    assert {"interaction", "subgroup", "prognostic", "meta_regression"} <= set(summary["quantity"])
    assert "prob_less_benefit" in summary.columns


# -- exact vs MCMC ----------------------------------------------------------------------------------
@pytest.mark.mcmc
def test_mcmc_agrees_with_the_exact_solver_for_the_liver_interaction(evidence):
    """Interaction and both subgroup fits: MCMC quantiles within 4 Monte Carlo SEs (ArviZ) of the exact ones.

    With k = 1 the posterior of the mean is a scale mixture over tau (heavy tails), so the tail quantiles
    carry MC errors of ~0.1 at 4000 draws; the tolerance comes from the draws, not a fixed number."""
    import arviz as az

    from sclcmeta.fitting import CompileCache

    # A single divergent transition occurs in about 1 of 60 runs of these k = 1 fits (measured for both the
    # PyTensor-compiled and the hand-written log density), and the gate then marks the fit; the seed below is
    # one of the 59. What this test pins down is the agreement; the gate's reaction is tested in test_mcmc.
    spec = _spec("q3_liver_interaction_os").with_inference(draws=2000, tune=1000, chains=2, seed=6)
    ex = sm.run_spec(spec, evidence, method="exact")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mc = sm.run_spec(spec, evidence, method="mcmc", cache=CompileCache())
    assert mc.method == "mcmc" and mc.passed
    pairs = [(mc.raw, ex.raw)] + [(mc.parts[k].raw, ex.parts[k].raw) for k in ("yes", "no")]
    for m_raw, e_raw in pairs:
        draws = m_raw.idata.posterior["b"].sel(coef="mu").values
        ref = e_raw.exact.coef("mu")
        for q, r in zip([0.025, 0.5, 0.975], ref.quantile([0.025, 0.5, 0.975])):
            mcse = float(az.mcse(draws, method="quantile", prob=q))
            assert abs(np.quantile(draws, q) - r) < 4 * mcse + 0.02, (q, np.quantile(draws, q), r, mcse)
        p_ex = ref.prob_below(0.0)
        p_mc = float((draws < 0).mean())
        ess = float(az.ess(draws, method="bulk"))
        assert abs(p_mc - p_ex) < 4 * math.sqrt(p_ex * (1 - p_ex) / ess) + 0.01, (p_mc, p_ex)
    # the summary rows line up (same quantities, same labels) whichever way the posterior was obtained
    a, b = mc.summary(), ex.summary()
    assert list(a["quantity"]) == list(b["quantity"]) and list(a["comparison"]) == list(b["comparison"])
    assert a.loc[a["quantity"] == "interaction", "prob_less_benefit"].iloc[0] == pytest.approx(
        b.loc[b["quantity"] == "interaction", "prob_less_benefit"].iloc[0], abs=0.05)

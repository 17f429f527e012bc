"""Certainty of evidence: every declared rule pinned by small hand-built cases, and the bundled answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sclcmeta as sm

from sclcmeta.evidence.judgements import read_judgements
from sclcmeta.evidence.risk_of_bias import DOMAINS, RiskOfBias, read_risk_of_bias
from sclcmeta.results.certainty import (RATINGS, Certainty, Domain, certainty, certainty_table, contributions,
                                        grade_pairwise, imprecision_rule, incoherence_rule, inconsistency_rule,
                                        publication_bias_rule, risk_of_bias_rule)


# -- risk of bias: the weight-share rule -------------------------------------------------------------------
def test_one_moderate_study_with_60_percent_weight_rates_down_one_level():
    assert risk_of_bias_rule([1, 0, 0], [0.6, 0.2, 0.2]).levels_down == 1


def test_one_serious_study_with_60_percent_weight_rates_down_two_levels():
    # ROBINS-I serious counts two levels below the ROBINS-I starting point of high
    assert risk_of_bias_rule([2, 0], [0.6, 0.4]).levels_down == 2


def test_serious_study_with_40_percent_weight_alone_does_not_rate_down():
    assert risk_of_bias_rule([2, 0], [0.4, 0.6]).levels_down == 0


def test_serious_plus_moderate_reaching_half_the_weight_rates_down_one_level():
    assert risk_of_bias_rule([2, 1, 0], [0.4, 0.2, 0.4]).levels_down == 1


def test_weights_need_not_be_normalised_and_critical_majority_rates_down_three():
    assert risk_of_bias_rule([3, 3, 0], [2.0, 1.0, 1.0]).levels_down == 3


# -- imprecision -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("lo,hi,down", [(0.60, 1.40, 2), (0.44, 0.94, 1), (0.90, 1.40, 1), (0.85, 1.15, 0),
                                        (0.50, 0.75, 0)])
def test_imprecision_rates_down_one_level_per_threshold_inside_the_interval(lo, hi, down):
    assert imprecision_rule(lo, hi).levels_down == down


def test_imprecision_thresholds_can_be_changed():
    assert imprecision_rule(0.44, 0.94, thresholds=(0.5, 2.0)).levels_down == 1
    assert imprecision_rule(0.44, 0.94, thresholds=(0.4, 2.0)).levels_down == 0


# -- inconsistency -----------------------------------------------------------------------------------------
def test_single_study_inconsistency_is_not_assessable_and_says_so():
    d = inconsistency_rule(1, 0.0, (0.5, 0.9), None)
    assert not d.assessable and d.levels_down == 0 and d.judgement() == "not assessable"
    assert "single estimate" in d.reasons[0]


@pytest.mark.parametrize("tau,pi,down", [
    (0.10, (0.3, 1.4), 0),   # small tau: a wide predictive interval alone does not rate down
    (0.30, (0.3, 1.4), 1),   # moderate tau and the predictive interval reaches the harm zone
    (0.30, (0.55, 0.9), 0),  # moderate tau, same zones as the credible interval
    (0.60, (0.55, 0.9), 1),  # high tau
    (0.60, (0.3, 1.4), 2),   # high tau and another zone
])
def test_inconsistency_rule_from_tau_and_predictive_interval(tau, pi, down):
    assert inconsistency_rule(4, tau, (0.55, 0.9), pi).levels_down == down


# -- publication bias, incoherence -------------------------------------------------------------------------
def test_publication_bias_is_not_assessable_below_ten_studies():
    d = publication_bias_rule(3)
    assert not d.assessable and "fewer than 10" in d.reasons[0]


def test_egger_test_rates_down_an_asymmetric_funnel_and_not_a_symmetric_one():
    se = np.linspace(0.1, 0.5, 12)
    symmetric = np.full(12, -0.3)                  # y/se = mu * (1/se): intercept exactly 0
    asym = 2.0 * se + 0.01 * np.sin(np.arange(12))  # y/se ~ 2: small studies show larger effects
    assert publication_bias_rule(12, symmetric, se).levels_down == 0
    assert publication_bias_rule(12, asym, se).levels_down == 1


@pytest.mark.parametrize("p,down", [(0.5, 0), (0.05, 1), (0.005, 2)])
def test_incoherence_levels_from_the_node_split_p(p, down):
    assert incoherence_rule(p, loops=True).levels_down == down


def test_incoherence_not_assessable_without_loops():
    d = incoherence_rule(0.001, loops=False)
    assert not d.assessable and d.levels_down == 0 and "no closed loop" in d.reasons[0]


def test_rating_floors_at_very_low_and_counts_levels_from_high():
    c = Certainty("a", "OS", "x vs y", "GRADE", (Domain("risk of bias", 2, ("r",)), Domain("imprecision", 1, ("i",))))
    assert c.rating == "very low"
    c2 = Certainty("a", "OS", "x vs y", "GRADE", (Domain("imprecision", 1, ("i",)),))
    assert c2.rating == "moderate" and "imprecision" in c2.summary()
    c3 = Certainty("a", "OS", "x vs y", "GRADE", (Domain("risk of bias", 3, ("r",)), Domain("imprecision", 2, ("i",))))
    assert c3.rating == "very low"


# -- on the bundled answers --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def q1_os():
    import sclcmeta as sm

    return sm.run_spec(sm.load_spec("q1_continuation_os"), method="exact")


def test_pairwise_weights_are_the_random_effects_inverse_variance_weights(q1_os):
    se = np.sqrt(np.diag(q1_os.model.S))
    tau = float(np.asarray(q1_os.variance_marginal("tau").quantile([0.5])).ravel()[0])
    w = 1 / (se**2 + tau**2)
    assert contributions(q1_os) == pytest.approx(w / w.sum(), rel=1e-9)


def test_q1_os_rating_follows_from_the_risk_of_bias_table_the_judgements_and_the_interval(q1_os):
    c = grade_pairwise(q1_os)
    ids = list(q1_os.effects.data["id"])
    overall = read_risk_of_bias().for_ids(ids)["overall"]
    w = contributions(q1_os)
    # from the table: every Q1 OS estimate is at serious or critical risk; critical ones hold under half the weight
    assert set(overall) <= {"serious", "critical"} and w[(overall == "critical").to_numpy()].sum() < 0.5
    rob_down = 2
    indirect = read_judgements().lookup("q1_continuation_os", "indirectness").levels_down
    p = q1_os.pooled_hr()
    imp_down = sum(p["hr_q2.5"] < t < p["hr_q97.5"] for t in (0.8, 1.25))
    assert c.domain("risk of bias").levels_down == rob_down
    assert c.domain("indirectness").levels_down == indirect
    assert c.domain("imprecision").levels_down == imp_down
    assert c.domain("publication bias").judgement() == "not assessable"
    expected = RATINGS[min(3, rob_down + indirect + imp_down + c.domain("inconsistency").levels_down)]
    assert c.rating == expected
    assert all(d.reasons for d in c.domains)


def _rob_frame(judgements: dict[str, str]) -> RiskOfBias:
    """A hand-built ROBINS-I table: every domain of each id at the given judgement."""
    rows = [{"assessment": f"a_{i}", "tool": "ROBINS-I", "cohort": "c", "applies_to": i, "domain": d, "judgement": j,
             "reason": "r", "source": "s", "location": "l", "quote": "q"}
            for i, j in judgements.items() for d in DOMAINS["ROBINS-I"]]
    return RiskOfBias(data=pd.DataFrame(rows))


def test_the_weight_share_rule_on_a_real_fit_with_a_hand_built_risk_of_bias_table():
    # three estimates with equal standard errors: by symmetry each carries exactly a third of the weight
    res = sm.fit(sm.EffectData.from_arrays([-0.4, -0.1, -0.25], [0.2, 0.2, 0.2]), method="exact")
    ids = list(res.effects.data["id"])
    w = contributions(res)
    np.testing.assert_allclose(w, 1 / 3, rtol=1e-9)
    # one estimate at critical risk, the others low: a third of the weight, under half -> not rated down
    rob = _rob_frame({i: ("critical" if i == ids[0] else "low") for i in ids})
    assert grade_pairwise(res, rob=rob).domain("risk of bias").levels_down == 0
    # two at serious risk: two thirds of the weight, over half -> two levels
    rob = _rob_frame({i: ("serious" if i in ids[:2] else "low") for i in ids})
    assert grade_pairwise(res, rob=rob).domain("risk of bias").levels_down == 2


def test_network_contrasts_get_cinema_six_domains_with_incoherence_per_loops(q4_os_network):
    res = q4_os_network
    cs = certainty(res)
    assert {c.comparison for c in cs} >= {"durvalumab + EP vs platinum-etoposide", "PD-1 vs PD-L1 (class means)"}
    c = cs[0]
    assert [d.name for d in c.domains] == ["within-study bias", "reporting bias", "indirectness", "imprecision",
                                           "heterogeneity", "incoherence"]
    assert not res.inconsistency_assessable
    assert c.domain("incoherence").judgement("CINeMA") == "not assessable"
    # contributions sum to one and the contrast's own trial contributes
    w = contributions(res, "durvalumab_1l")
    assert w.sum() == pytest.approx(1.0)
    ids = [r.id for r in res.net.rows]
    assert w[ids.index("caspian_os_update2020")] > 0.1


def test_certainty_table_has_one_row_per_headline_answer_and_a_reason_for_every_rated_domain(q1_os):
    import sclcmeta as sm

    moder = sm.run_spec(sm.load_spec("q3_liver_interaction_os"), method="exact")
    tab = certainty_table([q1_os, moder])
    assert list(tab["analysis"]) == ["q1_continuation_os", "q3_liver_interaction_os"]
    q1 = tab.iloc[0]
    assert q1["rating"] in RATINGS
    for d in ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias"):
        assert q1[d] and q1[d + "_reason"]
    assert tab.iloc[1]["rating"] == "not rated" and "ICEMAN" in tab.iloc[1]["summary"]


def test_module_examples_run():
    import doctest

    from sclcmeta.evidence import baselines, judgements
    from sclcmeta.results import absolute, certainty as cert

    for mod in (cert, absolute, baselines, judgements):
        assert doctest.testmod(mod).failed == 0, mod.__name__

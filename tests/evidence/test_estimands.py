"""Clean estimands (issue 12, item 4): one estimand per analysis, no post-baseline adjustment, second-hand
estimates only on request, and Q1 (continue or resume the same ICI) separate from Q2 (switching)."""

from __future__ import annotations

import pytest

import sclcmeta as sm
from sclcmeta.analyses import effects_for_spec
from sclcmeta.errors import EvidenceError
from sclcmeta.evidence.selection import estimand_of


def test_marginal_and_conditional_hazard_ratios_are_named():
    assert [estimand_of(a) for a in ("propensity_matched", "unadjusted", "univariable", "multivariable")] == [
        "marginal", "marginal", "marginal", "conditional"]


def test_second_hand_estimates_enter_only_when_asked_for(evidence):
    kw = dict(outcome="OS", treatment=["ici_cont_2l"], comparator="no_ici_2l", line="2L")
    default = sm.select_estimates(evidence, **kw)
    assert "zhangb2025" not in set(default.data["cohort"])
    assert any("zhangb2025_os_2lici" in line and "second-hand" in line for line in default.log)
    more = sm.select_estimates(evidence, second_hand=True, **kw)
    assert "zhangb2025" in set(more.data["cohort"])
    assert more.data.set_index("cohort").loc["zhangb2025", "second_hand"]


def test_a_model_adjusted_for_a_post_baseline_variable_is_never_selected(evidence):
    eff = sm.select_estimates(evidence, outcome="PFS", treatment="serplulimab_2l", comparator="no_ici_2l",
                              prefer=("multivariable", "unadjusted"))
    assert "gu2026_pfs_serp_vs_chemo_mv" not in set(eff.data["id"])
    assert eff.data.set_index("cohort").loc["gu2026", "estimand"] == "marginal"
    # named explicitly, it is used (the user asked for it)
    named = sm.select_estimates(evidence, outcome="PFS", treatment="serplulimab_2l", comparator="no_ici_2l",
                                ids=["gu2026_pfs_serp_vs_chemo_mv"])
    assert list(named.data["estimand"]) == ["conditional"]


def test_only_second_hand_evidence_is_an_error_that_says_how_to_use_it(evidence):
    with pytest.raises(EvidenceError, match="second-hand"):
        sm.select_estimates(evidence, outcome="OS", treatment="ici_cont_2l", comparator="no_ici_2l",
                            cohorts=["zhangb2025"])


@pytest.mark.parametrize("name", ["q1_continuation_os", "q1_continuation_pfs"])
def test_q1_is_continuing_the_same_ici_not_switching(evidence, name):
    eff = effects_for_spec(sm.load_spec(name), evidence)
    nodes = evidence.nodes.set_index("node")
    assert not set(eff.data["treatment"]) & set(nodes.index[nodes["strategy"] == "switch"])
    assert set(eff.data["estimand"]) == {"marginal"}
    assert not eff.data["second_hand"].any()


@pytest.mark.parametrize("name", ["q1_continuation_os", "q1_continuation_pfs", "q5_any_ici_os", "q5_any_ici_pfs"])
def test_headline_pairwise_answers_pool_one_estimand(evidence, name):
    res = sm.run_spec(sm.load_spec(name), evidence, method="exact")
    assert set(res.summary()["estimand"]) == {"marginal"}

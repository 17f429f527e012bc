"""Effect scales of a user's table (``scale`` column, alias columns, mean differences): sclcmeta.evidence.scales."""

from __future__ import annotations

import math

import pytest
from scipy import stats

import sclcmeta as sm
from sclcmeta.errors import EvidenceError


def _row(ev, i=0):
    return ev.data.iloc[i]


def test_a_mean_difference_with_a_p_value_gets_se_from_the_normal_quantile(write_csv):
    ev = sm.read_evidence(write_csv("study,treatment,comparator,outcome,scale,md,p_value\nA,t,c,pain,md,-2.5,0.03\n"))
    r = _row(ev)
    assert r["derivation"] == "md_p" and r["log_hr_"] == -2.5
    assert r["se_"] == pytest.approx(2.5 / stats.norm.ppf(1 - 0.03 / 2), rel=1e-12)


def test_a_mean_difference_ci_at_another_level_uses_that_level(write_csv):
    ev = sm.read_evidence(write_csv("study,treatment,comparator,outcome,md,ci_low,ci_high,ci_level\n"
                                    "A,t,c,pain,-1.0,-2.0,0.0,0.9\n"))
    r = _row(ev)
    assert r["scale"] == "md" and r["derivation"] == "md_ci"            # the md column implies the scale
    assert r["se_"] == pytest.approx(2.0 / (2 * stats.norm.ppf(0.95)), rel=1e-12)


def test_ratio_aliases_and_the_neutral_estimate_column_are_read_as_ratios(write_csv):
    ev = sm.read_evidence(write_csv("study,treatment,comparator,outcome,scale,estimate,ci_low,ci_high\n"
                                    "A,t,c,ORR,log_rr,1.5,1.1,2.0\n"))
    r = _row(ev)
    assert r["scale"] == "log_rr" and r["log_hr_"] == pytest.approx(math.log(1.5))
    ev = sm.read_evidence(write_csv("study,treatment,comparator,outcome,log_or,se\nA,t,c,ORR,0.4,0.2\n", "b.csv"))
    assert _row(ev)["scale"] == "log_or" and _row(ev)["se_"] == 0.2


@pytest.mark.parametrize("text, match", [
    ("study,treatment,comparator,outcome,scale,or,ci_low,ci_high\nA,t,c,ORR,log_hr,1.5,1.1,2.0\n", "a or value on a row whose scale is log_hr"),
    ("study,treatment,comparator,outcome,or,hr,ci_low,ci_high\nA,t,c,ORR,1.5,1.4,1.1,2.0\n", "both or and hr are given"),
    ("study,treatment,comparator,outcome,scale,md\nA,t,c,pain,md,-2\n", "needs its precision"),
    ("study,treatment,comparator,outcome,scale,md,ci_low,ci_high\nA,t,c,pain,md,-2,-1,0\n", "do not bracket the MD"),
    ("study,treatment,comparator,outcome,scale,hr,ci_low,ci_high\nA,t,c,pain,md,0.7,0.5,0.9\n", "ratio column on a mean-difference row"),
])
def test_inconsistent_scale_columns_are_errors_naming_the_row(write_csv, text, match):
    with pytest.raises(EvidenceError, match=match) as info:
        sm.read_evidence(write_csv(text))
    assert "row 1 (line 2)" in str(info.value)


def test_a_mean_difference_beyond_five_is_not_flagged_as_an_implausible_hazard_ratio(write_csv):
    ev = sm.read_evidence(write_csv("study,treatment,comparator,outcome,scale,md,se\nA,t,c,pain,md,-12,3\n"
                                    "B,t,c,pain,md,-9,4\n"))
    assert not [f for f in ev.flags if f.code == "implausible_effect"]

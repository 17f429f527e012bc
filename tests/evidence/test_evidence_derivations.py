"""Log HR and SE derivations against hand-derived formulas (property-based), and the flags built on them."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sclcmeta.evidence.derive import (
    Printed,
    ci_symmetric_within_rounding,
    p_consistent_with_ci,
    parse_p,
    se_from_ci,
    se_from_p,
    z_for_level,
)

log_hr = st.floats(-2.5, 2.5, allow_nan=False)
se = st.floats(0.02, 1.5, allow_nan=False)
level = st.sampled_from([0.8, 0.9, 0.95, 0.975, 0.99])


@given(log_hr, se, level)
def test_se_from_ci_inverts_a_wald_interval_of_any_level(b, s, lev):
    # hand derivation: a Wald CI of level L is exp(b -/+ z s) with z = Phi^-1((1+L)/2)
    z = stats.norm.ppf((1 + lev) / 2)
    lo, hi = math.exp(b - z * s), math.exp(b + z * s)
    assert se_from_ci(lo, hi, lev) == pytest.approx(s, rel=1e-9)


def test_z_for_95_percent_is_1_96():
    assert z_for_level(0.95) == pytest.approx(1.959964, abs=1e-6)


@given(log_hr.filter(lambda b: abs(b) > 0.01), se)
def test_se_from_p_inverts_a_two_sided_wald_p_value(b, s):
    p = 2 * stats.norm.sf(abs(b) / s)
    if not 1e-10 < p < 1 - 1e-9:      # beyond, the p-value itself carries too few digits
        return
    assert se_from_p(math.exp(b), p) == pytest.approx(s, rel=1e-6)


def test_se_from_p_hand_example():
    # HR 0.56, p = 0.015: z = 2.4324, se = |log 0.56| / z = 0.23837
    assert se_from_p(0.56, 0.015) == pytest.approx(abs(math.log(0.56)) / 2.43238, rel=1e-4)


def test_se_from_p_rejects_hr_of_one_and_p_of_zero():
    with pytest.raises(ValueError):
        se_from_p(1.0, 0.5)
    with pytest.raises(ValueError):
        se_from_p(0.7, 0.0)


@settings(max_examples=200)
@given(log_hr, se, st.integers(2, 3))
def test_wald_interval_rounded_to_printed_digits_passes_the_symmetry_check(b, s, d):
    z = 1.959964
    vals = [math.exp(b), math.exp(b - z * s), math.exp(b + z * s)]
    printed = [f"{v:.{d}f}" for v in vals]
    if any(float(x) <= 0 for x in printed):
        return
    hr, lo, hi = (Printed.parse(x) for x in printed)
    assert ci_symmetric_within_rounding(hr, lo, hi)


def test_transcription_error_fails_the_symmetry_check():
    # 0.61 (0.45-0.79) vs the correct 0.61 (0.47-0.79): the first is asymmetric beyond rounding
    assert ci_symmetric_within_rounding(*(Printed.parse(x) for x in ("0.61", "0.47", "0.79")))
    assert not ci_symmetric_within_rounding(*(Printed.parse(x) for x in ("0.61", "0.45", "0.79")))


def test_printed_keeps_the_number_of_decimals():
    assert Printed.parse("0.60").decimals == 2 and Printed.parse("1.5").decimals == 1
    assert Printed.parse("0.601").half_ulp == pytest.approx(0.0005)


@pytest.mark.parametrize("text, value, op", [("0.003", 0.003, "="), ("<0.001", 0.001, "<"), ("< 0.01", 0.01, "<"),
                                             ("P=0.02", 0.02, "="), (">0.05", 0.05, ">")])
def test_parse_p(text, value, op):
    assert parse_p(text) == (value, op)


def test_one_sided_p_is_recognised():
    b, s = math.log(0.72), se_from_ci(0.58, 0.90)
    assert not p_consistent_with_ci("0.0017", b, s)
    assert p_consistent_with_ci("0.0017", b, s, sides=1)


def test_log_hr_and_se_of_bundled_row_match_hand_computation(evidence):
    r = evidence.data.set_index("id").loc["gu2026_pfs_serp_vs_chemo"]
    assert r["log_hr_"] == pytest.approx(math.log(0.601))
    assert r["se_"] == pytest.approx((math.log(0.848) - math.log(0.426)) / (2 * 1.959964), rel=1e-6)


def test_se_from_p_rows_are_flagged(evidence):
    codes = {(f.row_id, f.code) for f in evidence.flags}
    assert ("zhangb2025_os_2lici", "se_from_p") in codes


def test_asymmetric_ci_in_the_review_is_flagged(evidence):
    codes = {(f.row_id, f.code) for f in evidence.flags}
    assert ("eter701_os_tab", "ci_asymmetric") in codes
    assert ("eter701_os_text", "ci_asymmetric") not in codes


def test_direction_contradicting_medians_is_flagged(write_csv):
    from sclcmeta import read_evidence

    p = write_csv("study,treatment,comparator,outcome,hr,ci_low,ci_high,median_treatment,median_comparator\n"
                  "A,ici,chemo,OS,0.70,0.55,0.89,6.0,9.0")
    ev = read_evidence(p)
    assert [f.code for f in ev.flags] == ["direction_vs_medians"]

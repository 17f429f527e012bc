"""HR extraction methods of Parmar et al. 1998 (Stat Med 17:2815-34) and Tierney et al. 2007 (Trials 8:16):
hand-derived values, property tests against the formulas, and the CSV encodings that use them."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from sclcmeta import EvidenceError, read_evidence
from sclcmeta.evidence.derive import (
    from_logrank_p,
    from_logrank_p_arm_events,
    from_medians,
    from_o_minus_e,
)

log_hr = st.floats(-2.0, 2.0, allow_nan=False)
se = st.floats(0.05, 1.0, allow_nan=False)
ratio = st.sampled_from([0.5, 1.0, 1.5, 2.0, 3.0])


# --- hand-derived values -------------------------------------------------------------------------

def test_o_minus_e_and_v_hand_example():
    # Parmar 1998 / Tierney 2007 "O - E and V": log HR = (O - E) / V, SE = 1 / sqrt(V)
    # O - E = -10, V = 25 -> log HR = -10 / 25 = -0.4, SE = 1 / 5 = 0.2
    b, s = from_o_minus_e(-10.0, 25.0)
    assert b == pytest.approx(-0.4) and s == pytest.approx(0.2)


def test_logrank_p_with_total_events_hand_example():
    # Parmar 1998: V = E r / (1 + r)^2; 1:1 allocation, E = 100 -> V = 100 / 4 = 25, sqrt(V) = 5
    # p = 0.05 -> z = Phi^-1(0.975) = 1.959964; favours treatment -> O - E = -1.959964 * 5 = -9.79982
    # log HR = -9.79982 / 25 = -0.3919928, SE = 1 / 5 = 0.2
    b, s = from_logrank_p(0.05, 100, favours="treatment")
    assert b == pytest.approx(-0.3919928, abs=1e-6) and s == pytest.approx(0.2)


def test_logrank_p_with_unequal_allocation_hand_example():
    # 2:1 allocation, E = 90 -> V = 90 * 2 / 3^2 = 20, sqrt(V) = 4.472136
    # p = 0.01 -> z = 2.575829; favours the comparator -> log HR = +2.575829 / 4.472136 = 0.5759729
    # SE = 1 / 4.472136 = 0.2236068
    b, s = from_logrank_p(0.01, 90, ratio=2.0, favours="comparator")
    assert b == pytest.approx(0.5759729, abs=1e-6) and s == pytest.approx(0.2236068, abs=1e-7)


def test_logrank_p_with_events_per_arm_hand_example():
    # Tierney 2007 eq. 14: V = E_t E_c / (E_t + E_c); E_t = 40, E_c = 60 -> V = 2400 / 100 = 24
    # sqrt(24) = 4.898979; p = 0.05, favours treatment -> log HR = -1.959964 / 4.898979 = -0.4000760
    # SE = 1 / 4.898979 = 0.2041241
    b, s = from_logrank_p_arm_events(0.05, 40, 60, favours="treatment")
    assert b == pytest.approx(-0.4000760, abs=1e-6) and s == pytest.approx(0.2041241, abs=1e-7)


def test_logrank_z_of_tierney_example():
    # Tierney 2007's worked log-rank p of 0.075 has z = Phi^-1(1 - 0.075 / 2) = 1.780
    # (Trials 2013, 14:391); with V = 1 the log HR is that z itself
    b, _ = from_logrank_p(0.075, 4, favours="comparator")  # E = 4, 1:1 -> V = 1
    assert b == pytest.approx(1.780, abs=5e-4)


def test_medians_exponential_hand_example():
    # exponential survival: HR = m_c / m_t = 8 / 12 = 0.6667, log HR = log(2/3) = -0.4054651
    # var = 1/50 + 1/50 = 0.04 -> SE = 0.2
    b, s = from_medians(12.0, 8.0, 50, 50)
    assert b == pytest.approx(-0.4054651, abs=1e-7) and s == pytest.approx(0.2)


# --- properties against the formulas --------------------------------------------------------------

@given(log_hr, se)
def test_o_minus_e_round_trip(b, s):
    # a log HR and SE define V = 1 / s^2 and O - E = b V; the method gives them back
    v = 1.0 / s**2
    b2, s2 = from_o_minus_e(b * v, v)
    assert b2 == pytest.approx(b, rel=1e-9, abs=1e-12) and s2 == pytest.approx(s, rel=1e-9)


@given(log_hr.filter(lambda b: abs(b) > 0.01), se, ratio)
def test_logrank_p_from_a_wald_z_recovers_the_log_hr(b, s, r):
    # a Wald z = |b| / s gives p; events E = V (1 + r)^2 / r with V = 1 / s^2 give V back, so the
    # method returns |log HR| = z / sqrt(V) = |b| and SE = s, signed by the arm the test favours
    p = 2 * stats.norm.sf(abs(b) / s)
    if not 1e-12 < p < 0.99:   # near p = 1, z = Phi^-1(1 - p/2) keeps only ~eps/(1 - p) relative precision
        return
    events = (1.0 / s**2) * (1 + r) ** 2 / r
    b2, s2 = from_logrank_p(p, events, ratio=r, favours="treatment" if b < 0 else "comparator")
    assert b2 == pytest.approx(b, rel=1e-6) and s2 == pytest.approx(s, rel=1e-9)


@given(st.floats(0.001, 0.999), st.integers(2, 2000))
def test_events_split_evenly_equal_the_total_events_form(p, half):
    # with E_t = E_c = E/2 the per-arm variance E_t E_c / (E_t + E_c) = E/4, the 1:1 total-events form
    a = from_logrank_p_arm_events(p, half, half, favours="treatment")
    t = from_logrank_p(p, 2 * half, favours="treatment")
    assert a == pytest.approx(t, rel=1e-12)


@given(st.floats(0.001, 0.999), st.integers(1, 2000), st.sampled_from(["treatment", "comparator"]))
def test_logrank_direction_only_flips_the_sign(p, e, fav):
    b, s = from_logrank_p(p, e, favours=fav)
    b_other, s_other = from_logrank_p(p, e, favours="comparator" if fav == "treatment" else "treatment")
    assert b == pytest.approx(-b_other) and s == s_other
    assert (b < 0) == (fav == "treatment")


@given(st.floats(0.5, 60), st.floats(0.5, 60), st.integers(1, 1000))
def test_medians_with_equal_events_give_variance_two_over_e(mt, mc, e):
    b, s = from_medians(mt, mc, e, e)
    assert s**2 == pytest.approx(2.0 / e, rel=1e-12)
    assert b == pytest.approx(math.log(mc) - math.log(mt), rel=1e-12, abs=1e-12)


@given(st.floats(0.5, 60), st.floats(0.5, 60), st.floats(0.1, 10))
def test_medians_hr_does_not_depend_on_the_time_unit(mt, mc, k):
    assert from_medians(k * mt, k * mc, 10, 20)[0] == pytest.approx(from_medians(mt, mc, 10, 20)[0], abs=1e-12)


@pytest.mark.parametrize("call, words", [
    (lambda: from_o_minus_e(-10, 0), "variance V must be a positive"),
    (lambda: from_o_minus_e(-10, -4), "variance V must be a positive"),
    (lambda: from_o_minus_e(float("nan"), 4), "finite"),
    (lambda: from_logrank_p(0.0, 100, favours="treatment"), "strictly between 0 and 1"),
    (lambda: from_logrank_p(1.0, 100, favours="treatment"), "strictly between 0 and 1"),
    (lambda: from_logrank_p(1.2, 100, favours="treatment"), "strictly between 0 and 1"),
    (lambda: from_logrank_p(0.05, 0, favours="treatment"), "total number of events"),
    (lambda: from_logrank_p(0.05, 100, ratio=0, favours="treatment"), "allocation ratio"),
    (lambda: from_logrank_p(0.05, 100), "has no sign"),
    (lambda: from_logrank_p(0.05, 100, favours="control"), "has no sign"),
    (lambda: from_logrank_p_arm_events(0.05, 0, 10, favours="treatment"), "treatment arm"),
    (lambda: from_medians(0, 8, 10, 10), "median of the treatment arm"),
    (lambda: from_medians(12, -1, 10, 10), "median of the comparator arm"),
    (lambda: from_medians(12, 8, 10, 0), "events in the comparator arm"),
])
def test_invalid_input_raises_a_clear_value_error(call, words):
    with pytest.raises(ValueError, match=words):
        call()


# --- CSV encodings --------------------------------------------------------------------------------

BASE = "study,treatment,comparator,outcome"


def _row(ev):
    assert len(ev.data) == 1
    return ev.data.iloc[0]


@pytest.mark.parametrize("cols, values, derivation, flags, b, s", [
    ("hr,ci_low,ci_high", "0.70,0.55,0.89", "ci", [], math.log(0.70),
     (math.log(0.89) - math.log(0.55)) / (2 * 1.959964)),
    ("log_hr,se", "-0.4,0.2", "log_hr_se", [], -0.4, 0.2),
    ("hr,ci_low,ci_high,p_value", "0.56,,,0.015", "hr_p", ["se_from_p"], math.log(0.56),
     abs(math.log(0.56)) / 2.432379),
    ("o_minus_e,v", "-10,25", "o_minus_e_v", [], -0.4, 0.2),
    ("logrank_p,favours,events_total", "0.05,treatment,100", "logrank_p_events", ["se_from_logrank_p"],
     -0.3919928, 0.2),
    ("logrank_p,favours,events_total,allocation_ratio", "0.01,comparator,90,2", "logrank_p_events",
     ["se_from_logrank_p"], 0.5759729, 0.2236068),
    ("logrank_p,favours,events_treatment,events_comparator", "0.05,treatment,40,60", "logrank_p_events",
     ["se_from_logrank_p"], -0.4000760, 0.2041241),
    ("median_treatment,median_comparator,events_treatment,events_comparator", "12,8,50,50",
     "medians_exponential", ["hr_from_medians"], math.log(8 / 12), 0.2),
    # hr/CI columns present but empty: the other encoding is used
    ("hr,ci_low,ci_high,o_minus_e,v", ",,,-10,25", "o_minus_e_v", [], -0.4, 0.2),
])
def test_minimal_csv_with_each_encoding(write_csv, cols, values, derivation, flags, b, s):
    ev = read_evidence(write_csv(f"{BASE},{cols}\nA,ici,chemo,OS,{values}"))
    r = _row(ev)
    assert r["derivation"] == derivation
    assert [f.code for f in ev.flags] == flags
    assert r["log_hr_"] == pytest.approx(b, abs=1e-6) and r["se_"] == pytest.approx(s, abs=1e-6)


def test_medians_flag_says_it_is_the_weakest_method(write_csv):
    ev = read_evidence(write_csv(f"{BASE},median_treatment,median_comparator,events_treatment,events_comparator\n"
                                 "A,ici,chemo,OS,12,8,50,50"))
    msg = ev.flags[0].message
    assert "weakest" in msg and "exponential survival" in msg and "sensitivity estimate" in msg


def test_logrank_p_printed_as_bound_is_flagged_as_towards_the_null(write_csv):
    ev = read_evidence(write_csv(f"{BASE},logrank_p,favours,events_total\nA,ici,chemo,OS,<0.001,treatment,200"))
    assert _row(ev)["derivation"] == "logrank_p_events"
    assert "lower bound" in ev.flags[0].message


@pytest.mark.parametrize("cols, values, derivation", [
    # CI beats O-E/V; O-E/V beats log-rank p; log-rank p beats HR with p; HR with p beats medians
    ("hr,ci_low,ci_high,o_minus_e,v", "0.67,0.46,0.99,-10,25", "ci"),
    ("o_minus_e,v,logrank_p,favours,events_total", "-10,25,0.05,treatment,100", "o_minus_e_v"),
    ("hr,ci_low,ci_high,p_value,logrank_p,favours,events_total", "0.68,,,0.05,0.05,treatment,100",
     "logrank_p_events"),
    ("hr,ci_low,ci_high,p_value,median_treatment,median_comparator,events_treatment,events_comparator",
     "0.67,,,0.05,12,8,50,50", "hr_p"),
])
def test_strongest_encoding_is_used(write_csv, cols, values, derivation):
    ev = read_evidence(write_csv(f"{BASE},{cols}\nA,ici,chemo,OS,{values}"))
    assert _row(ev)["derivation"] == derivation


def test_agreeing_alternatives_are_not_flagged(write_csv):
    # CI 0.67 (0.4529-0.9912) is exp(-0.4 -/+ 1.96 * 0.2): the same estimate as O - E = -10, V = 25
    ev = read_evidence(write_csv(f"{BASE},hr,ci_low,ci_high,o_minus_e,v\nA,ici,chemo,OS,0.67,0.45,0.99,-10,25"))
    assert _row(ev)["derivation"] == "ci"
    assert [f.code for f in ev.flags] == []


def test_disagreeing_alternatives_are_flagged(write_csv):
    # O - E = -20, V = 25 gives HR exp(-0.8) = 0.449, far from the printed 0.67
    ev = read_evidence(write_csv(f"{BASE},hr,ci_low,ci_high,o_minus_e,v\nA,ici,chemo,OS,0.67,0.45,0.99,-20,25"))
    r = _row(ev)
    assert r["derivation"] == "ci" and r["log_hr_"] == pytest.approx(math.log(0.67))
    assert [f.code for f in ev.flags] == ["derivation_alternatives"]
    assert "o_minus_e_v gives HR 0.449" in ev.flags[0].message


def test_medians_disagreeing_with_logrank_are_flagged(write_csv):
    ev = read_evidence(write_csv(
        f"{BASE},logrank_p,favours,events_treatment,events_comparator,median_treatment,median_comparator\n"
        "A,ici,chemo,OS,0.05,treatment,40,60,6,12"))
    assert _row(ev)["derivation"] == "logrank_p_events"
    # medians 6 vs 12 months give HR 2 against the log-rank's 0.67: both the alternatives and the
    # existing direction check fire
    assert sorted(f.code for f in ev.flags) == ["derivation_alternatives", "direction_vs_medians",
                                                "se_from_logrank_p"]


def test_bundled_rows_have_a_derivation(evidence):
    assert set(evidence.data["derivation"]) == {"ci", "hr_p"}
    assert (evidence.data.loc[evidence.data["derivation"] == "hr_p", "se_method"] == "p_value").all()


@pytest.mark.parametrize("cols, values, column, value, fix", [
    ("o_minus_e,v", "-10,0", "v", "0", "must be positive"),
    ("o_minus_e,v", "-10,abc", "v", "abc", "not a number"),
    ("o_minus_e,v", "-10,", "v", "", "come as a pair"),
    ("o_minus_e,v", ",25", "o_minus_e", "", "come as a pair"),
    ("logrank_p,favours,events_total", "0.05,,100", "favours", "", "has no sign"),
    ("logrank_p,favours,events_total", "0.05,control,100", "favours", "control", "treatment, comparator"),
    ("logrank_p,favours,events_total", "0.05,treatment,", "events_total", "", "needs the number of events"),
    ("logrank_p,favours,events_total", "0.05,treatment,-3", "events_total", "-3", "must be positive"),
    ("logrank_p,favours,events_total", "1.5,treatment,100", "logrank_p", "1.5", "not a p-value"),
    ("logrank_p,favours,events_total", "0,treatment,100", "logrank_p", "0", "strictly between 0 and 1"),
    ("logrank_p,favours,events_total", ">0.05,treatment,100", "logrank_p", ">0.05", "lower bound"),
    ("logrank_p,favours,events_total,allocation_ratio", "0.05,treatment,100,0", "allocation_ratio", "0",
     "must be positive"),
    ("logrank_p,favours,events_total,events_treatment,events_comparator", "0.05,treatment,100,40,50",
     "events_total", "100", "not the sum"),
    ("median_treatment,median_comparator,events_treatment,events_comparator", "12,8,50,", "events_comparator",
     "", "both medians and both event counts"),
    ("median_treatment,median_comparator,events_treatment,events_comparator", "12,,50,50", "median_comparator",
     "", "both medians and both event counts"),
    ("median_treatment,median_comparator,events_treatment,events_comparator", "0,8,50,50", "median_treatment",
     "0", "must be positive"),
])
def test_malformed_encoding_names_file_row_column_and_value(write_csv, cols, values, column, value, fix):
    p = write_csv(f"{BASE},{cols}\nA,ici,chemo,OS,{values}")
    with pytest.raises(EvidenceError) as exc:
        read_evidence(p)
    assert len(exc.value.problems) == 1, exc.value.problems
    msg = exc.value.problems[0]
    assert str(p) in msg and "row 1" in msg and f"column '{column}'" in msg and repr(value) in msg
    assert fix in msg


def test_missing_effect_columns_list_every_accepted_encoding(write_csv):
    p = write_csv(f"{BASE},o_minus_e\nA,ici,chemo,OS,-10")
    with pytest.raises(EvidenceError) as exc:
        read_evidence(p)
    msg = str(exc.value)
    for group in ("hr, ci_low, ci_high", "log_hr, se", "o_minus_e, v", "logrank_p, favours, events_total",
                  "median_treatment, median_comparator, events_treatment, events_comparator"):
        assert group in msg


def test_full_format_row_can_carry_o_minus_e_and_v(evidence, tmp_path):
    import pandas as pd

    from sclcmeta.paths import data_dir

    df = pd.read_csv(data_dir() / "evidence.csv", dtype=str, keep_default_na=False)
    i = df.index[df["id"] == "gu2026_pfs_serp_vs_chemo"][0]
    df["o_minus_e"], df["v"] = "", ""
    df.loc[i, ["hr", "ci_low", "ci_high", "p_value"]] = ""
    df.loc[i, ["o_minus_e", "v"]] = ["-12.5", "25"]
    p = tmp_path / "evidence.csv"
    df.to_csv(p, index=False)
    ev = read_evidence(p, studies=data_dir() / "studies.csv", nodes=data_dir() / "nodes.csv")
    r = ev.data.set_index("id").loc["gu2026_pfs_serp_vs_chemo"]
    # O - E = -12.5, V = 25 -> log HR -0.5, SE 0.2
    assert r["derivation"] == "o_minus_e_v"
    assert r["log_hr_"] == pytest.approx(-0.5) and r["se_"] == pytest.approx(0.2)

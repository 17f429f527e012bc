"""E-values (VanderWeele & Ding 2017) for pooled hazard ratios."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from sclcmeta.errors import SclcmetaError
from sclcmeta.results.evalues import (
    EValue,
    evalue_hr,
    evalue_rr,
    evalue_table,
    hr_to_rr,
)


def test_paper_worked_example_point_estimate_rr_3_9_gives_7_26():
    # VanderWeele & Ding 2017: RR 3.9 -> 3.9 + sqrt(3.9 * 2.9) = 3.9 + sqrt(11.31) = 3.9 + 3.3630 = 7.263;
    # the rmorie reference page (wrapper over R EValue) prints 7.263034 for rr = 3.9.
    assert evalue_rr(3.9) == pytest.approx(7.263034, abs=1e-6)
    assert round(evalue_rr(3.9), 2) == 7.26


def test_paper_worked_example_lower_limit_1_8_gives_3_00():
    # by hand: 1.8 + sqrt(1.8 * 0.8) = 1.8 + sqrt(1.44) = 1.8 + 1.2 = 3.0 exactly
    assert evalue_rr(1.8) == pytest.approx(3.0, abs=1e-12)


def test_paper_worked_example_through_evalue_hr_rare_outcome_uses_lower_limit():
    e = evalue_hr(3.9, 1.8, 8.7, common_outcome=False)
    assert e.point == pytest.approx(7.263034, abs=1e-6)
    assert e.bound == pytest.approx(3.0, abs=1e-12)
    assert e.hr_bound == 1.8


def test_protective_estimates_invert():
    assert evalue_rr(0.5) == pytest.approx(evalue_rr(2.0))
    assert evalue_rr(2.0) == pytest.approx(2 + math.sqrt(2))


def test_null_risk_ratio_has_evalue_one():
    assert evalue_rr(1.0) == 1.0


def test_interval_including_one_gives_bound_evalue_one():
    e = evalue_hr(0.8, 0.6, 1.1)
    assert e.bound == 1.0
    assert e.interval_includes_null
    assert e.point > 1.0
    assert "already includes no effect" in e.explain()


def test_protective_hr_uses_upper_bound_and_harmful_hr_uses_lower_bound():
    prot = evalue_hr(0.6, 0.45, 0.8, common_outcome=False)
    assert prot.hr_bound == 0.8 and prot.bound == pytest.approx(evalue_rr(0.8))
    harm = evalue_hr(1.5, 1.2, 1.9, common_outcome=False)
    assert harm.hr_bound == 1.2 and harm.bound == pytest.approx(evalue_rr(1.2))


def test_rare_outcome_conversion_is_identity():
    assert hr_to_rr(0.5, common_outcome=False) == 0.5


def test_common_outcome_conversion_matches_published_formula_at_hr_0_5():
    # RR = (1 - 0.5**sqrt(HR)) / (1 - 0.5**sqrt(1/HR)) (VanderWeele 2020; R EValue evalues.HR rare = FALSE).
    # HR 0.5: sqrt(0.5) = 0.707107, 0.5**0.707107 = exp(-0.707107 * 0.693147) = exp(-0.490129) = 0.612547;
    #         sqrt(2)   = 1.414214, 0.5**1.414214 = exp(-0.980258)             = 0.375214;
    #         RR = (1 - 0.612547) / (1 - 0.375214) = 0.387453 / 0.624786 = 0.62014
    assert hr_to_rr(0.5, common_outcome=True) == pytest.approx(0.62014, abs=1e-4)


def test_common_outcome_conversion_is_reciprocal_symmetric_and_fixes_one():
    assert hr_to_rr(1.0, common_outcome=True) == pytest.approx(1.0)
    assert hr_to_rr(2.0, True) == pytest.approx(1 / hr_to_rr(0.5, True))


def test_common_outcome_default_gives_smaller_evalues_than_rare():
    common = evalue_hr(0.56, 0.46, 0.69)
    rare = evalue_hr(0.56, 0.46, 0.69, common_outcome=False)
    assert common.common_outcome and not rare.common_outcome
    assert 1 < common.point < rare.point
    assert 1 < common.bound < rare.bound
    assert common.rr == pytest.approx(hr_to_rr(0.56, True))


def test_evalue_is_frozen_and_explains_in_one_sentence():
    e = evalue_hr(0.6, 0.45, 0.8)
    assert isinstance(e, EValue)
    with pytest.raises(AttributeError):
        e.point = 2.0  # type: ignore[misc]
    text = e.explain()
    assert text.count(". ") == 0 and text.endswith(".")
    assert f"{e.point:.2f}" in text and f"{e.bound:.2f}" in text
    assert "continuing the ICI" in text and "survival" in text


@pytest.mark.parametrize("args", [(0.0, 0.1, 1.0), (-0.5, 0.1, 1.0), (0.5, 0.6, 0.9), (0.5, 0.1, float("nan"))])
def test_bad_input_raises_a_sclcmeta_error(args):
    with pytest.raises(SclcmetaError):
        evalue_hr(*args)


def test_evalue_table_needs_the_summary_columns():
    with pytest.raises(SclcmetaError, match="hr_q97.5"):
        evalue_table(pd.DataFrame({"quantity": ["pooled"], "comparison": ["x"], "hr_median": [0.5],
                                   "hr_q2.5": [0.4]}))


def test_evalue_table_keeps_only_pooled_rows():
    df = pd.DataFrame({"quantity": ["pooled", "tau", "study"], "comparison": ["a", "b", "c"],
                       "hr_median": [0.6, float("nan"), 0.7], "hr_q2.5": [0.4, float("nan"), 0.5],
                       "hr_q97.5": [0.9, float("nan"), 1.1]})
    out = evalue_table(df)
    assert list(out["comparison"]) == ["a"]


@pytest.fixture(scope="module")
def q1_summary():
    import sclcmeta as sm

    res = sm.run_spec(sm.load_spec("q1_continuation_os"), method="exact")
    return res.summary()


def test_evalue_table_on_q1_continuation_gives_one_row_per_pooled_answer(q1_summary):
    out = evalue_table(q1_summary)
    assert sorted(out["bias"]) == ["adjusted", "unadjusted"]      # bias-adjusted answer and the one beside it
    for _, row in out.iterrows():
        assert row["evalue_point"] > row["evalue_bound"] >= 1.0
        pooled = q1_summary[(q1_summary["quantity"] == "pooled") & (q1_summary["bias"] == row["bias"])].iloc[0]
        assert row["hr_median"] == pytest.approx(pooled["hr_median"])
        assert row["evalue_point"] == pytest.approx(evalue_rr(hr_to_rr(pooled["hr_median"], True)))
        assert "explain away the point estimate" in row["explanation"]

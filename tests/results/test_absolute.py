"""Absolute effects: the proportional-hazards transformation against closed forms, and the bundled answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, optimize

from sclcmeta.evidence.baselines import BaselineCurve, read_baselines
from sclcmeta.results.absolute import absolute_effects, absolute_from_draws, absolute_table


def test_exponential_baseline_survival_difference_matches_closed_form():
    # S_base(t) = 2^(-t/m); under PH S_trt(t) = 2^(-t HR / m)
    m, hr = 8.0, 0.7
    base = BaselineCurve.exponential(m)
    d = absolute_from_draws(np.full(5, math.log(hr)), base, times=(6.0, 12.0))
    for t in (6.0, 12.0):
        expected = 2 ** (-t * hr / m) - 2 ** (-t / m)
        assert d["survival_difference"][t] == pytest.approx(np.full(5, expected), abs=1e-12)


def test_exponential_baseline_median_gain_is_m_over_hr_minus_m():
    m = 5.0
    base = BaselineCurve.exponential(m)
    hrs = np.array([0.5, 0.8, 1.0, 1.25])
    d = absolute_from_draws(np.log(hrs), base)
    assert d["median_gain"] == pytest.approx(m / hrs - m, rel=1e-12)


def test_piecewise_curve_goes_through_its_knots_and_inverts_by_root_finding():
    base = BaselineCurve(times=(7.87, 12.0, 24.0), surv=(0.5, 0.299, 0.054))
    assert base.survival([7.87, 12.0, 24.0]) == pytest.approx([0.5, 0.299, 0.054], rel=1e-12)
    hr = 0.6
    # median of S^HR by brute-force root finding on the survival function itself
    root = optimize.brentq(lambda t: float(base.survival(t)) ** hr - 0.5, 0.1, 100)
    assert float(base.median_under_hr(hr)) == pytest.approx(root, rel=1e-9)
    # constant hazard between knots: the hazard integrates back to the cumulative hazard at 12 months
    h = lambda t: -np.gradient(np.log(base.survival([t - 1e-6, t + 1e-6])), 2e-6)[0]  # noqa: E731
    area, _ = integrate.quad(h, 0, 12.0, points=[7.87])
    assert area == pytest.approx(-math.log(0.299), rel=1e-4)


def test_survival_difference_is_summarised_draw_by_draw(evidence):
    import sclcmeta as sm

    res = sm.run_spec(sm.load_spec("q1_continuation_os"), evidence, method="exact")
    base = BaselineCurve.exponential(8.95, name="test")
    tab = absolute_effects(res, base, times=(12.0,)).set_index("quantity")
    lhr = res.idata.posterior["b"].sel(coef="mu").values.ravel()
    diff = 2 ** (-12 * np.exp(lhr) / 8.95) - 2 ** (-12 / 8.95)
    lo, med, hi = np.quantile(diff, [0.025, 0.5, 0.975])
    row = tab.loc["survival_difference"]
    assert (row["median"], row["q2.5"], row["q97.5"]) == pytest.approx((med, lo, hi), rel=1e-12)
    assert "proportional hazards" in row["assumption"]
    assert row["text"].startswith(f"{round(100 * med)} more per 100 patients alive at 12 months")


def test_absolute_table_uses_the_declared_baseline_of_each_question(evidence):
    import sclcmeta as sm

    res = [sm.run_spec(sm.load_spec(n), evidence, method="exact") for n in ("q1_continuation_os", "q5_any_ici_pfs")]
    tab = absolute_table(res)
    used = tab.groupby("analysis")["baseline"].first().to_dict()
    b = read_baselines().data.set_index("name")
    assert "Q1" in b.loc[used["q1_continuation_os"], "use_for"].split(";")
    assert b.loc[used["q1_continuation_os"], "outcome"] == "OS"
    assert "Q5" in b.loc[used["q5_any_ici_pfs"], "use_for"].split(";")
    # the Q5 PFS baseline is read at 6 and 12 months straight from its landmarks
    q5 = tab[(tab["analysis"] == "q5_any_ici_pfs") & (tab["quantity"] == "survival_difference")]
    landmarks = {
        float(k): float(v) for k, v in (kv.split(":") for kv in b.loc[used["q5_any_ici_pfs"], "landmarks"].split(";"))}
    for r in q5.itertuples():
        assert r.baseline_value == pytest.approx(landmarks[r.time_months])


def test_spec_baseline_overrides_the_default(evidence, tmp_path):
    import sclcmeta as sm

    src = (sm.load_spec("q1_continuation_os").path)
    p = tmp_path / "q1_other_baseline.toml"
    p.write_text(open(src).read() + '\n[absolute]\nmedian_months = 5.0\ntimes = [3, 9]\n')
    res = sm.run_spec(sm.load_spec(p), evidence, method="exact")
    tab = absolute_table([res])
    gain = tab[tab["quantity"] == "median_gain"].iloc[0]
    assert gain["baseline_value"] == pytest.approx(5.0)
    assert sorted(tab["time_months"].dropna()) == [3.0, 9.0]
    p.write_text(open(src).read() + '\n[absolute]\nbaseline = "caspian_chemo_os"\n')
    assert absolute_table([sm.run_spec(sm.load_spec(p), evidence, method="exact")])["baseline"].iloc[0] == "caspian_chemo_os"


def test_harmful_effect_reads_as_fewer_alive_and_a_median_loss():
    import sclcmeta as sm

    res = sm.fit(sm.EffectData.from_arrays([0.4, 0.5, 0.3], [0.1, 0.1, 0.1]), method="exact")
    tab = absolute_effects(res, BaselineCurve.exponential(8.0, name="t"), times=(12.0,))
    assert tab["text"].iloc[0].split()[1] == "fewer" and "-" in tab["text"].iloc[0]
    assert " loss of " in tab["text"].iloc[1] and tab["median"].iloc[1] < 0


def test_answers_without_an_absolute_effect_say_why(evidence, q4_os_network):
    import sclcmeta as sm

    moder = sm.run_spec(sm.load_spec("q3_liver_interaction_os"), evidence, method="exact")
    net = q4_os_network
    tab = absolute_table([moder, net])
    na = tab[tab["quantity"] == "not_applicable"]
    assert list(na["analysis"]) == ["q3_liver_interaction_os", "q4_network_1l_os"]
    assert "PD-1 vs PD-L1 (class means)" in set(na["comparison"]) and na["note"].str.len().min() > 20
    # every other Q4 contrast vs platinum-etoposide, and each class mean, has its three absolute rows
    q4 = tab[(tab["analysis"] == "q4_network_1l_os") & (tab["quantity"] != "not_applicable")]
    n_classes = len(set(net.net.classes.values()))
    assert (q4.groupby("comparison").size() == 3).all()
    assert q4["comparison"].nunique() == len(net.net.treatments) - 1 + n_classes
    assert {f"{c} vs platinum-etoposide" for c in set(net.net.classes.values())} <= set(q4["comparison"])

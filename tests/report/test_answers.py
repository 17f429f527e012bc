"""The answer table, its sentences and the ranking language follow their declared rules (issue 13 items 1 and 5)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import sclcmeta as sm
from sclcmeta.report.answers import ANSWER_COLUMNS, Column, answer_table, flip, headline
from sclcmeta.report.answers import _absolute_cell, _certainty_cell
from sclcmeta.report.build import _answers_html, _table_html, _table_md
from sclcmeta.report.display import display
from sclcmeta.report.explorer import explorable, explorer_model
from sclcmeta.report.statements import statement
from sclcmeta.report.tables import BEST_RULE, rank_interval, ranking, splits_in_direction


def _row(p1, pred=None, p08=0.3, passed=True, kind="effect"):
    return {"kind": kind, "comparison": "A vs B", "outcome": "OS", "passed": passed, "p1": p1, "p08": p08,
            "pred_p1": pred, "labels": {}}


@pytest.mark.parametrize("p1, pred, start", [
    (0.98, 0.95, "A probably improves overall survival compared with B"),
    (0.98, 0.85, "A may improve"),            # the pooled CrI excludes 1 but a new cohort may not benefit
    (0.98, None, "A may improve"),            # no predictive HR (networks): "may" at most
    (0.92, 0.80, "A may improve"),
    (0.60, 0.55, "We are uncertain whether A improves or worsens"),
    (0.08, 0.20, "A may worsen"),
    (0.01, 0.05, "A probably worsens"),
])
def test_statement_wording_follows_the_declared_thresholds(p1, pred, start):
    assert statement(_row(p1, pred)).startswith(start)


def test_a_certainty_rating_caps_the_wording_and_only_high_certainty_drops_the_hedge():
    strong = _row(0.99, 0.97)
    assert statement(strong, "moderate").startswith("A probably improves")
    assert statement(strong, "low").startswith("A may improve")
    assert statement(strong, "very low").startswith("We are uncertain")
    assert statement(strong, "high").startswith("A improves")
    assert statement(_row(0.92, 0.8), "high").startswith("A may improve")   # certainty never strengthens the data


def test_a_failed_fit_gets_no_statement():
    assert statement(_row(0.99, 0.99, passed=False)).startswith("No answer")


def test_statement_names_the_size_of_benefit_only_when_the_posterior_supports_it():
    assert "more likely than not" in statement(_row(0.99, 0.95, p08=0.7))
    assert "unlikely" in statement(_row(0.99, 0.95, p08=0.1))
    assert "HR 0.8" not in statement(_row(0.99, 0.95, p08=0.35))


class _Pairwise:
    """A pairwise result as the answer table sees it (summary rows, names, gate)."""

    question, name, outcome, passed, gate = "Q1", "q1_x", "OS", True, "exact"

    def __init__(self, rows):
        self._s = pd.DataFrame(rows)

    def summary(self):
        return self._s.copy()


def _sum(q, hr, bias=None, p1=0.9):
    r = {"quantity": q, "comparison": "T vs C", "hr_median": hr, "hr_q2.5": hr * 0.7, "hr_q97.5": hr * 1.4,
         "median": np.log(hr), "q2.5": np.log(hr * 0.7), "q97.5": np.log(hr * 1.4), "prob_hr_below_1": p1,
         "prob_hr_below_0.8": 0.5, "gate": "exact"}
    if q == "tau":
        r.update({"hr_median": np.nan, "hr_q2.5": np.nan, "hr_q97.5": np.nan, "median": 0.2, "q2.5": 0.01,
                  "q97.5": 0.6})
    if bias is not None:
        r["bias"] = bias
    return r


def test_answer_row_without_a_bias_column_is_the_pooled_row():
    res = _Pairwise([_sum("pooled", 0.7), _sum("tau", 1), _sum("predictive", 0.71, p1=0.8)])
    (r,) = headline(res, "a-q1_x")
    assert r["hr_median"] == 0.7 and r["unadjusted"] is None and r["pred"]["median"] == 0.71
    assert r["tau"]["median"] == 0.2
    cells = answer_table([r]).cells(r)
    assert cells[2] == ["HR 0.70 (95% CrI 0.49-0.98)"]


def test_answer_row_with_a_bias_column_shows_the_adjusted_fit_with_the_unadjusted_beside_it():
    res = _Pairwise([_sum("pooled", 0.65, "unadjusted"), _sum("pooled", 0.8, "adjusted", p1=0.7),
                     _sum("tau", 1, "adjusted"), _sum("tau", 1, "unadjusted"),
                     _sum("predictive", 0.81, "adjusted"), _sum("predictive", 0.66, "unadjusted")])
    (r,) = headline(res, "a-q1_x")
    assert r["hr_median"] == 0.8 and r["p1"] == 0.7 and r["pred"]["median"] == 0.81
    assert r["unadjusted"]["hr_median"] == 0.65
    hr_cell = answer_table([r]).cells(r)[2]
    assert hr_cell[0].startswith("HR 0.80") and hr_cell[1].startswith("unadjusted for bias: HR 0.65")


def test_a_column_is_added_to_the_answer_table_by_appending_a_spec():
    res = _Pairwise([_sum("pooled", 0.7), _sum("tau", 1), _sum("predictive", 0.71)])
    rows = headline(res, "a-q1_x")
    rows[0]["extra"] = "low"
    cols = ANSWER_COLUMNS + (Column("extra", "Extra", "an extra column", lambda r: [r["extra"]]),)
    html = str(_answers_html(answer_table(rows, cols)))
    assert "<th title='an extra column'>Extra</th>" in html and "<td>low</td>" in html
    assert answer_table(rows, cols).frame().columns[-1] == "Extra"
    rows[0]["passed"] = False                                   # a failed fit's answer row is marked
    assert "<tr class='failed'" in str(_answers_html(answer_table(rows, cols)))


@pytest.mark.parametrize("bad", [{"r_hat": 1.02}, {"ess_bulk": 350.0}, {"gate": "FAILED: 1 divergences"}])
def test_a_row_that_failed_the_convergence_check_is_marked_in_html_and_markdown(bad):
    ok = {"setting": "default", "hr_median": 0.7, "hr_q2.5": 0.5, "hr_q97.5": 0.9, "r_hat": 1.0, "ess_bulk": 900.0,
          "gate": "passed"}
    df = pd.DataFrame([ok, {**ok, "setting": "vague", **bad}])
    t = display(df)
    assert t.failed == [False, True]
    assert str(_table_html(df)).count("class='failed'") == 1
    assert "**FAILED** vague" in _table_md(df)
    assert not any(c in t.columns for c in ("hr_q2.5", "hr_median", "r_hat"))   # readable names only


def test_flip_reads_a_contrast_the_other_way():
    r = pd.Series({"comparison": "A vs B", "hr_median": 2.0, "hr_q2.5": 1.25, "hr_q97.5": 4.0, "median": np.log(2),
                   "q2.5": np.log(1.25), "q97.5": np.log(4.0), "prob_hr_below_1": 0.1})
    f = flip(r)
    assert f["comparison"] == "B vs A"
    assert (f["hr_median"], f["hr_q2.5"], f["hr_q97.5"]) == (0.5, 0.25, 0.8)
    assert f["prob_hr_below_1"] == pytest.approx(0.9) and f["q2.5"] == pytest.approx(np.log(0.25))


def test_node_splits_read_in_the_same_direction_as_the_network_contrasts():
    # node-splitting needs a loop across cohorts: Q2 with its second-hand cohort (the sensitivity setting)
    res = sm.run_spec(sm.load_spec("q2_network_2l_os").with_evidence(second_hand=True))
    assert len(res.splits)
    order = [res.label(t) for t in res.net.treatments]
    sp = splits_in_direction(res)
    for comp in sp["comparison"]:
        a, b = comp.split(" vs ")
        assert order.index(b) < order.index(a)            # comparator earlier (the reference first), as the contrasts
    raw = res.splits.set_index(["quantity", "comparison"])
    for _, r in sp.iterrows():
        a, b = r["comparison"].split(" vs ")
        if (r["quantity"], r["comparison"]) in raw.index:
            assert r["hr_median"] == pytest.approx(raw.loc[(r["quantity"], r["comparison"]), "hr_median"])
        else:                                             # read the other way round: the HR inverted
            assert r["hr_median"] == pytest.approx(1 / raw.loc[(r["quantity"], f"{b} vs {a}"), "hr_median"])
    contrasts = set(res.glance()["comparison"])
    assert {c for c in sp["comparison"] if c.endswith(f"vs {res.label(res.net.reference)}")} <= contrasts


def test_rank_interval_is_the_equal_tailed_interval_of_the_rank_distribution():
    rng = np.random.default_rng(1)
    for _ in range(20):
        p = rng.dirichlet(np.ones(4))
        draws = np.repeat(np.arange(1, 5), np.round(p * 100_000).astype(int))
        lo, hi = (int(np.quantile(draws, q, method="inverted_cdf")) for q in (0.025, 0.975))
        assert rank_interval(p) == (lo, hi)


class _Net:
    def __init__(self, pbest, hr_hi):
        self._rp = pd.DataFrame({"treatment": ["A", "B"], "P(rank 1)": [pbest, 1 - pbest],
                                 "P(rank 2)": [1 - pbest, pbest], "P(best)": [pbest, 1 - pbest],
                                 "SUCRA": [pbest, 1 - pbest], "mean rank": [2 - pbest, 1 + pbest]})
        self._s = pd.DataFrame([{"quantity": "contrast", "comparison": "A vs B", "hr_median": 0.6, "hr_q2.5": 0.4,
                                 "hr_q97.5": hr_hi}])

    def rank_probabilities(self):
        return self._rp

    def summary(self):
        return self._s


@pytest.mark.parametrize("pbest, hr_hi, named", [(0.97, 0.9, True), (0.97, 1.1, False), (0.8, 0.9, False)])
def test_a_best_treatment_is_named_only_when_the_declared_rule_separates_it(pbest, hr_hi, named):
    tab, verdict = ranking(_Net(pbest, hr_hi))
    assert ("A is the best-ranked treatment" in verdict) is named
    assert ("no treatment is named best" in verdict) is not named
    assert "Median rank (95% CrI)" in tab.columns and "P(best)" in tab.columns


@pytest.mark.mcmc
def test_the_bundled_report_names_a_best_treatment_only_where_the_rule_holds(report):
    import re

    md = (report / "report.md").read_text()
    assert "Highest SUCRA" not in md
    assert md.count("no treatment is named best") >= 2          # Q2's strategies are not separated
    named = re.findall(r"is the best-ranked treatment: P\(best\) ([0-9.]+), HR vs the runner-up .+? ([0-9.]+) "
                       r"\(95% CrI ([0-9.]+)-([0-9.]+)\)", md)
    # every treatment the report names passes the declared rule: P(best) >= 0.90 and a CrI vs the runner-up below 1
    assert named and all(float(p) >= 0.90 and float(hi) < 1 for p, _, _, hi in named)
    assert BEST_RULE in md
    assert "Median rank (95% CrI)" in md


def test_explorer_embeds_the_analysed_estimates_of_plain_random_effects_models_only():
    res = sm.run_spec(sm.load_spec("q1_continuation_os"), method="exact")
    m = explorer_model(res)
    np.testing.assert_array_equal(m["y"], res.model.y)
    np.testing.assert_array_equal(m["se"], res.model.se)
    assert m["initial"] == {"mean": 0.0, "sd": 2.0, "family": "half_normal", "scale": 0.5}
    assert {"sceptical", "enthusiastic", "tau_turner", "tau_uniform"} <= set(m["presets"])
    assert not explorable(sm.run_spec(sm.load_spec("q2_network_2l_os")))
    assert not explorable(sm.run_spec(sm.load_spec("q3_prior_ici_metareg_os")))


def test_every_q1_q2_q5_answer_row_carries_a_certainty_rating_with_reasons_and_an_absolute_effect(evidence):
    from sclcmeta.report.answers import attach_certainty_and_absolute
    from sclcmeta.results import certainty_table

    results = [sm.run_spec(sm.load_spec(n), evidence, method="exact")
               for n in ("q1_continuation_os", "q2_network_2l_pfs", "q5_any_ici_os")]
    rows = [r for res in results for r in headline(res, "a-x")]
    attach_certainty_and_absolute(rows, results)
    ratings = certainty_table(results).set_index(["analysis", "comparison"])["rating"]
    for r in rows:
        a, _, b = r["comparison"].partition(" vs ")
        key = (r["analysis"], r["comparison"]) if (r["analysis"], r["comparison"]) in ratings.index else \
            (r["analysis"], f"{b} vs {a}")
        assert r["certainty"]["rating"] == ratings.loc[key]
        assert _certainty_cell(r)[0] == r["certainty"]["rating"].upper() and len(_certainty_cell(r)) == 2
        if r["comparison"].endswith(" vs stop ICI") or "no ICI" in r["comparison"]:    # baselines: comparator arms
            assert r["absolute"] and "per 100" in _absolute_cell(r)[0]
        # the sentence is no stronger than the certainty allows: very low certainty never says "probably"
        if r["certainty"]["rating"] == "very low":
            assert "probably" not in r["statement"]

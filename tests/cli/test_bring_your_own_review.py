"""A user's own review end to end: ``fit --data --out`` (page, figures, CSV, JSON), effect scales, ``report --data``
and ``sensitivity --data`` on a user's table (issue 14, items 1, 3 and 4).

Numbers are checked against the closed form they must equal: with tau fixed at 0 and a flat effect prior the
posterior of the pooled effect is the inverse-variance (fixed-effect) estimate, N(sum w y / sum w, 1 / sum w).
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest

from sclcmeta.cli import main
from sclcmeta.vocabulary import Z95

DFS = """study,treatment,comparator,outcome,hr,ci_low,ci_high
T1,adjuvant,observation,DFS,0.72,0.58,0.90
T2,adjuvant,observation,DFS,0.81,0.64,1.03
T3,adjuvant,observation,DFS,0.65,0.47,0.91
"""
ODDS = """study,treatment,comparator,outcome,or,ci_low,ci_high
A,drug,placebo,response,1.8,1.1,2.9
B,drug,placebo,response,1.4,0.9,2.2
C,drug,placebo,response,2.2,1.2,4.0
"""
MD = """study,treatment,comparator,outcome,scale,md,ci_low,ci_high,se
A,drug,placebo,pain,md,-3.1,-6.0,-0.2,
B,drug,placebo,pain,md,-1.5,,,1.2
C,drug,placebo,pain,md,-4.0,-7.5,-0.5,
"""
COMMON_EFFECT = ["--prior", "effect=flat()", "--prior", "tau=0"]


def _ivw(y, se):
    w = 1 / np.asarray(se) ** 2
    m = float(np.sum(w * np.asarray(y)) / w.sum())
    return m, 1 / math.sqrt(w.sum())


def _log_ci(table: str, col: str):
    df = pd.read_csv(pd.io.common.StringIO(table))
    return np.log(df[col]), (np.log(df["ci_high"]) - np.log(df["ci_low"])) / (2 * Z95)


def _fit_out(write_csv, text, tmp_path, *extra):
    csv = write_csv(text)
    out = tmp_path / "out"
    assert main(["fit", "--data", str(csv), "--method", "exact", "--out", str(out), *extra]) == 0
    return out


def test_a_dfs_review_runs_end_to_end_with_hazard_ratio_labels(write_csv, tmp_path, capsys):
    out = _fit_out(write_csv, DFS, tmp_path, *COMMON_EFFECT)
    assert {p.name for p in out.iterdir()} >= {"fit.html", "fit.md", "forest.png", "density.png",
                                              "prior_posterior.png", "summary.csv", "summary.json", "input.nc"}
    y, se = _log_ci(DFS, "hr")
    m, s = _ivw(y, se)
    pooled = pd.read_csv(out / "summary.csv").set_index("quantity").loc["pooled"]
    assert pooled["scale"] == "log_hr"
    assert pooled["hr_median"] == pytest.approx(math.exp(m), rel=1e-9)
    assert pooled["hr_q97.5"] == pytest.approx(math.exp(m + Z95 * s), rel=1e-8)
    html, md = (out / "fit.html").read_text(), (out / "fit.md").read_text()
    assert f"Pooled hazard ratio {math.exp(m):.2f}" in html and "(DFS)" in md and "P(HR &lt; 1)" in html
    assert html.count("data:image/png;base64,") == 3 and "<img" in html and 'src="forest.png"' not in html
    assert "![forest](forest.png)" in md and "odds ratio" not in html


def test_a_log_odds_ratio_review_is_labelled_and_exponentiated_as_odds_ratios(write_csv, tmp_path, capsys):
    out = _fit_out(write_csv, ODDS, tmp_path, *COMMON_EFFECT)
    y, se = _log_ci(ODDS, "or")
    m, s = _ivw(y, se)
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["scale"]) == {"log_or"}
    pooled = summary.set_index("quantity").loc["pooled"]
    assert pooled["median"] == pytest.approx(m, abs=1e-10) and pooled["hr_median"] == pytest.approx(math.exp(m))
    assert pooled["prob_hr_below_1"] == pytest.approx(float(__import__("scipy").stats.norm.cdf(-m / s)), abs=1e-9)
    html = (out / "fit.html").read_text()
    assert "Pooled odds ratio" in html and "OR median" in html and "P(OR &lt; 1)" in html
    assert "hazard ratio" not in html.lower().replace("hr_median", "")
    doc = json.loads((out / "summary.json").read_text())
    assert doc["header"]["scale"] == "log_or" and doc["header"]["effect_label"] == "OR"
    assert "OR" in capsys.readouterr().out


def test_scale_option_relabels_a_table_without_a_scale_column(write_csv, capsys):
    csv = write_csv(DFS.replace("DFS", "response"))
    assert main(["fit", "--data", str(csv), "--scale", "log_rr", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["header"]["scale"] == "log_rr" and {r["scale"] for r in doc["rows"]} == {"log_rr"}


def test_a_mean_difference_is_pooled_as_it_is_and_gets_unit_free_default_priors(write_csv, tmp_path, capsys):
    out = _fit_out(write_csv, MD, tmp_path, *COMMON_EFFECT)
    se = np.array([(-0.2 + 6.0) / (2 * Z95), 1.2, (-0.5 + 7.5) / (2 * Z95)])
    m, s = _ivw([-3.1, -1.5, -4.0], se)
    s_tab = pd.read_csv(out / "summary.csv").set_index("quantity")
    pooled = s_tab.loc["pooled"]
    assert pooled["hr_median"] == pytest.approx(m, abs=1e-10) == pooled["median"]       # not exponentiated
    assert pooled["prob_hr_below_0"] == pytest.approx(float(__import__("scipy").stats.norm.cdf(-m / s)), abs=1e-9)
    assert np.isnan(pooled["prob_hr_below_1"]) and np.isnan(pooled["prob_hr_below_0.8"])
    assert "P(MD &lt; 0)" in (out / "fit.html").read_text()
    capsys.readouterr()
    assert main(["fit", "--data", str(write_csv(MD, "md2.csv")), "--json"]) == 0
    cap = capsys.readouterr()
    assert "reference priors" in cap.err
    assert json.loads(cap.out)["header"]["priors"] == {"effect": "flat()", "tau": "jeffreys()"}


def test_mixing_scales_in_one_analysis_and_hr_only_encodings_on_other_scales_are_errors(write_csv, capsys):
    mixed = write_csv("study,treatment,comparator,outcome,scale,hr,ci_low,ci_high\n"
                      "A,t,c,OS,log_hr,0.7,0.5,0.9\nB,t,c,OS,log_or,0.8,0.6,1.1\n", "mixed.csv")
    assert main(["fit", "--data", str(mixed)]) == 2
    assert "mix effect scales" in capsys.readouterr().err
    logrank = write_csv("study,treatment,comparator,outcome,scale,o_minus_e,v\nA,t,c,ORR,log_or,-5,20\n", "lr.csv")
    assert main(["data", "check", str(logrank)]) == 1
    err = capsys.readouterr().err
    assert "row 1 (line 2), column 'o_minus_e'" in err and "hazard-ratio extraction method" in err
    bad = write_csv("study,treatment,comparator,outcome,scale,hr,ci_low,ci_high\nA,t,c,OS,log_xx,0.7,0.5,0.9\n", "b.csv")
    assert main(["data", "check", str(bad)]) == 1
    assert "not an effect scale; use one of log_hr, log_or, log_rr, md" in capsys.readouterr().err


def test_fixed_effect_study_rows_show_each_studys_own_estimate_not_the_pooled_one(write_csv, capsys):
    csv = write_csv(DFS)
    assert main(["fit", "--data", str(csv), "--model", "fixed_effect", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    pooled = next(r for r in rows if r["quantity"] == "pooled")
    studies = [r for r in rows if r["quantity"] == "study"]
    assert [r["hr_median"] for r in studies] == pytest.approx([0.72, 0.81, 0.65], rel=1e-5)
    assert all(r["hr_median"] != pooled["hr_median"] for r in studies)
    assert all(r["reported_hr"] == pytest.approx(r["hr_median"], rel=1e-5) for r in studies)


def test_study_rows_carry_reported_beside_shrunken_estimates(write_csv, capsys):
    assert main(["fit", "--data", str(write_csv(DFS)), "--json"]) == 0
    studies = [r for r in json.loads(capsys.readouterr().out)["rows"] if r["quantity"] == "study"]
    assert [r["reported_hr"] for r in studies] == pytest.approx([0.72, 0.81, 0.65], rel=1e-5)
    y, se = _log_ci(DFS, "hr")
    assert [r["reported_se"] for r in studies] == pytest.approx(list(se), rel=1e-5)
    # shrinkage pulls every study towards the pooled effect, so the shrunken HRs differ from the reported ones
    assert all(abs(r["hr_median"] - r["reported_hr"]) > 1e-3 for r in studies)


def test_json_has_a_header_and_rounded_rows_and_exact_fits_no_diagnostic_values(write_csv, capsys):
    assert main(["fit", "--data", str(write_csv(DFS)), "--prior", "tau=half_cauchy(0.5)", "--json"]) == 0
    text = capsys.readouterr().out
    doc = json.loads(text)
    assert doc["format"] == "sclcmeta-summary/1" and isinstance(doc["rows"], list)
    h = doc["header"]
    assert {"sclcmeta_version", "priors", "method", "sampler", "diagnostics", "data_hash", "seed"} <= set(h)
    assert h["priors"]["tau"] == "half_cauchy(scale=0.5)" and h["diagnostics"] == {"method": "exact", "passed": True}
    digits = [len(re.sub(r"[-.]|e.*$", "", m).lstrip("0")) for m in re.findall(r"-?\d+\.\d+(?:e-?\d+)?", text)]
    assert max(digits) <= 6
    assert all(r["r_hat"] is None and r["ess_bulk"] is None for r in doc["rows"])


def test_exact_fit_text_output_has_no_diagnostic_columns(write_csv, capsys):
    assert main(["fit", "--data", str(write_csv(DFS))]) == 0
    out = capsys.readouterr().out
    assert "r_hat" not in out and "R-hat" not in out and "ess" not in out.lower().replace("assess", "")
    assert "HR median" in out and "nan" not in out.lower()


def test_report_on_a_users_own_table_writes_one_page_per_comparison(write_csv, tmp_path, capsys):
    folder = tmp_path / "review"
    folder.mkdir()
    (folder / "evidence.csv").write_text(DFS + "T1,adjuvant,observation,OS,0.80,0.62,1.03\n"
                                               "T2,adjuvant,observation,OS,0.88,0.70,1.11\n")
    out = tmp_path / "rep"
    assert main(["report", "--data", str(folder), "--out", str(out), "--no-progress"]) == 0
    pages = sorted(p.parent.name for p in out.glob("*/fit.html"))
    assert pages == ["DFS_adjuvant_vs_observation", "OS_adjuvant_vs_observation"]
    index = (out / "report.html").read_text()
    assert all(f'href="{p}/fit.html"' in index for p in pages)
    assert set(pd.read_csv(out / "summary.csv")["outcome"]) == {"DFS", "OS"}


def test_sensitivity_on_a_users_table_reruns_it_under_every_prior_set(write_csv, capsys):
    assert main(["sensitivity", "--data", str(write_csv(DFS)), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    settings = {r["setting"] for r in doc["rows"]}
    assert {"default", "vague", "sceptical", "leave out T1"} <= settings
    assert doc["header"]["analysis"] == "input" and doc["header"]["settings"] == len(doc["rows"])


@pytest.mark.mcmc
def test_mcmc_json_header_records_sampler_and_diagnostics_and_rows_keep_them(write_csv, capsys):
    assert main(["fit", "--data", str(write_csv(DFS)), "--method", "mcmc", "--draws", "300", "--seed", "2",
                 "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    d = doc["header"]["diagnostics"]
    assert doc["header"]["sampler"] == "nutpie" and d["sampler"] == "nutpie" and d["chains"] == 4 and d["draws"] == 300
    assert d["passed"] == (d["r_hat"] <= 1.01 and d["ess_bulk"] >= 400 and d["divergences"] == 0)
    pooled = next(r for r in doc["rows"] if r["quantity"] == "pooled")
    assert pooled["r_hat"] is not None and pooled["r_hat"] <= d["r_hat"] + 1e-9

"""The main job: `sclcmeta report` answers Q1/Q5 with gated diagnostics, atomically, deterministically, and the
HTML renders in a real browser with every figure."""

from __future__ import annotations

import pandas as pd
import pytest

import sclcmeta as sm
from sclcmeta.paths import models_dir
from sclcmeta.report import build_report

pytestmark = pytest.mark.mcmc


def test_report_writes_every_output(report):
    for f in ("report.html", "report.md", "summary.csv", "sensitivity.csv", "provenance.csv"):
        assert (report / f).stat().st_size > 0
    specs = sm.list_specs()
    assert {p.stem for p in (report / "posteriors").glob("*.nc")} == {s.name for s in specs}


def test_report_gives_e_values_for_every_observational_pooled_hr(report):
    ev = pd.read_csv(report / "evalues.csv").set_index(["analysis", "bias"])
    for name in ("q1_continuation_os", "q1_continuation_pfs", "q5_any_ici_os", "q5_any_ici_pfs"):
        for bias in ("adjusted", "unadjusted"):
            assert ev.loc[(name, bias), "evalue_point"] >= ev.loc[(name, bias), "evalue_bound"] >= 1.0
    assert not any(n.startswith(("q2_", "q4_")) for n in ev.index.get_level_values(0))   # networks: not in it


def test_summary_answers_q1_and_q5_for_os_and_pfs_with_passing_diagnostics(report):
    s = pd.read_csv(report / "summary.csv")
    cols = ["analysis", "outcome", "quantity", "comparison", "median", "mean", "sd", "q2.5", "q97.5", "hr_median",
            "hr_q2.5", "hr_q97.5", "prob_hr_below_1", "prob_hr_below_0.8", "r_hat", "ess_bulk"]
    assert list(s.columns[:16]) == cols
    pooled = s[s["quantity"] == "pooled"].set_index(["analysis", "bias"])
    for name in ("q1_continuation_os", "q1_continuation_pfs", "q5_any_ici_os", "q5_any_ici_pfs"):
        for bias in ("adjusted", "unadjusted"):          # the bias-adjusted answer and the unadjusted one
            row = pooled.loc[(name, bias)]
            assert row["gate"] == "passed" and row["r_hat"] <= 1.01 and row["ess_bulk"] >= 400
            assert row["hr_q2.5"] < row["hr_median"] < row["hr_q97.5"]


def test_report_provenance_names_version_data_hash_specs_and_seeds(report):
    md = (report / "report.md").read_text()
    ev = sm.read_evidence()
    assert ev.data_hash in md and sm.__version__ in md
    for spec in sm.list_specs():
        assert spec.text_hash in md and str(spec.inference["seed"]) in md


def test_report_has_a_plain_language_paragraph_per_analysis(report):
    md = (report / "report.md").read_text()
    assert md.count("the posterior median hazard ratio is") >= 4
    assert "All evidence is observational" in md


@pytest.mark.browser
def test_report_html_renders_in_headless_chromium_with_every_figure(report, browser):
    driver = browser
    driver.get((report / "report.html").as_uri())
    assert "sclcmeta report" in driver.title
    driver.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
    imgs = driver.execute_script(
        "return Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0]);")
    n_figs = len(list((report / "figures").glob("*.png")))
    assert len(imgs) == n_figs
    assert all(ok for _, ok in imgs), [a for a, ok in imgs if not ok]
    assert driver.execute_script("return document.querySelectorAll('table').length") > 5


def test_failed_run_leaves_the_previous_report_in_place(report, tmp_path):
    bad = tmp_path / "specs"
    bad.mkdir()
    text = (models_dir() / "q1_continuation_os.toml").read_text().replace('"no_ici_2l"', '"placebo_2l"')
    (bad / "broken.toml").write_text(text)
    before = (report / "summary.csv").read_bytes()
    with pytest.raises(sm.SpecError, match="broken.toml"):
        build_report(report, specs_dir=bad, progress=False, sensitivity=False)
    assert (report / "summary.csv").read_bytes() == before
    assert not [p for p in report.parent.iterdir() if p.name.startswith(".report.")]


def test_same_seed_gives_identical_summary_tables():
    spec = sm.load_spec(models_dir() / "q1_continuation_pfs.toml")
    a = sm.run_spec(spec).summary()
    b = sm.run_spec(spec).summary()
    pd.testing.assert_frame_equal(a, b)

"""Network meta-analysis: the NICE DSU TSD2 Parkinson's example (3-arm trial) reproduced, a simulated
network recovered, node-splitting finds planted inconsistency, class effects, and the CSV entry point."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from sclcmeta.cli import main
from sclcmeta.analyses.network import fit_network
from sclcmeta.engine.network import build_network_model
from sclcmeta.evidence.network import ContrastRow, NetworkData
from sclcmeta.priors import default_prior_set

REF = json.loads((Path(__file__).parents[1] / "reference_data" / "published_references.json").read_text())[
    "tsd2_parkinsons_nma"]
TSD2_PRIORS = default_prior_set().replace(effect="normal(0, 100)", tau="uniform(0, 5)")


def _parkinsons() -> NetworkData:
    rows = []
    for r in REF["data"]["contrast_level_tsd2_program7"]["rows"]:
        base = str(r["treatments"][0])
        for j, (y, se) in enumerate(zip(r["y"], r["se"])):
            rows.append(ContrastRow(f"s{r['study']}_{j}", f"study {r['study']}", f"study {r['study']}", y, se,
                                    [(1.0, str(r["treatments"][j + 1]), base)],
                                    shared_var=r["V_baseline_arm_var"] if len(r["y"]) > 1 else None))
    return NetworkData(rows, reference="1")


@pytest.mark.reference
@pytest.mark.parametrize("effects, key", [("fixed", "FE_relative_effects_vs_placebo"),
                                          ("random", "RE_relative_effects_vs_placebo")])
def test_tsd2_parkinsons_relative_effects_are_reproduced(effects, key):
    """NICE DSU TSD2 Example 5 (Dias et al. 2011), WinBUGS results to 2 decimals: tolerance 0.03 for means
    and SDs (MCMC error plus rounding), 0.06 for interval ends (tails of a 7-study tau posterior)."""
    res = fit_network(_parkinsons(), TSD2_PRIORS, effects=effects, node_split=False, ume=False)
    s = res.summary().set_index("comparison")
    for t, exp in REF["expected"][key].items():
        r = s.loc[f"{t} vs 1"]
        assert r["mean"] == pytest.approx(exp["mean"], abs=0.03)
        assert r["sd"] == pytest.approx(exp["sd"], abs=0.03)
        assert r["median"] == pytest.approx(exp["median"], abs=0.03)
        assert r["q2.5"] == pytest.approx(exp["q2.5"], abs=0.06)
        assert r["q97.5"] == pytest.approx(exp["q97.5"], abs=0.06)


@pytest.mark.reference
def test_tsd2_parkinsons_between_study_sd_and_dic():
    net = _parkinsons()
    re = fit_network(net, TSD2_PRIORS, effects="random", node_split=False, ume=False)
    tau = re.summary().set_index("quantity").loc["tau"]
    exp = REF["expected"]["RE_between_study_sd"]
    assert tau["median"] == pytest.approx(exp["median"], abs=0.05)
    assert tau["q97.5"] == pytest.approx(exp["q97.5"], abs=0.12)
    # TSD2 contrast-level DIC: FE resdev 6.3, pD 4.0, DIC 10.3; RE resdev 6.6, pD 5.5, DIC 12.1
    fe = fit_network(net, TSD2_PRIORS, effects="fixed", node_split=False, ume=False)
    for got, key in ((fe.consistency_dic, "contrast_FE"), (re.consistency_dic, "contrast_RE")):
        e = REF["expected"]["DIC"][key]
        assert got["resdev"] == pytest.approx(e["resdev"], abs=0.25)
        assert got["pD"] == pytest.approx(e["pD"], abs=0.25)
        assert got["DIC"] == pytest.approx(e["DIC"], abs=0.4)


def test_multi_arm_covariance_uses_the_shared_arm_variance():
    gm = build_network_model(_parkinsons(), effects="random")
    i = [n for n, r in enumerate(_parkinsons().rows) if r.study == "study 3"]
    assert gm.S[i[0], i[1]] == pytest.approx(0.254736842)
    assert gm.components[0].K[i[0], i[1]] == 0.5


def _simulated(rng, d, planted=0.0):
    """A network A-B-C-D with a three-arm trial and a B-C loop; true log HRs d vs A."""
    design = [("A", "B"), ("A", "B"), ("A", "C"), ("A", "C"), ("B", "C"), ("B", "C"), ("A", "D"), ("C", "D")]
    rows = []
    for s, (c, t) in enumerate(design):
        true = d[t] - d[c] + (planted if (c, t) == ("B", "C") else 0.0)
        se = 0.05
        rows.append(ContrastRow(f"r{s}", f"s{s}", f"s{s}", rng.normal(true, se), se, [(1.0, t, c)]))
    # three-arm trial A/B/D sharing arm A (shared variance 0.001)
    shared = rng.normal(0, math.sqrt(0.001))
    for t in ("B", "D"):
        rows.append(ContrastRow(f"m{t}", "multi", "multi", d[t] + rng.normal(0, math.sqrt(0.0015)) - shared,
                                math.sqrt(0.0025), [(1.0, t, "A")], shared_var=0.001))
    return NetworkData(rows, reference="A")


def test_simulated_network_effects_are_recovered():
    rng = np.random.default_rng(42)
    d = {"A": 0.0, "B": -0.3, "C": -0.5, "D": 0.2}
    res = fit_network(_simulated(rng, d), default_prior_set(), effects="fixed", node_split=False, ume=False)
    s = res.summary().set_index("comparison")
    for t in ("B", "C", "D"):
        r = s.loc[f"{t} vs A"]
        assert r["q2.5"] < d[t] < r["q97.5"]
        assert abs(r["median"] - d[t]) < 0.06
    rp = res.rank_probabilities()
    assert rp.iloc[0]["treatment"] == "C" and rp.iloc[0]["P(best)"] > 0.95
    assert rp["SUCRA"].between(0, 1).all()


def test_node_split_detects_planted_inconsistency_and_not_absent_one():
    d = {"A": 0.0, "B": -0.3, "C": -0.5, "D": 0.2}
    ok = fit_network(_simulated(np.random.default_rng(1), d), default_prior_set(), effects="fixed")
    bad = fit_network(_simulated(np.random.default_rng(1), d, planted=0.6), default_prior_set(), effects="fixed")
    inc_ok = ok.splits[(ok.splits["quantity"] == "inconsistency") & (ok.splits["comparison"] == "C vs B")].iloc[0]
    inc_bad = bad.splits[(bad.splits["quantity"] == "inconsistency") & (bad.splits["comparison"] == "C vs B")].iloc[0]
    assert inc_ok["q2.5"] < 0 < inc_ok["q97.5"]
    assert inc_bad["q2.5"] > 0.3
    assert bad.ume_dic["DIC"] < bad.consistency_dic["DIC"] - 3  # UME fits planted inconsistency better


def test_class_effects_report_the_class_difference():
    rng = np.random.default_rng(3)
    truth = {"p1a": -0.35, "p1b": -0.3, "p1c": -0.4, "l1a": -0.2, "l1b": -0.15, "l1c": -0.25}
    rows = [ContrastRow(f"r{t}{j}", f"{t}{j}", f"{t}{j}", rng.normal(v, 0.04), 0.04, [(1.0, t, "chemo")])
            for t, v in truth.items() for j in range(2)]
    classes = {t: ("PD-1" if t.startswith("p1") else "PD-L1") for t in truth}
    res = fit_network(NetworkData(rows, "chemo", classes=classes), default_prior_set(), effects="fixed",
                      classes=True, node_split=False, ume=False)
    cd = res.summary().set_index("quantity").loc["class_difference"]
    assert cd["q2.5"] < -0.15 < cd["q97.5"] and cd["prob_hr_below_1"] > 0.9
    assert {"tau", "class_sd"} & set(res.summary()["quantity"]) == {"class_sd"}


@pytest.mark.mcmc
def test_network_mcmc_agrees_with_exact():
    import warnings

    from sclcmeta.errors import ConvergenceWarning

    net = _parkinsons()
    ex = fit_network(net, TSD2_PRIORS, effects="random", node_split=False, ume=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mc = fit_network(net, TSD2_PRIORS, effects="random", method="mcmc", draws=1000, tune=800, chains=2,
                         node_split=False, ume=False, seed=4)
    a = ex.summary().set_index("comparison")
    b = mc.summary().set_index("comparison")
    for t in ("2", "3", "4", "5"):
        assert b.loc[f"{t} vs 1", "median"] == pytest.approx(a.loc[f"{t} vs 1", "median"], abs=0.06)


def test_bundled_networks_run_with_ranks_splits_and_class_difference(evidence):
    import sclcmeta as sm
    from sclcmeta.paths import models_dir

    spec2 = sm.load_spec(models_dir() / "q2_network_2l_os.toml")
    r2 = sm.run_spec(spec2, evidence)
    assert set(r2.rank_probabilities()["treatment"]) == {"stop ICI", "continue same ICI", "switch ICI (PD-L1 to PD-1)"}
    assert any("mixture" in n for n in r2.net.notes)
    # without the second-hand Zhang B 2025 no loop is formed by different cohorts: no node-split is offered;
    # with it (the sensitivity setting) the three-cohort loop is back and node-splitting runs
    assert not {"direct", "indirect", "inconsistency"} & set(r2.summary()["quantity"])
    r2b = sm.run_spec(spec2.with_evidence(second_hand=True), evidence, method="exact")
    assert {"direct", "indirect", "inconsistency"} <= set(r2b.summary()["quantity"])
    r4 = sm.run_spec(sm.load_spec(models_dir() / "q4_network_1l_os.toml"), evidence)
    assert "class_difference" in set(r4.summary()["quantity"])
    assert any("imputed" in n for n in r4.assumptions)


def test_cli_network_on_minimal_csv_reports_every_pair(write_csv, capsys):
    p = write_csv("study,treatment,comparator,outcome,hr,ci_low,ci_high\n"
                  "T1,B,A,OS,0.80,0.65,0.98\nT2,C,A,OS,0.70,0.55,0.89\nT3,C,B,OS,0.90,0.70,1.16\n"
                  "T4,B,A,OS,0.75,0.58,0.97\nT4,C,A,OS,0.66,0.50,0.87")
    assert main(["fit", "--data", str(p), "--model", "network", "--effects", "fixed", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)["rows"]
    pairs = {r["comparison"] for r in out if r["quantity"] == "contrast"}
    assert pairs == {f"{a} vs {b}" for a in "ABC" for b in "ABC" if a != b}


def test_node_splits_read_in_the_direction_of_the_contrasts():
    d = {"A": 0.0, "B": -0.3, "C": -0.5, "D": 0.2}
    res = fit_network(_simulated(np.random.default_rng(1), d), default_prior_set(), effects="fixed")
    s = res.summary()
    contrast = s[s["quantity"] == "contrast"].set_index("comparison")["median"]
    direct = s[s["quantity"] == "direct"].set_index("comparison")["median"]
    assert set(direct.index) >= {"B vs A", "C vs A", "C vs B", "D vs A"}       # later treatment vs earlier
    for comp, m in direct.items():
        assert np.sign(m) == np.sign(contrast[comp]) and abs(m - contrast[comp]) < 0.1


def test_a_network_without_closed_loops_reports_no_inconsistency_check():
    from sclcmeta.report.narrative import paragraph
    from sclcmeta.report.tables import extra_tables

    star = NetworkData([ContrastRow("1", "s1", "s1", -0.3, 0.1, [(1.0, "B", "A")]),
                        ContrastRow("2", "s2", "s2", -0.5, 0.15, [(1.0, "C", "A")]),
                        ContrastRow("3", "s3", "s3", -0.4, 0.12, [(1.0, "C", "A")])], "A")
    assert not star.has_loops()
    res = fit_network(star, default_prior_set(), effects="random")
    assert res.ume_dic is None and (res.splits is None or res.splits.empty)
    tabs = extra_tables(res)
    assert "Inconsistency" in tabs and not any("DIC" in k or "Node-split" in k for k in tabs)
    text = paragraph(res)
    assert "cannot be assessed" in text and "DIC" not in text and "Node-splitting" not in text


def test_a_cycle_within_one_study_is_not_a_closed_loop():
    # a mixture row and its sub-comparison from the same cohort form a graph cycle, but no independent evidence
    rows = [ContrastRow("m", "z", "z", -0.4, 0.17, [(105 / 118, "cont", "stop"), (13 / 118, "sw", "stop")]),
            ContrastRow("s", "z", "z", 0.17, 0.36, [(1.0, "cont", "sw")])]
    assert not NetworkData(rows, "stop").has_loops()
    rows.append(ContrastRow("g", "gu", "gu", -0.39, 0.18, [(1.0, "sw", "stop")]))
    assert not NetworkData(rows, "stop").has_loops()       # still only one study compares cont with anything
    rows.append(ContrastRow("b", "zb", "zb", -0.58, 0.24, [(1.0, "cont", "stop")]))
    assert NetworkData(rows, "stop").has_loops()           # Zhang B + Gu 2026 give indirect cont vs sw

"""Network sensitivity (Q2, Q4): each setting changes what it says it changes, and the table reaches the CLI
and the report's sensitivity section."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sclcmeta as sm
from sclcmeta.analyses import run_sensitivity
from sclcmeta.analyses.network_sensitivity import fit_setting, network_settings
from sclcmeta.cli import main
from sclcmeta.paths import models_dir


@pytest.fixture(scope="module")
def q2():
    return sm.load_spec(models_dir() / "q2_network_2l_os.toml")


@pytest.fixture(scope="module")
def q2_settings(q2, evidence):
    return {st.label: st for st in network_settings(q2, evidence, sm.list_prior_sets())}


def _y(net):
    return {r.id: r.y for r in net.rows}


def test_reversing_the_switch_comparison_flips_the_sign_of_its_data_only(q2, q2_settings, evidence):
    base = _y(q2_settings["default"].net)          # the primary network (bias-adjusted, as every setting)
    st = q2_settings["reversed zhang2025b_os_same_vs_switch"]
    got = _y(st.net)
    assert got["zhang2025b_os_same_vs_switch"] == -base["zhang2025b_os_same_vs_switch"] != 0
    assert {k: v for k, v in got.items() if k != "zhang2025b_os_same_vs_switch"} == \
           {k: v for k, v in base.items() if k != "zhang2025b_os_same_vs_switch"}
    # and it moves the continue-vs-switch contrast the other way
    a = fit_setting(q2, q2_settings["default"]).summary().set_index("comparison")
    b = fit_setting(q2, st).summary().set_index("comparison")
    key = "switch ICI (PD-L1 to PD-1) vs continue same ICI"
    assert b.loc[key, "median"] > a.loc[key, "median"] + 0.1


def test_mixture_settings_reweight_the_matched_row_of_zhang_2025b(q2_settings):
    def comps(label):
        return next(r.components for r in q2_settings[label].net.rows if r.id == "zhang2025b_os_icicont_psm")

    assert [(round(w, 6), t) for w, t, _ in comps("default")] == [(round(105 / 118, 6), "continue"),
                                                                  (round(13 / 118, 6), "switch")]
    assert [(w, t) for w, t, _ in comps("mixture all continue")] == [(1.0, "continue")]
    # PSM sample of 75 continued patients: at most all 13 switchers are among them
    assert [(round(w, 6), t) for w, t, _ in comps("mixture 62/75 continue + 13/75 switch")] == \
           [(round(62 / 75, 6), "continue"), (round(13 / 75, 6), "switch")]


def test_prior_settings_fit_under_their_own_prior_set(q2, q2_settings):
    fits = {name: fit_setting(q2, q2_settings[name]) for name in ("default", "tau_uniform")}
    assert fits["default"].raw.priors.name == "default" and fits["tau_uniform"].raw.priors.name == "tau_uniform"
    assert fits["default"].raw.priors.tau != fits["tau_uniform"].raw.priors.tau
    tau = {n: f.summary().set_index("quantity").loc["tau", "median"] for n, f in fits.items()}
    assert tau["tau_uniform"] > tau["default"]      # a flat tau prior on (0, 2) leaves more heterogeneity


def test_q4_class_placement_settings_move_the_combination_in_and_out_of_the_pd_l1_class(evidence):
    spec = sm.load_spec(models_dir() / "q4_network_1l_pfs.toml")
    sts = {st.label: st for st in network_settings(spec, evidence, [sm.default_prior_set()])}
    combo = "benmelstobart_anlotinib_1l"
    inside = sts["benmelstobart + anlotinib + EP in the PD-L1 class"].net
    outside = sts["benmelstobart + anlotinib + EP own effect"].net
    assert inside.classes[combo] == "PD-L1" and not inside.combinations and "benmelstobart_1l" not in inside.classes
    assert combo not in outside.classes and not outside.combinations
    assert sts["default"].net.combinations == {combo: ("benmelstobart_1l", "anlotinib_1l")}
    assert "leave out ETER701" not in sts       # every Q4 trial is the only source of its drug


def test_network_sensitivity_table_covers_every_prior_set_and_headline_contrast(q2, evidence):
    sens = run_sensitivity(q2, evidence=evidence)
    t = sens.table
    pri = t[t["kind"] == "prior"]
    assert set(pri["setting"]) == {p.name for p in sm.list_prior_sets()}
    assert set(t["comparison"]) == {"continue same ICI vs stop ICI", "switch ICI (PD-L1 to PD-1) vs stop ICI",
                                    "switch ICI (PD-L1 to PD-1) vs continue same ICI"}
    assert (t.groupby("setting").size() == 3).all()      # leaving Zhang 2025b out: switch vs continue indirect
    assert np.all((t["hr_q2.5"] < t["hr_median"]) & (t["hr_median"] < t["hr_q97.5"]))
    assert "comparison" in repr(sens)


def test_cli_sensitivity_of_a_network_spec_prints_the_network_rows(capsys):
    assert main(["sensitivity", "q2_network_2l_pfs", "--json", "--priors-only"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    assert {r["kind"] for r in rows} == {"prior", "bias"} and all(r["comparison"] for r in rows)


def test_report_sensitivity_section_renders_network_rows(q2, evidence):
    from sclcmeta.plots import plot_sensitivity
    from sclcmeta.report.build import _sensitivity, _table_md
    from sclcmeta.report.figures import png
    from sclcmeta.report.run import Section

    sens = run_sensitivity(q2, evidence=evidence, evidence_choices=False)
    res = sm.run_spec(q2, evidence)
    sec = Section(q2, res, figures={"sensitivity": png(plot_sensitivity(sens.table))}, sensitivity=sens)
    ctx = _sensitivity(sec)
    md = _table_md(ctx["table"])
    assert "| Setting | Comparison | Kind |" in md and "switch ICI (PD-L1 to PD-1) vs stop ICI" in md
    assert ctx["figure"][:4] == b"\x89PNG"

"""A review of any time-to-event outcome (DFS, EFS, TTP...) runs end to end, labelled as that outcome (issue 14.1)."""

from __future__ import annotations

import json

import pandas as pd

from sclcmeta.cli import main

DFS = """study,treatment,comparator,outcome,hr,ci_low,ci_high
Trial A,adjuvant,observation,DFS,0.72,0.58,0.89
Trial B,adjuvant,observation,DFS,0.81,0.64,1.02
Trial C,adjuvant,observation,DFS,0.65,0.47,0.90
Trial A,adjuvant,observation,OS,0.85,0.66,1.09
"""


def test_a_dfs_review_runs_through_fit_data_out_with_dfs_labels(tmp_path, capsys):
    csv = tmp_path / "dfs.csv"
    csv.write_text(DFS)
    out = tmp_path / "out"
    assert main(["fit", "--data", str(csv), "--outcome", "DFS", "--method", "exact", "--out", str(out), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    pooled = next(r for r in rows if r["quantity"] == "pooled")
    assert pooled["outcome"] == "DFS" and pooled["k"] == 3 and pooled["comparison"] == "adjuvant vs observation"
    assert 0.6 < pooled["hr_median"] < 0.85
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["outcome"]) == {"DFS"}


def test_a_file_with_several_outcomes_asks_which_one(tmp_path, capsys):
    csv = tmp_path / "dfs.csv"
    csv.write_text(DFS)
    assert main(["fit", "--data", str(csv), "--method", "exact"]) == 2
    assert "outcomes DFS, OS; choose one with --outcome" in capsys.readouterr().err

"""Shared patients are never counted twice: the study table travels with --data, and overlapping subgroups of
one cohort are detected from their definitions, not their labels (issue 15 item 2)."""

from __future__ import annotations

import json
import shutil

import pytest

from sclcmeta import EvidenceError, read_evidence, select_estimates
from sclcmeta.cli import main
from sclcmeta.evidence.bundle import resolve_data
from sclcmeta.evidence.harmonize import populations_disjoint
from sclcmeta.paths import data_dir, models_dir


def _pooled_k(capsys, argv):
    assert main(argv + ["--json"]) == 0
    captured = capsys.readouterr()
    rows = json.loads(captured.out)["rows"]
    return next(r for r in rows if r["quantity"] in ("pooled", "prognostic"))["k"], captured.err


def test_fit_with_the_bundled_evidence_file_uses_the_study_table_beside_it(capsys):
    spec = str(models_dir() / "q3_liver_prognostic_os.toml")
    k_bundled, _ = _pooled_k(capsys, ["fit", spec])
    k_data, err = _pooled_k(capsys, ["fit", spec, "--data", str(data_dir() / "evidence.csv")])
    assert k_bundled == k_data == 1          # Zhang 2025a and 2025b share one patient pool
    assert "study table" in err


def test_fit_with_a_data_folder_reads_its_study_and_node_tables(capsys, tmp_path):
    folder = tmp_path / "review"
    shutil.copytree(data_dir(), folder)
    k, _ = _pooled_k(capsys, ["fit", str(models_dir() / "q3_liver_prognostic_os.toml"), "--data", str(folder)])
    assert k == 1


def test_evidence_without_a_study_table_is_read_only_after_a_warning(tmp_path, capsys):
    lone = tmp_path / "evidence_copy.csv"
    shutil.copy(data_dir() / "evidence.csv", lone)
    b = resolve_data(lone)
    assert b.studies is None and "counted" in b.warnings[0]
    spec = str(models_dir() / "q3_liver_prognostic_os.toml")
    assert main(["fit", spec, "--data", str(lone), "--json"]) == 0
    assert "no study table" in capsys.readouterr().err


@pytest.mark.parametrize("a,b,disjoint", [
    ("liver_metastases=yes", "liver_metastases=no", True),
    ("liver_metastases=yes", "liver_metastases=yes", False),
    ("overall", "liver_metastases=no", False),
    ("liver_metastases=yes", "ecog_ps=2", False),
    ("liver_metastases=yes & ecog_ps=0-1", "liver_metastases=no", True),
    ("liver_metastases=yes & ecog_ps=0-1", "liver_metastases=yes & ecog_ps=2", True),
    ("Liver metastases", "liver_metastases=no", False),
])
def test_subgroups_are_disjoint_only_when_one_variable_takes_different_levels(a, b, disjoint):
    assert populations_disjoint(a, b) is disjoint
    assert populations_disjoint(b, a) is disjoint


def test_nesting_two_overlapping_subgroups_of_one_cohort_is_an_error_naming_both_rows(write_csv):
    csv = write_csv("""
study,treatment,comparator,outcome,population,hr,ci_low,ci_high
A,t,c,OS,liver_metastases=yes,0.7,0.5,0.9
A,t,c,OS,ecog_ps=0-1,0.8,0.6,1.1
B,t,c,OS,liver_metastases=no,0.8,0.6,1.1
""")
    ev = read_evidence(csv)
    with pytest.raises(EvidenceError, match=r"liver_metastases=yes.*ecog_ps=0-1.*can share patients"):
        select_estimates(ev, outcome="OS", treatment="t", comparator="c", population="*", nest_within_cohort=True)


def test_nesting_disjoint_subgroups_of_one_cohort_is_allowed(write_csv):
    csv = write_csv("""
study,treatment,comparator,outcome,population,hr,ci_low,ci_high
A,t,c,OS,liver_metastases=yes,0.7,0.5,0.9
A,t,c,OS,liver_metastases=no,0.8,0.6,1.1
""")
    eff = select_estimates(read_evidence(csv), outcome="OS", treatment="t", comparator="c", population="*",
                           nest_within_cohort=True)
    assert eff.k == 2


def test_zero_seed_is_honoured_and_zero_or_negative_draws_are_refused(capsys):
    from sclcmeta.cli import build_parser

    assert build_parser().parse_args(["fit", "--data", "x.csv", "--seed", "0"]).seed == 0
    for bad in (["--draws", "0"], ["--draws", "-5"], ["--seed", "-1"], ["--seed", str(2**64)]):
        with pytest.raises(SystemExit) as e:
            build_parser().parse_args(["fit", "--data", "x.csv", *bad])
        assert e.value.code == 2
    assert "must" in capsys.readouterr().err

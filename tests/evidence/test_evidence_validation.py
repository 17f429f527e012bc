"""Each malformed input gives one clear error naming file, row, column and value; the CLI exits non-zero
without a traceback."""

from __future__ import annotations

import pytest

from sclcmeta import EvidenceError, read_evidence, select_estimates
from sclcmeta.cli import main

HEADER = "study,treatment,comparator,outcome,hr,ci_low,ci_high"


@pytest.mark.parametrize(
    "row, column, value, fix",
    [
        ("A,ici,chemo,OS,0.70,0.80,0.98", "ci_low", "0.80", "bracket"),
        ("A,ici,chemo,OS,0.70,0.50,0.60", "ci_high", "0.60", "bracket"),
        ("A,ici,chemo,OS,-0.7,0.5,0.9", "hr", "-0.7", "positive"),
        ("A,ici,chemo,OS,0,0.5,0.9", "hr", "0", "positive"),
        ("A,ici,chemo,OS,0.7,0,0.9", "ci_low", "0", "positive"),
        ("A,ici,chemo,OS,0.7x,0.5,0.9", "hr", "0.7x", "not a number"),
        ("A,ici,chemo,OS,0.7,0.9,0.5", "ci_low", "0.9", "order"),
        ("A,ici,chemo,O S,0.7,0.5,0.9", "outcome", "O S", "short name such as OS, PFS, DFS"),
        ("A,ici,chemo,os,0.7,0.5,0.9", "outcome", "os", "write 'OS'"),
    ],
)
def test_malformed_value_names_file_row_column_and_value(write_csv, row, column, value, fix):
    p = write_csv(f"{HEADER}\n{row}")
    with pytest.raises(EvidenceError) as exc:
        read_evidence(p)
    msg = str(exc.value)
    assert str(p) in msg and "row 1" in msg and f"column '{column}'" in msg and repr(value) in msg
    assert fix in msg
    assert len(exc.value.problems) == 1


def test_every_problem_is_listed_one_per_line(write_csv):
    p = write_csv(f"{HEADER}\nA,ici,chemo,OS,0.7,0.8,0.9\nB,ici,chemo,OS,abc,0.5,0.9")
    with pytest.raises(EvidenceError) as exc:
        read_evidence(p)
    assert len(exc.value.problems) == 2
    assert "row 1" in exc.value.problems[0] and "row 2" in exc.value.problems[1]


def test_missing_required_columns_are_named(write_csv):
    p = write_csv("study,treatment,outcome,hr,ci_low,ci_high\nA,ici,OS,0.7,0.5,0.9")
    with pytest.raises(EvidenceError, match="missing required column.*comparator"):
        read_evidence(p)


def test_missing_effect_columns_are_named(write_csv):
    p = write_csv("study,treatment,comparator,outcome,hr\nA,ici,chemo,OS,0.7")
    with pytest.raises(EvidenceError, match="hr, ci_low, ci_high \\(or log_hr, se\\)"):
        read_evidence(p)


def test_row_without_any_usable_estimate_is_an_error(write_csv):
    p = write_csv("study,treatment,comparator,outcome,hr,ci_low,ci_high\nA,ici,chemo,OS,0.7,,")
    with pytest.raises(EvidenceError, match="no usable estimate"):
        read_evidence(p)


def test_ci_level_given_as_percent_is_an_error(write_csv):
    p = write_csv(f"{HEADER},ci_level\nA,ici,chemo,OS,0.7,0.5,0.9,95")
    with pytest.raises(EvidenceError, match="column 'ci_level'.*'95'.*0.95"):
        read_evidence(p)


def _full_csv(evidence, tmp_path, mutate, name="evidence.csv"):
    """Copy the bundled evidence table with one mutation, return the path."""
    import pandas as pd

    from sclcmeta.paths import data_dir

    df = pd.read_csv(data_dir() / "evidence.csv", dtype=str, keep_default_na=False)
    df = mutate(df)
    p = tmp_path / name
    df.to_csv(p, index=False)
    return p


def test_duplicate_id_is_an_error(evidence, tmp_path):
    def dup(df):
        df.loc[1, "id"] = df.loc[0, "id"]
        return df

    p = _full_csv(evidence, tmp_path, dup)
    with pytest.raises(EvidenceError, match=r"row 2 \(line 3\), column 'id'.*duplicate id"):
        read_evidence(p)


def test_missing_provenance_is_an_error(evidence, tmp_path):
    def strip(df):
        df.loc[4, "quote"] = ""
        return df

    p = _full_csv(evidence, tmp_path, strip)
    with pytest.raises(EvidenceError, match=r"row 5 .*column 'quote'.*missing provenance"):
        read_evidence(p)


def test_unknown_treatment_node_is_an_error(evidence, tmp_path):
    from sclcmeta.paths import data_dir

    def bad(df):
        i = df.index[df["kind"] == "treatment_effect"][0]
        df.loc[i, "treatment"] = "nivolumabb_1l"
        return df

    p = _full_csv(evidence, tmp_path, bad)
    with pytest.raises(EvidenceError, match=r"column 'treatment', value 'nivolumabb_1l': unknown treatment node"):
        read_evidence(p, nodes=data_dir() / "nodes.csv")


def test_same_cohort_twice_in_one_analysis_is_an_error(evidence):
    # Zhang 2025a and 2025b share their patients: asking for both must fail, naming both
    with pytest.raises(EvidenceError, match="share patients|same patients"):
        select_estimates(evidence, outcome="OS", treatment=["ici_any_2l", "ici_cont_2l"], comparator="no_ici_2l",
                         ids=["zhang2025a_os_2lici_psm", "zhang2025b_os_icicont_psm"])
    with pytest.raises(EvidenceError, match="zhang2025a.*zhang2025b|share patients"):
        select_estimates(evidence, outcome="OS", treatment=["ici_any_2l", "ici_cont_2l"], comparator="no_ici_2l")


@pytest.mark.parametrize("second", ["A,ici,chemo,OS,0.8,0.6,1.0", "A,ici,chemo,OS,0.7,0.5,0.9",
                                    "A,chemo,ici,OS,1.43,1.11,2.0"])
def test_minimal_format_same_study_twice_is_an_error_when_read(write_csv, second):
    # the same study and comparison twice (different, identical or reversed numbers): caught by data check
    from sclcmeta import read_evidence

    p = write_csv(f"{HEADER}\nA,ici,chemo,OS,0.7,0.5,0.9\n{second}")
    with pytest.raises(EvidenceError, match=r"row 2 .*reports .* again \(first in row 1\)"):
        read_evidence(p)


def test_minimal_format_study_names_differing_only_in_case_or_spaces_are_an_error(write_csv):
    from sclcmeta import read_evidence

    p = write_csv(f"{HEADER}\nCohort A,ici,chemo,OS,0.7,0.5,0.9\ncohort  a,ici,chemo,PFS,0.8,0.6,1.0")
    with pytest.raises(EvidenceError, match="looks like study 'Cohort A' of row 1 written differently"):
        read_evidence(p)


def test_excluding_a_cohort_that_does_not_exist_is_an_error(write_csv):
    from sclcmeta import read_evidence

    ev = read_evidence(write_csv(f"{HEADER}\nA,ici,chemo,OS,0.7,0.5,0.9\nB,ici,chemo,OS,0.8,0.6,1.0"))
    with pytest.raises(EvidenceError, match="exclude names cohort\\(s\\) 'C'"):
        select_estimates(ev, outcome="OS", treatment="ici", comparator="chemo", exclude=["C"])


@pytest.mark.parametrize("row", ["A,ici,chemo,OS,0.70,0.80,0.98", "A,ici,chemo,OS,x,0.5,0.9"])
def test_cli_data_check_exits_nonzero_without_traceback(write_csv, capsys, row):
    p = write_csv(f"{HEADER}\n{row}")
    code = main(["data", "check", str(p)])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err and err.startswith("error: ") and str(p) in err


def test_cli_data_check_on_bundled_tables_passes_and_prints_flags(capsys):
    assert main(["data", "check"]) == 0
    out = capsys.readouterr().out
    assert "flag [" in out and "OK:" in out


def test_cli_fit_with_bad_prior_exits_with_message(write_csv, capsys):
    p = write_csv(f"{HEADER}\nA,ici,chemo,OS,0.7,0.5,0.9\nB,ici,chemo,OS,0.8,0.6,1.0")
    assert main(["fit", "--data", str(p), "--prior", "tau=half_normall(0.5)"]) == 2
    err = capsys.readouterr().err
    assert "unknown prior family 'half_normall'" in err and "Traceback" not in err


def test_an_estimate_without_a_standard_error_is_not_dropped_silently(write_csv):
    from sclcmeta import read_evidence
    from sclcmeta.errors import EvidenceWarning

    ev = read_evidence(write_csv(f"{HEADER},p_value\nA,ici,chemo,OS,0.7,0.5,0.9,\nB,ici,chemo,OS,0.8,,,1"))
    with pytest.warns(EvidenceWarning, match="B:ici vs chemo:OS"):
        eff = select_estimates(ev, outcome="OS", treatment="ici", comparator="chemo")
    assert eff.k == 1 and any(line.startswith("not used: B:ici vs chemo:OS (no standard error") for line in eff.log)

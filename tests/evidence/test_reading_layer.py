"""Every malformed evidence file is a one-line package error naming the file (and line, column, value) with the
fix, never a traceback or a silent guess (issue 15, items 3-4)."""

from __future__ import annotations

import pytest

from sclcmeta import EvidenceError, read_evidence
from sclcmeta.cli import main

HEAD = "study,treatment,comparator,outcome,hr,ci_low,ci_high"
ROW = "A,ici,chemo,OS,0.70,0.52,0.94"


def _fails(path, pattern):
    with pytest.raises(EvidenceError, match=pattern):
        read_evidence(path)


def test_an_empty_file_is_refused(tmp_path):
    p = tmp_path / "e.csv"
    p.write_text("")
    _fails(p, "the file is empty")


def test_a_header_without_rows_is_refused(write_csv):
    _fails(write_csv(HEAD), "header but no rows")


def test_a_latin1_file_is_refused_with_the_line_and_how_to_resave(tmp_path):
    p = tmp_path / "e.csv"
    p.write_bytes((HEAD + "\nZürich cohort,ici,chemo,OS,0.70,0.52,0.94\n").encode("latin-1"))
    _fails(p, r"line 2 is not UTF-8.*re-save the file as UTF-8")


def test_a_utf8_file_with_a_byte_order_mark_is_read(tmp_path):
    p = tmp_path / "e.csv"
    p.write_bytes(("\ufeff" + HEAD + "\n" + ROW + "\n").encode("utf-8"))
    assert len(read_evidence(p).data) == 1


def test_a_folder_given_as_the_csv_is_refused(tmp_path):
    _fails(tmp_path, "is a folder, not a CSV")


def test_a_row_with_more_fields_than_the_header_names_the_line(write_csv):
    _fails(write_csv(HEAD + "\n" + ROW + "\nB,ici,chemo,OS,0,70,0.52,0.94"), r"line 3: 8 fields but the header has 7")


def test_two_columns_differing_only_by_trailing_space_are_refused(write_csv):
    _fails(write_csv("study,treatment,comparator,outcome,hr,hr ,ci_low,ci_high\nA,ici,chemo,OS,0.7,0.7,0.5,0.9"),
           r"columns 5 and 6 are both named 'hr' \(after trimming spaces\)")


def test_a_duplicated_column_name_is_refused(write_csv):
    _fails(write_csv("study,treatment,comparator,outcome,hr,hr,ci_low,ci_high\nA,ici,chemo,OS,0.7,0.8,0.5,0.9"),
           "both named 'hr'")


def test_a_misspelt_known_column_is_refused_with_a_suggestion(write_csv):
    _fails(write_csv(HEAD + ",ci_levl\n" + ROW + ",0.80"), r"unknown column 'ci_levl'; did you mean 'ci_level'\?")


def test_a_semicolon_separated_file_is_named_as_such(write_csv):
    _fails(write_csv(HEAD.replace(",", ";") + "\n" + ROW.replace(",", ";")), "separated by semicolons")


def test_hr_with_ci_and_log_hr_with_se_that_disagree_are_an_error(write_csv):
    _fails(write_csv(HEAD + ",log_hr,se\n" + ROW + ",-0.10,0.30"), "gives the estimate twice and the two disagree")


def test_hr_with_ci_and_log_hr_with_se_that_agree_within_rounding_are_read(write_csv):
    # log(0.70) = -0.3567; se = (log 0.94 - log 0.52) / (2 * 1.96) = 0.1511
    ev = read_evidence(write_csv(HEAD + ",log_hr,se\n" + ROW + ",-0.357,0.151"))
    assert len(ev.data) == 1


def test_an_extra_covariate_column_is_still_allowed(write_csv):
    ev = read_evidence(write_csv(HEAD + ",prop_liver\n" + ROW + ",0.24"))
    assert "prop_liver" in ev.data.columns


@pytest.mark.parametrize("content", ["", HEAD, HEAD.replace(",", ";") + "\n" + ROW.replace(",", ";")])
def test_the_command_line_prints_one_error_and_no_traceback(tmp_path, capsys, content):
    p = tmp_path / "bad.csv"
    p.write_text(content)
    assert main(["data", "check", str(p)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and str(p) in err


def test_a_latin1_spec_and_a_folder_as_spec_are_package_errors(tmp_path, capsys):
    p = tmp_path / "s.toml"
    p.write_bytes('[analysis]\nname = "Zürich"\n'.encode("latin-1"))
    assert main(["fit", str(p)]) == 2
    assert "is not UTF-8 text; re-save the spec as UTF-8" in capsys.readouterr().err
    assert main(["fit", str(tmp_path)]) == 2
    assert "is a folder, not a spec file" in capsys.readouterr().err

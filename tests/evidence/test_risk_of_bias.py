"""Risk of bias as data: the bundled table validates, quotes are verbatim, overall is computed, errors are precise."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from tests.conftest import SEEDS
from sclcmeta.errors import EvidenceError
from sclcmeta.evidence.risk_of_bias import (
    COLUMNS,
    DOMAINS,
    check_risk_of_bias,
    overall_judgement,
    read_risk_of_bias,
)
from sclcmeta.paths import data_dir


def _norm(s: str) -> str:
    s = s.replace("\u2013", "-").replace("\u2212", "-").replace("$", "")
    return re.sub(r"\s+", " ", s).strip()


@pytest.fixture(scope="module")
def rob(evidence):
    return read_risk_of_bias(evidence=evidence)


# ---------------------------------------------------------------- the bundled table


def test_bundled_table_validates_against_bundled_evidence(rob):
    assert len(rob.overall()) == rob.data["assessment"].nunique() > 0


def test_every_treatment_effect_row_is_covered_once_with_the_tool_of_its_design(rob, evidence):
    ev = evidence.data.set_index("id")
    per_id = rob.for_ids(ev.index)
    assessed = ev["kind"].isin(["treatment_effect", "subgroup_treatment_effect"])
    assert (per_id.set_index("id").loc[ev.index[assessed], "overall"] != "not_assessed").all()
    tools = per_id.set_index("id")["tool"]
    for i in ev.index[assessed]:
        assert tools[i] == ("RoB2" if ev.at[i, "design"] == "rct" else "ROBINS-I"), i


def test_prognostic_factor_rows_are_not_assessed(rob, evidence):
    prog = evidence.data.loc[evidence.data["kind"] == "prognostic_factor", "id"]
    assert (rob.for_ids(prog)["overall"] == "not_assessed").all()


@pytest.mark.skipif(not SEEDS.is_dir(), reason="seed papers not beside the repository")
def test_every_quote_from_a_seed_occurs_verbatim_in_that_seed():
    raw = pd.read_csv(data_dir() / "risk_of_bias.csv", dtype=str, keep_default_na=False)
    texts = {p.name: _norm(p.read_text()) for p in SEEDS.glob("*.txt")}
    missing = []
    for r in raw[raw["source"].str.endswith(".txt")].itertuples():
        # parts quoted from different places are joined by ' | ': every part must be in the seed
        frags = [f.strip() for f in _norm(r.quote).split("|") if f.strip()]
        if not all(f in texts[r.source] for f in frags):
            missing.append((r.assessment, r.domain))
    assert not missing, missing


def test_sources_are_seed_files_or_dois():
    raw = pd.read_csv(data_dir() / "risk_of_bias.csv", dtype=str, keep_default_na=False)
    assert (raw["source"].str.endswith(".txt") | raw["source"].str.startswith("10.")).all()


def test_gu2026_selection_on_early_survival_is_critical_in_every_assessment(rob):
    gu = rob.data[(rob.data["cohort"] == "gu2026") & (rob.data["domain"] == "selection")]
    assert len(gu) == 4 and (gu["judgement"] == "critical").all()
    assert gu["quote"].str.contains("died within 2 months").all()
    assert gu["quote"].str.contains("DCR").all()


def test_gu2026_multivariable_pfs_names_the_post_baseline_covariate(rob):
    conf = rob.domains("gu2026_pfs_multivariable").set_index("domain").loc["confounding"]
    assert "Brain metastasis during second-line treatment" in conf["quote"]
    assert "post-baseline" in conf["reason"]


def test_gu2026_unbalanced_co_treatment_is_a_serious_deviation(rob):
    dev = rob.data[(rob.data["cohort"] == "gu2026") & (rob.data["domain"] == "deviations")]
    assert (dev["judgement"] == "serious").all()
    assert dev["quote"].str.contains("41.8 vs. 25.8%").all()


def test_zhang_b_known_only_by_citation_is_not_rated_better_than_read_studies(rob):
    ov = rob.for_ids(["zhangb2025_os_2lici", "zhangb2025_pfs_2lici"])
    assert set(ov["overall"]) == {"serious"}
    rep = rob.domains("zhangb2025_os_cited").set_index("domain").loc["reported_result", "reason"]
    assert "back-derived from the p-value" in rep


def test_no_observational_estimate_is_at_low_or_moderate_overall_risk(rob):
    ov = rob.overall()
    assert set(ov.loc[ov["tool"] == "ROBINS-I", "overall"]) <= {"serious", "critical"}


def test_for_ids_keeps_the_order_given_and_marks_unknown_ids(rob):
    out = rob.for_ids(["caspian_os_primary", "no_such_id", "gu2026_os_serp_vs_chemo"])
    assert out["id"].tolist() == ["caspian_os_primary", "no_such_id", "gu2026_os_serp_vs_chemo"]
    assert out["overall"].tolist() == ["some_concerns", "not_assessed", "critical"]


def test_check_summary_counts_assessments_and_lists_the_worst(evidence):
    # the expected counts come from the CSV itself, read plainly here, not from the module's output
    import csv

    from sclcmeta.paths import data_dir

    with open(data_dir() / "risk_of_bias.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    tools = {r["assessment"]: r["tool"] for r in rows}
    covered = {i for r in rows for i in r["applies_to"].split(";") if i}
    n_rob = sum(t == "ROBINS-I" for t in tools.values())
    lines = check_risk_of_bias(evidence)
    assert lines[0].startswith(f"risk of bias: {len(tools)} assessments ({n_rob} ROBINS-I, {len(tools) - n_rob} RoB2) "
                               f"covering {len(covered)} estimates")
    assert any(line.startswith("  [critical] gu2026_os_unadjusted") for line in lines)


# ---------------------------------------------------------------- the overall rule


@pytest.mark.parametrize("judgements, expected", [
    (["low"] * 7, "low"),
    (["low", "moderate", "low"], "moderate"),
    (["moderate", "serious", "low"], "serious"),
    (["serious", "critical", "moderate"], "critical"),
    (["low", "moderate", "no_information"], "no_information"),
    (["low", "serious", "no_information"], "serious"),
    (["critical", "no_information"], "critical"),
    (["no_information"] * 3, "no_information"),
])
def test_robins_i_overall_is_the_worst_domain_and_no_information_yields_to_serious(judgements, expected):
    assert overall_judgement("ROBINS-I", judgements) == expected


@pytest.mark.parametrize("judgements, expected", [
    (["low"] * 5, "low"),
    (["low", "some_concerns", "low"], "some_concerns"),
    (["some_concerns", "some_concerns", "some_concerns"], "some_concerns"),
    (["low", "high", "some_concerns"], "high"),
])
def test_rob2_overall_is_low_only_if_all_low_and_high_if_any_high(judgements, expected):
    assert overall_judgement("RoB2", judgements) == expected


def test_overall_rejects_judgements_of_the_other_tool():
    with pytest.raises(ValueError):
        overall_judgement("RoB2", ["low", "serious"])
    with pytest.raises(ValueError):
        overall_judgement("ROBINS-I", ["some_concerns"])


def test_overall_is_computed_not_read_from_the_file():
    assert "overall" not in COLUMNS


# ---------------------------------------------------------------- validation errors on small tables

EVIDENCE = pd.DataFrame({
    "id": ["obs_os", "obs_pfs", "trial_os", "obs_prog"],
    "cohort": ["c1", "c1", "t1", "c1"],
    "design": ["retrospective_cohort", "retrospective_cohort", "rct", "retrospective_cohort"],
    "kind": ["treatment_effect", "subgroup_treatment_effect", "treatment_effect", "prognostic_factor"],
    "file_": ["ev.csv"] * 4,
    "row_": [1, 2, 3, 4],
})


def _rows(assessment, tool, cohort, applies_to, judgement=None, domains=None):
    domains = domains or DOMAINS[tool]
    j = judgement or "low"
    return [dict(assessment=assessment, tool=tool, cohort=cohort, applies_to=applies_to, domain=d, judgement=j,
                 reason="because", source="001_x.txt", location="Table 1", quote="verbatim") for d in domains]


def _valid_rows():
    return (_rows("c1_all", "ROBINS-I", "c1", "obs_os;obs_pfs", "serious")
            + _rows("t1_os", "RoB2", "t1", "trial_os"))


def _write(tmp_path, rows, name="rob.csv"):
    p = tmp_path / name
    pd.DataFrame(rows, columns=list(COLUMNS)).to_csv(p, index=False)
    return p


def _errors(tmp_path, rows):
    p = _write(tmp_path, rows)
    with pytest.raises(EvidenceError) as exc:
        read_risk_of_bias(p, EVIDENCE)
    return p, exc.value.problems


def test_a_valid_small_table_reads_and_computes_overall(tmp_path):
    rob = read_risk_of_bias(_write(tmp_path, _valid_rows()), EVIDENCE)
    assert rob.for_ids(["obs_os", "trial_os", "obs_prog"])["overall"].tolist() == ["serious", "low", "not_assessed"]


def test_unknown_tool_names_file_row_line_column_and_value(tmp_path):
    rows = _valid_rows()
    for r in rows[7:]:
        r["tool"] = "RoB 2"
    p, problems = _errors(tmp_path, rows)
    assert f"{p}, row 8 (line 9), column 'tool', value 'RoB 2': unknown tool" in problems[0]
    assert "use ROBINS-I (observational) or RoB2" in problems[0]


def test_unknown_domain_and_judgement_are_reported_with_the_allowed_values(tmp_path):
    rows = _valid_rows()
    rows[0]["domain"] = "bias_due_to_confounding"
    rows[8]["judgement"] = "moderate"  # a ROBINS-I level in a RoB 2 row
    p, problems = _errors(tmp_path, rows)
    assert any(f"{p}, row 1 (line 2), column 'domain', value 'bias_due_to_confounding': not a ROBINS-I domain" in e
               for e in problems)
    assert any(f"{p}, row 9 (line 10), column 'judgement', value 'moderate': not a RoB2 judgement; use one of low, "
               "some_concerns, high" in e for e in problems)


@pytest.mark.parametrize("column", ["reason", "quote", "source", "location"])
def test_missing_reason_quote_source_or_location_is_an_error(tmp_path, column):
    rows = _valid_rows()
    rows[2][column] = ""
    p, problems = _errors(tmp_path, rows)
    assert problems == [f"{p}, row 3 (line 4), column '{column}', value '': missing {column}; every judgement needs "
                        "its reason, the source (seed file or DOI), the location (table/section) and a verbatim quote."]


def test_a_missing_domain_is_named(tmp_path):
    rows = [r for r in _valid_rows() if not (r["assessment"] == "c1_all" and r["domain"] == "missing_data")]
    p, problems = _errors(tmp_path, rows)
    assert len(problems) == 1
    assert problems[0].startswith(f"{p}, row 1 (line 2), column 'domain', value 'confounding;selection;")
    assert "assessment 'c1_all' lacks ROBINS-I domain(s) missing_data; add one row for each." in problems[0]


def test_a_duplicated_domain_names_both_rows(tmp_path):
    rows = _valid_rows()
    rows.insert(3, dict(rows[1]))  # 'selection' again, as row 4
    p, problems = _errors(tmp_path, rows)
    assert problems == [f"{p}, row 4 (line 5), column 'domain', value 'selection': domain already judged for "
                        "assessment 'c1_all' in row 2; keep one row per (assessment, domain)."]


def test_an_unknown_evidence_id_in_applies_to_is_an_error(tmp_path):
    rows = _valid_rows()
    for r in rows[7:]:
        r["applies_to"] = "trial_os;trial_oss"
    p, problems = _errors(tmp_path, rows)
    assert problems == [f"{p}, row 8 (line 9), column 'applies_to', value 'trial_os;trial_oss': evidence id "
                        "'trial_oss' of assessment 't1_os' does not exist in the evidence table; correct the id or "
                        "remove it."]


def test_an_uncovered_estimate_is_named_by_its_evidence_row(tmp_path):
    rows = _valid_rows()
    for r in rows[:7]:
        r["applies_to"] = "obs_os"
    p, problems = _errors(tmp_path, rows)
    assert problems == ["ev.csv, row 2 (line 3), column 'id', value 'obs_pfs': subgroup_treatment_effect "
                        f"(retrospective_cohort) not covered by any ROBINS-I assessment in {p}; add its id to the "
                        "applies_to of one."]


def test_an_estimate_covered_twice_is_an_error(tmp_path):
    rows = _rows("c1_os", "ROBINS-I", "c1", "obs_os;obs_pfs") + _rows("c1_pfs", "ROBINS-I", "c1", "obs_pfs") \
        + _rows("t1_os", "RoB2", "t1", "trial_os")
    p, problems = _errors(tmp_path, rows)
    assert problems == [f"{p}, row 8 (line 9), column 'applies_to', value 'obs_pfs': evidence id 'obs_pfs' is already "
                        "covered by assessment 'c1_os' (row 1); each estimate belongs to exactly one assessment, so "
                        "remove it from one of them."]


def test_the_wrong_tool_for_the_design_is_an_error(tmp_path):
    rows = _rows("c1_all", "RoB2", "c1", "obs_os;obs_pfs") + _rows("t1_os", "RoB2", "t1", "trial_os")
    p, problems = _errors(tmp_path, rows)
    assert len(problems) == 2
    assert problems[0] == (f"{p}, row 1 (line 2), column 'tool', value 'RoB2': assessment 'c1_all' covers 'obs_os', "
                           "whose design is 'retrospective_cohort'; use ROBINS-I for it (RoB 2 for randomized trials, "
                           "ROBINS-I for observational estimates).")


def test_a_prognostic_factor_row_may_not_be_assessed(tmp_path):
    rows = _valid_rows()
    for r in rows[:7]:
        r["applies_to"] = "obs_os;obs_pfs;obs_prog"
    p, problems = _errors(tmp_path, rows)
    assert len(problems) == 1 and "'obs_prog' is a prognostic_factor row" in problems[0]
    assert problems[0].startswith(f"{p}, row 1 (line 2), column 'applies_to', value 'obs_os;obs_pfs;obs_prog'")


def test_rows_of_one_assessment_must_agree_on_tool_cohort_and_applies_to(tmp_path):
    rows = _valid_rows()
    rows[3]["applies_to"] = "obs_os"
    p, problems = _errors(tmp_path, rows)
    assert problems == [f"{p}, row 4 (line 5), column 'applies_to', value 'obs_os': differs from row 1 "
                        "('obs_os;obs_pfs') of assessment 'c1_all'; every row of one assessment must give the same "
                        "applies_to."]


def test_an_assessment_spanning_two_cohorts_is_an_error(tmp_path):
    rows = _rows("mixed", "ROBINS-I", "c1", "obs_os;obs_pfs;trial_os") + _rows("t1_os", "RoB2", "t1", "trial_os")
    p, problems = _errors(tmp_path, rows)
    assert any("'trial_os' from cohort 't1'; an assessment covers one cohort" in e for e in problems)


def test_every_problem_is_listed_not_just_the_first(tmp_path):
    rows = _valid_rows()
    rows[0]["judgement"] = "high"
    rows[1]["reason"] = ""
    rows[8]["domain"] = "blinding"
    _, problems = _errors(tmp_path, rows)
    assert len(problems) >= 3


def test_missing_columns_and_missing_file_are_reported(tmp_path):
    p = tmp_path / "short.csv"
    p.write_text("assessment,tool,domain\nx,RoB2,randomization\n")
    with pytest.raises(EvidenceError, match=r"missing required column\(s\) cohort, applies_to, judgement"):
        read_risk_of_bias(p, EVIDENCE)
    with pytest.raises(EvidenceError, match="file not found"):
        read_risk_of_bias(tmp_path / "nope.csv", EVIDENCE)

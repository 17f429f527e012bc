"""The bundled evidence base: traceable to the seeds, overlaps declared, selections reproducible."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from tests.conftest import SEEDS
from sclcmeta import select_estimates
from sclcmeta.paths import data_dir


def _norm(s: str) -> str:
    s = s.replace("\u2013", "-").replace("\u2212", "-").replace("$", "")
    return re.sub(r"\s+", " ", s).strip()


@pytest.fixture(scope="module")
def raw():
    return pd.read_csv(data_dir() / "evidence.csv", dtype=str, keep_default_na=False)


def test_every_row_names_its_source_location_and_quote(raw):
    for c in ("source", "location", "quote"):
        assert (raw[c] != "").all(), raw.loc[raw[c] == "", "id"].tolist()
    seeds = raw["source"].str.endswith(".txt")
    dois = raw["source"].str.startswith("10.")
    assert (seeds | dois).all(), raw.loc[~(seeds | dois), "id"].tolist()


@pytest.mark.skipif(not SEEDS.is_dir(), reason="seed papers not beside the repository")
def test_quotes_from_seeds_occur_verbatim_in_the_seed(raw):
    texts = {p.name: _norm(p.read_text()) for p in SEEDS.glob("*.txt")}
    missing = []
    for r in raw[raw["source"].str.endswith(".txt")].itertuples():
        q = _norm(r.quote)
        # a table row flattened with separators: every fragment must be in the seed
        frags = [f.strip() for f in re.split(r"\s*(?:\||\.\.\.|…)\s*", q) if len(f.strip()) > 3]
        if not all(f in texts[r.source] for f in frags):
            missing.append(r.id)
    assert not missing, missing


def test_printed_hr_digits_appear_in_the_quote(raw):
    bad = [r.id for r in raw.itertuples() if r.hr and r.hr not in _norm(r.quote)]
    assert not bad, bad


def test_printed_ci_digits_appear_in_the_quote(raw):
    bad = [r.id for r in raw.itertuples() if r.ci_low and (r.ci_low not in _norm(r.quote) or
                                                            r.ci_high not in _norm(r.quote))]
    assert not bad, bad


def test_zhang_2025a_and_2025b_share_one_patient_pool(evidence):
    st = evidence.studies.set_index("cohort")
    assert st.loc["zhang2025a", "patient_pool"] == st.loc["zhang2025b", "patient_pool"]
    assert st["patient_pool"].drop(["zhang2025a", "zhang2025b"]).is_unique


def test_selection_prefers_matched_then_adjusted_then_unadjusted(evidence):
    eff = select_estimates(evidence, outcome="PFS", treatment=["ici_cont_2l", "serplulimab_2l"],
                           comparator="no_ici_2l", second_hand=True)
    used = dict(zip(eff.data["cohort"], eff.data["analysis"]))
    assert used["zhang2025b"] == "propensity_matched"
    # Gu 2026's multivariable PFS model adjusts for a post-baseline variable: its unadjusted HR is used
    assert used["gu2026"] == "unadjusted"
    assert used["zhangb2025"] == "unadjusted"


def test_curator_rejected_estimate_is_not_chosen_by_default(evidence):
    eff = select_estimates(evidence, outcome="OS", treatment="serplulimab_2l", comparator="no_ici_2l")
    assert eff.data["id"].tolist() == ["gu2026_os_serp_vs_chemo"]


def test_reversed_rows_enter_with_the_sign_flipped(evidence):
    fwd = select_estimates(evidence, outcome="OS", treatment="serplulimab_2l", comparator="no_ici_2l")
    rev = select_estimates(evidence, outcome="OS", treatment="no_ici_2l", comparator="serplulimab_2l")
    assert rev.data["y"].iloc[0] == pytest.approx(-fwd.data["y"].iloc[0])
    assert bool(rev.data["flipped"].iloc[0])


def test_leaving_a_cohort_out_removes_it(evidence):
    eff = select_estimates(evidence, outcome="OS", treatment=["ici_cont_2l", "serplulimab_2l"],
                           comparator="no_ici_2l", exclude=["gu2026"])
    assert "gu2026" not in set(eff.data["cohort"])


def test_no_selection_of_bundled_specs_uses_a_patient_pool_twice(evidence):
    from sclcmeta import list_specs
    from sclcmeta.analyses import effects_for_spec

    for spec in list_specs():
        if spec.model["type"] == "network":
            continue
        eff = effects_for_spec(spec, evidence)
        if not spec.evidence.get("nest_within_cohort"):
            assert eff.data["patient_pool"].is_unique, spec.name


def test_nodes_and_studies_tables_cover_the_evidence(evidence):
    nodes = set(evidence.nodes["node"])
    te = evidence.data[evidence.data["kind"] != "prognostic_factor"]
    assert set(te["treatment"]) | set(te["comparator"]) <= nodes
    assert set(evidence.data["cohort"]) <= set(evidence.studies["cohort"])
    assert set(evidence.nodes["ici_class"]) <= {"PD-1", "PD-L1", "CTLA-4", "PD-L1+CTLA-4", "mixed", "none"}


def test_effect_data_labels_name_the_selected_nodes(evidence):
    eff = select_estimates(evidence, outcome="OS", treatment=["ici_cont_2l", "serplulimab_2l"], comparator="no_ici_2l")
    assert (eff.treatment_label, eff.comparator_label) == ("ici_cont_2l/serplulimab_2l", "no_ici_2l")

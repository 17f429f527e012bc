"""data/baselines.csv and data/certainty_judgements.csv: traceable to their sources, validated row by row."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from sclcmeta.errors import EvidenceError
from sclcmeta.evidence.baselines import read_baselines
from sclcmeta.evidence.judgements import read_judgements
from sclcmeta.paths import data_dir
from tests.conftest import SEEDS


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s.replace("–", "-").replace("—", "-")).strip()


def _raw(name):
    return pd.read_csv(data_dir() / name, dtype=str, keep_default_na=False)


@pytest.mark.skipif(not SEEDS.is_dir(), reason="seed papers not beside the repository")
@pytest.mark.parametrize("name", ["baselines.csv", "certainty_judgements.csv"])
def test_seed_quotes_occur_verbatim_in_the_seed(name):
    texts = {p.name: _norm(p.read_text()) for p in SEEDS.glob("*.txt")}
    raw = _raw(name)
    bad = [r.quote[:40] for r in raw[raw["source"].str.endswith(".txt")].itertuples()
           if not all(_norm(f) in texts[r.source] for f in r.quote.split(" | "))]
    assert not bad, bad


def test_doi_baseline_quotes_are_the_quotes_recorded_for_that_doi_in_the_evidence():
    ev = _raw("evidence.csv")
    raw = _raw("baselines.csv")
    for r in raw[~raw["source"].str.endswith(".txt")].itertuples():
        quotes = ev.loc[ev["source"] == r.source, "quote"]
        assert any(r.quote in q for q in quotes), r.name


def test_every_baseline_number_is_printed_in_its_quote():
    for r in _raw("baselines.csv").itertuples():
        q = _norm(r.quote)
        assert r.median_months in q, r.name
        for kv in filter(None, r.landmarks.split(";")):
            pct = f"{100 * float(kv.split(':')[1]):.1f}%"
            assert pct in q, (r.name, pct)


def test_every_question_with_a_survival_answer_has_a_default_baseline_per_outcome():
    b = read_baselines()
    for q in ("Q1", "Q2", "Q4", "Q5"):
        for outcome in ("OS", "PFS"):
            assert b.default_for(q, outcome) is not None, (q, outcome)


def test_judgements_name_existing_analyses_and_cover_each_pairwise_and_network_answer():
    import sclcmeta as sm

    j = read_judgements()
    for s in sm.list_specs():
        if s.kind in ("pairwise", "network"):
            assert j.lookup(s.name, "indirectness") is not None, s.name


def test_bad_baseline_rows_give_one_line_each_with_file_row_column_and_value(write_csv):
    p = write_csv("""
name,outcome,setting,curve,median_months,landmarks,use_for,source,location,quote,notes
a,OS,s,exponential,-3,,Q1,foo.txt,loc,q,
b,OS,s,piecewise_exponential,8,12:60,Q9x,10.1/x,loc,q,
c,OS,s,weibull,8,,,10.1/x,loc,,
a,OS,s,piecewise_exponential,8,12:0.6,,10.1/x,loc,q,
""")
    with pytest.raises(EvidenceError) as e:
        read_baselines(p)
    msg = str(e.value)
    for needle in ["row 1 (line 2), column 'median_months', value '-3'", "row 1 (line 2), column 'source'",
                   "row 2 (line 3), column 'landmarks', value '12:60'", "column 'use_for', value 'Q9x'",
                   "row 3 (line 4), column 'curve', value 'weibull'", "row 3 (line 4), column 'quote'",
                   "row 4 (line 5), column 'name', value 'a': duplicate", "do not fall over time"]:
        assert needle in msg, needle


def test_bad_judgement_rows_give_one_line_each(write_csv):
    p = write_csv("""
analysis,comparison,domain,judgement,reason,source,location,quote
q1_continuation_os,,indirectness,serious,r,002_a2433488bad0920d.txt,l,q
q1_continuation_os,,indirectness,serious,r,002_a2433488bad0920d.txt,l,q
no_such_spec,,imprecision,bad,,x,l,q
""")
    with pytest.raises(EvidenceError) as e:
        read_judgements(p)
    msg = str(e.value)
    for needle in ["row 2 (line 3), column 'domain', value 'indirectness': q1_continuation_os (all) indirectness is "
                   "already judged in row 1", "column 'analysis', value 'no_such_spec'",
                   "column 'domain', value 'imprecision'", "column 'judgement', value 'bad'",
                   "row 3 (line 4), column 'reason'", "column 'source', value 'x'"]:
        assert needle in msg, needle


def test_data_check_validates_the_new_tables_and_fails_on_a_bad_one(write_csv, capsys):
    from sclcmeta.cli import main

    assert main(["data", "check"]) == 0
    out = capsys.readouterr().out
    assert "baselines: " in out and "certainty judgements: " in out
    bad = write_csv("analysis,comparison,domain,judgement,reason,source,location,quote\n"
                    "q1_continuation_os,,indirectness,maybe,r,10.1/x,l,q", name="j.csv")
    assert main(["data", "check", "--judgements", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "column 'judgement', value 'maybe'" in err

"""Hypothesis strategies for malformed evidence CSVs and analysis specs (shared by the test and the long script)."""

from __future__ import annotations

from hypothesis import strategies as st

COLUMNS = ["study", "treatment", "comparator", "outcome", "hr", "ci_low", "ci_high", "ci_level", "log_hr", "se",
           "p_value", "population", "o_minus_e", "v", "logrank_p", "events_total", "favours", "median_treatment",
           "median_comparator", "events_treatment", "events_comparator", "ci_levl", "hr ", "prop_liver", "", "x;y"]
CELLS = ["", "0.7", "0.52", "0.94", "1", "0", "-1", "1e309", "nan", "inf", "abc", "0,7", "<0.001", ">0.5", "0.95",
         "95", "OS", "PFS", "DFS", "A", "a ", "ici", "chemo", "treatment", "comparator", "yes", "overall",
         "liver_metastases=yes", "Zürich", '"quoted, text"', "\t", "12", "8", "50"]


@st.composite
def near_valid_csv(draw) -> str:
    """A valid minimal-format table with one to three cells replaced by junk (exercises the fit path too)."""
    k = draw(st.integers(1, 6))
    rows = [[f"S{i}", "ici", "chemo", "OS", "0.70", "0.52", "0.94"] for i in range(k)]
    for _ in range(draw(st.integers(0, 3))):
        rows[draw(st.integers(0, k - 1))][draw(st.integers(0, 6))] = draw(st.sampled_from(CELLS))
    return "\n".join(["study,treatment,comparator,outcome,hr,ci_low,ci_high"] + [",".join(r) for r in rows]) + "\n"


@st.composite
def any_csv(draw) -> str:
    return draw(near_valid_csv()) if draw(st.booleans()) else draw(csv_texts())


@st.composite
def csv_texts(draw) -> str:
    cols = draw(st.lists(st.sampled_from(COLUMNS), min_size=0, max_size=9, unique=draw(st.integers(0, 3)) > 0))
    if draw(st.booleans()):
        cols = ["study", "treatment", "comparator", "outcome"] + [c for c in cols if c not in
                                                                  ("study", "treatment", "comparator", "outcome")]
    n = draw(st.integers(0, 5))
    lo, hi = (len(cols), len(cols)) if draw(st.integers(0, 3)) else (max(len(cols) - 1, 0), len(cols) + 1)
    rows = [",".join(draw(st.lists(st.sampled_from(CELLS), min_size=lo, max_size=hi))) for _ in range(n)]
    sep = draw(st.sampled_from([",", ",", ",", ";"]))
    return "\n".join([sep.join(cols)] + rows) + draw(st.sampled_from(["", "\n", "\n\n"]))


SPEC_EDITS = {
    "analysis.outcome": ['"OS"', '"EFS"', "1", "[]"],
    "evidence.treatment": ['["ici_cont_2l"]', "1", '"x"', "[1, 2]", "true"],
    "evidence.prefer": ['["propensity-matched"]', '["multivariable"]', '"unadjusted"', "[3]"],
    "evidence.exclude": ["[1]", '["nobody"]', '"gu2026"', "[]"],
    "evidence.line": ['"2L"', '["2L"]', '"2l"', "2"],
    "model.type": ['"random_effects"', '"fixed_effect"', '"bogus"', "0"],
    "priors.tau": ['"half_normal(0.5)"', '"half_normal(-1)"', '"half_normal(1e300)"', '"nope(1)"', "5"],
    "inference.draws": ["true", "0", "-3", "10", '"many"', "1.5"],
    "inference.seed": ["0", "-1", "18446744073709551617", '"s"'],
    "inference.method": ['"exact"', '"mcmc"', '"nuts"'],
}


@st.composite
def spec_edits(draw) -> dict[str, str]:
    keys = draw(st.lists(st.sampled_from(sorted(SPEC_EDITS)), min_size=1, max_size=4, unique=True))
    return {k: draw(st.sampled_from(SPEC_EDITS[k])) for k in keys}


def apply_edits(text: str, edits: dict[str, str]) -> str:
    """A spec text with ``table.key = value`` set (replaced in its table, or added to it)."""
    import re

    for dotted, value in edits.items():
        table, key = dotted.split(".")
        pattern = re.compile(rf"(?m)^{key}\s*=.*$")
        block = re.search(rf"(?ms)^\[{table}\]\n(.*?)(?=^\[|\Z)", text)
        if block is None:
            text += f"\n[{table}]\n{key} = {value}\n"
            continue
        body = block.group(1)
        body = pattern.sub(f"{key} = {value}", body) if pattern.search(body) else body + f"{key} = {value}\n"
        text = text[:block.start(1)] + body + text[block.end(1):]
    return text


def check_csv(folder, text: str) -> int:
    """Read and fit a CSV through the command line: its exit code (0 result, 1/2 package error).

    Any exception other than the package's own propagates (that is the property's failure).
    """
    import warnings
    from pathlib import Path

    from sclcmeta import read_evidence
    from sclcmeta.cli import main
    from sclcmeta.errors import SclcmetaError

    p = Path(folder) / "fuzz.csv"
    p.write_text(text, encoding="utf-8")
    try:
        read_evidence(p)
    except SclcmetaError:
        pass
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return main(["fit", "--data", str(p), "--method", "exact", "--json"])


def check_spec(folder, edits: dict[str, str]) -> int:
    """Load and run an edited bundled spec: 0 for a result, 2 for a package error (anything else propagates)."""
    import warnings
    from pathlib import Path

    from sclcmeta import load_spec, run_spec
    from sclcmeta.errors import SclcmetaError
    from sclcmeta.paths import models_dir

    p = Path(folder) / "fuzz.toml"
    p.write_text(apply_edits((models_dir() / "q1_continuation_os.toml").read_text(), edits), encoding="utf-8")
    try:
        spec = load_spec(p)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            run_spec(spec, method="exact")
    except SclcmetaError:
        return 2
    return 0

"""Spec and prior-set files are checked by typed models: every bad value is one SpecError naming file and key."""

from __future__ import annotations

import pytest

import sclcmeta as sm
from sclcmeta.evidence.schema import ANALYSES
from sclcmeta.paths import models_dir
from sclcmeta.priors import PRIOR_TARGETS, list_prior_sets, load_prior_set

BASE = (models_dir() / "q1_continuation_os.toml").read_text()
TREATMENT = 'treatment = ["ici_cont_2l", "ici_same_2l", "atezolizumab_cont_2l"]'


def _load(tmp_path, old, new, name="s.toml"):
    assert old in BASE
    p = tmp_path / name
    p.write_text(BASE.replace(old, new, 1))
    return sm.load_spec(p)


def _error(tmp_path, old, new) -> str:
    with pytest.raises(sm.SpecError) as info:
        _load(tmp_path, old, new)
    msg = str(info.value)
    assert "Traceback" not in msg and "pydantic" not in msg.lower()
    assert all(line.startswith(str(tmp_path / "s.toml") + ": [") for line in msg.splitlines()), msg
    return msg


def test_every_bundled_spec_and_prior_set_still_loads():
    specs = sm.list_specs()
    files = [f for f in models_dir().glob("*.toml") if f.name != "questions.toml"]
    assert len(specs) == len(files) and all(sm.load_spec(f).path == str(f) for f in files)
    assert {s.kind for s in specs} == {"pairwise", "network", "moderator"}
    sets = list_prior_sets()
    assert len(sets) == len(list((models_dir() / "priors").glob("*.toml")))
    spec = sm.load_spec("q2_network_2l_os")
    assert spec.model["mixtures"] == {"zhang2025b": {"ici_cont_2l": {"continue": 105, "switch": 13}}}
    assert spec.inference == {"method": "exact", "sampler": "nutpie", "draws": 4000, "tune": 1000, "chains": 4,
                              "seed": 20261121}


def test_seed_too_large_for_64_bits_is_refused_with_the_valid_range(tmp_path):
    msg = _error(tmp_path, "seed = 20261121", "seed = 18446744073709551617")
    from sclcmeta.vocabulary import MAX_SEED

    assert f"[inference.seed] must be a whole number from 0 to {MAX_SEED}" in msg


def test_negative_seed_is_refused(tmp_path):
    assert "[inference.seed]" in _error(tmp_path, "seed = 20261121", "seed = -1")


def test_treatment_given_as_an_integer_is_refused(tmp_path):
    msg = _error(tmp_path, TREATMENT, "treatment = 3")
    assert "[evidence.treatment] must be a list of strings (or one string); got 3" in msg


def test_treatment_list_with_an_integer_names_the_item(tmp_path):
    msg = _error(tmp_path, TREATMENT, 'treatment = ["ici_cont_2l", 7]')
    assert "[evidence.treatment] item 2 must be text in quotes; got 7" in msg


def test_treatment_as_one_string_is_still_a_one_element_list(tmp_path):
    spec = _load(tmp_path, TREATMENT, 'treatment = "ici_cont_2l"')
    assert spec.evidence["treatment"] == ["ici_cont_2l"]


def test_line_given_as_a_list_is_refused(tmp_path):
    msg = _error(tmp_path, 'line = "2L"', 'line = ["2L"]')
    assert "[evidence.line] must be '1L', '2L' or 'LS'; got ['2L'] (one value in quotes, not a list)" in msg


def test_draws_true_is_not_taken_as_one(tmp_path):
    msg = _error(tmp_path, "draws = 4000", "draws = true")
    assert "[inference.draws] must be a positive whole number, without quotes; got true" in msg


@pytest.mark.parametrize("key, old", [("draws", "draws = 4000"), ("tune", "tune = 1000"), ("chains", "chains = 4")])
def test_zero_draws_tune_or_chains_are_refused(tmp_path, key, old):
    assert f"[inference.{key}] must be a positive whole number" in _error(tmp_path, old, f"{key} = 0")


def test_prior_hyperparameter_too_large_names_the_prior(tmp_path):
    msg = _error(tmp_path, 'set = "default"', 'set = "default"\ntau = "half_normal(1e9)"')
    assert "[priors.tau] half_normal(): scale = 1e+09 is implausibly large" in msg


def test_prior_override_that_is_not_text_is_refused(tmp_path):
    # (a bare number is a fixed tau, tau = 0.5: see tests/engine/test_reference_priors.py)
    msg = _error(tmp_path, 'set = "default"', 'set = "default"\ntau = true')
    assert "[priors.tau] must be prior text in quotes" in msg


def test_unknown_prior_set_names_the_key_and_the_bundled_sets(tmp_path):
    msg = _error(tmp_path, 'set = "default"', 'set = "defualt"')
    assert "[priors.set] prior set 'defualt' not found; bundled prior sets: default" in msg


def test_prefer_with_an_unknown_analysis_type_lists_the_valid_ones(tmp_path):
    msg = _error(tmp_path, 'prefer = ["propensity_matched"', 'prefer = ["propensity-matched"')
    assert "[evidence.prefer] item 1 'propensity-matched' is not a known analysis type" in msg
    assert "did you mean 'propensity_matched'?" in msg and ", ".join(ANALYSES) in msg


def test_exclude_given_integers_names_each_item(tmp_path):
    msg = _error(tmp_path, 'line = "2L"', 'line = "2L"\nexclude = [1, 2]')
    assert "[evidence.exclude] item 1 must be text in quotes; got 1" in msg
    assert "[evidence.exclude] item 2 must be text in quotes; got 2" in msg


def test_all_problems_of_a_file_come_in_one_error(tmp_path):
    msg = _error(tmp_path, "seed = 20261121", 'seed = "1"\nthin = 2\n[posterior]\nx = 1')
    lines = msg.splitlines()
    assert len(lines) == 3
    assert any("[inference.seed]" in x for x in lines)
    assert any("[inference.thin] unknown key; valid keys in [inference]: chains, draws" in x for x in lines)
    assert any("[posterior] unknown table; valid tables: analysis, evidence" in x for x in lines)


def test_unknown_direction_doubtful_is_caught_when_the_spec_loads(tmp_path):
    msg = _error(tmp_path, 'line = "2L"', 'line = "2L"\ndirection_doubtful = "flip"')
    assert "[evidence.direction_doubtful] direction_doubtful must be 'exclude', 'as_printed' or 'flipped'" in msg


def test_missing_outcome_says_what_to_add(tmp_path):
    assert "[analysis.outcome] missing" in _error(tmp_path, 'outcome = "OS"\n', "")


def _prior_file(tmp_path, text):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(sm.PriorError) as info:
        load_prior_set(p)
    msg = str(info.value)
    assert all(line.startswith(f"{p}: ") for line in msg.splitlines()), msg
    return msg


def test_prior_set_file_with_unknown_top_level_key_lists_the_allowed_ones(tmp_path):
    msg = _prior_file(tmp_path, 'name = "bad"\nauthor = "me"\n')
    assert "unknown key(s) author; allowed: description, name, priors, source" in msg


def test_prior_set_file_with_non_text_prior_names_the_key(tmp_path):
    msg = _prior_file(tmp_path, 'name = "bad"\n[priors]\ntau = [0.5]\n')
    assert "[priors.tau] must be prior text in quotes" in msg


@pytest.mark.parametrize("text, match", [
    ('effect = "normal(0, 1e7)"', "[priors.effect] normal(): sd = 1e+07 is implausibly large"),
    ('beta = "normal(0, 1e400)"', "[priors.beta] normal(): sd must be a finite number; got inf"),
    ('bias = { family = "normal", mean = -2e6, sd = 1 }', "[priors.bias] normal(): mean = -2e+06 is implausibly large"),
    ('omega = "normal(0, 1)"', "[priors.omega] omega needs a positive (scale) prior"),
])
def test_prior_set_file_with_bad_hyperparameters_names_file_and_key(tmp_path, text, match):
    assert match in _prior_file(tmp_path, f'name = "bad"\n[priors]\n{text}\n')


def test_prior_set_file_reports_every_bad_prior_at_once(tmp_path):
    msg = _prior_file(tmp_path, 'name = 1\n[priors]\n' + "\n".join(f'{k} = "normal(0, inf)"' for k in PRIOR_TARGETS))
    assert len(msg.splitlines()) == 1 + len(PRIOR_TARGETS)

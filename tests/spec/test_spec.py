"""Specs are validated values: broken specs give errors naming the spec file and key."""

from __future__ import annotations

import pytest

import sclcmeta as sm
from sclcmeta.analyses import effects_for_spec
from sclcmeta.paths import models_dir

BASE = (models_dir() / "q1_continuation_os.toml").read_text()


def _spec(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_bundled_specs_load_and_are_reachable_from_python():
    specs = sm.list_specs()
    assert {s.question for s in specs} >= {"Q1", "Q5"}
    assert {s.outcome for s in specs if s.question == "Q1"} == {"OS", "PFS"}


def test_unknown_model_names_file_and_key(tmp_path):
    p = _spec(tmp_path, BASE.replace('type = "random_effects"', 'type = "random_effect"'))
    with pytest.raises(sm.SpecError, match=r"s.toml: \[model.type\] unknown model 'random_effect'"):
        sm.load_spec(p)


def test_unknown_prior_family_names_file_and_key(tmp_path):
    p = _spec(tmp_path, BASE.replace('set = "default"', 'set = "default"\ntau = "half_normel(0.5)"'))
    with pytest.raises(sm.SpecError, match=r"s.toml.*\[priors.tau\].*unknown prior family 'half_normel'"):
        sm.load_spec(p)


def test_unknown_key_is_an_error(tmp_path):
    p = _spec(tmp_path, BASE.replace('seed = 20261121', 'seed = 20261121\nthin = 2'))
    with pytest.raises(sm.SpecError, match=r"\[inference.thin\] unknown key"):
        sm.load_spec(p)


def test_selection_matching_no_evidence_names_the_spec(tmp_path, evidence):
    p = _spec(tmp_path, BASE.replace('comparator = ["no_ici_2l"]', 'comparator = ["placebo_2l"]'))
    with pytest.raises(sm.SpecError, match=r"s.toml \[evidence\]: no evidence matches"):
        effects_for_spec(sm.load_spec(p), evidence)


def test_cohort_twice_names_the_spec(tmp_path, evidence):
    text = BASE.replace('treatment = [', 'treatment = ["ici_any_2l", ')
    p = _spec(tmp_path, text)
    with pytest.raises(sm.SpecError, match=r"s.toml \[evidence\]: cohorts zhang2025a, zhang2025b share patients"):
        effects_for_spec(sm.load_spec(p), evidence)


def test_bad_outcome_and_method(tmp_path):
    assert sm.load_spec(_spec(tmp_path, BASE.replace('outcome = "OS"', 'outcome = "EFS"'))).outcome == "EFS"
    with pytest.raises(sm.SpecError, match=r"\[analysis.outcome\] got 'E F S': name the outcome"):
        sm.load_spec(_spec(tmp_path, BASE.replace('outcome = "OS"', 'outcome = "E F S"')))
    with pytest.raises(sm.SpecError, match=r"\[inference.method\]"):
        sm.load_spec(_spec(tmp_path, BASE.replace('method = "mcmc"', 'method = "laplace"'), "t.toml"))


def test_cli_fit_on_broken_spec_exits_with_one_line(tmp_path, capsys):
    from sclcmeta.cli import main

    p = _spec(tmp_path, BASE.replace('type = "random_effects"', 'type = "randomised"'))
    assert main(["fit", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "s.toml" in err and "Traceback" not in err


def test_spec_priors_swap_without_touching_the_file():
    spec = sm.load_spec(models_dir() / "q1_continuation_os.toml")
    swapped = spec.with_priors(spec.priors.replace(tau="half_cauchy(0.5)"))
    assert swapped.priors.tau.family == "half_cauchy" and spec.priors.tau.family == "half_normal"

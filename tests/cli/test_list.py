"""`sclcmeta list` names every bundled analysis and prior set, which can then be named from anywhere."""

from __future__ import annotations

import sclcmeta as sm
from sclcmeta.cli import main


def test_list_names_every_bundled_spec_and_prior_set(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for spec in sm.list_specs():
        assert spec.name in out
    for ps in sm.list_prior_sets():
        assert ps.name in out
    from sclcmeta.bias_priors import list_bias_priors

    tail = out.split("Bias priors", 1)[1]
    assert all(f"  {bp.name} " in tail for bp in list_bias_priors())


def test_a_listed_spec_is_found_by_name_from_another_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert sm.load_spec("q1_continuation_os").outcome == "OS"

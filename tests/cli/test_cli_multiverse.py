"""`sclcmeta multiverse`: writes the tidy table (Parquet and CSV) and a specification curve per analysis, runs
on a cluster given by its address, and refuses unusable arguments with one line before any work."""

from __future__ import annotations

import json

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

import sclcmeta as sm
from sclcmeta.cli import main


def test_multiverse_writes_parquet_csv_and_a_specification_curve_from_a_cluster_address(tmp_path, capsys, evidence,
                                                                                         dask_client):
    out = tmp_path / "mv"
    address = dask_client.scheduler.address
    assert main(["multiverse", "q1_continuation_os", "q3_liver_prognostic_os", "--priors", "default",
                 "--scheduler", address, "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert f"Dask scheduler {address}" in printed and "wrote multiverse.parquet, multiverse.csv" in printed
    pq, csv = pd.read_parquet(out / "multiverse.parquet"), pd.read_csv(out / "multiverse.csv", keep_default_na=False,
                                                                     na_values=[""])
    assert list(pq.columns) == list(csv.columns) and len(pq) == len(csv)
    np.testing.assert_allclose(pq["hr_median"].to_numpy(float), csv["hr_median"].to_numpy(float), rtol=1e-12)
    h = pq[pq["headline"] & (pq["analysis"] == "q1_continuation_os")]
    assert len(h) == 1 * 3 * 4                      # default priors x 3 evidence choices x (none + 3 cohorts)
    primary = h[h["primary"]].iloc[0]
    ref = sm.run_spec(sm.load_spec("q1_continuation_os"), evidence, method="exact").pooled_hr()
    assert primary["hr_median"] == pytest.approx(ref["hr_median"], rel=1e-12)
    for name in ("q1_continuation_os", "q3_liver_prognostic_os"):
        img = matplotlib.image.imread(out / f"multiverse_{name}.png")
        assert img.ndim == 3 and img.shape[0] > 300 and img.shape[1] > 600
    assert "multiverse.parquet" in json.loads((out / ".sclcmeta-output.json").read_text())["files"]


@pytest.mark.parametrize("args, message", [
    (["q1_continuation_os", "--workers", "0"], "must be 1 or more"),
    (["q1_continuation_os", "--method", "bayes"], "invalid choice: 'bayes'"),
    ([], "the following arguments are required: spec"),
])
def test_malformed_arguments_are_refused_by_the_parser(args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["multiverse", *args])
    assert exc.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("args, message", [
    (["q1_continuation_os", "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"], "running cluster has the workers"),
    (["q1_continuation_os", "--scheduler", "somewhere"], "is not a scheduler address"),
    (["no_such_spec", "--scheduler", "synchronous"], "spec file not found"),
    (["q1_continuation_os", "--priors", "no_such_prior_set", "--scheduler", "synchronous"],
     "prior set 'no_such_prior_set' not found"),
    (["q2_network_2l_os", "--scheduler", "synchronous"], "no pairwise or moderator spec among q2_network_2l_os"),
])
def test_unusable_arguments_give_one_line_and_exit_status_2(args, message, capsys, tmp_path):
    assert main(["multiverse", *args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def test_an_unreachable_scheduler_is_one_line_and_exit_status_2(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("sclcmeta.runner.CONNECT_TIMEOUT", "1s")
    assert main(["multiverse", "q1_continuation_os", "--scheduler", "tcp://127.0.0.1:9",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "could not reach the Dask scheduler at tcp://127.0.0.1:9" in err and "dask scheduler" in err


def test_out_holding_a_users_file_is_refused_before_any_fit(capsys, tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    assert main(["multiverse", "q1_continuation_os", "--scheduler", "synchronous", "--out", str(tmp_path)]) == 2
    assert (tmp_path / "mine.txt").read_text() == "keep me" and "error:" in capsys.readouterr().err

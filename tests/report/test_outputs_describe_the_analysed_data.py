"""Outputs describe the evidence that was analysed, never the bundled files read again at write time (issue 11)."""

from __future__ import annotations

import hashlib
import shutil

import pandas as pd

import sclcmeta as sm
from sclcmeta.paths import data_dir
from sclcmeta.report.tables import extra_tables


def _copy_bundle(tmp_path, drop=None):
    folder = tmp_path / "review"
    shutil.copytree(data_dir(), folder)
    if drop is not None:
        p = folder / "evidence.csv"
        d = pd.read_csv(p, dtype=str, keep_default_na=False)
        d[~drop(d)].to_csv(p, index=False)
    return folder


def test_moderator_inventory_built_from_user_data_describes_that_data(tmp_path):
    # a user's review without any first-line-ICI subgroup HRs: the inventory must say so
    folder = _copy_bundle(tmp_path, drop=lambda d: (d["kind"] == "subgroup_treatment_effect") & (d["factor"] == "l1_ici"))
    ev = sm.read_evidence(folder / "evidence.csv", studies=folder / "studies.csv", nodes=folder / "nodes.csv")
    res = sm.run_spec(sm.load_spec("q3_liver_interaction_os"), ev, method="exact")
    inv = extra_tables(res)["Moderators considered for Q3"]
    row = inv[(inv["factor"] == "l1_ici") & (inv["outcome"] == "OS")].iloc[0]
    assert row["status"].startswith("interaction not estimable")
    bundled = extra_tables(sm.run_spec(sm.load_spec("q3_liver_interaction_os"), method="exact"))[
        "Moderators considered for Q3"]
    brow = bundled[(bundled["factor"] == "l1_ici") & (bundled["outcome"] == "OS")].iloc[0]
    assert brow["status"].startswith("used") or brow["status"].startswith("computed")


def test_data_hash_is_the_hash_of_the_bytes_that_were_analysed(tmp_path):
    folder = _copy_bundle(tmp_path)
    files = [folder / "nodes.csv", folder / "studies.csv", folder / "evidence.csv"]
    expected = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:16]
    ev = sm.read_evidence(folder / "evidence.csv", studies=folder / "studies.csv", nodes=folder / "nodes.csv")
    (folder / "evidence.csv").write_text("edited after the analysis\n")     # the files change after reading
    assert ev.data_hash == expected

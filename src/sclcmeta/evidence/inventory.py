"""The inventory of every moderator considered for Q3, built from the evidence being analysed."""

from __future__ import annotations

import math
import tomllib

import pandas as pd

from ..paths import data_dir
from .moderators import fmt_ci, moderators, subgroup_pairs
from .table import EvidenceTable

def moderator_inventory(ev: EvidenceTable) -> pd.DataFrame:
    """Every moderator x outcome considered for Q3, with what *this* evidence allows and why.

    Interactions are computed from ``ev`` (the evidence being analysed, bundled or a user's own); the
    notes of ``data/moderators.toml`` (moderators analysed only at the study level, or not at all) are
    listed when ``ev`` carries that factor or study-level covariate.
    """
    with open(data_dir() / "moderators.toml", "rb") as fh:
        inv = tomllib.load(fh).get("inventory", {})
    specs = inv.get("interaction_specs", {})
    d = ev.data
    fac = d["factor"] if "factor" in d.columns else pd.Series("", index=d.index)
    rows = []
    for factor, mod in moderators().items():
        for outcome in ("OS", "PFS"):
            pairs = subgroup_pairs(ev, factor, outcome, log=[])
            prog = d[(d["kind"] == "prognostic_factor") & (fac == factor) & (d["outcome"] == outcome)]
            base = {"moderator": mod.label, "factor": factor, "outcome": outcome, "prognostic_rows": len(prog)}
            if pairs.empty:
                rows.append({**base, "interaction": "", "evidence": "", "analysis": "",
                             "status": "interaction not estimable: no subgroup treatment HR in the evidence"})
                continue
            spec = specs.get(factor, {}).get(outcome, "")
            for r in pairs.itertuples():
                status = ("used (within-study interaction" + (", derived subgroup" if r.derived else "") + ")"
                          if mod.usable_interaction and spec else
                          "computed, not pooled: " + (mod.note if not mod.usable_interaction else "no spec"))
                rng = (f"; printed rounding: ratio {math.exp(r.rounding_lo):.2f}-{math.exp(r.rounding_hi):.2f}"
                       if pd.notna(r.rounding_lo) else "")
                rows.append({**base, "interaction": f"{mod.ratio_label}: {fmt_ci(r.y, r.se)}{rng}",
                             "evidence": f"{r.study}: {r.id_index} / {r.id_ref}" + (" [derived]" if r.derived else ""),
                             "status": status, "analysis": spec})
    present = set(fac) | set(ev.covariates().columns)
    for note in inv.get("note", []):
        if note["factor"] in present:
            rows.append({"prognostic_rows": 0, "interaction": "", **note})
    return pd.DataFrame(rows, columns=["moderator", "factor", "outcome", "prognostic_rows", "interaction", "evidence",
                                       "status", "analysis"])

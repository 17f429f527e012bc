"""The scripted face of the package: run every spec, write a self-contained report atomically.

Output folder::

    report.html        one self-contained page (figures embedded as base64 PNG; opens offline)
    report.md          the same content in Markdown (figures in figures/)
    summary.csv        every fitted quantity, the design note's columns
    sensitivity.csv    pooled HR under every prior set and evidence choice
    posteriors/*.nc    one InferenceData per analysis
    figures/*.png

The folder is written to a temporary sibling and swapped in at the end, so a failed run never
leaves a half-written report in place.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ..vocabulary import VERSION as __version__
from ..evidence import read_evidence
from ..spec import list_specs
from ..vocabulary import question_titles
from ..results.network import NetworkResult
from .run import run_all
from .atomic import OutputFolder

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45} h1{font-size:1.6em} h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}
h3{margin-top:1.6em} table{border-collapse:collapse;font-size:.82em;margin:.6em 0} th,td{border:1px solid #ccc;
padding:2px 6px;text-align:right} th{background:#f3f3f3} td:first-child,th:first-child{text-align:left}
.prov{background:#f7f7f7;border:1px solid #ddd;padding:.6em 1em;font-size:.85em}
.warn{color:#a00;font-weight:bold} .para{background:#eef5fb;border-left:4px solid #3b7dd8;padding:.5em 1em}
img{max-width:100%;margin:.4em 0} code{background:#f3f3f3;padding:0 3px}
"""


def _table_html(df: pd.DataFrame) -> str:
    return df.to_html(index=False, float_format=lambda x: f"{x:.3f}", na_rep="", border=0)


def _table_md(df: pd.DataFrame) -> str:
    d = df.copy()
    for c in d.columns:
        if d[c].dtype.kind == "f":
            d[c] = d[c].map(lambda x: "" if pd.isna(x) else f"{x:.3f}")
    head = "| " + " | ".join(map(str, d.columns)) + " |\n|" + "---|" * len(d.columns) + "\n"
    return head + "\n".join("| " + " | ".join(str(v).replace("|", "/") for v in r) + " |" for r in d.values) + "\n"


def _provenance(evidence, sections, seconds: float) -> pd.DataFrame:
    rows = [{"item": "sclcmeta version", "value": __version__},
            {"item": "generated (UTC)", "value": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M")},
            {"item": "python / platform", "value": f"{platform.python_version()} / {platform.machine()}"},
            {"item": "data hash (sha256, evidence+studies+nodes)", "value": evidence.data_hash},
            {"item": "evidence rows / flags", "value": f"{len(evidence.data)} / {len(evidence.flags)}"},
            {"item": "run time", "value": f"{seconds:.0f} s"}]
    for s in sections:
        sp, r = s.spec, s.result
        rows.append({"item": f"spec {sp.name}", "value": f"hash {sp.text_hash}; seed {sp.inference['seed']}; "
                                                          f"{r.method}" + (f" ({sp.inference['sampler']})" if r.method == "mcmc" else "")
                                                          + f"; priors {sp.priors.name}; {r.diagnostics}"})
    return pd.DataFrame(rows)


def _summary_table(sections) -> pd.DataFrame:
    frames = [s.result.summary() for s in sections]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _render(sections, evidence, prov: pd.DataFrame, summary: pd.DataFrame) -> tuple[str, str]:
    H, M = [], []
    title = "sclcmeta report: immunotherapy after first-line progression in ES-SCLC"
    H.append(f"<h1>{html.escape(title)}</h1>")
    M.append(f"# {title}\n")
    H.append("<div class='prov'><b>Provenance</b>" + _table_html(prov) + "</div>")
    M.append("## Provenance\n\n" + _table_md(prov))
    failed = [s.spec.name for s in sections if not s.result.passed]
    if failed:
        msg = f"Analyses that FAILED the convergence gate (not answers): {', '.join(failed)}"
        H.append(f"<p class='warn'>{html.escape(msg)}</p>")
        M.append(f"**{msg}**\n")
    H.append("<h2>Answers at a glance</h2>")
    M.append("## Answers at a glance\n")
    glance = pd.concat([s.result.glance() for s in sections], ignore_index=True)
    cols = ["analysis", "outcome", "quantity", "comparison", "hr_median", "hr_q2.5", "hr_q97.5", "prob_hr_below_1",
            "prob_hr_below_0.8", "method", "gate", "k"]
    glance = glance[[c for c in cols if c in glance.columns]]
    H.append(_table_html(glance))
    M.append(_table_md(glance))
    for q, qtitle in question_titles().items():
        secs = [s for s in sections if s.spec.question == q]
        if not secs:
            continue
        H.append(f"<h2>{q}: {html.escape(qtitle)}</h2>")
        M.append(f"## {q}: {qtitle}\n")
        for s in secs:
            sp = s.spec
            H.append(f"<h3>{html.escape(sp.title)}</h3><p><code>{html.escape(sp.name)}</code> "
                     f"({html.escape(sp.model['type'])}, priors <code>{html.escape(sp.priors.name)}</code>, "
                     f"{html.escape(s.result.method)})</p>")
            M.append(f"### {sp.title}\n\n`{sp.name}` ({sp.model['type']}, priors `{sp.priors.name}`, {s.result.method})\n")
            if sp.description:
                H.append(f"<p>{html.escape(sp.description)}</p>")
                M.append(sp.description + "\n")
            H.append(f"<p class='para'>{html.escape(s.paragraph)}</p>")
            M.append(f"> {s.paragraph}\n")
            diag = str(s.result.diagnostics) + (f"; {s.cross_check}" if s.cross_check else "")
            H.append(f"<p><small>Diagnostics: {html.escape(diag)}</small></p>")
            M.append(f"Diagnostics: {diag}\n")
            tab = s.result.summary()
            if isinstance(s.result, NetworkResult):  # every pair is in summary.csv and the league table; show vs reference here
                tab = pd.concat([s.result.glance(), tab[~tab["quantity"].isin(["contrast", "class_difference",
                                                                               "direct", "indirect", "inconsistency"])]])
            tab = tab[["quantity", "comparison", "hr_median", "hr_q2.5", "hr_q97.5", "prob_hr_below_1",
                       "prob_hr_below_0.8", "median", "q2.5", "q97.5", "r_hat", "ess_bulk"]]
            H.append(_table_html(tab))
            M.append(_table_md(tab))
            for t, df in s.extra_tables.items():
                H.append(f"<h4>{html.escape(t)}</h4>" + _table_html(df))
                M.append(f"#### {t}\n\n" + _table_md(df))
            for name, png in s.figures.items():
                if name == "sensitivity":
                    continue
                b64 = base64.b64encode(png).decode()
                H.append(f"<img alt='{html.escape(sp.name)} {name}' src='data:image/png;base64,{b64}'>")
                M.append(f"![{sp.name} {name}](figures/{sp.name}_{name}.png)\n")
            if s.effects_log():
                H.append("<details><summary>Evidence selection log</summary><ul>" +
                         "".join(f"<li>{html.escape(x)}</li>" for x in s.effects_log()) + "</ul></details>")
                M.append("Evidence selection:\n\n" + "\n".join(f"- {x}" for x in s.effects_log()) + "\n")
    sens = [s for s in sections if s.sensitivity is not None]
    if sens:
        H.append("<h2>Sensitivity: prior sets and evidence choices</h2>")
        M.append("## Sensitivity: prior sets and evidence choices\n")
        intro = ("Each analysis is rerun under every prior set in models/priors/ and under evidence choices "
                 "(analysis preference, leave one cohort out, observational evidence down-weighted); priors and "
                 "estimates are data, so no rerun recompiles the model. Power-scaling diagnostics (ArviZ psens) "
                 "above 0.05 mark a posterior sensitive to the prior or the likelihood.")
        H.append(f"<p>{html.escape(intro)}</p>")
        M.append(intro + "\n")
        for s in sens:
            sr = s.sensitivity
            H.append(f"<h3>{html.escape(s.spec.name)}</h3><p><small>{len(sr.table)} settings, {sr.new_shapes} new "
                     f"model shape(s), {sr.seconds:.1f} s</small></p>")
            M.append(f"### {s.spec.name}\n\n{len(sr.table)} settings, {sr.new_shapes} new model shape(s), {sr.seconds:.1f} s\n")
            t = sr.table[["setting", "kind", "hr_median", "hr_q2.5", "hr_q97.5", "prob_hr_below_1",
                          "prob_hr_below_0.8", "tau_median", "gate"]]
            H.append(_table_html(t))
            M.append(_table_md(t))
            if len(sr.psens):
                H.append(_table_html(sr.psens))
                M.append(_table_md(sr.psens))
            b64 = base64.b64encode(s.figures["sensitivity"]).decode()
            H.append(f"<img alt='{html.escape(s.spec.name)} sensitivity' src='data:image/png;base64,{b64}'>")
            M.append(f"![{s.spec.name} sensitivity](figures/{s.spec.name}_sensitivity.png)\n")
    H.append("<h2>Evidence flags</h2><p>Suspicious but usable numbers in the evidence tables "
             "(see data/README.md for the curation decisions).</p>")
    M.append("## Evidence flags\n\nSuspicious but usable numbers in the evidence tables (see data/README.md).\n")
    H.append(_table_html(evidence.flags_frame()))
    M.append(_table_md(evidence.flags_frame()))
    page = (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{_CSS}</style></head><body>{''.join(H)}</body></html>")
    return page, "\n".join(M)


def build_report(out: Path, *, specs_dir: str | Path | None = None, progress: bool = True,
                 sensitivity: bool = True, evidence=None) -> Path:
    """Run every spec and write the report folder atomically; returns the folder.

    ``out`` is checked before any analysis runs: it must be absent, empty or an earlier sclcmeta output
    (see :mod:`sclcmeta.report.atomic`); a user's file is never deleted or overwritten.
    """
    t0 = time.perf_counter()
    folder = OutputFolder(out, what="--out", version=__version__)
    try:
        evidence = evidence if evidence is not None else read_evidence()
        specs = list_specs(specs_dir)
        sections = run_all(specs, evidence, progress=progress, sensitivity=sensitivity)
        summary = _summary_table(sections)
        prov = _provenance(evidence, sections, time.perf_counter() - t0)
        page, md = _render(sections, evidence, prov, summary)
    except BaseException:
        folder.close()
        raise
    with folder as tmp:
        (tmp / "figures").mkdir()
        (tmp / "posteriors").mkdir()
        for s in sections:
            for name, png in s.figures.items():
                (tmp / "figures" / f"{s.spec.name}_{name}.png").write_bytes(png)
            s.result.to_netcdf(tmp / "posteriors" / f"{s.spec.name}.nc")
        summary.to_csv(tmp / "summary.csv", index=False)
        sens = [s.sensitivity.table for s in sections if s.sensitivity is not None]
        if sens:
            pd.concat(sens, ignore_index=True).to_csv(tmp / "sensitivity.csv", index=False)
        prov.to_csv(tmp / "provenance.csv", index=False)
        (tmp / "report.md").write_text(md, encoding="utf-8")
        (tmp / "report.html").write_text(page, encoding="utf-8")
    return folder.out

"""The scripted face of the package: run every spec, write a self-contained report atomically.

Output folder::

    report.html        one self-contained page (figures embedded as base64 PNG; opens offline)
    report.md          the same content in Markdown (figures in figures/)
    summary.csv        every fitted quantity, the design note's columns
    evalues.csv        E-values of every pooled HR that rests on observational evidence only
    sensitivity.csv    pooled HR under every prior set and evidence choice
    provenance.csv     version, data hash, run time, and each spec's hash, seed, method and diagnostics
    posteriors/*.nc    one InferenceData per analysis
    figures/*.png

Both pages come from one context built here (``_context``: provenance, glance table, failed analyses,
one entry per question and analysis, sensitivity, evidence flags) rendered through the jinja2 templates
``templates/report.html.j2`` (autoescaped; tables from ``DataFrame.to_html`` passed as Markup) and
``templates/report.md.j2`` (tables from ``_table_md``); each template's ``table`` filter renders the DataFrames.

The folder is written to a temporary sibling and swapped in at the end, so a failed run never
leaves a half-written report in place.
"""

from __future__ import annotations

import base64
import datetime as _dt
import platform
import time
from pathlib import Path

import jinja2
import pandas as pd
from markupsafe import Markup

from ..vocabulary import VERSION as __version__
from ..evidence import read_evidence
from ..spec import list_specs
from ..vocabulary import question_titles
from ..results.network import NetworkResult
from .run import run_all
from .tables import evalues_of
from .atomic import OutputFolder

_TEMPLATES = Path(__file__).with_name("templates")
_TITLE = "sclcmeta report: immunotherapy after first-line progression in ES-SCLC"
_SENSITIVITY_INTRO = ("Each analysis is rerun under every prior set in models/priors/ and under evidence choices "
                      "(analysis preference, leave one cohort out, observational evidence down-weighted; for the "
                      "networks also fixed effects, an assumed-direction comparison reversed, mixture-arm weights and "
                      "where a combination arm sits in the class model); priors "
                      "and estimates are data, so no rerun recompiles the model. Power-scaling diagnostics (ArviZ "
                      "psens) above 0.05 mark a posterior sensitive to the prior or the likelihood.")


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


def _section_table(s) -> pd.DataFrame:
    tab = s.result.summary()
    if isinstance(s.result, NetworkResult):  # every pair is in summary.csv and the league table; show vs reference here
        tab = pd.concat([s.result.glance(), tab[~tab["quantity"].isin(["contrast", "class_difference",
                                                                       "direct", "indirect", "inconsistency"])]])
    return tab[["quantity", "comparison", "hr_median", "hr_q2.5", "hr_q97.5", "prob_hr_below_1",
                "prob_hr_below_0.8", "median", "q2.5", "q97.5", "r_hat", "ess_bulk"]]


def _analysis(s) -> dict:
    """One analysis section of the page: text, tables and figures (the sensitivity figure goes elsewhere)."""
    sp = s.spec
    return {"name": sp.name, "title": sp.title, "model_type": sp.model["type"], "priors": sp.priors.name,
            "method": s.result.method, "description": sp.description, "paragraph": s.paragraph,
            "diagnostics": str(s.result.diagnostics) + (f"; {s.cross_check}" if s.cross_check else ""),
            "table": _section_table(s), "extra_tables": list(s.extra_tables.items()),
            "figures": [(name, png) for name, png in s.figures.items() if name != "sensitivity"],
            "log": s.effects_log()}


def _sensitivity(s) -> dict:
    sr = s.sensitivity
    return {"name": s.spec.name, "settings": len(sr.table), "new_shapes": sr.new_shapes, "seconds": sr.seconds,
            "table": sr.table[[c for c in ["setting", "comparison", "kind", "hr_median", "hr_q2.5", "hr_q97.5",
                                           "prob_hr_below_1", "prob_hr_below_0.8", "tau_median", "top_ranked", "gate"]
                               if c in sr.table]],     # comparison, top_ranked: networks only
            "psens": sr.psens if len(sr.psens) else None, "figure": s.figures["sensitivity"]}


def _context(sections, evidence, prov: pd.DataFrame) -> dict:
    """Everything both templates show, as plain values and DataFrames (each template renders its own tables)."""
    glance = pd.concat([s.result.glance() for s in sections], ignore_index=True)
    cols = ["analysis", "outcome", "quantity", "comparison", "hr_median", "hr_q2.5", "hr_q97.5", "prob_hr_below_1",
            "prob_hr_below_0.8", "method", "gate", "k"]
    questions = []
    for q, qtitle in question_titles().items():
        secs = [_analysis(s) for s in sections if s.spec.question == q]
        if secs:
            questions.append({"id": q, "title": qtitle, "analyses": secs})
    return {"title": _TITLE, "provenance": prov,
            "failed": [s.spec.name for s in sections if not s.result.passed],
            "glance": glance[[c for c in cols if c in glance.columns]], "questions": questions,
            "sensitivity": [_sensitivity(s) for s in sections if s.sensitivity is not None],
            "sensitivity_intro": _SENSITIVITY_INTRO, "flags": evidence.flags_frame()}


def _environment(autoescape: bool, table) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=autoescape,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["table"] = table
    env.filters["b64"] = lambda png: base64.b64encode(png).decode()
    return env


_HTML = _environment(True, lambda df: Markup(_table_html(df)))
_MD = _environment(False, _table_md)


def _render(sections, evidence, prov: pd.DataFrame) -> tuple[str, str]:
    """The page (report.html) and its Markdown twin (report.md), from one context through two templates."""
    ctx = _context(sections, evidence, prov)
    return _HTML.get_template("report.html.j2").render(ctx), _MD.get_template("report.md.j2").render(ctx)


def build_report(out: Path, *, specs_dir: str | Path | None = None, progress: bool = True,
                 sensitivity: bool = True, evidence=None, cache=None) -> Path:
    """Run every spec and write the report folder atomically; returns the folder.

    ``out`` is checked before any analysis runs: it must be absent, empty or an earlier sclcmeta output
    (see :mod:`sclcmeta.report.atomic`); a user's file is never deleted or overwritten.
    """
    t0 = time.perf_counter()
    folder = OutputFolder(out, what="--out", version=__version__)
    try:
        evidence = evidence if evidence is not None else read_evidence()
        specs = list_specs(specs_dir)
        sections = run_all(specs, evidence, progress=progress, sensitivity=sensitivity, cache=cache)
        summary = _summary_table(sections)
        prov = _provenance(evidence, sections, time.perf_counter() - t0)
        page, md = _render(sections, evidence, prov)
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
        evs = [t for t in (evalues_of(sec.result) for sec in sections) if t is not None]
        if evs:
            pd.concat(evs, ignore_index=True).to_csv(tmp / "evalues.csv", index=False)
        summary.to_csv(tmp / "summary.csv", index=False)
        sens = [s.sensitivity.table for s in sections if s.sensitivity is not None]
        if sens:
            pd.concat(sens, ignore_index=True).to_csv(tmp / "sensitivity.csv", index=False)
        prov.to_csv(tmp / "provenance.csv", index=False)
        (tmp / "report.md").write_text(md, encoding="utf-8")
        (tmp / "report.html").write_text(page, encoding="utf-8")
    return folder.out

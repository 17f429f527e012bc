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

Both pages come from one context built here (``_context``) rendered through the jinja2 templates
``templates/report.html.j2`` (autoescaped) and ``templates/report.md.j2``, in the order a clinician reads:

1. the answer table (:mod:`.answers`: one row per question, outcome and headline comparison, built from
   column specs; bias-adjusted and unadjusted side by side when the summary has a ``bias`` column) and one
   sentence per answer (:mod:`.statements`, declared rules);
2. the table of contents (in-page anchors) and "How to read this report" (:mod:`.glossary`);
3. per question and analysis: the answer sentences, then the full text, the live prior explorer
   (:mod:`.explorer`, pairwise random-effects models) and the tables and figures, each collapsed;
4. sensitivity (a setting that failed the convergence check is listed at the top and marked red), evidence
   flags, provenance.

Every table goes through :func:`.display.display` (readable column names, one "HR (95% CrI)" cell, failed
rows marked). Figures are palette PNGs (:mod:`.figures`) so the self-contained page stays under 2 MB.

The folder is written to a temporary sibling and swapped in at the end, so a failed run never
leaves a half-written report in place.
"""

from __future__ import annotations

import base64
import json
import datetime as _dt
import platform
import time
from pathlib import Path

import jinja2
import pandas as pd
from markupsafe import Markup, escape

from ..vocabulary import VERSION as __version__
from ..evidence import read_evidence
from ..spec import list_specs
from ..vocabulary import question_titles
from ..results.network import NetworkResult
from .answers import ANSWER_COLUMNS, AnswerTable, answer_rows, answer_table
from .atomic import OutputFolder
from .display import as_table, display
from .explorer import PRESETS, explorer_model, explorer_script
from .glossary import GLOSSARY
from .narrative import with_labels
from .run import run_all
from .statements import RULES
from .tables import evalues_of

_TEMPLATES = Path(__file__).with_name("templates")
_TITLE = "sclcmeta report: immunotherapy after first-line progression in ES-SCLC"
_SENSITIVITY_INTRO = ("Each analysis is rerun under every prior set in models/priors/ and under evidence choices "
                      "(analysis preference, leave one cohort out, observational evidence down-weighted; for the "
                      "networks also fixed effects, an assumed-direction comparison reversed, mixture-arm weights and "
                      "where a combination arm sits in the class model); priors "
                      "and estimates are data, so no rerun recompiles the model. Power-scaling diagnostics (ArviZ "
                      "psens) above 0.05 mark a posterior sensitive to the prior or the likelihood; both above 0.05 is a "
                      "prior-data conflict (the prior and the data pull the estimate in different directions). A row "
                      "marked FAILED did not pass the convergence check and is not an answer.")


def _cell_html(text: str, numeric: bool) -> str:
    return f"<td class='num'>{escape(text)}</td>" if numeric else f"<td>{escape(text)}</td>"


def _table_html(obj) -> Markup:
    """A :class:`~sclcmeta.report.display.Table` (or DataFrame) as HTML; a failed fit's row is marked."""
    t = as_table(obj)
    head = "".join(f"<th>{escape(c)}</th>" for c in t.columns)
    body = []
    for row, bad in zip(t.rows, t.failed):
        cells = "".join(_cell_html(v, n) for v, n in zip(row, t.numeric))
        body.append(f"<tr class='failed' title='this fit failed the convergence check'>{cells}</tr>" if bad
                    else f"<tr>{cells}</tr>")
    return Markup(f"<div class='tw'><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def _table_md(obj) -> str:
    t = as_table(obj)
    head = "| " + " | ".join(t.columns) + " |\n|" + "---|" * len(t.columns) + "\n"
    lines = []
    for row, bad in zip(t.rows, t.failed):
        cells = [str(v).replace("|", "/") for v in row]
        if bad and cells:
            cells[0] = "**FAILED** " + cells[0]
        lines.append("| " + " | ".join(cells) + " |")
    return head + "\n".join(lines) + "\n"


def _answers_html(tab: AnswerTable) -> Markup:
    head = "".join(f"<th title='{escape(c.explain)}'>{escape(c.header)}</th>" for c in tab.columns)
    body, q = [], None
    for r in tab.rows:
        if r["question"] != q:
            q = r["question"]
            body.append(f"<tr class='qhead'><td colspan='{len(tab.columns)}'><a href='#{q.lower()}'>{escape(q)}</a>: "
                        f"{escape(r.get('question_title', ''))}</td></tr>")
        cells = "".join("<td>" + "<br>".join(f"<span class='sub'>{escape(x)}</span>" if i else
                                             (f"<a href='#{r['anchor']}'>{escape(x)}</a>" if c.key == "question"
                                              else str(escape(x))) for i, x in enumerate(c.render(r))) + "</td>"
                        for c in tab.columns)
        cls = " class='failed' title='this fit failed the convergence check'" if not r["passed"] else ""
        body.append(f"<tr{cls}>{cells}</tr>")
    return Markup(f"<div class='tw'><table id='answer-table'><thead><tr>{head}</tr></thead>"
                  f"<tbody>{''.join(body)}</tbody></table></div>")


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
    """The analysis' summary rows as the page shows them (network contrasts vs the reference, one direction)."""
    tab = s.result.summary()
    if isinstance(s.result, NetworkResult):  # every pair is in summary.csv and the league table; show vs reference here
        tab = pd.concat([s.result.glance(), tab[~tab["quantity"].isin(["contrast", "class_difference",
                                                                       "direct", "indirect", "inconsistency"])]])
    cols = ["quantity", "comparison", "hr_median", "hr_q2.5", "hr_q97.5", "prob_hr_below_1", "prob_hr_below_0.8",
            "r_hat", "ess_bulk", "gate"]
    if "bias" in tab.columns:
        cols.insert(2, "bias")
    return tab[[c for c in cols if c in tab.columns]]


def _split_paragraph(text: str) -> tuple[str, str]:
    """(first sentence, the rest) of a narrative paragraph; the rest goes into a collapsed block."""
    i = text.find(". ")
    return (text, "") if i < 0 or i > 600 else (text[:i + 1], text[i + 2:])


def anchor(name: str) -> str:
    """The in-page anchor of an analysis section."""
    return f"a-{name}"


def _analysis(s) -> dict:
    """One analysis section of the page: text, tables and figures (the sensitivity figure goes elsewhere)."""
    sp = s.spec
    lead, rest = _split_paragraph(s.paragraph)
    ex = explorer_model(s.result)
    return {"name": sp.name, "anchor": anchor(sp.name), "title": sp.title, "model_type": sp.model["type"],
            "priors": sp.priors.name, "method": s.result.method, "description": sp.description, "lead": lead,
            "rest": rest, "passed": s.result.passed,
            "diagnostics": str(s.result.diagnostics) + (f"; {s.cross_check}" if s.cross_check else ""),
            "table": _section_table(s), "extra_tables": list(s.extra_tables.items()),
            "figures": [(name, png) for name, png in s.figures.items() if name != "sensitivity"],
            "log": s.effects_log(), "explorer": json.dumps(ex) if ex else None,
            "presets": [p for p in PRESETS if ex and p in ex["presets"]], "sensitivity": s.sensitivity is not None}


def _sensitivity(s) -> dict:
    sr = s.sensitivity
    tab = sr.table[[c for c in ["setting", "comparison", "kind", "bias_prior", "hr_median", "hr_q2.5", "hr_q97.5",
                                "prob_hr_below_1", "prob_hr_below_0.8", "tau_median", "top_ranked", "gate"]
                     if c in sr.table]]     # comparison, top_ranked: networks only; bias_prior: bias-adjusted specs
    d = getattr(s.result.effects, "data", None)
    if d is not None and {"cohort", "study"} <= set(d.columns):     # "leave out zhang2025a" -> "leave out Zhang 2025a"
        names = dict(zip(d["cohort"].astype(str), d["study"].astype(str)))
        tab = tab.assign(setting=[with_labels(str(x), names) for x in tab["setting"]])
    shown = display(tab)
    return {"name": s.spec.name, "anchor": f"s-{s.spec.name}", "title": s.spec.title, "settings": len(sr.table),
            "new_shapes": sr.new_shapes, "seconds": sr.seconds, "table": shown,
            "failed": [r for r, bad in zip(tab["setting"], shown.failed) if bad],
            "psens": sr.psens if len(sr.psens) else None, "figure": s.figures["sensitivity"]}


def _context(sections, evidence, prov: pd.DataFrame, answer_columns=ANSWER_COLUMNS) -> dict:
    """Everything both templates show, as plain values and tables (each template renders its own tables)."""
    rows = answer_rows(sections, anchor)
    answers = answer_table(rows, answer_columns)
    questions = []
    for q, qtitle in question_titles().items():
        secs = [_analysis(s) for s in sections if s.spec.question == q]
        for a in secs:
            a["answers"] = [r["statement"] for r in rows if r["analysis"] == a["name"]]
        if secs:
            questions.append({"id": q, "anchor": q.lower(), "title": qtitle, "analyses": secs,
                              "answers": [r for r in rows if r["question"] == q]})
    sens = [_sensitivity(s) for s in sections if s.sensitivity is not None]
    return {"title": _TITLE, "provenance": prov, "answers": answers, "answer_rows": rows,
            "rules": RULES, "glossary": GLOSSARY,
            "failed": [s.spec.name for s in sections if not s.result.passed], "questions": questions,
            "sensitivity": sens, "sensitivity_failed": [(x["name"], f) for x in sens for f in x["failed"]],
            "sensitivity_intro": _SENSITIVITY_INTRO, "flags": _flags(evidence),
            "explorer_js": explorer_script() if any(a["explorer"] for q in questions for a in q["analyses"]) else ""}


def _flags(evidence) -> pd.DataFrame:
    """The evidence flags with the study's name beside the evidence row id."""
    f = evidence.flags_frame()
    d = evidence.data
    if len(f) and "id" in d.columns and "study" in d.columns:
        names = dict(zip(d["id"], d["study"]))
        f.insert(1, "study", [names.get(i, "") for i in f["id"]])
    return f


def _environment(autoescape: bool, table, answers) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=autoescape,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["table"] = table
    env.filters["answers"] = answers
    env.filters["b64"] = lambda png: base64.b64encode(png).decode()
    return env


_HTML = _environment(True, _table_html, _answers_html)
_MD = _environment(False, _table_md, lambda tab: _table_md(tab.frame()))


def _render(sections, evidence, prov: pd.DataFrame, answer_columns=ANSWER_COLUMNS) -> tuple[str, str]:
    """The page (report.html) and its Markdown twin (report.md), from one context through two templates."""
    ctx = _context(sections, evidence, prov, answer_columns)
    return _HTML.get_template("report.html.j2").render(ctx), _MD.get_template("report.md.j2").render(ctx)


def build_report(out: Path, *, specs_dir: str | Path | None = None, progress: bool = True,
                 sensitivity: bool = True, evidence=None, cache=None, answer_columns=ANSWER_COLUMNS) -> Path:
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
        page, md = _render(sections, evidence, prov, answer_columns)
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

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
import io
import platform
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..analysis import run_spec
from ..errors import ConvergenceWarning
from ..evidence import read_evidence
from ..fitting import CompileCache, fit_model
from ..results import FitResult
from ..spec import AnalysisSpec, list_specs
from .atomic import OutputFolder

QUESTIONS = {
    "Q1": "Continue the ICI beyond first-line progression vs stop it",
    "Q2": "Switch PD-L1 to PD-1 vs chemotherapy, and vs continuing the same ICI",
    "Q3": "Do liver metastases or first-line PFS modify the effect?",
    "Q4": "First line: chemo-immunotherapy vs chemotherapy; PD-1 vs PD-L1 class effects",
    "Q5": "Second-line ICI vs no ICI in mixed populations (some ICI-naive)",
}


@dataclass
class Section:
    spec: AnalysisSpec
    result: FitResult
    figures: dict = field(default_factory=dict)      # name -> png bytes
    paragraph: str = ""
    cross_check: str = ""
    sensitivity: object | None = None
    extra_tables: dict = field(default_factory=dict)  # title -> DataFrame

    def effects_log(self) -> list[str]:
        """Why each evidence row is in or out of this analysis."""
        return list(getattr(getattr(self.result, "effects", None), "log", []) or [])


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _fmt_hr(r) -> str:
    return f"{r['hr_median']:.2f} (95% CrI {r['hr_q2.5']:.2f}-{r['hr_q97.5']:.2f})"


def plain_language(res: FitResult, evidence) -> str:
    """One paragraph a clinician-statistician can read: the posterior and what it rests on."""
    if hasattr(res, "plain_language"):
        return res.plain_language(evidence)
    p = res.pooled_hr()
    d = res.effects.data if res.effects is not None else pd.DataFrame()
    k = len(d)
    designs = d["design"].value_counts().to_dict() if k else {}
    n_rct = designs.get("rct", 0)
    design_txt = (f"{k} estimate{'s' if k != 1 else ''} ({n_rct} randomized, {k - n_rct} non-randomized)"
                  if k else "")
    ev_txt = "; ".join(f"{r.study} ({r.analysis.replace('_', '-')}{', SE from p-value' if 'se_from_p' in r.flags else ''})"
                       for r in d.itertuples()) if k else ""
    tau = next((q for q in res.quantities if q.quantity == "tau"), None)
    pred = next((q for q in res.quantities if q.quantity == "predictive"), None)
    parts = [f"For {res.comparison} ({res.outcome}), pooling {design_txt}, the posterior median hazard ratio is "
             f"{_fmt_hr(p)}; P(HR < 1) = {p['prob_hr_below_1']:.2f} and P(HR < 0.8) = {p['prob_hr_below_0.8']:.2f}."]
    if tau is not None:
        tm = float(np.asarray(tau.marginal.quantile(0.5)).ravel()[0])
        pr = res._row(pred)
        parts.append(f"The between-cohort SD tau has posterior median {tm:.2f} on the log-HR scale; a new cohort's "
                     f"HR is predicted to lie in {pr['hr_q2.5']:.2f}-{pr['hr_q97.5']:.2f} (95%), which is the honest "
                     "range for a patient population not yet studied.")
    if k and n_rct == 0:
        parts.append("All evidence is observational: residual confounding (for example by performance status or "
                     "by who is offered continued immunotherapy) is not removed by pooling, and with so few cohorts the "
                     "heterogeneity is largely prior-driven (see the sensitivity section).")
    if ev_txt:
        parts.append(f"Evidence: {ev_txt}.")
    if not res.passed:
        parts.append("WARNING: this fit failed the convergence gate and is not an answer.")
    return " ".join(parts)


def _cross_check(res: FitResult) -> str:
    """For MCMC fits of Gaussian models: compare the pooled quantiles with the exact solver."""
    if res.method != "mcmc" or "mu" not in res.model.coef_names or len(res.model.components) > 3:
        return ""
    ex = fit_model(res.model, res.priors, method="exact")
    q = np.asarray(ex.exact.coef("mu").quantile([0.025, 0.5, 0.975]))
    d = np.quantile(res.idata.posterior["b"].sel(coef="mu").values, [0.025, 0.5, 0.975])
    diff = float(np.max(np.abs(q - d)))
    return (f"exact solver cross-check: pooled log-HR quantiles (2.5/50/97.5%) MCMC {d[0]:.3f}/{d[1]:.3f}/{d[2]:.3f} "
            f"vs exact {q[0]:.3f}/{q[1]:.3f}/{q[2]:.3f}; max abs difference {diff:.3f}")


def _figures(res: FitResult) -> dict:
    from ..plots import plot_density, plot_forest, plot_prior_posterior

    if hasattr(res, "figures"):
        return res.figures()
    figs = {"forest": _png(plot_forest(res, title=f"{res.name}: {res.comparison} ({res.outcome})")),
            "density": _png(plot_density(res))}
    if "mu" in res.model.coef_names:
        figs["prior_posterior"] = _png(plot_prior_posterior(res))
    return figs


def run_all(specs, evidence, *, progress: bool = True, sensitivity: bool = True,
            cache: CompileCache | None = None) -> list[Section]:
    """Fit every spec (and its sensitivity reruns); returns one :class:`Section` per analysis."""
    from tqdm.auto import tqdm

    cache = cache or CompileCache()
    sections = []
    bar = tqdm(specs, desc="sclcmeta report", unit="analysis", disable=not progress)
    for spec in bar:
        bar.set_postfix_str(spec.name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = run_spec(spec, evidence, cache=cache)
        sec = Section(spec, res, paragraph=plain_language(res, evidence), cross_check=_cross_check(res))
        sec.figures = _figures(res)
        if hasattr(res, "tables"):
            sec.extra_tables = res.tables()
        if sensitivity and spec.model["type"] != "network":
            from ..sensitivity import run_sensitivity

            sec.sensitivity = run_sensitivity(spec, evidence=evidence, cache=cache)
            sec.figures["sensitivity"] = _png(sec.sensitivity.plot())
        sections.append(sec)
    return sections


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
    for q, qtitle in QUESTIONS.items():
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
            if hasattr(s.result, "net"):  # every pair is in summary.csv and the league table; show vs reference here
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

"""The page of one fitted analysis: ``sclcmeta fit ... --out DIR`` writes ``fit.html`` (self-contained: figures
inlined) and ``fit.md`` (figures beside it as PNG) with the headline answer, a provenance header, the summary
table, reported-vs-shrunken study estimates and the forest, density and prior-vs-posterior plots.

Labels follow the analysis's effect scale (HR, OR, RR or MD; see :data:`sclcmeta.vocabulary.SCALES`). Its
templates (``fit_page_templates/``) are its own; the bundled-analyses report (:mod:`sclcmeta.report.build`) is
separate.

Examples
--------
>>> import sclcmeta as sm, tempfile, pathlib
>>> res = sm.fit(sm.EffectData.from_arrays([-0.4, -0.2, -0.5, -0.3, -0.1], [0.2, 0.15, 0.25, 0.2, 0.3]))
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> sorted(p.name for p in write_fit_page(res, d))  # doctest: +NORMALIZE_WHITESPACE
['density.png', 'fit.html', 'fit.md', 'forest.png', 'prior_posterior.png']
"""

from __future__ import annotations

import base64
import io
import math
from pathlib import Path

import jinja2
import numpy as np
import pandas as pd

from ..plots import plot_density, plot_forest, plot_prior_posterior
from ..vocabulary import VERSION
from ..results.export import display_table

_TEMPLATES = Path(__file__).parent / "fit_page_templates"
#: The figures of the page: file name -> caption.
FIGURES = {"forest": "Forest plot: each study's reported estimate (95% CI) beside its shrunken posterior (95% CrI), "
                     "the pooled effect and the predictive interval for a new study.",
           "density": "Posterior density of the pooled effect; the shaded area is the probability of an effect below "
                      "no effect.",
           "prior_posterior": "Prior (dashed) and posterior (solid) of the pooled effect and of the heterogeneity SD."}


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _fmt(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if isinstance(x, (float, np.floating)):
        return f"{float(x):.{digits}f}"
    return str(x)


def study_table(res, table: pd.DataFrame) -> pd.DataFrame:
    """Study rows: the reported estimate (95% CI) beside the posterior (shrunken) estimate (95% CrI)."""
    sc = res.effect_scale
    st = table[table["quantity"] == "study"]
    shrunk = "own estimate (fixed-effect model: no shrinkage)" if res.model.kind == "fixed_effect" else "shrunken"
    return pd.DataFrame({
        "study": st["comparison"].to_numpy(),
        f"reported {sc.label} (95% CI)": [f"{_fmt(a, 2)} ({_fmt(b, 2)} to {_fmt(c, 2)})" for a, b, c in
                                          zip(st["reported_hr"], st["reported_ci_low"], st["reported_ci_high"])],
        f"{shrunk} {sc.label} (95% CrI)": [f"{_fmt(a, 2)} ({_fmt(b, 2)} to {_fmt(c, 2)})" for a, b, c in
                                           zip(st["hr_median"], st["hr_q2.5"], st["hr_q97.5"])],
    })


def headline(res) -> str:
    """One sentence: the pooled effect with its interval and probabilities, heterogeneity and prediction."""
    sc = res.effect_scale
    s = res.summary()
    s = (s[s["bias"] != "unadjusted"] if "bias" in s else s).set_index("quantity")     # the primary answer
    if "pooled" not in s.index:
        return ""
    p = s.loc["pooled"]
    probs = ", ".join(f"P({sc.label} < {t:g}) = {p[k]:.2f}" for t, k in
                      ((t, "prob_hr_below_1" if t == 1.0 else ("prob_hr_below_0.8" if t == 0.8 else f"prob_hr_below_{t:g}"))
                       for t in sc.thresholds))
    text = (f"Pooled {sc.long} {_fmt(p['hr_median'], 2)} (95% credible interval {_fmt(p['hr_q2.5'], 2)} to "
            f"{_fmt(p['hr_q97.5'], 2)}) from {res.model.k} stud{'y' if res.model.k == 1 else 'ies'}; {probs}.")
    if "tau" in s.index:
        t = s.loc["tau"]
        text += f" Heterogeneity tau {_fmt(t['median'], 2)} (95% CrI {_fmt(t['q2.5'], 2)} to {_fmt(t['q97.5'], 2)})."
    if "predictive" in s.index:
        q = s.loc["predictive"]
        text += (f" A new study's {sc.label}: {_fmt(q['hr_median'], 2)} (95% interval {_fmt(q['hr_q2.5'], 2)} to "
                 f"{_fmt(q['hr_q97.5'], 2)}).")
    return text


def _context(res, table, figures, *, data: str, data_hash: str, notes) -> dict:
    d = res.diagnostics
    prov = [("sclcmeta version", VERSION), ("data", data or "(Python objects)"), ("data hash (SHA-256)", data_hash),
            ("model", f"{res.model.kind}, k = {res.model.k}"), ("effect scale", f"{res.effect_scale.name} "
                                                                             f"({res.effect_scale.long})"),
            ("method", res.method + (f" ({d.sampler})" if res.method == "mcmc" else "")),
            ("seed", str(getattr(res.raw, "seed", ""))),
            ("priors", "; ".join(f"{k} = {v}" for k, v in res._used_priors().items())),
            ("diagnostics", str(d))]
    return {"title": f"{res.name}: {res.comparison} ({res.outcome})", "headline": headline(res),
            "provenance": [(k, v) for k, v in prov if v], "notes": list(notes), "passed": res.passed,
            "summary": display_table(res, table), "studies": study_table(res, table),
            "figures": [(name, FIGURES[name], png) for name, png in figures.items()],
            "scale": res.effect_scale}


def _env(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(_TEMPLATES), autoescape=autoescape,
                             trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters["b64"] = lambda png: base64.b64encode(png).decode()
    env.filters["html_table"] = lambda df: df.to_html(index=False, na_rep="", float_format=lambda x: f"{x:.3f}",
                                                      border=0, classes="t")
    env.filters["md_table"] = _md_table
    return env


def _md_table(df: pd.DataFrame) -> str:
    """A pipe table (numbers to 3 decimals, missing values empty)."""
    if not len(df):
        return "(none)"
    head = "| " + " | ".join(map(str, df.columns)) + " |\n| " + " | ".join("---" for _ in df.columns) + " |"
    body = ["| " + " | ".join(_fmt(v).replace("|", "/") for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([head, *body])


def write_fit_page(res, out: str | Path, *, table: pd.DataFrame | None = None, data: str = "", data_hash: str = "",
                   notes=()) -> list[Path]:
    """Write ``fit.html``, ``fit.md`` and the three PNG figures of ``res`` into the folder ``out``; returns the
    paths written. ``notes`` (warnings, assumptions) are listed under the headline."""
    out = Path(out)
    table = res.summary() if table is None else table
    figures = {"forest": _png(plot_forest(res)), "density": _png(plot_density(res)),
               "prior_posterior": _png(plot_prior_posterior(res))}
    ctx = _context(res, table, figures, data=data, data_hash=data_hash, notes=notes)
    written = []
    for name, png in figures.items():
        (out / f"{name}.png").write_bytes(png)
        written.append(out / f"{name}.png")
    (out / "fit.html").write_text(_env(True).get_template("fit_page.html.j2").render(**ctx), encoding="utf-8")
    (out / "fit.md").write_text(_env(False).get_template("fit_page.md.j2").render(**ctx), encoding="utf-8")
    return written + [out / "fit.html", out / "fit.md"]


def write_table_report(results: list, out: str | Path, *, data: str = "", data_hash: str = "",
                       notes: dict | None = None) -> list[Path]:
    """``sclcmeta report --data DIR`` on a user's own table: one fit page per analysed comparison (a subfolder
    each, with its summary.csv, summary.json and posterior) and ``report.html`` / ``report.md`` linking them with
    each headline; ``summary.csv`` holds every analysis's rows. ``notes`` maps an analysis name to its warnings."""
    from ..results.export import fit_document
    import json

    out = Path(out)
    notes = notes or {}
    entries, tables = [], []
    for res in results:
        sub = out / res.name
        sub.mkdir()
        table = res.summary()
        tables.append(table)
        table.to_csv(sub / "summary.csv", index=False)
        doc = fit_document(res, table, data=data, data_hash=data_hash, notes=notes.get(res.name, []))
        (sub / "summary.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False),
                                          encoding="utf-8")
        res.to_netcdf(sub / f"{res.name}.nc")
        write_fit_page(res, sub, table=table, data=data, data_hash=data_hash, notes=notes.get(res.name, []))
        entries.append({"name": res.name, "title": f"{res.comparison} ({res.outcome}, {res.effect_scale.label})",
                        "headline": headline(res), "notes": notes.get(res.name, []), "passed": res.passed})
    pd.concat(tables, ignore_index=True).to_csv(out / "summary.csv", index=False)
    ctx = {"entries": entries, "data": data, "data_hash": data_hash, "version": VERSION}
    (out / "report.html").write_text(_env(True).get_template("index.html.j2").render(**ctx), encoding="utf-8")
    (out / "report.md").write_text(_env(False).get_template("index.md.j2").render(**ctx), encoding="utf-8")
    return [out / "report.html", out / "report.md", out / "summary.csv"]

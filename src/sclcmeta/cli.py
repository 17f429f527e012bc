"""Command line: ``sclcmeta report | fit | sensitivity | multiverse | list | data check``.

Every user-input error ends in one readable message and exit status 2 (1 for ``data check``
finding errors in the tables), never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import SclcmetaError

EPILOG = """examples:
  sclcmeta report --out sclcmeta-report            all analyses in models/ on the bundled data
  sclcmeta data check                              validate the bundled tables, list flags
  sclcmeta data check my_review.csv                validate your own CSV (minimal import format)
  sclcmeta fit --data my_review.csv --method exact --json
  sclcmeta fit --data my_review.csv --out my-fit      fit.html + fit.md with forest, density, prior-vs-posterior
  sclcmeta fit --data my_or_review.csv --scale log_or  odds ratios (or a scale column in the CSV)
  sclcmeta fit q1_continuation_os --prior 'tau=half_cauchy(0.5)'
  sclcmeta fit --data my_review.csv --prior 'effect=flat()' --prior 'tau=jeffreys()'
  sclcmeta sensitivity q1_continuation_os
  sclcmeta sensitivity --data my_review.csv
  sclcmeta multiverse q1_continuation_os q5_any_ici_os --out mv     (add --scheduler tcp://host:8786 for a cluster)
"""


def _print_json(doc) -> None:
    """A results document (:mod:`sclcmeta.results.export`: header object and a list of row objects)."""
    print(json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False))


def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be 1 or more")
    return v


def _seed(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    from .vocabulary import MAX_SEED

    if not 0 <= v <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{text!r} must lie between 0 and {MAX_SEED}")
    return v


def _load_data(args):
    """The evidence bundle of ``--data`` (with its study and node tables), notes printed to stderr."""
    from .evidence.bundle import read_bundle, resolve_data

    bundle = resolve_data(args.data, studies=getattr(args, "studies", None), nodes=getattr(args, "nodes", None))
    for n in bundle.notes:
        print(f"note: {n}", file=sys.stderr)
    for w in bundle.warnings:
        print(f"warning: {w}", file=sys.stderr)
    return read_bundle(bundle, scale=getattr(args, "scale", None))


_OPEN_FOLDERS: list = []


def _output_folder(args):
    """Check ``--out`` before any work (never overwrite a user's file); None when not given."""
    if not getattr(args, "out", None):
        return None
    from .vocabulary import VERSION as __version__
    from .report.atomic import OutputFolder

    folder = OutputFolder(args.out, version=__version__)
    _OPEN_FOLDERS.append(folder)
    return folder


def _cmd_data_check(args) -> int:
    from .evidence import read_evidence

    if args.csv:
        ev = read_evidence([Path(p) for p in args.csv], nodes=args.nodes, studies=args.studies, scale=args.scale)
    else:
        ev = read_evidence()
    print(ev)
    for f in ev.flags:
        print(f"  flag {f}")
    rob_path = getattr(args, "risk_of_bias", None)
    if rob_path or not args.csv:
        from .evidence.risk_of_bias import check_risk_of_bias

        for line in check_risk_of_bias(ev, rob_path):
            print(line)
    _check_certainty_data(args)
    print(f"OK: {len(ev.data)} estimates valid; {len(ev.flags)} flag(s) to review (flags are kept with the rows).")
    return 0


def _check_certainty_data(args) -> None:
    """Validate the baseline-survival and certainty-judgement tables (bundled ones unless given)."""
    from .evidence.baselines import check_baselines
    from .evidence.judgements import check_judgements

    base, judg = getattr(args, "baselines", None), getattr(args, "judgements", None)
    if base or not args.csv:
        for line in check_baselines(base):
            print(line)
    if judg or not args.csv:
        for line in check_judgements(judg):
            print(line)


def _parse_prior_args(items):
    from .priors import PRIOR_TARGETS, parse_prior

    out = {}
    for it in items or []:
        name, sep, text = it.partition("=")
        name = name.strip()
        if not sep or name not in PRIOR_TARGETS:
            raise SclcmetaError(f"--prior {it!r}: write NAME=FAMILY(ARGS) with NAME one of {', '.join(PRIOR_TARGETS)}, "
                                "e.g. --prior 'tau=half_normal(0.5)' (quoted: the shell reads the brackets otherwise).")
        out[name] = parse_prior(text, where=f"--prior {name}")
    return out


def _effects_from_csv(args, ev):
    """Pick the comparison to pool from a user CSV (minimal or full format)."""
    from .evidence import select_estimates

    d = ev.data
    outcome = ev.outcome(args.outcome, where=str(args.data))
    sub = d[(d["outcome"] == outcome) & (d["kind"] == "treatment_effect")]
    if args.treatment and args.comparator:
        t, c = args.treatment, args.comparator
    else:
        pairs = sorted({tuple(sorted(p)) for p in zip(sub["treatment"], sub["comparator"])})
        if len(pairs) != 1:
            raise SclcmetaError(f"{args.data}: {len(pairs)} different comparisons for {outcome} "
                                f"({'; '.join(' vs '.join(p) for p in pairs[:5])}); choose one with --treatment and "
                                "--comparator, or pool them as a network with --model network.")
        first = sub.iloc[0]
        t, c = [first["treatment"]], [first["comparator"]]
    return select_estimates(ev, outcome=outcome, treatment=t, comparator=c, population="*",
                            source=str(args.data))


def _user_priors(args, scale: str):
    """The priors of a fit on a user's table: the default set (reference priors for a mean difference) with the
    --prior overrides; a note when a mean difference falls back on the reference priors."""
    from .analyses.pairwise import priors_for_scale

    over = _parse_prior_args(getattr(args, "prior", None))
    if scale == "md" and not {"effect", "tau"} <= set(over):
        print("note: mean differences have no unit-free default prior; using bayesmeta's reference priors (flat "
              "effect, Jeffreys tau) for what --prior does not set (exact solver; needs k >= 2). Give "
              "--prior 'effect=normal(0, S)' --prior 'tau=half_normal(T)' in your outcome's units to choose.",
              file=sys.stderr)
    return priors_for_scale(scale, over)


def _table_scale(ev, outcome: str) -> str:
    sc = sorted(set(ev.data.loc[ev.data["outcome"] == outcome, "scale"])) if "scale" in ev.data else ["log_hr"]
    return sc[0] if len(sc) == 1 else "log_hr"   # several: select_estimates names the rows that mix


def _fit_user_table(args, ev):
    """``fit --data CSV`` without a spec: pool the table's comparison (or its network)."""
    from .analyses import fit
    from .vocabulary import DEFAULT_DRAWS

    model = args.model or "random_effects"
    name = Path(args.data).stem
    if model == "network":
        from .analyses.network import fit_network_table

        outcome = ev.outcome(args.outcome, where=str(args.data))
        if _table_scale(ev, outcome) != "log_hr":
            raise SclcmetaError(f"{args.data}: network analyses here pool log hazard ratios only; this table's "
                                f"{outcome} estimates are on another scale. Fit them pairwise (without --model network).")
        return fit_network_table(ev, _user_priors(args, "log_hr"), outcome=args.outcome, reference=args.reference,
                                 effects=args.effects, method=args.method, seed=args.seed, draws=args.draws,
                                 sampler=args.sampler, name=name, where=str(args.data))
    eff = _effects_from_csv(args, ev)
    return fit(eff, model=model, priors=_user_priors(args, eff.scale), method=args.method or "exact",
               seed=1 if args.seed is None else args.seed,
               draws=DEFAULT_DRAWS if args.draws is None else args.draws, sampler=args.sampler or "nutpie",
               progress=args.progress, covariates=tuple(args.covariate or ()), name=name)


def _fit_spec(args, ev):
    from dataclasses import replace

    from .analyses import run_spec
    from .spec import load_spec

    spec = load_spec(args.spec)
    priors_over = _parse_prior_args(args.prior)
    if priors_over:
        spec = spec.with_priors(spec.priors.replace(**priors_over))
    inf = {k: v for k, v in (("method", args.method), ("seed", args.seed), ("draws", args.draws),
                             ("sampler", args.sampler)) if v is not None}
    spec = spec.with_inference(**inf)
    model_over = {k: v for k, v in (("type", args.model), ("effects", args.effects)) if v}
    if model_over:
        spec = replace(spec, model={**spec.model, **model_over})
    return run_spec(spec, ev, progress=args.progress)


def _print_table(res, table) -> None:
    """The summary for people: labels of the effect scale, MCMC diagnostics only for MCMC fits."""
    from .results.export import display_table

    print(display_table(res, table).to_string(index=False, na_rep="", float_format=lambda x: f"{x:.3f}"))


def _cmd_fit(args) -> int:
    import warnings

    from .evidence import read_evidence
    from .results.export import fit_document

    folder = _output_folder(args)
    if not args.spec and not args.data:
        raise SclcmetaError("fit: give a SPEC.toml or --data CSV (minimal import format: study, treatment, "
                            "comparator, outcome, hr, ci_low, ci_high).")
    ev = _load_data(args) if args.data else read_evidence()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = _fit_spec(args, ev) if args.spec else _fit_user_table(args, ev)
    notes = list(dict.fromkeys(str(w.message) for w in caught if w.category.__module__.startswith("sclcmeta")))
    for n in notes:
        print(f"warning: {n}", file=sys.stderr)
    notes += [f"assumption: {a}" for a in getattr(res, "assumptions", [])]
    table = res.summary()
    data = str(args.data) if args.data else "bundled evidence (data/)"
    doc = fit_document(res, table, data=data, data_hash=ev.data_hash, notes=notes)
    if folder is not None:
        with folder as out:
            table.to_csv(out / "summary.csv", index=False)
            (out / "summary.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False, allow_nan=False),
                                              encoding="utf-8")
            res.to_netcdf(out / f"{res.name}.nc")
            _write_page(res, table, out, shown=args.out, data=data, data_hash=ev.data_hash, notes=notes)
    if args.json:
        _print_json(doc)
    else:
        print(res)
        _print_table(res, table)
    for note in getattr(res, "assumptions", []):
        print(f"assumption: {note}", file=sys.stderr)
    if not res.passed:
        print("WARNING: the fit failed the convergence gate; the table marks it and it is not an answer.",
              file=sys.stderr)
    return 0


def _write_page(res, table, out: Path, shown: str, **kw) -> None:
    """fit.html / fit.md with the figures, for a pairwise result (networks and moderators: `sclcmeta report`)."""
    from .results import FitResult

    if type(res) is not FitResult:
        print(f"note: {shown}: the fit page covers pairwise analyses; summary.csv, summary.json and the posterior "
              "are written, and `sclcmeta report` draws network and moderator analyses.", file=sys.stderr)
        return
    from .report.fit_page import write_fit_page

    write_fit_page(res, out, table=table, **kw)


def _table_analyses(ev, data: str):
    """Every (outcome, comparison) of a user's table, fitted pairwise (random effects, exact), with its warnings."""
    import re
    import warnings
    from argparse import Namespace

    from .analyses import fit

    d = ev.data[ev.data["kind"] == "treatment_effect"]
    results, notes = [], {}
    for outcome in sorted(d["outcome"].unique()):
        sub = d[d["outcome"] == outcome]
        pairs = list(dict.fromkeys(tuple(sorted(p)) for p in zip(sub["treatment"], sub["comparator"])))
        for pair in pairs:
            first = sub[[tuple(sorted(p)) == pair for p in zip(sub["treatment"], sub["comparator"])]].iloc[0]
            args = Namespace(data=data, outcome=outcome, treatment=[first["treatment"]],
                             comparator=[first["comparator"]], prior=None)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                eff = _effects_from_csv(args, ev)
                name = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{outcome}_{first['treatment']}_vs_{first['comparator']}")
                results.append(fit(eff, priors=_user_priors(args, eff.scale), method="exact", name=name))
            notes[name] = list(dict.fromkeys(str(w.message) for w in caught
                                             if w.category.__module__.startswith("sclcmeta")))
            for n in notes[name]:
                print(f"warning: {n}", file=sys.stderr)
    if not results:
        raise SclcmetaError(f"{data}: no treatment-effect estimates to analyse.")
    return results, notes


def _cmd_report(args) -> int:
    from .report import build_report

    evidence = _load_data(args) if args.data else None
    if evidence is not None and evidence.minimal and args.models is None:
        # a user's own review (minimal import format): the bundled analyses name the package's treatment nodes, so
        # the report is one analysis per outcome and comparison of the user's table instead
        from .report.fit_page import write_table_report

        folder = _output_folder(args)
        results, notes = _table_analyses(evidence, str(args.data))
        with folder as out:
            write_table_report(results, out, data=str(args.data), data_hash=evidence.data_hash, notes=notes)
        print(f"report written to {folder.out}/report.html (and report.md, summary.csv, one folder per analysis)")
        return 0
    out = build_report(Path(args.out), specs_dir=args.models, progress=not args.no_progress,
                       sensitivity=not args.no_sensitivity, evidence=evidence)
    print(f"report written to {out}/report.html (and report.md, summary.csv, one .nc per analysis)")
    return 0


def _cmd_list(args) -> int:
    from .priors import list_prior_sets
    from .spec import list_specs

    print("Bundled analyses (run one with `sclcmeta fit NAME`, all with `sclcmeta report`):")
    for sp in list_specs():
        print(f"  {sp.name:<32} {sp.question}  {sp.kind:<9} {sp.title}")
    print("\nPrior sets (use with `sclcmeta sensitivity SPEC --priors NAME` or [priors] set = NAME):")
    for ps in list_prior_sets():
        print(f"  {ps.name:<32} {ps.description}")
    from .bias_priors import list_bias_priors

    print("\nBias priors for observational evidence (a spec's [bias] prior = NAME; models/priors/bias/):")
    for bp in list_bias_priors():
        print(f"  {bp.name:<32} {bp.description.split('. ')[0]}.")
    return 0


def _spec_for_table(args, ev):
    """An analysis spec for ``sensitivity --data CSV`` without a spec: the table's one comparison, random effects,
    the default priors of its scale, the exact solver."""
    from .spec import AnalysisSpec
    from .vocabulary import DEFAULT_CHAINS, DEFAULT_DRAWS, DEFAULT_TUNE

    eff = _effects_from_csv(args, ev)
    t, c = eff.treatment_label.split("/"), eff.comparator_label.split("/")
    return AnalysisSpec(name=Path(args.data).stem, question="", title=f"{eff.treatment_label} vs {eff.comparator_label}",
                        outcome=eff.outcome, evidence={"treatment": t, "comparator": c, "population": "*"},
                        model={"type": "random_effects"}, priors=_user_priors(args, eff.scale),
                        inference={"method": args.method or "exact", "sampler": "nutpie", "draws": DEFAULT_DRAWS,
                                   "tune": DEFAULT_TUNE, "chains": DEFAULT_CHAINS, "seed": 1},
                        path=str(args.data), comparison=f"{eff.treatment_label} vs {eff.comparator_label}"), eff.scale


def _cmd_sensitivity(args) -> int:
    from .analyses import run_sensitivity
    from .plots import plot_sensitivity
    from .results.export import sensitivity_document
    from .spec import load_spec

    if not args.spec and not args.data:
        raise SclcmetaError("sensitivity: give a SPEC.toml, or --data CSV to rerun your table's comparison under every "
                            "prior set and leave-one-out.")
    folder = _output_folder(args)
    evidence = _load_data(args) if args.data else None
    if args.spec:
        spec = load_spec(args.spec)
    else:
        spec, scale = _spec_for_table(args, evidence)
        if scale == "md" and not args.priors:
            raise SclcmetaError(f"{args.data}: the bundled prior sets are on the log-ratio scale and mean no more for a "
                                "mean difference than its units allow; give prior sets written for your outcome's "
                                "units with --priors P.toml ...")
    sens = run_sensitivity(spec, prior_files=args.priors or None, evidence_choices=not args.priors_only,
                           progress=not args.json, method=args.method, evidence=evidence)
    doc = sensitivity_document(sens, data=str(args.data or "bundled evidence (data/)"))
    if folder is not None:
        with folder as out:
            sens.table.to_csv(out / f"sensitivity_{spec.name}.csv", index=False)
            (out / f"sensitivity_{spec.name}.json").write_text(json.dumps(doc, indent=1, allow_nan=False),
                                                               encoding="utf-8")
            plot_sensitivity(sens.table, title=f"{spec.name}: sensitivity of the pooled effect").savefig(
                out / f"sensitivity_{spec.name}.png", dpi=120, bbox_inches="tight")
    if args.json:
        _print_json(doc)
    else:
        print(sens)
    return 0


def _cmd_multiverse(args) -> int:
    from .runner import check_scheduler

    check_scheduler(args.scheduler, args.workers)          # argument errors before any import or work
    folder = _output_folder(args)
    from .analyses.multiverse import multiverse
    from .plots.multiverse import plot_specification_curve

    evidence = _load_data(args) if args.data else None
    mv = multiverse(args.spec, prior_files=args.priors or None, scheduler=args.scheduler, workers=args.workers,
                    method=args.method, evidence=evidence, progress=not args.no_progress)
    print(mv)
    with folder as out:
        written = mv.write(out)
        for name in mv.analyses:
            if (mv.headline(name)["status"] == "ok").any():
                fig = plot_specification_curve(mv, name)
                fig.savefig(out / f"multiverse_{name}.png", dpi=110, bbox_inches="tight")
                written.append(out / f"multiverse_{name}.png")
    print(f"wrote {', '.join(p.name for p in written)} to {args.out}")
    return 0


def _add_multiverse_parser(sub) -> None:
    m = sub.add_parser("multiverse", help="fit every combination of prior set, evidence choice and left-out cohort "
                                          "(on a local or remote Dask cluster)",
                       description="Fit each SPEC under every combination of its declared choices: every prior set in "
                                   "models/priors/ x every evidence choice of `sclcmeta sensitivity` (estimate "
                                   "preference, observational estimates down-weighted, the analysis kind's own) x "
                                   "leave-one-cohort-out. Tasks run with dask.distributed, on a local cluster by "
                                   "default or on a running cluster given by --scheduler; a setting that fails is "
                                   "reported with its error and the others still run. Writes multiverse.parquet, "
                                   "multiverse.csv (one row per setting x quantity) and a specification-curve PNG "
                                   "per analysis into --out.",
                       epilog="examples:\n  sclcmeta multiverse q1_continuation_os q1_continuation_pfs --out mv\n"
                              "  sclcmeta multiverse models/q5_any_ici_os.toml --workers 1 --method mcmc\n"
                              "  dask scheduler &  dask worker tcp://127.0.0.1:8786 &   # a cluster (any machines)\n"
                              "  sclcmeta multiverse q1_continuation_os --scheduler tcp://127.0.0.1:8786",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    m.add_argument("spec", nargs="+", help="analysis specs (TOML files or bundled names; network specs are skipped)")
    m.add_argument("--scheduler", metavar="ADDRESS",
                   help="a running Dask scheduler, e.g. tcp://host:8786 (default: start a local cluster; "
                        "'synchronous': no Dask, one fit after another in this process)")
    m.add_argument("--workers", type=_positive_int, metavar="N",
                   help="worker processes of the local cluster (default: one per core)")
    m.add_argument("--method", choices=["exact", "mcmc"], default="exact",
                   help="exact numerical integration (default) or MCMC with each spec's [inference] settings")
    m.add_argument("--priors", nargs="+", metavar="P.toml", help="prior sets of the prior axis (default: all in "
                   "models/priors/; the spec's own set is always included)")
    _add_data_args(m)
    m.add_argument("--out", default="sclcmeta-multiverse",
                   help="output folder (default: sclcmeta-multiverse); must be new, empty or an earlier sclcmeta output")
    m.add_argument("--no-progress", action="store_true", help="no progress bar")
    m.set_defaults(func=_cmd_multiverse)


def _add_data_args(p) -> None:
    """``--data``, ``--studies``, ``--nodes``: the evidence bundle (the study table says who shares patients)."""
    p.add_argument("--data", help="your evidence: a CSV (full or minimal import format) or a folder holding "
                   "evidence.csv with studies.csv / nodes.csv")
    p.add_argument("--studies", help="study table (which cohorts share patients); default: studies.csv beside --data")
    p.add_argument("--nodes", help="treatment-node table; default: nodes.csv beside --data")


def _add_scale_arg(p) -> None:
    from .vocabulary import SCALES

    p.add_argument("--scale", choices=list(SCALES),
                   help="effect scale of rows without a scale column: log_hr (default), log_or, log_rr, md (mean "
                        "difference); ratios are reported exponentiated (HR/OR/RR), an MD as it is")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="sclcmeta",
        description="Bayesian meta-analysis of immunotherapy evidence in extensive-stage small-cell lung cancer: "
                    "pool reported hazard ratios in hierarchical and network models and report posteriors.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    from .vocabulary import VERSION as __version__
    p.add_argument("--version", action="version", version=f"sclcmeta {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="{report,fit,sensitivity,multiverse,list,data}")

    r = sub.add_parser("report", help="run every analysis in models/ on the bundled data and write the report",
                       description="Run every analysis spec in models/ on the bundled evidence and write report.html, "
                                   "report.md, summary.csv and one NetCDF per analysis into --out (atomically). With "
                                   "--data holding your own review in the minimal import format: one analysis per "
                                   "outcome and comparison of your table, each with its fit page.")
    r.add_argument("--out", default="sclcmeta-report",
                   help="output folder (default: sclcmeta-report); must be new, empty or an earlier sclcmeta report")
    r.add_argument("--models", default=None, help="folder of analysis specs (default: the bundled models/)")
    _add_data_args(r)
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument("--no-sensitivity", action="store_true", help="skip the prior/evidence sensitivity section")
    r.set_defaults(func=_cmd_report)

    f = sub.add_parser("fit", help="fit one analysis (a spec, or a CSV in the minimal import format)",
                       description="Fit one analysis. With SPEC.toml: the spec's selection, model and priors (options "
                                   "override). With only --data: pool the CSV's comparison (minimal import format: "
                                   "study, treatment, comparator, outcome, hr, ci_low, ci_high [, ci_level] or "
                                   "log_hr, se).", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    f.add_argument("spec", nargs="?", help="analysis spec (TOML)")
    _add_data_args(f)
    f.add_argument("--model", choices=["random_effects", "fixed_effect", "meta_regression", "nested", "network"])
    f.add_argument("--effects", choices=["fixed", "random"], help="network: fixed or random effects")
    f.add_argument("--prior", action="append", metavar="NAME=FAMILY(ARGS)",
                   help="override a prior, e.g. tau=half_normal(0.5), effect=normal(0,10) (repeatable)")
    f.add_argument("--method", choices=["exact", "mcmc"], help="exact numerical integration or MCMC (NUTS)")
    f.add_argument("--sampler", choices=["nutpie", "pymc"], help="MCMC backend (default nutpie)")
    f.add_argument("--draws", type=_positive_int, help="MCMC draws per chain (default 4000, after 1000 tuning draws)")
    f.add_argument("--seed", type=_seed, help="random seed")
    f.add_argument("--outcome", help="outcome label when the CSV has several (OS, PFS, DFS, EFS, TTP, ...)")
    _add_scale_arg(f)
    f.add_argument("--treatment", nargs="+", help="treatment node(s) when the CSV has several comparisons")
    f.add_argument("--comparator", nargs="+", help="comparator node(s)")
    f.add_argument("--reference", help="network: reference treatment")
    f.add_argument("--covariate", action="append", help="meta-regression covariate column (repeatable)")
    f.add_argument("--out", help="write fit.html and fit.md (forest, density, prior-vs-posterior plots), summary.csv, "
                                 "summary.json and the NetCDF posterior here")
    f.add_argument("--json", action="store_true", help="print the summary as JSON: a header object (version, priors, "
                                                       "method, sampler, diagnostics) and the rows")
    f.add_argument("--progress", action="store_true", help="show the sampler's progress bar")
    f.set_defaults(func=_cmd_fit)

    s = sub.add_parser("sensitivity", help="rerun an analysis under every prior set and evidence choice",
                       description="Rerun SPEC under every prior set (all of models/priors/ by default) and under "
                                   "evidence choices (matched vs adjusted vs unadjusted; leave one cohort out; "
                                   "observational evidence down-weighted); priors and estimates are data, so nothing "
                                   "is recompiled.")
    s.add_argument("spec", nargs="?", help="analysis spec (TOML or a bundled name); without it, --data CSV: your "
                                           "table's one comparison, random effects")
    s.add_argument("--priors", nargs="+", help="prior-set TOML files (default: all in models/priors/)")
    s.add_argument("--priors-only", action="store_true", help="skip the evidence-choice reruns")
    _add_data_args(s)
    s.add_argument("--method", choices=["exact", "mcmc"], help="override the spec's method")
    s.add_argument("--outcome", help="--data without a spec: the outcome, when the CSV has several")
    s.add_argument("--treatment", nargs="+", help="--data without a spec: treatment node(s)")
    s.add_argument("--comparator", nargs="+", help="--data without a spec: comparator node(s)")
    s.add_argument("--prior", action="append", metavar="NAME=FAMILY(ARGS)",
                   help="--data without a spec: override a prior of the primary fit (repeatable)")
    _add_scale_arg(s)
    s.add_argument("--out", help="write the sensitivity table (CSV) and forest plot (PNG) here")
    s.add_argument("--json", action="store_true", help="print the sensitivity table as JSON rows")
    s.set_defaults(func=_cmd_sensitivity)

    _add_multiverse_parser(sub)

    li = sub.add_parser("list", help="list the bundled analyses and prior sets",
                        description="List the bundled analysis specs (question, kind, title) and prior sets; any of "
                                    "them can be named from anywhere, e.g. `sclcmeta fit q1_continuation_os`.")
    li.set_defaults(func=_cmd_list)

    d = sub.add_parser("data", help="evidence tables: validate and list flags")
    dsub = d.add_subparsers(dest="data_command", required=True, metavar="{check}")
    c = dsub.add_parser("check", help="validate evidence CSVs, print every flag, exit non-zero on errors",
                        description="Validate evidence CSVs (default: the bundled tables). Errors name file, row, "
                                    "column and value and stop with exit status 1; flags are printed and kept.")
    c.add_argument("csv", nargs="*", help="CSV files (full or minimal import format)")
    c.add_argument("--nodes", help="treatment-node table to check node names against")
    c.add_argument("--studies", help="study table")
    _add_scale_arg(c)
    c.add_argument("--risk-of-bias", help="risk-of-bias table to validate against the evidence (default for the "
                                          "bundled data: data/risk_of_bias.csv)")
    c.add_argument("--baselines", help="baseline-survival table for absolute effects (default for the bundled "
                                       "data: data/baselines.csv)")
    c.add_argument("--judgements", help="certainty judgements (indirectness, publication bias) to validate (default "
                                        "for the bundled data: data/certainty_judgements.csv)")
    c.set_defaults(func=_cmd_data_check)
    return p


def _print_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    import warnings

    args = build_parser().parse_args(argv)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _print_warning
            return args.func(args)
    except BrokenPipeError:          # e.g. `sclcmeta list | head`: the reader left; not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("interrupted: nothing was written to --out (any earlier output there is unchanged).", file=sys.stderr)
        return 130
    except SclcmetaError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1 if getattr(args, "command", "") == "data" else 2
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        while _OPEN_FOLDERS:
            _OPEN_FOLDERS.pop().close()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

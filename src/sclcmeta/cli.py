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
  sclcmeta fit q1_continuation_os --prior 'tau=half_cauchy(0.5)'
  sclcmeta sensitivity models/q1_continuation_os.toml
  sclcmeta multiverse q1_continuation_os q5_any_ici_os --out mv     (add --scheduler tcp://host:8786 for a cluster)
"""


def _json_rows(df):
    """The table as JSON row objects (NaN -> null), by pandas."""
    return json.loads(df.to_json(orient="records", double_precision=15))


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
    return read_bundle(bundle)


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
        ev = read_evidence([Path(p) for p in args.csv], nodes=args.nodes, studies=args.studies)
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
    print(f"OK: {len(ev.data)} estimates valid; {len(ev.flags)} flag(s) to review (flags are kept with the rows).")
    return 0


def _parse_prior_args(items):
    from .priors import PRIOR_TARGETS, parse_prior

    out = {}
    for it in items or []:
        name, sep, text = it.partition("=")
        name = name.strip()
        if not sep or name not in PRIOR_TARGETS:
            raise SclcmetaError(f"--prior {it!r}: write NAME=FAMILY(ARGS) with NAME one of {', '.join(PRIOR_TARGETS)}, "
                                "e.g. --prior tau=half_normal(0.5).")
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


def _cmd_fit(args) -> int:
    from .analyses import fit, run_spec
    from .evidence import read_evidence
    from .vocabulary import DEFAULT_DRAWS
    from .spec import load_spec

    priors_over = _parse_prior_args(args.prior)
    folder = _output_folder(args)
    if args.spec:
        spec = load_spec(args.spec)
        if priors_over:
            spec = spec.with_priors(spec.priors.replace(**priors_over))
        inf = {k: v for k, v in (("method", args.method), ("seed", args.seed), ("draws", args.draws),
                                 ("sampler", args.sampler)) if v is not None}
        spec = spec.with_inference(**inf)
        model_over = {k: v for k, v in (("type", args.model), ("effects", args.effects)) if v}
        if model_over:
            from dataclasses import replace
            spec = replace(spec, model={**spec.model, **model_over})
        ev = _load_data(args) if args.data else read_evidence()
        res = run_spec(spec, ev, progress=args.progress)
    else:
        if not args.data:
            raise SclcmetaError("fit: give a SPEC.toml or --data CSV (minimal import format: study, treatment, "
                                "comparator, outcome, hr, ci_low, ci_high).")
        ev = _load_data(args)
        model = args.model or "random_effects"
        from .priors import default_prior_set
        ps = default_prior_set().replace(**priors_over) if priors_over else default_prior_set()
        if model == "network":
            from .analyses.network import fit_network_table

            res = fit_network_table(ev, ps, outcome=args.outcome, reference=args.reference, effects=args.effects,
                                    method=args.method, seed=args.seed, draws=args.draws, sampler=args.sampler,
                                    name=Path(args.data).stem, where=str(args.data))
        else:
            eff = _effects_from_csv(args, ev)
            res = fit(eff, model=model, priors=ps, method=args.method or "exact",
                      seed=1 if args.seed is None else args.seed,
                      draws=DEFAULT_DRAWS if args.draws is None else args.draws, sampler=args.sampler or "nutpie", progress=args.progress,
                      covariates=tuple(args.covariate or ()), name=Path(args.data).stem)
    table = res.summary()
    if folder is not None:
        with folder as out:
            table.to_csv(out / "summary.csv", index=False)
            res.to_netcdf(out / f"{res.name}.nc")
    if args.json:
        print(json.dumps(_json_rows(table), indent=1))
    else:
        print(res)
        cols = ["quantity", "comparison", "hr_median", "hr_q2.5", "hr_q97.5", "prob_hr_below_1", "prob_hr_below_0.8",
                "median", "q2.5", "q97.5", "r_hat", "ess_bulk"]
        print(table[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    for note in getattr(res, "assumptions", []):
        print(f"assumption: {note}", file=sys.stderr)
    if not res.passed:
        print("WARNING: the fit failed the convergence gate; the table marks it and it is not an answer.",
              file=sys.stderr)
    return 0


def _cmd_report(args) -> int:
    from .report import build_report

    evidence = _load_data(args) if args.data else None
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
    return 0


def _cmd_sensitivity(args) -> int:
    from .analyses import run_sensitivity
    from .plots import plot_sensitivity
    from .spec import load_spec

    spec = load_spec(args.spec)
    folder = _output_folder(args)
    evidence = _load_data(args) if args.data else None
    sens = run_sensitivity(spec, prior_files=args.priors or None, evidence_choices=not args.priors_only,
                           progress=not args.json, method=args.method, evidence=evidence)
    if folder is not None:
        with folder as out:
            sens.table.to_csv(out / f"sensitivity_{spec.name}.csv", index=False)
            plot_sensitivity(sens.table, title=f"{spec.name}: sensitivity of the pooled HR").savefig(
                out / f"sensitivity_{spec.name}.png", dpi=120, bbox_inches="tight")
    if args.json:
        print(json.dumps(_json_rows(sens.table), indent=1))
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
                                   "report.md, summary.csv and one NetCDF per analysis into --out (atomically).")
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
    f.add_argument("--treatment", nargs="+", help="treatment node(s) when the CSV has several comparisons")
    f.add_argument("--comparator", nargs="+", help="comparator node(s)")
    f.add_argument("--reference", help="network: reference treatment")
    f.add_argument("--covariate", action="append", help="meta-regression covariate column (repeatable)")
    f.add_argument("--out", help="write summary.csv and the NetCDF posterior here")
    f.add_argument("--json", action="store_true", help="print the summary table as JSON rows")
    f.add_argument("--progress", action="store_true", help="show the sampler's progress bar")
    f.set_defaults(func=_cmd_fit)

    s = sub.add_parser("sensitivity", help="rerun an analysis under every prior set and evidence choice",
                       description="Rerun SPEC under every prior set (all of models/priors/ by default) and under "
                                   "evidence choices (matched vs adjusted vs unadjusted; leave one cohort out; "
                                   "observational evidence down-weighted); priors and estimates are data, so nothing "
                                   "is recompiled.")
    s.add_argument("spec", help="analysis spec (TOML)")
    s.add_argument("--priors", nargs="+", help="prior-set TOML files (default: all in models/priors/)")
    s.add_argument("--priors-only", action="store_true", help="skip the evidence-choice reruns")
    _add_data_args(s)
    s.add_argument("--method", choices=["exact", "mcmc"], help="override the spec's method")
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
    c.add_argument("--risk-of-bias", help="risk-of-bias table to validate against the evidence (default for the "
                                          "bundled data: data/risk_of_bias.csv)")
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

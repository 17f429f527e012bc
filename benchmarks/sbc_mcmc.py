#!/usr/bin/env python
"""Simulation-based calibration (Talts et al. 2018) of the MCMC path: nutpie through fit_model.

    python benchmarks/sbc_mcmc.py [--n 200] [--k 4] [--out benchmarks/sbc_mcmc]
                                  [--scheduler tcp://host:8786 | --workers N | --scheduler synchronous]

Each replication draws ``mu`` and ``tau`` from the prior, study effects ``theta_i ~ N(mu, tau^2)``,
standard errors ``se_i ~ U(0.1, 0.4)`` and estimates ``y_i ~ N(theta_i, se_i^2)`` for ``k`` studies,
then fits the random-effects model by ``fit_model(method="mcmc")`` (nutpie, 4 x 1000 draws by default).
The replications are tasks of the multiverse's Dask runner (:func:`sclcmeta.analyses.calibration.run_sbc`):
a local cluster by default, any cluster with ``--scheduler``, or a plain loop with ``--scheduler
synchronous``. Replication ``i`` has its own random stream, so the results do not depend on where it
ran. In each worker process nutpie samples the hand-written numba log density of
:mod:`sclcmeta.engine.native` (compiled once, or loaded from numba's disk cache) through the process's
:class:`~sclcmeta.fitting.CompileCache`, and every later replication there is a new data buffer (the
cache's hit/miss counts, summed over the workers, are reported).

The rank of the true value among ``L = 99`` posterior draws thinned evenly from the 4000 (thinning
keeps the draws nearly independent, as SBC requires) is uniform on {0..L} for a correct sampler.
Reported: KS test of the randomized ranks ``(rank + U) / (L + 1)`` against U(0, 1), a chi-square test
on 20 rank bins, the 90% central-interval coverage, convergence-gate failures, and, as a cross-check,
the same statistics for the exact solver (its posterior CDF at the true value) on the same data.
Writes ``<out>.png`` (rank histograms with a 99% binomial band, ECDF differences), ``<out>.md`` and
``<out>.json``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy import stats

HERE = Path(__file__).resolve().parent


def _repo_relative(path: str) -> str:
    """``path`` relative to the repository when it lies inside it, so saved results name no machine paths."""
    p = Path(path).resolve()
    return str(p.relative_to(HERE.parent)) if p.is_relative_to(HERE.parent) else str(path)


def rank_stats(ranks: np.ndarray, L: int, rng: np.random.Generator, bins: int = 20) -> dict:
    """KS (randomized ranks) and chi-square (binned ranks) tests of uniformity on {0..L}."""
    ranks = np.asarray(ranks)
    u = (ranks + rng.uniform(size=len(ranks))) / (L + 1)
    ks = stats.kstest(u, "uniform")
    counts = np.histogram(ranks, bins=bins, range=(-0.5, L + 0.5))[0]
    expected = len(ranks) * np.diff(np.linspace(0, L + 1, bins + 1)) / (L + 1)
    chi2 = stats.chisquare(counts, expected)
    cover90 = float(np.mean((u > 0.05) & (u < 0.95)))
    return {"ks_stat": float(ks.statistic), "ks_p": float(ks.pvalue), "chi2": float(chi2.statistic),
            "chi2_df": bins - 1, "chi2_p": float(chi2.pvalue), "coverage_90": cover90,
            "mean_u": float(u.mean())}


def unit_stats(u: np.ndarray) -> dict:
    ks = stats.kstest(u, "uniform")
    return {"ks_stat": float(ks.statistic), "ks_p": float(ks.pvalue),
            "coverage_90": float(np.mean((u > 0.05) & (u < 0.95))), "mean_u": float(np.mean(u))}


def plot(ranks_mu, ranks_tau, L, n, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bins = 20
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    p = 1 / bins
    lo, hi = stats.binom.ppf([0.005, 0.995], n, p)
    for col, (name, r) in enumerate((("mu (pooled log HR)", ranks_mu), ("tau (between-study SD)", ranks_tau))):
        ax = axes[0, col]
        ax.axhspan(lo, hi, color="0.85", label="99% binomial band")
        ax.axhline(n * p, color="0.5", lw=1)
        ax.hist(r, bins=bins, range=(-0.5, L + 0.5), color="#3b7dd8", edgecolor="white")
        ax.set_title(f"rank of true {name}")
        ax.set_xlabel(f"rank among {L} thinned posterior draws")
        ax.set_ylabel("replications")
        if col == 0:
            ax.legend(loc="lower right", fontsize=8)
        # ECDF difference with a pointwise 95% band
        ax = axes[1, col]
        z = np.linspace(0, 1, 201)
        u = (np.asarray(r) + 0.5) / (L + 1)
        ecdf = np.searchsorted(np.sort(u), z, side="right") / n
        band = 1.96 * np.sqrt(z * (1 - z) / n)
        ax.fill_between(z, -band, band, color="0.85", label="pointwise 95% band")
        ax.plot(z, ecdf - z, color="#3b7dd8")
        ax.axhline(0, color="0.5", lw=1)
        ax.set_xlabel("fractional rank")
        ax.set_ylabel("ECDF - uniform")
        if col == 0:
            ax.legend(loc="lower right", fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200, help="replications (default 200)")
    ap.add_argument("--k", type=int, default=4, help="studies per replication (default 4)")
    ap.add_argument("--effect", default="normal(0, 2)", help="effect prior (default: the package default)")
    ap.add_argument("--tau", default="half_normal(0.5)", help="tau prior (default: the package default)")
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--rank-draws", type=int, default=99, help="L, thinned posterior draws per rank (default 99)")
    ap.add_argument("--seed", type=int, default=20261121)
    ap.add_argument("--out", default=str(HERE / "sbc_mcmc"), help="output prefix for .png/.md/.json")
    ap.add_argument("--scheduler", help="Dask scheduler address (default: a local cluster); 'synchronous': no Dask")
    ap.add_argument("--workers", type=int, help="worker processes of the local cluster (default: one per core)")
    args = ap.parse_args(argv)

    warnings.filterwarnings("ignore")
    for name in ("pymc", "pytensor", "numba"):
        logging.getLogger(name).setLevel(logging.ERROR)

    from sclcmeta.analyses.calibration import SBCConfig, run_sbc
    from sclcmeta.runner import describe

    cfg = SBCConfig(k=args.k, effect=args.effect, tau=args.tau, draws=args.draws, tune=args.tune, chains=args.chains,
                    rank_draws=args.rank_draws, seed=args.seed)
    ps = cfg.priors()
    L, k = args.rank_draws, args.k
    where = describe(args.scheduler, args.workers)
    print(f"{args.n} replications on {where}", flush=True)
    t_all = time.perf_counter()
    outcomes = run_sbc(cfg, args.n, scheduler=args.scheduler, workers=args.workers, progress=True)
    total = time.perf_counter() - t_all
    failed = [o for o in outcomes if not o.ok]
    for o in failed:
        print(f"  replication {o.item} failed: {o.error}", file=sys.stderr)
    rows = [o.value for o in outcomes if o.ok]
    if not rows:
        print("every replication failed; nothing to report", file=sys.stderr)
        return 1
    misses = sum(r["new_model_shape"] for r in rows)
    cache = {"misses": misses, "hits": len(rows) - misses, "worker_processes": len({r["worker_pid"] for r in rows})}

    srng = np.random.default_rng(args.seed + 1)
    r_mu = np.array([r["rank_mu"] for r in rows])
    r_tau = np.array([r["rank_tau"] for r in rows])
    first = np.array([r["seconds"] for r in rows if r["new_model_shape"]])
    later = np.array([r["seconds"] for r in rows if not r["new_model_shape"]])
    res = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "config": {**vars(args), "out": _repo_relative(args.out),
                   "priors": {"effect": str(ps.effect), "tau": str(ps.tau)}},
        "runner": where, "n": len(rows), "failed_replications": [{"i": o.item, "error": o.error} for o in failed],
        "L": L, "total_seconds": total,
        "first_fit_seconds": float(first.max()) if len(first) else float("nan"),
        "median_fit_seconds": float(np.median(later)) if len(later) else float(np.median(first)),
        "cache": cache,
        "gate_failures": int(sum(not r["gate"] for r in rows)),
        "divergent_replications": int(sum(r["divergences"] > 0 for r in rows)),
        "max_r_hat": float(max(r["r_hat"] for r in rows)), "min_ess_bulk": float(min(r["ess_bulk"] for r in rows)),
        "mcmc": {"mu": rank_stats(r_mu, L, srng), "tau": rank_stats(r_tau, L, srng)},
        "exact": {"mu": unit_stats(np.array([r["u_exact_mu"] for r in rows])),
                  "tau": unit_stats(np.array([r["u_exact_tau"] for r in rows]))},
        "mcmc_vs_exact_max_abs_cdf_diff": {
            "mu": float(max(abs(r["u_mcmc_mu"] - r["u_exact_mu"]) for r in rows)),
            "tau": float(max(abs(r["u_mcmc_tau"] - r["u_exact_tau"]) for r in rows))},
        "rows": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    n = len(rows)
    title = (f"SBC of fit_model(method='mcmc') (nutpie {args.chains}x{args.draws}): {n} replications, k={k}, "
             f"effect {ps.effect}, tau {ps.tau}")
    plot(r_mu, r_tau, L, n, out.with_suffix(".png"), title)
    m, e = res["mcmc"], res["exact"]
    md = [f"# SBC of the MCMC path ({res['date']})\n",
          f"{n} replications of a {k}-study random-effects model; priors effect {ps.effect}, tau {ps.tau}; "
          f"se ~ U(0.1, 0.4); nutpie {args.chains} chains x {args.draws} draws (+{args.tune} tune) via "
          f"fit_model, run as Dask tasks on {where} ({cache['worker_processes']} worker process(es), each with its "
          f"CompileCache: {cache['misses']} model set-up(s), {cache['hits']} reuses); ranks among L = {L} "
          f"thinned draws."
          + (f" {len(failed)} replication(s) raised and are left out (errors in the JSON)." if failed else "") + "\n",
          f"Run time {total:.0f} s (including starting the cluster): slowest first fit in a worker (compiles or loads "
          f"the log density) {res['first_fit_seconds']:.1f} s, then median "
          f"{res['median_fit_seconds']:.2f} s per fit. Convergence gate failures: {res['gate_failures']}/{n} "
          f"(replications with divergences: {res['divergent_replications']}; max R-hat {res['max_r_hat']:.3f}, "
          f"min bulk ESS {res['min_ess_bulk']:.0f}).\n",
          "| parameter | KS D | KS p | chi-square (19 df) | chi-square p | 90% interval coverage | exact solver KS p | exact 90% coverage |",
          "|---|---|---|---|---|---|---|---|"]
    for p in ("mu", "tau"):
        md.append(f"| {p} | {m[p]['ks_stat']:.3f} | {m[p]['ks_p']:.3f} | {m[p]['chi2']:.1f} | {m[p]['chi2_p']:.3f} | "
                  f"{m[p]['coverage_90']:.3f} | {e[p]['ks_p']:.3f} | {e[p]['coverage_90']:.3f} |")
    md.append(f"\nMax |P_mcmc(param < true) - P_exact(param < true)| over replications: mu "
              f"{res['mcmc_vs_exact_max_abs_cdf_diff']['mu']:.3f}, tau {res['mcmc_vs_exact_max_abs_cdf_diff']['tau']:.3f}.\n")
    md.append(f"![rank histograms]({out.with_suffix('.png').name})\n")
    out.with_suffix(".md").write_text("\n".join(md))
    out.with_suffix(".json").write_text(json.dumps(res, indent=1, default=float))
    print("\n".join(md))
    print(f"\nwrote {out.with_suffix('.png')}, {out.with_suffix('.md')}, {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python
"""Simulation-based calibration (Talts et al. 2018) of the MCMC path: nutpie through fit_model.

    python benchmarks/sbc_mcmc.py [--n 200] [--k 4] [--out benchmarks/sbc_mcmc]

Each replication draws ``mu`` and ``tau`` from the prior, study effects ``theta_i ~ N(mu, tau^2)``,
standard errors ``se_i ~ U(0.1, 0.4)`` and estimates ``y_i ~ N(theta_i, se_i^2)`` for ``k`` studies,
then fits the random-effects model by ``fit_model(method="mcmc")`` (nutpie, 4 x 1000 draws by default)
with ONE shared :class:`~sclcmeta.fitting.CompileCache`: nutpie samples the hand-written numba log
density of :mod:`sclcmeta.engine.native`, compiled once, and every replication is a new data buffer
(the cache's hit/miss counts are reported).

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
    args = ap.parse_args(argv)

    warnings.filterwarnings("ignore")
    for name in ("pymc", "pytensor", "numba"):
        logging.getLogger(name).setLevel(logging.ERROR)

    import sclcmeta as sm
    from sclcmeta.engine import GaussianModel, solve_exact
    from sclcmeta.fitting import CompileCache, fit_model

    ps = sm.default_prior_set().replace(effect=args.effect, tau=args.tau)
    rng = np.random.default_rng(args.seed)
    cache = CompileCache()
    L, k = args.rank_draws, args.k
    rows = []
    t_all = time.perf_counter()
    for i in range(args.n):
        mu = float(ps.effect.rvs(1, rng)[0])
        tau = float(ps.tau.rvs(1, rng)[0])
        se = rng.uniform(0.1, 0.4, k)
        y = rng.normal(mu + tau * rng.standard_normal(k), se)
        gm = GaussianModel.random_effects(y, se)
        t = time.perf_counter()
        raw = fit_model(gm, ps, method="mcmc", draws=args.draws, tune=args.tune, chains=args.chains,
                        seed=args.seed + i, cache=cache)
        dt = time.perf_counter() - t
        post = raw.idata.posterior
        d_mu = post["b"].sel(coef="mu").values.ravel()
        d_tau = post["tau"].values.ravel()
        idx = np.linspace(0, len(d_mu) - 1, L).round().astype(int)
        ex = solve_exact(gm, ps)
        d = raw.diagnostics
        rows.append({"i": i, "mu": mu, "tau": tau, "rank_mu": int(np.sum(d_mu[idx] < mu)),
                     "rank_tau": int(np.sum(d_tau[idx] < tau)), "seconds": dt,
                     "u_exact_mu": float(ex.coef("mu").cdf(mu)[0]),
                     "u_exact_tau": float(ex.variance_marginal("tau").cdf(tau)),
                     "u_mcmc_mu": float(np.mean(d_mu < mu)), "u_mcmc_tau": float(np.mean(d_tau < tau)),
                     "r_hat": d.r_hat, "ess_bulk": d.ess_bulk, "divergences": d.divergences, "gate": d.passed})
        if (i + 1) % max(1, args.n // 10) == 0 or i == 0:
            print(f"  {i + 1}/{args.n} replications, {time.perf_counter() - t_all:.0f} s "
                  f"(cache: {cache.misses} model shape, {cache.hits} reuses)", flush=True)
    total = time.perf_counter() - t_all

    srng = np.random.default_rng(args.seed + 1)
    r_mu = np.array([r["rank_mu"] for r in rows])
    r_tau = np.array([r["rank_tau"] for r in rows])
    secs = np.array([r["seconds"] for r in rows])
    res = {
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "config": {**vars(args), "out": _repo_relative(args.out),
                   "priors": {"effect": str(ps.effect), "tau": str(ps.tau)}},
        "n": args.n, "L": L, "total_seconds": total, "first_fit_seconds": float(secs[0]),
        "median_fit_seconds": float(np.median(secs[1:])) if len(secs) > 1 else float(secs[0]),
        "cache": {"misses": cache.misses, "hits": cache.hits},
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
    title = (f"SBC of fit_model(method='mcmc') (nutpie {args.chains}x{args.draws}): {args.n} replications, k={k}, "
             f"effect {ps.effect}, tau {ps.tau}")
    plot(r_mu, r_tau, L, args.n, out.with_suffix(".png"), title)
    m, e = res["mcmc"], res["exact"]
    md = [f"# SBC of the MCMC path ({res['date']})\n",
          f"{args.n} replications of a {k}-study random-effects model; priors effect {ps.effect}, tau {ps.tau}; "
          f"se ~ U(0.1, 0.4); nutpie {args.chains} chains x {args.draws} draws (+{args.tune} tune) via "
          f"fit_model with one CompileCache ({cache.misses} model shape, {cache.hits} reuses); ranks among L = {L} "
          f"thinned draws.\n",
          f"Run time {total:.0f} s: first fit (compiles or loads the log density) {res['first_fit_seconds']:.1f} s, then median "
          f"{res['median_fit_seconds']:.2f} s per fit. Convergence gate failures: {res['gate_failures']}/{args.n} "
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

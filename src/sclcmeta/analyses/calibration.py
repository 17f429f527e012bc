"""Simulation-based calibration (Talts et al. 2018) replications of the random-effects model, as Dask tasks.

One replication (:func:`sbc_replication`) draws ``mu`` and ``tau`` from the prior, ``k`` study effects
``theta_i ~ N(mu, tau^2)``, standard errors ``se_i ~ U(0.1, 0.4)`` and estimates ``y_i ~ N(theta_i, se_i^2)``,
fits the model by ``fit_model(method="mcmc")`` and returns the rank of the true values among ``L`` thinned
posterior draws, with the exact solver's posterior CDF at the truth on the same data as a reference.
Replication ``i`` draws from its own random stream (``SeedSequence(seed, spawn_key=(i,))``) and samples
with seed ``seed + i``, so its numbers do not depend on which worker runs it or in what order.
:func:`run_sbc` submits the replications through :func:`~sclcmeta.runner.run_tasks`, the runner
of the multiverse; ``benchmarks/sbc_mcmc.py`` turns the rows into rank statistics and plots.

Examples
--------
>>> cfg = SBCConfig(k=3, draws=100, tune=100, chains=2, rank_draws=19)
>>> row = sbc_replication(0, cfg)                      # doctest: +SKIP
>>> 0 <= row["rank_mu"] <= 19                          # doctest: +SKIP
True
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from ..runner import TaskOutcome, run_tasks


@dataclass(frozen=True)
class SBCConfig:
    """The simulation: ``k`` studies per replication, the priors (prior-family text), the sampler settings."""

    k: int = 4
    effect: str = "normal(0, 2)"
    tau: str = "half_normal(0.5)"
    draws: int = 1000
    tune: int = 1000
    chains: int = 4
    rank_draws: int = 99
    seed: int = 20261121

    def priors(self):
        from ..priors import default_prior_set

        return default_prior_set().replace(effect=self.effect, tau=self.tau)


def sbc_replication(i: int, config: SBCConfig) -> dict:
    """Simulate data set ``i`` from the prior, fit it by MCMC and by the exact solver; ranks and CDFs at the truth."""
    from ..engine import GaussianModel, solve_exact
    from ..fitting import COMPILE_CACHE, fit_model

    ps = config.priors()
    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(i,)))
    mu = float(ps.effect.rvs(1, rng)[0])
    tau = float(ps.tau.rvs(1, rng)[0])
    se = rng.uniform(0.1, 0.4, config.k)
    y = rng.normal(mu + tau * rng.standard_normal(config.k), se)
    gm = GaussianModel.random_effects(y, se)
    misses = COMPILE_CACHE.misses
    t = time.perf_counter()
    raw = fit_model(gm, ps, method="mcmc", draws=config.draws, tune=config.tune, chains=config.chains,
                    seed=config.seed + i)
    dt = time.perf_counter() - t
    post = raw.idata.posterior
    d_mu = post["b"].sel(coef="mu").values.ravel()
    d_tau = post["tau"].values.ravel()
    idx = np.linspace(0, len(d_mu) - 1, config.rank_draws).round().astype(int)
    ex = solve_exact(gm, ps)
    d = raw.diagnostics
    return {"i": i, "mu": mu, "tau": tau, "rank_mu": int(np.sum(d_mu[idx] < mu)),
            "rank_tau": int(np.sum(d_tau[idx] < tau)), "seconds": dt,
            "u_exact_mu": float(ex.coef("mu").cdf(mu)[0]),
            "u_exact_tau": float(ex.variance_marginal("tau").cdf(tau)),
            "u_mcmc_mu": float(np.mean(d_mu < mu)), "u_mcmc_tau": float(np.mean(d_tau < tau)),
            "r_hat": d.r_hat, "ess_bulk": d.ess_bulk, "divergences": d.divergences, "gate": d.passed,
            "new_model_shape": COMPILE_CACHE.misses > misses, "worker_pid": os.getpid()}


def run_sbc(config: SBCConfig, n: int, *, scheduler=None, workers: int | None = None,
            progress: bool = False) -> list[TaskOutcome]:
    """``n`` replications of ``config`` on ``scheduler`` (as :func:`~sclcmeta.runner.run_tasks`)."""
    return run_tasks(sbc_replication, range(n), kwargs={"config": config}, scheduler=scheduler, workers=workers,
                     progress=progress, desc="sbc")


__all__ = ["SBCConfig", "run_sbc", "sbc_replication"]

"""Fitting: exact solver or MCMC (nutpie by default, PyMC NUTS as fallback), nothing recompiled per prior.

:func:`fit_model` is the single entry point the rest of the package uses. With nutpie (the
default), MCMC runs the Gaussian family's hand-written log density of
:mod:`sclcmeta.engine.native`: it is compiled once per machine (numba's disk cache) and serves
every model, prior and data set, each packed into a plain buffer. PyMC's own NUTS runs the PyMC
graph of :mod:`sclcmeta.engine.pymc_model`, built once per structure and re-used via
``pm.set_data``. A :class:`CompileCache` keyed by :meth:`GaussianModel.structure_key` holds both.
Every MCMC fit passes through the convergence gate (R-hat, bulk ESS, divergences); a failure is
recorded on the result and warned about.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .engine.exact import ExactPosterior, solve_exact
from .engine.reference_priors import check_sampleable
from .engine.gaussian import GaussianModel
from .errors import ConvergenceWarning, SpecError
from .priors import PriorSet
from .vocabulary import DEFAULT_DRAWS, DEFAULT_TUNE, GATE, MAX_SEED, METHODS, SAMPLERS

if TYPE_CHECKING:  # ArviZ takes seconds to import: loaded where InferenceData is built or read
    import arviz as az



@dataclass
class Diagnostics:
    """Convergence diagnostics of one fit; ``passed`` is the gate's verdict."""

    method: str
    r_hat: float = float("nan")
    ess_bulk: float = float("nan")
    ess_tail: float = float("nan")
    divergences: int = 0
    draws: int = 0
    chains: int = 0
    sampler: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        if self.method == "exact":
            return "exact (numerical integration): no sampling diagnostics needed"
        verdict = "PASSED" if self.passed else "FAILED: " + "; ".join(self.problems)
        return (f"{self.sampler}: {self.chains} chains x {self.draws} draws, max R-hat {self.r_hat:.3f}, "
                f"min bulk ESS {self.ess_bulk:.0f}, {self.divergences} divergences -> gate {verdict}")


def check_convergence(idata: az.InferenceData, var_names: list[str], sampler: str) -> Diagnostics:
    """Apply the gate (R-hat <= 1.01, bulk ESS >= 400, no divergences) to ``var_names``."""
    import arviz as az

    post = idata.posterior
    rhat = az.rhat(post, var_names=var_names)
    ess = az.ess(post, var_names=var_names, method="bulk")
    ess_t = az.ess(post, var_names=var_names, method="tail")
    mx_r = float(max(np.nanmax(rhat[v].values) for v in var_names))
    mn_e = float(min(np.nanmin(ess[v].values) for v in var_names))
    mn_t = float(min(np.nanmin(ess_t[v].values) for v in var_names))
    div = int(idata.sample_stats["diverging"].sum()) if "diverging" in idata.sample_stats else 0
    d = Diagnostics("mcmc", mx_r, mn_e, mn_t, div, post.sizes["draw"], post.sizes["chain"], sampler)
    if not mx_r <= GATE["r_hat"]:
        d.problems.append(f"R-hat {mx_r:.3f} > {GATE['r_hat']}")
    if not mn_e >= GATE["ess_bulk"]:
        d.problems.append(f"bulk ESS {mn_e:.0f} < {GATE['ess_bulk']}")
    if div > GATE["divergences"]:
        d.problems.append(f"{div} divergent transitions")
    return d


class CompileCache:
    """Per-structure sampler set-up, keyed by :meth:`GaussianModel.structure_key`.

    For nutpie an entry is the draw layout (the compiled log density itself is shared by all
    structures and cached on disk); for PyMC it is the built ``pm.Model``. ``hits`` and
    ``misses`` count reuse (the benchmark and tests read them).
    """

    def __init__(self):
        self._store: dict[tuple, dict] = {}
        self.hits = 0
        self.misses = 0

    def clear(self):
        self._store.clear()
        self.hits = self.misses = 0

    def get(self, model: GaussianModel, priors: PriorSet, backend: str) -> dict:
        key = (backend,) + model.structure_key()
        entry = self._store.get(key)
        if entry is not None:
            self.hits += 1
            return entry
        self.misses += 1
        if backend == "nutpie":
            from .engine import native

            entry = {"layout": native.layout(model)}
        else:
            from .engine.pymc_model import build_pymc_model

            entry = {"pymc": build_pymc_model(model, priors)}
        self._store[key] = entry
        return entry


#: Process-wide cache used by :func:`fit_model` unless one is passed.
COMPILE_CACHE = CompileCache()


@contextlib.contextmanager
def _quiet():
    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def sample_posterior(model: GaussianModel, priors: PriorSet, *, draws: int = DEFAULT_DRAWS, tune: int = DEFAULT_TUNE,
                     chains: int = 4, seed: int = 1, backend: str = "nutpie", progress: bool = False,
                     target_accept: float = 0.9, cache: CompileCache | None = None) -> az.InferenceData:
    """Run NUTS on the marginal model; returns InferenceData with ``b``, ``z_*`` and the sigmas."""
    cache = COMPILE_CACHE if cache is None else cache
    if backend not in ("nutpie", "pymc"):
        raise SpecError(f"unknown sampler {backend!r}; use 'nutpie' or 'pymc'.")
    entry = cache.get(model, priors, backend)
    if backend == "nutpie":
        import nutpie

        from .engine import native

        compiled = native.compiled_model(model, priors, entry["layout"])
        with _quiet():
            trace = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=seed, save_warmup=False,
                                  progress_bar=progress, target_accept=target_accept, cores=min(chains, 2),
                                  return_raw_trace=True)
        return _nutpie_trace_to_idata(trace, entry["layout"])
    import pymc as pm

    from .engine.pymc_model import data_values, prior_data

    with entry["pymc"], _quiet():
        pm.set_data({**data_values(model), **prior_data(model, priors)})
        idata = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=seed, progressbar=progress,
                          target_accept=target_accept, cores=1, compute_convergence_checks=False)
    idata.posterior = idata.posterior.assign_coords(coef=list(model.coef_names))
    return idata


#: nutpie statistic -> ArviZ name, the sample statistics kept on every fit
_NUTPIE_STATS = {"diverging": "diverging", "step_size": "step_size", "depth": "tree_depth", "n_steps": "n_steps",
                 "energy": "energy", "energy_error": "energy_error", "logp": "lp",
                 "mean_tree_accept": "acceptance_rate", "maxdepth_reached": "reached_max_treedepth"}


def _nutpie_trace_to_idata(trace, layout) -> az.InferenceData:
    """Posterior and sample statistics of the kept draws from nutpie's raw Arrow trace.

    Reading the few columns sclcmeta uses directly is about twice as fast as nutpie's generic
    conversion of every statistic, which matters when a prior sweep refits in a tenth of a second.
    """
    import arviz as az

    import pyarrow as pa

    draws, stats = trace.get_arrow_trace()
    post = {n: [] for n in layout.names}
    st = {v: [] for v in _NUTPIE_STATS.values()}
    for d, s in zip(draws, stats):
        d, s = pa.record_batch(d), pa.record_batch(s)
        keep = ~s.column("tuning").to_numpy(zero_copy_only=False)
        for name, shape in zip(layout.names, layout.shapes):
            col = d.column(name)
            vals = col.flatten().to_numpy() if shape else col.to_numpy()
            post[name].append(vals.reshape((d.num_rows, *shape))[keep])
        for src, dst in _NUTPIE_STATS.items():
            st[dst].append(s.column(src).to_numpy(zero_copy_only=False)[keep])
    post = {n: np.stack(v) for n, v in post.items()}
    return az.from_dict(posterior=post, sample_stats={n: np.stack(v) for n, v in st.items()},
                        coords={"coef": list(layout.coords["coef"])}, dims={n: list(d) for n, d in layout.dims.items()})


def conditional_study_effects(model: GaussianModel, b: np.ndarray, sig: np.ndarray,
                              rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Exact conditional draws of shrunken study effects and of a new study's effect.

    ``b`` (n, p) and ``sig`` (n, m) are posterior draws; returns ``theta`` (n, k) and ``theta_new`` (n,).
    Given ``b`` and the variance parameters, ``theta = X b + delta`` with
    ``delta ~ N(Su Sigma^-1 (y - X b), Su - Su Sigma^-1 Su)``. For diagonal models (independent
    estimates) that is elementwise algebra on (n, k) arrays; only dense models (multi-arm networks,
    shared cohorts) solve a (k, k) system per draw, in blocks of draws.
    """
    n, k = b.shape[0], model.k
    z = rng.standard_normal((n, k))
    if model.diagonal:
        theta = np.empty((n, k))
        s2 = model.s2
        step = max(1, (1 << 21) // max(k, 1))
        for i in range(0, n, step):
            sl = slice(i, i + step)
            u = model.heterogeneity_variance(sig[sl])
            a = u / (u + s2)                                         # Su Sigma^-1 (diagonal)
            xb = b[sl] @ model.X.T
            theta[sl] = xb + a * (model.y - xb) + np.sqrt(a * s2 + 1e-14) * z[sl]
    else:
        theta = np.empty((n, k))
        step = max(1, (1 << 21) // max(k * k, 1))
        for i in range(0, n, step):
            sl = slice(i, i + step)
            Su = model.heterogeneity_variance(sig[sl])
            Sigma = Su + model.S[None]
            xb = b[sl] @ model.X.T
            sol = np.linalg.solve(Sigma, (model.y[None, :] - xb)[..., None])[..., 0]   # Sigma^-1 (y - Xb)
            mean = xb + np.einsum("nkl,nl->nk", Su, sol)
            cov = Su - Su @ np.linalg.solve(Sigma, Su)
            cov = 0.5 * (cov + np.swapaxes(cov, 1, 2)) + 1e-14 * np.eye(k)
            theta[sl] = mean + np.einsum("nkl,nl->nk", np.linalg.cholesky(cov), z[sl])
    pred_var = sum(c.predictive_weight * sig[:, j] ** 2 for j, c in enumerate(model.components)) \
        if model.components else np.zeros(n)
    theta_new = b @ model.x_new + np.sqrt(pred_var) * rng.standard_normal(n)
    return theta, theta_new


def _prior_draws(model: GaussianModel, priors: PriorSet, n: int, rng) -> dict[str, np.ndarray]:
    """``n`` draws from the prior of ``b`` and the variance parameters, and the implied new-study effect."""
    b = np.stack([getattr(priors, r).rvs(n, rng) for r in model.coef_roles], axis=1) if model.p else np.zeros((n, 0))
    sig = np.stack([getattr(priors, c.prior_role).rvs(n, rng) for c in model.components], axis=1) \
        if model.components else np.zeros((n, 0))
    out = {"b": b[None]}
    for j, c in enumerate(model.components):
        out[c.name] = sig[None, :, j]
    pred_var = sum(c.predictive_weight * sig[:, j] ** 2 for j, c in enumerate(model.components)) \
        if model.components else np.zeros(n)
    out["theta_new"] = (b @ model.x_new + np.sqrt(pred_var) * rng.standard_normal(n))[None]
    return out


def _log_likelihood(model: GaussianModel, b: np.ndarray, sig: np.ndarray) -> np.ndarray | None:
    """Pointwise log likelihood of every estimate (independent estimates only; None otherwise).

    ``y_i ~ N(x_i' b, s_i^2 + sum_j sigma_j^2 K_j[i, i])`` in closed form, computed in place on one
    (draws, k) array.
    """
    if not model.diagonal:
        return None
    v = model.s2[None, :] + model.heterogeneity_variance(sig)
    r = b @ model.X.T
    np.subtract(model.y[None, :], r, out=r)
    np.multiply(r, r, out=r)
    np.divide(r, v, out=r)
    np.multiply(v, 2 * np.pi, out=v)
    np.log(v, out=v)
    np.add(r, v, out=r)
    np.multiply(r, -0.5, out=r)
    return r


def _augment(idata: az.InferenceData, model: GaussianModel, priors: PriorSet, seed: int) -> az.InferenceData:
    """The fit's InferenceData from a sampler's (posterior and sample statistics only); see :func:`_assemble`."""
    stats = ({n: idata.sample_stats[n].values for n in idata.sample_stats.data_vars}
             if "sample_stats" in idata.groups() else None)
    return _assemble({n: idata.posterior[n].values for n in idata.posterior.data_vars}, stats, model, priors, seed)


def _assemble(posterior: dict[str, np.ndarray], sample_stats: dict | None, model: GaussianModel, priors: PriorSet,
              seed: int) -> az.InferenceData:
    """The fit's InferenceData (one ``az.from_dict``) from posterior draws shaped (chain, draw, ...): posterior with
    study effects and the new-study prediction, posterior predictive, prior, observed and constant data,
    pointwise log likelihood and log prior."""
    import arviz as az
    import xarray as xr

    rng = np.random.default_rng(seed + 7919)
    nc, nd = posterior["b"].shape[:2]
    b = posterior["b"].reshape(nc * nd, -1)
    sig = np.stack([posterior[c.name].reshape(-1) for c in model.components], 1) if model.components \
        else np.zeros((nc * nd, 0))
    theta, theta_new = conditional_study_effects(model, b, sig, rng)
    noise = rng.standard_normal(theta.shape)                                           # y_rep ~ N(theta, S)
    y_rep = theta + (noise * model.se if model.diagonal else noise @ np.linalg.cholesky(model.S).T)
    posterior = {**posterior, "theta": theta.reshape(nc, nd, -1), "theta_new": theta_new.reshape(nc, nd)}
    groups = {"posterior": posterior,
              "posterior_predictive": {"y_obs": y_rep.reshape(nc, nd, -1)},
              "prior": _prior_draws(model, priors, min(nc * nd, 4000), rng),
              "observed_data": {"y_obs": model.y},
              "constant_data": {"se": model.se, "X": model.X}}
    if sample_stats is not None:
        groups["sample_stats"] = sample_stats
    ll = _log_likelihood(model, b, sig)
    if ll is not None:
        groups["log_likelihood"] = {"y_obs": ll.reshape(nc, nd, -1)}
    out = az.from_dict(**groups, coords={"coef": list(model.coef_names), "study": list(model.studies)},
                       dims={"b": ["coef"], "theta": ["study"], "y_obs": ["study"], "se": ["study"],
                             "X": ["study", "coef"]})
    # log prior density of every draw, for power-scaling sensitivity (ArviZ psens); not a from_dict group
    lp = sum(getattr(priors, r).logpdf(b[:, j]) for j, r in enumerate(model.coef_roles)) if model.p else 0.0
    lp = lp + sum(getattr(priors, c.prior_role).logpdf(sig[:, j]) for j, c in enumerate(model.components))
    out.add_groups({"log_prior": xr.Dataset({"lp": (("chain", "draw"), np.asarray(lp, float).reshape(nc, nd))},
                                            coords={"chain": out.posterior.chain, "draw": out.posterior.draw})})
    return out


def _exact_draws(post: ExactPosterior, n: int, seed: int) -> dict[str, np.ndarray]:
    """``n`` independent draws of the exact posterior as one chain, shaped (1, n, ...)."""
    d = post.sample(n, np.random.default_rng(seed))
    return {"b": d["b"][None], **{name: d[name][None] for name in post.component_names}}


def exact_to_idata(post: ExactPosterior, n: int, seed: int) -> az.InferenceData:
    """Exact posterior as InferenceData (``n`` independent draws, one chain) for uniform outputs."""
    import arviz as az

    return az.from_dict(posterior=_exact_draws(post, n, seed), coords={"coef": list(post.model.coef_names)},
                        dims={"b": ["coef"]})


@dataclass
class RawFit:
    """What :func:`fit_model` returns to the results layer.

    ``idata`` may be given as the InferenceData itself or as a function building it: then it is built on
    first access (and kept). Summaries of exact fits read the exact posterior and never build it, so an
    exact fit costs its quadrature, not 4,000 draws and an xarray tree nobody reads.
    """

    model: GaussianModel
    priors: PriorSet
    method: str
    idata: az.InferenceData = field(repr=False)
    diagnostics: Diagnostics
    exact: ExactPosterior | None = None
    seed: int = 1

    @property
    def idata_built(self) -> bool:
        """True once the InferenceData exists (it is built lazily)."""
        return not callable(self.__dict__.get("_idata"))


def _get_idata(self: RawFit) -> az.InferenceData:
    if callable(self.__dict__.get("_idata")):
        self.__dict__["_idata"] = self.__dict__["_idata"]()
    return self.__dict__["_idata"]


def _set_idata(self: RawFit, value) -> None:
    self.__dict__["_idata"] = value


# a property installed after @dataclass, so __init__ and dataclasses.replace go through it
RawFit.idata = property(_get_idata, _set_idata, doc="The fit's InferenceData (built on first access).")


def _check_settings(*, draws, tune, chains, seed, method, sampler) -> None:
    """Range-check the inference settings before anything runs (a SpecError naming the setting)."""
    for name, v, lo in (("draws", draws, 1), ("tune", tune, 0), ("chains", chains, 1)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise SpecError(f"`{name}` must be a whole number >= {lo}; got {v!r}.")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= MAX_SEED + 10:
        raise SpecError(f"`seed` must be a whole number from 0 to {MAX_SEED}; got {seed!r}.")
    if method not in METHODS:
        raise SpecError(f"unknown method {method!r}; use one of {', '.join(METHODS)}.")
    if method == "mcmc" and sampler not in SAMPLERS:
        raise SpecError(f"unknown sampler {sampler!r}; use one of {', '.join(SAMPLERS)}.")


def fit_model(model: GaussianModel, priors: PriorSet, *, method: str = "exact", draws: int = DEFAULT_DRAWS,
              tune: int = DEFAULT_TUNE, chains: int = 4, seed: int = 1, sampler: str = "nutpie",
              progress: bool = False, cache: CompileCache | None = None, exact_draws: int = 4000) -> RawFit:
    """Fit ``model`` under ``priors`` by ``method`` ('exact' or 'mcmc')."""
    _check_settings(draws=draws, tune=tune, chains=chains, seed=seed, method=method, sampler=sampler)
    if method == "mcmc":
        check_sampleable(model, priors)   # flat / Jeffreys / fixed priors: exact solver only
    if method == "exact":
        post = solve_exact(model, priors)
        build = lambda: _assemble(_exact_draws(post, exact_draws, seed), None, model, priors, seed)  # noqa: E731
        return RawFit(model, priors, "exact", build, Diagnostics("exact", sampler="exact"), post, seed)
    if method != "mcmc":
        raise SpecError(f"unknown method {method!r}; use 'exact' or 'mcmc'.")
    idata = sample_posterior(model, priors, draws=draws, tune=tune, chains=chains, seed=seed, backend=sampler,
                             progress=progress, cache=cache)
    var_names = ["b"] + [c.name for c in model.components]
    diag = check_convergence(idata, var_names, sampler)
    if not diag.passed:
        warnings.warn(f"MCMC did not pass the convergence gate ({'; '.join(diag.problems)}); the result is "
                      "marked and must not be reported as an answer. Increase draws/tune or use method='exact'.",
                      ConvergenceWarning, stacklevel=2)
    sampled = idata
    return RawFit(model, priors, "mcmc", lambda: _augment(sampled, model, priors, seed), diag, None, seed)

"""Prior sweeps: the exact posterior under many prior settings from one pass over the data.

For the Gaussian family the data enter the exact solver only through per-node statistics of the
variance parameters (``log|Sigma|``, ``y'Sigma^-1 y``, ``X'Sigma^-1 X``, ``X'Sigma^-1 y``: see
:func:`~sclcmeta.engine.exact.likelihood_stats`); the heterogeneity prior only reweights the grid,
and a normal (or Student-t, as a scale mixture of normals) effect prior changes the conditional
posterior of the coefficients in closed form (:func:`~sclcmeta.engine.exact.conditional`). So
:func:`sweep_exact` runs :func:`~sclcmeta.engine.exact.solve_exact`'s algorithm for every setting at
once: one set of data statistics per distinct first-pass grid (shared by all settings whose
heterogeneity prior has the same support), the refined grid of every setting in one vectorized
evaluation, and every setting's quantiles by one vectorized Newton iteration. The answers are the
separate exact fits' (to ~1e-12; tested to 1e-9).

Models with one variance component (random effects, meta-regression, a network with one tau) or none
are vectorized; models with two or three components are solved setting by setting (same answers,
no speed-up).

:func:`psis_reweight` is the MCMC counterpart: Pareto-smoothed importance reweighting of posterior
draws to other priors (ArviZ ``psislw``), an approximation that reports its k-hat and refuses when
k-hat > 0.7.

Examples
--------
>>> from sclcmeta.engine import GaussianModel
>>> from sclcmeta.priors import default_prior_set
>>> m = GaussianModel.random_effects([-0.3, -0.1, -0.5], [0.2, 0.15, 0.25])
>>> ps = default_prior_set()
>>> out = sweep_exact(m, [ps, ps.replace(tau="half_cauchy(1)")])
>>> [round(float(v), 3) for v in out["median"]]  # doctest: +SKIP
[-0.287, -0.284]
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from ..errors import SpecError
from ..priors import PriorSet
from .exact import (_N_FINAL, _N_FIRST, _coef_priors, _grid_1d, _laguerre, conditional, likelihood_stats,
                    log_scale_prior, mixture_quantiles, solve_exact)
from .gaussian import GaussianModel

QUANTILES = (0.5, 0.025, 0.975)


def _check(model: GaussianModel, priors: PriorSet) -> tuple[list, list[int]]:
    """The coefficient priors and the index of the Student-t one (at most one), as :func:`solve_exact` checks."""
    cp = _coef_priors(model, priors)
    for pr in cp:
        if pr.family not in ("normal", "student_t"):
            raise SpecError(f"coefficient prior {pr} is not an effect prior.")
    t_idx = [j for j, pr in enumerate(cp) if pr.family == "student_t"]
    if len(t_idx) > 1:
        raise SpecError("the exact solver handles a Student-t prior on one coefficient only; use normal priors "
                        "for the others or method = 'mcmc'.")
    return cp, t_idx


def _target_vector(model: GaussianModel, target: str | np.ndarray) -> tuple[np.ndarray, bool]:
    """(contrast ``c`` of the coefficients, add the predictive variance?) for ``target``."""
    if isinstance(target, str):
        if target == "predictive":
            if not model.components:
                raise SpecError("a predictive effect needs a random-effects model; this one has no variance component.")
            return np.asarray(model.x_new, float), True
        name = "mu" if target == "pooled" else target
        if name not in model.coef_names:
            raise SpecError(f"no coefficient {target!r} in this model; it has {', '.join(model.coef_names)} "
                            "(or ask for 'pooled' or 'predictive').")
        c = np.zeros(model.p)
        c[model.coef_names.index(name)] = 1.0
        return c, False
    c = np.asarray(target, float)
    if c.shape != (model.p,):
        raise SpecError(f"a contrast needs {model.p} weights (one per coefficient); got {c.shape}.")
    return c, False


def _mixture_cdf(w, m, v, x: float) -> np.ndarray:
    return (w * special.ndtr((x - m) / np.sqrt(v))).sum(1)


def sweep_exact(model: GaussianModel, prior_sets: list[PriorSet], *, target: str | np.ndarray = "pooled",
                thresholds=(1.0, 0.8)) -> dict[str, np.ndarray]:
    """Exact posterior summaries of ``target`` under every prior set, vectorized over the settings.

    Returns arrays over the settings: ``median``, ``q2.5``, ``q97.5`` and ``mean`` of the target on the
    log scale, ``prob_below_<t>`` (posterior probability that the HR is below ``t`` for every threshold)
    and, for a one-component model, ``sigma_mean`` (posterior mean of the heterogeneity SD). Each equals
    what :func:`~sclcmeta.engine.exact.solve_exact` gives for that setting alone.
    """
    prior_sets = list(prior_sets)
    if not prior_sets:
        raise SpecError("a prior sweep needs at least one prior setting.")
    c, predictive = _target_vector(model, target)
    logt = {t: math.log(float(t)) for t in thresholds}
    if len(model.components) != 1:
        return _sweep_by_loop(model, prior_sets, c, predictive, logt)
    checked = [_check(model, ps) for ps in prior_sets]
    role = model.components[0].prior_role
    S = len(prior_sets)
    res = {k: np.empty(S) for k in ("median", "q2.5", "q97.5", "mean", "sigma_mean")}
    res.update({f"prob_below_{t:g}": np.empty(S) for t in thresholds})
    # settings sharing a first-pass grid and Student-t mixing nodes are evaluated together
    groups: dict[tuple, list[int]] = {}
    for i, ps in enumerate(prior_sets):
        vp = getattr(ps, role)
        cp, t_idx = checked[i]
        support = (vp["lower"], vp["upper"]) if vp.family == "uniform" else None
        tkey = (t_idx[0], cp[t_idx[0]]["df"]) if t_idx else None
        groups.setdefault((vp.family, support, tkey), []).append(i)
    scale = float(np.std(model.y) + np.median(model.se))
    for (family, _, tkey), idx in groups.items():
        out = _sweep_group(model, [prior_sets[i] for i in idx], [checked[i][0] for i in idx], role, family, tkey,
                           scale, c, predictive, logt)
        for k, v in out.items():
            res[k][idx] = v
    return res


def _sweep_by_loop(model, prior_sets, c, predictive, logt) -> dict[str, np.ndarray]:
    """Models with no or several variance components: :func:`solve_exact` per setting (same answers)."""
    rows = []
    for ps in prior_sets:
        post = solve_exact(model, ps)
        mix = post.predictive() if predictive else post.linear(c)
        qs = np.asarray(mix.quantile(list(QUANTILES)), float)
        row = {"median": qs[0], "q2.5": qs[1], "q97.5": qs[2], "mean": mix.mean,
               "sigma_mean": float(post.weights @ post.nodes[:, 0]) if len(model.components) == 1 else np.nan}
        row.update({f"prob_below_{t:g}": mix.prob_below(lt) for t, lt in logt.items()})
        rows.append(row)
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


def _sweep_group(model, prior_sets, cps, role, family, tkey, scale, c, predictive, logt):
    """One group of settings (same heterogeneity family and support, same Student-t mixing nodes)."""
    S, p = len(prior_sets), model.p
    vps = [getattr(ps, role) for ps in prior_sets]
    params = {name: np.array([vp[name] for vp in vps])[:, None] for name, _ in vps[0].params}
    if tkey is not None:
        lam, lam_w = _laguerre(tkey[1])
        t_index = tkey[0]
    else:
        lam, lam_w, t_index = np.ones(1), np.ones(1), None
    nl = len(lam)
    m0 = np.array([[pr["mean"] for pr in cp] for cp in cps]).reshape(S, 1, p)
    base_prec = np.array([[1.0 / (pr["sd"] if pr.family == "normal" else pr["scale"]) ** 2 for pr in cp]
                          for cp in cps]).reshape(S, 1, p)

    def precisions(G):
        """(S, G * nl, p) prior precisions; the Student-t coefficient's scaled by the mixing node."""
        prec = np.broadcast_to(base_prec, (S, G * nl, p)).copy()
        if t_index is not None:
            prec[:, :, t_index] *= np.tile(lam, G)[None, :]
        return prec

    def weights(x, width, stats):
        """Normalised grid weights (S, G * nl) for nodes ``x`` (S or 1, G) with trapezoid widths."""
        G = x.shape[1]
        ll, mean, cov = conditional(stats, m0, precisions(G))
        logprior = log_scale_prior(family, params, x)
        with np.errstate(divide="ignore"):
            lp = ll + np.repeat(logprior + np.log(width), nl, axis=1) + np.tile(np.log(lam_w), G)[None, :]
        lp = np.where(np.isfinite(lp), lp, -np.inf)
        w = np.exp(lp - lp.max(1, keepdims=True))
        return w / w.sum(1, keepdims=True), mean, cov

    # first pass: one grid for the whole group (it depends on the data scale and the prior's support only)
    x1, w1 = _grid_1d(vps[0], scale, None, None, _N_FIRST)
    st1 = likelihood_stats(model, np.repeat(x1, nl)[:, None])
    wt1, _, _ = weights(x1[None, :], w1[None, :], st1)
    cmass = np.cumsum(wt1.reshape(S, len(x1), nl).sum(2), axis=1)
    # refined ranges: the rule of exact._range_from_cdf, row by row
    n = len(x1)
    i_lo = np.minimum((cmass < 1e-7).sum(1), n - 1)
    i_hi = np.minimum((cmass < 1 - 1e-9).sum(1) + 1, n - 1)
    lo = np.where(i_lo <= 1, 0.0, x1[np.maximum(i_lo - 1, 0)])
    hi = x1[np.minimum(i_hi + 1, n - 1)]
    q10 = x1[np.minimum((cmass < 0.1).sum(1), n - 1)]
    knee = np.maximum.reduce([q10 - lo, (hi - lo) * 1e-4, np.full(S, 1e-9)])
    hi = np.maximum(hi, lo + 1e-9)
    # refined grid of every setting (as exact._grid_1d with a range), evaluated in one pass
    upper = params["upper"][:, 0] if family == "uniform" else np.full(S, np.inf)
    hi = np.minimum(hi, upper)
    knee = np.where(knee > 0, knee, np.maximum((hi - lo) * 1e-3, 1e-9))
    N = _N_FINAL[1]
    x2 = lo[:, None] + np.exp(np.linspace(np.log(knee), np.log(hi - lo + knee), N, axis=1)) - knee[:, None]
    x2[:, 0], x2[:, -1] = lo, hi
    dx = np.diff(x2, axis=1)
    w2 = np.zeros_like(x2)
    w2[:, :-1] += dx / 2
    w2[:, 1:] += dx / 2
    sig = np.repeat(x2, nl, axis=1)                                   # (S, N * nl)
    st2 = likelihood_stats(model, sig.reshape(-1, 1))
    st2 = tuple(a.reshape((S, N * nl) + a.shape[1:]) for a in st2)
    w, mean, cov = weights(x2, w2, st2)
    w = np.where(w > 1e-16 * w.max(1, keepdims=True), w, 0.0)
    w /= w.sum(1, keepdims=True)
    mm = mean @ c
    vv = np.einsum("i,sgij,j->sg", c, cov, c)
    if predictive:
        vv = vv + model.components[0].predictive_weight * sig**2
    vv = np.maximum(vv, 1e-300)
    qs = mixture_quantiles(w, mm, vv, QUANTILES)
    out = {"median": qs[:, 0], "q2.5": qs[:, 1], "q97.5": qs[:, 2], "mean": (w * mm).sum(1),
           "sigma_mean": (w * sig).sum(1)}
    out.update({f"prob_below_{t:g}": _mixture_cdf(w, mm, vv, lt) for t, lt in logt.items()})
    return out


# -- MCMC: Pareto-smoothed importance reweighting ------------------------------------------------

#: k-hat above which PSIS estimates are unreliable (Vehtari et al. 2024)
KHAT_MAX = 0.7
#: fewest effective draws a reweighted setting may rest on (a new prior far narrower than the fitted one
#: gives bounded weights, so a good k-hat, but puts all its mass on a handful of draws)
ESS_MIN = 200


def _log_prior(model: GaussianModel, priors: PriorSet, b: np.ndarray, sig: np.ndarray) -> np.ndarray:
    """Joint log prior density of draws ``b`` (n, p) and ``sig`` (n, m) under ``priors``."""
    lp = np.zeros(b.shape[0])
    for j, role in enumerate(model.coef_roles):
        lp = lp + getattr(priors, role).logpdf(b[:, j])
    for j, comp in enumerate(model.components):
        lp = lp + getattr(priors, comp.prior_role).logpdf(sig[:, j])
    return lp


def weighted_quantiles(x: np.ndarray, w: np.ndarray, q) -> np.ndarray:
    """Quantiles of draws ``x`` (n,) with normalised weights ``w`` (S, n): (S, len(q)), interpolated."""
    order = np.argsort(x)
    xs = x[order]
    cw = np.cumsum(w[:, order], axis=1)
    mid = cw - 0.5 * w[:, order]                      # midpoint rule: unweighted case gives the usual quantile
    return np.stack([np.array([np.interp(qq, mid[s], xs) for qq in np.atleast_1d(q)]) for s in range(w.shape[0])])


def psis_reweight(model: GaussianModel, base: PriorSet, prior_sets: list[PriorSet], b: np.ndarray,
                  sig: np.ndarray, *, target: str | np.ndarray = "pooled", thresholds=(1.0, 0.8),
                  reff: float = 1.0, strict: bool = True) -> dict[str, np.ndarray]:
    """Posterior summaries of ``target`` under other priors from draws sampled under ``base``.

    ``b`` (n, p) and ``sig`` (n, m) are the pooled draws of an MCMC fit under ``base``. The importance
    ratio of a draw is ``p_new(b, sigma) / p_base(b, sigma)`` (the likelihood cancels); ArviZ's
    :func:`~arviz.psislw` smooths its upper tail and estimates the Pareto ``k-hat`` per setting. The
    answers are approximations (Monte Carlo error of the draws plus the reweighting's); with
    ``strict`` (the default) a setting whose k-hat exceeds :data:`KHAT_MAX`, or whose reweighted draws
    are worth fewer than :data:`ESS_MIN` independent draws, is refused with a
    :class:`~sclcmeta.errors.SpecError` naming it; otherwise its row is kept with k-hat and ESS shown.
    """
    import arviz as az

    c, predictive = _target_vector(model, target)
    if predictive:
        raise SpecError("importance reweighting covers the coefficients (e.g. the pooled effect), not the "
                        "predictive effect; use the exact sweep (method='exact') for it.")
    lp0 = _log_prior(model, base, b, sig)
    lw = np.stack([_log_prior(model, ps, b, sig) - lp0 for ps in prior_sets])        # (S, n)
    finite = np.isfinite(lw).all(1)
    lw_s, khat = az.psislw(np.where(np.isfinite(lw), lw, -1e300), reff=reff)
    lw_s, khat = np.asarray(lw_s, float), np.asarray(khat, float)
    same = finite & (np.ptp(np.where(np.isfinite(lw), lw, 0.0), axis=1) < 1e-12)   # the fitted prior itself
    lw_s[same] = -math.log(lw.shape[1])
    khat = np.where(same, 0.0, np.where(finite, khat, np.inf))
    w = np.exp(lw_s - lw_s.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    ess = 1.0 / (w**2).sum(1)
    bad = np.flatnonzero(~(khat <= KHAT_MAX) | (ess < ESS_MIN))
    if strict and bad.size:
        i = int(bad[0])
        what = ("a draw the new prior gives zero density (its support is narrower than the base prior's)"
                if not finite[i] else f"Pareto k-hat {khat[i]:.2f} > {KHAT_MAX}" if not khat[i] <= KHAT_MAX
                else f"the reweighted draws are worth {ess[i]:.0f} independent draws, fewer than {ESS_MIN}")
        raise SpecError(f"importance reweighting to prior set {prior_sets[i].name!r} is unreliable ({what}); "
                        f"{bad.size} of {len(prior_sets)} settings fail. Fit those settings directly (method='exact', "
                        "or a new MCMC fit), or reweight only to priors closer to the fitted one.")
    x = b @ c
    qs = weighted_quantiles(x, w, QUANTILES)
    out = {"median": qs[:, 0], "q2.5": qs[:, 1], "q97.5": qs[:, 2], "mean": w @ x,
           "sigma_mean": w @ sig[:, 0] if sig.shape[1] == 1 else np.full(len(prior_sets), np.nan),
           "khat": khat, "ess": ess}
    out.update({f"prob_below_{t:g}": w @ (x < math.log(float(t))) for t in thresholds})
    return out

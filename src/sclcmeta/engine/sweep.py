"""Prior sweeps: the exact posterior under many prior settings from one pass over the data.

For the Gaussian family the data enter the exact solver only through per-node statistics of the
variance parameters (``log|Sigma|``, ``y'Sigma^-1 y``, ``X'Sigma^-1 X``, ``X'Sigma^-1 y``: see
:func:`~sclcmeta.engine.exact.likelihood_stats`); the heterogeneity prior only reweights the grid,
and a normal (or Student-t, as a scale mixture of normals) effect prior changes the conditional
posterior of the coefficients in closed form (:func:`~sclcmeta.engine.exact.conditional`). So
:func:`sweep_exact` evaluates the data once, on one grid shared by all settings whose heterogeneity
prior has the same family and support (the union of their ranges at the finest step any of them
needs), computes the data term once per distinct effect prior and the prior term once per distinct
heterogeneity prior, and reads the quantiles of all settings that share an effect prior from one
table of their mixture CDF (exact sums at the table's points, inverted through a degree-15 two-point
Hermite interpolant whose error is bounded below ~1e-14 in probability; the table's small inner
loops are compiled, :mod:`sclcmeta.engine.table_kernels`). The exact solver's grid is accurate to
~1e-13 (tested against adaptive quadrature), so these answers are the separate fits' (tested to
1e-9; ~4e-14 in the benchmark).

Models with one variance component (random effects, meta-regression, a network with one tau) are
vectorized; models with none or with two or three components are solved setting by setting (same
answers, no speed-up).

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

import functools
import math
import operator

import numpy as np
from scipy import special

from ..errors import SpecError
from ..priors import PriorSet
from .exact import (_N_FIRST, _grid_1d, _laguerre, conditional, hard_ends,
                    likelihood_stats, log_scale_prior, mixture_quantiles, ranges_from_cdf, sinh_grid, solve_exact,
                    support)
from .gaussian import GaussianModel

QUANTILES = (0.5, 0.025, 0.975)


def _check(cp: list) -> list[int]:
    """The index of the Student-t coefficient prior (at most one) of ``cp``, as :func:`solve_exact` checks."""
    for pr in cp:
        if pr.family not in ("normal", "student_t"):
            raise SpecError(f"coefficient prior {pr} is not an effect prior.")
    t_idx = [j for j, pr in enumerate(cp) if pr.family == "student_t"]
    if len(t_idx) > 1:
        raise SpecError("the exact solver handles a Student-t prior on one coefficient only; use normal priors "
                        "for the others or method = 'mcmc'.")
    return t_idx


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
    role = model.components[0].prior_role
    S = len(prior_sets)
    # each distinct coefficient-prior tuple and heterogeneity prior is checked and evaluated once (keyed
    # by identity: prior strings are parsed to shared objects, and equal priors that are distinct
    # objects are merely evaluated twice)
    roles = model.coef_roles
    e_all = [tuple(getattr(ps, r) for r in roles) for ps in prior_sets] if len(roles) != 1 else \
        [(pr,) for pr in map(operator.attrgetter(roles[0]), prior_sets)]
    t_all = list(map(operator.attrgetter(role), prior_sets))
    e_of, cps = _distinct(e_all, lambda k: tuple(map(id, k)))
    t_of, t_priors = _distinct(t_all, id)
    t_idx = [_check(cp) for cp in cps]
    # settings sharing a first-pass grid (heterogeneity family and support) and Student-t mixing nodes
    # are evaluated together
    t_group = {}
    t_code = np.array([t_group.setdefault((vp.family, support(vp) if vp.family == "uniform" else None),
                                          len(t_group)) for vp in t_priors], np.intp)
    e_group = {}
    e_code = np.array([e_group.setdefault((ti[0], cp[ti[0]]["df"]) if ti else None, len(e_group))
                       for cp, ti in zip(cps, t_idx)], np.intp)
    code = t_code[t_of] * len(e_group) + e_code[e_of]
    res = {k: np.empty(S) for k in ("median", "q2.5", "q97.5", "mean", "sigma_mean")}
    res.update({f"prob_below_{t:g}": np.empty(S) for t in thresholds})
    scale = float(np.std(model.y) + np.median(model.se))
    t_names, e_names = list(t_group), list(e_group)
    for g in np.unique(code):
        idx = np.flatnonzero(code == g)
        eu, e_loc = np.unique(e_of[idx], return_inverse=True)
        tu, t_loc = np.unique(t_of[idx], return_inverse=True)
        family = t_names[g // len(e_group)][0]
        tkey = e_names[g % len(e_group)]
        out = _sweep_group(model, [cps[e] for e in eu], [t_priors[t] for t in tu], e_loc.ravel(), t_loc.ravel(),
                           family, tkey, scale, c, predictive, logt)
        for k, v in out.items():
            res[k][idx] = v
    return res


def _distinct(items: list, key) -> tuple[np.ndarray, list]:
    """(index of each item among the distinct ones, the distinct items): items are the same when ``key``
    says so."""
    first: dict = {}
    codes = np.fromiter((first.setdefault(k, len(first)) for k in map(key, items)), np.intp, len(items))
    _, at = np.unique(codes, return_index=True)
    return codes, [items[i] for i in at]


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


#: a setting's largest unnormalised weight below this is recomputed in log space (the two factors of
#: :func:`_block_weights` could underflow); above it every node holding 1e-16 of the mass is exact
_UNDERFLOW = 1e-250
#: elements of a (settings, nodes) block of weights formed at once: 128 KiB, small enough to stay in
#: cache and below the allocator's threshold for fresh (page-faulting) memory
_BLOCK = 1 << 14


def _exp_rows(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(``a`` with non-finite entries set to -inf, ``exp(a - max of its row)``)."""
    a = np.where(np.isfinite(a), a, -np.inf)
    top = a.max(1, keepdims=True)
    return a, np.exp(a - np.where(np.isfinite(top), top, 0.0))


def _block_weights(factors, e: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Normalised grid weights (len(e), G) of settings whose log weight is ``le[e] + lt[t]``.

    ``factors = (le, A, lt, B)`` from :func:`_exp_rows` of the data term ``le`` (one row per effect
    prior) and the prior term ``lt`` (one row per heterogeneity prior): each is exponentiated once
    per distinct prior, so a setting's weights are one product.
    """
    le, A, lt, B = factors
    w = A[e] * B[t]
    low = np.flatnonzero(~(w.max(1) >= _UNDERFLOW))
    if low.size:
        lp = le[e[low]] + lt[t[low]]
        w[low] = np.exp(lp - lp.max(1, keepdims=True))
    w /= w.sum(1, keepdims=True)
    return w


def _sweep_group(model, cps, t_priors, e_of, t_of, family, tkey, scale, c, predictive, logt):
    """One group of settings (same heterogeneity family and support, same Student-t mixing nodes).

    ``cps`` are the distinct coefficient-prior tuples and ``t_priors`` the distinct heterogeneity
    priors of the group; setting ``s`` has ``cps[e_of[s]]`` and ``t_priors[t_of[s]]``.

    All settings share one refined grid: it spans the union of their refined ranges with a step no
    coarser than any setting's own (:func:`~sclcmeta.engine.exact.sinh_grid` is accurate to ~1e-14 for
    each of them, so the answers equal the separate fits'), and the data statistics are evaluated on
    it once. The data term is computed once per effect prior and the prior term once per heterogeneity
    prior. Settings with the same effect prior share the mixture components too, and their quantiles
    come from one CDF table (:func:`_table_quantiles`); the others are solved setting by setting
    (:func:`~sclcmeta.engine.exact.mixture_quantiles`).
    """
    S, p = len(e_of), model.p
    E = len(cps)
    if tkey is not None:
        lam, lam_w = _laguerre(tkey[1])
        t_index = tkey[0]
    else:
        lam, lam_w, t_index = np.ones(1), np.ones(1), None
    nl = len(lam)
    m0 = np.array([[pr["mean"] for pr in cp] for cp in cps]).reshape(E, 1, p)
    base_prec = np.array([[1.0 / (pr["sd"] if pr.family == "normal" else pr["scale"]) ** 2 for pr in cp]
                          for cp in cps]).reshape(E, 1, p)
    names = [name for name, _ in t_priors[0].params]
    params = {name: np.array([vp[name] for vp in t_priors])[:, None] for name in names}
    log_lam_w = np.log(lam_w)

    def factors(x, width, stats):
        """Weight factors (:func:`_block_weights`) at nodes ``x`` (1, G), and the conditional moments per
        effect prior ((E, G * nl, p), (E, G * nl, p, p))."""
        G = x.shape[1]
        prec = np.broadcast_to(base_prec, (E, G * nl, p)).copy()
        if t_index is not None:
            prec[:, :, t_index] *= np.tile(lam, G)[None, :]
        ll, mean, cov = conditional(stats, m0, prec)
        with np.errstate(divide="ignore"):
            lt = log_scale_prior(family, params, x) + np.log(width)
        return (*_exp_rows(ll + np.tile(log_lam_w, G)[None, :]), *_exp_rows(np.repeat(lt, nl, axis=1))), mean, cov

    # first pass: one grid for the whole group (it depends on the data scale and the prior's support only)
    x1, w1 = _grid_1d(t_priors[0], scale, None, None, _N_FIRST)
    f1, _, _ = factors(x1[None, :], w1[None, :], likelihood_stats(model, np.repeat(x1, nl)[:, None]))
    lo, hi, knee = np.empty(S), np.empty(S), np.empty(S)
    rows = max(1, _BLOCK // (len(x1) * nl))
    for i in range(0, S, rows):
        sl = slice(i, i + rows)
        wt = _block_weights(f1, e_of[sl], t_of[sl])
        cmass = np.cumsum(wt.reshape(len(wt), len(x1), nl).sum(2) if nl > 1 else wt, axis=1)
        # every setting's refined range (the exact solver's rule)
        lo[sl], hi[sl], knee[sl] = ranges_from_cdf(x1, cmass)
    lower, upper = support(t_priors[0])
    lo, hi = np.maximum(lo, lower), np.minimum(hi, upper)                # inside the prior's support
    # the shared grid: the union of the ranges, at the finest setting's step in the mapped variable
    span = np.arcsinh((hi - lo) / knee)
    lo_u, hi_u, knee_u = float(lo.min()), float(hi.max()), float(knee.min())
    span_u = math.asinh((hi_u - lo_u) / knee_u)
    n_u = int(min(math.ceil((_N_SWEEP - 1) * span_u / span.min()) + 1, _N_SHARED_MAX))
    x2, w2 = sinh_grid(lo_u, hi_u, knee_u, n_u, hard_ends(t_priors[0], lo_u, hi_u))
    sig = np.repeat(x2, nl)                                             # (G,)
    f2, mean, cov = factors(x2[None, :], w2[None, :], likelihood_stats(model, sig[:, None]))
    mm = mean @ c                                                       # (E, G)
    vv = np.einsum("i,egij,j->eg", c, cov, c) if p > 1 else cov[:, :, 0, 0] * (c[0] * c[0])
    if predictive:
        vv = vv + model.components[0].predictive_weight * sig**2
    vv = np.maximum(vv, 1e-300)
    out = {k: np.empty(S) for k in ("median", "q2.5", "q97.5", "mean", "sigma_mean")}
    out.update({f"prob_below_{t:g}": np.empty(S) for t in logt})
    # settings with the same effect prior have the same mixture components at every node: one table each
    counts = np.bincount(e_of, minlength=E)
    order = np.argsort(e_of, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    tabled = np.flatnonzero(counts >= _TABLE_MIN)
    redo, tables = [], []
    if tabled.size:
        points = np.array(list(logt.values()), float)
        q = np.asarray(QUANTILES, float)
        from .table_kernels import table_rows

        le, A, lt, B = f2
        for e in tabled:
            r = order[starts[e]:starts[e + 1]]
            W, keep, mom, a, b, step = table_rows(le[e], A[e], lt, B, t_of[r], mm[e], vv[e], sig, _TABLE_NODE_MIN,
                                                  _TABLE_REACH, _STEP_CONST, 2 * _HERMITE_M + 2, _UNDERFLOW)
            tables.append((r, mom, *_table_quantiles(W, mm[e, keep], np.sqrt(vv[e, keep]), a, b, step, q, points)))
        r, mom, probs, x0, h, left, right, ok = (np.concatenate(a) for a in zip(*tables))
        out["mean"][r], out["sigma_mean"][r] = mom[:, 0], mom[:, 1]
        for k, t in enumerate(logt):
            out[f"prob_below_{t:g}"][r] = probs[:, k]
        x = x0[ok] + h[ok, None] * _invert_hermite(left[ok], right[ok], q)
        for k, name in enumerate(("median", "q2.5", "q97.5")):
            out[name][r[ok]] = x[:, k]
        redo.append(r[~ok])
    # the others (and any whose quantile fell outside its table), a block at a time
    alone = np.concatenate([np.flatnonzero(counts[e_of] < _TABLE_MIN), *redo])
    rows = max(1, _BLOCK // len(sig))
    for i in range(0, len(alone), rows):
        r = alone[i:i + rows]
        w = _block_weights(f2, e_of[r], t_of[r])
        mr, vr = mm[e_of[r]], vv[e_of[r]]
        out["mean"][r] = np.einsum("sg,sg->s", w, mr)
        out["sigma_mean"][r] = w @ sig
        qs = mixture_quantiles(w, mr, vr, QUANTILES)
        for k, name in enumerate(("median", "q2.5", "q97.5")):
            out[name][r] = qs[:, k]
        for t, lt in logt.items():
            out[f"prob_below_{t:g}"][r] = _mixture_cdf(w, mr, vr, lt)
    return out


#: refined nodes per setting's own range: the mapped rule is accurate to ~1e-13 for the effect's
#: quantiles, CDF and mean and the SD's mean from 160 nodes (measured against the separate fits, which
#: agree with adaptive quadrature to ~1e-13; 130 nodes give ~3e-11, 110 nodes ~3e-9)
_N_SWEEP = 160
#: fewest settings sharing an effect prior for which one CDF table beats solving them one by one
_TABLE_MIN = 8
#: derivatives of the CDF used at each end of a table interval: the two-point Hermite interpolant has
#: degree 2 * _HERMITE_M + 1
_HERMITE_M = 7
#: max |He_15(z) phi(z)| (He: probabilists' Hermite polynomial; tested): with the SD s of a normal
#: component, its CDF's 16th derivative is at most this / s^16
_HERMITE_BOUND = 1.977e5
#: interpolation error allowed per table interval and unit of a component's weight
_TABLE_TOL = 1e-16
#: the table step: the two-point Hermite interpolant's error on an interval of length h is at most
#: (h/2)^(2M+2) / (2M+2)! * max|F^(2M+2)|, and max|F^(2M+2)| = _HERMITE_BOUND / s^(2M+2) for a normal
#: component of SD s; so with each component's largest weight wmax (in any row), the step
#: h = _STEP_CONST * min_g s_g wmax_g^(-1/(2M+2)) keeps every component's error times its weight below
#: _TABLE_TOL (about 0.6-0.75 of the narrowest component's SD)
_STEP_CONST = 2.0 * (math.factorial(2 * _HERMITE_M + 2) * _TABLE_TOL / _HERMITE_BOUND) ** (1.0 / (2 * _HERMITE_M + 2))
#: the table spans mean +- this many SDs of every row; a quantile outside it (a heavy-tailed mixture)
#: sends its row to the direct solver
_TABLE_REACH = 3.5
#: the shared grid's node count is capped here (a sweep over wildly different priors costs more nodes)
_N_SHARED_MAX = 2000
#: a node below this weight in every row of a table is left out of it (rows sum to 1)
_TABLE_NODE_MIN = 1e-14
#: most points in one table (a table whose rows' effects differ wildly costs more points)
_TABLE_MAX_POINTS = 4096


def _table_quantiles(W, m, s, a, b, step, q, points):
    """CDFs at ``points`` and the quantile brackets of the mixtures ``sum_g W[r, g] N(m[g], s[g]^2)``
    (same components, one row of weights per setting), from one table of their CDF on [a, b].

    ``a``, ``b`` span mean +- 3.5 SD of every row and ``step`` keeps the degree-15 two-point Hermite
    interpolant of every component's CDF within 1e-16 per unit weight (:data:`_STEP_CONST`), so each
    mixture's interpolant errs by less than ~1e-14 in probability. The CDF is an exact sum at every
    table point; its first 7 derivatives are exact sums at the ends of the intervals that hold a
    quantile. Returns (CDFs at ``points`` (S, len(points)), x0 (S, nq), h (S,), left (S, nq, 8),
    right (S, nq, 8), ok (S,)): quantile ``j`` of row ``r`` is ``x0 + h t`` with ``t`` from
    :func:`_invert_hermite` on the Taylor coefficients ``left`` and ``right``; a row whose quantile
    falls outside the table is not ok (the caller solves it directly).
    """
    from .table_kernels import brackets, derivative_kernels, interval_ends

    S, M = len(W), _HERMITE_M
    J = int(min(max(math.ceil((b - a) / step), 4), _TABLE_MAX_POINTS - 1)) + 1
    h = (b - a) / (J - 1)
    x = np.concatenate([a + h * np.arange(J), points])
    C = W @ special.ndtr((x[None, :] - m[:, None]) / s[:, None])
    F = np.ascontiguousarray(C[:, :J])
    jc, ok, need, il = brackets(F, q)
    D = (W @ derivative_kernels(x[need], m, s, h, M).reshape(len(m), -1)).reshape(S, M, len(need))
    left, right = interval_ends(F, D, jc, il)
    return C[:, J:], x[jc], np.full(S, h), left, right, ok


def _invert_hermite(a: np.ndarray, b: np.ndarray, q) -> np.ndarray:
    """Solve ``P(t) = q`` on [0, 1] for every interval at once, where ``P`` is the two-point Hermite
    interpolant with Taylor coefficients ``a[..., k]`` at ``t = 0`` and ``b[..., k]`` at ``t = 1``
    (``k = 0..M``; for the table, ``h^k F^(k) / k!``): ``P(t) = (1-t)^(M+1) A(t) + t^(M+1) B(1-t)``,
    with ``A`` and ``B`` the degree-``M`` polynomials that match the Taylor series at each end
    (:func:`~sclcmeta.engine.table_kernels.invert_hermite` solves it). Returns ``t`` (``a.shape[:-1]``).

    Newton converges quadratically: the error left after a step ``d`` is ~ ``C d^2`` with
    ``C = |P''/2P'| = h |f'/2f| < 1`` on a table interval (``h`` is below the components' SDs), so a
    step below 1e-6 leaves less than 1e-12 of the interval (~1e-14 in x).
    """
    from .table_kernels import invert_hermite

    M = a.shape[-1] - 1
    shape = a.shape[:-1]
    L = _two_point_matrix(M)
    alpha = np.ascontiguousarray(a.reshape(-1, M + 1) @ L)
    beta = np.ascontiguousarray((b.reshape(-1, M + 1) * (-1.0) ** np.arange(M + 1)) @ L)
    qq = np.ascontiguousarray(np.broadcast_to(np.asarray(q, float), shape).ravel())
    return invert_hermite(alpha, beta, qq, 1e-6, 1e-14).reshape(shape)


@functools.lru_cache(maxsize=None)
def _two_point_matrix(M: int) -> np.ndarray:
    """``L[j, k] = C(M + k - j, k - j)``: Taylor coefficients ``a`` at an end of the interval give that
    end's polynomial in the two-point Hermite form as ``a @ L`` (the series of ``(1 - t)^-(M+1)``)."""
    L = np.array([[math.comb(M + k - j, k - j) if k >= j else 0 for k in range(M + 1)] for j in range(M + 1)], float)
    L.flags.writeable = False
    return L


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

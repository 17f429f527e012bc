"""Exact posterior for Gaussian models by numerical integration over the variance parameters.

Given the variance parameters ``sigma = (sigma_1..sigma_m)`` (m <= 3), the model
``y ~ N(X b, S + sum sigma_j^2 K_j)`` with normal (or flat) priors on ``b`` is conjugate: ``b``
has a Gaussian conditional posterior and the marginal likelihood ``p(y | sigma)`` is closed form.
So ``p(sigma | y)`` is evaluated on a product grid (two passes: locate the mass, then refine),
and every marginal of interest is a finite mixture of normals over the grid -- the approach of
R's bayesmeta (Röver 2020, J Stat Softw 93(6)) extended to several variance components.

A Student-t prior on one coefficient is handled as a normal scale mixture over its precision
multiplier ``lambda ~ Gamma(df/2, df/2)``, integrated by generalized Gauss-Laguerre quadrature.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import special

from ..errors import SpecError
from ..priors import Prior, PriorSet
from .gaussian import GaussianModel
from .reference_priors import check_propriety, variance_logprior

_N_FIRST = 96
_N_FINAL = {1: 480, 2: 110, 3: 36}
_N_LAGUERRE = 40


_QTOL = 1e-13  # brentq x-tolerance, relative to the marginal's scale: CDF error << 1e-6 in probability


def _hdi_from(quantile, pdf, prob: float, boundary_density: float | None) -> tuple[float, float]:
    """Shortest interval of probability ``prob`` of a unimodal density, by root finding on the CDF.

    The interval ``[Q(a), Q(a + prob)]`` is shortest where the density is equal at both ends, so
    ``a`` solves ``pdf(Q(a + prob)) = pdf(Q(a))`` (``brentq``; ``Q`` is the CDF inverted by root
    finding, so the mass is ``prob`` to the quantiles' accuracy). ``boundary_density`` is the density
    at the lower end of a bounded support (``None`` when unbounded): if it is at least the density at
    ``Q(prob)`` the density decreases from the boundary and the interval starts there (e.g. tau with
    its mode at 0).
    """
    from scipy.optimize import brentq

    if not 0.0 < prob < 1.0:
        raise ValueError(f"prob={prob!r} must be strictly between 0 and 1, e.g. 0.95.")
    q = lambda a: float(np.asarray(quantile(a)).ravel()[0])
    d = lambda x: float(np.asarray(pdf(x)).ravel()[0])
    if boundary_density is not None and boundary_density >= d(q(prob)):
        return q(0.0), q(prob)
    eps = 1e-12

    def g(a):
        return d(q(a + prob)) - d(q(a))

    a_lo, a_hi = (0.0 if boundary_density is not None else eps), 1.0 - prob - eps
    g_lo, g_hi = g(a_lo), g(a_hi)
    if g_lo > 0 > g_hi:
        a = brentq(g, a_lo, a_hi, xtol=1e-14, rtol=1e-12, maxiter=200)
    else:  # not unimodal enough for the equal-density condition: minimise the width directly
        from scipy.optimize import minimize_scalar

        a = minimize_scalar(lambda a: q(a + prob) - q(a), bounds=(a_lo, a_hi), method="bounded",
                            options={"xatol": 1e-12}).x
    return q(a), q(a + prob)


@dataclass
class Mixture:
    """A univariate normal mixture ``sum_g w_g N(m_g, v_g)`` (one marginal posterior).

    ``quantile`` inverts the CDF by root finding (``brentq``), so ``cdf(quantile(q))`` equals ``q``
    to about 1e-12 in probability, far into the tails; ``mode`` and ``hdi`` (shortest interval) are
    computed on the exact mixture density.
    """

    w: np.ndarray
    m: np.ndarray
    v: np.ndarray

    _CHUNK = 2_000_000  # elements of the (x, component) array evaluated at once

    def _chunks(self, x):
        step = max(1, self._CHUNK // max(len(self.w), 1))
        for i in range(0, len(x), step):
            yield slice(i, i + step)

    def cdf(self, x):
        x = np.atleast_1d(np.asarray(x, float))
        s = np.sqrt(self.v)
        out = np.empty(x.shape)
        for sl in self._chunks(x):
            out[sl] = (self.w[None, :] * special.ndtr((x[sl, None] - self.m[None, :]) / s[None, :])).sum(1)
        return out

    def pdf(self, x):
        x = np.atleast_1d(np.asarray(x, float))
        s = np.sqrt(self.v)
        out = np.empty(x.shape)
        for sl in self._chunks(x):
            z = (x[sl, None] - self.m[None, :]) / s[None, :]
            out[sl] = (self.w[None, :] * np.exp(-0.5 * z * z) / (s[None, :] * math.sqrt(2 * math.pi))).sum(1)
        return out

    def _dpdf(self, x: float) -> float:
        """Derivative of the density at a scalar ``x``."""
        s = np.sqrt(self.v)
        z = (x - self.m) / s
        return float(np.sum(self.w * np.exp(-0.5 * z * z) / (s * math.sqrt(2 * math.pi)) * (-z / s)))

    @property
    def mean(self) -> float:
        return float(self.w @ self.m)

    @property
    def sd(self) -> float:
        return float(math.sqrt(self.w @ (self.v + self.m**2) - self.mean**2))

    def _support(self) -> tuple[float, float]:
        s = np.sqrt(self.v)
        return float((self.m - 10 * s).min()), float((self.m + 10 * s).max())

    @cached_property
    def _table(self) -> tuple[np.ndarray, np.ndarray]:
        """CDF on a coarse table (mean +/- 12 sd and the support ends): brackets for the root finder."""
        lo, hi = self._support()
        x = np.unique(np.clip(np.concatenate([[lo, hi], self.mean + self.sd * np.linspace(-12, 12, 97)]), lo, hi))
        return x, self.cdf(x)

    def quantile(self, q):
        """Quantiles by inverting the CDF with ``brentq`` (bracketed by a coarse CDF table)."""
        from scipy.optimize import brentq

        q = np.atleast_1d(np.asarray(q, float))
        xt, ct = self._table
        lo_s, hi_s = xt[0], xt[-1]
        tol = _QTOL * max(self.sd, 1e-300)
        out = np.empty(q.shape)
        for i, qi in enumerate(q.ravel()):
            if not np.isfinite(qi):
                out.flat[i] = np.nan
            elif qi <= ct[0]:
                out.flat[i] = lo_s
            elif qi >= ct[-1]:
                out.flat[i] = hi_s
            else:
                j = int(np.searchsorted(ct, qi))  # ct[j-1] < qi <= ct[j]
                a, b = xt[j - 1], xt[j]
                out.flat[i] = b if ct[j] == qi else brentq(
                    lambda x, qi=qi: float(self.cdf(x)[0]) - qi, a, b, xtol=tol, rtol=4 * np.finfo(float).eps, maxiter=200)
        return out

    def mode(self) -> float:
        """Posterior mode: the largest density on a table, polished by root finding on the derivative."""
        from scipy.optimize import brentq

        x = np.linspace(*np.asarray(self.quantile([1e-4, 1 - 1e-4])), 2001)
        i = int(np.argmax(self.pdf(x)))
        a, b = x[max(i - 1, 0)], x[min(i + 1, len(x) - 1)]
        if self._dpdf(a) > 0 > self._dpdf(b):
            return float(brentq(self._dpdf, a, b, xtol=_QTOL * max(self.sd, 1e-300), rtol=4 * np.finfo(float).eps))
        return float(x[i])

    def hdi(self, prob: float = 0.95) -> tuple[float, float]:
        """Shortest (highest-density) interval of probability ``prob`` (bayesmeta's "shortest" interval).

        Assumes a unimodal density (what the normal-normal model gives); see :func:`_hdi_from`.
        """
        return _hdi_from(self.quantile, self.pdf, prob, None)

    def prob_below(self, x: float) -> float:
        return float(self.cdf(x)[0])

    def sample(self, n, rng):
        g = rng.choice(len(self.w), size=n, p=self.w / self.w.sum())
        return rng.normal(self.m[g], np.sqrt(self.v[g]))


@dataclass
class GridMarginal:
    """Marginal posterior of a variance parameter on its grid (trapezoid weights included).

    The density at the nodes (:meth:`density`) is interpolated by a cubic spline; its antiderivative
    is the CDF (so :meth:`quantile` inverts a smooth CDF with ``brentq``: ``cdf(quantile(q)) = q`` to
    about 1e-12). ``mean``/``sd`` are the grid sums. The support starts at the first node (0 for a
    heterogeneity SD whose posterior reaches 0) and ends at the last.
    """

    x: np.ndarray
    w: np.ndarray  # probability mass at each node

    @cached_property
    def _spline(self):
        """(density interpolant, normalised CDF as a piecewise polynomial) on [x[0], x[-1]]."""
        from scipy.interpolate import CubicSpline, PchipInterpolator

        x, d = np.asarray(self.x, float), self.density()
        if len(x) < 2:
            return None, None
        f = CubicSpline(x, d, bc_type="not-a-knot") if len(x) >= 4 else PchipInterpolator(x, d)
        # a cubic spline can dip below 0 where the density is ~0; use the (positive) PCHIP then
        fine = np.linspace(0, 1, 9)[1:-1]
        probe = (x[:-1, None] + np.diff(x)[:, None] * fine[None, :]).ravel()
        if np.any(f(probe) < -1e-9 * d.max()):
            f = PchipInterpolator(x, d)
        F = f.antiderivative()
        total = float(F(x[-1]) - F(x[0]))
        return f, (F, float(F(x[0])), total)

    def _cdf_raw(self, t):
        F, F0, total = self._spline[1]
        t = np.clip(t, self.x[0], self.x[-1])
        return np.clip((F(t) - F0) / total, 0.0, 1.0)

    def cdf(self, t):
        t_arr = np.asarray(t, float)
        if self._spline[0] is None:
            out = np.where(t_arr >= self.x[0], 1.0, 0.0)
        else:
            out = self._cdf_raw(t_arr)
            out = np.where(t_arr <= self.x[0], 0.0, np.where(t_arr >= self.x[-1], 1.0, out))
        return out if t_arr.ndim else float(out)

    @cached_property
    def _node_cdf(self) -> np.ndarray:
        c = self._cdf_raw(self.x)
        return np.maximum.accumulate(c)

    def quantile(self, q):
        """Quantiles by inverting the spline CDF with ``brentq`` (bracketed by the grid nodes)."""
        from scipy.optimize import brentq

        q_arr = np.asarray(q, float)
        qs = np.atleast_1d(q_arr)
        out = np.empty(qs.shape)
        x = self.x
        if self._spline[0] is None:
            out[:] = x[0]
            return out if q_arr.ndim else float(out[0])
        c = self._node_cdf
        span = float(x[-1] - x[0]) or 1.0
        for i, qi in enumerate(qs.ravel()):
            if not np.isfinite(qi):
                out.flat[i] = np.nan
            elif qi <= 0.0:
                out.flat[i] = x[0]
            elif qi >= 1.0:
                out.flat[i] = x[-1]
            else:
                j = int(np.clip(np.searchsorted(c, qi), 1, len(x) - 1))
                a, b = x[j - 1], x[j]
                fa, fb = float(self._cdf_raw(a)) - qi, float(self._cdf_raw(b)) - qi
                if fa >= 0:
                    out.flat[i] = a
                elif fb <= 0:
                    out.flat[i] = b
                else:
                    out.flat[i] = brentq(lambda t, qi=qi: float(self._cdf_raw(t)) - qi, a, b,
                                         xtol=_QTOL * span, rtol=4 * np.finfo(float).eps, maxiter=200)
        return out if q_arr.ndim else float(out[0])

    @property
    def mean(self) -> float:
        return float(self.w @ self.x)

    @property
    def sd(self) -> float:
        return float(math.sqrt(max(self.w @ self.x**2 - self.mean**2, 0.0)))

    def density(self):
        """Density on the grid (mass / local spacing), for plots."""
        dx = np.diff(self.x)
        width = np.zeros_like(self.x)
        width[:-1] += dx / 2
        width[1:] += dx / 2
        return self.w / np.where(width > 0, width, np.inf)

    def pdf(self, t):
        """Density: the spline through :meth:`density` (0 outside the grid), normalised to integrate to 1."""
        t = np.atleast_1d(np.asarray(t, float))
        f = self._spline[0]
        if f is None:
            return np.zeros(t.shape)
        inside = (t >= self.x[0]) & (t <= self.x[-1])
        val = np.maximum(f(np.clip(t, self.x[0], self.x[-1])), 0.0) / self._spline[1][2]
        return np.where(inside, val, 0.0)

    def mode(self) -> float:
        """Posterior mode: maximum of the density spline (its critical points and the grid ends)."""
        f = self._spline[0]
        if f is None:
            return float(self.x[0])
        cand = [self.x[0], self.x[-1]]
        try:
            r = f.derivative().roots(extrapolate=False)
            cand += [float(v) for v in np.atleast_1d(r) if np.isfinite(v)]
        except (ValueError, AttributeError):  # pragma: no cover - PPoly always has roots()
            pass
        i = int(np.argmax(self.density()))
        cand.append(float(self.x[i]))
        cand = np.asarray(cand)
        return float(cand[np.argmax(f(cand))])

    def hdi(self, prob: float = 0.95) -> tuple[float, float]:
        """Shortest interval of probability ``prob`` (starts at the lower grid end when the mode is there)."""
        return _hdi_from(self.quantile, self.pdf, prob, float(self.pdf(self.x[0])[0]))


def _coef_priors(model: GaussianModel, priors: PriorSet) -> list[Prior]:
    return [getattr(priors, role) for role in model.coef_roles]


class ExactPosterior:
    """Result of :func:`solve_exact`: mixtures for coefficients, predictions and study effects."""

    def __init__(self, model, priors, nodes, weights, means, covs, theta_m, theta_v, comp_names):
        self.model = model
        self.priors = priors
        self.nodes = nodes            # (G, m) variance parameters at the grid nodes
        self.weights = weights        # (G,) posterior mass
        self.means = means            # (G, p) conditional posterior means of b
        self.covs = covs              # (G, p, p)
        self.theta_m = theta_m        # (G, k) conditional means of the study effects
        self.theta_v = theta_v        # (G, k) conditional variances
        self.component_names = comp_names

    def coef(self, j: int | str) -> Mixture:
        if isinstance(j, str):
            j = self.model.coef_names.index(j)
        return Mixture(self.weights, self.means[:, j], self.covs[:, j, j])

    def linear(self, c: np.ndarray, extra_var: np.ndarray | float = 0.0) -> Mixture:
        """Marginal of ``c' b`` (plus independent normal noise of variance ``extra_var`` per node)."""
        c = np.asarray(c, float)
        m = self.means @ c
        v = np.einsum("i,gij,j->g", c, self.covs, c) + extra_var
        return Mixture(self.weights, m, np.maximum(v, 1e-300))

    def predictive(self) -> Mixture:
        """Effect in a new study: ``x_new' b + sum_j w_j sigma_j^2`` noise."""
        extra = sum(c.predictive_weight * self.nodes[:, j] ** 2
                    for j, c in enumerate(self.model.components)) if self.model.components else 0.0
        return self.linear(self.model.x_new, extra)

    def theta(self, i: int) -> Mixture:
        return Mixture(self.weights, self.theta_m[:, i], np.maximum(self.theta_v[:, i], 1e-300))

    def variance_marginal(self, j: int | str) -> GridMarginal:
        if isinstance(j, str):
            j = self.component_names.index(j)
        x = self.nodes[:, j]
        order = np.argsort(x, kind="stable")
        xs, ws = x[order], self.weights[order]
        ux, inv = np.unique(xs, return_inverse=True)
        wsum = np.bincount(inv, weights=ws)
        return GridMarginal(ux, wsum / wsum.sum())

    def sample(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Exact draws (for plots and for the exact-vs-MCMC comparison)."""
        g = rng.choice(len(self.weights), size=n, p=self.weights)
        L = np.linalg.cholesky(self.covs[g] + 1e-15 * np.eye(self.model.p))
        b = self.means[g] + np.einsum("nij,nj->ni", L, rng.standard_normal((n, self.model.p)))
        out = {name: self.nodes[g, j] for j, name in enumerate(self.component_names)}
        out["b"] = b
        return out


def _laguerre(df: float, n: int = _N_LAGUERRE):
    """Nodes/weights for E[f(lambda)], lambda ~ Gamma(shape=df/2, rate=df/2)."""
    a = df / 2.0
    x, w = special.roots_genlaguerre(n, a - 1.0)
    lam = x / a
    w = w / special.gamma(a)
    return lam, w / w.sum()


def _evaluate(model: GaussianModel, priors: PriorSet, sig: np.ndarray, lam_var: np.ndarray | None,
              t_index: int | None):
    """Log posterior (unnormalised, over sigma) and conditional moments at grid nodes ``sig`` (G, m).

    ``lam_var`` multiplies the prior variance of coefficient ``t_index`` (scale mixture); it is a
    per-node value (G,), and its quadrature weight is applied by the caller.
    """
    y, X, S = model.y, model.X, model.S
    G, k, p = sig.shape[0], model.k, model.p
    Sigma = np.broadcast_to(S, (G, k, k)).copy()
    Su = np.zeros((G, k, k))
    for j, comp in enumerate(model.components):
        Su += (sig[:, j] ** 2)[:, None, None] * comp.K[None]
    Sigma += Su
    L = np.linalg.cholesky(Sigma)
    logdet = 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum(1)
    Sinv = np.linalg.inv(Sigma)
    cp = _coef_priors(model, priors)
    m0 = np.array([0.0 if pr.family == "flat" else pr["mean"] for pr in cp]) if p else np.zeros(0)
    prec0 = np.zeros((G, p, p))
    for j, pr in enumerate(cp):
        if pr.family == "flat":   # improper uniform: zero prior precision (its constant drops out below)
            continue
        sd = pr["sd"] if pr.family == "normal" else pr["scale"]
        v = sd**2
        prec0[:, j, j] = 1.0 / (v / lam_var if (lam_var is not None and j == t_index) else v)
    XtSi = np.einsum("ki,gkl->gil", X, Sinv)          # (G, p, k)
    Lam = prec0 + XtSi @ X                              # (G, p, p)
    rhs = (prec0 @ m0) + XtSi @ y                       # (G, p)
    cov = np.linalg.inv(Lam)
    mean = np.einsum("gij,gj->gi", cov, rhs)
    ySy = np.einsum("k,gkl,l->g", y, Sinv, y)
    mLm = np.einsum("gi,gij,gj->g", mean, Lam, mean)
    m0P = np.einsum("i,gij,j->g", m0, prec0, m0)
    _, logdetLam = np.linalg.slogdet(Lam)
    proper = np.array([pr.family != "flat" for pr in cp], bool)
    logdetP0 = np.log(np.diagonal(prec0, axis1=1, axis2=2)[:, proper]).sum(1)
    loglik = -0.5 * (logdet + ySy + m0P - mLm + logdetLam - logdetP0)
    # shrunken study effects theta = X b + delta, delta | b, y ~ N(Su Sinv (y - X b), Su - Su Sinv Su)
    SuSi = Su @ Sinv
    SSi = np.einsum("kl,glm->gkm", S, Sinv)
    A = SSi @ X                                          # (G, k, p)
    th_m = np.einsum("gkl,l->gk", SuSi, y) + np.einsum("gkp,gp->gk", A, mean)
    th_v = np.diagonal(Su - SuSi @ Su, axis1=1, axis2=2) + np.einsum("gkp,gpq,gkq->gk", A, cov, A)
    return loglik, mean, cov, th_m, th_v


def _grid_1d(prior: Prior, scale: float, lo: float | None, hi: float | None, n: int,
             knee: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and trapezoid widths for one variance parameter.

    First pass (``lo is None``): a map of [0, inf) (or the uniform prior's support) dense near 0.
    Refinement: nodes on [lo, hi] spaced evenly in ``log(x - lo + knee)``, so a heavy right tail and a
    mode near zero are both resolved (relative spacing about ``log(range / knee) / n``).
    """
    if prior.family == "fixed":   # tau held at a value: one node
        return np.array([prior["value"]]), np.ones(1)
    upper = prior["upper"] if prior.family == "uniform" else np.inf
    if lo is None:
        u = np.linspace(0.0, 1.0, n + 1)[:-1]
        x = (prior["lower"] if prior.family == "uniform" else 0.0) + scale * u / (1.0 - u) ** 2
        if np.isfinite(upper):
            x = np.unique(np.append(x[x < upper], upper))
    else:
        hi = min(hi, upper)
        knee = knee if knee and knee > 0 else max((hi - lo) * 1e-3, 1e-9)
        s = np.linspace(np.log(knee), np.log(hi - lo + knee), n)
        x = lo + np.exp(s) - knee
        x[0], x[-1] = lo, hi
    w = np.zeros_like(x)
    dx = np.diff(x)
    w[:-1] += dx / 2
    w[1:] += dx / 2
    return x, w


def _grid_posterior(model, priors, vpriors, scale, lam, lam_w, t_idx, ranges, n):
    """Posterior weights of the variance-parameter grid (x Student-t mixing nodes) and the conditional moments."""
    axes, widths = [], []
    for pr, rg in zip(vpriors, ranges):
        x, w = _grid_1d(pr, scale, rg[0], rg[1], n, rg[2] if len(rg) > 2 else None)
        axes.append(x)
        widths.append(w)
    if axes:
        mesh = np.meshgrid(*axes, indexing="ij")
        sig = np.stack([m.ravel() for m in mesh], axis=1)
        wmesh = np.meshgrid(*widths, indexing="ij")
        width = np.prod(np.stack([m.ravel() for m in wmesh], 1), 1)
        logprior = sum(variance_logprior(pr, sig[:, j], model) for j, pr in enumerate(vpriors))
    else:
        sig = np.zeros((1, 0))
        width = np.ones(1)
        logprior = np.zeros(1)
    G0 = sig.shape[0]
    # replicate over the Student-t mixing nodes
    sig_r = np.repeat(sig, len(lam), axis=0)
    lam_r = np.tile(lam, G0)
    logw_lam = np.tile(np.log(lam_w), G0)
    ll, mean, cov, thm, thv = _evaluate(model, priors, sig_r, lam_r if t_idx else None, t_idx[0] if t_idx else None)
    with np.errstate(divide="ignore"):
        lp = ll + np.repeat(logprior + np.log(width), len(lam)) + logw_lam
    lp = np.where(np.isfinite(lp), lp, -np.inf)
    w = np.exp(lp - lp.max())
    w /= w.sum()
    return sig_r, w, mean, cov, thm, thv


def _refined_ranges(sig: np.ndarray, w: np.ndarray, m: int) -> list[tuple[float, float, float]]:
    """Per variance parameter: the range holding all but 1e-7 / 1e-9 of the first pass's mass, and a step."""
    ranges = []
    for j in range(m):
        order = np.argsort(sig[:, j])
        c = np.cumsum(w[order])
        xs = sig[order, j]
        lo = xs[np.searchsorted(c, 1e-7)]
        hi_i = min(np.searchsorted(c, 1 - 1e-9) + 1, len(xs) - 1)
        hi = xs[hi_i]
        ux = np.unique(xs)
        if len(ux) == 1:          # a fixed value: nothing to refine
            ranges.append((float(ux[0]), float(ux[0]), 1e-9))
            continue
        # widen to the neighbouring first-pass nodes so no mass is cut off
        lo = 0.0 if lo <= ux[1] else ux[max(np.searchsorted(ux, lo) - 1, 0)]
        hi = ux[min(np.searchsorted(ux, hi) + 1, len(ux) - 1)]
        q10 = xs[np.searchsorted(c, 0.1)]
        ranges.append((lo, max(hi, lo + 1e-9), max(q10 - lo, (hi - lo) * 1e-4, 1e-9)))
    return ranges


def solve_exact(model: GaussianModel, priors: PriorSet) -> ExactPosterior:
    """Exact posterior of a :class:`GaussianModel` under a :class:`PriorSet`.

    Raises :class:`~sclcmeta.errors.SpecError` when the model is outside the exact solver's reach
    (more than 3 variance components, or Student-t priors on more than one coefficient).

    Examples
    --------
    >>> import numpy as np
    >>> from sclcmeta.engine import GaussianModel, solve_exact
    >>> from sclcmeta.priors import default_prior_set
    >>> m = GaussianModel.random_effects([-0.3, -0.1, -0.5], [0.2, 0.15, 0.25])
    >>> post = solve_exact(m, default_prior_set())
    >>> round(float(post.coef("mu").quantile(0.5)[0]), 2)
    -0.24
    """
    comps = model.components
    if len(comps) > 3:
        raise SpecError(f"the exact solver integrates at most 3 variance parameters; this model has {len(comps)}. "
                        "Use method = 'mcmc'.")
    cp = _coef_priors(model, priors)
    t_idx = [j for j, pr in enumerate(cp) if pr.family == "student_t"]
    if len(t_idx) > 1:
        raise SpecError("the exact solver handles a Student-t prior on one coefficient only; use normal priors "
                        "for the others or method = 'mcmc'.")
    for pr in cp:
        if pr.family not in ("normal", "student_t", "flat"):
            raise SpecError(f"coefficient prior {pr} is not an effect prior.")
    check_propriety(model, priors)
    vpriors = [getattr(priors, c.prior_role) for c in comps]
    scale = float(np.std(model.y) + np.median(model.se))
    if t_idx:
        lam, lam_w = _laguerre(cp[t_idx[0]]["df"])
    else:
        lam, lam_w = np.ones(1), np.ones(1)

    def run(ranges, n):
        return _grid_posterior(model, priors, vpriors, scale, lam, lam_w, t_idx, ranges, n)

    if comps:
        sig, w, *_ = run([(None, None, None)] * len(comps), _N_FIRST)
        sig, w, mean, cov, thm, thv = run(_refined_ranges(sig, w, len(vpriors)), _N_FINAL[len(comps)])
    else:
        sig, w, mean, cov, thm, thv = run([], 1)
    keep = w > 1e-16 * w.max()
    names = tuple(c.name for c in comps)
    return ExactPosterior(model, priors, sig[keep], w[keep] / w[keep].sum(), mean[keep], cov[keep],
                          thm[keep], thv[keep], names)

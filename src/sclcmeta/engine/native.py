"""The Gaussian family's log density and gradient, hand-written in numba and cached on disk.

nutpie normally compiles a PyMC graph through PyTensor into numba; that costs 12-20 s per process,
because generated code cannot use numba's disk cache. Every sclcmeta model is one
:class:`~sclcmeta.engine.gaussian.GaussianModel`, so one fixed function serves them all:

    logp(b, z) = log N(y | X b, S + sum_j sigma_j(z_j)^2 K_j) + sum_i log p(b_i) + sum_j log N(z_j | 0, 1)

with ``sigma_j = Q_j(Phi(z_j))`` (the quantile function of its prior, exactly as in
:mod:`sclcmeta.engine.pymc_model`). It is written once below, compiled by numba with
``cache=True`` (compiled on first use on a machine, about 3 s per likelihood kind, then loaded from
numba's disk cache in milliseconds) and handed to nutpie as C callbacks. The model's numbers travel in one flat float64
buffer, so a new prior or new data of any shape is a new buffer, never a new compile.

The PyMC graph stays the reference: ``tests/test_native_logp.py`` checks this log density and its
gradient against PyTensor's automatic differentiation of :func:`build_pymc_model` for every prior
family, diagonal and dense models, networks and nested models.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numba as nb
import numpy as np

from ..priors import PriorSet
from .gaussian import GaussianModel

_LOG_2PI = math.log(2.0 * math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_SQRT2 = math.sqrt(2.0)
#: buffer header: total length, k, p, m, diagonal flag
_HEADER = 5


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _ndtri(q):
    """Standard normal quantile for 0 < q < 1 (Acklam's approximation + one Halley step)."""
    if q <= 0.0:
        return -np.inf
    if q >= 1.0:
        return np.inf
    if q < 0.02425:
        t = math.sqrt(-2.0 * math.log(q))
        x = (((((-7.784894002430293e-03 * t - 3.223964580411365e-01) * t - 2.400758277161838e+00) * t
               - 2.549732539343734e+00) * t + 4.374664141464968e+00) * t + 2.938163982698783e+00) / \
            ((((7.784695709041462e-03 * t + 3.224671290700398e-01) * t + 2.445134137142996e+00) * t
              + 3.754408661907416e+00) * t + 1.0)
    elif q > 1.0 - 0.02425:
        t = math.sqrt(-2.0 * math.log1p(-q))
        x = -(((((-7.784894002430293e-03 * t - 3.223964580411365e-01) * t - 2.400758277161838e+00) * t
                - 2.549732539343734e+00) * t + 4.374664141464968e+00) * t + 2.938163982698783e+00) / \
            ((((7.784695709041462e-03 * t + 3.224671290700398e-01) * t + 2.445134137142996e+00) * t
              + 3.754408661907416e+00) * t + 1.0)
    else:
        r = q - 0.5
        t = r * r
        x = (((((-3.969683028665376e+01 * t + 2.209460984245205e+02) * t - 2.759285104469687e+02) * t
               + 1.383577518672690e+02) * t - 3.066479806614716e+01) * t + 2.506628277459239e+00) * r / \
            (((((-5.447609879822406e+01 * t + 1.615858368580409e+02) * t - 1.556989798598866e+02) * t
               + 6.680131188771972e+01) * t - 1.328068155288572e+01) * t + 1.0)
    # Halley refinement against the exact CDF
    e = 0.5 * math.erfc(-x / _SQRT2) - q
    u = e * math.sqrt(2.0 * math.pi) * math.exp(0.5 * x * x)
    return x - u / (1.0 + 0.5 * x * u)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _scale(z, code, a, b):
    """``(sigma, d sigma / d z)`` for ``sigma = Q(Phi(z))`` under prior family ``code``.

    Each branch uses whichever of ``Phi(z)`` or ``1 - Phi(z)`` is small, so both tails keep full
    precision; beyond |z| ~ 37 a tail probability underflows and the result is infinite or zero,
    which the callback turns into a rejected proposal.
    """
    phi = _INV_SQRT_2PI * math.exp(-0.5 * z * z)
    lower = 0.5 * math.erfc(-z / _SQRT2)              # Phi(z)
    upper = 0.5 * math.erfc(z / _SQRT2)               # 1 - Phi(z)
    if code == 0:                                     # half-normal(a): a * Phi^-1((1 + Phi(z)) / 2)
        if z < -3.0:                                  # a sqrt(2) erfinv(Phi(z)) by its series, Phi(z) < 0.0014
            u = lower
            r = math.sqrt(math.pi / 2.0) * u * (1.0 + u * u * (math.pi / 12.0 + u * u * 7.0 * math.pi ** 2 / 480.0))
        else:
            r = -_ndtri(0.5 * upper)
        return a * r, a * 0.5 * math.exp(0.5 * (r * r - z * z))
    if code == 1:                                     # half-Cauchy(a): a * tan(pi/2 Phi(z))
        s = a * math.tan(0.5 * math.pi * lower) if z < 0.0 else a / math.tan(0.5 * math.pi * upper)
        return s, 0.5 * math.pi * (a + s * s / a) * phi
    if code == 2:                                     # uniform(a, b)
        return a + (b - a) * lower, (b - a) * phi
    if code == 3:                                     # log-normal on sigma^2: log sigma^2 ~ N(a, b)
        s = math.exp(0.5 * (a + b * z))
        return s, 0.5 * b * s
    lg = math.log1p(-lower) if z < 0.0 else math.log(upper)   # exponential(rate a): -log(1 - Phi(z)) / a
    return -lg / a, phi / (upper * a)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _coef_prior(x, code, mean, scale, df):
    """``(log density, derivative)`` of a normal (code 0) or Student-t (code 1) prior at ``x``."""
    z = (x - mean) / scale
    if code == 1:
        lp = (math.lgamma(0.5 * (df + 1.0)) - math.lgamma(0.5 * df) - 0.5 * math.log(df * math.pi)
              - math.log(scale) - 0.5 * (df + 1.0) * math.log1p(z * z / df))
        return lp, -(df + 1.0) * z / (scale * df * (1.0 + z * z / df))
    return -0.5 * z * z - math.log(scale) - 0.5 * _LOG_2PI, -z / scale


# The model arrives as the flat buffer described in `pack`. Scratch space is one float64 vector per call
# (sigma, dsigma/dz, dloglik/dsigma, residual, C^-1 r, and for dense models L, L^-1, C^-1). Plain loops
# and flat indexing throughout: numba compiles them several times faster than array expressions, and k
# is small.

@nb.njit(cache=True, nogil=True, error_model="numpy")
def _log_prior(x, buf, grad, work):
    """Priors of ``b`` and of ``z`` (standard normal); puts sigma_j and d sigma_j / d z_j in ``work``."""
    k, p, m = int(buf[1]), int(buf[2]), int(buf[3])
    ksz = k if buf[4] != 0.0 else k * k
    opc = _HEADER + k + k * p + ksz * (1 + m)
    ops = opc + 4 * p
    lp = 0.0
    for i in range(p):
        q = opc + 4 * i
        v, d = _coef_prior(x[i], int(buf[q]), buf[q + 1], buf[q + 2], buf[q + 3])
        lp += v
        grad[i] = d
    for j in range(m):
        z = x[p + j]
        q = ops + 4 * j
        s, ds = _scale(z, int(buf[q]), buf[q + 1], buf[q + 2])
        work[j] = s
        work[m + j] = ds
        lp -= 0.5 * (z * z + _LOG_2PI)
        grad[p + j] = -z
    return lp


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _residual_and_finish(x, buf, grad, work, quad_logdet):
    """Shared tail: adds X' alpha to the b-gradient and the chain rule through sigma(z)."""
    k, p, m = int(buf[1]), int(buf[2]), int(buf[3])
    oX = _HEADER + k
    oa = 3 * m + k
    for c in range(p):                                  # d/d b = X' C^-1 r
        acc = 0.0
        for i in range(k):
            acc += buf[oX + i * p + c] * work[oa + i]
        grad[c] += acc
    for j in range(m):
        grad[p + j] += work[2 * m + j] * work[m + j]
    return -0.5 * (k * _LOG_2PI + quad_logdet)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _logp_diagonal(x, buf, grad):
    """Log density of a model with diagonal ``S`` and ``K_j`` (independent estimates)."""
    k, p, m = int(buf[1]), int(buf[2]), int(buf[3])
    oy = _HEADER
    oX, oS = oy + k, oy + k + k * p
    oK = oS + k
    work = np.empty(3 * m + 2 * k)
    lp = _log_prior(x, buf, grad, work)
    orr, oa = 3 * m, 3 * m + k
    qd = 0.0
    for j in range(m):
        work[2 * m + j] = 0.0
    for i in range(k):
        r = buf[oy + i]
        for c in range(p):
            r -= buf[oX + i * p + c] * x[c]
        v = buf[oS + i]
        for j in range(m):
            v += work[j] * work[j] * buf[oK + j * k + i]
        if not v > 0.0:
            return -np.inf
        a = r / v
        work[orr + i] = r
        work[oa + i] = a
        qd += r * a + math.log(v)
        for j in range(m):                              # d/d sigma_j = sigma_j sum_i K_ji (a_i^2 - 1/v_i)
            work[2 * m + j] += work[j] * buf[oK + j * k + i] * (a * a - 1.0 / v)
    return lp + _residual_and_finish(x, buf, grad, work, qd)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def _logp_dense(x, buf, grad):
    """Log density of a model with a full ``S`` or ``K_j`` (multi-arm trials, nested subgroups, classes)."""
    k, p, m = int(buf[1]), int(buf[2]), int(buf[3])
    kk = k * k
    oy = _HEADER
    oX, oS = oy + k, oy + k + k * p
    oK = oS + kk
    work = np.empty(3 * m + 2 * k + 3 * kk)
    lp = _log_prior(x, buf, grad, work)
    orr, oa = 3 * m, 3 * m + k
    oL = oa + k
    oLi, oCi = oL + kk, oL + 2 * kk
    for i in range(k):
        r = buf[oy + i]
        for c in range(p):
            r -= buf[oX + i * p + c] * x[c]
        work[orr + i] = r
    qd = 0.0
    for c in range(k):                                  # Cholesky L of C = S + sum_j sigma_j^2 K_j
        for rr in range(c, k):
            acc = buf[oS + rr * k + c]
            for j in range(m):
                acc += work[j] * work[j] * buf[oK + j * kk + rr * k + c]
            for t in range(c):
                acc -= work[oL + rr * k + t] * work[oL + c * k + t]
            if rr == c:
                if not acc > 0.0:
                    return -np.inf
                work[oL + c * k + c] = math.sqrt(acc)
                qd += 2.0 * math.log(work[oL + c * k + c])
            else:
                work[oL + rr * k + c] = acc / work[oL + c * k + c]
    for c in range(k):                                  # L^-1 (lower) by forward substitution
        for rr in range(k):
            work[oLi + rr * k + c] = 0.0
        work[oLi + c * k + c] = 1.0 / work[oL + c * k + c]
        for rr in range(c + 1, k):
            acc = 0.0
            for t in range(c, rr):
                acc -= work[oL + rr * k + t] * work[oLi + t * k + c]
            work[oLi + rr * k + c] = acc / work[oL + rr * k + rr]
    for a in range(k):                                  # C^-1 = L^-T L^-1
        for c in range(a + 1):
            acc = 0.0
            for t in range(a, k):
                acc += work[oLi + t * k + a] * work[oLi + t * k + c]
            work[oCi + a * k + c] = acc
            work[oCi + c * k + a] = acc
    for a in range(k):                                  # alpha = C^-1 r
        acc = 0.0
        for c in range(k):
            acc += work[oCi + a * k + c] * work[orr + c]
        work[oa + a] = acc
        qd += work[orr + a] * acc
    for j in range(m):                                  # d/d sigma_j = sigma_j (a' K_j a - tr(C^-1 K_j))
        acc = 0.0
        for a in range(k):
            for c in range(k):
                acc += buf[oK + j * kk + a * k + c] * (work[oa + a] * work[oa + c] - work[oCi + a * k + c])
        work[2 * m + j] = work[j] * acc
    return lp + _residual_and_finish(x, buf, grad, work, qd)


def gaussian_logp(x: np.ndarray, buf: np.ndarray, grad: np.ndarray) -> float:
    """Log density at ``x = [b, z]`` of the model packed in ``buf``; writes the gradient to ``grad``."""
    return (_logp_diagonal if buf[4] != 0.0 else _logp_dense)(x, buf, grad)


_LOGP_SIG = nb.types.int64(nb.types.uint64, nb.types.CPointer(nb.types.double), nb.types.CPointer(nb.types.double),
                           nb.types.CPointer(nb.types.double), nb.types.voidptr)
_EXPAND_SIG = nb.types.int64(nb.types.uint64, nb.types.uint64, nb.types.CPointer(nb.types.double),
                             nb.types.CPointer(nb.types.double), nb.types.voidptr)


@nb.njit(cache=True, nogil=True)
def _buffer(user_data):
    """The packed model behind nutpie's user-data pointer (its first entry is its length)."""
    return nb.carray(user_data, (int(nb.carray(user_data, (1,), np.float64)[0]),), np.float64)


@nb.njit(cache=True, nogil=True)
def _finish(lp, grad, logp_ptr):
    """Hand ``lp`` to nutpie and return its status code."""
    nb.carray(logp_ptr, (1,))[0] = lp
    if not np.isfinite(lp):
        return 4
    for i in range(grad.shape[0]):
        if not np.isfinite(grad[i]):
            return 3
    return 0


# nutpie's logp callback returns 0 on success, 3 for a non-finite gradient and 4 for a non-finite log
# density (a rejected proposal), -1 for a buffer that does not fit the sampler. There is one per
# likelihood kind, each compiled only when first needed, so a session of diagonal models never pays for
# the dense code; both are plain functions so that numba keeps them in its disk cache.
@functools.cache
def _logp_callback(diagonal: bool):
    if diagonal:
        @nb.cfunc(_LOGP_SIG, cache=True, nogil=True, error_model="numpy")
        def logp_diagonal(dim, x_ptr, grad_ptr, logp_ptr, user_data):
            buf = _buffer(user_data)
            if dim != int(buf[2] + buf[3]):
                return -1
            grad = nb.carray(grad_ptr, (dim,))
            return _finish(_logp_diagonal(nb.carray(x_ptr, (dim,)), buf, grad), grad, logp_ptr)
        return logp_diagonal

    @nb.cfunc(_LOGP_SIG, cache=True, nogil=True, error_model="numpy")
    def logp_dense(dim, x_ptr, grad_ptr, logp_ptr, user_data):
        buf = _buffer(user_data)
        if dim != int(buf[2] + buf[3]):
            return -1
        grad = nb.carray(grad_ptr, (dim,))
        return _finish(_logp_dense(nb.carray(x_ptr, (dim,)), buf, grad), grad, logp_ptr)
    return logp_dense


@functools.cache
def _expand_callback():
    @nb.cfunc(_EXPAND_SIG, cache=True, nogil=True, error_model="numpy")
    def expand(dim, n_expanded, x_ptr, out_ptr, user_data):
        """The stored draw: ``[b, z, sigma]``; the sigma priors close the buffer."""
        buf = _buffer(user_data)
        n, p, m = buf.shape[0], int(buf[2]), int(buf[3])
        if dim != p + m or n_expanded != p + 2 * m:
            return -1
        x = nb.carray(x_ptr, (dim,))
        out = nb.carray(out_ptr, (n_expanded,))
        for i in range(dim):
            out[i] = x[i]
        for j in range(m):
            q = n - 4 * m + 4 * j
            out[dim + j] = _scale(x[p + j], int(buf[q]), buf[q + 1], buf[q + 2])[0]
        return 0
    return expand


def pack(model: GaussianModel, priors: PriorSet) -> np.ndarray:
    """The flat float64 buffer the callbacks read.

    Layout: ``[length, k, p, m, diagonal, y (k), X (k*p, row-major), S, K_1..K_m, prior_coef (p*4),
    prior_sigma (m*4)]``; ``S`` and each ``K_j`` hold the ``k`` diagonal entries (diagonal models) or
    all ``k*k`` entries; each prior is its ``[family code, p1, p2, p3]`` encoding.
    """
    diag = model.diagonal
    parts = [model.y, model.X.ravel(), np.diag(model.S) if diag else model.S.ravel()]
    parts += [np.diag(c.K) if diag else c.K.ravel() for c in model.components]
    parts += [getattr(priors, r).encode() for r in model.coef_roles]
    parts += [getattr(priors, c.prior_role).encode() for c in model.components]
    body = np.concatenate([np.asarray(a, float).ravel() for a in parts])
    head = np.array([_HEADER + body.size, model.k, model.p, len(model.components), float(diag)])
    return np.ascontiguousarray(np.concatenate([head, body]))


def logp_and_grad(model: GaussianModel, priors: PriorSet, x: np.ndarray) -> tuple[float, np.ndarray]:
    """Evaluate the log density and gradient at ``x = [b, z]`` (for tests and debugging)."""
    grad = np.zeros(model.p + len(model.components))
    lp = gaussian_logp(np.asarray(x, float), pack(model, priors), grad)
    return float(lp), grad


@dataclass(frozen=True)
class NativeLayout:
    """Names, shapes and coordinates nutpie needs to label the draws of one model structure."""

    names: list[str]
    slices: list[slice]
    shapes: list[tuple[int, ...]]
    coords: dict
    dims: dict
    n_dim: int
    n_expanded: int


def layout(model: GaussianModel) -> NativeLayout:
    """Draw layout of ``model``: ``b`` (dim ``coef``), then each ``z_<component>``, then each sigma."""
    import pandas as pd

    p, comps = model.p, [c.name for c in model.components]
    names = ["b"] + [f"z_{c}" for c in comps] + comps
    shapes = [(p,)] + [()] * (2 * len(comps))
    sizes = [p] + [1] * (2 * len(comps))
    starts = np.cumsum([0] + sizes)
    slices = [slice(int(a), int(a + n)) for a, n in zip(starts, sizes)]
    unconstrained = [f"b_{i}" for i in range(p)] + [f"z_{c}" for c in comps]
    coords = {"coef": pd.Index(list(model.coef_names)), "unconstrained_parameter": pd.Index(unconstrained)}
    return NativeLayout(names, slices, shapes, coords, {"b": ("coef",)}, p + len(comps), p + 2 * len(comps))


def compiled_model(model: GaussianModel, priors: PriorSet, lay: NativeLayout | None = None):
    """A nutpie model for ``model`` under ``priors`` that runs the disk-cached callbacks above.

    Examples
    --------
    >>> import nutpie
    >>> from sclcmeta.priors import default_prior_set
    >>> m = GaussianModel.random_effects([-0.4, -0.2, -0.5], [0.2, 0.15, 0.25])
    >>> idata = nutpie.sample(compiled_model(m, default_prior_set()), draws=200, tune=200, chains=2,
    ...                       seed=1, progress_bar=False)
    >>> sorted(idata.posterior.data_vars)
    ['b', 'tau', 'z_tau']
    """
    from nutpie.compile_pymc import CompiledPyMCModel

    lay = layout(model) if lay is None else lay
    buf = pack(model, priors)

    def initial_point(seed=None):
        # PyMC's default for nutpie: the support point (0) plus U(-1, 1) jitter on every free variable
        return np.random.default_rng(seed).uniform(-1.0, 1.0, lay.n_dim)

    return CompiledPyMCModel(
        _n_dim=lay.n_dim, dims=dict(lay.dims), _coords=dict(lay.coords),
        _shapes={n: s for n, s in zip(lay.names, lay.shapes)},
        compiled_logp_func=_logp_callback(model.diagonal), compiled_expand_func=_expand_callback(),
        initial_point_func=initial_point, shared_data={}, user_data=buf, n_expanded=lay.n_expanded,
        shape_info=(lay.names, lay.slices, lay.shapes), logp_func=None, expand_func=None)

"""Between-study variance estimators of the classical companions: DL, PM, ML, REML (and the GLS they share).

Formulas and references are in :mod:`sclcmeta.engine.classical`; these are its numerical kernels.
"""

from __future__ import annotations


import numpy as np
from scipy import optimize

from ..errors import SclcmetaError


class ClassicalInputError(SclcmetaError):
    """The inputs to a frequentist companion fit cannot be used as they stand."""

def gls(y, v, X, t):
    w = 1.0 / (v + t)
    XtW = X.T * w
    A = XtW @ X
    A_inv = np.linalg.inv(A)
    A_inv = 0.5 * (A_inv + A_inv.T)
    beta = A_inv @ (XtW @ y)
    P = np.diag(w) - XtW.T @ A_inv @ XtW
    return w, beta, A_inv, P, A


def qgen(y, v, X, t):
    w, beta, _, _, _ = gls(y, v, X, t)
    r = y - X @ beta
    return float(np.sum(w * r * r))


def score(y, v, X, t, method):
    w, beta, _, P, _ = gls(y, v, X, t)
    Py = P @ y
    yPPy = float(Py @ Py)
    if method == "REML":
        return 0.5 * (yPPy - float(np.trace(P)))
    return 0.5 * (yPPy - float(np.sum(w)))


def loglik(y, v, X, t, method):
    w, beta, _, _, A = gls(y, v, X, t)
    r = y - X @ beta
    ll = -0.5 * (np.sum(np.log(v + t)) + np.sum(w * r * r))
    if method == "REML":
        ll -= 0.5 * np.linalg.slogdet(A)[1]
    return float(ll)


def upper_bracket(f, start):
    """Smallest doubling of ``start`` at which ``f`` is negative (f decreasing at large t)."""
    u = start
    for _ in range(200):
        if f(u) < 0:
            return u
        u *= 2.0
    raise ClassicalInputError(  # pragma: no cover - needs absurd inputs
        "Could not bracket tau^2 (the estimating equation stays positive); check the scale of y and se.")


def scale(y, v):
    return max(float(np.var(y)) * 10.0, float(np.max(v)), 1e-8)


def tau2_dl(y, v, X):
    _, _, _, P0, _ = gls(y, v, X, 0.0)
    k, p = X.shape
    Q = float(y @ P0 @ y)
    return max(0.0, (Q - (k - p)) / float(np.trace(P0))), True


def tau2_pm(y, v, X):
    k, p = X.shape
    f = lambda t: qgen(y, v, X, t) - (k - p)  # noqa: E731
    if f(0.0) <= 0:
        return 0.0, True
    hi = upper_bracket(f, scale(y, v))
    root, info = optimize.brentq(f, 0.0, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, full_output=True)
    return float(root), bool(info.converged)


def tau2_lik(y, v, X, method):
    s = lambda t: score(y, v, X, t, method)  # noqa: E731
    hi = upper_bracket(s, scale(y, v))
    grid = np.concatenate([[0.0], np.geomspace(hi * 1e-10, hi, 241)])
    ll = np.array([loglik(y, v, X, t, method) for t in grid])
    i = int(np.argmax(ll))
    if i == 0 and s(0.0) <= 0:
        return 0.0, True
    lo_t, hi_t = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
    s_lo, s_hi = s(lo_t), s(hi_t)
    if s_lo > 0 > s_hi:
        root, info = optimize.brentq(s, lo_t, hi_t, xtol=1e-15, rtol=4 * np.finfo(float).eps, full_output=True)
        return float(root), bool(info.converged)
    opt = optimize.minimize_scalar(lambda t: -loglik(y, v, X, t, method), bounds=(lo_t, hi_t),
                                   method="bounded", options={"xatol": 1e-14})
    return float(opt.x), bool(opt.success)

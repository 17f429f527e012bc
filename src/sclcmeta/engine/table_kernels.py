"""Compiled inner loops of the prior sweep's CDF tables (:mod:`sclcmeta.engine.sweep`).

Small element-wise loops that numpy can only express as dozens of calls on arrays of a few thousand
numbers each (where the per-call overhead, not the arithmetic, is the cost): a table's weights and
moments, the interval that holds each quantile, the scaled derivatives of normal CDFs at those
intervals' ends, and the inversion of the two-point Hermite interpolant. The sums over grid nodes
that dominate the arithmetic stay BLAS matrix products and scipy's ``ndtr`` in the caller. numba
compiles the loops once per machine (``cache=True``: a few seconds on first use, then loaded from
numba's disk cache), as :mod:`sclcmeta.engine.native` does for the MCMC log density. They are checked against closed forms
in ``tests/engine/test_sweep.py`` (the derivatives against scipy's normal density and Hermite
polynomials, the interpolant against polynomials it must reproduce exactly), and through the sweep
against separate exact fits.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


@nb.njit(cache=True, nogil=True, error_model="numpy")
def derivative_kernels(x, m, s, h, M):
    """``h^k F^(k)(x_j) / k!`` for ``k = 1..M`` of every normal component ``N(m_g, s_g^2)``: (G, M, n).

    ``F^(k) = (-1)^(k-1) He_{k-1}(z) phi(z) / s^k`` with ``z = (x - m) / s`` (He: probabilists'
    Hermite polynomials, ``He_{k+1} = z He_k - k He_{k-1}``).
    """
    G, n = m.shape[0], x.shape[0]
    K = np.empty((G, M, n))
    for g in range(G):
        rho = h / s[g]
        inv = 1.0 / s[g]
        for j in range(n):
            z = (x[j] - m[g]) * inv
            fac = math.exp(-0.5 * z * z) * rho * _INV_SQRT_2PI        # (-1)^(k-1) phi rho^k / k!
            he_prev, he = 0.0, 1.0                                     # He_{k-2}, He_{k-1}
            for k in range(1, M + 1):
                K[g, k - 1, j] = he * fac
                he_prev, he = he, z * he - (k - 1) * he_prev
                fac *= -rho / (k + 1)
    return K


@nb.njit(cache=True, nogil=True, error_model="numpy")
def invert_hermite(alpha, beta, q, tol_step, tol_bracket):
    """Solve ``P(t) = q_i`` on [0, 1] for every row ``i``, ``P(t) = (1-t)^(M+1) A(t) + t^(M+1) B(1-t)``
    with ``A(t) = sum_k alpha[i, k] t^k`` and ``B(u) = sum_k beta[i, k] u^k`` (degree ``M``).

    Safeguarded Newton from linear interpolation between the ends: a step that leaves the bracket is
    replaced by bisection; a row is done after a Newton step below ``tol_step`` (the error left is of
    order its square) or when the bracket is below ``tol_bracket``.
    """
    N, M1 = alpha.shape
    M = M1 - 1
    out = np.empty(N)
    for i in range(N):
        F0, F1, qi = alpha[i, 0], beta[i, 0], q[i]             # P(0) = A(0), P(1) = B(0)
        t = (qi - F0) / (F1 - F0) if F1 > F0 else 0.5
        t = min(max(t, 0.0), 1.0)
        lo, hi = 0.0, 1.0
        for _ in range(100):
            u = 1.0 - t
            A, dA = alpha[i, M], 0.0
            B, dB = beta[i, M], 0.0
            for k in range(M - 1, -1, -1):   # Horner, value and derivative
                dA = dA * t + A
                A = A * t + alpha[i, k]
                dB = dB * u + B
                B = B * u + beta[i, k]
            um, tm = u**M, t**M
            P = um * u * A + tm * t * B - qi
            dP = um * (u * dA - (M + 1) * A) + tm * ((M + 1) * B - t * dB)
            if P == 0.0:
                break
            if P < 0.0:
                lo = t
            else:
                hi = t
            d = P / dP
            tn = t - d
            if math.isfinite(d) and abs(d) <= tol_step:
                t = tn
                break
            t = tn if (math.isfinite(tn) and lo < tn < hi) else 0.5 * (lo + hi)
            if hi - lo <= tol_bracket:
                break
        out[i] = t
    return out


@nb.njit(cache=True, nogil=True, error_model="numpy")
def brackets(F, q):
    """The table interval holding each quantile: ``F`` (S, J) is each row's CDF at the table's points.

    Returns ``jc`` (S, nq) (clipped to 0..J-2), ``ok`` (S,) (every quantile of the row lies inside the
    table), ``need`` (the interval ends some row needs, increasing) and ``il`` (S, nq) (the place of
    ``jc`` in ``need``; ``jc + 1`` is the next one).
    """
    S, J = F.shape
    nq = q.shape[0]
    jc = np.empty((S, nq), np.int64)
    ok = np.ones(S, np.bool_)
    flag = np.zeros(J, np.bool_)
    for s in range(S):
        for i in range(nq):
            c = 0
            for j in range(J):
                if F[s, j] < q[i]:
                    c += 1
            j0 = c - 1
            if j0 < 0 or j0 >= J - 1:
                ok[s] = False
                j0 = min(max(j0, 0), J - 2)
            jc[s, i] = j0
            flag[j0] = True
            flag[j0 + 1] = True
    place = np.empty(J, np.int64)
    n = 0
    for j in range(J):
        place[j] = n
        if flag[j]:
            n += 1
    need = np.empty(n, np.int64)
    for j in range(J):
        if flag[j]:
            need[place[j]] = j
    il = np.empty((S, nq), np.int64)
    for s in range(S):
        for i in range(nq):
            il[s, i] = place[jc[s, i]]
    return jc, ok, need, il


@nb.njit(cache=True, nogil=True, error_model="numpy")
def interval_ends(F, D, jc, il):
    """Taylor coefficients at both ends of each quantile's interval: (S, nq, M + 1) twice, from the CDF
    ``F`` (S, J) at the table's points and its scaled derivatives ``D`` (S, M, len(need)) at the ends."""
    S, nq = jc.shape
    M = D.shape[1]
    left = np.empty((S, nq, M + 1))
    right = np.empty((S, nq, M + 1))
    for s in range(S):
        for i in range(nq):
            j, p = jc[s, i], il[s, i]
            left[s, i, 0] = F[s, j]
            right[s, i, 0] = F[s, j + 1]
            for k in range(M):
                left[s, i, k + 1] = D[s, k, p]
                right[s, i, k + 1] = D[s, k, p + 1]
    return left, right


@nb.njit(cache=True, nogil=True, error_model="numpy")
def table_rows(le, A, lt, B, t_rows, mm, vv, sig, node_min, reach, step_const, root, underflow):
    """One table's rows: weights, moments, the nodes it keeps, and the table's span and step.

    Row ``s`` has log weights ``le + lt[t_rows[s]]`` over the shared grid: the data term of the table's
    effect prior plus the row's heterogeneity-prior term; ``A = exp(le - max)`` and
    ``B = exp(lt - max)`` row-wise, so a row's weights are one product, recomputed in log space when
    its largest product is below ``underflow``. Returns ``W`` (S, G') (normalised weights on the kept
    nodes: those above ``node_min`` in some row), ``keep`` (G',) (their indices), ``mom`` (S, 3) (mean
    of the effect, mean of the SD, second moment of the effect), ``a``, ``b`` (the span: mean -+
    ``reach`` SDs of every row) and the step ``step_const * min_g s_g wmax_g^(-1/root)`` (see
    :data:`~sclcmeta.engine.sweep._STEP_CONST`; ``s_g = sqrt(vv_g)``, ``wmax_g`` the node's largest
    weight in any row).
    """
    S, G = t_rows.shape[0], A.shape[0]
    w = np.empty((S, G))
    mom = np.zeros((S, 3))
    wmax = np.zeros(G)
    for s in range(S):
        t = t_rows[s]
        Z, mx = 0.0, 0.0
        for g in range(G):
            v = A[g] * B[t, g]
            w[s, g] = v
            Z += v
            mx = max(mx, v)
        if not mx >= underflow:                 # the two factors may have underflowed: log space
            top = -np.inf
            for g in range(G):
                top = max(top, le[g] + lt[t, g])
            Z = 0.0
            for g in range(G):
                v = math.exp(le[g] + lt[t, g] - top)
                w[s, g] = v
                Z += v
        inv = 1.0 / Z
        m1, ms, m2 = 0.0, 0.0, 0.0
        for g in range(G):
            v = w[s, g] * inv
            w[s, g] = v
            m1 += v * mm[g]
            ms += v * sig[g]
            m2 += v * (vv[g] + mm[g] * mm[g])
            wmax[g] = max(wmax[g], v)
        mom[s, 0], mom[s, 1], mom[s, 2] = m1, ms, m2
    n = 0
    for g in range(G):
        if wmax[g] > node_min:
            n += 1
    keep = np.empty(n, np.int64)
    n = 0
    step = np.inf
    for g in range(G):
        if wmax[g] > node_min:
            keep[n] = g
            n += 1
            step = min(step, math.sqrt(vv[g]) * wmax[g] ** (-1.0 / root))
    W = np.empty((S, n))
    a, b = np.inf, -np.inf
    for s in range(S):
        for i in range(n):
            W[s, i] = w[s, keep[i]]
        sd = math.sqrt(max(mom[s, 2] - mom[s, 0] * mom[s, 0], 1e-300))
        a = min(a, mom[s, 0] - reach * sd)
        b = max(b, mom[s, 0] + reach * sd)
    return W, keep, mom, a, b, step_const * step

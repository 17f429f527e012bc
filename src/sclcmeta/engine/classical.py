"""Frequentist companions to a Bayesian random-effects fit: REML, ML, DL and PM.

Reviewers usually ask to see the classical random-effects answer next to the Bayesian one. This
module computes it, labelled as a *frequentist companion*, for the normal-normal model with known
sampling variances and optional study-level covariates (meta-regression):

    y_i = x_i' beta + u_i + e_i,   u_i ~ N(0, tau^2),   e_i ~ N(0, v_i),   v_i = se_i^2 known,

where ``x_i`` holds an intercept followed by the covariates (so ``beta[0]`` is the intercept and,
without covariates, the pooled estimate mu). Pure numpy/scipy; nothing from sclcmeta is imported
except :mod:`sclcmeta.errors`.

Notation (k studies, p = number of columns of X including the intercept)
--------------------------------------------------------------------------
For a value ``t`` of tau^2 let ``W(t) = diag(1/(v_i + t))`` and

    beta(t) = (X'WX)^{-1} X'W y,             Var(beta) = (X'WX)^{-1},
    P(t)    = W - W X (X'WX)^{-1} X'W,        Q_gen(t) = y'P(t)y = sum_i w_i (y_i - x_i'beta(t))^2.

Cochran's Q (residual Q_E with covariates) is ``Q = Q_gen(0)`` with ``df = k - p`` and p-value
``P(chi2_df > Q)`` (Cochran 1954; Hedges & Olkin 1985 for Q_E).

tau^2 estimators
----------------
* ``"DL"``  DerSimonian & Laird (1986), method of moments; with covariates the Raudenbush (2009)
  generalisation used by metafor:  tau^2 = max(0, (Q - (k - p)) / tr P(0)),  where without
  covariates  tr P(0) = sum w - sum w^2 / sum w  (w = 1/v).
* ``"PM"``  Paule & Mandel (1982): the root of  Q_gen(t) = k - p  (0 if Q_gen(0) <= k - p).
  Q_gen is strictly decreasing in t (dQ_gen/dt = -y'P P y), so the root is unique; found by brentq.
  This is also the fixed point of Morris' (1983) empirical Bayes iteration.
* ``"ML"``  maximises  l(t) = -1/2 [sum log(v_i + t) + Q_gen(t)];
  score  1/2 [y'PPy - sum w_i];  SE(tau^2) = sqrt(2 / sum w_i^2)  (expected information).
* ``"REML"`` (Viechtbauer 2005; Harville 1977) maximises
  l_R(t) = -1/2 [sum log(v_i + t) + log det(X'WX) + Q_gen(t)];
  score  1/2 [y'PPy - tr P];  SE(tau^2) = sqrt(2 / tr(PP)).
* ``"FE"``  tau^2 fixed at 0 (common-effect / inverse-variance model); ``tau2=`` fixes any other value.

ML and REML are maximised over t >= 0: the log-likelihood is scanned on a geometric grid, and the
best grid cell is refined by brentq on the score (or a bounded scalar minimisation when the score
does not change sign there); t = 0 when the likelihood is maximised at the boundary.

Heterogeneity summaries (Higgins & Thompson 2002, as generalised by metafor)
----------------------------------------------------------------------------
With the "typical" within-study variance  s^2 = (k - p) / tr P(0),

    I^2 = 100 * tau^2 / (tau^2 + s^2)  (percent),     H^2 = (tau^2 + s^2) / s^2,

computed with the tau^2 of the chosen method. For DL without covariates these reduce to the
familiar  I^2 = 100 (Q - df)/Q  and  H^2 = Q/df. With covariates they describe *residual*
heterogeneity (unaccounted variability), as in metafor.

Intervals
---------
* Wald CI for each coefficient:  beta_j +/- z_{1-a/2} SE(beta_j),  SE from (X'W(tau^2)X)^{-1}.
* Prediction interval for a new study's true effect (intercept-only model), metafor's default:
  mu +/- z_{1-a/2} sqrt(tau^2 + SE(mu)^2);  with ``pi="t"`` the Higgins, Thompson & Spiegelhalter
  (2009) interval  mu +/- t_{k-2, 1-a/2} sqrt(tau^2 + SE(mu)^2).  With covariates the interval
  depends on the covariate values: use :meth:`ClassicalResult.predict`.
* Q-profile CI for tau^2 (Viechtbauer 2007): the set of t with
  chi2_{df, a/2} <= Q_gen(t) <= chi2_{df, 1-a/2}; bounds truncated at 0. I^2 and H^2 bounds follow
  by plugging the tau^2 bounds into the formulas above.

References
----------
Cochran, W. G. (1954). The combination of estimates from different experiments. Biometrics 10, 101-129.
DerSimonian, R., & Laird, N. (1986). Meta-analysis in clinical trials. Control Clin Trials 7, 177-188.
DerSimonian, R., & Kacker, R. (2007). Random-effects model for meta-analysis of clinical trials: an
    update. Contemp Clin Trials 28, 105-114.
Higgins, J. P. T., & Thompson, S. G. (2002). Quantifying heterogeneity in a meta-analysis.
    Stat Med 21, 1539-1558.
Higgins, J. P. T., Thompson, S. G., & Spiegelhalter, D. J. (2009). A re-evaluation of random-effects
    meta-analysis. J R Stat Soc A 172, 137-159.
Paule, R. C., & Mandel, J. (1982). Consensus values and weighting factors. J Res Natl Bur Stand 87, 377-385.
Raudenbush, S. W. (2009). Analyzing effect sizes: random-effects models. In The Handbook of Research
    Synthesis and Meta-Analysis (2nd ed.), 295-315.
Viechtbauer, W. (2005). Bias and efficiency of meta-analytic variance estimators in the random-effects
    model. J Educ Behav Stat 30, 261-293.
Viechtbauer, W. (2007). Confidence intervals for the amount of heterogeneity in meta-analysis.
    Stat Med 26, 37-52.
Viechtbauer, W. (2010). Conducting meta-analyses in R with the metafor package. J Stat Softw 36(3).

Examples
--------
The BCG vaccine trials (log risk ratios; metafor's ``dat.bcg``):

>>> import numpy as np
>>> tpos = np.array([4, 6, 3, 62, 33, 180, 8, 505, 29, 17, 186, 5, 27])
>>> tneg = np.array([119, 300, 228, 13536, 5036, 1361, 2537, 87886, 7470, 1699, 50448, 2493, 16886])
>>> cpos = np.array([11, 29, 11, 248, 47, 372, 10, 499, 45, 65, 141, 3, 29])
>>> cneg = np.array([128, 274, 209, 12619, 5761, 1079, 619, 87892, 7232, 1600, 27197, 2338, 17825])
>>> y = np.log(tpos / (tpos + tneg)) - np.log(cpos / (cpos + cneg))
>>> se = np.sqrt(1/tpos - 1/(tpos + tneg) + 1/cpos - 1/(cpos + cneg))
>>> res = classical_fit(y, se)
>>> round(res.tau2, 4), round(res.estimate, 4), round(res.I2, 2), round(res.Q, 4)
(0.3132, -0.7145, 92.22, 152.233)
>>> round(classical_fit(y, se, method="DL").tau2, 4)
0.3088
>>> ablat = np.array([44, 55, 42, 52, 13, 44, 19, 13, 27, 42, 18, 33, 33])
>>> reg = classical_fit(y, se, X=ablat, names=["ablat"])
>>> [round(float(b), 4) for b in reg.beta]
[0.2515, -0.0291]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, stats

from .tau2 import ClassicalInputError, gls, qgen, scale, tau2_dl, tau2_lik, tau2_pm, upper_bracket

__all__ = ["ClassicalInputError", "ClassicalResult", "classical_fit", "q_profile_tau2_ci", "METHODS"]

METHODS = ("REML", "ML", "DL", "PM", "FE")
_LABEL = "frequentist companion"


# ---------------------------------------------------------------------------------------------
# input checks


def _check_inputs(y, se, X, names, method, level, pi):
    method_u = str(method).upper()
    if method_u == "EE":
        method_u = "FE"
    if method_u not in METHODS:
        raise ClassicalInputError(
            f"method={method!r} is not a known tau^2 estimator; use one of {', '.join(METHODS)}.")
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise ClassicalInputError(f"level={level!r} must be a probability strictly between 0 and 1, e.g. 0.95.")
    if pi not in ("z", "t"):
        raise ClassicalInputError(f"pi={pi!r} must be 'z' (metafor's default) or 't' (Higgins et al. 2009).")

    y = np.asarray(y, dtype=float).ravel()
    se = np.asarray(se, dtype=float).ravel()
    k = y.size
    if se.size != k:
        raise ClassicalInputError(
            f"y has {k} values but se has {se.size}; give one standard error per study.")
    if k == 0:
        raise ClassicalInputError("No studies were given; pass at least two effect estimates and their standard errors.")
    bad = np.flatnonzero(~np.isfinite(y))
    if bad.size:
        raise ClassicalInputError(
            f"y is not finite for study index {bad.tolist()} (values {y[bad].tolist()}); "
            "drop those studies or supply finite effect estimates.")
    bad = np.flatnonzero(~np.isfinite(se) | (se <= 0))
    if bad.size:
        raise ClassicalInputError(
            f"se must be finite and > 0, but study index {bad.tolist()} has {se[bad].tolist()}; "
            "a zero or missing standard error usually means a continuity correction or a missing value upstream.")

    x_names: list[str] = []
    if X is None:
        Xc = np.empty((k, 0))
    else:
        if names is None and hasattr(X, "columns"):
            x_names = [str(c) for c in X.columns]
        if names is None and hasattr(X, "name") and getattr(X, "ndim", 2) == 1:
            x_names = [str(X.name)]
        Xc = np.asarray(X, dtype=float)
        if Xc.ndim == 1:
            Xc = Xc[:, None]
        if Xc.ndim != 2 or Xc.shape[0] != k:
            raise ClassicalInputError(
                f"X has shape {np.shape(X)} but there are {k} studies; give one row of covariates per study "
                "(the intercept is added automatically, do not include a column of ones).")
        bad = np.argwhere(~np.isfinite(Xc))
        if bad.size:
            raise ClassicalInputError(
                f"X has a non-finite value at (study, column) {bad[0].tolist()}; "
                "impute or drop the study before fitting.")
    if names is not None:
        x_names = [str(n) for n in names]
    if len(x_names) != Xc.shape[1]:
        if names is not None:
            raise ClassicalInputError(
                f"names has {len(x_names)} entries but X has {Xc.shape[1]} covariate columns; give one name per column.")
        x_names = [f"x{j + 1}" for j in range(Xc.shape[1])]
    Xf = np.column_stack([np.ones(k), Xc])
    p = Xf.shape[1]

    min_k = 1 if method_u == "FE" else 2
    if k < max(min_k, p + (0 if method_u == "FE" else 1)):
        if method_u == "FE":
            raise ClassicalInputError(
                f"The model has {p} coefficients but only {k} studies; drop covariates or add studies.")
        raise ClassicalInputError(
            f"Estimating tau^2 ({method_u}) with {p} coefficient(s) needs at least {max(2, p + 1)} studies, "
            f"but {k} were given; add studies, drop covariates, or use method='FE'.")
    rank = np.linalg.matrix_rank(Xf / np.maximum(np.abs(Xf).max(axis=0), 1e-300))
    if rank < p:
        raise ClassicalInputError(
            f"The covariates are not identifiable: the design (intercept + {p - 1} covariate(s)) has rank {rank} < {p}, "
            "so some covariate is constant or a linear combination of others; drop or recode it.")
    return method_u, y, se ** 2, Xf, ["intercept"] + x_names


# ---------------------------------------------------------------------------------------------
# the GLS core


def q_profile_tau2_ci(y, se, X=None, level: float = 0.95) -> tuple[float, float]:
    """Q-profile confidence interval for tau^2 (Viechtbauer 2007).

    The bounds solve  Q_gen(t) = chi2_{k-p, 1-a/2}  (lower) and  Q_gen(t) = chi2_{k-p, a/2}  (upper),
    where Q_gen(t) = sum_i (y_i - x_i'beta(t))^2 / (v_i + t) is decreasing in t; a bound is 0 when
    Q_gen(0) already lies below its target. Works with covariates too (generalised Q).

    >>> lo, hi = q_profile_tau2_ci([0.1, 0.5, -0.3, 0.9], [0.2, 0.2, 0.3, 0.25])
    >>> 0 <= lo < hi
    True
    """
    _, y, v, Xf, _ = _check_inputs(y, se, X, None, "DL", level, "z")
    return _q_profile(y, v, Xf, level)


def _q_profile(y, v, X, level):
    k, p = X.shape
    df = k - p
    a = 1.0 - level
    bounds = []
    for target in (stats.chi2.ppf(1 - a / 2, df), stats.chi2.ppf(a / 2, df)):
        f = lambda t, c=target: qgen(y, v, X, t) - c  # noqa: E731
        if f(0.0) <= 0:
            bounds.append(0.0)
            continue
        hi = upper_bracket(f, scale(y, v))
        bounds.append(float(optimize.brentq(f, 0.0, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps)))
    return bounds[0], bounds[1]


# ---------------------------------------------------------------------------------------------
# result


@dataclass(frozen=True, eq=False)
class ClassicalResult:
    """A frequentist random-effects (meta-regression) fit, labelled as a frequentist companion.

    Arrays (``beta``, ``beta_se``, ``zval``, ``pval``, ``ci_low``, ``ci_high``) are indexed like
    ``names`` (``names[0] == "intercept"``). ``I2`` is in percent (metafor's convention); with
    covariates ``I2``/``H2``/``Q`` describe residual heterogeneity. ``pred_low``/``pred_high`` is the
    prediction interval for a new study's true effect in the intercept-only model (NaN with
    covariates: use :meth:`predict`). ``tau2_se`` is None for DL/PM/FE (only the information-based
    SE of ML/REML is computed). ``tau2_ci_low``/``tau2_ci_high`` is the Q-profile CI.
    """

    method: str
    tau2: float
    tau2_se: float | None
    tau: float
    beta: np.ndarray
    beta_se: np.ndarray
    zval: np.ndarray
    pval: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    vcov: np.ndarray
    names: tuple[str, ...]
    Q: float
    Q_df: int
    Q_p: float
    I2: float
    H2: float
    s2_typical: float
    pred_low: float
    pred_high: float
    pi: str
    tau2_ci_low: float
    tau2_ci_high: float
    I2_ci: tuple[float, float]
    H2_ci: tuple[float, float]
    k: int
    level: float
    converged: bool
    label: str = field(default=_LABEL)

    @property
    def p(self) -> int:
        """Number of coefficients (intercept included)."""
        return len(self.names)

    @property
    def estimate(self) -> float:
        """The intercept: the pooled estimate mu when there are no covariates."""
        return float(self.beta[0])

    @property
    def se(self) -> float:
        """Standard error of :attr:`estimate`."""
        return float(self.beta_se[0])

    def predict(self, x_new=None, pi: str | None = None):
        """Predicted mean, Wald CI and prediction interval at covariate rows ``x_new``.

        ``x_new`` holds covariate values only (no intercept column), shape (n, p - 1) or (p - 1,);
        None means the intercept alone (intercept-only model). The prediction interval is
        ``pred +/- z sqrt(tau^2 + se^2)`` (``pi="z"``, metafor) or with t on k - p - 1 df (``pi="t"``;
        k - 2 without covariates, Higgins et al. 2009). Returns a dict of arrays
        ``pred, se, ci_low, ci_high, pi_low, pi_high``.
        """
        pi = self.pi if pi is None else pi
        m = self.p - 1
        if x_new is None:
            if m:
                raise ClassicalInputError(
                    f"This fit has {m} covariate(s); pass x_new with {m} value(s) per row to predict.")
            x0 = np.ones((1, 1))
        else:
            if not m:
                raise ClassicalInputError("This fit has no covariates; call predict() without x_new.")
            xn = np.atleast_1d(np.asarray(x_new, dtype=float))
            if xn.ndim == 1:
                xn = xn[:, None] if m == 1 else xn[None, :]
            if xn.ndim != 2 or xn.shape[1] != m or not np.all(np.isfinite(xn)):
                raise ClassicalInputError(
                    f"x_new must hold finite values for the {m} covariate(s) {list(self.names[1:])} per row "
                    "(no intercept column).")
            x0 = np.column_stack([np.ones(xn.shape[0]), xn])
        pred = x0 @ self.beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", x0, self.vcov, x0))
        z = stats.norm.ppf(0.5 + self.level / 2)
        q = _pi_quantile(pi, self.k, self.p, self.level)
        half = q * np.sqrt(self.tau2 + se ** 2)
        return {"pred": pred, "se": se, "ci_low": pred - z * se, "ci_high": pred + z * se,
                "pi_low": pred - half, "pi_high": pred + half}

    def to_frame(self):
        """Tidy rows (pandas DataFrame): one per coefficient, then tau2, tau, I2, H2, Q, prediction."""
        import pandas as pd

        rows = []
        base = {"label": self.label, "method": self.method, "level": self.level, "k": self.k}
        for j, name in enumerate(self.names):
            rows.append({**base, "quantity": "coefficient", "term": name, "estimate": float(self.beta[j]),
                         "se": float(self.beta_se[j]), "ci_low": float(self.ci_low[j]),
                         "ci_high": float(self.ci_high[j]), "statistic": float(self.zval[j]), "df": np.nan,
                         "p_value": float(self.pval[j])})
        nan = np.nan
        rows += [
            {**base, "quantity": "tau2", "term": "", "estimate": self.tau2,
             "se": nan if self.tau2_se is None else self.tau2_se, "ci_low": self.tau2_ci_low,
             "ci_high": self.tau2_ci_high, "statistic": nan, "df": nan, "p_value": nan},
            {**base, "quantity": "tau", "term": "", "estimate": self.tau, "se": nan,
             "ci_low": math.sqrt(self.tau2_ci_low), "ci_high": math.sqrt(self.tau2_ci_high),
             "statistic": nan, "df": nan, "p_value": nan},
            {**base, "quantity": "I2", "term": "", "estimate": self.I2, "se": nan, "ci_low": self.I2_ci[0],
             "ci_high": self.I2_ci[1], "statistic": nan, "df": nan, "p_value": nan},
            {**base, "quantity": "H2", "term": "", "estimate": self.H2, "se": nan, "ci_low": self.H2_ci[0],
             "ci_high": self.H2_ci[1], "statistic": nan, "df": nan, "p_value": nan},
            {**base, "quantity": "Q", "term": "", "estimate": self.Q, "se": nan, "ci_low": nan, "ci_high": nan,
             "statistic": self.Q, "df": float(self.Q_df), "p_value": self.Q_p},
            {**base, "quantity": "prediction", "term": f"pi={self.pi}", "estimate": self.estimate if self.p == 1 else nan,
             "se": nan, "ci_low": self.pred_low, "ci_high": self.pred_high, "statistic": nan, "df": nan,
             "p_value": nan},
        ]
        return pd.DataFrame(rows)

    def __repr__(self) -> str:
        pct = f"{100 * self.level:g}%"
        head = ("Random-effects model" if self.p == 1 else "Mixed-effects meta-regression") + \
               f" (k = {self.k}), {_LABEL} ({self.method})"
        het = "residual " if self.p > 1 else ""
        lines = [head]
        if self.method != "FE":
            se = "" if self.tau2_se is None else f" (SE = {self.tau2_se:.4f})"
            lines.append(f"  tau^2 = {self.tau2:.4f}{se}, tau = {self.tau:.4f}; "
                         f"Q-profile {pct} CI [{self.tau2_ci_low:.4f}, {self.tau2_ci_high:.4f}]")
        lines.append(f"  {het}I^2 = {self.I2:.2f}%, H^2 = {self.H2:.2f}; "
                     f"Q{'E' if self.p > 1 else ''}(df = {self.Q_df}) = {self.Q:.4f}, p = {_fmt_p(self.Q_p)}")
        width = max(len(n) for n in self.names)
        for j, n in enumerate(self.names):
            lines.append(f"  {n:<{width}}  {self.beta[j]: .4f}  (SE {self.beta_se[j]:.4f}), "
                         f"{pct} CI [{self.ci_low[j]:.4f}, {self.ci_high[j]:.4f}], p = {_fmt_p(self.pval[j])}")
        if self.p == 1:
            lines.append(f"  {pct} prediction interval ({self.pi}): [{self.pred_low:.4f}, {self.pred_high:.4f}]")
        if not self.converged:
            lines.append("  WARNING: the tau^2 estimator did not report convergence.")
        return "\n".join(lines)


def _fmt_p(p: float) -> str:
    if not np.isfinite(p):
        return "NA"
    return "< .0001" if p < 1e-4 else f"{p:.4f}"


def _pi_quantile(pi, k, p, level):
    if pi == "z":
        return float(stats.norm.ppf(0.5 + level / 2))
    df = k - p - 1
    if df < 1:
        raise ClassicalInputError(
            f"The t-based prediction interval needs k - p - 1 >= 1 degrees of freedom (k = {k}, p = {p}); "
            "use pi='z' or add studies.")
    return float(stats.t.ppf(0.5 + level / 2, df))


# ---------------------------------------------------------------------------------------------
# entry point


def _estimate_tau2(y, v, X, method: str, fixed) -> tuple[str, float, bool]:
    """``(method, tau^2, converged)``: a fixed tau^2, 0 (FE), or the DL / PM / ML / REML estimate."""
    if fixed is not None:
        return "fixed", float(fixed), True
    if method == "FE":
        return method, 0.0, True
    if method == "DL":
        return (method, *tau2_dl(y, v, X))
    if method == "PM":
        return (method, *tau2_pm(y, v, X))
    return (method, *tau2_lik(y, v, X, method))


def _heterogeneity(y, v, X) -> tuple[float, int, float, float]:
    """Cochran's (generalised) Q, its df and p, and the 'typical' within-study variance s^2 (Higgins-Thompson)."""
    k, p = X.shape
    _, _, _, P0, _ = gls(y, v, X, 0.0)
    Q = float(y @ P0 @ y)
    df = k - p
    Q_p = float(stats.chi2.sf(Q, df)) if df > 0 else float("nan")
    s2 = df / float(np.trace(P0)) if df > 0 else float("nan")
    return Q, df, Q_p, s2


def _prediction_interval(beta, beta_se, tau2, k, p, pi, level) -> tuple[float, float]:
    """Prediction interval of a new study's effect (intercept-only models; NaN with covariates, see predict)."""
    if p != 1:
        return float("nan"), float("nan")
    half = _pi_quantile(pi, k, p, level) * math.sqrt(tau2 + beta_se[0] ** 2)
    return float(beta[0] - half), float(beta[0] + half)


def classical_fit(y, se, X=None, method: str = "REML", level: float = 0.95, *, names=None,
                  pi: str = "z", tau2: float | None = None) -> ClassicalResult:
    """Fit the frequentist random-effects model (or meta-regression) and return a ClassicalResult.

    Parameters
    ----------
    y, se : array-like, length k
        Study effect estimates and their standard errors (se > 0, both finite).
    X : array-like (k,) or (k, m), optional
        Study-level covariates, *without* an intercept column (one is added). A pandas DataFrame or
        Series lends its column names.
    method : {"REML", "ML", "DL", "PM", "FE"}
        tau^2 estimator (see the module docstring for formulas). "EE" is accepted for "FE".
    level : float
        Confidence level of the Wald CIs, the prediction interval and the Q-profile CI.
    names : sequence of str, optional
        Names of the covariate columns.
    pi : {"z", "t"}
        Prediction-interval quantile: normal (metafor's default) or t on k - 2 df (Higgins et al. 2009).
    tau2 : float, optional
        Fix tau^2 at this value (>= 0) instead of estimating it, e.g. at a Bayesian posterior summary;
        the result's ``method`` is then ``"fixed"`` and ``method`` is ignored.

    Raises
    ------
    ClassicalInputError (a :class:`sclcmeta.errors.SclcmetaError`)
        Non-finite y, se <= 0, too few studies for tau^2, non-identifiable covariates, bad options.

    Examples
    --------
    >>> res = classical_fit([0.1, 0.5, -0.3, 0.9], [0.2, 0.2, 0.3, 0.25], method="DL")
    >>> res.method, res.k, res.Q_df
    ('DL', 4, 3)
    >>> print(repr(res).splitlines()[0])
    Random-effects model (k = 4), frequentist companion (DL)
    """
    if tau2 is not None:
        if not (isinstance(tau2, (int, float, np.floating)) and np.isfinite(tau2) and tau2 >= 0):
            raise ClassicalInputError(f"tau2={tau2!r} must be a finite number >= 0 (or None to estimate it).")
        method = "FE"
    method, y, v, X, all_names = _check_inputs(y, se, X, names, method, level, pi)
    k, p = X.shape
    if pi == "t" and p == 1:
        _pi_quantile(pi, k, p, level)  # fail early with the explanation

    method, tau2, converged = _estimate_tau2(y, v, X, method, tau2)

    w, beta, vcov, P, _ = gls(y, v, X, tau2)
    beta_se = np.sqrt(np.diag(vcov))
    z = float(stats.norm.ppf(0.5 + level / 2))
    zval = beta / beta_se
    pval = 2 * stats.norm.sf(np.abs(zval))

    tau2_se = {"REML": lambda: math.sqrt(2.0 / float(np.sum(P * P.T))),
               "ML": lambda: math.sqrt(2.0 / float(np.sum(w * w)))}.get(method, lambda: None)()

    Q, df, Q_p, s2 = _heterogeneity(y, v, X)

    def i2(t):
        return 100.0 * t / (t + s2) if df > 0 else float("nan")

    def h2(t):
        return (t + s2) / s2 if df > 0 else float("nan")

    if df > 0:
        ci_lo_t, ci_hi_t = _q_profile(y, v, X, level)
    else:
        ci_lo_t = ci_hi_t = float("nan")

    pred_low, pred_high = _prediction_interval(beta, beta_se, tau2, k, p, pi, level)

    return ClassicalResult(
        method=method, tau2=float(tau2), tau2_se=tau2_se, tau=math.sqrt(tau2), beta=beta, beta_se=beta_se,
        zval=zval, pval=pval, ci_low=beta - z * beta_se, ci_high=beta + z * beta_se, vcov=vcov,
        names=tuple(all_names), Q=Q, Q_df=df, Q_p=Q_p, I2=i2(tau2), H2=h2(tau2), s2_typical=s2,
        pred_low=pred_low, pred_high=pred_high, pi=pi, tau2_ci_low=ci_lo_t, tau2_ci_high=ci_hi_t,
        I2_ci=(i2(ci_lo_t), i2(ci_hi_t)), H2_ci=(h2(ci_lo_t), h2(ci_hi_t)), k=k, level=float(level),
        converged=converged)

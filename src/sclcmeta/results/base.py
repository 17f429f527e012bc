"""Posterior -> tidy tables: pooled HR, heterogeneity, predictions, study effects, probabilities.

:class:`FitResult` is the hub every output reads from (metafor's one-object-many-post-processors).
Exact and MCMC fits expose the same quantities through one marginal interface, so the summary
table, plots and reports do not care how the posterior was obtained.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..fitting import Diagnostics, RawFit
from ..vocabulary import Z95, EffectScale, effect_scale

if TYPE_CHECKING:
    import arviz as az

#: Columns of the summary table (design note), in order.
SUMMARY_COLUMNS = [
    "analysis", "outcome", "quantity", "comparison", "median", "mean", "sd", "q2.5", "q97.5",
    "hr_median", "hr_q2.5", "hr_q97.5", "prob_hr_below_1", "prob_hr_below_0.8", "r_hat", "ess_bulk",
    "method", "gate", "k", "evidence", "bias", "estimand", "mode", "hdi_low", "hdi_high",
    "scale", "reported_hr", "reported_ci_low", "reported_ci_high", "reported_se",
]
#: What the columns mean on every effect scale (the README's "Bring your own review" repeats it).
#:
#: ``median, mean, sd, q2.5, q97.5, mode, hdi_low, hdi_high`` are on the analysis scale (log HR, log OR,
#: log RR, or the mean difference itself). ``hr_median, hr_q2.5, hr_q97.5`` are on the *reporting* scale
#: named by ``scale``: the exponentiated ratio (HR, OR or RR) for a ratio scale, the mean difference itself
#: (nothing exponentiated) for ``md``. ``prob_hr_below_<t>`` is P(effect < t) on the reporting scale: the
#: defaults are t = 1 and 0.8 for a ratio and t = 0 for a mean difference (whose ``prob_hr_below_1`` and
#: ``prob_hr_below_0.8`` are then empty). The names keep the design note's columns so every table has one
#: shape; reports, plots and the command line label them HR, OR, RR or MD. ``reported_*`` are a study
#: row's own estimate (95% CI on the reporting scale; SE on the analysis scale) beside its shrunken posterior.
#: ``r_hat`` and ``ess_bulk`` are empty for exact fits (no sampling) and for rows that are not sampled.


#: Probability of the shortest (highest-density) interval in the summary's ``hdi_low``/``hdi_high``.
HDI_PROB = 0.95


def _log_threshold(threshold, scale=None) -> float:
    """A threshold on the reporting scale -> the analysis scale (log of a ratio; a difference as it is), or a
    clear error for a ratio threshold that is not a positive finite number."""
    sc = scale or effect_scale(None)
    try:
        t = float(threshold)
    except (TypeError, ValueError):
        t = float("nan")
    if not math.isfinite(t) or (sc.ratio and t <= 0):
        what = f"an {sc.label} threshold must be a positive number such as 0.8" if sc.ratio else \
            f"an {sc.label} threshold must be a finite number such as 0"
        raise SpecError(f"{what}; got {threshold!r}.")
    return sc.to_analysis(t)


def _prob_key(t: float) -> str:
    return "prob_hr_below_1" if t == 1.0 else ("prob_hr_below_0.8" if t == 0.8 else f"prob_hr_below_{t:g}")


class DrawsMarginal:
    """Marginal posterior from MCMC draws (shape (chain, draw)); same interface as :class:`Mixture`."""

    def __init__(self, draws: np.ndarray):
        self.draws = np.asarray(draws, float)
        self.flat = self.draws.ravel()

    def quantile(self, q):
        return np.quantile(self.flat, np.atleast_1d(q))

    def cdf(self, x):
        x = np.atleast_1d(x)
        return (self.flat[None, :] < x[:, None]).mean(1)

    @property
    def mean(self) -> float:
        return float(self.flat.mean())

    @property
    def sd(self) -> float:
        return float(self.flat.std(ddof=1))

    def pdf(self, x):
        from scipy.stats import gaussian_kde

        return gaussian_kde(self.flat[:: max(1, len(self.flat) // 4000)])(np.atleast_1d(x))

    def mode(self) -> float:
        """Approximate mode: the maximum of arviz's (boundary-corrected) KDE of the draws.

        The upper 1% of the draws is left out of the KDE so a heavy right tail (tau) does not widen
        its bandwidth; a mode from draws is only as precise as the KDE (about 0.1 sd for 4000 draws).
        """
        x = self.flat[np.isfinite(self.flat)]
        if x.size < 10:
            return float("nan")
        x = x[x <= np.quantile(x, 0.99)]
        import arviz as az

        grid, dens = az.kde(x)
        return float(grid[int(np.argmax(dens))])

    def hdi(self, prob: float = 0.95) -> tuple[float, float]:
        """Shortest interval holding ``prob`` of the draws (:func:`arviz.hdi`)."""
        import arviz as az

        lo, hi = np.asarray(az.hdi(self.flat, hdi_prob=prob), float).ravel()[:2]
        return float(lo), float(hi)

    @property
    def r_hat(self) -> float:
        import arviz as az

        return float(az.rhat(self.draws)) if self.draws.ndim == 2 and self.draws.shape[0] > 1 else float("nan")

    @property
    def ess_bulk(self) -> float:
        import arviz as az

        return float(az.ess(self.draws, method="bulk")) if self.draws.ndim == 2 else float("nan")


def _mode_hdi(mg, prob: float = HDI_PROB) -> dict:
    """``mode``, ``hdi_low``, ``hdi_high`` of a marginal (NaN when it has no mode/HDI or they fail)."""
    out = {"mode": np.nan, "hdi_low": np.nan, "hdi_high": np.nan}
    try:
        if hasattr(mg, "mode"):
            out["mode"] = float(mg.mode())
        if hasattr(mg, "hdi"):
            out["hdi_low"], out["hdi_high"] = (float(v) for v in mg.hdi(prob))
    except (ValueError, ArithmeticError, RuntimeError):
        pass
    return out


@dataclass(frozen=True)
class Quantity:
    """One reported quantity: its name, the comparison it describes, its marginal, its scale."""

    quantity: str
    comparison: str
    marginal: object
    log_scale: bool = True   # False for heterogeneity SDs
    index: int | None = None  # a study row: its position in the model (for its reported estimate)


@dataclass(frozen=True, repr=False)
class FitResult:
    """A fitted analysis: the model, priors, posterior (InferenceData) and its summaries.

    Build it with :func:`sclcmeta.fit` (or :func:`sclcmeta.run_spec`). Immutable: every output reads
    from it, none changes it.

    Examples
    --------
    >>> import sclcmeta as sm
    >>> eff = sm.EffectData.from_arrays([-0.4, -0.2, -0.5], [0.2, 0.15, 0.25])
    >>> res = sm.fit(eff, method="exact")
    >>> round(res.pooled_hr()["hr_median"], 2)  # doctest: +SKIP
    0.7
    """

    name: str
    outcome: str
    comparison: str
    raw: RawFit
    effects: object | None = None
    spec: object | None = None
    question: str = ""
    notes: tuple[str, ...] = ()
    #: the additive bias terms of a bias-adjusted fit (:class:`~sclcmeta.engine.bias.BiasTerms`), else None
    bias: object | None = None
    #: the same analysis without the bias adjustment, reported beside a bias-adjusted fit
    unadjusted: "FitResult | None" = None
    #: ``"unadjusted"`` for the companion of a bias-adjusted fit (see :attr:`bias_label`)
    bias_role: str = ""

    # -- basic views ----------------------------------------------------------------------------
    @property
    def model(self):
        return self.raw.model

    @property
    def priors(self):
        return self.raw.priors

    @property
    def method(self) -> str:
        return self.raw.method

    @property
    def idata(self) -> az.InferenceData:
        return self.raw.idata

    @property
    def diagnostics(self) -> Diagnostics:
        return self.raw.diagnostics

    @property
    def passed(self) -> bool:
        """True when the fit may be reported as an answer (exact, or MCMC that passed the gate)."""
        return self.diagnostics.passed

    @property
    def effect_scale(self) -> EffectScale:
        """The scale the estimates were pooled on (log HR unless the evidence says otherwise)."""
        return effect_scale(getattr(self.effects, "scale", None))

    @property
    def gate(self) -> str:
        if self.method == "exact":
            return "exact"
        return "passed" if self.passed else "FAILED: " + "; ".join(self.diagnostics.problems)

    def __repr__(self) -> str:
        p = self.pooled_hr() if "mu" in self.model.coef_names else None
        sc = self.effect_scale
        lines = [f"<FitResult {self.name!r}: {self.comparison}, {self.outcome}, k={self.model.k}, "
                 f"{self.model.kind}, {self.method}>",
                 f"  priors: {', '.join(f'{k}={v}' for k, v in self._used_priors().items())}",
                 f"  diagnostics: {self.diagnostics}"]
        if p is not None:
            probs = ", ".join(f"P({sc.label}<{t:g}) = {p[_prob_key(t)]:.3f}" for t in sc.thresholds)
            lines.append(f"  pooled {sc.label} {p['hr_median']:.3f} (95% CrI {p['hr_q2.5']:.3f}-{p['hr_q97.5']:.3f}), "
                         f"{probs}")
        if self.bias is not None:
            lines.append(f"  bias-adjusted (bias prior {self.bias.prior.name!r}, per-estimate bias SD "
                         f"{', '.join(f'{x:.2f}' for x in self.bias.table['bias_sd'])})")
            if self.unadjusted is not None and p is not None:
                u = self.unadjusted.pooled_hr()
                lines.append(f"  unadjusted: pooled HR {u['hr_median']:.3f} (95% CrI {u['hr_q2.5']:.3f}-"
                             f"{u['hr_q97.5']:.3f}), P(HR<1) = {u['prob_hr_below_1']:.3f}")
        if not self.passed:
            lines.append("  WARNING: failed the convergence gate; not an answer.")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return f"<pre>{self.__repr__()}</pre>" + self.summary().to_html(index=False, float_format="%.3f")

    def _used_priors(self) -> dict:
        roles = list(dict.fromkeys(list(self.model.coef_roles) + [c.prior_role for c in self.model.components]))
        return {r: getattr(self.priors, r) for r in roles}

    # -- marginals ------------------------------------------------------------------------------
    def coef_marginal(self, name: str):
        if self.raw.exact is not None:
            return self.raw.exact.coef(name)
        return DrawsMarginal(self.idata.posterior["b"].sel(coef=name).values)

    def linear_marginal(self, c: Sequence[float]):
        """Marginal of a linear combination ``c' b`` of the coefficients (e.g. a network contrast)."""
        c = np.asarray(c, float)
        if self.raw.exact is not None:
            return self.raw.exact.linear(c)
        return DrawsMarginal(np.einsum("cdp,p->cd", self.idata.posterior["b"].values, c))

    def variance_marginal(self, name: str):
        if self.raw.exact is not None:
            return self.raw.exact.variance_marginal(name)
        return DrawsMarginal(self.idata.posterior[name].values)

    def predictive_marginal(self):
        if self.raw.exact is not None:
            return self.raw.exact.predictive()
        return DrawsMarginal(self.idata.posterior["theta_new"].values)

    def study_marginal(self, i: int):
        """Posterior of study ``i``'s effect; in a fixed-effect (common-effect) model every study's effect *is*
        the pooled one, so its row shows the study's own estimate instead: ``N(y_i, se_i^2)``, its posterior
        alone under a flat prior (the forest plot's "reported" mark), not a copy of the pooled row."""
        if self.model.kind == "fixed_effect" and self.model.diagonal:
            from ..engine.exact import Mixture

            return Mixture(np.ones(1), np.array([self.model.y[i]]), np.array([self.model.S[i, i]]))
        if self.raw.exact is not None:
            return self.raw.exact.theta(i)
        return DrawsMarginal(self.idata.posterior["theta"].values[..., i])

    @cached_property
    def quantities(self) -> list[Quantity]:
        """Everything the summary reports (subclasses and the network layer extend this)."""
        m = self.model
        out: list[Quantity] = []
        for name, role in zip(m.coef_names, m.coef_roles):
            if name == "mu":
                out.append(Quantity("pooled", self.comparison, self.coef_marginal(name)))
            else:
                out.append(Quantity(role if role != "effect" else "coefficient", name, self.coef_marginal(name)))
        for c in m.components:
            out.append(Quantity(c.name, f"heterogeneity SD ({self.effect_scale.log_label})", self.variance_marginal(c.name), log_scale=False))
        if m.components and "mu" in m.coef_names:
            out.append(Quantity("predictive", self.comparison + " (new cohort)", self.predictive_marginal()))
        for i, s in enumerate(m.studies):
            out.append(Quantity("study", s, self.study_marginal(i), index=i))
        return out

    # -- frequentist companion -------------------------------------------------------------------
    def classical(self, method: str = "REML", **kw):
        """The classical random-effects answer for this pairwise model, labelled "frequentist companion".

        Calls :func:`sclcmeta.engine.classical.classical_fit` on the analysed estimates (``y``, ``se``)
        with the model's covariate columns (the design without its intercept ``mu``) as ``X``;
        ``method`` is the tau^2 estimator ("REML", "DL", "PM", "ML", "FE") and ``kw`` go to
        ``classical_fit`` (``level``, ``pi``, ``tau2``). The result carries Q, I^2, H^2, the
        Q-profile CI of tau^2 and the prediction interval.

        Raises :class:`~sclcmeta.errors.SpecError` for networks and nested (several-component) models,
        which have no classical companion here.
        """
        from ..engine.classical import classical_fit
        from ..errors import SpecError

        m = self.model
        if not (m.diagonal and m.coef_names and m.coef_names[0] == "mu") or len(m.components) > 1:
            what = "a network" if "mu" not in m.coef_names else f"a {m.kind} model"
            raise SpecError(f"{self.name!r} is {what}; the frequentist companion (classical_fit: REML/DL/PM "
                            "tau^2, Q, I^2, H^2, prediction interval) covers pairwise random-effects models and "
                            "meta-regressions with independent estimates only.")
        X = m.X[:, 1:] if m.p > 1 else None
        names = kw.pop("names", list(m.coef_names[1:]) if m.p > 1 else None)
        return classical_fit(m.y, m.se, X=X, method=method, names=names, **kw)

    # -- tables ---------------------------------------------------------------------------------
    def row(self, q: Quantity, thresholds: Sequence[float] | None = None, *, intervals: bool = False) -> dict:
        """One summary-table row (design-note columns) for quantity ``q``.

        ``intervals`` adds the posterior mode and the shortest (highest-density) interval; they cost a root
        search per quantity, so only the full table asks for them, not ``pooled_hr`` or the sensitivity rows.
        """
        mg = q.marginal
        sc = self.effect_scale
        thresholds = sc.thresholds if thresholds is None else thresholds
        qs = np.asarray(mg.quantile([0.5, 0.025, 0.975]), float).ravel()
        row = {"analysis": self.name, "outcome": self.outcome, "quantity": q.quantity, "comparison": q.comparison,
               "median": qs[0], "mean": mg.mean, "sd": mg.sd, "q2.5": qs[1], "q97.5": qs[2]}
        if q.log_scale:
            row.update({"hr_median": sc.to_report(qs[0]), "hr_q2.5": sc.to_report(qs[1]),
                        "hr_q97.5": sc.to_report(qs[2]), "prob_hr_below_1": np.nan, "prob_hr_below_0.8": np.nan})
            for t in thresholds:
                row[_prob_key(t)] = float(np.asarray(mg.cdf(_log_threshold(t, sc))).ravel()[0])
        else:
            row.update({"hr_median": np.nan, "hr_q2.5": np.nan, "hr_q97.5": np.nan,
                        "prob_hr_below_1": np.nan, "prob_hr_below_0.8": np.nan})
        row["r_hat"] = getattr(mg, "r_hat", np.nan) if self.method == "mcmc" else np.nan
        row["ess_bulk"] = getattr(mg, "ess_bulk", np.nan) if self.method == "mcmc" else np.nan
        row["method"] = self.method
        row["gate"] = self.gate
        row["k"] = self.model.k
        ev = getattr(self.effects, "data", None)
        row["evidence"] = ";".join(ev["id"]) if ev is not None and "id" in ev else ""
        row["bias"] = self.bias_label
        row["estimand"] = self.estimand
        if intervals:
            row.update(_mode_hdi(mg))
        row["scale"] = sc.name
        if q.index is not None and q.index < self.model.k:
            # the estimate as reported: a bias-adjusted model holds y - m and s^2 + v, so undo that here
            y, se = float(self.model.y[q.index]), float(self.model.se[q.index])
            if self.bias is not None:
                y += float(self.bias.mean[q.index])
                se = math.sqrt(se * se - float(self.bias.var[q.index]))
            row.update({"reported_hr": sc.to_report(y), "reported_ci_low": sc.to_report(y - Z95 * se),
                        "reported_ci_high": sc.to_report(y + Z95 * se), "reported_se": se})
        return row

    def summary(self, thresholds: Sequence[float] | None = None) -> pd.DataFrame:
        """The tidy summary table: one row per reported quantity, the design note's columns
        (see :data:`SUMMARY_COLUMNS` for what they mean on each effect scale).

        ``thresholds`` adds ``prob_hr_below_<t>`` columns for any threshold asked for (on the reporting scale;
        default 1 and 0.8 for a ratio, 0 for a mean difference). The default table is computed once per result
        (results are immutable) and a copy is returned.
        """
        if thresholds is None or tuple(thresholds) == self.effect_scale.thresholds:
            return self._default_summary.copy()
        return self._summary(thresholds)

    @cached_property
    def _default_summary(self) -> pd.DataFrame:
        return self._summary(self.effect_scale.thresholds)

    def _summary(self, thresholds: Sequence[float]) -> pd.DataFrame:
        rows = [self.row(q, thresholds, intervals=True) for q in self.quantities]
        if self.unadjusted is not None:
            rows += [self.unadjusted.row(q, thresholds, intervals=True) for q in self.unadjusted.quantities]
        extra = list(dict.fromkeys(c for r in rows for c in r if c.startswith("prob_hr_below_")
                                   and c not in SUMMARY_COLUMNS))
        i = SUMMARY_COLUMNS.index("r_hat")
        df = pd.DataFrame(rows)
        for c in ("reported_hr", "reported_ci_low", "reported_ci_high", "reported_se"):
            if c not in df.columns:
                df[c] = np.nan
        return df[[c for c in SUMMARY_COLUMNS[:i] + extra + SUMMARY_COLUMNS[i:] if c in df.columns]]

    @property
    def bias_label(self) -> str:
        """``adjusted`` for a bias-adjusted fit, ``unadjusted`` for its companion, ``""`` without a bias model."""
        if self.bias is not None:
            return "adjusted"
        return self.bias_role

    @cached_property
    def estimand(self) -> str:
        """Which hazard ratio the pooled estimates are: ``marginal``, ``conditional``, ``marginal and conditional``
        (a mixture, marked so) or ``""`` when the analysis types are not recorded."""
        ev = getattr(self.effects, "data", None)
        if ev is None or "estimand" not in ev:
            return ""
        kinds = sorted(set(ev["estimand"]) - {"unknown"})
        return " and ".join(kinds)

    def glance(self) -> pd.DataFrame:
        """The headline rows of this analysis (the report's "answers at a glance")."""
        s = self.summary()
        return s[s["quantity"].isin(["pooled", "interaction", "class_difference"])]

    def pooled_hr(self) -> dict:
        """The pooled-effect row as a dict (HR scale at the edges)."""
        return self.row(next(q for q in self.quantities if q.quantity == "pooled"))

    def prob_hr_below(self, threshold: float, quantity: str = "pooled") -> float:
        """Posterior probability that the HR of ``quantity`` is below ``threshold``.

        >>> import sclcmeta as sm
        >>> res = sm.fit(sm.EffectData.from_arrays([-0.4, -0.2, -0.5, -0.3, -0.1], [0.2, 0.15, 0.25, 0.2, 0.3]))
        >>> 0.5 < res.prob_hr_below(1.0) <= 1
        True
        """
        return float(np.asarray(self.quantity(quantity).marginal.cdf(_log_threshold(threshold, self.effect_scale)))
                     .ravel()[0])

    def quantity(self, name: str) -> Quantity:
        """The reported quantity called ``name`` (``pooled``, ``tau``, ``predictive``...), or a clear error."""
        for q in self.quantities:
            if q.quantity == name:
                return q
        raise SpecError(f"{self.name}: no quantity {name!r}; this result reports "
                        f"{', '.join(dict.fromkeys(q.quantity for q in self.quantities))}.")

    def to_netcdf(self, path: str | Path) -> Path:
        """Write the InferenceData (with priors, data and diagnostics in its attributes)."""
        path = Path(path)
        idata = self.idata
        idata.posterior.attrs.update({"analysis": self.name, "outcome": self.outcome, "comparison": self.comparison,
                                      "method": self.method, "gate": self.gate,
                                      "priors": "; ".join(f"{k}={v}" for k, v in self._used_priors().items())})
        idata.to_netcdf(str(path), engine="h5netcdf")
        return path

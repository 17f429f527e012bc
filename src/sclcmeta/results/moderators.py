"""The result of a Q3 moderator analysis: interaction, prognostic HR or ecological slope, with subgroup fits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from ..evidence.moderators import Moderator, moderators
from .base import FitResult, Quantity


# --------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SourcedQuantity(Quantity):
    """A quantity whose row is computed by another fit (a subgroup's own pooled model)."""

    source: object = None
    level: str = ""


_PRIMARY = {"interaction": "interaction", "prognostic": "prognostic", "ecological": "meta_regression"}


@dataclass(frozen=True, repr=False)
class ModeratorResult(FitResult):
    """A fitted moderator analysis: :class:`FitResult` with moderator-specific rows, text and plots.

    Summary rows (``quantity``): ``interaction`` (pooled ratio of HRs; ``prob_hr_below_1`` is
    P(ratio < 1) and ``prob_less_benefit`` is P(ratio > 1), i.e. less benefit at the index level),
    ``study`` (each cohort's interaction), ``predictive``, ``tau``, ``subgroup`` (the treatment HR
    pooled within each level); ``prognostic``; ``meta_regression`` (ratio of HRs per unit of the
    covariate, ecological) and ``fitted`` (HR at observed covariate values).
    """

    kind: str = "interaction"
    factor: str = ""
    parts: dict = field(default_factory=dict)
    caveats: tuple = ()
    #: every moderator considered, built from the evidence analysed (specs with ``inventory = true``)
    inventory: pd.DataFrame | None = None

    @property
    def primary(self) -> str:
        return _PRIMARY[self.kind]

    @property
    def passed(self) -> bool:
        """The primary fit and every subgroup fit passed the convergence gate (or are exact)."""
        return self.diagnostics.passed and all(p.passed for p in self.parts.values())

    @property
    def moderator(self) -> Moderator | None:
        return moderators().get(self.factor)

    def __repr__(self) -> str:
        p = self.pooled_hr()
        extra = (f", P(ratio > 1: less benefit {self.moderator.index_label if self.moderator else 'per unit'}) = "
                 f"{p['prob_less_benefit']:.3f}" if pd.notna(p.get("prob_less_benefit", np.nan)) else "")
        lines = [f"<ModeratorResult {self.name!r}: {self.kind}, {self.outcome}, k={self.model.k}, {self.method}>",
                 f"  {self.primary}: {p['comparison']}",
                 f"  HR {p['hr_median']:.3f} (95% CrI {p['hr_q2.5']:.3f}-{p['hr_q97.5']:.3f}), "
                 f"P(<1) = {p['prob_hr_below_1']:.3f}{extra}",
                 f"  diagnostics: {self.diagnostics}"]
        for q in self.quantities:
            if q.quantity == "subgroup":
                r = self.row(q)
                lines.append(f"  subgroup {q.comparison}: HR {r['hr_median']:.3f} ({r['hr_q2.5']:.3f}-"
                             f"{r['hr_q97.5']:.3f})")
        return "\n".join(lines)

    # -- quantities ----------------------------------------------------------------------------
    @cached_property
    def quantities(self) -> list[Quantity]:
        base = FitResult.quantities.func(self)
        mod = self.moderator
        out: list[Quantity] = []
        if self.kind == "interaction":
            label = f"{mod.ratio_label} ({self.comparison})" if mod else self.comparison
            for q in base:
                if q.quantity == "pooled":
                    out.append(Quantity("interaction", label, q.marginal))
                elif q.quantity == "predictive":
                    out.append(Quantity("predictive", f"{label} (new cohort)", q.marginal))
                elif q.quantity == "study":
                    out.append(Quantity("study", f"{q.comparison}: within-study ratio", q.marginal))
                else:
                    out.append(q)
            for level, part in self.parts.items():
                pq = next(x for x in part.quantities if x.quantity == "pooled")
                out.append(SourcedQuantity("subgroup", part.comparison, pq.marginal, source=part, level=level))
        elif self.kind == "prognostic":
            e = self.effects
            label = (f"{mod.label}: {e.data['treatment'].iloc[0]} vs {e.data['comparator'].iloc[0]} "
                     f"(HR of the factor among ICI-treated patients)") if mod else self.comparison
            for q in base:
                if q.quantity == "pooled":
                    out.append(Quantity("prognostic", label, q.marginal))
                elif q.quantity == "predictive":
                    out.append(Quantity("predictive", f"{label} (new cohort)", q.marginal))
                else:
                    out.append(q)
        else:  # ecological
            cov = self.model.coef_names[1]
            x = self.effects.data[cov].to_numpy(float)
            for q in base:
                if q.quantity == "beta":
                    out.append(Quantity("meta_regression", f"HR ratio per unit {cov} (1 vs 0; ecological)",
                                        q.marginal))
                elif q.quantity == "pooled":
                    out.append(Quantity("fitted", f"{self.comparison} at mean {cov} = {x.mean():.3g}", q.marginal))
                else:
                    out.append(q)
            for v in sorted(set(np.round(x, 6))):
                c = np.array([1.0, v - x.mean()] + [0.0] * (self.model.p - 2))
                out.append(Quantity("fitted", f"{self.comparison} at {cov} = {v:.3g}", self.linear_marginal(c)))
        return out

    def row(self, q: Quantity, thresholds: Sequence[float] = (1.0, 0.8), *, intervals: bool = False) -> dict:
        src = getattr(q, "source", None)
        row = (src.row(q, thresholds, intervals=intervals) if src is not None
               else super().row(q, thresholds, intervals=intervals))
        row["analysis"] = self.name
        row["prob_less_benefit"] = (1.0 - row["prob_hr_below_1"]) if self._less_benefit_row(q) else np.nan
        return row

    def _less_benefit_row(self, q: Quantity) -> bool:
        return q.log_scale and (q.quantity in ("interaction", "meta_regression")
                                or (self.kind == "interaction" and q.quantity in ("study", "predictive")))

    def summary(self, thresholds: Sequence[float] = (1.0, 0.8)) -> pd.DataFrame:
        """The FitResult summary plus ``prob_less_benefit`` = P(ratio > 1) on interaction rows."""
        df = super().summary(thresholds)
        mask = np.array([self._less_benefit_row(q) for q in self.quantities])
        df["prob_less_benefit"] = np.where(mask, 1.0 - df["prob_hr_below_1"].to_numpy(float), np.nan)
        return df

    def glance(self) -> pd.DataFrame:
        """Headline rows: the primary quantity, plus the subgroup HRs of an interaction analysis."""
        s = self.summary()
        return s[s["quantity"].isin([self.primary, "subgroup"])]

    def pooled_hr(self) -> dict:
        """The primary row (interaction, prognostic HR or meta-regression ratio) as a dict."""
        return self.row(next(q for q in self.quantities if q.quantity == self.primary))

    def prob_hr_below(self, threshold: float, quantity: str = "pooled") -> float:
        return super().prob_hr_below(threshold, self.primary if quantity == "pooled" else quantity)

    def to_netcdf(self, path):
        """Primary posterior, plus each subgroup's pooled log HR as ``subgroup_<level>`` when shapes agree."""
        post = self.idata.posterior
        for level, part in self.parts.items():
            b = part.idata.posterior["b"].sel(coef="mu")
            if b.shape == post["b"].sel(coef="mu").shape:
                post[f"subgroup_{level.replace('>=', 'ge').replace('<', 'lt')}"] = (("chain", "draw"), b.values)
        self.idata.posterior = post
        return super().to_netcdf(path)

    # -- text, tables, figures -----------------------------------------------------------------
    def subgroup_row(self, level: str) -> dict | None:
        """Summary row of the pooled treatment HR within one level of the moderator."""
        for q in self.quantities:
            if q.quantity == "subgroup" and getattr(q, "level", "") == level:
                return self.row(q)
        return None

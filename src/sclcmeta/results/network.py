"""The result of a network meta-analysis: every pairwise contrast, class effects, ranks, node-splits, DIC."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from ..engine.gaussian import GaussianModel
from ..evidence.network import NetworkData
from .base import DrawsMarginal, FitResult, Quantity


def drug_draws(res_model: GaussianModel, net: NetworkData, idata, rng) -> dict[str, np.ndarray]:
    """Draws of d[t vs ref] for every treatment (class members via their conditional eps draws)."""
    post = idata.posterior
    b = post["b"].values.reshape(-1, res_model.p)
    n = b.shape[0]
    params = res_model.meta["params"]
    exch = res_model.meta["exchangeable"]
    out = {net.reference: np.zeros(n)}
    for t in net.treatments[1:]:
        if t in exch:
            continue
        out[t] = b[:, params.index(t)]
    if exch:
        A = res_model.meta["A"]
        sig = {c.name: post[c.name].values.reshape(-1) for c in res_model.components}
        tau2 = sig.get("tau", np.zeros(n)) ** 2
        s2 = sig["class_sd"] ** 2
        K_tau = next((c.K for c in res_model.components if c.name == "tau"), np.zeros((res_model.k,) * 2))
        resid = res_model.y[None, :] - b @ res_model.X.T
        m = len(exch)
        for i in range(n):
            V = res_model.S + tau2[i] * K_tau
            Vi_A = np.linalg.solve(V, A)
            prec = np.eye(m) / max(s2[i], 1e-300) + A.T @ Vi_A
            cov = np.linalg.inv(prec)
            mean = cov @ (Vi_A.T @ resid[i])
            L = np.linalg.cholesky(0.5 * (cov + cov.T) + 1e-14 * np.eye(m))
            eps = mean + L @ rng.standard_normal(m)
            for j, t in enumerate(exch):
                cls = net.classes[t]
                out.setdefault(t, np.zeros(n))[i] = b[i, params.index(f"class:{cls}")] + eps[j]
    return out


def residual_deviance_dic(gm: GaussianModel, idata) -> dict:
    """TSD2-style DIC for contrast data: residual deviance of the study-level contrasts theta.

    ``Dres = (y - theta)' S^-1 (y - theta)`` averaged over the posterior, ``pD = mean Dres - Dres(theta_bar)``.
    """
    th = idata.posterior["theta"].values.reshape(-1, gm.k)
    Si = np.linalg.inv(gm.S)
    r = gm.y[None, :] - th
    dres = np.einsum("ni,ij,nj->n", r, Si, r)
    rbar = gm.y - th.mean(0)
    d_hat = float(rbar @ Si @ rbar)
    mean = float(dres.mean())
    return {"resdev": mean, "pD": mean - d_hat, "DIC": 2 * mean - d_hat, "n_data": gm.k}


@dataclass(frozen=True, repr=False)
class NetworkResult(FitResult):
    """A fitted network: relative effects for every pair, ranks, SUCRA, node-splits, UME comparison."""

    net: NetworkData | None = None
    splits: pd.DataFrame | None = None
    ume_dic: dict | None = None
    consistency_dic: dict | None = None
    classes_used: bool = False

    @property
    def assumptions(self) -> list[str]:
        """Every assumption the network rests on (mixture arms, imputed multi-arm covariances)."""
        return list(dict.fromkeys(list(self.net.notes) + list(self.model.meta.get("notes", []))))

    @property
    def inconsistency_assessable(self) -> bool:
        """False for a network without loops (a star or a tree): no direct-vs-indirect check is possible."""
        return self.net.has_loops()

    @cached_property
    def drug_draws(self) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(self.raw.seed + 101)
        return drug_draws(self.model, self.net, self.idata, rng)

    def label(self, t: str) -> str:
        """The readable name of treatment `t`."""
        return self.net.labels.get(t, t)

    def _chains(self, x: np.ndarray) -> np.ndarray:
        nc = self.idata.posterior.sizes["chain"]
        return x.reshape(nc, -1)

    @cached_property
    def quantities(self) -> list[Quantity]:
        out: list[Quantity] = []
        dd = self.drug_draws
        ts = self.net.treatments
        exact_ok = self.raw.exact is not None and not self.model.meta["exchangeable"]
        params = self.model.meta["params"]
        for a, b in itertools.permutations(ts, 2):
            if exact_ok:
                c = np.zeros(self.model.p)
                if a != self.net.reference:
                    c[params.index(a)] += 1
                if b != self.net.reference:
                    c[params.index(b)] -= 1
                mg = self.linear_marginal(c)
            else:
                mg = DrawsMarginal(self._chains(dd[a] - dd[b]))
            out.append(Quantity("contrast", f"{self.label(a)} vs {self.label(b)}", mg))
        for name in self.model.coef_names:
            if name.startswith("D["):
                out.append(Quantity("class_mean", name[2:-1], self.coef_marginal(name)))
        classes = sorted({n[2:-1].split(" vs ")[0] for n in self.model.coef_names if n.startswith("D[")})
        if "PD-1" in classes and "PD-L1" in classes:
            c = np.zeros(self.model.p)
            c[list(self.model.coef_names).index(f"D[PD-1 vs {self.label(self.net.reference)}]")] = 1
            c[list(self.model.coef_names).index(f"D[PD-L1 vs {self.label(self.net.reference)}]")] = -1
            out.append(Quantity("class_difference", "PD-1 vs PD-L1 (class means)", self.linear_marginal(c)))
        for comp in self.model.components:
            out.append(Quantity(comp.name, "heterogeneity SD (log HR)" if comp.name == "tau" else
                                "within-class SD of drug effects (log HR)", self.variance_marginal(comp.name),
                                log_scale=False))
        return out

    # -- ranks --------------------------------------------------------------------------------------
    def rank_probabilities(self) -> pd.DataFrame:
        """P(rank r) for each treatment; rank 1 = lowest HR (best). Includes SUCRA and P(best)."""
        ts = self.net.treatments
        D = np.stack([self.drug_draws[t] for t in ts], 1)
        ranks = rankdata(D, axis=1, method="ordinal").astype(int)
        T = len(ts)
        P = np.stack([(ranks == r).mean(0) for r in range(1, T + 1)], 1)
        cum = P.cumsum(1)
        sucra = cum[:, :-1].sum(1) / (T - 1) if T > 1 else np.ones(T)
        df = pd.DataFrame(P, columns=[f"P(rank {r})" for r in range(1, T + 1)])
        df.insert(0, "treatment", [self.label(t) for t in ts])
        df["P(best)"] = P[:, 0]
        df["SUCRA"] = sucra
        df["mean rank"] = (P * np.arange(1, T + 1)).sum(1)
        return df.sort_values("SUCRA", ascending=False).reset_index(drop=True)

    def league_table(self) -> pd.DataFrame:
        """Row treatment vs column treatment: HR median (95% CrI)."""
        s = self.summary()
        s = s[s["quantity"] == "contrast"].set_index("comparison")
        ts = [self.label(t) for t in self.net.treatments]
        tab = pd.DataFrame("", index=ts, columns=ts)
        for a in ts:
            for b in ts:
                if a == b:
                    tab.loc[a, b] = a
                else:
                    r = s.loc[f"{a} vs {b}"]
                    tab.loc[a, b] = f"{r['hr_median']:.2f} ({r['hr_q2.5']:.2f}-{r['hr_q97.5']:.2f})"
        return tab.reset_index(names="vs")

    def summary(self, thresholds=(1.0, 0.8)) -> pd.DataFrame:
        df = super().summary(thresholds)
        if self.splits is None or not len(self.splits):
            return df
        splits = self.splits.assign(analysis=self.name, outcome=self.outcome, method=self.method,
                                    gate="exact" if self.method == "exact" else self.gate, k=self.model.k)
        return pd.concat([df, splits[[c for c in df.columns if c in splits.columns]]], ignore_index=True)

    def glance(self) -> pd.DataFrame:
        s = self.summary()
        ref = self.label(self.net.reference)
        return s[((s["quantity"] == "contrast") & s["comparison"].str.endswith(f" vs {ref}"))
                 | (s["quantity"] == "class_difference")]

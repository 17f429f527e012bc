"""The result of a network meta-analysis: every pairwise contrast, class effects, ranks, node-splits, DIC."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

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
    combos = res_model.meta.get("combinations", {})
    basic = [t for t in net.treatments if t not in combos]
    basic += [c for t in net.treatments for c in combos.get(t, ()) if c not in basic]
    for t in dict.fromkeys(basic[1:]):
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
        # eps | b, sigmas is normal (conjugate); all draws at once (the same random numbers as one by one)
        V = res_model.S[None] + tau2[:, None, None] * K_tau[None]
        Vi_A = np.linalg.solve(V, np.broadcast_to(A, (n,) + A.shape))
        prec = np.eye(m)[None] / np.maximum(s2, 1e-300)[:, None, None] + np.einsum("km,nkl->nml", A, Vi_A)
        cov = np.linalg.inv(prec)
        mean = np.einsum("nml,nl->nm", cov, np.einsum("nkm,nk->nm", Vi_A, resid))
        L = np.linalg.cholesky(0.5 * (cov + np.swapaxes(cov, 1, 2)) + 1e-14 * np.eye(m)[None])
        eps = mean + np.einsum("nml,nl->nm", L, rng.standard_normal((n, m)))
        for j, t in enumerate(exch):
            out[t] = b[:, params.index(f"class:{net.classes[t]}")] + eps[:, j]
    for t, cs in combos.items():        # additive components
        out[t] = sum(out[c] for c in cs)
    return out


def treatment_vector(res_model: GaussianModel, ref: str, t: str) -> np.ndarray:
    """Coefficient vector ``c`` with ``d[t vs ref] = c' b`` (a combination sums its components' vectors).

    Only for treatments with their own parameter or combinations of them (not class members, whose effect
    has a within-class deviation besides the class mean).
    """
    c = np.zeros(res_model.p)
    params = res_model.meta["params"]
    for comp in res_model.meta.get("combinations", {}).get(t, (t,)):
        if comp != ref:
            c[params.index(comp)] += 1
    return c


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
        """Every assumption the network rests on (mixture arms, additive components, imputed multi-arm covariances)."""
        return list(dict.fromkeys(list(self.net.notes) + list(self.model.meta.get("notes", []))))

    @property
    def inconsistency_assessable(self) -> bool:
        """False for a network without loops (a star or a tree): no direct-vs-indirect check is possible."""
        return self.net.has_loops()

    @property
    def components_only(self) -> list[str]:
        """Components of a combination that no arm gives alone (e.g. benmelstobart without anlotinib)."""
        combos = self.model.meta.get("combinations", {})
        return list(dict.fromkeys(c for cs in combos.values() for c in cs if c not in self.net.treatments))

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
        ref = self.net.reference
        for a, b in itertools.permutations(ts, 2):
            if exact_ok:
                c = treatment_vector(self.model, ref, a) - treatment_vector(self.model, ref, b)
                mg = self.linear_marginal(c)
            else:
                mg = DrawsMarginal(self._chains(dd[a] - dd[b]))
            out.append(Quantity("contrast", f"{self.label(a)} vs {self.label(b)}", mg))
        for comp in self.components_only:   # a component no arm gives alone: its own effect, vs the reference
            mg = (self.linear_marginal(treatment_vector(self.model, ref, comp)) if exact_ok
                  else DrawsMarginal(self._chains(dd[comp])))
            out.append(Quantity("component", f"{self.label(comp)} vs {self.label(ref)}", mg))
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
        from scipy.stats import rankdata

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
        s = s[(s["quantity"] == "contrast") & (s["bias"] != "unadjusted")].set_index("comparison")
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
                                    gate="exact" if self.method == "exact" else self.gate, k=self.model.k,
                                    bias=self.bias_label)
        return pd.concat([df, splits[[c for c in df.columns if c in splits.columns]]], ignore_index=True)

    def glance(self) -> pd.DataFrame:
        s = self.summary()
        ref = self.label(self.net.reference)
        return s[((s["quantity"] == "contrast") & s["comparison"].str.endswith(f" vs {ref}"))
                 | (s["quantity"] == "class_difference")]

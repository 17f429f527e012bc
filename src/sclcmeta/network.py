"""Contrast-based Bayesian network meta-analysis on log HR (NICE DSU TSD2/3/4), in the one Gaussian family.

Every reported HR is a *contrast* row: ``y_i = sum_j w_ij (d[t_ij] - d[c_ij]) + delta_i + e_i``.

* ``d[k]`` are basic parameters (effects vs the reference treatment, ``d[ref] = 0``);
* usually one component with weight 1; a *mixture* arm (e.g. an "ICI continued" arm in which 105
  patients continued the same ICI and 13 switched) has components weighted by its composition;
* ``e`` has covariance ``S``: ``se^2`` on the diagonal and, for contrasts of one multi-arm study that
  share a comparator arm, the variance of that shared arm (given in a ``shared_var`` column, or
  imputed as half the smaller contrast variance: the equal-arm-variance assumption, reported);
* ``delta ~ N(0, tau^2 K)`` (random effects): ``K`` has 1 on the diagonal and 1/2 between contrasts of
  one multi-arm study sharing a comparator (TSD2);
* class effects (TSD3): drugs of a class with two or more members are exchangeable,
  ``d[k] = D[class] + eps_k``, ``eps_k ~ N(0, class_sd^2)``, marginalized into the covariance.

A cohort's sub-comparison that shares patients with its main comparison (Zhang 2025b: continuing vs
switching within the continued arm) is not independent evidence; the main row is written as a mixture
(105/118 continue + 13/118 switch vs stop) and the sub-comparison as continue vs switch. Under
events proportional to arm size, the covariance of the mixture contrast and the split contrast is
``(n_s/n) v_s - (n_w/n) v_w = 0`` with ``v ~ 1/n``, so the two rows enter with zero covariance but the
main row does not double count the switchers.

Inconsistency (TSD4): the unrelated-mean-effects model (one parameter per observed comparison) and
node-splitting (the direct evidence on a pair gets its own parameter) with DIC from the
conditional residual deviance, as in TSD2/4.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from .engine.gaussian import Component, GaussianModel
from .evidence.harmonize import preference_rank
from .errors import ConvergenceWarning, EvidenceError, SpecError
from .fitting import DEFAULT_DRAWS, DEFAULT_TUNE, CompileCache, fit_model
from .priors import PriorSet
from .results import DrawsMarginal, FitResult, Quantity


@dataclass
class ContrastRow:
    """One reported contrast: log HR ``y`` (SE ``se``) of ``components`` [(weight, t, c)]."""

    id: str
    study: str
    pool: str
    y: float
    se: float
    components: list[tuple[float, str, str]]
    design: str = ""
    shared_var: float | None = None
    analysis: str = ""

    @property
    def comparator(self) -> str:
        return self.components[0][2]

    @property
    def pairs(self) -> set[tuple[str, str]]:
        return {tuple(sorted((t, c))) for _, t, c in self.components}


@dataclass
class NetworkData:
    """Contrast rows, treatments, the reference, classes, and notes on every assumption made."""

    rows: list[ContrastRow]
    reference: str
    outcome: str = ""
    classes: dict[str, str] = field(default_factory=dict)   # treatment -> class (only exchangeable ones)
    labels: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    @property
    def treatments(self) -> list[str]:
        ts = sorted({x for r in self.rows for _, t, c in r.components for x in (t, c)})
        return [self.reference] + [t for t in ts if t != self.reference]

    @property
    def studies(self) -> list[str]:
        return list(dict.fromkeys(r.study for r in self.rows))

    def edges(self) -> pd.DataFrame:
        """Direct comparisons: pair, number of studies, total precision (edge widths of the graph)."""
        rec = {}
        for r in self.rows:
            for w, t, c in r.components:
                key = tuple(sorted((t, c)))
                e = rec.setdefault(key, {"a": key[0], "b": key[1], "studies": set(), "precision": 0.0})
                e["studies"].add(r.study)
                e["precision"] += w**2 / r.se**2
        out = pd.DataFrame([{**v, "n_studies": len(v["studies"]), "studies": ", ".join(sorted(v["studies"]))}
                            for v in rec.values()])
        return out

    def check_connected(self, where: str = "network") -> None:
        ts = self.treatments
        adj = {t: set() for t in ts}
        for r in self.rows:
            for _, t, c in r.components:
                adj[t].add(c)
                adj[c].add(t)
        seen, todo = set(), [self.reference]
        while todo:
            x = todo.pop()
            if x not in seen:
                seen.add(x)
                todo.extend(adj[x] - seen)
        missing = [t for t in ts if t not in seen]
        if missing:
            raise SpecError(f"{where}: treatment(s) {', '.join(missing)} are not connected to the reference "
                            f"{self.reference!r}; add evidence linking them or drop them.")


# -------------------------------------------------------------------------------------------------
def _sampling_cov(net: NetworkData) -> tuple[np.ndarray, np.ndarray]:
    """Sampling covariance S and RE structure K (multi-arm blocks)."""
    k = len(net.rows)
    S = np.diag([r.se**2 for r in net.rows])
    K = np.eye(k)
    for i, j in itertools.combinations(range(k), 2):
        a, b = net.rows[i], net.rows[j]
        if a.study != b.study or a.comparator != b.comparator or len(a.components) > 1 or len(b.components) > 1:
            continue
        if a.shared_var is not None and b.shared_var is not None:
            cov = a.shared_var
        else:
            cov = 0.5 * min(a.se**2, b.se**2)
            note = (f"{a.study}: covariance of the contrasts {a.components[0][1]} and {b.components[0][1]} vs "
                    f"{a.comparator} imputed as half the smaller contrast variance ({cov:.4f}; equal-arm-variance "
                    "assumption)")
            if note not in net.notes:
                net.notes.append(note)
        S[i, j] = S[j, i] = cov
        K[i, j] = K[j, i] = 0.5
    return S, K


def build_network_model(net: NetworkData, *, effects: str = "random", classes: bool = False,
                        split: tuple[str, str] | None = None, ume: bool = False) -> GaussianModel:
    """The Gaussian model of a network (consistency, node-split or unrelated mean effects)."""
    if effects not in ("random", "fixed"):
        raise SpecError(f"network `effects` must be 'random' or 'fixed'; got {effects!r}.")
    net.check_connected()
    ts = net.treatments
    ref = net.reference
    cls = {t: c for t, c in net.classes.items() if t in ts and t != ref} if classes else {}
    members = pd.Series(cls).value_counts() if cls else pd.Series(dtype=int)
    exch = {t: c for t, c in cls.items() if members.get(c, 0) >= 2}
    lab = net.labels
    if ume:
        pairs = sorted({p for r in net.rows for p in r.pairs})
        names = [f"u[{lab.get(b, b)} vs {lab.get(a, a)}]" for a, b in pairs]
    else:
        params = []
        for t in ts[1:]:
            if t in exch:
                key = f"class:{exch[t]}"
                if key not in params:
                    params.append(key)
            else:
                params.append(t)
        names = [f"D[{p[6:]} vs {lab.get(ref, ref)}]" if p.startswith("class:") else f"d[{lab.get(p, p)} vs {lab.get(ref, ref)}]"
                 for p in params]
    if split is not None:
        names.append(f"direct[{lab.get(split[0], split[0])} vs {lab.get(split[1], split[1])}]")
    k = len(net.rows)
    X = np.zeros((k, len(names)))
    A = np.zeros((k, len(exch))) if exch else None
    exch_list = sorted(exch)

    def add(i, t, sign, w):
        if t == ref:
            return
        if t in exch:
            X[i, params.index(f"class:{exch[t]}")] += sign * w
            A[i, exch_list.index(t)] += sign * w
        else:
            X[i, params.index(t)] += sign * w

    for i, r in enumerate(net.rows):
        for w, t, c in r.components:
            if split is not None and {t, c} == set(split):
                X[i, -1] += w * (1 if (t, c) == tuple(split) else -1)
                continue
            if ume:
                a, b = sorted((t, c))
                X[i, pairs.index((a, b))] += w * (1 if t == b else -1)
            else:
                add(i, t, +1, w)
                add(i, c, -1, w)
    S, K = _sampling_cov(net)
    comps = []
    if effects == "random":
        comps.append(Component("tau", K, "tau"))
    if exch and not ume:
        comps.append(Component("class_sd", A @ A.T, "class_sd", predictive_weight=0.0))
    kind = "network_ume" if ume else ("network_split" if split else "network")
    gm = GaussianModel(y=np.array([r.y for r in net.rows]), S=S, X=X, coef_names=tuple(names),
                       coef_roles=("effect",) * len(names), components=tuple(comps),
                       studies=tuple(f"{r.study}: {' + '.join(f'{lab.get(t, t)}' for _, t, _ in r.components)} vs "
                                     f"{lab.get(r.comparator, r.comparator)}" for r in net.rows),
                       kind=kind, x_new=np.zeros(len(names)))
    gm.meta.update({"params": [] if ume else params, "exchangeable": exch_list, "A": A, "reference": ref})
    return gm


# -------------------------------------------------------------------------------------------------
def _drug_draws(res_model: GaussianModel, net: NetworkData, idata, rng) -> dict[str, np.ndarray]:
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


class NetworkResult(FitResult):
    """A fitted network: relative effects for every pair, ranks, SUCRA, node-splits, UME comparison."""

    net: NetworkData
    splits: pd.DataFrame | None = None
    ume_dic: dict | None = None
    consistency_dic: dict | None = None
    classes_used: bool = False

    @cached_property
    def drug_draws(self) -> dict[str, np.ndarray]:
        rng = np.random.default_rng(self.raw.seed + 101)
        return _drug_draws(self.model, self.net, self.idata, rng)

    def _lab(self, t: str) -> str:
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
            out.append(Quantity("contrast", f"{self._lab(a)} vs {self._lab(b)}", mg))
        for name in self.model.coef_names:
            if name.startswith("D["):
                out.append(Quantity("class_mean", name[2:-1], self.coef_marginal(name)))
        classes = sorted({n[2:-1].split(" vs ")[0] for n in self.model.coef_names if n.startswith("D[")})
        if "PD-1" in classes and "PD-L1" in classes:
            c = np.zeros(self.model.p)
            c[list(self.model.coef_names).index(f"D[PD-1 vs {self._lab(self.net.reference)}]")] = 1
            c[list(self.model.coef_names).index(f"D[PD-L1 vs {self._lab(self.net.reference)}]")] = -1
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
        ranks = D.argsort(1).argsort(1) + 1
        T = len(ts)
        P = np.stack([(ranks == r).mean(0) for r in range(1, T + 1)], 1)
        cum = P.cumsum(1)
        sucra = cum[:, :-1].sum(1) / (T - 1) if T > 1 else np.ones(T)
        df = pd.DataFrame(P, columns=[f"P(rank {r})" for r in range(1, T + 1)])
        df.insert(0, "treatment", [self._lab(t) for t in ts])
        df["P(best)"] = P[:, 0]
        df["SUCRA"] = sucra
        df["mean rank"] = (P * np.arange(1, T + 1)).sum(1)
        return df.sort_values("SUCRA", ascending=False).reset_index(drop=True)

    def league_table(self) -> pd.DataFrame:
        """Row treatment vs column treatment: HR median (95% CrI)."""
        s = self.summary()
        s = s[s["quantity"] == "contrast"].set_index("comparison")
        ts = [self._lab(t) for t in self.net.treatments]
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
        ref = self._lab(self.net.reference)
        return s[((s["quantity"] == "contrast") & s["comparison"].str.endswith(f" vs {ref}"))
                 | (s["quantity"] == "class_difference")]

    def tables(self) -> dict[str, pd.DataFrame]:
        out = {"Rank probabilities and SUCRA (rank 1 = lowest HR)": self.rank_probabilities(),
               "League table (row vs column, HR median and 95% CrI)": self.league_table()}
        if self.splits is not None and len(self.splits):
            out["Node-splitting: direct vs indirect evidence"] = self.splits[
                ["quantity", "comparison", "hr_median", "hr_q2.5", "hr_q97.5", "prob_hr_below_1"]]
        if self.ume_dic is not None:
            out["Consistency vs unrelated mean effects (TSD4 DIC)"] = pd.DataFrame(
                [{"model": "consistency", **self.consistency_dic}, {"model": "unrelated mean effects", **self.ume_dic}])
        if self.net.notes:
            out["Assumptions"] = pd.DataFrame({"assumption": self.net.notes})
        return out

    def figures(self) -> dict[str, bytes]:
        from .plots import plot_network, plot_rankogram, plot_contrasts
        from .report.build import _png

        figs = {"network": _png(plot_network(self)), "contrasts": _png(plot_contrasts(self)),
                "rankogram": _png(plot_rankogram(self))}
        return figs

    def plain_language(self, evidence=None) -> str:
        rp = self.rank_probabilities()
        best = rp.iloc[0]
        ref = self._lab(self.net.reference)
        s = self.summary()
        c = s[(s["quantity"] == "contrast") & s["comparison"].str.endswith(f" vs {ref}")]
        parts = [f"Network of {len(self.net.studies)} studies and {len(self.net.rows)} contrasts ({self.outcome}), "
                 f"reference {ref}."]
        for _, r in c.iterrows():
            parts.append(f"{r['comparison']}: HR {r['hr_median']:.2f} (95% CrI {r['hr_q2.5']:.2f}-{r['hr_q97.5']:.2f}), "
                         f"P(HR<1) {r['prob_hr_below_1']:.2f}.")
        parts.append(f"Highest SUCRA: {best['treatment']} (P(best) {best['P(best)']:.2f}).")
        cd = s[s["quantity"] == "class_difference"]
        if len(cd):
            r = cd.iloc[0]
            parts.append(f"PD-1 vs PD-L1 class difference: ratio of HRs {r['hr_median']:.2f} (95% CrI "
                         f"{r['hr_q2.5']:.2f}-{r['hr_q97.5']:.2f}); P(PD-1 class better) {r['prob_hr_below_1']:.2f}. "
                         "Drugs differ in backbone, population and trial era; the class contrast is indirect (no trial "
                         "compares PD-1 with PD-L1 antibodies) and rests on the exchangeability assumption.")
        if self.splits is not None and len(self.splits):
            inc = self.splits[self.splits["quantity"] == "inconsistency"]
            worst = inc.loc[(inc["prob_hr_below_1"] - 0.5).abs().idxmax()] if len(inc) else None
            if worst is not None:
                parts.append(f"Node-splitting: largest direct-indirect discrepancy for {worst['comparison']} (ratio "
                             f"{worst['hr_median']:.2f}, 95% CrI {worst['hr_q2.5']:.2f}-{worst['hr_q97.5']:.2f}).")
        if self.ume_dic is not None:
            parts.append(f"DIC consistency {self.consistency_dic['DIC']:.1f} vs unrelated mean effects "
                         f"{self.ume_dic['DIC']:.1f} (a difference under ~3 points gives no evidence of inconsistency).")
        if self.net.notes:
            parts.append("Assumptions: " + "; ".join(self.net.notes) + ".")
        return " ".join(parts)


def node_split_table(net: NetworkData, priors: PriorSet, effects: str, classes: bool, seed: int,
                     name: str, outcome: str) -> pd.DataFrame:
    """Node-split every comparison with both direct and indirect evidence (exact solver)."""
    rows = []
    lab = net.labels
    direct_pairs = sorted({p for r in net.rows for p in r.pairs})
    for a, b in direct_pairs:
        # indirect evidence exists if a and b stay connected once the direct rows are removed
        rest = [r for r in net.rows if (a, b) not in r.pairs]
        sub = NetworkData(rest, net.reference, classes=net.classes)
        ts = set(sub.treatments)
        if a not in ts or b not in ts:
            continue
        try:
            sub.check_connected()
        except SpecError:
            continue
        try:
            gm = build_network_model(net, effects=effects, classes=classes, split=(b, a))
        except SpecError:
            continue
        raw = fit_model(gm, priors, method="exact", seed=seed)
        fr = FitResult(name, outcome, "", raw)
        params = gm.meta["params"]
        ref = net.reference
        cvec = np.zeros(gm.p)
        if b != ref and b in params:
            cvec[params.index(b)] += 1
        if a != ref and a in params:
            cvec[params.index(a)] -= 1
        if (b != ref and b not in params) or (a != ref and a not in params):
            continue  # class member: indirect contrast not a basic parameter
        direct = np.zeros(gm.p)
        direct[-1] = 1
        label = f"{lab.get(b, b)} vs {lab.get(a, a)}"
        for qname, vec in (("direct", direct), ("indirect", cvec), ("inconsistency", direct - cvec)):
            r = fr._row(Quantity(qname, label, fr.linear_marginal(vec)))
            rows.append(r)
    return pd.DataFrame(rows)


# -------------------------------------------------------------------------------------------------
def network_from_evidence(evidence, *, outcome: str, nodes: dict[str, str], reference: str,
                          mixtures: dict | None = None, kind: str = "treatment_effect", population="overall",
                          line: str | None = None, prefer=("propensity_matched", "multivariable", "unadjusted"),
                          exclude=(), classes: dict[str, str] | None = None, labels: dict | None = None,
                          where: str = "network") -> NetworkData:
    """Contrast rows from the evidence table: one estimate per patient pool and comparison.

    ``nodes`` maps evidence node ids to network treatments (strategies); ``mixtures`` maps
    ``{cohort: {node: {treatment: n, ...}}}`` for arms that mix treatments.
    """
    d = evidence.data
    m = (d["outcome"] == outcome) & (d["kind"] == kind) & d["population"].isin(
        [population] if isinstance(population, str) else population) & np.isfinite(d["se_"])
    if line:
        m &= d["line"] == line
    m &= d["treatment"].isin(nodes) & d["comparator"].isin(nodes)
    m &= ~d["cohort"].isin(list(exclude))
    cand = d[m].copy()
    if cand.empty:
        raise SpecError(f"{where}: no evidence rows match outcome {outcome!r} and the node mapping.")
    cand["_rank"] = preference_rank(cand, prefer)
    cand["_pair"] = [tuple(sorted((nodes[t], nodes[c]))) for t, c in zip(cand["treatment"], cand["comparator"])]
    mixtures = mixtures or {}
    labels_of = (evidence.studies.set_index("cohort")["label"].to_dict()
                 if evidence.studies is not None and "label" in evidence.studies else {})
    rows, log = [], []
    for (pool, pair), g in cand.groupby(["patient_pool", "_pair"], sort=False):
        g = g.sort_values("_rank", kind="stable")
        top = g[g["_rank"] == g["_rank"].iloc[0]]
        if top["cohort"].nunique() > 1:
            raise EvidenceError(f"{where}: cohorts {', '.join(sorted(top['cohort'].unique()))} share patients (pool "
                                f"{pool!r}) and both report {pair[0]} vs {pair[1]}; exclude one.")
        r = top.iloc[0]
        for j in g.index[1:]:
            log.append(f"not used: {g.at[j, 'id']} ({g.at[j, 'analysis']}; same comparison and patients as {r['id']})")
        log.append(f"used: {r['id']} ({r['analysis']})")

        def comps(node):
            mix = mixtures.get(r["cohort"], {}).get(node)
            if mix:
                tot = sum(mix.values())
                return [(v / tot, k) for k, v in mix.items()]
            return [(1.0, nodes[node])]

        tparts, c = comps(r["treatment"]), nodes[r["comparator"]]
        cparts = comps(r["comparator"])
        if len(cparts) > 1:
            raise SpecError(f"{where}: mixture arms are supported on the treatment side only ({r['id']}).")
        components = [(w, t, c) for w, t in tparts if t != c]
        rows.append(ContrastRow(id=r["id"], study=labels_of.get(r["cohort"], r["cohort"]),
                                pool=pool, y=float(r["log_hr_"]), se=float(r["se_"]), components=components,
                                design=r["design"], analysis=r["analysis"]))
    net = NetworkData(rows, reference=reference, outcome=outcome, classes=classes or {}, labels=labels or {}, log=log)
    for cohort, mix in mixtures.items():
        for node, comp in mix.items():
            net.notes.append(f"{cohort}: arm {node} modelled as a mixture "
                             + " + ".join(f"{v}/{sum(comp.values())} {k}" for k, v in comp.items())
                             + " on the log-hazard scale (its sub-comparison enters with zero covariance; see "
                               "sclcmeta.network docs)")
    if reference not in net.treatments:
        raise SpecError(f"{where}: reference {reference!r} has no evidence; choose one of "
                        f"{', '.join(net.treatments[:5])}.")
    return net


def fit_network(net: NetworkData, priors: PriorSet, *, effects: str = "random", classes: bool = False,
                method: str = "exact", name: str = "network", seed: int = 1, draws: int = DEFAULT_DRAWS, tune: int = DEFAULT_TUNE,
                chains: int = 4, sampler: str = "nutpie", node_split: bool = True, ume: bool = True,
                cache: CompileCache | None = None, progress: bool = False, spec=None, question: str = "") -> NetworkResult:
    """Fit a network (consistency model) plus node-splits and the unrelated-mean-effects comparison.

    Examples
    --------
    >>> from sclcmeta.network import ContrastRow, NetworkData, fit_network
    >>> from sclcmeta.priors import default_prior_set
    >>> rows = [ContrastRow("1", "s1", "s1", -0.3, 0.1, [(1.0, "B", "A")]),
    ...         ContrastRow("2", "s2", "s2", -0.5, 0.15, [(1.0, "C", "A")]),
    ...         ContrastRow("3", "s3", "s3", -0.1, 0.2, [(1.0, "C", "B")])]
    >>> res = fit_network(NetworkData(rows, "A"), default_prior_set(), effects="fixed")
    >>> res.rank_probabilities()["treatment"].iloc[0]
    'C'
    """
    gm = build_network_model(net, effects=effects, classes=classes)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        raw = fit_model(gm, priors, method=method, seed=seed, draws=draws, tune=tune, chains=chains,
                        sampler=sampler, cache=cache, progress=progress)
    res = NetworkResult(name=name, outcome=net.outcome, comparison=f"network vs {net.labels.get(net.reference, net.reference)}",
                        raw=raw, spec=spec, question=question)
    res.net = net
    res.classes_used = classes
    res.consistency_dic = residual_deviance_dic(gm, raw.idata)
    if ume:
        try:
            gu = build_network_model(net, effects=effects, ume=True)
            ru = fit_model(gu, priors, method="exact" if len(gu.components) <= 3 else method, seed=seed)
            res.ume_dic = residual_deviance_dic(gu, ru.idata)
        except SpecError:
            res.ume_dic = None
    res.splits = node_split_table(net, priors, effects, classes, seed, name, net.outcome) if node_split else None
    return res


def run_network_spec(spec, evidence, *, cache=None, progress=False, method=None) -> NetworkResult:
    """Run a ``[model] type = "network"`` spec."""
    ev = spec.evidence
    m = spec.model
    nodes = ev.get("nodes")
    if not nodes:
        raise SpecError(f"{spec.path}: [evidence.nodes] missing: map evidence node ids to network treatments, "
                        "e.g. nodes = {{ no_ici_2l = \"stop\", ici_same_2l = \"continue\" }}.")
    classes = None
    if m.get("classes"):
        if evidence.nodes is None:
            raise SpecError(f"{spec.path}: class effects need the node table (nodes.csv with ici_class).")
        cls = evidence.nodes.set_index("node")["ici_class"]
        classes = {nodes[n]: cls[n] for n in nodes if n in cls.index and cls[n] in ("PD-1", "PD-L1")}
    labels = ev.get("labels") or {}
    if evidence.nodes is not None and not labels:
        lab = evidence.nodes.set_index("node")["label"]
        labels = {v: (lab[k] if v == k and k in lab.index else v) for k, v in nodes.items()}
    net = network_from_evidence(evidence, outcome=spec.outcome, nodes=nodes, reference=ev.get("reference"),
                                mixtures=m.get("mixtures"), kind=ev.get("kind", "treatment_effect"),
                                population=ev.get("population", "overall"), line=ev.get("line"),
                                prefer=tuple(ev.get("prefer") or ("propensity_matched", "multivariable", "unadjusted")),
                                exclude=ev.get("exclude", ()), classes=classes, labels=labels,
                                where=f"{spec.path} [evidence]")
    inf = spec.inference
    res = fit_network(net, spec.priors, effects=m.get("effects", "random"), classes=bool(m.get("classes")),
                      method=method or inf["method"], name=spec.name, seed=inf["seed"], draws=inf["draws"],
                      tune=inf["tune"], chains=inf["chains"], sampler=inf["sampler"], cache=cache, progress=progress,
                      spec=spec, question=spec.question)
    res.comparison = spec.comparison or res.comparison
    return res


def fit_network_csv(evidence, args, priors: PriorSet) -> NetworkResult:
    """``sclcmeta fit --data CSV --model network``: a network from the minimal import format.

    A multi-arm study is several rows sharing ``study`` and ``comparator``; an optional ``shared_var``
    column gives the covariance of those rows (the variance of the shared arm's log hazard); otherwise it
    is imputed as half the smaller contrast variance, and the report says so.
    """
    d = evidence.data
    outcomes = sorted(d["outcome"].unique())
    outcome = args.outcome or (outcomes[0] if len(outcomes) == 1 else None)
    if outcome is None:
        raise SpecError(f"{args.data}: the file has outcomes {', '.join(outcomes)}; choose one with --outcome.")
    d = d[d["outcome"] == outcome]
    rows = []
    for r in d.itertuples():
        sv = getattr(r, "shared_var", "")
        rows.append(ContrastRow(r.id, r.cohort, r.cohort, float(r.log_hr_), float(r.se_),
                                [(1.0, r.treatment, r.comparator)], design=r.design,
                                shared_var=float(sv) if sv not in ("", None) else None))
    dup = pd.Series([(r.study, r.components[0][1], r.components[0][2]) for r in rows])
    if dup.duplicated().any():
        s, t, c = dup[dup.duplicated()].iloc[0]
        raise EvidenceError(f"{args.data}: study {s!r} reports {t} vs {c} twice; a study may enter the likelihood "
                            "once per comparison.")
    counts = pd.Series([x for r in rows for x in (r.components[0][1], r.components[0][2])]).value_counts()
    ref = args.reference or counts.index[0]
    net = NetworkData(rows, reference=ref, outcome=outcome)
    return fit_network(net, priors, effects=args.effects or "random", method=args.method or "exact",
                       seed=1 if args.seed is None else args.seed,
                       draws=DEFAULT_DRAWS if args.draws is None else args.draws, sampler=args.sampler or "nutpie",
                       name=str(getattr(args, "data", "network")).rsplit("/", 1)[-1].removesuffix(".csv"))

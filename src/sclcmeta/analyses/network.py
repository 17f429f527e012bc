"""Network meta-analyses (Q2, Q4): contrast rows -> consistency model, node-splits, UME -> NetworkResult."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..engine.network import build_network_model
from ..errors import ConvergenceWarning, SpecError
from ..evidence.selection import DEFAULT_PREFERENCE
from ..evidence.network import NetworkData, network_from_csv, network_from_evidence
from ..fitting import CompileCache, fit_model
from ..priors import PriorSet
from ..results import FitResult, Quantity
from ..results.network import NetworkResult, residual_deviance_dic
from ..vocabulary import DEFAULT_DRAWS, DEFAULT_TUNE
from .common import register


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
            r = fr.row(Quantity(qname, label, fr.linear_marginal(vec)), intervals=True)
            rows.append(r)
    return pd.DataFrame(rows)


# -------------------------------------------------------------------------------------------------


def fit_network(net: NetworkData, priors: PriorSet, *, effects: str = "random", classes: bool = False,
                method: str = "exact", name: str = "network", seed: int = 1, draws: int = DEFAULT_DRAWS, tune: int = DEFAULT_TUNE,
                chains: int = 4, sampler: str = "nutpie", node_split: bool = True, ume: bool = True,
                cache: CompileCache | None = None, progress: bool = False, spec=None, question: str = "",
                comparison: str = "") -> NetworkResult:
    """Fit a network (consistency model) plus node-splits and the unrelated-mean-effects comparison.

    Examples
    --------
    >>> from sclcmeta.evidence.network import ContrastRow, NetworkData
    >>> from sclcmeta.analyses.network import fit_network
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
    ume_dic = None
    if ume:
        try:
            gu = build_network_model(net, effects=effects, ume=True)
            ru = fit_model(gu, priors, method="exact" if len(gu.components) <= 3 else method, seed=seed)
            ume_dic = residual_deviance_dic(gu, ru.idata)
        except SpecError:
            ume_dic = None
    splits = node_split_table(net, priors, effects, classes, seed, name, net.outcome) if node_split else None
    return NetworkResult(name=name, outcome=net.outcome,
                         comparison=comparison or f"network vs {net.labels.get(net.reference, net.reference)}",
                         raw=raw, spec=spec, question=question, net=net, classes_used=classes,
                         consistency_dic=residual_deviance_dic(gm, raw.idata), ume_dic=ume_dic, splits=splits)


def run_network_spec(spec, evidence, *, method=None, cache=None, progress=False) -> NetworkResult:
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
                                prefer=tuple(ev.get("prefer") or DEFAULT_PREFERENCE),
                                exclude=ev.get("exclude", ()), classes=classes, labels=labels,
                                where=f"{spec.path} [evidence]")
    inf = spec.inference
    res = fit_network(net, spec.priors, effects=m.get("effects", "random"), classes=bool(m.get("classes")),
                      method=method or inf["method"], name=spec.name, seed=inf["seed"], draws=inf["draws"],
                      tune=inf["tune"], chains=inf["chains"], sampler=inf["sampler"], cache=cache, progress=progress,
                      spec=spec, question=spec.question, comparison=spec.comparison)
    return res


def fit_network_table(evidence, priors: PriorSet, *, outcome=None, reference=None, effects=None, method=None,
                      seed=None, draws=None, sampler=None, name="network", where="--data") -> NetworkResult:
    """``sclcmeta fit --data CSV --model network``: a network from the minimal import format."""
    net = network_from_csv(evidence, outcome=outcome, reference=reference, where=where)
    return fit_network(net, priors, effects=effects or "random", method=method or "exact",
                       seed=1 if seed is None else seed, draws=DEFAULT_DRAWS if draws is None else draws,
                       sampler=sampler or "nutpie", name=name)


@register("network")
class NetworkAnalysis:
    """Contrast-based network with node-splitting and the unrelated-mean-effects comparison."""

    @staticmethod
    def run(spec, evidence, *, method=None, cache=None, progress=False) -> NetworkResult:
        return run_network_spec(spec, evidence, method=method, cache=cache, progress=progress)

    @staticmethod
    def effects(spec, evidence, **overrides):
        raise SpecError(f"{spec.path}: a network spec has no single set of pairwise estimates; sensitivity reruns "
                        "of networks are run per prior set with `sclcmeta fit --prior ...`.")

    evidence_settings = effects

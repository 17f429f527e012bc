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


def split_direction(net: NetworkData, a: str, b: str) -> tuple[str, str]:
    """The direction in which the contrasts report the pair ``a, b``: the later treatment of
    ``net.treatments`` vs the earlier one, so a pair with the reference reads ``t vs reference``
    (as every contrast vs the reference in the summary and the report does).

    >>> from sclcmeta.evidence.network import ContrastRow
    >>> r = lambda i, t, c: ContrastRow(i, i, i, 0.0, 0.1, [(1.0, t, c)])
    >>> split_direction(NetworkData([r("1", "stop", "continue"), r("2", "switch", "stop")], "stop"), "continue", "stop")
    ('continue', 'stop')
    """
    ts = net.treatments
    return (a, b) if ts.index(a) > ts.index(b) else (b, a)


def node_split_table(net: NetworkData, priors: PriorSet, effects: str, classes: bool, seed: int,
                     name: str, outcome: str) -> pd.DataFrame:
    """Node-split every comparison with both direct and indirect evidence (exact solver).

    Empty when the network has no closed loop (:meth:`NetworkData.has_loops`): a split there cannot detect
    anything. Each pair is reported in the direction of the contrasts (:func:`split_direction`):
    ``direct``, ``indirect`` and ``inconsistency`` = direct - indirect, all for "later vs earlier treatment".
    """
    rows = []
    if not net.has_loops():
        return pd.DataFrame(rows)
    lab = net.labels
    for a, b in net.direct_pairs():
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
        hi, lo = split_direction(net, a, b)
        try:
            gm = build_network_model(net, effects=effects, classes=classes, split=(hi, lo))
        except SpecError:
            continue
        params = gm.meta["params"]
        ref = net.reference
        if any(t != ref and t not in params for t in (hi, lo)):
            continue  # a class member or a combination: its indirect contrast is not one basic parameter
        raw = fit_model(gm, priors, method="exact", seed=seed)
        fr = FitResult(name, outcome, "", raw)
        cvec = np.zeros(gm.p)
        if hi != ref:
            cvec[params.index(hi)] += 1
        if lo != ref:
            cvec[params.index(lo)] -= 1
        direct = np.zeros(gm.p)
        direct[-1] = 1
        label = f"{lab.get(hi, hi)} vs {lab.get(lo, lo)}"
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
    if ume and net.has_loops():    # without a closed loop the UME model cannot differ from consistency
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


def network_combinations(spec, nodes: dict[str, str]) -> dict[str, tuple[str, ...]]:
    """``[model.components]`` of a network spec, checked: combination -> its additive components.

    A combination must be a network treatment (a value of ``[evidence.nodes]``) and have two or more
    components; a component is a network treatment or a new name (a drug no arm gives alone), whose class,
    if any, is in ``[model.class_of]`` (which also overrides the node table's class of a treatment).
    """
    raw = spec.model.get("components") or {}
    treatments = set(nodes.values())
    out = {}
    for t, cs in raw.items():
        if t not in treatments:
            raise SpecError(f"{spec.path}: [model.components] {t!r} is not a network treatment; use one of "
                            f"{', '.join(sorted(treatments))}.")
        if len(cs) < 2 or len(set(cs)) != len(cs) or t in cs:
            raise SpecError(f"{spec.path}: [model.components] {t} = {cs}: list two or more different components, "
                            "e.g. [\"benmelstobart_1l\", \"anlotinib_1l\"].")
        out[t] = tuple(cs)
    known = treatments | {c for cs in out.values() for c in cs}
    for c in spec.model.get("class_of") or {}:
        if c not in known:
            raise SpecError(f"{spec.path}: [model.class_of] {c!r} is neither a treatment nor a component.")
    return out


def network_from_spec(spec, evidence) -> NetworkData:
    """The network a ``[model] type = "network"`` spec describes: contrast rows, classes, labels, components."""
    ev = spec.evidence
    m = spec.model
    nodes = ev.get("nodes")
    if not nodes:
        raise SpecError(f"{spec.path}: [evidence.nodes] missing: map evidence node ids to network treatments, "
                        "e.g. nodes = {{ no_ici_2l = \"stop\", ici_same_2l = \"continue\" }}.")
    combos = network_combinations(spec, nodes)
    classes = None
    if m.get("classes"):
        if evidence.nodes is None:
            raise SpecError(f"{spec.path}: class effects need the node table (nodes.csv with ici_class).")
        cls = evidence.nodes.set_index("node")["ici_class"]
        classes = {nodes[n]: cls[n] for n in nodes if n in cls.index and cls[n] in ("PD-1", "PD-L1")
                   and nodes[n] not in combos}          # a combination enters a class only through a component
        classes.update(m.get("class_of") or {})
    labels = {}
    if evidence.nodes is not None:
        lab = evidence.nodes.set_index("node")["label"]
        labels = {v: (lab[k] if v == k and k in lab.index else v) for k, v in nodes.items()}
    labels.update(ev.get("labels") or {})
    net = network_from_evidence(evidence, outcome=spec.outcome, nodes=nodes, reference=ev.get("reference"),
                                mixtures=m.get("mixtures"), kind=ev.get("kind", "treatment_effect"),
                                population=ev.get("population", "overall"), line=ev.get("line"),
                                prefer=tuple(ev.get("prefer") or DEFAULT_PREFERENCE),
                                exclude=ev.get("exclude", ()), classes=classes, labels=labels,
                                second_hand=bool(ev.get("second_hand", False)), where=f"{spec.path} [evidence]")
    if combos:
        net.combinations = {t: cs for t, cs in combos.items() if t in net.treatments}
        for t, cs in net.combinations.items():
            net.notes.append(f"{net.labels.get(t, t)} modelled as additive components "
                             + " + ".join(net.labels.get(c, c) for c in cs)
                             + " (Welton et al. 2009); additivity on the log-hazard scale is assumed, not tested")
    return net


def bias_adjusted_network(net: NetworkData, spec, evidence, prior=None) -> tuple[NetworkData, object]:
    """``net`` with each contrast row's additive bias integrated out (as :mod:`sclcmeta.engine.bias` does for a
    pairwise model): ``y - m`` and ``se^2 + v``, ``m, v`` from the row's risk-of-bias assessment and the bias
    prior (default the spec's). The bias direction follows the evidence row's own arms, the direction of ``y``."""
    import dataclasses

    import pandas as pd

    from ..engine.bias import bias_terms
    from .common import risk_of_bias_for

    prior = spec.bias if prior is None else prior
    where = f"{spec.path} [bias]"
    ev = evidence.data.set_index("id")
    rows = pd.DataFrame({"id": [r.id for r in net.rows], "study": [r.study for r in net.rows],
                         "treatment": [ev.at[r.id, "treatment"] for r in net.rows],
                         "comparator": [ev.at[r.id, "comparator"] for r in net.rows]})
    terms = bias_terms(rows, risk_of_bias_for(evidence, where), prior, getattr(evidence, "nodes", None), where=where)
    adjusted = [dataclasses.replace(r, y=r.y - m, se=float(np.sqrt(r.se ** 2 + v)))
                for r, m, v in zip(net.rows, terms.mean, terms.var)]
    out = dataclasses.replace(net, rows=adjusted, notes=list(net.notes) + [
        f"bias-adjusted with bias prior {prior.name!r} (Turner et al. 2009): each contrast's additive bias, from its "
        "risk-of-bias assessment, is integrated out"])
    return out, terms


def run_network_spec(spec, evidence, *, method=None, cache=None, progress=False) -> NetworkResult:
    """Run a ``[model] type = "network"`` spec (with a ``[bias]`` table: bias-adjusted, unadjusted beside it)."""
    import dataclasses

    m = spec.model
    net = network_from_spec(spec, evidence)
    inf = spec.inference
    kw = dict(effects=m.get("effects", "random"), classes=bool(m.get("classes")), method=method or inf["method"],
              name=spec.name, seed=inf["seed"], draws=inf["draws"], tune=inf["tune"], chains=inf["chains"],
              sampler=inf["sampler"], cache=cache, spec=spec, question=spec.question, comparison=spec.comparison)
    if spec.bias is None:
        return fit_network(net, spec.priors, progress=progress, **kw)
    unadjusted = fit_network(net, spec.priors, **kw)
    adj_net, terms = bias_adjusted_network(net, spec, evidence)
    res = fit_network(adj_net, spec.priors, progress=progress, **kw)
    return dataclasses.replace(res, bias=terms, unadjusted=dataclasses.replace(unadjusted, bias_role="unadjusted"))


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
        raise SpecError(f"{spec.path}: a network spec has no single set of pairwise estimates; its sensitivity "
                        "reruns are network fits (sclcmeta.analyses.network_sensitivity).")

    evidence_settings = effects

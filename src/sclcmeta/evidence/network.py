"""Network evidence: contrast rows from the evidence table, one estimate per patient pool and comparison.

Every reported HR becomes a *contrast* row ``y_i = sum_j w_ij (d[t_ij] - d[c_ij]) + delta_i + e_i``;
a *mixture* arm (e.g. an "ICI continued" arm in which 105 patients continued the same ICI and 13
switched) has components weighted by its composition. A cohort's sub-comparison that shares patients
with its main comparison (Zhang 2025b: continuing vs switching within the continued arm) is not
independent evidence; the main row is written as a mixture (105/118 continue + 13/118 switch vs stop)
and the sub-comparison as continue vs switch, with zero covariance under events proportional to arm size.
A *combination* arm (an ICI plus another active drug, e.g. benmelstobart + anlotinib + chemotherapy) can be
written as additive components (Welton et al. 2009, Am J Epidemiol 169:1158): its effect is the sum of its
components' effects, so an arm of the same trial that gives one component alone informs that component.
The network's geometry and connectivity come from networkx.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import EvidenceError, SpecError
from .labels import study_labels
from .selection import DEFAULT_PREFERENCE, preference_rank, primary_candidates


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
    #: flag codes of the evidence row (e.g. ``direction_assumed``)
    flags: tuple[str, ...] = ()
    #: the mixture arm's composition ``{treatment: patients}`` as the spec gives it, and the patients of the
    #: treatment arm in the analysis that produced the HR (e.g. the matched sample), when reported
    mixture: dict | None = None
    arm_n: float = float("nan")

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
    #: combination treatment -> its additive components (component treatments vs the reference)
    combinations: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def treatments(self) -> list[str]:
        """The treatments that some contrast row compares (the reference first)."""
        ts = sorted({x for r in self.rows for _, t, c in r.components for x in (t, c)})
        return [self.reference] + [t for t in ts if t != self.reference]

    @property
    def basic_treatments(self) -> list[str]:
        """Treatments with their own effect parameter: the reference, every treatment that is not a combination,
        then every component that no arm gives alone (its effect is informed only through combinations).

        >>> rows = [ContrastRow("1", "s", "s", -0.5, 0.1, [(1.0, "AB", "P")]),
        ...         ContrastRow("2", "s", "s", -0.2, 0.1, [(1.0, "B", "P")])]
        >>> NetworkData(rows, "P", combinations={"AB": ("A", "B")}).basic_treatments
        ['P', 'B', 'A']
        """
        ts = [t for t in self.treatments if t not in self.combinations]
        extra = [c for t in self.treatments for c in self.combinations.get(t, ()) if c not in ts]
        return ts + list(dict.fromkeys(extra))

    def components_of(self, t: str) -> tuple[str, ...]:
        """The additive components of treatment ``t`` (``(t,)`` unless ``t`` is a combination)."""
        return tuple(self.combinations.get(t, (t,)))

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

    def graph(self) -> "networkx.MultiGraph":  # noqa: F821 (networkx is imported on use)
        """The evidence network as a networkx multigraph: one edge per contrast component."""
        import networkx as nx   # imported when a network is analysed (a pairwise fit never needs it)

        g = nx.MultiGraph()
        g.add_nodes_from(self.treatments)
        for r in self.rows:
            for w, t, c in r.components:
                g.add_edge(t, c, study=r.study, weight=w**2 / r.se**2)
        return g

    def has_loops(self) -> bool:
        """True when some comparison has direct evidence and independent indirect evidence (a closed loop).

        A pair ``a, b`` is in a loop when ``a`` and ``b`` stay connected after every study that compares them
        directly is removed. A star network, or a tree, has no loops: then no inconsistency between direct
        and indirect evidence can be assessed, whatever a DIC comparison prints. A cycle that lies within one
        study (a multi-arm trial, or a mixture arm plus its sub-comparison) is consistent by construction and
        does not count; two studies of the same pair are heterogeneity, not a loop.

        >>> r = lambda i, s, t, c: ContrastRow(i, s, s, 0.0, 0.1, [(1.0, t, c)])
        >>> NetworkData([r("1", "s1", "B", "A"), r("2", "s2", "C", "A")], "A").has_loops()
        False
        >>> NetworkData([r("1", "s1", "B", "A"), r("2", "s2", "C", "A"), r("3", "s3", "C", "B")], "A").has_loops()
        True
        """
        return any(self.indirect_evidence(a, b) for a, b in self.direct_pairs())

    def direct_pairs(self) -> list[tuple[str, str]]:
        """Every pair of treatments that some contrast row compares directly (sorted names)."""
        return sorted({p for r in self.rows for p in r.pairs})

    def indirect_evidence(self, a: str, b: str) -> bool:
        """True when studies that do not compare ``a`` and ``b`` directly still connect them."""
        pair = tuple(sorted((a, b)))
        direct = {r.study for r in self.rows if pair in r.pairs}
        import networkx as nx

        g = nx.Graph()
        for r in self.rows:
            if r.study not in direct:
                g.add_edges_from((t, c) for _, t, c in r.components)
        return a in g and b in g and nx.has_path(g, a, b)

    def check_connected(self, where: str = "network") -> None:
        import networkx as nx

        ts = self.treatments
        seen = nx.node_connected_component(self.graph(), self.reference) if self.reference in ts else set()
        missing = [t for t in ts if t not in seen]
        if missing:
            raise SpecError(f"{where}: treatment(s) {', '.join(missing)} are not connected to the reference "
                            f"{self.reference!r}; add evidence linking them or drop them.")


def network_from_evidence(evidence, *, outcome: str, nodes: dict[str, str], reference: str,
                          mixtures: dict | None = None, kind: str = "treatment_effect", population="overall",
                          line: str | None = None, prefer=DEFAULT_PREFERENCE,
                          exclude=(), classes: dict[str, str] | None = None, labels: dict | None = None,
                          second_hand: bool = False, where: str = "network") -> NetworkData:
    """Contrast rows from the evidence table: one estimate per patient pool and comparison.

    ``nodes`` maps evidence node ids to network treatments (strategies); ``mixtures`` maps
    ``{cohort: {node: {treatment: n, ...}}}`` for arms that mix treatments. As in
    :func:`~sclcmeta.evidence.select_estimates`, second-hand estimates enter only with ``second_hand``
    and models adjusted for a post-baseline variable never do.
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
    skipped: list[str] = []
    cand = primary_candidates(cand, second_hand=second_hand, log=skipped)
    if cand.empty:
        raise SpecError(f"{where}: the only rows matching outcome {outcome!r} are second-hand or adjusted for a "
                        "post-baseline variable; set [evidence] second_hand = true to use second-hand ones.")
    cand["_rank"] = preference_rank(cand, prefer)
    cand["_pair"] = [tuple(sorted((nodes[t], nodes[c]))) for t, c in zip(cand["treatment"], cand["comparator"])]
    mixtures = mixtures or {}
    labels_of = study_labels(evidence)
    rows, log = [], skipped
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

        mix = mixtures.get(r["cohort"], {}).get(r["treatment"])
        tparts, c = comps(r["treatment"]), nodes[r["comparator"]]
        cparts = comps(r["comparator"])
        if len(cparts) > 1:
            raise SpecError(f"{where}: mixture arms are supported on the treatment side only ({r['id']}).")
        components = [(w, t, c) for w, t in tparts if t != c]
        rows.append(ContrastRow(id=r["id"], study=labels_of.get(r["cohort"], r["cohort"]),
                                pool=pool, y=float(r["log_hr_"]), se=float(r["se_"]), components=components,
                                design=r["design"], analysis=r["analysis"], flags=_codes(r.get("flags", ())),
                                mixture={k: mix[k] for k in mix} if mix else None,
                                arm_n=float(pd.to_numeric(r.get("n_treatment", ""), errors="coerce"))))
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


def _codes(flags) -> tuple[str, ...]:
    """Flag codes of an evidence row (a list, or a ``|``/``;``-separated text)."""
    if isinstance(flags, str):
        return tuple(f.strip() for f in flags.replace(";", "|").split("|") if f.strip())
    return tuple(flags) if flags is not None else ()


def network_from_csv(evidence, *, outcome: str | None, reference: str | None, where: str = "--data") -> NetworkData:
    """A network from a user's table (minimal import format): every row a contrast of its study.

    A multi-arm study is several rows sharing ``study`` and ``comparator``; an optional ``shared_var``
    column gives the covariance of those rows (the variance of the shared arm's log hazard); otherwise it
    is imputed as half the smaller contrast variance, and the result says so.
    """
    outcome = evidence.outcome(outcome, where)
    d = evidence.data[evidence.data["outcome"] == outcome]
    rows = []
    for r in d.itertuples():
        sv = getattr(r, "shared_var", "")
        rows.append(ContrastRow(r.id, r.cohort, r.patient_pool, float(r.log_hr_), float(r.se_),
                                [(1.0, r.treatment, r.comparator)], design=r.design,
                                shared_var=float(sv) if sv not in ("", None) else None))
    dup = pd.Series([(r.study, r.components[0][1], r.components[0][2]) for r in rows])
    if dup.duplicated().any():
        s, t, c = dup[dup.duplicated()].iloc[0]
        raise EvidenceError(f"{where}: study {s!r} reports {t} vs {c} twice; a study may enter the likelihood "
                            "once per comparison.")
    counts = pd.Series([x for r in rows for x in (r.components[0][1], r.components[0][2])]).value_counts()
    return NetworkData(rows, reference=reference or counts.index[0], outcome=outcome)

"""Sensitivity reruns of a network spec (Q2, Q4): every prior set and every evidence or model choice.

Each setting is one network fit (exact solver unless the spec asks for MCMC; node-splits and the UME model
are left out, they do not change the relative effects). The rows of the table are the network's headline
quantities: the PD-1 vs PD-L1 class difference where the model has classes, otherwise every contrast vs the
reference and every other directly compared pair, in the contrasts' direction. Settings:

* every prior set in ``models/priors/`` (or the files given);
* analysis preference (matched / adjusted / unadjusted first), when it changes the rows used;
* leave one study out, when the rest still connects every treatment;
* fixed instead of random effects;
* a row whose direction is assumed (curator flag ``direction_assumed``, e.g. Zhang 2025b's continuing vs
  switching HR) read the other way round: the sign of its log HR flipped;
* a mixture arm (Zhang 2025b's continued arm, 105 continuing + 13 switching) with other weights: the whole arm
  one strategy, and, when the estimate comes from a smaller (matched) sample whose composition is not
  reported, the extreme where every patient of the minority strategy is in that sample;
* a combination modelled by additive components (ETER701's benmelstobart + anlotinib) placed back in its ICI's
  class (the model before issue 12), or given its own effect outside every class.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..evidence.network import NetworkData
from ..priors import PriorSet
from ..results.network import NetworkResult
from .network import bias_adjusted_network, fit_network, network_from_spec, split_direction

#: evidence preferences tried for a network (the spec's own order is the primary selection)
NETWORK_PREFERENCES = {
    "prefer matched": ("propensity_matched", "multivariable", "unadjusted", "univariable"),
    "prefer adjusted": ("multivariable", "propensity_matched", "unadjusted", "univariable"),
    "prefer unadjusted": ("unadjusted", "univariable", "propensity_matched", "multivariable"),
}


@dataclasses.dataclass(frozen=True)
class NetworkSetting:
    """One rerun: a label, its kind (``prior`` or ``evidence``), what it changes, and what it is fitted on."""

    label: str
    kind: str
    description: str
    net: NetworkData
    priors: PriorSet
    effects: str
    classes: bool


def flip_row(net: NetworkData, row_id: str) -> NetworkData:
    """The network with row ``row_id`` read the other way round (log HR sign flipped, same SE).

    >>> from sclcmeta.evidence.network import ContrastRow
    >>> net = NetworkData([ContrastRow("a", "s", "s", 0.2, 0.1, [(1.0, "B", "A")])], "A")
    >>> flip_row(net, "a").rows[0].y
    -0.2
    """
    rows = [dataclasses.replace(r, y=-r.y) if r.id == row_id else r for r in net.rows]
    return dataclasses.replace(net, rows=rows, notes=list(net.notes) + [f"{row_id}: direction reversed"])


def reweight_mixture(net: NetworkData, row_id: str, weights: dict[str, float]) -> NetworkData:
    """The network with the mixture row ``row_id`` written with other weights ``{treatment: share}``.

    A treatment with weight 0 drops out of the row; the weights are normalized to sum to 1.

    >>> from sclcmeta.evidence.network import ContrastRow
    >>> r = ContrastRow("m", "s", "s", -0.4, 0.2, [(0.9, "cont", "stop"), (0.1, "sw", "stop")])
    >>> reweight_mixture(NetworkData([r], "stop"), "m", {"cont": 1, "sw": 0}).rows[0].components
    [(1.0, 'cont', 'stop')]
    """
    tot = float(sum(weights.values()))
    rows = []
    for r in net.rows:
        if r.id == row_id:
            c = r.comparator
            comps = [(w / tot, t, c) for t, w in weights.items() if w > 0 and t != c]
            r = dataclasses.replace(r, components=comps)
        rows.append(r)
    return dataclasses.replace(net, rows=rows)


def mixture_alternatives(row) -> list[tuple[str, str, dict[str, float]]]:
    """Other weights for a mixture row: ``[(label, description, {treatment: weight})]``.

    The spec's weights describe the whole arm (e.g. 105 continuing + 13 switching of 118). The whole arm
    counted as its majority strategy is one alternative (the minority ignored). When the HR comes from a smaller
    sample of that arm (``arm_n``, e.g. 75 matched patients) whose composition is not reported, the matched
    share of the minority strategy can lie anywhere from 0 to all of its patients: the largest share is the
    other alternative.

    >>> from sclcmeta.evidence.network import ContrastRow
    >>> r = ContrastRow("m", "s", "s", -0.4, 0.2, [], mixture={"continue": 105, "switch": 13}, arm_n=75)
    >>> [(lab, w) for lab, _, w in mixture_alternatives(r)][-1]
    ('mixture 62/75 continue + 13/75 switch', {'continue': 62.0, 'switch': 13.0})
    """
    mix = {k: float(v) for k, v in (row.mixture or {}).items()}
    if len(mix) < 2:
        return []
    tot = sum(mix.values())
    major, minority = max(mix, key=mix.get), min(mix, key=mix.get)
    out = [(f"mixture all {major}", f"{row.id}: the whole arm counted as {major} (its "
            + " + ".join(f"{v:g} {k}" for k, v in mix.items() if k != major) + " ignored)",
            {k: (1.0 if k == major else 0.0) for k in mix})]
    n = float(row.arm_n)
    if math.isfinite(n) and 0 < n < tot and len(mix) == 2:
        m = min(mix[minority], n)
        w = {k: (m if k == minority else n - m) for k in mix}
        txt = " + ".join(f"{w[k]:g}/{n:g} {k}" for k in mix)
        out.append((f"mixture {txt}", f"{row.id}: the HR comes from {n:g} of the {tot:g} patients of the arm; if all "
                    f"{mix[minority]:g} {minority} patients are among them, the weights are {txt} (spec: "
                    + " + ".join(f"{v:g}/{tot:g} {k}" for k, v in mix.items()) + ")", w))
    return out


def _drop_study(net: NetworkData, study: str) -> NetworkData | None:
    rows = [r for r in net.rows if r.study != study]
    if not rows:
        return None
    sub = dataclasses.replace(net, rows=rows)
    if set(sub.treatments) != set(net.treatments):
        return None
    try:
        sub.check_connected()
    except SpecError:
        return None
    return sub


def network_settings(spec, evidence, prior_sets, evidence_choices: bool = True,
                     notes: list[str] | None = None) -> list[NetworkSetting]:
    """Every rerun of a network spec (see the module docstring), the spec's own prior set first among priors."""
    notes = notes if notes is not None else []
    m = spec.model
    net = network_from_spec(spec, evidence)
    effects, classes = m.get("effects", "random"), bool(m.get("classes"))
    out = [NetworkSetting(ps.name, "prior", ps.description, net, ps, effects, classes) for ps in prior_sets]
    if not evidence_choices:
        return _with_bias(out, spec, evidence, net)

    def ev(label, desc, n, eff=effects, cls=classes):
        out.append(NetworkSetting(label, "evidence", desc, n, spec.priors, eff, cls))

    seen = {tuple(r.id for r in net.rows)}
    for label, pref in NETWORK_PREFERENCES.items():
        try:
            alt = network_from_spec(spec.with_evidence(prefer=list(pref)), evidence)
        except SpecError as exc:
            notes.append(f"{label}: not estimable ({exc})")
            continue
        key = tuple(r.id for r in alt.rows)
        if key in seen:
            notes.append(f"{label}: same estimates as the primary selection")
            continue
        seen.add(key)
        ev(label, f"analysis preference {', '.join(pref[:3])}", alt)
    for study in net.studies:
        sub = _drop_study(net, study)
        if sub is None:
            notes.append(f"leave out {study}: some treatment would lose all its evidence; not run")
            continue
        ev(f"leave out {study}", f"every contrast of {study} removed", sub)
    if not spec.evidence.get("second_hand"):
        try:
            alt = network_from_spec(spec.with_evidence(second_hand=True), evidence)
        except SpecError:
            alt = None
        if alt is not None and tuple(r.id for r in alt.rows) not in seen:
            added = sorted({r.id for r in alt.rows} - {r.id for r in net.rows})
            ev("with second-hand estimates", "estimates known only through another paper's citation or a summary "
               f"page added ({', '.join(added)})", alt)
    if effects == "random":
        ev("fixed effects", "no between-study heterogeneity (tau = 0)", net, eff="fixed")
    for r in net.rows:
        if "direction_assumed" in r.flags:
            ev(f"reversed {r.id}", f"{r.id} read the other way round (its direction is assumed, not stated): "
               f"log HR {r.y:+.3f} -> {-r.y:+.3f}", flip_row(net, r.id))
        for label, desc, w in mixture_alternatives(r):
            ev(label, desc, reweight_mixture(net, r.id, w))
    for t, cs in net.combinations.items():
        lab = net.labels.get(t, t)
        virtual = {c for c in cs if c not in net.treatments}      # components no arm gives alone
        rest = {k: v for k, v in net.classes.items() if k not in virtual and k != t}
        ici = next((c for c in cs if c in net.classes), None)
        if ici is not None and classes:
            inside = dataclasses.replace(net, combinations={}, classes={**rest, t: net.classes[ici]})
            ev(f"{lab} in the {net.classes[ici]} class",
               f"{lab} as one {net.classes[ici]} class member, no components (the model before issue 12)", inside)
        outside = dataclasses.replace(net, combinations={}, classes=rest)
        ev(f"{lab} own effect", f"{lab} its own treatment outside every class, no components", outside)
    return _with_bias(out, spec, evidence, net)


def _with_bias(out: list[NetworkSetting], spec, evidence, net: NetworkData) -> list[NetworkSetting]:
    """A bias-adjusted spec: every setting's network bias-adjusted, plus one row per other bundled bias prior and
    one without the adjustment (kind "bias")."""
    if spec.bias is None:
        return out
    from .common import bias_alternatives

    adjusted = [dataclasses.replace(st, net=bias_adjusted_network(st.net, spec, evidence)[0]) for st in out]
    m = spec.model
    effects, classes = m.get("effects", "random"), bool(m.get("classes"))
    for label, desc, bp in bias_alternatives(spec):
        n = net if bp is None else bias_adjusted_network(net, spec, evidence, bp)[0]
        adjusted.append(NetworkSetting(label, "bias", desc, n, spec.priors, effects, classes))
    return adjusted


def headline_pairs(net: NetworkData) -> list[tuple[str, str]]:
    """Every treatment vs the reference, then every other directly compared pair, in the contrasts' direction."""
    ref = net.reference
    want = [(t, ref) for t in net.treatments[1:]]
    want += [split_direction(net, a, b) for a, b in net.direct_pairs() if ref not in (a, b)]
    return list(dict.fromkeys(want))


def headline_rows(res: NetworkResult, pairs: list[tuple[str, str]] | None = None) -> list[dict]:
    """The quantities a network sensitivity reports: the class difference if there is one; else the contrasts of
    ``pairs`` (default :func:`headline_pairs` of the result's own network), the same in every setting."""
    qs = [q for q in res.quantities if q.quantity == "class_difference"]
    if not qs:
        want = pairs if pairs is not None else headline_pairs(res.net)
        labels = [f"{res.label(a)} vs {res.label(b)}" for a, b in want]
        by = {q.comparison: q for q in res.quantities if q.quantity == "contrast"}
        qs = [by[lab] for lab in labels if lab in by]
    return [res.row(q) for q in qs]


def fit_setting(spec, st: NetworkSetting, method: str | None = None) -> NetworkResult:
    """The network fit of one setting, with the spec's inference settings (no node-splits, no UME)."""
    inf = spec.inference
    return fit_network(st.net, st.priors, effects=st.effects, classes=st.classes, method=method or inf["method"],
                       name=spec.name, seed=inf["seed"], draws=inf["draws"], tune=inf["tune"], chains=inf["chains"],
                       sampler=inf["sampler"], node_split=False, ume=False, spec=spec, question=spec.question,
                       comparison=spec.comparison)


def network_sensitivity_table(spec, evidence, prior_sets, *, evidence_choices: bool = True,
                              method: str | None = None, notes: list[str] | None = None) -> pd.DataFrame:
    """One row per (setting, headline quantity): HR median, 95% CrI, P(HR < 1), P(HR < 0.8), tau, top rank."""
    rows = []
    settings = network_settings(spec, evidence, prior_sets, evidence_choices, notes)
    pairs = headline_pairs(settings[0].net) if settings else []     # the primary network's pairs, in every row
    for st in settings:
        res = fit_setting(spec, st, method)
        tau = next((q for q in res.quantities if q.quantity == "tau"), None)
        rp = res.rank_probabilities()
        for r in headline_rows(res, pairs):
            rows.append({"analysis": spec.name, "setting": st.label, "kind": st.kind, "description": st.description,
                         "comparison": r["comparison"], "hr_median": r["hr_median"], "hr_q2.5": r["hr_q2.5"],
                         "hr_q97.5": r["hr_q97.5"], "prob_hr_below_1": r["prob_hr_below_1"],
                         "prob_hr_below_0.8": r["prob_hr_below_0.8"],
                         "tau_median": float(np.asarray(tau.marginal.quantile(0.5)).ravel()[0]) if tau else np.nan,
                         "top_ranked": rp.iloc[0]["treatment"], "k": res.model.k, "gate": res.gate,
                         "evidence": ";".join(x.id for x in st.net.rows)})
    return pd.DataFrame(rows)

"""Certainty of evidence: GRADE for pairwise answers, CINeMA for network contrasts, each rating with its reasons.

Every domain is either computed by a declared rule (below) or read from a person's judgement in
``data/certainty_judgements.csv`` (:mod:`sclcmeta.evidence.judgements`), and every domain carries the
list of reasons that produced it. :func:`certainty_table` gives one row per headline answer.

Starting level
    **High**, for randomized trials (GRADE) and for observational evidence assessed with ROBINS-I:
    the tool's risk-of-bias judgement, not the design label, carries the concern about confounding
    and selection (Schünemann et al. 2019, GRADE guidelines 18, J Clin Epidemiol 111:105-114).
    No rule rates up (large effect, dose-response, opposing residual bias): that needs a person.

Risk of bias / within-study bias (declared rule)
    Each estimate's overall risk of bias (computed from its domains by
    :func:`sclcmeta.evidence.risk_of_bias.overall_judgement`) is a number of levels on one metric:
    ROBINS-I low 0, moderate 1, serious 2, critical 3 (no information 1); RoB 2 low 0,
    some concerns 1, high 2. A body of evidence is rated down by the largest number of levels L
    such that estimates at L or worse carry at least half of the weight ("most of the information",
    GRADE guidelines 4, Guyatt et al. 2011, J Clin Epidemiol 64:407-415; our reading of GRADE 18 is
    that a body of non-randomized evidence at serious risk therefore ends two levels below high).
    Weights are the estimates' shares in the answer: the row of the generalized-least-squares hat
    matrix at the posterior median of the heterogeneity (for a pairwise random-effects model,
    1/(se_i^2 + tau^2) normalised; for a network, an approximation to CINeMA's contribution matrix,
    Papakonstantinou et al. 2018, F1000Research 7:610).

Inconsistency / heterogeneity (declared rule)
    Not assessable with one estimate. Otherwise: zones of the HR axis split by the decision
    thresholds (default 0.8 and 1.25); ``extra`` = zones the 95% predictive interval reaches beyond
    those of the 95% credible interval (CINeMA's heterogeneity rule, Nikolakopoulou et al. 2020,
    PLoS Med 17:e1003082). Rated down one level if the posterior median tau >= 0.2 and extra >= 1,
    or if tau >= 0.5; two levels if tau >= 0.5 and extra >= 1 (tau on the log-HR scale; 0.5 is
    "fairly high" heterogeneity in Spiegelhalter, Abrams & Myles 2004; GRADE guidelines 7, Guyatt
    et al. 2011, J Clin Epidemiol 64:1294-1302, judges inconsistency by its effect on the decision,
    which the zones express).

Imprecision (declared rule)
    The 95% credible interval against the decision thresholds (default HR 0.8 and 1.25, a 20-25%
    relative change; GRADE guidelines 6, Guyatt et al. 2011, J Clin Epidemiol 64:1283-1293; Zeng
    et al. 2022, GRADE guidance 34, J Clin Epidemiol 150:216-224): one threshold inside the interval
    rates down one level, both rate down two. The optimal-information-size criterion is not applied.

Indirectness
    A person's judgement per analysis (or network contrast) in ``data/certainty_judgements.csv``.

Publication bias / reporting bias
    A person's judgement if the CSV has one; otherwise not assessable with fewer than 10 studies
    (funnel-plot tests are underpowered: Sterne et al. 2011, BMJ 343:d4002), and Egger's regression
    test (p < 0.10 rates down one level) with 10 or more.

Incoherence (CINeMA)
    Not assessable when the network has no loops. Otherwise the node-split of the contrast's pair
    (or, if that pair has none, the smallest over the network): Bayesian two-sided p =
    2 min(P(w < 0), P(w > 0)) of the inconsistency factor w; p >= 0.10 no concerns, 0.01-0.10 some
    concerns, < 0.01 major concerns.

Final rating
    High minus the sum of the levels rated down, floored at very low. CINeMA's some / major
    concerns count one / two levels. Domains overlap (heterogeneity widens the interval that
    imprecision judges); the reasons say so where it applies.

Examples
--------
>>> imprecision_rule(0.44, 0.94).levels_down      # crosses 0.8 only
1
>>> imprecision_rule(0.60, 1.40).levels_down      # crosses 0.8 and 1.25
2
>>> risk_of_bias_rule([2, 0], [0.6, 0.4]).levels_down
2
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..evidence.judgements import Judgements, read_judgements
from ..evidence.risk_of_bias import NOT_ASSESSED, ROB2, ROBINS_I, RiskOfBias, read_risk_of_bias

RATINGS = ("high", "moderate", "low", "very low")
GRADE_WORDS = ("not serious", "serious", "very serious", "very serious")
CINEMA_WORDS = ("no concerns", "some concerns", "major concerns", "major concerns")
NOT_ASSESSABLE = "not assessable"
#: levels each overall risk-of-bias judgement stands for (one metric for both tools)
ROB_LEVELS = {ROBINS_I: {"low": 0, "moderate": 1, "serious": 2, "critical": 3, "no_information": 1},
              ROB2: {"low": 0, "some_concerns": 1, "high": 2}}
#: decision thresholds on the HR scale (benefit, harm)
THRESHOLDS = (0.8, 1.25)
TAU_MODERATE = 0.2
TAU_HIGH = 0.5
PUBLICATION_BIAS_MIN_K = 10
EGGER_P = 0.10
INCOHERENCE_P = (0.10, 0.01)
MAJORITY = 0.5
COLUMNS = ["analysis", "outcome", "comparison", "framework", "rating", "levels_down", "start", "gate",
           "risk_of_bias", "risk_of_bias_reason", "inconsistency", "inconsistency_reason",
           "indirectness", "indirectness_reason", "imprecision", "imprecision_reason",
           "publication_bias", "publication_bias_reason", "incoherence", "incoherence_reason", "summary"]


@dataclass(frozen=True)
class Domain:
    """One domain's judgement: how many levels it rates down, and why (a list of reasons)."""

    name: str
    levels_down: int
    reasons: tuple[str, ...]
    assessable: bool = True

    def judgement(self, framework: str = "GRADE") -> str:
        if not self.assessable:
            return NOT_ASSESSABLE
        return (CINEMA_WORDS if framework == "CINeMA" else GRADE_WORDS)[min(self.levels_down, 3)]

    def __repr__(self) -> str:
        return f"<Domain {self.name}: -{self.levels_down}; {' '.join(self.reasons)}>"


@dataclass(frozen=True, repr=False)
class Certainty:
    """The certainty of one answer: framework (GRADE or CINeMA), its domains with reasons, the rating."""

    analysis: str
    outcome: str
    comparison: str
    framework: str
    domains: tuple[Domain, ...]
    start: str = "high"
    start_reason: str = ""
    notes: tuple[str, ...] = field(default=())

    @property
    def levels_down(self) -> int:
        return sum(d.levels_down for d in self.domains)

    @property
    def rating(self) -> str:
        return RATINGS[min(RATINGS.index(self.start) + self.levels_down, len(RATINGS) - 1)]

    def domain(self, name: str) -> Domain:
        return next(d for d in self.domains if d.name == name)

    def summary(self) -> str:
        """One line: the rating and the domains that rated it down."""
        down = [f"{d.name} ({d.judgement(self.framework)}, -{d.levels_down})" for d in self.domains if d.levels_down]
        return (f"{self.rating} certainty ({self.framework}); started {self.start}"
                + (f", rated down for {', '.join(down)}" if down else ", not rated down"))

    def row(self) -> dict:
        out = {"analysis": self.analysis, "outcome": self.outcome, "comparison": self.comparison,
               "framework": self.framework, "rating": self.rating, "levels_down": self.levels_down,
               "start": self.start, "summary": self.summary()}
        for d in self.domains:
            key = d.name.replace(" ", "_").replace("within-study_bias", "risk_of_bias").replace(
                "heterogeneity", "inconsistency").replace("reporting_bias", "publication_bias")
            out[key] = d.judgement(self.framework)
            out[key + "_reason"] = " ".join(d.reasons)
        return out

    def __repr__(self) -> str:
        lines = [f"<Certainty {self.analysis}: {self.comparison} ({self.outcome}) -> {self.rating.upper()} "
                 f"({self.framework})>", f"  start: {self.start}. {self.start_reason}"]
        for d in self.domains:
            lines.append(f"  {d.name}: {d.judgement(self.framework)} (-{d.levels_down})")
            lines += [f"    - {r}" for r in d.reasons]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


# -- the declared rules, as pure functions of numbers ------------------------------------------------------
def risk_of_bias_rule(levels: Sequence[int], weights: Sequence[float], name: str = "risk of bias") -> Domain:
    """Rate down by the largest L such that estimates at L or more levels carry >= half the weight.

    >>> risk_of_bias_rule([1, 0], [0.6, 0.4]).levels_down
    1
    >>> risk_of_bias_rule([2, 0], [0.4, 0.6]).levels_down
    0
    """
    lv = np.asarray(levels, int)
    w = np.asarray(weights, float)
    w = w / w.sum()
    down = 0
    for L in (1, 2, 3):
        share = float(w[lv >= L].sum())
        if share >= MAJORITY - 1e-12:
            down = L
    shares = ", ".join(f"{float(w[lv >= L].sum()):.0%} of the weight at {L}+ level(s)" for L in (1, 2, 3)
                       if np.any(lv >= L))
    reason = (f"Rule: rated down by the largest number of levels that estimates carrying at least half of the weight "
              f"reach ({shares or 'all estimates at low risk'}).")
    return Domain(name, down, (reason,))


def _zones(lo: float, hi: float, thresholds: Sequence[float]) -> set[int]:
    """Which zones of the HR axis (split at the thresholds) the interval [lo, hi] reaches."""
    edges = [0.0] + sorted(thresholds) + [math.inf]
    return {i for i in range(len(edges) - 1) if hi > edges[i] and lo < edges[i + 1]}


def imprecision_rule(lo: float, hi: float, thresholds: Sequence[float] = THRESHOLDS, name: str = "imprecision") -> Domain:
    """Rate down one level per decision threshold inside the 95% credible interval (HR scale)."""
    inside = [t for t in thresholds if lo < t < hi]
    where = ("crosses " + " and ".join(f"{t:g}" for t in inside)) if inside else "crosses neither threshold"
    crosses_1 = lo < 1.0 < hi
    reason = (f"95% CrI {lo:.2f}-{hi:.2f} {where} of the decision thresholds HR {' and '.join(f'{t:g}' for t in thresholds)}"
              f"{' and includes no effect (HR 1)' if crosses_1 else ''}; rule: one level down per threshold inside it.")
    return Domain(name, len(inside), (reason,))


def inconsistency_rule(k: int, tau_median: float, cri: tuple[float, float], pi: tuple[float, float] | None,
                       thresholds: Sequence[float] = THRESHOLDS, name: str = "inconsistency") -> Domain:
    """Heterogeneity from tau and the predictive interval (see the module docstring for the rule)."""
    if k <= 1:
        return Domain(name, 0, ("Not assessable: a single estimate shows no between-study variation; not rated "
                                "down, but one study cannot show that effects are consistent.",), assessable=False)
    extra = len(_zones(*pi, thresholds) - _zones(*cri, thresholds)) if pi is not None else 0
    if tau_median >= TAU_HIGH:
        down = 2 if extra >= 1 else 1
    elif tau_median >= TAU_MODERATE:
        down = 1 if extra >= 1 else 0
    else:
        down = 0
    reasons = [f"Posterior median tau {tau_median:.2f} (log HR; rule thresholds {TAU_MODERATE:g} and {TAU_HIGH:g})."
               if pi is not None else "Fixed-effect model: tau is 0 by assumption, so the rule cannot rate down; "
               "see the frequentist I^2 for the observed spread."]
    if pi is not None:
        reasons.append(f"95% predictive interval {pi[0]:.2f}-{pi[1]:.2f} vs 95% CrI {cri[0]:.2f}-{cri[1]:.2f}: "
                       f"the predictive interval reaches {extra} more zone(s) of the HR axis split at "
                       f"{' and '.join(f'{t:g}' for t in thresholds)}.")
    reasons.append("Rule: down 1 if tau >= 0.2 and the predictive interval reaches another zone, or tau >= 0.5; "
                   "down 2 if both tau >= 0.5 and another zone.")
    if k < 5:
        reasons.append(f"With {k} estimates tau is mostly prior-driven; the judgement is weak either way.")
    return Domain(name, down, tuple(reasons))


def incoherence_rule(p: float | None, loops: bool, pair: str = "", name: str = "incoherence") -> Domain:
    """CINeMA incoherence from a node-split's Bayesian two-sided p (not assessable without loops)."""
    if not loops:
        return Domain(name, 0, ("Not assessable: the network has no closed loop, so direct and indirect evidence "
                                "cannot be compared.",), assessable=False)
    if p is None:
        return Domain(name, 0, ("Not assessable: no node-split was computed for this network.",), assessable=False)
    down = 0 if p >= INCOHERENCE_P[0] else (1 if p >= INCOHERENCE_P[1] else 2)
    return Domain(name, down, (f"Node-split {pair}: Bayesian two-sided p = {p:.2f} for the direct-vs-indirect difference; "
                               "rule: p >= 0.10 no concerns, 0.01-0.10 some, < 0.01 major. Few studies give such "
                               "tests little power.",))


def publication_bias_rule(k: int, y: np.ndarray | None = None, se: np.ndarray | None = None,
                          name: str = "publication bias") -> Domain:
    """Not assessable below 10 studies; Egger's regression test (p < 0.10 -> one level) from 10 on."""
    if k < PUBLICATION_BIAS_MIN_K or y is None:
        return Domain(name, 0, (f"Not assessable: {k} estimate(s), fewer than {PUBLICATION_BIAS_MIN_K}; funnel-plot "
                                "asymmetry tests have too little power (Sterne et al. 2011, BMJ 343:d4002). Not rated "
                                "down, which is not evidence of absence.",), assessable=False)
    from scipy import stats

    fit = stats.linregress(1 / np.asarray(se), np.asarray(y) / np.asarray(se))
    t = fit.intercept / fit.intercept_stderr
    p = float(2 * stats.t.sf(abs(t), k - 2))
    return Domain(name, int(p < EGGER_P), (f"Egger's regression test: intercept {fit.intercept:.2f}, p = {p:.2f} "
                                           f"(rule: p < {EGGER_P:g} rates down one level).",))


# -- reading the answer's numbers -------------------------------------------------------------------------
def _median_sigma(result, name: str) -> float:
    try:
        return float(np.asarray(result.variance_marginal(name).quantile([0.5])).ravel()[0])
    except (KeyError, AttributeError, ValueError):
        return 0.0


def hat_rows(result) -> tuple[np.ndarray, dict]:
    """``B`` (p x k) with b_hat = B y at the posterior-median variances, and ``V`` (their marginal covariance)."""
    m = result.model
    V = m.S.copy()
    for c in m.components:
        V = V + _median_sigma(result, c.name) ** 2 * c.K
    Vi = np.linalg.inv(V)
    B = np.linalg.solve(m.X.T @ Vi @ m.X, m.X.T @ Vi)
    return B, {"V": V, "Vi": Vi}


def contributions(result, treatment: str | None = None, c: np.ndarray | None = None,
                  versus: str | None = None) -> np.ndarray:
    """Share of each estimate in an answer: |hat-matrix row| normalised (pooled effect, network contrast of
    ``treatment`` vs the reference, or vs ``versus``)."""
    m = result.model
    B, aux = hat_rows(result)
    if c is not None:
        h = np.asarray(c, float) @ B
    elif treatment is None:
        h = B[list(m.coef_names).index("mu")]
    else:
        params = list(m.meta["params"])
        exch = list(m.meta.get("exchangeable", []))
        combos = m.meta.get("combinations", {}) or {}

        def row(t):
            if t in combos:                       # an additive component model: the sum of its components
                return sum(row(c) for c in combos[t])
            if t in exch:
                cls = result.net.classes[t]
                A = np.asarray(m.meta["A"], float)
                s2 = _median_sigma(result, "class_sd") ** 2
                a = A[:, exch.index(t)]
                return B[params.index(f"class:{cls}")] + s2 * a @ aux["Vi"] @ (np.eye(m.k) - m.X @ B)
            return B[params.index(t)]

        ref = result.net.reference
        h = (row(treatment) if treatment != ref else 0.0) - (row(versus) if versus not in (None, ref) else 0.0)
    w = np.abs(h)
    return w / w.sum() if w.sum() > 0 else np.full(m.k, 1 / m.k)


def _rob_levels(ids: Sequence[str], rob: RiskOfBias) -> tuple[list[int], pd.DataFrame]:
    tab = rob.for_ids(ids)
    levels = [ROB_LEVELS.get(t, {}).get(o, 1) if o != NOT_ASSESSED else 1 for t, o in zip(tab["tool"], tab["overall"])]
    return levels, tab


def _rob_domain(result, ids, study_names, weights, rob, name) -> Domain:
    levels, tab = _rob_levels(ids, rob)
    d = risk_of_bias_rule(levels, weights, name)
    per = [f"{s} ({i}): {o.replace('_', ' ')} ({t or 'not assessed'}), {w:.0%} of the weight"
           for s, i, o, t, w in zip(study_names, ids, tab["overall"], tab["tool"], weights) if w >= 0.005]
    small = [w for w in weights if w < 0.005]
    if small:
        per.append(f"{len(small)} other estimate(s) carry less than 1% of the weight together.")
    extra = []
    if "critical" in set(tab["overall"]):
        extra.append("ROBINS-I describes an estimate at critical risk of bias as too problematic to provide useful "
                     "evidence (Sterne et al. 2016, BMJ 355:i4919); the leave-one-out sensitivity analysis shows the "
                     "answer without it.")
    if NOT_ASSESSED in set(tab["overall"]):
        extra.append("Estimates without a risk-of-bias assessment count as one level (moderate).")
    return Domain(name, d.levels_down, tuple(per) + d.reasons + tuple(extra))


def _judged(judgements: Judgements | None, analysis: str, domain: str, comparison: str, name: str) -> Domain | None:
    j = judgements.lookup(analysis, domain, comparison) if judgements is not None else None
    if j is None:
        return None
    return Domain(name, j.levels_down, (f"{j.reason} (judged by a reviewer; {j.source}, {j.location}: \"{j.quote}\")",))


def _indirectness(judgements, analysis, comparison, name="indirectness") -> Domain:
    d = _judged(judgements, analysis, "indirectness", comparison, name)
    return d or Domain(name, 0, ("No judgement recorded in data/certainty_judgements.csv; not rated down. A reviewer "
                                 "should compare the studies' populations, interventions and comparators with the "
                                 "question and record it there.",), assessable=False)


def _start_reason(designs: Iterable[str]) -> str:
    ds = set(designs)
    if ds <= {"rct"}:
        return "Randomized trials start at high certainty (GRADE)."
    return ("Observational evidence assessed with ROBINS-I starts at high certainty and is rated down for risk of "
            "bias (Schünemann et al. 2019, J Clin Epidemiol 111:105-114)"
            + ("; randomized trials start at high too." if "rct" in ds else "."))


NO_UPGRADE = "No rule rates up (large effect, dose-response, opposing residual bias); that needs a reviewer."


def grade_pairwise(result, rob: RiskOfBias | None = None, judgements: Judgements | None = None,
                   thresholds: Sequence[float] = THRESHOLDS) -> Certainty:
    """GRADE for the pooled effect of a pairwise analysis (risk of bias, inconsistency, indirectness, imprecision,
    publication bias), each domain with its reasons."""
    rob = rob if rob is not None else read_risk_of_bias()
    judgements = judgements if judgements is not None else read_judgements()
    ev = result.effects.data
    ids, names = list(ev["id"]), list(ev["study"])
    w = contributions(result)
    p = result.pooled_hr()
    k = result.model.k
    has_tau = any(c.name == "tau" for c in result.model.components)
    tau = _median_sigma(result, "tau") if has_tau else 0.0
    pi = None
    if has_tau:
        pq = np.exp(np.asarray(result.predictive_marginal().quantile([0.025, 0.975]), float).ravel())
        pi = (float(pq[0]), float(pq[1]))
    incons = inconsistency_rule(k, tau, (p["hr_q2.5"], p["hr_q97.5"]), pi, thresholds)
    if k > 1:
        try:
            cl = result.classical()
            incons = Domain(incons.name, incons.levels_down, incons.reasons + (
                f"Frequentist companion: I^2 = {cl.I2:.0f}%, Q-test p = {cl.Q_p:.2f}.",))
        except Exception:  # noqa: BLE001 - the companion is context only; nested models have none
            pass
    imp = imprecision_rule(p["hr_q2.5"], p["hr_q97.5"], thresholds)
    imp = Domain(imp.name, imp.levels_down, imp.reasons + (
        f"P(HR < 1) = {p['prob_hr_below_1']:.2f}, P(HR < 0.8) = {p['prob_hr_below_0.8']:.2f}.",))
    pub = (_judged(judgements, result.name, "publication_bias", "", "publication bias")
           or publication_bias_rule(k, result.model.y, np.sqrt(np.diag(result.model.S))))
    domains = (_rob_domain(result, ids, names, w, rob, "risk of bias"), incons,
               _indirectness(judgements, result.name, ""), imp, pub)
    return Certainty(result.name, result.outcome, result.comparison, "GRADE", domains,
                     start_reason=_start_reason(ev["design"]), notes=(NO_UPGRADE,))


def _node_split_p(result, a_label: str, b_label: str) -> tuple[float | None, str]:
    s = result.splits
    if s is None or not len(s):
        return None, ""
    inc = s[s["quantity"] == "inconsistency"]
    if not len(inc):
        return None, ""
    pair = {a_label, b_label}
    hit = inc[inc["comparison"].map(lambda c: set(c.split(" vs ")) == pair)]
    use = hit if len(hit) else inc
    pvals = [2 * min(p, 1 - p) for p in use["prob_hr_below_1"]]
    i = int(np.argmin(pvals))
    label = use["comparison"].iloc[i] + ("" if len(hit) else " (no split for this pair; smallest over the network)")
    return float(pvals[i]), label


def _cinema(result, comp: str, draws: np.ndarray, w: np.ndarray, pair: set, pair_labels: tuple[str, str],
            rob: RiskOfBias, judgements: Judgements, thresholds: Sequence[float], rng_seed: int = 0) -> Certainty:
    net = result.net
    rows = net.rows
    ids, names = [r.id for r in rows], [r.study for r in rows]
    lo, hi = np.exp(np.quantile(draws, [0.025, 0.975]))
    pi = None
    if any(c.name == "tau" for c in result.model.components):
        tau_d = np.resize(result.idata.posterior["tau"].values.ravel(), draws.size)
        z = np.random.default_rng(rng_seed).standard_normal(draws.size)
        pi = tuple(float(x) for x in np.exp(np.quantile(draws + tau_d * z, [0.025, 0.975])))
    tau = _median_sigma(result, "tau") if pi is not None else 0.0
    direct = [r for r in rows if any({t, c} == pair for _, t, c in r.components)]
    p, label = _node_split_p(result, *pair_labels)
    rep = (_judged(judgements, result.name, "publication_bias", comp, "reporting bias")
           or Domain("reporting bias", 0, (f"Not assessable: {len(direct)} direct estimate(s) of this comparison, fewer "
                                           f"than {PUBLICATION_BIAS_MIN_K}; a comparison-adjusted funnel plot needs more "
                                           "(Sterne et al. 2011, BMJ 343:d4002). Not rated down.",), assessable=False))
    domains = (
        _rob_domain(result, ids, names, w, rob, "within-study bias"),
        rep,
        _indirectness(judgements, result.name, comp),
        imprecision_rule(float(lo), float(hi), thresholds),
        inconsistency_rule(result.model.k, tau, (float(lo), float(hi)), pi, thresholds, name="heterogeneity"),
        incoherence_rule(p, result.inconsistency_assessable, label),
    )
    note = (f"{len(direct)} direct estimate(s) of this comparison; contributions from the network's hat matrix at "
            "the posterior-median heterogeneity.")
    return Certainty(result.name, result.outcome, comp, "CINeMA", domains,
                     start_reason=_start_reason(r.design for r in rows), notes=(note, NO_UPGRADE))


def cinema_contrast(result, treatment: str, rob: RiskOfBias | None = None, judgements: Judgements | None = None,
                    thresholds: Sequence[float] = THRESHOLDS) -> Certainty:
    """CINeMA's six domains for the network contrast ``treatment`` vs the reference."""
    rob = rob if rob is not None else read_risk_of_bias()
    judgements = judgements if judgements is not None else read_judgements()
    ref = result.net.reference
    comp = f"{result.label(treatment)} vs {result.label(ref)}"
    draws = np.asarray(result.drug_draws[treatment] - result.drug_draws[ref], float).ravel()
    return _cinema(result, comp, draws, contributions(result, treatment), {treatment, ref},
                   (result.label(treatment), result.label(ref)), rob, judgements, thresholds)


def cinema_pair(result, treatment: str, versus: str, rob: RiskOfBias | None = None,
                judgements: Judgements | None = None, thresholds: Sequence[float] = THRESHOLDS) -> Certainty:
    """CINeMA's six domains for the network contrast ``treatment`` vs ``versus`` (neither need be the reference)."""
    rob = rob if rob is not None else read_risk_of_bias()
    judgements = judgements if judgements is not None else read_judgements()
    comp = f"{result.label(treatment)} vs {result.label(versus)}"
    draws = np.asarray(result.drug_draws[treatment] - result.drug_draws[versus], float).ravel()
    return _cinema(result, comp, draws, contributions(result, treatment, versus=versus), {treatment, versus},
                   (result.label(treatment), result.label(versus)), rob, judgements, thresholds)


def cinema_class_difference(result, rob: RiskOfBias | None = None, judgements: Judgements | None = None,
                            thresholds: Sequence[float] = THRESHOLDS) -> Certainty | None:
    """CINeMA for the PD-1 vs PD-L1 class-mean difference of a class-effects network (None if it has none)."""
    names = list(result.model.coef_names)
    ref = result.label(result.net.reference)
    a, b = f"D[PD-1 vs {ref}]", f"D[PD-L1 vs {ref}]"
    if a not in names or b not in names:
        return None
    rob = rob if rob is not None else read_risk_of_bias()
    judgements = judgements if judgements is not None else read_judgements()
    c = np.zeros(len(names))
    c[names.index(a)], c[names.index(b)] = 1.0, -1.0
    post = result.idata.posterior["b"].values.reshape(-1, len(names))
    return _cinema(result, "PD-1 vs PD-L1 (class means)", post @ c, contributions(result, c=c), {"PD-1", "PD-L1"},
                   ("PD-1", "PD-L1"), rob, judgements, thresholds)


def cinema_class_means(result, rob: RiskOfBias | None = None, judgements: Judgements | None = None,
                       thresholds: Sequence[float] = THRESHOLDS) -> list[Certainty]:
    """CINeMA for each class mean vs the reference of a class-effects network (``D[PD-1 vs reference]``...)."""
    names = list(result.model.coef_names)
    ref_t = result.net.reference
    ref = result.label(ref_t)
    rob = rob if rob is not None else read_risk_of_bias()
    judgements = judgements if judgements is not None else read_judgements()
    post = None
    out = []
    for j, n in enumerate(names):
        if not (n.startswith("D[") and n.endswith(f" vs {ref}]")):
            continue
        cls = n[2:].split(" vs ")[0]
        if post is None:
            post = result.idata.posterior["b"].values.reshape(-1, len(names))
        c = np.zeros(len(names))
        c[j] = 1.0
        members = {t for t, k in result.net.classes.items() if k == cls} | {ref_t}
        out.append(_cinema(result, n[2:-1], post @ c, contributions(result, c=c), members, (cls, ref), rob,
                           judgements, thresholds))
    return out


def certainty(result, rob: RiskOfBias | None = None, judgements: Judgements | None = None,
              thresholds: Sequence[float] = THRESHOLDS) -> list[Certainty]:
    """The certainty of every headline answer of ``result``: GRADE (pairwise) or CINeMA (each contrast vs the reference).

    Moderator analyses (Q3) return nothing: the credibility of effect modification is judged with ICEMAN
    (Schandelmaier et al. 2020, CMAJ 192:E901), not GRADE; :func:`certainty_table` says so in a row.
    """
    rob = rob if rob is not None else read_risk_of_bias()
    judgements = judgements if judgements is not None else read_judgements()
    if getattr(result, "net", None) is not None:
        out = [cinema_contrast(result, t, rob, judgements, thresholds) for t in result.net.treatments
               if t != result.net.reference]
        if not getattr(result, "classes_used", False):   # without class means every pair is an answer
            others = [t for t in result.net.treatments if t != result.net.reference]
            out += [cinema_pair(result, a, b, rob, judgements, thresholds)
                    for i, b in enumerate(others) for a in others[i + 1:]]
        out += cinema_class_means(result, rob, judgements, thresholds)
        cd = cinema_class_difference(result, rob, judgements, thresholds)
        return out + ([cd] if cd is not None else [])
    kind = getattr(getattr(result, "spec", None), "kind", "pairwise")
    if kind == "moderator" or "mu" not in result.model.coef_names or result.effects is None:
        return []
    return [grade_pairwise(result, rob, judgements, thresholds)]


def certainty_table(results: Iterable, rob: RiskOfBias | None = None, judgements: Judgements | None = None,
                    thresholds: Sequence[float] = THRESHOLDS) -> pd.DataFrame:
    """One row per headline answer: analysis, outcome, comparison, rating and each domain's judgement and reason."""
    rob = rob if rob is not None else read_risk_of_bias()
    judgements = judgements if judgements is not None else read_judgements()
    rows = []
    for res in results:
        cs = certainty(res, rob, judgements, thresholds)
        if not cs:
            rows.append({"analysis": res.name, "outcome": res.outcome, "comparison": res.comparison,
                         "framework": "none", "rating": "not rated", "gate": res.gate,
                         "summary": "Effect modification (Q3): not rated with GRADE; its credibility is judged with "
                                    "ICEMAN (Schandelmaier et al. 2020, CMAJ 192:E901)."})
            continue
        rows += [{**c.row(), "gate": res.gate} for c in cs]
    return pd.DataFrame(rows, columns=COLUMNS)


__all__ = ["Certainty", "Domain", "RATINGS", "THRESHOLDS", "certainty", "certainty_table", "cinema_class_difference",
           "cinema_contrast",
           "contributions", "grade_pairwise", "imprecision_rule", "incoherence_rule", "inconsistency_rule",
           "publication_bias_rule", "risk_of_bias_rule"]

"""Q3 moderator evidence: which patient characteristics modify a second-line ICI's effect, as estimates.

Three kinds of evidence answer three different questions, and they are kept apart (data flows
evidence -> estimates here; the models, results and text are in ``analyses``, ``results`` and ``report``):

``interaction`` (within-study effect modification)
    In each cohort that reports the treatment HR in both subgroups of a moderator (liver metastases
    yes / no), the log ratio of the two subgroup HRs is that cohort's interaction; the interactions,
    not the subgroups, are pooled. A missing complementary subgroup is derived by back-calculation
    (:mod:`sclcmeta.evidence.backcalc`) and marked ``derived`` everywhere.
``prognostic`` and ``ecological``
    See :mod:`sclcmeta.evidence.prognostic`.

The moderators themselves (levels, labels, the studies.csv share column, and the note a reader must see)
are data: ``data/moderators.toml``.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from ..errors import EvidenceError, SpecError
from ..paths import data_dir
from ..vocabulary import Z95
from .backcalc import BACK_CALCULATION_ASSUMPTIONS, derive_complementary_subgroup, interaction_estimate, rounding_range
from .harmonize import EffectData
from .labels import join_covariates, study_labels
from .selection import preference_rank
from .table import EvidenceTable

#: Curator flags meaning "the printed direction of this HR contradicts its own paper".
DOUBT_FLAGS = ("direction_doubtful", "direction_contradicts_text")

#: Cox models fitted within ICI-treated second-line arms (data/README.md, column ``population``).
ICI_ARMS = ("arm=2l_ici", "arm=ici_cont_2l", "arm=atezolizumab_cont_2l")

#: Back-calculation assumptions, stated with every derived estimate.


@dataclass(frozen=True)
class Moderator:
    """A patient characteristic whose levels define subgroups or a prognostic contrast.

    ``index`` is the level in the numerator of the interaction ratio and of the prognostic HR
    (liver metastases ``yes``), ``reference`` the denominator (``no``). ``proportion`` names the
    ``studies.csv`` column with the share of patients at the index level.
    """

    factor: str
    label: str
    index: str
    reference: str
    index_label: str
    reference_label: str
    proportion: str | None = None
    synonyms: tuple[tuple[str, str], ...] = ()
    usable_interaction: bool = True
    note: str = ""

    def canonical(self, level: str) -> str:
        return dict(self.synonyms).get(level, level)

    @property
    def ratio_label(self) -> str:
        return f"HR ratio {self.index_label} / {self.reference_label}"


@lru_cache(maxsize=None)
def _load_moderators(path: str) -> dict:
    with open(path, "rb") as fh:
        doc = tomllib.load(fh)
    doc.pop("inventory", None)
    out = {}
    for factor, m in doc.items():
        out[factor] = Moderator(factor=factor, label=m["label"], index=m["index"], reference=m["reference"],
                                index_label=m["index_label"], reference_label=m["reference_label"],
                                proportion=m.get("proportion"), synonyms=tuple(m.get("synonyms", {}).items()),
                                usable_interaction=bool(m.get("usable_interaction", True)), note=m.get("note", ""))
    return out


def moderators() -> dict[str, Moderator]:
    """Every moderator defined in ``data/moderators.toml``, by factor."""
    return _load_moderators(str(data_dir() / "moderators.toml"))


def get_moderator(factor: str) -> Moderator:
    mods = moderators()
    if factor not in mods:
        raise SpecError(f"unknown moderator factor {factor!r}; known: {', '.join(mods)}.")
    return mods[factor]


@dataclass(repr=False)
class ModeratorEffects(EffectData):
    """:class:`EffectData` plus what a moderator analysis needs to explain itself.

    ``data`` has the usual columns plus ``derived`` (True when an estimate rests on a
    back-calculated subgroup). ``candidates`` lists every evidence row considered, with its status
    (used / not used) and the reason; ``pairs`` (interactions) holds both subgroup estimates per
    cohort.
    """

    kind: str = "interaction"
    moderator: str = ""
    candidates: pd.DataFrame | None = None
    pairs: pd.DataFrame | None = None
    caveats: list[str] = field(default_factory=list)


def _num(x) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _n_of(row) -> float:
    n = _num(row.get("n_total", ""))
    if not math.isfinite(n):
        n = _num(row.get("n_treatment", "")) + _num(row.get("n_comparator", ""))
    return n


def as_tuple(x) -> tuple:
    if x is None:
        return ()
    if isinstance(x, str):
        return (x,)
    return tuple(x)


def _printed(r) -> str:
    """An evidence row's HR and CI as printed."""
    return f"{r['hr']} ({r['ci_low']}-{r['ci_high']})" if r["ci_low"] != "" else fmt_ci(r["log_hr_"], r["se_"])


def fmt_ci(y: float, se: float) -> str:
    z = Z95
    return f"{math.exp(y):.2f} ({math.exp(y - z * se):.2f}-{math.exp(y + z * se):.2f})"


def _overall_row(d: pd.DataFrame, sub, treatments: Sequence[str], comparators: Sequence[str]):
    """The overall treatment HR of the same cohort, outcome, analysis and comparison as ``sub``."""
    m = ((d["cohort"] == sub["cohort"]) & (d["outcome"] == sub["outcome"]) & (d["kind"] == "treatment_effect")
         & (d["population"] == "overall") & np.isfinite(d["se_"]))
    m &= d["treatment"].isin(set(treatments) | {sub["treatment"]}) if treatments else d["treatment"] != ""
    m &= d["comparator"].isin(set(comparators) | {sub["comparator"]}) if comparators else \
        d["comparator"] == sub["comparator"]
    cand = d[m]
    same = cand[cand["analysis"] == sub["analysis"]]
    if len(same) > 1:
        same = same.assign(_r=preference_rank(same, [sub["analysis"]])).sort_values("_r", kind="stable")
    return (same.iloc[0] if len(same) else None), cand[cand["analysis"] != sub["analysis"]]


def _interaction_caveats(mod: Moderator, pairs: pd.DataFrame, ev: EvidenceTable | None = None) -> list[str]:
    out = []
    mixed = pairs[pairs["treatment"] == "ici_any_2l"]
    if len(mixed):
        out.append(f"Population: in {', '.join(mixed['study'])} the ICI arm mixes ICI-naive and ICI-pretreated "
                   "patients (node ici_any_2l), so the interaction describes Q5's population, not only patients "
                   "treated again after a first-line ICI (Q1).")
    st = ev.studies.set_index("cohort") if ev is not None and ev.studies is not None else None
    if st is not None and mod.proportion and f"{mod.proportion}_treatment" in st.columns:
        for r in pairs[pairs["derived"]].itertuples():
            pt, pc = (_num(st.at[r.cohort, f"{mod.proportion}_{a}"]) for a in ("treatment", "comparator"))
            if math.isfinite(pt) and math.isfinite(pc):
                out.append(f"In {r.study}, {mod.label} ({mod.index}) in {pt:.1%} of the treatment arm vs {pc:.1%} of "
                           "the comparator arm: with a strongly prognostic moderator, an unstratified overall HR is "
                           "shifted by this imbalance and is only approximately the inverse-variance combination of "
                           "the subgroup HRs that the back-calculation assumes.")
    k = len(pairs)
    if k == 1:
        out.append(f"Single study: the interaction rests on one cohort ({pairs['study'].iloc[0]}); the between-cohort "
                   "SD of the interaction is not informed by data, so the pooled (average) interaction and the "
                   "prediction for a new cohort are as wide as the tau prior makes them (see the sensitivity table).")
    elif k < 5:
        out.append(f"Only {k} cohorts: the between-cohort SD of the interaction is mostly prior-driven.")
    if pairs["derived"].any():
        out.append("Derived subgroup: " + "; ".join(
            f"{r.study}'s {mod.factor}={r.derived_level} HR is back-calculated from its overall HR ({r.overall_id})"
            + (f"; printed rounding alone moves it over {r.derived_hr_lo:.2f}-{r.derived_hr_hi:.2f}"
               if pd.notna(r.derived_hr_lo) else "")
            for r in pairs[pairs["derived"]].itertuples())
            + ". Assumptions: " + "; ".join(BACK_CALCULATION_ASSUMPTIONS) + ".")
        out.append("Selective reporting: a paper that prints one subgroup HR in its text usually prints the one that "
                   "was significant; the missing subgroup is recovered here, but other moderators that were tested "
                   "and not printed are not.")
    if mod.note:
        out.append(mod.note)
    return out


def _levels_of(g, mod: Moderator, factor: str, cohort: str, t, c, log: list[str]) -> dict[str, pd.Series]:
    """The cohort's usable subgroup rows, one per level of the moderator (others logged)."""
    by_level: dict[str, pd.Series] = {}
    for _, r in g.iterrows():
        level = mod.canonical(r["population"].split("=", 1)[1] if "=" in r["population"] else "")
        if t and c and not (r["treatment"] in t and r["comparator"] in c):
            log.append(f"not used: {r['id']} (comparison {r['treatment']} vs {r['comparator']} is not the "
                       "requested one)")
            continue
        if not np.isfinite(r["se_"]):
            log.append(f"not used: {r['id']} (no standard error)")
            continue
        if level not in (mod.index, mod.reference):
            log.append(f"not used: {r['id']} (level {level!r} is neither {mod.index!r} nor {mod.reference!r})")
            continue
        if level in by_level:
            log.append(f"not used: {r['id']} (a second {factor}={level} estimate in {cohort}; "
                       f"{by_level[level]['id']} is used)")
            continue
        by_level[level] = r
    return by_level


def _complete_pair(d, cov, mod: Moderator, factor: str, cohort: str, est: dict, rec: dict, t, c, derive: bool,
                   rounding: str | None, log: list[str]) -> bool:
    """Derive the missing subgroup of ``est`` by back-calculation; False (logged) when it cannot be derived."""
    missing = [lv for lv in (mod.index, mod.reference) if lv not in est]
    if not missing:
        return True
    (have_level, have), = est.items()
    lack = missing[0]
    r = have["row"]
    if not derive:
        log.append(f"not used: {cohort} reports only {factor}={have_level} ({r['id']}); back-calculation "
                   "switched off")
        return False
    o, others = _overall_row(d, r, t, c)
    if o is None:
        log.append(f"not used: {cohort} reports only {factor}={have_level} ({r['id']}) and no overall HR "
                   f"from the same kind of analysis ({r['analysis']}) to back-calculate the other subgroup")
        return False
    n_sub, n_all = _n_of(r), _n_of(o)
    prop = None
    if not (math.isfinite(n_sub) and math.isfinite(n_all)):
        p_index = cov[mod.proportion].get(cohort, np.nan) if (mod.proportion and mod.proportion in cov) \
            else np.nan
        if math.isfinite(p_index):
            prop = p_index if have_level == mod.index else 1.0 - p_index
    where = f"back-calculation of {cohort} {factor}={lack} from {o['id']} and {r['id']}"
    try:
        der = derive_complementary_subgroup((o["log_hr_"], o["se_"]), (r["log_hr_"], r["se_"]),
                                            n_sub if math.isfinite(n_sub) else None,
                                            n_all if math.isfinite(n_all) else None,
                                            proportion=prop, where=where)
    except EvidenceError as exc:
        log.append(f"not used: {cohort}: {exc}")
        return False
    did = f"derived[{o['id']} minus {r['id']}]"
    est[lack] = {"y": der.log_hr, "se": der.se, "id": did, "derived": True, "row": None}
    rec["overall_id"] = o["id"]
    rec["information_share"] = der.information_share
    rec["patient_share"] = der.patient_share
    rec["derived_level"] = lack
    rec["notes"] += list(der.warnings)
    rng = rounding_range(o, r)
    sign = 1.0 if lack == mod.index else -1.0   # interaction = y_index - y_ref
    if rng is not None and rng["corners"]:
        inter = [sign * (yd - y1) for y1, _, yd, _ in rng["corners"]]
        rec["rounding_lo"], rec["rounding_hi"] = min(inter), max(inter)
        rec["derived_hr_lo"], rec["derived_hr_hi"] = (math.exp(v) for v in rng["derived"])
        if rounding in ("low", "high"):
            k = int(np.argmin(inter) if rounding == "low" else np.argmax(inter))
            y1, s1, yd, sd = rng["corners"][k]
            est[lack].update(y=yd, se=sd)
            est[have_level].update(y=y1, se=s1)
            rec["notes"].append(f"rounding setting '{rounding}': printed numbers moved within their "
                                "rounding to the corner giving the "
                                f"{'smallest' if rounding == 'low' else 'largest'} interaction")
    for _, alt in others.iterrows():
        try:
            derive_complementary_subgroup((alt["log_hr_"], alt["se_"]), (r["log_hr_"], r["se_"]))
            ok = "also possible"
        except EvidenceError:
            ok = ("impossible (the subgroup is more precise than that whole), so the subgroup does not "
                  "come from that analysis")
        rec["notes"].append(f"back-calculation against {alt['id']} ({alt['analysis']}) is {ok}")
    log.append(
        f"derived: {cohort} {factor}={lack}: HR {fmt_ci(der.log_hr, der.se)} by inverse-variance "
        f"back-calculation from the overall {o['id']} ({_printed(o)}) and the reported "
        f"{factor}={have_level} {r['id']} ({_printed(r)}); information share "
        f"{der.information_share:.3f} vs patient share {der.patient_share:.3f}"
        + (f"; printed rounding alone moves the derived HR over {rec.get('derived_hr_lo', np.nan):.2f}-"
           f"{rec.get('derived_hr_hi', np.nan):.2f}" if "derived_hr_lo" in rec else "")
        + "".join(f"; {n}" for n in rec["notes"]))
    return True


def _pair_record(mod: Moderator, est: dict, by_level: dict, rec: dict) -> dict:
    """The interaction row of one cohort from its two subgroup estimates (reported or derived)."""
    a, b = est[mod.index], est[mod.reference]
    src = by_level.get(mod.index, by_level.get(mod.reference))
    y, se = interaction_estimate((a["y"], a["se"]), (b["y"], b["se"]))
    rec.update({"txt_index": _printed(a["row"]) if a["row"] is not None else fmt_ci(a["y"], a["se"]),
                "txt_ref": _printed(b["row"]) if b["row"] is not None else fmt_ci(b["y"], b["se"]),
                "y_index": a["y"], "se_index": a["se"], "id_index": a["id"], "derived_index": a["derived"],
                "y_ref": b["y"], "se_ref": b["se"], "id_ref": b["id"], "derived_ref": b["derived"],
                "y": y, "se": se, "derived": a["derived"] or b["derived"], "analysis": src["analysis"],
                "design": src["design"], "line": src["line"], "treatment": src["treatment"],
                "comparator": src["comparator"],
                "flags": ";".join(x for x in dict.fromkeys(
                    ";".join(str(e["row"]["flags"]) for e in (a, b) if e["row"] is not None).split(";")) if x)})
    return rec


def subgroup_pairs(ev: EvidenceTable, factor: str, outcome: str, *, treatment: Iterable[str] | None = None,
                   comparator: Iterable[str] | None = None, line: str | None = None, exclude: Iterable[str] = (),
                   pool_prefer: Sequence[str] = (), derive: bool = True, rounding: str | None = None,
                   log: list[str] | None = None) -> pd.DataFrame:
    """Both subgroups' treatment HRs per cohort (reported, or one derived), one cohort per patient pool.

    ``rounding`` = ``"low"`` / ``"high"`` replaces each derived subgroup by the printed-rounding
    corner that gives the smallest / largest interaction (a sensitivity setting).

    Returns one row per cohort with ``y_index, se_index, id_index, derived_index``, the same for
    ``ref``, the interaction ``y, se``, ``derived``, ``information_share``, ``patient_share``,
    ``rounding_lo``/``rounding_hi`` (interaction log ratio over the rounding box) and notes.
    """
    mod = get_moderator(factor)
    log = log if log is not None else []
    d = ev.data
    t, c = as_tuple(treatment), as_tuple(comparator)
    fac = d["factor"] if "factor" in d.columns else pd.Series("", index=d.index)
    m = (d["kind"] == "subgroup_treatment_effect") & (fac == factor) & (d["outcome"] == outcome)
    if line is not None:
        m &= d["line"] == line
    ex = set(exclude)
    if ex:
        m &= ~d["cohort"].isin(ex) & ~d["patient_pool"].isin(ex)
    sg = d[m]
    labels = study_labels(ev)
    cov = ev.covariates()
    rows = []
    for cohort, g in sg.groupby("cohort", sort=False):
        by_level = _levels_of(g, mod, factor, cohort, t, c, log)
        if not by_level:
            continue
        rec = {"cohort": cohort, "patient_pool": g["patient_pool"].iloc[0], "study": labels.get(cohort, cohort),
               "outcome": outcome, "notes": []}
        est = {level: {"y": float(r["log_hr_"]), "se": float(r["se_"]), "id": r["id"], "derived": False, "row": r}
               for level, r in by_level.items()}
        if _complete_pair(d, cov, mod, factor, cohort, est, rec, t, c, derive, rounding, log):
            rows.append(_pair_record(mod, est, by_level, rec))
    cols = ["cohort", "patient_pool", "study", "outcome", "y_index", "se_index", "id_index", "derived_index", "y_ref",
            "se_ref", "id_ref", "derived_ref", "y", "se", "derived", "analysis", "design", "line", "treatment",
            "comparator", "flags", "overall_id", "information_share", "patient_share", "derived_level",
            "rounding_lo", "rounding_hi", "derived_hr_lo", "derived_hr_hi", "txt_index", "txt_ref", "notes"]
    out = pd.DataFrame(rows)
    for col in cols:
        if col not in out.columns:
            out[col] = np.nan if col not in ("notes",) else [[] for _ in range(len(out))]
    out = out[cols]
    if len(out):
        rank = {co: i for i, co in enumerate(pool_prefer)}
        out["_r"] = [(rank.get(co, len(rank)), int(dv)) for co, dv in zip(out["cohort"], out["derived"])]
        keep = []
        for pool, g in out.groupby("patient_pool", sort=False):
            g = g.sort_values("_r", kind="stable")
            keep.append(g.index[0])
            for j in g.index[1:]:
                log.append(f"not used: {g.at[j, 'cohort']} interaction (same patients as {g['cohort'].iloc[0]}, "
                           f"patient pool {pool!r})")
        out = out.loc[keep].drop(columns="_r").reset_index(drop=True)
    return out


def interaction_effects(ev: EvidenceTable, factor: str, outcome: str, *, treatment=None, comparator=None,
                        line: str | None = None, exclude: Iterable[str] = (), pool_prefer: Sequence[str] = (),
                        derive: bool = True, rounding: str | None = None, allow_unusable: bool = False,
                        source: str = "interaction") -> ModeratorEffects:
    """Within-study interactions ``log(HR_index / HR_reference)``, one per patient pool.

    Examples
    --------
    >>> from sclcmeta import read_evidence
    >>> eff = interaction_effects(read_evidence(), "liver_metastases", "OS",
    ...                           treatment=["ici_any_2l"], comparator=["no_ici_2l"])
    >>> bool(eff.data["derived"].iloc[0])
    True
    """
    mod = get_moderator(factor)
    if not mod.usable_interaction and not allow_unusable:
        raise EvidenceError(f"{source}: {mod.label} is not used as a moderator. {mod.note}")
    log: list[str] = []
    pairs = subgroup_pairs(ev, factor, outcome, treatment=treatment, comparator=comparator, line=line,
                           exclude=exclude, pool_prefer=pool_prefer, derive=derive, rounding=rounding, log=log)
    if pairs.empty:
        raise EvidenceError(
            f"{source}: no cohort reports the {outcome} treatment HR in both subgroups of {mod.label} (or one "
            "subgroup plus the overall HR of the same analysis), so no within-study interaction can be formed. "
            + mod.note)
    data = pd.DataFrame({
        "id": [f"{a} / {b}" for a, b in zip(pairs["id_index"], pairs["id_ref"])],
        "study": pairs["study"], "cohort": pairs["cohort"], "patient_pool": pairs["patient_pool"],
        "y": pairs["y"].astype(float), "se": pairs["se"].astype(float),
        "treatment": f"{factor}={mod.index}", "comparator": f"{factor}={mod.reference}",
        "analysis": pairs["analysis"], "design": pairs["design"], "line": pairs["line"],
        "population": "within-study interaction", "flipped": False,
        "flags": [";".join(x for x in (f, "derived_subgroup" if dv else "") if x)
                  for f, dv in zip(pairs["flags"].fillna(""), pairs["derived"])],
        "derived": pairs["derived"].astype(bool),
    })
    data = join_covariates(data, ev)
    for r in pairs.itertuples():
        log.append(f"used: {r.cohort} interaction {mod.index_label} / {mod.reference_label}: "
                   f"{fmt_ci(r.y, r.se)} from {r.id_index} and {r.id_ref}"
                   + (" [derived]" if r.derived else " [reported]"))
    caveats = _interaction_caveats(mod, pairs, ev)
    return ModeratorEffects(data, outcome=outcome, treatment_label=mod.index_label,
                            comparator_label=mod.reference_label, log=log, kind="interaction", moderator=factor,
                            pairs=pairs, caveats=caveats)


def subgroup_effects(pairs: pd.DataFrame, mod: Moderator, level: str, outcome: str, ev: EvidenceTable | None = None,
                     treatment_label: str = "treatment", comparator_label: str = "comparator") -> ModeratorEffects:
    """The treatment HR within one subgroup level, one per cohort (reported or derived)."""
    key = "index" if level == mod.index else "ref"
    data = pd.DataFrame({
        "id": pairs[f"id_{key}"], "study": pairs["study"], "cohort": pairs["cohort"],
        "patient_pool": pairs["patient_pool"], "y": pairs[f"y_{key}"].astype(float),
        "se": pairs[f"se_{key}"].astype(float), "treatment": pairs["treatment"], "comparator": pairs["comparator"],
        "analysis": pairs["analysis"], "design": pairs["design"], "line": pairs["line"],
        "population": f"{mod.factor}={level}", "flipped": False,
        "flags": ["derived_subgroup" if dv else "" for dv in pairs[f"derived_{key}"]],
        "derived": pairs[f"derived_{key}"].astype(bool),
    })
    if ev is not None:
        data = join_covariates(data, ev)
    lab = mod.index_label if level == mod.index else mod.reference_label
    log = [f"used: {r.cohort} {mod.factor}={level}: {fmt_ci(r.y, r.se)} ({r.id})"
           + (" [derived]" if r.derived else " [reported]") for r in data.itertuples()]
    return ModeratorEffects(data, outcome=outcome, treatment_label=treatment_label,
                            comparator_label=f"{comparator_label}, {lab}" if comparator_label else lab, log=log,
                            kind="subgroup",
                            moderator=mod.factor)

"""Q3 moderator analyses: a spec -> moderator estimates -> the primary fit (+ subgroup fits) -> a result."""

from __future__ import annotations

import numpy as np

from ..errors import EvidenceError, SpecError
from ..evidence.inventory import moderator_inventory
from ..evidence.moderators import ICI_ARMS, ModeratorEffects, as_tuple, get_moderator, interaction_effects, \
    subgroup_effects
from ..evidence.prognostic import ecological_effects, prognostic_effects
from ..evidence.table import EvidenceTable
from ..results import FitResult
from ..results.moderators import ModeratorResult
from ..vocabulary import MODERATOR_KINDS
from .common import build_pairwise, fit_spec_model, register


def moderator_effects(spec, evidence: EvidenceTable, **overrides) -> ModeratorEffects:
    """The EffectData a Q3 moderator spec declares (errors name the spec file)."""
    ev = spec.evidence
    kind = ev.get("kind")
    src = f"{spec.path} [evidence]"
    factor = ev.get("factor") or ""
    try:
        if kind == "interaction":
            if not factor:
                raise SpecError(f"{src}: kind = 'interaction' needs factor = '<moderator>' (e.g. 'liver_metastases').")
            kw = dict(treatment=ev.get("treatment"), comparator=ev.get("comparator"), line=ev.get("line"),
                      exclude=ev.get("exclude", ()), pool_prefer=tuple(ev.get("pool_prefer", ())), source=src)
            kw.update(overrides)
            return interaction_effects(evidence, factor, spec.outcome, **kw)
        if kind == "prognostic":
            if not factor:
                raise SpecError(f"{src}: kind = 'prognostic' needs factor = '<factor>' (e.g. 'liver_metastases').")
            pops = ev.get("population")
            pops = ICI_ARMS if pops in (None, "overall", ["overall"]) else as_tuple(pops)
            kw = dict(index=ev.get("treatment"), reference=ev.get("comparator"), populations=pops,
                      prefer=tuple(ev.get("prefer") or ("multivariable", "univariable")),
                      pool_prefer=tuple(ev.get("pool_prefer", ())),
                      direction_doubtful=ev.get("direction_doubtful", "exclude"), exclude=ev.get("exclude", ()),
                      ids=ev.get("ids") or None, source=src)
            kw.update(overrides)
            return prognostic_effects(evidence, factor, spec.outcome, **kw)
        if kind == "ecological":
            covs = list(spec.model.get("covariates", ()))
            if spec.model.get("type") != "meta_regression" or len(covs) != 1:
                raise SpecError(f"{spec.path} [model]: kind = 'ecological' needs type = 'meta_regression' with one "
                                "covariate, e.g. covariates = ['l1_ici_fraction'].")
            kw = dict(treatment=ev.get("treatment"), comparator=ev.get("comparator"), line=ev.get("line", "2L"),
                      exclude=ev.get("exclude", ()), prefer=ev.get("prefer") or None,
                      second_hand=bool(ev.get("second_hand", False)), source=src)
            kw.update(overrides)
            return ecological_effects(evidence, covs[0], spec.outcome, **kw)
    except EvidenceError as exc:
        raise SpecError(str(exc)) from None
    raise SpecError(f"{src}: kind {kind!r} is not a moderator analysis ({', '.join(MODERATOR_KINDS)}).")


def moderator_settings(spec, evidence: EvidenceTable) -> list[tuple[str, str, ModeratorEffects]]:
    """Evidence choices specific to moderator analyses, for :func:`sclcmeta.analyses.sensitivity.run_sensitivity`.

    Prognostic: direction-doubtful rows as printed / explicitly flipped; the other cohort of a shared
    patient pool. Interaction: derived subgroups at the printed-rounding extremes.
    """
    return [(label, desc, eff) for label, desc, _, eff in moderator_choices(spec, evidence)]


def moderator_choices(spec, evidence: EvidenceTable) -> list[tuple[str, str, dict, ModeratorEffects]]:
    """:func:`moderator_settings` with the ``moderator_effects`` overrides that give each choice
    ``(label, description, overrides, effects)``, so the multiverse can combine them with other axes."""
    kind = spec.evidence.get("kind")
    base = moderator_effects(spec, evidence)
    seen = {tuple(base.data["id"]) + tuple(np.round(base.data["y"], 12))}
    out: list[tuple[str, str, dict, ModeratorEffects]] = []

    def add(label, desc, **kw):
        try:
            eff = moderator_effects(spec, evidence, **kw)
        except SpecError:
            return
        key = tuple(eff.data["id"]) + tuple(np.round(eff.data["y"], 12))
        if key not in seen:
            seen.add(key)
            out.append((label, desc, kw, eff))

    if kind == "prognostic":
        add("direction-doubtful rows as printed", "rows flagged direction_doubtful / direction_contradicts_text "
            "included with their printed direction", direction_doubtful="as_printed")
        add("direction-doubtful rows flipped", "the same rows included with the sign flipped (assumes the table is "
            "inversely coded)", direction_doubtful="flipped")
        pp = tuple(spec.evidence.get("pool_prefer", ()))
        if len(pp) > 1:
            add(f"prefer {pp[-1]} in its patient pool", f"pool_prefer reversed: {', '.join(reversed(pp))}",
                pool_prefer=tuple(reversed(pp)))
    elif kind == "interaction" and base.data["derived"].any():
        add("derived subgroup at rounding low", "printed HRs/CIs moved within their rounding to give the smallest "
            "interaction", rounding="low")
        add("derived subgroup at rounding high", "printed HRs/CIs moved within their rounding to give the largest "
            "interaction", rounding="high")
    return out


@register("moderator")
class ModeratorAnalysis:
    """Within-study interactions, prognostic-factor pooling, or ecological meta-regression (Q3)."""

    effects = staticmethod(moderator_effects)
    build = staticmethod(build_pairwise)
    evidence_settings = staticmethod(moderator_settings)
    evidence_choices = staticmethod(moderator_choices)

    @staticmethod
    def wrap(spec, raw, eff: ModeratorEffects, parts: dict | None = None, inventory=None) -> ModeratorResult:
        """A :class:`ModeratorResult` around one fitted primary model (sensitivity reruns use this)."""
        return ModeratorResult(name=spec.name, outcome=spec.outcome, comparison=spec.comparison or
                               f"{eff.treatment_label} vs {eff.comparator_label}", raw=raw, effects=eff, spec=spec,
                               question=spec.question, kind=spec.evidence.get("kind"), factor=eff.moderator,
                               parts=parts or {}, caveats=tuple(eff.caveats), inventory=inventory)

    @classmethod
    def run(cls, spec, evidence: EvidenceTable, *, method=None, cache=None, progress: bool = False) -> ModeratorResult:
        """The primary model (interaction / prognostic / ecological) and, for interactions, the treatment HR
        within each subgroup level. The moderator inventory, when the spec asks for it, describes ``evidence``."""
        kind = spec.evidence.get("kind")
        if kind in ("interaction", "prognostic") and spec.model["type"] not in ("random_effects", "fixed_effect"):
            raise SpecError(f"{spec.path} [model]: a {kind} analysis pools one quantity per cohort; use type = "
                            "'random_effects' (or 'fixed_effect').")
        eff = moderator_effects(spec, evidence)
        raw = fit_spec_model(build_pairwise(eff, spec), spec, method=method, cache=cache, progress=progress)
        parts: dict[str, FitResult] = {}
        if kind == "interaction":
            mod = get_moderator(eff.moderator)
            tr = spec.evidence.get("treatment") or ["treatment"]
            co = spec.evidence.get("comparator") or ["comparator"]
            t_lab = spec.comparison or f"{'/'.join(tr)} vs {'/'.join(co)}"
            for j, level in enumerate((mod.index, mod.reference)):
                sub = subgroup_effects(eff.pairs, mod, level, spec.outcome, evidence, treatment_label=t_lab,
                                       comparator_label="")
                r = fit_spec_model(build_pairwise(sub, spec), spec, method=method, cache=cache, progress=progress,
                                   seed_offset=j + 1)
                lab = mod.index_label if level == mod.index else mod.reference_label
                parts[level] = FitResult(name=spec.name, outcome=spec.outcome, comparison=f"{t_lab}, {lab}", raw=r,
                                         effects=sub, spec=spec, question=spec.question)
        inventory = moderator_inventory(evidence) if spec.evidence.get("inventory") else None
        return cls.wrap(spec, raw, eff, parts, inventory)

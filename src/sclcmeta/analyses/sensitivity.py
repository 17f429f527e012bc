"""Sensitivity reruns: every prior set and evidence choice of one spec; no prior change recompiles a model.

With nutpie every fit runs the one compiled log density of :mod:`sclcmeta.engine.native` on a new
buffer of numbers; with PyMC's NUTS the model is built once per shape and priors are swapped by
``pm.set_data``. Power-scaling diagnostics (Kallioinen et al. 2024, ArviZ ``psens``) flag priors and
likelihoods whose perturbation moves the posterior.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import SpecError
from ..evidence import EvidenceTable, read_evidence
from ..fitting import COMPILE_CACHE, CompileCache
from ..priors import list_prior_sets, load_prior_set
from ..results import FitResult
from ..results.sensitivity import SensitivityResult
from ..spec import AnalysisSpec
from .common import adjust_for_bias, analysis_for, bias_alternatives, fit_spec_model
from .pairwise import PREFERENCES, observational_mask


def pooled_row(res: FitResult, setting: str, kind: str, description: str) -> dict:
    """The sensitivity-table row of one rerun: the primary quantity and tau."""
    r = res.pooled_hr()
    tau = next((q for q in res.quantities if q.quantity == "tau"), None)
    return {"analysis": res.name, "setting": setting, "kind": kind, "description": description,
            "hr_median": r["hr_median"], "hr_q2.5": r["hr_q2.5"], "hr_q97.5": r["hr_q97.5"],
            "prob_hr_below_1": r["prob_hr_below_1"], "prob_hr_below_0.8": r["prob_hr_below_0.8"],
            "tau_median": float(np.asarray(tau.marginal.quantile(0.5)).ravel()[0]) if tau else np.nan,
            "k": res.model.k, "gate": res.gate, "evidence": r["evidence"], "scale": res.effect_scale.name,
            "bias_prior": res.bias.prior.name if res.bias is not None else "none",
            **({"prob_hr_below_0": r["prob_hr_below_0"]} if "prob_hr_below_0" in r else {})}


def power_scaling(res: FitResult) -> pd.DataFrame:
    """ArviZ power-scaling sensitivity of the pooled effect and tau to the prior and the likelihood."""
    import arviz as az      # imported here: the command line's fit and --help need no ArviZ
    idata = res.idata
    if "log_likelihood" not in idata.groups() or "log_prior" not in idata.groups():
        return pd.DataFrame()
    rows = []
    var_names = ["b"] + [c.name for c in res.model.components]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for comp in ("prior", "likelihood"):
            ds = az.psens(idata, component=comp, var_names=var_names)
            for v in var_names:
                vals = np.atleast_1d(ds[v].values)
                labels = list(res.model.coef_names) if v == "b" else [v]
                for lab, val in zip(labels, vals):
                    rows.append({"parameter": lab, "component": comp, "sensitivity": float(val)})
    df = pd.DataFrame(rows).pivot(index="parameter", columns="component", values="sensitivity").reset_index()
    df.columns.name = None
    df["diagnosis"] = np.where((df["prior"] > 0.05) & (df["likelihood"] > 0.05), "prior-data conflict",
                               np.where(df["prior"] > 0.05, "prior informative",
                                        np.where(df["likelihood"] < 0.05, "weak likelihood", "-")))
    return df


def _settings(spec, analysis, evidence, prior_sets, evidence_choices: bool, notes: list[str]):
    """``[(label, kind, description, model, priors, effects)]``: every prior set, then every evidence choice.

    Evidence choices common to every kind come first (analysis preference, leave one cohort out for k > 2,
    observational evidence down-weighted, second-hand estimates added), then the kind's own
    (``analysis.evidence_settings``). A bias-adjusted spec adjusts every setting's model with its bias prior
    and adds one row per bundled bias prior and one without the adjustment (``kind`` "bias").
    """
    base_eff = analysis.effects(spec, evidence)
    unadjusted_base = analysis.build(base_eff, spec)
    base_model = adjust_for_bias(unadjusted_base, base_eff, spec, evidence)
    out = [(ps.name, "prior", ps.description, base_model, ps, base_eff) for ps in prior_sets]
    for label, desc, bp in bias_alternatives(spec):
        model = unadjusted_base if bp is None else adjust_for_bias(unadjusted_base, base_eff, spec, evidence, bp)
        out.append((label, "bias", desc, model, spec.priors, base_eff))
    if not evidence_choices:
        return out, base_model, base_eff

    def build(eff):
        return adjust_for_bias(analysis.build(eff, spec), eff, spec, evidence)

    seen = {tuple(base_eff.data["id"])}
    for label, pref in PREFERENCES.items():
        eff = analysis.effects(spec.with_evidence(prefer=list(pref), ids=[]), evidence)
        if tuple(eff.data["id"]) in seen:
            notes.append(f"{label}: same estimates as the primary selection")
            continue
        seen.add(tuple(eff.data["id"]))
        out.append((label, "evidence", f"analysis preference {', '.join(pref[:3])}", build(eff), spec.priors, eff))
    if base_eff.k > 2:
        for c in base_eff.data["cohort"]:
            try:
                eff = analysis.effects(spec.with_evidence(exclude=list(spec.evidence.get("exclude", [])) + [c]),
                                       evidence)
                out.append((f"leave out {c}", "evidence", f"cohort {c} removed", build(eff), spec.priors, eff))
            except SpecError as exc:        # e.g. a meta-regression whose covariate no longer varies
                notes.append(f"leave out {c}: not estimable ({exc})")
    obs = observational_mask(base_eff)
    if obs.any():
        out.append(("observational down-weighted", "evidence",
                    "sampling variance of every non-randomized estimate doubled (weight 1/2)",
                    # the sampling variance only: a bias model's variance is then added as in the primary fit
                    adjust_for_bias(unadjusted_base.with_sampling_variance_scaled(obs, 2.0), base_eff, spec, evidence),
                    spec.priors, base_eff))
    if not spec.evidence.get("second_hand"):
        try:
            eff = analysis.effects(spec.with_evidence(second_hand=True), evidence)
        except SpecError:
            eff = None
        if eff is not None and tuple(eff.data["id"]) not in seen:
            out.append(("with second-hand estimates", "evidence",
                        "estimates known only through another paper's citation added "
                        f"({', '.join(sorted(set(eff.data['id']) - set(base_eff.data['id'])))})", build(eff),
                        spec.priors, eff))
    for label, desc, eff in analysis.evidence_settings(spec, evidence):
        out.append((label, "evidence", desc, build(eff), spec.priors, eff))
    return out, base_model, base_eff


def run_sensitivity(spec: AnalysisSpec, *, prior_files: list[str | Path] | None = None,
                    evidence_choices: bool = True, evidence: EvidenceTable | None = None,
                    method: str | None = None, cache: CompileCache | None = None,
                    progress: bool = False) -> SensitivityResult:
    """Rerun ``spec`` under every prior set (default: all of ``models/priors/``) and evidence choice.

    Examples
    --------
    >>> import sclcmeta as sm
    >>> spec = sm.load_spec("q1_continuation_os")                      # doctest: +SKIP
    >>> sens = sm.run_sensitivity(spec, method="exact")                # doctest: +SKIP
    >>> sens.table[["setting", "hr_median", "prob_hr_below_1"]]        # doctest: +SKIP
    """
    t0 = time.perf_counter()
    if spec.kind == "network":
        return _network_sensitivity(spec, prior_files, evidence_choices, evidence, method, t0)
    cache = COMPILE_CACHE if cache is None else cache
    misses0 = cache.misses
    evidence = evidence if evidence is not None else read_evidence()
    analysis = analysis_for(spec)
    prior_sets = [load_prior_set(p) for p in prior_files] if prior_files else list_prior_sets()
    notes: list[str] = []
    settings, base_model, base_eff = _settings(spec, analysis, evidence, prior_sets, evidence_choices, notes)
    iterator = settings
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(settings, desc=f"sensitivity {spec.name}", unit="fit", leave=False)
    rows, base_res = [], None
    for label, kind, desc, model, ps, eff in iterator:
        res = analysis.wrap(spec, fit_spec_model(model, spec, method=method, priors=ps, cache=cache), eff)
        if base_res is None and kind == "prior" and ps.name == spec.priors.name:
            base_res = res
        rows.append(pooled_row(res, label, kind, desc))
    if base_res is None:
        base_res = analysis.wrap(spec, fit_spec_model(base_model, spec, method=method, cache=cache), base_eff)
    return SensitivityResult(spec, pd.DataFrame(rows), power_scaling(base_res), new_shapes=cache.misses - misses0,
                             seconds=time.perf_counter() - t0, notes=tuple(notes))


def _network_sensitivity(spec, prior_files, evidence_choices, evidence, method, t0) -> SensitivityResult:
    """A network spec's reruns (:mod:`sclcmeta.analyses.network_sensitivity`), one row per setting and headline
    contrast; power-scaling diagnostics are computed for pairwise models only."""
    from .network_sensitivity import network_sensitivity_table

    evidence = evidence if evidence is not None else read_evidence()
    prior_sets = [load_prior_set(p) for p in prior_files] if prior_files else list_prior_sets()
    notes: list[str] = []
    table = network_sensitivity_table(spec, evidence, prior_sets, evidence_choices=evidence_choices, method=method,
                                      notes=notes)
    return SensitivityResult(spec, table, pd.DataFrame(), seconds=time.perf_counter() - t0, notes=tuple(notes))

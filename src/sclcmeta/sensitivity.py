"""Sensitivity reruns: every prior set and evidence choice; no prior change recompiles a model.

Prior reruns and evidence choices never recompile: with nutpie every fit runs the one compiled log
density of :mod:`sclcmeta.engine.native` on a new buffer of numbers; with PyMC's NUTS the model is
built once per shape (leave-one-cohort-out builds one more) and priors are swapped by ``pm.set_data``. Power-scaling diagnostics (Kallioinen et al. 2024,
ArviZ ``psens``) flag priors and likelihoods whose perturbation moves the posterior.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import arviz as az
import numpy as np
import pandas as pd

from .analysis import effects_for_spec
from .engine.build import model_from_effects
from .engine.gaussian import GaussianModel
from .errors import ConvergenceWarning, SpecError
from .evidence import EvidenceTable, read_evidence
from .fitting import COMPILE_CACHE, CompileCache, fit_model
from .priors import list_prior_sets, load_prior_set
from .results import FitResult
from .spec import AnalysisSpec

PREFERENCES = {
    "prefer matched": ("propensity_matched", "multivariable", "unadjusted", "univariable"),
    "prefer adjusted": ("multivariable", "propensity_matched", "unadjusted", "univariable"),
    "prefer unadjusted": ("unadjusted", "univariable", "propensity_matched", "multivariable"),
}


@dataclass
class SensitivityResult:
    """Pooled-effect summaries under every setting, plus power-scaling diagnostics."""

    spec: AnalysisSpec
    table: pd.DataFrame
    psens: pd.DataFrame
    #: MCMC model shapes this run had to set up (leave-one-out adds one); 0 for the exact solver
    new_shapes: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        cols = ["setting", "kind", "hr_median", "hr_q2.5", "hr_q97.5", "prob_hr_below_1", "prob_hr_below_0.8",
                "tau_median", "gate"]
        t = self.table[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}")
        ps = self.psens.to_string(index=False, float_format=lambda x: f"{x:.3f}") if len(self.psens) else "n/a"
        return (f"<Sensitivity of {self.spec.name}: {len(self.table)} settings, {self.new_shapes} new model shape(s), "
                f"{self.seconds:.1f} s>\n{t}\n\nPower-scaling sensitivity (> 0.05 = sensitive):\n{ps}")

    def plot(self):
        from .plots import plot_sensitivity

        return plot_sensitivity(self.table, title=f"{self.spec.name}: sensitivity of the pooled HR")


def _pooled_row(res: FitResult, setting: str, kind: str, description: str) -> dict:
    r = res.pooled_hr()
    tau = next((q for q in res.quantities if q.quantity == "tau"), None)
    return {"analysis": res.name, "setting": setting, "kind": kind, "description": description,
            "hr_median": r["hr_median"], "hr_q2.5": r["hr_q2.5"], "hr_q97.5": r["hr_q97.5"],
            "prob_hr_below_1": r["prob_hr_below_1"], "prob_hr_below_0.8": r["prob_hr_below_0.8"],
            "tau_median": float(np.asarray(tau.marginal.quantile(0.5)).ravel()[0]) if tau else np.nan,
            "k": res.model.k, "gate": res.gate, "evidence": r["evidence"]}


def power_scaling(res: FitResult) -> pd.DataFrame:
    """ArviZ power-scaling sensitivity of the pooled effect and tau to the prior and the likelihood."""
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


def run_sensitivity(spec: AnalysisSpec, *, prior_files: list[str | Path] | None = None,
                    evidence_choices: bool = True, evidence: EvidenceTable | None = None,
                    method: str | None = None, cache: CompileCache | None = None,
                    progress: bool = False) -> SensitivityResult:
    """Rerun ``spec`` under every prior set (default: all of ``models/priors/``) and evidence choice.

    Examples
    --------
    >>> import sclcmeta as sm
    >>> from sclcmeta.sensitivity import run_sensitivity
    >>> spec = sm.load_spec("models/q1_continuation_os.toml")          # doctest: +SKIP
    >>> sens = run_sensitivity(spec, method="exact")                   # doctest: +SKIP
    >>> sens.table[["setting", "hr_median", "prob_hr_below_1"]]        # doctest: +SKIP
    """
    if spec.model["type"] == "network":
        raise SpecError(f"{spec.path}: sensitivity reruns for network specs are reported in the report's network "
                        "section; run them per prior set with `sclcmeta fit --prior ...`.")
    t0 = time.perf_counter()
    cache = COMPILE_CACHE if cache is None else cache
    misses0 = cache.misses
    evidence = evidence if evidence is not None else read_evidence()
    method = method or spec.inference["method"]
    inf = spec.inference
    prior_sets = [load_prior_set(p) for p in prior_files] if prior_files else list_prior_sets()
    from .moderators import is_moderator_spec, sensitivity_settings, wrap_fit

    moderator = is_moderator_spec(spec)

    def run(model: GaussianModel, ps, eff) -> FitResult:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            raw = fit_model(model, ps, method=method, draws=inf["draws"], tune=inf["tune"], chains=inf["chains"],
                            seed=inf["seed"], sampler=inf["sampler"], cache=cache)
        if moderator:  # Q3 moderator specs report their own primary quantity (interaction, prognostic, slope)
            return wrap_fit(spec, raw, eff)
        return FitResult(spec.name, spec.outcome, spec.comparison, raw, effects=eff, spec=spec)

    def build(eff):
        return model_from_effects(eff, spec.model["type"], covariates=tuple(spec.model.get("covariates", ())),
                                  design_bias=bool(spec.model.get("design_bias", False)), where=f"{spec.path} [model]")

    base_eff = effects_for_spec(spec, evidence)
    base_model = build(base_eff)
    rows, notes = [], []
    settings = [(ps.name, "prior", ps.description, base_model, ps, base_eff) for ps in prior_sets]
    if evidence_choices:
        seen = {tuple(base_eff.data["id"])}
        for label, pref in PREFERENCES.items():
            eff = effects_for_spec(spec.with_evidence(prefer=list(pref), ids=[]), evidence)
            key = tuple(eff.data["id"])
            if key in seen:
                notes.append(f"{label}: same estimates as the primary selection")
                continue
            seen.add(key)
            settings.append((label, "evidence", f"analysis preference {', '.join(pref[:3])}", build(eff),
                             spec.priors, eff))
        if base_eff.k > 2:
            for c in base_eff.data["cohort"]:
                try:
                    eff = effects_for_spec(spec.with_evidence(exclude=list(spec.evidence.get("exclude", [])) + [c]),
                                           evidence)
                    settings.append((f"leave out {c}", "evidence", f"cohort {c} removed", build(eff), spec.priors,
                                     eff))
                except SpecError as exc:  # e.g. a meta-regression whose covariate no longer varies
                    notes.append(f"leave out {c}: not estimable ({exc})")
        obs = (base_eff.data["design"] != "rct").to_numpy()
        if obs.any():
            S = base_model.S.copy()
            S[np.ix_(obs, obs)] *= 2.0
            settings.append(("observational down-weighted", "evidence",
                             "variance of every non-randomized estimate doubled (weight 1/2)",
                             replace(base_model, S=S), spec.priors, base_eff))
        if moderator:  # direction-doubtful rows as printed / flipped, shared-pool choice, rounding extremes
            for label, desc, eff in sensitivity_settings(spec, evidence):
                settings.append((label, "evidence", desc, build(eff), spec.priors, eff))
    iterator = settings
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(settings, desc=f"sensitivity {spec.name}", unit="fit", leave=False)
    base_res = None
    for label, kind, desc, model, ps, eff in iterator:
        res = run(model, ps, eff)
        if base_res is None and kind == "prior" and ps.name == spec.priors.name:
            base_res = res
        rows.append(_pooled_row(res, label, kind, desc))
    base_res = base_res or run(base_model, spec.priors, base_eff)
    table = pd.DataFrame(rows)
    return SensitivityResult(spec, table, power_scaling(base_res), new_shapes=cache.misses - misses0,
                             seconds=time.perf_counter() - t0, notes=notes)

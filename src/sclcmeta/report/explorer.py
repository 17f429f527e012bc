"""The live prior explorer: what the page needs to recompute a pairwise posterior in the browser.

A pairwise random-effects model is Gaussian given tau, so the page (``static/explorer.js``) integrates the
effect in closed form and tau by quadrature, exactly as :func:`sclcmeta.engine.exact.solve_exact` does; this
module embeds the estimates (log HR ``y`` and standard errors ``se``), the analysis' own priors and the
bundled prior sets as presets. Only models the page can solve exactly get an explorer: one effect ``mu``
with a normal prior, one heterogeneity SD over independent estimates, and a heterogeneity prior from the
families half-normal, half-Cauchy, uniform(0, upper) and log-normal (Turner-type, on log tau^2).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from ..priors import Prior, PriorSet, list_prior_sets

_JS = Path(__file__).with_name("static") / "explorer.js"
FAMILIES = ("half_normal", "half_cauchy", "uniform", "log_normal")
#: Preset buttons, in the page's order ("analysis" = the analysis' own priors; the rest are models/priors/ sets).
PRESETS = ("analysis", "default", "sceptical", "enthusiastic", "vague", "tau_half_normal_1", "tau_half_cauchy",
           "tau_turner", "tau_uniform")


@lru_cache(maxsize=1)
def explorer_script() -> str:
    """The page's explorer code (plain JavaScript, no library)."""
    return _JS.read_text(encoding="utf-8")


def _tau_json(p: Prior) -> dict | None:
    d = dict(p.params)
    if p.family == "uniform":
        return {"family": "uniform", "lower": d.get("lower", 0.0), "upper": d["upper"]} if d.get("lower", 0.0) == 0 \
            else None
    if p.family in ("half_normal", "half_cauchy"):
        return {"family": p.family, "scale": d["scale"]}
    if p.family == "log_normal":
        return {"family": "log_normal", "mu": d["mu"], "sigma": d["sigma"]}
    return None


def _controls(ps: PriorSet) -> dict | None:
    """The form values of a prior set (None when the page cannot represent it)."""
    if ps.effect.family != "normal":
        return None
    tau = _tau_json(ps.tau)
    if tau is None:
        return None
    out = {"mean": ps.effect["mean"], "sd": ps.effect["sd"], "family": tau["family"]}
    if tau["family"] == "log_normal":
        out.update(lnmu=tau["mu"], lnsigma=tau["sigma"])
    else:
        out["scale"] = tau.get("upper", tau.get("scale"))
    return out


def explorable(res) -> bool:
    """True when the page can recompute this result's posterior exactly (plain random-effects model)."""
    m = res.model
    return (m.coef_names == ("mu",) and len(m.components) == 1 and m.components[0].prior_role == "tau"
            and np.allclose(m.X, 1.0) and np.allclose(m.components[0].K, np.eye(m.k)) and m.diagonal
            and _controls(res.priors) is not None)


def explorer_model(res) -> dict | None:
    """The JSON the page embeds for ``res`` (None when :func:`explorable` is false)."""
    if not explorable(res):
        return None
    m = res.model
    presets = {"analysis": _controls(res.priors)}
    for ps in list_prior_sets():
        c = _controls(ps)
        if c is not None:
            presets[ps.name] = c
    return {"name": res.name, "y": [float(v) for v in m.y], "se": [float(v) for v in m.se],
            "studies": list(m.studies), "initial": presets["analysis"], "presets": presets,
            "what": {"interaction": "pooled ratio of HRs", "prognostic": "pooled prognostic HR"}.get(
                getattr(res, "kind", ""), "pooled HR")}


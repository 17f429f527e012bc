"""Bias-adjusted models: an additive bias on each estimate, its prior built from the risk-of-bias table.

Following Turner et al. (2009, J R Stat Soc A 172:21-47), an estimate is read as
``y_i = theta_i + delta_i + e_i`` with ``delta_i ~ N(m_i, v_i)`` independent of everything else. Integrating
``delta_i`` out keeps the model Gaussian::

    y_i - m_i ~ N(theta_i, s_i^2 + v_i)

so a bias-adjusted model is the same :class:`~sclcmeta.engine.gaussian.GaussianModel` with shifted
estimates and added variance: the exact solver covers it unchanged, and the compiled MCMC model is reused
(the estimates and their variances are data, not structure), so changing the bias prior never recompiles.

``m_i`` and ``v_i`` come from the estimate's assessment in ``data/risk_of_bias.csv`` and a
:class:`~sclcmeta.bias_priors.BiasPrior`: every domain judgement contributes ``N(mean, sd^2)``; the domains
add. A domain's mean is bias in favour of the ICI-containing arm, so it enters with the sign of the
comparison (negative when the estimate's treatment is the ICI arm, positive when its comparator is) and
only when exactly one arm contains an ICI; otherwise the direction is unknown and the mean is 0.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from ..errors import SpecError
from .gaussian import GaussianModel


@dataclass(frozen=True)
class BiasTerms:
    """Per-estimate additive bias ``N(mean, sd^2)`` on the log HR, with the assessment it came from."""

    prior: object             # the BiasPrior
    table: pd.DataFrame       # id, study, assessment, tool, overall, direction, bias_mean, bias_sd

    @property
    def mean(self) -> np.ndarray:
        return self.table["bias_mean"].to_numpy(float)

    @property
    def var(self) -> np.ndarray:
        return self.table["bias_sd"].to_numpy(float) ** 2

    def __repr__(self) -> str:
        return f"<BiasTerms {self.prior.name}: {len(self.table)} estimates, mean sd {self.table['bias_sd'].mean():.3f}>"


def ici_direction(treatment: str, comparator: str, ici_class: dict[str, str]) -> int:
    """-1 when only ``treatment`` contains an ICI, +1 when only ``comparator`` does, 0 otherwise.

    Examples
    --------
    >>> ici_direction("ici_cont_2l", "no_ici_2l", {"ici_cont_2l": "mixed", "no_ici_2l": "none"})
    -1
    """
    def has(node):
        return str(ici_class.get(node, "")).strip() not in ("", "none", "nan")

    t, c = has(treatment), has(comparator)
    return -1 if t and not c else (1 if c and not t else 0)


def bias_terms(rows: pd.DataFrame, rob, prior, nodes: pd.DataFrame | None, *, where: str = "bias") -> BiasTerms:
    """The bias prior of every estimate in ``rows`` (columns ``id``, ``treatment``, ``comparator``; ``study``
    optional): the sum over its assessment's domains of ``prior``'s ``(mean, sd)`` for each judgement.

    Raises :class:`SpecError` naming the estimates that no assessment of ``rob`` covers.
    """
    ids = list(rows["id"])
    cover = rob.for_ids(ids)
    missing = cover.loc[cover["assessment"] == "", "id"].tolist()
    if missing:
        raise SpecError(f"{where}: no risk-of-bias assessment covers estimate(s) {', '.join(missing)}, so their bias "
                        f"prior is unknown; add them to the applies_to column of {rob.file or 'risk_of_bias.csv'} "
                        "or remove the [bias] table of the spec.")
    ici_class = {} if nodes is None or "ici_class" not in nodes else dict(zip(nodes["node"], nodes["ici_class"]))
    out = []
    for r, c in zip(rows.itertuples(index=False), cover.itertuples(index=False)):
        direction = ici_direction(r.treatment, r.comparator, ici_class)
        mean = var = 0.0
        for d in rob.domains(c.assessment).itertuples(index=False):
            m, s = prior.domain_prior(c.tool, d.domain, d.judgement)
            mean += -direction * m if direction else 0.0     # m < 0 favours the ICI arm
            var += s * s
        out.append({"id": r.id, "study": getattr(r, "study", r.id), "assessment": c.assessment, "tool": c.tool,
                    "overall": c.overall, "direction": {-1: "treatment has the ICI", 1: "comparator has the ICI",
                                                        0: "unknown"}[direction],
                    "bias_mean": mean, "bias_sd": float(np.sqrt(var))})
    return BiasTerms(prior=prior, table=pd.DataFrame(out))


def bias_adjusted(model: GaussianModel, terms: BiasTerms) -> GaussianModel:
    """``model`` with each estimate's bias integrated out: ``y - m`` and ``S + diag(v)`` (see module docstring).

    Examples
    --------
    >>> import pandas as pd
    >>> gm = GaussianModel.random_effects([-0.4, -0.2], [0.2, 0.1])
    >>> t = BiasTerms(prior=None, table=pd.DataFrame({"bias_mean": [-0.1, 0.0], "bias_sd": [0.3, 0.0]}))
    >>> adj = bias_adjusted(gm, t)
    >>> adj.y.round(2).tolist(), adj.se.round(3).tolist()
    ([-0.3, -0.2], [0.361, 0.1])
    """
    if len(terms.table) != model.k:
        raise SpecError(f"bias terms for {len(terms.table)} estimates, but the model has {model.k}.")
    S = model.S + np.diag(terms.var)
    meta = {**model.meta, "bias": terms}
    return replace(model, y=model.y - terms.mean, S=S, meta=meta)

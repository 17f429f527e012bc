"""Analyses stage: one module per analysis kind with the same small contract, dispatched by a registry.

:func:`run_spec` runs a declarative spec on an :class:`~sclcmeta.evidence.EvidenceTable`; :func:`fit` is
the notebook entry point for harmonized estimates; :func:`run_sensitivity` reruns a spec under every prior
set and evidence choice; :func:`sweep` answers one analysis under many prior settings at once;
:func:`.multiverse.multiverse` (``sclcmeta.multiverse``) fits every combination of them, with leave-one-out, on Dask.
"""

from __future__ import annotations

from . import moderators as _moderators, network as _network, pairwise as _pairwise  # noqa: F401  (register)
from .common import REGISTRY, analysis_for, exact_cross_check
from .pairwise import fit
from .sensitivity import run_sensitivity
from .prior_sweep import sweep


def effects_for_spec(spec, evidence):
    """The estimates a (pairwise or moderator) spec selects, with errors naming the spec file and key."""
    return analysis_for(spec).effects(spec, evidence)


def run_spec(spec, evidence=None, *, cache=None, progress: bool = False, method: str | None = None):
    """Run one analysis spec on ``evidence`` (default: the bundled tables); returns its result object.

    Examples
    --------
    >>> import sclcmeta as sm
    >>> res = sm.run_spec(sm.load_spec("q1_continuation_os"), method="exact")
    >>> res.pooled_hr()["hr_median"] < 1
    True
    """
    from ..evidence import read_evidence

    evidence = evidence if evidence is not None else read_evidence()
    return analysis_for(spec).run(spec, evidence, method=method, cache=cache, progress=progress)


__all__ = ["REGISTRY", "analysis_for", "effects_for_spec", "exact_cross_check", "fit", "run_sensitivity", "run_spec", "sweep"]

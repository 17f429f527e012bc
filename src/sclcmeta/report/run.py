"""Run orchestration of the report: fit every spec (and its sensitivity reruns), assemble one Section each."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

from ..analyses import exact_cross_check, run_sensitivity, run_spec
from ..errors import ConvergenceWarning
from ..fitting import CompileCache
from ..plots import plot_sensitivity
from ..results import FitResult
from ..spec import AnalysisSpec
from .figures import figures_for, png
from .narrative import paragraph
from .tables import extra_tables


@dataclass(frozen=True)
class Section:
    """One analysis as the report shows it: spec, result, figures, text, sensitivity, tables."""

    spec: AnalysisSpec
    result: FitResult
    figures: dict = field(default_factory=dict)      # name -> png bytes
    paragraph: str = ""
    cross_check: str = ""
    sensitivity: object | None = None
    extra_tables: dict = field(default_factory=dict)  # title -> DataFrame

    def effects_log(self) -> list[str]:
        """Why each evidence row is in or out of this analysis."""
        return list(getattr(getattr(self.result, "effects", None), "log", []) or [])


def run_all(specs, evidence, *, progress: bool = True, sensitivity: bool = True,
            cache: CompileCache | None = None) -> list[Section]:
    """Fit every spec (and its sensitivity reruns); returns one :class:`Section` per analysis."""
    from tqdm.auto import tqdm

    cache = cache or CompileCache()
    sections = []
    bar = tqdm(specs, desc="sclcmeta report", unit="analysis", disable=not progress)
    for spec in bar:
        bar.set_postfix_str(spec.name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            res = run_spec(spec, evidence, cache=cache)
        figs = figures_for(res)
        sens = None
        if sensitivity:
            sens = run_sensitivity(spec, evidence=evidence, cache=cache)
            what = "the headline contrasts" if spec.kind == "network" else "the pooled HR"
            figs["sensitivity"] = png(plot_sensitivity(sens.table, title=f"{spec.name}: sensitivity of {what}"))
        sections.append(Section(spec, res, figures=figs, paragraph=paragraph(res), cross_check=exact_cross_check(res),
                                sensitivity=sens, extra_tables=extra_tables(res)))
    return sections

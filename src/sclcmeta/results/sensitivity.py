"""The result of a sensitivity run: the pooled effect under every prior set and evidence choice."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True, repr=False)
class SensitivityResult:
    """Pooled-effect summaries under every setting, plus power-scaling diagnostics."""

    spec: object
    table: pd.DataFrame
    psens: pd.DataFrame
    #: MCMC model shapes this run had to set up (leave-one-out adds one); 0 for the exact solver
    new_shapes: int = 0
    seconds: float = 0.0
    notes: tuple[str, ...] = ()

    def __repr__(self) -> str:
        cols = ["setting", "kind", "hr_median", "hr_q2.5", "hr_q97.5", "prob_hr_below_1", "prob_hr_below_0.8",
                "tau_median", "gate"]
        if "comparison" in self.table:              # a network: several headline contrasts per setting
            cols = ["setting", "comparison"] + cols[1:] + (["top_ranked"] if "top_ranked" in self.table else [])
        t = self.table[cols].to_string(index=False, float_format=lambda x: f"{x:.3f}")
        ps = self.psens.to_string(index=False, float_format=lambda x: f"{x:.3f}") if len(self.psens) else "n/a"
        return (f"<Sensitivity of {self.spec.name}: {len(self.table)} settings, {self.new_shapes} new model shape(s), "
                f"{self.seconds:.1f} s>\n{t}\n\nPower-scaling sensitivity (> 0.05 = sensitive):\n{ps}")

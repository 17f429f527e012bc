"""Results stage: one immutable result type per analysis kind, read by every output (tables, plots, report)."""

from .absolute import absolute_effects, absolute_table
from .base import SUMMARY_COLUMNS, DrawsMarginal, FitResult, Quantity
from .certainty import certainty_table

__all__ = ["SUMMARY_COLUMNS", "DrawsMarginal", "FitResult", "Quantity", "absolute_effects", "absolute_table",
           "certainty_table"]

"""Results stage: one immutable result type per analysis kind, read by every output (tables, plots, report)."""

from .base import SUMMARY_COLUMNS, DrawsMarginal, FitResult, Quantity

__all__ = ["SUMMARY_COLUMNS", "DrawsMarginal", "FitResult", "Quantity"]

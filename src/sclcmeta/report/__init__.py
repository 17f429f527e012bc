"""Report stage: run every analysis, render narrative, tables and figures, write the folder atomically."""

from .build import QUESTIONS, Section, build_report, plain_language, run_all

__all__ = ["QUESTIONS", "Section", "build_report", "plain_language", "run_all"]

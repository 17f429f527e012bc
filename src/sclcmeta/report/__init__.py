"""Report stage: run every analysis, narrative text, tables, figures, rendering, atomic write.

``run`` (orchestration) -> ``narrative`` / ``tables`` / ``figures`` (per result type) -> ``answers`` /
``statements`` (the answer table and its sentences), ``display`` (readable tables), ``explorer`` (the live prior
explorer, ``static/explorer.js``), ``glossary`` -> ``build`` (page and folder) -> ``atomic`` (the user-file-safe
output folder).
"""

from .build import build_report
from .narrative import paragraph
from .run import Section, run_all

__all__ = ["Section", "build_report", "paragraph", "run_all"]

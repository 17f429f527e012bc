"""Plots stage: figures drawn from result objects (never from CSVs). Each function returns a Figure.

Every forest-like figure is drawn by the one :func:`forest` from a list of :class:`ForestRow`."""

import matplotlib

matplotlib.use("Agg") if matplotlib.get_backend().lower() in ("", "agg") else None

from .forest import ForestRow, forest  # noqa: E402
from .moderators import plot_moderator_forest  # noqa: E402
from .multiverse import plot_specification_curve  # noqa: E402
from .network import plot_contrasts, plot_network, plot_rankogram  # noqa: E402
from .pairwise import hr_axis, plot_density, plot_forest, plot_prior_posterior, plot_sensitivity  # noqa: E402

__all__ = ["ForestRow", "forest", "hr_axis", "plot_contrasts", "plot_density", "plot_forest", "plot_moderator_forest",
           "plot_network", "plot_prior_posterior", "plot_rankogram", "plot_sensitivity", "plot_specification_curve"]

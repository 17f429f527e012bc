"""Plots stage: figures drawn from result objects (never from CSVs). Each function returns a Figure."""

import matplotlib

matplotlib.use("Agg") if matplotlib.get_backend().lower() in ("", "agg") else None

from .moderators import plot_moderator_forest  # noqa: E402
from .network import plot_contrasts, plot_network, plot_rankogram  # noqa: E402
from .pairwise import hr_axis, plot_density, plot_forest, plot_prior_posterior, plot_sensitivity  # noqa: E402

__all__ = ["hr_axis", "plot_contrasts", "plot_density", "plot_forest", "plot_moderator_forest", "plot_network",
           "plot_prior_posterior", "plot_rankogram", "plot_sensitivity"]

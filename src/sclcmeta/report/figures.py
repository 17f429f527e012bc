"""The report's figures of each result type, rendered to PNG bytes (singledispatch)."""

from __future__ import annotations

import io
from functools import singledispatch

from ..plots import (plot_contrasts, plot_density, plot_forest, plot_moderator_forest, plot_network,
                     plot_prior_posterior, plot_rankogram)
from ..results import FitResult
from ..results.moderators import ModeratorResult
from ..results.network import NetworkResult


def png(fig) -> bytes:
    """A matplotlib figure as PNG bytes (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


@singledispatch
def figures_for(res: FitResult) -> dict[str, bytes]:
    """Forest, density and prior-vs-posterior of a pairwise fit."""
    figs = {"forest": png(plot_forest(res, title=f"{res.name}: {res.comparison} ({res.outcome})")),
            "density": png(plot_density(res))}
    if "mu" in res.model.coef_names:
        figs["prior_posterior"] = png(plot_prior_posterior(res))
    return figs


@figures_for.register
def _(res: NetworkResult) -> dict[str, bytes]:
    return {"network": png(plot_network(res)), "contrasts": png(plot_contrasts(res)),
            "rankogram": png(plot_rankogram(res))}


@figures_for.register
def _(res: ModeratorResult) -> dict[str, bytes]:
    figs = {"forest": png(plot_moderator_forest(res)), "density": png(plot_density(res, quantity=res.primary))}
    if res.kind != "ecological":
        figs["prior_posterior"] = png(plot_prior_posterior(res))
    return figs

"""The report's figures of each result type, rendered to PNG bytes (singledispatch)."""

from __future__ import annotations

import io
from functools import singledispatch

from ..plots import (plot_contrasts, plot_density, plot_forest, plot_moderator_forest, plot_network,
                     plot_prior_posterior, plot_rankogram)
from ..results import FitResult
from ..results.moderators import ModeratorResult
from ..results.network import NetworkResult


#: Resolution and palette of the report's figures: 90 dpi still shows 8-point text legibly at the page's width,
#: and a 32-colour adaptive palette (line art has few colours) makes a PNG about a third the size of full
#: colour, which keeps the self-contained report.html (78 figures) under 2 MB.
DPI = 90
COLOURS = 32


def png(fig) -> bytes:
    """A matplotlib figure as a palette PNG at :data:`DPI` (the figure is closed)."""
    import matplotlib.pyplot as plt
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    im = Image.open(io.BytesIO(buf.getvalue())).convert("RGB")
    out = io.BytesIO()
    im.quantize(colors=COLOURS, method=Image.Quantize.MEDIANCUT).save(out, format="PNG", optimize=True)
    return out.getvalue()


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

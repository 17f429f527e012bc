"""Model engine: the Gaussian model family, its exact solver and its PyMC builder."""

from .exact import ExactPosterior, GridMarginal, Mixture, solve_exact
from .gaussian import Component, GaussianModel

__all__ = ["Component", "ExactPosterior", "GaussianModel", "GridMarginal", "Mixture", "solve_exact"]

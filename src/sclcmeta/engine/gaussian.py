"""The one model family: a Gaussian linear model on log HR with variance components.

    y ~ N(X b, S + sum_j sigma_j^2 K_j)

* ``y`` (k,) log hazard ratios; ``S`` (k, k) their sampling covariance (diagonal ``se^2`` for
  independent estimates; blocks for multi-arm or shared-patient contrasts);
* ``X`` (k, p) the design: intercept ``mu`` (pooled effect), study covariates ``beta``, a
  randomized-vs-observational ``bias`` term, or network basic parameters ``d``;
* ``K_j`` fixed structure matrices of the variance components: ``I`` for ordinary random effects
  (``tau``), ``Z Z'`` for a cohort effect shared by nested subgroups, the 1/2-correlation blocks of
  multi-arm network trials, ``X_drug X_drug'`` for exchangeable class effects.

Marginalizing the study-level random effects keeps both solvers small: the exact solver
integrates the 1-3 variance parameters numerically and treats ``b`` in closed form; the MCMC
model samples ``b`` and the variance parameters only, and the shrunken study effects are drawn
from their exact conditional distribution afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import SpecError


def _is_diagonal(m: np.ndarray) -> bool:
    """True when the square matrix ``m`` has no non-zero entry off its diagonal (no k x k temporary)."""
    m = np.asarray(m)
    return int(np.count_nonzero(m)) == int(np.count_nonzero(np.diagonal(m)))


@dataclass(frozen=True)
class Component:
    """A variance component ``sigma^2 K`` with its prior role (``tau``, ``omega``, ``class_sd``)."""

    name: str
    K: np.ndarray
    prior_role: str = "tau"
    #: variance a new study's effect gets from this component (1 for tau, 0 for a class SD already in b)
    predictive_weight: float = 1.0


@dataclass(frozen=True)
class GaussianModel:
    """Data and structure of one analysis on the log scale (see module docstring).

    ``coef_roles[j]`` names the prior group of column ``j`` of ``X`` (``effect``, ``beta``,
    ``bias``); ``coef_names`` label the columns (``mu``, covariate names, ``d[B vs A]``...).
    """

    y: np.ndarray
    S: np.ndarray
    X: np.ndarray
    coef_names: tuple[str, ...]
    coef_roles: tuple[str, ...]
    components: tuple[Component, ...] = ()
    studies: tuple[str, ...] = ()
    kind: str = "random_effects"
    #: covariate row of a "new study" for the predictive distribution (defaults to intercept only)
    x_new: np.ndarray | None = None
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self):
        k = len(self.y)
        y = np.asarray(self.y, float)
        S = np.asarray(self.S, float)
        X = np.asarray(self.X, float).reshape(k, -1)
        if S.shape != (k, k):
            raise SpecError(f"sampling covariance must be {k}x{k}; got {S.shape}.")
        diagonal = all(_is_diagonal(m) for m in [S] + [np.asarray(c.K) for c in self.components])
        # a diagonal S is positive definite when its diagonal is; only a dense one needs a factorization
        if (np.any(np.diag(S) <= 0) if _is_diagonal(S) else
                (not np.allclose(S, S.T) or np.any(np.linalg.eigvalsh(S) <= 0))):
            raise SpecError("the sampling covariance of the estimates is not positive definite; check SEs and "
                            "the shared-arm covariances of multi-arm studies.")
        if len(self.coef_names) != X.shape[1] or len(self.coef_roles) != X.shape[1]:
            raise SpecError("coef_names/coef_roles must label every column of X.")
        if X.shape[1] and np.linalg.matrix_rank(X) < X.shape[1]:
            raise SpecError(f"the design is not identifiable: columns {', '.join(self.coef_names)} of the "
                            f"{k} estimates are collinear (too few studies for the covariates, or a treatment "
                            "disconnected from the network).")
        object.__setattr__(self, "_diagonal", diagonal)
        # diagonals of S and of every K_j, read by the solvers of diagonal models (vectors of length k)
        object.__setattr__(self, "_s2", np.diag(S).copy())
        object.__setattr__(self, "_kdiag", tuple(np.diag(np.asarray(c.K, float)).copy() for c in self.components))
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "S", S)
        object.__setattr__(self, "X", X)
        if not self.studies:
            object.__setattr__(self, "studies", tuple(f"study {i + 1}" for i in range(k)))
        if self.x_new is None:
            xn = np.zeros(X.shape[1])
            if X.shape[1]:
                xn[0] = 1.0
            object.__setattr__(self, "x_new", xn)

    @property
    def k(self) -> int:
        return len(self.y)

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def diagonal(self) -> bool:
        """True when S and every K_j are diagonal (independent estimates, ordinary random effects).

        Decided once at construction; the solvers then work with the diagonals only (vectors of length
        ``k``), so no ``(k, k)`` algebra is done per grid node or per draw.
        """
        return self._diagonal

    @property
    def s2(self) -> np.ndarray:
        """Sampling variances (the diagonal of ``S``)."""
        return self._s2

    @property
    def component_diagonals(self) -> tuple[np.ndarray, ...]:
        """The diagonal of every ``K_j`` (all a diagonal model's solvers need of them)."""
        return self._kdiag

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(self._s2)

    def heterogeneity_variance(self, sig: np.ndarray, columns=slice(None)) -> np.ndarray:
        """``sum_j sig[:, j]^2 K_j`` at every row of ``sig`` (one value per variance component): the diagonals
        (G, k) of a diagonal model (``columns`` picks the studies), the matrices (G, k, k) otherwise."""
        sig = np.asarray(sig, float)
        if self.diagonal:
            out = np.zeros((sig.shape[0], len(np.arange(self.k)[columns])))
            for j, dj in enumerate(self._kdiag):
                out += (sig[:, j] ** 2)[:, None] * dj[columns][None, :]
            return out
        out = np.zeros((sig.shape[0], self.k, self.k))
        for j, c in enumerate(self.components):
            out += (sig[:, j] ** 2)[:, None, None] * c.K[None]
        return out

    def with_sampling_variance_scaled(self, mask, factor: float) -> "GaussianModel":
        """A copy whose estimates in ``mask`` have their sampling covariance multiplied by ``factor``."""
        from dataclasses import replace

        mask = np.asarray(mask, bool)
        S = self.S.copy()
        S[np.ix_(mask, mask)] *= factor
        return replace(self, S=S)

    def structure_key(self) -> tuple:
        """What a compiled MCMC model depends on (shapes and structure, not values or priors)."""
        return (self.kind, self.k, self.p, self.coef_roles, tuple(c.name for c in self.components),
                self.diagonal)

    @classmethod
    def random_effects(cls, y, se, studies=None, *, fixed: bool = False) -> "GaussianModel":
        """Normal-normal hierarchical model (``fixed=True``: common effect, tau = 0)."""
        y = np.asarray(y, float)
        k = len(y)
        comps = () if fixed else (Component("tau", np.eye(k), "tau"),)
        return cls(y=y, S=np.diag(np.asarray(se, float) ** 2), X=np.ones((k, 1)), coef_names=("mu",),
                   coef_roles=("effect",), components=comps, studies=tuple(studies or ()),
                   kind="fixed_effect" if fixed else "random_effects")

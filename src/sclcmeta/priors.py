"""Priors as data: small, printable, comparable value objects and named prior sets.

A :class:`Prior` is a family name plus hyperparameters. Models read priors only through the
numbers returned by :meth:`Prior.encode`, which the PyMC graph holds as data and the nutpie log
density reads from its buffer, so swapping any prior (family included, within the effect or the
heterogeneity group) never rebuilds or recompiles a model. The exact solver reads the same objects through :meth:`Prior.logpdf`.

Families
--------
effects (``mu``, regression coefficients, network basic parameters)
    ``normal(mean, sd)``, ``student_t(mean, scale, df)``
heterogeneity (``tau``, between-study SD on the log-HR scale)
    ``half_normal(scale)``, ``half_cauchy(scale)``, ``uniform(lower, upper)``,
    ``log_normal(mu, sigma)`` (Turner-type: ``log(tau^2) ~ N(mu, sigma^2)``), ``exponential(rate)``

Examples
--------
>>> p = parse_prior("half_normal(0.5)")
>>> p
half_normal(scale=0.5)
>>> round(p.quantile(0.5), 4)
0.3372
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
from scipy import stats

from .errors import PriorError

#: family -> (group, ordered parameter names, defaults)
FAMILIES: dict[str, tuple[str, tuple[str, ...], dict[str, float]]] = {
    "normal": ("effect", ("mean", "sd"), {"mean": 0.0}),
    "student_t": ("effect", ("mean", "scale", "df"), {"mean": 0.0, "df": 3.0}),
    "half_normal": ("scale", ("scale",), {}),
    "half_cauchy": ("scale", ("scale",), {}),
    "uniform": ("scale", ("lower", "upper"), {"lower": 0.0}),
    "log_normal": ("scale", ("mu", "sigma"), {}),
    "exponential": ("scale", ("rate",), {}),
}
#: numeric code of each family inside the PyMC graph (the switch reads it as data)
FAMILY_CODE = {"normal": 0, "student_t": 1, "half_normal": 0, "half_cauchy": 1, "uniform": 2,
               "log_normal": 3, "exponential": 4}
#: parameter slots of the encoded vector ``[code, p1, p2, p3]``
N_SLOTS = 4


@dataclass(frozen=True)
class Prior:
    """A prior distribution: ``family`` and its hyperparameters (``params``, name -> value)."""

    family: str
    params: tuple[tuple[str, float], ...] = field(default=())

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise PriorError(f"unknown prior family {self.family!r}; valid families: {', '.join(FAMILIES)}.")
        _, names, defaults = FAMILIES[self.family]
        given = dict(self.params)
        unknown = [k for k in given if k not in names]
        if unknown:
            raise PriorError(f"{self.family}() has no parameter {unknown[0]!r}; its parameters are {', '.join(names)}.")
        full = {**defaults, **given}
        missing = [n for n in names if n not in full]
        if missing:
            raise PriorError(f"{self.family}() needs {', '.join(missing)}; e.g. {self.family}({', '.join(names)}).")
        for n in names:
            v = full[n]
            if not isinstance(v, (int, float)) or not math.isfinite(v):
                raise PriorError(f"{self.family}(): {n} must be a finite number; got {v!r}.")
        positive = {"sd", "scale", "df", "sigma", "rate", "upper"}
        for n in names:
            if n in positive and full[n] <= 0:
                raise PriorError(f"{self.family}(): {n} must be positive; got {full[n]!r}.")
        if self.family == "uniform" and not 0 <= full["lower"] < full["upper"]:
            raise PriorError(f"uniform(): need 0 <= lower < upper for a heterogeneity prior; got "
                             f"({full['lower']}, {full['upper']}).")
        object.__setattr__(self, "params", tuple((n, float(full[n])) for n in names))

    # -- presentation -------------------------------------------------------------------------
    def __repr__(self) -> str:
        return f"{self.family}({', '.join(f'{k}={v:g}' for k, v in self.params)})"

    __str__ = __repr__

    @property
    def group(self) -> str:
        """``"effect"`` (real line) or ``"scale"`` (heterogeneity, positive)."""
        return FAMILIES[self.family][0]

    def __getitem__(self, name: str) -> float:
        return dict(self.params)[name]

    # -- numbers for the model graph ------------------------------------------------------------
    def encode(self) -> np.ndarray:
        """``[family_code, p1, p2, p3]``: what the PyMC graph holds as data."""
        vals = [float(FAMILY_CODE[self.family])] + [v for _, v in self.params]
        vals += [1.0] * (N_SLOTS - len(vals))
        return np.asarray(vals, dtype=float)

    # -- scipy view (exact solver, prior draws, plots) -------------------------------------------
    def _dist(self):
        p = dict(self.params)
        f = self.family
        if f == "normal":
            return stats.norm(p["mean"], p["sd"])
        if f == "student_t":
            return stats.t(p["df"], p["mean"], p["scale"])
        if f == "half_normal":
            return stats.halfnorm(scale=p["scale"])
        if f == "half_cauchy":
            return stats.halfcauchy(scale=p["scale"])
        if f == "uniform":
            return stats.uniform(p["lower"], p["upper"] - p["lower"])
        if f == "exponential":
            return stats.expon(scale=1.0 / p["rate"])
        raise AssertionError(f)  # log_normal handled separately

    def logpdf(self, x) -> np.ndarray:
        """Log density at ``x`` (for scale priors, the density of tau, not tau^2)."""
        x = np.asarray(x, float)
        if self.family == "log_normal":
            p = dict(self.params)
            with np.errstate(divide="ignore", invalid="ignore"):
                lt2 = np.log(x**2)
                # tau^2 ~ LN(mu, sigma): density of tau = density(tau^2) * 2 tau
                out = stats.norm.logpdf(lt2, p["mu"], p["sigma"]) - lt2 + np.log(2 * x)
            return np.where(x > 0, out, -np.inf)
        return self._dist().logpdf(x)

    def cdf(self, x) -> np.ndarray:
        x = np.asarray(x, float)
        if self.family == "log_normal":
            p = dict(self.params)
            with np.errstate(divide="ignore"):
                return np.where(x > 0, stats.norm.cdf(np.log(np.maximum(x, 1e-300) ** 2), p["mu"], p["sigma"]), 0.0)
        return self._dist().cdf(x)

    def quantile(self, q) -> np.ndarray:
        q = np.asarray(q, float)
        if self.family == "log_normal":
            p = dict(self.params)
            return np.exp(0.5 * stats.norm.ppf(q, p["mu"], p["sigma"]))
        out = self._dist().ppf(q)
        return float(out) if out.ndim == 0 else out

    def rvs(self, size, rng: np.random.Generator) -> np.ndarray:
        """Draws from the prior (used for the InferenceData ``prior`` group)."""
        return np.asarray(self.quantile(rng.uniform(size=size)), float)


# --------------------------------------------------------------------------------------------
_CALL = re.compile(r"^\s*([a-z_]+)\s*\((.*)\)\s*$")


def parse_prior(text: str | Mapping | Prior, *, where: str = "prior") -> Prior:
    """Parse ``"half_normal(0.5)"``, ``"normal(0, 10)"``, ``"student_t(mean=0, scale=1, df=3)"``,
    or a TOML table ``{family = "normal", mean = 0, sd = 10}``.
    """
    if isinstance(text, Prior):
        return text
    try:
        if isinstance(text, Mapping):
            d = dict(text)
            fam = d.pop("family", None)
            if fam is None:
                raise PriorError("missing 'family'")
            return Prior(str(fam), tuple((k, v) for k, v in d.items()))
        m = _CALL.match(str(text))
        if not m:
            raise PriorError(f"cannot read {text!r}; write e.g. half_normal(0.5) or normal(0, 10)")
        fam, args = m.group(1), m.group(2).strip()
        if fam not in FAMILIES:
            raise PriorError(f"unknown prior family {fam!r}; valid families: {', '.join(FAMILIES)}")
        names = FAMILIES[fam][1]
        params: dict[str, float] = {}
        parts = [a.strip() for a in args.split(",") if a.strip()] if args else []
        positional = [a for a in parts if "=" not in a]
        keyword = [a for a in parts if "=" in a]
        # all values given: in declared order; fewer: the common short forms
        # normal(sd), student_t(mean, scale), uniform(upper); one-parameter families trivially
        order = list(names)
        if len(positional) < len(names):
            order = {("normal", 1): ["sd"], ("student_t", 2): ["mean", "scale"],
                     ("uniform", 1): ["upper"]}.get((fam, len(positional)), order)
        if len(positional) > len(names):
            raise PriorError(f"{fam}() takes at most {len(names)} values ({', '.join(names)}); got {args!r}")
        for n, a in zip(order, positional):
            params[n] = float(a)
        for a in keyword:
            k, _, v = a.partition("=")
            params[k.strip()] = float(v)
        return Prior(fam, tuple(params.items()))
    except PriorError as exc:
        raise PriorError(f"{where}: {exc}") from None
    except ValueError as exc:
        raise PriorError(f"{where}: cannot read {text!r} ({exc}); hyperparameters must be numbers.") from None


#: The parameters a prior set may name.
PRIOR_TARGETS = ("effect", "tau", "beta", "omega", "bias", "class_sd")


@dataclass(frozen=True)
class PriorSet:
    """A named set of priors, one per model parameter group.

    ``effect``: pooled effect / basic parameters; ``tau``: between-cohort SD; ``beta``: regression
    coefficients; ``omega``: within-cohort SD (nested models); ``bias``: observational-design shift;
    ``class_sd``: within-class SD of a network class model.
    """

    name: str
    effect: Prior
    tau: Prior
    beta: Prior
    omega: Prior
    bias: Prior
    class_sd: Prior
    description: str = ""
    source: str = ""

    def __repr__(self) -> str:
        return (f"PriorSet({self.name!r}: effect={self.effect}, tau={self.tau}, beta={self.beta}, "
                f"omega={self.omega}, bias={self.bias}, class_sd={self.class_sd})")

    def replace(self, **priors: Prior | str) -> "PriorSet":
        """A copy with some priors swapped: ``ps.replace(tau="half_cauchy(0.5)")``."""
        unknown = [k for k in priors if k not in PRIOR_TARGETS and k not in ("name", "description")]
        if unknown:
            raise PriorError(f"no prior named {unknown[0]!r}; valid names: {', '.join(PRIOR_TARGETS)}.")
        kw = {k: (parse_prior(v, where=k) if k in PRIOR_TARGETS else v) for k, v in priors.items()}
        for k, v in kw.items():
            if k in PRIOR_TARGETS:
                _check_group(k, v, "replace()")
        d = {f: getattr(self, f) for f in ("name", "effect", "tau", "beta", "omega", "bias", "class_sd",
                                            "description", "source")}
        d.update(kw)
        if "name" not in priors:
            d["name"] = self.name + "+" + ",".join(f"{k}={v}" for k, v in kw.items() if k in PRIOR_TARGETS)
        return PriorSet(**d)

    def as_dict(self) -> dict[str, Prior]:
        return {k: getattr(self, k) for k in PRIOR_TARGETS}


_GROUP_OF = {"effect": "effect", "beta": "effect", "bias": "effect", "tau": "scale", "omega": "scale",
             "class_sd": "scale"}


def _check_group(name: str, prior: Prior, where: str) -> None:
    want = _GROUP_OF[name]
    if prior.group != want:
        fams = [f for f, (g, _, _) in FAMILIES.items() if g == want]
        raise PriorError(f"{where}: {name} needs a {'real-line' if want == 'effect' else 'positive (scale)'} "
                         f"prior; got {prior}. Use one of {', '.join(fams)}.")


def load_prior_set(path: str | Path) -> PriorSet:
    """Read a prior set from TOML (``models/priors/*.toml``); unknown keys are errors."""
    from .paths import models_dir

    p = Path(path)
    if not p.exists() and not p.suffix:
        p = models_dir() / "priors" / f"{path}.toml"
    if not p.exists():
        avail = ", ".join(sorted(x.stem for x in (models_dir() / "priors").glob("*.toml")))
        raise PriorError(f"prior set {str(path)!r} not found; bundled prior sets: {avail}.")
    try:
        doc = tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise PriorError(f"{p}: not valid TOML ({exc}).") from None
    allowed = {"name", "description", "source", "priors"}
    extra = set(doc) - allowed
    if extra:
        raise PriorError(f"{p}: unknown key(s) {', '.join(sorted(extra))}; allowed: {', '.join(sorted(allowed))}.")
    pri = doc.get("priors", {})
    extra = set(pri) - set(PRIOR_TARGETS)
    if extra:
        raise PriorError(f"{p}: [priors] has unknown key(s) {', '.join(sorted(extra))}; "
                         f"valid names: {', '.join(PRIOR_TARGETS)}.")
    base = default_prior_set()
    kw = {}
    for k in PRIOR_TARGETS:
        if k in pri:
            kw[k] = parse_prior(pri[k], where=f"{p} [priors] {k}")
            _check_group(k, kw[k], f"{p} [priors] {k}")
        else:
            kw[k] = getattr(base, k)
    return PriorSet(name=doc.get("name", p.stem), description=doc.get("description", ""),
                    source=doc.get("source", ""), **kw)


def default_prior_set() -> PriorSet:
    """The package default, identical to ``models/priors/default.toml`` (tested to agree)."""
    return PriorSet(
        name="default",
        effect=Prior("normal", (("mean", 0.0), ("sd", 2.0))),
        tau=Prior("half_normal", (("scale", 0.5),)),
        beta=Prior("normal", (("mean", 0.0), ("sd", 1.0))),
        omega=Prior("half_normal", (("scale", 0.25),)),
        bias=Prior("normal", (("mean", 0.0), ("sd", 0.5))),
        class_sd=Prior("half_normal", (("scale", 0.25),)),
        description="Weakly informative default.",
    )


def list_prior_sets() -> list[PriorSet]:
    """Every bundled prior set in ``models/priors/``, default first."""
    from .paths import models_dir

    sets = [load_prior_set(p) for p in sorted((models_dir() / "priors").glob("*.toml"))]
    return sorted(sets, key=lambda s: (s.name != "default", s.name))

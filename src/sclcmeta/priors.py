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
exact solver only (bayesmeta's options; Röver 2020, J Stat Softw 93(6))
    ``flat()``: the improper uniform prior, on the real line for an effect and on [0, inf) for tau;
    ``jeffreys()``: bayesmeta's Jeffreys (reference) prior for tau, ``p(tau) ∝ sqrt(sum_i (tau / (s_i^2 +
    tau^2))^2)``, which depends on the studies' SEs; ``fixed(value)`` (or just the number, ``tau = 0.3``):
    tau held at a value, a fit conditional on it. Improper priors are used only where the posterior is
    proper (checked: :func:`sclcmeta.engine.reference_priors.check_propriety`); MCMC refuses all three.

Examples
--------
>>> p = parse_prior("half_normal(0.5)")
>>> p
half_normal(scale=0.5)
>>> round(p.quantile(0.5), 4)
0.3372
"""

from __future__ import annotations

import functools
import math
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Mapping

import numpy as np
from scipy import special
from pydantic import (BaseModel, ConfigDict, PlainValidator, StrictStr, ValidationError, ValidationInfo,
                      field_validator)
from pydantic_core import PydanticCustomError

from .files import read_toml
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
    "flat": ("any", (), {}),
    "jeffreys": ("scale", (), {}),
    "fixed": ("scale", ("value",), {}),
}
#: Families only the exact solver handles (improper, data-dependent, or a point mass).
EXACT_ONLY = ("flat", "jeffreys", "fixed")
#: Improper families (no normalising constant; no prior draws).
IMPROPER = ("flat", "jeffreys")
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
        if self.family == "fixed" and full["value"] < 0:
            raise PriorError(f"fixed(): a heterogeneity SD is >= 0; got {full['value']!r}.")
        if self.family == "uniform" and not 0 <= full["lower"] < full["upper"]:
            raise PriorError(f"uniform(): need 0 <= lower < upper for a heterogeneity prior; got "
                             f"({full['lower']}, {full['upper']}).")
        object.__setattr__(self, "params", tuple((n, float(full[n])) for n in names))

    # -- presentation -------------------------------------------------------------------------
    def __repr__(self) -> str:
        return self._text

    @functools.cached_property
    def _text(self) -> str:
        return f"{self.family}({', '.join(f'{k}={v:g}' for k, v in self.params)})"

    __str__ = __repr__

    @property
    def group(self) -> str:
        """``"effect"`` (real line), ``"scale"`` (heterogeneity, positive) or ``"any"`` (``flat``)."""
        return FAMILIES[self.family][0]

    @property
    def proper(self) -> bool:
        """False for the improper ``flat`` and ``jeffreys`` priors."""
        return self.family not in IMPROPER

    def __getitem__(self, name: str) -> float:
        return dict(self.params)[name]

    # -- numbers for the model graph ------------------------------------------------------------
    def encode(self) -> np.ndarray:
        """``[family_code, p1, p2, p3]``: what the PyMC graph holds as data."""
        if self.family in EXACT_ONLY:
            raise PriorError(f"{self} is handled by the exact solver only; use method = 'exact'.")
        vals = [float(FAMILY_CODE[self.family])] + [v for _, v in self.params]
        vals += [1.0] * (N_SLOTS - len(vals))
        return np.asarray(vals, dtype=float)

    # -- scipy view (exact solver, prior draws, plots) -------------------------------------------
    def _dist(self):
        """The scipy frozen distribution of this prior (built once per family and parameters)."""
        return _frozen(self.family, self.params)

    def logpdf(self, x) -> np.ndarray:
        """Log density at ``x`` (for scale priors, the density of tau, not tau^2)."""
        x = np.asarray(x, float)
        if self.family in EXACT_ONLY:
            return self._logpdf_special(x)
        return log_density(self.family, dict(self.params), x)

    def _logpdf_special(self, x: np.ndarray) -> np.ndarray:
        """``flat``: 0 (an unnormalised constant; 0 below 0 for a scale); ``fixed``: 0 at the value, -inf
        elsewhere; ``jeffreys``: NaN here, because it depends on the studies' SEs
        (:func:`sclcmeta.engine.reference_priors.variance_logprior` evaluates it for a model)."""
        if self.family == "flat":
            return np.zeros(x.shape)
        if self.family == "fixed":
            return np.where(np.isclose(x, self["value"], rtol=1e-12, atol=1e-15), 0.0, -np.inf)
        return np.full(x.shape, np.nan)

    def cdf(self, x) -> np.ndarray:
        x = np.asarray(x, float)
        if self.family == "fixed":
            return np.where(x >= self["value"], 1.0, 0.0)
        if not self.proper:
            return np.full(x.shape, np.nan)
        if self.family == "log_normal":
            p = dict(self.params)
            with np.errstate(divide="ignore"):
                return np.where(x > 0, _stats().norm.cdf(np.log(np.maximum(x, 1e-300) ** 2), p["mu"], p["sigma"]), 0.0)
        return self._dist().cdf(x)

    def quantile(self, q) -> np.ndarray:
        q = np.asarray(q, float)
        if self.family == "fixed":
            return float(self["value"]) if q.ndim == 0 else np.full(q.shape, self["value"])
        if not self.proper:   # an improper prior has no quantiles (and no draws)
            return float("nan") if q.ndim == 0 else np.full(q.shape, np.nan)
        if self.family == "log_normal":
            p = dict(self.params)
            return np.exp(0.5 * _stats().norm.ppf(q, p["mu"], p["sigma"]))
        out = self._dist().ppf(q)
        return float(out) if out.ndim == 0 else out

    def rvs(self, size, rng: np.random.Generator) -> np.ndarray:
        """Draws from the prior (used for the InferenceData ``prior`` group)."""
        return np.asarray(self.quantile(rng.uniform(size=size)), float)


_LOG_2PI = math.log(2.0 * math.pi)


def log_density(family: str, params: Mapping, x) -> np.ndarray:
    """Log density of a proper prior family at ``x``, in closed form (equal to scipy.stats', tested).

    ``params`` maps each hyperparameter to a number or an array broadcasting against ``x`` (the prior
    sweep passes one row per setting). Scale families are densities of the SD: 0 outside their support
    (``log_normal`` puts the log-normal on the variance, ``tau^2 ~ LN(mu, sigma)``).
    """
    x = np.asarray(x, float)
    p = params
    with np.errstate(divide="ignore", invalid="ignore"):
        if family == "normal":
            return -0.5 * ((x - p["mean"]) / p["sd"]) ** 2 - np.log(p["sd"]) - 0.5 * _LOG_2PI
        if family == "student_t":
            df = np.asarray(p["df"], float)
            return (special.gammaln(0.5 * (df + 1)) - special.gammaln(0.5 * df) - 0.5 * np.log(df * math.pi)
                    - np.log(p["scale"]) - 0.5 * (df + 1) * np.log1p(((x - p["mean"]) / p["scale"]) ** 2 / df))
        if family == "half_normal":
            s = p["scale"]
            out = 0.5 * math.log(2.0 / math.pi) - np.log(s) - 0.5 * (x / s) ** 2
        elif family == "half_cauchy":
            s = p["scale"]
            out = math.log(2.0 / math.pi) - np.log(s) - np.log1p((x / s) ** 2)
        elif family == "exponential":
            r = p["rate"]
            out = np.log(r) - r * x
        elif family == "uniform":
            lo, hi = p["lower"], p["upper"]
            return np.where((x >= lo) & (x <= hi), -np.log(np.asarray(hi, float) - lo), -np.inf)
        elif family == "log_normal":
            mu, sg = p["mu"], p["sigma"]
            lt2 = np.log(x * x)
            # density of tau = density of tau^2 (log-normal) * 2 tau
            out = -0.5 * ((lt2 - mu) / sg) ** 2 - np.log(sg) - 0.5 * _LOG_2PI - lt2 + np.log(2 * x)
            return np.where(x > 0, out, -np.inf)
        else:
            raise PriorError(f"{family}() has no closed-form density here (improper, data-dependent or a point mass).")
    return np.where(x >= 0, out, -np.inf)


def _stats():
    """scipy.stats, imported on first use (it costs ~0.4 s, and the command line's exact fit never needs it)."""
    from scipy import stats

    return stats


@functools.lru_cache(maxsize=4096)
def _frozen(f: str, params: tuple[tuple[str, float], ...]):
    """scipy frozen distribution of ``f(params)``, cached: building one costs ~50 us, and the exact
    solver, prior draws and plots ask for the same few priors thousands of times."""
    stats = _stats()
    p = dict(params)
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


# --------------------------------------------------------------------------------------------
_CALL = re.compile(r"^\s*([a-z_]+)\s*\((.*)\)\s*$")


def parse_prior(text: str | Mapping | Prior, *, where: str = "prior") -> Prior:
    """Parse ``"half_normal(0.5)"``, ``"normal(0, 10)"``, ``"student_t(mean=0, scale=1, df=3)"``,
    or a TOML table ``{family = "normal", mean = 0, sd = 10}``.
    """
    if isinstance(text, Prior):
        return text
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        text = repr(float(text))
    if isinstance(text, str):
        return _parse_text(text, where)
    return _parse(text, where)


@functools.lru_cache(maxsize=4096)
def _parse_text_cached(text: str) -> Prior:
    return _parse(text, "prior")


def _parse_text(text: str, where: str) -> Prior:
    """Prior strings are parsed once (a prior sweep names the same few thousand strings over and over);
    an unreadable one is re-parsed with ``where`` so the error names the place."""
    try:
        return _parse_text_cached(text)
    except PriorError:
        return _parse(text, where)


def _parse(text, where: str) -> Prior:
    try:
        try:   # a bare number: a fixed value (tau = 0.3 fits conditional on tau = 0.3)
            value = float(str(text).strip())
        except ValueError:
            value = None
        if value is not None and not isinstance(text, Mapping):
            return Prior("fixed", (("value", value),))
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
        d = {f: getattr(self, f) for f in _SET_FIELDS}
        d.update(kw)
        if "name" not in priors:
            d["name"] = self.name + "+" + ",".join(f"{k}={v}" for k, v in kw.items() if k in PRIOR_TARGETS)
        return PriorSet(**d)

    def _overridden(self, priors: dict[str, Prior], name: str) -> "PriorSet":
        """:meth:`replace` for priors already parsed and checked for their targets (a prior sweep builds
        thousands of sets from a few distinct priors): the same set, built without re-validating."""
        new = object.__new__(PriorSet)
        d = new.__dict__
        d.update(zip(_SET_FIELDS, _get_fields(self.__dict__)))
        d.update(priors)
        d["name"] = name
        return new

    def as_dict(self) -> dict[str, Prior]:
        return {k: getattr(self, k) for k in PRIOR_TARGETS}


_SET_FIELDS = ("name", "effect", "tau", "beta", "omega", "bias", "class_sd", "description", "source")
_get_fields = operator.itemgetter(*_SET_FIELDS)

_GROUP_OF = {"effect": "effect", "beta": "effect", "bias": "effect", "tau": "scale", "omega": "scale",
             "class_sd": "scale"}


def _check_group(name: str, prior: Prior, where: str) -> None:
    want = _GROUP_OF[name]
    if prior.group != want and prior.group != "any":
        fams = [f for f, (g, _, _) in FAMILIES.items() if g in (want, "any")]
        raise PriorError(f"{where}: {name} needs a {'real-line' if want == 'effect' else 'positive (scale)'} "
                         f"prior; got {prior}. Use one of {', '.join(fams)}.")


# -- prior-set files and prior values read from TOML (typed models; shared with sclcmeta.spec) ---------

#: Largest magnitude a hyperparameter read from a file may have. On the log-HR scale anything near it is
#: already flat (normal(0, 10) spans HR 1e-9..1e9), so a larger number is a typo or a units mistake.
MAX_HYPERPARAMETER = 1e6


def _one(v) -> str:
    return " (one value in quotes, not a list)" if isinstance(v, list) else ""


def _type_name(v) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string", list: "a list",
            dict: "a table"}.get(type(v), type(v).__name__)


def _shown(v) -> str:
    r = ("true" if v else "false") if isinstance(v, bool) else repr(v)
    return r if len(r) <= 60 else r[:57] + "..."


def _prior_input(v):
    """A prior as TOML gives it: text ``"half_normal(0.5)"``, a table ``{family = "normal", sd = 1}``, or a number
    (``tau = 0.3``: tau fixed at 0.3)."""
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if isinstance(v, Mapping):
        bad = [k for k, x in v.items() if k != "family" and (isinstance(x, bool) or not isinstance(x, (int, float)))]
        if not isinstance(v.get("family"), str):
            raise PydanticCustomError("sclcmeta_prior_table", "a prior table needs family = \"<name>\" (text); got {got}; "
                                      "write e.g. { family = \"normal\", mean = 0, sd = 1 }.",
                                      {"got": _shown(v.get("family"))})
        if bad:
            raise PydanticCustomError("sclcmeta_prior_table", "hyperparameter {key} must be a number; got {got}; write e.g. {key} = 1.",
                                      {"key": bad[0], "got": _shown(v[bad[0]])})
        return dict(v)
    raise PydanticCustomError("sclcmeta_prior_type", "must be prior text in quotes, e.g. \"half_normal(0.5)\" or "
                              "\"normal(0, 1)\" (or a table { family = \"normal\", sd = 1 }); got {got} ({kind}).",
                              {"got": _shown(v), "kind": _type_name(v)})


#: A prior value in a TOML file (validated for shape; parsed by :func:`checked_prior`).
PriorValue = Annotated[object, PlainValidator(_prior_input)]


def checked_prior(value, name: str) -> Prior:
    """Parse a prior read from a file for target ``name``: family, finite and not absurdly large
    hyperparameters (|x| <= :data:`MAX_HYPERPARAMETER`), and the right group (real-line or scale).

    Raises :class:`PriorError` with a message that does not name the file (the caller adds it).
    """
    try:
        prior = parse_prior(value, where="")
    except PriorError as exc:
        raise PriorError(str(exc).removeprefix(": ")) from None
    for n, v in prior.params:
        if abs(v) > MAX_HYPERPARAMETER:
            raise PriorError(f"{prior.family}(): {n} = {v:g} is implausibly large (|value| > {MAX_HYPERPARAMETER:g}); "
                             f"use a value of at most {MAX_HYPERPARAMETER:g} (normal(0, 10) is already near-flat "
                             "on the log-HR scale).")
    try:
        _check_group(name, prior, "")
    except PriorError as exc:
        raise PriorError(str(exc).removeprefix(": ")) from None
    return prior


def _checked_field(v, info):
    if v is None:
        return v
    try:
        return checked_prior(v, info.field_name)
    except PriorError as exc:
        raise PydanticCustomError("sclcmeta_prior_value", "{msg}", {"msg": str(exc)}) from None


class PriorTargetsTable(BaseModel):
    """``[priors]`` of a prior-set file: one optional prior per target (parsed into :class:`Prior`)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    effect: PriorValue | None = None
    tau: PriorValue | None = None
    beta: PriorValue | None = None
    omega: PriorValue | None = None
    bias: PriorValue | None = None
    class_sd: PriorValue | None = None

    @field_validator(*PRIOR_TARGETS)
    @classmethod
    def _parse(cls, v, info: ValidationInfo):
        return _checked_field(v, info)


class PriorSetFile(BaseModel):
    """A prior-set file (``models/priors/*.toml``)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: StrictStr = ""
    description: StrictStr = ""
    source: StrictStr = ""
    priors: PriorTargetsTable = PriorTargetsTable()


def _joined(names) -> str:
    return ", ".join(str(n) for n in names)


def validation_problems(exc: ValidationError, models: Mapping[str, type[BaseModel]] | None = None,
                        override=None) -> list[str]:
    """One ``"[table.key] what is wrong; how to fix it"`` line per error of a TOML document's model.

    ``models`` maps a table name to its model (for the valid keys of an unknown-key error; ``""`` is the
    top level); ``override(error, keys, item)`` may word an error itself (return ``None`` to use the
    generic wording; ``keys`` are the table and key names of ``error["loc"]``, ``item`` e.g. ``" item 2"``). Shared by :func:`load_prior_set` and :func:`sclcmeta.spec.load_spec`.
    """
    models = models or {}
    out = []
    for e in exc.errors():
        loc = tuple(e["loc"])
        keys = [str(x) for x in loc if not isinstance(x, int)]
        items = [x for x in loc if isinstance(x, int)]
        path = ".".join(keys)
        item = f" item {items[0] + 1}" if items else ""
        v, t = e.get("input"), e["type"]
        text = override(e, keys, item) if override else None
        if text:
            pass
        elif t == "extra_forbidden":
            parent = ".".join(keys[:-1])
            valid = sorted(models[parent].model_fields) if parent in models else []
            if not parent:
                text = f"[{path}] unknown table or key; valid: {_joined(valid)}."
            else:
                text = f"[{path}] unknown key; valid keys in [{parent}]: {_joined(valid)}."
        elif t == "missing":
            text = f"[{path}] missing; add {keys[-1]} = ... to [{'.'.join(keys[:-1]) or 'the file'}]."
        elif t.startswith("sclcmeta_"):  # our own validators: the message says it all
            text = f"[{path}] {e['msg']}"
        elif t == "string_type":
            quoted = f'"{v}"'
            text = (f"[{path}]{item} must be text in quotes; got {_shown(v)} ({_type_name(v)}); write "
                    f"{keys[-1]} = {f'[{quoted}]' if item else quoted}.")
        elif t == "list_type":
            text = (f"[{path}] must be a list of strings (or one string); got {_shown(v)} ({_type_name(v)}); "
                    f"write e.g. {keys[-1]} = [\"...\"].")
        elif t in ("int_type", "int_parsing"):
            text = f"[{path}] must be a whole number without quotes (not true/false); got {_shown(v)} ({_type_name(v)})."
        elif t in ("bool_type", "bool_parsing"):
            text = f"[{path}] must be true or false (no quotes); got {_shown(v)} ({_type_name(v)})."
        elif t in ("dict_type", "model_type", "model_attributes_type"):
            text = f"[{path}] must be a table ([{path}] with keys, or {{ key = value }}); got {_shown(v)} ({_type_name(v)})."
        elif t in ("float_type", "finite_number"):
            text = f"[{path}] must be a finite number; got {_shown(v)} ({_type_name(v)})."
        elif t in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            c = e.get("ctx", {})
            lo, hi = c.get("ge", c.get("gt")), c.get("le", c.get("lt"))
            text = f"[{path}] out of range: {e['msg'].removeprefix('Input should be ')}; got {_shown(v)}."
            if lo is not None and hi is not None:
                text = f"[{path}] must be between {lo} and {hi}; got {_shown(v)}."
        elif t == "literal_error":
            text = f"[{path}]{item} must be {e.get('ctx', {}).get('expected', '?')}; got {_shown(v)}{_one(v)}."
        else:
            text = f"[{path}]{item} {e['msg']}; got {_shown(v)}."
        out.append(text)
    return out


def load_prior_set(path: str | Path) -> PriorSet:
    """Read a prior set from TOML (``models/priors/*.toml``); unknown keys, non-text priors, non-finite or
    absurdly large hyperparameters are errors naming the file and the key (all problems at once)."""
    from .paths import models_dir

    p = Path(path)
    if not p.exists() and not p.suffix:
        p = models_dir() / "priors" / f"{path}.toml"
    if not p.exists():
        avail = ", ".join(sorted(x.stem for x in (models_dir() / "priors").glob("*.toml")))
        raise PriorError(f"prior set {str(path)!r} not found; bundled prior sets: {avail}.")
    doc, _ = read_toml(p, PriorError, "prior set", "give a .toml file or a bundled set's name")
    try:
        f = PriorSetFile.model_validate(doc)
    except ValidationError as exc:
        def extra(e, keys, item):
            if e["type"] != "extra_forbidden":
                return None
            if keys[:1] == ["priors"]:
                return f"[priors] has unknown key(s) {keys[-1]}; valid names: {', '.join(PRIOR_TARGETS)}."
            return f"unknown key(s) {keys[-1]}; allowed: {', '.join(sorted(PriorSetFile.model_fields))}."

        problems = validation_problems(exc, {"": PriorSetFile, "priors": PriorTargetsTable}, extra)
        raise PriorError("\n".join(f"{p}: {x}" for x in problems)) from None
    base = default_prior_set()
    kw = {k: getattr(f.priors, k) or getattr(base, k) for k in PRIOR_TARGETS}
    return PriorSet(name=f.name or p.stem, description=f.description, source=f.source, **kw)


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


def reference_prior_set() -> PriorSet:
    """bayesmeta's reference choice for data without a unit-free default: a flat (improper uniform) effect
    prior and the Jeffreys prior for tau (both invariant to the units of the outcome; exact solver only, proper
    for k >= 2). The default for mean differences, whose units the log-scale default set knows nothing about."""
    return default_prior_set().replace(name="reference", effect="flat()", tau="jeffreys()",
                                       description="Flat effect prior and Jeffreys tau prior (Röver 2020, bayesmeta); "
                                                   "unit-free, the default for mean differences.")


def list_prior_sets() -> list[PriorSet]:
    """Every bundled prior set in ``models/priors/``, default first."""
    from .paths import models_dir

    sets = [load_prior_set(p) for p in sorted((models_dir() / "priors").glob("*.toml"))]
    return sorted(sets, key=lambda s: (s.name != "default", s.name))

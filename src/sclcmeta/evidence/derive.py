"""Log-scale effect and standard error from what a paper prints.

All functions are pure and vectorisable over scalars; they carry the formulas the tests
check against hand derivations:

* CI of level ``L``:  ``se = (log(hi) - log(lo)) / (2 * z)``, ``z = Phi^{-1}((1 + L) / 2)``
* two-sided p-value:  ``se = |log(hr)| / Phi^{-1}(1 - p / 2)``
* printed rounding:   a value printed with ``d`` decimals lies in ``x +/- 0.5 * 10**-d``

and the extraction methods of Parmar, Torri & Stewart (1998, Stat Med 17:2815-34) and Tierney et al.
(2007, Trials 8:16), each returning ``(log_hr, se)`` of treatment versus comparator:

* log-rank ``O - E`` and ``V``:   ``log hr = (O - E) / V``, ``se = 1 / sqrt(V)``  (:func:`from_o_minus_e`)
* log-rank p with total events:   ``V = E * r / (1 + r)**2``                      (:func:`from_logrank_p`)
* log-rank p with events per arm: ``V = E_t * E_c / (E_t + E_c)``                 (:func:`from_logrank_p_arm_events`)
* medians, exponential survival:  ``hr = m_c / m_t``, ``var = 1/E_t + 1/E_c``      (:func:`from_medians`, weakest)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.special import ndtr, ndtri


def z_for_level(level: float) -> float:
    """Two-sided normal quantile for a CI of ``level`` (0.95 -> 1.95996...)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"CI level must lie strictly between 0 and 1; got {level!r}.")
    return float(ndtri(0.5 + level / 2.0))


def se_from_ci(lo: float, hi: float, level: float = 0.95) -> float:
    """Standard error of log HR from CI bounds on the HR scale (Wald interval assumed)."""
    if not (lo > 0 and hi > 0):
        raise ValueError(f"CI bounds must be positive; got ({lo!r}, {hi!r}).")
    if not hi > lo:
        raise ValueError(f"Upper CI bound must exceed the lower; got ({lo!r}, {hi!r}).")
    return (math.log(hi) - math.log(lo)) / (2.0 * z_for_level(level))


def se_from_p(hr: float, p: float) -> float:
    """Standard error of log HR from the HR and its two-sided Wald p-value."""
    if not hr > 0:
        raise ValueError(f"HR must be positive; got {hr!r}.")
    if not 0.0 < p < 1.0:
        raise ValueError(f"p-value must lie strictly between 0 and 1 to give a standard error; got {p!r}.")
    if hr == 1.0:
        raise ValueError("HR = 1 carries no information about the standard error through a p-value.")
    return abs(math.log(hr)) / float(ndtri(1.0 - p / 2.0))


def p_from_log_hr(log_hr: float, se: float) -> float:
    """Two-sided Wald p-value of ``log_hr`` with standard error ``se``."""
    return float(2.0 * ndtr(-abs(log_hr) / se))


FAVOURS = ("treatment", "comparator")


def _positive(name: str, x: float) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number; got {x!r}.") from None
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name} must be a positive number; got {x!r}.")
    return v


def from_o_minus_e(o_minus_e: float, v: float) -> tuple[float, float]:
    """Log HR and SE from the log-rank observed-minus-expected events ``O - E`` and its variance ``V``.

    ``log hr = (O - E) / V`` and ``se = 1 / sqrt(V)``: the one-step (Peto) estimate of the log hazard
    ratio from the log-rank statistics, ``O - E`` counted in the treatment (research) arm, so a negative
    ``O - E`` (fewer deaths than expected on treatment) gives HR < 1. Source: Parmar, Torri & Stewart
    1998 (Stat Med 17:2815-34), the direct estimate from reported ``O - E`` and ``V``; Tierney et al.
    2007 (Trials 8:16), the method "O - E and V".

    >>> from_o_minus_e(-10.0, 25.0)
    (-0.4, 0.2)
    """
    try:
        oe = float(o_minus_e)
    except (TypeError, ValueError):
        raise ValueError(f"O - E must be a number; got {o_minus_e!r}.") from None
    if not math.isfinite(oe):
        raise ValueError(f"O - E must be a finite number; got {o_minus_e!r}.")
    var = _positive("The log-rank variance V", v)
    return oe / var, 1.0 / math.sqrt(var)


def _signed_z(p: float, favours: str | None) -> float:
    try:
        pv = float(p)
    except (TypeError, ValueError):
        raise ValueError(f"The log-rank p-value must be a number; got {p!r}.") from None
    if not 0.0 < pv < 1.0:
        raise ValueError(f"The log-rank p-value must lie strictly between 0 and 1; got {p!r}.")
    if favours not in FAVOURS:
        raise ValueError("A p-value has no sign: say which arm the log-rank test favours, "
                         f"favours='treatment' (HR < 1) or favours='comparator' (HR > 1); got {favours!r}.")
    z = -float(ndtri(pv / 2.0))   # the upper quantile as -ndtri(p/2), not ndtri(1 - p/2): keeps its digits for very small p
    return -z if favours == "treatment" else z


def _from_logrank_variance(p: float, v: float, favours: str | None) -> tuple[float, float]:
    z = _signed_z(p, favours)
    o_minus_e = z * math.sqrt(v)
    return from_o_minus_e(o_minus_e, v)


def from_logrank_p(p: float, events_total: float, ratio: float = 1.0,
                   favours: str | None = None) -> tuple[float, float]:
    """Log HR and SE from a two-sided log-rank p-value and the total number of events.

    Under the null hypothesis the log-rank variance is about ``V = E * r / (1 + r)**2`` where ``E`` is
    the total number of events in both arms and ``r`` the allocation (randomisation) ratio
    treatment:comparator, so ``V = E / 4`` for 1:1 allocation. The p-value gives
    ``|z| = Phi^{-1}(1 - p / 2)``, signed by ``favours`` (negative when the treatment is favoured),
    ``O - E = z * sqrt(V)`` and then :func:`from_o_minus_e`: ``log hr = z / sqrt(V)``, ``se = 1 / sqrt(V)``.

    Source: Parmar, Torri & Stewart 1998 (Stat Med 17:2815-34), the estimate from a reported p-value and
    the total number of events with the ratio of randomised patients, and Tierney et al. 2007 (Trials
    8:16), who translate Parmar's methods. Neither paper's full text was available when this was
    written: the form implemented is the widely documented one above, not checked against the papers'
    own equations.

    Raises ``ValueError`` for a p outside (0, 1), a non-positive event count or ratio, or no direction.
    """
    e = _positive("The total number of events", events_total)
    r = _positive("The allocation ratio (treatment:comparator)", ratio)
    return _from_logrank_variance(p, e * r / (1.0 + r) ** 2, favours)


def from_logrank_p_arm_events(p: float, events_treatment: float, events_comparator: float,
                              favours: str | None = None) -> tuple[float, float]:
    """Log HR and SE from a two-sided log-rank p-value and the number of events in each arm.

    ``V = E_t * E_c / (E_t + E_c)``, ``O - E = z * sqrt(V)`` with ``z`` as in :func:`from_logrank_p`,
    then ``log hr = (O - E) / V``, ``se = 1 / sqrt(V)``. Source: Tierney et al. 2007 (Trials 8:16), the
    calculation from the p-value and the events in each arm (their equation 14, O - E from
    ``sqrt(E_t * E_c / (E_t + E_c))`` times the z of the p-value; the equation as quoted in the
    correspondence in Trials 2013, 14:391). With ``E_t = E_c = E / 2`` it equals ``V = E / 4``.
    """
    et = _positive("The number of events in the treatment arm", events_treatment)
    ec = _positive("The number of events in the comparator arm", events_comparator)
    return _from_logrank_variance(p, et * ec / (et + ec), favours)


def from_medians(median_treatment: float, median_comparator: float, events_treatment: float,
                 events_comparator: float) -> tuple[float, float]:
    """Log HR and SE from the two median survival times, assuming exponential survival in each arm.

    With a constant hazard ``lambda = log 2 / median`` in each arm, ``hr = median_comparator /
    median_treatment``; the maximum-likelihood rate of an exponential model with ``E`` events has
    ``var(log lambda) = 1 / E``, so ``var(log hr) = 1 / E_t + 1 / E_c``.

    **The weakest method**: it assumes constant hazards (no delayed or waning effect, no plateau), which
    immunotherapy survival curves rarely satisfy; treat the result as a sensitivity estimate only.
    Michiels et al. 2005 (Int J Technol Assess Health Care 21:119-25) found that meta-analyses based on
    medians are not reasonable surrogates for those of IPD hazard ratios. The formula is the standard
    exponential-model result, not one of Parmar 1998's or Tierney 2007's methods.
    """
    mt = _positive("The median of the treatment arm", median_treatment)
    mc = _positive("The median of the comparator arm", median_comparator)
    et = _positive("The number of events in the treatment arm", events_treatment)
    ec = _positive("The number of events in the comparator arm", events_comparator)
    return math.log(mc / mt), math.sqrt(1.0 / et + 1.0 / ec)


@dataclass(frozen=True)
class Printed:
    """A number as printed: its value and the number of decimals it was printed with."""

    value: float
    decimals: int

    @classmethod
    def parse(cls, text: str) -> "Printed":
        t = text.strip()
        value = float(t)
        decimals = len(t.split(".")[1]) if "." in t and "e" not in t.lower() else 0
        return cls(value, decimals)

    @property
    def half_ulp(self) -> float:
        return 0.5 * 10.0 ** (-self.decimals)

    @property
    def low(self) -> float:
        return max(self.value - self.half_ulp, 0.0)

    @property
    def high(self) -> float:
        return self.value + self.half_ulp


def log_asymmetry(hr: float, lo: float, hi: float) -> float:
    """``(log hi - log hr) - (log hr - log lo)``; zero for a Wald interval."""
    return (math.log(hi) - math.log(hr)) - (math.log(hr) - math.log(lo))


def ci_symmetric_within_rounding(hr: Printed, lo: Printed, hi: Printed) -> bool:
    """True if some unrounded (hr, lo, hi) consistent with the printed digits has ``hr**2 == lo*hi``.

    A Wald interval on the log scale satisfies ``log hr = (log lo + log hi) / 2`` exactly; printing
    rounds each number, so the check asks whether the two intervals ``[hr_low**2, hr_high**2]`` and
    ``[lo_low*hi_low, lo_high*hi_high]`` overlap.
    """
    sq_lo, sq_hi = hr.low**2, hr.high**2
    prod_lo, prod_hi = lo.low * hi.low, lo.high * hi.high
    return sq_lo <= prod_hi and prod_lo <= sq_hi


def parse_p(text: str) -> tuple[float, str]:
    """Parse a printed p-value: ``'0.003' -> (0.003, '=')``, ``'<0.001' -> (0.001, '<')``."""
    t = text.strip().replace(" ", "").replace("P", "").replace("p", "").lstrip("=")
    op = "="
    for sym in ("<=", "≤", "<", ">=", "≥", ">"):
        if t.startswith(sym):
            op = {"≤": "<=", "≥": ">="}.get(sym, sym)
            t = t[len(sym):]
            break
    value = float(t)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"p-value must lie in [0, 1]; got {text!r}.")
    return value, op


def p_consistent_with_ci(p_text: str, log_hr: float, se: float, sides: int = 2) -> bool:
    """Does a printed p-value agree with the p implied by the CI, allowing for rounding of the p?

    ``sides=1`` compares with the one-sided p (half the two-sided one).
    """
    value, op = parse_p(p_text)
    implied = p_from_log_hr(log_hr, se) / (2 if sides == 1 else 1)
    if op in ("<", "<="):
        return implied <= value * 1.5
    if op in (">", ">="):
        return implied >= value / 1.5
    decimals = len(p_text.strip().split(".")[1]) if "." in p_text else 0
    half = 0.5 * 10.0 ** (-decimals)
    # p printed to d decimals; the CI is itself rounded, so allow a relative slack of 25%
    return (value - half) / 1.25 <= implied <= (value + half) * 1.25

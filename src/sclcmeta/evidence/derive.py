"""Log-scale effect and standard error from what a paper prints.

All functions are pure and vectorisable over scalars; they carry the formulas the tests
check against hand derivations:

* CI of level ``L``:  ``se = (log(hi) - log(lo)) / (2 * z)``, ``z = Phi^{-1}((1 + L) / 2)``
* two-sided p-value:  ``se = |log(hr)| / Phi^{-1}(1 - p / 2)``
* printed rounding:   a value printed with ``d`` decimals lies in ``x +/- 0.5 * 10**-d``
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats


def z_for_level(level: float) -> float:
    """Two-sided normal quantile for a CI of ``level`` (0.95 -> 1.95996...)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"CI level must lie strictly between 0 and 1; got {level!r}.")
    return float(stats.norm.ppf(0.5 + level / 2.0))


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
    return abs(math.log(hr)) / float(stats.norm.ppf(1.0 - p / 2.0))


def p_from_log_hr(log_hr: float, se: float) -> float:
    """Two-sided Wald p-value of ``log_hr`` with standard error ``se``."""
    return float(2.0 * stats.norm.sf(abs(log_hr) / se))


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

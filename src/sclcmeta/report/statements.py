"""One plain-language sentence per answer, in the manner of GRADE's informative statements, by declared rules.

The rules (also printed in the report, :data:`RULES`) read the posterior only:

1. A fit that failed the convergence check gives no statement but "No answer".
2. Direction: with p = P(HR < 1) (benefit of the first-named treatment),
   * "probably improves": p >= 0.975 (the 95% CrI excludes 1) **and** a new cohort's HR is below 1 with
     probability >= 0.90 (predictive; networks have no predictive HR, so they can reach "may" at most);
   * "may improve": p >= 0.90;
   * "may worsen" / "probably worsens": the mirror images (p <= 0.10; p <= 0.025 and predictive P(HR < 1) <= 0.10);
   * otherwise "We are uncertain whether ...".
3. Size: an improvement statement adds "a benefit of at least HR 0.8 is more likely than not" when
   P(HR < 0.8) >= 0.5, and "a benefit of HR 0.8 or more is unlikely" when P(HR < 0.8) < 0.2.
4. A posterior alone never reaches the unhedged "improves": that wording needs a high certainty of evidence,
   a GRADE judgement (risk of bias, indirectness...) the posterior does not make. When a certainty rating is
   given (``certainty=`` high / moderate / low / very low), the verb is the weaker of the two: high allows
   "improves", moderate "probably", low "may", very low "we are uncertain".
5. Ratios of HRs (an interaction, the PD-1 vs PD-L1 class difference) use the same thresholds on
   P(ratio < 1) and speak of a larger or smaller benefit.
"""

from __future__ import annotations

#: The rules in one paragraph for the report.
RULES = (
    "How the sentences are worded (rules applied to the posterior, not judgements): with p = P(HR < 1), "
    "'probably improves' needs p >= 0.975 (the 95% CrI excludes 1) and a new cohort's HR below 1 with "
    "probability >= 0.90; 'may improve' needs p >= 0.90; 'may worsen' and 'probably worsens' mirror these; "
    "anything in between is 'we are uncertain'. A benefit of at least HR 0.8 is called 'more likely than not' when "
    "P(HR < 0.8) >= 0.5 and 'unlikely' when it is below 0.2. The unhedged 'improves' is never derived from the "
    "posterior alone: it needs a high certainty of evidence, which is a judgement about bias and indirectness; "
    "a certainty rating, where given, caps the wording (high: improves, moderate: probably, low: may, very low: "
    "uncertain). A fit that failed the convergence check gives no statement.")

_LEVEL = {"high": 3, "moderate": 2, "low": 1, "very low": 0}


def strength(p: float, pred_p: float | None) -> int:
    """Signed strength of the posterior's direction: +2 probably better, +1 may be better, 0 uncertain, -1, -2.

    >>> strength(0.99, 0.95), strength(0.99, 0.8), strength(0.93, None), strength(0.5, 0.5), strength(0.01, 0.05)
    (2, 1, 1, 0, -2)
    """
    if p >= 0.975 and pred_p is not None and pred_p >= 0.90:
        return 2
    if p >= 0.90:
        return 1
    if p <= 0.025 and pred_p is not None and pred_p <= 0.10:
        return -2
    if p <= 0.10:
        return -1
    return 0


def _capped(level: int, certainty: str | None) -> int:
    if certainty is None:
        return level
    cap = _LEVEL[str(certainty).lower()]
    return max(min(abs(level), cap), 0) * (1 if level > 0 else -1) if level else 0


def _split(comparison: str) -> tuple[str, str]:
    a, _, b = comparison.partition(" vs ")
    return a.strip(), b.strip()


#: How a ratio of HRs (an interaction, a class difference) is worded at each strength (see :func:`strength`).
_LARGER = {2: "probably larger", 1: "may be larger", -1: "may be smaller", -2: "probably smaller"}


def statement(r: dict, certainty: str | None = None) -> str:
    """The sentence of one answer row (see the module doc for the rules).

    >>> row = {"kind": "effect", "comparison": "ICI beyond progression vs no ICI", "outcome": "OS",
    ...        "passed": True, "p1": 0.984, "p08": 0.71, "pred_p1": 0.94}
    >>> statement(row)
    'ICI beyond progression probably improves overall survival compared with no ICI (P(HR < 1) = 0.98); a benefit of at least HR 0.8 is more likely than not (P(HR < 0.8) = 0.71).'
    >>> statement(row, certainty="low").split(" (")[0]
    'ICI beyond progression may improve overall survival compared with no ICI'
    """
    from .answers import OUTCOME_WORDS

    if not r["passed"]:
        return f"No answer for {r['comparison']} ({r['outcome']}): the fit failed the convergence check."
    p, what = r["p1"], OUTCOME_WORDS.get(r["outcome"], r["outcome"])
    lvl = _capped(strength(p, r.get("pred_p1")), certainty)
    if certainty is not None and str(certainty).lower() == "high" and lvl == 2 and p >= 0.975:
        lvl = 3
    prob = f"(P(HR < 1) = {p:.2f})"
    if r["kind"] == "effect":
        t, c = _split(r["comparison"])
        verb = {3: "improves", 2: "probably improves", 1: "may improve", -1: "may worsen", -2: "probably worsens",
                -3: "worsens"}.get(lvl)
        if verb is None:
            return f"We are uncertain whether {t} improves or worsens {what} compared with {c} {prob}."
        text = f"{t} {verb} {what} compared with {c} {prob}"
        if lvl > 0 and r.get("p08") is not None and r["p08"] == r["p08"]:
            if r["p08"] >= 0.5:
                text += f"; a benefit of at least HR 0.8 is more likely than not (P(HR < 0.8) = {r['p08']:.2f})"
            elif r["p08"] < 0.2:
                text += f"; a benefit of HR 0.8 or more is unlikely (P(HR < 0.8) = {r['p08']:.2f})"
        return text[0].upper() + text[1:] + "."
    prob = f"(P(ratio < 1) = {p:.2f})"
    if r["kind"] == "interaction":
        lab = r.get("labels", {})
        eff, idx, ref = lab.get("effect", "the treatment"), lab.get("index", "in the index group"), \
            lab.get("reference", "in the reference group")
        word = _LARGER.get(lvl)
        if word is None:
            return (f"We are uncertain whether the {what} benefit of {eff} differs {idx} and {ref} {prob}; an "
                    "interval including 1 is not evidence that it is the same.")
        verb = word if word.startswith("may") else "is " + word
        return f"The {what} benefit of {eff} {verb} {idx} than {ref} {prob}."
    t, c = _split(r["comparison"].replace(" (class means)", ""))
    word = _LARGER.get(lvl)
    if word is None:
        return (f"We are uncertain whether {t} and {c} antibodies differ in {what} benefit {prob}; no trial compares "
                "them directly.")
    verb = word if word.startswith("may") else "is " + word
    return f"The {what} benefit of {t} antibodies {verb} than that of {c} antibodies (indirect comparison) {prob}."

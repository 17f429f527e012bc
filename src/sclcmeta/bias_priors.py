"""Bias priors as data: what each risk-of-bias judgement says about an estimate's bias (``models/priors/bias/``).

Turner et al. (2009, J R Stat Soc A 172:21-47) adjust a meta-analysis for the internal biases of its studies
by reading each estimate as ``y_i = theta_i + delta_i + e_i`` with an additive bias
``delta_i ~ N(m_i, v_i)`` elicited from the study's weaknesses, several sources of bias adding (means add,
variances add). Here the elicitation is a declared rule instead of a panel: a :class:`BiasPrior` gives, for
every tool (ROBINS-I, RoB 2), domain and judgement, a bias distribution ``N(mean, sd^2)`` on the log HR, and
an estimate's bias is the sum over the domains of its assessment in ``data/risk_of_bias.csv``.

The sign convention is that of the data: a negative mean is bias in favour of the ICI-containing arm
(it makes the ICI look better than it is). Which comparisons it applies to is decided where the
estimates are known (:mod:`sclcmeta.engine.bias`).

File format::

    name = "elicited"
    description = "..."
    source = "Turner RM et al. 2009 ..."

    [ROBINS-I]                 # every domain of the tool: judgement = [mean, sd]
    low = [0.0, 0.0]
    serious = [0.0, 0.20]
    ...
    [ROBINS-I.confounding]     # one domain's own values (override the tool's)
    serious = [-0.10, 0.20]

Examples
--------
>>> bp = load_bias_prior("elicited")
>>> bp.domain_prior("ROBINS-I", "confounding", "serious")
(-0.1, 0.2)
>>> bp.domain_prior("RoB2", "deviations", "low")
(0.0, 0.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from .errors import PriorError
from .files import read_toml
from .vocabulary import ROB_DOMAINS, ROB_JUDGEMENTS

#: Largest bias SD accepted on the log-HR scale (a factor of 50 either way at 1 SD is not a bias prior).
MAX_BIAS_SD = 4.0


@dataclass(frozen=True)
class BiasPrior:
    """Bias distribution ``(mean, sd)`` on the log HR for every (tool, domain, judgement)."""

    name: str
    table: dict = field(repr=False, hash=False, compare=True)
    description: str = ""
    source: str = ""
    path: str = ""

    def __repr__(self) -> str:
        return f"BiasPrior({self.name!r}: {self.source.split('(')[0].strip() or 'no source given'})"

    def domain_prior(self, tool: str, domain: str, judgement: str) -> tuple[float, float]:
        """``(mean, sd)`` of the bias that ``judgement`` in ``domain`` of ``tool`` stands for."""
        return self.table[tool][domain][judgement]

    def as_frame(self):
        """One row per (tool, domain, judgement): ``tool, domain, judgement, mean, sd``."""
        import pandas as pd

        return pd.DataFrame([{"tool": t, "domain": d, "judgement": j, "mean": m, "sd": s}
                             for t, doms in self.table.items() for d, js in doms.items()
                             for j, (m, s) in js.items()])


def _pair(value, where: str, problems: list[str]) -> tuple[float, float] | None:
    ok = (isinstance(value, list) and len(value) == 2
          and all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in value))
    if not ok:
        problems.append(f"{where} must be [mean, sd], two finite numbers; got {value!r}.")
        return None
    m, s = float(value[0]), float(value[1])
    if not 0 <= s <= MAX_BIAS_SD:
        problems.append(f"{where} has sd {s:g}; an SD on the log-HR scale must be between 0 and {MAX_BIAS_SD:g}.")
        return None
    if abs(m) > MAX_BIAS_SD:
        problems.append(f"{where} has mean {m:g}; a bias mean beyond +-{MAX_BIAS_SD:g} on the log-HR scale is not "
                        "plausible.")
        return None
    return m, s


def _parse(doc: dict) -> tuple[dict, list[str]]:
    problems: list[str] = []
    allowed_top = {"name", "description", "source", *ROB_DOMAINS}
    for k in doc:
        if k not in allowed_top:
            problems.append(f"[{k}] unknown table or key; valid: name, description, source and the tools "
                            f"{', '.join(ROB_DOMAINS)}.")
    for k in ("name", "description", "source"):
        if k in doc and not isinstance(doc[k], str):
            problems.append(f"[{k}] must be text in quotes; got {doc[k]!r}.")
    table: dict = {}
    for tool, domains in ROB_DOMAINS.items():
        sec = doc.get(tool)
        if sec is None:
            problems.append(f"[{tool}] missing: give [mean, sd] for every judgement ({', '.join(ROB_JUDGEMENTS[tool])}).")
            continue
        if not isinstance(sec, dict):
            problems.append(f"[{tool}] must be a table of judgement = [mean, sd]; got {sec!r}.")
            continue
        base: dict = {}
        for j in ROB_JUDGEMENTS[tool]:
            if j not in sec:
                problems.append(f"[{tool}] missing judgement {j!r}: add {j} = [mean, sd].")
                continue
            pair = _pair(sec[j], f"[{tool}] {j}", problems)
            if pair:
                base[j] = pair
        table[tool] = {}
        for key, val in sec.items():
            if key in ROB_JUDGEMENTS[tool]:
                continue
            if key not in domains:
                problems.append(f"[{tool}.{key}] is neither a judgement ({', '.join(ROB_JUDGEMENTS[tool])}) nor a "
                                f"domain ({', '.join(domains)}) of {tool}.")
            elif not isinstance(val, dict):
                problems.append(f"[{tool}.{key}] must be a table of judgement = [mean, sd]; got {val!r}.")
            else:
                for j in val:
                    if j not in ROB_JUDGEMENTS[tool]:
                        problems.append(f"[{tool}.{key}] {j!r} is not a {tool} judgement; valid: "
                                        f"{', '.join(ROB_JUDGEMENTS[tool])}.")
        for dom in domains:
            own = sec.get(dom) if isinstance(sec.get(dom), dict) else {}
            table[tool][dom] = dict(base)
            for j, v in own.items():
                if j in ROB_JUDGEMENTS[tool]:
                    pair = _pair(v, f"[{tool}.{dom}] {j}", problems)
                    if pair:
                        table[tool][dom][j] = pair
        if base.get("low", (0.0, 0.0)) != (0.0, 0.0):
            problems.append(f"[{tool}] low must be [0.0, 0.0]: a domain at low risk of bias adds no bias.")
    return table, problems


def bias_priors_dir() -> Path:
    """The bundled bias priors, ``models/priors/bias/``."""
    from .paths import models_dir

    return models_dir() / "priors" / "bias"


def load_bias_prior(path: str | Path) -> BiasPrior:
    """Read a bias-prior file (a path, or the name of one in ``models/priors/bias/``); every problem of the
    file is reported at once, one line each, naming the file and the key."""
    p = Path(path)
    if not p.exists() and not p.suffix:
        p = bias_priors_dir() / f"{path}.toml"
    if not p.exists():
        avail = ", ".join(sorted(x.stem for x in bias_priors_dir().glob("*.toml")))
        raise PriorError(f"bias prior {str(path)!r} not found; bundled bias priors: {avail}.")
    doc, _ = read_toml(p, PriorError, "bias prior", "give a .toml file or a bundled bias prior's name")
    table, problems = _parse(doc)
    if problems:
        raise PriorError("\n".join(f"{p}: {x}" for x in problems))
    return BiasPrior(name=doc.get("name") or p.stem, table=table, description=doc.get("description", ""),
                     source=doc.get("source", ""), path=str(p))


def list_bias_priors() -> list[BiasPrior]:
    """Every bundled bias prior, ``elicited`` (the default of the bundled specs) first."""
    bps = [load_bias_prior(p) for p in sorted(bias_priors_dir().glob("*.toml"))]
    return sorted(bps, key=lambda b: (b.name != "elicited", b.name))

"""The Gaussian model of a contrast-based network (NICE DSU TSD2/3/4), in the one model family.

* ``d[k]`` are basic parameters (effects vs the reference treatment, ``d[ref] = 0``);
* ``e`` has covariance ``S``: ``se^2`` on the diagonal and, for contrasts of one multi-arm study that
  share a comparator arm, the variance of that shared arm (given in ``shared_var``, or imputed as half
  the smaller contrast variance: the equal-arm-variance assumption, reported);
* ``delta ~ N(0, tau^2 K)`` (random effects): ``K`` has 1 on the diagonal and 1/2 between contrasts of
  one multi-arm study sharing a comparator (TSD2);
* class effects (TSD3): drugs of a class with two or more members are exchangeable,
  ``d[k] = D[class] + eps_k``, ``eps_k ~ N(0, class_sd^2)``, marginalized into the covariance;
* additive components (Welton et al. 2009, Am J Epidemiol 169:1158): a combination treatment's effect is
  the sum of its components' effects, ``d[A+B] = d[A] + d[B]``; a component may itself be a class member
  (``d[A] = D[class] + eps_A``), so a combination enters the class only through its ICI component;
* inconsistency (TSD4): the unrelated-mean-effects model (one parameter per observed comparison) and
  node-splitting (the direct evidence on a pair gets its own parameter).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from ..errors import SpecError
from .gaussian import Component, GaussianModel


def sampling_covariance(net) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Sampling covariance S, RE structure K (multi-arm blocks) and the notes on every imputed covariance."""
    k = len(net.rows)
    S = np.diag([r.se**2 for r in net.rows])
    K = np.eye(k)
    notes: list[str] = []
    for i, j in itertools.combinations(range(k), 2):
        a, b = net.rows[i], net.rows[j]
        if a.study != b.study or a.comparator != b.comparator or len(a.components) > 1 or len(b.components) > 1:
            continue
        if a.shared_var is not None and b.shared_var is not None:
            cov = a.shared_var
        else:
            cov = 0.5 * min(a.se**2, b.se**2)
            note = (f"{a.study}: covariance of the contrasts {a.components[0][1]} and {b.components[0][1]} vs "
                    f"{a.comparator} imputed as half the smaller contrast variance ({cov:.4f}; equal-arm-variance "
                    "assumption)")
            if note not in notes:
                notes.append(note)
        S[i, j] = S[j, i] = cov
        K[i, j] = K[j, i] = 0.5
    return S, K, notes


def build_network_model(net, *, effects: str = "random", classes: bool = False,
                        split: tuple[str, str] | None = None, ume: bool = False) -> GaussianModel:
    """The Gaussian model of a network (consistency, node-split or unrelated mean effects)."""
    if effects not in ("random", "fixed"):
        raise SpecError(f"network `effects` must be 'random' or 'fixed'; got {effects!r}.")
    net.check_connected()
    ts = net.basic_treatments
    ref = net.reference
    combos = {t: tuple(cs) for t, cs in net.combinations.items() if t in net.treatments}
    for t, cs in combos.items():
        if ref in cs or t in cs or any(c in combos for c in cs):
            raise SpecError(f"network components of {t!r}: {', '.join(cs)}; a component must be a single treatment "
                            f"other than the reference {ref!r} and other than the combination itself.")
    cls = {t: c for t, c in net.classes.items() if t in ts and t != ref} if classes else {}
    members = pd.Series(cls).value_counts() if cls else pd.Series(dtype=int)
    exch = {t: c for t, c in cls.items() if members.get(c, 0) >= 2}
    lab = net.labels
    if ume:
        pairs = sorted({p for r in net.rows for p in r.pairs})
        names = [f"u[{lab.get(b, b)} vs {lab.get(a, a)}]" for a, b in pairs]
    else:
        params = []
        for t in ts[1:]:
            if t in exch:
                key = f"class:{exch[t]}"
                if key not in params:
                    params.append(key)
            else:
                params.append(t)
        names = [f"D[{p[6:]} vs {lab.get(ref, ref)}]" if p.startswith("class:") else f"d[{lab.get(p, p)} vs {lab.get(ref, ref)}]"
                 for p in params]
    if split is not None:
        names.append(f"direct[{lab.get(split[0], split[0])} vs {lab.get(split[1], split[1])}]")
    k = len(net.rows)
    X = np.zeros((k, len(names)))
    A = np.zeros((k, len(exch))) if exch else None
    exch_list = sorted(exch)

    def add(i, t, sign, w):
        if t == ref:
            return
        if t in combos:                 # additive components: d[A+B] = d[A] + d[B]
            for c in combos[t]:
                add(i, c, sign, w)
        elif t in exch:
            X[i, params.index(f"class:{exch[t]}")] += sign * w
            A[i, exch_list.index(t)] += sign * w
        else:
            X[i, params.index(t)] += sign * w

    for i, r in enumerate(net.rows):
        for w, t, c in r.components:
            if split is not None and {t, c} == set(split):
                X[i, -1] += w * (1 if (t, c) == tuple(split) else -1)
                continue
            if ume:
                a, b = sorted((t, c))
                X[i, pairs.index((a, b))] += w * (1 if t == b else -1)
            else:
                add(i, t, +1, w)
                add(i, c, -1, w)
    S, K, cov_notes = sampling_covariance(net)
    comps = []
    if effects == "random":
        comps.append(Component("tau", K, "tau"))
    if exch and not ume:
        comps.append(Component("class_sd", A @ A.T, "class_sd", predictive_weight=0.0))
    kind = "network_ume" if ume else ("network_split" if split else "network")
    gm = GaussianModel(y=np.array([r.y for r in net.rows]), S=S, X=X, coef_names=tuple(names),
                       coef_roles=("effect",) * len(names), components=tuple(comps),
                       studies=tuple(f"{r.study}: {' + '.join(f'{lab.get(t, t)}' for _, t, _ in r.components)} vs "
                                     f"{lab.get(r.comparator, r.comparator)}" for r in net.rows),
                       kind=kind, x_new=np.zeros(len(names)))
    gm.meta.update({"params": [] if ume else params, "exchangeable": exch_list, "A": A, "reference": ref,
                    "notes": cov_notes, "combinations": {} if ume else combos})
    return gm

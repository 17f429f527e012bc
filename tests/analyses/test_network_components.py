"""Additive component networks (Welton et al. 2009): the design matrix against a hand-written one, the
posterior against brute-force quadrature over tau, and the bundled Q4 model no longer puts ETER701's
benmelstobart + anlotinib arm into the PD-L1 class."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from scipy import integrate, stats

import sclcmeta as sm
from sclcmeta.analyses.network import fit_network, network_from_spec
from sclcmeta.engine.network import build_network_model
from sclcmeta.errors import SpecError
from sclcmeta.evidence.network import ContrastRow, NetworkData
from sclcmeta.paths import models_dir


def _row(i, study, y, se, t, c, shared_var=None):
    return ContrastRow(i, study, study, y, se, [(1.0, t, c)], shared_var=shared_var)


def test_component_design_matrix_matches_the_hand_written_one():
    # AB = A + B; A is never given alone and shares class X with C; B has its own effect; P is the reference
    net = NetworkData([_row("r1", "s1", -0.9, 0.1, "AB", "P"), _row("r2", "s1", -0.5, 0.1, "B", "P"),
                       _row("r3", "s2", -0.3, 0.1, "C", "P"), _row("r4", "s3", -0.4, 0.1, "AB", "B")],
                      "P", classes={"A": "X", "C": "X"}, combinations={"AB": ("A", "B")})
    gm = build_network_model(net, effects="random", classes=True)
    assert gm.meta["params"] == ["B", "class:X"] and gm.meta["exchangeable"] == ["A", "C"]
    X = np.array([[1, 1],      # AB vs P = d[B] + D[X] (+ eps_A)
                  [1, 0],      # B vs P
                  [0, 1],      # C vs P = D[X] (+ eps_C)
                  [0, 1]])     # AB vs B = d[A] = D[X] (+ eps_A): B cancels
    A = np.array([[1, 0], [0, 0], [0, 1], [1, 0]])
    np.testing.assert_array_equal(gm.X, X)
    np.testing.assert_array_equal(gm.meta["A"], A)
    # without classes every component is its own parameter
    gm2 = build_network_model(net, effects="fixed", classes=False)
    assert gm2.meta["params"] == ["B", "C", "A"]
    np.testing.assert_array_equal(gm2.X, [[1, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]])


def test_a_combination_cannot_contain_the_reference():
    net = NetworkData([_row("r1", "s1", -0.9, 0.1, "AB", "P")], "P", combinations={"AB": ("A", "P")})
    with pytest.raises(SpecError, match="component"):
        build_network_model(net, effects="fixed")


def _tiny():
    """AB (= A + B) and B against P in one three-arm trial, B vs P and AB vs P in two more trials."""
    rows = [_row("r1", "s1", -0.9, 0.12, "AB", "P", shared_var=0.004),
            _row("r2", "s1", -0.5, 0.11, "B", "P", shared_var=0.004),
            _row("r3", "s2", -0.4, 0.15, "B", "P"), _row("r4", "s3", -0.8, 0.2, "AB", "P")]
    return NetworkData(rows, "P", combinations={"AB": ("A", "B")})


def _quadrature_moments(C):
    """Posterior means and SDs of C (d_A, d_B) (one row per contrast) by scipy quadrature over tau, written from
    the model definition: y ~ N(X b, S + tau^2 K), b ~ N(0, 2^2 I), tau ~ half-normal(0.5)."""
    y = np.array([-0.9, -0.5, -0.4, -0.8])
    X = np.array([[1.0, 1.0], [0.0, 1.0], [0.0, 1.0], [1.0, 1.0]])      # columns d_A, d_B
    S = np.diag([0.12**2, 0.11**2, 0.15**2, 0.2**2])
    S[0, 1] = S[1, 0] = 0.004
    K = np.eye(4)
    K[0, 1] = K[1, 0] = 0.5
    V0 = 4.0 * np.eye(2)

    def integrand(tau):     # [w, w * mean, w * (var + mean^2)] for every contrast at once
        sig = S + tau**2 * K + X @ V0 @ X.T
        w = stats.multivariate_normal(np.zeros(4), sig).pdf(y) * stats.halfnorm(scale=0.5).pdf(tau)
        G = V0 @ X.T @ np.linalg.inv(sig)
        m = C @ G @ y
        v = np.einsum("ij,jk,ik->i", C, V0 - G @ X @ V0, C)
        return np.concatenate([[w], w * m, w * (v + m**2)])

    tot = integrate.quad_vec(integrand, 0, 5, epsabs=0, epsrel=1e-10)[0]
    n = len(C)
    mean = tot[1:1 + n] / tot[0]
    return mean, np.sqrt(tot[1 + n:] / tot[0] - mean**2)


@pytest.mark.reference
def test_component_posterior_matches_brute_force_quadrature():
    res = fit_network(_tiny(), sm.default_prior_set(), effects="random", node_split=False, ume=False)
    s = res.summary().set_index(["quantity", "comparison"])
    keys = [("contrast", "AB vs P"), ("component", "A vs P"), ("contrast", "AB vs B"), ("contrast", "B vs P")]
    mean, sd = _quadrature_moments(np.array([[1.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.0, 1.0]]))
    for key, m, v in zip(keys, mean, sd):
        assert s.loc[key, "mean"] == pytest.approx(m, abs=1e-4)
        assert s.loc[key, "sd"] == pytest.approx(v, abs=1e-4)
    # the combination ranks with the treatments; the component given alone by no arm does not
    assert set(res.rank_probabilities()["treatment"]) == {"P", "AB", "B"}


def test_bundled_q4_puts_only_the_ici_component_of_eter701_in_the_pd_l1_class(evidence):
    for out in ("os", "pfs"):
        spec = sm.load_spec(models_dir() / f"q4_network_1l_{out}.toml")
        net = network_from_spec(spec, evidence)
        assert net.combinations == {"benmelstobart_anlotinib_1l": ("benmelstobart_1l", "anlotinib_1l")}
        assert "benmelstobart_anlotinib_1l" not in net.classes and net.classes["benmelstobart_1l"] == "PD-L1"
        gm = build_network_model(net, effects="random", classes=True)
        assert "benmelstobart_anlotinib_1l" not in gm.meta["exchangeable"]
        assert "benmelstobart_1l" in gm.meta["exchangeable"]
        # the anlotinib + EP arm of the same trial has its own effect parameter in both outcomes
        assert "anlotinib_1l" in gm.meta["params"]
        eter = [i for i, r in enumerate(net.rows) if r.study == "ETER701"]
        assert len(eter) == 2


def test_spec_components_naming_an_unknown_treatment_is_a_spec_error(evidence):
    spec = sm.load_spec(models_dir() / "q4_network_1l_os.toml")
    bad = dataclasses.replace(spec, model={**spec.model, "components": {"benmelstobart_1l_typo": ["a", "b"]}})
    with pytest.raises(SpecError, match=r"\[model.components\] 'benmelstobart_1l_typo' is not a network treatment"):
        network_from_spec(bad, evidence)

"""The bias model (Turner et al. 2009): additive bias per observational estimate, its prior from the RoB table.

Independent references: the per-estimate bias priors are recomputed here from the two data files with the
standard library (csv, tomllib); the bias-adjusted posterior is recomputed by brute-force quadrature that
integrates each estimate's bias explicitly (Gauss-Hermite over delta_i) instead of using the closed-form
convolution the package relies on; and MCMC with the bias terms must agree with the exact solver.
"""

from __future__ import annotations

import csv
import tomllib
import warnings

import numpy as np
import pytest
from scipy import stats

import sclcmeta as sm
from sclcmeta.analyses.common import adjust_for_bias, risk_of_bias_for
from sclcmeta.bias_priors import bias_priors_dir, load_bias_prior
from sclcmeta.engine.bias import bias_adjusted, bias_terms, ici_direction
from sclcmeta.errors import PriorError, SpecError
from sclcmeta.fitting import CompileCache, fit_model
from sclcmeta.paths import data_dir
from sclcmeta.priors import default_prior_set


def _by_hand(ids, prior_name, direction=-1):
    """(mean, sd) of the summed domain biases of each estimate, read straight from the CSV and the TOML."""
    with open(bias_priors_dir() / f"{prior_name}.toml", "rb") as fh:
        doc = tomllib.load(fh)
    rows = list(csv.DictReader(open(data_dir() / "risk_of_bias.csv", newline="", encoding="utf-8")))
    out = []
    for i in ids:
        doms = [r for r in rows if i in [x.strip() for x in r["applies_to"].split(";")]]
        assert doms, i
        m = v = 0.0
        for r in doms:
            tool = doc[r["tool"]]
            mean, sd = tool.get(r["domain"], {}).get(r["judgement"], tool[r["judgement"]])
            m += -direction * mean
            v += sd * sd
        out.append((m, np.sqrt(v)))
    return np.array(out)


@pytest.fixture(scope="module")
def q5(evidence):
    spec = sm.load_spec("q5_any_ici_os")
    from sclcmeta.analyses import effects_for_spec

    eff = effects_for_spec(spec, evidence)
    return spec, eff


def test_bias_prior_of_each_estimate_is_the_sum_of_its_domain_judgements(q5, evidence):
    spec, eff = q5
    rob = risk_of_bias_for(evidence)
    for name in ("elicited", "sceptical", "nondirectional"):
        terms = bias_terms(eff.data, rob, load_bias_prior(name), evidence.nodes)
        want = _by_hand(list(eff.data["id"]), name)
        np.testing.assert_allclose(terms.mean, want[:, 0], atol=1e-12)
        np.testing.assert_allclose(terms.table["bias_sd"], want[:, 1], atol=1e-12)
    # the critical-risk cohort (Gu 2026: critical selection) gets a larger bias SD than the serious-risk one
    t = bias_terms(eff.data, rob, load_bias_prior("elicited"), evidence.nodes).table.set_index("overall")
    assert t.loc["critical", "bias_sd"] > t.loc["serious", "bias_sd"]


def test_bias_direction_follows_which_arm_has_the_ici():
    ici = {"a": "PD-1", "b": "none", "c": "PD-L1"}
    assert ici_direction("a", "b", ici) == -1      # treatment has the ICI: bias favours the treatment
    assert ici_direction("b", "a", ici) == 1       # reversed comparison: the sign flips
    assert ici_direction("a", "c", ici) == 0       # two ICI arms: direction unknown, mean 0
    assert ici_direction("b", "b", ici) == 0


def _bruteforce_mu(y, s, m, v, tau_prior, mu_sd=2.0):
    """Posterior median and 95% bounds of mu, integrating every bias delta_i by Gauss-Hermite quadrature and
    (mu, tau) on a fine grid: y_i ~ N(mu + delta_i, s_i^2 + tau^2), delta_i ~ N(m_i, v_i)."""
    x, w = np.polynomial.hermite_e.hermegauss(24)             # nodes for N(0, 1)
    w = w / w.sum()
    mu = np.linspace(-2.5, 2.5, 1201)
    tau = np.linspace(0, 2.5, 601)[1:]
    M, T = np.meshgrid(mu, tau, indexing="ij")
    logL = np.zeros_like(M)
    for yi, si, mi, vi in zip(y, s, m, v):
        sd = np.sqrt(si**2 + T**2)
        lik = sum(wj * stats.norm.pdf(yi, loc=M + mi + np.sqrt(vi) * xj, scale=sd) for xj, wj in zip(x, w))
        logL += np.log(lik)
    logpost = logL + stats.norm.logpdf(M, 0, mu_sd) + tau_prior.logpdf(T)
    post = np.exp(logpost - logpost.max())
    pm = np.trapezoid(post, tau, axis=1)
    cdf = np.concatenate([[0], np.cumsum((pm[1:] + pm[:-1]) / 2 * np.diff(mu))])
    cdf /= cdf[-1]
    return np.interp([0.025, 0.5, 0.975], cdf, mu)


@pytest.mark.parametrize("name", ["elicited", "sceptical"])
def test_bias_adjusted_posterior_matches_bruteforce_quadrature_over_the_bias(q5, evidence, name):
    spec, eff = q5
    gm = sm.analyses.common.build_pairwise(eff, spec)
    adj = adjust_for_bias(gm, eff, spec, evidence, load_bias_prior(name))
    terms = adj.meta["bias"]
    ps = default_prior_set()
    ex = fit_model(adj, ps, method="exact").exact
    got = np.asarray(ex.coef("mu").quantile([0.025, 0.5, 0.975]))
    want = _bruteforce_mu(gm.y, gm.se, terms.mean, terms.var, ps.tau)
    np.testing.assert_allclose(got, want, atol=2e-3)
    # and the adjustment matters: the unadjusted posterior is somewhere else
    un = np.asarray(fit_model(gm, ps, method="exact").exact.coef("mu").quantile([0.025, 0.5, 0.975]))
    assert np.max(np.abs(un - want)) > 0.05


def test_bias_adjusted_mcmc_agrees_with_exact_and_bias_priors_swap_without_recompiling(q5, evidence):
    spec, eff = q5
    gm = sm.analyses.common.build_pairwise(eff, spec)
    ps = default_prior_set()
    cache = CompileCache()
    for name in ("elicited", "sceptical"):
        adj = adjust_for_bias(gm, eff, spec, evidence, load_bias_prior(name))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            mc = fit_model(adj, ps, method="mcmc", draws=1500, tune=700, chains=2, seed=3, cache=cache)
        ex = fit_model(adj, ps, method="exact").exact
        d = mc.idata.posterior["b"].sel(coef="mu").values.ravel()
        q_ex = np.asarray(ex.coef("mu").quantile([0.1, 0.5, 0.9]))
        np.testing.assert_allclose(np.quantile(d, [0.1, 0.5, 0.9]), q_ex, atol=0.06)
    assert cache.misses == 1          # one compiled model served both bias priors


def test_spec_with_bias_reports_adjusted_and_unadjusted_rows(evidence):
    res = sm.run_spec(sm.load_spec("q5_any_ici_pfs"), evidence, method="exact")
    s = res.summary()
    pooled = s[s["quantity"] == "pooled"].set_index("bias")
    assert set(pooled.index) == {"adjusted", "unadjusted"}
    assert res.pooled_hr()["hr_median"] == pytest.approx(pooled.loc["adjusted", "hr_median"])
    # the unadjusted row is the plain random-effects fit of the same estimates
    plain = fit_model(sm.analyses.common.build_pairwise(res.effects, res.spec), res.priors, method="exact")
    assert pooled.loc["unadjusted", "median"] == pytest.approx(float(np.ravel(plain.exact.coef("mu").quantile(0.5))[0]), abs=1e-9)
    # directional bias towards the ICI arm moves the adjusted answer towards the null
    assert pooled.loc["adjusted", "hr_median"] > pooled.loc["unadjusted", "hr_median"]


def test_bias_model_needs_an_assessment_for_every_estimate(q5, evidence):
    spec, eff = q5
    d = eff.data.copy()
    d.loc[0, "id"] = "not_in_the_table"
    with pytest.raises(SpecError, match="not_in_the_table"):
        bias_terms(d, risk_of_bias_for(evidence), load_bias_prior("elicited"), evidence.nodes)


def test_bias_adjusted_model_shifts_estimates_and_adds_variance():
    import pandas as pd
    from sclcmeta.engine.bias import BiasTerms

    gm = sm.engine.GaussianModel.random_effects([-0.5, 0.1], [0.2, 0.3])
    t = BiasTerms(prior=None, table=pd.DataFrame({"bias_mean": [-0.2, 0.05], "bias_sd": [0.1, 0.4]}))
    adj = bias_adjusted(gm, t)
    np.testing.assert_allclose(adj.y, [-0.3, 0.05])
    np.testing.assert_allclose(np.diag(adj.S), [0.04 + 0.01, 0.09 + 0.16])
    assert adj.structure_key() == gm.structure_key()


@pytest.mark.parametrize("text, fragment", [
    ('[ROBINS-I]\nlow = [0.0, 0.0]\n', "missing judgement 'moderate'"),
    ('[ROBINS-I]\nlow=[0,0]\nmoderate=[0,-1]\nserious=[0,0.2]\ncritical=[0,0.3]\nno_information=[0,0.1]\n'
     '[RoB2]\nlow=[0,0]\nsome_concerns=[0,0.1]\nhigh=[0,0.2]\n', "sd -1"),
    ('[ROBINS-I]\nlow=[0,0]\nmoderate=[0,0.1]\nserious=[0,0.2]\ncritical=[0,0.3]\nno_information=[0,0.1]\n'
     '[ROBINS-I.confunding]\nserious=[0,0.2]\n[RoB2]\nlow=[0,0]\nsome_concerns=[0,0.1]\nhigh=[0,0.2]\n',
     "neither a judgement"),
    ('[ROBINS-I]\nlow=[0.1,0]\nmoderate=[0,0.1]\nserious=[0,0.2]\ncritical=[0,0.3]\nno_information=[0,0.1]\n'
     '[RoB2]\nlow=[0,0]\nsome_concerns=[0,0.1]\nhigh="big"\n', "must be [mean, sd]"),
])
def test_bad_bias_prior_file_is_an_error_naming_file_and_key(tmp_path, text, fragment):
    p = tmp_path / "mine.toml"
    p.write_text(text)
    with pytest.raises(PriorError) as e:
        load_bias_prior(p)
    assert fragment in str(e.value) and "mine.toml" in str(e.value)


def test_spec_bias_table_errors(tmp_path):
    base = (tmp_path / "s.toml")
    base.write_text('[analysis]\noutcome = "OS"\n[evidence]\ntreatment = "ici_cont_2l"\n[bias]\nprior = "nope"\n')
    with pytest.raises(SpecError, match=r"\[bias.prior\].*not found"):
        sm.load_spec(base)
    base.write_text('[analysis]\noutcome = "OS"\n[evidence]\nkind = "prognostic"\nfactor = "liver_metastases"\n[bias]\n')
    with pytest.raises(SpecError, match="treatment-effect analyses"):
        sm.load_spec(base)

"""The bundled report.html as a clinician opens it in Chromium at 1400 x 900 (issue 13): the answers fill the
first screen, nothing is wider than the window, every figure renders, every in-page link resolves, the page is
under 2 MB, and the live prior explorer reproduces the Python exact solver."""

from __future__ import annotations

import json

import numpy as np
import pytest

import sclcmeta as sm
from sclcmeta.engine import GaussianModel, solve_exact
from sclcmeta.priors import default_prior_set

pytestmark = [pytest.mark.mcmc, pytest.mark.browser]

_OPEN_ALL = "document.querySelectorAll('details').forEach(d => d.open = true)"


@pytest.fixture()
def page(report, browser):
    browser.get((report / "report.html").as_uri())
    return browser


def test_report_html_is_under_2_mb(report):
    assert (report / "report.html").stat().st_size < 2_000_000


def test_first_screen_at_1400x900_shows_the_answer_table(page):
    box = page.execute_script("""
        const t = document.getElementById('answer-table').getBoundingClientRect();
        const rows = Array.from(document.querySelectorAll('#answer-table tbody tr:not(.qhead)'));
        const seen = rows.filter(r => r.getBoundingClientRect().bottom <= window.innerHeight).length;
        const firstQ = rows.map(r => r.cells[0].textContent);
        return {top: t.top, seen: seen, n: rows.length, w: window.innerWidth, h: window.innerHeight,
                prov: document.getElementById('provenance').getBoundingClientRect().top, q: firstQ};""")
    assert (box["w"], box["h"]) == (1400, 900)
    assert box["top"] < 120                               # the table starts under the title, nothing before it
    assert box["seen"] >= min(box["n"], 8)                # the answers fill the first screen (all 18 today)
    assert box["prov"] > 900                              # provenance is at the end, not on the first screen
    assert {"Q1 OS", "Q1 PFS", "Q5 OS", "Q5 PFS"} <= set(box["q"])


def test_no_element_is_wider_than_the_viewport_with_every_section_open(page):
    page.execute_script(_OPEN_ALL)
    wide = page.execute_script("""
        const W = window.innerWidth;
        return Array.from(document.querySelectorAll('body *')).filter(e => {
            const r = e.getBoundingClientRect(); return r.width > 0 && (r.right > W + 0.5 || r.left < -0.5);
        }).slice(0, 5).map(e => e.tagName + ': ' + (e.textContent || '').slice(0, 60));""")
    assert wide == []
    assert page.execute_script("return document.documentElement.scrollWidth") <= 1400


def test_every_figure_renders_and_every_in_page_link_resolves(page, report):
    page.execute_script(_OPEN_ALL)
    imgs = page.execute_script("return Array.from(document.images).map(i => [i.alt, i.complete && i.naturalWidth > 0])")
    assert len(imgs) == len(list((report / "figures").glob("*.png")))
    assert [a for a, ok in imgs if not ok] == []
    links = page.execute_script("return Array.from(document.querySelectorAll('a[href^=\"#\"]')).map(a => a.getAttribute('href'))")
    missing = page.execute_script("return arguments[0].filter(h => !document.getElementById(h.slice(1)))", links)
    assert missing == []
    toc = set(page.execute_script("return Array.from(document.querySelectorAll('#contents a')).map(a => a.getAttribute('href'))"))
    assert {f"#a-{s.name}" for s in sm.list_specs()} <= toc   # every analysis is in the table of contents


def test_failed_sensitivity_settings_are_marked_in_the_page(page, report):
    import pandas as pd

    sens = pd.read_csv(report / "sensitivity.csv")
    bad = sens[sens["gate"].astype(str).str.startswith("FAILED")]
    marked = page.execute_script("""return Array.from(document.querySelectorAll('#sensitivity tr.failed'))
                                     .map(r => r.cells[0].textContent)""")
    assert len(marked) == len(bad)
    assert set(bad.loc[bad["kind"] == "prior", "setting"]) <= set(marked)


# -- the live prior explorer vs the Python exact solver ---------------------------------------------------------

_SETTINGS = [  # (controls set in the page, the same priors for sclcmeta.engine.exact)
    ({"family": "half_normal", "scale": 0.5, "mean": 0.0, "sd": 2.0}, ("normal(0, 2)", "half_normal(0.5)")),
    ({"family": "half_cauchy", "scale": 0.3, "mean": 0.0, "sd": 0.175}, ("normal(0, 0.175)", "half_cauchy(0.3)")),
    ({"family": "uniform", "scale": 2.0, "mean": -0.2877, "sd": 0.175}, ("normal(-0.2877, 0.175)", "uniform(0, 2)")),
    ({"family": "log_normal", "lnmu": -2.56, "lnsigma": 1.74, "mean": 0.0, "sd": 10.0},
     ("normal(0, 10)", "log_normal(-2.56, 1.74)")),
]

_SET = """
    const box = document.querySelector(`#a-${arguments[0]} .explorer`);
    const vals = arguments[1];
    for (const [k, v] of Object.entries(vals)) {
        const el = box.querySelector(`[data-k='${k}']`); el.value = v;
        el.dispatchEvent(new Event('input', {bubbles: true}));
    }
    const o = box.querySelector('.ex-out').dataset;
    return [+o.median, +o.lo, +o.hi, +o.p1];"""


@pytest.mark.parametrize("name", ["q1_continuation_os", "q5_any_ici_pfs"])
def test_prior_explorer_matches_the_exact_solver_for_four_prior_settings(page, name):
    res = sm.run_spec(sm.load_spec(name), method="exact")      # the estimates, independently of the page
    model = GaussianModel.random_effects(res.model.y, res.model.se)
    for controls, (effect, tau) in _SETTINGS:
        got = page.execute_script(_SET, name, controls)
        mu = solve_exact(model, default_prior_set().replace(effect=effect, tau=tau)).coef("mu")
        want = [*np.asarray(mu.quantile([0.5, 0.025, 0.975]), float), mu.prob_below(0.0)]
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=0, err_msg=f"{name} {effect} {tau}")


def test_prior_explorer_presets_are_the_bundled_prior_sets(page):
    data = json.loads(page.execute_script("return document.querySelector('#a-q1_continuation_os .explorer').dataset.model"))
    page.execute_script("document.querySelector(\"#a-q1_continuation_os .explorer button[data-preset='sceptical']\").click()")
    mean, sd = page.execute_script("""const b = document.querySelector('#a-q1_continuation_os .explorer');
        return [+b.querySelector("[data-k='mean']").value, +b.querySelector("[data-k='sd']").value]""")
    sceptical = sm.load_prior_set("sceptical").effect
    assert (mean, sd) == (sceptical["mean"], sceptical["sd"]) == (data["presets"]["sceptical"]["mean"], 0.175)
    enthusiastic = sm.load_prior_set("enthusiastic").effect
    assert data["presets"]["enthusiastic"]["mean"] == pytest.approx(enthusiastic["mean"])

"""The one forest plot (sclcmeta.plots.forest) and the four adapters that draw through it."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
from matplotlib.colors import to_rgba

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import sclcmeta as sm  # noqa: E402
from sclcmeta.plots import (plot_contrasts, plot_forest, plot_moderator_forest,  # noqa: E402
                            plot_sensitivity)
from sclcmeta.plots.forest import MUTED, WATERMARK, ForestRow, forest  # noqa: E402


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _rows():
    return [ForestRow("Header", style="header"),
            (ForestRow("Study A", 0.6, 0.4, 0.9, "study", text="0.60", offset=0.12),
             ForestRow("Study A", 0.65, 0.5, 0.85, "shrunken", text="0.65", offset=-0.12)),
            ForestRow("Study B (not used)", 1.8, 1.2, 2.7, "muted", text="1.80"),
            ForestRow("Pooled", 0.7, 0.45, 1.1, "pooled", text="0.70 (0.45-1.10)"),
            ForestRow("Predictive", 0.7, 0.3, 1.6, "predictive")]


def _ytick_labels(fig):
    return [t.get_text() for t in fig.axes[0].get_yticklabels()]


def _texts(ax):
    return [t.get_text() for t in ax.texts]


def test_pooled_row_is_a_diamond_at_its_median_and_interval():
    fig = forest(_rows(), title="t", xlabel="HR")
    ax = fig.axes[0]
    (diamond,) = ax.patches
    xy = diamond.get_xy()
    assert xy[:, 0].min() == pytest.approx(0.45) and xy[:, 0].max() == pytest.approx(1.1)
    assert xy[np.argmax(xy[:, 1]), 0] == pytest.approx(0.7)  # the apex sits at the median
    y_pooled = 1  # fourth of five lines, counted from the top
    assert xy[:, 1].mean() == pytest.approx(y_pooled, abs=0.1)
    assert ax.get_xscale() == "log"


def test_rows_sharing_a_line_get_one_label_and_joined_text():
    fig = forest(_rows(), title="t", xlabel="HR")
    assert _ytick_labels(fig) == ["Header", "Study A", "Study B (not used)", "Pooled", "Predictive"]
    assert "0.60 -> 0.65" in _texts(fig.axes[0])


def test_interval_lines_span_lo_to_hi_at_the_row_offset():
    ax = forest(_rows(), title="t", xlabel="HR").axes[0]
    spans = {(tuple(np.round(ln.get_xdata(), 6)), round(float(ln.get_ydata()[0]), 6)) for ln in ax.lines
             if len(ln.get_xdata()) == 2 and ln.get_xdata()[0] != ln.get_xdata()[1]}
    assert ((0.4, 0.9), 3.12) in spans and ((0.5, 0.85), 2.88) in spans


def test_muted_rows_are_grey():
    ax = forest(_rows(), title="t", xlabel="HR").axes[0]
    muted = [ln for ln in ax.lines if list(ln.get_xdata()) in ([1.2, 2.7], [1.8])]
    assert muted and all(to_rgba(ln.get_color()) == to_rgba(MUTED) for ln in muted)
    label = next(t for t in ax.get_yticklabels() if t.get_text() == "Study B (not used)")
    r, g, b, _ = to_rgba(label.get_color())
    assert r == g == b and r > 0  # grey, not black


def test_header_rows_are_bold_and_draw_nothing():
    ax = forest([ForestRow("H", style="header"), ForestRow("x", 1.0, 0.5, 2.0)], title="", xlabel="").axes[0]
    assert ax.get_yticklabels()[0].get_fontweight() == "bold"
    assert all(ln.get_ydata()[0] != 1 for ln in ax.lines if len(ln.get_ydata()) == 2 and
               ln.get_ydata()[0] == ln.get_ydata()[1])


def test_watermark_only_when_failed():
    assert WATERMARK in _texts(forest(_rows(), title="t", xlabel="HR", failed=True).axes[0])
    assert WATERMARK not in _texts(forest(_rows(), title="t", xlabel="HR").axes[0])


def test_legend_names_each_kind_once():
    rows = [ForestRow("a", 0.5, 0.3, 0.8, legend="reported"), ForestRow("b", 0.6, 0.4, 0.9, legend="reported"),
            ForestRow("p", 0.55, 0.4, 0.8, "pooled", legend="pooled")]
    fig = forest(rows, title="t", xlabel="HR")
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["reported", "pooled"]


def test_draws_into_a_given_axes():
    fig, ax = plt.subplots()
    assert forest(_rows(), title="t", xlabel="HR", ax=ax) is fig


def test_unknown_style_is_refused():
    with pytest.raises(ValueError, match="style"):
        ForestRow("x", 1.0, 0.5, 2.0, style="bogus")


# ---- adapters ---------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pairwise_fit():
    eff = sm.EffectData.from_arrays([-0.4, -0.2, -0.5], [0.2, 0.15, 0.25])
    return sm.fit(eff)


def test_plot_forest_has_a_row_per_study_plus_pooled_and_predictive(pairwise_fit):
    fig = plot_forest(pairwise_fit, title="three studies")
    s = pairwise_fit.summary()
    n = int(s["quantity"].isin(["study", "pooled", "predictive"]).sum())
    assert isinstance(fig, matplotlib.figure.Figure)
    labels = _ytick_labels(fig)
    assert len(labels) == n and labels[-2:] == ["Pooled HR", "Predictive (new cohort)"]
    pooled = s[s["quantity"] == "pooled"].iloc[0]
    xy = fig.axes[0].patches[0].get_xy()
    assert xy[:, 0].min() == pytest.approx(pooled["hr_q2.5"]) and xy[:, 0].max() == pytest.approx(pooled["hr_q97.5"])
    assert fig.axes[0].get_title(loc="left") == "three studies"


def test_plot_contrasts_has_a_row_per_contrast_vs_the_reference():
    res = sm.run_spec(sm.load_spec("q2_network_2l_os"), method="exact")
    fig = plot_contrasts(res)
    ref = res.label(res.net.reference)
    s = res.summary()
    s = s[s["bias"] != "unadjusted"]           # the primary (bias-adjusted) answer is what the plot shows
    expected = s[((s["quantity"] == "contrast") & s["comparison"].str.endswith(f" vs {ref}"))
                 | s["quantity"].isin(["class_mean", "class_difference"])]["comparison"].tolist()
    assert isinstance(fig, matplotlib.figure.Figure)
    assert _ytick_labels(fig) == expected


def test_plot_moderator_forest_interaction_rows():
    res = sm.run_spec(sm.load_spec("q3_liver_interaction_os"), method="exact")
    fig = plot_moderator_forest(res)
    labels = _ytick_labels(fig)
    mod = res.moderator
    n_pairs = len(res.effects.pairs)
    n_sub = sum(q.quantity == "subgroup" for q in res.quantities)
    n_pred = sum(q.quantity == "predictive" for q in res.quantities)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(labels) == 1 + 2 * n_pairs + n_sub + 1 + n_pairs + 1 + n_pred
    assert labels[0] == "Treatment HR by subgroup"
    assert f"Ratio of HRs ({mod.index_label} / {mod.reference_label})" in labels
    assert f"Pooled {res.primary}" in labels
    assert any(t.endswith("[derived]") for t in labels)


def test_plot_sensitivity_has_a_row_per_setting():
    table = sm.run_sensitivity(sm.load_spec("q1_continuation_os"), method="exact", prior_files=None).table
    fig = plot_sensitivity(table, title="sensitivity")
    assert isinstance(fig, matplotlib.figure.Figure)
    assert _ytick_labels(fig) == [str(s) for s in table["setting"]]
    assert WATERMARK not in _texts(fig.axes[0])


def test_plot_moderator_forest_prognostic_greys_estimates_not_used():
    res = sm.run_spec(sm.load_spec("q3_liver_prognostic_os"), method="exact")
    ax = plot_moderator_forest(res).axes[0]
    not_used = [t for t in ax.get_yticklabels() if "[not used]" in t.get_text() or "[excluded" in t.get_text()]
    assert not_used and all(to_rgba(t.get_color()) != to_rgba("black") for t in not_used)
    assert any(to_rgba(ln.get_color()) == to_rgba(MUTED) for ln in ax.lines)


def test_forest_of_a_bias_adjusted_fit_shows_the_printed_estimates_and_both_pooled_answers(evidence):
    res = sm.run_spec(sm.load_spec("q5_any_ici_pfs"), evidence, method="exact")
    fig = plot_forest(res)
    labels = _ytick_labels(fig)
    assert labels.count("Zhang 2025a") == 1 and "Pooled HR, bias-adjusted" in labels
    assert "Pooled HR, unadjusted for bias" in labels
    texts = [t.get_text() for t in fig.axes[0].texts]
    printed = evidence.data.set_index("id").loc["zhang2025a_pfs_2lici_psm"]
    # the reported mark is the HR as printed (not the bias-shifted value the model holds)
    assert any(t.startswith(f"{float(printed['hr']):.2f} ({float(printed['ci_low']):.2f}-{float(printed['ci_high']):.2f})")
               for t in texts)

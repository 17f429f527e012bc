"""With few studies a random-effects fit says what the heterogeneity prior is doing (issue 14 item 4)."""

from __future__ import annotations

import warnings

import pytest

import sclcmeta as sm
from sclcmeta.errors import SmallEvidenceWarning


def _fit(k, model="random_effects"):
    eff = sm.EffectData.from_arrays([-0.3] * k, [0.2] * k)
    return sm.fit(eff, model=model, method="exact")


def test_one_study_warns_that_tau_is_the_prior():
    with pytest.warns(SmallEvidenceWarning, match="one study only: tau .* is the prior"):
        _fit(1)


def test_fewer_than_five_studies_warn_that_tau_is_mostly_prior_driven():
    with pytest.warns(SmallEvidenceWarning, match="3 studies: tau is mostly prior-driven"):
        _fit(3)


@pytest.mark.parametrize("k,model", [(5, "random_effects"), (1, "fixed_effect"), (3, "fixed_effect")])
def test_no_warning_with_five_studies_or_without_tau(k, model):
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallEvidenceWarning)
        _fit(k, model)

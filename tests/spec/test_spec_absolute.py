"""The optional [absolute] table of a spec: a named baseline or an exponential median, with clear errors."""

from __future__ import annotations

import pytest

from sclcmeta import load_spec
from sclcmeta.errors import SpecError


def _spec(tmp_path, body: str):
    src = load_spec("q1_continuation_os").path
    p = tmp_path / "s.toml"
    p.write_text(open(src).read() + "\n[absolute]\n" + body + "\n")
    return p


def test_absolute_table_is_optional_and_read_when_given(tmp_path):
    assert load_spec("q1_continuation_os").absolute == {}
    assert load_spec(_spec(tmp_path, 'baseline = "dellphi304_chemo_os"\ntimes = [6, 18]')).absolute == {
        "baseline": "dellphi304_chemo_os", "times": [6.0, 18.0]}
    assert load_spec(_spec(tmp_path, "median_months = 5")).absolute == {"median_months": 5.0}


@pytest.mark.parametrize("body,needle", [
    ("median_months = -1", "[absolute.median_months]"),
    ('baseline = "x"\nmedian_months = 3.0', "either baseline"),
    ("mediam = 2", "[absolute.mediam] unknown key"),
    ("times = [0]", "[absolute.times"),
])
def test_bad_absolute_tables_name_the_key(tmp_path, body, needle):
    with pytest.raises(SpecError) as e:
        load_spec(_spec(tmp_path, body))
    assert needle in str(e.value)

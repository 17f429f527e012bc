"""Random malformed CSVs and specs give a package error or a valid result, never another exception (issue 15.7).

Bounded here (CI); ``python benchmarks/fuzz_inputs.py --examples N`` runs the same properties longer.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from .inputs import any_csv, check_csv, check_spec, spec_edits

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(text=any_csv())
def test_random_csvs_give_a_package_error_or_a_result(tmp_path, text):
    assert check_csv(tmp_path, text) in (0, 1, 2)


@FUZZ
@given(edits=spec_edits())
def test_random_spec_edits_give_a_package_error_or_a_spec(tmp_path, edits):
    assert check_spec(tmp_path, edits) in (0, 2)

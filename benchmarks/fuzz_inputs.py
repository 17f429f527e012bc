"""Longer run of the input fuzz properties of tests/fuzz (issue 15.7): random malformed CSVs and spec edits.

    python benchmarks/fuzz_inputs.py --examples 2000

Prints the number of generated inputs tried per property; any exception other than the package's own fails.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hypothesis import HealthCheck, given, settings  # noqa: E402

from tests.fuzz.inputs import any_csv, check_csv, check_spec, spec_edits  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--examples", type=int, default=2000, help="inputs per property (default 2000)")
    n = ap.parse_args().examples
    cfg = settings(max_examples=n, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    counts = {}
    for name, strategy, inner in (("csv", any_csv(), check_csv), ("spec", spec_edits(), check_spec)):
        tried = [0]
        ok = [0]

        @cfg
        @given(x=strategy)
        def run(x):
            tried[0] += 1
            with tempfile.TemporaryDirectory() as d, contextlib.redirect_stdout(io.StringIO()), \
                    contextlib.redirect_stderr(io.StringIO()):
                ok[0] += inner(Path(d), x) == 0

        t0 = time.perf_counter()
        run()
        counts[name] = (tried[0], time.perf_counter() - t0)
        print(f"{name}: {tried[0]} generated inputs ({ok[0]} valid results, {tried[0] - ok[0]} package errors), "
              f"no exception other than sclcmeta's ({counts[name][1]:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

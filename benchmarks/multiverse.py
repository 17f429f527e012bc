#!/usr/bin/env python
"""The multiverse on a local Dask cluster with 1 and 2 worker processes vs the plain in-process loop.

    python benchmarks/multiverse.py [--specs q1_continuation_os ...] [--repeats 3] [--out benchmarks/multiverse]

One workload (default: the four Q1/Q5 pairwise specs, every prior set x evidence choice x leave-one-out,
exact solver) is run

* as a plain loop in this process (``scheduler="synchronous"``, no Dask);
* on a ``LocalCluster`` of 1 and of 2 worker processes (1 thread each): *cold* = starting the cluster,
  the workers importing sclcmeta, and the run (once); *warm* = the run on a cluster already up.

Warm times are medians of ``--repeats`` runs; ratios are loop time / cluster time (above 1: the cluster is
faster). Every run's table is compared with the loop's (exact equality). Writes ``<out>.md`` and
``<out>.json``. The machine may be shared: the load average at start and end is recorded.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import logging
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPECS = ["q1_continuation_os", "q1_continuation_pfs", "q5_any_ici_os", "q5_any_ici_pfs"]


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _worker_peak_rss_mb(client) -> list[float]:
    """Peak resident memory of every worker process (ru_maxrss, KiB on Linux)."""
    usage = client.run(resource.getrusage, resource.RUSAGE_SELF)
    return sorted(round(u.ru_maxrss / 1024, 1) for u in usage.values())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--specs", nargs="+", default=SPECS, help=f"analysis specs (default: {' '.join(SPECS)})")
    ap.add_argument("--repeats", type=int, default=3, help="warm runs per runner (median reported; default 3)")
    ap.add_argument("--out", default=str(HERE / "multiverse"), help="output prefix for .md/.json")
    args = ap.parse_args(argv)

    import dask
    import distributed
    import pandas as pd
    from dask.distributed import Client, LocalCluster

    import sclcmeta as sm
    from sclcmeta.runner import SYNCHRONOUS

    load0, t_start = _load(), _dt.datetime.now(_dt.timezone.utc)
    evidence = sm.read_evidence()
    specs = [sm.load_spec(s) for s in args.specs]

    def run(scheduler):
        t = time.perf_counter()
        mv = sm.multiverse(specs, evidence=evidence, scheduler=scheduler)
        return time.perf_counter() - t, mv

    run(SYNCHRONOUS)                                     # warm this process's imports and caches once
    loop_times, ref = [], None
    for _ in range(args.repeats):
        dt, mv = run(SYNCHRONOUS)
        loop_times.append(dt)
        ref = mv if ref is None else ref
    n_settings = len(ref.headline())
    print(f"plain loop: {n_settings} settings, median {statistics.median(loop_times):.2f} s", flush=True)
    rows = [{"runner": "plain loop in this process (no Dask)", "workers": 0, "cold_s": None,
             "warm_s": statistics.median(loop_times), "warm_runs_s": loop_times, "equal_to_loop": True,
             "worker_peak_rss_mb": []}]
    for n in (1, 2):
        t = time.perf_counter()
        cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                               silence_logs=logging.CRITICAL)
        client = Client(cluster)
        start = time.perf_counter() - t
        try:
            dt, mv = run(client)
            cold = start + dt
            equal = mv.table.equals(ref.table)
            warm = []
            for _ in range(args.repeats):
                dt, mv = run(client)
                warm.append(dt)
                equal &= mv.table.equals(ref.table)
            rss = _worker_peak_rss_mb(client)
        finally:
            client.close()
            cluster.close()
        print(f"LocalCluster {n} worker(s): start {start:.1f} s, cold {cold:.2f} s, warm median "
              f"{statistics.median(warm):.2f} s, table equal to the loop: {equal}", flush=True)
        rows.append({"runner": f"LocalCluster, {n} worker process{'es' if n > 1 else ''} x 1 thread", "workers": n,
                     "cluster_start_s": start, "cold_s": cold, "warm_s": statistics.median(warm), "warm_runs_s": warm,
                     "equal_to_loop": bool(equal), "worker_peak_rss_mb": rss})
    loop = rows[0]["warm_s"]
    for r in rows:
        r["speedup_warm"] = loop / r["warm_s"]
        r["speedup_cold"] = loop / r["cold_s"] if r["cold_s"] else None
    main_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res = {"date": t_start.strftime("%Y-%m-%d %H:%M UTC"), "load_average_start": load0, "load_average_end": _load(),
           "machine": {"cpus": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)),
                       "platform": platform.platform(), "python": platform.python_version()},
           "versions": {"sclcmeta": sm.__version__, "dask": dask.__version__, "distributed": distributed.__version__,
                        "pandas": pd.__version__},
           "specs": args.specs, "settings": n_settings, "tasks_not_estimable": int((ref.headline()["status"] != "ok").sum()),
           "repeats": args.repeats, "main_process_peak_rss_mb": round(main_rss, 1), "rows": rows}
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(res, indent=1))
    md = [f"# Multiverse on dask.distributed vs a plain loop ({res['date']})\n",
          f"Workload: {n_settings} settings ({', '.join(args.specs)}; every prior set in models/priors/ x evidence "
          f"choice x leave-one-out; exact solver), one task per setting. Machine: {res['machine']['usable_cpus']} "
          f"usable cores, shared with other users (load average {load0} at the start, {res['load_average_end']} at "
          f"the end), so absolute times are inflated and noisy; compare the ratios. dask/distributed "
          f"{distributed.__version__}; command `python benchmarks/multiverse.py"
          f"{' --repeats ' + str(args.repeats) if args.repeats != 3 else ''}`.\n",
          "| runner | cluster start | cold run (start + workers import sclcmeta + run) | warm run (median of "
          f"{args.repeats}) | per setting (warm) | speed-up vs loop, warm | speed-up vs loop, cold | table equal to "
          "the loop | worker peak RSS |",
          "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        start = f"{r['cluster_start_s']:.1f} s" if r["workers"] else "-"
        cold = f"{r['cold_s']:.1f} s" if r["cold_s"] else "-"
        sc = f"{r['speedup_cold']:.2f}x" if r["speedup_cold"] else "-"
        rss = ", ".join(f"{x:.0f} MB" for x in r["worker_peak_rss_mb"]) or f"(main process {main_rss:.0f} MB)"
        md.append(f"| {r['runner']} | {start} | {cold} | {r['warm_s']:.2f} s | {1000 * r['warm_s'] / n_settings:.0f} ms "
                  f"| {r['speedup_warm']:.2f}x | {sc} | {'yes' if r['equal_to_loop'] else 'NO'} | {rss} |")
    md.append("\nCold runs pay for starting the worker processes and importing sclcmeta (NumPy, SciPy, ArviZ, "
              "PyMC) in each; a long multiverse or a cluster kept running (`--scheduler`) pays it once.\n")
    out.with_suffix(".md").write_text("\n".join(md))
    print("\n".join(md))
    print(f"wrote {out.with_suffix('.md')}, {out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

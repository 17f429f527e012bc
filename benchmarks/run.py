#!/usr/bin/env python
"""sclcmeta benchmark suite: one command, one run, one Markdown table.

    python benchmarks/run.py [--quick] [--out benchmarks/results.md] [--cases a,b,...] [--no-tracemalloc]

Cases (see benchmarks/README.md for what every row means):

  exact          exact solver (solve_exact and fit_model(method="exact")) on the Q1 OS random-effects data
  mcmc           fit_model(method="mcmc"), nutpie 4 x 1000: first fit (compile) and steady state; exact agreement
  sweep_compiled 20 prior settings by fit_model with one CompileCache (compiled once, new data buffer after)
  sweep_compiled_warm  the same, after another process has filled the (empty) numba disk cache
  sweep_pytensor the same 20 settings through nutpie.compile_pymc_model of the PyMC graph (the previous path)
  sweep_fresh    the same 20 settings the naive way: a fresh pm.Model per setting and pm.sample (PyMC NUTS)
  sweep_exact    the same 20 settings by the exact solver
  report         build_report cold (fresh process, empty compile caches) and warm (second call, same process)
  network        the network specs in models/ through sclcmeta.analyses.network
  pymare         PyMARE DerSimonianLaird and REML on the same y, v
  metafor        R metafor rma(REML / DL), timed inside R (if Rscript and metafor are installed)

Every case runs in its own fresh Python subprocess with empty PyTensor and numba caches (a private
``compiledir`` and ``NUMBA_CACHE_DIR``), so "first fit" numbers include all compilation. Peak memory:

* max RSS: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` of the case process after its timing pass
  (includes the imports; the RSS after imports is shown as well); child processes (PyMC worker
  processes, the C compiler, Rscript) are reported separately as ``RUSAGE_CHILDREN`` max RSS;
* Python peak: ``tracemalloc`` peak during the workload (started after the imports), measured in a
  second, separate run of the case, because tracemalloc slows Python-heavy code 3-6x and would
  distort the timings. For the sweeps that pass runs only the first few settings (stated in the table).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

Q1_SELECTION = dict(outcome="OS", treatment=["ici_cont_2l", "ici_same_2l", "serplulimab_2l"],
                    comparator="no_ici_2l")

#: The 20 prior settings of the sweep: (label, effect prior, tau prior).
SETTINGS = [
    ("tau half_normal(0.1)", "normal(0, 2)", "half_normal(0.1)"),
    ("tau half_normal(0.25)", "normal(0, 2)", "half_normal(0.25)"),
    ("tau half_normal(0.5) [default]", "normal(0, 2)", "half_normal(0.5)"),
    ("tau half_normal(0.75)", "normal(0, 2)", "half_normal(0.75)"),
    ("tau half_normal(1.0)", "normal(0, 2)", "half_normal(1.0)"),
    ("tau half_cauchy(0.1)", "normal(0, 2)", "half_cauchy(0.1)"),
    ("tau half_cauchy(0.5)", "normal(0, 2)", "half_cauchy(0.5)"),
    ("tau half_cauchy(1.0)", "normal(0, 2)", "half_cauchy(1.0)"),
    ("tau uniform(0, 1)", "normal(0, 2)", "uniform(0, 1)"),
    ("tau uniform(0, 2)", "normal(0, 2)", "uniform(0, 2)"),
    ("tau uniform(0, 5)", "normal(0, 2)", "uniform(0, 5)"),
    ("tau log_normal(-2.56, 1.74) [Turner]", "normal(0, 2)", "log_normal(-2.56, 1.74)"),
    ("tau log_normal(-3.5, 1.5)", "normal(0, 2)", "log_normal(-3.5, 1.5)"),
    ("tau exponential(2)", "normal(0, 2)", "exponential(2)"),
    ("tau exponential(5)", "normal(0, 2)", "exponential(5)"),
    ("effect normal(0, 1)", "normal(0, 1)", "half_normal(0.5)"),
    ("effect normal(0, 10)", "normal(0, 10)", "half_normal(0.5)"),
    ("effect normal(-0.29, 0.175) [enthusiastic]", "normal(-0.2877, 0.175)", "half_normal(0.5)"),
    ("effect student_t(0, 1, 3)", "student_t(0, 1, 3)", "half_normal(0.5)"),
    ("effect student_t(0, 2.5, 1), tau half_cauchy(0.5)", "student_t(0, 2.5, 1)", "half_cauchy(0.5)"),
]
QUICK_SETTINGS = [0, 2, 6, 11, 18]      # indices used by --quick (the fresh sweep uses the first 3 of them)

QS = (0.025, 0.5, 0.975)
#: MCMC length of every benchmark fit (fit_model's own default is 4 x 4000): the same as the fresh pm.sample
DRAWS, TUNE = 1000, 1000


# =================================================================================================
# helpers used inside the case processes
# =================================================================================================
def _rss_now_mb() -> dict:
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(("VmRSS", "VmHWM")):
                k, v = line.split(":")
                out[k] = int(v.split()[0]) / 1024
    except OSError:
        pass
    return out


def _cpu() -> dict:
    s, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"self": s.ru_utime + s.ru_stime, "children": c.ru_utime + c.ru_stime}


def _quiet():
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    for name in ("pymc", "pytensor", "numba", "arviz"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _q1_model():
    import sclcmeta as sm
    from sclcmeta.engine.build import model_from_effects

    eff = sm.select_estimates(sm.read_evidence(), **Q1_SELECTION)
    return eff, model_from_effects(eff)


def _priorset(effect: str, tau: str):
    import sclcmeta as sm

    return sm.default_prior_set().replace(effect=effect, tau=tau)


def _mcmc_summary(idata, diag=None, var="b", sel=None) -> dict:
    import arviz as az
    import numpy as np

    x = idata.posterior[var]
    if sel is not None:
        x = x.sel(**sel)
    q = np.quantile(x.values.ravel(), QS)
    ds = x.to_dataset(name="v")
    mcse = [float(az.mcse(ds, method="quantile", prob=p)["v"].values) for p in QS]
    out = {"q": [float(v) for v in q], "mcse": mcse}
    if "tau" in idata.posterior:
        out["tau_median"] = float(np.median(idata.posterior["tau"].values))
    if diag is not None:
        out.update(r_hat=diag.r_hat, ess_bulk=diag.ess_bulk, divergences=diag.divergences, gate=diag.passed)
    return out


def _exact_summary(post) -> dict:
    import numpy as np

    return {"q": [float(v) for v in post.coef("mu").quantile(list(QS))],
            "tau_median": float(np.asarray(post.variance_marginal("tau").quantile(0.5)).ravel()[0]),
            "p_hr_below_1": float(post.coef("mu").prob_below(0.0))}


def _sweep_result(rows: list[dict], **extra) -> dict:
    """Totals of a sweep from its per-fit times (each case says what its timer covers): the sum, the first
    fit (which compiles) and the median of the others."""
    steady = [r["seconds"] for r in rows[1:]]
    return {"n": len(rows), "total": sum(r["seconds"] for r in rows), "first": rows[0]["seconds"],
            "steady_median": statistics.median(steady) if steady else None, **extra, "rows": rows}


def _settings(cfg) -> list:
    idx = QUICK_SETTINGS if cfg["quick"] else list(range(len(SETTINGS)))
    return [SETTINGS[i] for i in idx]


# =================================================================================================
# cases: each returns a dict; timings in seconds; "ctx" carries mem-pass limits
# =================================================================================================
def case_exact(cfg, ctx):
    import numpy as np

    from sclcmeta.engine.exact import solve_exact
    from sclcmeta.fitting import fit_model
    import sclcmeta as sm

    ctx.imports_done()
    eff, gm = _q1_model()
    ps = sm.default_prior_set()
    for _ in range(3):
        solve_exact(gm, ps)
    n = 50 if cfg["quick"] else 300
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        post = solve_exact(gm, ps)
        ts.append(time.perf_counter() - t)
    m = 10 if cfg["quick"] else 40
    tf = []
    for _ in range(m):
        t = time.perf_counter()
        fit_model(gm, ps, method="exact")
        tf.append(time.perf_counter() - t)
    return {"solve_exact": {"n": n, "median": statistics.median(ts), "p10": float(np.quantile(ts, 0.1)),
                            "p90": float(np.quantile(ts, 0.9)), "min": min(ts)},
            "fit_model_exact": {"n": m, "median": statistics.median(tf), "p10": float(np.quantile(tf, 0.1)),
                                "p90": float(np.quantile(tf, 0.9))},
            "estimates": _exact_summary(post),
            "data": {"y": gm.y.tolist(), "se": gm.se.tolist(), "studies": list(gm.studies)}}


def case_mcmc(cfg, ctx):
    import sclcmeta as sm
    from sclcmeta.engine import native
    from sclcmeta.fitting import CompileCache, fit_model

    ctx.imports_done()
    _quiet()
    eff, gm = _q1_model()
    ps = sm.default_prior_set()
    cache = CompileCache()
    t = time.perf_counter()
    native.compiled_model(gm, ps, cache.get(gm, ps, "nutpie")["layout"])   # compiles the numba callbacks (cold)
    t_compile = time.perf_counter() - t
    t = time.perf_counter()
    raw = fit_model(gm, ps, method="mcmc", cache=cache, seed=1, draws=DRAWS, tune=TUNE)
    t_first_sample = time.perf_counter() - t
    reps = ctx.limit(2 if cfg["quick"] else 6)
    ts = []
    for i in range(reps):
        t = time.perf_counter()
        fit_model(gm, ps, method="mcmc", cache=cache, seed=2 + i, draws=DRAWS, tune=TUNE)
        ts.append(time.perf_counter() - t)
    return {"compile": t_compile, "first_fit_sampling": t_first_sample, "first_fit_total": t_compile + t_first_sample,
            "steady": {"n": reps, "median": statistics.median(ts) if ts else None, "all": ts},
            "cache": {"hits": cache.hits, "misses": cache.misses},
            "draws": "4 chains x 1000 draws (+1000 tune), nutpie, target_accept 0.9",
            "estimates": _mcmc_summary(raw.idata, raw.diagnostics, sel={"coef": "mu"})}


def case_sweep_compiled(cfg, ctx):
    from sclcmeta.engine import native  # noqa: F401  (numba is imported here; it compiles on first use)
    from sclcmeta.fitting import CompileCache, fit_model

    ctx.imports_done()
    _quiet()
    eff, gm = _q1_model()
    cache = CompileCache()
    rows = []
    settings = _settings(cfg)[: ctx.limit(len(_settings(cfg)))]
    for label, e, tau in settings:
        t = time.perf_counter()
        raw = fit_model(gm, _priorset(e, tau), method="mcmc", cache=cache, seed=1, draws=DRAWS, tune=TUNE)
        dt = time.perf_counter() - t
        rows.append({"setting": label, "seconds": dt, **_mcmc_summary(raw.idata, raw.diagnostics, sel={"coef": "mu"})})
    return _sweep_result(rows, cache={"hits": cache.hits, "misses": cache.misses})


def case_sweep_compiled_warm(cfg, ctx):
    """The compiled sweep once the numba disk cache holds the callbacks (every run after the first)."""
    warm = subprocess.run([sys.executable, "-c", "from sclcmeta.engine import native; "
                           "native._logp_callback(True); native._expand_callback()"], capture_output=True, text=True)
    if warm.returncode != 0:
        raise RuntimeError(f"warming the numba cache failed: {warm.stderr[-500:]}")
    return case_sweep_compiled(cfg, ctx)


def case_sweep_pytensor(cfg, ctx):
    """The previous path: nutpie compiles the PyMC graph (PyTensor -> numba) once, then with_data per setting."""
    import nutpie

    from sclcmeta.engine.pymc_model import build_pymc_model, data_values, prior_data
    from sclcmeta.fitting import _augment, check_convergence

    ctx.imports_done()
    _quiet()
    eff, gm = _q1_model()
    rows, compiled = [], None
    settings = _settings(cfg)[: ctx.limit(len(_settings(cfg)))]
    for label, e, tau in settings:
        ps = _priorset(e, tau)
        t = time.perf_counter()
        if compiled is None:
            compiled = nutpie.compile_pymc_model(build_pymc_model(gm, ps))
        idata = nutpie.sample(compiled.with_data(**data_values(gm), **prior_data(gm, ps)), draws=DRAWS, tune=TUNE,
                              chains=4, seed=1, progress_bar=False, target_accept=0.9, cores=2, save_warmup=False)
        idata.posterior = idata.posterior.assign_coords(coef=list(gm.coef_names))
        diag = check_convergence(idata, ["b", "tau"], "nutpie")
        _augment(idata, gm, ps, 1)
        dt = time.perf_counter() - t
        rows.append({"setting": label, "seconds": dt, **_mcmc_summary(idata, diag, sel={"coef": "mu"})})
    return _sweep_result(rows)


def _naive_pymc_model(y, se, effect, tau):
    """The naive approach: priors written directly as PyMC distributions, a new model per setting."""
    import pymc as pm

    with pm.Model() as m:
        if effect.family == "normal":
            mu = pm.Normal("mu", effect["mean"], effect["sd"])
        else:
            mu = pm.StudentT("mu", nu=effect["df"], mu=effect["mean"], sigma=effect["scale"])
        f = tau.family
        if f == "half_normal":
            t = pm.HalfNormal("tau", sigma=tau["scale"])
        elif f == "half_cauchy":
            t = pm.HalfCauchy("tau", beta=tau["scale"])
        elif f == "uniform":
            t = pm.Uniform("tau", lower=tau["lower"], upper=tau["upper"])
        elif f == "log_normal":                              # log(tau^2) ~ N(mu, sigma^2)
            t2 = pm.LogNormal("tau2", mu=tau["mu"], sigma=tau["sigma"])
            t = pm.Deterministic("tau", pm.math.sqrt(t2))
        elif f == "exponential":
            t = pm.Exponential("tau", lam=tau["rate"])
        else:
            raise ValueError(f)
        pm.Normal("y_obs", mu=mu, sigma=pm.math.sqrt(se**2 + t**2), observed=y)
    return m


def case_sweep_fresh(cfg, ctx):
    import pymc as pm

    from sclcmeta.fitting import check_convergence

    ctx.imports_done()
    _quiet()
    eff, gm = _q1_model()
    y, se = gm.y, gm.se
    settings = _settings(cfg)[:3] if cfg["quick"] else _settings(cfg)
    settings = settings[: ctx.limit(len(settings))]
    rows = []
    for label, e, tau in settings:
        ps = _priorset(e, tau)
        t = time.perf_counter()
        m = _naive_pymc_model(y, se, ps.effect, ps.tau)
        with m:
            idata = pm.sample(draws=DRAWS, tune=TUNE, chains=4, cores=cfg["pymc_cores"], random_seed=1,
                              progressbar=False, target_accept=0.9, nuts_sampler="pymc")
        dt = time.perf_counter() - t
        diag = check_convergence(idata, ["mu", "tau"], "pymc")        # outside the timer
        rows.append({"setting": label, "seconds": dt, **_mcmc_summary(idata, diag, var="mu")})
    return _sweep_result(rows, cores=cfg["pymc_cores"])


def case_sweep_exact(cfg, ctx):
    from sclcmeta.engine.exact import solve_exact
    from sclcmeta.fitting import fit_model

    ctx.imports_done()
    eff, gm = _q1_model()
    settings = _settings(cfg)
    pss = [(label, _priorset(e, tau)) for label, e, tau in settings]
    solve_exact(gm, pss[0][1])                            # warm-up (imports, first-call overheads)
    reps = 3 if cfg["quick"] else 10
    totals, rows = [], []
    for r in range(reps):
        t0 = time.perf_counter()
        posts = [solve_exact(gm, ps) for _, ps in pss]
        totals.append(time.perf_counter() - t0)
    rows = [{"setting": label, **_exact_summary(p)} for (label, _), p in zip(pss, posts)]
    t0 = time.perf_counter()
    for _, ps in pss:
        fit_model(gm, ps, method="exact")
    t_fm = time.perf_counter() - t0
    return {"n": len(pss), "total_median": statistics.median(totals), "reps": reps, "fit_model_total": t_fm,
            "rows": rows}


def case_report(cfg, ctx):
    import sclcmeta.report as R
    from sclcmeta.fitting import CompileCache
    from sclcmeta.paths import models_dir
    from sclcmeta.spec import list_specs

    ctx.imports_done()
    _quiet()
    tmp = Path(tempfile.mkdtemp(prefix="sclcmeta-bench-report-"))
    specs_dir = None
    if cfg["quick"]:
        # smoke run: only the Q1 specs (copied to a scratch folder), with their sensitivity reruns
        specs_dir = tmp / "specs"
        specs_dir.mkdir()
        for f in sorted(models_dir().glob("q1_*.toml")):
            shutil.copy(f, specs_dir / f.name)
    specs = list_specs(specs_dir)
    cache = CompileCache()       # one shared CompileCache for both calls (warm = reuse)
    try:
        t = time.perf_counter()
        R.build_report(tmp / "cold", progress=False, specs_dir=specs_dir, cache=cache)
        cold = time.perf_counter() - t
        misses_cold, hits_cold = cache.misses, cache.hits
        warm = None
        if not ctx.mem_pass:
            t = time.perf_counter()
            R.build_report(tmp / "warm", progress=False, specs_dir=specs_dir, cache=cache)
            warm = time.perf_counter() - t
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"cold": cold, "warm": warm, "subset": "Q1 specs only" if cfg["quick"] else "all specs in models/",
            "n_specs": len(specs), "specs": [s.name for s in specs],
            "cache_cold": {"misses": misses_cold, "hits": hits_cold},
            "cache_total": {"misses": cache.misses, "hits": cache.hits}}


def case_network(cfg, ctx):
    try:
        import sclcmeta.analyses.network as net  # noqa: F401
    except ImportError as exc:
        ctx.imports_done()
        return {"status": "not available yet", "detail": str(exc)}
    from sclcmeta.analyses import run_spec
    from sclcmeta.evidence import read_evidence
    from sclcmeta.fitting import CompileCache
    from sclcmeta.spec import list_specs

    ctx.imports_done()
    _quiet()
    has_fit = hasattr(net, "fit_network")
    specs = [s for s in list_specs() if s.model["type"] == "network"]
    if cfg["quick"]:
        specs = specs[:1]
    if not specs:
        return {"status": "sclcmeta.analyses.network present but no network spec in models/", "fit_network": has_fit}
    ev = read_evidence()
    cache = CompileCache()
    rows = []
    for s in specs:
        row = {"spec": s.name, "spec_method": s.inference["method"]}
        try:
            t = time.perf_counter()
            res = run_spec(s, ev, cache=cache, method="exact")
            row["exact"] = time.perf_counter() - t
            row["n_rows"] = int(res.model.k)
            row["n_params"] = int(res.model.p)
            if not cfg["quick"] and (not ctx.mem_pass or s is specs[0]):
                from sclcmeta.engine import native

                n0 = native._logp_callback.cache_info().currsize   # likelihood kinds compiled so far
                t = time.perf_counter()
                run_spec(s.with_inference(draws=DRAWS, tune=TUNE), ev, cache=cache, method="mcmc")
                row["mcmc"] = time.perf_counter() - t
                row["mcmc_compiled"] = native._logp_callback.cache_info().currsize > n0
        except Exception as exc:  # the module is under development: record, don't crash the run
            row["error"] = f"{type(exc).__name__}: {exc}"[:300]
        rows.append(row)
    return {"status": "ok", "fit_network": has_fit, "rows": rows,
            "path": "run_spec -> run_network_spec -> fit_network (consistency model + node-splits + UME)"}


def case_pymare(cfg, ctx):
    try:
        from pymare import Dataset
        from pymare.estimators import DerSimonianLaird, VarianceBasedLikelihoodEstimator
        import pymare
    except ImportError:
        ctx.imports_done()
        return {"status": "pymare not installed (pip install pymare)"}
    import numpy as np

    ctx.imports_done()
    _quiet()
    eff, gm = _q1_model()
    y, v = gm.y, gm.se**2
    n = 20 if cfg["quick"] else 200
    out = {"status": "ok", "version": getattr(pymare, "__version__", "?")}
    for name, make in (("DL", DerSimonianLaird), ("REML", lambda: VarianceBasedLikelihoodEstimator(method="REML"))):
        def run():
            est = make().fit_dataset(Dataset(y=y, v=v))
            return est.summary()
        run()
        ts = []
        for _ in range(n):
            t = time.perf_counter()
            s = run()
            ts.append(time.perf_counter() - t)
        fe = s.get_fe_stats()
        out[name] = {"median": statistics.median(ts), "n": n, "est": float(np.ravel(fe["est"])[0]),
                     "se": float(np.ravel(fe["se"])[0]), "ci": [float(np.ravel(fe["ci_l"])[0]), float(np.ravel(fe["ci_u"])[0])],
                     "tau2": float(np.ravel(s.tau2)[0])}
    return out


_R_SCRIPT = r"""
suppressPackageStartupMessages(library(metafor))
yi <- c(%(y)s); vi <- c(%(v)s)
n <- %(n)d
for (m in c("REML", "DL")) {
  r <- rma(yi, vi, method = m)                      # warm-up
  t0 <- proc.time()[["elapsed"]]
  for (i in seq_len(n)) r <- rma(yi, vi, method = m)
  el <- (proc.time()[["elapsed"]] - t0) / n
  cat(sprintf("RES %%s %%.10g %%.10g %%.10g %%.10g %%.10g %%.10g\n", m, el, r$b[1], r$se, r$ci.lb, r$ci.ub, r$tau2))
}
k <- rma(yi, vi, method = "REML", test = "knha")
cat(sprintf("RES REML_knha 0 %%.10g %%.10g %%.10g %%.10g %%.10g\n", k$b[1], k$se, k$ci.lb, k$ci.ub, k$tau2))
cat(sprintf("VER %%s %%s\n", as.character(packageVersion("metafor")), R.version.string))
"""


_WRAP = ("import os, sys, resource\n"
         "pid = os.fork()\n"
         "if pid == 0:\n    os.execvp(sys.argv[1], sys.argv[1:])\n"
         "_, st = os.waitpid(pid, 0)\n"
         "sys.stderr.write('MAXRSS_KB %d\\n' % resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
         "sys.exit(os.waitstatus_to_exitcode(st))\n")


def case_metafor(cfg, ctx):
    ctx.imports_done()
    rs = shutil.which("Rscript")
    if not rs:
        return {"status": "R not available (Rscript not found; apt-get install -y r-cran-metafor)"}
    chk = subprocess.run([rs, "-e", "quit(status = !requireNamespace('metafor', quietly = TRUE))"],
                         capture_output=True, text=True)
    if chk.returncode != 0:
        return {"status": "R found but metafor is not installed (apt-get install -y r-cran-metafor)"}
    eff, gm = _q1_model()
    n = 20 if cfg["quick"] else 200
    script = _R_SCRIPT % {"y": ", ".join(f"{x:.17g}" for x in gm.y),
                          "v": ", ".join(f"{x:.17g}" for x in gm.se**2), "n": n}
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as f:
        f.write(script)
    try:
        # Rscript is started from a tiny Python (-S) so that its ru_maxrss is R's own: Linux carries the
        # pre-exec RSS of a forked parent into the child's maxrss, which would otherwise be this process's
        t = time.perf_counter()
        p = subprocess.run([sys.executable, "-S", "-c", _WRAP, rs, f.name], capture_output=True, text=True,
                           timeout=600)
        wall = time.perf_counter() - t
        # R startup + library(metafor) alone, to separate it from the fits
        t = time.perf_counter()
        subprocess.run([rs, "-e", "suppressPackageStartupMessages(library(metafor))"], capture_output=True, timeout=600)
        startup = time.perf_counter() - t
    finally:
        os.unlink(f.name)
    if p.returncode != 0:
        return {"status": f"Rscript failed: {p.stderr[-300:]}"}
    out = {"status": "ok", "n": n, "rscript_wall": wall, "r_startup_and_library": startup}
    for line in p.stderr.splitlines():
        if line.startswith("MAXRSS_KB"):
            out["r_maxrss_mb"] = int(line.split()[1]) / 1024
    for line in p.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == "RES":
            m, el, b, se, lo, hi, tau2 = parts[1], *map(float, parts[2:])
            out[m] = {"per_fit": el, "est": b, "se": se, "ci": [lo, hi], "tau2": tau2}
        elif parts and parts[0] == "VER":
            out["version"] = " ".join(parts[1:])
    return out


# -------------------------------------------------------------------------------------------------
# floor, sweeps by reweighting, CLI latency, large k (issue 16 items 1, 2, 5; issue 15 item 6)
# -------------------------------------------------------------------------------------------------
#: the 5-study random-effects data of the floor comparison (sm.fit's docstring example)
FIVE_Y = [-0.4, -0.2, -0.5, -0.3, -0.1]
FIVE_SE = [0.2, 0.15, 0.25, 0.2, 0.3]


def floor_quadrature(y, se, prior_sd=2.0, tau_scale=0.5, n=480):
    """The floor: a minimal numpy quadrature of the same posterior (mu ~ N(0, prior_sd^2), tau ~ HN(tau_scale)).

    One grid of ``n`` tau nodes; at each node mu's conditional posterior is normal and the marginal
    likelihood closed form; returns the node weights and the conditional means and variances of mu."""
    import numpy as np

    y, se = np.asarray(y, float), np.asarray(se, float)
    u = np.linspace(0.0, 1.0, n + 1)[:-1]
    tau = (np.std(y) + np.median(se)) * u / (1 - u) ** 2
    v = se[None, :] ** 2 + tau[:, None] ** 2
    iv = 1.0 / v
    P = iv.sum(1) + 1.0 / prior_sd**2
    r = iv @ y
    m, s2 = r / P, 1.0 / P
    lp = -0.5 * (np.log(v).sum(1) + iv @ (y * y) - r * m + np.log(P)) - 0.5 * (tau / tau_scale) ** 2
    dt = np.diff(tau)
    width = np.concatenate([[dt[0] / 2], (dt[:-1] + dt[1:]) / 2, [dt[-1] / 2]])     # trapezoid rule
    w = np.exp(lp - lp.max()) * width
    return w / w.sum(), m, s2


def floor_quantiles(w, m, s2, q=(0.5, 0.025, 0.975), iters=6):
    """Quantiles of the floor's normal mixture by a few vectorized Newton steps from the normal approximation."""
    import numpy as np
    from scipy import special

    s = np.sqrt(s2)
    mean = w @ m
    sd = np.sqrt(w @ (s2 + m * m) - mean**2)
    x = mean + sd * special.ndtri(np.asarray(q))
    for _ in range(iters):
        z = (x[:, None] - m[None, :]) / s[None, :]
        x = x - ((special.ndtr(z) * w).sum(1) - q) / ((np.exp(-0.5 * z * z) / s * w).sum(1) / np.sqrt(2 * np.pi))
    return x


def _timed(fn, n):
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def _three_treatment_network():
    """A 3-treatment network (A, B, C): two-arm trials of every pair and one three-arm trial (dense S and K)."""
    import numpy as np

    from sclcmeta.engine import Component, GaussianModel

    # rows: (contrast vs, basic-parameter weights d_B, d_C, log HR, se); the 3-arm trial's two contrasts share arm A
    rows = [((1, 0), -0.30, 0.15), ((1, 0), -0.22, 0.20), ((0, 1), -0.45, 0.18), ((0, 1), -0.38, 0.22),
            ((-1, 1), -0.10, 0.25), ((1, 0), -0.26, 0.17), ((0, 1), -0.41, 0.19)]
    X = np.array([r[0] for r in rows], float)
    y = np.array([r[1] for r in rows])
    se = np.array([r[2] for r in rows])
    S = np.diag(se**2)
    S[5, 6] = S[6, 5] = 0.12**2          # shared control arm of the three-arm trial
    K = np.eye(len(rows))
    K[5, 6] = K[6, 5] = 0.5
    return GaussianModel(y=y, S=S, X=X, coef_names=("d[B vs A]", "d[C vs A]"), coef_roles=("effect", "effect"),
                         components=(Component("tau", K),), kind="network")


def case_floor(cfg, ctx):
    """Exact 5-study fit beside the numpy floor; a 3-treatment network; the summary table."""
    import numpy as np

    import sclcmeta as sm
    from sclcmeta.engine import solve_exact
    from sclcmeta.fitting import fit_model

    ctx.imports_done()
    _quiet()
    eff = sm.EffectData.from_arrays(FIVE_Y, FIVE_SE)
    ps = sm.default_prior_set()
    res = sm.fit(eff, method="exact")
    gm = res.model
    n = 50 if cfg["quick"] else 300
    out = {"k": len(FIVE_Y)}
    out["floor_posterior"] = _timed(lambda: floor_quadrature(FIVE_Y, FIVE_SE), n)
    out["floor_quantiles"] = _timed(lambda: floor_quantiles(*floor_quadrature(FIVE_Y, FIVE_SE)), n)
    out["solve_exact"] = _timed(lambda: solve_exact(gm, ps), n)
    out["fit_model_exact"] = _timed(lambda: fit_model(gm, ps, method="exact"), n)
    out["sm_fit_exact"] = _timed(lambda: sm.fit(eff, method="exact"), n)
    out["sm_fit_pooled_hr"] = _timed(lambda: sm.fit(eff, method="exact").pooled_hr(), n)
    out["sm_fit_summary"] = _timed(lambda: sm.fit(eff, method="exact").summary(), max(n // 10, 5))
    out["idata_on_access"] = _timed(lambda: sm.fit(eff, method="exact").idata, max(n // 10, 5))
    fq = floor_quantiles(*floor_quadrature(FIVE_Y, FIVE_SE))
    eq = res.coef_marginal("mu").quantile([0.5, 0.025, 0.975])
    out["floor_vs_exact_max_abs_diff"] = float(np.max(np.abs(fq - eq)))
    net = _three_treatment_network()
    out["network3_solve_exact"] = _timed(lambda: solve_exact(net, ps), n)
    out["network3_fit_model"] = _timed(lambda: fit_model(net, ps, method="exact"), n)
    out["network3_fit_contrasts"] = _timed(lambda: [fit_model(net, ps, method="exact").exact.linear(c).quantile(
        [0.5, 0.025, 0.975]) for c in (np.array([1.0, 0]), np.array([0, 1.0]), np.array([-1.0, 1]))], max(n // 5, 5))
    out["n"] = n
    return out


def _sweep_settings(n_tau=40, n_eff=25):
    import numpy as np

    return [{"tau": f"half_normal({s:.4f})", "effect": f"normal(0, {e:.3f})"}
            for s in np.linspace(0.05, 2.0, n_tau) for e in np.linspace(0.5, 5.0, n_eff)]


def case_prior_sweep(cfg, ctx):
    """1,000 prior settings: one vectorized exact sweep vs 1,000 separate exact fits; PSIS reweighting of MCMC."""
    import numpy as np

    import sclcmeta as sm
    from sclcmeta.engine import solve_exact
    from sclcmeta.fitting import CompileCache

    ctx.imports_done()
    _quiet()
    eff = sm.EffectData.from_arrays(FIVE_Y, FIVE_SE)
    settings = _sweep_settings(10, 10) if cfg["quick"] else _sweep_settings()
    # the first sweep in a process also loads its compiled table kernels (numba's disk cache; compiled on
    # a machine's first use): timed on its own, then the sweep is timed warm
    t = time.perf_counter()
    sm.sweep(eff, settings)
    t_first = time.perf_counter() - t
    reps = 3 if cfg["quick"] else 5
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        tab = sm.sweep(eff, settings)
        ts.append(time.perf_counter() - t)
    t = time.perf_counter()
    sep = [sm.fit(eff, priors=s, method="exact").pooled_hr() for s in settings]
    t_sep = time.perf_counter() - t
    base = sm.default_prior_set()
    pss = [base.replace(**s) for s in settings]
    gm = sm.fit(eff, method="exact").model
    t = time.perf_counter()
    for p in pss:
        solve_exact(gm, p).coef("mu").quantile([0.5, 0.025, 0.975])
    t_solve = time.perf_counter() - t
    diff = max(float(np.max(np.abs(tab[c].to_numpy() - np.array([r[c] for r in sep]))))
               for c in ("hr_median", "hr_q2.5", "hr_q97.5", "prob_hr_below_1", "prob_hr_below_0.8"))
    # MCMC: one nutpie fit, then 20 settings near its prior by PSIS, vs 20 compiled-once MCMC reruns
    near = [{"tau": f"half_normal({s:.2f})"} for s in np.linspace(0.3, 0.8, 10)] + \
        [{"effect": f"normal(0, {e:.2f})"} for e in np.linspace(1.0, 5.0, 10)]
    cache = CompileCache()
    t = time.perf_counter()
    mc = sm.fit(eff, method="mcmc", draws=DRAWS, tune=TUNE, seed=1, cache=cache)
    mc.idata
    t_mc = time.perf_counter() - t
    t = time.perf_counter()
    psis = sm.sweep(mc, near)
    t_psis = time.perf_counter() - t
    n_rerun = 3 if cfg["quick"] else 6
    t = time.perf_counter()
    for s in near[:n_rerun]:
        sm.fit(eff, priors=s, method="mcmc", draws=DRAWS, tune=TUNE, seed=2, cache=cache).pooled_hr()
    t_rerun = (time.perf_counter() - t) / n_rerun
    ex = sm.sweep(eff, near)
    return {"n_settings": len(settings), "sweep": statistics.median(ts), "reps": reps, "sweep_first_call": t_first,
            "separate_fits": t_sep,
            "separate_solve_only": t_solve, "max_abs_diff": diff,
            "mcmc_fit": t_mc, "psis_20": t_psis, "mcmc_rerun_per_setting": t_rerun, "n_rerun": n_rerun,
            "psis_max_khat": float(psis["khat"].max()),
            "psis_max_abs_diff_median": float(np.max(np.abs(psis["median"] - ex["median"])))}


def case_cli(cfg, ctx):
    """Command-line latency: `--help` and `fit --data CSV --method exact` (python -m sclcmeta, fresh processes)."""
    ctx.imports_done()
    tmp = Path(tempfile.mkdtemp(prefix="sclcmeta-bench-cli-"))
    csv = tmp / "four.csv"
    csv.write_text("study,treatment,comparator,outcome,hr,ci_low,ci_high\n"
                   "Cohort A,ici,chemo,OS,0.67,0.48,0.95\nCohort B,ici,chemo,OS,0.68,0.48,0.97\n"
                   "Cohort C,ici,chemo,OS,0.56,0.35,0.89\nCohort D,ici,chemo,OS,0.88,0.70,1.11\n")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src")] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    n = 3 if cfg["quick"] else 5
    out = {}
    for label, args in (("help", ["--help"]), ("fit_exact", ["fit", "--data", str(csv), "--method", "exact"]),
                        ("import_only", None)):
        cmd = [sys.executable, "-c", "import sclcmeta"] if args is None else [sys.executable, "-m", "sclcmeta", *args]
        ts = []
        for _ in range(n):
            t = time.perf_counter()
            p = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=str(tmp))
            ts.append(time.perf_counter() - t)
            if p.returncode != 0:
                out[label + "_error"] = p.stderr[-300:]
        out[label] = {"median": statistics.median(ts), "min": min(ts), "all": ts}
    shutil.rmtree(tmp, ignore_errors=True)
    return out


_LARGE_K_SCRIPT = r"""
import json, resource, sys, time, warnings
warnings.simplefilter("ignore")
import numpy as np
import sclcmeta as sm
import sclcmeta.analyses
k, method, draws = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
rng = np.random.default_rng(3)
se = rng.uniform(0.1, 0.4, k)
eff = sm.EffectData.from_arrays(rng.normal(-0.2, np.sqrt(se**2 + 0.04)), se)
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.perf_counter()
res = sm.fit(eff, method=method, draws=draws, tune=draws, chains=4) if method == "mcmc" else sm.fit(eff, method=method)
t_fit = time.perf_counter() - t
p = res.pooled_hr()
t_pooled = time.perf_counter() - t
res.idata
t_idata = time.perf_counter() - t
print(json.dumps({"k": k, "method": method, "fit": t_fit, "fit_pooled": t_pooled, "with_idata": t_idata,
                  "hr_median": p["hr_median"], "rss_after_import_mb": rss0,
                  "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def case_large_k(cfg, ctx):
    """Random effects with k = 2,000 and 5,000 studies, exact and MCMC (nutpie 4 x 1000): time and peak RSS.

    Each fit runs in its own process (peak RSS = ``ru_maxrss`` of that process, imports included), and
    builds the full InferenceData (4,000 draws of every study effect, replicated data, log likelihood)."""
    ctx.imports_done()
    rows = []
    for k in ((2000,) if cfg["quick"] else (2000, 5000)):
        for method in ("exact", "mcmc"):
            p = subprocess.run([sys.executable, "-c", _LARGE_K_SCRIPT, str(k), method, str(DRAWS)],
                               capture_output=True, text=True, cwd=str(REPO), env=dict(os.environ))
            if p.returncode != 0:
                rows.append({"k": k, "method": method, "error": p.stderr[-500:]})
            else:
                rows.append(json.loads(p.stdout.strip().splitlines()[-1]))
    return {"rows": rows}


def case_network30(cfg, ctx):
    """A simulated 30-treatment network (77 two-arm contrasts: a star, a chain and 20 random pairs) by
    ``fit_network(method="exact")``: consistency model, every node-split and the UME model."""
    import numpy as np

    from sclcmeta.analyses.network import fit_network
    from sclcmeta.evidence.network import ContrastRow, NetworkData
    from sclcmeta.priors import default_prior_set

    ctx.imports_done()
    _quiet()
    rng = np.random.default_rng(5)
    T = [f"T{i:02d}" for i in range(30)]
    d = dict(zip(T, np.r_[0, rng.normal(-0.2, 0.2, 29)]))
    pairs = [(T[0], t) for t in T[1:]] + [(T[i], T[i + 1]) for i in range(1, 29)] + \
        [tuple(rng.choice(T, 2, replace=False)) for _ in range(20)]
    rows = []
    for i, (a, b) in enumerate(pairs):
        se = rng.uniform(0.1, 0.3)
        rows.append(ContrastRow(str(i), f"s{i}", f"s{i}", d[b] - d[a] + rng.normal(0, np.hypot(se, 0.1)), se,
                                [(1.0, b, a)]))
    net = NetworkData(rows, T[0])
    t = time.perf_counter()
    res = fit_network(net, default_prior_set(), method="exact")
    total = time.perf_counter() - t
    return {"treatments": 30, "contrasts": len(rows), "seconds": total,
            "node_splits": 0 if res.splits is None else len(res.splits) // 3}


CASES = {
    "exact": case_exact, "mcmc": case_mcmc, "sweep_compiled": case_sweep_compiled,
    "sweep_compiled_warm": case_sweep_compiled_warm, "sweep_pytensor": case_sweep_pytensor, "sweep_fresh": case_sweep_fresh,
    "sweep_exact": case_sweep_exact, "report": case_report, "network": case_network, "pymare": case_pymare,
    "metafor": case_metafor, "floor": case_floor, "prior_sweep": case_prior_sweep, "cli": case_cli,
    "large_k": case_large_k, "network30": case_network30,
}
#: workload limits of the tracemalloc pass (None = the full case; 0 = no tracemalloc pass)
MEM_LIMITS_FULL = {"exact": None, "mcmc": 1, "sweep_compiled": 3, "sweep_compiled_warm": 0, "sweep_pytensor": 0,
                   "sweep_fresh": 2, "sweep_exact": None,
                   "report": None, "network": None, "pymare": None, "metafor": 0, "floor": 0, "prior_sweep": 0,
                   "cli": 0, "large_k": 0, "network30": 0}
MEM_LIMITS_QUICK = {"exact": None, "sweep_exact": None, "pymare": None}


class _Ctx:
    def __init__(self, mem_pass: bool, limit):
        self.mem_pass = mem_pass
        self._limit = limit
        self.t_import = None
        self.rss_after_import = None
        self.t_start = time.perf_counter()

    def imports_done(self):
        self.t_import = time.perf_counter() - self.t_start
        self.rss_after_import = _rss_now_mb().get("VmRSS")
        if self.mem_pass:
            import tracemalloc

            tracemalloc.start()

    def limit(self, n: int) -> int:
        return n if (not self.mem_pass or self._limit is None) else min(n, self._limit)


def child_main(case: str, mem_pass: bool, limit, cfg: dict, out: str) -> int:
    ctx = _Ctx(mem_pass, limit)
    cpu0 = _cpu()
    t0 = time.perf_counter()
    res = {"case": case, "mem_pass": mem_pass, "limit": limit}
    try:
        res["result"] = CASES[case](cfg, ctx)
    except Exception as exc:
        res["error"] = f"{type(exc).__name__}: {exc}"
        res["traceback"] = traceback.format_exc()[-3000:]
    res["wall_total"] = time.perf_counter() - t0
    cpu1 = _cpu()
    res["cpu_self"] = cpu1["self"] - cpu0["self"]
    res["cpu_children"] = cpu1["children"] - cpu0["children"]
    res["import_seconds"] = ctx.t_import
    res["rss_after_import_mb"] = ctx.rss_after_import
    res["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    res["children_maxrss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    if mem_pass:
        import tracemalloc

        if tracemalloc.is_tracing():
            res["tracemalloc_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
    Path(out).write_text(json.dumps(res, default=float))
    return 0


# =================================================================================================
# parent: run the cases, assemble the table
# =================================================================================================
def run_case(case: str, mem_pass: bool, limit, cfg: dict, timeout: float) -> dict:
    work = Path(tempfile.mkdtemp(prefix=f"sclcmeta-bench-{case}-"))
    env = dict(os.environ)
    flags = env.get("PYTENSOR_FLAGS", "")
    env["PYTENSOR_FLAGS"] = ",".join(x for x in (flags, f"compiledir={work / 'pytensor'}") if x)
    env["NUMBA_CACHE_DIR"] = str(work / "numba")
    env["PYTHONWARNINGS"] = "ignore"
    out = work / "result.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--_child", case, "--_out", str(out),
           "--_cfg", json.dumps(cfg)]
    if mem_pass:
        cmd += ["--_mem", json.dumps(limit)]
    t = time.perf_counter()
    try:
        p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout, cwd=str(REPO))
        if out.exists():
            res = json.loads(out.read_text())
        else:
            res = {"case": case, "error": f"case process exited {p.returncode}: {p.stderr[-1500:]}"}
    except subprocess.TimeoutExpired:
        res = {"case": case, "error": f"timed out after {timeout:.0f} s"}
    res["process_wall"] = time.perf_counter() - t
    shutil.rmtree(work, ignore_errors=True)
    return res


def _version(mod: str) -> str:
    try:
        from importlib.metadata import version

        return version(mod)
    except Exception:
        return "not installed"


def machine_info() -> dict:
    cpu = "?"
    extra = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            k, _, v = line.partition(":")
            k, v = k.strip(), v.strip()
            if k == "model name" and cpu == "?":
                cpu = v
            elif k in ("cpu MHz", "cache size") and k not in extra:
                extra[k] = v
    except OSError:
        pass
    mem = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    try:
        aff = len(os.sched_getaffinity(0))
    except AttributeError:
        aff = os.cpu_count()
    git = "?"
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True).stdout.strip().splitlines()
        git = head + (f" + uncommitted changes in {len(dirty)} tracked file(s)" if dirty else " (clean)")
    except Exception:
        pass
    r = "not available"
    if shutil.which("Rscript"):
        p = subprocess.run(["Rscript", "-e", "cat(R.version$major, R.version$minor, sep='.')"], capture_output=True, text=True)
        r = p.stdout.strip() or "?"
    return {"cpu": cpu, "cpu_mhz": extra.get("cpu MHz", "?"), "cache": extra.get("cache size", "?"),
            "cores": os.cpu_count(), "usable_cores": aff, "ram": mem, "python": platform.python_version(),
            "platform": platform.platform(), "git": git, "R": r,
            "versions": {m: _version(m) for m in ("sclcmeta", "pymc", "pytensor", "nutpie", "arviz", "numpy",
                                                  "scipy", "numba", "pymare")}}


def _f(x, unit="s", nd=None):
    if x is None:
        return "-"
    if unit == "ms":
        v = x * 1e3
        return f"{v:.{nd if nd is not None else (2 if v < 10 else 1)}f} ms"
    return f"{x:.{nd if nd is not None else (2 if x < 10 else 1)}f} s"


def _mb(x):
    return "-" if x is None else f"{x:.0f} MB"


_NO_TM_REASON = [""]


def _mem_cells(T, M, key):
    """(tracemalloc peak, max RSS) cells of a case."""
    t = T.get(key, {})
    m = M.get(key)
    if m is None:
        tm = "not measured" + (f" ({_NO_TM_REASON[0]})" if _NO_TM_REASON[0] else "")
    elif "error" in m:
        tm = "error"
    else:
        lim = m.get("limit")
        tm = _mb(m.get("tracemalloc_peak_mb"))
        if lim:
            tm += f" (first {lim})"
    rss = _mb(t.get("maxrss_mb"))
    if t.get("rss_after_import_mb"):
        rss += f" ({t['rss_after_import_mb']:.0f} after imports)"
    if key == "sweep_fresh" and (t.get("children_maxrss_mb") or 0) > 1:
        rss += f"; largest forked PyMC worker {t['children_maxrss_mb']:.0f} MB (shared pages counted)"
    if key == "metafor":
        r = t.get("result") or {}
        tm = "n/a (R)"
        rss = f"R process {r['r_maxrss_mb']:.0f} MB" if r.get("r_maxrss_mb") else "-"
    return tm, rss


def _hr(x):
    import math

    return math.exp(x)


def perf_ratio_lines(T) -> list[str]:
    """The ratio table of the floor, sweep, CLI and large-k cases (issue 16 items 1, 2, 5)."""
    def res(key):
        r = T.get(key, {})
        return r.get("result") if r and "error" not in r else None

    def ms(x):
        return "" if x is None else (f"{x * 1e3:.2f} ms" if x < 1 else f"{x:.2f} s")

    def ratio(a, b):
        return "" if not a or not b else f"{a / b:.1f}x"

    fl, sw, cl, lk, n30 = res("floor"), res("prior_sweep"), res("cli"), res("large_k"), res("network30")
    if not any((fl, sw, cl, lk, n30)):
        return []
    L = ["## Ratios: exact solver vs the floor, sweeps, CLI, memory\n",
         "| measurement | time (median) | compared with | its time | ratio | notes |", "|---|---|---|---|---|---|"]
    if fl:
        fp = fl["floor_posterior"]
        L += [f"| `solve_exact`, 5 studies | {ms(fl['solve_exact'])} | numpy floor (one 480-node grid, weights and "
              f"moments) | {ms(fp)} | {ratio(fl['solve_exact'], fp)} | two passes (96 + 480 nodes); floor vs exact "
              f"quantiles differ by {fl['floor_vs_exact_max_abs_diff']:.1e} |",
              f"| `fit_model(method='exact')`, 5 studies | {ms(fl['fit_model_exact'])} | numpy floor | {ms(fp)} | "
              f"{ratio(fl['fit_model_exact'], fp)} | InferenceData deferred to first `.idata` "
              f"({ms(fl['idata_on_access'])} when asked) |",
              f"| `sm.fit(eff, method='exact')`, 5 studies | {ms(fl['sm_fit_exact'])} | numpy floor | {ms(fp)} | "
              f"{ratio(fl['sm_fit_exact'], fp)} | target < 1 ms; includes building the model from EffectData |",
              f"| `sm.fit(...).pooled_hr()` | {ms(fl['sm_fit_pooled_hr'])} | floor + 3 quantiles (Newton) | "
              f"{ms(fl['floor_quantiles'])} | {ratio(fl['sm_fit_pooled_hr'], fl['floor_quantiles'])} | |",
              f"| `sm.fit(...).summary()` (all rows, modes, shortest intervals) | {ms(fl['sm_fit_summary'])} | | | | |",
              f"| 3-treatment network, `solve_exact` (dense S, 3-arm trial) | {ms(fl['network3_solve_exact'])} | "
              f"5-study `solve_exact` | {ms(fl['solve_exact'])} | {ratio(fl['network3_solve_exact'], fl['solve_exact'])} "
              f"| target < 5 ms; `fit_model` {ms(fl['network3_fit_model'])}, with 3 contrasts' quantiles "
              f"{ms(fl['network3_fit_contrasts'])} |"]
    if n30:
        L.append(f"| 30-treatment network, exact, with {n30['node_splits']} node-splits and UME | {ms(n30['seconds'])} | "
                 f"| | | {n30['contrasts']} two-arm contrasts; target under a minute |")
    if sw:
        n = sw["n_settings"]
        L += [f"| {n}-setting exact sweep `sm.sweep` | {ms(sw['sweep'])} | {n} separate `sm.fit(...).pooled_hr()` | "
              f"{ms(sw['separate_fits'])} | {ratio(sw['separate_fits'], sw['sweep'])} faster | max difference "
              f"{sw['max_abs_diff']:.1e}; {n} x (`solve_exact` + 3 quantiles) takes {ms(sw['separate_solve_only'])} "
              f"({ratio(sw['separate_solve_only'], sw['sweep'])}); warm (median of {sw['reps']}); the first sweep in "
              f"a process with an empty numba cache, which compiles the table kernels, {ms(sw['sweep_first_call'])} |",
              f"| 20 priors by PSIS reweighting of one MCMC fit | {ms(sw['psis_20'])} | 20 compiled-once MCMC reruns "
              f"| {ms(20 * sw['mcmc_rerun_per_setting'])} (20 x median of {sw['n_rerun']}) | "
              f"{ratio(20 * sw['mcmc_rerun_per_setting'], sw['psis_20'])} faster | approximate: max k-hat "
              f"{sw['psis_max_khat']:.2f}, max |median - exact| {sw['psis_max_abs_diff_median']:.3f}; the MCMC fit "
              f"itself {ms(sw['mcmc_fit'])} |"]
    if cl:
        L += [f"| `python -m sclcmeta --help` | {ms(cl['help']['median'])} | `python -c 'import sclcmeta'` | "
              f"{ms(cl['import_only']['median'])} | {ratio(cl['help']['median'], cl['import_only']['median'])} | "
              "fresh process each; interpreter start included |",
              f"| `python -m sclcmeta fit --data CSV --method exact` | {ms(cl['fit_exact']['median'])} | `--help` | "
              f"{ms(cl['help']['median'])} | {ratio(cl['fit_exact']['median'], cl['help']['median'])} | 4 studies; "
              "mostly imports (pandas, scipy.special, scipy.optimize); neither PyMC nor ArviZ is loaded |"]
    if lk:
        for r in lk["rows"]:
            if "error" in r:
                L.append(f"| k = {r['k']} random effects, {r['method']} | FAILED | | | | {r['error'][:150]} |")
                continue
            L.append(f"| k = {r['k']} random effects, {r['method']} | fit {ms(r['fit'])}, + pooled HR "
                     f"{ms(r['fit_pooled'])}, + InferenceData {ms(r['with_idata'])} | peak RSS | "
                     f"{r['maxrss_mb']:.0f} MB | | {r['rss_after_import_mb']:.0f} MB after imports; "
                     f"{'nutpie 4 x 1000 draws' if r['method'] == 'mcmc' else '480-node grid'}; "
                     f"HR {r['hr_median']:.3f} |")
    L.append("")
    return L


def build_markdown(info, T, M, cfg, started, finished, load0, load1, wall) -> str:
    L = []
    mode = "QUICK (smoke run: fewer settings, report on the Q1 specs only)" if cfg["quick"] else "full"
    L.append(f"# sclcmeta benchmarks ({mode})\n")
    L.append(f"- date: {started} to {finished} (UTC); total run {wall / 60:.1f} min")
    L.append(f"- machine: {info['cpu']} ({info['cpu_mhz']} MHz, cache {info['cache']}), {info['cores']} cores "
             f"({info['usable_cores']} usable), {info['ram']} RAM; {info['platform']}")
    L.append(f"- load average at start / end: {load0} / {load1} (the machine is shared; wall times may be inflated)")
    v = info["versions"]
    L.append(f"- Python {info['python']}; sclcmeta {v['sclcmeta']} (git {info['git']}); PyMC {v['pymc']}, "
             f"PyTensor {v['pytensor']}, nutpie {v['nutpie']}, ArviZ {v['arviz']}, NumPy {v['numpy']}, "
             f"SciPy {v['scipy']}, numba {v['numba']}, PyMARE {v['pymare']}; R {info['R']}")
    L.append(f"- command: `python benchmarks/run.py{' --quick' if cfg['quick'] else ''}`; every case in a fresh "
             "process with empty PyTensor/numba caches; PyMC `pm.sample` with "
             f"cores={cfg['pymc_cores']}; nutpie with 2 threads (cores=min(chains, 2))")
    L.append("")

    def res(key):
        r = T.get(key, {})
        return r.get("result") if "error" not in r else None

    def err(key):
        r = T.get(key, {})
        return r.get("error", "").splitlines()[0][:200] if "error" in r else None

    L += perf_ratio_lines(T)
    rows = []   # case, measurement, time, per fit, ratio, cpu, py peak, rss, notes

    def add(case, what, time_, per, ratio, key, notes="", cpu=True):
        if key and key not in T:                       # case not selected with --cases
            return
        t = T.get(key, {})
        c = f"{t.get('cpu_self', 0) + t.get('cpu_children', 0):.1f} s" if (cpu and t and "cpu_self" in t) else ""
        tm, rss = _mem_cells(T, M, key) if key else ("", "")
        rows.append([case, what, time_, per, ratio, c, tm, rss, notes])

    ex, mc = res("exact"), res("mcmc")
    ex_ms = ex["solve_exact"]["median"] if ex else None
    if ex:
        s = ex["solve_exact"]
        add("a", "exact solver `solve_exact` (Q1 OS, k=3)", _f(s["median"], "ms"), _f(s["median"], "ms"), "1 (reference)",
            "exact", f"median of {s['n']} runs (p10-p90 {s['p10'] * 1e3:.1f}-{s['p90'] * 1e3:.1f} ms); imports "
                     f"{T['exact'].get('import_seconds', 0):.1f} s not included")
        f = ex["fit_model_exact"]
        add("a", "exact `fit_model(method='exact')` (+4000 draws, InferenceData)", _f(f["median"], "ms"),
            _f(f["median"], "ms"), f"{f['median'] / ex_ms:.1f}x solve_exact", None, f"median of {f['n']} runs", cpu=False)
    else:
        add("a", "exact solver", "FAILED", "", "", "exact", err("exact") or "")
    if mc:
        add("a", "MCMC nutpie first fit: numba compiles the log density", _f(mc["compile"]), "", "", None,
            "first use on a machine (empty numba cache); later processes load it from disk", cpu=False)
        add("a", "MCMC nutpie first fit: total (compile + sample 4x1000)", _f(mc["first_fit_total"]),
            _f(mc["first_fit_total"]), f"{mc['first_fit_total'] / ex_ms:,.0f}x exact" if ex_ms else "", "mcmc",
            f"sampling + gate + post-processing {mc['first_fit_sampling']:.2f} s")
        st = mc["steady"]
        add("a", "MCMC nutpie steady state (compiled model reused)", _f(st["median"]), _f(st["median"]),
            f"{st['median'] / ex_ms:,.0f}x exact" if (ex_ms and st["median"]) else "", None,
            f"median of {st['n']} refits (seeds 2..), cache hits {mc['cache']['hits']}", cpu=False)
    else:
        add("a", "MCMC nutpie", "FAILED", "", "", "mcmc", err("mcmc") or "")

    sc, sf, se_ = res("sweep_compiled"), res("sweep_fresh"), res("sweep_exact")
    sw, sp = res("sweep_compiled_warm"), res("sweep_pytensor")
    n_set = len(_settings(cfg))
    if sc:
        add("b(i)", f"{sc['n']} prior settings, compiled once (fit_model + one CompileCache), empty numba cache",
            _f(sc["total"]), _f(sc["steady_median"]), "1 (reference)", "sweep_compiled",
            f"first fit (numba compiles the log density: first use on a machine) {sc['first']:.1f} s, then median "
            f"{sc['steady_median']:.2f} s/fit; {sc['cache']['misses']} model layout, {sc['cache']['hits']} reuses")
    else:
        add("b(i)", "prior sweep, compiled once", "FAILED", "", "", "sweep_compiled", err("sweep_compiled") or "")
    if sw:
        add("b(i)", f"{sw['n']} prior settings, compiled once, numba disk cache filled by an earlier process",
            _f(sw["total"]), _f(sw["steady_median"]), "", "sweep_compiled_warm",
            f"what every run after the first on a machine costs: first fit {sw['first']:.2f} s (loads the "
            f"callbacks from numba's disk cache), then median {sw['steady_median']:.2f} s/fit", cpu=False)
    if sp:
        add("b(i)", f"{sp['n']} prior settings, nutpie compiling the PyMC graph (PyTensor -> numba) once",
            _f(sp["total"]), _f(sp["steady_median"]), "", "sweep_pytensor",
            f"the previous path, for comparison: first fit (compile) {sp['first']:.1f} s, then median "
            f"{sp['steady_median']:.2f} s/fit (with_data); generated code cannot use numba's disk cache", cpu=False)
    if sf:
        n_f = sf["n"]
        extrap = n_f < n_set
        total = sf["total"] if not extrap else sf["first"] + (n_set - 1) * sf["steady_median"]
        label = f"{n_f} prior settings, fresh pm.Model + pm.sample each (PyMC NUTS)"
        note = (f"first fit {sf['first']:.1f} s (includes PyTensor C compilation into an empty compiledir; later "
                f"models reuse the on-disk modules), then median {sf['steady_median']:.1f} s/fit")
        if extrap:
            label += f"; total EXTRAPOLATED to {n_set}"
            note += f"; {n_f} settings run, total = first + {n_set - 1} x median (extrapolated)"
        # warm-vs-warm: the fresh sweep with PyTensor's disk cache already filled = n_set x its warm median
        warm_total = n_set * sf["steady_median"] if sf["steady_median"] else None
        rt, target = [], []
        if sc:
            r_cold = total / sc["total"]
            rt.append(f"{r_cold:.1f}x total (both caches empty)")
            target.append(f"cold total {'MET' if r_cold >= 20 else 'NOT met'} ({r_cold:.1f}x)")
        if sw and warm_total:
            r_warm = warm_total / sw["total"]
            rt.append(f"{r_warm:.0f}x total (both caches warm)")
            target.append(f"warm total {'MET' if r_warm >= 20 else 'NOT met'} ({r_warm:.0f}x)")
        if sc and sc["steady_median"]:
            r_fit = sf["steady_median"] / sc["steady_median"]
            rt.append(f"{r_fit:.0f}x per fit")
            target.append(f"per fit {'MET' if r_fit >= 20 else 'NOT met'} ({r_fit:.0f}x)")
        if sp:
            rt.append(f"previous path: {total / sp['total']:.1f}x total")
        note += (f". Warm total = {n_set} x the warm median = {warm_total:.0f} s" if warm_total else "")
        add("b(ii)", label, _f(total), _f(sf["steady_median"]), " / ".join(rt) + " slower", "sweep_fresh",
            note + (". 20x target: " + "; ".join(target) + "." if target else "."))
    else:
        add("b(ii)", "prior sweep, fresh pm.sample per setting", "FAILED", "", "", "sweep_fresh", err("sweep_fresh") or "")
    if se_:
        add("c", f"{se_['n']} prior settings, exact solver", _f(se_["total_median"], "ms"),
            _f(se_["total_median"] / se_["n"], "ms"),
            (f"{sc['total'] / se_['total_median']:,.0f}x faster than b(i)" if sc else ""), "sweep_exact",
            f"median of {se_['reps']} sweeps of solve_exact; via fit_model(method='exact') "
            f"{se_['fit_model_total'] * 1e3:.0f} ms for all {se_['n']}")
    else:
        add("c", "prior sweep, exact", "FAILED", "", "", "sweep_exact", err("sweep_exact") or "")

    rp = res("report")
    if rp:
        what = (f"report `build_report` ({rp['n_specs']} specs, {rp['subset']}, with sensitivity reruns)")
        add("d", what + ": cold", _f(rp["cold"]), "", "1 (reference)", "report",
            f"fresh process, empty nutpie/numba/PyTensor caches; imports {T['report'].get('import_seconds', 0):.1f} s "
            f"not included; {rp['cache_cold']['misses']} compiles, {rp['cache_cold']['hits']} reuses")
        if rp["warm"] is not None:
            add("d", what + ": warm", _f(rp["warm"]), "", f"{rp['cold'] / rp['warm']:.2f}x faster", None,
                "second build_report in the same process with the same CompileCache (build_report(cache=...)); "
                f"{rp['cache_total']['misses'] - rp['cache_cold']['misses']} new compiles", cpu=False)
    else:
        add("d", "full report", "FAILED", "", "", "report", err("report") or "")

    nw = res("network")
    if nw is None:
        add("e", "network fit", "FAILED", "", "", "network", err("network") or "")
    elif nw.get("status") != "ok":
        add("e", "network fit", nw["status"], "", "", "network", nw.get("detail", ""))
    else:
        for i, r in enumerate(nw["rows"]):
            if "error" in r:
                add("e", f"network `{r['spec']}`", "FAILED", "", "", "network" if i == 0 else None, r["error"])
                continue
            add("e", f"network `{r['spec']}` exact (k={r.get('n_rows')}, {r.get('n_params')} basic params)",
                _f(r["exact"]), "", "", "network" if i == 0 else None,
                "run_spec -> fit_network (consistency + node-splits + UME)" + (", process totals for all network rows" if i == 0 else ""),
                cpu=(i == 0))
            if "mcmc" in r:
                add("e", f"network `{r['spec']}` MCMC (nutpie 4x1000)", _f(r["mcmc"]), "",
                    f"{r['mcmc'] / r['exact']:.0f}x exact" if r["exact"] else "", None,
                    ("includes compiling the dense likelihood" if r.get("mcmc_compiled") else
                     "no compile (the likelihood is already compiled)") + "; consistency model + node-splits + UME",
                    cpu=False)

    pmr = res("pymare")
    if pmr and pmr.get("status") == "ok":
        for k, lab in (("DL", "DerSimonianLaird"), ("REML", "VarianceBasedLikelihoodEstimator(REML)")):
            r = pmr[k]
            add("f", f"PyMARE {pmr['version']} {lab}", _f(r["median"], "ms"), _f(r["median"], "ms"),
                f"{r['median'] / ex_ms:.2f}x exact" if ex_ms else "", "pymare" if k == "DL" else None,
                f"fit + summary, median of {r['n']}" + ("; process totals for both rows" if k == "DL" else ""),
                cpu=(k == "DL"))
    else:
        add("f", "PyMARE", (pmr or {}).get("status", "FAILED"), "", "", "pymare", err("pymare") or "")
    mf = res("metafor")
    if mf and mf.get("status") == "ok":
        for k in ("REML", "DL"):
            r = mf[k]
            add("f", f"R metafor {mf.get('version', '').split()[0]} rma(method='{k}')", _f(r["per_fit"], "ms"),
                _f(r["per_fit"], "ms"), f"{r['per_fit'] / ex_ms:.2f}x exact" if ex_ms else "",
                "metafor" if k == "REML" else None,
                (f"timed inside R, mean of {mf['n']}; Rscript wall {mf['rscript_wall']:.1f} s; R startup + "
                 f"library(metafor) alone {mf['r_startup_and_library']:.1f} s (separate run)" if k == "REML" else f"mean of {mf['n']} inside R"),
                cpu=False)
    else:
        add("f", "R metafor", (mf or {}).get("status", "FAILED"), "", "", "metafor", err("metafor") or "")

    L.append("## Times, ratios and peak memory\n")
    L.append("| case | measurement | wall time | per fit | ratio | CPU (process) | Python peak (tracemalloc) | max RSS | notes |")
    L.append("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        L.append("| " + " | ".join(str(x).replace("|", "/") for x in r) + " |")
    L.append("")
    L.append("CPU (process) is user+system CPU of the whole case process (all of its threads and reaped child "
             "processes, imports excluded), so it can exceed the wall time with 2 threads. Python peak is the "
             "tracemalloc peak of the workload in a separate run (\"first N\": that run did only the first N "
             "fits/settings); max RSS is `ru_maxrss` of the case process in the timing run.\n")

    # ---- (a) agreement
    if ex and mc:
        e, m = ex["estimates"], mc["estimates"]
        L.append("## (a) Exact vs MCMC agreement (Q1 OS, default priors, pooled log HR)\n")
        L.append("| quantity | exact | MCMC (nutpie 4x1000) | MCMC - exact | MCSE of the MCMC quantile | |diff| / MCSE |")
        L.append("|---|---|---|---|---|---|")
        for i, name in enumerate(("2.5%", "median", "97.5%")):
            d = m["q"][i] - e["q"][i]
            L.append(f"| {name} | {e['q'][i]:.4f} (HR {_hr(e['q'][i]):.3f}) | {m['q'][i]:.4f} (HR {_hr(m['q'][i]):.3f}) | "
                     f"{d:+.4f} | {m['mcse'][i]:.4f} | {abs(d) / m['mcse'][i]:.1f} |")
        L.append(f"| tau median | {e['tau_median']:.4f} | {m['tau_median']:.4f} | {m['tau_median'] - e['tau_median']:+.4f} | | |")
        L.append(f"\nMCMC diagnostics: max R-hat {m['r_hat']:.3f}, min bulk ESS {m['ess_bulk']:.0f}, "
                 f"{m['divergences']} divergences, gate {'passed' if m['gate'] else 'FAILED'}.\n")

    # ---- (b)/(c) per-setting table
    if sc or sf or se_:
        L.append("## (b)/(c) Prior sweep: pooled HR median [95% interval] per setting\n")
        L.append("| setting | exact | compiled-once nutpie | s | gate | fresh pm.sample | s | gate (div.) |")
        L.append("|---|---|---|---|---|---|---|---|")
        by = lambda r: {x["setting"]: x for x in (r or {}).get("rows", [])}  # noqa: E731
        bx, bc, bf = by(se_), by(sc), by(sf)

        def cell(x):
            if not x:
                return ""
            q = x["q"]
            return f"{_hr(q[1]):.3f} [{_hr(q[0]):.3f}, {_hr(q[2]):.3f}]"

        dev = {"c": [], "f": []}
        for label, _, _ in _settings(cfg):
            x, c, f = bx.get(label), bc.get(label), bf.get(label)
            for key, r in (("c", c), ("f", f)):
                if x and r:
                    z = [abs(a - b) / m for a, b, m in zip(r["q"], x["q"], r["mcse"]) if m > 0]
                    d = [abs(a - b) for a, b in zip(r["q"], x["q"])]
                    dev[key].append((max(z), max(d), label))
            cs = (f"{c['seconds']:.2f}", "pass" if c["gate"] else "FAIL") if c else ("", "")
            fs = (f"{f['seconds']:.1f}", f"{'pass' if f['gate'] else 'FAIL'} ({f['divergences']})") if f else ("", "")
            L.append(f"| {label} | {cell(x)} | {cell(c)} | {cs[0]} | {cs[1]} | {cell(f)} | {fs[0]} | {fs[1]} |")
        notes = []
        for key, name in (("c", "compiled-once nutpie"), ("f", "fresh pm.sample")):
            if dev[key]:
                zs = [z for z, _, _ in dev[key]]
                zmax, dmax, lab = max(dev[key])
                notes.append(f"{name} vs exact over {len(zs)} settings: largest |MCMC - exact| of the three log-HR "
                             f"quantiles {max(d for _, d, _ in dev[key]):.3f}; in MCSE units max {zmax:.1f} "
                             f"({lab}), {sum(z > 3 for z in zs)} setting(s) above 3 MCSE")
        if notes:
            L.append("\n" + "; ".join(notes) + ". Tail quantiles of a 3-study posterior under wide tau priors carry "
                     "MCSEs of 0.03-0.1 on the log scale, so differences are judged in MCSE units. Gate: R-hat <= 1.01, "
                     "bulk ESS >= 400, no divergences (the fresh PyMC models put the prior directly on tau (centred), "
                     "which is where most of their divergences come from; sclcmeta samples a standard-normal z and maps "
                     "it through the prior's quantile function).\n")

    # ---- (f) estimates side by side
    L.append("## (f) Estimates side by side (pooled log HR, Q1 OS, k = 3)\n")
    L.append("| method | pooled log HR | 95% interval | HR [95%] | tau^2 | note |")
    L.append("|---|---|---|---|---|---|")
    if ex:
        e = ex["estimates"]
        L.append(f"| sclcmeta exact (posterior median, 95% CrI; default priors) | {e['q'][1]:.4f} | "
                 f"[{e['q'][0]:.4f}, {e['q'][2]:.4f}] | {_hr(e['q'][1]):.3f} [{_hr(e['q'][0]):.3f}, {_hr(e['q'][2]):.3f}] | "
                 f"median tau {e['tau_median']:.3f} (tau^2 {e['tau_median'] ** 2:.4f}) | Bayesian; tau ~ half-normal(0.5) |")
    if mc:
        m = mc["estimates"]
        L.append(f"| sclcmeta MCMC (nutpie) | {m['q'][1]:.4f} | [{m['q'][0]:.4f}, {m['q'][2]:.4f}] | "
                 f"{_hr(m['q'][1]):.3f} [{_hr(m['q'][0]):.3f}, {_hr(m['q'][2]):.3f}] | median tau {m['tau_median']:.3f} | |")
    if pmr and pmr.get("status") == "ok":
        for k in ("DL", "REML"):
            r = pmr[k]
            L.append(f"| PyMARE {k} | {r['est']:.4f} | [{r['ci'][0]:.4f}, {r['ci'][1]:.4f}] | {_hr(r['est']):.3f} "
                     f"[{_hr(r['ci'][0]):.3f}, {_hr(r['ci'][1]):.3f}] | {r['tau2']:.4f} | frequentist; reported SE "
                     f"{r['se']:.4f} |")
    if mf and mf.get("status") == "ok":
        for k, lab in (("REML", "metafor REML (z test)"), ("DL", "metafor DL (z test)"),
                       ("REML_knha", "metafor REML, test='knha'")):
            r = mf.get(k)
            if r:
                L.append(f"| {lab} | {r['est']:.4f} | [{r['ci'][0]:.4f}, {r['ci'][1]:.4f}] | {_hr(r['est']):.3f} "
                         f"[{_hr(r['ci'][0]):.3f}, {_hr(r['ci'][1]):.3f}] | {r['tau2']:.4f} | frequentist; SE {r['se']:.4f} |")
    elif mf:
        L.append(f"| R metafor | | | | | {mf.get('status', 'FAILED')} |")
    L.append("\nThe frequentist estimators put tau^2 at its boundary (0) with three cohorts, so their intervals are "
             "fixed-effect intervals; the Bayesian interval integrates over tau under its prior and is wider by design. "
             "PyMARE's summary reports a Knapp-Hartung-type SE (scaled by sqrt(Q/(k-1)), here < 1, not truncated) with a "
             "t(k-1) interval, which is why it differs from metafor's default z interval; compare it with metafor's "
             "`test='knha'` row.\n")

    errs = [(k, v) for k, v in list(T.items()) + [(k + " (tracemalloc run)", v) for k, v in M.items()] if "error" in v]
    if errs:
        L.append("## Errors\n")
        for k, v in errs:
            L.append(f"- **{k}**: {v['error'].splitlines()[0][:500]}")
        L.append("")
    return "\n".join(L)


def parent_main(args) -> int:
    cfg = {"quick": args.quick, "pymc_cores": args.pymc_cores}
    cases = [c.strip() for c in args.cases.split(",")] if args.cases else list(CASES)
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        print(f"unknown case(s) {unknown}; choose from {', '.join(CASES)}", file=sys.stderr)
        return 2
    started = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    load0 = " ".join(f"{x:.2f}" for x in os.getloadavg())
    info = machine_info()
    print(f"sclcmeta benchmarks ({'quick' if args.quick else 'full'}) on {info['cpu']}, {info['cores']} cores, "
          f"{info['ram']}; load {load0}", flush=True)
    T0 = time.perf_counter()
    T, M = {}, {}
    limits = MEM_LIMITS_QUICK if args.quick else MEM_LIMITS_FULL
    for case in cases:
        print(f"[{time.perf_counter() - T0:7.1f} s] {case}: timing run ...", flush=True)
        T[case] = run_case(case, False, None, cfg, args.timeout)
        msg = "ERROR " + T[case]["error"].splitlines()[0][:200] if "error" in T[case] else "ok"
        print(f"[{time.perf_counter() - T0:7.1f} s] {case}: {msg} ({T[case]['process_wall']:.1f} s)", flush=True)
        if not args.no_tracemalloc and case in limits and limits[case] != 0:
            print(f"[{time.perf_counter() - T0:7.1f} s] {case}: tracemalloc run ...", flush=True)
            M[case] = run_case(case, True, limits[case], cfg, args.timeout)
            print(f"[{time.perf_counter() - T0:7.1f} s] {case}: peak "
                  f"{M[case].get('tracemalloc_peak_mb', float('nan')):.0f} MB ({M[case]['process_wall']:.1f} s)",
                  flush=True)
    wall = time.perf_counter() - T0
    finished = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    load1 = " ".join(f"{x:.2f}" for x in os.getloadavg())
    git_end = machine_info()["git"]
    if git_end != info["git"]:
        info["git"] += f"; at the end of the run: {git_end}"
    _NO_TM_REASON[0] = "--no-tracemalloc" if args.no_tracemalloc else ("--quick" if args.quick else "")
    md = build_markdown(info, T, M, cfg, started, finished, load0, load1, wall)
    print("\n" + md)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(md + "\n")
    raw = out.with_suffix(".json")
    raw.write_text(json.dumps({"machine": info, "config": cfg, "started": started, "finished": finished,
                               "load": [load0, load1], "wall": wall, "timing_runs": T, "tracemalloc_runs": M}, indent=1, default=float))
    print(f"\nwrote {out} and {raw}")
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: 5 prior settings (3 for the fresh pm.sample "
                   "sweep), report on the Q1 specs only, tracemalloc only for the cheap cases")
    p.add_argument("--out", default=str(HERE / "results.md"), help="Markdown output (raw JSON goes next to it)")
    p.add_argument("--cases", default="", help=f"comma-separated subset of: {', '.join(CASES)}")
    p.add_argument("--no-tracemalloc", action="store_true", help="skip the separate tracemalloc runs")
    p.add_argument("--pymc-cores", type=int, default=2, help="cores for the fresh pm.sample sweep (default 2, "
                   "like nutpie's 2 threads)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds per case process")
    p.add_argument("--from-json", help="re-render the Markdown from a saved results .json (no benchmarks run)")
    p.add_argument("--_child", help=argparse.SUPPRESS)
    p.add_argument("--_out", help=argparse.SUPPRESS)
    p.add_argument("--_cfg", help=argparse.SUPPRESS)
    p.add_argument("--_mem", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.from_json:
        d = json.loads(Path(args.from_json).read_text())
        T, M = d["timing_runs"], d["tracemalloc_runs"]
        wall = d.get("wall") or sum(v.get("process_wall", 0) for v in list(T.values()) + list(M.values()))
        _NO_TM_REASON[0] = "--quick" if d["config"]["quick"] else ("--no-tracemalloc" if not M else "")
        md = build_markdown(d["machine"], T, M, d["config"], d["started"], d["finished"], *d["load"], wall)
        print(md)
        if args.out != str(HERE / "results.md") or not args.from_json.endswith("results.json"):
            Path(args.out).write_text(md + "\n")
        else:
            Path(args.from_json).with_suffix(".md").write_text(md + "\n")
        return 0
    if args._child:
        return child_main(args._child, args._mem is not None, json.loads(args._mem) if args._mem else None,
                          json.loads(args._cfg), args._out)
    if args.quick and args.out == str(HERE / "results.md"):
        args.out = str(HERE / "results_quick.md")
    return parent_main(args)


if __name__ == "__main__":
    sys.exit(main())

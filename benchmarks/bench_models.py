"""The BTYD models (BG/NBD, MBG/NBD, Pareto/NBD): regulars against lifetimes, 1M customers.

Targets: BG/NBD fit <= 0.5 s and >= 10x faster than lifetimes at the same log-likelihood;
Pareto/NBD fit <= 2 s; predictions for 1M customers (expected purchases in 90 days and
P(alive)) <= 0.5 s; intervals for 1M customers (100 parameter draws, 5-95% of the
expected purchases) <= 5 s.

Data: a simulated two-year store of 1,000,000 customers (``regulars simulate --seed 1
--no-events``), imported into a workspace; its per-customer summary as of 2025-12-31
(frequency, recency_days, t_days; time in days) is written once to a parquet file in
``benchmarks/out`` and reused.

Peer: lifetimes 0.11.3 (``BetaGeoFitter``, ``ModifiedBetaGeoFitter``, ``ParetoNBDFitter``,
penalizer 0), installed by this script in its own venv (``benchmarks/out/lifetimes-venv``),
never a dependency of regulars; fitted on the same arrays in the same unit (days), as a
user calls it, and also (BG/NBD, MBG/NBD) on the identical rows merged with ``weights=``
(the merging timed too), which is what regulars does inside ``fit``. A lifetimes fit is
stopped after ``--cap`` seconds; one that takes over ``--once-above`` seconds is timed once.

Each measurement is a fresh subprocess (under GNU time, for its peak RSS); the child loads
the summary (not timed) and times its own steps with ``perf_counter``: fit; predictions
(both functions, for every customer); intervals (``quantiles_over_draws`` when the models
have it, and ``predict_with_draws`` then ``np.percentile``). Children of
regulars and lifetimes alternate, ``--repeat`` times; each figure is the median of the runs.
The first run's predictions are compared customer by customer. When regulars misses a
target, the step is run once more under cProfile and the functions taking the time are
written with the results.

Usage: ``python benchmarks/bench_models.py [--repeat 5] [--cap 900] [--no-record]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench_summary import AS_OF, OUT, lifetimes_python, median, regulars_cli
from harness import ROOT, machine, measure, revision, write_section

CUSTOMERS = 1_000_000
STORE = OUT / "models-1m"
WORKSPACE = OUT / "models-1m.duckdb"
SUMMARY = OUT / "models-1m-summary.parquet"
HORIZON = 90.0
N_DRAWS = 100
TOL_LL = 0.1  # log-likelihoods "match" when they differ by at most this

# key -> (label, regulars module, class, lifetimes class, lifetimes also fitted on merged rows)
MODELS = {
    "bgnbd": ("BG/NBD", "regulars.models.btyd", "BGNBD", "BetaGeoFitter", True),
    "mbgnbd": ("MBG/NBD", "regulars.models.btyd", "MBGNBD", "ModifiedBetaGeoFitter", True),
    "paretonbd": (
        "Pareto/NBD",
        "regulars.models.btyd.paretonbd",
        "ParetoNBD",
        "ParetoNBDFitter",
        False,
    ),
}
STEP_NOTES = {
    "predict": "`argsort`, `_unique1d` and `cumsum` are `np.unique` in `compress_counts` (the "
    "identical rows merged again), once per call: twice here.",
    "draws": f"`copy`, `partition` and `_lerp` are `np.percentile` (it copies the {N_DRAWS} "
    f"x {CUSTOMERS:,} draws, then partitions them); the self time of `predict_with_draws` is "
    "filling that array, one row of customers per draw (`[data.inverse]`).",
    "quantiles": "`copy`, `partition` and `_lerp` are `np.percentile`, on the draws x distinct "
    "rows; the self time of `quantiles_over_draws` is filling that array and spreading the "
    "percentiles to the customers (`[:, data.inverse]`).",
}
FIT_TARGET = {"bgnbd": 0.5, "paretonbd": 2.0}
PREDICT_TARGET = 0.5
INTERVAL_TARGET = 5.0
SPEEDUP_TARGET = 10.0


# -- children: each run in its own process -------------------------------------------------
def load_summary(path: str) -> tuple[Any, Any, Any]:
    """Return frequency, recency_days, t_days as numpy arrays (int64, as the summary has)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=["frequency", "recency_days", "t_days"])
    return tuple(table.column(c).to_numpy() for c in table.column_names)  # type: ignore[return-value]


def regulars_class(model: str) -> Any:
    import importlib

    _, module, name, _, _ = MODELS[model]
    return getattr(importlib.import_module(module), name)


def profiled(step: Any, top: int = 12) -> tuple[float, list[dict[str, Any]]]:
    """Run ``step()`` under cProfile; return its time and the functions taking the most."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.runcall(step)
    total = time.perf_counter() - start
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    rows = []
    for (file, line, func), (_, calls, self_s, cum_s, _) in stats.items():
        if file == "~":  # a C function or method: "<method 'copy' of 'numpy.ndarray' objects>"
            name = func.strip("<>").replace("built-in method ", "").replace("method ", "")
            name = name.replace(" of '", " of ").replace("' objects", "").replace("'", "")
        else:
            name = f"{file.split('/site-packages/')[-1].split('/src/')[-1]}:{line}({func})"
        rows.append({"function": name, "calls": calls, "self": self_s, "cum": cum_s})
    by_self = sorted(rows, key=lambda r: -r["self"])[:top]
    ours = [r for r in rows if r["function"].startswith("regulars/")]
    by_cum = sorted(ours, key=lambda r: -r["cum"])
    return total, [{"order": "self", **r} for r in by_self] + [
        {"order": "cum", **r} for r in by_cum
    ]


def child_regulars(spec: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    try:
        cls = regulars_class(spec["model"])
    except (ImportError, AttributeError) as exc:
        return {"missing": f"{type(exc).__name__}: {exc}"}
    f, r, t = load_summary(spec["summary"])
    out: dict[str, Any] = {}
    holder: dict[str, Any] = {}

    def fit() -> None:
        holder["m"] = cls().fit(f, r, t)

    def predict() -> None:
        m = holder["m"]
        holder["expected"] = m.expected_purchases(f, r, t, horizon=HORIZON)
        holder["alive"] = m.probability_alive(f, r, t)

    def draws() -> None:
        m = holder["m"]
        holder["draws"] = m.predict_with_draws(
            lambda p, d: m._expected_purchases(p, d, HORIZON), f, r, t, n_draws=N_DRAWS
        )

    def percentiles() -> None:
        holder["lo"], holder["hi"] = np.percentile(holder["draws"], [5, 95], axis=0)
        del holder["draws"]

    def quantiles() -> None:
        m = holder["m"]
        holder["q_lo"], holder["q_hi"] = m.quantiles_over_draws(
            lambda p, d: m._expected_purchases(p, d, HORIZON),
            f,
            r,
            t,
            percentiles=(5.0, 95.0),
            n_draws=N_DRAWS,
        )

    steps = {"fit": fit, "predict": predict, "draws": draws, "percentiles": percentiles}
    has_quantiles = hasattr(cls, "quantiles_over_draws")
    if has_quantiles:
        steps["quantiles"] = quantiles
    profile = {spec.get("profile")}
    if "intervals" in profile:
        profile |= {"quantiles"} if has_quantiles else {"draws", "percentiles"}
    for name, step in steps.items():
        if name in profile:
            out[name], out[f"profile_{name}"] = profiled(step)
        else:
            start = time.perf_counter()
            step()
            out[name] = time.perf_counter() - start
    m = holder["m"]
    if spec.get("profile") == "fit":
        out["rows_fitted"] = int(m.n_rows_)
    out["with_draws"] = out["draws"] + out["percentiles"]
    out["intervals"] = out["quantiles"] if has_quantiles else out["with_draws"]
    if has_quantiles:
        out["quantiles_diff"] = float(
            max(
                np.max(np.abs(holder["q_lo"] - holder["lo"])),
                np.max(np.abs(holder["q_hi"] - holder["hi"])),
            )
        )
    out["loglik"] = float(m.loglik_)
    out["params"] = dict(m.params_)
    out["gradient"] = float(m.gradient_norm_)
    out["rows"] = int(m.n_rows_)
    out["sums"] = {k: float(np.sum(holder[k])) for k in ("expected", "alive", "lo", "hi")}
    inside = (holder["lo"] <= holder["expected"]) & (holder["expected"] <= holder["hi"])
    out["inside"] = float(np.mean(inside))
    if spec.get("arrays"):
        np.save(spec["arrays"] + "-expected.npy", holder["expected"])
        np.save(spec["arrays"] + "-alive.npy", holder["alive"])
    return out


def lifetimes_loglik(model: str, fitter_cls: Any, fitted: Any, f: Any, r: Any, t: Any) -> float:
    """Return lifetimes' own log-likelihood of its estimate, in days.

    lifetimes fits on times divided by the largest T (its ``_scale``); its formulas are
    evaluated there (Pareto/NBD's ``hyp2f1`` gives nan for a few customers in days) and
    moved to days: a density of x purchase times gains x log(scale).
    """
    import numpy as np

    scale = fitted._scale
    params = fitted.params_.copy()
    for name in ("alpha", "beta"):
        if name in params:
            params[name] *= scale
    values = params.to_numpy(dtype=np.float64)
    if model == "paretonbd":
        ll = float(fitter_cls._conditional_log_likelihood(values, f, r * scale, t * scale).sum())
    else:
        mean = fitter_cls._negative_log_likelihood(
            np.log(values), f, r * scale, t * scale, np.ones(len(f)), 0.0
        )
        ll = -float(mean) * len(f)
    return ll + float(f.sum()) * float(np.log(scale))


def child_lifetimes(spec: dict[str, Any]) -> dict[str, Any]:
    import signal
    import warnings

    import lifetimes
    import numpy as np

    warnings.simplefilter("ignore")
    model = spec["model"]
    fitter_cls = getattr(lifetimes, MODELS[model][3])
    f, r, t = load_summary(spec["summary"])
    f = f.astype(np.int64)
    np.random.seed(0)  # ParetoNBDFitter starts from a random point

    def stop(*_: Any) -> None:
        raise TimeoutError

    signal.signal(signal.SIGALRM, stop)
    signal.alarm(int(spec["cap"]))
    start = time.perf_counter()
    try:
        if spec.get("weighted"):
            keys, counts = np.unique(np.stack([f, r, t]), axis=1, return_counts=True)
            fitter = fitter_cls(penalizer_coef=0.0).fit(*keys, weights=counts)
        else:
            fitter = fitter_cls(penalizer_coef=0.0).fit(f, r, t)
    except TimeoutError:
        return {"capped": float(spec["cap"])}
    finally:
        signal.alarm(0)
    out: dict[str, Any] = {"fit": time.perf_counter() - start}
    names = list(fitter.params_.index)
    params = fitter.params_[names].to_numpy(dtype=np.float64)
    out["params"] = dict(zip(names, params.tolist(), strict=True))
    out["loglik"] = lifetimes_loglik(model, fitter_cls, fitter, f, r, t)
    if spec.get("weighted"):
        return out
    start = time.perf_counter()
    expected = fitter.conditional_expected_number_of_purchases_up_to_time(HORIZON, f, r, t)
    alive = fitter.conditional_probability_alive(f, r, t)
    out["predict"] = time.perf_counter() - start
    expected, alive = np.asarray(expected, np.float64), np.asarray(alive, np.float64)
    out["sums"] = {"expected": float(np.sum(expected)), "alive": float(np.sum(alive))}
    if spec.get("arrays"):
        np.save(spec["arrays"] + "-expected.npy", expected)
        np.save(spec["arrays"] + "-alive.npy", alive)
    return out


def run_child(spec_json: str, result: str) -> None:
    spec = json.loads(spec_json)
    child = child_regulars if spec["tool"] == "regulars" else child_lifetimes
    Path(result).write_text(json.dumps(child(spec)))


# -- the parent: data, runs, checks, the section -------------------------------------------
def make_summary() -> Path:
    """Simulate and import the store, and write its summary; each only when missing."""
    if SUMMARY.exists():
        return SUMMARY
    OUT.mkdir(parents=True, exist_ok=True)
    if not WORKSPACE.exists():
        print(f"simulating {CUSTOMERS:,} customers and importing them ...", flush=True)
        regulars_cli(
            "simulate", "--customers", str(CUSTOMERS), "--seed", "1", "--no-events",
            "--out", str(STORE),
        )  # fmt: skip
        try:
            regulars_cli("import", str(STORE), "--workspace", str(WORKSPACE))
        except BaseException:
            WORKSPACE.unlink(missing_ok=True)
            raise
    import pyarrow.parquet as pq

    from regulars import Workspace
    from regulars.analytics.summary import customer_summary

    ws = Workspace(WORKSPACE)
    backend = ws.connect()
    expr = customer_summary(ws.table("orders", backend), ws.table("refunds", backend), as_of=AS_OF)
    table = expr.select("customer_id", "frequency", "recency_days", "t_days").to_pyarrow()
    partial = SUMMARY.with_suffix(".part")
    pq.write_table(table, partial)
    partial.rename(SUMMARY)
    return SUMMARY


def child(python: Path, spec: dict[str, Any], tmp: Path, tag: str) -> dict[str, Any]:
    result = tmp / f"{tag}.json"
    cmd = [str(python), __file__, "--child", json.dumps(spec), str(result)]
    run = measure(cmd)
    report: dict[str, Any] = json.loads(result.read_text())
    report["process"], report["rss"] = run.seconds, run.peak_rss_mb
    return report


def max_diff(tmp: Path, model: str, what: str) -> str:
    """Return the largest difference between regulars' and lifetimes' values, as text."""
    import numpy as np

    ours = np.load(tmp / f"{model}-regulars-{what}.npy")
    theirs = np.load(tmp / f"{model}-lifetimes-{what}.npy")
    finite = np.isfinite(theirs)
    text = f"{float(np.max(np.abs(ours[finite] - theirs[finite]))):.1e}"
    if not finite.all():
        text += f" (lifetimes: {int((~finite).sum())} nan)"
    return text


def med(runs: list[dict[str, Any]], key: str) -> float:
    return median([r[key] for r in runs if key in r])


def fmt(seconds: float) -> str:
    return f"{seconds:.2f}" if seconds < 100 else f"{seconds:.0f}"


def bench(repeat: int, cap: int, once_above: float, profile: bool, tmp: Path) -> str:
    summary = make_summary()
    lifetimes_py = lifetimes_python()
    sources = sources_digest(), revision("src/regulars/models")
    ours = Path(sys.executable)
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {}
    skip: set[tuple[str, str]] = set()
    for i in range(repeat):
        for model, (label, *_, weighted) in MODELS.items():
            plan = [("regulars", ours, {}), ("lifetimes", lifetimes_py, {})]
            if weighted:
                plan.append(("lifetimes-weighted", lifetimes_py, {"weighted": True}))
            for tool, python, extra in plan:
                if (model, tool) in skip:
                    continue
                spec = {
                    "tool": tool.split("-")[0],
                    "model": model,
                    "summary": str(summary),
                    "cap": cap,
                    **extra,
                }
                if i == 0:
                    spec["arrays"] = str(tmp / f"{model}-{tool}")
                report = child(python, spec, tmp, f"{model}-{tool}-{i}")
                runs.setdefault((model, tool), []).append(report)
                shown = report.get("fit", report.get("capped", report.get("missing")))
                print(f"run {i + 1}: {label} {tool}: {shown}", flush=True)
                if "missing" in report or "capped" in report or report["fit"] > once_above:
                    skip.add((model, tool))
    changed = sources[0] != sources_digest()
    return section(runs, repeat, cap, once_above, profile, summary, tmp, sources[1], changed)


def section(
    runs: dict[tuple[str, str], list[dict[str, Any]]],
    repeat: int,
    cap: int,
    once_above: float,
    profile: bool,
    summary: Path,
    tmp: Path,
    rev: str,
    changed: bool,
) -> str:
    fit_rows, pred_rows, int_rows, verdicts, details, profiles = [], [], [], [], [], []
    missed: dict[str, set[str]] = {}
    for model, (label, *_) in MODELS.items():
        ours = runs[(model, "regulars")]
        theirs = runs[(model, "lifetimes")]
        weighted = runs.get((model, "lifetimes-weighted"), [])
        lt_first = theirs[0]
        if "capped" in lt_first:
            lt_fit, lt_ll = f"> {cap} (stopped)", "-"
        else:
            lt_fit = fmt(med(theirs, "fit")) + (" (1 run)" if len(theirs) < repeat else "")
            lt_ll = f"{lt_first['loglik']:,.2f}"
        w_fit = fmt(med(weighted, "fit")) if weighted and "fit" in weighted[0] else "-"
        if "missing" in ours[0]:
            fit_rows.append(f"| {label} | not yet | - | {lt_fit} | {lt_ll} | - | - | {w_fit} |")
            lt_pred = fmt(med(theirs, "predict")) if "predict" in lt_first else "-"
            pred_rows.append(f"| {label} | not yet | {lt_pred} | - | - | - |")
            int_rows.append(f"| {label} | not yet | - | - | - | - | - |")
            verdicts.append(
                f"{label}: regulars' `{MODELS[model][1]}.{MODELS[model][2]}` is not yet "
                f"importable ({ours[0]['missing']}); lifetimes alone is timed."
            )
            continue
        fit = med(ours, "fit")
        ll = ours[0]["loglik"]
        ratio = med(theirs, "fit") / fit if "fit" in lt_first else float("nan")
        if "fit" in lt_first:
            delta = ll - lt_first["loglik"]
            match = "yes" if abs(delta) <= TOL_LL else f"no ({delta:+,.2f})"
            ratio_s = f"{ratio:.1f}x"
        else:
            match, ratio_s = "-", f"> {cap / fit:.0f}x"
        w_ratio = f" ({med(weighted, 'fit') / fit:.1f}x)" if w_fit != "-" else ""
        fit_rows.append(
            f"| {label} | {fmt(fit)} | {ll:,.2f} | {lt_fit} | {lt_ll} | {match} | {ratio_s} "
            f"| {w_fit}{w_ratio} |"
        )
        predict = med(ours, "predict")
        if "predict" in lt_first:
            lt_pred = med(theirs, "predict")
            d_e = max_diff(tmp, model, "expected")
            d_a = max_diff(tmp, model, "alive")
            pred_rows.append(
                f"| {label} | {fmt(predict)} | {fmt(lt_pred)} | {lt_pred / predict:.1f}x "
                f"| {d_e} | {d_a} |"
            )
        else:
            pred_rows.append(f"| {label} | {fmt(predict)} | - | - | - | - |")
        intervals = med(ours, "intervals")
        quantiles = fmt(med(ours, "quantiles")) if "quantiles" in ours[0] else "not yet"
        same_bounds = f"{ours[0]['quantiles_diff']:.1e}" if "quantiles" in ours[0] else "-"
        int_rows.append(
            f"| {label} | {quantiles} | {fmt(med(ours, 'draws'))} "
            f"| {fmt(med(ours, 'percentiles'))} | {fmt(med(ours, 'with_draws'))} | {same_bounds} "
            f"| {ours[0]['inside']:.1%} |"
        )
        checks = []
        if model in FIT_TARGET:
            checks.append(("fit", fit <= FIT_TARGET[model], f"fit <= {FIT_TARGET[model]} s"))
        if model == "bgnbd":
            same = match == "yes"
            checks.append(("fit", ratio >= SPEEDUP_TARGET and same, ">= 10x lifetimes, same LL"))
        checks.append(("predict", predict <= PREDICT_TARGET, f"predictions <= {PREDICT_TARGET} s"))
        checks.append(
            ("intervals", intervals <= INTERVAL_TARGET, f"intervals <= {INTERVAL_TARGET} s")
        )
        for step, ok, _ in checks:
            if not ok:
                missed.setdefault(model, set()).add(step)
        verdicts.append(
            f"{label}: "
            + "; ".join(f"{text} {'met' if ok else 'MISSED'}" for _, ok, text in checks)
            + "."
        )
        lt_params = lt_first.get("params", {})
        details.append(
            f"{label}: regulars fit runs "
            + ", ".join(f"{r['fit']:.2f}" for r in ours)
            + " s; lifetimes "
            + (", ".join(f"{r['fit']:.2f}" for r in theirs) if "fit" in lt_first else "stopped")
            + f" s; {ours[0]['rows']:,} distinct rows; parameters regulars "
            + ", ".join(f"{k} {v:.6g}" for k, v in ours[0]["params"].items())
            + (
                "; lifetimes " + ", ".join(f"{k} {v:.6g}" for k, v in lt_params.items())
                if lt_params
                else ""
            )
            + f"; peak RSS regulars {med(ours, 'rss'):,.0f} MB, lifetimes "
            f"{med(theirs, 'rss'):,.0f} MB."
        )
    if profile and missed:
        profiles = profile_missed(missed, summary, tmp)
    n_runs = f"median of {repeat} runs" if repeat > 1 else "time of 1 run"
    lines = [
        "## BTYD models: regulars against lifetimes, 1,000,000 customers",
        "",
        "Command: `.venv/bin/python benchmarks/bench_models.py`",
        f"Machine: {machine()} (`nproc`: {nproc()}); date {datetime.now(UTC):%Y-%m-%d}; "
        f"regulars at {rev}" + (" (the model sources CHANGED during the run)" if changed else ""),
        "",
        f"Data: `regulars simulate --customers {CUSTOMERS:,} --seed 1 --no-events`, imported; "
        f"per-customer summary as of {AS_OF} (time in days), cached in "
        f"`{summary.relative_to(ROOT)}`. Peer: lifetimes 0.11.3 in its own venv, penalizer 0, "
        "the same int64 arrays. Every measurement is a fresh process; the child loads the data "
        f"(not timed) and times each step with `perf_counter`. Seconds are the {n_runs} "
        "(regulars and lifetimes children alternating). Log-likelihoods are of all customers, "
        "in days, each tool's own formula at its own estimate (lifetimes' evaluated on its "
        "rescaled times, plus x log(scale) per customer); they match when within "
        f"{TOL_LL}. lifetimes fits taking over {once_above:.0f} s are "
        f"timed once, and stopped at {cap} s.",
        "",
        "Fit (default settings; includes the Hessian both tools compute after fitting):",
        "",
        "| model | regulars s | regulars LL | lifetimes s | lifetimes LL | same LL | "
        "lifetimes / regulars | lifetimes on merged rows s (/ regulars) |",
        "|---|---:|---:|---:|---:|---|---:|---:|",
        *fit_rows,
        "",
        f"Predictions for {CUSTOMERS:,} customers: expected purchases in {HORIZON:.0f} days and "
        "P(alive) (`expected_purchases` + `probability_alive`; lifetimes "
        "`conditional_expected_number_of_purchases_up_to_time` + "
        "`conditional_probability_alive`); largest difference over the customers:",
        "",
        "| model | regulars s | lifetimes s | lifetimes / regulars | max abs diff expected "
        "| max abs diff P(alive) |",
        "|---|---:|---:|---:|---:|---:|",
        *pred_rows,
        "",
        f"Intervals for {CUSTOMERS:,} customers: the 5th and 95th percentiles of the "
        f"{HORIZON:.0f}-day expected purchases over {N_DRAWS} parameter draws (Laplace "
        "approximation), by `quantiles_over_draws` (draws and percentiles on the distinct "
        "rows, then spread to the customers; the one the target is checked on when present) "
        "and by `predict_with_draws` (draws x customers) followed by `np.percentile` per "
        "customer; largest difference between the two ways' bounds; share of customers whose "
        "point estimate is inside their interval. lifetimes has no such intervals.",
        "",
        "| model | `quantiles_over_draws` s | `predict_with_draws` s | `np.percentile` s "
        "| draws + percentiles s | max abs diff of bounds | point estimate inside 5-95% |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *int_rows,
        "",
        *("- " + v for v in verdicts),
        *("- " + d for d in details),
    ]
    if profiles:
        lines += ["", *profiles]
    return "\n".join(lines) + "\n"


def sources_digest() -> str:
    """Return a digest of the model sources, to tell whether they changed during the run."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((ROOT / "src" / "regulars" / "models").rglob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def nproc() -> str:
    return subprocess.run(["nproc"], capture_output=True, text=True, check=False).stdout.strip()


def fit_note(report: dict[str, Any]) -> str:
    """Describe a profiled fit: evaluations, their cost, the Hessians."""
    named = {r["function"].split("(")[-1].rstrip(")"): r for r in report["profile_fit"]}
    total = report["fit"]
    objective, loglik = named["_objective"], named["_loglik_rows"]
    hessian = named.get("_hessian", {"calls": 0, "cum": 0.0})
    return (
        f"The log-likelihood and its gradient were evaluated {objective['calls']} times on "
        f"{report['rows_fitted']:,} distinct rows, "
        f"{objective['cum'] / objective['calls'] * 1e3:.0f} ms each on average "
        f"({objective['cum'] / total:.0%} of the fit): `_loglik_rows` "
        f"{loglik['cum'] / total:.0%}, the rest of `_objective` (its weighted sums `w @ ...`, "
        f"through BLAS) {(objective['cum'] - loglik['cum']) / total:.0%}. Of these evaluations, "
        f"{hessian['calls']} central-difference Hessians (`_hessian`, from `_polish` and "
        f"`_set_fitted`) took {hessian['cum'] / total:.0%} of the fit, L-BFGS-B the rest."
    )


def profile_missed(missed: dict[str, set[str]], summary: Path, tmp: Path) -> list[str]:
    """Run each missed step once more under cProfile; describe where its time goes."""
    out = ["Where the time goes in the missed targets (cProfile, one extra run each):"]
    for model, steps in missed.items():
        for step in sorted(steps):
            spec = {"tool": "regulars", "model": model, "summary": str(summary), "profile": step}
            report = child(Path(sys.executable), spec, tmp, f"profile-{model}-{step}")
            parts = [step]
            if step == "intervals":
                with_q = "profile_quantiles" in report
                parts = ["quantiles"] if with_q else ["draws", "percentiles"]
            total = sum(report[p] for p in parts)
            out += ["", f"{MODELS[model][0]} {step}: {total:.2f} s under the profiler.", ""]
            if "rows_fitted" in report:
                out += [fit_note(report), ""]
            note = STEP_NOTES.get(parts[0])
            if note:
                out += [note, ""]
            out += [
                "| function | calls | self s | self share | cumulative s | cumulative share |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            rows = [r for p in parts for r in report[f"profile_{p}"]]
            seen = set()
            for order in ("self", "cum"):
                ranked = sorted((r for r in rows if r["order"] == order), key=lambda r: -r[order])
                for r in ranked[:8]:
                    if r["function"] in seen:
                        continue
                    seen.add(r["function"])
                    out.append(
                        f"| `{r['function']}` | {r['calls']} | {r['self']:.2f} "
                        f"| {r['self'] / total:.0%} | {r['cum']:.2f} | {r['cum'] / total:.0%} |"
                    )
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        run_child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--cap", type=int, default=900, help="stop a lifetimes fit after this")
    parser.add_argument(
        "--once-above", type=float, default=120.0, help="time slower lifetimes fits once"
    )
    parser.add_argument("--no-profile", action="store_true", help="do not profile misses")
    parser.add_argument("--no-record", action="store_true", help="print, do not write docs")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        body = bench(args.repeat, args.cap, args.once_above, not args.no_profile, Path(tmp))
    if not args.no_record:
        write_section("models", body)
    print(body)


if __name__ == "__main__":
    main()

"""Recommendations: regulars' recommender on 1M order lines, against implicit's ALS.

Targets (record, never assert): fit + recommendations for every customer on 1,000,000 order
lines <= 30 s on this machine; per-customer recommendations from a fitted model <= 5 ms.

Data:
- a simulated store of about 1,000,000 order lines (``regulars simulate --customers 186000
  --seed 1 --no-events``), imported into a workspace in ``benchmarks/out`` (simulated and
  imported once, timed separately, then reused);
- UCI Online Retail (``regulars import online_retail.csv.gz``), for accuracy by the
  last-basket protocol (``evaluate_recommendations(tables, protocol="last", ks=(10, 20))``).

Measured, each in a fresh subprocess under GNU time (peak RSS), ``--runs`` times, children
alternating; each figure is the median of the runs:
- ``recommend(tables, k=10)`` for every customer, end to end (opening the workspace, reading
  the baskets and the products, fitting, every list);
- the same split by step with the :class:`Recommender` used directly: reading (``load_baskets``
  + ``load_catalogue``), ``fit``, ``recommend`` for every customer; then, with that fitted
  model, ``recommend([one_id], k=10)`` for ``--latency`` random customers (one untimed call
  first): median and 95th percentile;
- the peer, implicit 0.7.3 (``AlternatingLeastSquares(factors=64, iterations=15)`` on CPU),
  installed by this script in its own venv (``benchmarks/out/implicit-venv``), never a
  dependency of regulars: building the customer x product matrix (baskets holding the
  product) from the same baskets, exported once from the workspace; fit; ``recommend`` for
  every customer (k=10, ``filter_already_liked_items=False``); one customer at a time for
  the same random customers.

Accuracy on Online Retail: regulars and the baselines from ``evaluate_recommendations``; ALS
fitted on the same history (the baskets exported from the workspace by ``load_baskets`` and
``Baskets.split_last(1)``), its lists scored by regulars' own ``score_lists``. ALS is tuned
over factors 32/64/128, regularization 0.01/0.1 and alpha 1/10/40, picked by recall@10 on a
validation split of the history (each customer's last history basket predicted from the
earlier ones), then refitted on the whole history; the best on the test baskets themselves
is shown too (optimistic: tuned on the truth).

When a target is missed, the fit and the recommending step run once more under cProfile and
the functions taking the time are written with the results.

Usage: ``python benchmarks/bench_recs.py [--runs 3] [--quick] [--no-record]``
(``--quick``: a 5,000-customer store, one run, 50 latency calls; printed, not recorded).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import BIN, ROOT, machine, measure, revision, write_section

OUT = ROOT / "benchmarks" / "out"
IMPLICIT_VENV = OUT / "implicit-venv"
IMPLICIT_PINS = ["implicit==0.7.3"]
ONLINE_RETAIL = Path("/work/shared/data/online_retail/online_retail.csv.gz")
CUSTOMERS = 186_000  # 1,001,240 order lines with seed 1
QUICK_CUSTOMERS = 5_000
K = 10
KS = (10, 20)
ALS_TIMED = {"factors": 64, "iterations": 15, "regularization": 0.01, "alpha": 1.0}
ALS_GRID = [
    (factors, reg, alpha)
    for factors in (32, 64, 128)
    for reg in (0.01, 0.1)
    for alpha in (1.0, 10.0, 40.0)
]
QUIET_STALL = 0.10  # a child whose CPU stall is below this had the machine to itself
SETTINGS = {"wait": 0.0}  # seconds to wait for a quiet machine before each child
TARGET_ALL = 30.0  # seconds: fit + recommendations for every customer, 1M lines
TARGET_ONE = 5.0  # ms: one customer's list from a fitted model
LATENCY_SEED = 7


# -- children: each run in its own process -------------------------------------------------
def child_e2e(spec: dict[str, Any]) -> dict[str, Any]:
    """``recommend(tables, k=10)`` for every customer, timed from opening the workspace."""
    from regulars.engines import open_engine
    from regulars.recommend.run import recommend
    from regulars.workspace import Workspace

    start = time.perf_counter()
    with open_engine(Workspace(spec["workspace"]), "duckdb") as engine:
        result = recommend(engine.tables(), k=K)
    seconds = time.perf_counter() - start
    info = result.as_dict()
    return {
        "seconds": seconds,
        "inner_seconds": info["seconds"],
        "rows": info["rows"],
        "customers": info["customers"],
        "products": info["products"],
        "ranker": info["ranker"],
        "ranker_reason": info["ranker_reason"],
        "reasons": info["reasons"],
    }


def child_split(spec: dict[str, Any]) -> dict[str, Any]:
    """Time reading, fit and recommending apart; then one customer at a time."""
    import numpy as np

    from regulars.engines import open_engine
    from regulars.recommend.model import Recommender
    from regulars.recommend.run import load_baskets, load_catalogue
    from regulars.workspace import Workspace

    out: dict[str, Any] = {}
    holder: dict[str, Any] = {}
    start = time.perf_counter()
    with open_engine(Workspace(spec["workspace"]), "duckdb") as engine:
        tables = engine.tables()
        baskets = load_baskets(tables)
        catalogue = load_catalogue(tables, baskets)
    out["read"] = time.perf_counter() - start
    out["entries"] = baskets.n_entries

    def fit() -> None:
        holder["model"] = Recommender().fit(baskets, catalogue)

    def recommend_all() -> None:
        holder["frame"] = holder["model"].recommend(None, k=K)

    for name, step in (("fit", fit), ("recommend", recommend_all)):
        if spec.get("profile"):
            from bench_models import profiled

            out[name], out[f"profile_{name}"] = profiled(step, top=15)
        else:
            start = time.perf_counter()
            step()
            out[name] = time.perf_counter() - start
    model = holder["model"]
    out["rows"] = len(holder["frame"])
    out["training_customers"] = model.training_customers_
    out["training_rows"] = getattr(model, "training_rows_", 0)
    ids = spec.get("latency_ids", [])
    if ids:
        model.recommend([ids[0]], k=K)  # untimed: first-call overheads
        times = []
        for customer in ids:
            start = time.perf_counter()
            model.recommend([customer], k=K)
            times.append(time.perf_counter() - start)
        ms = np.array(times) * 1e3
        out["one_median_ms"] = float(np.median(ms))
        out["one_p95_ms"] = float(np.percentile(ms, 95))
        out["one_max_ms"] = float(ms.max())
    out["n_latency"] = len(ids)
    return out


def child_als_time(spec: dict[str, Any]) -> dict[str, Any]:
    """Time implicit ALS on the store's matrix: build, fit, every list, one at a time."""
    import numpy as np
    import scipy.sparse as sp
    from implicit.als import AlternatingLeastSquares  # type: ignore[import-not-found]

    data = np.load(spec["matrix"])
    n_users, n_items = int(data["n_users"]), int(data["n_items"])
    out: dict[str, Any] = {}
    start = time.perf_counter()
    matrix = sp.csr_matrix(
        (data["count"].astype(np.float32), (data["customer"], data["item"])),
        shape=(n_users, n_items),
    )
    out["matrix"] = time.perf_counter() - start
    model = AlternatingLeastSquares(**ALS_TIMED, random_state=0)
    start = time.perf_counter()
    model.fit(matrix, show_progress=False)
    out["fit"] = time.perf_counter() - start
    users = np.arange(n_users)
    start = time.perf_counter()
    ids, _ = model.recommend(users, matrix, N=K, filter_already_liked_items=False)
    out["recommend"] = time.perf_counter() - start
    out["rows"] = int((ids >= 0).sum())
    latency = data["latency"]
    if latency.size:
        one = int(latency[0])
        model.recommend(one, matrix[one], N=K, filter_already_liked_items=False)  # untimed
        times = []
        for user in latency.tolist():
            start = time.perf_counter()
            model.recommend(user, matrix[user], N=K, filter_already_liked_items=False)
            times.append(time.perf_counter() - start)
        ms = np.array(times) * 1e3
        out["one_median_ms"] = float(np.median(ms))
        out["one_p95_ms"] = float(np.percentile(ms, 95))
        out["one_max_ms"] = float(ms.max())
    return out


def child_evaluate(spec: dict[str, Any]) -> dict[str, Any]:
    """``evaluate_recommendations`` on Online Retail, last-basket protocol."""
    from regulars.engines import open_engine
    from regulars.recommend.run import evaluate_recommendations
    from regulars.workspace import Workspace

    start = time.perf_counter()
    with open_engine(Workspace(spec["workspace"]), "duckdb") as engine:
        result = evaluate_recommendations(engine.tables(), protocol="last", ks=KS)
    info = result.as_dict()
    info["wall"] = time.perf_counter() - start
    return info


def child_als_eval(spec: dict[str, Any]) -> dict[str, Any]:
    """ALS lists (top 20) for the validation and the test customers, for every setting."""
    import numpy as np
    import scipy.sparse as sp
    from implicit.als import AlternatingLeastSquares

    data = np.load(spec["data"])
    n_users, n_items = int(data["n_users"]), int(data["n_items"])
    lists: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for part in ("val", "test"):
        matrix = sp.csr_matrix(
            (
                data[f"{part}_count"].astype(np.float32),
                (data[f"{part}_customer"], data[f"{part}_item"]),
            ),
            shape=(n_users, n_items),
        )
        users = data[f"{part}_users"]
        for factors, reg, alpha in ALS_GRID:
            model = AlternatingLeastSquares(
                factors=factors,
                regularization=reg,
                alpha=alpha,
                iterations=ALS_TIMED["iterations"],
                random_state=0,
            )
            start = time.perf_counter()
            model.fit(matrix, show_progress=False)
            ids, _ = model.recommend(
                users, matrix[users], N=max(KS), filter_already_liked_items=False
            )
            key = f"{part}-{factors}-{reg}-{alpha}"
            seconds[key] = time.perf_counter() - start
            lists[key] = ids
    np.savez(spec["lists"], **lists)
    return {"seconds": seconds}


CHILDREN = {
    "e2e": child_e2e,
    "split": child_split,
    "als-time": child_als_time,
    "evaluate": child_evaluate,
    "als-eval": child_als_eval,
}


def run_child(spec_path: str, result_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    result = CHILDREN[spec["kind"]](spec)
    result["load_end"] = os.getloadavg()[0]
    if "regulars" in sys.modules:
        result["regulars_from"] = str(Path(sys.modules["regulars"].__file__ or "").parent)
    Path(result_path).write_text(json.dumps(result))


# -- the parent: data, peer, timing, the section -------------------------------------------
class LoadSampler:
    """Sample the 1-minute load average every few seconds while the benchmark runs."""

    def __init__(self, every: float = 5.0) -> None:
        self.every, self.samples = every, [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> list[float]:
        """Stop sampling; return the samples."""
        self._stop.set()
        self._thread.join()
        return self.samples


def snapshot(tmp: Path) -> Path:
    """Copy ``src/regulars`` as it is now; every regulars child (and this process) runs the copy.

    The recommender may be edited while the benchmark runs: all runs then still time the
    same code.
    """
    src = tmp / "src"
    shutil.copytree(
        ROOT / "src" / "regulars", src / "regulars", ignore=shutil.ignore_patterns("__pycache__")
    )
    sys.path.insert(0, str(src))
    return src


def regulars_cli(*args: str) -> None:
    subprocess.run([str(BIN / "regulars"), *args], check=True, stdout=subprocess.DEVNULL)


def store_workspace(customers: int) -> tuple[Path, dict[str, Any]]:
    """Simulate and import the store once (timed); return the workspace and what it took."""
    ws = OUT / f"recs-{customers}.duckdb"
    meta_path = OUT / f"recs-{customers}.json"
    if ws.exists() and meta_path.exists():
        return ws, json.loads(meta_path.read_text())
    store = OUT / f"recs-store-{customers}"
    print(f"simulating {customers:,} customers and importing them ...", flush=True)
    start = time.perf_counter()
    regulars_cli(
        "simulate", "--customers", str(customers), "--seed", "1", "--no-events",
        "--out", str(store),
    )  # fmt: skip
    simulate_s = time.perf_counter() - start
    ws.unlink(missing_ok=True)
    start = time.perf_counter()
    regulars_cli("import", str(store), "--workspace", str(ws))
    import_s = time.perf_counter() - start
    import duckdb

    with duckdb.connect(str(ws), read_only=True) as con:
        counts = {
            t: int(con.execute(f"SELECT count(*) FROM {t}").fetchone()[0])  # type: ignore[index]
            for t in ("customers", "orders", "order_lines", "products")
        }
    meta = {"simulate_s": simulate_s, "import_s": import_s, **counts}
    meta_path.write_text(json.dumps(meta))
    return ws, meta


def retail_workspace() -> tuple[Path, float | None]:
    """Import Online Retail once; return the workspace and the import's seconds (if now)."""
    ws = OUT / "online-retail.duckdb"
    if ws.exists():
        return ws, None
    print("importing Online Retail ...", flush=True)
    start = time.perf_counter()
    regulars_cli("import", str(ONLINE_RETAIL), "--workspace", str(ws))
    return ws, time.perf_counter() - start


def implicit_python() -> Path:
    """Create the separate venv with implicit (once) and return its interpreter."""
    python = IMPLICIT_VENV / "bin" / "python"
    if not python.exists():
        print("installing implicit in", IMPLICIT_VENV, flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(IMPLICIT_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *IMPLICIT_PINS], check=True)
    return python


def read_baskets(ws: Path) -> Any:
    from regulars.engines import open_engine
    from regulars.recommend.run import load_baskets
    from regulars.workspace import Workspace

    with open_engine(Workspace(str(ws)), "duckdb") as engine:
        return load_baskets(engine.tables())


def pairs(baskets: Any) -> dict[str, Any]:
    """Return customer, product and the number of baskets holding it, per pair bought."""
    import numpy as np

    n = baskets.n_items
    key, count = np.unique(baskets.customer * n + baskets.item, return_counts=True)
    return {"customer": key // n, "item": key % n, "count": count}


def export_store(ws: Path, tmp: Path, n_latency: int) -> tuple[Path, list[str], int]:
    """Write the store's matrix for the peer; pick the customers timed one at a time."""
    import numpy as np

    baskets = read_baskets(ws)
    rng = np.random.default_rng(LATENCY_SEED)
    chosen = rng.choice(baskets.n_customers, min(n_latency, baskets.n_customers), replace=False)
    path = tmp / "store-matrix.npz"
    np.savez(
        path,
        **pairs(baskets),
        n_users=baskets.n_customers,
        n_items=baskets.n_items,
        latency=chosen.astype(np.int64),
    )
    return path, [str(c) for c in baskets.customer_ids[chosen]], baskets.n_entries


def export_retail(ws: Path, tmp: Path) -> tuple[Path, Any, Any]:
    """Write Online Retail's test and validation histories; return both splits."""
    import numpy as np

    from regulars.recommend.evaluate import Split

    baskets = read_baskets(ws)
    history, truth = baskets.split_last(1)
    val_history, val_truth = history.split_last(1)
    test, val = Split(history, truth, "last"), Split(val_history, val_truth, "last")
    arrays: dict[str, Any] = {"n_users": baskets.n_customers, "n_items": baskets.n_items}
    for part, split in (("test", test), ("val", val)):
        for name, values in pairs(split.history).items():
            arrays[f"{part}_{name}"] = values
        arrays[f"{part}_users"] = split.customers
    path = tmp / "retail.npz"
    np.savez(path, **arrays)
    return path, test, val


def child(
    python: Path, spec: dict[str, Any], tmp: Path, name: str, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run one child under GNU time; return its report with wall seconds and peak RSS."""
    spec_path, result_path = tmp / f"{name}.spec.json", tmp / f"{name}.json"
    spec_path.write_text(json.dumps(spec))
    waited = wait_quiet(SETTINGS["wait"])
    load, stall = os.getloadavg()[0], cpu_stall_us()
    start = time.perf_counter()
    run = measure([str(python), __file__, "--child", str(spec_path), str(result_path)], env=env)
    wall = time.perf_counter() - start
    report: dict[str, Any] = json.loads(result_path.read_text())
    report.update(process=run.seconds, rss=run.peak_rss_mb, load_start=load, waited=waited)
    if stall is not None:
        report["stall"] = (cpu_stall_us() or stall) - stall
        report["stall"] /= wall * 1e6
    return report


def cpu_stall_us() -> float | None:
    """Return the time (µs) some task has waited for a CPU since boot (Linux PSI), if known."""
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
    except (OSError, IndexError):
        return None
    return float(some.rsplit("total=", 1)[1])


def wait_quiet(limit: float, threshold: float = 10.0) -> float:
    """Wait (at most ``limit`` s) until CPU pressure over 10 s is below ``threshold`` percent."""
    start = time.perf_counter()
    while time.perf_counter() - start < limit:
        try:
            line = Path("/proc/pressure/cpu").read_text().splitlines()[0]
            avg10 = float(line.split("avg10=")[1].split()[0])
        except (OSError, IndexError, ValueError):
            break
        if avg10 < threshold:
            break
        time.sleep(2.0)
    return time.perf_counter() - start


def score_als(lists_path: Path, test: Any, val: Any) -> list[dict[str, Any]]:
    """Score every ALS setting's lists with regulars' own metrics."""
    import numpy as np
    import pandas as pd

    from regulars.recommend.evaluate import score_lists

    lists = np.load(lists_path)
    rows = []
    for factors, reg, alpha in ALS_GRID:
        row: dict[str, Any] = {"factors": factors, "regularization": reg, "alpha": alpha}
        for part, split in (("val", val), ("test", test)):
            ids = lists[f"{part}-{factors}-{reg}-{alpha}"]
            users = split.customers
            frame = pd.DataFrame(
                {
                    "customer": np.repeat(users, ids.shape[1]),
                    "item": ids.ravel(),
                    "rank": np.tile(np.arange(1, ids.shape[1] + 1), users.size),
                }
            )
            frame = frame[frame["item"] >= 0]
            for k in KS:
                row[f"{part}{k}"] = score_lists(frame, split, k=k)
        rows.append(row)
    return rows


def med(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def sources_digest(package: Path) -> str:
    """Return a digest of the recommender's sources under ``package`` (a ``regulars`` folder)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted((package / "recommend").rglob("*")):
        if path.suffix in (".py", ".toml"):
            digest.update(path.read_bytes())
    return digest.hexdigest()


def profile_lines(report: dict[str, Any]) -> list[str]:
    out = ["Where the time goes (cProfile, one extra run of the split child):"]
    for step in ("fit", "recommend"):
        total = report[step]
        rows = report[f"profile_{step}"]
        out += [
            "",
            f"`Recommender.{step}` on {report['entries']:,} basket entries: {total:.1f} s "
            "under the profiler. The 15 functions with the most self time, then regulars' "
            "own functions by cumulative time:",
            "",
            "| function | calls | self s | self share | cumulative s | cumulative share |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        seen = set()
        by_self = [r for r in rows if r["order"] == "self"][:15]
        by_cum = [r for r in rows if r["order"] == "cum"][:10]
        for r in [*by_self, *by_cum]:
            if r["function"] in seen:
                continue
            seen.add(r["function"])
            out.append(
                f"| `{r['function']}` | {r['calls']} | {r['self']:.2f} | {r['self'] / total:.0%} "
                f"| {r['cum']:.2f} | {r['cum'] / total:.0%} |"
            )
    return out


def metric_cells(m: dict[str, float]) -> str:
    return (
        f"{m['recall']:.3f} | {m['ndcg']:.3f} | {m['ndcg_li']:.3f} | {m['hit_rate']:.3f} "
        f"| {m['repeat_share']:.2f} | {m['explore_recall']:.3f}"
    )


def bench(args: argparse.Namespace, tmp: Path) -> str:
    customers = QUICK_CUSTOMERS if args.quick else args.customers
    snap = snapshot(tmp)
    digest = sources_digest(snap / "regulars")
    ws, meta = store_workspace(customers)
    retail_ws, retail_import_s = retail_workspace()
    peer = implicit_python()
    matrix, latency_ids, entries = export_store(ws, tmp, args.latency)
    retail_npz, test, val = export_retail(retail_ws, tmp)
    ours = Path(sys.executable)
    ours_env = {"PYTHONPATH": str(snap)}
    peer_env = {"OPENBLAS_NUM_THREADS": "1"}  # what implicit asks for (else it warns)
    rev = revision("src/regulars/recommend") + f" (recommender sources {digest[:12]})"
    sampler = LoadSampler()
    started = datetime.now(UTC)
    e2e, split, als = [], [], []
    for i in range(args.runs):
        spec: dict[str, Any] = {"kind": "e2e", "workspace": str(ws)}
        report = child(ours, spec, tmp, f"e2e-{i}", env=ours_env)
        e2e.append(report)
        print(f"run {i + 1}: regulars recommend(): {report['seconds']:.1f} s", flush=True)
        spec = {"kind": "split", "workspace": str(ws), "latency_ids": latency_ids}
        report = child(ours, spec, tmp, f"split-{i}", env=ours_env)
        split.append(report)
        print(
            f"run {i + 1}: regulars read {report['read']:.1f} s, fit {report['fit']:.1f} s, "
            f"recommend {report['recommend']:.1f} s, one {report['one_median_ms']:.1f} ms",
            flush=True,
        )
        spec = {"kind": "als-time", "matrix": str(matrix)}
        report = child(peer, spec, tmp, f"als-{i}", env=peer_env)
        als.append(report)
        print(
            f"run {i + 1}: implicit ALS fit {report['fit']:.2f} s, "
            f"recommend {report['recommend']:.2f} s",
            flush=True,
        )
    spec = {"kind": "evaluate", "workspace": str(retail_ws)}
    evaluation = child(ours, spec, tmp, "evaluate", env=ours_env)
    print(f"Online Retail evaluated in {evaluation['seconds']:.1f} s", flush=True)
    lists = tmp / "als-lists.npz"
    als_eval = child(
        peer, {"kind": "als-eval", "data": str(retail_npz), "lists": str(lists)}, tmp,
        "als-eval", env=peer_env,
    )  # fmt: skip
    grid = score_als(lists, test, val)
    e2e_s = med(e2e, "seconds")
    one_ms = med(split, "one_median_ms")
    missed = e2e_s > TARGET_ALL or one_ms > TARGET_ONE
    profile = None
    if (missed or args.profile) and not args.no_profile:
        print("profiling fit and recommend ...", flush=True)
        profile_spec = {"kind": "split", "workspace": str(ws), "profile": True}
        profile = child(ours, profile_spec, tmp, "profile", env=ours_env)
    loads = sampler.stop()
    changed = digest != sources_digest(ROOT / "src" / "regulars")
    raw = {"e2e": e2e, "split": split, "als": als, "evaluation": evaluation, "grid": grid}
    (OUT / ("recs-results-quick.json" if args.quick else "recs-results.json")).write_text(
        json.dumps(raw, indent=1)
    )
    return section(
        customers, meta, retail_import_s, entries, e2e, split, als, evaluation, als_eval, grid,
        profile, loads, started, rev, changed,
    )  # fmt: skip


def section(
    customers: int,
    meta: dict[str, Any],
    retail_import_s: float | None,
    entries: int,
    e2e: list[dict[str, Any]],
    split: list[dict[str, Any]],
    als: list[dict[str, Any]],
    evaluation: dict[str, Any],
    als_eval: dict[str, Any],
    grid: list[dict[str, Any]],
    profile: dict[str, Any] | None,
    loads: list[float],
    started: datetime,
    rev: str,
    changed: bool,
) -> str:
    runs = len(e2e)
    lines_n = meta["order_lines"]
    e2e_s, read_s, fit_s, rec_s = (
        med(e2e, "seconds"),
        med(split, "read"),
        med(split, "fit"),
        med(split, "recommend"),
    )
    als_matrix, als_fit, als_rec = med(als, "matrix"), med(als, "fit"), med(als, "recommend")
    ours_fr, als_fr = fit_s + rec_s, als_matrix + als_fit + als_rec

    def all_runs(reports: list[dict[str, Any]], key: str, digits: int = 1) -> str:
        return ", ".join(f"{r[key]:.{digits}f}" for r in reports)

    def rss(reports: list[dict[str, Any]]) -> str:
        return f"{med(reports, 'rss'):,.0f}"

    time_rows = [
        f"| regulars `recommend(tables, k=10)`, end to end | {e2e_s:.1f} "
        f"| {all_runs(e2e, 'seconds')} | {med(e2e, 'process'):.1f} | {rss(e2e)} |",
        f"| regulars: reading baskets + products (`load_baskets`, `load_catalogue`) | {read_s:.1f} "
        f"| {all_runs(split, 'read')} | | |",
        f"| regulars: `Recommender().fit` | {fit_s:.1f} | {all_runs(split, 'fit')} | | |",
        f"| regulars: `recommend(None, k=10)`, every customer | {rec_s:.1f} "
        f"| {all_runs(split, 'recommend')} | | |",
        f"| regulars: fit + recommend (the split child) | {ours_fr:.1f} | "
        + ", ".join(f"{r['fit'] + r['recommend']:.1f}" for r in split)
        + f" | {med(split, 'process'):.1f} | {rss(split)} |",
        f"| peer: implicit ALS, building the CSR matrix | {als_matrix:.2f} "
        f"| {all_runs(als, 'matrix', 2)} | | |",
        f"| peer: implicit ALS `fit` | {als_fit:.2f} | {all_runs(als, 'fit', 2)} | | |",
        f"| peer: implicit ALS `recommend`, every customer | {als_rec:.2f} "
        f"| {all_runs(als, 'recommend', 2)} | | |",
        f"| peer: implicit ALS, matrix + fit + recommend | {als_fr:.2f} | "
        + ", ".join(f"{r['matrix'] + r['fit'] + r['recommend']:.2f}" for r in als)
        + f" | {med(als, 'process'):.1f} | {rss(als)} |",
    ]
    latency_rows = [
        f"| regulars `Recommender.recommend([id], k=10)` | {med(split, 'one_median_ms'):.1f} "
        f"| {med(split, 'one_p95_ms'):.1f} | {max(r['one_max_ms'] for r in split):.1f} "
        f"| {all_runs(split, 'one_median_ms')} |",
        f"| peer: implicit ALS `recommend(id, row, N=10)` | {med(als, 'one_median_ms'):.2f} "
        f"| {med(als, 'one_p95_ms'):.2f} | {max(r['one_max_ms'] for r in als):.2f} "
        f"| {all_runs(als, 'one_median_ms', 2)} |",
    ]
    # Online Retail: regulars and the baselines, then ALS
    metrics: dict[tuple[str, int], dict[str, float]] = {
        (r["method"], r["k"]): r for r in evaluation["results"]
    }
    best_val = max(grid, key=lambda r: r["val10"]["recall"])
    best_test = max(grid, key=lambda r: r["test10"]["recall"])

    def setting(r: dict[str, Any]) -> str:
        return f"factors {r['factors']}, regularization {r['regularization']}, alpha {r['alpha']:g}"

    acc_rows = []
    for k in KS:
        for method in ("regulars", "G-TopFreq", "P-TopFreq", "GP-TopFreq"):
            acc_rows.append(f"| {k} | {method} | {metric_cells(metrics[(method, k)])} |")
        acc_rows.append(
            f"| {k} | implicit ALS (tuned on validation) | {metric_cells(best_val[f'test{k}'])} |"
        )
        if best_test is not best_val:
            acc_rows.append(
                f"| {k} | implicit ALS (best on the test baskets; optimistic) "
                f"| {metric_cells(best_test[f'test{k}'])} |"
            )
    grid_rows = [
        f"| {r['factors']} | {r['regularization']:g} | {r['alpha']:g} "
        f"| {r['val10']['recall']:.3f} | {r['test10']['recall']:.3f} "
        f"| {r['test20']['recall']:.3f} |"
        for r in sorted(grid, key=lambda r: -r["val10"]["recall"])
    ]
    ours10 = metrics[("regulars", 10)]["recall"]
    ours20 = metrics[("regulars", 20)]["recall"]
    als10, als20 = best_val["test10"]["recall"], best_val["test20"]["recall"]
    # targets
    one_ms, one_p95 = med(split, "one_median_ms"), med(split, "one_p95_ms")
    verdict_all = "met" if e2e_s <= TARGET_ALL else "NOT MET"
    verdict_fr = "met" if ours_fr <= TARGET_ALL else "NOT MET"
    verdict_one = "met" if one_ms <= TARGET_ONE else "NOT MET"
    verdict_p95 = "met" if one_p95 <= TARGET_ONE else "NOT MET"
    load_note = (
        f"1-minute load average during the run (sampled every 5 s): median "
        f"{statistics.median(loads):.1f}, max {max(loads):.1f} on {os.cpu_count()} cores; "
        "regulars' children and the ALS peer use up to 2 threads each, so a load well above 2 "
        "means other jobs were competing for the cores"
    )
    load_note += "; at the start of each run's end-to-end child: " + ", ".join(
        f"{r['load_start']:.1f}" for r in e2e
    )
    busy = statistics.median(loads) > 2.5
    if busy:
        load_note += " (it was: the times are likely inflated)"
    if "stall" in e2e[0]:

        def stalls(reports: list[dict[str, Any]]) -> str:
            return ", ".join(f"{r['stall']:.0%}" for r in reports)

        load_note += (
            ". CPU stall (Linux PSI `/proc/pressure/cpu`, share of each child's wall time in "
            "which some task waited for a core; near 0 when a child had the machine to "
            f"itself): end to end {stalls(e2e)}; split {stalls(split)}; ALS {stalls(als)}"
        )
    waits = [r["waited"] for r in [*e2e, *split, *als]]
    if SETTINGS["wait"] > 0:
        load_note += (
            f". Before each child the script waited (at most {SETTINGS['wait']:.0f} s) for the "
            f"CPU pressure to drop below 10%: {sum(waits):.0f} s in all"
        )
    cmd = " ".join(["`.venv/bin/python benchmarks/bench_recs.py", *sys.argv[1:]]).strip() + "`"
    first = e2e[0]
    created = (
        f" (simulated in {meta['simulate_s']:.0f} s, imported in {meta['import_s']:.0f} s; "
        "not part of any timing)"
    )
    retail_import = f" (imported in {retail_import_s:.0f} s)" if retail_import_s is not None else ""
    body = [
        "## Recommendations: regulars against implicit ALS",
        "",
        f"Command: {cmd}",
        f"Machine: {machine()}; date {started:%Y-%m-%d}; regulars at {rev}; every regulars "
        "child ran a copy of `src/regulars` taken at the start"
        + (" (the working tree's recommender CHANGED during the run)" if changed else ""),
        f"Load: {load_note}.",
        "",
        f"Data: `regulars simulate --customers {customers} --seed 1 --no-events`, imported into "
        f"a workspace: {meta['customers']:,} customers, {meta['orders']:,} orders, "
        f"{lines_n:,} order lines, {meta['products']:,} products{created}; "
        f"{entries:,} (basket, product) entries as of the last sale. Every figure is from a "
        f"fresh process under GNU time; seconds are the child's own `perf_counter` timing, "
        f"the median of {runs} run{'s' if runs > 1 else ''} (children alternating: end to end, "
        'split, ALS); "process s" and peak RSS are GNU `time -v` of the whole child '
        "(imports included; the split child also runs the one-customer calls, the ALS child "
        "also loads the exported matrix). The ALS peer is implicit 0.7.3 in its own venv "
        f"(`benchmarks/out/implicit-venv`, `OPENBLAS_NUM_THREADS=1` as implicit asks, its own "
        f"threads = cores), `AlternatingLeastSquares(factors={ALS_TIMED['factors']}, "
        f"iterations={ALS_TIMED['iterations']}, regularization={ALS_TIMED['regularization']})` "
        "on CPU, fitted on the customer x product matrix of the same baskets (value: baskets "
        "holding the product), exported once from the workspace with `load_baskets` (not "
        "timed); `recommend` for every customer with `filter_already_liked_items=False`.",
        "",
        f"Fit and lists of {K} for every customer ({first['customers']:,} customers, "
        f"{first['rows']:,} rows; ranker: {first['ranker']}, {first['ranker_reason']}):",
        "",
        "| what | median s | runs s | process s | peak RSS (MB) |",
        "|---|---:|---|---:|---:|",
        *time_rows,
        "",
        f"- regulars fit + recommend / ALS matrix + fit + recommend = {ours_fr / als_fr:.1f}x "
        f"on the medians (ALS takes {als_fr / ours_fr:.0%} of regulars' time); run by run: "
        + ", ".join(
            f"{(o['fit'] + o['recommend']) / (a['matrix'] + a['fit'] + a['recommend']):.1f}x"
            for o, a in zip(split, als, strict=True)
        )
        + f". End to end (with reading from the workspace) regulars takes {e2e_s:.1f} s.",
        *undisturbed(e2e, split, als),
        f"- The ranker was trained on {split[0]['training_rows']:,} candidate rows of "
        f"{split[0]['training_customers']:,} customers (its time split of the history).",
        "",
        f"One customer at a time, from a fitted model ({split[0]['n_latency']} random "
        "customers, the same for both, one untimed call first; median of the runs' medians "
        "and 95th percentiles):",
        "",
        "| what | median ms | p95 ms | max ms | runs' medians ms |",
        "|---|---:|---:|---:|---|",
        *latency_rows,
        "",
        f"Accuracy on UCI Online Retail{retail_import}, last-basket protocol: "
        f"{evaluation['customers']:,} customers with at least two baskets, each one's last "
        "basket the truth, everything earlier (and every other customer's baskets) the "
        'history (`evaluate_recommendations(tables, protocol="last", ks=(10, 20))`, '
        f"{evaluation['seconds']:.0f} s; ranker: {evaluation['ranker']}, "
        f"{evaluation['ranker_reason']}). implicit ALS is fitted on the same history "
        "(exported with `load_baskets` and `Baskets.split_last(1)`), its top 20 scored by "
        "regulars' own `score_lists`. recall = hits / |truth|; NDCG's ideal is over min(k, "
        "|truth|) items, NDCG-Li's over all |truth| (Li et al. 2023); hit rate = share of "
        "customers with a hit; repeat share = share of hits the customer bought before; "
        "explore recall = recall over the truth's products new to the customer.",
        "",
        "| k | method | recall | NDCG | NDCG-Li | hit rate | repeat share | explore recall |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
        *acc_rows,
        "",
        f"ALS tuning (iterations {ALS_TIMED['iterations']}): every setting fitted on a "
        "validation split of the history (each customer's last history basket predicted "
        "from the earlier ones, "
        f"{int(best_val['val10']['customers']):,} customers), the best by validation recall@10 "
        f"({setting(best_val)}) refitted on the whole history; the best on the test "
        f"baskets is {setting(best_test)}. ALS fits took "
        f"{min(als_eval['seconds'].values()):.1f}-{max(als_eval['seconds'].values()):.1f} s "
        "each (fit + lists).",
        "",
        "| factors | regularization | alpha | validation recall@10 | test recall@10 "
        "| test recall@20 |",
        "|---:|---:|---:|---:|---:|---:|",
        *grid_rows,
        "",
        f"- regulars recall@10 {ours10:.3f} against ALS {als10:.3f} ({ours10 / als10:.1f}x); "
        f"recall@20 {ours20:.3f} against {als20:.3f} ({ours20 / als20:.1f}x). "
        + als_verdict(metrics, best_val),
        "",
        "Targets (from the issue; recorded, not asserted):",
        "",
        f"- Fit + recommendations for every customer on {lines_n:,} order lines <= "
        f"{TARGET_ALL:.0f} s: end to end {e2e_s:.1f} s (median), {verdict_all}; fit + "
        f"recommend alone (without reading the workspace) {ours_fr:.1f} s, {verdict_fr}. "
        f"Fastest run: end to end {min(r['seconds'] for r in e2e):.1f} s, fit + recommend "
        f"{min(r['fit'] + r['recommend'] for r in split):.1f} s.",
        f"- One customer's recommendations from a fitted model <= {TARGET_ONE:.0f} ms: median "
        f"{one_ms:.1f} ms, {verdict_one}; 95th percentile {one_p95:.1f} ms, {verdict_p95}.",
    ]
    if profile is not None:
        body += ["", *profile_lines(profile)]
    return "\n".join(body) + "\n"


def undisturbed(
    e2e: list[dict[str, Any]], split: list[dict[str, Any]], als: list[dict[str, Any]]
) -> list[str]:
    """Describe the runs no other job disturbed (CPU stall below 10%), when the stall is known."""
    if "stall" not in e2e[0]:
        return []

    def calm(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for r in reports if r["stall"] < QUIET_STALL]

    def value(r: dict[str, Any]) -> float:
        return float(sum(r[key] for key in ("seconds", "fit", "recommend", "matrix") if key in r))

    parts = []
    for label, reports in (
        ("end to end", e2e),
        ("fit + recommend", split),
        ("ALS matrix + fit + recommend", als),
    ):
        quiet = calm(reports)
        if quiet:
            values = ", ".join(f"{value(r):.1f}" for r in quiet)
            parts.append(f"{label} {statistics.median(value(r) for r in quiet):.1f} s ({values})")
        else:
            parts.append(f"{label}: none")
    return [
        f"- Runs with a CPU stall under {QUIET_STALL:.0%} (the machine to themselves), median: "
        + "; ".join(parts)
        + "."
    ]


def als_verdict(metrics: dict[tuple[str, int], dict[str, float]], als: dict[str, Any]) -> str:
    """Say whether ALS beats regulars or the simplest personal baseline."""
    beats_ours = als["test10"]["recall"] > metrics[("regulars", 10)]["recall"]
    beats_gp = als["test10"]["recall"] > metrics[("GP-TopFreq", 10)]["recall"]
    if beats_ours:
        return "ALS is more accurate than regulars here: it earns its place."
    if beats_gp:
        return (
            "ALS beats the GP-TopFreq baseline but not regulars: a candidate source at most, "
            "not a replacement."
        )
    return (
        "ALS does not even reach GP-TopFreq (the customer's own most bought products, padded "
        "with the best sellers) on this data: it does not earn its place next to regulars."
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        run_child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3, help="timed runs of each child")
    parser.add_argument("--customers", type=int, default=CUSTOMERS, help="customers simulated")
    parser.add_argument("--latency", type=int, default=200, help="customers timed one at a time")
    parser.add_argument("--quick", action="store_true", help="small smoke run, not recorded")
    parser.add_argument("--profile", action="store_true", help="profile even if targets are met")
    parser.add_argument("--no-profile", action="store_true", help="never profile")
    parser.add_argument("--no-record", action="store_true", help="print, do not write docs")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=120.0,
        help="before each child, wait up to this many seconds for CPU pressure below 10%%",
    )
    args = parser.parse_args()
    if args.quick:
        args.runs, args.latency = 1, min(args.latency, 50)
    SETTINGS["wait"] = args.wait_quiet
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        body = bench(args, Path(tmp))
    if not (args.no_record or args.quick):
        write_section("recs", body)
    print(body)


if __name__ == "__main__":
    main()

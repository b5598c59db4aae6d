"""The whole report (`regulars report`) on simulated stores of 1M and 10M order lines.

Targets (issue 3): 10M lines <= 60 s with peak RSS <= 2 GB; 50M <= 5 min with <= 6 GB.
Each store is simulated without events, imported once (untimed), then the report is built
from the workspace `--repeat` times under GNU time. No peer builds this report; the per-
customer summary is compared with peers in bench_summary.py.

Usage: ``python benchmarks/bench_report.py [--lines 1000000 10000000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

from harness import BIN, ROOT, machine, median_run, write_section

OUT = ROOT / "benchmarks" / "out"
LARGE = 20_000_000  # stores above this size are reported from a single run
LINES_PER_CUSTOMER = 5.38  # the default simulated store (see the simulator benchmark)


def workspace_with(lines: int) -> Path:
    """Simulate a store of about ``lines`` order lines and import it (cached in benchmarks/out)."""
    ws = OUT / f"report-{lines}.duckdb"
    if ws.exists():
        return ws
    store = OUT / f"report-store-{lines}"
    customers = max(1000, round(lines / LINES_PER_CUSTOMER))
    if not (store / "orders.parquet").exists():
        subprocess.run(
            [
                str(BIN / "regulars"),
                "simulate",
                "--customers",
                str(customers),
                "--seed",
                "3",
                "--out",
                str(store),
                "--no-events",
            ],
            check=True,
        )
    subprocess.run(
        [str(BIN / "regulars"), "import", str(store), "--workspace", str(ws)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return ws


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, nargs="+", default=[1_000_000, 10_000_000, 50_000_000])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    rows = []
    for lines in args.lines:
        ws = workspace_with(lines)
        html = OUT / f"report-{lines}.html"
        repeat = args.repeat if lines <= LARGE else 1  # a 50M-line run takes minutes
        med, runs = median_run(
            [str(BIN / "regulars"), "report", str(ws), "--out", str(html)], repeat
        )
        all_runs = ", ".join(f"{r.seconds:.1f} s / {r.peak_rss_mb:,.0f} MB" for r in runs)
        rows.append(f"| {lines:,} | {med.seconds:.1f} | {med.peak_rss_mb:,.0f} | {all_runs} |")
    sizes = " ".join(map(str, args.lines))
    body = f"""## The whole report on simulated stores

Command: `python benchmarks/bench_report.py --lines {sizes} --repeat {args.repeat}`
Machine: {machine()}

| order lines | median seconds | median peak RSS (MB) | runs |
|---:|---:|---:|---|
{chr(10).join(rows)}

Targets: 10M lines <= 60 s and <= 2 GB; 50M lines <= 5 min and <= 6 GB. Stores above
{LARGE:,} lines are timed once (the median column is that run).
"""
    write_section("report", body)
    print(body)


if __name__ == "__main__":
    main()

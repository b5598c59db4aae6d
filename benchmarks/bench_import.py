"""Import speed and memory: a 10M-line order CSV from the simulator into a new workspace.

Target (issue 2): <= 60 s and peak RSS <= 2 GB on the project's 2-core machine.
Peers, measured in the same run on the same file:
- DuckDB's own CSV reader loading the file into a table (no validation, no canonical
  tables): the floor that regulars builds on;
- pandas ``read_csv`` of the file plus a group-by to order totals: what an analyst
  would write by hand.

Usage: ``python benchmarks/bench_import.py [--lines 10000000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from harness import BIN, ROOT, machine, median_run, write_section

OUT = ROOT / "benchmarks" / "out"

DUCKDB_PEER = """
import duckdb, sys
con = duckdb.connect(sys.argv[2])
con.execute("CREATE TABLE lines AS SELECT * FROM read_csv(?)", [sys.argv[1]])
print(con.execute("SELECT count(*) FROM lines").fetchone()[0])
"""

PANDAS_PEER = """
import pandas as pd, sys
df = pd.read_csv(sys.argv[1], dtype={"order_id": str, "customer_id": str, "product_id": str},
                 parse_dates=["ordered_at"])
df["line_total"] = df["quantity"] * df["unit_price"]
orders = df.groupby("order_id").agg(customer_id=("customer_id", "first"),
                                    ordered_at=("ordered_at", "min"), total=("line_total", "sum"))
print(len(orders))
"""


def make_csv(lines: int) -> Path:
    """Simulate a store large enough and cut its order-lines CSV to ``lines`` rows."""
    OUT.mkdir(parents=True, exist_ok=True)
    target = OUT / f"order_lines_{lines}.csv"
    if target.exists():
        return target
    store = OUT / "bench-store"
    customers = max(1000, lines // 5)  # the default store makes about 5+ lines per customer
    if not (store / "order_lines.csv").exists():
        subprocess.run(
            [
                str(BIN / "regulars"),
                "simulate",
                "--customers",
                str(customers),
                "--seed",
                "1",
                "--out",
                str(store),
                "--lines-csv",
                "--no-events",
            ],
            check=True,
        )
    with (store / "order_lines.csv").open("rb") as src, target.open("wb") as dst:
        header = src.readline()
        dst.write(header)
        n = 0
        for row in src:
            if n == lines:
                break
            dst.write(row)
            n += 1
    if n < lines:
        target.unlink()
        sys.exit(f"the simulated store has only {n} lines; raise the customer count")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    csv = make_csv(args.lines)
    size_mb = csv.stat().st_size / 1e6
    with tempfile.TemporaryDirectory(dir=OUT) as tmp:
        ws = Path(tmp) / "ws.duckdb"
        clean = ["rm", "-f", str(ws), str(ws) + ".wal"]
        ours, ours_runs = median_run(
            [
                str(BIN / "regulars"),
                "import",
                str(csv),
                "--format",
                "generic",
                "--workspace",
                str(ws),
            ],
            args.repeat,
            before=clean,
        )
        raw = Path(tmp) / "raw.duckdb"
        duck, _ = median_run(
            [sys.executable, "-c", DUCKDB_PEER, str(csv), str(raw)],
            args.repeat,
            before=["rm", "-f", str(raw), str(raw) + ".wal"],
        )
        pandas, _ = median_run([sys.executable, "-c", PANDAS_PEER, str(csv)], args.repeat)
    rows = [
        ("regulars import (validated, canonical tables, one transaction)", ours),
        ("peer: DuckDB read_csv into a table (no validation)", duck),
        ("peer: pandas read_csv + group-by to orders", pandas),
    ]
    table = "\n".join(
        f"| {name} | {r.seconds:.1f} | {r.peak_rss_mb:,.0f} | {r.seconds / ours.seconds:.2f} |"
        for name, r in rows
    )
    runs = ", ".join(f"{r.seconds:.1f} s / {r.peak_rss_mb:,.0f} MB" for r in ours_runs)
    verdict_time = "met" if ours.seconds <= 60 else "MISSED"
    verdict_mem = "met" if ours.peak_rss_mb <= 2048 else "MISSED"
    body = f"""## Import: {args.lines:,}-line order CSV ({size_mb:,.0f} MB) into a new workspace

Command: `python benchmarks/bench_import.py --lines {args.lines} --repeat {args.repeat}`
Machine: {machine()}

| what | median seconds | median peak RSS (MB) | time relative to regulars |
|---|---:|---:|---:|
{table}

regulars runs: {runs}.
Targets: <= 60 s ({verdict_time}), peak RSS <= 2 GB ({verdict_mem}).
"""
    write_section("import", body)
    print(body)


if __name__ == "__main__":
    main()

"""Benchmark the store simulator: 1,000,000 customers, wall time and peak memory.

Each run simulates the store in a fresh subprocess (into a temporary directory) under GNU
``time -v`` when it is installed, else with ``resource.getrusage(RUSAGE_CHILDREN)``; the
median of the runs is written to ``docs/benchmarks.md`` between the markers
``<!-- section:simulate -->`` and ``<!-- /section:simulate -->``.

Usage::

    .venv/bin/python benchmarks/bench_simulate.py            # 1,000,000 customers, 3 runs
    .venv/bin/python benchmarks/bench_simulate.py --customers 100000 --runs 1 --no-docs
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- section:simulate -->", "<!-- /section:simulate -->"
GNU_TIME = Path("/usr/bin/time")
LIMIT_MB = 1000

CHILD = """
import json, sys
from regulars.simulate import simulate_store
out, customers, seed, csv = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
s = simulate_store(out, customers=customers, seed=seed, lines_csv=csv)
print(json.dumps({"customers": s.customers, "orders": s.orders, "order_lines": s.order_lines,
                  "refunds": s.refunds, "events": s.events}))
"""


@dataclass(frozen=True)
class Run:
    """One simulation: its counts, wall time and peak resident memory."""

    counts: dict[str, int]
    seconds: float
    peak_mb: float


def run_once(customers: int, seed: int, lines_csv: bool) -> Run:
    """Simulate once in a subprocess and measure it."""
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as tmp:
        out = Path(tmp) / "store"
        command = [sys.executable, "-c", CHILD, str(out), str(customers), str(seed)]
        command.append("1" if lines_csv else "0")
        stats = Path(tmp) / "time.txt"
        if GNU_TIME.exists():
            command = [str(GNU_TIME), "-v", "-o", str(stats), *command]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        started = time.perf_counter()
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if GNU_TIME.exists():
            found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", stats.read_text())
            if found is None:
                raise RuntimeError(f"no peak RSS in GNU time output:\n{stats.read_text()}")
            peak_kb = int(found.group(1))
        else:  # the maximum over all children so far: runs are measured in increasing order
            peak_kb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before)
        counts = json.loads(done.stdout.strip().splitlines()[-1])
        return Run(counts=counts, seconds=seconds, peak_mb=peak_kb / 1024)


def machine() -> str:
    """Describe the machine: cores, memory, CPU model, OS and Python."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        cpu = names[0].strip() if names else cpu
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        found = re.search(r"MemTotal:\s+(\d+) kB", meminfo.read_text())
        if found:
            memory = f"{int(found.group(1)) / 1024**2:.1f} GiB"
    nproc = shutil.which("nproc")
    cores = (
        subprocess.run([nproc], capture_output=True, text=True).stdout.strip()
        if nproc
        else str(os.cpu_count())
    )
    return (
        f"{cores} cores (`nproc`), {memory} memory, CPU {cpu}; {platform.system()} "
        f"{platform.release()}, Python {platform.python_version()}"
    )


def section(results: list[tuple[str, list[Run]]], customers: int, runs: int, command: str) -> str:
    """Render the markdown section."""
    lines = [
        "## Simulator",
        "",
        f"`simulate_store(out, customers={customers:_})` writes the six canonical tables "
        "(with `events`), the ground truth and, with `lines_csv=True`, `order_lines.csv`. "
        f"Each figure is the median of {runs} runs in a fresh subprocess; peak RSS is the "
        f"maximum resident set size from {'GNU `time -v`' if GNU_TIME.exists() else 'getrusage'}.",
        "",
        f"- Command: `{command}`",
        f"- Machine: {machine()}",
        f"- Date: {datetime.now(UTC).date().isoformat()}",
        "",
        "| output | customers | orders | lines | events | seconds | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, measured in results:
        counts = measured[0].counts
        seconds = statistics.median(r.seconds for r in measured)
        peak = statistics.median(r.peak_mb for r in measured)
        lines.append(
            f"| {label} | {counts['customers']:,} | {counts['orders']:,} | "
            f"{counts['order_lines']:,} | {counts['events']:,} | {seconds:.1f} | {peak:.0f} |"
        )
    lines += [
        "",
        f"All runs: {'; '.join(_all_runs(results))}. The requirement is a peak RSS under "
        f"{LIMIT_MB} MB for 1,000,000 customers.",
    ]
    return "\n".join(lines)


def _all_runs(results: list[tuple[str, list[Run]]]) -> list[str]:
    return [
        f"{label}: " + ", ".join(f"{r.seconds:.1f} s / {r.peak_mb:.0f} MB" for r in measured)
        for label, measured in results
    ]


def write_docs(text: str, path: Path = DOCS) -> None:
    """Replace what is between the simulate markers of ``docs/benchmarks.md``."""
    content = path.read_text(encoding="utf-8")
    begin, end = content.find(BEGIN), content.find(END)
    if begin < 0 or end < begin:
        raise SystemExit(f"{path} lacks the markers {BEGIN} ... {END}")
    path.write_text(
        content[: begin + len(BEGIN)] + "\n" + text + "\n" + content[end:], encoding="utf-8"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-csv", action="store_true", help="skip the lines_csv=True runs")
    parser.add_argument("--no-docs", action="store_true", help="print, do not edit the docs")
    args = parser.parse_args(argv)

    configurations = [("tables + events", False)]
    if not args.no_csv:
        configurations.append(("tables + events + order_lines.csv", True))
    results: list[tuple[str, list[Run]]] = []
    for label, lines_csv in configurations:
        measured = []
        for i in range(args.runs):
            run = run_once(args.customers, args.seed, lines_csv)
            print(f"{label} run {i + 1}: {run.seconds:.1f} s, {run.peak_mb:.0f} MB", flush=True)
            measured.append(run)
        results.append((label, measured))

    python = Path(sys.executable)
    shown = str(python.relative_to(ROOT)) if python.is_relative_to(ROOT) else "python"
    command = f"{shown} benchmarks/bench_simulate.py " + " ".join(argv or sys.argv[1:])
    text = section(results, args.customers, args.runs, command.strip())
    print(text)
    if not args.no_docs:
        write_docs(text)
        print(f"\nwrote {DOCS}")
    worst = max(r.peak_mb for _, measured in results for r in measured)
    if args.customers >= 1_000_000 and worst >= LIMIT_MB:
        print(f"peak RSS {worst:.0f} MB is over {LIMIT_MB} MB", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

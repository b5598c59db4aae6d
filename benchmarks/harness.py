"""Shared helpers of the benchmark scripts: run a command under GNU time, record results.

Each benchmark runs its command several times in subprocesses under ``/usr/bin/time -v``
(Debian package ``time``) and keeps the median wall time and the peak resident set size,
then writes a markdown section into ``docs/benchmarks.md`` between
``<!-- section:NAME -->`` and ``<!-- /section:NAME -->``.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "benchmarks.md"
BIN = Path(sys.executable).parent


@dataclass(frozen=True)
class Run:
    """One measured run."""

    seconds: float
    peak_rss_mb: float


def require_gnu_time() -> str:
    """Return the path of GNU time, or exit with how to install it."""
    path = shutil.which("time", path="/usr/bin") or "/usr/bin/time"
    if not Path(path).exists():
        sys.exit("GNU time is needed: apt-get install -y time")
    return path


def measure(cmd: list[str], *, env: dict[str, str] | None = None) -> Run:
    """Run ``cmd`` once under GNU time; return wall seconds and peak RSS in MB."""
    gnu_time = require_gnu_time()
    proc = subprocess.run(
        [gnu_time, "-v", *cmd],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (.+)", proc.stderr)
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    if not wall or not rss:
        sys.exit("could not read GNU time's report:\n" + proc.stderr[-2000:])
    parts = [float(p) for p in wall.group(1).strip().split(":")]
    seconds = sum(p * 60**i for i, p in enumerate(reversed(parts)))
    return Run(seconds, int(rss.group(1)) / 1024)


def median_run(
    cmd: list[str], repeat: int, *, before: list[str] | None = None
) -> tuple[Run, list[Run]]:
    """Run ``cmd`` ``repeat`` times (``before`` runs untimed ahead of each); return the median."""
    runs = []
    for _ in range(repeat):
        if before:
            subprocess.run(before, check=True)
        runs.append(measure(cmd))
    med = Run(
        statistics.median(r.seconds for r in runs),
        statistics.median(r.peak_rss_mb for r in runs),
    )
    return med, runs


def machine() -> str:
    """Describe this machine: CPU model, cores, memory, OS, Python."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except OSError:
        mem = "unknown memory"
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )


def write_section(name: str, body: str) -> None:
    """Replace the ``name`` section of docs/benchmarks.md with ``body``."""
    start, end = f"<!-- section:{name} -->", f"<!-- /section:{name} -->"
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = f"{start}\n{body.rstrip()}\n\n_Recorded {stamp}._\n{end}"
    if start in text:
        text = re.sub(re.escape(start) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOCS.write_text(text)


def revision(sources: str) -> str:
    """Return the commit, and whether the sources under ``sources`` differ from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip()

    dirty = git("status", "--porcelain", sources)
    return f"commit {git('rev-parse', '--short', 'HEAD')}" + (
        f" with uncommitted changes in {sources}" if dirty else ""
    )

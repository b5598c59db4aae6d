"""The HTTP API under load: events/s and latency of ``POST /v1/track`` and ``GET /v1/customers``.

Target (issue 6; recorded, never asserted): on PostgreSQL, ``POST /v1/track`` >= 1,000
events/s with a 99th percentile latency <= 50 ms.

What it does, per backend (SQLite: a temporary file; PostgreSQL: a schema ``bench_<random>``
of its own in the ``test`` database, dropped at the end):

1. creates an API key (``regulars keys create --scope write --scope read``);
2. starts ``regulars serve --workers N`` as a subprocess on a free port, with
   ``REGULARS_RATE_LIMIT_PER_SECOND=0`` (the rate limit off) and the default log level
   (``info``: one JSON access-log line per request, written to a file), and waits for
   ``/ready``;
3. seeds (once per backend) ``--customers`` customers ``u0 ..`` with 1-3 orders each through
   ``POST /v1/batch`` (the first order of customer i has messageId ``seed-i``), then an
   identify of every userId of the track load (``u<i>`` with anonymousId ``a<i>``), so that
   the load is of known visitors (``--fresh-users``: not, every first event of a userId then
   creates its customer);
4. warms up with ``--warmup`` seconds of track load, then, ``--runs`` times, runs wrk
   (Debian package ``wrk``; requests built by ``benchmarks/wrk/service.lua``) for
   ``--duration`` seconds on each endpoint:

   - ``track``: ``POST /v1/track``, every request a new messageId; 90% ``Product Viewed``
     for a random userId of ``--users`` (with an anonymousId and a Segment ``context``),
     10% ``Order Completed`` with 2-3 products;
   - ``get``: ``GET /v1/customers/u<i>`` of a random seeded customer;
   - ``replay`` (once, after the runs): ``POST /v1/track`` with the messageIds of seeded
     events (the dedupe path: nothing is written);

5. stops the server; events/s and latencies are the median of the runs.

wrk is a closed loop: ``--connections`` connections each send the next request when the
previous answer arrives (latency is from wrk's own histogram, through the Lua ``done()``
hook). wrk and the server share the machine's 2 cores.

Usage: ``python benchmarks/bench_service.py [--runs 3] [--duration 15] [--connections 16]
[--workers 1 2] [--backend sqlite|postgresql|both] [--write-docs]``
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2 as httpx

from harness import BIN, ROOT, machine, revision, write_section

LUA = ROOT / "benchmarks" / "wrk" / "service.lua"
PG_BASE = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
TARGET_RPS = 1000.0
TARGET_P99_MS = 50.0
BATCH = 500
PRODUCTS = ["mug", "tea", "kettle", "filter", "honey", "cup", "pot", "spoon", "sugar", "milk"]


@dataclass
class Result:
    """One wrk run."""

    backend: str
    workers: int
    connections: int
    mode: str
    rps: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    errors: int
    server_cpu_s: float
    busy: float


@dataclass
class Samples:
    """The 1-minute load average, sampled during the runs."""

    loads: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """Sample until stopped."""
        while not self.stop.wait(2.0):
            self.loads.append(os.getloadavg()[0])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_times() -> tuple[float, float]:
    """Return (busy, total) jiffies of the whole machine."""
    values = [float(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def tree_cpu(pid: int) -> float:
    """Return the CPU seconds (user + system) of ``pid`` and its descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    total, todo = 0.0, [pid]
    while todo:
        one = todo.pop()
        try:
            stat = Path(f"/proc/{one}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(stat[11]) + int(stat[12])) / tick
            for task in Path(f"/proc/{one}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


# ---- the database -----------------------------------------------------------------------


@contextmanager
def database(backend: str, tmp: Path) -> Any:
    """Yield the ``--database`` value of a fresh store of ``backend``; remove it after."""
    if backend == "sqlite":
        yield str(tmp / "bench.db")
        return
    import psycopg

    schema = f"bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def create_key(db: str) -> str:
    done = subprocess.run(
        [
            str(BIN / "regulars"),
            *("keys", "create", "--name", "bench", "--scope", "write"),
            *("--scope", "read", "--database", db),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        sys.exit(f"regulars keys create failed:\n{done.stdout}{done.stderr}")
    return done.stdout.strip().splitlines()[-1]


# ---- the server -------------------------------------------------------------------------


class Server:
    """``regulars serve`` as a subprocess (its own process group), logging to a file."""

    def __init__(self, db: str, workers: int, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log.open("ab")
        env = {**os.environ, "REGULARS_RATE_LIMIT_PER_SECOND": "0"}
        env.pop("REGULARS_DATABASE_URL", None)
        self.proc = subprocess.Popen(
            [
                str(BIN / "regulars"),
                "serve",
                "--database",
                db,
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"the server stopped at start-up; see {log}")
            try:
                if httpx.get(self.url + "/ready", timeout=2).status_code == 200:
                    # with several workers, /ready answers from the first one up
                    time.sleep(1.0 if workers > 1 else 0)
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        self.stop()
        sys.exit(f"the server was not ready within 60 s; see {log}")

    def stop(self) -> None:
        """Stop the server and its workers."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


def seed(url: str, token: str, customers: int, known: int) -> tuple[int, float]:
    """Seed the store through /v1/batch; return (orders sent, seconds).

    ``customers`` customers with 1-3 orders each, then an identify of each userId ``u0 ..
    u<known - 1>`` with its anonymousId.
    """
    rng = random.Random(1)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    messages: list[dict[str, Any]] = []
    for i in range(customers):
        for k in range(rng.choice((1, 1, 2, 3))):
            items = rng.sample(PRODUCTS, rng.choice((2, 3)))
            lines = [
                {"product_id": p, "name": p, "price": rng.randint(2, 60), "quantity": 1}
                for p in items
            ]
            total = sum(line["price"] for line in lines)
            messages.append(
                {
                    "messageId": f"seed-{i}" if k == 0 else f"seed-{i}-{k}",
                    "type": "track",
                    "event": "Order Completed",
                    "userId": f"u{i}",
                    "timestamp": (start + timedelta(days=rng.randint(0, 300))).isoformat(),
                    "context": {"traits": {"email": f"u{i}@example.com"}},
                    "properties": {
                        "order_id": f"seed-order-{i}-{k}",
                        "total": total,
                        "revenue": total,
                        "currency": "EUR",
                        "products": lines,
                    },
                }
            )
    orders = len(messages)
    messages += [
        {"messageId": f"seed-identify-{i}", "type": "identify", "userId": f"u{i}",
         "anonymousId": f"a{i}"}
        for i in range(known)
    ]  # fmt: skip
    began = time.perf_counter()
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as client:
        for at in range(0, len(messages), BATCH):
            answer = client.post(
                "/v1/batch", json={"batch": messages[at : at + BATCH]}, timeout=120
            )
            if answer.status_code != 200:
                sys.exit(f"seeding failed: {answer.status_code} {answer.text[:500]}")
    return orders, time.perf_counter() - began


# ---- wrk --------------------------------------------------------------------------------


def wrk(url: str, mode: str, token: str, args: argparse.Namespace, conns: int, secs: float) -> dict:
    env = {
        **os.environ,
        "BENCH_MODE": mode,
        "BENCH_TOKEN": token,
        "BENCH_RUN": f"r{secrets.token_hex(4)}",
        "BENCH_USERS": str(args.users),
        "BENCH_SEEDED": str(args.customers),
        "BENCH_ORDERS": str(args.order_share),
    }
    cmd = ["wrk", f"-t{min(args.threads, conns)}", f"-c{conns}", f"-d{secs:g}s"]
    cmd += ["--timeout", "10s", "-s", str(LUA), url]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return dict(json.loads(line.removeprefix("BENCH_JSON ")))
    sys.exit(f"wrk printed no summary ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def measure(
    server: Server, backend: str, workers: int, mode: str, token: str, args: argparse.Namespace,
    conns: int,
) -> Result:  # fmt: skip
    cpu_before = tree_cpu(server.proc.pid)
    busy0, total0 = cpu_times()
    out = wrk(server.url, mode, token, args, conns, args.duration)
    busy1, total1 = cpu_times()
    cpu = tree_cpu(server.proc.pid) - cpu_before
    errors = sum(out[k] for k in ("non2xx", "connect_errors", "read_errors", "write_errors"))
    result = Result(
        backend, workers, conns, mode, out["rps"], out["p50_ms"], out["p99_ms"], out["max_ms"],
        out["requests"], errors + out["timeouts"], cpu, (busy1 - busy0) / max(total1 - total0, 1),
    )  # fmt: skip
    print(
        f"  {backend} workers={workers} c={conns} {mode}: {result.rps:,.0f}/s "
        f"p50 {result.p50_ms:.1f} ms p99 {result.p99_ms:.1f} ms max {result.max_ms:.0f} ms "
        f"errors {result.errors} server CPU {cpu / out['seconds']:.2f} cores "
        f"({1000 * cpu / max(out['requests'], 1):.1f} ms/request) "
        f"machine busy {result.busy:.0%} load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    return result


def bench_backend(backend: str, args: argparse.Namespace, tmp: Path) -> tuple[list[Result], dict]:
    results: list[Result] = []
    info: dict[str, Any] = {}
    with database(backend, tmp) as db:
        token = create_key(db)
        for n, workers in enumerate(args.workers):
            server = Server(db, workers, tmp / f"{backend}-w{workers}.log")
            try:
                if n == 0:
                    known = 0 if args.fresh_users else args.users
                    count, secs = seed(server.url, token, args.customers, known)
                    info["seeded"] = (count, secs)
                    print(f"{backend}: seeded {count:,} orders in {secs:.1f} s", flush=True)
                for conns in args.connections:
                    wrk(server.url, "track", token, args, conns, args.warmup)  # warm-up
                    wrk(server.url, "get", token, args, conns, min(args.warmup, 3))
                    for _ in range(args.runs):
                        for mode in ("track", "get"):
                            results.append(
                                measure(server, backend, workers, mode, token, args, conns)
                            )
                    if args.replay:
                        results.append(
                            measure(server, backend, workers, "replay", token, args, conns)
                        )
            finally:
                server.stop()
        info["events"] = count_events(db)
    return results, info


def count_events(db: str) -> int:
    from regulars.store import open_database

    store = open_database(db if "://" in db else None, path=db)
    try:
        with store.unit_of_work(read_only=True) as uow:
            return int(uow.events.count())
    finally:
        store.dispose()


# ---- the report -------------------------------------------------------------------------


@dataclass
class Row:
    """The runs of one configuration."""

    backend: str
    workers: int
    connections: int
    mode: str
    runs: list[Result]

    def med(self, name: str) -> float:
        """Return the median of ``name`` over the runs."""
        return float(statistics.median(getattr(r, name) for r in self.runs))


def rows_of(results: list[Result]) -> list[Row]:
    rows: dict[tuple, Row] = {}
    for r in results:
        key = (r.backend, r.workers, r.connections, r.mode)
        rows.setdefault(key, Row(*key, []))
        rows[key].runs.append(r)
    return list(rows.values())


ENDPOINT = {
    "track": "POST /v1/track (new messageIds)",
    "get": "GET /v1/customers/{userId}",
    "replay": "POST /v1/track (replayed messageIds, 1 run)",
}


def table(rows: list[Row]) -> str:
    lines = [
        "| backend | workers | connections | endpoint | requests/s | p50 ms | p99 ms | max ms "
        "| errors | server CPU (cores) | server CPU ms / request | runs requests/s |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        cores = statistics.median(r.server_cpu_s for r in row.runs) / ROW_SECONDS[0]
        per_request = statistics.median(
            1000 * r.server_cpu_s / max(r.requests, 1) for r in row.runs
        )
        lines.append(
            f"| {row.backend} | {row.workers} | {row.connections} | {ENDPOINT[row.mode]} "
            f"| {row.med('rps'):,.0f} | {row.med('p50_ms'):.1f} | {row.med('p99_ms'):.1f} "
            f"| {row.med('max_ms'):.0f} | {sum(r.errors for r in row.runs)} "
            f"| {cores:.2f} | {per_request:.1f} "
            f"| {', '.join(f'{r.rps:,.0f}' for r in row.runs)} |"
        )
    return "\n".join(lines)


ROW_SECONDS = [15.0]


def verdicts(rows: list[Row]) -> list[str]:
    out = []
    for row in rows:
        if row.backend != "postgresql" or row.mode != "track":
            continue
        rps, p99 = row.med("rps"), row.med("p99_ms")
        ok = rps >= TARGET_RPS and p99 <= TARGET_P99_MS
        out.append(
            f"- PostgreSQL, {row.workers} worker(s), {row.connections} connections: "
            f"{rps:,.0f} events/s (target >= {TARGET_RPS:,.0f}), p99 {p99:.1f} ms "
            f"(target <= {TARGET_P99_MS:.0f} ms): {'met' if ok else 'MISSED'}."
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of warm-up load")
    parser.add_argument("--connections", type=int, nargs="+", default=[16])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--customers", type=int, default=2000, help="seeded customers")
    parser.add_argument("--users", type=int, default=10_000, help="userIds of track events")
    parser.add_argument("--order-share", type=float, default=0.1)
    parser.add_argument("--no-replay", dest="replay", action="store_false")
    parser.add_argument(
        "--fresh-users",
        action="store_true",
        help="leave the track events' userIds unknown (by default each is identified first)",
    )
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is needed: apt-get install -y wrk")
    ROW_SECONDS[0] = args.duration
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    command = "python benchmarks/bench_service.py " + " ".join(sys.argv[1:])
    samples = Samples()
    sampler = threading.Thread(target=samples.run, daemon=True)
    sampler.start()
    began = time.monotonic()
    results: list[Result] = []
    infos: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        for backend in backends:
            found, info = bench_backend(backend, args, Path(tmp))
            results += found
            infos[backend] = info
    samples.stop.set()
    rows = rows_of(results)
    text = table(rows)
    print()
    print(text)
    for line in verdicts(rows):
        print(line)
    if not args.write_docs:
        return
    loads = samples.loads or [os.getloadavg()[0]]
    seeded = "; ".join(
        f"{b}: {i['seeded'][0]:,} orders of {args.customers:,} customers"
        + ("" if args.fresh_users else f" and an identify of each of the {args.users:,} userIds")
        + f" seeded in {i['seeded'][1]:.1f} s through `POST /v1/batch` ({BATCH} a request), "
        f"{i['events']:,} events stored at the end"
        for b, i in infos.items()
    )
    users_are = (
        "unknown to the store until their first event: `--fresh-users`"
        if args.fresh_users
        else "each identified before the runs, as most of a store's traffic is after its first days"
    )
    body = f"""## HTTP API under load (`regulars serve`)

Command: `.venv/bin/{command.strip()}`
Machine: {machine()}; date {datetime.now(UTC):%Y-%m-%d}; regulars at {revision("src/regulars")}
Load: 1-minute load average during the run (sampled every 2 s): median \
{statistics.median(loads):.1f}, max {max(loads):.1f} on {os.cpu_count()} cores; the whole \
benchmark took {(time.monotonic() - began) / 60:.0f} min.

Setup: `regulars serve --workers N` (uvicorn, default log level: one JSON access-log line per \
request, to a file) with `REGULARS_RATE_LIMIT_PER_SECOND=0` (the rate limit off), on SQLite \
(a temporary file, WAL) and on PostgreSQL 15 (a schema of its own on the local server). \
Load from wrk {wrk_version()} ({args.threads} threads, closed loop, `benchmarks/wrk/service.lua`) \
on the same {os.cpu_count()} cores as the server and the database. {args.duration:g} s a run \
after a warm-up of {args.warmup:g} s; figures are the median of {args.runs} runs (runs of the \
two endpoints alternating). Track bodies: {1 - args.order_share:.0%} `Product Viewed` for a \
random userId of {args.users:,} ({users_are}; with anonymousId and a Segment `context`, \
~450 bytes), \
{args.order_share:.0%} `Order Completed` with 2-3 products; every request a new messageId. \
Reads: `GET /v1/customers/u<i>` of a random seeded customer. {seeded}. "server CPU" is the \
CPU time of the server's processes (not PostgreSQL's) over the run's wall time.

{text}

Target (issue 6): on PostgreSQL, `POST /v1/track` >= {TARGET_RPS:,.0f} events/s with p99 <= \
{TARGET_P99_MS:.0f} ms.

{chr(10).join(verdicts(rows))}
"""
    write_section("service", body)
    print(f"wrote the service section of {ROOT / 'docs' / 'benchmarks.md'}")


def wrk_version() -> str:
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    first = (done.stdout or done.stderr).strip().splitlines()
    return first[0].split()[1] if first and len(first[0].split()) > 1 else "?"


if __name__ == "__main__":
    main()

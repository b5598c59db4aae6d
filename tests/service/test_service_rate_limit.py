"""The rate limit per key holds across a server's worker processes (a shared bucket file)."""

from __future__ import annotations

import logging
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
import pytest

from regulars.errors import ConfigError
from regulars.service import rate_limit
from regulars.service.rate_limit import RateLimiter, create_shared_file
from regulars.store import open_database

SLOW = 0.0001  # requests a second: nothing comes back within a test


def test_limiters_on_one_file_draw_from_one_bucket_per_key(tmp_path: Path) -> None:
    path = create_shared_file(tmp_path)
    first, second = RateLimiter(SLOW, 3, shared=path), RateLimiter(SLOW, 3, shared=path)
    assert [first.take(7), second.take(7), first.take(7)] == [0.0, 0.0, 0.0]
    assert second.take(7) > 0 and first.take(7) > 0  # the burst of 3 is spent, for both
    assert second.take(8) == 0.0  # another key has its own bucket
    alone = RateLimiter(SLOW, 3)  # without the file: this process's own buckets
    assert sum(alone.take(7) == 0.0 for _ in range(5)) == 3  # key 7 is fresh here
    first.close()
    second.close()


def test_the_bucket_refills_at_the_rate(tmp_path: Path) -> None:
    limiter = RateLimiter(50.0, 1, shared=create_shared_file(tmp_path))
    assert limiter.take(1) == 0.0
    wait = limiter.take(1)
    assert 0 < wait <= 1 / 50
    time.sleep(wait + 0.01)
    assert limiter.take(1) == 0.0


def _spend(path: str, tries: int, answers: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    limiter = RateLimiter(SLOW, 50, shared=path)
    answers.put(sum(limiter.take(42) == 0.0 for _ in range(tries)))


def test_processes_taking_at_once_never_exceed_the_burst_together(tmp_path: Path) -> None:
    path = create_shared_file(tmp_path)
    spawn = multiprocessing.get_context("spawn")
    answers = spawn.Queue()
    workers = [spawn.Process(target=_spend, args=(str(path), 40, answers)) for _ in range(3)]
    for worker in workers:
        worker.start()
    granted = [answers.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert sum(granted) == 50  # 120 tries, a burst of 50: exactly 50 let through in all


def test_a_full_file_limits_the_keys_beyond_it_per_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(rate_limit, "SLOTS", 2)
    path = create_shared_file(tmp_path)
    first, second = RateLimiter(SLOW, 1, shared=path), RateLimiter(SLOW, 1, shared=path)
    assert first.take(1) == 0.0 and first.take(2) == 0.0  # the two slots
    with caplog.at_level(logging.WARNING, logger="regulars.service"):
        assert first.take(3) == 0.0 and second.take(3) == 0.0  # each process its own
    assert "file is full" in caplog.text
    assert second.take(1) > 0  # the keys in the file stay shared


def test_a_file_that_is_not_a_bucket_file_is_refused(tmp_path: Path) -> None:
    odd = tmp_path / "odd.buckets"
    odd.write_bytes(b"not buckets")
    with pytest.raises(ConfigError, match="cannot be used") as info:
        RateLimiter(1.0, 1, shared=odd)
    assert "REGULARS_RATE_LIMIT_FILE" in str(info.value.fix)
    with pytest.raises(ConfigError):
        RateLimiter(1.0, 1, shared=tmp_path / "missing.buckets")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.skipif(os.name != "posix", reason="the shared file needs flock")
def test_regulars_serve_with_two_workers_keeps_one_rate_per_key(tmp_path: Path) -> None:
    store = tmp_path / "store.db"
    database = open_database(path=store)
    database.migrate()
    with database.unit_of_work() as uow:
        token = uow.api_keys.create("shop", ["read"]).token
    database.dispose()
    port = _free_port()
    env = {
        **os.environ,
        "REGULARS_RATE_LIMIT_PER_SECOND": str(SLOW),
        "REGULARS_RATE_LIMIT_BURST": "6",
    }
    env.pop("REGULARS_DATABASE_URL", None)
    regulars = Path(sys.executable).with_name("regulars")
    command = [str(regulars), "serve", "--database", str(store), "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--workers", "2", "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, "the server stopped at start-up"
            assert time.monotonic() < deadline, "the server did not start"
            try:
                if httpx.get(base + "/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        time.sleep(1.0)  # both workers up
        headers = {"Authorization": f"Bearer {token}", "Connection": "close"}
        statuses = [  # a new connection each: the workers take turns accepting them
            httpx.get(base + "/v1/segments", headers=headers, timeout=10).status_code
            for _ in range(20)
        ]
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert statuses.count(200) == 6 and statuses.count(429) == 14

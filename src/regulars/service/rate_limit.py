"""The rate limit per key: a token bucket, in this process or shared by a server's workers.

::

    limiter = RateLimiter(rate=10, burst=20)                  # this process alone
    limiter = RateLimiter(rate=10, burst=20, shared=path)     # every process opening path

``regulars serve --workers N`` makes one bucket file for its N processes (in
``REGULARS_RATE_LIMIT_FILE``), so a key gets its rate across all of them, not N times it.
The file is memory-mapped: a fixed table of slots (key id, tokens, last update), each
update under an exclusive ``flock`` of the file, a few microseconds a request.
"""

from __future__ import annotations

import logging
import mmap
import os
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from regulars.errors import ConfigError

try:
    import fcntl
except ImportError:  # Windows: no flock, so no shared file (regulars serve makes none)
    fcntl = None  # type: ignore[assignment]

__all__ = ["SHARED_FILE_VAR", "RateLimiter", "create_shared_file"]

SHARED_FILE_VAR = "REGULARS_RATE_LIMIT_FILE"
"""The environment variable through which ``regulars serve`` tells its workers the file."""

SLOTS = 4096
"""Keys the shared file holds; a key beyond them is limited per process (and logged)."""
_SLOT = struct.Struct("<qdd")  # key id (0: free), tokens, monotonic time of the last update

log = logging.getLogger("regulars.service")


def create_shared_file(directory: str | Path | None = None) -> Path:
    """Create an empty bucket file (in ``/dev/shm`` when there is one) and return its path."""
    import tempfile

    if directory is None and Path("/dev/shm").is_dir():
        directory = "/dev/shm"
    handle, name = tempfile.mkstemp(prefix="regulars-rate-", suffix=".buckets", dir=directory)
    with os.fdopen(handle, "wb") as file:
        file.write(bytes(SLOTS * _SLOT.size))
    return Path(name)


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """A token bucket per key: ``rate`` requests a second on average, ``burst`` at once.

    Parameters
    ----------
    rate, burst
        The average and the most at once; ``rate`` 0 turns the limit off.
    shared
        A file made by :func:`create_shared_file`: the buckets are kept there, shared by
        every process that opens it (POSIX only). Without it, each process keeps its own.
    """

    def __init__(self, rate: float, burst: int, shared: str | Path | None = None) -> None:
        self.rate = rate
        self.burst = max(burst, 1)
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()  # flock does not keep this process's threads apart
        self._map: mmap.mmap | None = None
        self._fd = -1
        self._warned = False
        if shared is not None and rate > 0:
            self._open(Path(shared))

    def _open(self, path: Path) -> None:
        try:
            self._fd = os.open(path, os.O_RDWR)
            if os.fstat(self._fd).st_size != SLOTS * _SLOT.size:
                raise OSError("it is not a bucket file of this version of regulars")
            self._map = mmap.mmap(self._fd, SLOTS * _SLOT.size)
        except OSError as err:
            raise ConfigError(
                f"The rate limit's bucket file {path} cannot be used: {err}.",
                fix=f"Unset {SHARED_FILE_VAR}; `regulars serve` makes the file itself.",
            ) from err

    def close(self) -> None:
        """Let go of the shared file (the buckets of this process stay usable)."""
        if self._map is not None:
            self._map.close()
            os.close(self._fd)
            self._map = None

    def take(self, key_id: int) -> float:
        """Take one request from the key's bucket; return 0, or the seconds to wait."""
        if self.rate <= 0:
            return 0.0
        with self._lock:
            now = time.monotonic()  # one clock for every process of the machine
            if self._map is not None:
                wait = self._take_shared(key_id, now)
                if wait is not None:
                    return wait
            bucket = self._buckets.setdefault(key_id, _Bucket(float(self.burst), now))
            bucket.tokens, wait = self._refill(bucket.tokens, bucket.at, now)
            bucket.at = now
            return wait

    def _refill(self, tokens: float, at: float, now: float) -> tuple[float, float]:
        """Return the tokens left after this request, and the wait (0 when it may go)."""
        tokens = min(self.burst, tokens + max(now - at, 0.0) * self.rate)
        if tokens >= 1:
            return tokens - 1, 0.0
        return tokens, (1 - tokens) / self.rate

    def _take_shared(self, key_id: int, now: float) -> float | None:
        assert self._map is not None
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            for probe in range(SLOTS):
                offset = ((key_id + probe) % SLOTS) * _SLOT.size
                owner, tokens, at = _SLOT.unpack_from(self._map, offset)
                if owner == 0:
                    tokens, at = float(self.burst), now
                elif owner != key_id:
                    continue
                tokens, wait = self._refill(tokens, at, now)
                _SLOT.pack_into(self._map, offset, key_id, tokens, now)
                return wait
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        if not self._warned:
            self._warned = True
            log.warning("the rate limit's file is full: key %d is limited per process", key_id)
        return None

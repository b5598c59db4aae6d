"""One writer per server process: single events are stored in groups (group commit).

``POST /v1/track`` and ``/v1/identify`` hand their message to :class:`IngestWriter` and
wait for its answer. The writer's thread takes every message waiting (up to
``max_group``) into one transaction (:func:`regulars.live.ingest_group.ingest_group`: the
plain events of known customers in one multi-row insert, the others one by one, each in
a savepoint of its own), and commits once for all of them. Many requests
then share one BEGIN, one COMMIT (one WAL flush) and one connection, instead of each
paying for its own; a bad message fails alone.

When the group's transaction fails as a whole (an unexpected database error, not a bad
message), each message of the group is tried again in a transaction of its own, so one
message can never take the others down.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from regulars.errors import RegularsError
from regulars.live.ingest import Ingested, ingest
from regulars.live.ingest_group import ingest_group
from regulars.store import Database, UnitOfWork, run_in_transaction

__all__ = ["IngestWriter"]

log = logging.getLogger("regulars.service")

_Item = tuple[Mapping[str, Any], "Future[Ingested]"]
_STOP: Any = object()


class IngestWriter:
    """A thread that stores the messages given to :meth:`submit`, many per transaction.

    Parameters
    ----------
    database
        The operational store.
    max_group
        The most messages one transaction takes.
    attempts
        Tries of a transaction that meets a deadlock or a lock timeout.
    """

    def __init__(self, database: Database, *, max_group: int = 200, attempts: int = 8) -> None:
        self.database = database
        self.max_group = max_group
        self.attempts = attempts
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    async def submit(self, message: Mapping[str, Any]) -> Ingested:
        """Store ``message`` (in the writer's next group) and return what became of it.

        Raises what :func:`~regulars.live.ingest.ingest` raises for this message.
        """
        self._start()
        future: Future[Ingested] = Future()
        self._queue.put((message, future))
        return await asyncio.wrap_future(future)

    def stop(self) -> None:
        """Finish the messages queued, then stop the thread."""
        with self._lock:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout=30)

    def _start(self) -> None:
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="regulars-ingest-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                return
            group: list[_Item] = [first]
            while len(group) < self.max_group:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                group.append(item)
            self._write(group)

    def _write(self, group: list[_Item]) -> None:
        """Store a group in one transaction; on a failure of the whole, one by one."""
        live = [(m, f) for m, f in group if f.set_running_or_notify_cancel()]
        if not live:
            return

        def work(uow: UnitOfWork) -> list[Ingested | RegularsError]:
            return ingest_group(uow, [message for message, _ in live])

        try:
            outcomes = run_in_transaction(self.database, work, attempts=self.attempts)
        except Exception as err:
            if len(live) == 1:
                live[0][1].set_exception(err)
                return
            log.warning("a group of %d events failed; storing them one by one", len(live))
            for item in live:
                self._write_alone(item)
            return
        for (_, future), outcome in zip(live, outcomes, strict=True):
            if isinstance(outcome, RegularsError):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    def _write_alone(self, item: _Item) -> None:
        message, future = item
        try:
            result = run_in_transaction(
                self.database, lambda uow: ingest(uow, message), attempts=self.attempts
            )
        except Exception as err:
            future.set_exception(err)
        else:
            future.set_result(result)

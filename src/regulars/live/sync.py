"""``regulars sync``: copy what the API received into an analytics workspace.

::

    from regulars.live.sync import sync_to_workspace

    result = sync_to_workspace(open_database(path="regulars.db"), "store.duckdb")

The store's orders, lines, refunds, customers and events are read in batches
(:mod:`regulars.live.canonical`), staged and checked, then written into the workspace with
:meth:`regulars.workspace.Workspace.write` in ``replace`` mode: one DuckDB transaction
empties the canonical tables and fills them again, so a reader sees either the previous
copy or the new one, and a failure leaves the previous copy. The content is fingerprinted;
a sync with nothing new (the same content as the workspace's only import) writes nothing.
Every ``regulars`` command that takes a workspace (``report``, ``predict``, ``customers``,
``summary``, ...) then runs on it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from regulars.live.canonical import stage_store
from regulars.schema import TABLES
from regulars.workspace import Workspace

if TYPE_CHECKING:
    from regulars.store.engine import Database

__all__ = ["SyncResult", "sync_to_workspace"]


@dataclass(frozen=True)
class SyncResult:
    """What a sync did."""

    workspace: Path
    counts: dict[str, int] = field(default_factory=dict)
    """Rows of each canonical table now in the workspace."""
    written: bool = True
    """False when the workspace already held exactly this content (nothing was written)."""
    content_hash: str = ""
    import_id: int | None = None


def sync_to_workspace(
    database: Database, workspace_path: str | Path, *, events: bool = True
) -> SyncResult:
    """Replace the workspace's canonical tables with the store's content, atomically.

    Parameters
    ----------
    database
        The open, migrated store (read in one read-only transaction: a consistent copy).
    workspace_path
        The workspace file (created when missing).
    events
        Also copy the events.

    Returns
    -------
    SyncResult
        The row counts per table, and whether anything was written.

    Raises
    ------
    WorkspaceError
        When the workspace cannot be opened or written (it is then left as it was).
    """
    digest = hashlib.sha256(b"regulars store sync v1")
    workspace = Workspace(workspace_path)
    with database.unit_of_work(read_only=True) as uow:
        data = stage_store(uow, events=events, digest=digest.update, source=database.url)
    with data:
        counts = {name: data.count(name) for name in TABLES}
        key = digest.hexdigest()
        result = workspace.write(data, content_hash=key, mode="replace")
    return SyncResult(
        workspace=workspace.path,
        counts=counts,
        written=result.written,
        content_hash=key,
        import_id=result.import_id,
    )

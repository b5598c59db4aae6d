"""The customer table, versioned: readers get the latest complete version only.

A scoring run writes a new version: a ``score_versions`` row with status ``building``, the
rows of ``customer_scores``, then status ``complete``. :meth:`ScoreRepository.write_version`
does all three in the unit of work's transaction, so nobody ever sees a half-written
version; and even a writer that commits in batches (:meth:`ScoreRepository.begin_version`,
:meth:`ScoreRepository.add_scores`, :meth:`ScoreRepository.complete_version`) is never read
before it completes, because readers ask for :meth:`ScoreRepository.latest_complete_version`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from itertools import islice
from typing import Any

import sqlalchemy as sa

from regulars.errors import InputError
from regulars.store.errors import ConflictError, NotFoundError
from regulars.store.records import CustomerScore, ScoreVersion
from regulars.store.tables import CUSTOMER_SCORES, SCORE_VERSIONS
from regulars.store.types import check_currency, utc
from regulars.store.uow import Repository

__all__ = ["ScoreRepository"]

BATCH_ROWS = 5_000
_FLOATS = ("p_alive", "expected_orders", "churn_risk", "clv", "value_at_risk")


def _version(row: Any) -> ScoreVersion:
    return ScoreVersion(
        id=int(row.id),
        as_of=row.as_of,
        status=row.status,
        customers=int(row.customers),
        started_at=row.started_at,
        completed_at=row.completed_at,
        currency=row.currency,
        meta=dict(row.meta or {}),
    )


def _score(row: Any) -> CustomerScore:
    return CustomerScore(
        customer_id=row.customer_id,
        segment=row.segment,
        p_alive=row.p_alive,
        expected_orders=row.expected_orders,
        churn_risk=row.churn_risk,
        clv=row.clv,
        value_at_risk=row.value_at_risk,
        at_risk=row.at_risk,
        extra=dict(row.extra or {}),
        version_id=int(row.version_id),
    )


def _float(value: float | None, field: str) -> float | None:
    if value is None:
        return None
    number = float(value)
    if math.isnan(number):
        return None
    if math.isinf(number):
        raise InputError("A score is infinite.", column=field, value=value)
    return number


def _score_values(version_id: int, score: CustomerScore) -> dict[str, Any]:
    values: dict[str, Any] = {f: _float(getattr(score, f), f) for f in _FLOATS}
    return {
        "version_id": version_id,
        "customer_id": score.customer_id,
        "segment": score.segment,
        "at_risk": None if score.at_risk is None else bool(score.at_risk),
        "extra": dict(score.extra),
        **values,
    }


class ScoreRepository(Repository):
    """Write and read versions of the customer table."""

    def begin_version(
        self,
        as_of: datetime,
        *,
        currency: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> ScoreVersion:
        """Start a version (status ``building``) computed as of ``as_of``."""
        version_id = self._conn.execute(
            sa.insert(SCORE_VERSIONS)
            .values(
                as_of=utc(as_of, field="as_of"),
                status="building",
                currency=None if currency is None else check_currency(currency),
                customers=0,
                meta=dict(meta or {}),
                started_at=self._now(),
            )
            .returning(SCORE_VERSIONS.c.id)
        ).scalar_one()
        return self.version(int(version_id))

    def add_scores(self, version_id: int, scores: Iterable[CustomerScore]) -> int:
        """Add rows to a version still building; return how many were added.

        Raises
        ------
        ConflictError
            If the version is already complete.
        """
        version = self.version(version_id)
        if version.status != "building":
            raise ConflictError(f"Score version {version_id} is complete; start a new one.")
        added = 0
        rows = iter(scores)
        while batch := [_score_values(version_id, s) for s in islice(rows, BATCH_ROWS)]:
            self._conn.execute(sa.insert(CUSTOMER_SCORES), batch)
            added += len(batch)
        return added

    def complete_version(self, version_id: int) -> ScoreVersion:
        """Mark a version complete (it becomes the one served) and count its rows."""
        count = self._conn.execute(
            sa.select(sa.func.count())
            .select_from(CUSTOMER_SCORES)
            .where(CUSTOMER_SCORES.c.version_id == version_id)
        ).scalar_one()
        self._conn.execute(
            sa.update(SCORE_VERSIONS)
            .where(SCORE_VERSIONS.c.id == version_id, SCORE_VERSIONS.c.status == "building")
            .values(status="complete", customers=int(count), completed_at=self._now())
        )
        return self.version(version_id)

    def write_version(
        self,
        as_of: datetime,
        scores: Iterable[CustomerScore],
        *,
        currency: str | None = None,
        meta: Mapping[str, Any] | None = None,
    ) -> ScoreVersion:
        """Write a whole version in the unit of work's transaction and return it, complete."""
        version = self.begin_version(as_of, currency=currency, meta=meta)
        self.add_scores(version.id, scores)
        return self.complete_version(version.id)

    def version(self, version_id: int) -> ScoreVersion:
        """Return the version ``version_id``.

        Raises
        ------
        NotFoundError
            If there is no such version.
        """
        row = self._conn.execute(
            sa.select(SCORE_VERSIONS).where(SCORE_VERSIONS.c.id == version_id)
        ).first()
        if row is None:
            raise NotFoundError(f"There is no score version {version_id}.")
        return _version(row)

    def versions(self) -> list[ScoreVersion]:
        """Return every version, the newest first."""
        rows = self._conn.execute(sa.select(SCORE_VERSIONS).order_by(SCORE_VERSIONS.c.id.desc()))
        return [_version(r) for r in rows]

    def latest_complete_version(self) -> ScoreVersion | None:
        """Return the complete version with the latest ``as_of`` (newest run on a tie)."""
        row = self._conn.execute(
            sa.select(SCORE_VERSIONS)
            .where(SCORE_VERSIONS.c.status == "complete")
            .order_by(SCORE_VERSIONS.c.as_of.desc(), SCORE_VERSIONS.c.id.desc())
            .limit(1)
        ).first()
        return None if row is None else _version(row)

    def score(self, customer_id: str, *, version_id: int | None = None) -> CustomerScore | None:
        """Return a customer's row in a version (default: the latest complete), or ``None``."""
        if version_id is None:
            latest = self.latest_complete_version()
            if latest is None:
                return None
            version_id = latest.id
        target = self._uow.customers.canonical_id(customer_id)
        row = self._conn.execute(
            sa.select(CUSTOMER_SCORES).where(
                CUSTOMER_SCORES.c.version_id == version_id,
                CUSTOMER_SCORES.c.customer_id == target,
            )
        ).first()
        return None if row is None else _score(row)

    def scores(self, version_id: int | None = None) -> list[CustomerScore]:
        """Return every row of a version (default: the latest complete), by customer id."""
        if version_id is None:
            latest = self.latest_complete_version()
            if latest is None:
                return []
            version_id = latest.id
        rows = self._conn.execute(
            sa.select(CUSTOMER_SCORES)
            .where(CUSTOMER_SCORES.c.version_id == version_id)
            .order_by(CUSTOMER_SCORES.c.customer_id)
        )
        return [_score(r) for r in rows]

    def prune(self, *, keep: int = 3) -> int:
        """Delete all but the ``keep`` newest complete versions (and stale building ones).

        Versions still building are kept when they are newer than the latest complete one
        (a run may be writing them). Returns how many versions were deleted.
        """
        if keep < 1:
            raise InputError("At least one score version must be kept.", value=keep)
        complete = [v for v in self.versions() if v.status == "complete"]
        kept = {v.id for v in sorted(complete, key=lambda v: (v.as_of, v.id))[-keep:]}
        newest = max(kept, default=0)
        doomed = [
            v.id
            for v in self.versions()
            if v.id not in kept and (v.status == "complete" or v.id < newest)
        ]
        if doomed:
            self._conn.execute(
                sa.delete(CUSTOMER_SCORES).where(CUSTOMER_SCORES.c.version_id.in_(doomed))
            )
            self._conn.execute(sa.delete(SCORE_VERSIONS).where(SCORE_VERSIONS.c.id.in_(doomed)))
        return len(doomed)

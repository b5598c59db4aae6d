"""The customer table, versioned: readers get the latest complete version only.

A scoring run writes a new version: a ``score_versions`` row with status ``building``, the
rows of ``customer_scores``, then status ``complete``. :meth:`ScoreRepository.write_version`
does all three in the unit of work's transaction, so nobody ever sees a half-written
version; and even a writer that commits in batches (:meth:`ScoreRepository.begin_version`,
:meth:`ScoreRepository.add_scores`, :meth:`ScoreRepository.complete_version`) is never read
before it completes, because readers ask for :meth:`ScoreRepository.latest_complete_version`.

Each row's segments (its RFM ``segment`` and the names in ``extra["segments"]``) are also
written to ``customer_segments``, so that :meth:`ScoreRepository.segments` counts them and
:meth:`ScoreRepository.segment_customers` pages through one with an index.
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
from regulars.store.tables import CUSTOMER_SCORES, CUSTOMER_SEGMENTS, SCORE_VERSIONS
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


def segment_names(score: CustomerScore) -> list[str]:
    """Return the segments of a row: its RFM ``segment`` and ``extra["segments"]``, each once."""
    names: list[str] = []
    listed = score.extra.get("segments") if isinstance(score.extra, Mapping) else None
    if listed is not None and (isinstance(listed, str) or not isinstance(listed, Iterable)):
        raise InputError(
            f"The segments of customer {score.customer_id} are not a list of names.",
            column="extra.segments",
            value=listed,
            expected='a list of segment names, e.g. ["first_time_buyer", "at_risk"]',
        )
    for name in [score.segment, *(listed or ())]:
        if name is None:
            continue
        text = str(name)
        if not text or len(text) > 100:
            raise InputError(
                f"Customer {score.customer_id} has a segment name that is empty or longer "
                "than 100 characters.",
                column="segments",
                value=name,
            )
        if text not in names:
            names.append(text)
    return names


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
        while chunk := list(islice(rows, BATCH_ROWS)):
            self._conn.execute(
                sa.insert(CUSTOMER_SCORES), [_score_values(version_id, s) for s in chunk]
            )
            memberships = [
                {"version_id": version_id, "segment": name, "customer_id": s.customer_id}
                for s in chunk
                for name in segment_names(s)
            ]
            if memberships:
                self._conn.execute(sa.insert(CUSTOMER_SEGMENTS), memberships)
            added += len(chunk)
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

    def _chosen(self, version_id: int | None) -> int | None:
        """Return ``version_id``, or the latest complete version's id (``None``: none yet)."""
        if version_id is not None:
            return version_id
        latest = self.latest_complete_version()
        return None if latest is None else latest.id

    def latest_complete_version(self) -> ScoreVersion | None:
        """Return the complete version with the latest ``as_of`` (newest run on a tie)."""
        row = self._conn.execute(
            sa.select(SCORE_VERSIONS)
            .where(SCORE_VERSIONS.c.status == "complete")
            .order_by(SCORE_VERSIONS.c.as_of.desc(), SCORE_VERSIONS.c.id.desc())
            .limit(1)
        ).first()
        return None if row is None else _version(row)

    def score(
        self, customer_id: str, *, version_id: int | None = None, canonical: bool = False
    ) -> CustomerScore | None:
        """Return a customer's row in a version (default: the latest complete), or ``None``.

        ``canonical=True``: ``customer_id`` is known to be the live record (read in this
        transaction), so it is not looked up again.
        """
        version_id = self._chosen(version_id)
        if version_id is None:
            return None
        target = customer_id if canonical else self._uow.customers.canonical_id(customer_id)
        row = self._conn.execute(
            sa.select(CUSTOMER_SCORES).where(
                CUSTOMER_SCORES.c.version_id == version_id,
                CUSTOMER_SCORES.c.customer_id == target,
            )
        ).first()
        return None if row is None else _score(row)

    def scores(self, version_id: int | None = None) -> list[CustomerScore]:
        """Return every row of a version (default: the latest complete), by customer id."""
        version_id = self._chosen(version_id)
        if version_id is None:
            return []
        rows = self._conn.execute(
            sa.select(CUSTOMER_SCORES)
            .where(CUSTOMER_SCORES.c.version_id == version_id)
            .order_by(CUSTOMER_SCORES.c.customer_id)
        )
        return [_score(r) for r in rows]

    def segments(self, version_id: int | None = None) -> list[tuple[str, int]]:
        """Return ``(segment, customers)`` of a version (default: the latest complete), by name.

        Empty when there is no complete version (or the version has no segment rows).
        """
        version_id = self._chosen(version_id)
        if version_id is None:
            return []
        rows = self._conn.execute(
            sa.select(CUSTOMER_SEGMENTS.c.segment, sa.func.count())
            .where(CUSTOMER_SEGMENTS.c.version_id == version_id)
            .group_by(CUSTOMER_SEGMENTS.c.segment)
            .order_by(CUSTOMER_SEGMENTS.c.segment)
        )
        return [(str(r[0]), int(r[1])) for r in rows]

    def segment_customers(
        self,
        name: str,
        *,
        after: str | None = None,
        limit: int = 100,
        version_id: int | None = None,
    ) -> list[CustomerScore]:
        """Return the rows of a segment's customers, by customer id, after the cursor ``after``.

        Parameters
        ----------
        name
            The segment (an RFM segment such as ``Champions``, or ``at_risk``, ...).
        after
            Only customers whose id sorts after this one (the last id of the previous page).
        limit
            At most this many rows (1 to 10,000).
        version_id
            The version to read (default: the latest complete; none: an empty list).
        """
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 10_000:
            raise InputError(
                "The page size is out of range.",
                column="limit",
                value=limit,
                expected="an integer from 1 to 10000",
            )
        version_id = self._chosen(version_id)
        if version_id is None:
            return []
        query = (
            sa.select(CUSTOMER_SCORES)
            .join(
                CUSTOMER_SEGMENTS,
                sa.and_(
                    CUSTOMER_SEGMENTS.c.version_id == CUSTOMER_SCORES.c.version_id,
                    CUSTOMER_SEGMENTS.c.customer_id == CUSTOMER_SCORES.c.customer_id,
                ),
            )
            .where(CUSTOMER_SEGMENTS.c.version_id == version_id)
            .where(CUSTOMER_SEGMENTS.c.segment == name)
        )
        if after is not None:
            query = query.where(CUSTOMER_SEGMENTS.c.customer_id > after)
        rows = self._conn.execute(query.order_by(CUSTOMER_SEGMENTS.c.customer_id).limit(limit))
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
                sa.delete(CUSTOMER_SEGMENTS).where(CUSTOMER_SEGMENTS.c.version_id.in_(doomed))
            )
            self._conn.execute(
                sa.delete(CUSTOMER_SCORES).where(CUSTOMER_SCORES.c.version_id.in_(doomed))
            )
            self._conn.execute(sa.delete(SCORE_VERSIONS).where(SCORE_VERSIONS.c.id.in_(doomed)))
        return len(doomed)

"""API keys: a secret shown once, stored as a salted hash, scoped read / write / admin.

A token reads ``rgk_<prefix>_<secret>``: the 12-character prefix finds the row, the secret
(256 random bits) is checked against ``sha256(salt + secret)`` in constant time. A fast
hash is enough for a secret this long (nobody can guess it, so there is nothing to slow
down), and it keeps authentication cheap on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

from regulars.errors import InputError
from regulars.store.errors import NotFoundError
from regulars.store.records import ApiKey, IssuedKey
from regulars.store.tables import API_KEYS, SCOPES
from regulars.store.types import check_text
from regulars.store.uow import Repository

__all__ = ["TOKEN_KIND", "ApiKeyRepository", "hash_secret"]

TOKEN_KIND = "rgk"
"""The first part of every token, so a leaked key is recognisable (secret scanners)."""

_DUMMY_SALT = "0" * 32


def hash_secret(salt: str, secret: str) -> str:
    """Return the stored form of a key's secret: hex SHA-256 of salt and secret."""
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def _scopes(scopes: Iterable[str]) -> frozenset[str]:
    chosen = frozenset(s.strip().lower() for s in scopes)
    unknown = sorted(chosen - set(SCOPES))
    if not chosen or unknown:
        raise InputError(
            "Unknown or missing API key scopes.",
            column="scopes",
            value=unknown or list(scopes),
            expected=f"one or more of {', '.join(SCOPES)}",
        )
    return chosen


def _key(row: Any) -> ApiKey:
    return ApiKey(
        id=row.id,
        prefix=row.prefix,
        name=row.name,
        scopes=frozenset(row.scopes.split()),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


class ApiKeyRepository(Repository):
    """Create, check and revoke API keys."""

    def create(self, name: str, scopes: Iterable[str]) -> IssuedKey:
        """Create a key and return it with its token (shown this once, never stored).

        Parameters
        ----------
        name
            What the key is for ("storefront", "warehouse sync").
        scopes
            Any of ``read``, ``write``, ``admin`` (admin may do everything).
        """
        label = check_text(name, field="name", max_length=200)
        chosen = _scopes(scopes)
        prefix = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        key_id = self._conn.execute(
            sa.insert(API_KEYS)
            .values(
                prefix=prefix,
                secret_hash=hash_secret(salt, secret),
                salt=salt,
                name=label,
                scopes=" ".join(sorted(chosen)),
                created_at=self._now(),
            )
            .returning(API_KEYS.c.id)
        ).scalar_one()
        key = self.get(int(key_id))
        assert key is not None
        return IssuedKey(key=key, token=f"{TOKEN_KIND}_{prefix}_{secret}")

    def authenticate(self, token: str) -> ApiKey | None:
        """Return the live key that ``token`` belongs to, or ``None``.

        ``None`` for a malformed token, an unknown prefix, a wrong secret or a revoked key;
        the caller checks the scope with :meth:`ApiKey.allows`.
        """
        parts = token.split("_", 2) if isinstance(token, str) else []
        if len(parts) != 3 or parts[0] != TOKEN_KIND or not parts[2]:
            return None
        _, prefix, secret = parts
        row = self._conn.execute(sa.select(API_KEYS).where(API_KEYS.c.prefix == prefix)).first()
        if row is None:
            hash_secret(_DUMMY_SALT, secret)  # the same work whether the prefix exists or not
            return None
        if not hmac.compare_digest(hash_secret(row.salt, secret), row.secret_hash):
            return None
        if row.revoked_at is not None:
            return None
        return _key(row)

    def get(self, key_id: int) -> ApiKey | None:
        """Return the key with id ``key_id`` (revoked or not), or ``None``."""
        row = self._conn.execute(sa.select(API_KEYS).where(API_KEYS.c.id == key_id)).first()
        return None if row is None else _key(row)

    def all(self, *, include_revoked: bool = False) -> list[ApiKey]:
        """Return the keys, oldest first."""
        query = sa.select(API_KEYS).order_by(API_KEYS.c.id)
        if not include_revoked:
            query = query.where(API_KEYS.c.revoked_at.is_(None))
        return [_key(row) for row in self._conn.execute(query)]

    def revoke(self, key_id: int) -> ApiKey:
        """Revoke a key for good (revoking twice keeps the first time).

        Raises
        ------
        NotFoundError
            If there is no key ``key_id``.
        """
        self._conn.execute(
            sa.update(API_KEYS)
            .where(API_KEYS.c.id == key_id, API_KEYS.c.revoked_at.is_(None))
            .values(revoked_at=self._now())
        )
        key = self.get(key_id)
        if key is None:
            raise NotFoundError(f"There is no API key with id {key_id}.")
        return key

"""API keys: the secret is shown once, stored hashed, and checked with its scopes."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from regulars.errors import InputError
from regulars.store import Database
from regulars.store.tables import API_KEYS


def test_the_secret_is_never_stored(database: Database) -> None:
    with database.unit_of_work() as uow:
        issued = uow.api_keys.create("storefront", ["write", "read"])
    kind, prefix, secret = issued.token.split("_", 2)
    assert kind == "rgk" and prefix == issued.key.prefix and len(secret) >= 40
    with database.engine.connect() as conn:
        rows = conn.execute(sa.select(API_KEYS)).all()
    assert len(rows) == 1
    assert all(secret not in str(value) for value in rows[0])
    assert rows[0].secret_hash != secret


def test_authenticate_checks_secret_scope_and_revocation(database: Database) -> None:
    with database.unit_of_work() as uow:
        reader = uow.api_keys.create("dashboard", ["read"])
        admin = uow.api_keys.create("ops", ["admin"])
    with database.unit_of_work() as uow:
        key = uow.api_keys.authenticate(reader.token)
        assert key is not None and key.name == "dashboard"
        assert key.allows("read") and not key.allows("write") and not key.allows("admin")
        boss = uow.api_keys.authenticate(admin.token)
        assert boss is not None and boss.allows("write") and boss.allows("admin")
        wrong = reader.token[:-2] + ("AA" if not reader.token.endswith("AA") else "BB")
        assert uow.api_keys.authenticate(wrong) is None
        assert uow.api_keys.authenticate("rgk_000000000000_" + "x" * 43) is None
        assert uow.api_keys.authenticate("Bearer nonsense") is None
        assert uow.api_keys.authenticate("") is None
        revoked = uow.api_keys.revoke(reader.key.id)
        assert revoked.revoked_at is not None and not revoked.allows("read")
    with database.unit_of_work() as uow:
        assert uow.api_keys.authenticate(reader.token) is None
        assert [k.name for k in uow.api_keys.all()] == ["ops"]
        assert len(uow.api_keys.all(include_revoked=True)) == 2


def test_unknown_scopes_are_refused(database: Database) -> None:
    with pytest.raises(InputError, match="scopes"), database.unit_of_work() as uow:
        uow.api_keys.create("x", ["read", "superuser"])
    with pytest.raises(InputError), database.unit_of_work() as uow:
        uow.api_keys.create("x", [])

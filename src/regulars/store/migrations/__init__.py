"""Alembic migrations of the operational store (run by :func:`regulars.store.migrate.migrate`)."""

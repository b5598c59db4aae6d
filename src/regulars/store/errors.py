"""The operational store's errors: branches of the one tree in :mod:`regulars.errors`.

They live here (not in :mod:`regulars.errors`) only because the store was added in its own
change; each is a :class:`~regulars.errors.RegularsError`, so the CLI and the service print
them without a traceback. The service maps :class:`NotFoundError` to 404 and
:class:`ConflictError` to 409.

The branch::

    RegularsError
    +-- StoreError          the operational store refused an operation
        +-- NotFoundError       the customer, order or key asked for is not there
        +-- ConflictError       the operation contradicts what the store holds
"""

from __future__ import annotations

from regulars.errors import RegularsError

__all__ = ["ConflictError", "NotFoundError", "StoreError"]


class StoreError(RegularsError):
    """The operational store refused an operation."""

    exit_code = 2


class NotFoundError(StoreError, LookupError):
    """The record asked for (a customer, an order, a score version) is not in the store."""


class ConflictError(StoreError):
    """The operation contradicts what the store holds (e.g. a currency that differs)."""

"""The live side of regulars: what the service does, as library functions (no HTTP).

The use cases that take the caller's :class:`~regulars.store.UnitOfWork` never commit;
bad input is an :class:`~regulars.errors.InputError` whose ``column`` is the dotted path
of the field (``properties.products[2].price``), which the service returns as a 422.

- :func:`ingest`, :func:`ingest_batch`: store Segment messages (track, identify, page,
  screen, group, alias), resolve customers, write orders and refunds
  (:mod:`regulars.live.ingest`, :mod:`regulars.live.segment_orders`).
- :func:`customer_profile`: a customer with their latest scores, consents and orders
  (:mod:`regulars.live.profile`); :func:`customer_recommendations`
  (:mod:`regulars.live.recommendations`).
- :func:`score_store`: the customer table computed from the store's orders and written as
  one new version of the scores (:mod:`regulars.live.scoring`); :func:`store_tables`.
- :func:`sync_to_workspace`: the store's data copied into an analytics workspace
  (:mod:`regulars.live.sync`).
"""

from regulars.live.ingest import Ingested, ingest, ingest_batch
from regulars.live.profile import customer_profile
from regulars.live.recommendations import customer_recommendations
from regulars.live.scoring import score_store, store_tables
from regulars.live.sync import SyncResult, sync_to_workspace

__all__ = [
    "Ingested",
    "SyncResult",
    "customer_profile",
    "customer_recommendations",
    "ingest",
    "ingest_batch",
    "score_store",
    "store_tables",
    "sync_to_workspace",
]

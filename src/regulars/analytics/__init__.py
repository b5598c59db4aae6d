"""Analytics: Ibis expressions only, engine-independent (no backend is imported here).

Every function takes Ibis tables (from :meth:`regulars.workspace.Workspace.table` or any
other backend holding the canonical tables) and returns expressions or the values they
compute; which engine runs them is the caller's choice.
"""

from regulars.analytics.overview import StoreOverview, store_overview

__all__ = ["StoreOverview", "store_overview"]

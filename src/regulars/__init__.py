"""regulars: turn an online store's one-time buyers into regulars.

The public Python API. Import a source into a workspace, then analyse it::

    from regulars import Workspace, read_source, content_hash, ImportOptions

    with read_source("orders.csv") as data:          # any supported layout, detected
        Workspace("store.duckdb").write(data, content_hash=content_hash(
            "orders.csv", data.format, ImportOptions()))
"""

from regulars.errors import (
    ConfigError,
    ImportFormatError,
    InputError,
    RegularsError,
    WorkspaceError,
)
from regulars.importers import FORMATS, CanonicalData, ImportOptions, ImportSummary, read_source
from regulars.workspace import ImportResult, Workspace, content_hash

__all__ = [
    "FORMATS",
    "CanonicalData",
    "ConfigError",
    "ImportFormatError",
    "ImportOptions",
    "ImportResult",
    "ImportSummary",
    "InputError",
    "RegularsError",
    "Workspace",
    "WorkspaceError",
    "content_hash",
    "read_source",
]

__version__ = "0.1.0"

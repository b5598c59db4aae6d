"""The HTTP API of regulars (FastAPI): a thin layer over :mod:`regulars.live` and the store.

See ``docs/service.md``; start it with ``regulars serve``.
"""

from regulars.service.app import create_app
from regulars.service.settings import ServiceSettings

__all__ = ["ServiceSettings", "create_app"]

"""Build the app from the environment, for uvicorn (``regulars serve`` uses it).

``uvicorn --factory regulars.service.serve:app_from_env`` works too: the database is
``REGULARS_DATABASE_URL``, else the SQLite file ``REGULARS_DATABASE_PATH`` (default
``regulars.db``); limits come from ``REGULARS_<SETTING>`` (see :class:`ServiceSettings`);
the rate limit's bucket file shared by the workers from ``REGULARS_RATE_LIMIT_FILE`` (set
by ``regulars serve``).
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from regulars.service.app import create_app
from regulars.service.logs import configure_logging
from regulars.service.rate_limit import SHARED_FILE_VAR
from regulars.service.settings import ServiceSettings
from regulars.store import open_database

__all__ = ["DEFAULT_PATH", "PATH_VAR", "app_from_env"]

PATH_VAR = "REGULARS_DATABASE_PATH"
DEFAULT_PATH = "regulars.db"


def app_from_env() -> FastAPI:
    """Return the app over the database and settings the environment names."""
    configure_logging(os.environ.get("REGULARS_LOG_LEVEL", "INFO"))
    database = open_database(path=os.environ.get(PATH_VAR, DEFAULT_PATH))
    return create_app(
        database,
        ServiceSettings.from_env(),
        freeze_heap=True,
        shared_rate_limit=os.environ.get(SHARED_FILE_VAR) or None,
    )

"""The store: sqlmodel tables in SQLite (default) or any SQLAlchemy database, with alembic migrations."""

from .db import default_url, open_store
from .writer import RunWriter

__all__ = ["RunWriter", "default_url", "open_store"]

"""Shared set-up for the integrity tests: a key pair in a private directory, a store with the ledger tables."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from sentinel.integrity.keys import init_keys, load_private_key
from sentinel.integrity.tables import LedgerCheckpoint, LedgerEntry
from sentinel.store import open_store


def make_keys(directory: Path):
    init_keys(directory)
    return load_private_key(directory)


def ledger_store(url: str) -> sa.Engine:
    """The store at `url`, migrated by the real alembic chain (0006 creates the ledger tables)."""
    engine = open_store(url)
    tables = set(sa.inspect(engine).get_table_names())
    assert {LedgerEntry.__tablename__, LedgerCheckpoint.__tablename__} <= tables
    return engine


def flip(data: bytes, offset: int) -> bytes:
    """`data` with the byte at `offset` changed (every bit inverted, so it always differs)."""
    return data[:offset] + bytes([data[offset] ^ 0xFF]) + data[offset + 1:]

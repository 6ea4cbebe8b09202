"""Ledger tables (sqlmodel). Schema changes need a migration in store/migrations/versions (0006 created these)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class LedgerEntry(SQLModel, table=True):
    """One link of the hash chain. `payload` is canonical JSON text, kept as text so the hashed bytes are exactly
    the stored bytes (a JSON column could re-encode numbers or key order)."""

    __tablename__ = "ledger_entry"
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    ts: str = Field(max_length=40)
    kind: str = Field(max_length=32)
    ref: str | None = Field(default=None, max_length=255)
    payload: str = Field(sa_type=sa.Text)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class LedgerCheckpoint(SQLModel, table=True):
    """A signed statement "entry `seq` of the chain has hash `head_hash`"."""

    __tablename__ = "ledger_checkpoint"
    id: int | None = Field(default=None, primary_key=True)
    seq: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False, index=True))
    head_hash: str = Field(max_length=64)
    ts: str = Field(max_length=40)
    key_fingerprint: str = Field(max_length=64)
    signature: str = Field(sa_type=sa.Text)

"""Tables of the store (sqlmodel). Changing a table means adding a migration in store/migrations/versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

#: JSON on SQLite, JSONB on PostgreSQL (indexable, compact).
JsonType = sa.JSON().with_variant(JSONB(), "postgresql")


class Run(SQLModel, table=True):
    """One invocation that wrote to the store (an analysis, an ingest...).

    `status` is `running` while it writes, then `complete`, or `incomplete` when it was interrupted or hit damaged
    input: the events it stored before that are kept and are consistent (written in whole transactions).
    """

    __tablename__ = "run"
    id: int | None = Field(default=None, primary_key=True)
    command: str = Field(max_length=32)
    inputs: list[str] = Field(default_factory=list, sa_type=JsonType)
    started: datetime
    finished: datetime | None = None
    status: str = Field(default="running", max_length=16, index=True)
    reason: str | None = None
    pid: int | None = None
    host: str | None = Field(default=None, max_length=255)
    counts: dict[str, Any] = Field(default_factory=dict, sa_type=JsonType)


class EventRow(SQLModel, table=True):
    """One event. Common fields are columns; the kind's own fields are in `data` (see docs/events.md)."""

    __tablename__ = "event"
    __table_args__ = (sa.Index("ix_event_kind_ts", "kind", "ts"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id")
    ts: float
    kind: str = Field(max_length=32)
    layer: str = Field(max_length=16)
    sensor: str = Field(max_length=255)
    src_ip: str | None = Field(default=None, max_length=64)
    src_port: int | None = None
    dst_ip: str | None = Field(default=None, max_length=64)
    dst_port: int | None = None
    proto: str | None = Field(default=None, max_length=8)
    uid: str | None = Field(default=None, max_length=64)
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JsonType)

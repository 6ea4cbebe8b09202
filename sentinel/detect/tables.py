"""Alert tables (sqlmodel). Schema changes need a migration in store/migrations/versions (0004 created these)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ..store.tables import JsonType


class AlertRow(SQLModel, table=True):
    """One aggregated alert of one run: `count` matches of `rule` for one group between first_seen and last_seen."""

    __tablename__ = "alert"
    __table_args__ = (sa.Index("ix_alert_run_rule", "run_id", "rule"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="run.id", index=True)
    rule: str = Field(max_length=128)
    title: str = Field(max_length=512)
    level: str = Field(max_length=16, index=True)
    layer: str = Field(max_length=16)
    type: str = Field(max_length=32)
    attack: list[str] = Field(default_factory=list, sa_type=JsonType)
    controls: list[str] = Field(default_factory=list, sa_type=JsonType)
    src: str | None = Field(default=None, max_length=64)
    dst: str | None = Field(default=None, max_length=64)
    count: int
    first_seen: float
    last_seen: float
    group: dict[str, Any] = Field(default_factory=dict, sa_type=JsonType, sa_column_kwargs={"name": "group_key"})
    evidence: list[dict[str, Any]] = Field(default_factory=list, sa_type=JsonType)
    falsepositives: list[str] = Field(default_factory=list, sa_type=JsonType)


class AlertEvidence(SQLModel, table=True):
    """Link from an alert to a stored event of the same run (found by kind, ts and uid/source/src_ip)."""

    __tablename__ = "alert_evidence"
    alert_id: int = Field(foreign_key="alert.id", primary_key=True)
    event_id: int = Field(foreign_key="event.id", primary_key=True, index=True)

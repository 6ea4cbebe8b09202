"""Tables of the assessment (migration 0005): systems under assessment, assessor findings, mitigations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from ..store.tables import JsonType


class SystemRow(SQLModel, table=True):
    """An information system (等级保护对象): its level and the catalogue parts that apply. Its assets are the
    inventory assets whose `system` field names it."""

    __tablename__ = "mlps_system"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255, sa_column_kwargs={"unique": True})
    level: int  # MLPS level 1..4
    sa_code: str | None = Field(default=None, max_length=8)  # e.g. S3A2 (business info / service security)
    grading: str | None = None  # grading reasoning, free text
    description: str | None = None
    parts: list[str] = Field(default_factory=list, sa_type=JsonType)  # general + iot/cloud/mobile/ics
    updated: datetime | None = None


class FindingRow(SQLModel, table=True):
    """One assessor judgement of one item on one object (`object` "" = the whole system). Rows are never updated
    except `remediated`: the newest row per (system, unit, object) is the current judgement, older ones are history."""

    __tablename__ = "mlps_finding"
    __table_args__ = (sa.Index("ix_mlps_finding_system_unit", "system", "unit"),)
    id: int | None = Field(default=None, primary_key=True)
    system: str = Field(max_length=255)
    unit: str = Field(max_length=32)  # GB/T 28448 unit id
    item_key: str = Field(max_length=32)  # "8.1.3.3 a"
    object: str = Field(default="", max_length=255)
    result: str = Field(max_length=16)
    evidence: str = ""
    assessor: str | None = Field(default=None, max_length=255)
    source: str | None = Field(default=None, max_length=512)  # "cli" or "FILE:line"
    recorded: datetime
    remediated: bool = False
    remediated_at: datetime | None = None


class MitigationRow(SQLModel, table=True):
    """A compensating measure (缓解措施) recorded against an item; `lowers` says the assessor judged it strong
    enough to lower a high-risk finding (only honoured when the high-risk case is mitigable)."""

    __tablename__ = "mlps_mitigation"
    id: int | None = Field(default=None, primary_key=True)
    system: str = Field(max_length=255, index=True)
    unit: str = Field(max_length=32)
    object: str = Field(default="", max_length=255)
    text: str
    lowers: bool = False
    assessor: str | None = Field(default=None, max_length=255)
    recorded: datetime


def as_dict(row: Any) -> dict[str, Any]:
    return {c.name: getattr(row, c.name) for c in row.__table__.columns}


__all__ = ["FindingRow", "MitigationRow", "SystemRow", "as_dict"]

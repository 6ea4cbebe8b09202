"""Tables of the asset inventory (migration 0003): devices observed on the wire, and the declared inventory."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Field, SQLModel

from ..store.tables import JsonType


class ObservedDevice(SQLModel, table=True):
    """A device heard in traffic, keyed by MAC when known, else by IP. Upserted after each run.

    `evidence` holds role -> reason -> count summed over runs; `roles`/`role` are the judgement of the newest run
    (evidence plus what needs the whole picture: vendor, peers).
    """

    __tablename__ = "observed_device"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    macs: list[str] = Field(default_factory=list, sa_type=JsonType)
    ips: list[str] = Field(default_factory=list, sa_type=JsonType)
    vendor: str | None = Field(default=None, max_length=255)
    first_seen: float
    last_seen: float = Field(index=True)
    protocols: dict[str, Any] = Field(default_factory=dict, sa_type=JsonType)
    server_ports: dict[str, Any] = Field(default_factory=dict, sa_type=JsonType)
    client_ports: dict[str, Any] = Field(default_factory=dict, sa_type=JsonType)
    evidence: dict[str, Any] = Field(default_factory=dict, sa_type=JsonType)
    role: str | None = Field(default=None, max_length=32)
    roles: dict[str, Any] = Field(default_factory=dict, sa_type=JsonType)
    interval: float | None = None
    events: int = 0
    run_id: int | None = None
    updated: datetime | None = None


class Asset(SQLModel, table=True):
    """One declared asset of the inventory (imported from YAML/CSV or set by hand)."""

    __tablename__ = "asset"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=255, sa_column_kwargs={"unique": True})
    owner: str | None = Field(default=None, max_length=255)  # owning department
    location: str | None = Field(default=None, max_length=255)
    system: str | None = Field(default=None, max_length=255)  # the information system it belongs to (MLPS object)
    layer: str | None = Field(default=None, max_length=16)  # perception / transport / application
    criticality: int | None = None  # 1 (low) .. 5 (vital)
    protection_level: int | None = None  # MLPS level 1..5
    mac: str | None = Field(default=None, max_length=17, index=True)
    ip: str | None = Field(default=None, max_length=64, index=True)
    notes: str | None = None
    updated: datetime | None = None


ASSET_FIELDS = ("name", "owner", "location", "system", "layer", "criticality", "protection_level", "mac", "ip",
                "notes")

__all__ = ["ASSET_FIELDS", "Asset", "ObservedDevice"]

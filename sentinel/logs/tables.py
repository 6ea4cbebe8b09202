"""The `log_offset` table: where `sentinel ingest --follow` is in each followed file (migration 0002)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


class LogOffset(SQLModel, table=True):
    """One followed file: the file identity (inode) and the byte offset / line number just after the last line
    whose events are committed. Written in the same transaction as those events, so a restart neither loses nor
    repeats a line."""

    __tablename__ = "log_offset"
    path: str = Field(primary_key=True, max_length=4096)
    inode: int = Field(sa_type=sa.BigInteger)
    offset: int = Field(sa_type=sa.BigInteger)
    line: int = Field(sa_type=sa.BigInteger)

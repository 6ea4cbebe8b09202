"""Batched, transactional writing of one run's events.

Events are buffered and written `batch_size` at a time, each batch in its own transaction, so an interrupted run
leaves only whole batches behind and its `run` row says `incomplete`.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..events.base import Event
from .db import now
from .tables import EventRow, Run

_EV = EventRow.__table__
_RUN = Run.__table__


class RunWriter:
    """Context manager: creates the run row, buffers events, finalises the run status on exit."""

    def __init__(self, engine: Engine, command: str, inputs: list[str], batch_size: int = 20000) -> None:
        self.engine = engine
        self.command = command
        self.inputs = inputs
        self.batch_size = batch_size
        self.run_id: int | None = None
        self._buf: list[dict[str, Any]] = []
        self.written = 0
        self.status = "running"
        self.reason: str | None = None
        self.counts: dict[str, Any] = {}

    def __enter__(self) -> "RunWriter":
        with self.engine.begin() as conn:
            res = conn.execute(
                _RUN.insert().values(
                    command=self.command,
                    inputs=self.inputs,
                    started=now(),
                    status="running",
                    pid=os.getpid(),
                    host=socket.gethostname(),
                    counts={},
                )
            )
            self.run_id = res.inserted_primary_key[0]
        return self

    def add(self, ev: Event) -> None:
        self._buf.append(self._row(ev))
        if len(self._buf) >= self.batch_size:
            self.flush()

    def add_many(self, evs: Iterable[Event]) -> None:
        for ev in evs:
            self._buf.append(self._row(ev))
        if len(self._buf) >= self.batch_size:
            self.flush()

    def _row(self, ev: Event) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "ts": ev.ts,
            "kind": ev.KIND,
            "layer": ev.LAYER,
            "sensor": ev.sensor,
            "src_ip": ev.src_ip,
            "src_port": ev.src_port,
            "dst_ip": ev.dst_ip,
            "dst_port": ev.dst_port,
            "proto": ev.proto,
            "uid": ev.uid,
            "data": ev.extra(),
        }

    def flush(self) -> None:
        if not self._buf:
            return
        rows, self._buf = self._buf, []
        with self.engine.begin() as conn:
            conn.execute(_EV.insert(), rows)
        self.written += len(rows)

    def mark(self, status: str, reason: str | None = None) -> None:
        """Set the final status (`complete` or `incomplete`) to record on exit."""
        self.status = status
        self.reason = reason

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.flush()
            status = "complete" if self.status == "running" else self.status
            reason = self.reason
        else:
            # why: keep what was decoded before the failure; the pending batch is whole, so write it too
            try:
                self.flush()
            except Exception:  # the store itself may be what failed
                pass
            status = "incomplete"
            reason = self.reason or f"interrupted: {exc_type.__name__}: {exc}"[:500]
        with self.engine.begin() as conn:
            conn.execute(
                _RUN.update()
                .where(_RUN.c.id == self.run_id)
                .values(status=status, reason=reason, finished=now(), counts={**self.counts, "events": self.written})
            )

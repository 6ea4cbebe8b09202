"""Batched, transactional writing of one run's events.

Events are buffered and written `batch_size` at a time, each batch in its own transaction, so an interrupted run
leaves only whole batches behind and its `run` row says `incomplete`.

A full batch is written *behind*: on a writer thread, while the caller goes on decoding and evaluating. why: the
database driver releases the GIL while the database does the work (sqlite3_step, a server round trip), which was
≈2.4 s of the parent's 20 s on a 1M-packet capture; behind, it overlaps with evaluation. At most one batch is in
flight (bounded memory, rows stored in order), and `flush()` waits for it, so after `flush()` every added event is
stored — callers that link to events (alerts' evidence) flush first, as before.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from operator import attrgetter
from typing import Any

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import SingletonThreadPool, StaticPool

from ..events.base import Event
from ..events.extra import event_data
from .db import now
from .tables import EventRow, Run

_EV = EventRow.__table__
_RUN = Run.__table__
_COLUMNS = ("ts", "kind", "layer", "sensor", "src_ip", "src_port", "dst_ip", "dst_port", "proto", "uid", "data",
            "run_id")
#: the common columns of an event, read in one call (KIND and LAYER are class attributes, read through the event)
_common = attrgetter("ts", "KIND", "LAYER", "sensor", "src_ip", "src_port", "dst_ip", "dst_port", "proto", "uid")


def _insert_sql(engine: Engine) -> str | None:
    """A driver-level INSERT for executemany.

    why: SQLAlchemy's generic insert with per-row type processing measured ~30k rows/s here; the driver's
    executemany with pre-serialised JSON is several times faster, and event volume is the store's hot path.
    Dialects with another parameter style fall back to the generic path (None).
    """
    style = engine.dialect.paramstyle
    cols = ", ".join(_COLUMNS)
    if style == "qmark":
        marks = ", ".join("?" for _ in _COLUMNS)
    elif style in ("format", "pyformat"):
        jsonb = engine.dialect.name == "postgresql"  # `data` arrives as JSON text
        marks = ", ".join("%s::jsonb" if jsonb and c == "data" else "%s" for c in _COLUMNS)
    else:
        return None
    return f"INSERT INTO event ({cols}) VALUES ({marks})"


def _can_write_behind(engine: Engine) -> bool:
    """False for pools that tie the database to a thread or share one connection between threads (SQLite in
    memory): a writer thread would get a database of its own there, or race the caller on one connection."""
    return not isinstance(engine.pool, (SingletonThreadPool, StaticPool))


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
        self._sql = _insert_sql(engine)
        self._behind_ok = _can_write_behind(engine)
        self._pool: ThreadPoolExecutor | None = None
        self._behind: Future | None = None

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
            self._write_full_batch()

    def add_many(self, evs: Iterable[Event], data: list[str] | None = None) -> None:
        """Add events; `data`, when given, holds `event_data` of the first len(data) events, computed elsewhere
        (in the capture worker that decoded them)."""
        if data:
            evs = list(evs)
            tail = (self.run_id,)
            self._buf += [_common(e) + (d,) + tail for e, d in zip(evs, data)]
            evs = evs[len(data):]
        for ev in evs:
            self._buf.append(self._row(ev))
        if len(self._buf) >= self.batch_size:
            self._write_full_batch()

    def _row(self, ev: Event) -> tuple:
        return _common(ev) + (event_data(ev), self.run_id)

    def side_writes(self) -> Callable[[Connection], None] | None:
        """Writes to commit in the same transaction as the next batch of events, or None.

        Subclasses use it for state that must never disagree with the stored events: a log follower's file
        positions, so a restart neither loses nor repeats a line.
        """
        return None

    def flush(self) -> None:
        """Store every event added so far (and the side writes), then return."""
        self._settle()
        side = self.side_writes()
        if not self._buf and side is None:
            return
        rows, self._buf = self._buf, []
        self._write(rows, side)

    def _write_full_batch(self) -> None:
        if not self._behind_ok:
            self.flush()
            return
        self._settle()  # one batch in flight at most
        side = self.side_writes()  # taken now: the positions that go with exactly these rows
        rows, self._buf = self._buf, []
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="sentinel-store")
        self._behind = self._pool.submit(self._write, rows, side)

    def _settle(self) -> None:
        """Wait for the batch being written behind; its failure is raised here, in the caller's thread."""
        fut, self._behind = self._behind, None
        if fut is not None:
            fut.result()

    def _write(self, rows: list[tuple], side: Callable[[Connection], None] | None) -> None:
        with self.engine.begin() as conn:
            if rows and self._sql is None:
                conn.execute(_EV.insert(), [dict(zip(_COLUMNS, r)) for r in rows])
            elif rows:
                conn.exec_driver_sql(self._sql, rows)
            if side is not None:
                side(conn)
        self.written += len(rows)

    def mark(self, status: str, reason: str | None = None) -> None:
        """Set the final status (`complete` or `incomplete`) to record on exit."""
        self.status = status
        self.reason = reason

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
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
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
        with self.engine.begin() as conn:
            conn.execute(
                _RUN.update()
                .where(_RUN.c.id == self.run_id)
                .values(status=status, reason=reason, finished=now(), counts={**self.counts, "events": self.written})
            )


def append_events(engine: Engine, run_id: int, events: Iterable[Event]) -> int:
    """Add events to an existing run (e.g. heartbeat_lost found when the run is evaluated again)."""
    w = RunWriter(engine, "append", [])
    w.run_id = run_id
    w.add_many(events)
    w.flush()
    return w.written

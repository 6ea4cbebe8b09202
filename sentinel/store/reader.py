"""Reading a stored run's events back as Event objects (for re-evaluation, bundles, reports)."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ..events.base import COMMON_FIELDS, Event, from_dict
from .tables import EventRow

_EV = EventRow.__table__
_COLS = [c for c in COMMON_FIELDS if c not in ("kind", "layer")]


def run_events(engine: Engine, run_id: int, batch: int = 20000) -> Iterator[Event]:
    """Every event of run `run_id`, in storage order, rebuilt from its columns and its `data`."""
    cols = [_EV.c.kind, *(_EV.c[c] for c in _COLS), _EV.c.data]
    last = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(_EV.c.id, *cols).where(_EV.c.run_id == run_id, _EV.c.id > last)
                                .order_by(_EV.c.id).limit(batch)).all()
        if not rows:
            return
        for row in rows:
            d = {"kind": row[1], **dict(zip(_COLS, row[2:-1])), **(row[-1] or {})}
            yield from_dict(d)
        last = rows[-1][0]

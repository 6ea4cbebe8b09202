"""An event's own fields (`Event.extra()`) as one JSON text: the `data` column of the store's event table.

Here and not in sentinel/store: capture workers serialise the rows where the events are decoded, and they are
forked before the store (SQLAlchemy and sqlmodel: ~0.8 s of imports) is loaded.
"""

from __future__ import annotations

from typing import Any

import orjson

from .base import Event


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, (bytes, bytearray)):
        return obj.hex()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def event_data(ev: Event) -> str:
    """The `data` column of an event: its own fields (those that are not columns) as a JSON object."""
    return orjson.dumps(ev.extra(), default=_jsonable).decode()


def events_data(events: list[Event]) -> list[str]:
    """`event_data` of each event. A pure function: capture workers run it where the events are decoded, so the
    parent only binds finished rows (see RunWriter.add_many)."""
    return [event_data(e) for e in events]

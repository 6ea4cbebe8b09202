"""Compact transfer of event and payload batches from capture workers to the parent process.

why: events are slots dataclasses, and pickling those goes through the dataclass-generated __getstate__ /
__setstate__ (a `fields()` walk and one `object.__setattr__` per field and object). Measured on cap_100k that was
~20 µs per event on *each* side, more than all of the store's work. Here an event travels as a plain tuple of its
field values (pickle's fast path), grouped by class, plus one byte per event giving its class so the original
order is kept; the parent rebuilds each class with a generated function that calls the normal constructor.
"""

from __future__ import annotations

import dataclasses
import pickle
from operator import attrgetter
from typing import Any, Callable

from ..decode.base import Flow, Payload
from ..decode.fastbuild import builder

_GETTERS: dict[type, Callable[[Any], tuple]] = {}
_BUILDERS: dict[type, Callable[[list], list]] = {}


def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def _getter(cls: type) -> Callable[[Any], tuple]:
    g = _GETTERS.get(cls)
    if g is None:
        names = _names(cls)
        g = attrgetter(*names) if len(names) > 1 else (lambda o, n=names[0]: (getattr(o, n),))
        _GETTERS[cls] = g
    return g


def _builder(cls: type) -> Callable[[list], list]:
    """rows of field values -> objects, with the decoders' positional constructor (sentinel/decode/fastbuild.py:
    slots stored directly, or the class's own constructor when it does more than store values)."""
    b = _BUILDERS.get(cls)
    if b is None:
        make = builder(cls, _names(cls))
        b = _BUILDERS[cls] = lambda rows: [make(*r) for r in rows]
    return b


def encode_events(events: list) -> tuple:
    """(classes, class index per event as bytes, rows per class)."""
    index: dict[type, int] = {}
    classes: list[type] = []
    rows: list[list[tuple]] = []
    order = bytearray()
    for e in events:
        cls = type(e)
        k = index.get(cls)
        if k is None:
            k = index[cls] = len(classes)
            classes.append(cls)
            rows.append([])
        order.append(k)
        rows[k].append(_getter(cls)(e))
    return tuple(classes), bytes(order), rows


def decode_events(enc: tuple) -> list:
    classes, order, rows = enc
    built = [iter(_builder(cls)(r)) for cls, r in zip(classes, rows)]
    nexts = [it.__next__ for it in built]
    if len(nexts) == 1:
        return list(built[0])
    return [nexts[k]() for k in order]


def encode_payloads(payloads: list[Payload]) -> tuple:
    """Flows are shared by the payloads of one connection: send each once, payloads refer to it by index."""
    fidx: dict[int, int] = {}
    flows: list[tuple] = []
    rows = []
    fget = _getter(Flow)
    for p in payloads:
        fl = p.flow
        if fl is None:
            k = -1
        else:
            k = fidx.get(id(fl))
            if k is None:
                k = fidx[id(fl)] = len(flows)
                flows.append(fget(fl))
        rows.append((p.origin, p.data, p.ts, k))
    return flows, rows


def decode_payloads(enc: tuple) -> list[Payload]:
    flows_t, rows = enc
    flows = [Flow(*t) for t in flows_t]
    return [Payload(o, d, ts, flows[k] if k >= 0 else None) for o, d, ts, k in rows]


def dumps_batch(events: list, payloads: list, prepared: list | None = None, seq: int = 0) -> bytes:
    """A batch message; `prepared` (what the worker computed for these events, e.g. store rows) and `seq` (the
    batch's place in the input) travel as they are."""
    return pickle.dumps(("b", encode_events(events), encode_payloads(payloads), prepared, seq), 5)


def loads_message(raw: bytes) -> tuple:
    msg = pickle.loads(raw)
    if msg[0] == "b":
        return "b", decode_events(msg[1]), decode_payloads(msg[2]), msg[3], msg[4]
    return msg

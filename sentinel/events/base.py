"""The common shape of every Sentinel event.

An event is a flat record, one type per protocol or source (like Zeek's logs and Suricata's EVE). Every event has
`ts`, `kind`, `layer`, `sensor`, and the endpoints where they apply; the rest of its fields are its own. Field
documentation lives next to each field (`doc(...)`) and docs/events.md is generated from it, so the two cannot
drift apart (tests/events/test_docs.py checks this).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

LAYERS = ("perception", "transport", "application")

#: kind name -> event class. Filled by @event_kind.
KINDS: dict[str, type["Event"]] = {}

#: fields every event has, in this order; the store keeps them as columns.
COMMON_FIELDS = ("ts", "kind", "layer", "sensor", "src_ip", "src_port", "dst_ip", "dst_port", "proto", "uid")


def doc(text: str, default: Any = None, **kw: Any) -> Any:
    """A dataclass field with its documentation attached."""
    if "default_factory" in kw:
        return field(metadata={"doc": text}, **kw)
    return field(default=default, metadata={"doc": text}, **kw)


@dataclass(slots=True, kw_only=True)
class Event:
    KIND: ClassVar[str] = ""
    LAYER: ClassVar[str] = ""
    DESCRIPTION: ClassVar[str] = ""

    ts: float = doc("Time of the event, seconds since the Unix epoch (UTC); for flows and transactions, the start.", 0.0)
    sensor: str = doc("Name of the sensor that produced the event (e.g. `pcap`, `live:eth0`, `log:access.log`).", "")
    src_ip: str | None = doc("Originator address (IPv4 or IPv6, or a MAC for layer-2 events without IP).")
    src_port: int | None = doc("Originator port (TCP/UDP), when there is one.")
    dst_ip: str | None = doc("Responder address.")
    dst_port: int | None = doc("Responder port (TCP/UDP), when there is one.")
    proto: str | None = doc("Transport protocol: `tcp`, `udp`, `icmp`, `icmp6`, `arp`, or none.")
    uid: str | None = doc("Flow identifier shared by every event of one connection (the `conn` event's `uid`).")

    @property
    def kind(self) -> str:
        return self.KIND

    @property
    def layer(self) -> str:
        return self.LAYER

    def to_dict(self) -> dict[str, Any]:
        """Flat dict: common fields first, then the kind's own fields; None values are kept."""
        d: dict[str, Any] = {"ts": self.ts, "kind": self.KIND, "layer": self.LAYER}
        for name in _field_names(type(self)):
            if name != "ts":
                d[name] = getattr(self, name)
        return d

    def get(self, name: str, default: Any = None) -> Any:
        """Read a field the way `self.to_dict().get(name, default)` would, without building the dict: code written
        for event dicts (rule guards, derived fields) then takes the event itself."""
        if name in _field_names(type(self)):
            return getattr(self, name)
        if name == "kind":
            return self.KIND
        if name == "layer":
            return self.LAYER
        return default

    def extra(self) -> dict[str, Any]:
        """The kind's own fields (those that are not common columns)."""
        return {n: getattr(self, n) for n in _own_field_names(type(self))}


_FIELD_CACHE: dict[type, tuple[str, ...]] = {}
_OWN_CACHE: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_CACHE.get(cls)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(cls))
        _FIELD_CACHE[cls] = names
    return names


def _own_field_names(cls: type) -> tuple[str, ...]:
    names = _OWN_CACHE.get(cls)
    if names is None:
        names = tuple(n for n in _field_names(cls) if n not in COMMON_FIELDS)
        _OWN_CACHE[cls] = names
    return names


def event_kind(kind: str, layer: str, description: str):
    """Class decorator: register an Event subclass under `kind`."""
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}")

    def wrap(cls: type[Event]) -> type[Event]:
        if kind in KINDS:
            raise ValueError(f"event kind {kind!r} registered twice")
        cls.KIND = kind
        cls.LAYER = layer
        cls.DESCRIPTION = description
        KINDS[kind] = cls
        return cls

    return wrap


def from_dict(d: dict[str, Any]) -> Event:
    """Rebuild an event from its flat dict (as written by --events or stored). Unknown keys are an error."""
    kind = d.get("kind")
    cls = KINDS.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}")
    names = set(_field_names(cls))
    unknown = set(d) - names - {"kind", "layer"}
    if unknown:
        raise ValueError(f"unknown field(s) for kind {kind!r}: {', '.join(sorted(unknown))}")
    return cls(**{k: v for k, v in d.items() if k in names})

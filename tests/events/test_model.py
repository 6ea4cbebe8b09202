"""The event model: flat records, registered kinds, a generated field reference that matches the code."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sentinel.events import KINDS, LAYERS, from_dict
from sentinel.events.base import COMMON_FIELDS
from sentinel.events.docs import render_markdown

REPO = Path(__file__).resolve().parents[2]


def test_docs_events_md_is_generated_from_the_code() -> None:
    assert (REPO / "docs" / "events.md").read_text() == render_markdown(), \
        "regenerate with: python -m sentinel.events.docs > docs/events.md"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_is_flat_documented_and_round_trips(kind: str) -> None:
    cls = KINDS[kind]
    assert cls.LAYER in LAYERS and cls.DESCRIPTION
    for f in dataclasses.fields(cls):
        assert f.metadata.get("doc"), f"{kind}.{f.name} has no documentation"
    ev = cls(ts=1.5, sensor="test", src_ip="10.0.0.1")
    d = ev.to_dict()
    assert list(d)[:3] == ["ts", "kind", "layer"] and d["kind"] == kind
    assert set(COMMON_FIELDS) <= set(d)
    assert from_dict(d) == ev


def test_required_kinds_exist() -> None:
    for kind in ("conn", "dns", "http", "tls", "arp", "icmp", "mqtt", "coap", "modbus", "http_access", "auth",
                 "syslog", "yara_match"):
        assert kind in KINDS


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        from_dict({"kind": "dns", "ts": 1.0, "qeury": "typo.example"})
    with pytest.raises(ValueError, match="unknown event kind"):
        from_dict({"kind": "nope", "ts": 1.0})


"""Worker -> parent transfer: events and payloads survive the compact encoding exactly, in order."""

from __future__ import annotations

from sentinel.capture.wire import dumps_batch, loads_message
from sentinel.decode.base import Flow, Payload
from sentinel.events.perception import Credential
from sentinel.events.transport import Conn, Dns, Http, Tls


def test_events_and_payloads_round_trip_equal_and_in_order():
    f1 = Flow("C1", "tcp", "10.0.0.1", 40000, "10.0.0.2", 80, "pcap", "http")
    f2 = Flow("C2", "udp", "fd00::1", 5353, "fd00::2", 53, "pcap", None)
    events = [
        Conn(ts=1.5, sensor="pcap", src_ip="10.0.0.1", dst_ip="10.0.0.2", src_port=40000, dst_port=80, proto="tcp",
             uid="C1", orig_pkts=3, history="ShAD", service="http"),
        Dns(ts=2.0, uid="C2", query="a.example", answers=["1.2.3.4", "::1"], ttls=[60, 30], rtt=None),
        Http(ts=2.5, uid="C1", method="GET", uri="/x", status=200),
        Dns(ts=3.0, uid="C2", query="b.example"),
        Tls(ts=4.0, uid="C3", sni=None, alpn=["h2"]),
        Credential(ts=5.0, protocol="http-basic", username="bob", success=None),
    ]
    payloads = [Payload("http-response:/x", b"\x00body" * 100, 2.5, f1), Payload("mqtt", b"m", 3.0, f2),
                Payload("http-request:/y", b"", 3.5, f1), Payload("file", b"z", 4.0, None)]
    tag, ev2, pl2, prepared, seq = loads_message(dumps_batch(events, payloads, ["x"] * len(events), 7))
    assert tag == "b"
    assert ev2 == events and [type(e) for e in ev2] == [type(e) for e in events]
    assert pl2 == payloads
    assert prepared == ["x"] * len(events) and seq == 7  # what the worker prepared travels with its events
    assert pl2[0].flow is pl2[2].flow  # one connection's payloads still share one Flow
    ev2[1].answers.append("x")  # rebuilt objects are independent and mutable like the originals
    assert events[1].answers == ["1.2.3.4", "::1"]


def test_empty_batch_and_other_messages_pass_through():
    assert loads_message(dumps_batch([], [])) == ("b", [], [], None, 0)

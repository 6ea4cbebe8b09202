"""DNS decoding: transactions, record rendering, hostile messages, TCP framing, tunnelling features."""

from __future__ import annotations

import struct

from scapy.layers.dns import DNS, DNSQR, DNSRR, DNSRRMX, DNSRRSOA, DNSRRSRV

from sentinel.decode.dns import DnsDecoder, DnsTcpDecoder, parse_message, qname_entropy, read_name, UDP_PORTS
from sentinel.decode.base import Flow
from sentinel.events.transport import Dns

FLOW = Flow("D1", "udp", "192.168.1.10", 53000, "192.168.1.1", 53, sensor="test")


def q(name="www.example.com", qtype="A", tid=1) -> bytes:
    return bytes(DNS(id=tid, rd=1, qd=DNSQR(qname=name, qtype=qtype)))


def r(name="www.example.com", qtype="A", tid=1, an=(), rcode=0) -> bytes:
    return bytes(DNS(id=tid, qr=1, rd=1, ra=1, rcode=rcode, qd=DNSQR(qname=name, qtype=qtype), an=an or []))


def test_query_and_response_make_one_event_with_answers_ttls_and_rtt():
    d = DnsDecoder(FLOW)
    assert d.datagram(True, 10.0, q()) == []
    an = [DNSRR(rrname="www.example.com", type="CNAME", ttl=300, rdata="web.example.com"),
          DNSRR(rrname="web.example.com", type="A", ttl=60, rdata="93.184.216.34")]
    (ev,) = d.datagram(False, 10.25, r(an=an))
    assert isinstance(ev, Dns)
    assert (ev.query, ev.qtype, ev.qclass, ev.rcode) == ("www.example.com", "A", 1, "NOERROR")
    assert ev.answers == ["web.example.com", "93.184.216.34"]
    assert ev.ttls == [300, 60]
    assert ev.rtt == 0.25 and ev.ts == 10.0
    # the client is the source even though the event was completed by the server's packet
    assert (ev.src_ip, ev.src_port, ev.dst_ip, ev.dst_port) == ("192.168.1.10", 53000, "192.168.1.1", 53)
    assert d.close(11.0) == []


def test_record_types_are_rendered_as_text():
    an = [DNSRR(rrname="x.org", type="AAAA", rdata="2001:db8::1"),
          DNSRR(rrname="x.org", type="NS", rdata="ns1.x.org"),
          DNSRR(rrname="x.org", type="PTR", rdata="host.x.org"),
          DNSRRMX(rrname="x.org", preference=10, exchange="mail.x.org"),
          DNSRR(rrname="x.org", type="TXT", rdata=[b"v=spf1 -all", b"second"]),
          DNSRRSOA(rrname="x.org", mname="ns1.x.org", rname="admin.x.org", serial=7, refresh=1, retry=2,
                   expire=3, minimum=4),
          DNSRRSRV(rrname="_mqtt._tcp.x.org", priority=1, weight=5, port=8883, target="broker.x.org"),
          DNSRR(rrname="x.org", type=65280, rdata=b"\xde\xad")]
    d = DnsDecoder(FLOW)
    d.datagram(True, 1.0, q("x.org", 255, tid=9))
    (ev,) = d.datagram(False, 1.1, r("x.org", 255, tid=9, an=an))
    assert ev.qtype == "ANY"
    assert ev.answers == [
        "2001:db8::1", "ns1.x.org", "host.x.org", "10 mail.x.org", "v=spf1 -all second",
        "ns1.x.org admin.x.org 7 1 2 3 4", "1 5 8883 broker.x.org", "dead",
    ]


def test_unknown_query_type_is_named_TYPEnnn_and_nxdomain_is_named():
    d = DnsDecoder(FLOW)
    d.datagram(True, 1.0, q("nope.example", 4242, tid=5))
    (ev,) = d.datagram(False, 1.0, r("nope.example", 4242, tid=5, rcode=3))
    assert ev.qtype == "TYPE4242" and ev.rcode == "NXDOMAIN" and ev.answers == []


def test_unanswered_queries_are_emitted_at_close_and_orphan_responses_are_only_counted():
    d = DnsDecoder(FLOW)
    d.datagram(True, 1.0, q("a.example", tid=1))
    d.datagram(True, 2.0, q("b.example", tid=2))
    assert d.datagram(False, 3.0, r("c.example", tid=3)) == []  # its query was never seen: not a transaction
    assert d._tx.orphans == 1
    pending = d.close(4.0)
    assert [(e.query, e.rcode, e.rtt) for e in pending] == [("a.example", None, None), ("b.example", None, None)]


def test_reused_ids_pair_each_response_with_the_oldest_query_for_the_same_name():
    d = DnsDecoder(FLOW)
    d.datagram(True, 1.0, q("one.example", tid=7))
    d.datagram(True, 2.0, q("two.example", tid=7))
    d.datagram(True, 3.0, q("one.example", tid=7))  # resent
    (e2,) = d.datagram(False, 4.0, r("two.example", tid=7))
    (e1,) = d.datagram(False, 5.0, r("one.example", tid=7))
    assert (e2.query, e2.ts) == ("two.example", 2.0)
    assert (e1.query, e1.ts) == ("one.example", 1.0)
    (left,) = d.close(6.0)
    assert (left.query, left.ts, left.rcode) == ("one.example", 3.0, None)


def test_compression_loops_and_bad_pointers_yield_no_event_and_no_exception():
    header = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0)
    self_loop = header + b"\xc0\x0c" + b"\x00\x01\x00\x01"  # pointer to itself
    two_loop = header + b"\x01a\xc0\x0e" + b"\x00\x01\x00\x01"  # a -> pointer back into itself
    past_end = header + b"\xc0\xff" + b"\x00\x01\x00\x01"
    d = DnsDecoder(FLOW)
    for msg in (self_loop, two_loop, past_end):
        assert d.datagram(True, 1.0, msg) == []
    assert d.close(2.0) == []


def test_names_are_bounded_at_255_bytes():
    long_name = b"".join(b"\x3f" + b"a" * 63 for _ in range(5)) + b"\x00"  # 320 bytes
    msg = struct.pack("!HHHHHH", 1, 0x0100, 1, 0, 0, 0) + long_name + b"\x00\x01\x00\x01"
    assert parse_message(msg) is None


def test_compressed_names_decode_through_pointers():
    msg = struct.pack("!HHHHHH", 1, 0, 0, 0, 0, 0) + b"\x07example\x03com\x00" + b"\x03www\xc0\x0c"
    assert read_name(msg, 12) == ("example.com", 25)
    assert read_name(msg, 25) == ("www.example.com", 31)


def test_truncated_messages():
    full = r(an=[DNSRR(rrname="www.example.com", rdata="1.2.3.4"), DNSRR(rrname="www.example.com", rdata="5.6.7.8")])
    # cut inside the second answer: the first one is kept
    m = parse_message(full[:-3])
    assert m is not None and m.answers == ["1.2.3.4"]
    # cut inside the question: not a usable message
    assert parse_message(q()[:20]) is None
    assert parse_message(b"\x00\x01\x00") is None
    d = DnsDecoder(FLOW)
    for cut in range(len(full)):
        d.datagram(False, 1.0, full[:cut])  # never raises


def test_qname_length_and_entropy_features():
    assert qname_entropy("www.github.com") == 0.0  # one repeated letter
    assert qname_entropy("abcd.example.com") == 2.0  # four distinct letters, uniform
    assert qname_entropy("example.com") == 0.0  # nothing left of the registered domain
    d = DnsDecoder(FLOW)
    name = "q+Z8AnwaBA.hidemyself.org"
    d.datagram(True, 1.0, q(name, "TXT"))
    (ev,) = d.close(2.0)
    assert ev.qname_len == len(name) and ev.query == name.lower()
    assert abs(ev.qname_entropy - qname_entropy(name.lower())) < 1e-12 and ev.qname_entropy > 2.5


def test_mdns_and_llmnr_ports_are_served():
    assert {53, 5353, 5355} <= UDP_PORTS


def test_dns_over_tcp_framing_survives_any_split():
    msgs = [q("a.example", tid=1), r("a.example", tid=1, an=DNSRR(rrname="a.example", rdata="10.0.0.1"))]
    wire = {True: struct.pack("!H", len(msgs[0])) + msgs[0], False: struct.pack("!H", len(msgs[1])) + msgs[1]}
    tcp_flow = Flow("D2", "tcp", "192.168.1.10", 53001, "192.168.1.1", 53)
    for cut in range(len(wire[False]) + 1):
        d = DnsTcpDecoder(tcp_flow)
        events = d.data(True, 1.0, wire[True])
        events += d.data(False, 2.0, wire[False][:cut])
        events += d.data(False, 2.0, wire[False][cut:])
        events += d.close(3.0)
        assert [(e.query, e.answers, e.proto) for e in events] == [("a.example", ["10.0.0.1"], "tcp")]


def test_dns_over_tcp_two_messages_in_one_segment_and_gap_stops_the_direction():
    tcp_flow = Flow("D3", "tcp", "192.168.1.10", 53001, "192.168.1.1", 53)
    d = DnsTcpDecoder(tcp_flow)
    two = b"".join(struct.pack("!H", len(m)) + m for m in (q("a.ex", tid=1), q("b.ex", tid=2)))
    d.data(True, 1.0, two)
    d.gap(True, 1.5, 100)
    d.data(True, 2.0, struct.pack("!H", len(q("c.ex", tid=3))) + q("c.ex", tid=3))  # framing unknown: ignored
    assert sorted(e.query for e in d.close(3.0)) == ["a.ex", "b.ex"]

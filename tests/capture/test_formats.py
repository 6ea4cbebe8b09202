"""Readers and link layers: every format/byte order/link type gives the same packets and fields."""

from __future__ import annotations

import gzip

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import ICMPv6EchoRequest, IPv6, IPv6ExtHdrHopByHop, IPv6ExtHdrRouting
from scapy.layers.l2 import CookedLinux, CookedLinuxV2, Dot1AD, Dot1Q, Ether
from scapy.utils import PcapNgWriter

from .helpers import CLIENT, SERVER, kinds, mixed_packets, run, write_pcap, write_pcapng


def summary(events):
    """What every encoding of mixed_packets() must produce."""
    conns = sorted((c.proto, c.src_ip, c.src_port, c.dst_ip, c.dst_port, c.orig_pkts, c.resp_pkts, c.orig_bytes,
                    c.resp_bytes, c.conn_state) for c in kinds(events, "conn"))
    return conns, len(kinds(events, "icmp")), len(kinds(events, "arp"))


EXPECTED_CONNS = None


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    p = write_pcap(tmp_path_factory.mktemp("ref") / "ref.pcap", mixed_packets())
    ev, _, st = run([p])
    conns, n_icmp, n_arp = summary(ev)
    # the reference itself is checked against the crafted traffic
    tcp = [c for c in conns if c[0] == "tcp"][0]
    assert tcp[1:5] == (CLIENT, 40000, SERVER, 80) and tcp[9] == "SF" and tcp[5] == 5 and tcp[6] == 3
    assert [c[0] for c in conns].count("udp") == 1 and n_icmp == 2 and n_arp == 1
    assert st.packets == len(mixed_packets()) and st.files[0].complete
    return summary(ev)


@pytest.mark.parametrize("endian", ["<", ">"])
@pytest.mark.parametrize("nano", [False, True])
def test_classic_pcap_byte_orders_and_resolutions(tmp_path, reference, endian, nano):
    pk = mixed_packets()
    p = write_pcap(tmp_path / "x.pcap", pk, endianness=endian, nano=nano)
    ev, _, st = run([p])
    assert summary(ev) == reference
    assert st.first_ts == pytest.approx(float(pk[0].time), abs=1e-6)
    assert st.last_ts == pytest.approx(float(pk[-1].time), abs=1e-6)


def test_gzip_detected_by_content_not_name(tmp_path, reference):
    raw = write_pcap(tmp_path / "x.pcap", mixed_packets()).read_bytes()
    p = tmp_path / "capture.bin"  # no .gz suffix on purpose
    p.write_bytes(gzip.compress(raw))
    ev, _, st = run([p])
    assert summary(ev) == reference and st.files[0].complete


def test_scapy_pcapng_and_gzip_pcapng(tmp_path, reference):
    p = tmp_path / "x.pcapng"
    w = PcapNgWriter(str(p))
    for pkt in mixed_packets():
        w.write(pkt)
    w.close()
    assert summary(run([p])[0]) == reference
    g = tmp_path / "y"
    g.write_bytes(gzip.compress(p.read_bytes()))
    assert summary(run([g])[0]) == reference


@pytest.mark.parametrize("endian", ["<", ">"])
def test_pcapng_multiple_interfaces_link_types_and_tsresol(tmp_path, reference, endian):
    # interface 0 Ethernet, interface 1 raw IP, interface 2 Linux SLL; nanosecond resolution
    frames = []
    for i, pkt in enumerate(mixed_packets()):
        if IP in pkt and i % 3 == 1:
            frames.append((1, float(pkt.time), bytes(pkt[IP])))
        elif IP in pkt and i % 3 == 2:
            frames.append((2, float(pkt.time), bytes(CookedLinux(pkttype=0, proto=0x0800) / pkt[IP])))
        else:
            frames.append((0, float(pkt.time), bytes(pkt)))
    p = write_pcapng(tmp_path / "m.pcapng", [1, 101, 113], frames, endian=endian, tsresol=9)
    ev, _, st = run([p])
    assert summary(ev) == reference
    assert set(st.linktypes) == {"ethernet", "raw", "linux_sll"}
    assert sum(st.linktypes.values()) == len(frames)
    assert st.first_ts == pytest.approx(frames[0][1], abs=1e-6)


@pytest.mark.parametrize("wrap, linktype", [
    (lambda p: Ether(bytes(p)[:12] + b"\x81\x00\x00\x64" + bytes(p)[12:]), 1),  # 802.1Q
    (lambda p: Ether(dst=p[Ether].dst, src=p[Ether].src) / Dot1AD(vlan=10) / Dot1Q(vlan=20) / p[Ether].payload, 1),
    (lambda p: CookedLinux(pkttype=0, proto=p[Ether].type) / p[Ether].payload, 113),
    (lambda p: CookedLinuxV2(proto=p[Ether].type) / p[Ether].payload, 276),
])
def test_link_layers(tmp_path, reference, wrap, linktype):
    pk = []
    for p in mixed_packets():
        q = wrap(p)
        q.time = p.time
        pk.append(q)
    path = write_pcap(tmp_path / "l.pcap", pk, linktype=linktype)
    assert summary(run([path])[0]) == reference


@pytest.mark.parametrize("linktype", [101, 12, 14, 228])
def test_raw_ip_link_types(tmp_path, linktype):
    pk = [p[IP] for p in mixed_packets() if IP in p]
    for p, src in zip(pk, [p for p in mixed_packets() if IP in p]):
        p.time = src.time
    path = write_pcap(tmp_path / "r.pcap", pk, linktype=linktype)
    ev, _, st = run([path])
    conns = kinds(ev, "conn")
    assert {c.proto for c in conns} == {"tcp", "udp", "icmp"}
    assert len(kinds(ev, "icmp")) == 2 and st.packets == len(pk)


def test_ipv6_with_extension_headers(tmp_path):
    a, b = "2001:db8::1", "2001:db8::2"
    pk = [
        Ether() / IPv6(src=a, dst=b) / IPv6ExtHdrHopByHop() / IPv6ExtHdrRouting() / UDP(sport=1111, dport=53) / b"q",
        Ether() / IPv6(src=b, dst=a) / UDP(sport=53, dport=1111) / b"answer",
        Ether() / IPv6(src=a, dst=b) / TCP(sport=2222, dport=443, flags="S"),
        Ether() / IPv6(src=a, dst=b, hlim=7) / IPv6ExtHdrHopByHop() / ICMPv6EchoRequest(),
    ]
    for i, p in enumerate(pk):
        p.time = 10 + i
    ev, _, _ = run([write_pcap(tmp_path / "v6.pcap", pk)])
    conns = {c.proto: c for c in kinds(ev, "conn")}
    u = conns["udp"]
    assert (u.src_ip, u.src_port, u.dst_ip, u.dst_port, u.orig_pkts, u.resp_pkts) == (a, 1111, b, 53, 1, 1)
    assert u.orig_bytes == len(pk[0][IPv6]) and u.resp_bytes == len(pk[1][IPv6])
    assert conns["tcp"].conn_state == "S0" and conns["tcp"].dst_port == 443
    (ic,) = kinds(ev, "icmp")
    assert (ic.proto, ic.icmp_type, ic.ttl, ic.src_ip) == ("icmp6", 128, 7, a)


def test_chunk_carry_over_matches_one_chunk(tmp_path, reference):
    # tiny chunks force many partial records to be carried over
    p = write_pcap(tmp_path / "x.pcap", mixed_packets())
    ev, _, st = run([p], chunk_size=128)
    assert summary(ev) == reference and st.files[0].complete

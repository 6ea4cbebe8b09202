"""Capture crafting for the capture tests: scapy packets, a tiny pcapng writer (both byte orders, several
interfaces) and a run-the-pipeline helper."""

from __future__ import annotations

import struct
from pathlib import Path

from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.l2 import ARP, Ether
from scapy.utils import wrpcap

from sentinel.capture.pipeline import analyze_files

CLIENT, SERVER = "10.1.0.5", "10.1.0.9"


def tcp_session(t0: float = 1000.0, sport: int = 40000, dport: int = 80, data=(b"GET / HTTP/1.0\r\n\r\n",),
                reply=(b"HTTP/1.0 200 OK\r\n\r\nhello",), end: str = "fin", src: str = CLIENT, dst: str = SERVER):
    """Handshake, request/response segments, then FIN/FIN (end="fin"), RST from the client ("rst") or nothing."""
    pk = []
    t = t0
    c, s = 1000, 5000

    def add(p):
        nonlocal t
        p.time = t
        t += 0.01
        pk.append(p)

    e = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    add(e / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags="S", seq=c))
    add(e / IP(src=dst, dst=src) / TCP(sport=dport, dport=sport, flags="SA", seq=s, ack=c + 1))
    c, s = c + 1, s + 1
    add(e / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags="A", seq=c, ack=s))
    for q, r in zip(data, reply):
        add(e / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags="PA", seq=c, ack=s) / q)
        c += len(q)
        add(e / IP(src=dst, dst=src) / TCP(sport=dport, dport=sport, flags="PA", seq=s, ack=c) / r)
        s += len(r)
    if end == "fin":
        add(e / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags="FA", seq=c, ack=s))
        add(e / IP(src=dst, dst=src) / TCP(sport=dport, dport=sport, flags="FA", seq=s, ack=c + 1))
        add(e / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags="A", seq=c + 1, ack=s + 1))
    elif end == "rst":
        add(e / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags="R", seq=c))
    return pk


def mixed_packets(t0: float = 2000.0):
    """A few of everything: TCP session, UDP DNS-like exchange, ICMP echo pair, ARP request."""
    pk = tcp_session(t0)
    e = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    extra = [
        e / IP(src=CLIENT, dst=SERVER) / UDP(sport=5353, dport=53) / b"\x12\x34query",
        e / IP(src=SERVER, dst=CLIENT) / UDP(sport=53, dport=5353) / b"\x12\x34answer",
        e / IP(src=CLIENT, dst=SERVER, ttl=33) / ICMP(type=8, code=0) / b"ping",
        e / IP(src=SERVER, dst=CLIENT) / ICMP(type=0, code=0) / b"ping",
        Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff") / ARP(op=1, hwsrc="02:00:00:00:00:01",
                                                                     psrc=CLIENT, pdst=SERVER),
    ]
    t = pk[-1].time + 0.01
    for p in extra:
        p.time = t
        t += 0.01
    return pk + extra


def write_pcap(path: Path, pkts, **kw) -> Path:
    wrpcap(str(path), pkts, **kw)
    return path


def write_pcapng(path: Path, ifaces: list[int], packets: list[tuple[int, float, bytes]], endian: str = "<",
                 tsresol: int | None = None, extra_block: bool = True) -> Path:
    """pcapng with one IDB per link type in `ifaces` and EPBs (iface, ts, frame). Optionally an unknown block."""

    def block(btype: int, body: bytes) -> bytes:
        body += b"\0" * (-len(body) % 4)
        n = len(body) + 12
        return struct.pack(endian + "II", btype, n) + body + struct.pack(endian + "I", n)

    out = block(0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1))
    units = 10 ** 6
    for lt in ifaces:
        opts = b""
        if tsresol is not None:
            opts = struct.pack(endian + "HH", 9, 1) + bytes([tsresol]) + b"\0\0\0" + struct.pack(endian + "HH", 0, 0)
            units = 10 ** tsresol
        out += block(1, struct.pack(endian + "HHI", lt, 0, 65535) + opts)
    if extra_block:
        out += block(0x0BAD, b"custom block the reader must skip")
    for ifid, ts, frame in packets:
        raw = int(round(ts * units))
        out += block(6, struct.pack(endian + "IIIII", ifid, raw >> 32, raw & 0xFFFFFFFF, len(frame), len(frame)) + frame)
    path.write_bytes(out)
    return path


def run(paths, **kw):
    """All events and the stats of analyze_files over paths."""
    a = analyze_files([str(p) for p in paths], **kw)
    events, payloads = [], []
    for ev, pl in a:
        events += ev
        payloads += pl
    return events, payloads, a.stats


def kinds(events, kind):
    return [e for e in events if e.kind == kind]

"""Test-side feeder: drive the DNS/HTTP/TLS decoders from a capture file with scapy.

Not the production pipeline (sentinel/capture owns that); just enough flow grouping to check the decoders against
tshark on small real captures: flows keyed by 5-tuple, orig = sender of the SYN (or of the first packet), decoder
chosen by server port, else by sniffing the first payload bytes of the connection.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import socket
import struct

from scapy.utils import RawPcapReader

from sentinel.decode import dns, http, tls
from sentinel.decode.base import SYN, ACK, DatagramDecoder, Flow, Payload, StreamDecoder
from sentinel.decode.tcp import TcpStream
from sentinel.events.base import Event


@dataclass
class _TcpFlow:
    flow: Flow
    stream: TcpStream | None = None
    held: list[tuple] = field(default_factory=list)  # segments seen before a decoder was chosen


@dataclass
class FeedResult:
    events: list[Event]
    payloads: list[Payload]


def _stream_class(flow: Flow, first: bytes | None) -> type[StreamDecoder] | None:
    for port in (flow.resp_port, flow.orig_port):
        if port in dns.TCP_PORTS:
            return dns.DnsTcpDecoder
        if port in http.TCP_PORTS:
            return http.HttpDecoder
        if port in tls.TCP_PORTS:
            return tls.TlsDecoder
    if first is not None:
        if http.looks_like_http(first):
            return http.HttpDecoder
        if tls.looks_like_tls(first):
            return tls.TlsDecoder
    return None


def _packets(path: Path | str):
    """(ts, src, dst, proto, sport, dport, seq, flags, payload) for each IPv4/IPv6 TCP or UDP packet.

    Headers are read by hand from the raw bytes on purpose: scapy re-serialises the layers it dissects (its TLS
    layer, once imported, rewrites partial records on port 443), and the decoders must see the bytes on the wire.
    """
    with RawPcapReader(str(path)) as reader:
        linktype = reader.linktype
        for data, meta in reader:
            ts = meta.sec + meta.usec / 1e6 if hasattr(meta, "usec") else float(meta.tshigh << 32 | meta.tslow) / 1e6
            if linktype == 1:  # Ethernet, with optional 802.1Q tags
                off, etype = 14, struct.unpack_from("!H", data, 12)[0]
                while etype in (0x8100, 0x88A8) and len(data) >= off + 4:
                    etype = struct.unpack_from("!H", data, off + 2)[0]
                    off += 4
            elif linktype == 113:  # Linux cooked
                off, etype = 16, struct.unpack_from("!H", data, 14)[0]
            elif linktype in (101, 228, 229, 12):  # raw IP
                off, etype = 0, 0x0800 if data and data[0] >> 4 == 4 else 0x86DD
            elif linktype == 0:  # BSD loopback
                off, etype = 4, 0x0800 if data[4] >> 4 == 4 else 0x86DD
            else:
                continue
            if etype == 0x0800 and len(data) >= off + 20:
                ihl = (data[off] & 0x0F) * 4
                total = struct.unpack_from("!H", data, off + 2)[0]
                proto = data[off + 9]
                src, dst = socket.inet_ntop(socket.AF_INET, data[off + 12:off + 16]), socket.inet_ntop(
                    socket.AF_INET, data[off + 16:off + 20])
                l4, end = off + ihl, off + total  # the IP length drops link-layer padding
            elif etype == 0x86DD and len(data) >= off + 40:
                proto = data[off + 6]  # extension headers are not followed: enough for these tests
                plen = struct.unpack_from("!H", data, off + 4)[0]
                src, dst = socket.inet_ntop(socket.AF_INET6, data[off + 8:off + 24]), socket.inet_ntop(
                    socket.AF_INET6, data[off + 24:off + 40])
                l4, end = off + 40, off + 40 + plen
            else:
                continue
            if proto == 17 and len(data) >= l4 + 8:
                sport, dport = struct.unpack_from("!HH", data, l4)
                yield ts, src, dst, "udp", sport, dport, 0, 0, bytes(data[l4 + 8:end])
            elif proto == 6 and len(data) >= l4 + 20:
                sport, dport, seq = struct.unpack_from("!HHI", data, l4)
                doff = (data[l4 + 12] >> 4) * 4
                yield ts, src, dst, "tcp", sport, dport, seq, data[l4 + 13], bytes(data[l4 + doff:end])


def feed(path: Path | str) -> FeedResult:
    events: list[Event] = []
    udp: dict[tuple, tuple[Flow, DatagramDecoder]] = {}
    tcp: dict[tuple, _TcpFlow] = {}
    decoders: list = []
    last_ts = 0.0
    for ts, src, dst, proto, sport, dport, seq, flags, payload in _packets(path):
        last_ts = max(last_ts, ts)
        if proto == "udp":
            key = ("udp", src, sport, dst, dport)
            rkey = ("udp", dst, dport, src, sport)
            entry = udp.get(key) or udp.get(rkey)
            from_orig = key in udp or entry is None
            if entry is None:
                if dport not in dns.UDP_PORTS and sport not in dns.UDP_PORTS:
                    continue
                flow = Flow(f"U{len(udp)}", "udp", src, sport, dst, dport, sensor="test")
                entry = udp[key] = (flow, dns.DnsDecoder(flow))
                decoders.append(entry[1])
            events += entry[1].datagram(from_orig, ts, payload)
        else:
            key = ("tcp", src, sport, dst, dport)
            rkey = ("tcp", dst, dport, src, sport)
            tf = tcp.get(key) or tcp.get(rkey)
            from_orig = key in tcp or tf is None
            if tf is None:
                if flags & SYN and flags & ACK:  # SYN-ACK first: the sender is the responder
                    from_orig = False
                    flow = Flow(f"T{len(tcp)}", "tcp", dst, dport, src, sport, sensor="test")
                    tf = tcp[rkey] = _TcpFlow(flow)
                else:
                    flow = Flow(f"T{len(tcp)}", "tcp", src, sport, dst, dport, sensor="test")
                    tf = tcp[key] = _TcpFlow(flow)
            seg = (from_orig, ts, seq, flags, payload)
            if tf.stream is None:
                tf.held.append(seg)
                cls = _stream_class(tf.flow, payload if payload else None)
                if cls is None and (payload or len(tf.held) > 8):
                    tf.held.clear()
                    if payload:
                        tf.stream = False  # type: ignore[assignment]  # not ours
                    continue
                if cls is None:
                    continue
                tf.stream = TcpStream(cls(tf.flow))
                decoders.append(tf.stream.decoder)
                for s in tf.held:
                    events += tf.stream.segment(*s)
                tf.held.clear()
            elif tf.stream:
                events += tf.stream.segment(*seg)
    for flow, dec in udp.values():
        events += dec.close(last_ts)
    for tf in tcp.values():
        if tf.stream:
            events += tf.stream.close(last_ts)
    payloads = [p for d in decoders for p in d.payloads]
    return FeedResult(events, payloads)

"""Test-side feeder: drive stream/datagram decoders from a small capture file, without the capture pipeline.

It reads the file with scapy's raw reader (headers parsed by hand), groups packets into flows (orig = the side that sent the SYN, else the side heard
first), puts each TCP direction back in sequence order (out-of-order segments wait, retransmitted bytes are
dropped) while keeping the two directions interleaved in capture order, and hands the bytes to the decoder. Good
enough for the small corpus files; the real pipeline is sentinel/capture + sentinel/decode/tcp.py.
"""

from __future__ import annotations

import ipaddress
import shutil
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from sentinel.decode.base import DatagramDecoder, Flow, StreamDecoder
from sentinel.events.base import Event

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
PCAPS = CORPUS / "pcaps"


def corpus_pcap(prefix: str) -> Path:
    """The corpus capture whose name starts with `prefix` (skips the test when the corpus is absent)."""
    import pytest

    found = sorted(PCAPS.glob(prefix + "*.pcap")) if PCAPS.is_dir() else []
    if not found:
        pytest.skip(f"corpus capture {prefix}* not found under {PCAPS}")
    return found[0]


def tshark_fields(path: Path, display_filter: str, *fields: str) -> list[list[str]]:
    """Rows of `tshark -T fields` output (one list of field strings per matching frame)."""
    import pytest

    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    cmd = ["tshark", "-r", str(path), "-Y", display_filter, "-T", "fields"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return [line.split("\t") for line in out.splitlines()]


def tshark_values(path: Path, display_filter: str, fld: str) -> list[str]:
    """Every value of one field across frames; a frame carrying several messages contributes several values."""
    vals: list[str] = []
    for row in tshark_fields(path, display_filter, fld):
        vals += [v for v in row[0].split(",") if v != ""]
    return vals


@dataclass
class _Dir:
    next_seq: int | None = None
    pending: dict[int, tuple[float, bytes]] = field(default_factory=dict)


@dataclass
class _TcpFlow:
    flow: Flow
    decoder: StreamDecoder
    dirs: dict[bool, _Dir] = field(default_factory=lambda: {True: _Dir(), False: _Dir()})
    last_ts: float = 0.0


@dataclass
class FeedResult:
    events: list[Event]
    decoders: list


def _transport(linktype: int, frame: bytes):
    """(proto, src, sport, dst, dport, seq, flags, payload) of a TCP/UDP frame, else None.

    Parsed by hand from the captured bytes: scapy's dissect-and-rebuild (bytes(pkt[TCP])) can lose bytes when a
    contrib layer bound to the port misparses a PDU, which would make the feeder lie to the decoder.
    """
    if linktype == 1:  # Ethernet, possibly 802.1Q-tagged
        off, etype = 14, int.from_bytes(frame[12:14], "big")
        while etype in (0x8100, 0x88A8) and len(frame) >= off + 4:
            etype, off = int.from_bytes(frame[off + 2:off + 4], "big"), off + 4
    elif linktype == 113:  # Linux cooked
        off, etype = 16, int.from_bytes(frame[14:16], "big")
    elif linktype in (101, 228, 12):  # raw IP
        off, etype = 0, 0x0800 if frame[:1] and frame[0] >> 4 == 4 else 0x86DD
    else:
        return None
    if etype == 0x0800:
        ihl = (frame[off] & 0x0F) * 4
        total = int.from_bytes(frame[off + 2:off + 4], "big")
        proto = frame[off + 9]
        src, dst = ipaddress.IPv4Address(frame[off + 12:off + 16]), ipaddress.IPv4Address(frame[off + 16:off + 20])
        seg = frame[off + ihl:off + total]
    elif etype == 0x86DD:
        plen = int.from_bytes(frame[off + 4:off + 6], "big")
        proto = frame[off + 6]
        src, dst = ipaddress.IPv6Address(frame[off + 8:off + 24]), ipaddress.IPv6Address(frame[off + 24:off + 40])
        seg = frame[off + 40:off + 40 + plen]
    else:
        return None
    if proto == 6 and len(seg) >= 20:
        sport, dport, seq = struct.unpack("!HHI", seg[:8])
        return "tcp", str(src), sport, str(dst), dport, seq, seg[13], seg[(seg[12] >> 4) * 4:]
    if proto == 17 and len(seg) >= 8:
        sport, dport = struct.unpack("!HH", seg[:4])
        return "udp", str(src), sport, str(dst), dport, 0, 0, seg[8:]
    return None


def feed(path: Path, tcp: dict[int, type[StreamDecoder]] | None = None,
         udp: dict[int, type[DatagramDecoder]] | None = None) -> FeedResult:
    """Run the decoders registered by server port over every matching flow of `path`; events in emission order."""
    from scapy.utils import RawPcapReader

    tcp = tcp or {}
    udp = udp or {}
    flows: dict[frozenset, object] = {}
    events: list[Event] = []
    decoders: list = []
    reader = RawPcapReader(str(path))
    linktype = reader.linktype
    for frame, meta in reader:
        t = _transport(linktype, frame)
        if t is None:
            continue
        proto, src, sport, dst, dport, seq, flags, payload = t
        ts = meta.sec + meta.usec / (1e9 if getattr(reader, "nano", False) else 1e6) if hasattr(meta, "sec") else meta.tshigh * 4294967296e-6 + meta.tslow * 1e-6
        key = frozenset({(proto, src, sport), (proto, dst, dport)})
        st = flows.get(key)
        if st is None:
            table = tcp if proto == "tcp" else udp
            cls = table.get(dport) or table.get(sport)
            if cls is None:
                continue
            if proto == "tcp" and flags & 0x12 == 0x12:  # SYN-ACK heard first: the receiver is orig
                src, sport, dst, dport = dst, dport, src, sport
            flow = Flow(uid=f"C{len(flows)}", proto=proto, orig_ip=src, orig_port=sport, resp_ip=dst, resp_port=dport,
                        sensor="test")
            dec = cls(flow)
            decoders.append(dec)
            st = _TcpFlow(flow, dec) if proto == "tcp" else dec
            flows[key] = st
        if proto == "udp":
            dec = st
            if payload:
                events += dec.datagram((src, sport) == (dec.flow.orig_ip, dec.flow.orig_port), ts, payload)
            continue
        from_orig = (src, sport) == (st.flow.orig_ip, st.flow.orig_port)
        d = st.dirs[from_orig]
        st.last_ts = ts
        if d.next_seq is None:
            d.next_seq = (seq + 1) if flags & 0x02 else seq
        if not payload:
            continue
        d.pending.setdefault(seq, (ts, payload))
        while True:  # deliver every contiguous segment, trimming bytes already delivered
            for s in sorted(d.pending):
                end = s + len(d.pending[s][1])
                if end <= d.next_seq:
                    del d.pending[s]
                    continue
                if s <= d.next_seq:
                    seg_ts, data = d.pending.pop(s)
                    events += st.decoder.data(from_orig, seg_ts, data[d.next_seq - s:])
                    d.next_seq = end
                    break
            else:
                break
            if not d.pending:
                break
    for st in flows.values():
        if isinstance(st, _TcpFlow):
            events += st.decoder.close(st.last_ts)
        else:
            events += st.close(0.0)
    return FeedResult(events, decoders)

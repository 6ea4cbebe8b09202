"""DNS (and mDNS / LLMNR, which share the wire format) over UDP, and DNS over TCP with its 2-byte length framing.

One `Dns` event per transaction: a query waits for the response with the same message id on the same flow; the
pair becomes one event. Queries never answered are emitted at `close`; a response whose query was not captured
still yields an event (with the question taken from the response).

Parsing is bounded: names follow at most `_MAX_POINTERS` compression pointers and stop at 255 bytes, record
counts are capped, so a hostile message costs little and cannot loop.
"""

from __future__ import annotations

import ipaddress
import math
import socket
import struct
from collections import Counter
from dataclasses import dataclass, field

from ..events.base import Event
from ..events.transport import Dns
from .base import DatagramDecoder, Flow, StreamDecoder
from .fastbuild import builder

UDP_PORTS = {53, 5353, 5355}  # DNS, mDNS, LLMNR
TCP_PORTS = {53}

QTYPES = {
    1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 10: "NULL", 12: "PTR", 13: "HINFO", 15: "MX", 16: "TXT", 17: "RP",
    18: "AFSDB", 24: "SIG", 25: "KEY", 28: "AAAA", 29: "LOC", 33: "SRV", 35: "NAPTR", 36: "KX", 37: "CERT",
    39: "DNAME", 41: "OPT", 42: "APL", 43: "DS", 44: "SSHFP", 45: "IPSECKEY", 46: "RRSIG", 47: "NSEC",
    48: "DNSKEY", 49: "DHCID", 50: "NSEC3", 51: "NSEC3PARAM", 52: "TLSA", 53: "SMIMEA", 55: "HIP", 59: "CDS",
    60: "CDNSKEY", 61: "OPENPGPKEY", 62: "CSYNC", 63: "ZONEMD", 64: "SVCB", 65: "HTTPS", 99: "SPF", 249: "TKEY",
    250: "TSIG", 251: "IXFR", 252: "AXFR", 253: "MAILB", 254: "MAILA", 255: "ANY", 256: "URI", 257: "CAA",
}
RCODES = {
    0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED", 6: "YXDOMAIN",
    7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH", 10: "NOTZONE",
}

_MAX_POINTERS = 32  # compression pointers followed per name (real names need a handful)
_MAX_NAME = 255  # RFC 1035 limit on a name's wire length
_MAX_ANSWERS = 100  # answer records rendered per message
_MAX_PENDING = 4096  # unanswered queries remembered per flow
_U16 = struct.Struct("!H")
_HDR = struct.Struct("!HHHHHH")
_RR = struct.Struct("!HHIH")
_QTC = struct.Struct("!HH")
_ZERO10 = bytes(10)
_ntoa = socket.inet_ntoa
#: question name wire bytes -> (lower-case name, length); names repeat (query and response, popular domains)
_QCACHE: dict[bytes, tuple[str, int]] = {}
_ECACHE: dict[str, float] = {}
_CACHE_MAX = 50_000


class _Malformed(Exception):
    pass


def qtype_name(t: int) -> str:
    return QTYPES.get(t) or f"TYPE{t}"


def read_name(msg: bytes, pos: int) -> tuple[str, int]:
    """Decode the (possibly compressed) name at `pos`; return it (no trailing dot) and the offset after it.

    Loop-safe: a pointer chain longer than _MAX_POINTERS or a name over 255 bytes is malformed.
    """
    labels: list[str] = []
    end = -1  # offset after the name in the original position (set at the first pointer)
    hops = 0
    total = 0
    n = len(msg)
    while True:
        if pos >= n:
            raise _Malformed("name runs past the end")
        length = msg[pos]
        if length == 0:
            pos += 1
            break
        kind = length & 0xC0
        if kind == 0xC0:
            if pos + 1 >= n:
                raise _Malformed("truncated pointer")
            hops += 1
            if hops > _MAX_POINTERS:
                raise _Malformed("compression loop")
            if end < 0:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | msg[pos + 1]
            continue
        if kind:
            raise _Malformed("unsupported label type")
        total += length + 1
        if total > _MAX_NAME:
            raise _Malformed("name too long")
        label = msg[pos + 1:pos + 1 + length]
        if len(label) < length:
            raise _Malformed("label runs past the end")
        # Names are bytes: keep printable ASCII as is and escape the rest, like dig does.
        labels.append(label.decode("ascii", "backslashreplace") if label.isascii() else _escape(label))
        pos += 1 + length
    return ".".join(labels), (end if end >= 0 else pos)


def skip_name(msg: bytes, pos: int) -> int:
    """Offset after the name at `pos` without decoding it (answer owner names are not reported)."""
    n = len(msg)
    for _ in range(128):
        if pos >= n:
            raise _Malformed("name runs past the end")
        length = msg[pos]
        if length == 0:
            return pos + 1
        if length >= 0xC0:
            return pos + 2
        if length & 0xC0:
            raise _Malformed("unsupported label type")
        pos += 1 + length
    raise _Malformed("name too long")


def _escape(label: bytes) -> str:
    return "".join(chr(b) if 0x20 < b < 0x7F else f"\\{b:03d}" for b in label)


def _rdata_text(msg: bytes, rtype: int, start: int, rdlen: int) -> str:
    """Render one record's data as text; unknown or broken data is shown as hex."""
    rd = msg[start:start + rdlen]
    try:
        if rtype == 1 and rdlen == 4:
            return socket.inet_ntoa(rd)
        if rtype == 28 and rdlen == 16:
            # inet_ntop is several times faster and writes the same text, except for the IPv4-mapped/-compatible
            # forms (first 80 bits zero), which ipaddress renders in hex: keep its spelling there
            return socket.inet_ntop(socket.AF_INET6, rd) if rd[:10] != _ZERO10 else str(ipaddress.IPv6Address(rd))
        if rtype in (2, 5, 12, 39):  # NS CNAME PTR DNAME
            return read_name(msg, start)[0]
        if rtype == 15:  # MX
            return f"{_U16.unpack_from(msg, start)[0]} {read_name(msg, start + 2)[0]}"
        if rtype in (16, 99):  # TXT SPF: character-strings
            parts, i = [], 0
            while i < rdlen:
                ln = rd[i]
                parts.append(rd[i + 1:i + 1 + ln].decode("utf-8", "backslashreplace"))
                i += 1 + ln
            return " ".join(parts)
        if rtype == 6:  # SOA
            mname, p = read_name(msg, start)
            rname, p = read_name(msg, p)
            serial, refresh, retry, expire, minimum = struct.unpack_from("!IIIII", msg, p)
            return f"{mname} {rname} {serial} {refresh} {retry} {expire} {minimum}"
        if rtype == 33:  # SRV
            prio, weight, port = struct.unpack_from("!HHH", msg, start)
            return f"{prio} {weight} {port} {read_name(msg, start + 6)[0]}"
    except (_Malformed, struct.error, ValueError, IndexError):
        pass
    return rd.hex()


@dataclass(slots=True)
class DnsMessage:
    trans_id: int
    response: bool
    rcode: int
    query: str = ""
    qtype: int = 0
    qclass: int = 1
    answers: list[str] = field(default_factory=list)
    ttls: list[int] = field(default_factory=list)


def parse_message(msg: bytes) -> DnsMessage | None:
    """Parse one DNS message. None when even the header or the question cannot be read; a response truncated in
    its answer section keeps the answers read so far."""
    m = _parse(msg)
    if m is None:
        return None
    return DnsMessage(m[0], m[1], m[2], m[3], m[4], m[5], list(m[6]), list(m[7]))


#: a parsed message as the decoders keep it: (trans_id, response, rcode, query, qtype, qclass, answers, ttls)
_Msg = tuple
#: query message bytes after the id -> its parsed fields (without the id). why: a query is a pure function of its
#: bytes, and clients ask for the same names over and over (cap_100k: 560 distinct queries in 9,592); a hit costs
#: one slice and one lookup instead of a parse (≈0.4 µs against ≈3 µs). Responses differ too often to be cached.
_QMSG: dict[bytes, tuple] = {}
_QMSG_MAX_LEN = 512  # longer queries (EDNS padding, hostile ones) are parsed each time rather than kept
_NO_ANSWERS: tuple = ()


def _parse(msg: bytes) -> _Msg | None:
    """`parse_message` as a tuple (see _Msg); queries are cached by content."""
    n = len(msg)
    if n < 12:
        return None
    if not msg[2] & 0x80:
        key = msg[2:]
        hit = _QMSG.get(key)
        if hit is not None:
            return ((msg[0] << 8) | msg[1],) + hit
        m = _parse_full(msg, n)
        if m is not None and n <= _QMSG_MAX_LEN:
            if len(_QMSG) >= _CACHE_MAX:
                _QMSG.clear()
            _QMSG[key] = m[1:]
        return m
    return _parse_full(msg, n)


def _parse_full(msg: bytes, n: int) -> _Msg | None:
    tid, flags, qd, an, _ns, _ar = _HDR.unpack_from(msg, 0)
    query, qtype, qclass = "", 0, 1
    pos = 12
    try:
        for i in range(min(qd, 16)):
            if i == 0:
                name, pos = _question_name(msg)
                qt, qc = _QTC.unpack_from(msg, pos)
                # mDNS uses the top bit of the class as the "unicast response" flag.
                query, qtype, qclass = name, qt, qc & 0x7FFF
            else:
                pos = read_name(msg, pos)[1]
                _QTC.unpack_from(msg, pos)
            pos += 4
    except (_Malformed, struct.error):
        return None
    if not flags & 0x8000:
        return (tid, False, flags & 0x000F, query, qtype, qclass, _NO_ANSWERS, _NO_ANSWERS)
    answers: list[str] = []
    ttls: list[int] = []
    try:
        for _ in range(min(an, _MAX_ANSWERS)):
            # the owner name is nearly always a pointer to the question: skip it inline (see skip_name)
            if msg[pos] >= 0xC0:
                pos += 2
            else:
                pos = skip_name(msg, pos)
            rtype, _rclass, ttl, rdlen = _RR.unpack_from(msg, pos)
            pos += 10
            if pos + rdlen > n:
                break
            if rtype == 1 and rdlen == 4:
                answers.append(_ntoa(msg[pos:pos + 4]))
            else:
                answers.append(_rdata_text(msg, rtype, pos, rdlen))
            ttls.append(ttl)
            pos += rdlen
    except (_Malformed, struct.error, IndexError):
        pass  # truncated answers: keep what was read
    return (tid, True, flags & 0x000F, query, qtype, qclass, answers, ttls)


def _question_name(msg: bytes) -> tuple[str, int]:
    """The first question's name at offset 12, lower-cased, and the offset after it (cached by wire bytes).

    Only names without compression pointers are cached: then the name is a pure function of the bytes up to its
    terminating zero, which are the cache key (the first zero byte after offset 12 ends such a name unless a label
    holds a zero byte, and that case is detected: it is decoded without the cache).
    """
    z = msg.find(0, 12)
    if z >= 0:
        hit = _QCACHE.get(msg[12:z + 1])
        if hit is not None:
            return hit[0], 12 + hit[1]
    name, end = read_name(msg, 12)
    name = name.lower()
    if end == z + 1 and z >= 0 and msg[12] < 0xC0:
        plain, p = True, 12
        while p < z:  # confirm that the walk consumed plain labels only, ending at z
            ln = msg[p]
            if ln & 0xC0:
                plain = False
                break
            p += 1 + ln
        if plain and p == z:
            if len(_QCACHE) >= _CACHE_MAX:
                _QCACHE.clear()
            _QCACHE[msg[12:z + 1]] = (name, z + 1 - 12)
    return name, end


def qname_entropy(name: str) -> float:
    e = _ECACHE.get(name)
    if e is None:
        if len(_ECACHE) >= _CACHE_MAX:
            _ECACHE.clear()
        e = _ECACHE[name] = _qname_entropy(name)
    return e


def _qname_entropy(name: str) -> float:
    """Shannon entropy (bits/char) of the labels left of the registered domain, approximated as all labels but
    the last two (good enough for tunnelling rules; a public-suffix list would be more exact)."""
    labels = name.split(".")
    s = "".join(labels[:-2])
    n = len(s)
    if n == 0:
        return 0.0
    return sum(c * math.log2(n / c) for c in Counter(s).values()) / n


_DNS = builder(Dns, ("ts", "sensor", "src_ip", "src_port", "dst_ip", "dst_port", "proto", "uid", "trans_id",
                     "query", "qtype", "qclass", "rcode", "answers", "ttls", "rtt", "qname_len", "qname_entropy"))


class _Transactions:
    """Pairs queries and responses of one flow by message id (and question name).

    Clients reuse ids within one flow (dns2tcp does, heavily) and resend queries, so each id keeps a FIFO of
    unanswered queries: a response answers the oldest one asking the same name. Every query therefore yields
    exactly one event, answered or not.
    """

    __slots__ = ("flow", "pending", "count", "orphans")

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        # id -> FIFO of (ts, query) still waiting; a list, not a deque: nearly always one entry, and cheaper
        self.pending: dict[int, list[tuple[float, _Msg]]] = {}
        self.count = 0
        self.orphans = 0

    def message(self, ts: float, payload: bytes) -> list[Event]:
        m = _parse(payload)
        if m is None:
            return []
        if not m[1]:
            events = []
            if self.count >= _MAX_PENDING:  # flood of unanswered queries: the oldest give up waiting
                oldest_id = next(iter(self.pending))
                events.append(self._unanswered(oldest_id, 0))
            waiting = self.pending.get(m[0])
            if waiting is None:
                self.pending[m[0]] = [(ts, m)]
            else:
                waiting.append((ts, m))
            self.count += 1
            return events
        tid = m[0]
        waiting = self.pending.get(tid)
        if waiting:
            query = m[3]
            for i, (q_ts, q) in enumerate(waiting):
                if not query or q[3] == query:
                    del waiting[i]
                    self.count -= 1
                    if not waiting:
                        del self.pending[tid]
                    return [self._event(q_ts, q, m, ts)]
        # A response whose query was not captured is not a transaction of its own: `dns` events are one per
        # query, so their count equals the queries Wireshark reports. The flow's `conn` event still shows it.
        self.orphans += 1
        return []

    def _unanswered(self, trans_id: int, index: int) -> Event:
        waiting = self.pending[trans_id]
        q_ts, q = waiting[index]
        del waiting[index]
        self.count -= 1
        if not waiting:
            del self.pending[trans_id]
        return self._event(q_ts, q, None, None)

    def close(self) -> list[Event]:
        if not self.pending:
            return []
        events = [self._event(t, q, None, None) for waiting in self.pending.values() for t, q in waiting]
        events.sort(key=lambda e: e.ts)
        self.pending.clear()
        self.count = 0
        return events

    def _event(self, ts: float, q: _Msg, r: _Msg | None, r_ts: float | None) -> Dns:
        fl = self.flow
        name = q[3] or (r[3] if r is not None else "")
        qt = q[4]
        if r is None:
            rcode, answers, ttls, rtt = None, [], [], None
        else:
            rc = r[2]
            rcode = RCODES.get(rc) or f"RCODE{rc}"
            answers, ttls = r[6], r[7]  # a response's own lists (responses are never cached)
            rtt = (r_ts - ts) if r_ts is not None else None
        return _DNS(ts, fl.sensor, fl.orig_ip, fl.orig_port, fl.resp_ip, fl.resp_port, fl.proto, fl.uid, q[0], name,
                    (QTYPES.get(qt) or f"TYPE{qt}") if (qt or q[3]) else "", q[5], rcode, answers, ttls, rtt,
                    len(name), qname_entropy(name))


class DnsDecoder(_Transactions, DatagramDecoder):
    """DNS over UDP: each datagram is one message.

    The decoder is its own transaction table (`_tx` is itself): one DNS flow per transaction is the usual case,
    so an extra object and call level per flow and per message showed up in profiles."""

    __slots__ = ()
    service = "dns"
    UDP_PORTS = UDP_PORTS

    def __init__(self, flow: Flow) -> None:
        # (the base __init__s inlined: this runs once per DNS query)
        self.flow = flow
        self.payloads = []
        self.pending = {}
        self.count = 0
        self.orphans = 0

    @property
    def _tx(self) -> _Transactions:
        return self

    def datagram(self, from_orig: bool, ts: float, payload: bytes) -> list[Event]:
        return self.message(ts, payload)

    def close(self, ts: float) -> list[Event]:
        return _Transactions.close(self)


_MAX_TCP_BUFFER = 1 << 17  # a DNS/TCP message is at most 64 KiB + 2


class DnsTcpDecoder(StreamDecoder):
    """DNS over TCP: messages framed by a 2-byte length, possibly several per segment or split across them."""

    service = "dns"
    TCP_PORTS = TCP_PORTS

    def __init__(self, flow: Flow) -> None:
        super().__init__(flow)
        self._tx = _Transactions(flow)
        self._buf = (bytearray(), bytearray())
        self._dead = [False, False]  # framing lost after a gap: nothing more can be read in that direction

    def data(self, from_orig: bool, ts: float, data: bytes) -> list[Event]:
        i = 1 if from_orig else 0
        if self._dead[i]:
            return []
        buf = self._buf[i]
        buf += data
        events: list[Event] = []
        pos = 0
        while len(buf) - pos >= 2:
            ln = _U16.unpack_from(buf, pos)[0]
            if len(buf) - pos - 2 < ln:
                break
            events += self._tx.message(ts, bytes(buf[pos + 2:pos + 2 + ln]))
            pos += 2 + ln
        del buf[:pos]
        if len(buf) > _MAX_TCP_BUFFER:
            self._dead[i] = True
            buf.clear()
        return events

    def gap(self, from_orig: bool, ts: float, size: int) -> list[Event]:
        i = 1 if from_orig else 0
        self._dead[i] = True
        self._buf[i].clear()
        return []

    def close(self, ts: float) -> list[Event]:
        return self._tx.close()

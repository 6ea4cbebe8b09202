"""Bidirectional flow table, updated a batch at a time with numpy, and dispatch of flows to protocol decoders.

Per batch, the packets of TCP/UDP/ICMP flows are grouped by a 64-bit hash of the canonical 5-tuple (stable sort,
so capture order is kept inside each group). Inside a group the batch is cut into *segments* (one segment = the
part of one connection seen in this batch) where the inactivity timeout elapses or where a SYN follows a FIN/RST
(port reuse). Counters, TCP flag letters and times are then reduced per segment with `reduceat`; Python only runs
once per segment (flow bookkeeping) and once per packet of the flows that a decoder claimed.

Zeek conventions: orig is the side that sent the first SYN (else the first packet); history letters SHADFR upper
case for orig and lower case for resp at their first occurrence; conn_state from those letters.
"""

from __future__ import annotations

import binascii
import hashlib
import socket
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..decode.base import ACK, FIN, RST, SYN, Flow, Registry
from ..decode.fastbuild import builder
from ..events.transport import Conn, Icmp
from ..gcpause import gc_paused
from .extract import ICMP, ICMP6, TCP, UDP, Fields

DEFAULT_TIMEOUTS = {"tcp": 300.0, "udp": 60.0, "icmp": 60.0, "tcp_closed": 5.0}
PROTO_NAME = {TCP: "tcp", UDP: "udp", ICMP: "icmp", ICMP6: "icmp6"}
LETTERS = "SHADFRshadfr"
_BIG = np.int64(1 << 62)
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_S29 = np.uint64(29)
#: at most this many handshake segments are kept for a flow still waiting for a sniffer decision
_SNIFF_KEEP = 8
#: positional constructors (see decode/fastbuild.py: a keyword call of these dataclasses costs 4-5x more)
_CONN = builder(Conn, ("ts", "sensor", "src_ip", "dst_ip", "src_port", "dst_port", "proto", "uid", "duration",
                       "orig_pkts", "orig_bytes", "resp_pkts", "resp_bytes", "conn_state", "history", "service",
                       "timed_out"))
_ICMP = builder(Icmp, ("ts", "sensor", "src_ip", "dst_ip", "proto", "uid", "icmp_type", "icmp_code", "bytes", "ttl"))


def flow_hash(f: Fields) -> tuple[np.ndarray, np.ndarray]:
    """(hash of the canonical 5-tuple, src-is-side-a) per packet. ICMP ports are ignored (keyed by address pair)."""
    icmp = (f.proto == ICMP) | (f.proto == ICMP6)
    sp = np.where(icmp, 0, f.sport).astype(np.uint64)
    dp = np.where(icmp, 0, f.dport).astype(np.uint64)
    src_le = (f.src_hi < f.dst_hi) | ((f.src_hi == f.dst_hi) & ((f.src_lo < f.dst_lo)
                                                              | ((f.src_lo == f.dst_lo) & (sp <= dp))))
    a_hi = np.where(src_le, f.src_hi, f.dst_hi)
    a_lo = np.where(src_le, f.src_lo, f.dst_lo)
    b_hi = np.where(src_le, f.dst_hi, f.src_hi)
    b_lo = np.where(src_le, f.dst_lo, f.src_lo)
    ports = (np.where(src_le, sp, dp) << np.uint64(16)) | np.where(src_le, dp, sp)
    h = f.proto.astype(np.uint64) * _M1
    for x in (a_hi, a_lo, b_hi, b_lo, ports):
        h = (h ^ x) * _M2
        h ^= h >> _S29
    return h, src_le


_IPCACHE: dict[tuple[int, int], str] = {}


def ip_str(hi: int, lo: int) -> str:
    s = _IPCACHE.get((hi, lo))
    if s is None:
        if hi == 0 and (lo >> 32) == 0xFFFF:
            s = socket.inet_ntop(socket.AF_INET, (lo & 0xFFFFFFFF).to_bytes(4, "big"))
        else:
            s = socket.inet_ntop(socket.AF_INET6, hi.to_bytes(8, "big") + lo.to_bytes(8, "big"))
        if len(_IPCACHE) > 200_000:
            _IPCACHE.clear()
        _IPCACHE[(hi, lo)] = s
    return s


def ip_strs(hi: np.ndarray, lo: np.ndarray) -> list[str]:
    """ip_str for arrays of addresses: each distinct IPv4 address is formatted (looked up) once.
    why: a batch holds ~15k new flows but only a few hundred distinct addresses; 30k ip_str calls cost ~15 ms.
    IPv6 addresses (hi != 0, rare) go through ip_str one by one: a 2-column unique is slower than that."""
    if not len(lo):
        return []
    v6 = hi != 0
    if not v6.any():
        u, inv = np.unique(lo, return_inverse=True)
        strs = [ip_str(0, x) for x in u.tolist()]
        return [strs[i] for i in inv.tolist()]
    out = [""] * len(lo)
    k4 = np.flatnonzero(~v6)
    if len(k4):
        u, inv = np.unique(lo[k4], return_inverse=True)
        strs = [ip_str(0, x) for x in u.tolist()]
        for i, j in zip(k4.tolist(), inv.tolist()):
            out[i] = strs[j]
    k6 = np.flatnonzero(v6)
    for i, a, b in zip(k6.tolist(), hi[k6].tolist(), lo[k6].tolist()):
        out[i] = ip_str(a, b)
    return out


_B64_ALT = bytes.maketrans(b"+/", b"01")


def make_uid(h: int, ts: float) -> str:
    """Short alphanumeric id, stable for the same flow in the same capture (hash of 5-tuple and start time)."""
    # base64 with "+/" spelled "01" (as base64.b64encode(d, b"01") does, without its Python-level overhead)
    d = hashlib.blake2b(b"%d/%.6f" % (h, ts), digest_size=13).digest()
    return "C" + binascii.b2a_base64(d, newline=False)[:17].translate(_B64_ALT).decode("ascii")


def make_uids(hs: list[int], tss: list[float]) -> list[str]:
    """make_uid for many flows, with one base64 pass for all of them.

    Each 13-byte digest is followed by two zero bytes: 15 bytes encode to exactly 20 characters, so every digest
    starts a fresh base64 group and its first 17 characters are those of make_uid (the 17th encodes the top six
    bits of the 13th byte either way). Saves about a third of make_uid's time per flow."""
    if not hs:
        return []
    b2 = hashlib.blake2b
    raw = b"\0\0".join([b2(b"%d/%.6f" % (h, ts), digest_size=13).digest() for h, ts in zip(hs, tss)]) + b"\0\0"
    text = binascii.b2a_base64(raw, newline=False).translate(_B64_ALT).decode("ascii")
    return ["C" + text[i:i + 17] for i in range(0, len(text), 20)]


def conn_state(proto: int, seen: int, rpkts: int) -> str:
    if proto != TCP:
        return "OTH"
    S, h = seen & 1, seen & (1 << 7)
    oF, rF, oR, rR = seen & (1 << 4), seen & (1 << 10), seen & (1 << 5), seen & (1 << 11)
    if S and not h:
        if rR:
            return "REJ"
        if oR:
            return "RSTOS0"
        if oF:
            return "SH"
        return "S0" if rpkts == 0 else "OTH"
    if h and not S:
        if rR:
            return "RSTRH"
        if rF:
            return "SHR"
        return "OTH"
    if not S:
        return "OTH"
    if oR:
        return "RSTO"
    if rR:
        return "RSTR"
    if oF and rF:
        return "SF"
    if oF:
        return "S2"
    if rF:
        return "S3"
    return "S1"


class FlowState:
    """One live connection (compact: counters and a few references)."""

    __slots__ = ("h", "uid", "proto", "orig_ip", "orig_port", "resp_ip", "resp_port", "orig_is_a", "first_ts",
                 "last_ts", "opkts", "obytes", "rpkts", "rbytes", "seen", "hist", "closed", "handler", "decoder",
                 "sniff", "service")

    def __init__(self) -> None:
        self.handler: Any = None  # TcpStream or DatagramDecoder
        self.decoder: Any = None  # the protocol decoder (payloads, service)
        self.sniff: list | None = None  # pending TCP segments while waiting for the first payload
        self.service: str | None = None


@dataclass(slots=True)
class _Out:
    events: list
    payloads: list


class FlowTable:
    """Flow state across batches for the packets of one partition (hash % parts == part)."""

    def __init__(self, registry: Registry | None, sensor: str = "pcap", timeouts: dict | None = None,
                 part: int = 0, parts: int = 1) -> None:
        self.registry = registry or Registry()
        self.sensor = sensor
        self.to = dict(DEFAULT_TIMEOUTS)
        if timeouts:
            self.to.update(timeouts)
        self.part, self.parts = part, parts
        self.table: dict[int, FlowState] = {}
        self.last_sweep = -1e300
        self.decoder_errors = 0
        self._stream_cls = None
        #: TCP ports whose first flow is announced through `on_watch()` (once), as soon as the flow starts; see
        #: `watch_ports` in sentinel/capture/pipeline.py
        self.watch_ports: frozenset[int] = frozenset()
        self.on_watch: Any = None

    # -- helpers -------------------------------------------------------------------------------------------
    def _tcp_stream(self):
        if self._stream_cls is None:
            from ..decode.tcp import TcpStream  # imported late: written alongside, optional for non-TCP use
            self._stream_cls = TcpStream
        return self._stream_cls

    def owned(self, h: np.ndarray) -> np.ndarray:
        if self.parts == 1:
            return np.ones(len(h), bool)
        return ((h >> np.uint64(40)) % np.uint64(self.parts)) == np.uint64(self.part)

    def _timeout(self, st: FlowState) -> float:
        if st.closed:
            return self.to["tcp_closed"]
        return self.to["tcp"] if st.proto == TCP else self.to["udp"] if st.proto == UDP else self.to["icmp"]

    def _flow(self, st: FlowState) -> Flow:
        return Flow(st.uid, PROTO_NAME[st.proto], st.orig_ip, st.orig_port, st.resp_ip, st.resp_port, self.sensor,
                    st.service)

    def _claim(self, st: FlowState, cls) -> None:
        st.service = cls.service or None
        try:
            dec = cls(self._flow(st))
            st.decoder = dec
            st.handler = self._tcp_stream()(dec) if st.proto == TCP else dec
        except Exception:  # a broken decoder must not stop the capture; counted in stats
            self.decoder_errors += 1
            st.handler = st.decoder = None

    def _finish(self, st: FlowState, out: _Out, ts: float, timed_out: bool) -> None:
        events = out.events
        if st.handler is not None:
            try:
                ev = st.handler.close(ts)
                if ev:
                    events.extend(ev)
            except Exception:
                self.decoder_errors += 1
            if st.decoder.payloads:
                out.payloads.extend(st.decoder.payloads)
                st.decoder.payloads.clear()
        proto = st.proto
        duration = st.last_ts - st.first_ts
        if duration < 0.0:  # (as max(d, 0.0))
            duration = 0.0
        if proto == ICMP or proto == ICMP6:
            sport = dport = None
        else:
            sport, dport = st.orig_port, st.resp_port
        events.append(_CONN(st.first_ts, self.sensor, st.orig_ip, st.resp_ip, sport, dport, PROTO_NAME[proto], st.uid,
                            duration, st.opkts, st.obytes, st.rpkts, st.rbytes, conn_state(proto, st.seen, st.rpkts),
                            st.hist, st.service, timed_out))

    # -- per batch -----------------------------------------------------------------------------------------
    def process(self, f: Fields, buf: np.ndarray, h: np.ndarray, src_le: np.ndarray, sel: np.ndarray,
                out: _Out) -> None:
        """Update flows with the packets `sel` (indices into the batch) of this partition."""
        with gc_paused():
            if len(sel):
                self._segments(f, buf, h, src_le, sel, out)
            now = float(f.ts.max()) if len(f.ts) else None
            if now is not None and now - self.last_sweep >= 1.0:
                self.sweep(now, out)

    def sweep(self, now: float, out: _Out) -> None:
        """Expire flows idle for longer than their timeout (closed TCP flows after a short close delay)."""
        self.last_sweep = now
        # the scan runs over every live flow once per batch: inline the timeout choice (see _timeout)
        to = self.to
        closed_to = to["tcp_closed"]
        by_proto = {TCP: to["tcp"], UDP: to["udp"]}
        icmp_to = to["icmp"]
        dead = [st for st in self.table.values()
                if now - st.last_ts > (closed_to if st.closed else by_proto.get(st.proto, icmp_to))]
        for st in dead:
            del self.table[st.h]
            self._finish(st, out, st.last_ts, timed_out=not st.closed)

    def flush(self, out: _Out) -> None:
        """End of input: every remaining flow ends (not a timeout)."""
        with gc_paused():
            for st in self.table.values():
                self._finish(st, out, st.last_ts, timed_out=False)
            self.table.clear()

    def _segments(self, f: Fields, buf: np.ndarray, h: np.ndarray, src_le: np.ndarray, sel: np.ndarray,
                  out: _Out) -> None:
        order = sel[np.argsort(h[sel], kind="stable")]
        m = len(order)
        hs = h[order]
        ts = f.ts[order]
        proto = f.proto[order]
        flags = f.tcp_flags[order]
        plen = f.pay_len[order]
        from_a = src_le[order]
        pos = np.arange(m, dtype=np.int64)
        gstart = np.empty(m, bool)
        gstart[0] = True
        np.not_equal(hs[1:], hs[:-1], out=gstart[1:])
        gs_pos = np.maximum.accumulate(np.where(gstart, pos, 0))
        is_tcp = proto == TCP
        to = np.where(is_tcp, self.to["tcp"], np.where(proto == UDP, self.to["udp"], self.to["icmp"]))
        gap = np.zeros(m, bool)
        gap[1:] = (ts[1:] - ts[:-1]) > to[1:]
        synonly = is_tcp & ((flags & (SYN | ACK)) == SYN)
        closing = is_tcp & ((flags & (FIN | RST)) != 0)
        cm = np.maximum.accumulate(np.where(closing, pos, -1))
        sm = np.maximum.accumulate(np.where(synonly, pos, -1))
        cm_prev = np.concatenate(([-1], cm[:-1]))
        sm_prev = np.concatenate(([-1], sm[:-1]))
        restart = synonly & (cm_prev >= gs_pos) & (cm_prev > sm_prev)
        seg_start = gstart | gap | restart
        seg_first = np.flatnonzero(seg_start)
        nseg = len(seg_first)
        seg_id = np.cumsum(seg_start) - 1
        seg_last_in_group = np.ones(nseg, bool)
        seg_last_in_group[:-1] = gstart[seg_first[1:]]

        # orig side for a fresh segment: sender of the first SYN, else of the first packet
        fs = np.minimum.reduceat(np.where(synonly, pos, _BIG), seg_first)
        orig_a = np.where(fs < _BIG, from_a[np.minimum(fs, m - 1)], from_a[seg_first])

        # phase 1 (once per group): does the group continue a known flow?
        table = self.table
        seg_h = hs[seg_first].tolist()
        first_ts = ts[seg_first].tolist()
        first_syn = synonly[seg_first].tolist()
        cont = np.zeros(nseg, bool)
        states: list[FlowState | None] = [None] * nseg
        for s in np.flatnonzero(gstart[seg_first]).tolist():
            st = table.get(seg_h[s])
            if st is None:
                continue
            if first_ts[s] - st.last_ts > self._timeout(st) or (st.closed and first_syn[s]):
                del table[st.h]
                self._finish(st, out, st.last_ts, timed_out=not st.closed)
                continue
            cont[s] = True
            states[s] = st
            orig_a[s] = st.orig_is_a

        # phase 2: per-packet direction, letters, per-segment reductions
        fo = from_a == orig_a[seg_id]
        ipl = f.ip_len[order]
        opk = np.add.reduceat(fo.astype(np.int64), seg_first)
        cnt = np.diff(np.append(seg_first, m))
        ob = np.add.reduceat(np.where(fo, ipl, 0), seg_first)
        rb = np.add.reduceat(np.where(fo, 0, ipl), seg_first)
        tmin = np.minimum.reduceat(ts, seg_first)
        tmax = np.maximum.reduceat(ts, seg_first)
        syn, ack = (flags & SYN) != 0, (flags & ACK) != 0
        fin, rst = (flags & FIN) != 0, (flags & RST) != 0
        data = plen > 0
        letter = np.zeros(m, np.int64)
        letter |= np.where(is_tcp & syn & ~ack, 1, 0)
        letter |= np.where(is_tcp & syn & ack, 2, 0)
        letter |= np.where(is_tcp & ack & ~syn & ~fin & ~rst & ~data, 4, 0)
        letter |= np.where(data & (proto != ICMP) & (proto != ICMP6), 8, 0)
        letter |= np.where(is_tcp & fin, 16, 0)
        letter |= np.where(is_tcp & rst, 32, 0)
        letter = np.where(fo, letter, letter << 6)
        seen = np.bitwise_or.reduceat(letter, seg_first)
        # history: letters in order of first occurrence inside each segment
        hseg, hpos, hlet = [], [], []
        for bit in range(12):
            fp = np.minimum.reduceat(np.where((letter >> bit) & 1 == 1, pos, _BIG), seg_first)
            k = np.flatnonzero(fp < _BIG)
            if len(k):
                hseg.append(k)
                hpos.append(fp[k])
                hlet.append(np.full(len(k), ord(LETTERS[bit]), np.uint8))
        hist = [""] * nseg
        if hseg:
            hs_ = np.concatenate(hseg)
            hp_ = np.concatenate(hpos)
            hl_ = np.concatenate(hlet)
            o = np.lexsort((hp_, hs_))
            hs_, hl_ = hs_[o], hl_[o]
            chars = hl_.tobytes().decode("ascii")
            bounds = np.flatnonzero(np.diff(hs_)) + 1
            starts = np.concatenate(([0], bounds)).tolist()
            ends = np.concatenate((bounds, [len(hs_)])).tolist()
            for seg, a, b in zip(hs_[starts].tolist(), starts, ends):
                hist[seg] = chars[a:b]

        # phase 3 (once per segment): flow bookkeeping
        seg_rows = order[seg_first]
        first_proto = proto[seg_first].tolist()
        oa = orig_a.tolist()
        opk_l, cnt_l, ob_l, rb_l = opk.tolist(), cnt.tolist(), ob.tolist(), rb.tolist()
        tmin_l, tmax_l, seen_l = tmin.tolist(), tmax.tolist(), seen.tolist()
        last_in_group = seg_last_in_group.tolist()
        # what a new flow needs (addresses as text, ports, uid) is computed for all new segments at once
        new = np.flatnonzero(~cont)
        new_l = new.tolist()
        rows = seg_rows[new]
        swap = from_a[seg_first[new]] != orig_a[new]  # the first packet was sent by resp
        ohi = np.where(swap, f.dst_hi[rows], f.src_hi[rows])
        olo = np.where(swap, f.dst_lo[rows], f.src_lo[rows])
        rhi = np.where(swap, f.src_hi[rows], f.dst_hi[rows])
        rlo = np.where(swap, f.src_lo[rows], f.dst_lo[rows])
        oport = np.where(swap, f.dport[rows], f.sport[rows]).tolist()
        rport = np.where(swap, f.sport[rows], f.dport[rows]).tolist()
        addrs = ip_strs(np.concatenate((ohi, rhi)), np.concatenate((olo, rlo)))
        k = len(new_l)
        oips, rips = addrs[:k], addrs[k:]
        uids = make_uids(hs[seg_first[new]].tolist(), tmin[new].tolist())
        dispatch = np.zeros(nseg, bool)
        reg = self.registry
        tcp_ports, udp_ports, sniffing = reg.tcp_ports, reg.udp_ports, bool(reg.tcp_sniffers)
        for j, s in enumerate(new_l):
            st = FlowState()
            st.h = seg_h[s]
            st.proto = first_proto[s]
            st.orig_ip, st.orig_port = oips[j], oport[j]
            st.resp_ip, st.resp_port = rips[j], rport[j]
            st.orig_is_a = oa[s]
            st.first_ts, st.last_ts = tmin_l[s], tmax_l[s]
            st.opkts, st.rpkts = opk_l[s], cnt_l[s] - opk_l[s]
            st.obytes, st.rbytes = ob_l[s], rb_l[s]
            st.seen, st.hist = seen_l[s], hist[s]
            st.uid = uids[j]
            # which decoder takes the flow: by server port (either side), else sniff the first payload
            if st.proto == TCP:
                if self.on_watch is not None and (st.resp_port in self.watch_ports or st.orig_port in self.watch_ports):
                    self.on_watch, on_watch = None, self.on_watch
                    on_watch()
                cls = tcp_ports.get(st.resp_port) or tcp_ports.get(st.orig_port)
                if cls is not None:
                    self._claim(st, cls)
                elif sniffing:
                    st.sniff = []
            elif st.proto == UDP:
                cls = udp_ports.get(st.resp_port) or udp_ports.get(st.orig_port)
                if cls is not None:
                    self._claim(st, cls)
            states[s] = st
            if last_in_group[s]:
                table[st.h] = st
        for s in np.flatnonzero(cont).tolist():
            st = states[s]
            st.opkts += opk_l[s]
            st.rpkts += cnt_l[s] - opk_l[s]
            st.obytes += ob_l[s]
            st.rbytes += rb_l[s]
            if tmax_l[s] > st.last_ts:
                st.last_ts = tmax_l[s]
            if seen_l[s] & ~st.seen:
                st.hist += "".join(c for c in hist[s] if c not in st.hist)
                st.seen |= seen_l[s]
        for s, st in enumerate(states):
            sn = st.seen
            st.closed = st.proto == TCP and bool((sn & (1 << 5)) or (sn & (1 << 11)) or
                                                 ((sn & (1 << 4)) and (sn & (1 << 10))))
            dispatch[s] = (st.handler is not None and not st.decoder.done) or st.sniff is not None

        self._dispatch(f, buf, order, seg_id, seg_first, dispatch, fo, states, out)
        self._icmp_events(f, order, proto, seg_id, states, out)
        # segments cut short inside this batch (timeout / port reuse) are finished now
        for s in np.flatnonzero(~seg_last_in_group).tolist():
            st = states[s]
            nxt_ts = first_ts[s + 1]
            self._finish(st, out, st.last_ts, timed_out=(nxt_ts - st.last_ts > self._timeout(st)) and not st.closed)

    def _dispatch(self, f: Fields, buf: np.ndarray, order, seg_id, seg_first, dispatch, fo, states, out: _Out) -> None:
        d = np.flatnonzero(dispatch[seg_id])
        if not len(d):
            return
        rows = order[d]
        fl_a, pl_a = f.tcp_flags[rows], f.pay_len[rows]
        # why: most TCP packets are pure ACKs. Without payload or SYN/FIN/RST a segment changes nothing in
        # reassembly except *starting* a direction when the capture began mid-connection, and only the first
        # packet of a direction in a segment can do that: keep that one, drop the rest before any Python runs.
        empty = (f.proto[rows] == TCP) & (pl_a == 0) & ((fl_a & (SYN | FIN | RST)) == 0)
        if empty.any():
            _, first = np.unique(seg_id[d] * 2 + fo[d], return_index=True)
            keep = ~empty
            keep[first] = True
            d, rows, fl_a, pl_a = d[keep], rows[keep], fl_a[keep], pl_a[keep]
        seg_of = seg_id[d]
        cut = np.flatnonzero(seg_of[1:] != seg_of[:-1]) + 1
        starts = [0, *cut.tolist()]
        ends = [*cut.tolist(), len(d)]
        sids = seg_of[starts].tolist()
        fo_l, ts_l, seq_l = fo[d].tolist(), f.ts[rows].tolist(), f.seq[rows].tolist()
        fl_l, po_l, pl_l = fl_a.tolist(), f.pay_off[rows].tolist(), pl_a.tolist()
        mv = memoryview(buf)
        events = out.events
        for sid, i, end in zip(sids, starts, ends):
            st = states[sid]
            if st.sniff is not None:
                while i < end:
                    pl = pl_l[i]
                    if not pl:
                        if len(st.sniff) < _SNIFF_KEEP:
                            st.sniff.append((fo_l[i], ts_l[i], seq_l[i], fl_l[i], b""))
                        i += 1
                        continue
                    break
                if i == end:
                    continue
                # first payload of the flow decides its decoder (the payload itself is fed below)
                pending, st.sniff = st.sniff, None
                cls = self._sniff(mv[po_l[i]:po_l[i] + pl_l[i]].tobytes())
                if cls is None:
                    continue
                self._claim(st, cls)
                if st.handler is None:
                    continue
                for p in pending:
                    self._feed(st, out, *p)
            handler = st.handler
            if handler is None:
                continue
            dec = st.decoder
            if dec.done:
                continue
            try:
                if st.proto == TCP:
                    seg = handler.segment
                    for j in range(i, end):
                        pl = pl_l[j]
                        ev = seg(fo_l[j], ts_l[j], seq_l[j], fl_l[j], mv[po_l[j]:po_l[j] + pl].tobytes() if pl else b"")
                        if ev:
                            events.extend(ev)
                        if dec.done:  # the decoder has all it wants: the rest of the flow is counted only
                            break
                else:
                    dg = handler.datagram
                    for j in range(i, end):
                        pl = pl_l[j]
                        ev = dg(fo_l[j], ts_l[j], mv[po_l[j]:po_l[j] + pl].tobytes() if pl else b"")
                        if ev:
                            events.extend(ev)
                        if dec.done:
                            break
            except Exception:  # decoders must not raise; one that does loses its flow, the capture goes on
                self.decoder_errors += 1
                st.handler = None
            if dec.payloads:
                out.payloads.extend(dec.payloads)
                dec.payloads.clear()

    def _sniff(self, payload: bytes):
        for pred, cls in self.registry.tcp_sniffers:
            try:
                if pred(payload):
                    return cls
            except Exception:
                self.decoder_errors += 1
        return None

    def _feed(self, st: FlowState, out: _Out, from_orig: bool, ts: float, seq: int, flags: int, payload: bytes) -> None:
        try:
            if st.proto == TCP:
                ev = st.handler.segment(from_orig, ts, seq, flags, payload)
            else:
                ev = st.handler.datagram(from_orig, ts, payload)
        except Exception:  # decoders must not raise; one that does loses its flow, the capture goes on
            self.decoder_errors += 1
            st.handler = None
            return
        if ev:
            out.events.extend(ev)

    def _icmp_events(self, f: Fields, order, proto, seg_id, states, out: _Out) -> None:
        k = np.flatnonzero((proto == ICMP) | (proto == ICMP6))
        if not len(k):
            return
        rows = order[k]
        events, sensor, icmp = out.events, self.sensor, _ICMP
        for sid, ts, shi, slo, dhi, dlo, ty, co, ln, ttl, pr in zip(
                seg_id[k].tolist(), f.ts[rows].tolist(), f.src_hi[rows].tolist(), f.src_lo[rows].tolist(),
                f.dst_hi[rows].tolist(), f.dst_lo[rows].tolist(), f.icmp_type[rows].tolist(),
                f.icmp_code[rows].tolist(), f.ip_len[rows].tolist(), f.ttl[rows].tolist(), proto[k].tolist()):
            events.append(icmp(ts, sensor, ip_str(shi, slo), ip_str(dhi, dlo), PROTO_NAME[pr], states[sid].uid, ty, co,
                               ln, ttl))

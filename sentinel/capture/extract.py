"""Vectorised header extraction: one numpy pass over a batch gives every packet's link/IP/L4 fields.

No Python object is created per packet here. Each field is a gather (`buf[pos]`) at per-packet positions, with
positions clipped into the buffer and a validity mask that says whether the bytes lie inside the captured frame;
an invalid field reads as 0 and the packet is classified as not-IP / no-L4 rather than raising.

Addresses are kept as two uint64 per packet (hi, lo) so IPv4 and IPv6 share one representation: IPv4 a.b.c.d is
stored as the IPv4-mapped IPv6 address ::ffff:a.b.c.d (hi = 0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .formats import Records

ETH_IPV4, ETH_IPV6, ETH_ARP = 0x0800, 0x86DD, 0x0806
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
TCP, UDP, ICMP, ICMP6 = 6, 17, 1, 58
V4_MAPPED = np.uint64(0xFFFF << 32)


@dataclass(slots=True)
class Fields:
    """Per-packet header fields of one batch (numpy arrays, one entry per packet)."""

    ts: np.ndarray
    caplen: np.ndarray
    wirelen: np.ndarray
    linktype: np.ndarray
    ethertype: np.ndarray  # after VLAN tags; 0 if unknown
    ipver: np.ndarray  # 4, 6 or 0
    proto: np.ndarray  # IP protocol after IPv6 extension headers; -1 if no IP
    ip_len: np.ndarray  # IP total length (IPv6: 40 + payload length)
    ttl: np.ndarray
    src_hi: np.ndarray
    src_lo: np.ndarray
    dst_hi: np.ndarray
    dst_lo: np.ndarray
    l4ok: np.ndarray  # bool: L4 header present (first fragment, enough bytes)
    sport: np.ndarray
    dport: np.ndarray
    tcp_flags: np.ndarray
    seq: np.ndarray  # uint32 as int64
    pay_off: np.ndarray  # payload start in the buffer
    pay_len: np.ndarray  # payload bytes actually captured (IP padding excluded)
    icmp_type: np.ndarray
    icmp_code: np.ndarray
    l3: np.ndarray  # offset of the network header in the buffer (ARP fields are read from there)
    end: np.ndarray  # end of the captured frame in the buffer


class _G:
    """Bounds-checked gathers over one buffer."""

    def __init__(self, buf: np.ndarray, end: np.ndarray) -> None:
        self.b = buf
        self.end = end  # per-packet end of captured bytes

    def ok(self, pos: np.ndarray, width: int) -> np.ndarray:
        return pos + width <= self.end

    def u8(self, pos: np.ndarray) -> np.ndarray:
        # take(mode="clip") clips while it gathers: one pass instead of np.clip + fancy indexing (~30 % less time
        # per gather, and extract does about 70 of them per batch)
        return self.b.take(pos, mode="clip").astype(np.int64)

    def u16(self, pos: np.ndarray) -> np.ndarray:
        return (self.u8(pos) << 8) | self.u8(pos + 1)

    def u32(self, pos: np.ndarray) -> np.ndarray:
        return (self.u16(pos) << 16) | self.u16(pos + 2)

    def u64(self, pos: np.ndarray) -> np.ndarray:
        return (self.u32(pos).astype(np.uint64) << np.uint64(32)) | self.u32(pos + 4).astype(np.uint64)


def _link(g: _G, off: np.ndarray, lt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Network-layer offset and ethertype per packet, by link type."""
    n = len(off)
    l3 = np.zeros(n, np.int64)
    et = np.zeros(n, np.int64)
    eth = lt == 1
    if eth.any():
        o = off[eth]
        pos = o + 12
        t = np.where(pos + 2 <= g.end[eth], g.u16(pos), 0)
        for _ in range(3):  # 802.1Q, QinQ (802.1ad) and one more for safety
            tagged = np.isin(t, VLAN_TPIDS)
            if not tagged.any():
                break
            pos = np.where(tagged, pos + 4, pos)
            t = np.where(tagged, np.where(pos + 2 <= g.end[eth], g.u16(pos), 0), t)
        l3[eth] = pos + 2
        et[eth] = t
    sll = lt == 113
    if sll.any():
        o = off[sll]
        l3[sll] = o + 16
        et[sll] = np.where(o + 16 <= g.end[sll], g.u16(o + 14), 0)
    sll2 = lt == 276
    if sll2.any():
        o = off[sll2]
        l3[sll2] = o + 20
        et[sll2] = np.where(o + 20 <= g.end[sll2], g.u16(o), 0)
    raw = (lt == 101) | (lt == 12) | (lt == 14) | (lt == 228) | (lt == 229)
    if raw.any():
        o = off[raw]
        v = g.u8(o) >> 4
        l3[raw] = o
        et[raw] = np.where(o < g.end[raw], np.where(v == 4, ETH_IPV4, np.where(v == 6, ETH_IPV6, 0)), 0)
    return l3, et


def extract(buf: np.ndarray, rec: Records) -> Fields:
    off = rec.data_off
    n = len(off)
    end = off + rec.caplen
    g = _G(buf, end)
    l3, et = _link(g, off, rec.linktype)

    ipver = np.zeros(n, np.int64)
    proto = np.full(n, -1, np.int64)
    ip_len = np.zeros(n, np.int64)
    ttl = np.zeros(n, np.int64)
    src_hi = np.zeros(n, np.uint64)
    src_lo = np.zeros(n, np.uint64)
    dst_hi = np.zeros(n, np.uint64)
    dst_lo = np.zeros(n, np.uint64)
    l4 = np.zeros(n, np.int64)
    l4ok = np.zeros(n, bool)

    v4 = (et == ETH_IPV4) & g.ok(l3, 20) & ((g.u8(l3) >> 4) == 4)
    if v4.any():
        o = l3[v4]
        ihl = (g.u8(o) & 0x0F) * 4
        ipver[v4] = 4
        proto[v4] = g.u8(o + 9)
        ip_len[v4] = g.u16(o + 2)
        ttl[v4] = g.u8(o + 8)
        src_lo[v4] = g.u32(o + 12).astype(np.uint64) | V4_MAPPED
        dst_lo[v4] = g.u32(o + 16).astype(np.uint64) | V4_MAPPED
        frag_off = g.u16(o + 6) & 0x1FFF
        l4[v4] = o + ihl
        l4ok[v4] = (frag_off == 0) & (ihl >= 20)
    v6 = (et == ETH_IPV6) & g.ok(l3, 40) & ((g.u8(l3) >> 4) == 6)
    if v6.any():
        o = l3[v6]
        ipver[v6] = 6
        ip_len[v6] = 40 + g.u16(o + 4)
        ttl[v6] = g.u8(o + 7)
        src_hi[v6], src_lo[v6] = g.u64(o + 8), g.u64(o + 16)
        dst_hi[v6], dst_lo[v6] = g.u64(o + 24), g.u64(o + 32)
        nh = g.u8(o + 6)
        pos = o + 40
        first_frag = np.ones(len(o), bool)
        e6 = end[v6]
        for _ in range(6):  # skip hop-by-hop, routing, fragment, destination options, AH
            ext = np.isin(nh, (0, 43, 44, 51, 60)) & (pos + 8 <= e6)
            if not ext.any():
                break
            hl = np.where(nh == 44, 8, np.where(nh == 51, (g.u8(pos + 1) + 2) * 4, (g.u8(pos + 1) + 1) * 8))
            first_frag &= ~((nh == 44) & ext & ((g.u16(pos + 2) & 0xFFF8) != 0))
            nxt = g.u8(pos)
            nh = np.where(ext, nxt, nh)
            pos = np.where(ext, pos + hl, pos)
        proto[v6] = nh
        l4[v6] = pos
        l4ok[v6] = first_frag & ~np.isin(nh, (0, 43, 44, 51, 60))

    is_ip = ipver > 0
    # bytes of the IP packet that were captured (Ethernet padding excluded)
    ip_end = np.where(is_ip, np.minimum(l3 + np.where(ip_len > 0, ip_len, rec.caplen), end), end)

    sport = np.zeros(n, np.int64)
    dport = np.zeros(n, np.int64)
    flags = np.zeros(n, np.int64)
    seq = np.zeros(n, np.int64)
    pay_off = np.zeros(n, np.int64)
    pay_len = np.zeros(n, np.int64)
    itype = np.zeros(n, np.int64)
    icode = np.zeros(n, np.int64)

    t = is_ip & l4ok & (proto == TCP) & (l4 + 20 <= end)
    if t.any():
        o = l4[t]
        sport[t] = g.u16(o)
        dport[t] = g.u16(o + 2)
        seq[t] = g.u32(o + 4)
        flags[t] = g.u8(o + 13)
        po = o + (g.u8(o + 12) >> 4) * 4
        pay_off[t] = po
        pay_len[t] = np.maximum(ip_end[t] - po, 0)
    u = is_ip & l4ok & (proto == UDP) & (l4 + 8 <= end)
    if u.any():
        o = l4[u]
        sport[u] = g.u16(o)
        dport[u] = g.u16(o + 2)
        pay_off[u] = o + 8
        ulen = g.u16(o + 4)
        pay_len[u] = np.clip(np.minimum(ip_end[u], o + np.where(ulen >= 8, ulen, 8)) - (o + 8), 0, None)
    ic = is_ip & l4ok & ((proto == ICMP) | (proto == ICMP6)) & (l4 + 4 <= end)
    if ic.any():
        o = l4[ic]
        itype[ic] = g.u8(o)
        icode[ic] = g.u8(o + 1)
        pay_off[ic] = o + 4
        pay_len[ic] = np.maximum(ip_end[ic] - (o + 4), 0)
    # L4 header missing or cut short: the packet still counts for IP volume but has no ports
    l4ok &= t | u | ic
    return Fields(rec.ts, rec.caplen, rec.wirelen, rec.linktype, et, ipver, proto, ip_len, ttl,
                  src_hi, src_lo, dst_hi, dst_lo, l4ok, sport, dport, flags, seq, pay_off, pay_len, itype, icode, l3, end)

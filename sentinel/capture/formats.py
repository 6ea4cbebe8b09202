"""Sans-IO walkers for classic pcap and pcapng: bytes in, arrays of record positions out.

A walker is created from the first bytes of a (decompressed) capture and then asked, chunk after chunk, to walk
the records that are complete in a buffer. It returns numpy arrays (data offset, caplen, wire length, timestamp,
link type, record offset) and how far it got; an incomplete trailing record is left for the next chunk (the
caller carries it over). Damage never raises here: it is reported as `Damage(index, offset, message)` so the
caller can still deliver every packet before it and decide between strict and lenient handling.

Only the record headers are touched in Python (one small loop step per record: the offset chain is inherently
sequential); everything else is gathered with numpy.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np

#: larger captured lengths are treated as a corrupt record header (Wireshark's own limit is 256 KiB; some
#: USB/DBus captures go higher, so leave room)
MAX_CAPLEN = 1 << 20
#: larger pcapng blocks are corrupt
MAX_BLOCK = 1 << 24

PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
    b"\xa1\xb2\xc3\xd4": (">", 1e-6),
    b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
    b"\xa1\xb2\x3c\x4d": (">", 1e-9),
}
PCAPNG_SHB = b"\x0a\x0d\x0d\x0a"

#: link types the extractor understands (DLT values as stored in files)
SUPPORTED_LINKTYPES = {1: "ethernet", 113: "linux_sll", 276: "linux_sll2", 101: "raw", 12: "raw", 14: "raw",
                       228: "ipv4", 229: "ipv6"}


class FormatError(Exception):
    """Header-level problem (not a capture, unsupported link type). Converted to CaptureError by the caller."""

    def __init__(self, message: str, offset: int = 0, packet: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.packet = packet


@dataclass(slots=True)
class Damage:
    """The record at `index` (0-based within this walk) starting at byte `offset` of the buffer is unreadable."""

    index: int
    offset: int
    message: str


@dataclass(slots=True)
class Records:
    """Positions of the complete records of one buffer (all arrays have one entry per packet)."""

    data_off: np.ndarray  # int64: first byte of the frame in the buffer
    caplen: np.ndarray  # int64
    wirelen: np.ndarray  # int64
    ts: np.ndarray  # float64 seconds
    linktype: np.ndarray  # int32
    rec_off: np.ndarray  # int64: offset of the record header in the buffer (for error positions)

    def __len__(self) -> int:
        return len(self.data_off)

    @staticmethod
    def empty() -> "Records":
        i = np.zeros(0, np.int64)
        return Records(i, i, i, np.zeros(0, np.float64), np.zeros(0, np.int32), i)


def sniff_format(head: bytes) -> str:
    """'pcap', 'pcapng' or raise FormatError. `head` is the first bytes of the decompressed stream."""
    if len(head) == 0:
        raise FormatError("empty file", 0)
    if head[:4] in PCAP_MAGICS:
        return "pcap"
    if head[:4] == PCAPNG_SHB:
        return "pcapng"
    raise FormatError(f"not a pcap or pcapng capture (magic {head[:4].hex() or 'missing'})", 0)


def _u32(b: np.ndarray, pos: np.ndarray, little: bool) -> np.ndarray:
    x = b[pos].astype(np.uint32), b[pos + 1].astype(np.uint32), b[pos + 2].astype(np.uint32), b[pos + 3].astype(np.uint32)
    if little:
        return x[0] | (x[1] << 8) | (x[2] << 16) | (x[3] << 24)
    return (x[0] << 24) | (x[1] << 16) | (x[2] << 8) | x[3]


class PcapWalker:
    """Classic libpcap files: 24-byte global header, then 16-byte record headers."""

    header_len = 24

    def __init__(self, head: bytes) -> None:
        if len(head) < 24:
            raise FormatError("truncated pcap global header", 0)
        self.endian, self.scale = PCAP_MAGICS[head[:4]]
        _, _, _, _, _, snaplen, lt = struct.unpack(self.endian + "IHHiIII", head[:24])
        self.linktype = lt & 0xFFFF  # the upper bits may carry FCS information
        self.snaplen = snaplen
        if self.linktype not in SUPPORTED_LINKTYPES:
            raise FormatError(f"unsupported link type {self.linktype}", 20)
        self._incl = struct.Struct(self.endian + "I").unpack_from

    def start(self) -> int:
        return self.header_len

    def walk(self, buf, start: int, end: int) -> tuple[Records, int, Damage | None]:
        """Walk complete records in buf[start:end]. Returns (records, stop offset, damage or None)."""
        incl = self._incl
        offs: list[int] = []
        append = offs.append
        pos = start
        limit = end - 16
        damage = None
        try:
            while pos <= limit:
                n = incl(buf, pos + 8)[0]
                if n > MAX_CAPLEN:
                    damage = Damage(len(offs), pos, f"corrupt record header (captured length {n})")
                    break
                if pos + 16 + n > end:
                    break
                append(pos)
                pos += 16 + n
        except struct.error:  # pragma: no cover - guarded by limit
            pass
        if not offs:
            return Records.empty(), pos, damage
        b = np.frombuffer(buf, np.uint8, count=end)
        ro = np.asarray(offs, np.int64)
        little = self.endian == "<"
        sec = _u32(b, ro, little).astype(np.float64)
        frac = _u32(b, ro + 4, little).astype(np.float64)
        cap = _u32(b, ro + 8, little).astype(np.int64)
        wire = _u32(b, ro + 12, little).astype(np.int64)
        lt = np.full(len(ro), self.linktype, np.int32)
        return Records(ro + 16, cap, wire, sec + frac * self.scale, lt, ro), pos, damage


@dataclass(slots=True)
class _Iface:
    linktype: int
    snaplen: int
    units: float  # timestamp units per second


class PcapngWalker:
    """pcapng: SHB, IDB, EPB, SPB, (obsolete) PB; other blocks are skipped. Endianness per section."""

    def __init__(self, head: bytes) -> None:
        if len(head) < 12:
            raise FormatError("truncated pcapng section header", 0)
        self._set_endian(head, 0)
        self.ifaces: list[_Iface] = []

    def _set_endian(self, buf, pos: int) -> None:
        bom = bytes(buf[pos + 8:pos + 12])
        if bom == b"\x4d\x3c\x2b\x1a":
            self.endian = "<"
        elif bom == b"\x1a\x2b\x3c\x4d":
            self.endian = ">"
        else:
            raise FormatError("corrupt pcapng section header (bad byte-order magic)", pos)
        self._hdr = struct.Struct(self.endian + "II").unpack_from
        self._u32 = struct.Struct(self.endian + "I").unpack_from

    def start(self) -> int:
        return 0

    def _parse_idb(self, buf, pos: int, blen: int) -> None:
        lt, _, snap = struct.unpack_from(self.endian + "HHI", buf, pos + 8)
        units = 1e6
        opt, stop = pos + 16, pos + blen - 4
        while opt + 4 <= stop:
            code, olen = struct.unpack_from(self.endian + "HH", buf, opt)
            if code == 0:
                break
            if code == 9 and olen >= 1:  # if_tsresol
                r = buf[opt + 4]
                units = float(2 ** (r & 0x7F)) if r & 0x80 else float(10 ** r)
            opt += 4 + ((olen + 3) & ~3)
        if lt not in SUPPORTED_LINKTYPES:
            raise FormatError(f"unsupported link type {lt} (interface {len(self.ifaces)})", pos)
        self.ifaces.append(_Iface(lt, snap, units))

    def walk(self, buf, start: int, end: int) -> tuple[Records, int, Damage | None]:
        hdr, u32 = self._hdr, self._u32
        epb: list[int] = []  # offsets of EPB / PB blocks
        spb: list[int] = []
        pos = start
        damage = None
        npkt = 0
        while pos + 12 <= end:
            btype, blen = hdr(buf, pos)
            if btype == 0x0A0D0D0A:
                if pos != start and (epb or spb):
                    break  # a new section may switch endianness: let the next walk start here
                try:
                    self._set_endian(buf, pos)
                except FormatError as e:
                    damage = Damage(npkt, pos, e.message)
                    break
                hdr, u32 = self._hdr, self._u32
                btype, blen = hdr(buf, pos)
                self.ifaces = []
            if blen < 12 or blen % 4 or blen > MAX_BLOCK:
                damage = Damage(npkt, pos, f"corrupt pcapng block header (type {btype:#x}, length {blen})")
                break
            if pos + blen > end:
                break
            if u32(buf, pos + blen - 4)[0] != blen:
                damage = Damage(npkt, pos, "corrupt pcapng block (trailing length mismatch)")
                break
            if btype == 6 or btype == 2:
                if blen < 32:
                    damage = Damage(npkt, pos, "corrupt enhanced packet block (too short)")
                    break
                ifid = u32(buf, pos + 8)[0] if btype == 6 else struct.unpack_from(self.endian + "H", buf, pos + 8)[0]
                cap = u32(buf, pos + 20)[0]
                if ifid >= len(self.ifaces):
                    damage = Damage(npkt, pos, f"packet on undeclared interface {ifid}")
                    break
                if cap > blen - 32:
                    damage = Damage(npkt, pos, f"corrupt packet block (captured length {cap} exceeds block)")
                    break
                epb.append(pos)
                npkt += 1
            elif btype == 3:
                if not self.ifaces:
                    damage = Damage(npkt, pos, "simple packet block before any interface")
                    break
                spb.append(pos)
                npkt += 1
            elif btype == 1:
                try:
                    self._parse_idb(buf, pos, blen)
                except (FormatError, struct.error) as e:
                    if epb or spb:
                        break  # deliver what we have first; the next walk starts at this IDB and fails there
                    raise FormatError(getattr(e, "message", "corrupt interface description block"), pos, npkt + 1)
            pos += blen
        recs = self._gather(buf, end, epb, spb)
        return recs, pos, damage

    def _gather(self, buf, end: int, epb: list[int], spb: list[int]) -> Records:
        if not epb and not spb:
            return Records.empty()
        b = np.frombuffer(buf, np.uint8, count=end)
        little = self.endian == "<"
        lt_of = np.array([i.linktype for i in self.ifaces], np.int32)
        units_of = np.array([i.units for i in self.ifaces], np.float64)
        parts = []
        if epb:
            ro = np.asarray(epb, np.int64)
            btype = _u32(b, ro, little)
            ifid = _u32(b, ro + 8, little).astype(np.int64)
            # obsolete PB: 16-bit interface id (the other 16 bits are the drop count)
            ifid = np.where(btype == 2, ifid & 0xFFFF if little else ifid >> 16, ifid)
            raw_ts = (_u32(b, ro + 12, little).astype(np.uint64) << np.uint64(32)) | _u32(b, ro + 16, little).astype(np.uint64)
            ts = raw_ts.astype(np.float64) / units_of[ifid]
            parts.append((ro + 28, _u32(b, ro + 20, little).astype(np.int64), _u32(b, ro + 24, little).astype(np.int64),
                          ts, lt_of[ifid], ro))
        if spb:
            ro = np.asarray(spb, np.int64)
            blen = _u32(b, ro + 4, little).astype(np.int64)
            wire = _u32(b, ro + 8, little).astype(np.int64)
            cap = np.minimum(wire, blen - 16)
            snap = self.ifaces[0].snaplen
            if snap:
                cap = np.minimum(cap, snap)
            # SPBs carry no timestamp; 0 keeps them from splitting flows by timeout
            parts.append((ro + 12, cap, wire, np.zeros(len(ro)), np.full(len(ro), lt_of[0], np.int32), ro))
        if len(parts) == 1:
            return Records(*parts[0])
        cols = [np.concatenate([p[i] for p in parts]) for i in range(6)]
        order = np.argsort(cols[5], kind="stable")  # back to file order
        return Records(*(c[order] for c in cols))


def make_walker(head: bytes) -> PcapWalker | PcapngWalker:
    kind = sniff_format(head)
    return PcapWalker(head) if kind == "pcap" else PcapngWalker(head)

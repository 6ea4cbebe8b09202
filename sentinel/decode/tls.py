"""TLS handshake metadata: ClientHello (offered versions, SNI, ALPN) and ServerHello (negotiated version, cipher).

Records are reassembled across TCP segments and handshake messages across records, per direction. Once the
ServerHello is read (or anything that is not a handshake record arrives: ChangeCipherSpec, application data, an
alert) the direction stops being parsed; the rest of the connection is encrypted and costs nothing.

One `Tls` event per handshake: emitted when the ServerHello arrives, or at `close` when only the ClientHello was
seen. An SSLv2-compatible ClientHello (old clients) is recognised and ignored.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..events.base import Event
from ..events.transport import Tls
from .base import Flow, StreamDecoder

TCP_PORTS = {443, 465, 563, 636, 853, 989, 990, 992, 993, 994, 995, 5061, 5671, 5684, 8443, 8883}
# 5684 is CoAP over TLS (coaps+tcp, RFC 8323); CoAP over DTLS on UDP 5684 is not TLS-over-TCP and not handled here.

VERSIONS = {0x0300: "SSLv3", 0x0301: "TLSv1.0", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2", 0x0304: "TLSv1.3"}
_HANDSHAKE = 22
_MAX_HANDSHAKE = 1 << 16  # bytes of handshake data buffered per direction before giving up
# ServerHello.random of a TLS 1.3 HelloRetryRequest (RFC 8446 section 4.1.3): not the final ServerHello.
_HRR_RANDOM = bytes.fromhex("CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C")
_U16 = struct.Struct("!H")


def looks_like_tls(first_bytes: bytes) -> bool:
    """Sniffer: a TLS handshake record header, or an SSLv2-compatible ClientHello."""
    b = first_bytes
    if len(b) >= 3 and b[0] == _HANDSHAKE and b[1] == 3 and b[2] <= 4:
        return True
    return len(b) >= 5 and b[0] & 0x80 != 0 and b[2] == 1 and b[3] in (2, 3)


def _is_grease(v: int) -> bool:
    # GREASE values (RFC 8701) are 0x?A?A with equal bytes; they carry no meaning.
    return (v & 0x0F0F) == 0x0A0A and (v >> 8) == (v & 0xFF)


def version_name(v: int | None) -> str | None:
    if v is None:
        return None
    return VERSIONS.get(v) or f"0x{v:04x}"


@dataclass(slots=True)
class Hello:
    legacy_version: int
    supported: list[int] = field(default_factory=list)
    sni: str | None = None
    alpn: list[str] = field(default_factory=list)
    cipher: int | None = None
    hrr: bool = False

    @property
    def version(self) -> int:
        return max(self.supported) if self.supported else self.legacy_version


def _extensions(body: bytes, pos: int) -> list[tuple[int, bytes]]:
    if pos + 2 > len(body):
        return []
    total = _U16.unpack_from(body, pos)[0]
    end = min(pos + 2 + total, len(body))
    pos += 2
    out = []
    while pos + 4 <= end:
        etype, elen = struct.unpack_from("!HH", body, pos)
        out.append((etype, body[pos + 4:pos + 4 + elen]))
        pos += 4 + elen
    return out


def parse_client_hello(body: bytes) -> Hello:
    """Body of a ClientHello handshake message (after the 4-byte handshake header)."""
    h = Hello(_U16.unpack_from(body, 0)[0])
    pos = 2 + 32
    pos += 1 + body[pos]  # session id
    pos += 2 + _U16.unpack_from(body, pos)[0]  # cipher suites
    pos += 1 + body[pos]  # compression methods
    for etype, ext in _extensions(body, pos):
        if etype == 0 and len(ext) >= 5:  # server_name: list of (type, name); host_name is type 0
            p, end = 2, min(2 + _U16.unpack_from(ext, 0)[0], len(ext))
            while p + 3 <= end:
                ntype, nlen = ext[p], _U16.unpack_from(ext, p + 1)[0]
                if ntype == 0:
                    h.sni = ext[p + 3:p + 3 + nlen].decode("ascii", "backslashreplace")
                    break
                p += 3 + nlen
        elif etype == 16 and len(ext) >= 2:  # ALPN
            p, end = 2, min(2 + _U16.unpack_from(ext, 0)[0], len(ext))
            while p < end:
                ln = ext[p]
                h.alpn.append(ext[p + 1:p + 1 + ln].decode("ascii", "backslashreplace"))
                p += 1 + ln
        elif etype == 43 and ext:  # supported_versions: 1-byte length, then 2-byte versions
            n = ext[0]
            h.supported = [v for (v,) in struct.iter_unpack("!H", ext[1:1 + n - n % 2]) if not _is_grease(v)]
    return h


def parse_server_hello(body: bytes) -> Hello:
    h = Hello(_U16.unpack_from(body, 0)[0])
    h.hrr = body[2:34] == _HRR_RANDOM
    pos = 2 + 32
    pos += 1 + body[pos]  # session id
    h.cipher = _U16.unpack_from(body, pos)[0]
    pos += 3  # cipher + compression method
    for etype, ext in _extensions(body, pos):
        if etype == 43 and len(ext) >= 2:  # supported_versions in a ServerHello: the selected version
            h.supported = [_U16.unpack_from(ext, 0)[0]]
    return h


class _Side:
    __slots__ = ("records", "hs", "done")

    def __init__(self) -> None:
        self.records = bytearray()  # undecoded record-layer bytes
        self.hs = bytearray()  # handshake-layer bytes (record payloads of type 22, concatenated)
        self.done = False


class TlsDecoder(StreamDecoder):
    service = "tls"
    TCP_PORTS = TCP_PORTS

    def __init__(self, flow: Flow) -> None:
        super().__init__(flow)
        self._sides = (_Side(), _Side())
        self._client: Hello | None = None
        self._client_ts: float | None = None
        self._emitted = False

    def data(self, from_orig: bool, ts: float, data: bytes) -> list[Event]:
        side = self._sides[1 if from_orig else 0]
        if side.done or self._emitted:
            return []
        side.records += data
        events: list[Event] = []
        try:
            self._records(side, ts, events)
        except (struct.error, IndexError, ValueError):
            side.done = True  # malformed hello: stop reading this direction, keep what we know
        if side.done:
            side.records = bytearray()
            side.hs = bytearray()
            self._check_done()
        return events

    def _check_done(self) -> None:
        # nothing more to learn once the event is out or both directions stopped parsing
        if self._emitted or (self._sides[0].done and self._sides[1].done):
            self.done = True

    def gap(self, from_orig: bool, ts: float, size: int) -> list[Event]:
        side = self._sides[1 if from_orig else 0]
        side.done = True  # record framing is lost
        side.records = bytearray()
        side.hs = bytearray()
        self._check_done()
        return []

    def close(self, ts: float) -> list[Event]:
        if self._emitted or self._client is None:
            return []
        return [self._event(None, ts)]

    def _records(self, side: _Side, ts: float, events: list[Event]) -> None:
        buf = side.records
        pos = 0
        if buf and buf[0] & 0x80 and not side.hs and len(buf) >= 3 and buf[2] == 1:
            side.done = True  # SSLv2-compatible ClientHello: no SNI/ALPN to learn, ignore it
            return
        while len(buf) - pos >= 5 and not side.done:
            rtype, _ver, ln = struct.unpack_from("!BHH", buf, pos)
            if rtype != _HANDSHAKE or ln > 18432:  # 2^14 + 2048: the largest legal record
                side.done = True  # encrypted traffic, alert, or not TLS at all
                break
            if len(buf) - pos - 5 < ln:
                break
            side.hs += buf[pos + 5:pos + 5 + ln]
            pos += 5 + ln
            self._handshakes(side, ts, events)
        del buf[:pos]
        if len(buf) > _MAX_HANDSHAKE or len(side.hs) > _MAX_HANDSHAKE:
            side.done = True

    def _handshakes(self, side: _Side, ts: float, events: list[Event]) -> None:
        hs = side.hs
        pos = 0
        while len(hs) - pos >= 4 and not side.done:
            mtype = hs[pos]
            ln = int.from_bytes(hs[pos + 1:pos + 4], "big")
            if len(hs) - pos - 4 < ln:
                break
            body = bytes(hs[pos + 4:pos + 4 + ln])
            pos += 4 + ln
            if mtype == 1:  # ClientHello (a second one after a HelloRetryRequest replaces the first)
                self._client = parse_client_hello(body)
                self._client_ts = ts if self._client_ts is None else self._client_ts
            elif mtype == 2:  # ServerHello
                server = parse_server_hello(body)
                if server.hrr:
                    continue
                events.append(self._event(server, ts))
                self._emitted = True
                side.done = True
            else:
                side.done = True  # Certificate and later messages: nothing more to learn
        del hs[:pos]

    def _event(self, server: Hello | None, ts: float) -> Tls:
        c = self._client
        client_version = version_name(c.version) if c else None
        return Tls(
            ts=self._client_ts if self._client_ts is not None else ts, **self.flow.client_endpoints(),
            sni=c.sni if c else None,
            version=version_name(server.version) if server else client_version,
            client_version=client_version,
            cipher=server.cipher if server else None,
            alpn=c.alpn if c else [],
        )
